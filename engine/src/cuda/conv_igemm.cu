/*
 * conv_igemm.cu - CONV2D 3x3 stride 1 pad 1 in bf16/f16 as an implicit GEMM on tensor cores
 * (WMMA 16x16x16, fp32 accumulation), for the VAE's and UNet's large 3x3 convolutions.
 *
 * GEMM view: C[co][n] = sum_k A[co][k] * X[k][n] with M = Cout, N = B*H*W output pixels
 * (n = (b*H + y)*W + x) and K = 9*Cin ordered tap-major: k = (ky*3 + kx)*Cin + ci.
 *   A[co][(ky,kx,ci)] = wt[ky][co][kx][ci]   (the conv weight cache's stride-1 layout, conv.cu)
 *   X[(ky,kx,ci)][n]  = x[b][ci][y+ky-1][x+kx-1], 0 outside the image (pad 1)
 * Nothing is packed: each block gathers its X tile from x straight into shared memory.
 *
 * Block tile 128 (Cout) x 128 (pixels), K in chunks of 32 that never straddle a tap: the chunk
 * loop runs over the 9 taps and, per tap, over ceil(Cin/32) channel chunks (channels past Cin
 * are zeros). 256 threads = 8 warps as 2 (M) x 4 (N); a warp owns 64 x 32 of C = 4 x 2 WMMA
 * accumulators. Double-buffered shared tiles: the next chunk's global loads go to registers in
 * two halves, each issued before one of the chunk's two k16 MMA steps and stored to the other
 * buffer after it (that buffer was last read before the previous __syncthreads). Halving the
 * staging keeps the kernel at <= 128 registers, i.e. two blocks (16 warps) per SM.
 *   - A loads: 2 x 16 bytes per thread (rows tid/4 and tid/4 + 64, 8 channels at (tid%4)*8);
 *     needs Cin % 8 == 0 (checked by the launcher) so every 8-channel group is whole and aligned.
 *   - X loads: each thread owns one pixel column (tid % 128) of the tile for the whole call and
 *     loads 16 channel rows (tid/128 + 2j) of it per chunk (8 per half), kept as raw 16-bit
 *     patterns two per register (0 is +0.0 in both bf16 and f16); consecutive threads read
 *     consecutive pixels (coalesced within an image row).
 * Epilogue: each warp stores one 16x16 accumulator at a time into its own 1 KiB of shared memory,
 * then its lanes add the bias and write dst (NCHW, dst's dtype) with bounds on Cout and N.
 * Shared memory (static, < 48 KiB): A 2 x 128 x 40 x 2 B = 20480, X 2 x 32 x 136 x 2 B = 17408,
 * epilogue 8 x 256 x 4 B = 8192; total 46080 bytes. Rows are padded by 8 elements (16 B) so
 * every WMMA tile pointer stays 32-byte aligned and ldm a multiple of 8.
 * Index math: the image offset and output offsets in int64 (B*Cin*H*W may pass 2^31); offsets
 * within one image (Cin*H*W) and within the weights (9*Cin*Cout) in int, both < 2^31 (checked by
 * the launcher). Registers: 122-128 on sm_80..sm_90 with __launch_bounds__(256, 2), no spills.
 * The tile logic is simulated block by block in sim/conv_igemm_sim.py.
 */
#include <mma.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/conv_igemm.h"
#include "cuda/kernel_counts.h"

namespace {

constexpr int kBM = 128;            /* output channels per block */
constexpr int kBN = 128;            /* output pixels per block */
constexpr int kBK = 32;             /* K chunk (channels of one tap) */
constexpr int kThreads = 256;
constexpr int kLdA = kBK + 8;       /* shared row stride of the A tile, elements */
constexpr int kLdX = kBN + 8;       /* shared row stride of the X tile, elements */

template <typename T> __device__ __forceinline__ T igemm_to_t(float v);
template <> __device__ __forceinline__ __half igemm_to_t<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 igemm_to_t<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/* grid (ceil(N / 128), ceil(Cout / 128)), 256 threads. See the file comment. */
template <typename T>
__global__ void __launch_bounds__(kThreads, 2)
conv3x3_igemm(const T *__restrict__ x, const T *__restrict__ wt, const void *bias, int bdt,
              T *__restrict__ y, int Cin, int H, int W, int Cout, int64_t N) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    __shared__ __align__(128) T As[2][kBM * kLdA];
    __shared__ __align__(128) T Xs[2][kBK * kLdX];
    __shared__ __align__(128) float Cs[kThreads / 32][16 * 16];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int64_t n0 = (int64_t)blockIdx.x * kBN;
    const int m0 = blockIdx.y * kBM;
    const int HW = H * W;

    /* X loader: this thread's pixel column xn of the tile, channel rows xk0 + 2j */
    const int xn = tid % kBN, xk0 = tid / kBN;
    const int64_t np = n0 + xn;
    const bool pix_ok = np < N;
    int py = 0, px = 0;
    const unsigned short *ximg = (const unsigned short *)x;   /* channel 0 of this pixel's image */
    if (pix_ok) {
        const int64_t img = np / HW;
        const int p = (int)(np - img * HW);
        py = p / W;
        px = p - py * W;
        ximg += img * Cin * (int64_t)HW;
    }
    /* A loader: rows am and am + 64 of the tile, channels ac..ac+7 of the chunk */
    const int am = tid >> 2, ac = (tid & 3) * 8;
    const int cch = (Cin + kBK - 1) / kBK;               /* channel chunks per tap */
    const int nk = 9 * cch;
    const int lda = 3 * Cin;                             /* row (co) stride of one ky group */

    uint4 ra[2];
    unsigned rx[kBK / 8];          /* 8 X values as bits, two per register (half a chunk) */
    auto load = [&](int kc, int part) {
        const int tap = kc / cch, ci0 = (kc - tap * cch) * kBK;
        const int ky = tap / 3, kx = tap - ky * 3;
#pragma unroll
        for (int j = 0; j < 2; j++) {
            if (part) break;
            const int co = m0 + am + 64 * j, ci = ci0 + ac;
            if (co < Cout && ci < Cin)
                ra[j] = *(const uint4 *)(wt + ((ky * Cout + co) * lda + kx * Cin + ci));   /* < 9*Cout*Cin < 2^31 */
            else
                ra[j] = make_uint4(0u, 0u, 0u, 0u);
        }
        const int yy = py + ky - 1, xx = px + kx - 1;
        const bool in = pix_ok && yy >= 0 && yy < H && xx >= 0 && xx < W;
        const int base = yy * W + xx;                     /* used only when in */
#pragma unroll
        for (int jj = 0; jj < kBK / 8; jj++) {
            const int j = part * (kBK / 8) + jj;
            const int ci = ci0 + xk0 + 4 * j;             /* rows ci and ci + 2 */
            /* offsets within one image: Cin*H*W < 2^31 (checked by the launcher) */
            const unsigned lo = (in && ci < Cin) ? ximg[base + ci * HW] : 0u;
            const unsigned hi = (in && ci + 2 < Cin) ? ximg[base + (ci + 2) * HW] : 0u;
            rx[jj] = lo | (hi << 16);
        }
    };
    auto store = [&](int buf, int part) {
        if (!part) {
#pragma unroll
            for (int j = 0; j < 2; j++) *(uint4 *)&As[buf][(am + 64 * j) * kLdA + ac] = ra[j];
        }
        unsigned short *xs = (unsigned short *)Xs[buf];
#pragma unroll
        for (int jj = 0; jj < kBK / 8; jj++) {
            const int j = part * (kBK / 8) + jj;
            xs[(xk0 + 4 * j) * kLdX + xn] = (unsigned short)(rx[jj] & 0xffffu);
            xs[(xk0 + 4 * j + 2) * kLdX + xn] = (unsigned short)(rx[jj] >> 16);
        }
    };

    const int wm = warp >> 2, wn = warp & 3;             /* warp tile rows 64*wm, columns 32*wn */
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);

    load(0, 0);
    store(0, 0);
    load(0, 1);
    store(0, 1);
    __syncthreads();
    for (int kc = 0; kc < nk; kc++) {
        const int cur = kc & 1;
        const bool more = kc + 1 < nk;
        if (more) load(kc + 1, 0);                       /* in flight during the kk = 0 MMAs */
#pragma unroll
        for (int kk = 0; kk < kBK / 16; kk++) {
            if (kk == 1 && more) {                       /* buffer cur^1: last read before the previous sync */
                store(cur ^ 1, 0);
                load(kc + 1, 1);                         /* in flight during the kk = 1 MMAs */
            }
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb[2];
#pragma unroll
            for (int j = 0; j < 2; j++)
                wmma::load_matrix_sync(fb[j], &Xs[cur][kk * 16 * kLdX + wn * 32 + j * 16], kLdX);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                wmma::load_matrix_sync(fa, &As[cur][(wm * 64 + i * 16) * kLdA + kk * 16], kLdA);
#pragma unroll
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa, fb[j], acc[i][j]);
            }
        }
        if (more) store(cur ^ 1, 1);
        __syncthreads();
    }

    /* epilogue: one 16x16 accumulator at a time through this warp's Cs */
    float *cs = Cs[warp];
    const int col = lane & 15;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
            wmma::store_matrix_sync(cs, acc[i][j], 16, wmma::mem_row_major);
            __syncwarp();
            const int64_t n = n0 + wn * 32 + j * 16 + col;
            if (n < N) {
                const int64_t img = n / HW, p = n - img * HW;
                for (int r = lane >> 4; r < 16; r += 2) {
                    const int co = m0 + wm * 64 + i * 16 + r;
                    if (co < Cout) {
                        const float bv = bias ? se_ld(bias, bdt, co) : 0.0f;
                        y[(img * Cout + co) * (int64_t)HW + p] = igemm_to_t<T>(cs[r * 16 + col] + bv);
                    }
                }
            }
            __syncwarp();                                /* cs is rewritten by the next tile */
        }
#else
    __trap();   /* bf16/f16 WMMA needs sm_80; the launcher never picks this kernel below it */
#endif
}

uint64_t g_igemm_launches = 0;   /* kernel_counts.h */

template <typename T>
se_status launch_igemm(se_cuda *c, const se_op *op, const void *wt) {
    const se_tensor *x = op->src[0], *bias = op->src[2];
    se_tensor *y = op->dst;
    const int64_t B = x->ne[0], Cin = x->ne[1], H = x->ne[2], W = x->ne[3], Cout = y->ne[1];
    const int64_t N = B * H * W;
    dim3 grid((unsigned)((N + kBN - 1) / kBN), (unsigned)((Cout + kBM - 1) / kBM));
    conv3x3_igemm<T><<<grid, kThreads, 0, c->stream>>>(
        (const T *)x->data, (const T *)wt, bias ? bias->data : nullptr, bias ? (int)bias->dtype : (int)SE_F32,
        (T *)y->data, (int)Cin, (int)H, (int)W, (int)Cout, N);
    SE_CU_LAUNCH("conv2d");
    __atomic_fetch_add(&g_igemm_launches, 1, __ATOMIC_RELAXED);
    return SE_OK;
}

}  // namespace

extern "C" uint64_t se_cuda_conv_igemm_launches(void) {
    return __atomic_load_n(&g_igemm_launches, __ATOMIC_RELAXED);
}

bool se_cuda_conv_igemm_applies(const se_cuda *c, const se_op *op, se_status *st) {
    *st = SE_OK;
    const char *sel = getenv("STRIKE_CUDA_CONV");
    if (sel && strcmp(sel, "gemm") == 0) return false;
    if (sel && *sel && strcmp(sel, "igemm") != 0) {
        *st = se_fail(SE_ERR_INVALID_ARG, "cuda conv2d: STRIKE_CUDA_CONV='%s': expected igemm or gemm", sel);
        return false;
    }
    const se_tensor *x = op->src[0], *w = op->src[1];
    const se_dtype dt = x->dtype;
    if ((dt != SE_BF16 && dt != SE_F16) || c->sm_major < 8) return false;
    if (w->ne[2] != 3 || w->ne[3] != 3 || op->i[0] != 1 || op->i[1] != 1) return false;
    const int64_t B = x->ne[0], Cin = x->ne[1], H = x->ne[2], W = x->ne[3], Cout = w->ne[0];
    if (Cin % 8 != 0 || Cin < 8 || Cout < 1 || B < 1 || H < 1 || W < 1) return false;
    /* int limits of the kernel: offsets within one image and within the weights; grid sizes */
    if (Cin > (1LL << 26) || Cout > (1LL << 26) || Cin * H * W > 0x7fffffffLL ||
        9 * Cin * Cout > 0x7fffffffLL)
        return false;
    const int64_t N = B * H * W;
    if ((N + kBN - 1) / kBN > 0x7fffffffLL || (Cout + kBM - 1) / kBM > 65535) return false;
    /* 16-byte loads of the weights need an aligned buffer (pool and cache buffers are) */
    return true;
}

se_status se_cuda_conv_igemm(se_cuda *c, const se_op *op, const void *wt) {
    if (((uintptr_t)wt & 15u) != 0)
        return se_fail(SE_ERR_INTERNAL, "cuda conv2d (igemm): packed weights of '%s' not 16-byte "
                       "aligned", op->src[1]->name);
    if (op->src[0]->dtype == SE_BF16) return launch_igemm<__nv_bfloat16>(c, op, wt);
    return launch_igemm<__half>(c, op, wt);
}
