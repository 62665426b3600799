/*
 * cpu_attention.c - multi-head scaled dot-product attention, optionally causal.
 *
 * q [B,Nq,H*D], k and v [B,Nk,H*D]; head h uses features [h*D, (h+1)*D). For each query i:
 * p_j = softmax_j(scale * q_i . k_j) (j <= i when causal), out_i = sum_j p_j v_j.
 * Naive: one query at a time in double.
 * Fast: work items are (batch, head, tile of ATT_TQ queries), spread over the pool. Per item:
 * S = scale * Q_tile K^T (one GEMM into per-thread scratch of ATT_TQ x Nk floats, so the score
 * matrix is never larger than a tile), a row softmax (causal: keys past the query are dropped),
 * then O_tile = S V (a second GEMM written straight into the output's head columns).
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

#define ATT_TQ 64

typedef struct att_job {
    se_cpu *c;
    const float *q, *k, *v;
    float *y;
    int64_t Nq, Nk, C, H, D, tiles;
    int causal;
    float scale;
} att_job;

/* Softmax of row r (n entries) in place: subtract the max, exponentiate, normalise. */
static CPU_INLINE void softmax_inplace_impl(float *r, int64_t n) {
    float mx = cpu_max(r, n);
    for (int64_t j = 0; j < n; j++) r[j] = cpu_expf(r[j] - mx);
    float inv = 1.0f / cpu_sum(r, n);
    for (int64_t j = 0; j < n; j++) r[j] *= inv;
}
CPU_MULTIVERSION(softmax_inplace, (float *r, int64_t n), (r, n))

static void att_items(void *arg, int64_t i0, int64_t i1, int tid) {
    const att_job *a = arg;
    float *S = a->c->scratch[tid];
    for (int64_t it = i0; it < i1; it++) {
        int64_t t = it % a->tiles, h = (it / a->tiles) % a->H, b = it / (a->tiles * a->H);
        int64_t q0 = t * ATT_TQ, nq = a->Nq - q0 < ATT_TQ ? a->Nq - q0 : ATT_TQ;
        /* causal: this tile needs keys [0, q0 + nq) only */
        int64_t nk = a->causal ? q0 + nq : a->Nk;
        const float *Q = a->q + (b * a->Nq + q0) * a->C + h * a->D;
        const float *K = a->k + b * a->Nk * a->C + h * a->D;
        const float *V = a->v + b * a->Nk * a->C + h * a->D;
        float *O = a->y + (b * a->Nq + q0) * a->C + h * a->D;
        cpu_sgemm(false, true, nq, nk, a->D, a->scale, Q, a->C, K, a->C, 0.0f, S, nk);
        for (int64_t i = 0; i < nq; i++) {
            float *row = S + i * nk;
            int64_t valid = a->causal ? q0 + i + 1 : nk;
            softmax_inplace(row, valid);
            for (int64_t j = valid; j < nk; j++) row[j] = 0.0f;
        }
        cpu_sgemm(false, false, nq, a->D, nk, 1.0f, S, nk, V, a->C, 0.0f, O, a->C);
    }
}

se_status cpu_attention_fast(se_cpu *c, const se_op *op) {
    const se_tensor *qt = op->src[0], *kt = op->src[1];
    att_job a;
    a.c = c;
    a.q = qt->data, a.k = kt->data, a.v = op->src[2]->data, a.y = op->dst->data;
    a.Nq = qt->ne[1], a.Nk = kt->ne[1], a.C = qt->ne[2], a.H = op->i[0], a.D = a.C / a.H;
    a.causal = op->i[1];
    a.scale = op->f[0];
    a.tiles = (a.Nq + ATT_TQ - 1) / ATT_TQ;
    if (a.Nq == 0) return SE_OK;
    SE_TRY(cpu_scratch_reserve(c, (size_t)(ATT_TQ * a.Nk)));
    cpu_parallel_for(c, qt->ne[0] * a.H * a.tiles, 1, att_items, &a);
    return SE_OK;
}
