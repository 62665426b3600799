/*
 * gemm.c - the one GEMM entry of the CUDA backend: row-major, strided-batched, over
 * cublasGemmStridedBatchedEx with fp32 compute (CUBLAS_COMPUTE_32F). bf16/f16 inputs run on
 * tensor cores with fp32 accumulation; F32 inputs stay true fp32 (the handle's math mode is
 * CUBLAS_DEFAULT_MATH, so no TF32): the checking path.
 *
 * Row-major to cuBLAS's column-major: a row-major X with leading dimension ld is the
 * column-major X^T, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T.
 */
#include <limits.h>

#include "cuda/cuda_internal.h"

static cudaDataType_t cu_type(se_dtype dt) {
    switch (dt) {
    case SE_F16: return CUDA_R_16F;
    case SE_BF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
    }
}

se_status se_cuda_gemm(se_cuda *c, const char *opname, const se_gemm *g) {
    if (g->M <= 0 || g->N <= 0 || g->batch <= 0) return SE_OK;
    if (g->M > INT_MAX || g->N > INT_MAX || g->K > INT_MAX || g->lda > INT_MAX ||
        g->ldb > INT_MAX || g->ldc > INT_MAX || g->batch > INT_MAX)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda %s: GEMM M=%lld N=%lld K=%lld batch=%lld exceeds "
                       "cuBLAS's 32-bit sizes", opname, (long long)g->M, (long long)g->N,
                       (long long)g->K, (long long)g->batch);
    if (g->K <= 0) return se_fail(SE_ERR_INTERNAL, "cuda %s: GEMM with K=%lld", opname, (long long)g->K);
    cublasOperation_t opA = g->tb ? CUBLAS_OP_T : CUBLAS_OP_N;   /* cuBLAS's A is our B */
    cublasOperation_t opB = g->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cudaDataType_t tab = cu_type(g->ab), tc = cu_type(g->cdt);
    float alpha = g->alpha, beta = g->beta;
    SE_CUBLAS(opname, cublasGemmStridedBatchedEx(
                          c->blas, opA, opB, (int)g->N, (int)g->M, (int)g->K, &alpha, g->B, tab,
                          (int)g->ldb, g->sB, g->A, tab, (int)g->lda, g->sA, &beta, g->C, tc,
                          (int)g->ldc, g->sC, (int)g->batch, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT));
    return SE_OK;
}
