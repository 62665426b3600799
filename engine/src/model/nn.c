/*
 * nn.c - the shared network blocks (see nn.h): weight declarations and forwards.
 */
#include "model/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* The loaded tensor of a handle; NULL for handle -1 (no bias). */
static const se_tensor *W(const nn_ctx *c, int h) { return h < 0 ? NULL : se_weights_at(c->w, h); }

se_status nn_tmp(nn_ctx *c, int ndim, const int64_t *ne, const char *name, se_tensor *out) {
    return se_arena_tensor(c->scratch, c->act, ndim, ne, name, out);
}

/* ======================== declarations ======================== */

se_status nn_linear_init(se_weights *w, nn_linear *l, const char *prefix, int64_t in, int64_t out,
                         bool bias) {
    memset(l, 0, sizeof *l);
    l->in = in, l->out = out, l->b = -1;
    SE_TRY(se_weights_requiref(w, &l->w, 2, (int64_t[]){out, in}, "%s.weight", prefix));
    if (bias) SE_TRY(se_weights_requiref(w, &l->b, 1, (int64_t[]){out}, "%s.bias", prefix));
    return SE_OK;
}

/* A Linear stored as a 1x1 conv kernel [out,in,1,1] (proj_in/proj_out without linear proj). */
static se_status nn_linear_conv_init(se_weights *w, nn_linear *l, const char *prefix, int64_t in,
                                     int64_t out) {
    memset(l, 0, sizeof *l);
    l->in = in, l->out = out, l->conv1x1 = true;
    SE_TRY(se_weights_requiref(w, &l->w, 4, (int64_t[]){out, in, 1, 1}, "%s.weight", prefix));
    return se_weights_requiref(w, &l->b, 1, (int64_t[]){out}, "%s.bias", prefix);
}

se_status nn_conv_init(se_weights *w, nn_conv *cv, const char *prefix, int64_t cin, int64_t cout,
                       int k, int stride, int pad) {
    memset(cv, 0, sizeof *cv);
    cv->cin = cin, cv->cout = cout, cv->k = k, cv->stride = stride, cv->pad = pad;
    SE_TRY(se_weights_requiref(w, &cv->w, 4, (int64_t[]){cout, cin, k, k}, "%s.weight", prefix));
    return se_weights_requiref(w, &cv->b, 1, (int64_t[]){cout}, "%s.bias", prefix);
}

se_status nn_norm_init(se_weights *w, nn_norm *n, const char *prefix, int64_t c, int groups,
                       float eps) {
    memset(n, 0, sizeof *n);
    if (groups < 0 || (groups > 0 && c % groups != 0))
        return se_fail(SE_ERR_CONFIG, "%s: %lld channels do not split into %d groups", prefix,
                       (long long)c, groups);
    n->c = c, n->groups = groups, n->eps = eps;
    SE_TRY(se_weights_requiref(w, &n->g, 1, (int64_t[]){c}, "%s.weight", prefix));
    return se_weights_requiref(w, &n->b, 1, (int64_t[]){c}, "%s.bias", prefix);
}

se_status nn_resnet_init(se_weights *w, nn_resnet *r, const char *prefix, int64_t cin,
                         int64_t cout, int64_t temb_dim, int groups, float eps) {
    char p[160];
    memset(r, 0, sizeof *r);
    r->cin = cin, r->cout = cout;
    snprintf(p, sizeof p, "%s.norm1", prefix);
    SE_TRY(nn_norm_init(w, &r->norm1, p, cin, groups, eps));
    snprintf(p, sizeof p, "%s.conv1", prefix);
    SE_TRY(nn_conv_init(w, &r->conv1, p, cin, cout, 3, 1, 1));
    r->has_temb = temb_dim > 0;
    if (r->has_temb) {
        snprintf(p, sizeof p, "%s.time_emb_proj", prefix);
        SE_TRY(nn_linear_init(w, &r->time_emb_proj, p, temb_dim, cout, true));
    }
    snprintf(p, sizeof p, "%s.norm2", prefix);
    SE_TRY(nn_norm_init(w, &r->norm2, p, cout, groups, eps));
    snprintf(p, sizeof p, "%s.conv2", prefix);
    SE_TRY(nn_conv_init(w, &r->conv2, p, cout, cout, 3, 1, 1));
    r->has_shortcut = cin != cout;
    if (r->has_shortcut) {
        snprintf(p, sizeof p, "%s.conv_shortcut", prefix);
        SE_TRY(nn_conv_init(w, &r->conv_shortcut, p, cin, cout, 1, 1, 0));
    }
    return SE_OK;
}

se_status nn_attention_init(se_weights *w, nn_attention *a, const char *prefix, int64_t dim,
                            int64_t ctx_dim, int heads, bool qkv_bias) {
    char p[160];
    memset(a, 0, sizeof *a);
    if (heads <= 0 || dim % heads != 0)
        return se_fail(SE_ERR_CONFIG, "%s: width %lld does not split into %d heads", prefix,
                       (long long)dim, heads);
    a->heads = heads, a->dim = dim, a->ctx_dim = ctx_dim ? ctx_dim : dim;
    snprintf(p, sizeof p, "%s.to_q", prefix);
    SE_TRY(nn_linear_init(w, &a->q, p, dim, dim, qkv_bias));
    snprintf(p, sizeof p, "%s.to_k", prefix);
    SE_TRY(nn_linear_init(w, &a->k, p, a->ctx_dim, dim, qkv_bias));
    snprintf(p, sizeof p, "%s.to_v", prefix);
    SE_TRY(nn_linear_init(w, &a->v, p, a->ctx_dim, dim, qkv_bias));
    snprintf(p, sizeof p, "%s.to_out.0", prefix);
    return nn_linear_init(w, &a->out, p, dim, dim, true);
}

se_status nn_tblock_init(se_weights *w, nn_tblock *b, const char *prefix, int64_t dim,
                         int64_t ctx_dim, int heads) {
    char p[160];
    memset(b, 0, sizeof *b);
    b->dim = dim, b->inner = 4 * dim;
    snprintf(p, sizeof p, "%s.norm1", prefix);
    SE_TRY(nn_norm_init(w, &b->norm1, p, dim, 0, 1e-5f));
    snprintf(p, sizeof p, "%s.attn1", prefix);
    SE_TRY(nn_attention_init(w, &b->attn1, p, dim, 0, heads, false));
    snprintf(p, sizeof p, "%s.norm2", prefix);
    SE_TRY(nn_norm_init(w, &b->norm2, p, dim, 0, 1e-5f));
    snprintf(p, sizeof p, "%s.attn2", prefix);
    SE_TRY(nn_attention_init(w, &b->attn2, p, dim, ctx_dim, heads, false));
    snprintf(p, sizeof p, "%s.norm3", prefix);
    SE_TRY(nn_norm_init(w, &b->norm3, p, dim, 0, 1e-5f));
    snprintf(p, sizeof p, "%s.ff.net.0.proj", prefix);
    SE_TRY(nn_linear_init(w, &b->ff_in, p, dim, 2 * b->inner, true));
    snprintf(p, sizeof p, "%s.ff.net.2", prefix);
    return nn_linear_init(w, &b->ff_out, p, b->inner, dim, true);
}

se_status nn_transformer_init(se_weights *w, nn_transformer *t, const char *prefix, int64_t dim,
                              int64_t ctx_dim, int heads, int depth, int groups, bool linear_proj) {
    char p[192];
    memset(t, 0, sizeof *t);
    if (depth < 1 || depth > 64)
        return se_fail(SE_ERR_CONFIG, "%s: transformer depth %d (expected 1..64)", prefix, depth);
    t->dim = dim;
    snprintf(p, sizeof p, "%s.norm", prefix);
    SE_TRY(nn_norm_init(w, &t->norm, p, dim, groups, 1e-6f));
    snprintf(p, sizeof p, "%s.proj_in", prefix);
    SE_TRY(linear_proj ? nn_linear_init(w, &t->proj_in, p, dim, dim, true)
                       : nn_linear_conv_init(w, &t->proj_in, p, dim, dim));
    t->blocks = calloc((size_t)depth, sizeof *t->blocks);
    if (!t->blocks) return se_fail(SE_ERR_NOMEM, "%s: no memory", prefix);
    t->depth = depth;
    for (int i = 0; i < depth; i++) {
        snprintf(p, sizeof p, "%s.transformer_blocks.%d", prefix, i);
        SE_TRY(nn_tblock_init(w, &t->blocks[i], p, dim, ctx_dim, heads));
    }
    snprintf(p, sizeof p, "%s.proj_out", prefix);
    return linear_proj ? nn_linear_init(w, &t->proj_out, p, dim, dim, true)
                       : nn_linear_conv_init(w, &t->proj_out, p, dim, dim);
}

void nn_transformer_free(nn_transformer *t) {
    free(t->blocks);
    t->blocks = NULL;
    t->depth = 0;
}

se_status nn_attn_block_init(se_weights *w, nn_attn_block *a, const char *prefix, int64_t c,
                             int heads, int groups, float eps) {
    char p[160];
    memset(a, 0, sizeof *a);
    if (heads <= 0 || c % heads != 0)
        return se_fail(SE_ERR_CONFIG, "%s: width %lld does not split into %d heads", prefix,
                       (long long)c, heads);
    a->c = c, a->heads = heads;
    snprintf(p, sizeof p, "%s.group_norm", prefix);
    SE_TRY(nn_norm_init(w, &a->norm, p, c, groups, eps));
    snprintf(p, sizeof p, "%s.to_q", prefix);
    SE_TRY(nn_linear_init(w, &a->q, p, c, c, true));
    snprintf(p, sizeof p, "%s.to_k", prefix);
    SE_TRY(nn_linear_init(w, &a->k, p, c, c, true));
    snprintf(p, sizeof p, "%s.to_v", prefix);
    SE_TRY(nn_linear_init(w, &a->v, p, c, c, true));
    snprintf(p, sizeof p, "%s.to_out.0", prefix);
    return nn_linear_init(w, &a->out, p, c, c, true);
}

se_status nn_downsample_init(se_weights *w, nn_conv *cv, const char *prefix, int64_t c) {
    char p[160];
    snprintf(p, sizeof p, "%s.conv", prefix);
    return nn_conv_init(w, cv, p, c, c, 3, 2, 1);
}

se_status nn_upsample_init(se_weights *w, nn_conv *cv, const char *prefix, int64_t c) {
    char p[160];
    snprintf(p, sizeof p, "%s.conv", prefix);
    return nn_conv_init(w, cv, p, c, c, 3, 1, 1);
}

/* ======================== forwards ======================== */

se_status nn_linear_fwd(nn_ctx *c, const nn_linear *l, const se_tensor *x, se_tensor *y) {
    const se_tensor *w = W(c, l->w);
    if (l->conv1x1) {
        se_tensor w2 = se_tensor_reshape(w, 2, (int64_t[]){l->out, l->in});
        return se_linear(c->be, x, &w2, W(c, l->b), y);
    }
    return se_linear(c->be, x, w, W(c, l->b), y);
}

se_status nn_conv_fwd(nn_ctx *c, const nn_conv *cv, const se_tensor *x, se_tensor *y) {
    return se_conv2d(c->be, x, W(c, cv->w), W(c, cv->b), cv->stride, cv->pad, y);
}

se_status nn_norm_fwd(nn_ctx *c, const nn_norm *n, const se_tensor *x, bool silu, se_tensor *y) {
    if (n->groups > 0)
        return se_group_norm(c->be, x, W(c, n->g), W(c, n->b), n->groups, n->eps, silu ? 1 : 0, y);
    SE_TRY(se_layer_norm(c->be, x, W(c, n->g), W(c, n->b), n->eps, y));
    return silu ? se_silu(c->be, y, y) : SE_OK;
}

/* The resnet body with scratch already marked (the caller releases). */
static se_status resnet_body(nn_ctx *c, const nn_resnet *r, const se_tensor *x,
                             const se_tensor *temb_act, se_tensor *y) {
    int64_t B = x->ne[0], H = x->ne[2], Wd = x->ne[3];
    se_tensor h1, h2, h3;
    SE_TRY(nn_tmp(c, 4, x->ne, "resnet.norm1", &h1));
    SE_TRY(nn_norm_fwd(c, &r->norm1, x, true, &h1));
    SE_TRY(nn_tmp(c, 4, (int64_t[]){B, r->cout, H, Wd}, "resnet.conv1", &h2));
    SE_TRY(nn_conv_fwd(c, &r->conv1, &h1, &h2));
    if (r->has_temb) {
        if (!temb_act)
            return se_fail(SE_ERR_INVALID_ARG, "resnet: block needs a time embedding");
        se_tensor t;
        SE_TRY(nn_tmp(c, 2, (int64_t[]){B, r->cout}, "resnet.temb", &t));
        SE_TRY(nn_linear_fwd(c, &r->time_emb_proj, temb_act, &t));
        se_tensor t4 = se_tensor_reshape(&t, 4, (int64_t[]){B, r->cout, 1, 1});
        SE_TRY(se_add(c->be, &h2, &t4, &h2));
    }
    SE_TRY(nn_tmp(c, 4, h2.ne, "resnet.norm2", &h3));
    SE_TRY(nn_norm_fwd(c, &r->norm2, &h2, true, &h3));
    SE_TRY(nn_conv_fwd(c, &r->conv2, &h3, y));
    if (r->has_shortcut) {
        se_tensor s;
        SE_TRY(nn_tmp(c, 4, y->ne, "resnet.shortcut", &s));
        SE_TRY(nn_conv_fwd(c, &r->conv_shortcut, x, &s));
        return se_add(c->be, &s, y, y);
    }
    return se_add(c->be, x, y, y);
}

se_status nn_resnet_fwd(nn_ctx *c, const nn_resnet *r, const se_tensor *x,
                        const se_tensor *temb_act, se_tensor *y) {
    size_t m = se_arena_mark(c->scratch);
    se_status st = resnet_body(c, r, x, temb_act, y);
    se_arena_release(c->scratch, m);
    return st;
}

static se_status attention_body(nn_ctx *c, const nn_attention *a, const se_tensor *x,
                                const se_tensor *ctx, se_tensor *y) {
    const se_tensor *kv = ctx ? ctx : x;
    int64_t B = x->ne[0], N = x->ne[1], M = kv->ne[1];
    se_tensor q, k, v, o;
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, N, a->dim}, "attn.q", &q));
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, M, a->dim}, "attn.k", &k));
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, M, a->dim}, "attn.v", &v));
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, N, a->dim}, "attn.o", &o));
    SE_TRY(nn_linear_fwd(c, &a->q, x, &q));
    SE_TRY(nn_linear_fwd(c, &a->k, kv, &k));
    SE_TRY(nn_linear_fwd(c, &a->v, kv, &v));
    float scale = 1.0f / sqrtf((float)(a->dim / a->heads));
    SE_TRY(se_attention(c->be, &q, &k, &v, a->heads, 0, scale, &o));
    return nn_linear_fwd(c, &a->out, &o, y);
}

se_status nn_attention_fwd(nn_ctx *c, const nn_attention *a, const se_tensor *x,
                           const se_tensor *ctx, se_tensor *y) {
    size_t m = se_arena_mark(c->scratch);
    se_status st = attention_body(c, a, x, ctx, y);
    se_arena_release(c->scratch, m);
    return st;
}

static se_status tblock_body(nn_ctx *c, const nn_tblock *b, se_tensor *h, const se_tensor *ctx) {
    int64_t B = h->ne[0], N = h->ne[1];
    se_tensor n, a;
    SE_TRY(nn_tmp(c, 3, h->ne, "tblock.norm", &n));
    SE_TRY(nn_tmp(c, 3, h->ne, "tblock.attn", &a));
    SE_TRY(nn_norm_fwd(c, &b->norm1, h, false, &n));
    SE_TRY(nn_attention_fwd(c, &b->attn1, &n, NULL, &a));
    SE_TRY(se_add(c->be, h, &a, h));
    SE_TRY(nn_norm_fwd(c, &b->norm2, h, false, &n));
    SE_TRY(nn_attention_fwd(c, &b->attn2, &n, ctx, &a));
    SE_TRY(se_add(c->be, h, &a, h));
    SE_TRY(nn_norm_fwd(c, &b->norm3, h, false, &n));
    se_tensor p, g;
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, N, 2 * b->inner}, "tblock.ff_proj", &p));
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, N, b->inner}, "tblock.geglu", &g));
    SE_TRY(nn_linear_fwd(c, &b->ff_in, &n, &p));
    SE_TRY(se_geglu(c->be, &p, &g));
    SE_TRY(nn_linear_fwd(c, &b->ff_out, &g, &a));
    return se_add(c->be, h, &a, h);
}

se_status nn_tblock_fwd(nn_ctx *c, const nn_tblock *b, se_tensor *h, const se_tensor *ctx) {
    size_t m = se_arena_mark(c->scratch);
    se_status st = tblock_body(c, b, h, ctx);
    se_arena_release(c->scratch, m);
    return st;
}

/* [B,C,H,W] <-> [B,HW,C] token layout changes through a permuting copy. */
static se_status to_tokens(nn_ctx *c, const se_tensor *x, se_tensor *tok) {
    int64_t B = x->ne[0], C = x->ne[1], HW = x->ne[2] * x->ne[3];
    se_tensor x3 = se_tensor_reshape(x, 3, (int64_t[]){B, C, HW});
    return se_copy(c->be, &x3, (const int[]){0, 2, 1}, tok);
}

static se_status from_tokens(nn_ctx *c, const se_tensor *tok, se_tensor *y) {
    int64_t B = y->ne[0], C = y->ne[1], HW = y->ne[2] * y->ne[3];
    se_tensor y3 = se_tensor_reshape(y, 3, (int64_t[]){B, C, HW});
    (void)HW;
    return se_copy(c->be, tok, (const int[]){0, 2, 1}, &y3);
}

static se_status transformer_body(nn_ctx *c, const nn_transformer *t, const se_tensor *x,
                                  const se_tensor *ctx, se_tensor *y) {
    int64_t B = x->ne[0], C = x->ne[1], HW = x->ne[2] * x->ne[3];
    se_tensor n, tok, h;
    SE_TRY(nn_tmp(c, 4, x->ne, "transformer.norm", &n));
    SE_TRY(nn_norm_fwd(c, &t->norm, x, false, &n));
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, HW, C}, "transformer.tokens", &tok));
    SE_TRY(to_tokens(c, &n, &tok));
    SE_TRY(nn_tmp(c, 3, (int64_t[]){B, HW, C}, "transformer.hidden", &h));
    SE_TRY(nn_linear_fwd(c, &t->proj_in, &tok, &h));
    for (int i = 0; i < t->depth; i++) SE_TRY(nn_tblock_fwd(c, &t->blocks[i], &h, ctx));
    SE_TRY(nn_linear_fwd(c, &t->proj_out, &h, &tok));
    SE_TRY(from_tokens(c, &tok, y));
    return se_add(c->be, y, x, y);
}

se_status nn_transformer_fwd(nn_ctx *c, const nn_transformer *t, const se_tensor *x,
                             const se_tensor *ctx, se_tensor *y) {
    size_t m = se_arena_mark(c->scratch);
    se_status st = transformer_body(c, t, x, ctx, y);
    se_arena_release(c->scratch, m);
    return st;
}

static se_status attn_block_body(nn_ctx *c, const nn_attn_block *a, const se_tensor *x,
                                 se_tensor *y) {
    int64_t B = x->ne[0], C = x->ne[1], HW = x->ne[2] * x->ne[3];
    int64_t tne[3] = {B, HW, C};
    se_tensor n, tok, q, k, v, o;
    SE_TRY(nn_tmp(c, 4, x->ne, "attn_block.norm", &n));
    SE_TRY(nn_norm_fwd(c, &a->norm, x, false, &n));
    SE_TRY(nn_tmp(c, 3, tne, "attn_block.tokens", &tok));
    SE_TRY(to_tokens(c, &n, &tok));
    SE_TRY(nn_tmp(c, 3, tne, "attn_block.q", &q));
    SE_TRY(nn_tmp(c, 3, tne, "attn_block.k", &k));
    SE_TRY(nn_tmp(c, 3, tne, "attn_block.v", &v));
    SE_TRY(nn_tmp(c, 3, tne, "attn_block.o", &o));
    SE_TRY(nn_linear_fwd(c, &a->q, &tok, &q));
    SE_TRY(nn_linear_fwd(c, &a->k, &tok, &k));
    SE_TRY(nn_linear_fwd(c, &a->v, &tok, &v));
    float scale = 1.0f / sqrtf((float)(C / a->heads));
    SE_TRY(se_attention(c->be, &q, &k, &v, a->heads, 0, scale, &o));
    SE_TRY(nn_linear_fwd(c, &a->out, &o, &tok));
    SE_TRY(from_tokens(c, &tok, y));
    return se_add(c->be, y, x, y);
}

se_status nn_attn_block_fwd(nn_ctx *c, const nn_attn_block *a, const se_tensor *x, se_tensor *y) {
    size_t m = se_arena_mark(c->scratch);
    se_status st = attn_block_body(c, a, x, y);
    se_arena_release(c->scratch, m);
    return st;
}

se_status nn_upsample_fwd(nn_ctx *c, const nn_conv *cv, const se_tensor *x, se_tensor *y) {
    size_t m = se_arena_mark(c->scratch);
    se_tensor u;
    se_status st = nn_tmp(c, 4, (int64_t[]){x->ne[0], x->ne[1], 2 * x->ne[2], 2 * x->ne[3]},
                          "upsample", &u);
    if (st == SE_OK) st = se_upsample_nearest2x(c->be, x, &u);
    if (st == SE_OK) st = nn_conv_fwd(c, cv, &u, y);
    se_arena_release(c->scratch, m);
    return st;
}
