/*
 * act.cu - activations on the GPU: SILU, GELU (exact erf), QUICK_GELU (x*sigmoid(1.702x)),
 * GEGLU (x[..., :n] * gelu_erf(x[..., n:])). Memory-bound: one grid-stride kernel each, dtypes
 * read and written at run time (F32/F16/BF16 in any combination), math in fp32. 8-wide
 * (vec8.cuh) when the pointers are 16-byte aligned and the count (GEGLU: row width) % 8 == 0.
 */
#include "cuda/cuda_internal.h"
#include "cuda/vec8.cuh"

namespace {

__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* kind: 0 silu, 1 gelu, 2 quick_gelu */
__global__ void act_kernel(const void *x, int xdt, void *y, int ydt, int64_t n, int kind) {
    SE_GRID_STRIDE(i, n) {
        float v = se_ld(x, xdt, i), r;
        if (kind == 0) r = v / (1.0f + expf(-v));
        else if (kind == 1) r = gelu_erf(v);
        else r = v / (1.0f + expf(-1.702f * v));
        se_st(y, ydt, i, r);
    }
}

/* x rows of 2h, y rows of h; one row per blockIdx.x. */
__global__ void geglu_kernel(const void *x, int xdt, void *y, int ydt, int64_t h) {
    const int64_t r = blockIdx.x;
    SE_ROW_STRIDE(j, h) {
        float a = se_ld(x, xdt, r * 2 * h + j), g = se_ld(x, xdt, r * 2 * h + h + j);
        se_st(y, ydt, r * h + j, a * gelu_erf(g));
    }
}

/* The 8-wide versions (vec8.cuh). */
__global__ void act_kernel8(const void *x, int xdt, void *y, int ydt, int64_t nv, int kind) {
    SE_GRID_STRIDE(v, nv) se_act8(x, xdt, y, ydt, v, kind);
}

/* One row per blockIdx.x; hv = h / 8 vectors per output row. */
__global__ void geglu_kernel8(const void *x, int xdt, void *y, int ydt, int64_t h) {
    const int64_t r = blockIdx.x;
    SE_ROW_STRIDE(j, h / 8) se_geglu8(x, xdt, y, ydt, h, r, j);
}

}  // namespace

extern "C" se_status se_cuda_act(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0];
    se_tensor *y = op->dst;
    const char *name = se_op_name(op->kind);
    int64_t n = se_tensor_numel(y);
    if (op->kind == SE_OP_GEGLU) {
        int64_t h = y->ne[y->ndim > 0 ? y->ndim - 1 : 0];
        if (h <= 0 || se_tensor_numel(x) != 2 * n)
            return se_fail(SE_ERR_SHAPE, "cuda geglu: x '%s' has %lld elements, dst '%s' %lld: "
                           "expected x = 2 * dst", x->name, (long long)se_tensor_numel(x), y->name,
                           (long long)n);
        if (n / h > 0x7fffffffLL)
            return se_fail(SE_ERR_UNSUPPORTED, "cuda geglu: %lld rows", (long long)(n / h));
        if (h % 8 == 0 && se_vec8_ok(n, x->data, nullptr, y->data))
            geglu_kernel8<<<se_cuda_rows_grid(n / h, h / 8), 256, 0, c->stream>>>(
                x->data, x->dtype, y->data, y->dtype, h);
        else
            geglu_kernel<<<se_cuda_rows_grid(n / h, h), 256, 0, c->stream>>>(x->data, x->dtype,
                                                                            y->data, y->dtype, h);
        SE_CU_LAUNCH(name);
        return SE_OK;
    }
    if (se_tensor_numel(x) != n)
        return se_fail(SE_ERR_SHAPE, "cuda %s: x '%s' and dst '%s' differ in size", name, x->name,
                       y->name);
    int kind = op->kind == SE_OP_SILU ? 0 : op->kind == SE_OP_GELU ? 1 : 2;
    if (se_vec8_ok(n, x->data, nullptr, y->data))
        act_kernel8<<<se_cuda_blocks(n / 8), 256, 0, c->stream>>>(x->data, x->dtype, y->data,
                                                                  y->dtype, n / 8, kind);
    else
        act_kernel<<<se_cuda_blocks(n), 256, 0, c->stream>>>(x->data, x->dtype, y->data, y->dtype,
                                                             n, kind);
    SE_CU_LAUNCH(name);
    return SE_OK;
}
