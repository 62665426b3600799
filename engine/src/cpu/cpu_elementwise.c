/*
 * cpu_elementwise.c - ADD (with NumPy broadcasting of the second operand) and SCALE_ADD
 * (alpha*a + beta*b, b optional). dst may alias an input: each element is read before written.
 */
#include "cpu/cpu_internal.h"

/* The broadcast layout of b against a, right-aligned to 4 dims: b's stride (in elements) for
 * each of a's dims, 0 where b has extent 1. */
typedef struct bcast {
    int64_t ne[4];   /* a's extents, right-aligned */
    int64_t sb[4];   /* b's element strides per dim (0 = broadcast) */
} bcast;

static bcast bcast_make(const se_tensor *a, const se_tensor *b) {
    bcast bc;
    int sa = 4 - a->ndim, sbb = 4 - b->ndim;
    for (int d = 0; d < 4; d++) bc.ne[d] = d >= sa ? a->ne[d - sa] : 1;
    int64_t stride = 1;
    for (int d = 3; d >= 0; d--) {
        int64_t nbd = d >= sbb ? b->ne[d - sbb] : 1;
        bc.sb[d] = nbd == 1 ? 0 : stride;
        stride *= nbd;
    }
    return bc;
}

/* Adds over rows [r0, r1) of a's right-aligned [ne0*ne1*ne2, ne3] view. */
static CPU_INLINE void add_rows_impl(const se_op *op, const bcast *bc, int64_t r0, int64_t r1) {
    const float *a = op->src[0]->data, *b = op->src[1]->data;
    float *y = op->dst->data;
    int64_t n3 = bc->ne[3];
    for (int64_t r = r0; r < r1; r++) {
        int64_t i2 = r % bc->ne[2], i1 = (r / bc->ne[2]) % bc->ne[1], i0 = r / (bc->ne[2] * bc->ne[1]);
        const float *br = b + i0 * bc->sb[0] + i1 * bc->sb[1] + i2 * bc->sb[2];
        const float *ar = a + r * n3;
        float *yr = y + r * n3;
        if (bc->sb[3]) {
            for (int64_t j = 0; j < n3; j++) yr[j] = ar[j] + br[j];
        } else {
            float bv = br[0];
            for (int64_t j = 0; j < n3; j++) yr[j] = ar[j] + bv;
        }
    }
}
CPU_MULTIVERSION(add_rows, (const se_op *op, const bcast *bc, int64_t r0, int64_t r1), (op, bc, r0, r1))

static CPU_INLINE void scale_add_range_impl(const se_op *op, int64_t i0, int64_t i1) {
    const float *a = op->src[0]->data, *b = op->src[1] ? op->src[1]->data : NULL;
    float *y = op->dst->data;
    float alpha = op->f[0], beta = op->f[1];
    if (b)
        for (int64_t i = i0; i < i1; i++) y[i] = alpha * a[i] + beta * b[i];
    else
        for (int64_t i = i0; i < i1; i++) y[i] = alpha * a[i];
}
CPU_MULTIVERSION(scale_add_range, (const se_op *op, int64_t i0, int64_t i1), (op, i0, i1))

se_status cpu_add_naive(const se_op *op) {
    bcast bc = bcast_make(op->src[0], op->src[1]);
    add_rows(op, &bc, 0, bc.ne[0] * bc.ne[1] * bc.ne[2]);
    return SE_OK;
}

se_status cpu_scale_add_naive(const se_op *op) {
    scale_add_range(op, 0, se_tensor_numel(op->dst));
    return SE_OK;
}

typedef struct add_job {
    const se_op *op;
    bcast bc;
} add_job;

static void add_task(void *arg, int64_t b, int64_t e, int tid) {
    const add_job *j = arg;
    add_rows(j->op, &j->bc, b, e);
}

static void scale_add_task(void *arg, int64_t b, int64_t e, int tid) { scale_add_range(arg, b, e); }

se_status cpu_elementwise_fast(se_cpu *c, const se_op *op) {
    if (op->kind == SE_OP_ADD) {
        add_job j = {op, bcast_make(op->src[0], op->src[1])};
        int64_t rows = j.bc.ne[0] * j.bc.ne[1] * j.bc.ne[2];
        cpu_parallel_for(c, rows, 1 + 16384 / (j.bc.ne[3] ? j.bc.ne[3] : 1), add_task, &j);
    } else {
        cpu_parallel_for(c, se_tensor_numel(op->dst), 16384, scale_add_task, (void *)op);
    }
    return SE_OK;
}
