/*
 * conv.cu - CONV2D on the GPU without an im2col buffer: a sum of shifted GEMMs (one per kernel
 * row and column phase, 3 for 3x3 stride 1) over a padded, phase-split, column-shifted copy of
 * the input, all through cuBLAS.
 *
 * Layout: activations stay NCHW (op.h) and nothing is converted to NHWC. For stride s and pad p
 * the input is packed once per call into planes xph[b][phase][shift][ci][PS]:
 *   phase (py, px) in [0,s)^2 holds the padded input at rows py + s*i, columns px + s*j
 *   (i < Hq, j < Wq; Wq is rounded up to a multiple of 8 so every tap's GEMM operand stays
 *   16-byte aligned for the tensor cores), and shift sx in [0, (kw-1)/s] is that plane moved
 *   left by sx columns. Tap (ky, kx) then reads plane (ky%s, kx%s, kx/s) at a whole-row offset
 *   (ky/s)*Wq. The taps of one kernel row ky with the same column phase px = kx%s read the
 *   consecutive planes sx = 0..n-1 of phase (ky%s, px), which together form one [n*Cin x Q]
 *   matrix with row stride PS. So out[b][co][y*Wq + x] += W_g[co][:] . planes[:, y*Wq + x + off]
 *   is one GEMM [Cout x n*Cin] x [n*Cin x Ho*Wq] per (ky, px) group, batched over images: 3
 *   GEMMs with K = 3*Cin for 3x3 stride 1 (6 for stride 2). Columns x >= Wo of that padded
 *   output grid are garbage and dropped by the epilogue, which adds the bias and converts to
 *   dst's dtype. Accumulation over the groups is in an F32 buffer (fp32 accumulate, one rounding).
 * The packed input is s*s*nsh planes per channel (3x the input for 3x3 stride 1: three column
 * shifts); the F32 output grid is Cout*Ho*Wq floats. Both are bounded by splitting the batch, and the
 * GEMMs are split along the output grid so the F32 accumulator of a chunk stays in L2.
 * 1x1 stride-1 unpadded convolutions are one batched GEMM straight on x and dst.
 * Weights are rearranged into [group (ky, px)][Cout][sx][Cin] once per weight and kept in the
 * backend's conv weight cache (wcache.h; per call while a graph is captured, or when the cache
 * is off or full).
 * bf16/f16 3x3 stride-1 pad-1 convolutions with Cin % 8 == 0 go to the tensor-core implicit GEMM
 * instead (conv_igemm.cu: no packed input, no F32 grid), which reads the same cached weight
 * layout; STRIKE_CUDA_CONV=gemm (read at each call) forces the path here for comparison.
 */
#include "cuda/conv_igemm.h"
#include "cuda/cuda_internal.h"

namespace {

/* Packs one row [image][phase][shift][ci] of PS elements per blockIdx.x (see the file comment);
 * blockIdx.y and the loop cover the row. 32-bit index math inside a row (PS < 2^31 is checked by
 * the launcher). nsh = column shifts. */
__global__ void pack_input(const void *x, int xdt, void *xp, int pdt, int Cin, int H, int W, int s,
                           int p, int Hq, int Wq, int PS, int nsh) {
    const int64_t row = blockIdx.x;
    const int ci = (int)(row % Cin);
    int64_t t = row / Cin;
    const int sx = (int)(t % nsh);
    t /= nsh;
    const int ph = (int)(t % (s * s));
    const int64_t b = t / (s * s);
    const int py = ph / s, px = ph % s;
    const int64_t xbase = (b * Cin + ci) * (int64_t)H * W, ybase = row * (int64_t)PS;
    for (int e = blockIdx.y * blockDim.x + threadIdx.x; e < PS; e += gridDim.y * blockDim.x) {
        float v = 0.0f;
        const int ee = e + sx;
        if (ee < Hq * Wq) {
            const int iy = ee / Wq, ix = ee - iy * Wq;
            const int yy = py + s * iy - p, xx = px + s * ix - p;
            if (yy >= 0 && yy < H && xx >= 0 && xx < W) v = se_ld(x, xdt, xbase + (int64_t)yy * W + xx);
        }
        se_st(xp, pdt, ybase + e, v);
    }
}

/* Group (ky, px) of the weights: wt[co][sx][ci] = w[co][ci][ky][px + s*sx], sx < n. */
__global__ void pack_weights(const void *w, int dt, void *wt, int64_t Cout, int64_t Cin, int kh,
                             int kw, int ky, int px, int s, int n) {
    int64_t total = Cout * n * Cin;
    SE_GRID_STRIDE(i, total) {
        int64_t ci = i % Cin, t = i / Cin, sx = t % n, co = t / n;
        se_st(wt, dt, i, se_ld(w, dt, ((co * Cin + ci) * kh + ky) * kw + px + s * sx));
    }
}

/* dst[b][co][y][x] = acc[b][co][y*Wq + x] + bias[co]: one output row (b, co, y) per blockIdx.x. */
__global__ void epilogue(const float *acc, void *y, int ydt, const void *bias, int bdt, int Cout,
                         int Ho, int Wo, int Wq) {
    const int64_t row = blockIdx.x;               /* (b*Cout + co)*Ho + yo */
    const int co = (int)((row / Ho) % Cout);
    const float bv = bias ? se_ld(bias, bdt, co) : 0.0f;
    const float *src = acc + row * Wq;            /* acc row (b*Cout + co)*Ho + yo of Wq floats */
    for (int xo = blockIdx.y * blockDim.x + threadIdx.x; xo < Wo; xo += gridDim.y * blockDim.x)
        se_st(y, ydt, row * Wo + xo, src[xo] + bv);
}

/* y[b][co][:] = bias[co] for the 1x1 path (the GEMM then accumulates with beta = 1); one
 * (b, co) row per blockIdx.x. */
__global__ void fill_rows(void *y, int ydt, const void *bias, int bdt, int64_t Cout, int64_t HW) {
    const int64_t row = blockIdx.x;
    const float v = se_ld(bias, bdt, row % Cout);
    SE_ROW_STRIDE(j, HW) se_st(y, ydt, row * HW + j, v);
}

/* The weights of a conv in GEMM layout [group (ky, px)][Cout][sx][Cin] (groups packed back to
 * back, woff[g] elements apart, gn[g] taps each): from the backend's conv weight cache (packed by
 * an earlier call on the same weight), or packed now into a fresh buffer that the cache keeps
 * when the call succeeds and it fits (conv_weights_done). Not during a graph capture: there the
 * packing is part of the graph, as without the cache. The implicit-GEMM path (conv_igemm.cu)
 * reads the same layout for stride 1, so both paths share cache entries. */
struct conv_wt {
    void *wt;
    bool cached, use_cache;
    se_wcache_key key;
    size_t wt_bytes, wbytes;
    int64_t woff[8 * 4];
    int gn[8 * 4];
};

se_status conv_weights(se_cuda *c, const se_tensor *w, int s, conv_wt *cw) {
    const se_dtype dt = w->dtype;
    const size_t esz = se_dtype_size(dt);
    const int64_t Cout = w->ne[0], Cin = w->ne[1], kh = w->ne[2], kw = w->ne[3];
    cw->wt_bytes = (size_t)(kh * kw * Cout * Cin) * esz;
    cw->wbytes = cw->wt_bytes;
    cw->key = se_wcache_key{};
    cw->key.w = w->data; cw->key.dt = (int)dt; cw->key.cout = Cout; cw->key.cin = Cin;
    cw->key.kh = kh; cw->key.kw = kw; cw->key.s = s;
    cw->use_cache = !c->capturing && c->wcache.enabled;
    cw->wt = cw->use_cache ? se_wcache_find(&c->wcache, &cw->key) : nullptr;
    cw->cached = cw->wt != nullptr;
    if (!cw->cached) SE_TRY(se_cuda_scratch(c, "conv2d", cw->wt_bytes, &cw->wt));
    int64_t wpos = 0;
    se_status st = SE_OK;
    for (int ky = 0; ky < (int)kh; ky++)
        for (int px = 0; px < s; px++) {
            const int g = ky * s + px, n = px < (int)kw ? ((int)kw - 1 - px) / s + 1 : 0;
            cw->gn[g] = n;
            cw->woff[g] = wpos;
            wpos += Cout * n * Cin;
            if (st == SE_OK && n > 0 && !cw->cached) {
                pack_weights<<<se_cuda_blocks(Cout * n * Cin), 256, 0, c->stream>>>(
                    w->data, dt, (char *)cw->wt + (size_t)cw->woff[g] * esz, Cout, Cin, (int)kh,
                    (int)kw, ky, px, s, n);
                cudaError_t e = cudaGetLastError();
                if (e != cudaSuccess) st = se_cuda_fail("conv2d", "pack_weights<<<>>>", __FILE__, __LINE__, e);
            }
        }
    if (st != SE_OK && !cw->cached) se_cuda_scratch_free(c, cw->wt);
    return st;
}

/* After the conv's work is queued (status st): a freshly packed copy goes to the cache when the
 * call succeeded and it fits; otherwise it is scratch. A cached copy is never freed here. */
void conv_weights_done(se_cuda *c, conv_wt *cw, se_status st) {
    if (cw->cached) return;
    if (!(st == SE_OK && cw->use_cache &&
          se_wcache_insert(&c->wcache, &cw->key, cw->wbytes, cw->wt, cw->wt_bytes)))
        se_cuda_scratch_free(c, cw->wt);
}

constexpr size_t kScratchBudget = (size_t)1 << 30;   /* packed input + F32 grid per batch chunk */
constexpr size_t kL2Budget = (size_t)24 << 20;       /* F32 accumulator per GEMM chunk */

se_status conv_1x1(se_cuda *c, const se_op *op, int64_t B, int64_t Cin, int64_t HW, int64_t Cout) {
    const se_tensor *x = op->src[0], *w = op->src[1], *bias = op->src[2];
    se_tensor *y = op->dst;
    if (bias) {
        if (B * Cout > 0x7fffffffLL)
            return se_fail(SE_ERR_UNSUPPORTED, "cuda conv2d: %lld output rows", (long long)(B * Cout));
        fill_rows<<<se_cuda_rows_grid(B * Cout, HW), 256, 0, c->stream>>>(y->data, y->dtype, bias->data,
                                                                         bias->dtype, Cout, HW);
        SE_CU_LAUNCH("conv2d");
    }
    se_gemm g{};
    g.M = Cout; g.N = HW; g.K = Cin;
    g.ab = x->dtype; g.cdt = y->dtype;
    g.A = w->data; g.lda = Cin; g.sA = 0;
    g.B = x->data; g.ldb = HW; g.sB = Cin * HW;
    g.C = y->data; g.ldc = HW; g.sC = Cout * HW;
    g.batch = B;
    g.alpha = 1.0f;
    g.beta = bias ? 1.0f : 0.0f;
    return se_cuda_gemm(c, "conv2d", &g);
}

}  // namespace

extern "C" se_status se_cuda_conv2d(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0], *w = op->src[1], *bias = op->src[2];
    se_tensor *y = op->dst;
    const int s = op->i[0], p = op->i[1];
    const int64_t B = x->ne[0], Cin = x->ne[1], H = x->ne[2], W = x->ne[3];
    const int64_t Cout = w->ne[0], kh = w->ne[2], kw = w->ne[3];
    char sx_[64], sw_[64], sy_[64];
    if (w->ne[1] != Cin || H + 2 * p < kh || W + 2 * p < kw)
        return se_fail(SE_ERR_SHAPE, "cuda conv2d: x '%s' %s and weight '%s' %s do not fit (stride "
                       "%d, pad %d)", x->name, se_tensor_shape_str(x, sx_, sizeof sx_), w->name,
                       se_tensor_shape_str(w, sw_, sizeof sw_), s, p);
    const int64_t Ho = (H + 2 * p - kh) / s + 1, Wo = (W + 2 * p - kw) / s + 1;
    if (y->ne[0] != B || y->ne[1] != Cout || y->ne[2] != Ho || y->ne[3] != Wo)
        return se_fail(SE_ERR_SHAPE, "cuda conv2d: dst '%s' is %s, expected [%lld,%lld,%lld,%lld]",
                       y->name, se_tensor_shape_str(y, sy_, sizeof sy_), (long long)B,
                       (long long)Cout, (long long)Ho, (long long)Wo);
    if (kh == 1 && kw == 1 && s == 1 && p == 0) return conv_1x1(c, op, B, Cin, H * W, Cout);
    se_status sel = SE_OK;
    if (se_cuda_conv_igemm_applies(c, op, &sel)) {    /* bf16/f16 3x3 s1 p1: conv_igemm.cu */
        conv_wt cw;
        SE_TRY(conv_weights(c, w, s, &cw));
        se_status st = se_cuda_conv_igemm(c, op, cw.wt);
        conv_weights_done(c, &cw, st);
        return st;
    }
    if (sel != SE_OK) return sel;

    const se_dtype dt = x->dtype;
    const size_t esz = se_dtype_size(dt);
    const int nsh = (int)((kw - 1) / s + 1);
    if (kh > 8 || s > 4)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda conv2d: kernel height %lld or stride %d too large",
                       (long long)kh, s);
    const int64_t Hp = H + 2 * p, Wp = W + 2 * p;
    const int64_t Hq = (Hp + s - 1) / s, Wq = ((Wp + s - 1) / s + 7) / 8 * 8;
    const int64_t Q = Ho * Wq, offmax = ((kh - 1) / s) * Wq;
    int64_t PS = Hq * Wq > Q + offmax ? Hq * Wq : Q + offmax;
    PS = (PS + 7) / 8 * 8;
    const int64_t planes = (int64_t)s * s * nsh;                 /* per image and channel */
    if (PS > 0x7fffffffLL || B * planes * Cin > 0x7fffffffLL || B * Cout * Ho > 0x7fffffffLL ||
        Cin > 0x7fffffffLL || Cout > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda conv2d: x '%s' %s is too large for the packed "
                       "layout (plane of %lld elements)", x->name,
                       se_tensor_shape_str(x, sx_, sizeof sx_), (long long)PS);
    const size_t pack_per_img = (size_t)(planes * Cin * PS) * esz;
    const size_t acc_per_img = (size_t)(Cout * Q) * sizeof(float);
    int64_t nbc = (int64_t)(kScratchBudget / (pack_per_img + acc_per_img));
    if (nbc < 1) nbc = 1;
    if (nbc > B) nbc = B;

    /* The weights in GEMM layout (from the cache, or packed now; see conv_weights). */
    conv_wt cw;
    SE_TRY(conv_weights(c, w, s, &cw));
    const void *wt = cw.wt;
    void *xp = nullptr;
    float *acc = nullptr;
    se_status st = se_cuda_scratch(c, "conv2d", pack_per_img * (size_t)nbc, &xp);
    if (st == SE_OK) st = se_cuda_scratch(c, "conv2d", acc_per_img * (size_t)nbc, (void **)&acc);
    /* Output-grid chunk so that nb images x Cout x Qc floats stay in L2 (multiple of 8). */
    for (int64_t b0 = 0; st == SE_OK && b0 < B; b0 += nbc) {
        const int64_t nb = B - b0 < nbc ? B - b0 : nbc;
        const int64_t prow = nb * planes * Cin;
        const unsigned py_blocks = (unsigned)((PS + 255) / 256 < 1024 ? (PS + 255) / 256 : 1024);
        pack_input<<<dim3((unsigned)prow, py_blocks), 256, 0, c->stream>>>(
            (const char *)x->data + (size_t)(b0 * Cin * H * W) * esz, dt, xp, dt, (int)Cin, (int)H,
            (int)W, s, p, (int)Hq, (int)Wq, (int)PS, nsh);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) {
            st = se_cuda_fail("conv2d", "pack_input<<<>>>", __FILE__, __LINE__, e);
            break;
        }
        int64_t Qc = (int64_t)(kL2Budget / ((size_t)(nb * Cout) * sizeof(float))) / 8 * 8;
        if (Qc < 2048) Qc = 2048;
        if (Qc > Q) Qc = Q;
        for (int64_t q0 = 0; st == SE_OK && q0 < Q; q0 += Qc) {
            const int64_t qn = Q - q0 < Qc ? Q - q0 : Qc;
            bool first = true;
            for (int g = 0; st == SE_OK && g < (int)kh * s; g++) {
                const int ky = g / s, px = g % s, n = cw.gn[g];
                if (n == 0) continue;
                const int64_t plane = ((int64_t)((ky % s) * s + px)) * nsh;   /* sx = 0 */
                const int64_t off = (ky / s) * Wq;
                se_gemm gm{};
                gm.M = Cout; gm.N = qn; gm.K = n * Cin;
                gm.ab = dt; gm.cdt = SE_F32;
                gm.A = (const char *)wt + (size_t)cw.woff[g] * esz; gm.lda = n * Cin; gm.sA = 0;
                gm.B = (const char *)xp + (size_t)(plane * Cin * PS + off + q0) * esz;
                gm.ldb = PS; gm.sB = planes * Cin * PS;
                gm.C = acc + q0; gm.ldc = Q; gm.sC = Cout * Q;
                gm.batch = nb;
                gm.alpha = 1.0f;
                gm.beta = first ? 0.0f : 1.0f;
                first = false;
                st = se_cuda_gemm(c, "conv2d", &gm);
            }
        }
        if (st != SE_OK) break;
        const int64_t erow = nb * Cout * Ho;
        const unsigned ey_blocks = (unsigned)((Wo + 255) / 256);
        epilogue<<<dim3((unsigned)erow, ey_blocks), 256, 0, c->stream>>>(
            acc, (char *)y->data + (size_t)(b0 * Cout * Ho * Wo) * se_dtype_size(y->dtype), y->dtype,
            bias ? bias->data : nullptr, bias ? bias->dtype : SE_F32, (int)Cout, (int)Ho, (int)Wo,
            (int)Wq);
        e = cudaGetLastError();
        if (e != cudaSuccess) st = se_cuda_fail("conv2d", "epilogue<<<>>>", __FILE__, __LINE__, e);
    }
    se_cuda_scratch_free(c, acc);
    se_cuda_scratch_free(c, xp);
    conv_weights_done(c, &cw, st);
    return st;
}
