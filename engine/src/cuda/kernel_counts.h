/*
 * kernel_counts.h - process-wide launch counters of the tensor-core implicit-GEMM conv
 * (conv_igemm.cu) and the d = 512 flash attention kernel (attention_flash512.cu), so tests can
 * check which path an op took. CUDA builds only (include under STRIKE_HAVE_CUDA); plain C.
 */
#ifndef STRIKE_ENGINE_CUDA_KERNEL_COUNTS_H
#define STRIKE_ENGINE_CUDA_KERNEL_COUNTS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Successful launches since the process started (all backends, all devices). */
uint64_t se_cuda_conv_igemm_launches(void);
uint64_t se_cuda_flash512_launches(void);

#ifdef __cplusplus
}
#endif

#endif
