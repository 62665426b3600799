/*
 * shape.cu - data movement on the GPU: UPSAMPLE_NEAREST2X, CONCAT (any dim) and COPY (any source
 * strides, a dim permutation, dtype conversion). Grid-stride kernels over dst elements with
 * run-time dtypes; every dst element is written exactly once.
 */
#include "cuda/cuda_internal.h"

namespace {

/* One source row (b, c, y) per blockIdx.x, written to dst rows 2y and 2y+1. */
__global__ void upsample2x(const void *x, int xdt, void *y, int ydt, int64_t W) {
    const int64_t row = blockIdx.x;               /* (b*C + c)*H + yi */
    const int64_t W2 = 2 * W, out0 = 2 * row * W2;
    for (int64_t xo = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; xo < W2;
         xo += (int64_t)gridDim.y * blockDim.x) {
        float v = se_ld(x, xdt, row * W + xo / 2);
        se_st(y, ydt, out0 + xo, v);
        se_st(y, ydt, out0 + W2 + xo, v);
    }
}

/* dst viewed as [outer, ca + cb, inner]; I = index type (uint32_t when counts fit). */
template <typename I>
__global__ void concat_k(const void *a, int adt, const void *b, int bdt, void *y, int ydt,
                         int64_t n, I ca, I cb, I inner) {
    SE_GRID_STRIDE(i, n) {
        I ii = (I)i, in = ii % inner, t = ii / inner, j = t % (ca + cb), o = t / (ca + cb);
        float v = j < ca ? se_ld(a, adt, (int64_t)((o * ca + j) * inner + in))
                         : se_ld(b, bdt, (int64_t)((o * cb + (j - ca)) * inner + in));
        se_st(y, ydt, i, v);
    }
}

struct copy_geom {
    int64_t ne[SE_MAX_DIMS];   /* dst extents, padded to 4 with leading 1s */
    int64_t sb[SE_MAX_DIMS];   /* source byte stride for each dst dim (0 for padding) */
};

__global__ void copy_k(const char *x, int xdt, void *y, int ydt, int64_t n, copy_geom g) {
    SE_GRID_STRIDE(i, n) {
        int64_t r = i, off = 0;
        for (int d = SE_MAX_DIMS - 1; d >= 0; d--) {
            off += (r % g.ne[d]) * g.sb[d];
            r /= g.ne[d];
        }
        se_st(y, ydt, i, se_ld(x + off, xdt, 0));
    }
}

se_status do_upsample(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0];
    se_tensor *y = op->dst;
    if (y->ndim != 4 || y->ne[0] != x->ne[0] || y->ne[1] != x->ne[1] || y->ne[2] != 2 * x->ne[2] ||
        y->ne[3] != 2 * x->ne[3])
        return se_fail(SE_ERR_SHAPE, "cuda upsample_nearest2x: dst '%s' is not twice x '%s'",
                       y->name, x->name);
    const int64_t rows = x->ne[0] * x->ne[1] * x->ne[2], W2 = 2 * x->ne[3];
    if (rows > 0x7fffffffLL)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda upsample_nearest2x: '%s' has %lld rows", x->name,
                       (long long)rows);
    const int64_t yb = (W2 + 255) / 256 < 64 ? (W2 + 255) / 256 : 64;
    upsample2x<<<dim3((unsigned)rows, (unsigned)yb), 256, 0, c->stream>>>(x->data, x->dtype,
                                                                          y->data, y->dtype, x->ne[3]);
    SE_CU_LAUNCH("upsample_nearest2x");
    return SE_OK;
}

se_status do_concat(se_cuda *c, const se_op *op) {
    const se_tensor *a = op->src[0], *b = op->src[1];
    se_tensor *y = op->dst;
    int dim = op->i[0];
    if (dim < 0 || dim >= y->ndim || a->ndim != y->ndim || b->ndim != y->ndim)
        return se_fail(SE_ERR_SHAPE, "cuda concat: dim %d out of range for '%s'", dim, y->name);
    int64_t inner = 1;
    for (int d = 0; d < y->ndim; d++) {
        if (d == dim) continue;
        if (a->ne[d] != y->ne[d] || b->ne[d] != y->ne[d])
            return se_fail(SE_ERR_SHAPE, "cuda concat: '%s' and '%s' differ from dst '%s' in dim %d",
                           a->name, b->name, y->name, d);
        if (d > dim) inner *= y->ne[d];
    }
    if (a->ne[dim] + b->ne[dim] != y->ne[dim])
        return se_fail(SE_ERR_SHAPE, "cuda concat: %lld + %lld != %lld along dim %d",
                       (long long)a->ne[dim], (long long)b->ne[dim], (long long)y->ne[dim], dim);
    int64_t n = se_tensor_numel(y);
    if (n <= 0x7fffffffLL)
        concat_k<uint32_t><<<se_cuda_blocks(n), 256, 0, c->stream>>>(
            a->data, a->dtype, b->data, b->dtype, y->data, y->dtype, n, (uint32_t)a->ne[dim],
            (uint32_t)b->ne[dim], (uint32_t)inner);
    else
        concat_k<int64_t><<<se_cuda_blocks(n), 256, 0, c->stream>>>(
            a->data, a->dtype, b->data, b->dtype, y->data, y->dtype, n, a->ne[dim], b->ne[dim], inner);
    SE_CU_LAUNCH("concat");
    return SE_OK;
}

se_status do_copy(se_cuda *c, const se_op *op) {
    const se_tensor *x = op->src[0];
    se_tensor *y = op->dst;
    int nd = x->ndim < 1 ? 1 : x->ndim;
    int perm[SE_MAX_DIMS] = {0, 1, 2, 3};
    /* i[0..nd-1] is the permutation; all zeros (an unset descriptor) means identity. */
    bool zero = true, seen[SE_MAX_DIMS] = {false, false, false, false}, ok = true;
    for (int d = 0; d < nd; d++) {
        if (op->i[d] != 0) zero = false;
        if (op->i[d] < 0 || op->i[d] >= nd || seen[op->i[d]]) ok = false;
        else seen[op->i[d]] = true;
    }
    if (!zero || nd == 1) {
        if (!ok)
            return se_fail(SE_ERR_INVALID_ARG, "cuda copy: perm [%d,%d,%d,%d] is not a permutation "
                           "of %d dims", op->i[0], op->i[1], op->i[2], op->i[3], nd);
        for (int d = 0; d < nd; d++) perm[d] = op->i[d];
    }
    int64_t n = se_tensor_numel(y);
    if (se_tensor_numel(x) != n)
        return se_fail(SE_ERR_SHAPE, "cuda copy: x '%s' and dst '%s' differ in size", x->name,
                       y->name);
    copy_geom g;
    int pad = SE_MAX_DIMS - nd;
    for (int d = 0; d < SE_MAX_DIMS; d++) {
        if (d < pad) {
            g.ne[d] = 1;
            g.sb[d] = 0;
        } else {
            int sd = perm[d - pad];
            g.ne[d] = x->ndim < 1 ? 1 : x->ne[sd];
            g.sb[d] = x->ndim < 1 ? 0 : x->nb[sd];
        }
    }
    /* dst must have the permuted shape (its own ndim may differ only by leading 1s). */
    int64_t prod = 1;
    for (int d = 0; d < SE_MAX_DIMS; d++) prod *= g.ne[d];
    if (prod != n)
        return se_fail(SE_ERR_SHAPE, "cuda copy: permuted x '%s' does not match dst '%s'", x->name,
                       y->name);
    copy_k<<<se_cuda_blocks(n), 256, 0, c->stream>>>((const char *)x->data, x->dtype, y->data,
                                                     y->dtype, n, g);
    SE_CU_LAUNCH("copy");
    return SE_OK;
}

}  // namespace

extern "C" se_status se_cuda_shape(se_cuda *c, const se_op *op) {
    switch (op->kind) {
    case SE_OP_UPSAMPLE_NEAREST2X: return do_upsample(c, op);
    case SE_OP_CONCAT: return do_concat(c, op);
    case SE_OP_COPY: return do_copy(c, op);
    default: break;
    }
    return se_fail(SE_ERR_INTERNAL, "cuda shape: op %s is not a shape op", se_op_name(op->kind));
}
