/*
 * vec8.cuh - the vectorised path of the memory-bound kernels: 8 elements per thread and step,
 * moved as 16-byte loads/stores (one uint4 of 8 bf16/f16, two float4 of 8 f32) instead of 8
 * scalar 2- or 4-byte accesses, with the same run-time dtypes (F32/F16/BF16 per tensor) and the
 * same fp32 formulas and single rounding as the scalar kernels (equal results, up to where the
 * compiler contracts a multiply-add into an FMA differently in the two kernels).
 *
 * Used by elementwise.cu (ADD of same shapes, SCALE_ADD), act.cu (SILU, GELU, QUICK_GELU,
 * GEGLU), norm.cu (group norm statistics and apply) and softmax.cu (non-causal rows) when every
 * pointer is 16-byte aligned and the element count (GEGLU: the row width; group norm: the
 * spatial size; softmax: the row length and both row strides) is a multiple of 8;
 * otherwise they take the scalar kernels. The per-vector bodies are
 * __host__ __device__ so tests/engine/test_cuda_vec.cu runs them on the host against a scalar
 * reference (no GPU needed); the kernels only add the grid-stride loop.
 *
 * In-place use (dst == a source of the same dtype) is safe: a thread reads its 8 elements
 * before writing them and no other thread touches them.
 */
#ifndef STRIKE_ENGINE_CUDA_VEC8_CUH
#define STRIKE_ENGINE_CUDA_VEC8_CUH

#include <stdint.h>
#include <string.h>

#include "cuda/cuda_internal.h"

#define SE_HD __host__ __device__ __forceinline__

/* One 16-bit value to float (bf16: the high half of a float; f16: IEEE half). */
SE_HD float se_h16_to_f(uint32_t bits, int dt) {
    if (dt == SE_BF16) {
        uint32_t u = bits << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    __half_raw r;
    r.x = (unsigned short)bits;
    return __half2float(__half(r));
}

/* float to a 16-bit value, round to nearest even (the scalar kernels' __float2*_rn). */
SE_HD uint32_t se_f_to_h16(float v, int dt) {
    if (dt == SE_BF16) {
        __nv_bfloat16_raw r = __nv_bfloat16_raw(__float2bfloat16_rn(v));
        return r.x;
    }
    __half_raw r = __half_raw(__float2half_rn(v));
    return r.x;
}

/* f[0..8) = elements 8v .. 8v+7 of p (dtype dt) as floats. p must be 16-byte aligned. */
SE_HD void se_ld8(const void *p, int dt, int64_t v, float f[8]) {
    if (dt == SE_F32) {
        const float4 *q = (const float4 *)p + 2 * v;
        const float4 a = q[0], b = q[1];
        f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w;
        f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
        return;
    }
    const uint4 u = ((const uint4 *)p)[v];
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
    for (int k = 0; k < 4; k++) {      /* little-endian: element 2k is the low half of word k */
        f[2 * k] = se_h16_to_f(w[k] & 0xffffu, dt);
        f[2 * k + 1] = se_h16_to_f(w[k] >> 16, dt);
    }
}

/* Elements 8v .. 8v+7 of p (dtype dt) = f[0..8), each rounded once. p 16-byte aligned. */
SE_HD void se_st8(void *p, int dt, int64_t v, const float f[8]) {
    if (dt == SE_F32) {
        float4 *q = (float4 *)p + 2 * v;
        q[0] = make_float4(f[0], f[1], f[2], f[3]);
        q[1] = make_float4(f[4], f[5], f[6], f[7]);
        return;
    }
    uint4 u;
    u.x = se_f_to_h16(f[0], dt) | (se_f_to_h16(f[1], dt) << 16);
    u.y = se_f_to_h16(f[2], dt) | (se_f_to_h16(f[3], dt) << 16);
    u.z = se_f_to_h16(f[4], dt) | (se_f_to_h16(f[5], dt) << 16);
    u.w = se_f_to_h16(f[6], dt) | (se_f_to_h16(f[7], dt) << 16);
    ((uint4 *)p)[v] = u;
}

/* Host: may the 8-wide path run over n elements of these pointers (NULL ones ignored)? */
static inline bool se_vec8_ok(int64_t n, const void *a, const void *b, const void *c) {
    return n > 0 && n % 8 == 0 && ((uintptr_t)a % 16) == 0 && ((uintptr_t)b % 16) == 0 &&
           ((uintptr_t)c % 16) == 0;
}

/* ---- per-vector bodies (v: the vector index, elements 8v .. 8v+7) ---- */

/* y = a + b (same shapes) */
SE_HD void se_add8(const void *a, int adt, const void *b, int bdt, void *y, int ydt, int64_t v) {
    float fa[8], fb[8];
    se_ld8(a, adt, v, fa);
    se_ld8(b, bdt, v, fb);
    for (int k = 0; k < 8; k++) fa[k] += fb[k];
    se_st8(y, ydt, v, fa);
}

/* y = alpha * a + beta * b (b may be NULL), in the scalar kernel's order of operations */
SE_HD void se_scale_add8(const void *a, int adt, float alpha, const void *b, int bdt, float beta,
                         void *y, int ydt, int64_t v) {
    float fa[8], fb[8];
    se_ld8(a, adt, v, fa);
    for (int k = 0; k < 8; k++) fa[k] = alpha * fa[k];
    if (b) {
        se_ld8(b, bdt, v, fb);
        for (int k = 0; k < 8; k++) fa[k] += beta * fb[k];
    }
    se_st8(y, ydt, v, fa);
}

SE_HD float se_gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* kind: 0 silu, 1 gelu (erf), 2 quick_gelu -- the scalar act_kernel's formulas */
SE_HD float se_act1(float v, int kind) {
    if (kind == 0) return v / (1.0f + expf(-v));
    if (kind == 1) return se_gelu_erf(v);
    return v / (1.0f + expf(-1.702f * v));
}

SE_HD void se_act8(const void *x, int xdt, void *y, int ydt, int64_t v, int kind) {
    float f[8];
    se_ld8(x, xdt, v, f);
    for (int k = 0; k < 8; k++) f[k] = se_act1(f[k], kind);
    se_st8(y, ydt, v, f);
}

/* GEGLU, row r, vector j of the output row (h % 8 == 0): y[r][8j..] = a * gelu(g) with
 * a = x[r][8j..], g = x[r][h + 8j..]. In vector units a row of x is h/4 vectors, of y h/8. */
SE_HD void se_geglu8(const void *x, int xdt, void *y, int ydt, int64_t h, int64_t r, int64_t j) {
    const int64_t hv = h / 8;
    float fa[8], fg[8];
    se_ld8(x, xdt, r * 2 * hv + j, fa);
    se_ld8(x, xdt, r * 2 * hv + hv + j, fg);
    for (int k = 0; k < 8; k++) fa[k] = fa[k] * se_gelu_erf(fg[k]);
    se_st8(y, ydt, r * hv + j, fa);
}

/* Group norm statistics: adds (x - K) and (x - K)^2 of vector v to *s, *s2 (in element order). */
SE_HD void se_gn_sum8(const void *x, int xdt, int64_t v, float K, float *s, float *s2) {
    float f[8];
    se_ld8(x, xdt, v, f);
    for (int k = 0; k < 8; k++) {
        const float d = f[k] - K;
        *s += d;
        *s2 += d * d;
    }
}

/* Group norm apply (gn_apply's formula): y = (x - mean) * sc + be, then SiLU when silu. */
SE_HD void se_gn_apply8(const void *x, int xdt, void *y, int ydt, int64_t v, float mean, float sc,
                        float be, int silu) {
    float f[8];
    se_ld8(x, xdt, v, f);
    for (int k = 0; k < 8; k++) {
        float t = fmaf(f[k] - mean, sc, be);
        if (silu) t = t / (1.0f + expf(-t));
        f[k] = t;
    }
    se_st8(y, ydt, v, f);
}

/* Row softmax (softmax.cu's three passes, non-causal rows): the running max of scale * x, the
 * sum of exp(scale * x - m), and the write of exp(scale * x - m) * inv, over vector v. */
SE_HD void se_softmax_max8(const void *x, int xdt, int64_t v, float scale, float *m) {
    float f[8];
    se_ld8(x, xdt, v, f);
    for (int k = 0; k < 8; k++) *m = fmaxf(*m, scale * f[k]);
}

SE_HD void se_softmax_sum8(const void *x, int xdt, int64_t v, float scale, float m, float *s) {
    float f[8];
    se_ld8(x, xdt, v, f);
    for (int k = 0; k < 8; k++) *s += expf(scale * f[k] - m);
}

SE_HD void se_softmax_write8(const void *x, int xdt, int64_t vx, void *y, int ydt, int64_t vy,
                             float scale, float m, float inv) {
    float f[8];
    se_ld8(x, xdt, vx, f);
    for (int k = 0; k < 8; k++) f[k] = expf(scale * f[k] - m) * inv;
    se_st8(y, ydt, vy, f);
}

#endif
