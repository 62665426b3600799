/*
 * test_cuda_device.c - the CUDA backend's own checks (ctest: engine_cuda_device).
 *
 * Without a device (or without CUDA in the build) it checks that the backend says so clearly
 * (SE_ERR_NO_DEVICE naming cudaGetDeviceCount's reason, no crash, count 0), prints
 * "SKIPPED: no CUDA device: <reason>" and exits 77. With a device it runs self-checks against
 * host references computed here in double: memory round trip, linear (F32 and BF16), conv2d
 * (3x3 stride 1 and 2, 1x1; the conv weight cache never stale after set / COPY / free +
 * realloc), group norm + SiLU, attention on both paths (gemm and flash,
 * multi-head, causal, a wide single head split along d), gather's bad-id error and
 * supports_op's refusals, and a CUDA graph capture + replay. engine_backend_ops compares every
 * op with the CPU reference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cuda.h"
#include "core/error.h"
#include "test_util.h"
#ifdef STRIKE_HAVE_CUDA
#include "cuda/cuda_info.h"
#endif

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static float urand(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* A device tensor of dtype dt filled from host floats (converted), or zero-filled when h is NULL. */
static se_tensor dev_tensor(se_backend *be, se_dtype dt, int nd, const int64_t *ne, const float *h,
                            const char *name) {
    se_tensor t = se_tensor_make(dt, nd, ne, NULL, name);
    size_t n = (size_t)se_tensor_numel(&t), bytes = se_tensor_nbytes(&t);
    void *p = NULL;
    if (se_backend_alloc(be, bytes, &p) != SE_OK) {
        fprintf(stderr, "alloc %s: %s\n", name, se_last_error());
        exit(1);
    }
    t.data = p;
    void *tmp = calloc(n ? n : 1, 4);
    if (h) se_convert_host(dt, tmp, SE_F32, h, n);
    if (se_backend_set(be, p, tmp, bytes) != SE_OK) {
        fprintf(stderr, "set %s: %s\n", name, se_last_error());
        exit(1);
    }
    free(tmp);
    return t;
}

static float *dev_read(se_backend *be, const se_tensor *t) {
    size_t n = (size_t)se_tensor_numel(t);
    void *tmp = malloc(se_tensor_nbytes(t));
    float *f = malloc(n * sizeof *f);
    se_status st = se_backend_get(be, tmp, t->data, se_tensor_nbytes(t));
    CHECK_MSG(st == SE_OK, "get %s: %s", t->name, se_last_error());
    se_convert_host(SE_F32, f, t->dtype, tmp, n);
    free(tmp);
    return f;
}

static float *rand_vec(size_t n) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = urand();
    return v;
}

/* ||a - b|| / ||b|| over n values; also fails on any non-finite value. */
static double rel_err(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static double tol_for(se_dtype dt) { return dt == SE_F32 ? 1e-5 : dt == SE_F16 ? 2e-3 : 1.5e-2; }

static void run_op(se_backend *be, se_op *op) {
    se_status st = se_backend_compute(be, op);
    if (st == SE_OK) st = se_backend_sync(be);
    CHECK_MSG(st == SE_OK, "%s: %s", se_op_name(op->kind), se_last_error());
}

static void check_linear(se_backend *be, se_dtype dt, int64_t M, int64_t N, int64_t K) {
    float *x = rand_vec((size_t)(M * K)), *w = rand_vec((size_t)(N * K)), *b = rand_vec((size_t)N);
    double *ref = malloc((size_t)(M * N) * sizeof *ref);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = b[j];
            for (int64_t k = 0; k < K; k++) s += (double)x[i * K + k] * w[j * K + k];
            ref[i * N + j] = s;
        }
    int64_t ex[2] = {M, K}, ew[2] = {N, K}, eb[1] = {N}, ey[2] = {M, N};
    se_tensor tx = dev_tensor(be, dt, 2, ex, x, "x"), tw = dev_tensor(be, dt, 2, ew, w, "w");
    se_tensor tb = dev_tensor(be, dt, 1, eb, b, "b"), ty = dev_tensor(be, dt, 2, ey, NULL, "y");
    se_op op = {.kind = SE_OP_LINEAR, .src = {&tx, &tw, &tb}, .dst = &ty};
    run_op(be, &op);
    float *y = dev_read(be, &ty);
    double e = rel_err(y, ref, (size_t)(M * N));
    CHECK_MSG(e < tol_for(dt), "linear %s [%lld,%lld]x[%lld,%lld]: rel err %g", se_dtype_name(dt),
              (long long)M, (long long)K, (long long)N, (long long)K, e);
    se_backend_free(be, tx.data), se_backend_free(be, tw.data), se_backend_free(be, tb.data);
    se_backend_free(be, ty.data);
    free(x), free(w), free(b), free(ref), free(y);
}

/* Reference conv (double) of host x [B,Cin,H,W], w [Cout,Cin,k,k], b [Cout]. */
static double *conv_ref(const float *x, const float *w, const float *b, int64_t B, int64_t Cin,
                        int64_t H, int64_t W, int64_t Cout, int k, int s, int p) {
    int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    double *ref = malloc((size_t)(B * Cout * Ho * Wo) * sizeof *ref);
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t co = 0; co < Cout; co++)
            for (int64_t yo = 0; yo < Ho; yo++)
                for (int64_t xo = 0; xo < Wo; xo++) {
                    double acc = b[co];
                    for (int64_t ci = 0; ci < Cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int64_t yy = yo * s + ky - p, xx = xo * s + kx - p;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                acc += (double)x[((bi * Cin + ci) * H + yy) * W + xx] *
                                       w[((co * Cin + ci) * k + ky) * k + kx];
                            }
                    ref[((bi * Cout + co) * Ho + yo) * Wo + xo] = acc;
                }
    return ref;
}

/* The conv weight cache (wcache.h) never serves a stale copy: the same conv twice (a hit) gives
 * the same bits; new weights uploaded into the same buffer, weights written by an op (COPY), and
 * a freed weight buffer whose address the pool hands out again with other contents all give the
 * conv of the new weights. Also with the cache off (STRIKE_CUDA_CONV_WCACHE_MB=0 is read at
 * creation; here a second backend is not needed: the checks hold either way). */
static void check_conv_cache(se_backend *be, se_dtype dt) {
    const int64_t B = 1, Cin = 6, H = 7, W = 9, Cout = 5;
    const int k = 3, s = 1, p = 1;
    const size_t nx = (size_t)(B * Cin * H * W), nw = (size_t)(Cout * Cin * k * k), ny = (size_t)(B * Cout * H * W);
    float *x = rand_vec(nx), *w1 = rand_vec(nw), *w2 = rand_vec(nw), *w3 = rand_vec(nw), *b = rand_vec((size_t)Cout);
    int64_t ex[4] = {B, Cin, H, W}, ew[4] = {Cout, Cin, k, k}, eb[1] = {Cout}, ey[4] = {B, Cout, H, W};
    se_tensor tx = dev_tensor(be, dt, 4, ex, x, "x"), tw = dev_tensor(be, dt, 4, ew, w1, "w");
    se_tensor tb = dev_tensor(be, dt, 1, eb, b, "b"), ty = dev_tensor(be, dt, 4, ey, NULL, "y");
    se_op op = {.kind = SE_OP_CONV2D, .src = {&tx, &tw, &tb}, .dst = &ty, .i = {s, p}};
    const float *wsets[3] = {w1, w2, w3};
    const char *what[4] = {"first", "upload into the same buffer", "written by COPY", "reused address"};
    float *first = NULL;
    for (int step = 0; step < 4; step++) {
        const float *wh = wsets[step < 3 ? step : 0];
        if (step == 1) {
            /* new contents through set() */
            void *tmp = calloc(nw, 4);
            se_convert_host(dt, tmp, SE_F32, w2, nw);
            CHECK(se_backend_set(be, tw.data, tmp, se_tensor_nbytes(&tw)) == SE_OK);
            free(tmp);
        } else if (step == 2) {
            /* new contents through an op writing into the weight */
            se_tensor src = dev_tensor(be, dt, 4, ew, w3, "w3");
            se_op cp = {.kind = SE_OP_COPY, .src = {&src}, .dst = &tw};
            run_op(be, &cp);
            se_backend_free(be, src.data);
        } else if (step == 3) {
            /* free and allocate again (the pool tends to return the same address) */
            void *old = tw.data;
            se_backend_free(be, tw.data);
            tw = dev_tensor(be, dt, 4, ew, w1, "w");
            printf("  conv cache: weight buffer %s after free + alloc\n", tw.data == old ? "at the same address" : "moved");
        }
        run_op(be, &op);
        float *y = dev_read(be, &ty);
        double *ref = conv_ref(x, wh, b, B, Cin, H, W, Cout, k, s, p);
        double e = rel_err(y, ref, ny);
        CHECK_MSG(e < tol_for(dt), "conv cache %s (%s): rel err %g", what[step], se_dtype_name(dt), e);
        if (step == 0) {
            first = y;
#ifdef STRIKE_HAVE_CUDA
            se_cuda_info i0, i1;
            CHECK(se_cuda_backend_info(be, &i0) == SE_OK);
#endif
            run_op(be, &op);   /* a hit */
#ifdef STRIKE_HAVE_CUDA
            const char *off = getenv("STRIKE_CUDA_CONV_WCACHE_MB");
            CHECK(se_cuda_backend_info(be, &i1) == SE_OK);
            if (!off || strcmp(off, "0") != 0)
                CHECK_MSG(i1.conv_wcache_hits == i0.conv_wcache_hits + 1 && i1.conv_wcache_entries > 0,
                          "conv cache: hits %llu -> %llu, %zu entries", i0.conv_wcache_hits,
                          i1.conv_wcache_hits, i1.conv_wcache_entries);
#endif
            float *again = dev_read(be, &ty);
            CHECK_MSG(memcmp(again, first, ny * sizeof *first) == 0, "conv cache hit (%s): bits differ", se_dtype_name(dt));
            free(again);
        } else {
            free(y);
        }
        free(ref);
    }
    se_backend_free(be, tx.data), se_backend_free(be, tw.data), se_backend_free(be, tb.data);
    se_backend_free(be, ty.data);
    free(first), free(x), free(w1), free(w2), free(w3), free(b);
}

static void check_conv(se_backend *be, se_dtype dt, int64_t B, int64_t Cin, int64_t H, int64_t W,
                       int64_t Cout, int k, int s, int p) {
    int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    size_t nx = (size_t)(B * Cin * H * W), nw = (size_t)(Cout * Cin * k * k), ny = (size_t)(B * Cout * Ho * Wo);
    float *x = rand_vec(nx), *w = rand_vec(nw), *b = rand_vec((size_t)Cout);
    double *ref = conv_ref(x, w, b, B, Cin, H, W, Cout, k, s, p);
    int64_t ex[4] = {B, Cin, H, W}, ew[4] = {Cout, Cin, k, k}, eb[1] = {Cout}, ey[4] = {B, Cout, Ho, Wo};
    se_tensor tx = dev_tensor(be, dt, 4, ex, x, "x"), tw = dev_tensor(be, dt, 4, ew, w, "w");
    se_tensor tb = dev_tensor(be, dt, 1, eb, b, "b"), ty = dev_tensor(be, dt, 4, ey, NULL, "y");
    se_op op = {.kind = SE_OP_CONV2D, .src = {&tx, &tw, &tb}, .dst = &ty, .i = {s, p}};
    run_op(be, &op);
    float *y = dev_read(be, &ty);
    double e = rel_err(y, ref, ny);
    CHECK_MSG(e < tol_for(dt), "conv2d %s x[%lld,%lld,%lld,%lld] k%d s%d p%d: rel err %g",
              se_dtype_name(dt), (long long)B, (long long)Cin, (long long)H, (long long)W, k, s, p, e);
    se_backend_free(be, tx.data), se_backend_free(be, tw.data), se_backend_free(be, tb.data);
    se_backend_free(be, ty.data);
    free(x), free(w), free(b), free(ref), free(y);
}

static void check_group_norm(se_backend *be, se_dtype dt, int64_t B, int64_t C, int64_t S, int G) {
    size_t n = (size_t)(B * C * S);
    float *x = rand_vec(n), *g = rand_vec((size_t)C), *bt = rand_vec((size_t)C);
    for (size_t i = 0; i < n; i++) x[i] = 3.0f + 2.0f * x[i];   /* an offset: tests the shift */
    double *ref = malloc(n * sizeof *ref);
    int64_t cpg = C / G, gs = cpg * S;
    for (int64_t bg = 0; bg < B * G; bg++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < gs; i++) m += x[bg * gs + i];
        m /= (double)gs;
        for (int64_t i = 0; i < gs; i++) v += (x[bg * gs + i] - m) * (x[bg * gs + i] - m);
        v /= (double)gs;
        for (int64_t i = 0; i < gs; i++) {
            int64_t c = (bg % G) * cpg + i / S;
            double r = (x[bg * gs + i] - m) / sqrt(v + 1e-5) * g[c] + bt[c];
            ref[bg * gs + i] = r / (1 + exp(-r));
        }
    }
    int64_t ex[3] = {B, C, S}, ec[1] = {C};
    se_tensor tx = dev_tensor(be, dt, 3, ex, x, "x"), tg = dev_tensor(be, dt, 1, ec, g, "gamma");
    se_tensor tb = dev_tensor(be, dt, 1, ec, bt, "beta"), ty = dev_tensor(be, dt, 3, ex, NULL, "y");
    se_op op = {.kind = SE_OP_GROUP_NORM, .src = {&tx, &tg, &tb}, .dst = &ty, .i = {G, 1}, .f = {1e-5f}};
    run_op(be, &op);
    float *y = dev_read(be, &ty);
    double e = rel_err(y, ref, n);
    CHECK_MSG(e < tol_for(dt) * 2, "group_norm+silu %s [%lld,%lld,%lld] G=%d: rel err %g",
              se_dtype_name(dt), (long long)B, (long long)C, (long long)S, G, e);
    se_backend_free(be, tx.data), se_backend_free(be, tg.data), se_backend_free(be, tb.data);
    se_backend_free(be, ty.data);
    free(x), free(g), free(bt), free(ref), free(y);
}

static void check_attention(se_backend *be, se_dtype dt, int64_t B, int64_t Nq, int64_t Nk,
                            int64_t H, int64_t D, int causal) {
    int64_t HD = H * D;
    size_t nq = (size_t)(B * Nq * HD), nk = (size_t)(B * Nk * HD);
    float *q = rand_vec(nq), *k = rand_vec(nk), *v = rand_vec(nk);
    double *ref = malloc(nq * sizeof *ref), *sc = malloc((size_t)Nk * sizeof *sc);
    float scale = 1.0f / sqrtf((float)D);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Nq; i++) {
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < Nk; j++) {
                    double s = 0;
                    for (int64_t d = 0; d < D; d++)
                        s += (double)q[(b * Nq + i) * HD + h * D + d] * k[(b * Nk + j) * HD + h * D + d];
                    sc[j] = causal && j > i ? -INFINITY : s * scale;
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int64_t j = 0; j < Nk; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int64_t d = 0; d < D; d++) {
                    double o = 0;
                    for (int64_t j = 0; j < Nk; j++) o += sc[j] * v[(b * Nk + j) * HD + h * D + d];
                    ref[(b * Nq + i) * HD + h * D + d] = o / sum;
                }
            }
    int64_t eq[3] = {B, Nq, HD}, ek[3] = {B, Nk, HD};
    se_tensor tq = dev_tensor(be, dt, 3, eq, q, "q"), tk = dev_tensor(be, dt, 3, ek, k, "k");
    se_tensor tv = dev_tensor(be, dt, 3, ek, v, "v"), ty = dev_tensor(be, dt, 3, eq, NULL, "y");
    se_op op = {.kind = SE_OP_ATTENTION, .src = {&tq, &tk, &tv}, .dst = &ty, .i = {(int)H, causal},
                .f = {scale}};
    run_op(be, &op);
    float *y = dev_read(be, &ty);
    double e = rel_err(y, ref, nq);
    const char *path = getenv("STRIKE_CUDA_ATTENTION");
    CHECK_MSG(e < tol_for(dt) * 2, "attention (%s) %s B%lld Nq%lld Nk%lld H%lld D%lld causal%d: rel err %g",
              path ? path : "gemm", se_dtype_name(dt), (long long)B, (long long)Nq, (long long)Nk,
              (long long)H, (long long)D, causal, e);
    se_backend_free(be, tq.data), se_backend_free(be, tk.data), se_backend_free(be, tv.data);
    se_backend_free(be, ty.data);
    free(q), free(k), free(v), free(ref), free(sc), free(y);
}

static void check_errors(se_backend *be) {
    /* gather: an id outside the table is SE_ERR_INVALID_ARG naming it, never a read outside. */
    float tab[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t et[2] = {4, 2}, ei[1] = {3}, ey[2] = {3, 2};
    se_tensor tt = dev_tensor(be, SE_F32, 2, et, tab, "table"), ty = dev_tensor(be, SE_F32, 2, ey, NULL, "y");
    se_tensor ti = se_tensor_make(SE_I32, 1, ei, NULL, "ids");
    int32_t ids[3] = {1, 7, 0};
    void *p = NULL;
    CHECK(se_backend_alloc(be, sizeof ids, &p) == SE_OK);
    ti.data = p;
    CHECK(se_backend_set(be, p, ids, sizeof ids) == SE_OK);
    se_op op = {.kind = SE_OP_GATHER, .src = {&tt, &ti}, .dst = &ty};
    se_status st = se_backend_compute(be, &op);
    CHECK_MSG(st == SE_ERR_INVALID_ARG && strstr(se_last_error(), "= 7"), "gather bad id: %s (%s)",
              se_strerror(st), se_last_error());
    ids[1] = 3;
    CHECK(se_backend_set(be, p, ids, sizeof ids) == SE_OK);
    st = se_backend_compute(be, &op);
    CHECK_MSG(st == SE_OK, "gather: %s", se_last_error());
    float *y = dev_read(be, &ty);
    CHECK(y[0] == 3 && y[1] == 4 && y[2] == 7 && y[3] == 8 && y[4] == 1 && y[5] == 2);
    free(y);
    /* A linear with mixed dtypes is refused by supports_op and by compute, with a message. */
    int64_t ex[2] = {2, 2};
    se_tensor a = dev_tensor(be, SE_F32, 2, ex, NULL, "a"), w = dev_tensor(be, SE_F16, 2, ex, NULL, "w");
    se_op lin = {.kind = SE_OP_LINEAR, .src = {&a, &w}, .dst = &a};
    CHECK(!se_backend_supports(be, &lin));
    st = se_backend_compute(be, &lin);
    CHECK_MSG(st == SE_ERR_UNSUPPORTED && strstr(se_last_error(), "cuda linear"), "%s", se_last_error());
    se_backend_free(be, a.data), se_backend_free(be, w.data);
    se_backend_free(be, tt.data), se_backend_free(be, ty.data), se_backend_free(be, p);
}

#ifdef STRIKE_HAVE_CUDA
/* Captures y = x w^T; y = 2*y into a graph, replays it twice and checks the result; host round
 * trips during the capture are refused with a message. */
static void check_graph(se_backend *be) {
    int64_t ex[2] = {4, 8}, ew[2] = {3, 8}, ey[2] = {4, 3};
    float x[32], w[24], y[12];
    for (int i = 0; i < 32; i++) x[i] = urand();
    for (int i = 0; i < 24; i++) w[i] = urand();
    se_tensor tx = dev_tensor(be, SE_F32, 2, ex, x, "x"), tw = dev_tensor(be, SE_F32, 2, ew, w, "w");
    se_tensor ty = dev_tensor(be, SE_F32, 2, ey, NULL, "y");
    se_op lin = {.kind = SE_OP_LINEAR, .src = {&tx, &tw}, .dst = &ty};
    se_op dbl = {.kind = SE_OP_SCALE_ADD, .src = {&ty}, .dst = &ty, .f = {2.0f, 0.0f}};
    run_op(be, &lin);                 /* once uncaptured (cuBLAS picks its kernels) */
    se_status st = se_cuda_capture_begin(be);
    CHECK_MSG(st == SE_OK, "capture_begin: %s", se_last_error());
    CHECK(se_backend_compute(be, &lin) == SE_OK);
    CHECK(se_backend_compute(be, &dbl) == SE_OK);
    st = se_backend_set(be, tx.data, x, sizeof x);
    CHECK_MSG(st == SE_ERR_UNSUPPORTED && strstr(se_last_error(), "captured"), "set in capture: %s",
              se_last_error());
    se_cuda_graph *g = NULL;
    st = se_cuda_capture_end(be, &g);
    CHECK_MSG(st == SE_OK && g, "capture_end: %s", se_last_error());
    for (int r = 0; r < 2 && g; r++) CHECK(se_cuda_graph_launch(be, g) == SE_OK);
    CHECK(se_backend_sync(be) == SE_OK);
    CHECK(se_backend_get(be, y, ty.data, sizeof y) == SE_OK);
    double e = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            double r = 0;
            for (int k = 0; k < 8; k++) r += (double)x[i * 8 + k] * w[j * 8 + k];
            e = fmax(e, fabs(y[i * 3 + j] - 2 * r));
        }
    CHECK_MSG(e < 1e-5, "graph replay: max err %g", e);
    se_cuda_graph_destroy(&g);
    CHECK(g == NULL);
    se_backend_free(be, tx.data), se_backend_free(be, tw.data), se_backend_free(be, ty.data);
}
#endif

/* Checks on a machine with a device, for one compute dtype. */
static void device_checks(se_dtype dt) {
    se_cuda_params cp;
    se_cuda_params_init(&cp);
    cp.compute_dtype = dt;
    se_backend *be = NULL;
    se_status st = se_backend_cuda_new(&cp, &be);
    CHECK_MSG(st == SE_OK, "se_backend_cuda_new(%s): %s", se_dtype_name(dt), se_last_error());
    if (!be) return;
    CHECK(be->weight_dtype == dt && be->act_dtype == dt && strcmp(se_backend_name(be), "cuda") == 0);
    check_linear(be, dt, 37, 29, 70);
    check_linear(be, dt, 256, 320, 640);
    check_conv(be, dt, 2, 5, 9, 11, 7, 3, 1, 1);
    check_conv(be, dt, 1, 8, 10, 9, 6, 3, 2, 1);
    check_conv(be, dt, 2, 16, 6, 5, 12, 1, 1, 0);
    check_conv_cache(be, dt);
    check_group_norm(be, dt, 2, 64, 5000, 32);
    check_group_norm(be, dt, 1, 32, 40000, 4);        /* groups of 320000: several chunks */
    for (int path = 0; path < 2; path++) {
        if (path == 1) {
            /* the fused kernel: a second backend created with the env switch */
            setenv("STRIKE_CUDA_ATTENTION", "flash", 1);
            se_backend_destroy(&be);
            st = se_backend_cuda_new(&cp, &be);
            CHECK_MSG(st == SE_OK, "flash backend: %s", se_last_error());
            if (!be) return;
        }
        check_attention(be, dt, 2, 77, 77, 2, 64, 0);
        check_attention(be, dt, 1, 150, 77, 5, 64, 0);
        check_attention(be, dt, 1, 130, 130, 2, 32, 1);
        check_attention(be, dt, 2, 100, 100, 3, 64, 1);     /* causal, head dim 64 (wmma path) */
        check_attention(be, dt, 1, 200, 200, 1, 160, 0);   /* one wide head, split along d */
        unsetenv("STRIKE_CUDA_ATTENTION");
    }
    if (dt == SE_F32) check_errors(be);
#ifdef STRIKE_HAVE_CUDA
    if (dt == SE_F32) check_graph(be);
    se_cuda_info info;
    CHECK(se_cuda_backend_info(be, &info) == SE_OK && info.name[0] && info.total_mem > 0 &&
          info.pool_used_peak > 0 && info.pool_reserved_peak >= info.pool_used_peak);
    printf("device %d: %s, sm_%d%d, %.1f GiB, pool peak used %.1f MiB, reserved %.1f MiB\n",
           info.device, info.name, info.sm_major, info.sm_minor, info.total_mem / 1073741824.0,
           info.pool_used_peak / 1048576.0, info.pool_reserved_peak / 1048576.0);
#endif
    se_backend_destroy(&be);
    CHECK(be == NULL);
}

int main(void) {
    int n = se_cuda_device_count();
    CHECK(n >= 0);
    se_cuda_params cp;
    se_cuda_params_init(&cp);
    CHECK(cp.device == 0 && cp.compute_dtype == SE_BF16);
    se_backend *be = NULL;
    /* A bad compute dtype is refused before the device is looked at. */
    cp.compute_dtype = SE_I32;
    se_status st = se_backend_cuda_new(&cp, &be);
#ifdef STRIKE_HAVE_CUDA
    CHECK_MSG(st == SE_ERR_INVALID_ARG && be == NULL, "bad dtype: %s", se_last_error());
#endif
    se_cuda_params_init(&cp);
    st = se_backend_cuda_new(&cp, &be);
    if (st == SE_ERR_UNSUPPORTED && n == 0) {
        CHECK(be == NULL);
        if (g_test_fail) return test_report("engine_cuda_device");
        printf("SKIPPED: no CUDA device: engine built without CUDA (%s)\n", se_last_error());
        return 77;
    }
    if (n == 0) {
        /* No device: the error must say so and name cudaGetDeviceCount's reason. */
        const char *msg = se_last_error();
        CHECK_MSG(st == SE_ERR_NO_DEVICE, "expected SE_ERR_NO_DEVICE, got %s (%s)", se_strerror(st), msg);
        CHECK(be == NULL);
        CHECK_MSG(strncmp(msg, "no CUDA device (cudaGetDeviceCount: ", 36) == 0, "message: %s", msg);
        if (g_test_fail) return test_report("engine_cuda_device");
        char reason[512];
        snprintf(reason, sizeof reason, "%s", msg + 36);
        size_t len = strlen(reason);
        if (len && reason[len - 1] == ')') reason[len - 1] = '\0';
        printf("SKIPPED: no CUDA device: %s\n", reason);
        return 77;
    }
    CHECK_MSG(st == SE_OK, "se_backend_cuda_new: %s", se_last_error());
    se_backend_destroy(&be);
    /* An ordinal past the last device is SE_ERR_NO_DEVICE. */
    cp.device = n;
    st = se_backend_cuda_new(&cp, &be);
    CHECK(st == SE_ERR_NO_DEVICE && be == NULL);
    device_checks(SE_F32);
    device_checks(SE_BF16);
    device_checks(SE_F16);
    return test_report("engine_cuda_device");
}
