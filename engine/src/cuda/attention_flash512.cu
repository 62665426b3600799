/*
 * attention_flash512.cu - fused (flash) attention for head dim 512 in bf16/f16 on tensor cores
 * (mma.sync m16n8k16, fp32 accumulation, fp32 online softmax): the VAE mid-block's single head,
 * 16384 tokens at 1024 px, without ever materialising the score matrix.
 *
 * Block: 64 queries of one (image, head), 512 threads = 16 warps; key/value tiles of 32 keys.
 * (64 rather than 32 queries per block halves the K/V traffic from L2: every block streams all
 * of K and V, 32 MiB at 16384 tokens.)
 * Per key tile:
 *   1. K tile [32 keys][512] -> shared (row-major).
 *   2. S = Q K^T (64 x 32, fp32): warp w computes rows 16*(w/4).. (16) x keys 8*(w%4).. (8) over
 *      the whole d = 512 (32 MMAs) and stores it to Sf.
 *   3. V tile -> shared, transposed (Vt[d][key], so the P V operand pairs along keys are
 *      adjacent); at the same time the online softmax: 8 threads per query row, 4 keys each:
 *      running max m, correction exp(m_old - m_new), P = exp(s - m_new) (as T) into Ps, running
 *      sum l (fp32), the row's correction into Cr.
 *   4. O += P V: warp w owns O rows 16*(w/4).. (16) x columns 128*(w%4).. (128) in registers
 *      (16 m16n8 accumulators = 64 fp32 per thread), first scaled by its rows' corrections.
 * The end divides by l and writes dst (rows past Nq are never written).
 * Fragment layouts are the PTX ISA's for mma.m16n8k16 with .f16/.bf16 A/B and .f32 C/D
 * (groupID g = lane/4, t = lane%4): A regs {(g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..)};
 * B regs {(k 2t..2t+1, n g), (k 2t+8..2t+9, n g)}; C {(g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)}.
 * Every operand pair is two adjacent 16-bit elements in shared memory (one 32-bit load).
 *
 * Shared memory (dynamic, set with cudaFuncSetAttribute since it is over 48 KiB):
 *   Q tile  64 x 520 x 2 B                    = 66560
 *   K tile  32 x 520 x 2 B / Vt 512 x 40 x 2 B = 40960 (one buffer: K is dead once S is stored)
 *   Sf      64 x 36 x 4 B                     =  9216
 *   Ps      64 x 40 x 2 B                     =  5120
 *   m, l, corr 3 x 64 x 4 B                   =   768
 *   total 122624 bytes: within the opt-in limit of sm_80 (163 KiB) and sm_90 (227 KiB), one
 *   block (16 warps) per SM; sm_86/sm_89 (99 KiB) fall back to flash_fma (the launcher checks
 *   the device's limit). Registers: 126 per thread, no spills (the cap is 128 at 512 threads).
 *   Row strides padded by 8 elements (16 B) keep the 32-bit fragment loads free of bank
 *   conflicts (520 elements = 260 words = 4 mod 32; 40 elements = 20 words).
 * Index math in int64 for global offsets. The tile and fragment logic, including the
 * online-softmax rescaling and partial tiles at the ends of Nq and Nk, is simulated lane by lane
 * in sim/flash512_sim.py.
 */
#include "cuda/attention_flash512.h"
#include "cuda/kernel_counts.h"

namespace {

constexpr int kQ = 64;                 /* queries per block */
constexpr int kK = 32;                 /* keys per tile */
constexpr int kD = 512;                /* head dim */
constexpr int kThreads = 512;          /* 16 warps: 4 row groups of 16 queries x 4 */
constexpr int kLdQ = kD + 8;           /* Q and K tiles, elements */
constexpr int kLdV = kK + 8;           /* Vt[d][key], elements */
constexpr int kLdS = kK + 4;           /* Sf, floats */
constexpr int kLdP = kK + 8;           /* Ps, elements */
constexpr size_t kSmemQ = (size_t)kQ * kLdQ * 2;
constexpr size_t kSmemKV = ((size_t)kK * kLdQ > (size_t)kD * kLdV ? (size_t)kK * kLdQ : (size_t)kD * kLdV) * 2;
constexpr size_t kSmemS = (size_t)kQ * kLdS * 4;
constexpr size_t kSmemP = (size_t)kQ * kLdP * 2;
constexpr size_t kSmem = kSmemQ + kSmemKV + kSmemS + kSmemP + 3 * kQ * 4;
static_assert(kSmem == 122624, "shared memory budget in the file comment");
static_assert(kThreads == kQ * 8 && kThreads / 32 == (kQ / 16) * 4, "8 softmax threads per row; "
              "warps = row groups x 4 (S: 4 x 8 keys = kK; O: 4 x 128 columns = kD)");
static_assert(kSmemQ % 16 == 0 && kSmemKV % 16 == 0 && kSmemS % 16 == 0 && kSmemP % 16 == 0,
              "16-byte aligned shared regions");

template <typename T> __device__ __forceinline__ T f512_to_t(float v);
template <> __device__ __forceinline__ __half f512_to_t<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 f512_to_t<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/* d (4 floats) += a (4 regs of 2 x T) * b (2 regs of 2 x T): one m16n8k16 MMA. */
template <typename T> __device__ __forceinline__ void mma16816(float *d, const unsigned *a, const unsigned *b);
template <> __device__ __forceinline__ void mma16816<__nv_bfloat16>(float *d, const unsigned *a, const unsigned *b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                 "{%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}
template <> __device__ __forceinline__ void mma16816<__half>(float *d, const unsigned *a, const unsigned *b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                 "{%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

__device__ __forceinline__ unsigned ld32(const void *p) { return *(const unsigned *)p; }

/* grid (ceil(Nq / 64), H, B), 512 threads, kSmem bytes of dynamic shared memory. */
template <typename T>
__global__ void __launch_bounds__(kThreads, 1)
flash512(const T *__restrict__ q, const T *__restrict__ k, const T *__restrict__ v, T *__restrict__ o,
         int64_t Nq, int64_t Nk, int64_t HD, float scale, int causal) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    extern __shared__ __align__(128) unsigned char smem[];
    T *Qs = (T *)smem;
    T *KV = (T *)(smem + kSmemQ);                       /* K tile [key][d], then Vt [d][key] */
    float *Sf = (float *)(smem + kSmemQ + kSmemKV);
    T *Ps = (T *)(smem + kSmemQ + kSmemKV + kSmemS);
    float *Mr = (float *)(smem + kSmemQ + kSmemKV + kSmemS + kSmemP), *Lr = Mr + kQ, *Cr = Lr + kQ;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, t = lane & 3;
    const int64_t q0 = (int64_t)blockIdx.x * kQ, b = blockIdx.z;
    const int64_t hoff = (int64_t)blockIdx.y * kD;
    const uint4 z4 = make_uint4(0u, 0u, 0u, 0u);

    /* Q tile: 64 rows x 64 16-byte pieces; rows past Nq are zeros */
    for (int idx = tid; idx < kQ * (kD / 8); idx += kThreads) {
        const int r = idx / (kD / 8), c8 = (idx % (kD / 8)) * 8;
        *(uint4 *)&Qs[r * kLdQ + c8] =
            q0 + r < Nq ? *(const uint4 *)&q[(b * Nq + q0 + r) * HD + hoff + c8] : z4;
    }
    if (tid < kQ) {
        Mr[tid] = -INFINITY;
        Lr[tid] = 0.0f;
    }
    const int rg = warp >> 2;                            /* row group: rows 16*rg.. */
    const int sn = warp & 3;                             /* S: keys 8*sn.. of the tile */
    const int oc = (warp & 3) * 128;                     /* O: columns oc.. */
    float acc[16][4];
#pragma unroll
    for (int nt = 0; nt < 16; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;
    /* softmax: row sr, keys 4*sp.. */
    const int sr = tid >> 3, sp = tid & 7;
    const int64_t sq = q0 + sr;
    int64_t qlast = q0 + kQ - 1;
    if (qlast > Nq - 1) qlast = Nq - 1;

    for (int64_t kt = 0; kt < Nk; kt += kK) {
        if (causal && kt > qlast) break;                 /* block-uniform */
        __syncthreads();                                 /* previous P V done with KV, Ps, Cr */
        for (int idx = tid; idx < kK * (kD / 8); idx += kThreads) {
            const int j = idx / (kD / 8), c8 = (idx % (kD / 8)) * 8;
            *(uint4 *)&KV[j * kLdQ + c8] =
                kt + j < Nk ? *(const uint4 *)&k[(b * Nk + kt + j) * HD + hoff + c8] : z4;
        }
        __syncthreads();
        {   /* S tile: rows 16*rg + (g, g+8), keys 8*sn + 2t, +1 */
            float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            const T *qa = Qs + (rg * 16 + g) * kLdQ + 2 * t;
            const T *kb = KV + (sn * 8 + g) * kLdQ + 2 * t;
#pragma unroll 8
            for (int ks = 0; ks < kD / 16; ks++) {
                unsigned a[4], bb[2];
                a[0] = ld32(qa + ks * 16);
                a[1] = ld32(qa + 8 * kLdQ + ks * 16);
                a[2] = ld32(qa + ks * 16 + 8);
                a[3] = ld32(qa + 8 * kLdQ + ks * 16 + 8);
                bb[0] = ld32(kb + ks * 16);
                bb[1] = ld32(kb + ks * 16 + 8);
                mma16816<T>(s, a, bb);
            }
            float *srow = Sf + (rg * 16 + g) * kLdS + sn * 8 + 2 * t;
            srow[0] = s[0];
            srow[1] = s[1];
            srow[8 * kLdS] = s[2];
            srow[8 * kLdS + 1] = s[3];
        }
        __syncthreads();                                 /* S complete; K no longer read */
        /* V tile transposed: a warp takes 32 keys of one 8-column piece (conflict-free stores) */
        for (int idx = tid; idx < kK * (kD / 8); idx += kThreads) {
            const int j = idx % kK, c8 = (idx / kK) * 8;
            uint4 u = kt + j < Nk ? *(const uint4 *)&v[(b * Nk + kt + j) * HD + hoff + c8] : z4;
            const T *e = (const T *)&u;
#pragma unroll
            for (int i = 0; i < 8; i++) KV[(c8 + i) * kLdV + j] = e[i];
        }
        {   /* online softmax for row sr, keys 4*sp .. 4*sp + 3 */
            const float m_old = Mr[sr], l_old = Lr[sr];
            float sv[4], mx = -INFINITY;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int64_t kj = kt + sp * 4 + i;
                const float x = Sf[sr * kLdS + sp * 4 + i] * scale;
                sv[i] = (kj < Nk && (!causal || kj <= sq)) ? x : -INFINITY;
                mx = fmaxf(mx, sv[i]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
            const float m_new = fmaxf(m_old, mx);
            const float corr = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
            float sum = 0.0f;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const float p = m_new == -INFINITY ? 0.0f : expf(sv[i] - m_new);
                sum += p;
                Ps[sr * kLdP + sp * 4 + i] = f512_to_t<T>(p);
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            sum += __shfl_xor_sync(0xffffffffu, sum, 4);
            __syncwarp();                                /* all 8 threads of the row read m, l */
            if (sp == 0) {
                Mr[sr] = m_new;
                Lr[sr] = l_old * corr + sum;
                Cr[sr] = corr;
            }
        }
        __syncthreads();                                 /* Vt, Ps, Cr complete */
        {   /* O (rows 16*rg + g, +8; columns oc + 8*nt + 2t, +1) = corr * O + P V */
            const float c0 = Cr[rg * 16 + g], c1 = Cr[rg * 16 + g + 8];
#pragma unroll
            for (int nt = 0; nt < 16; nt++) {
                acc[nt][0] *= c0;
                acc[nt][1] *= c0;
                acc[nt][2] *= c1;
                acc[nt][3] *= c1;
            }
            const T *pa = Ps + (rg * 16 + g) * kLdP + 2 * t;
#pragma unroll
            for (int ks = 0; ks < kK / 16; ks++) {
                unsigned a[4];
                a[0] = ld32(pa + ks * 16);
                a[1] = ld32(pa + 8 * kLdP + ks * 16);
                a[2] = ld32(pa + ks * 16 + 8);
                a[3] = ld32(pa + 8 * kLdP + ks * 16 + 8);
                const T *vb = KV + (oc + g) * kLdV + ks * 16 + 2 * t;
#pragma unroll
                for (int nt = 0; nt < 16; nt++) {
                    unsigned bb[2];
                    bb[0] = ld32(vb + nt * 8 * kLdV);
                    bb[1] = ld32(vb + nt * 8 * kLdV + 8);
                    mma16816<T>(acc[nt], a, bb);
                }
            }
        }
    }
    /* Lr was last written before the final __syncthreads of the loop */
    const int r0 = rg * 16 + g;
    const float l0 = Lr[r0], l1 = Lr[r0 + 8];
    const float i0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
#pragma unroll
    for (int nt = 0; nt < 16; nt++) {
        const int64_t col = hoff + oc + nt * 8 + 2 * t;
        if (q0 + r0 < Nq) {
            T *dst = o + (b * Nq + q0 + r0) * HD + col;
            dst[0] = f512_to_t<T>(acc[nt][0] * i0);
            dst[1] = f512_to_t<T>(acc[nt][1] * i0);
        }
        if (q0 + r0 + 8 < Nq) {
            T *dst = o + (b * Nq + q0 + r0 + 8) * HD + col;
            dst[0] = f512_to_t<T>(acc[nt][2] * i1);
            dst[1] = f512_to_t<T>(acc[nt][3] * i1);
        }
    }
#else
    __trap();   /* mma.sync with bf16/f16 needs sm_80; the launcher never picks this kernel below it */
#endif
}

uint64_t g_flash512_launches = 0;   /* kernel_counts.h */

template <typename T>
se_status launch_flash512(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk, int64_t H) {
    SE_CU("attention", cudaFuncSetAttribute(flash512<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)kSmem));
    dim3 grid((unsigned)((Nq + kQ - 1) / kQ), (unsigned)H, (unsigned)B);
    flash512<T><<<grid, kThreads, kSmem, c->stream>>>(
        (const T *)op->src[0]->data, (const T *)op->src[1]->data, (const T *)op->src[2]->data,
        (T *)op->dst->data, Nq, Nk, H * kD, op->f[0], op->i[1]);
    SE_CU_LAUNCH("attention");
    __atomic_fetch_add(&g_flash512_launches, 1, __ATOMIC_RELAXED);
    return SE_OK;
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

}  // namespace

bool se_cuda_flash512_applies(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t H,
                              int64_t D, se_status *st) {
    *st = SE_OK;
    const se_dtype dt = op->src[0]->dtype;
    if (D != kD || (dt != SE_BF16 && dt != SE_F16) || c->sm_major < 8) return false;
    if (H > 65535 || B > 65535 || (Nq + kQ - 1) / kQ > 0x7fffffffLL) return false;
    if (!aligned16(op->src[0]->data) || !aligned16(op->src[1]->data) || !aligned16(op->src[2]->data) ||
        !aligned16(op->dst->data))
        return false;
    int optin = 0;
    cudaError_t e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, c->device);
    if (e != cudaSuccess) {
        *st = se_cuda_fail("attention", "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)",
                           __FILE__, __LINE__, e);
        return false;
    }
    return (size_t)optin >= kSmem;
}

extern "C" uint64_t se_cuda_flash512_launches(void) {
    return __atomic_load_n(&g_flash512_launches, __ATOMIC_RELAXED);
}

se_status se_cuda_flash512(se_cuda *c, const se_op *op, int64_t B, int64_t Nq, int64_t Nk, int64_t H) {
    if (op->src[0]->dtype == SE_BF16) return launch_flash512<__nv_bfloat16>(c, op, B, Nq, Nk, H);
    return launch_flash512<__half>(c, op, B, Nq, Nk, H);
}
