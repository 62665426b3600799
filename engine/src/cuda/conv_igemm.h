/*
 * conv_igemm.h - the tensor-core implicit-GEMM 3x3 convolution (conv_igemm.cu), used by conv.cu.
 * C++ only (included from .cu files).
 *
 * It runs bf16/f16 NCHW 3x3 stride-1 pad-1 convolutions as one GEMM with M = Cout,
 * N = B*H*W output pixels, K = 9*Cin, gathering the input tile on the fly (no packed copy, no
 * F32 accumulator grid). The weights must already be in the conv weight cache's layout for
 * stride 1: wt[ky][co][kx][ci] (conv.cu's group layout with s = 1).
 */
#ifndef STRIKE_ENGINE_CUDA_CONV_IGEMM_H
#define STRIKE_ENGINE_CUDA_CONV_IGEMM_H

#include "cuda/cuda_internal.h"

/* True when se_cuda_conv_igemm can run op (dtype bf16/f16, 3x3, stride 1, pad 1, Cin a multiple
 * of 8, sm_80+, sizes within the kernel's index limits) and STRIKE_CUDA_CONV is not "gemm"
 * (the variable is read at each call: unset, empty or "igemm" is the default). Any other value
 * sets *st to SE_ERR_INVALID_ARG naming it (and returns false); otherwise *st = SE_OK. */
bool se_cuda_conv_igemm_applies(const se_cuda *c, const se_op *op, se_status *st);

/* Runs op with the packed weights wt ([ky][Cout][kx][Cin], op's dtype). Launch errors come back
 * as SE_ERR_CUDA naming conv2d. */
se_status se_cuda_conv_igemm(se_cuda *c, const se_op *op, const void *wt);

#endif
