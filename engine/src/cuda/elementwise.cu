/*
 * elementwise.cu - ADD (b broadcast to a by NumPy rules) and SCALE_ADD (alpha*a + beta*b) on the
 * GPU. Memory-bound grid-stride kernels with run-time dtypes; dst may alias a (or b where the
 * shapes match), which is safe because every element is read before it is written by the same
 * thread. Same-shape ADD and SCALE_ADD take the 8-wide path (vec8.cuh) when aligned.
 */
#include "cuda/cuda_internal.h"
#include "cuda/vec8.cuh"

namespace {

template <typename I>
struct bcast {
    I ne[SE_MAX_DIMS];         /* a's (= dst's) extents, padded to 4 with leading 1s */
    I sb[SE_MAX_DIMS];         /* b's element strides per dim of a (0 where b broadcasts) */
};

__global__ void add_same(const void *a, int adt, const void *b, int bdt, void *y, int ydt,
                         int64_t n) {
    SE_GRID_STRIDE(i, n) se_st(y, ydt, i, se_ld(a, adt, i) + se_ld(b, bdt, i));
}

/* The 8-wide versions (vec8.cuh): nv = n / 8 vectors. */
__global__ void add_same8(const void *a, int adt, const void *b, int bdt, void *y, int ydt,
                          int64_t nv) {
    SE_GRID_STRIDE(v, nv) se_add8(a, adt, b, bdt, y, ydt, v);
}

__global__ void scale_add8(const void *a, int adt, float alpha, const void *b, int bdt, float beta,
                           void *y, int ydt, int64_t nv) {
    SE_GRID_STRIDE(v, nv) se_scale_add8(a, adt, alpha, b, bdt, beta, y, ydt, v);
}

/* I: the index type (uint32_t when every count fits: cheaper division). */
template <typename I>
__global__ void add_bcast(const void *a, int adt, const void *b, int bdt, void *y, int ydt,
                          int64_t n, bcast<I> bc) {
    SE_GRID_STRIDE(i, n) {
        I r = (I)i, off = 0;
#pragma unroll
        for (int d = SE_MAX_DIMS - 1; d >= 0; d--) {
            I cd = r % bc.ne[d];
            r /= bc.ne[d];
            off += cd * bc.sb[d];
        }
        se_st(y, ydt, i, se_ld(a, adt, i) + se_ld(b, bdt, (int64_t)off));
    }
}

__global__ void scale_add(const void *a, int adt, float alpha, const void *b, int bdt, float beta,
                          void *y, int ydt, int64_t n) {
    SE_GRID_STRIDE(i, n) {
        float v = alpha * se_ld(a, adt, i);
        if (b) v += beta * se_ld(b, bdt, i);
        se_st(y, ydt, i, v);
    }
}

}  // namespace

extern "C" se_status se_cuda_elementwise(se_cuda *c, const se_op *op) {
    const se_tensor *a = op->src[0], *b = op->src[1];
    se_tensor *y = op->dst;
    const char *name = se_op_name(op->kind);
    int64_t n = se_tensor_numel(y);
    if (se_tensor_numel(a) != n)
        return se_fail(SE_ERR_SHAPE, "cuda %s: a '%s' and dst '%s' differ in size", name, a->name,
                       y->name);
    if (op->kind == SE_OP_SCALE_ADD) {
        if (b && se_tensor_numel(b) != n)
            return se_fail(SE_ERR_SHAPE, "cuda scale_add: b '%s' and dst '%s' differ in size",
                           b->name, y->name);
        if (se_vec8_ok(n, a->data, b ? b->data : nullptr, y->data)) {
            scale_add8<<<se_cuda_blocks(n / 8), 256, 0, c->stream>>>(
                a->data, a->dtype, op->f[0], b ? b->data : nullptr, b ? b->dtype : SE_F32, op->f[1],
                y->data, y->dtype, n / 8);
            SE_CU_LAUNCH(name);
            return SE_OK;
        }
        scale_add<<<se_cuda_blocks(n), 256, 0, c->stream>>>(a->data, a->dtype, op->f[0],
                                                            b ? b->data : nullptr,
                                                            b ? b->dtype : SE_F32, op->f[1],
                                                            y->data, y->dtype, n);
        SE_CU_LAUNCH(name);
        return SE_OK;
    }
    if (b->ndim > a->ndim)
        return se_fail(SE_ERR_SHAPE, "cuda add: b '%s' has more dims (%d) than a '%s' (%d)",
                       b->name, b->ndim, a->name, a->ndim);
    bcast<int64_t> bc;
    int pad = SE_MAX_DIMS - a->ndim, bpad = SE_MAX_DIMS - b->ndim;
    int64_t bstride = 1;
    for (int d = SE_MAX_DIMS - 1; d >= 0; d--) {
        bc.ne[d] = d >= pad ? a->ne[d - pad] : 1;
        int64_t be = d >= bpad ? b->ne[d - bpad] : 1;
        if (be != bc.ne[d] && be != 1)
            return se_fail(SE_ERR_SHAPE, "cuda add: b '%s' dim %d is %lld, expected %lld or 1",
                           b->name, d - bpad, (long long)be, (long long)bc.ne[d]);
        bc.sb[d] = be == 1 ? 0 : bstride;
        bstride *= be;
    }
    if (bstride == n) {
        /* b has a's shape (up to leading 1s): no index arithmetic. */
        if (se_vec8_ok(n, a->data, b->data, y->data)) {
            add_same8<<<se_cuda_blocks(n / 8), 256, 0, c->stream>>>(a->data, a->dtype, b->data,
                                                                    b->dtype, y->data, y->dtype, n / 8);
            SE_CU_LAUNCH(name);
            return SE_OK;
        }
        add_same<<<se_cuda_blocks(n), 256, 0, c->stream>>>(a->data, a->dtype, b->data, b->dtype,
                                                           y->data, y->dtype, n);
        SE_CU_LAUNCH(name);
        return SE_OK;
    }
    if (n <= 0x7fffffffLL) {
        bcast<uint32_t> b32;
        for (int d = 0; d < SE_MAX_DIMS; d++) b32.ne[d] = (uint32_t)bc.ne[d], b32.sb[d] = (uint32_t)bc.sb[d];
        add_bcast<uint32_t><<<se_cuda_blocks(n), 256, 0, c->stream>>>(a->data, a->dtype, b->data,
                                                                      b->dtype, y->data, y->dtype, n, b32);
    } else {
        add_bcast<int64_t><<<se_cuda_blocks(n), 256, 0, c->stream>>>(a->data, a->dtype, b->data,
                                                                     b->dtype, y->data, y->dtype, n, bc);
    }
    SE_CU_LAUNCH(name);
    return SE_OK;
}
