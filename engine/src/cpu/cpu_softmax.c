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

/* Rows [r0, r1) in float with the vectorisable exp. */
static CPU_INLINE void softmax_rows_impl(void *arg, int64_t r0, int64_t r1, int tid) {
    const se_op *op = arg;
    const float *x = op->src[0]->data;
    float *y = op->dst->data;
    int64_t n = op->dst->ne[op->dst->ndim - 1];
    float scale = op->f[0];
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mx = cpu_max(xr, n);
        mx = scale >= 0.0f ? scale * mx : -INFINITY;
        if (scale < 0.0f)
            for (int64_t i = 0; i < n; i++) mx = fmaxf(mx, scale * xr[i]);
        for (int64_t i = 0; i < n; i++) yr[i] = cpu_expf(scale * xr[i] - mx);
        float inv = 1.0f / cpu_sum(yr, n);
        for (int64_t i = 0; i < n; i++) yr[i] *= inv;
    }
}
CPU_MULTIVERSION(softmax_rows, (void *arg, int64_t r0, int64_t r1, int tid), (arg, r0, r1, tid))

se_status cpu_softmax_fast(se_cpu *c, const se_op *op) {
    int64_t n = op->dst->ne[op->dst->ndim - 1], rows = n ? se_tensor_numel(op->dst) / n : 0;
    cpu_parallel_for(c, rows, 1 + 16384 / (n ? n : 1), softmax_rows, (void *)op);
    return SE_OK;
}
