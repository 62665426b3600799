/*
 * rng_mt19937.c - PyTorch's CPU mt19937 and its float32 randn, reproduced bit for bit.
 *
 * Algorithm (ATen: core/MT19937RNGEngine.h, CPUGeneratorImpl.cpp, core/DistributionsHelper.h,
 * native/cpu/DistributionTemplates.h, native/cpu/avx_mathfun.h), for one fresh generator:
 *   n >= 16: u[i] = (next32() & 0xFFFFFF) * 2^-24 for all i; then for every full block of 16,
 *            for j < 8: r = sqrt(-2 log(1 - u[j])), theta = 2*pi*u[j+8],
 *            out[j] = r cos(theta), out[j+8] = r sin(theta). If n % 16 != 0, the last 16 slots
 *            (overlapping the previous block) get 16 fresh uniforms and are transformed again.
 *   n < 16:  torch's normal_distribution<double>: u1, u2 = 53-bit doubles from next64(),
 *            r = sqrt(-2 log1p(-u2)), theta = 2*pi*u1, returns r cos(theta) and caches r sin(theta)
 *            for the next element; each double is rounded to float.
 * The AVX2 kernel's log/sincos are Julien Pommier's cephes-style polynomials (avx_mathfun.h);
 * they are written out here in scalar float arithmetic in the same operation order, with the
 * fused multiply-adds that torch's compiled binary uses, so the results are identical.
 */
#include "sample/rng_mt19937.h"

#include <math.h>
#include <string.h>

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UMASK 0x80000000u
#define MT_LMASK 0x7fffffffu

void se_mt19937_seed(se_mt19937 *mt, uint64_t seed) {
    mt->state[0] = (uint32_t)(seed & 0xffffffffu);
    for (int j = 1; j < SE_MT_N; j++)
        mt->state[j] = 1812433253u * (mt->state[j - 1] ^ (mt->state[j - 1] >> 30)) + (uint32_t)j;
    mt->left = 1;
    mt->next = 0;
}

static uint32_t mt_twist(uint32_t u, uint32_t v) {
    uint32_t mixed = (u & MT_UMASK) | (v & MT_LMASK);
    return (mixed >> 1) ^ ((v & 1u) ? MT_MATRIX_A : 0u);
}

/* Regenerates all 624 words (the standard mt19937 recurrence). */
static void mt_next_state(se_mt19937 *mt) {
    uint32_t *s = mt->state;
    int k = 0;
    for (; k < SE_MT_N - MT_M; k++) s[k] = s[k + MT_M] ^ mt_twist(s[k], s[k + 1]);
    for (; k < SE_MT_N - 1; k++) s[k] = s[k + MT_M - SE_MT_N] ^ mt_twist(s[k], s[k + 1]);
    s[SE_MT_N - 1] = s[MT_M - 1] ^ mt_twist(s[SE_MT_N - 1], s[0]);
    mt->left = SE_MT_N;
    mt->next = 0;
}

uint32_t se_mt19937_next32(se_mt19937 *mt) {
    if (--mt->left == 0) mt_next_state(mt);
    uint32_t y = mt->state[mt->next++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint64_t se_mt19937_next64(se_mt19937 *mt) {
    uint64_t hi = se_mt19937_next32(mt);
    uint64_t lo = se_mt19937_next32(mt);
    return (hi << 32) | lo;
}

/* ---------------------------------------------------------------- float bit helpers */

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---------------------------------------------------------------- avx_mathfun, scalar */

/* torch's binary is built with GCC's default FP contraction (-ffp-contract=fast) and -mfma for
 * the AVX2 kernels, so some mul/add pairs of avx_mathfun.h run as fused multiply-adds. The
 * fusions are written out explicitly below (fmaf) where GCC makes them; this reproduces torch's
 * recorded output bit for bit (tests/engine/test_rng.c), whatever flags Strike is built with. */

/* log256_ps for one lane, for x > 0 (the only inputs here). */
static float avx_log(float x) {
    const float one = 1.0f;
    if (x < u2f(0x00800000u)) x = u2f(0x00800000u); /* max with the smallest normal */
    uint32_t bits = f2u(x);
    int32_t imm0 = (int32_t)(bits >> 23);
    x = u2f((bits & ~0x7f800000u) | f2u(0.5f));
    imm0 -= 0x7f;
    float e = (float)imm0;
    e = e + one;
    const int mask = x < (float)0.707106781186547524;
    float tmp = mask ? x : 0.0f;
    x = x - one;
    e = e - (mask ? one : 0.0f);
    x = x + tmp;
    const float z = x * x;
    float y = (float)7.0376836292E-2;
    y = fmaf(y, x, (float)-1.1514610310E-1);
    y = fmaf(y, x, (float)1.1676998740E-1);
    y = fmaf(y, x, (float)-1.2420140846E-1);
    y = fmaf(y, x, (float)1.4249322787E-1);
    y = fmaf(y, x, (float)-1.6668057665E-1);
    y = fmaf(y, x, (float)2.0000714765E-1);
    y = fmaf(y, x, (float)-2.4999993993E-1);
    y = fmaf(y, x, (float)3.3333331174E-1);
    y = y * x;
    tmp = e * (float)-2.12194440e-4;
    y = fmaf(y, z, tmp);         /* y = y*z; y += e*q1 */
    y = fmaf(-z, 0.5f, y);       /* y -= z*0.5 */
    x = x + y;
    x = fmaf(e, (float)0.693359375, x); /* x += e*q2 */
    return x;
}

/* sincos256_ps for one lane. */
static void avx_sincos(float xin, float *s, float *c) {
    uint32_t sign_sin = f2u(xin) & 0x80000000u;
    float x = u2f(f2u(xin) & 0x7fffffffu);
    float y = x * (float)1.27323954473516;
    int32_t imm2 = (int32_t)y; /* truncation, like cvttps */
    imm2 = (int32_t)(((uint32_t)imm2 + 1u) & ~1u);
    y = (float)imm2;
    int32_t imm4 = imm2;
    const uint32_t swap_sin = ((uint32_t)imm2 & 4u) << 29;
    const int poly_mask = ((uint32_t)imm2 & 2u) == 0;
    /* x = ((x - y*DP1) - y*DP2) - y*DP3, each step fused */
    x = fmaf(y, (float)-0.78515625, x);
    x = fmaf(y, (float)-2.4187564849853515625e-4, x);
    x = fmaf(y, (float)-3.77489497744594108e-8, x);
    imm4 = (int32_t)((uint32_t)imm4 - 2u);
    const uint32_t sign_cos = ((~(uint32_t)imm4) & 4u) << 29;
    sign_sin ^= swap_sin;
    const float z = x * x;
    y = (float)2.443315711809948E-005;
    y = fmaf(y, z, (float)-1.388731625493765E-003);
    y = fmaf(y, z, (float)4.166664568298827E-002);
    y = y * z;
    const float tmp = z * 0.5f;
    y = fmaf(y, z, -tmp); /* y = y*z - z*0.5 */
    y = y + 1.0f;
    float y2 = (float)-1.9515295891E-4;
    y2 = fmaf(y2, z, (float)8.3321608736E-3);
    y2 = fmaf(y2, z, (float)-1.6666654611E-1);
    y2 = y2 * z;
    y2 = fmaf(y2, x, x); /* y2 = y2*x + x */
    const float ysin2 = poly_mask ? y2 : 0.0f;
    const float ysin1 = poly_mask ? 0.0f : y;
    y2 = y2 - ysin2;
    y = y - ysin1;
    const float xmm1 = ysin1 + ysin2;
    const float xmm2 = y + y2;
    *s = u2f(f2u(xmm1) ^ sign_sin);
    *c = u2f(f2u(xmm2) ^ sign_cos);
}

/* ---------------------------------------------------------------- normal kernels */

/* Box-Muller over 16 uniforms in place (normal_fill_16), mean 0 and std 1. */
static void fill16(float *d, se_torch_cpu_kernel kernel) {
    for (int j = 0; j < 8; j++) {
        if (kernel == SE_TORCH_CPU_AVX2) {
            const float u1 = 1.0f - d[j];
            const float u2 = d[j + 8];
            const float lg = avx_log(u1);
            const float radius = sqrtf(-2.0f * lg);
            const float theta = (float)(2.0 * M_PI) * u2;
            float sn, cs;
            avx_sincos(theta, &sn, &cs);
            /* fmadd(n, std = 1, mean = 0): the product is exact, so this is n + 0. */
            d[j] = radius * cs + 0.0f;
            d[j + 8] = radius * sn + 0.0f;
        } else {
            const float u1 = 1.0f - d[j];
            const float u2 = d[j + 8];
            const float radius = sqrtf(-2.0f * logf(u1));
            const float theta = (float)(2.0 * M_PI * (double)u2);
            d[j] = radius * cosf(theta) + 0.0f;
            d[j + 8] = radius * sinf(theta) + 0.0f;
        }
    }
}

static float uniform24(se_mt19937 *mt) {
    return (float)(se_mt19937_next32(mt) & 0xffffffu) * (1.0f / 16777216.0f);
}

static double uniform53(se_mt19937 *mt) {
    return (double)(se_mt19937_next64(mt) & ((UINT64_C(1) << 53) - 1)) *
           (1.0 / 9007199254740992.0);
}

void se_torch_cpu_randn(uint64_t seed, se_torch_cpu_kernel kernel, float *out, size_t n) {
    se_mt19937 mt;
    se_mt19937_seed(&mt, seed);
    if (n >= 16) {
        for (size_t i = 0; i < n; i++) out[i] = uniform24(&mt);
        for (size_t i = 0; i + 16 <= n; i += 16) fill16(out + i, kernel);
        if (n % 16 != 0) {
            float *tail = out + n - 16;
            for (int i = 0; i < 16; i++) tail[i] = uniform24(&mt);
            fill16(tail, kernel);
        }
        return;
    }
    /* n < 16: normal_distribution<double> with the generator's cached second sample. */
    int have_cached = 0;
    double cached = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (have_cached) {
            v = cached;
            have_cached = 0;
        } else {
            const double u1 = uniform53(&mt);
            const double u2 = uniform53(&mt);
            const double r = sqrt(-2.0 * log1p(-u2));
            const double theta = 2.0 * M_PI * u1;
            cached = r * sin(theta);
            have_cached = 1;
            v = r * cos(theta);
        }
        out[i] = (float)(v * 1.0 + 0.0);
    }
}
