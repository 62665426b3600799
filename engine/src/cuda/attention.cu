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
 * flash: fused kernels that never materialise scores (online softmax over key tiles).
 *   - bf16/f16 with head dim 64 (every SDXL UNet attention): flash_wmma, tensor cores through
 *     WMMA: 4 warps x 16 queries, key tiles of 64 in shared memory, S = Q K^T and O += P V as
 *     16x16x16 MMAs with fp32 accumulation, the softmax state and O in shared memory (fp32).
 *   - bf16/f16 with head dim 512 (the VAE mid-block's single head), sm_80+: flash512
 *     (attention_flash512.cu), tensor cores through mma.sync: 32 queries per block, key/value
 *     tiles of 32, O (fp32) in registers.
 *   - everything else (F32, other head dims, d = 512 where flash512 does not apply): flash_fma, fp32 FMA,
 *     one thread per query, key tiles of 32. Heads wider than 64 are split along d: each block
 *     produces 64 output columns and accumulates the scores over all d in slices of 64 (so the
 *     score work is repeated per output slice).
 *   See docs/cuda.md for what has been measured (nothing yet: no GPU so far).
 */
#include <mma.h>

#include "cuda/attention_flash512.h"
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

/* ---- tensor-core flash attention, head dim 64, bf16/f16 ---- */

constexpr int kWQ = 64;            /* queries per block: 4 warps x 16 rows */
constexpr int kWK = 64;            /* keys per tile */
constexpr int kWD = 64;            /* head dim */
constexpr int kLdT = kWD + 8;      /* shared row stride of Q/K/V tiles, elements (16-byte pad) */
constexpr int kLdF = kWK + 4;      /* shared row stride of the fp32 S and O tiles */

template <typename T>
constexpr size_t flash_wmma_smem() {
    return 3 * kWQ * kLdT * sizeof(T) + 2 * kWQ * kLdF * sizeof(float) + 2 * kWQ * sizeof(float);
}

template <typename T> __device__ __forceinline__ T to_t(float v);
template <> __device__ __forceinline__ __half to_t<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 to_t<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

/* grid (ceil(Nq/64), H, B), 128 threads. Warp w owns query rows [16w, 16w+16) of the block;
 * in the softmax step lanes 2i and 2i+1 share row 16w+i (32 columns each). P overwrites the
 * row's fp32 scores in place as T (after both lanes have read them). */
template <typename T>
__global__ void __launch_bounds__(128)
flash_wmma(const T *q, const T *k, const T *v, T *o, int64_t Nq, int64_t Nk, int64_t HD,
           float scale, int causal) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    extern __shared__ __align__(128) unsigned char smem[];
    T *Qs = (T *)smem, *Ks = Qs + kWQ * kLdT, *Vs = Ks + kWK * kLdT;
    float *Sf = (float *)(Vs + kWK * kLdT), *Of = Sf + kWQ * kLdF, *Ml = Of + kWQ * kLdF;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int64_t q0 = (int64_t)blockIdx.x * kWQ, b = blockIdx.z;
    const int64_t hoff = (int64_t)blockIdx.y * kWD;
    const T zero = to_t<T>(0.0f);

    for (int idx = tid; idx < kWQ * kWD; idx += blockDim.x) {
        int r = idx / kWD, e = idx % kWD;
        Qs[r * kLdT + e] = q0 + r < Nq ? q[(b * Nq + q0 + r) * HD + hoff + e] : zero;
    }
    for (int idx = tid; idx < kWQ * kLdF; idx += blockDim.x) Of[idx] = 0.0f;
    for (int idx = tid; idx < kWQ; idx += blockDim.x) {
        Ml[idx] = -INFINITY;
        Ml[kWQ + idx] = 0.0f;
    }
    const int r = warp * 16 + (lane >> 1), half = lane & 1;   /* softmax row and column half */
    const int64_t qi = q0 + r;
    int64_t qlast = q0 + kWQ - 1;
    if (qlast > Nq - 1) qlast = Nq - 1;

    for (int64_t kt = 0; kt < Nk; kt += kWK) {
        if (causal && kt > qlast) break;                       /* block-uniform */
        __syncthreads();                                        /* previous tile fully used */
        for (int idx = tid; idx < kWK * kWD; idx += blockDim.x) {
            int j = idx / kWD, e = idx % kWD;
            bool ok = kt + j < Nk;
            Ks[j * kLdT + e] = ok ? k[(b * Nk + kt + j) * HD + hoff + e] : zero;
            Vs[j * kLdT + e] = ok ? v[(b * Nk + kt + j) * HD + hoff + e] : zero;
        }
        __syncthreads();
        /* S (16 x 64 per warp) = Q_w K^T */
        for (int j = 0; j < kWK / 16; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kk = 0; kk < kWD / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, Qs + warp * 16 * kLdT + kk * 16, kLdT);
                wmma::load_matrix_sync(fb, Ks + j * 16 * kLdT + kk * 16, kLdT);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Sf + warp * 16 * kLdF + j * 16, acc, kLdF, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax for row r, columns [32*half, 32*half + 32) */
        const float m_old = Ml[r], l_old = Ml[kWQ + r];
        float sv[32], mx = -INFINITY;
#pragma unroll
        for (int c = 0; c < 32; c++) {
            int64_t kj = kt + half * 32 + c;
            float t = Sf[r * kLdF + half * 32 + c] * scale;
            sv[c] = (kj < Nk && (!causal || kj <= qi)) ? t : -INFINITY;
            mx = fmaxf(mx, sv[c]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        const float m_new = fmaxf(m_old, mx);
        const float corr = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
        float sum = 0.0f;
#pragma unroll
        for (int c = 0; c < 32; c++) {
            sv[c] = m_new == -INFINITY ? 0.0f : expf(sv[c] - m_new);
            sum += sv[c];
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        __syncwarp();                                           /* both lanes read their scores */
        T *Prow = (T *)(Sf + r * kLdF);
#pragma unroll
        for (int c = 0; c < 32; c++) {
            Prow[half * 32 + c] = to_t<T>(sv[c]);
            Of[r * kLdF + half * 32 + c] *= corr;
        }
        if (half == 0) {
            Ml[r] = m_new;
            Ml[kWQ + r] = l_old * corr + sum;
        }
        __syncwarp();
        /* O_w (16 x 64) += P_w (16 x 64 keys) V (64 keys x 64) */
        const T *Pw = (const T *)(Sf + warp * 16 * kLdF);
        for (int j = 0; j < kWD / 16; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Of + warp * 16 * kLdF + j * 16, kLdF, wmma::mem_row_major);
            for (int kk = 0; kk < kWK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, Pw + kk * 16, 2 * kLdF);
                wmma::load_matrix_sync(fb, Vs + kk * 16 * kLdT + j * 16, kLdT);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Of + warp * 16 * kLdF + j * 16, acc, kLdF, wmma::mem_row_major);
        }
    }
    __syncwarp();
    if (qi < Nq) {
        const float l = Ml[kWQ + r], inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
        for (int c = 0; c < 32; c++)
            o[(b * Nq + qi) * HD + hoff + half * 32 + c] = to_t<T>(Of[r * kLdF + half * 32 + c] * inv);
    }
#else
    __trap();   /* bf16/f16 WMMA needs sm_80; the launcher never picks this kernel below it */
#endif
}

template <typename T>
se_status launch_flash_wmma(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk,
                            int64_t H) {
    const size_t smem = flash_wmma_smem<T>();
    SE_CU("attention", cudaFuncSetAttribute(flash_wmma<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)smem));
    dim3 grid((unsigned)((Nq + kWQ - 1) / kWQ), (unsigned)H, (unsigned)B);
    flash_wmma<T><<<grid, 128, smem, c->stream>>>(
        (const T *)op->src[0]->data, (const T *)op->src[1]->data, (const T *)op->src[2]->data,
        (T *)op->dst->data, Nq, Nk, H * kWD, op->f[0], op->i[1]);
    SE_CU_LAUNCH("attention");
    return SE_OK;
}

se_status attention_flash(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk,
                          int64_t H, int64_t D) {
    const se_dtype dt = op->src[0]->dtype;
    se_status st = SE_OK;
    if (se_cuda_flash512_applies(c, op, B, Nq, H, D, &st)) return se_cuda_flash512(c, op, B, Nq, Nk, H);
    if (st != SE_OK) return st;
    if (D == kWD && c->sm_major >= 8 && H <= 65535 && B <= 65535 &&
        (Nq + kWQ - 1) / kWQ <= 0x7fffffffLL) {
        if (dt == SE_BF16) return launch_flash_wmma<__nv_bfloat16>(c, op, B, Nq, Nk, H);
        if (dt == SE_F16) return launch_flash_wmma<__half>(c, op, B, Nq, Nk, H);
    }
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
