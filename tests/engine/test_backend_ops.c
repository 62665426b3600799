/*
 * test_backend_ops.c - every op over many shapes, on every backend, against the naive CPU
 * reference in the same binary (ctest: engine_backend_ops).
 *
 * For each case the inputs are filled from a fixed-seed generator, the op runs on the reference
 * (cpu-naive) and on the backend under test (cpu fast path always; CUDA when a device exists),
 * and the outputs are compared by normalised error ||a-b|| / ||b|| against a per-op threshold.
 * Outputs must be finite, and every output buffer sits between guard bytes that must be intact
 * afterwards. Known-answer checks (values worked out by hand or from the formula) check the naive
 * path itself, and error paths (bad shapes, out-of-range ids) must fail with a clear message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cpu.h"
#include "core/backend_cuda.h"
#include "core/error.h"
#include "core/ops.h"
#include "cpu/cpu_internal.h"
#include "test_util.h"
#ifdef STRIKE_HAVE_CUDA
#include "cuda/cuda_info.h"
#include "cuda/kernel_counts.h"
#endif

#define GUARD 256          /* guard bytes on each side of every buffer */
#define GUARD_BYTE 0xA5

/* ---------------------------------------------------------------- data and buffers */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static void rng_seed(uint64_t s) { g_rng = s * 0x9E3779B97F4A7C15ull + 1; }
static float rng_uniform(void) { /* [-1, 1) */
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* One backend buffer with guard bytes around it; t describes the inner data. */
typedef struct gbuf {
    se_backend *be;
    char *base;        /* allocation: GUARD + bytes + GUARD */
    size_t bytes;
} gbuf;

static int gbuf_alloc(se_backend *be, size_t bytes, gbuf *g) {
    g->be = be;
    g->bytes = bytes;
    void *p = NULL;
    if (se_backend_alloc(be, bytes + 2 * GUARD, &p) != SE_OK) return -1;
    g->base = p;
    unsigned char *pat = malloc(bytes + 2 * GUARD);
    memset(pat, GUARD_BYTE, bytes + 2 * GUARD);
    se_backend_set(be, g->base, pat, bytes + 2 * GUARD);
    free(pat);
    return 0;
}

static void *gbuf_data(gbuf *g) { return g->base + GUARD; }

/* True when both guard zones still hold the pattern. */
static bool gbuf_guards_ok(gbuf *g) {
    unsigned char *h = malloc(g->bytes + 2 * GUARD);
    se_backend_sync(g->be);
    se_backend_get(g->be, h, g->base, g->bytes + 2 * GUARD);
    bool ok = true;
    for (size_t i = 0; i < GUARD; i++)
        if (h[i] != GUARD_BYTE || h[GUARD + g->bytes + i] != GUARD_BYTE) ok = false;
    free(h);
    return ok;
}

static void gbuf_free(gbuf *g) {
    se_backend_free(g->be, g->base);
    g->base = NULL;
}

/* ---------------------------------------------------------------- case description */

enum { VIEW_NONE, VIEW_TRANSPOSE, VIEW_SLICE };

typedef struct tdesc {
    int nd;
    int64_t ne[4];
    se_dtype dt;       /* 0 = F32 */
} tdesc;

typedef struct op_case {
    se_op_kind kind;
    int nsrc;
    tdesc src[3];
    bool src2_null;    /* pass NULL for the optional third source (bias) / second (scale_add) */
    tdesc dst;
    int i[4];
    float f[4];
    int view, v[3];    /* src0 is a view of its buffer: transpose(v0,v1) or slice(dim v0, begin v1, len v2) */
    bool inplace;      /* dst shares src0's buffer */
    float amp;         /* input amplitude (default 1) */
    se_dtype round_dt; /* F32 inputs rounded through this dtype (0 = F32: none); low-precision checks */
} op_case;

#define T1(a) {1, {a, 1, 1, 1}, SE_F32}
#define T2(a, b) {2, {a, b, 1, 1}, SE_F32}
#define T3(a, b, c) {3, {a, b, c, 1}, SE_F32}
#define T4(a, b, c, d) {4, {a, b, c, d}, SE_F32}

/* Per-op threshold on the normalised error of the fast CPU path against the naive one. */
static double op_tol(se_op_kind k) {
    switch (k) {
    case SE_OP_CONV2D: case SE_OP_LINEAR: case SE_OP_ATTENTION: return 2e-5;
    case SE_OP_GROUP_NORM: case SE_OP_LAYER_NORM: case SE_OP_SOFTMAX: return 1e-5;
    case SE_OP_COPY: case SE_OP_CONCAT: case SE_OP_UPSAMPLE_NEAREST2X: case SE_OP_GATHER: return 0.0;
    default: return 2e-6;
    }
}

/* Calls the typed entry point for the case. */
static se_status call_op(se_backend *be, const op_case *c, se_tensor *s, se_tensor *d) {
    const se_tensor *s2 = c->nsrc > 2 && !c->src2_null ? &s[2] : NULL;
    switch (c->kind) {
    case SE_OP_CONV2D: return se_conv2d(be, &s[0], &s[1], s2, c->i[0], c->i[1], d);
    case SE_OP_LINEAR: return se_linear(be, &s[0], &s[1], s2, d);
    case SE_OP_GROUP_NORM: return se_group_norm(be, &s[0], &s[1], &s[2], c->i[0], c->f[0], c->i[1], d);
    case SE_OP_LAYER_NORM: return se_layer_norm(be, &s[0], &s[1], &s[2], c->f[0], d);
    case SE_OP_SILU: return se_silu(be, &s[0], d);
    case SE_OP_GELU: return se_gelu(be, &s[0], d);
    case SE_OP_QUICK_GELU: return se_quick_gelu(be, &s[0], d);
    case SE_OP_GEGLU: return se_geglu(be, &s[0], d);
    case SE_OP_SOFTMAX: return se_softmax(be, &s[0], c->f[0], d);
    case SE_OP_ATTENTION: return se_attention(be, &s[0], &s[1], &s[2], c->i[0], c->i[1], c->f[0], d);
    case SE_OP_UPSAMPLE_NEAREST2X: return se_upsample_nearest2x(be, &s[0], d);
    case SE_OP_CONCAT: return se_concat(be, &s[0], &s[1], c->i[0], d);
    case SE_OP_ADD: return se_add(be, &s[0], &s[1], d);
    case SE_OP_SCALE_ADD:
        return se_scale_add(be, &s[0], c->f[0], c->src2_null ? NULL : &s[1], c->f[1], d);
    case SE_OP_COPY: return se_copy(be, &s[0], c->i, d);
    case SE_OP_GATHER: return se_gather(be, &s[0], &s[1], d);
    case SE_OP_TIMESTEP_EMBEDDING: return se_timestep_embedding(be, &s[0], c->i[0], c->f[0], c->f[1], d);
    case SE_OP_COUNT: break;
    }
    return SE_ERR_INTERNAL;
}

static int nsrc_used(const op_case *c) {
    return c->kind == SE_OP_SCALE_ADD && c->src2_null ? 1 : c->nsrc;
}

/* Host data for source i of a case (deterministic), as bytes of the source's dtype. */
static void *make_src_host(const op_case *c, int i, const se_tensor *t, size_t *bytes) {
    int64_t n = se_tensor_numel(t);
    *bytes = se_tensor_nbytes(t);
    void *h = malloc(*bytes ? *bytes : 1);
    rng_seed((uint64_t)(c->kind * 131 + i * 7 + n));
    float amp = c->amp > 0 ? c->amp : 1.0f;
    if (t->dtype == SE_I32) {
        int64_t V = c->src[0].ne[0];
        for (int64_t k = 0; k < n; k++) ((int32_t *)h)[k] = (int32_t)((rng_uniform() + 1.0f) * 0.5f * (float)V) % (int32_t)V;
        return h;
    }
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    for (int64_t k = 0; k < n; k++) {
        float v = amp * rng_uniform();
        if (c->kind == SE_OP_TIMESTEP_EMBEDDING) v = (float)(int)((v + amp) * 500.0f);  /* 0..999 */
        if ((c->kind == SE_OP_GROUP_NORM || c->kind == SE_OP_LAYER_NORM) && i == 1) v += 1.0f;  /* gamma near 1 */
        f[k] = v;
    }
    if (c->round_dt != SE_F32 && t->dtype == SE_F32) {   /* the values a bf16/f16 run sees */
        void *tmp = malloc((size_t)(n ? n : 1) * se_dtype_size(c->round_dt));
        se_convert_host(c->round_dt, tmp, SE_F32, f, (size_t)n);
        se_convert_host(SE_F32, f, c->round_dt, tmp, (size_t)n);
        free(tmp);
    }
    se_convert_host(t->dtype, h, SE_F32, f, (size_t)n);
    free(f);
    return h;
}

/* Output of one run, as host floats. */
typedef struct run_out {
    se_status st;
    float *y;
    int64_t n;
    bool guards_ok;
} run_out;

/* Runs a case on one backend: allocates guarded buffers, uploads inputs, computes, downloads. */
static run_out run_case(se_backend *be, const op_case *c) {
    run_out r = {SE_OK, NULL, 0, true};
    gbuf bufs[4];
    se_tensor s[3];
    int ns = nsrc_used(c);
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < c->nsrc; i++) {
        const tdesc *td = &c->src[i];
        s[i] = se_tensor_make(td->dt, td->nd, td->ne, NULL, NULL);
        se_tensor_set_name(&s[i], "%s.src%d", se_op_name(c->kind), i);
        if (i >= ns || (i == 2 && c->src2_null)) continue;
        size_t bytes;
        void *h = make_src_host(c, i, &s[i], &bytes);
        gbuf_alloc(be, bytes, &bufs[i]);
        s[i].data = gbuf_data(&bufs[i]);
        se_tensor_set_data(be, &s[i], h, bytes);
        free(h);
    }
    if (c->view == VIEW_TRANSPOSE) s[0] = se_tensor_transpose(&s[0], c->v[0], c->v[1]);
    if (c->view == VIEW_SLICE) s[0] = se_tensor_slice(&s[0], c->v[0], c->v[1], c->v[2]);
    se_tensor d = se_tensor_make(c->dst.dt, c->dst.nd, c->dst.ne, NULL, "out");
    gbuf *db = &bufs[3];
    if (c->inplace) {
        db = &bufs[0];
        d.data = s[0].data;
    } else {
        gbuf_alloc(be, se_tensor_nbytes(&d), db);
        d.data = gbuf_data(db);
    }
    r.st = call_op(be, c, s, &d);
    if (r.st == SE_OK) r.st = se_backend_sync(be);
    if (r.st == SE_OK) {
        r.n = se_tensor_numel(&d);
        size_t bytes = se_tensor_nbytes(&d);
        void *h = malloc(bytes ? bytes : 1);
        se_tensor_get_data(be, &d, h, bytes);
        r.y = malloc((size_t)(r.n ? r.n : 1) * sizeof *r.y);
        se_convert_host(SE_F32, r.y, d.dtype, h, (size_t)r.n);
        free(h);
    }
    for (int i = 0; i < 4; i++)
        if (bufs[i].base) {
            if (!gbuf_guards_ok(&bufs[i])) r.guards_ok = false;
            gbuf_free(&bufs[i]);
        }
    return r;
}

/* Builds the se_op a case would hand the backend, for se_backend_supports(). */
static bool case_supported(se_backend *be, const op_case *c) {
    se_tensor s[3], d;
    se_op op;
    memset(&op, 0, sizeof op);
    op.kind = c->kind;
    for (int i = 0; i < nsrc_used(c); i++) {
        if (i == 2 && c->src2_null) continue;
        s[i] = se_tensor_make(c->src[i].dt, c->src[i].nd, c->src[i].ne, NULL, NULL);
        op.src[i] = &s[i];
    }
    d = se_tensor_make(c->dst.dt, c->dst.nd, c->dst.ne, NULL, NULL);
    op.dst = &d;
    for (int i = 0; i < 4; i++) op.i[i] = c->i[i], op.f[i] = c->f[i];
    return se_backend_supports(be, &op);
}

static void case_label(const op_case *c, char *buf, size_t cap) {
    size_t off = (size_t)snprintf(buf, cap, "%s(", se_op_name(c->kind));
    for (int i = 0; i < nsrc_used(c) && off < cap; i++) {
        char s[64];
        se_tensor t = se_tensor_make(c->src[i].dt, c->src[i].nd, c->src[i].ne, NULL, NULL);
        off += (size_t)snprintf(buf + off, cap - off, "%s%s%s", i ? "," : "", se_tensor_shape_str(&t, s, sizeof s),
                                c->src[i].dt != SE_F32 ? se_dtype_name(c->src[i].dt) : "");
    }
    if (off < cap) snprintf(buf + off, cap - off, ") i=[%d,%d,%d,%d]%s%s", c->i[0], c->i[1], c->i[2], c->i[3],
                            c->view ? " view" : "", c->inplace ? " inplace" : "");
}

static void compare_runs(const char *label, const char *bn, const char *rn, run_out *a, run_out *b, double tol);

/* Compares one backend with the reference on one case. */
static void check_case(se_backend *ref, se_backend *be, const op_case *c, double tol_scale) {
    char label[256];
    case_label(c, label, sizeof label);
    if (!case_supported(be, c)) {
        printf("  skipped on %s (unsupported): %s\n", se_backend_name(be), label);
        return;
    }
    run_out a = run_case(be, c), b = run_case(ref, c);
    double tol = op_tol(c->kind) * tol_scale;
    if (c->dst.dt == SE_F16 || c->dst.dt == SE_BF16) tol = tol_scale > 1 ? 8e-3 : 0.0;
    compare_runs(label, se_backend_name(be), se_backend_name(ref), &a, &b, tol);
}

/* Checks run a (backend under test) against run b (reference): both succeeded, guards intact,
 * outputs finite, normalised error ||a-b||/||b|| <= tol, reference not all zeros. Frees both. */
static void compare_runs(const char *label, const char *bn, const char *rn, run_out *a, run_out *b, double tol) {
    CHECK_MSG(a->st == SE_OK, "%s on %s: %s (%s)", label, bn, se_strerror(a->st), se_last_error());
    CHECK_MSG(b->st == SE_OK, "%s on %s: %s (%s)", label, rn, se_strerror(b->st), se_last_error());
    CHECK_MSG(a->guards_ok, "%s: guard bytes overwritten on %s", label, bn);
    CHECK_MSG(b->guards_ok, "%s: guard bytes overwritten on %s", label, rn);
    if (a->st == SE_OK && b->st == SE_OK) {
        double num = 0, den = 0;
        int64_t bad = 0;
        CHECK_MSG(a->n == b->n, "%s: %lld outputs on %s, %lld on %s", label, (long long)a->n, bn, (long long)b->n, rn);
        for (int64_t k = 0; k < a->n && k < b->n; k++) {
            if (!isfinite(a->y[k]) || !isfinite(b->y[k])) bad++;
            double dlt = (double)a->y[k] - b->y[k];
            num += dlt * dlt;
            den += (double)b->y[k] * b->y[k];
        }
        double err = den > 0 ? sqrt(num / den) : sqrt(num);
        CHECK_MSG(bad == 0, "%s on %s: %lld non-finite outputs", label, bn, (long long)bad);
        CHECK_MSG(err <= tol, "%s on %s: normalised error %.3g > %.3g", label, bn, err, tol);
        CHECK_MSG(den > 0 || a->n == 0, "%s: reference output is all zeros (test would prove nothing)", label);
    }
    free(a->y);
    free(b->y);
}

/* ---------------------------------------------------------------- the cases */

static int build_cases(op_case *cs, int cap) {
    int n = 0;
#define ADD_CASE(...) do { if (n < cap) { op_case c_ = {__VA_ARGS__}; cs[n++] = c_; } } while (0)
    /* conv2d: B,Cin,H,W -> Cout; kernel, stride, pad, bias */
    static const int conv[][9] = {
        {1, 3, 5, 7, 4, 3, 1, 1, 1},   {2, 5, 8, 6, 3, 3, 2, 1, 1},   {1, 8, 9, 9, 16, 1, 1, 0, 1},
        {2, 4, 7, 5, 6, 1, 1, 0, 0},   {1, 16, 16, 16, 8, 3, 1, 1, 1}, {1, 7, 11, 13, 5, 3, 2, 1, 0},
        {1, 32, 8, 8, 32, 3, 1, 1, 1}, {2, 3, 6, 6, 2, 3, 1, 0, 1},   {1, 64, 12, 10, 48, 3, 1, 1, 1},
        {1, 40, 5, 5, 70, 1, 2, 0, 1}, {1, 96, 20, 20, 40, 3, 1, 1, 1}, {2, 24, 16, 17, 24, 3, 2, 1, 1},
        {1, 20, 33, 31, 12, 3, 1, 1, 1}, {1, 130, 4, 4, 66, 3, 1, 1, 1}, {1, 5, 6, 7, 4, 3, 1, 2, 1},
        {1, 4, 5, 5, 3, 1, 1, 1, 1},   {2, 3, 7, 6, 5, 3, 2, 3, 0},   {1, 6, 1, 1, 4, 3, 1, 1, 1},
        {1, 3, 3, 9, 2, 3, 2, 0, 1},
    };
    for (size_t k = 0; k < sizeof conv / sizeof conv[0]; k++) {
        const int *p = conv[k];
        int64_t ho = (p[2] + 2 * p[7] - p[5]) / p[6] + 1, wo = (p[3] + 2 * p[7] - p[5]) / p[6] + 1;
        ADD_CASE(.kind = SE_OP_CONV2D, .nsrc = 3, .src = {T4(p[0], p[1], p[2], p[3]), T4(p[4], p[1], p[5], p[5]), T1(p[4])},
                 .src2_null = !p[8], .dst = T4(p[0], p[4], ho, wo), .i = {p[6], p[7]});
    }
    /* linear */
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T2(1, 7), T2(5, 7), T1(5)}, .dst = T2(1, 5));
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T2(3 * 17, 33), T2(29, 33), T1(29)}, .dst = T2(51, 29));
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T3(2, 5, 64), T2(128, 64), T1(128)}, .dst = T3(2, 5, 128));
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T1(300), T2(70, 300), T1(70)}, .src2_null = true, .dst = T1(70));
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T3(1, 77, 256), T2(96, 256), T1(96)}, .dst = T3(1, 77, 96));
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T2(300, 160), T2(200, 160), T1(200)}, .dst = T2(300, 200));
    ADD_CASE(.kind = SE_OP_LINEAR, .nsrc = 3, .src = {T2(257, 129), T2(65, 129), T1(65)}, .src2_null = true, .dst = T2(257, 65));
    /* group norm */
    ADD_CASE(.kind = SE_OP_GROUP_NORM, .nsrc = 3, .src = {T4(2, 32, 4, 4), T1(32), T1(32)}, .dst = T4(2, 32, 4, 4), .i = {8, 0}, .f = {1e-5f});
    ADD_CASE(.kind = SE_OP_GROUP_NORM, .nsrc = 3, .src = {T4(2, 32, 4, 4), T1(32), T1(32)}, .dst = T4(2, 32, 4, 4), .i = {8, 1}, .f = {1e-5f});
    ADD_CASE(.kind = SE_OP_GROUP_NORM, .nsrc = 3, .src = {T4(1, 64, 5, 7), T1(64), T1(64)}, .dst = T4(1, 64, 5, 7), .i = {32, 1}, .f = {1e-6f});
    ADD_CASE(.kind = SE_OP_GROUP_NORM, .nsrc = 3, .src = {T3(3, 6, 10), T1(6), T1(6)}, .dst = T3(3, 6, 10), .i = {3, 0}, .f = {1e-5f});
    ADD_CASE(.kind = SE_OP_GROUP_NORM, .nsrc = 3, .src = {T4(1, 320, 8, 8), T1(320), T1(320)}, .dst = T4(1, 320, 8, 8), .i = {32, 1}, .f = {1e-5f}, .amp = 3);
    ADD_CASE(.kind = SE_OP_GROUP_NORM, .nsrc = 3, .src = {T4(2, 64, 9, 9), T1(64), T1(64)}, .dst = T4(2, 64, 9, 9), .i = {32, 0}, .f = {1e-5f}, .inplace = true);
    /* layer norm */
    ADD_CASE(.kind = SE_OP_LAYER_NORM, .nsrc = 3, .src = {T3(2, 7, 33), T1(33), T1(33)}, .dst = T3(2, 7, 33), .f = {1e-5f});
    ADD_CASE(.kind = SE_OP_LAYER_NORM, .nsrc = 3, .src = {T3(1, 77, 768), T1(768), T1(768)}, .dst = T3(1, 77, 768), .f = {1e-5f}, .amp = 4);
    ADD_CASE(.kind = SE_OP_LAYER_NORM, .nsrc = 3, .src = {T2(4, 64), T1(64), T1(64)}, .dst = T2(4, 64), .f = {1e-5f}, .inplace = true);
    /* activations */
    static const se_op_kind acts[] = {SE_OP_SILU, SE_OP_GELU, SE_OP_QUICK_GELU};
    for (int a = 0; a < 3; a++) {
        ADD_CASE(.kind = acts[a], .nsrc = 1, .src = {T1(1000)}, .dst = T1(1000), .amp = 6);
        ADD_CASE(.kind = acts[a], .nsrc = 1, .src = {T3(3, 7, 11)}, .dst = T3(3, 7, 11), .amp = 3);
        ADD_CASE(.kind = acts[a], .nsrc = 1, .src = {T4(2, 4, 64, 65)}, .dst = T4(2, 4, 64, 65), .amp = 5, .inplace = true);
    }
    ADD_CASE(.kind = SE_OP_GEGLU, .nsrc = 1, .src = {T3(2, 9, 80)}, .dst = T3(2, 9, 40), .amp = 3);
    ADD_CASE(.kind = SE_OP_GEGLU, .nsrc = 1, .src = {T3(1, 300, 256)}, .dst = T3(1, 300, 128), .amp = 3);
    /* softmax */
    ADD_CASE(.kind = SE_OP_SOFTMAX, .nsrc = 1, .src = {T2(3, 17)}, .dst = T2(3, 17), .f = {1.0f});
    ADD_CASE(.kind = SE_OP_SOFTMAX, .nsrc = 1, .src = {T3(2, 4, 65)}, .dst = T3(2, 4, 65), .f = {0.125f}, .amp = 20);
    ADD_CASE(.kind = SE_OP_SOFTMAX, .nsrc = 1, .src = {T2(1, 1000)}, .dst = T2(1, 1000), .f = {3.0f}, .amp = 5);
    ADD_CASE(.kind = SE_OP_SOFTMAX, .nsrc = 1, .src = {T2(1000, 7)}, .dst = T2(1000, 7), .f = {1.0f}, .inplace = true);
    /* attention: B, Nq, Nk, H, D, causal */
    static const int att[][6] = {
        {1, 5, 5, 1, 8, 0},    {2, 7, 7, 2, 16, 1},   {1, 33, 77, 4, 16, 0}, {2, 64, 64, 2, 64, 1},
        {1, 100, 100, 8, 8, 0}, {3, 17, 9, 5, 4, 0},  {1, 200, 150, 2, 64, 0}, {1, 130, 130, 3, 32, 1},
        {2, 257, 77, 2, 40, 0}, {1, 1, 1, 1, 1, 0},
    };
    for (size_t k = 0; k < sizeof att / sizeof att[0]; k++) {
        const int *p = att[k];
        int64_t C = (int64_t)p[3] * p[4];
        ADD_CASE(.kind = SE_OP_ATTENTION, .nsrc = 3, .src = {T3(p[0], p[1], C), T3(p[0], p[2], C), T3(p[0], p[2], C)},
                 .dst = T3(p[0], p[1], C), .i = {p[3], p[5]}, .f = {1.0f / sqrtf((float)p[4])}, .amp = 2);
    }
    /* upsample */
    ADD_CASE(.kind = SE_OP_UPSAMPLE_NEAREST2X, .nsrc = 1, .src = {T4(1, 3, 4, 5)}, .dst = T4(1, 3, 8, 10));
    ADD_CASE(.kind = SE_OP_UPSAMPLE_NEAREST2X, .nsrc = 1, .src = {T4(2, 7, 1, 1)}, .dst = T4(2, 7, 2, 2));
    ADD_CASE(.kind = SE_OP_UPSAMPLE_NEAREST2X, .nsrc = 1, .src = {T4(1, 16, 9, 8)}, .dst = T4(1, 16, 18, 16));
    /* concat */
    ADD_CASE(.kind = SE_OP_CONCAT, .nsrc = 2, .src = {T4(2, 3, 4, 5), T4(2, 6, 4, 5)}, .dst = T4(2, 9, 4, 5), .i = {1});
    ADD_CASE(.kind = SE_OP_CONCAT, .nsrc = 2, .src = {T2(3, 5), T2(3, 7)}, .dst = T2(3, 12), .i = {1});
    ADD_CASE(.kind = SE_OP_CONCAT, .nsrc = 2, .src = {T2(2, 3), T2(5, 3)}, .dst = T2(7, 3), .i = {0});
    ADD_CASE(.kind = SE_OP_CONCAT, .nsrc = 2, .src = {T3(2, 4, 7), T3(2, 4, 2)}, .dst = T3(2, 4, 9), .i = {2});
    /* add with broadcasting */
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T4(2, 3, 4, 5), T4(2, 3, 4, 5)}, .dst = T4(2, 3, 4, 5));
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T4(2, 8, 5, 5), T4(2, 8, 1, 1)}, .dst = T4(2, 8, 5, 5));
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T4(2, 8, 5, 5), T1(5)}, .dst = T4(2, 8, 5, 5));
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T3(3, 7, 16), T1(16)}, .dst = T3(3, 7, 16), .inplace = true);
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T3(2, 3, 4), T3(1, 3, 1)}, .dst = T3(2, 3, 4));
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T1(6), T1(1)}, .dst = T1(6));
    ADD_CASE(.kind = SE_OP_ADD, .nsrc = 2, .src = {T4(1, 320, 16, 16), T4(1, 320, 16, 16)}, .dst = T4(1, 320, 16, 16), .inplace = true);
    /* scale_add */
    ADD_CASE(.kind = SE_OP_SCALE_ADD, .nsrc = 2, .src = {T1(1000), T1(1000)}, .dst = T1(1000), .f = {0.3f, -1.7f});
    ADD_CASE(.kind = SE_OP_SCALE_ADD, .nsrc = 2, .src = {T3(2, 4, 33), T3(2, 4, 33)}, .src2_null = true, .dst = T3(2, 4, 33), .f = {2.5f});
    ADD_CASE(.kind = SE_OP_SCALE_ADD, .nsrc = 2, .src = {T4(1, 4, 64, 64), T4(1, 4, 64, 64)}, .dst = T4(1, 4, 64, 64), .f = {0.9f, 0.1f}, .inplace = true);
    /* copy: contiguous, transposed views, permutes, slices, dtype conversions */
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T3(3, 5, 7)}, .dst = T3(3, 5, 7), .i = {0, 1, 2, 3});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T2(4, 6)}, .dst = T2(6, 4), .i = {0, 1, 2, 3}, .view = VIEW_TRANSPOSE, .v = {0, 1});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T4(2, 3, 4, 5)}, .dst = T4(2, 4, 3, 5), .i = {0, 2, 1, 3});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T3(5, 6, 7)}, .dst = T3(6, 5, 7), .i = {1, 0, 2});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T4(2, 6, 5, 4)}, .dst = T4(2, 5, 4, 6), .i = {0, 2, 3, 1});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T3(4, 9, 5)}, .dst = T3(4, 3, 5), .i = {0, 1, 2}, .view = VIEW_SLICE, .v = {1, 2, 3});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T3(4, 9, 5)}, .dst = T3(9, 4, 3), .i = {1, 0, 2}, .view = VIEW_SLICE, .v = {2, 1, 3});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {{2, {17, 33, 1, 1}, SE_F16}}, .dst = T2(17, 33), .i = {0, 1});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T2(17, 33)}, .dst = {2, {17, 33, 1, 1}, SE_F16}, .i = {0, 1}, .amp = 100);
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {{2, {9, 40, 1, 1}, SE_BF16}}, .dst = T2(9, 40), .i = {0, 1});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {T2(9, 40)}, .dst = {2, {9, 40, 1, 1}, SE_BF16}, .i = {0, 1}, .amp = 1000);
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {{3, {3, 4, 5, 1}, SE_F16}}, .dst = {3, {3, 5, 4, 1}, SE_BF16}, .i = {0, 2, 1});
    ADD_CASE(.kind = SE_OP_COPY, .nsrc = 1, .src = {{2, {6, 8, 1, 1}, SE_BF16}}, .dst = T2(8, 6), .i = {0, 1}, .view = VIEW_TRANSPOSE, .v = {0, 1});
    /* gather */
    ADD_CASE(.kind = SE_OP_GATHER, .nsrc = 2, .src = {T2(50, 16), {1, {13, 1, 1, 1}, SE_I32}}, .dst = T2(13, 16));
    ADD_CASE(.kind = SE_OP_GATHER, .nsrc = 2, .src = {T2(1000, 33), {2, {2, 9, 1, 1}, SE_I32}}, .dst = T3(2, 9, 33));
    /* timestep embedding (UNet: flip, shift 0; other models: no flip, shift 1) */
    ADD_CASE(.kind = SE_OP_TIMESTEP_EMBEDDING, .nsrc = 1, .src = {T1(3)}, .dst = T2(3, 320), .i = {1}, .f = {0.0f, 10000.0f});
    ADD_CASE(.kind = SE_OP_TIMESTEP_EMBEDDING, .nsrc = 1, .src = {T1(2)}, .dst = T2(2, 256), .i = {0}, .f = {1.0f, 10000.0f});
#undef ADD_CASE
    return n;
}

/* ---------------------------------------------------------------- CUDA bf16/f16 paths */

/* The bf16/f16 variant of an F32 case: every float tensor in dt. Its reference twin is the F32
 * case with inputs rounded through dt (round_dt), so both runs see the same input values. */
static op_case lp_variant(const op_case *c, se_dtype dt) {
    op_case v = *c;
    for (int i = 0; i < v.nsrc; i++)
        if (v.src[i].dt == SE_F32) v.src[i].dt = dt;
    v.dst.dt = dt;
    return v;
}

/* Launches so far of the tensor-core kernel for the case's op (kernel_counts.h): the implicit-GEMM
 * conv or flash512; 0 in builds without CUDA. */
static uint64_t tc_launches(se_op_kind k) {
#ifdef STRIKE_HAVE_CUDA
    return k == SE_OP_CONV2D ? se_cuda_conv_igemm_launches() : se_cuda_flash512_launches();
#else
    (void)k;
    return 0;
#endif
}

/* Runs the low-precision variant of c on be and its rounded F32 twin on ref; tolerance by dtype
 * (one rounding of the output, bf16/f16 operands, attention's P in the compute dtype). expect:
 * 1 = the op must have launched its tensor-core kernel (tc_launches), 0 = must not, -1 = either. */
static void check_lp(se_backend *ref, se_backend *be, const op_case *c, se_dtype dt, const char *path, int expect) {
    op_case lp = lp_variant(c, dt), tw = *c;
    tw.round_dt = dt;
    char label[300], base[256];
    case_label(&lp, base, sizeof base);
    snprintf(label, sizeof label, "%s [%s]", base, path);
    if (!case_supported(be, &lp)) {
        printf("  skipped on %s (unsupported): %s\n", se_backend_name(be), label);
        return;
    }
    uint64_t before = tc_launches(c->kind);
    run_out a = run_case(be, &lp), b = run_case(ref, &tw);
    uint64_t launched = tc_launches(c->kind) - before;
    if (expect >= 0)
        CHECK_MSG((launched > 0) == (expect > 0), "%s: tensor-core kernel launched %llu times, expected %s",
                  label, (unsigned long long)launched, expect ? "at least once" : "none");
    compare_runs(label, se_backend_name(be), se_backend_name(ref), &a, &b, dt == SE_BF16 ? 1.5e-2 : 4e-3);
}

/* Sets (or with val NULL unsets) an environment variable; returns a copy of the old value. */
static char *env_swap(const char *name, const char *val) {
    const char *old = getenv(name);
    char *saved = old ? strdup(old) : NULL;
    if (val) setenv(name, val, 1);
    else unsetenv(name);
    return saved;
}

static void env_restore(const char *name, char *saved) {
    if (saved) setenv(name, saved, 1);
    else unsetenv(name);
    free(saved);
}

/* The CUDA backend's bf16/f16 kernels against the naive CPU reference (GPU machines only):
 *   - conv2d with both STRIKE_CUDA_CONV settings (read per call): shapes for the implicit-GEMM
 *     kernel (3x3 s1 p1, Cin % 8 == 0: partial tiles in Cout, pixels and K, 1-pixel images,
 *     batch > 1, no bias) and for its fallbacks (odd Cin, Cin % 8 != 0, stride 2, pad 0, 1x1);
 *   - attention on a gemm-path and a flash-path backend: head dim 512 (flash512) with Nq/Nk
 *     off its tiles (64 queries, 32 keys), causal, two heads, batch 2; head dim 64 (flash_wmma);
 *     other dims (flash_fma).
 * Each run also checks through the launch counters (kernel_counts.h) that the implicit GEMM ran
 * exactly for its shapes under igemm and never under gemm, and flash512 likewise. */
static void cuda_low_precision(se_backend *naive, se_backend *gemm_be, se_backend *flash_be) {
    int sm = 0;   /* compute capability x 10 */
#ifdef STRIKE_HAVE_CUDA
    se_cuda_info info;
    if (se_cuda_backend_info(gemm_be, &info) == SE_OK) sm = info.sm_major * 10 + info.sm_minor;
#endif
    static const int conv[][9] = {   /* B, Cin, H, W, Cout, k, stride, pad, bias */
        {1, 8, 5, 7, 5, 3, 1, 1, 1},     {2, 40, 9, 6, 130, 3, 1, 1, 1}, {3, 16, 1, 1, 4, 3, 1, 1, 1},
        {1, 64, 33, 31, 72, 3, 1, 1, 0}, {2, 32, 12, 11, 129, 3, 1, 1, 1}, {1, 128, 16, 16, 128, 3, 1, 1, 1},
        {1, 3, 5, 7, 4, 3, 1, 1, 1},     {1, 12, 6, 6, 8, 3, 1, 1, 1},   {2, 16, 8, 8, 8, 3, 2, 1, 1},
        {1, 16, 7, 7, 8, 3, 1, 0, 1},    {1, 24, 6, 5, 40, 1, 1, 0, 1},
    };
    static const se_dtype dts[2] = {SE_BF16, SE_F16};
    static const char *const sel[2] = {"igemm", "gemm"};
    for (size_t k = 0; k < sizeof conv / sizeof conv[0]; k++) {
        const int *p = conv[k];
        int64_t ho = (p[2] + 2 * p[7] - p[5]) / p[6] + 1, wo = (p[3] + 2 * p[7] - p[5]) / p[6] + 1;
        op_case c = {.kind = SE_OP_CONV2D, .nsrc = 3, .src = {T4(p[0], p[1], p[2], p[3]), T4(p[4], p[1], p[5], p[5]), T1(p[4])},
                     .src2_null = !p[8], .dst = T4(p[0], p[4], ho, wo), .i = {p[6], p[7]}};
        for (int s = 0; s < 2; s++) {
            char *saved = env_swap("STRIKE_CUDA_CONV", sel[s]);
            char path[32];
            snprintf(path, sizeof path, "conv=%s", sel[s]);
            const bool igemm = s == 0 && p[5] == 3 && p[6] == 1 && p[7] == 1 && p[1] % 8 == 0 && sm >= 80;
            for (int d = 0; d < 2; d++) check_lp(naive, gemm_be, &c, dts[d], path, igemm ? 1 : 0);
            env_restore("STRIKE_CUDA_CONV", saved);
        }
    }
    static const int att[][6] = {    /* B, Nq, Nk, H, D, causal */
        {1, 37, 45, 1, 512, 0}, {2, 50, 20, 1, 512, 0}, {1, 33, 33, 1, 512, 1}, {1, 5, 77, 2, 512, 0},
        {1, 1, 1, 1, 512, 0},   {1, 70, 77, 2, 64, 0},  {1, 130, 130, 1, 64, 1}, {2, 17, 9, 3, 40, 0},
    };
    for (size_t k = 0; k < sizeof att / sizeof att[0]; k++) {
        const int *p = att[k];
        int64_t C = (int64_t)p[3] * p[4];
        op_case c = {.kind = SE_OP_ATTENTION, .nsrc = 3, .src = {T3(p[0], p[1], C), T3(p[0], p[2], C), T3(p[0], p[2], C)},
                     .dst = T3(p[0], p[1], C), .i = {p[3], p[5]}, .f = {1.0f / sqrtf((float)p[4])}, .amp = 2};
        /* flash512 needs 122624 B of shared memory per block: sm_80 and sm_90 have it, sm_86/89
         * do not (flash_fma there); other devices are not asserted either way */
        const int f512 = p[4] != 512 ? 0 : (sm == 80 || sm == 90) ? 1 : -1;
        for (int d = 0; d < 2; d++) {
            check_lp(naive, gemm_be, &c, dts[d], "attention=gemm", 0);
            if (flash_be) check_lp(naive, flash_be, &c, dts[d], "attention=flash", f512);
        }
    }
}

/* ---------------------------------------------------------------- known answers */

/* Runs an op on host arrays through a CPU backend (data lives in host memory there). */
static void known_answers(se_backend *be) {
    const char *bn = se_backend_name(be);
    /* conv2d: 1x1 input plane 3x3 of 1..9, 3x3 kernel of ones, pad 1: each output is the sum of
     * its neighbourhood; plus bias 0.5. Centre = 45.5, corner (0,0) = 1+2+4+5 + 0.5 = 12.5. */
    {
        float x[9], w[9], b[1] = {0.5f}, y[9];
        for (int i = 0; i < 9; i++) x[i] = (float)(i + 1), w[i] = 1.0f;
        se_tensor X = se_tensor_4d(SE_F32, 1, 1, 3, 3, x), W = se_tensor_4d(SE_F32, 1, 1, 3, 3, w);
        se_tensor B = se_tensor_1d(SE_F32, 1, b), Y = se_tensor_4d(SE_F32, 1, 1, 3, 3, y);
        CHECK(se_conv2d(be, &X, &W, &B, 1, 1, &Y) == SE_OK);
        CHECK_MSG(fabsf(y[4] - 45.5f) < 1e-5f && fabsf(y[0] - 12.5f) < 1e-5f && fabsf(y[8] - 28.5f) < 1e-5f,
                  "%s conv2d known answer: %g %g %g", bn, y[0], y[4], y[8]);
        /* stride 2, pad 1, 3x3 input -> 2x2: (0,0) = 12.5, (1,1) = 5+6+8+9 + 0.5 = 28.5 */
        se_tensor Y2 = se_tensor_4d(SE_F32, 1, 1, 2, 2, y);
        CHECK(se_conv2d(be, &X, &W, &B, 2, 1, &Y2) == SE_OK);
        CHECK_MSG(fabsf(y[0] - 12.5f) < 1e-5f && fabsf(y[3] - 28.5f) < 1e-5f, "%s conv2d stride 2: %g %g", bn, y[0], y[3]);
    }
    /* linear: [1,2] x [[1,2],[3,4],[5,6]]^T + [1,1,1] = [6, 12, 18] */
    {
        float x[2] = {1, 2}, w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 1, 1}, y[3];
        se_tensor X = se_tensor_2d(SE_F32, 1, 2, x), W = se_tensor_2d(SE_F32, 3, 2, w);
        se_tensor B = se_tensor_1d(SE_F32, 3, b), Y = se_tensor_2d(SE_F32, 1, 3, y);
        CHECK(se_linear(be, &X, &W, &B, &Y) == SE_OK);
        CHECK_MSG(y[0] == 6.0f && y[1] == 12.0f && y[2] == 18.0f, "%s linear: %g %g %g", bn, y[0], y[1], y[2]);
    }
    /* gelu(1) = 0.8413447, gelu(-1) = -0.1586553; silu(1) = 0.7310586; quick_gelu(1) = 1/(1+e^-1.702) */
    {
        float x[2] = {1.0f, -1.0f}, y[2];
        se_tensor X = se_tensor_1d(SE_F32, 2, x), Y = se_tensor_1d(SE_F32, 2, y);
        CHECK(se_gelu(be, &X, &Y) == SE_OK);
        CHECK_MSG(fabsf(y[0] - 0.8413447f) < 1e-6f && fabsf(y[1] + 0.1586553f) < 1e-6f, "%s gelu: %.7f %.7f", bn, y[0], y[1]);
        CHECK(se_silu(be, &X, &Y) == SE_OK);
        CHECK_MSG(fabsf(y[0] - 0.7310586f) < 1e-6f && fabsf(y[1] + 0.2689414f) < 1e-6f, "%s silu: %.7f", bn, y[0]);
        CHECK(se_quick_gelu(be, &X, &Y) == SE_OK);
        CHECK_MSG(fabsf(y[0] - 0.8457957f) < 1e-6f, "%s quick_gelu: %.7f", bn, y[0]);
        float g[4] = {2.0f, 3.0f, 1.0f, -1.0f}, o[2];
        se_tensor G = se_tensor_2d(SE_F32, 1, 4, g), O = se_tensor_2d(SE_F32, 1, 2, o);
        CHECK(se_geglu(be, &G, &O) == SE_OK);
        CHECK_MSG(fabsf(o[0] - 2.0f * 0.8413447f) < 2e-6f && fabsf(o[1] + 3.0f * 0.1586553f) < 2e-6f,
                  "%s geglu: %g %g", bn, o[0], o[1]);
    }
    /* softmax([1,2,3]) = [0.09003057, 0.24472847, 0.66524096]; with scale 2 of [0, ln2/2]: [1/3, 2/3] */
    {
        float x[3] = {1, 2, 3}, y[3];
        se_tensor X = se_tensor_2d(SE_F32, 1, 3, x), Y = se_tensor_2d(SE_F32, 1, 3, y);
        CHECK(se_softmax(be, &X, 1.0f, &Y) == SE_OK);
        CHECK_MSG(fabsf(y[0] - 0.09003057f) < 1e-6f && fabsf(y[1] - 0.24472847f) < 1e-6f && fabsf(y[2] - 0.66524096f) < 1e-6f,
                  "%s softmax: %g %g %g", bn, y[0], y[1], y[2]);
        float x2[2] = {0.0f, 0.34657359f}, y2[2];
        se_tensor X2 = se_tensor_2d(SE_F32, 1, 2, x2), Y2 = se_tensor_2d(SE_F32, 1, 2, y2);
        CHECK(se_softmax(be, &X2, 2.0f, &Y2) == SE_OK);
        CHECK_MSG(fabsf(y2[0] - 1.0f / 3) < 1e-6f && fabsf(y2[1] - 2.0f / 3) < 1e-6f, "%s softmax scale: %g %g", bn, y2[0], y2[1]);
    }
    /* layer norm of [1,2,3,4]: mean 2.5, var 1.25 -> (x-2.5)/sqrt(1.25) */
    {
        float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 2}, b[4] = {0, 0, 0, 1}, y[4];
        se_tensor X = se_tensor_2d(SE_F32, 1, 4, x), G = se_tensor_1d(SE_F32, 4, g), B = se_tensor_1d(SE_F32, 4, b);
        se_tensor Y = se_tensor_2d(SE_F32, 1, 4, y);
        CHECK(se_layer_norm(be, &X, &G, &B, 0.0f, &Y) == SE_OK);
        float s = 1.0f / sqrtf(1.25f);
        CHECK_MSG(fabsf(y[0] + 1.5f * s) < 1e-6f && fabsf(y[3] - (2 * 1.5f * s + 1)) < 1e-5f, "%s layer_norm: %g %g", bn, y[0], y[3]);
        /* group norm: 2 channels, 1 group, spatial 2: [1,2 | 3,4] normalises the same way; fused silu */
        se_tensor X4 = se_tensor_3d(SE_F32, 1, 2, 2, x), G2 = se_tensor_1d(SE_F32, 2, g), B2 = se_tensor_1d(SE_F32, 2, b);
        se_tensor Y4 = se_tensor_3d(SE_F32, 1, 2, 2, y);
        CHECK(se_group_norm(be, &X4, &G2, &B2, 1, 0.0f, 1, &Y4) == SE_OK);
        float v = 1.5f * s;
        CHECK_MSG(fabsf(y[3] - v / (1 + expf(-v))) < 1e-6f && fabsf(y[0] + v / (1 + expf(v))) < 1e-6f, "%s group_norm: %g %g", bn, y[0], y[3]);
    }
    /* attention with one key: output = v regardless of scores; with equal scores: mean of v;
     * causal: query 0 sees only key 0. */
    {
        float q[4] = {1, 0, 0, 1}, k[4] = {5, 5, 5, 5}, v[4] = {2, 4, 6, 8}, y[4];
        se_tensor Q = se_tensor_3d(SE_F32, 1, 2, 2, q), K = se_tensor_3d(SE_F32, 1, 2, 2, k);
        se_tensor V = se_tensor_3d(SE_F32, 1, 2, 2, v), Y = se_tensor_3d(SE_F32, 1, 2, 2, y);
        CHECK(se_attention(be, &Q, &K, &V, 1, 0, 1.0f, &Y) == SE_OK);  /* equal scores: mean rows */
        CHECK_MSG(fabsf(y[0] - 4) < 1e-5f && fabsf(y[1] - 6) < 1e-5f && fabsf(y[2] - 4) < 1e-5f, "%s attention mean: %g %g %g", bn, y[0], y[1], y[2]);
        CHECK(se_attention(be, &Q, &K, &V, 1, 1, 1.0f, &Y) == SE_OK);  /* causal: row 0 = v0 */
        CHECK_MSG(fabsf(y[0] - 2) < 1e-5f && fabsf(y[1] - 4) < 1e-5f && fabsf(y[2] - 4) < 1e-5f, "%s attention causal: %g %g %g", bn, y[0], y[1], y[2]);
        /* scores 0 and ln3 for key 1 (heads=2, D=1): q=[1,1], k0=[0,0], k1=[ln3, ln3] -> p = [1/4, 3/4] */
        float q2[2] = {1, 1}, k2[4] = {0, 0, 1.0986123f, 1.0986123f}, v2[4] = {0, 0, 4, 8}, y2[2];
        se_tensor Q2 = se_tensor_3d(SE_F32, 1, 1, 2, q2), K2 = se_tensor_3d(SE_F32, 1, 2, 2, k2);
        se_tensor V2 = se_tensor_3d(SE_F32, 1, 2, 2, v2), Y2 = se_tensor_3d(SE_F32, 1, 1, 2, y2);
        CHECK(se_attention(be, &Q2, &K2, &V2, 2, 0, 1.0f, &Y2) == SE_OK);
        CHECK_MSG(fabsf(y2[0] - 3) < 1e-5f && fabsf(y2[1] - 6) < 1e-5f, "%s attention weights: %g %g", bn, y2[0], y2[1]);
    }
    /* timestep embedding against the formula: dim 4, half 2, shift 0: freqs 1 and 1e-2 (max 1e4) */
    {
        float t[1] = {3.0f}, y[4];
        se_tensor T = se_tensor_1d(SE_F32, 1, t), Y = se_tensor_2d(SE_F32, 1, 4, y);
        CHECK(se_timestep_embedding(be, &T, 0, 0.0f, 10000.0f, &Y) == SE_OK);
        CHECK_MSG(fabsf(y[0] - sinf(3.0f)) < 1e-6f && fabsf(y[1] - sinf(0.03f)) < 1e-6f &&
                  fabsf(y[2] - cosf(3.0f)) < 1e-6f && fabsf(y[3] - cosf(0.03f)) < 1e-6f,
                  "%s timestep: %g %g %g %g", bn, y[0], y[1], y[2], y[3]);
        CHECK(se_timestep_embedding(be, &T, 1, 1.0f, 100.0f, &Y) == SE_OK);  /* half-shift = 1: freqs 1, 1/100 */
        CHECK_MSG(fabsf(y[0] - cosf(3.0f)) < 1e-6f && fabsf(y[1] - cosf(0.03f)) < 1e-6f && fabsf(y[2] - sinf(3.0f)) < 1e-6f,
                  "%s timestep flip: %g %g %g", bn, y[0], y[1], y[2]);
    }
    /* upsample, concat, add broadcast, scale_add, gather, copy (permute + f16) */
    {
        float x[4] = {1, 2, 3, 4}, y[16];
        se_tensor X = se_tensor_4d(SE_F32, 1, 1, 2, 2, x), Y = se_tensor_4d(SE_F32, 1, 1, 4, 4, y);
        CHECK(se_upsample_nearest2x(be, &X, &Y) == SE_OK);
        CHECK_MSG(y[0] == 1 && y[1] == 1 && y[4] == 1 && y[2] == 2 && y[10] == 4 && y[15] == 4, "%s upsample", bn);
        float a[4] = {1, 2, 3, 4}, b[2] = {10, 20}, c[6];
        se_tensor A = se_tensor_2d(SE_F32, 2, 2, a), Bt = se_tensor_2d(SE_F32, 2, 1, b), C = se_tensor_2d(SE_F32, 2, 3, c);
        CHECK(se_concat(be, &A, &Bt, 1, &C) == SE_OK);
        CHECK_MSG(c[0] == 1 && c[1] == 2 && c[2] == 10 && c[3] == 3 && c[5] == 20, "%s concat", bn);
        float s[4];
        se_tensor S = se_tensor_2d(SE_F32, 2, 2, s);
        CHECK(se_add(be, &A, &Bt, &S) == SE_OK);  /* [2,2] + [2,1] */
        CHECK_MSG(s[0] == 11 && s[1] == 12 && s[2] == 23 && s[3] == 24, "%s add broadcast: %g %g %g %g", bn, s[0], s[1], s[2], s[3]);
        se_tensor B1 = se_tensor_1d(SE_F32, 2, b);
        CHECK(se_add(be, &A, &B1, &S) == SE_OK);  /* [2,2] + [2] */
        CHECK_MSG(s[0] == 11 && s[1] == 22 && s[2] == 13 && s[3] == 24, "%s add row broadcast", bn);
        CHECK(se_scale_add(be, &A, 2.0f, &S, -1.0f, &S) == SE_OK);  /* aliasing b and dst */
        CHECK_MSG(s[0] == -9 && s[3] == -16, "%s scale_add: %g %g", bn, s[0], s[3]);
        float tab[6] = {0, 1, 10, 11, 20, 21}, g[6];
        int32_t ids[3] = {2, 0, 2};
        se_tensor Tb = se_tensor_2d(SE_F32, 3, 2, tab), I = se_tensor_1d(SE_I32, 3, ids), G = se_tensor_2d(SE_F32, 3, 2, g);
        CHECK(se_gather(be, &Tb, &I, &G) == SE_OK);
        CHECK_MSG(g[0] == 20 && g[1] == 21 && g[2] == 0 && g[5] == 21, "%s gather", bn);
        uint16_t h[6];
        float back[6];
        se_tensor Tt = se_tensor_transpose(&Tb, 0, 1);  /* [2,3] view */
        se_tensor H = se_tensor_2d(SE_F16, 2, 3, h), Bk = se_tensor_2d(SE_F32, 2, 3, back);
        CHECK(se_copy(be, &Tt, NULL, &H) == SE_OK);
        CHECK(se_copy(be, &H, NULL, &Bk) == SE_OK);
        CHECK_MSG(h[1] == 0x4900 /* 10.0 */ && back[0] == 0 && back[1] == 10 && back[3] == 1 && back[5] == 21,
                  "%s copy transpose+f16: %04x %g %g", bn, h[1], back[1], back[5]);
    }
}

/* ---------------------------------------------------------------- error paths */

static void error_paths(se_backend *be) {
    float buf[64] = {0};
    se_tensor x = se_tensor_2d(SE_F32, 4, 8, buf), w = se_tensor_2d(SE_F32, 3, 7, buf), y = se_tensor_2d(SE_F32, 4, 3, buf);
    se_tensor_set_name(&w, "blocks.0.proj.weight");
    se_status st = se_linear(be, &x, &w, NULL, &y);
    CHECK(st == SE_ERR_SHAPE);
    CHECK_MSG(strstr(se_last_error(), "blocks.0.proj.weight") && strstr(se_last_error(), "[3,7]"),
              "message: %s", se_last_error());
    se_tensor a = se_tensor_3d(SE_F32, 2, 3, 4, buf), b = se_tensor_2d(SE_F32, 2, 4, buf), o = se_tensor_3d(SE_F32, 2, 3, 4, buf);
    se_tensor_set_name(&b, "temb");
    CHECK(se_add(be, &a, &b, &o) == SE_ERR_SHAPE);  /* [2,4] does not broadcast to [2,3,4] */
    CHECK_MSG(strstr(se_last_error(), "temb") != NULL, "message: %s", se_last_error());
    se_tensor cx = se_tensor_4d(SE_F32, 1, 4, 4, 2, buf), cw = se_tensor_4d(SE_F32, 2, 3, 1, 1, buf);
    se_tensor cy = se_tensor_4d(SE_F32, 1, 2, 4, 2, buf);
    se_tensor_set_name(&cw, "conv_in.weight");
    CHECK(se_conv2d(be, &cx, &cw, NULL, 1, 0, &cy) == SE_ERR_SHAPE);  /* Cin 3 != 4 */
    CHECK_MSG(strstr(se_last_error(), "conv_in.weight") != NULL, "message: %s", se_last_error());
    se_tensor ay = se_tensor_3d(SE_F32, 2, 3, 5, buf);
    se_tensor_set_name(&ay, "attn_out");
    CHECK(se_attention(be, &a, &a, &a, 3, 0, 1.0f, &ay) == SE_ERR_SHAPE);  /* 4 % 3 != 0 first */
    CHECK(se_attention(be, &a, &a, &a, 2, 0, 1.0f, &ay) == SE_ERR_SHAPE);
    CHECK_MSG(strstr(se_last_error(), "attn_out") != NULL, "message: %s", se_last_error());
    /* gather out of range: an error, nothing read */
    float tab[6] = {0};
    int32_t ids[2] = {1, 3};
    float g[4];
    se_tensor T = se_tensor_2d(SE_F32, 3, 2, tab), I = se_tensor_1d(SE_I32, 2, ids), G = se_tensor_2d(SE_F32, 2, 2, g);
    se_tensor_set_name(&I, "input_ids");
    CHECK(se_gather(be, &T, &I, &G) == SE_ERR_INVALID_ARG);
    CHECK_MSG(strstr(se_last_error(), "input_ids") != NULL, "message: %s", se_last_error());
    ids[1] = -1;
    CHECK(se_gather(be, &T, &I, &G) == SE_ERR_INVALID_ARG);
    /* dtype errors: F16 compute is not supported on the CPU */
    se_tensor xh = se_tensor_1d(SE_F16, 4, buf), yh = se_tensor_1d(SE_F16, 4, buf + 8);
    CHECK(se_silu(be, &xh, &yh) == SE_ERR_UNSUPPORTED);
    /* non-contiguous input to an op that needs contiguity */
    se_tensor xt = se_tensor_transpose(&x, 0, 1), yt = se_tensor_2d(SE_F32, 8, 4, buf);
    CHECK(se_silu(be, &xt, &yt) == SE_ERR_INVALID_ARG);
    /* a bad perm */
    int perm[2] = {0, 0};
    se_tensor y2 = se_tensor_2d(SE_F32, 4, 8, buf + 32);
    CHECK(se_copy(be, &x, perm, &y2) == SE_ERR_INVALID_ARG);
    /* tensor transfer with the wrong size */
    CHECK(se_tensor_set_data(be, &x, buf, 12) == SE_ERR_SHAPE);
}

/* ---------------------------------------------------------------- GEMM kernels */

/* cpu_sgemm (OpenBLAS when built with it) and the built-in blocked GEMM, every transpose
 * combination, sizes across the block edges, leading dimensions wider than the matrices, and
 * alpha/beta, against double loops. */
static void gemm_kernels(void) {
    static const int64_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {64, 64, 64}, {65, 257, 300}, {130, 33, 513}, {7, 300, 1}};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int impl = 0; impl < 2; impl++) {
                    int64_t M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
                    int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
                    int64_t arows = ta ? K : M, brows = tb ? N : K;
                    float *A = malloc((size_t)(arows * lda) * sizeof *A), *B = malloc((size_t)(brows * ldb) * sizeof *B);
                    float *C = malloc((size_t)(M * ldc) * sizeof *C);
                    double *R = malloc((size_t)(M * N) * sizeof *R);
                    rng_seed((uint64_t)(si * 8 + ta * 4 + tb * 2 + impl));
                    for (int64_t i = 0; i < arows * lda; i++) A[i] = rng_uniform();
                    for (int64_t i = 0; i < brows * ldb; i++) B[i] = rng_uniform();
                    for (int64_t i = 0; i < M * ldc; i++) C[i] = rng_uniform();
                    float alpha = 0.75f, beta = si % 2 ? 0.0f : -0.5f;
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double acc = 0;
                            for (int64_t k = 0; k < K; k++)
                                acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                            R[i * N + j] = alpha * acc + (beta != 0.0f ? beta * (double)C[i * ldc + j] : 0.0);
                        }
                    float pad = C[ldc - 1];  /* a column past N: must stay untouched */
                    if (impl)
                        cpu_sgemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    else
                        cpu_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    double num = 0, den = 0;
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double d = C[i * ldc + j] - R[i * N + j];
                            num += d * d;
                            den += R[i * N + j] * R[i * N + j];
                        }
                    double err = sqrt(num / (den > 0 ? den : 1));
                    CHECK_MSG(err < 1e-5, "%s gemm M=%lld N=%lld K=%lld ta=%d tb=%d: error %.3g",
                              impl ? "builtin" : cpu_gemm_impl(), (long long)M, (long long)N, (long long)K, ta, tb, err);
                    CHECK(C[ldc - 1] == pad);
                    free(A), free(B), free(C), free(R);
                }
}

int main(void) {
    se_backend *naive = NULL, *fast = NULL, *cuda = NULL;
    se_cpu_params p;
    se_cpu_params_init(&p);
    p.naive = true;
    CHECK(se_backend_cpu_new(&p, &naive) == SE_OK);
    p.naive = false;
    p.threads = 3;  /* more threads than this CI box may have cores: exercises the pool */
    CHECK(se_backend_cpu_new(&p, &fast) == SE_OK);
    if (!naive || !fast) return test_report("engine_backend_ops");

    printf("known answers on %s and %s\n", se_backend_name(naive), se_backend_name(fast));
    known_answers(naive);
    known_answers(fast);
    error_paths(naive);
    error_paths(fast);
    printf("gemm kernels: %s and builtin\n", cpu_gemm_impl());
    gemm_kernels();

    static op_case cases[256];
    int n = build_cases(cases, 256);
    printf("%d cases: %s (3 threads) vs %s\n", n, se_backend_name(fast), se_backend_name(naive));
    for (int k = 0; k < n; k++) check_case(naive, fast, &cases[k], 1.0);

    /* the fast path without a pool, and with OpenBLAS threading the big GEMMs */
    se_backend *one = NULL, *blas = NULL;
    p.threads = 1;
    CHECK(se_backend_cpu_new(&p, &one) == SE_OK);
    p.threads = 3;
    p.gemm_threading = SE_CPU_GEMM_BLAS;
    CHECK(se_backend_cpu_new(&p, &blas) == SE_OK);
    if (one && blas) {
        printf("%d cases: %s (1 thread) vs %s\n", n, se_backend_name(one), se_backend_name(naive));
        for (int k = 0; k < n; k++) check_case(naive, one, &cases[k], 1.0);
        printf("%d cases: %s (3 threads, BLAS-threaded GEMM) vs %s\n", n, se_backend_name(blas), se_backend_name(naive));
        for (int k = 0; k < n; k++) check_case(naive, blas, &cases[k], 1.0);
    }
    se_backend_destroy(&one);
    se_backend_destroy(&blas);

    if (se_cuda_device_count() > 0) {
        se_cuda_params cp;
        se_cuda_params_init(&cp);
        cp.compute_dtype = SE_F32;
        se_status st = se_backend_cuda_new(&cp, &cuda);
        CHECK_MSG(st == SE_OK, "cuda backend: %s (%s)", se_strerror(st), se_last_error());
        if (cuda) {
            printf("%d cases: %s vs %s\n", n, se_backend_name(cuda), se_backend_name(naive));
            for (int k = 0; k < n; k++) check_case(naive, cuda, &cases[k], 10.0);
            /* a second backend on the fused attention path (STRIKE_CUDA_ATTENTION is read at creation) */
            se_backend *flash = NULL;
            char *saved = env_swap("STRIKE_CUDA_ATTENTION", "flash");
            st = se_backend_cuda_new(&cp, &flash);
            env_restore("STRIKE_CUDA_ATTENTION", saved);
            CHECK_MSG(st == SE_OK, "cuda backend (flash attention): %s (%s)", se_strerror(st), se_last_error());
            if (flash) {
                printf("attention cases: %s (STRIKE_CUDA_ATTENTION=flash) vs %s\n", se_backend_name(flash), se_backend_name(naive));
                for (int k = 0; k < n; k++)
                    if (cases[k].kind == SE_OP_ATTENTION) check_case(naive, flash, &cases[k], 10.0);
            }
            printf("bf16/f16 conv and attention: %s vs %s\n", se_backend_name(cuda), se_backend_name(naive));
            cuda_low_precision(naive, cuda, flash);
            se_backend_destroy(&flash);
            se_backend_destroy(&cuda);
        }
    } else {
        printf("SKIPPED cuda: no CUDA device\n");
    }
    se_backend_destroy(&fast);
    se_backend_destroy(&naive);
    return test_report("engine_backend_ops");
}
