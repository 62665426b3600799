/*
 * attention_flash512.h - the tensor-core flash-attention kernel for head dim 512 (the VAE
 * mid-block's single head), attention_flash512.cu; used by attention.cu's flash path.
 * C++ only (included from .cu files).
 */
#ifndef STRIKE_ENGINE_CUDA_ATTENTION_FLASH512_H
#define STRIKE_ENGINE_CUDA_ATTENTION_FLASH512_H

#include "cuda/cuda_internal.h"

/* True when se_cuda_flash512 can run op: bf16/f16, head dim 512, sm_80+, 16-byte aligned q/k/v/dst,
 * grid within limits, and the device's opt-in shared memory per block holds the kernel's
 * 122624 bytes. Device attribute queries are checked; a failure is returned in *st (and false). */
bool se_cuda_flash512_applies(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t H,
                              int64_t D, se_status *st);

/* Runs the attention op (q [B,Nq,H*512], k/v [B,Nk,H*512], dst like q; scale op->f[0], causal
 * op->i[1]). Launch errors come back as SE_ERR_CUDA naming attention. */
se_status se_cuda_flash512(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk,
                           int64_t H);

#endif
