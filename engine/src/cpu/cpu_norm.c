/*
 * cpu_norm.c - group norm (with optional fused SiLU) and layer norm.
 *
 * Statistics are the biased variance, as PyTorch computes them: y = (x - mean) / sqrt(var + eps)
 * * gamma + beta. Naive: two passes in double.
 * Fast: one work item per (batch, group) for group norm and per row for layer norm, spread over
 * the pool. Each item makes two passes over its data while it is in cache (mean, then the
 * centred sum of squares, as float partial sums of BLK elements added in double), then writes
 * x * a + c with a per-channel a = gamma / std and c = beta - mean * a, with SiLU fused.
 */
#include "cpu/cpu_internal.h"

se_status cpu_group_norm_naive(const se_op *op) {
    const se_tensor *xt = op->src[0];
    const float *x = xt->data, *g = op->src[1]->data, *be = op->src[2]->data;
    float *y = op->dst->data;
    int64_t B = xt->ne[0], C = xt->ne[1], S = (B > 0 && C > 0) ? se_tensor_numel(xt) / (B * C) : 0;
    int64_t G = op->i[0], cpg = C / G;
    int silu = op->i[1];
    double eps = op->f[0];
    for (int64_t b = 0; b < B; b++)
        for (int64_t gi = 0; gi < G; gi++) {
            const float *xs = x + (b * C + gi * cpg) * S;
            float *ys = y + (b * C + gi * cpg) * S;
            int64_t n = cpg * S;
            double mean = 0.0, var = 0.0;
            for (int64_t i = 0; i < n; i++) mean += xs[i];
            mean /= (double)n;
            for (int64_t i = 0; i < n; i++) var += ((double)xs[i] - mean) * ((double)xs[i] - mean);
            var /= (double)n;
            double inv = 1.0 / sqrt(var + eps);
            for (int64_t ci = 0; ci < cpg; ci++) {
                int64_t ch = gi * cpg + ci;
                for (int64_t s = 0; s < S; s++) {
                    double v = ((double)xs[ci * S + s] - mean) * inv * g[ch] + be[ch];
                    if (silu) v = v / (1.0 + exp(-v));
                    ys[ci * S + s] = (float)v;
                }
            }
        }
    return SE_OK;
}

se_status cpu_layer_norm_naive(const se_op *op) {
    const se_tensor *xt = op->src[0];
    const float *x = xt->data, *g = op->src[1]->data, *be = op->src[2]->data;
    float *y = op->dst->data;
    int64_t D = xt->ne[xt->ndim - 1], R = se_tensor_numel(xt) / (D ? D : 1);
    double eps = op->f[0];
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * D;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < D; i++) mean += xr[i];
        mean /= (double)D;
        for (int64_t i = 0; i < D; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        var /= (double)D;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t i = 0; i < D; i++) y[r * D + i] = (float)(((double)xr[i] - mean) * inv * g[i] + be[i]);
    }
    return SE_OK;
}

#define BLK 1024

/* Mean and 1/std of n floats: float partial sums per block (vectorisable), double across blocks. */
static CPU_INLINE void stats(const float *x, int64_t n, double eps, float *mean_out, float *inv_out) {
    double sum = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += BLK) {
        int64_t e = n - i0 < BLK ? n : i0 + BLK;
        sum += cpu_sum(x + i0, e - i0);
    }
    float mean = (float)(sum / (double)n);
    double var = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += BLK) {
        int64_t e = n - i0 < BLK ? n : i0 + BLK;
        var += cpu_sumsq_dev(x + i0, e - i0, mean);
    }
    *mean_out = mean;
    *inv_out = (float)(1.0 / sqrt(var / (double)n + eps));
}

static CPU_INLINE void gn_items_impl(void *arg, int64_t i0, int64_t i1, int tid) {
    const se_op *op = arg;
    const se_tensor *xt = op->src[0];
    const float *x = xt->data, *g = op->src[1]->data, *be = op->src[2]->data;
    float *y = op->dst->data;
    int64_t C = xt->ne[1], S = se_tensor_numel(xt) / (xt->ne[0] * C);
    int64_t G = op->i[0], cpg = C / G;
    for (int64_t it = i0; it < i1; it++) {
        int64_t b = it / G, gi = it % G;
        const float *xs = x + (b * C + gi * cpg) * S;
        float *ys = y + (b * C + gi * cpg) * S;
        float mean, inv;
        stats(xs, cpg * S, op->f[0], &mean, &inv);
        for (int64_t ci = 0; ci < cpg; ci++) {
            int64_t ch = gi * cpg + ci;
            float a = g[ch] * inv, c = be[ch] - mean * a;
            const float *xr = xs + ci * S;
            float *yr = ys + ci * S;
            if (op->i[1])
                for (int64_t s = 0; s < S; s++) yr[s] = cpu_silu_fast(xr[s] * a + c);
            else
                for (int64_t s = 0; s < S; s++) yr[s] = xr[s] * a + c;
        }
    }
}
CPU_MULTIVERSION(gn_items, (void *arg, int64_t i0, int64_t i1, int tid), (arg, i0, i1, tid))

se_status cpu_group_norm_fast(se_cpu *c, const se_op *op) {
    const se_tensor *xt = op->src[0];
    if (se_tensor_numel(xt) == 0) return SE_OK;
    cpu_parallel_for(c, xt->ne[0] * op->i[0], 1, gn_items, (void *)op);
    return SE_OK;
}

static CPU_INLINE void ln_rows_impl(void *arg, int64_t r0, int64_t r1, int tid) {
    const se_op *op = arg;
    const se_tensor *xt = op->src[0];
    const float *x = xt->data, *g = op->src[1]->data, *be = op->src[2]->data;
    float *y = op->dst->data;
    int64_t D = xt->ne[xt->ndim - 1];
    for (int64_t r = r0; r < r1; r++) {
        float mean, inv;
        stats(x + r * D, D, op->f[0], &mean, &inv);
        const float *xr = x + r * D;
        float *yr = y + r * D;
        for (int64_t i = 0; i < D; i++) yr[i] = (xr[i] - mean) * inv * g[i] + be[i];
    }
}
CPU_MULTIVERSION(ln_rows, (void *arg, int64_t r0, int64_t r1, int tid), (arg, r0, r1, tid))

se_status cpu_layer_norm_fast(se_cpu *c, const se_op *op) {
    const se_tensor *xt = op->src[0];
    int64_t D = xt->ne[xt->ndim - 1], R = D ? se_tensor_numel(xt) / D : 0;
    cpu_parallel_for(c, R, 1 + 16384 / (D ? D : 1), ln_rows, (void *)op);
    return SE_OK;
}
