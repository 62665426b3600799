/*
 * attention.cu - ATTENTION on the GPU: q [B,Nq,H*D], k,v [B,Nk,H*D] -> dst [B,Nq,H*D].
 *
 * Two paths, picked per backend (se_cuda.attn, from STRIKE_CUDA_ATTENTION=gemm|flash):
 *
 * gemm (default): per image and tile of queries, S = scale * Q K^T for all heads in one
 *   strided-batched cuBLAS GEMM (F32 scores), a row softmax (softmax.cu) into P in the compute
 *   dtype, and O = P V in a second batched GEMM written straight into dst's head columns. The
 *   query tile is chosen so S and P together stay under kScoreBudget bytes: memory is bounded
 *   for any sequence length (the VAE's 16384 tokens included).
 *
 * flash: one fused kernel that never materialises scores (online softmax over key tiles of 32,
 *   fp32 FMA math, one thread per query). Heads wider than 64 (the VAE's single head of 512)
 *   are split along d: each block produces 64 output columns and accumulates the scores over
 *   all d in slices of 64 (so the score work is repeated per output slice). It is the
 *   memory-light reference for a tensor-core version and is slower than the gemm path; see
 *   docs/cuda.md.
 */
#include "cuda/cuda_internal.h"

namespace {

constexpr size_t kScoreBudget = (size_t)256 << 20;

constexpr int kFlashQ = 128;   /* queries per block = threads */
constexpr int kFlashK = 32;    /* keys per tile */
constexpr int kFlashD = 64;    /* d slice */

__global__ void __launch_bounds__(kFlashQ)
flash_fma(const void *q, const void *k, const void *v, void *o, int dt, int64_t Nq, int64_t Nk,
          int64_t D, int64_t HD, int nslices, float scale, int causal) {
    __shared__ float Ks[kFlashK][kFlashD];
    __shared__ float Vs[kFlashK][kFlashD];
    const int tid = threadIdx.x;
    const int64_t qi = (int64_t)blockIdx.x * kFlashQ + tid;
    const int h = blockIdx.y / nslices, sl = blockIdx.y % nslices;
    const int64_t b = blockIdx.z;
    const int64_t d0 = (int64_t)sl * kFlashD;
    const int64_t qbase = (b * Nq + (qi < Nq ? qi : Nq - 1)) * HD + (int64_t)h * D;
    const int64_t kvbase = b * Nk * HD + (int64_t)h * D;
    int64_t qlast = (int64_t)blockIdx.x * kFlashQ + kFlashQ - 1;
    if (qlast > Nq - 1) qlast = Nq - 1;

    float qr[kFlashD], acc[kFlashD];
    float m = -INFINITY, l = 0.0f;
#pragma unroll
    for (int e = 0; e < kFlashD; e++) acc[e] = 0.0f;
    const bool one_slice = D <= kFlashD;
    if (one_slice) {
#pragma unroll
        for (int e = 0; e < kFlashD; e++) qr[e] = e < D ? scale * se_ld(q, dt, qbase + e) : 0.0f;
    }
    for (int64_t kt = 0; kt < Nk; kt += kFlashK) {
        if (causal && kt > qlast) break;              /* block-uniform */
        float s[kFlashK];
#pragma unroll
        for (int j = 0; j < kFlashK; j++) s[j] = 0.0f;
        for (int64_t dd = 0; dd < D; dd += kFlashD) {
            __syncthreads();
            for (int idx = tid; idx < kFlashK * kFlashD; idx += kFlashQ) {
                int j = idx / kFlashD, e = idx % kFlashD;
                Ks[j][e] = (kt + j < Nk && dd + e < D) ? se_ld(k, dt, kvbase + (kt + j) * HD + dd + e) : 0.0f;
            }
            if (!one_slice) {
#pragma unroll
                for (int e = 0; e < kFlashD; e++)
                    qr[e] = dd + e < D ? scale * se_ld(q, dt, qbase + dd + e) : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int j = 0; j < kFlashK; j++) {
                float t = 0.0f;
#pragma unroll
                for (int e = 0; e < kFlashD; e++) t = fmaf(qr[e], Ks[j][e], t);
                s[j] += t;
            }
        }
        float mt = -INFINITY;
#pragma unroll
        for (int j = 0; j < kFlashK; j++) {
            bool ok = kt + j < Nk && (!causal || kt + j <= qi);
            s[j] = ok ? s[j] : -INFINITY;
            mt = fmaxf(mt, s[j]);
        }
        __syncthreads();
        for (int idx = tid; idx < kFlashK * kFlashD; idx += kFlashQ) {
            int j = idx / kFlashD, e = idx % kFlashD;
            Vs[j][e] = (kt + j < Nk && d0 + e < D) ? se_ld(v, dt, kvbase + (kt + j) * HD + d0 + e) : 0.0f;
        }
        __syncthreads();
        float mn = fmaxf(m, mt);
        if (mn == -INFINITY) continue;                /* every key so far masked */
        float corr = expf(m - mn);                    /* m = -inf gives 0 */
        l *= corr;
#pragma unroll
        for (int e = 0; e < kFlashD; e++) acc[e] *= corr;
#pragma unroll
        for (int j = 0; j < kFlashK; j++) {
            float p = expf(s[j] - mn);                /* masked: exp(-inf) = 0 */
            l += p;
#pragma unroll
            for (int e = 0; e < kFlashD; e++) acc[e] = fmaf(p, Vs[j][e], acc[e]);
        }
        m = mn;
    }
    if (qi < Nq) {
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
        for (int e = 0; e < kFlashD; e++)
            if (d0 + e < D) se_st(o, dt, qbase + d0 + e, acc[e] * inv);
    }
}

se_status attention_flash(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk,
                          int64_t H, int64_t D) {
    const se_tensor *q = op->src[0], *k = op->src[1], *v = op->src[2];
    se_tensor *y = op->dst;
    int64_t nsl = (D + kFlashD - 1) / kFlashD, gx = (Nq + kFlashQ - 1) / kFlashQ;
    if (H * nsl > 65535 || B > 65535 || gx > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda attention (flash): grid %lld x %lld x %lld too large",
                       (long long)gx, (long long)(H * nsl), (long long)B);
    dim3 grid((unsigned)gx, (unsigned)(H * nsl), (unsigned)B);
    flash_fma<<<grid, kFlashQ, 0, c->stream>>>(q->data, k->data, v->data, y->data, q->dtype, Nq, Nk,
                                                D, H * D, (int)nsl, op->f[0], op->i[1]);
    SE_CU_LAUNCH("attention");
    return SE_OK;
}

se_status attention_gemm(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk,
                         int64_t H, int64_t D) {
    const se_tensor *q = op->src[0], *k = op->src[1], *v = op->src[2];
    se_tensor *y = op->dst;
    const se_dtype dt = q->dtype;
    const size_t esz = se_dtype_size(dt);
    const int64_t HD = H * D;
    const size_t per_q = (size_t)(H * Nk) * (sizeof(float) + esz);
    int64_t tq = (int64_t)(kScoreBudget / per_q);
    if (tq < 1) tq = 1;
    if (tq > Nq) tq = Nq;
    if (tq > 64) tq = tq / 64 * 64;
    float *S = nullptr;
    void *P = nullptr;
    SE_TRY(se_cuda_scratch(c, "attention", (size_t)(H * tq * Nk) * sizeof(float), (void **)&S));
    se_status st = se_cuda_scratch(c, "attention", (size_t)(H * tq * Nk) * esz, &P);
    for (int64_t b = 0; st == SE_OK && b < B; b++) {
        const char *qb = (const char *)q->data + (size_t)(b * Nq * HD) * esz;
        const char *kb = (const char *)k->data + (size_t)(b * Nk * HD) * esz;
        const char *vb = (const char *)v->data + (size_t)(b * Nk * HD) * esz;
        char *yb = (char *)y->data + (size_t)(b * Nq * HD) * esz;
        for (int64_t q0 = 0; st == SE_OK && q0 < Nq; q0 += tq) {
            const int64_t nq = Nq - q0 < tq ? Nq - q0 : tq;
            se_gemm g{};           /* S[h] = scale * Q[h] K[h]^T, [nq, Nk] per head */
            g.ta = 0; g.tb = 1;
            g.M = nq; g.N = Nk; g.K = D;
            g.ab = dt; g.cdt = SE_F32;
            g.A = qb + (size_t)(q0 * HD) * esz; g.lda = HD; g.sA = D;
            g.B = kb; g.ldb = HD; g.sB = D;
            g.C = S; g.ldc = Nk; g.sC = nq * Nk;
            g.batch = H;
            g.alpha = op->f[0];
            g.beta = 0.0f;
            st = se_cuda_gemm(c, "attention", &g);
            if (st == SE_OK)
                st = se_cuda_softmax_rows(c, "attention", S, SE_F32, Nk, P, dt, Nk, H * nq, Nk, 1.0f,
                                          op->i[1], nq, q0);
            if (st != SE_OK) break;
            se_gemm g2{};          /* O[h] = P[h] V[h], written into dst's head columns */
            g2.ta = 0; g2.tb = 0;
            g2.M = nq; g2.N = D; g2.K = Nk;
            g2.ab = dt; g2.cdt = y->dtype;
            g2.A = P; g2.lda = Nk; g2.sA = nq * Nk;
            g2.B = vb; g2.ldb = HD; g2.sB = D;
            g2.C = yb + (size_t)(q0 * HD) * esz; g2.ldc = HD; g2.sC = D;
            g2.batch = H;
            g2.alpha = 1.0f;
            g2.beta = 0.0f;
            st = se_cuda_gemm(c, "attention", &g2);
        }
    }
    se_cuda_scratch_free(c, P);
    se_cuda_scratch_free(c, S);
    return st;
}

}  // namespace

extern "C" se_status se_cuda_attention(se_cuda *c, const se_op *op) {
    const se_tensor *q = op->src[0], *k = op->src[1], *v = op->src[2];
    se_tensor *y = op->dst;
    const int64_t B = q->ne[0], Nq = q->ne[1], HD = q->ne[2], Nk = k->ne[1], H = op->i[0];
    if (H < 1 || HD % H != 0 || k->ne[0] != B || v->ne[0] != B || k->ne[2] != HD ||
        v->ne[2] != HD || v->ne[1] != Nk || !se_tensor_same_shape(y, q))
        return se_fail(SE_ERR_SHAPE, "cuda attention: q '%s', k '%s', v '%s', dst '%s' with %lld "
                       "heads do not fit", q->name, k->name, v->name, y->name, (long long)H);
    if (op->i[1] && Nq != Nk)
        return se_fail(SE_ERR_SHAPE, "cuda attention: causal needs Nq == Nk, got %lld and %lld",
                       (long long)Nq, (long long)Nk);
    if (Nk == 0) return se_fail(SE_ERR_SHAPE, "cuda attention: no keys in '%s'", k->name);
    const int64_t D = HD / H;
    if (c->attn == SE_CUDA_ATTN_FLASH) return attention_flash(c, op, B, Nq, Nk, H, D);
    return attention_gemm(c, op, B, Nq, Nk, H, D);
}
