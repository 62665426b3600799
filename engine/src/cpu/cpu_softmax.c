/*
 * cpu_softmax.c - softmax(scale * x) over the last dim, with the row maximum subtracted first.
 * cpu_softmax_row is shared with the attention code.
 */
#include "cpu/cpu_internal.h"

se_status cpu_softmax_naive(const se_op *op) {
    const float *x = op->src[0]->data;
    float *y = op->dst->data;
    int64_t n = op->dst->ne[op->dst->ndim - 1], rows = n ? se_tensor_numel(op->dst) / n : 0;
    double scale = op->f[0];
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double mx = -INFINITY, sum = 0.0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, scale * xr[i]);
        for (int64_t i = 0; i < n; i++) sum += exp(scale * xr[i] - mx);
        for (int64_t i = 0; i < n; i++) yr[i] = (float)(exp(scale * xr[i] - mx) / sum);
    }
    return SE_OK;
}

se_status cpu_softmax_fast(se_cpu *c, const se_op *op) { return cpu_softmax_naive(op); }
