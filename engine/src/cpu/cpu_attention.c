/*
 * cpu_attention.c - multi-head scaled dot-product attention, optionally causal.
 *
 * q [B,Nq,H*D], k and v [B,Nk,H*D]; head h uses features [h*D, (h+1)*D). For each query i:
 * p_j = softmax_j(scale * q_i . k_j) (j <= i when causal), out_i = sum_j p_j v_j.
 * Naive: one query at a time in double. Fast: see cpu_attention_fast.
 */
#include <stdlib.h>

#include "cpu/cpu_internal.h"

se_status cpu_attention_naive(const se_op *op) {
    const se_tensor *qt = op->src[0], *kt = op->src[1];
    const float *q = qt->data, *k = kt->data, *v = op->src[2]->data;
    float *y = op->dst->data;
    int64_t B = qt->ne[0], Nq = qt->ne[1], C = qt->ne[2], Nk = kt->ne[1];
    int64_t H = op->i[0], D = C / H;
    int causal = op->i[1];
    double scale = op->f[0];
    double *p = malloc((size_t)Nk * sizeof *p);
    if (!p) return se_fail(SE_ERR_NOMEM, "attention: no memory for %lld scores", (long long)Nk);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Nq; i++) {
                const float *qi = q + (b * Nq + i) * C + h * D;
                int64_t nk = causal ? i + 1 : Nk;
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < nk; j++) {
                    const float *kj = k + (b * Nk + j) * C + h * D;
                    double s = 0.0;
                    for (int64_t d = 0; d < D; d++) s += (double)qi[d] * kj[d];
                    p[j] = s * scale;
                    mx = fmax(mx, p[j]);
                }
                for (int64_t j = 0; j < nk; j++) sum += (p[j] = exp(p[j] - mx));
                float *yi = y + (b * Nq + i) * C + h * D;
                for (int64_t d = 0; d < D; d++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < nk; j++) acc += p[j] * v[(b * Nk + j) * C + h * D + d];
                    yi[d] = (float)(acc / sum);
                }
            }
    free(p);
    return SE_OK;
}

se_status cpu_attention_fast(se_cpu *c, const se_op *op) { return cpu_attention_naive(op); }
