/*
 * linear.cu - LINEAR on the GPU: dst = x w^T + b through cuBLAS (gemm.c). x [..., K] is an M x K
 * row-major matrix, w [N, K] (PyTorch layout) is used transposed in place, dst [..., N]. With a
 * bias, dst is first filled with the bias rows and the GEMM accumulates onto it (beta = 1), so
 * the result is rounded to the compute dtype once.
 */
#include "cuda/cuda_internal.h"

namespace {

/* One dst row per blockIdx.x. */
__global__ void fill_bias_k(void *dst, int ddt, int64_t ldd, int64_t N, const void *bias, int bdt) {
    const int64_t r = blockIdx.x;
    SE_ROW_STRIDE(j, N) se_st(dst, ddt, r * ldd + j, se_ld(bias, bdt, j));
}

}  // namespace

extern "C" se_status se_cuda_fill_bias(se_cuda *c, const char *opname, void *dst, se_dtype ddt,
                                       int64_t ldd, int64_t M, int64_t N, const void *bias,
                                       se_dtype bdt) {
    if (M > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda %s: %lld rows", opname, (long long)M);
    fill_bias_k<<<se_cuda_rows_grid(M, N), 256, 0, c->stream>>>(dst, ddt, ldd, N, bias, bdt);
    SE_CU_LAUNCH(opname);
    return SE_OK;
}

extern "C" se_status se_cuda_linear(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0], *w = op->src[1], *b = op->src[2];
    se_tensor *y = op->dst;
    int64_t N = w->ne[0], K = w->ne[1];
    int64_t xk = x->ne[x->ndim > 0 ? x->ndim - 1 : 0];
    if (xk != K || K <= 0)
        return se_fail(SE_ERR_SHAPE, "cuda linear: x '%s' last dim %lld, weight '%s' is [%lld,%lld]",
                       x->name, (long long)xk, w->name, (long long)N, (long long)K);
    int64_t M = se_tensor_numel(x) / K;
    if (se_tensor_numel(y) != M * N)
        return se_fail(SE_ERR_SHAPE, "cuda linear: dst '%s' has %lld elements, expected %lld x %lld",
                       y->name, (long long)se_tensor_numel(y), (long long)M, (long long)N);
    if (b) SE_TRY(se_cuda_fill_bias(c, "linear", y->data, y->dtype, N, M, N, b->data, b->dtype));
    se_gemm g{};
    g.ta = 0;
    g.tb = 1;
    g.M = M;
    g.N = N;
    g.K = K;
    g.ab = x->dtype;
    g.cdt = y->dtype;
    g.A = x->data;
    g.lda = K;
    g.B = w->data;
    g.ldb = K;
    g.C = y->data;
    g.ldc = N;
    g.batch = 1;
    g.alpha = 1.0f;
    g.beta = b ? 1.0f : 0.0f;
    return se_cuda_gemm(c, "linear", &g);
}
