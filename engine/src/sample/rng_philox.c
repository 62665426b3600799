/*
 * rng_philox.c - Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3")
 * and the A1111 per-element Box-Muller on top of it.
 */
#include "sample/rng_philox.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* One round: two 32x32->64 multiplies, words mixed with the key. */
static void philox_round(uint32_t c[4], const uint32_t k[2]) {
    const uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    const uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    const uint32_t n0 = hi1 ^ c[1] ^ k[0];
    const uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void se_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 9; r++) {
        philox_round(c, k);
        k[0] += PHILOX_W0;
        k[1] += PHILOX_W1;
    }
    philox_round(c, k);
    for (int i = 0; i < 4; i++) out[i] = c[i];
}

void se_philox_randn(uint64_t seed, uint32_t offset, float *out, size_t n) {
    const uint32_t key[2] = {(uint32_t)(seed & 0xffffffffu), (uint32_t)(seed >> 32)};
    /* The reference's constants are float32 arrays; the products are promoted to double. */
    const float c_u = (float)2.3283064e-10;
    const float c_v = (float)(2.3283064e-10 * 6.2831855);
    const double half_u = (double)(c_u / 2.0f);
    const double half_v = (double)(c_v / 2.0f);
    for (size_t i = 0; i < n; i++) {
        const uint32_t ctr[4] = {offset, 0u, (uint32_t)i, 0u};
        uint32_t r[4];
        se_philox4x32_10(ctr, key, r);
        const double u = (double)r[0] * (double)c_u + half_u;
        const double v = (double)r[1] * (double)c_v + half_v;
        const double s = sqrt(-2.0 * log(u));
        out[i] = (float)(s * sin(v));
    }
}
