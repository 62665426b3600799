/*
 * cpu_attention.c - multi-head scaled dot-product attention, optionally causal.
 *
 * q [B,Nq,H*D], k and v [B,Nk,H*D]; head h uses features [h*D, (h+1)*D). For each query i:
 * p_j = softmax_j(scale * q_i . k_j) (j <= i when causal), out_i = sum_j p_j v_j.
 * Naive: one query at a time in double.
 * Fast: work items are (batch, head, tile of tq queries), spread over the pool. Per item:
 * S = scale * Q_tile K^T (one GEMM into per-thread scratch of tq x Nk floats, so the score
 * matrix is never larger than a tile), S = exp(S - rowmax) (causal: keys past the query get 0),
 * then O_tile = S V (a second GEMM written straight into the output's head columns), and each
 * output row is divided by its row sum (D values, not Nk).
 * tq is as large as keeps the score tile within ATT_TILE_BYTES (cache-resident, and taller
 * tiles make better GEMMs), but small enough to give every thread several items, and never
 * below 64 when a head's K/V are large (each item repacks them).
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

#define ATT_TILE_BYTES ((int64_t)256 << 10)
#define ATT_TQ_MAX 256

typedef struct att_job {
    se_cpu *c;
    const float *q, *k, *v;
    float *y;
    int64_t Nq, Nk, C, H, D, tq, tiles;
    int causal;
    float scale;
} att_job;

/* Unnormalised softmax of row r (n entries) in place: r = exp(r - max); returns 1 / sum, which
 * the caller applies to the (much narrower) output row instead of to the n probabilities. */
static CPU_INLINE void softmax_rows_impl(float *S, int64_t nq, int64_t nk, int64_t q0, int causal,
                                         float *inv_out) {
    for (int64_t i = 0; i < nq; i++) {
        float *r = S + i * nk;
        int64_t n = causal ? q0 + i + 1 : nk;
        float mx = cpu_max(r, n);
        float a[CPU_LANES] = {0};
        int64_t j = 0;
        for (; j + CPU_LANES <= n; j += CPU_LANES)
            for (int k = 0; k < CPU_LANES; k++) {
                float v = cpu_expf(r[j + k] - mx);
                r[j + k] = v;
                a[k] += v;
            }
        float sum = 0.0f;
        for (int k = 0; k < CPU_LANES; k++) sum += a[k];
        for (; j < n; j++) sum += (r[j] = cpu_expf(r[j] - mx));
        for (j = n; j < nk; j++) r[j] = 0.0f;  /* causal: masked keys weigh nothing */
        inv_out[i] = 1.0f / sum;
    }
}
CPU_MULTIVERSION(softmax_rows, (float *S, int64_t nq, int64_t nk, int64_t q0, int causal, float *inv_out),
                 (S, nq, nk, q0, causal, inv_out))

static void att_items(void *arg, int64_t i0, int64_t i1, int tid) {
    const att_job *a = arg;
    float *S = a->c->scratch[tid];
    for (int64_t it = i0; it < i1; it++) {
        int64_t t = it % a->tiles, h = (it / a->tiles) % a->H, b = it / (a->tiles * a->H);
        int64_t q0 = t * a->tq, nq = a->Nq - q0 < a->tq ? a->Nq - q0 : a->tq;
        /* causal: this tile needs keys [0, q0 + nq) only */
        int64_t nk = a->causal ? q0 + nq : a->Nk;
        const float *Q = a->q + (b * a->Nq + q0) * a->C + h * a->D;
        const float *K = a->k + b * a->Nk * a->C + h * a->D;
        const float *V = a->v + b * a->Nk * a->C + h * a->D;
        float *O = a->y + (b * a->Nq + q0) * a->C + h * a->D;
        float *inv = S + a->tq * a->Nk;  /* tq floats after the score tile */
        cpu_sgemm(false, true, nq, nk, a->D, a->scale, Q, a->C, K, a->C, 0.0f, S, nk);
        softmax_rows(S, nq, nk, q0, a->causal, inv);
        cpu_sgemm(false, false, nq, a->D, nk, 1.0f, S, nk, V, a->C, 0.0f, O, a->C);
        for (int64_t i = 0; i < nq; i++)
            for (int64_t d = 0; d < a->D; d++) O[i * a->C + d] *= inv[i];
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
    if (a.Nq == 0) return SE_OK;
    int64_t bh = qt->ne[0] * a.H;
    int64_t tq = ATT_TILE_BYTES / (4 * a.Nk);                 /* cache bound */
    int64_t want = (4 * c->threads + bh - 1) / bh;             /* tiles per (batch, head) */
    int64_t tq_par = (a.Nq + want - 1) / want;                 /* parallelism bound */
    tq = tq < tq_par ? tq : tq_par;
    /* every item packs this head's whole K and V: when they are big (the VAE's one-head
     * attention over 16k tokens), tiles must be tall enough to pay for that */
    int64_t tq_min = a.Nk * a.D * (int64_t)sizeof(float) > ((int64_t)256 << 10) ? 64 : 8;
    tq = tq < tq_min ? tq_min : tq;
    tq = tq > ATT_TQ_MAX ? ATT_TQ_MAX : tq;
    tq = (tq + 7) / 8 * 8;
    a.tq = tq < 8 ? 8 : tq;
    a.tiles = (a.Nq + a.tq - 1) / a.tq;
    SE_TRY(cpu_scratch_reserve(c, (size_t)(a.tq * a.Nk + a.tq)));
    cpu_parallel_for(c, bh * a.tiles, 1, att_items, &a);
    return SE_OK;
}
