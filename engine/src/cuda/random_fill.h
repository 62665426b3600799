/*
 * random_fill.h - the counter-based generator behind se_cuda_fill_uniform (random_fill.cu):
 * Philox4x32-10 (Salmon et al. 2011) keyed by the seed, counting over (group of 4 elements,
 * stream). Element i of a fill is word i % 4 of philox(counter = {i / 4 (64 bits), stream (64
 * bits)}, key = seed), mapped to [lo, hi) as fmaf(hi - lo, (word >> 8) * 2^-24, lo).
 *
 * Plain C that nvcc also compiles for the device (SE_RF_HD), so tests evaluate the very same
 * function on the host: the GPU test compares the kernel's output with it bit for bit, and the
 * CPU test checks its distribution (engine_cuda_random_fill).
 */
#ifndef STRIKE_ENGINE_CUDA_RANDOM_FILL_H
#define STRIKE_ENGINE_CUDA_RANDOM_FILL_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define SE_RF_HD __host__ __device__ __forceinline__
#else
#define SE_RF_HD static inline
#endif

/* The four 32-bit words of Philox4x32-10 for counter (c0..c3) and key (k0, k1). */
SE_RF_HD void se_rf_philox(uint32_t c[4], uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = lo1;
        c[2] = n2;
        c[3] = lo0;
    }
}

/* Elements 4*g .. 4*g+3 of the fill (seed, stream) in [lo, hi); lo == hi gives lo exactly. */
SE_RF_HD void se_rf_group(uint64_t seed, uint64_t stream, uint64_t g, float lo, float hi,
                          float out[4]) {
    uint32_t c[4] = {(uint32_t)g, (uint32_t)(g >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    se_rf_philox(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    const float span = hi - lo;
    for (int j = 0; j < 4; j++) {
        float u = (float)(c[j] >> 8) * (1.0f / 16777216.0f);
        out[j] = span == 0.0f ? lo : fmaf(span, u, lo);
    }
}

#endif
