/*
 * nn.h - reusable network blocks on top of ops.h: linear, conv, norms, ResnetBlock2D,
 * attention, BasicTransformerBlock, Transformer2D, the VAE-style attention block, down/upsample.
 *
 * Every block is named by a prefix in the checkpoint's own naming (diffusers), e.g.
 * "down_blocks.1.attentions.0": *_init declares the tensors it needs in an se_weights set
 * (prefix + ".proj_in.weight", ...) and keeps their handles; *_fwd runs it after the set is
 * loaded. Semantics follow diffusers exactly (see sdxl-lightning.md section 2): resnets are
 * GN+SiLU, conv, + time_emb_proj(SiLU(temb)), GN+SiLU, conv, + shortcut; Transformer2D is GN(eps
 * 1e-6), proj_in, blocks of [LN, self-attn, +] [LN, cross-attn, +] [LN, GEGLU FF, +], proj_out,
 * + residual; GEGLU takes the first half as value and the second as gate.
 *
 * Memory: each *_fwd writes into a y the caller allocated (shapes are documented per function)
 * and takes its temporaries from c->scratch, releasing them before it returns.
 */
#ifndef STRIKE_ENGINE_NN_H
#define STRIKE_ENGINE_NN_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/ops.h"
#include "io/weights.h"

/* What a forward needs: the backend, the loaded weights, scratch memory. */
typedef struct nn_ctx {
    se_backend *be;
    const se_weights *w;
    se_arena *scratch;  /* temporaries; every nn_*_fwd releases what it took */
    se_dtype act;       /* activation dtype (be->act_dtype) */
} nn_ctx;

/* y = x W^T + b. W [out,in] (or a 1x1 conv kernel [out,in,1,1] used as a matrix). */
typedef struct nn_linear {
    int w, b;           /* weight handles; b = -1 when there is no bias */
    int64_t in, out;
    bool conv1x1;       /* the weight is stored as [out,in,1,1] */
} nn_linear;

typedef struct nn_conv {
    int w, b;           /* [cout,cin,k,k], [cout] (b = -1: no bias) */
    int64_t cin, cout;
    int k, stride, pad;
} nn_conv;

/* GroupNorm (groups > 0) or LayerNorm over the last dim (groups == 0); affine. */
typedef struct nn_norm {
    int g, b;
    int64_t c;
    int groups;
    float eps;
} nn_norm;

typedef struct nn_resnet {
    nn_norm norm1, norm2;
    nn_conv conv1, conv2;
    bool has_temb;
    nn_linear time_emb_proj;
    bool has_shortcut;
    nn_conv conv_shortcut;
    int64_t cin, cout;
} nn_resnet;

/* Multi-head attention (diffusers Attention): to_q/to_k/to_v (bias optional), to_out.0. */
typedef struct nn_attention {
    nn_linear q, k, v, out;
    int heads;
    int64_t dim, ctx_dim;
} nn_attention;

typedef struct nn_tblock {
    nn_norm norm1, norm2, norm3;
    nn_attention attn1, attn2;
    nn_linear ff_in, ff_out;        /* ff.net.0.proj [2*inner, dim], ff.net.2 [dim, inner] */
    int64_t dim, inner;
} nn_tblock;

typedef struct nn_transformer {
    nn_norm norm;                   /* GroupNorm, eps 1e-6 */
    nn_linear proj_in, proj_out;
    int depth;
    nn_tblock *blocks;              /* depth entries (owned; nn_transformer_free) */
    int64_t dim;
} nn_transformer;

/* The VAE mid-block attention: GroupNorm, one projection each for q/k/v/out, residual. */
typedef struct nn_attn_block {
    nn_norm norm;
    nn_linear q, k, v, out;
    int heads;
    int64_t c;
} nn_attn_block;

/* ---- declaring weights (before se_weights_load) ---- */
se_status nn_linear_init(se_weights *w, nn_linear *l, const char *prefix, int64_t in, int64_t out,
                         bool bias);
se_status nn_conv_init(se_weights *w, nn_conv *cv, const char *prefix, int64_t cin, int64_t cout,
                       int k, int stride, int pad);
se_status nn_norm_init(se_weights *w, nn_norm *n, const char *prefix, int64_t c, int groups,
                       float eps);
/* temb_dim 0: no time embedding (VAE). groups/eps apply to both norms. */
se_status nn_resnet_init(se_weights *w, nn_resnet *r, const char *prefix, int64_t cin,
                         int64_t cout, int64_t temb_dim, int groups, float eps);
/* ctx_dim 0: self-attention. */
se_status nn_attention_init(se_weights *w, nn_attention *a, const char *prefix, int64_t dim,
                            int64_t ctx_dim, int heads, bool qkv_bias);
se_status nn_tblock_init(se_weights *w, nn_tblock *b, const char *prefix, int64_t dim,
                         int64_t ctx_dim, int heads);
/* linear_proj false: proj_in/proj_out are 1x1 convs. */
se_status nn_transformer_init(se_weights *w, nn_transformer *t, const char *prefix, int64_t dim,
                              int64_t ctx_dim, int heads, int depth, int groups, bool linear_proj);
void nn_transformer_free(nn_transformer *t);
se_status nn_attn_block_init(se_weights *w, nn_attn_block *a, const char *prefix, int64_t c,
                             int heads, int groups, float eps);
/* prefix.conv: 3x3 stride 2 pad 1 (Downsample2D) or 3x3 pad 1 after nearest 2x (Upsample2D). */
se_status nn_downsample_init(se_weights *w, nn_conv *cv, const char *prefix, int64_t c);
se_status nn_upsample_init(se_weights *w, nn_conv *cv, const char *prefix, int64_t c);

/* ---- forward (after loading) ---- */
/* x [..., in] -> y [..., out]. */
se_status nn_linear_fwd(nn_ctx *c, const nn_linear *l, const se_tensor *x, se_tensor *y);
/* x [B,cin,H,W] -> y [B,cout,Ho,Wo]. */
se_status nn_conv_fwd(nn_ctx *c, const nn_conv *cv, const se_tensor *x, se_tensor *y);
/* y same shape as x; silu fuses a SiLU after a GroupNorm. */
se_status nn_norm_fwd(nn_ctx *c, const nn_norm *n, const se_tensor *x, bool silu, se_tensor *y);
/* x [B,cin,H,W], temb_act [B,temb_dim] = SiLU(emb) or NULL -> y [B,cout,H,W]. */
se_status nn_resnet_fwd(nn_ctx *c, const nn_resnet *r, const se_tensor *x,
                        const se_tensor *temb_act, se_tensor *y);
/* x [B,N,dim], ctx [B,M,ctx_dim] (NULL: self-attention) -> y [B,N,dim] (no residual). */
se_status nn_attention_fwd(nn_ctx *c, const nn_attention *a, const se_tensor *x,
                           const se_tensor *ctx, se_tensor *y);
/* h [B,N,dim] updated in place. */
se_status nn_tblock_fwd(nn_ctx *c, const nn_tblock *b, se_tensor *h, const se_tensor *ctx);
/* x [B,C,H,W], ctx [B,M,ctx_dim] -> y [B,C,H,W] (residual included). */
se_status nn_transformer_fwd(nn_ctx *c, const nn_transformer *t, const se_tensor *x,
                             const se_tensor *ctx, se_tensor *y);
/* x [B,C,H,W] -> y [B,C,H,W] (residual included). */
se_status nn_attn_block_fwd(nn_ctx *c, const nn_attn_block *a, const se_tensor *x, se_tensor *y);
/* x [B,C,H,W] -> y [B,C,2H,2W]: nearest 2x then the conv. */
se_status nn_upsample_fwd(nn_ctx *c, const nn_conv *cv, const se_tensor *x, se_tensor *y);

/* Allocates a temporary activation from the scratch arena. */
se_status nn_tmp(nn_ctx *c, int ndim, const int64_t *ne, const char *name, se_tensor *out);

#endif
