/*
 * softmax.cu - row softmax on the GPU: the SOFTMAX op (softmax(scale * x) over the last dim) and
 * the softmax step of the unfused attention path (F32 scores in, P in the compute dtype out,
 * optional causal mask). One block per row, three passes (max, sum of exp, write), fp32 math.
 * Non-causal rows whose length and strides are multiples of 8 (aligned) take the 8-wide kernel
 * (vec8.cuh).
 */
#include "cuda/cuda_internal.h"
#include "cuda/vec8.cuh"

namespace {

/* Row r is query q0 + (r % rows_per_head) when causal: keys j > that query are masked. */
__global__ void softmax_k(const void *x, int xdt, int64_t ldx, void *y, int ydt, int64_t ldy,
                          int64_t n, float scale, int causal, int64_t rows_per_head, int64_t q0) {
    __shared__ float sh[32];
    int64_t r = blockIdx.x;
    int64_t lim = causal ? q0 + (r % rows_per_head) + 1 : n;   /* valid keys: [0, lim) */
    if (lim > n) lim = n;
    const int64_t xb = r * ldx, yb = r * ldy;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < lim; j += blockDim.x) m = fmaxf(m, scale * se_ld(x, xdt, xb + j));
    m = se_block_reduce(m, sh, true);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < lim; j += blockDim.x) s += expf(scale * se_ld(x, xdt, xb + j) - m);
    float inv = 1.0f / se_block_reduce(s, sh, false);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        float p = j < lim ? expf(scale * se_ld(x, xdt, xb + j) - m) * inv : 0.0f;
        se_st(y, ydt, yb + j, p);
    }
}

/* softmax_k for non-causal rows, 8 elements per access: n, ldx, ldy multiples of 8 and x, y
 * 16-byte aligned (so every row starts on a whole vector). */
__global__ void softmax8_k(const void *x, int xdt, int64_t ldx, void *y, int ydt, int64_t ldy,
                           int64_t n, float scale) {
    __shared__ float sh[32];
    const int64_t r = blockIdx.x, nv = n / 8, xb = r * (ldx / 8), yb = r * (ldy / 8);
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < nv; j += blockDim.x) se_softmax_max8(x, xdt, xb + j, scale, &m);
    m = se_block_reduce(m, sh, true);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < nv; j += blockDim.x) se_softmax_sum8(x, xdt, xb + j, scale, m, &s);
    const float inv = 1.0f / se_block_reduce(s, sh, false);
    for (int64_t j = threadIdx.x; j < nv; j += blockDim.x)
        se_softmax_write8(x, xdt, xb + j, y, ydt, yb + j, scale, m, inv);
}

}  // namespace

extern "C" se_status se_cuda_softmax_rows(se_cuda *c, const char *opname, const void *x,
                                          se_dtype xdt, int64_t ldx, void *y, se_dtype ydt,
                                          int64_t ldy, int64_t rows, int64_t n, float scale,
                                          int causal, int64_t rows_per_head, int64_t q0) {
    if (rows <= 0 || n <= 0) return SE_OK;
    if (rows > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda %s: %lld softmax rows", opname, (long long)rows);
    if (!causal && ldx % 8 == 0 && ldy % 8 == 0 && se_vec8_ok(n, x, nullptr, y)) {
        const int64_t nv = n / 8;
        const int t8 = nv >= 512 ? 256 : 128;
        softmax8_k<<<(unsigned)rows, t8, 0, c->stream>>>(x, xdt, ldx, y, ydt, ldy, n, scale);
        SE_CU_LAUNCH(opname);
        return SE_OK;
    }
    int threads = n >= 2048 ? 512 : n >= 512 ? 256 : 128;
    softmax_k<<<(unsigned)rows, threads, 0, c->stream>>>(x, xdt, ldx, y, ydt, ldy, n, scale,
                                                         causal, rows_per_head < 1 ? 1 : rows_per_head,
                                                         q0);
    SE_CU_LAUNCH(opname);
    return SE_OK;
}

extern "C" se_status se_cuda_softmax(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0];
    se_tensor *y = op->dst;
    int64_t n = x->ne[x->ndim > 0 ? x->ndim - 1 : 0], tot = se_tensor_numel(x);
    if (n <= 0 || se_tensor_numel(y) != tot)
        return se_fail(SE_ERR_SHAPE, "cuda softmax: x '%s' and dst '%s' differ", x->name, y->name);
    return se_cuda_softmax_rows(c, "softmax", x->data, x->dtype, n, y->data, y->dtype, n, tot / n,
                                n, op->f[0], 0, 1, 0);
}
