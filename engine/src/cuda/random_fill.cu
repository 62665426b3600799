/*
 * random_fill.cu - uniform random fill on the device (se_cuda_random_fill, cuda_internal.h) for
 * benchmark weights: each thread hashes one group of 4 elements with Philox4x32-10
 * (random_fill.h) and stores them in the destination dtype, so a multi-GB weight set is made
 * in place without any host data or copies.
 */
#include "cuda/cuda_internal.h"
#include "cuda/random_fill.h"

__global__ void random_fill_kernel(void *dst, int dt, int64_t n, float lo, float hi, uint64_t seed,
                                   uint64_t stream) {
    const int64_t groups = (n + 3) / 4;
    SE_GRID_STRIDE(g, groups) {
        float v[4];
        se_rf_group(seed, stream, (uint64_t)g, lo, hi, v);
        const int64_t i0 = 4 * g;
        for (int j = 0; j < 4 && i0 + j < n; j++) se_st(dst, dt, i0 + j, v[j]);
    }
}

se_status se_cuda_random_fill(se_cuda *c, void *dst, se_dtype dt, int64_t n, float lo, float hi,
                              uint64_t seed, uint64_t stream) {
    if (n <= 0) return SE_OK;
    random_fill_kernel<<<se_cuda_blocks((n + 3) / 4), 256, 0, c->stream>>>(dst, (int)dt, n, lo, hi,
                                                                          seed, stream);
    SE_CU_LAUNCH("random fill");
    return SE_OK;
}
