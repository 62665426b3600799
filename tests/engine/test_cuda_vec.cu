/*
 * test_cuda_vec.cu - the 8-wide memory-bound path of the CUDA backend (engine/src/cuda/vec8.cuh)
 * run on the HOST, without a GPU: the per-vector bodies the kernels call (se_add8,
 * se_scale_add8, se_act8, se_geglu8, se_gn_sum8, se_gn_apply8, the softmax passes, se_ld8/se_st8) over every vector index, against a scalar
 * reference that loads and rounds through the engine's own host converters, for every
 * combination of F32/F16/BF16, in place too; plus the eligibility test (alignment, count % 8).
 * Built only when nvcc is present (ctest engine_cuda_vec).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "core/tensor.h"
}
#include "cuda/vec8.cuh"
#include "test_util.h"

static const se_dtype kDts[3] = {SE_F32, SE_F16, SE_BF16};
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static float urand(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * (1.0 / 8388608.0)) * 8.0f - 4.0f;
}

/* A 16-byte aligned host array of n elements of dt holding vals (converted). */
static void *typed(se_dtype dt, const float *vals, size_t n) {
    size_t bytes = (n * se_dtype_size(dt) + 15) / 16 * 16 + 16;
    void *p = aligned_alloc(16, bytes);
    memset(p, 0, bytes);
    se_convert_host(dt, p, SE_F32, vals, n);
    return p;
}

/* Element i of a typed array as float (the engine's host converter). */
static float at(const void *p, se_dtype dt, size_t i) {
    float f;
    se_convert_host(SE_F32, &f, dt, (const char *)p + i * se_dtype_size(dt), 1);
    return f;
}

/* Does typed array got (dtype dt) hold exactly want[] rounded to dt? NaN equals NaN. */
static int same(const void *got, se_dtype dt, const float *want, size_t n, const char *what) {
    void *ref = typed(dt, want, n);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        float g = at(got, dt, i), r = at(ref, dt, i);
        if (!(g == r || (isnan(g) && isnan(r)))) {
            fprintf(stderr, "%s: element %zu: got %.9g, want %.9g\n", what, i, g, r);
            ok = 0;
        }
    }
    free(ref);
    return ok;
}

static float act_ref(float v, int kind) {
    if (kind == 0) return v / (1.0f + expf(-v));
    if (kind == 1) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    return v / (1.0f + expf(-1.702f * v));
}

int main(void) {
    enum { N = 96 };   /* 12 vectors */
    float a[N], b[N], want[N];
    for (int i = 0; i < N; i++) a[i] = urand(), b[i] = urand();
    /* special values through every path */
    a[3] = 0.0f, a[4] = -0.0f, a[5] = INFINITY, a[6] = -INFINITY, a[7] = NAN;
    a[8] = 1e-6f, a[9] = 65504.0f, a[10] = 1.00390625f /* a bf16 tie */, a[11] = 3.0e38f;
    char what[96];
    for (int ia = 0; ia < 3; ia++)
        for (int ib = 0; ib < 3; ib++)
            for (int iy = 0; iy < 3; iy++) {
                se_dtype da = kDts[ia], db = kDts[ib], dy = kDts[iy];
                void *pa = typed(da, a, N), *pb = typed(db, b, N), *py = typed(dy, a, N);
                /* ADD */
                for (int64_t v = 0; v < N / 8; v++) se_add8(pa, da, pb, db, py, dy, v);
                for (int i = 0; i < N; i++) want[i] = at(pa, da, i) + at(pb, db, i);
                snprintf(what, sizeof what, "add %s+%s->%s", se_dtype_name(da), se_dtype_name(db), se_dtype_name(dy));
                CHECK(same(py, dy, want, N, what));
                /* SCALE_ADD with and without b */
                for (int64_t v = 0; v < N / 8; v++) se_scale_add8(pa, da, 0.75f, pb, db, -1.5f, py, dy, v);
                for (int i = 0; i < N; i++) {
                    float t = 0.75f * at(pa, da, i);
                    t += -1.5f * at(pb, db, i);
                    want[i] = t;
                }
                snprintf(what, sizeof what, "scale_add %s,%s->%s", se_dtype_name(da), se_dtype_name(db), se_dtype_name(dy));
                CHECK(same(py, dy, want, N, what));
                for (int64_t v = 0; v < N / 8; v++) se_scale_add8(pa, da, 2.0f, NULL, SE_F32, 0.0f, py, dy, v);
                for (int i = 0; i < N; i++) want[i] = 2.0f * at(pa, da, i);
                CHECK(same(py, dy, want, N, "scale_add without b"));
                /* activations (b's dtype unused) */
                if (ib == 0)
                    for (int kind = 0; kind < 3; kind++) {
                        for (int64_t v = 0; v < N / 8; v++) se_act8(pa, da, py, dy, v, kind);
                        for (int i = 0; i < N; i++) want[i] = act_ref(at(pa, da, i), kind);
                        snprintf(what, sizeof what, "act %d %s->%s", kind, se_dtype_name(da), se_dtype_name(dy));
                        CHECK(same(py, dy, want, N, what));
                    }
                /* GEGLU: 3 rows of 2h = 32 -> h = 16 */
                if (ib == 0) {
                    const int64_t h = 16, rows = 3;
                    for (int64_t r = 0; r < rows; r++)
                        for (int64_t j = 0; j < h / 8; j++) se_geglu8(pa, da, py, dy, h, r, j);
                    for (int64_t r = 0; r < rows; r++)
                        for (int64_t j = 0; j < h; j++) {
                            float x0 = at(pa, da, (size_t)(r * 2 * h + j)), g = at(pa, da, (size_t)(r * 2 * h + h + j));
                            want[r * h + j] = x0 * (0.5f * g * (1.0f + erff(g * 0.70710678118654752f)));
                        }
                    snprintf(what, sizeof what, "geglu %s->%s", se_dtype_name(da), se_dtype_name(dy));
                    CHECK(same(py, dy, want, (size_t)(rows * h), what));
                }
                free(pa), free(pb), free(py);
            }
    /* Group norm: the statistics body (same order as a sequential scalar loop) and the apply
     * body (gn_apply's formula, with and without SiLU), every dtype pair. */
    for (int ia = 0; ia < 3; ia++)
        for (int iy = 0; iy < 3; iy++) {
            se_dtype dx = kDts[ia], dy = kDts[iy];
            float fin[N];
            for (int i = 0; i < N; i++) fin[i] = urand();   /* finite values only */
            void *px = typed(dx, fin, N), *py = typed(dy, fin, N);
            const float K = at(px, dx, 0);
            float s = 0, s2 = 0, rs = 0, rs2 = 0;
            for (int64_t v = 0; v < N / 8; v++) se_gn_sum8(px, dx, v, K, &s, &s2);
            for (int i = 0; i < N; i++) {
                float d = at(px, dx, i) - K;
                rs += d;
                rs2 += d * d;
            }
            CHECK_MSG(s == rs && s2 == rs2, "gn sums %s: %g %g vs %g %g", se_dtype_name(dx), s, s2, rs, rs2);
            for (int silu = 0; silu < 2; silu++) {
                const float mean = 0.25f, sc = 1.75f, be = -0.5f;
                for (int64_t v = 0; v < N / 8; v++) se_gn_apply8(px, dx, py, dy, v, mean, sc, be, silu);
                for (int i = 0; i < N; i++) {
                    float t = fmaf(at(px, dx, i) - mean, sc, be);
                    want[i] = silu ? t / (1.0f + expf(-t)) : t;
                }
                snprintf(what, sizeof what, "gn apply%s %s->%s", silu ? "+silu" : "", se_dtype_name(dx), se_dtype_name(dy));
                CHECK(same(py, dy, want, N, what));
            }
            free(px), free(py);
        }
    /* Row softmax bodies: two rows of 48 with row strides 56 (x) and 64 (y), against the scalar
     * kernel's passes in the same per-thread order (one thread = sequential vectors). */
    for (int ia = 0; ia < 3; ia++)
        for (int iy = 0; iy < 3; iy++) {
            se_dtype dx = kDts[ia], dy = kDts[iy];
            const int64_t n = 48, ldx = 56, ldy = 64, rows = 2;
            float xin[2 * 56], yz[2 * 64] = {0};
            for (int i = 0; i < 2 * 56; i++) xin[i] = urand() * 3.0f;
            void *px = typed(dx, xin, (size_t)(rows * ldx)), *py = typed(dy, yz, (size_t)(rows * ldy));
            const float scale = 0.37f;
            float wantr[2 * 64] = {0};
            for (int64_t r = 0; r < rows; r++) {
                float m = -INFINITY, s = 0.0f, rm = -INFINITY, rsum = 0.0f;
                for (int64_t v = 0; v < n / 8; v++) se_softmax_max8(px, dx, r * (ldx / 8) + v, scale, &m);
                for (int64_t j = 0; j < n; j++) rm = fmaxf(rm, scale * at(px, dx, (size_t)(r * ldx + j)));
                CHECK(m == rm);
                for (int64_t v = 0; v < n / 8; v++) se_softmax_sum8(px, dx, r * (ldx / 8) + v, scale, m, &s);
                for (int64_t j = 0; j < n; j++) rsum += expf(scale * at(px, dx, (size_t)(r * ldx + j)) - rm);
                CHECK(s == rsum);
                const float inv = 1.0f / s;
                for (int64_t v = 0; v < n / 8; v++)
                    se_softmax_write8(px, dx, r * (ldx / 8) + v, py, dy, r * (ldy / 8) + v, scale, m, inv);
                for (int64_t j = 0; j < n; j++)
                    wantr[r * ldy + j] = expf(scale * at(px, dx, (size_t)(r * ldx + j)) - rm) * inv;
            }
            snprintf(what, sizeof what, "softmax %s->%s", se_dtype_name(dx), se_dtype_name(dy));
            CHECK(same(py, dy, wantr, (size_t)(rows * ldy), what));   /* row tails stay 0 */
            free(px), free(py);
        }
    /* In place (dst == a, same dtype). */
    for (int ia = 0; ia < 3; ia++) {
        se_dtype dt = kDts[ia];
        void *pa = typed(dt, a, N), *pb = typed(dt, b, N);
        for (int i = 0; i < N; i++) want[i] = at(pa, dt, i) + at(pb, dt, i);
        for (int64_t v = 0; v < N / 8; v++) se_add8(pa, dt, pb, dt, pa, dt, v);
        CHECK(same(pa, dt, want, N, "add in place"));
        for (int i = 0; i < N; i++) want[i] = act_ref(at(pa, dt, i), 0);
        for (int64_t v = 0; v < N / 8; v++) se_act8(pa, dt, pa, dt, v, 0);
        CHECK(same(pa, dt, want, N, "silu in place"));
        free(pa), free(pb);
    }
    /* Eligibility. */
    void *al = aligned_alloc(16, 64);
    CHECK(se_vec8_ok(16, al, NULL, al));
    CHECK(!se_vec8_ok(12, al, NULL, al));
    CHECK(!se_vec8_ok(0, al, NULL, al));
    CHECK(!se_vec8_ok(16, (char *)al + 8, NULL, al));
    CHECK(!se_vec8_ok(16, al, (char *)al + 2, al));
    CHECK(!se_vec8_ok(16, al, NULL, (char *)al + 4));
    free(al);
    return test_report("engine_cuda_vec");
}
