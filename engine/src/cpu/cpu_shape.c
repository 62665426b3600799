/*
 * cpu_shape.c - ops that move data without arithmetic: nearest 2x upsample, concat, copy
 * (permute + dtype conversion) and gather (embedding lookup with bounds-checked ids).
 */
#include <string.h>

#include "cpu/cpu_internal.h"

/* Reads one element of dtype dt at p as float. */
static float load_f(se_dtype dt, const char *p) {
    uint16_t h;
    float f;
    switch (dt) {
    case SE_F16: memcpy(&h, p, 2); return se_f16_to_f32(h);
    case SE_BF16: memcpy(&h, p, 2); return se_bf16_to_f32(h);
    default: memcpy(&f, p, 4); return f;
    }
}

/* Writes v as dtype dt at p. */
static void store_f(se_dtype dt, char *p, float v) {
    uint16_t h;
    switch (dt) {
    case SE_F16: h = se_f32_to_f16(v); memcpy(p, &h, 2); break;
    case SE_BF16: h = se_f32_to_bf16(v); memcpy(p, &h, 2); break;
    default: memcpy(p, &v, 4); break;
    }
}

/* Upsamples channel-planes [p0, p1) (plane = one (b, c) image). */
static void upsample_planes(const se_op *op, int64_t p0, int64_t p1) {
    const float *x = op->src[0]->data;
    float *y = op->dst->data;
    int64_t H = op->src[0]->ne[2], W = op->src[0]->ne[3];
    for (int64_t pl = p0; pl < p1; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * 4 * H * W;
        for (int64_t h = 0; h < H; h++) {
            float *r0 = yp + (2 * h) * 2 * W;
            for (int64_t w = 0; w < W; w++) r0[2 * w] = r0[2 * w + 1] = xp[h * W + w];
            memcpy(r0 + 2 * W, r0, (size_t)(2 * W) * sizeof *r0);
        }
    }
}

se_status cpu_upsample_naive(const se_op *op) {
    upsample_planes(op, 0, op->src[0]->ne[0] * op->src[0]->ne[1]);
    return SE_OK;
}

/* Concat as [outer] blocks: each output block is a's block (na elems) then b's (nb elems). */
static void concat_blocks(const se_op *op, int64_t o0, int64_t o1) {
    const se_tensor *a = op->src[0], *b = op->src[1];
    int dim = op->i[0];
    int64_t inner = 1;
    for (int d = dim + 1; d < a->ndim; d++) inner *= a->ne[d];
    int64_t na = a->ne[dim] * inner, nb = b->ne[dim] * inner;
    const float *xa = a->data, *xb = b->data;
    float *y = op->dst->data;
    for (int64_t o = o0; o < o1; o++) {
        memcpy(y + o * (na + nb), xa + o * na, (size_t)na * sizeof *y);
        memcpy(y + o * (na + nb) + na, xb + o * nb, (size_t)nb * sizeof *y);
    }
}

static int64_t concat_outer(const se_op *op) {
    int64_t outer = 1;
    for (int d = 0; d < op->i[0]; d++) outer *= op->src[0]->ne[d];
    return outer;
}

se_status cpu_concat_naive(const se_op *op) {
    concat_blocks(op, 0, concat_outer(op));
    return SE_OK;
}

/* Copies dst rows [r0, r1) where a "row" is one index of dst dims 0..2 (dim 3 innermost). */
static void copy_rows(const se_op *op, int64_t r0, int64_t r1) {
    const se_tensor *x = op->src[0];
    se_tensor *y = op->dst;
    int64_t ne[SE_MAX_DIMS], nb[SE_MAX_DIMS];
    for (int d = 0; d < SE_MAX_DIMS; d++) {
        /* dst dim d walks source dim perm[d]; dims past ndim have extent 1. */
        int p = op->i[d];
        ne[d] = d < y->ndim ? y->ne[d] : 1;
        nb[d] = d < x->ndim ? x->nb[p] : 0;
    }
    /* Right-align to 4 dims so the loop below is always 4 deep. */
    int nd = y->ndim > 0 ? y->ndim : 1, sh = SE_MAX_DIMS - nd;
    int64_t e4[4] = {1, 1, 1, 1}, s4[4] = {0, 0, 0, 0};
    for (int d = 0; d < nd; d++) e4[d + sh] = ne[d], s4[d + sh] = nb[d];
    size_t ds = se_dtype_size(y->dtype);
    bool same = x->dtype == y->dtype && x->dtype == SE_F32 && s4[3] == 4;
    for (int64_t r = r0; r < r1; r++) {
        int64_t i2 = r % e4[2], i1 = (r / e4[2]) % e4[1], i0 = r / (e4[2] * e4[1]);
        const char *src = (const char *)x->data + i0 * s4[0] + i1 * s4[1] + i2 * s4[2];
        char *dst = (char *)y->data + (size_t)(r * e4[3]) * ds;
        if (same) {
            memcpy(dst, src, (size_t)e4[3] * 4);
        } else {
            for (int64_t i3 = 0; i3 < e4[3]; i3++)
                store_f(y->dtype, dst + (size_t)i3 * ds, load_f(x->dtype, src + i3 * s4[3]));
        }
    }
}

static int64_t copy_nrows(const se_op *op) {
    const se_tensor *y = op->dst;
    int64_t n = se_tensor_numel(y), last = y->ndim > 0 ? y->ne[y->ndim - 1] : 1;
    return last ? n / last : 0;
}

se_status cpu_copy_naive(const se_op *op) {
    copy_rows(op, 0, copy_nrows(op));
    return SE_OK;
}

/* Checks every id before copying anything. */
static se_status gather_check(const se_op *op) {
    const se_tensor *t = op->src[0], *ids = op->src[1];
    const int32_t *id = ids->data;
    int64_t n = se_tensor_numel(ids), V = t->ne[0];
    for (int64_t i = 0; i < n; i++)
        if (id[i] < 0 || id[i] >= V)
            return se_fail(SE_ERR_INVALID_ARG, "gather: ids '%s'[%lld] = %d is outside table '%s' of %lld rows",
                           ids->name, (long long)i, id[i], t->name, (long long)V);
    return SE_OK;
}

se_status cpu_gather_naive(const se_op *op) {
    SE_TRY(gather_check(op));
    const float *t = op->src[0]->data;
    const int32_t *id = op->src[1]->data;
    float *y = op->dst->data;
    int64_t n = se_tensor_numel(op->src[1]), D = op->src[0]->ne[1];
    for (int64_t i = 0; i < n; i++) memcpy(y + i * D, t + (int64_t)id[i] * D, (size_t)D * sizeof *y);
    return SE_OK;
}

static void upsample_task(void *arg, int64_t b, int64_t e, int tid) { upsample_planes(arg, b, e); }
static void concat_task(void *arg, int64_t b, int64_t e, int tid) { concat_blocks(arg, b, e); }
static void copy_task(void *arg, int64_t b, int64_t e, int tid) { copy_rows(arg, b, e); }

/* Parallel versions: the same loops split over threads (grain ~ 64 KB of output per chunk). */
se_status cpu_shape_fast(se_cpu *c, const se_op *op) {
    switch (op->kind) {
    case SE_OP_UPSAMPLE_NEAREST2X: {
        int64_t plane = 4 * op->src[0]->ne[2] * op->src[0]->ne[3];
        cpu_parallel_for(c, op->src[0]->ne[0] * op->src[0]->ne[1], 1 + 16384 / (plane ? plane : 1),
                         upsample_task, (void *)op);
        return SE_OK;
    }
    case SE_OP_CONCAT: {
        int64_t outer = concat_outer(op), blk = outer ? se_tensor_numel(op->dst) / outer : 1;
        cpu_parallel_for(c, outer, 1 + 16384 / (blk ? blk : 1), concat_task, (void *)op);
        return SE_OK;
    }
    case SE_OP_COPY: {
        int64_t rows = copy_nrows(op), len = rows ? se_tensor_numel(op->dst) / rows : 1;
        cpu_parallel_for(c, rows, 1 + 16384 / (len ? len : 1), copy_task, (void *)op);
        return SE_OK;
    }
    case SE_OP_GATHER: return cpu_gather_naive(op);
    default: return se_fail(SE_ERR_INTERNAL, "cpu_shape_fast: op %s is not a shape op", se_op_name(op->kind));
    }
}
