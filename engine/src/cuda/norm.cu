/*
 * norm.cu - GROUP_NORM (optionally fused with SiLU) and LAYER_NORM on the GPU.
 *
 * Group norm over NCHW: group (b, g) is one contiguous run of (C/G)*spatial elements. Large
 * groups (the VAE's 16 channels x 1024^2 pixels) would starve the GPU with one block per group,
 * so statistics are computed in three launches: partial sums over chunks of a group (shifted by
 * the group's first element to avoid cancellation, fp32 per block), a combine of the partials per
 * group in fp64 into (mean, rstd), and an elementwise normalise(+SiLU) pass over everything.
 * The partial sums and the apply pass read/write 8 elements per access (vec8.cuh) when the
 * spatial size is a multiple of 8 and x, dst are 16-byte aligned.
 * Layer norm: one block per row, two passes over the row (mean, then centred variance).
 * dtypes at run time (x, dst, gamma, beta each F32/F16/BF16); gamma/beta may be NULL (1, 0).
 */
#include "cuda/cuda_internal.h"
#include "cuda/vec8.cuh"

namespace {

constexpr int kChunk = 16384;     /* elements per partial-sum block */

/* grid (chunks, B*G). part[(bg*chunks + k)*2 + {0,1}] = sum(x-K), sum((x-K)^2). */
__global__ void gn_partial(const void *x, int xdt, int64_t gsize, int chunks, float *part) {
    __shared__ float sh[32];
    int64_t bg = blockIdx.y, k = blockIdx.x;
    int64_t base = bg * gsize, beg = k * (int64_t)kChunk;
    int64_t end = beg + kChunk < gsize ? beg + kChunk : gsize;
    float K = se_ld(x, xdt, base);
    float s = 0.0f, s2 = 0.0f;
    for (int64_t i = beg + threadIdx.x; i < end; i += blockDim.x) {
        float v = se_ld(x, xdt, base + i) - K;
        s += v;
        s2 += v * v;
    }
    s = se_block_reduce(s, sh, false);
    s2 = se_block_reduce(s2, sh, false);
    if (threadIdx.x == 0) {
        part[(bg * chunks + k) * 2] = s;
        part[(bg * chunks + k) * 2 + 1] = s2;
    }
}

/* gn_partial, 8 elements per access (vec8.cuh); needs gsize % 8 == 0 (so every group, chunk
 * start and end is a whole vector) and a 16-byte aligned x. */
__global__ void gn_partial8(const void *x, int xdt, int64_t gsize, int chunks, float *part) {
    __shared__ float sh[32];
    int64_t bg = blockIdx.y, k = blockIdx.x;
    int64_t base = bg * gsize, beg = k * (int64_t)kChunk;
    int64_t end = beg + kChunk < gsize ? beg + kChunk : gsize;
    float K = se_ld(x, xdt, base);
    float s = 0.0f, s2 = 0.0f;
    for (int64_t i = beg / 8 + threadIdx.x; i < end / 8; i += blockDim.x)
        se_gn_sum8(x, xdt, base / 8 + i, K, &s, &s2);
    s = se_block_reduce(s, sh, false);
    s2 = se_block_reduce(s2, sh, false);
    if (threadIdx.x == 0) {
        part[(bg * chunks + k) * 2] = s;
        part[(bg * chunks + k) * 2 + 1] = s2;
    }
}

/* One thread per group: stats[bg] = (mean, rstd). */
__global__ void gn_combine(const void *x, int xdt, int64_t gsize, int chunks, const float *part,
                           float2 *stats, int64_t ngroups, float eps) {
    int64_t bg = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (bg >= ngroups) return;
    double s = 0, s2 = 0;
    for (int k = 0; k < chunks; k++) {
        s += part[(bg * chunks + k) * 2];
        s2 += part[(bg * chunks + k) * 2 + 1];
    }
    double m = s / (double)gsize, var = s2 / (double)gsize - m * m;
    if (var < 0) var = 0;
    double K = se_ld(x, xdt, bg * gsize);
    stats[bg] = make_float2((float)(K + m), (float)(1.0 / sqrt(var + (double)eps)));
}

/* One (image, channel) row of S elements per blockIdx.x; blockIdx.y and the loop cover the row. */
__global__ void gn_apply(const void *x, int xdt, void *y, int ydt, const void *gamma, int gdt,
                         const void *beta, int bdt, const float2 *stats, int64_t S, int64_t C,
                         int64_t cpg, int silu) {
    const int64_t row = blockIdx.x, ch = row % C, b = row / C;
    const float2 st = stats[b * (C / cpg) + ch / cpg];
    const float g = gamma ? se_ld(gamma, gdt, ch) : 1.0f, be = beta ? se_ld(beta, bdt, ch) : 0.0f;
    const float sc = st.y * g;                    /* (x - mean) first: no cancellation */
    const int64_t base = row * S;
    for (int64_t e = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; e < S;
         e += (int64_t)gridDim.y * blockDim.x) {
        float v = fmaf(se_ld(x, xdt, base + e) - st.x, sc, be);
        if (silu) v = v / (1.0f + expf(-v));
        se_st(y, ydt, base + e, v);
    }
}

/* gn_apply, 8 elements per access; S % 8 == 0, x and y 16-byte aligned. */
__global__ void gn_apply8(const void *x, int xdt, void *y, int ydt, const void *gamma, int gdt,
                          const void *beta, int bdt, const float2 *stats, int64_t S, int64_t C,
                          int64_t cpg, int silu) {
    const int64_t row = blockIdx.x, ch = row % C, b = row / C;
    const float2 st = stats[b * (C / cpg) + ch / cpg];
    const float g = gamma ? se_ld(gamma, gdt, ch) : 1.0f, be = beta ? se_ld(beta, bdt, ch) : 0.0f;
    const float sc = st.y * g;
    const int64_t sv = S / 8, base = row * sv;
    for (int64_t e = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; e < sv;
         e += (int64_t)gridDim.y * blockDim.x)
        se_gn_apply8(x, xdt, y, ydt, base + e, st.x, sc, be, silu);
}

__global__ void ln_kernel(const void *x, int xdt, void *y, int ydt, const void *gamma, int gdt,
                          const void *beta, int bdt, int64_t D, float eps) {
    __shared__ float sh[32];
    int64_t base = (int64_t)blockIdx.x * D;
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) s += se_ld(x, xdt, base + j);
    float mean = se_block_reduce(s, sh, false) / (float)D;
    float s2 = 0.0f;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
        float d = se_ld(x, xdt, base + j) - mean;
        s2 += d * d;
    }
    float rstd = rsqrtf(se_block_reduce(s2, sh, false) / (float)D + eps);
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
        float v = (se_ld(x, xdt, base + j) - mean) * rstd;
        if (gamma) v *= se_ld(gamma, gdt, j);
        if (beta) v += se_ld(beta, bdt, j);
        se_st(y, ydt, base + j, v);
    }
}

}  // namespace

extern "C" se_status se_cuda_group_norm(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0], *g = op->src[1], *b = op->src[2];
    se_tensor *y = op->dst;
    int64_t B = x->ne[0], C = x->ne[1], G = op->i[0];
    int64_t n = se_tensor_numel(x), S = n / (B * C);
    if (se_tensor_numel(y) != n || G < 1 || C % G != 0)
        return se_fail(SE_ERR_SHAPE, "cuda group_norm: x '%s', dst '%s', %lld groups of %lld "
                       "channels do not fit", x->name, y->name, (long long)G, (long long)C);
    int64_t cpg = C / G, gsize = cpg * S, ngroups = B * G;
    int64_t chunks64 = (gsize + kChunk - 1) / kChunk;
    if (chunks64 > 0x7fffffffLL || ngroups > 65535 || B * C > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda group_norm: '%s' has groups of %lld elements x %lld "
                       "groups (limits: 2^31 chunks of %d, 65535 groups)", x->name,
                       (long long)gsize, (long long)ngroups, kChunk);
    int chunks = (int)chunks64;
    float *part = nullptr;
    size_t part_bytes = (size_t)ngroups * chunks * 2 * sizeof(float);
    SE_TRY(se_cuda_scratch(c, "group_norm", part_bytes + (size_t)ngroups * sizeof(float2) + 16,
                           (void **)&part));
    float2 *stats = (float2 *)((char *)part + ((part_bytes + 15) / 16) * 16);
    /* 8-wide when every (image, channel) row is whole vectors and the pointers are aligned. */
    const bool v8 = se_vec8_ok(S, x->data, nullptr, y->data);
    if (v8)
        gn_partial8<<<dim3((unsigned)chunks, (unsigned)ngroups), 256, 0, c->stream>>>(
            x->data, x->dtype, gsize, chunks, part);
    else
        gn_partial<<<dim3((unsigned)chunks, (unsigned)ngroups), 256, 0, c->stream>>>(
            x->data, x->dtype, gsize, chunks, part);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {
        gn_combine<<<(unsigned)((ngroups + 127) / 128), 128, 0, c->stream>>>(
            x->data, x->dtype, gsize, chunks, part, stats, ngroups, op->f[0]);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) {
        const int64_t sw = v8 ? S / 8 : S;   /* accesses per row */
        const int64_t yb = (sw + 255) / 256 < 1024 ? (sw + 255) / 256 : 1024;
        if (v8)
            gn_apply8<<<dim3((unsigned)(B * C), (unsigned)yb), 256, 0, c->stream>>>(
                x->data, x->dtype, y->data, y->dtype, g ? g->data : nullptr, g ? g->dtype : SE_F32,
                b ? b->data : nullptr, b ? b->dtype : SE_F32, stats, S, C, cpg, op->i[1]);
        else
            gn_apply<<<dim3((unsigned)(B * C), (unsigned)yb), 256, 0, c->stream>>>(
                x->data, x->dtype, y->data, y->dtype, g ? g->data : nullptr, g ? g->dtype : SE_F32,
                b ? b->data : nullptr, b ? b->dtype : SE_F32, stats, S, C, cpg, op->i[1]);
        e = cudaGetLastError();
    }
    se_cuda_scratch_free(c, part);
    if (e != cudaSuccess) return se_cuda_fail("group_norm", "group norm kernels", __FILE__, __LINE__, e);
    return SE_OK;
}

extern "C" se_status se_cuda_layer_norm(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0], *g = op->src[1], *b = op->src[2];
    se_tensor *y = op->dst;
    int64_t D = x->ne[x->ndim > 0 ? x->ndim - 1 : 0], n = se_tensor_numel(x);
    if (D <= 0 || se_tensor_numel(y) != n)
        return se_fail(SE_ERR_SHAPE, "cuda layer_norm: x '%s' and dst '%s' differ", x->name, y->name);
    int64_t rows = n / D;
    if (rows > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda layer_norm: %lld rows", (long long)rows);
    int threads = D >= 1024 ? 256 : 128;
    ln_kernel<<<(unsigned)rows, threads, 0, c->stream>>>(
        x->data, x->dtype, y->data, y->dtype, g ? g->data : nullptr, g ? g->dtype : SE_F32,
        b ? b->data : nullptr, b ? b->dtype : SE_F32, D, op->f[0]);
    SE_CU_LAUNCH("layer_norm");
    return SE_OK;
}
