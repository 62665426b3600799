/*
 * ops.c - the typed op entry points: validate shapes, dtypes and layout, fill an se_op, and run
 * it on the backend. Every failure names the op, the tensor (by name) and expected vs got shape.
 */
#include "core/ops.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define ANY (-1)

/* "'name' [2,3] F32" for error messages; buf must hold at least 160 bytes. */
static const char *desc(const se_tensor *t, char *buf, size_t cap) {
    char s[64];
    snprintf(buf, cap, "'%s' %s %s", t->name, se_tensor_shape_str(t, s, sizeof s),
             se_dtype_name(t->dtype));
    return buf;
}

/* Checks that t exists, has data, and (when want_contig) is contiguous. */
static se_status need_tensor(const char *op, const char *role, const se_tensor *t, bool want_contig) {
    char d[192];
    if (!t) return se_fail(SE_ERR_INVALID_ARG, "%s: %s tensor is NULL", op, role);
    if (t->ndim < 0 || t->ndim > SE_MAX_DIMS || (unsigned)t->dtype >= SE_DTYPE_COUNT)
        return se_fail(SE_ERR_INVALID_ARG, "%s: %s tensor '%s' has bad ndim %d or dtype %d", op, role,
                       t->name, t->ndim, (int)t->dtype);
    if (!t->data)
        return se_fail(SE_ERR_INVALID_ARG, "%s: %s tensor %s has no data", op, role, desc(t, d, sizeof d));
    if (want_contig && !se_tensor_is_contiguous(t))
        return se_fail(SE_ERR_INVALID_ARG, "%s: %s tensor %s must be contiguous", op, role,
                       desc(t, d, sizeof d));
    return SE_OK;
}

/* Checks ndim and extents (ANY matches anything). expect[] has ndim entries. */
static se_status need_shape(const char *op, const char *role, const se_tensor *t, int ndim,
                            const int64_t *expect) {
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (expect[i] != ANY && t->ne[i] != expect[i]) ok = false;
    if (ok) return SE_OK;
    char e[96], d[192];
    size_t off = (size_t)snprintf(e, sizeof e, "[");
    for (int i = 0; i < ndim && off < sizeof e; i++) {
        if (expect[i] == ANY)
            off += (size_t)snprintf(e + off, sizeof e - off, "%s*", i ? "," : "");
        else
            off += (size_t)snprintf(e + off, sizeof e - off, "%s%lld", i ? "," : "",
                                    (long long)expect[i]);
    }
    if (off < sizeof e) snprintf(e + off, sizeof e - off, "]");
    return se_fail(SE_ERR_SHAPE, "%s: %s tensor %s: expected shape %s", op, role, desc(t, d, sizeof d), e);
}

static bool is_float(se_dtype dt) { return dt == SE_F32 || dt == SE_F16 || dt == SE_BF16; }

/* Checks that t has a floating dtype and, when ref is given, the same dtype as ref. */
static se_status need_dtype(const char *op, const char *role, const se_tensor *t, const se_tensor *ref) {
    char d[192];
    if (!is_float(t->dtype))
        return se_fail(SE_ERR_DTYPE, "%s: %s tensor %s: expected a float dtype (F32/F16/BF16)", op, role,
                       desc(t, d, sizeof d));
    if (ref && t->dtype != ref->dtype)
        return se_fail(SE_ERR_DTYPE, "%s: %s tensor %s: expected dtype %s (as '%s')", op, role,
                       desc(t, d, sizeof d), se_dtype_name(ref->dtype), ref->name);
    return SE_OK;
}

/* One tensor argument of an op for need_args: its role in messages, the tensor, and whether its
 * dtype must equal the first argument's (otherwise any float dtype). */
typedef struct op_arg {
    const char *role;
    const se_tensor *t;
    bool same_dtype;
} op_arg;

/* The common checks of an op's arguments, in this order: every tensor exists, has data and is
 * contiguous (need_tensor), then every dtype is a float one and, where asked, the first
 * argument's (need_dtype). */
static se_status need_args(const char *op, const op_arg *args, int n) {
    for (int i = 0; i < n; i++) SE_TRY(need_tensor(op, args[i].role, args[i].t, true));
    for (int i = 0; i < n; i++)
        SE_TRY(need_dtype(op, args[i].role, args[i].t, args[i].same_dtype ? args[0].t : NULL));
    return SE_OK;
}

/* Hands a filled op to the backend after asking whether it supports it. */
static se_status run(se_backend *be, se_op *op) {
    if (!be) return se_fail(SE_ERR_INVALID_ARG, "%s: NULL backend", se_op_name(op->kind));
    if (!se_backend_supports(be, op)) {
        char d[192], s[4][192];
        for (int i = 0; i < SE_OP_MAX_SRC; i++)
            snprintf(s[i], sizeof s[i], "%s", op->src[i] ? desc(op->src[i], d, sizeof d) : "-");
        return se_fail(SE_ERR_UNSUPPORTED, "%s: backend %s does not support this case (src %s, %s, %s; dst %s)",
                       se_op_name(op->kind), se_backend_name(be), s[0], s[1], s[2],
                       desc(op->dst, d, sizeof d));
    }
    return se_backend_compute(be, op);
}

static se_op op_new(se_op_kind k, se_tensor *dst) {
    se_op op;
    memset(&op, 0, sizeof op);
    op.kind = k;
    op.dst = dst;
    return op;
}

/* Checks an optional bias: NULL, or [n] of a float dtype. */
static se_status need_bias(const char *op, const se_tensor *b, int64_t n) {
    if (!b) return SE_OK;
    SE_TRY(need_tensor(op, "bias", b, true));
    SE_TRY(need_dtype(op, "bias", b, NULL));
    int64_t e[1] = {n};
    return need_shape(op, "bias", b, 1, e);
}

se_status se_conv2d(se_backend *be, const se_tensor *x, const se_tensor *w, const se_tensor *b,
                    int stride, int pad, se_tensor *y) {
    const char *op = "conv2d";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"weight", w, false},
                                          {"output", y, true}}, 3));
    if (stride != 1 && stride != 2)
        return se_fail(SE_ERR_INVALID_ARG, "conv2d: weight '%s': stride %d (expected 1 or 2)", w->name, stride);
    int64_t ex[4] = {ANY, ANY, ANY, ANY};
    SE_TRY(need_shape(op, "input", x, 4, ex));
    int64_t ew[4] = {ANY, x->ne[1], ANY, ANY};
    SE_TRY(need_shape(op, "weight", w, 4, ew));
    int64_t kh = w->ne[2], kw = w->ne[3];
    if (kh != kw || (kh != 1 && kh != 3)) {
        char d[192];
        return se_fail(SE_ERR_SHAPE, "conv2d: weight %s: kernel %lldx%lld (expected 1x1 or 3x3)",
                       desc(w, d, sizeof d), (long long)kh, (long long)kw);
    }
    if (pad < 0 || pad > kh)
        return se_fail(SE_ERR_INVALID_ARG, "conv2d: weight '%s': padding %d (expected 0..%lld)", w->name,
                       pad, (long long)kh);
    SE_TRY(need_bias(op, b, w->ne[0]));
    int64_t ho = (x->ne[2] + 2 * pad - kh) / stride + 1, wo = (x->ne[3] + 2 * pad - kw) / stride + 1;
    if (x->ne[2] + 2 * pad < kh || x->ne[3] + 2 * pad < kw) {
        char d[192];
        return se_fail(SE_ERR_SHAPE, "conv2d: input %s is smaller than the %lldx%lld kernel",
                       desc(x, d, sizeof d), (long long)kh, (long long)kw);
    }
    int64_t ey[4] = {x->ne[0], w->ne[0], ho, wo};
    SE_TRY(need_shape(op, "output", y, 4, ey));
    se_op o = op_new(SE_OP_CONV2D, y);
    o.src[0] = x, o.src[1] = w, o.src[2] = b;
    o.i[0] = stride, o.i[1] = pad;
    return run(be, &o);
}

/* Checks that y has x's leading dims and a last dim of n. */
static se_status need_rows(const char *op, const se_tensor *x, const se_tensor *y, int64_t n) {
    int64_t e[SE_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) e[i] = x->ne[i];
    e[x->ndim - 1] = n;
    return need_shape(op, "output", y, x->ndim, e);
}

se_status se_linear(se_backend *be, const se_tensor *x, const se_tensor *w, const se_tensor *b,
                    se_tensor *y) {
    const char *op = "linear";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"weight", w, false},
                                          {"output", y, true}}, 3));
    if (x->ndim < 1) return se_fail(SE_ERR_SHAPE, "linear: input '%s' is a scalar", x->name);
    int64_t ew[2] = {ANY, x->ne[x->ndim - 1]};
    SE_TRY(need_shape(op, "weight", w, 2, ew));
    SE_TRY(need_bias(op, b, w->ne[0]));
    SE_TRY(need_rows(op, x, y, w->ne[0]));
    se_op o = op_new(SE_OP_LINEAR, y);
    o.src[0] = x, o.src[1] = w, o.src[2] = b;
    return run(be, &o);
}

se_status se_group_norm(se_backend *be, const se_tensor *x, const se_tensor *gamma,
                        const se_tensor *beta, int groups, float eps, int fuse_silu, se_tensor *y) {
    const char *op = "group_norm";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"gamma", gamma, false},
                                          {"beta", beta, false}, {"output", y, true}}, 4));
    if (x->ndim < 2) return se_fail(SE_ERR_SHAPE, "group_norm: input '%s' needs at least 2 dims [B,C,...]", x->name);
    int64_t c = x->ne[1];
    if (groups <= 0 || c % groups != 0)
        return se_fail(SE_ERR_SHAPE, "group_norm: input '%s' has %lld channels, not divisible into %d groups",
                       x->name, (long long)c, groups);
    int64_t e[1] = {c};
    SE_TRY(need_shape(op, "gamma", gamma, 1, e));
    SE_TRY(need_shape(op, "beta", beta, 1, e));
    SE_TRY(need_shape(op, "output", y, x->ndim, x->ne));
    se_op o = op_new(SE_OP_GROUP_NORM, y);
    o.src[0] = x, o.src[1] = gamma, o.src[2] = beta;
    o.i[0] = groups, o.i[1] = fuse_silu ? 1 : 0;
    o.f[0] = eps;
    return run(be, &o);
}

se_status se_layer_norm(se_backend *be, const se_tensor *x, const se_tensor *gamma,
                        const se_tensor *beta, float eps, se_tensor *y) {
    const char *op = "layer_norm";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"gamma", gamma, false},
                                          {"beta", beta, false}, {"output", y, true}}, 4));
    if (x->ndim < 1) return se_fail(SE_ERR_SHAPE, "layer_norm: input '%s' is a scalar", x->name);
    int64_t e[1] = {x->ne[x->ndim - 1]};
    SE_TRY(need_shape(op, "gamma", gamma, 1, e));
    SE_TRY(need_shape(op, "beta", beta, 1, e));
    SE_TRY(need_shape(op, "output", y, x->ndim, x->ne));
    se_op o = op_new(SE_OP_LAYER_NORM, y);
    o.src[0] = x, o.src[1] = gamma, o.src[2] = beta;
    o.f[0] = eps;
    return run(be, &o);
}

/* Elementwise unary ops: same shape and dtype; in place allowed. */
static se_status unary(se_backend *be, se_op_kind k, const se_tensor *x, se_tensor *y) {
    const char *op = se_op_name(k);
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"output", y, true}}, 2));
    SE_TRY(need_shape(op, "output", y, x->ndim, x->ne));
    se_op o = op_new(k, y);
    o.src[0] = x;
    return run(be, &o);
}

se_status se_silu(se_backend *be, const se_tensor *x, se_tensor *y) { return unary(be, SE_OP_SILU, x, y); }
se_status se_gelu(se_backend *be, const se_tensor *x, se_tensor *y) { return unary(be, SE_OP_GELU, x, y); }
se_status se_quick_gelu(se_backend *be, const se_tensor *x, se_tensor *y) {
    return unary(be, SE_OP_QUICK_GELU, x, y);
}

se_status se_geglu(se_backend *be, const se_tensor *x, se_tensor *y) {
    const char *op = "geglu";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"output", y, true}}, 2));
    if (x->ndim < 1 || x->ne[x->ndim - 1] % 2 != 0) {
        char d[192];
        return se_fail(SE_ERR_SHAPE, "geglu: input %s: last dim must be even", desc(x, d, sizeof d));
    }
    SE_TRY(need_rows(op, x, y, x->ne[x->ndim - 1] / 2));
    se_op o = op_new(SE_OP_GEGLU, y);
    o.src[0] = x;
    return run(be, &o);
}

se_status se_softmax(se_backend *be, const se_tensor *x, float scale, se_tensor *y) {
    const char *op = "softmax";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"output", y, true}}, 2));
    if (x->ndim < 1) return se_fail(SE_ERR_SHAPE, "softmax: input '%s' is a scalar", x->name);
    SE_TRY(need_shape(op, "output", y, x->ndim, x->ne));
    se_op o = op_new(SE_OP_SOFTMAX, y);
    o.src[0] = x;
    o.f[0] = scale;
    return run(be, &o);
}

se_status se_attention(se_backend *be, const se_tensor *q, const se_tensor *k, const se_tensor *v,
                       int heads, int causal, float scale, se_tensor *y) {
    const char *op = "attention";
    SE_TRY(need_args(op, (const op_arg[]){{"query", q, false}, {"key", k, true},
                                          {"value", v, true}, {"output", y, true}}, 4));
    int64_t eq[3] = {ANY, ANY, ANY};
    SE_TRY(need_shape(op, "query", q, 3, eq));
    int64_t c = q->ne[2];
    if (heads <= 0 || c % heads != 0)
        return se_fail(SE_ERR_SHAPE, "attention: query '%s' width %lld is not divisible into %d heads",
                       q->name, (long long)c, heads);
    int64_t ek[3] = {q->ne[0], ANY, c};
    SE_TRY(need_shape(op, "key", k, 3, ek));
    int64_t ev[3] = {q->ne[0], k->ne[1], c};
    SE_TRY(need_shape(op, "value", v, 3, ev));
    SE_TRY(need_shape(op, "output", y, 3, q->ne));
    if (k->ne[1] < 1) return se_fail(SE_ERR_SHAPE, "attention: key '%s' has no tokens", k->name);
    if (causal && q->ne[1] != k->ne[1])
        return se_fail(SE_ERR_SHAPE, "attention: causal mask needs as many queries as keys ('%s' %lld, '%s' %lld)",
                       q->name, (long long)q->ne[1], k->name, (long long)k->ne[1]);
    se_op o = op_new(SE_OP_ATTENTION, y);
    o.src[0] = q, o.src[1] = k, o.src[2] = v;
    o.i[0] = heads, o.i[1] = causal ? 1 : 0;
    o.f[0] = scale;
    return run(be, &o);
}

se_status se_upsample_nearest2x(se_backend *be, const se_tensor *x, se_tensor *y) {
    const char *op = "upsample_nearest2x";
    SE_TRY(need_args(op, (const op_arg[]){{"input", x, false}, {"output", y, true}}, 2));
    int64_t ex[4] = {ANY, ANY, ANY, ANY};
    SE_TRY(need_shape(op, "input", x, 4, ex));
    int64_t ey[4] = {x->ne[0], x->ne[1], 2 * x->ne[2], 2 * x->ne[3]};
    SE_TRY(need_shape(op, "output", y, 4, ey));
    se_op o = op_new(SE_OP_UPSAMPLE_NEAREST2X, y);
    o.src[0] = x;
    return run(be, &o);
}

se_status se_concat(se_backend *be, const se_tensor *a, const se_tensor *b, int dim, se_tensor *y) {
    const char *op = "concat";
    SE_TRY(need_args(op, (const op_arg[]){{"first input", a, false}, {"second input", b, true},
                                          {"output", y, true}}, 3));
    if (dim < 0 || dim >= a->ndim)
        return se_fail(SE_ERR_INVALID_ARG, "concat: dim %d out of range for '%s' (%d dims)", dim, a->name, a->ndim);
    int64_t e[SE_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) e[i] = i == dim ? ANY : a->ne[i];
    SE_TRY(need_shape(op, "second input", b, a->ndim, e));
    e[dim] = a->ne[dim] + b->ne[dim];
    SE_TRY(need_shape(op, "output", y, a->ndim, e));
    se_op o = op_new(SE_OP_CONCAT, y);
    o.src[0] = a, o.src[1] = b;
    o.i[0] = dim;
    return run(be, &o);
}

se_status se_add(se_backend *be, const se_tensor *a, const se_tensor *b, se_tensor *y) {
    const char *op = "add";
    SE_TRY(need_args(op, (const op_arg[]){{"first input", a, false}, {"second input", b, true},
                                          {"output", y, true}}, 3));
    bool ok = b->ndim <= a->ndim;
    for (int i = 0; ok && i < b->ndim; i++) {
        int64_t nb = b->ne[b->ndim - 1 - i], na = a->ne[a->ndim - 1 - i];
        if (nb != na && nb != 1) ok = false;
    }
    if (!ok) {
        char da[192], db[192];
        return se_fail(SE_ERR_SHAPE, "add: second input %s does not broadcast to first input %s",
                       desc(b, db, sizeof db), desc(a, da, sizeof da));
    }
    SE_TRY(need_shape(op, "output", y, a->ndim, a->ne));
    se_op o = op_new(SE_OP_ADD, y);
    o.src[0] = a, o.src[1] = b;
    return run(be, &o);
}

se_status se_scale_add(se_backend *be, const se_tensor *a, float alpha, const se_tensor *b,
                       float beta, se_tensor *y) {
    const char *op = "scale_add";
    SE_TRY(need_args(op, (const op_arg[]){{"first input", a, false}, {"output", y, true}}, 2));
    if (b) {
        SE_TRY(need_tensor(op, "second input", b, true));
        SE_TRY(need_dtype(op, "second input", b, a));
        SE_TRY(need_shape(op, "second input", b, a->ndim, a->ne));
    }
    SE_TRY(need_shape(op, "output", y, a->ndim, a->ne));
    se_op o = op_new(SE_OP_SCALE_ADD, y);
    o.src[0] = a, o.src[1] = b;
    o.f[0] = alpha, o.f[1] = beta;
    return run(be, &o);
}

se_status se_copy(se_backend *be, const se_tensor *x, const int *perm, se_tensor *y) {
    const char *op = "copy";
    SE_TRY(need_tensor(op, "input", x, false));
    SE_TRY(need_tensor(op, "output", y, true));
    SE_TRY(need_dtype(op, "input", x, NULL));
    SE_TRY(need_dtype(op, "output", y, NULL));
    se_op o = op_new(SE_OP_COPY, y);
    o.src[0] = x;
    int seen[SE_MAX_DIMS] = {0};
    int64_t e[SE_MAX_DIMS];
    for (int d = 0; d < SE_MAX_DIMS; d++) {
        int p = perm && d < x->ndim ? perm[d] : d;
        if (p < 0 || (d < x->ndim && p >= x->ndim) || seen[p]++)
            return se_fail(SE_ERR_INVALID_ARG, "copy: input '%s': perm is not a permutation of its %d dims",
                           x->name, x->ndim);
        o.i[d] = p;
        if (d < x->ndim) e[d] = x->ne[p];
    }
    SE_TRY(need_shape(op, "output", y, x->ndim, e));
    return run(be, &o);
}

se_status se_gather(se_backend *be, const se_tensor *table, const se_tensor *ids, se_tensor *y) {
    const char *op = "gather";
    SE_TRY(need_tensor(op, "table", table, true));
    SE_TRY(need_tensor(op, "ids", ids, true));
    SE_TRY(need_tensor(op, "output", y, true));
    SE_TRY(need_dtype(op, "table", table, NULL));
    SE_TRY(need_dtype(op, "output", y, table));
    if (ids->dtype != SE_I32) {
        char d[192];
        return se_fail(SE_ERR_DTYPE, "gather: ids %s: expected I32", desc(ids, d, sizeof d));
    }
    int64_t et[2] = {ANY, ANY};
    SE_TRY(need_shape(op, "table", table, 2, et));
    /* ids [N] -> y [N,D]; also ids of any shape -> y = ids' shape + [D] (at most 4 dims). */
    int64_t ey[SE_MAX_DIMS];
    if (ids->ndim < 1 || ids->ndim >= SE_MAX_DIMS) {
        char d[192];
        return se_fail(SE_ERR_SHAPE, "gather: ids %s: expected 1 to %d dims", desc(ids, d, sizeof d),
                       SE_MAX_DIMS - 1);
    }
    for (int i = 0; i < ids->ndim; i++) ey[i] = ids->ne[i];
    ey[ids->ndim] = table->ne[1];
    SE_TRY(need_shape(op, "output", y, ids->ndim + 1, ey));
    se_op o = op_new(SE_OP_GATHER, y);
    o.src[0] = table, o.src[1] = ids;
    return run(be, &o);
}

se_status se_timestep_embedding(se_backend *be, const se_tensor *t, int flip_sin_to_cos,
                                float downscale_freq_shift, float max_period, se_tensor *y) {
    const char *op = "timestep_embedding";
    SE_TRY(need_tensor(op, "timesteps", t, true));
    SE_TRY(need_tensor(op, "output", y, true));
    if (t->dtype != SE_F32) {
        char d[192];
        return se_fail(SE_ERR_DTYPE, "timestep_embedding: timesteps %s: expected F32", desc(t, d, sizeof d));
    }
    SE_TRY(need_dtype(op, "output", y, NULL));
    int64_t et[1] = {ANY};
    SE_TRY(need_shape(op, "timesteps", t, 1, et));
    int64_t ey[2] = {t->ne[0], ANY};
    SE_TRY(need_shape(op, "output", y, 2, ey));
    int64_t half = y->ne[1] / 2;
    if (y->ne[1] % 2 != 0 || half < 1 || (double)half - downscale_freq_shift <= 0.0 || !(max_period > 0.0f)) {
        char d[192];
        return se_fail(SE_ERR_SHAPE, "timestep_embedding: output %s: dim must be even and > 2*shift (shift %g, max_period %g)",
                       desc(y, d, sizeof d), (double)downscale_freq_shift, (double)max_period);
    }
    se_op o = op_new(SE_OP_TIMESTEP_EMBEDDING, y);
    o.src[0] = t;
    o.i[0] = flip_sin_to_cos ? 1 : 0;
    o.f[0] = downscale_freq_shift, o.f[1] = max_period;
    return run(be, &o);
}
