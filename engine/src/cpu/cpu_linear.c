/*
 * cpu_linear.c - fully connected layer: y[M,N] = x[M,K] w[N,K]^T + b[N] (PyTorch weight layout).
 *
 * Naive: dot products with double accumulation. Fast: one parallel GEMM (x times w transposed);
 * each GEMM tile writes its block of bias first and accumulates onto it.
 */
#include "cpu/cpu_internal.h"

se_status cpu_linear_naive(const se_op *op) {
    const se_tensor *xt = op->src[0], *wt = op->src[1], *bt = op->src[2];
    const float *x = xt->data, *w = wt->data, *bias = bt ? bt->data : NULL;
    float *y = op->dst->data;
    int64_t K = wt->ne[1], N = wt->ne[0], M = se_tensor_numel(xt) / (K ? K : 1);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = bias ? bias[n] : 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)x[m * K + k] * (double)w[n * K + k];
            y[m * N + n] = (float)acc;
        }
    return SE_OK;
}

se_status cpu_linear_fast(se_cpu *c, const se_op *op) {
    const se_tensor *xt = op->src[0], *wt = op->src[1], *bt = op->src[2];
    const float *x = xt->data, *w = wt->data, *bias = bt ? bt->data : NULL;
    float *y = op->dst->data;
    int64_t K = wt->ne[1], N = wt->ne[0], M = se_tensor_numel(xt) / (K ? K : 1);
    if (K == 0) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) y[m * N + n] = bias ? bias[n] : 0.0f;
        return SE_OK;
    }
    cpu_big_sgemm_bias(c, false, true, M, N, K, x, K, w, K, y, N, NULL, bias);
    return SE_OK;
}
