/*
 * clip.c - CLIP text encoder forward (see clip.h for the semantics it reproduces).
 *
 * Loading reads config.json, declares every tensor by its transformers name and shape in an
 * se_weights set and loads model.safetensors into it. The forward runs on ops.h only: gather,
 * add (position embeddings broadcast over the batch), layer_norm, linear, causal attention,
 * quick_gelu/gelu; activations live in an arena owned by the encoder.
 */
#include "model/clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/ops.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "io/weights.h"

/* Handles of one encoder layer's tensors. */
typedef struct clip_layer {
    int ln1_w, ln1_b, ln2_w, ln2_b;
    int q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
    int fc1_w, fc1_b, fc2_w, fc2_b;
} clip_layer;

struct se_clip {
    se_clip_config cfg;
    char what[64];
    const char *prefix;        /* "text_model." (SDXL's files, transformers 4) or "" (transformers 5
                                  CLIPTextModel saves) */
    se_backend *be;
    se_weights *w;
    int tok_emb, pos_emb, final_w, final_b, proj;
    clip_layer *layers;
    se_arena *arena;
    size_t arena_bytes;
};

/* Reads the config; every size is checked to be positive and consistent. */
static se_status read_config(const char *path, se_clip_config *c) {
    se_config *j = NULL;
    SE_TRY(se_config_open(path, &j));
    se_status st = SE_OK;
    const char *act = NULL;
    double eps = 1e-5;
    if ((st = se_config_int(j, "vocab_size", 49408, &c->vocab_size)) != SE_OK ||
        (st = se_config_int(j, "hidden_size", SE_CONFIG_REQUIRED, &c->hidden)) != SE_OK ||
        (st = se_config_int(j, "intermediate_size", SE_CONFIG_REQUIRED, &c->intermediate)) != SE_OK ||
        (st = se_config_int(j, "num_hidden_layers", SE_CONFIG_REQUIRED, &c->layers)) != SE_OK ||
        (st = se_config_int(j, "num_attention_heads", SE_CONFIG_REQUIRED, &c->heads)) != SE_OK ||
        (st = se_config_int(j, "max_position_embeddings", 77, &c->max_positions)) != SE_OK ||
        (st = se_config_int(j, "projection_dim", 512, &c->projection_dim)) != SE_OK ||
        (st = se_config_int(j, "eos_token_id", 49407, &c->eos_token_id)) != SE_OK ||
        (st = se_config_float(j, "layer_norm_eps", false, 1e-5, &eps)) != SE_OK ||
        (st = se_config_string(j, "hidden_act", "quick_gelu", &act)) != SE_OK)
        goto done;
    c->eps = (float)eps;
    if (strcmp(act, "quick_gelu") == 0) {
        c->gelu = false;
    } else if (strcmp(act, "gelu") == 0) {
        c->gelu = true;
    } else {
        st = se_fail(SE_ERR_CONFIG, "%s: hidden_act: expected \"quick_gelu\" or \"gelu\", got \"%s\"", path, act);
        goto done;
    }
    if (c->vocab_size < 1 || c->vocab_size > (1 << 22) || c->hidden < 1 || c->hidden > 65536 ||
        c->intermediate < 1 || c->intermediate > 262144 || c->layers < 2 || c->layers > 256 ||
        c->heads < 1 || c->hidden % c->heads != 0 || c->max_positions < 2 || c->max_positions > 4096 ||
        c->projection_dim < 1 || c->projection_dim > 65536 || !(c->eps > 0.0f)) {
        st = se_fail(SE_ERR_CONFIG,
                     "%s: bad sizes (vocab_size %lld, hidden_size %lld, intermediate_size %lld, "
                     "num_hidden_layers %lld (>= 2), num_attention_heads %lld (divides hidden_size), "
                     "max_position_embeddings %lld, projection_dim %lld, layer_norm_eps %g)",
                     path, (long long)c->vocab_size, (long long)c->hidden, (long long)c->intermediate,
                     (long long)c->layers, (long long)c->heads, (long long)c->max_positions,
                     (long long)c->projection_dim, (double)c->eps);
    }
done:
    se_config_close(&j);
    return st;
}

/* Declares a [n] (m == 0) or [n,m] tensor called prefix + name. */
static se_status need_p(se_weights *w, const char *prefix, int *h, int64_t n, int64_t m, const char *name) {
    int64_t ne[2] = {n, m};
    return se_weights_requiref(w, h, m ? 2 : 1, ne, "%s%s", prefix, name);
}
#define need(w, h, n, m, name) need_p((w), e->prefix, (h), (n), (m), (name))

/* Same for "<prefix>encoder.layers.<l>.<leaf>". */
static se_status need_layer_p(se_weights *w, const char *prefix, int *h, int64_t n, int64_t m, long l,
                              const char *leaf) {
    int64_t ne[2] = {n, m};
    return se_weights_requiref(w, h, m ? 2 : 1, ne, "%sencoder.layers.%ld.%s", prefix, l, leaf);
}
#define need_layer(w, h, n, m, l, leaf) need_layer_p((w), e->prefix, (h), (n), (m), (l), (leaf))

/* Declares every tensor of the encoder. */
static se_status declare(se_clip *e) {
    const se_clip_config *c = &e->cfg;
    se_weights *w = e->w;
    int64_t D = c->hidden, I = c->intermediate;
    SE_TRY(need(w, &e->tok_emb, c->vocab_size, D, "embeddings.token_embedding.weight"));
    SE_TRY(need(w, &e->pos_emb, c->max_positions, D, "embeddings.position_embedding.weight"));
    e->layers = calloc((size_t)c->layers, sizeof *e->layers);
    if (!e->layers) return se_fail(SE_ERR_NOMEM, "%s: no memory for %lld layers", e->what, (long long)c->layers);
    for (long l = 0; l < (long)c->layers; l++) {
        clip_layer *L = &e->layers[l];
        SE_TRY(need_layer(w, &L->ln1_w, D, 0, l, "layer_norm1.weight"));
        SE_TRY(need_layer(w, &L->ln1_b, D, 0, l, "layer_norm1.bias"));
        SE_TRY(need_layer(w, &L->q_w, D, D, l, "self_attn.q_proj.weight"));
        SE_TRY(need_layer(w, &L->q_b, D, 0, l, "self_attn.q_proj.bias"));
        SE_TRY(need_layer(w, &L->k_w, D, D, l, "self_attn.k_proj.weight"));
        SE_TRY(need_layer(w, &L->k_b, D, 0, l, "self_attn.k_proj.bias"));
        SE_TRY(need_layer(w, &L->v_w, D, D, l, "self_attn.v_proj.weight"));
        SE_TRY(need_layer(w, &L->v_b, D, 0, l, "self_attn.v_proj.bias"));
        SE_TRY(need_layer(w, &L->o_w, D, D, l, "self_attn.out_proj.weight"));
        SE_TRY(need_layer(w, &L->o_b, D, 0, l, "self_attn.out_proj.bias"));
        SE_TRY(need_layer(w, &L->ln2_w, D, 0, l, "layer_norm2.weight"));
        SE_TRY(need_layer(w, &L->ln2_b, D, 0, l, "layer_norm2.bias"));
        SE_TRY(need_layer(w, &L->fc1_w, I, D, l, "mlp.fc1.weight"));
        SE_TRY(need_layer(w, &L->fc1_b, I, 0, l, "mlp.fc1.bias"));
        SE_TRY(need_layer(w, &L->fc2_w, D, I, l, "mlp.fc2.weight"));
        SE_TRY(need_layer(w, &L->fc2_b, D, 0, l, "mlp.fc2.bias"));
    }
    SE_TRY(need(w, &e->final_w, D, 0, "final_layer_norm.weight"));
    SE_TRY(need(w, &e->final_b, D, 0, "final_layer_norm.bias"));
    e->proj = -1;
    if (c->projection) {
        int64_t ne[2] = {c->projection_dim, D};
        SE_TRY(se_weights_require(w, "text_projection.weight", 2, ne, &e->proj));
    }
    return SE_OK;
}

se_status se_clip_load_files(const char *config_path, const char *weights_path, const char *what,
                             se_backend *be, se_clip **out) {
    if (!config_path || !weights_path || !be || !out) return se_fail(SE_ERR_INVALID_ARG, "clip: NULL argument");
    *out = NULL;
    se_clip *e = calloc(1, sizeof *e);
    if (!e) return se_fail(SE_ERR_NOMEM, "clip: no memory");
    snprintf(e->what, sizeof e->what, "%s", what ? what : "clip");
    e->be = be;
    se_st_file *f = NULL;
    se_status st = read_config(config_path, &e->cfg);
    if (st == SE_OK) st = se_st_open(weights_path, &f);
    if (st == SE_OK) {
        e->cfg.projection = se_st_find(f, "text_projection.weight") != NULL;
        e->prefix = se_st_find(f, "text_model.embeddings.token_embedding.weight") ? "text_model." : "";
        st = se_weights_new(e->what, &e->w);
    }
    if (st == SE_OK) st = declare(e);
    if (st == SE_OK) st = se_weights_load(e->w, f, be);
    se_st_close(&f);
    if (st != SE_OK) {
        se_clip_destroy(&e);
        return st;
    }
    *out = e;
    return SE_OK;
}

se_status se_clip_load(const char *dir, se_backend *be, se_clip **out) {
    if (!dir) return se_fail(SE_ERR_INVALID_ARG, "clip: NULL folder");
    char cp[4096], wp[4096];
    if ((size_t)snprintf(cp, sizeof cp, "%s/config.json", dir) >= sizeof cp ||
        (size_t)snprintf(wp, sizeof wp, "%s/model.safetensors", dir) >= sizeof wp)
        return se_fail(SE_ERR_INVALID_ARG, "clip: path too long: %s", dir);
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    return se_clip_load_files(cp, wp, base, be, out);
}

void se_clip_destroy(se_clip **enc) {
    if (!enc || !*enc) return;
    se_clip *e = *enc;
    se_arena_destroy(&e->arena);
    se_weights_destroy(&e->w);
    free(e->layers);
    free(e);
    *enc = NULL;
}

const se_clip_config *se_clip_get_config(const se_clip *enc) { return &enc->cfg; }

se_backend *se_clip_backend(const se_clip *enc) { return enc->be; }
const se_weights *se_clip_weights(const se_clip *enc) { return enc->w; }

int64_t se_clip_pooled_dim(const se_clip *enc) {
    return enc->cfg.projection ? enc->cfg.projection_dim : enc->cfg.hidden;
}

/* Makes sure the arena holds the activations of a [B,T] forward. */
static se_status ensure_arena(se_clip *e, int B, int T) {
    const se_clip_config *c = &e->cfg;
    size_t es = se_dtype_size(e->be->act_dtype);
    size_t bt = (size_t)B * (size_t)T;
    /* x, h, q, k, v, attn, o (7 x D) + fc1 (I) + ids + final LN + pooled rows, plus alignment. */
    size_t need = bt * es * (7 * (size_t)c->hidden + (size_t)c->intermediate) + bt * 4 +
                  bt * es * (size_t)c->hidden + (size_t)B * es * ((size_t)c->hidden + (size_t)c->projection_dim) +
                  32 * 256;
    if (e->arena && e->arena_bytes >= need) return SE_OK;
    se_arena_destroy(&e->arena);
    e->arena_bytes = 0;
    SE_TRY(se_arena_new(e->be, need, &e->arena));
    e->arena_bytes = need;
    return SE_OK;
}

/* An arena tensor of the activation dtype. */
static se_status tmp(se_clip *e, int ndim, int64_t a, int64_t b, int64_t c, const char *name, se_tensor *out) {
    int64_t ne[3] = {a, b, c};
    return se_arena_tensor(e->arena, e->be->act_dtype, ndim, ne, name, out);
}

/* A weight by handle, as a mutable descriptor (the ops take const pointers anyway). */
static const se_tensor *W(const se_clip *e, int h) { return se_weights_at(e->w, h); }

/* One encoder layer on x [B,T,D], in place. */
static se_status layer_fwd(se_clip *e, const clip_layer *L, se_tensor *x, int B, int T) {
    se_backend *be = e->be;
    const se_clip_config *c = &e->cfg;
    int64_t D = c->hidden;
    size_t mark = se_arena_mark(e->arena);
    se_tensor h, q, k, v, a, o, f;
    se_status st;
    if ((st = tmp(e, 3, B, T, D, "clip.h", &h)) != SE_OK || (st = tmp(e, 3, B, T, D, "clip.q", &q)) != SE_OK ||
        (st = tmp(e, 3, B, T, D, "clip.k", &k)) != SE_OK || (st = tmp(e, 3, B, T, D, "clip.v", &v)) != SE_OK ||
        (st = tmp(e, 3, B, T, D, "clip.attn", &a)) != SE_OK || (st = tmp(e, 3, B, T, D, "clip.o", &o)) != SE_OK ||
        (st = tmp(e, 3, B, T, c->intermediate, "clip.fc1", &f)) != SE_OK)
        goto done;
    float scale = 1.0f / sqrtf((float)(D / c->heads));
    if ((st = se_layer_norm(be, x, W(e, L->ln1_w), W(e, L->ln1_b), c->eps, &h)) != SE_OK ||
        (st = se_linear(be, &h, W(e, L->q_w), W(e, L->q_b), &q)) != SE_OK ||
        (st = se_linear(be, &h, W(e, L->k_w), W(e, L->k_b), &k)) != SE_OK ||
        (st = se_linear(be, &h, W(e, L->v_w), W(e, L->v_b), &v)) != SE_OK ||
        (st = se_attention(be, &q, &k, &v, (int)c->heads, 1, scale, &a)) != SE_OK ||
        (st = se_linear(be, &a, W(e, L->o_w), W(e, L->o_b), &o)) != SE_OK ||
        (st = se_add(be, x, &o, x)) != SE_OK)
        goto done;
    if ((st = se_layer_norm(be, x, W(e, L->ln2_w), W(e, L->ln2_b), c->eps, &h)) != SE_OK ||
        (st = se_linear(be, &h, W(e, L->fc1_w), W(e, L->fc1_b), &f)) != SE_OK ||
        (st = c->gelu ? se_gelu(be, &f, &f) : se_quick_gelu(be, &f, &f)) != SE_OK ||
        (st = se_linear(be, &f, W(e, L->fc2_w), W(e, L->fc2_b), &o)) != SE_OK ||
        (st = se_add(be, x, &o, x)) != SE_OK)
        goto done;
done:
    se_arena_release(e->arena, mark);
    return st;
}

/* The pooling position of row b (see clip.h). */
static int pool_position(const se_clip_config *c, const int32_t *ids, int T) {
    int p = 0;
    if (c->eos_token_id == 2) {
        for (int t = 1; t < T; t++)
            if (ids[t] > ids[p]) p = t;
        return p;
    }
    for (int t = 0; t < T; t++)
        if (ids[t] == c->eos_token_id) return t;
    return 0;
}

/* Checks that an output tensor has the expected contiguous shape and dtype. */
static se_status check_out(const se_clip *e, const se_tensor *t, int ndim, const int64_t *ne, const char *which) {
    bool ok = t->dtype == e->be->act_dtype && t->ndim == ndim && se_tensor_is_contiguous(t) && t->data;
    for (int d = 0; ok && d < ndim; d++) ok = t->ne[d] == ne[d];
    if (ok) return SE_OK;
    char got[96];
    se_tensor_shape_str(t, got, sizeof got);
    return se_fail(SE_ERR_SHAPE, "%s: %s output: expected contiguous %s [%lld,%lld%s%lld], got %s %s", e->what,
                   which, se_dtype_name(e->be->act_dtype), (long long)ne[0], (long long)ne[1], ndim == 3 ? "," : "",
                   ndim == 3 ? (long long)ne[2] : 0LL, se_dtype_name(t->dtype), got);
}

se_status se_clip_encode(se_clip *e, const int32_t *ids, int B, int T, int clip_skip, se_tensor *hidden,
                         se_tensor *pooled) {
    if (!e || !ids || B < 1 || T < 1) return se_fail(SE_ERR_INVALID_ARG, "clip: encode: bad argument (B %d, T %d)", B, T);
    const se_clip_config *c = &e->cfg;
    if (T > c->max_positions)
        return se_fail(SE_ERR_INVALID_ARG, "%s: %d tokens, more than max_position_embeddings %lld", e->what, T,
                       (long long)c->max_positions);
    if (clip_skip < 0 || clip_skip >= c->layers - 1)
        return se_fail(SE_ERR_INVALID_ARG, "%s: clip_skip %d outside [0, %lld)", e->what, clip_skip,
                       (long long)c->layers - 1);
    for (long i = 0; i < (long)B * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return se_fail(SE_ERR_INVALID_ARG, "%s: token id %d at [%ld,%ld] outside [0, %lld)", e->what, ids[i],
                           i / T, i % T, (long long)c->vocab_size);
    int64_t D = c->hidden, P = se_clip_pooled_dim(e);
    if (hidden) SE_TRY(check_out(e, hidden, 3, (int64_t[]){B, T, D}, "hidden"));
    if (pooled) SE_TRY(check_out(e, pooled, 2, (int64_t[]){B, P}, "pooled"));
    SE_TRY(ensure_arena(e, B, T));
    se_arena_reset(e->arena);
    se_backend *be = e->be;
    se_tensor tid, x;
    int64_t ne_ids[2] = {B, T};
    SE_TRY(se_arena_tensor(e->arena, SE_I32, 2, ne_ids, "clip.ids", &tid));
    SE_TRY(se_tensor_set_data(be, &tid, ids, (size_t)B * (size_t)T * sizeof(int32_t)));
    SE_TRY(tmp(e, 3, B, T, D, "clip.x", &x));
    SE_TRY(se_gather(be, W(e, e->tok_emb), &tid, &x));
    /* Position embeddings: the first T rows of the table, broadcast over the batch. */
    const se_tensor *pe = W(e, e->pos_emb);
    se_tensor pos = se_tensor_make(pe->dtype, 2, (int64_t[]){T, D}, pe->data, "clip.pos[0:T]");
    SE_TRY(se_add(be, &x, &pos, &x));

    int hidden_after = (int)c->layers - 1 - clip_skip; /* layers run before hidden is taken */
    int run = pooled ? (int)c->layers : hidden_after;
    for (int l = 0; l < run; l++) {
        SE_TRY(layer_fwd(e, &e->layers[l], &x, B, T));
        if (hidden && l + 1 == hidden_after) SE_TRY(se_copy(be, &x, NULL, hidden));
    }
    if (!pooled) return SE_OK;
    se_tensor y, rows;
    SE_TRY(tmp(e, 3, B, T, D, "clip.final", &y));
    SE_TRY(se_layer_norm(be, &x, W(e, e->final_w), W(e, e->final_b), c->eps, &y));
    SE_TRY(tmp(e, 2, B, D, 0, "clip.pooled_rows", &rows));
    size_t es = se_dtype_size(be->act_dtype);
    for (int b = 0; b < B; b++) {
        int p = pool_position(c, ids + (size_t)b * (size_t)T, T);
        se_tensor src = se_tensor_make(be->act_dtype, 2, (int64_t[]){1, D},
                                       (char *)y.data + ((size_t)b * (size_t)T + (size_t)p) * (size_t)D * es, "clip.eos_row");
        se_tensor dst = se_tensor_make(be->act_dtype, 2, (int64_t[]){1, D}, (char *)rows.data + (size_t)b * (size_t)D * es,
                                       "clip.pooled_row");
        SE_TRY(se_copy(be, &src, NULL, &dst));
    }
    if (c->projection) return se_linear(be, &rows, W(e, e->proj), NULL, pooled);
    return se_copy(be, &rows, NULL, pooled);
}
