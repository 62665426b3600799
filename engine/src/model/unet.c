/*
 * unet.c - the SDXL-family UNet: building the block list from the config, loading weights, and
 * the forward pass (diffusers UNet2DConditionModel semantics, sdxl-lightning.md 2.2).
 *
 * Activation memory comes from four arenas sized from the input shape (kept between calls and
 * grown only when a larger input arrives):
 *   skips   - a stack: the time embeddings at the bottom, then every down-path output that an
 *             up block will concatenate; popped (released) LIFO on the way up;
 *   pp[0/1] - ping-pong buffers for the current hidden state: each step writes into the buffer
 *             that does not hold its input, after resetting it;
 *   scratch - temporaries inside a block (nn_*_fwd mark and release).
 * So a forward needs no malloc per op and its footprint is a few activation-sized buffers.
 */
#include "model/unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/ops.h"
#include "io/safetensors.h"
#include "model/nn.h"

typedef struct unet_down {
    nn_resnet res[SE_UNET_MAX_LAYERS];
    nn_transformer attn[SE_UNET_MAX_LAYERS];
    int n;
    bool has_attn, has_down;
    nn_conv down;
} unet_down;

typedef struct unet_up {
    nn_resnet res[SE_UNET_MAX_LAYERS + 1];
    nn_transformer attn[SE_UNET_MAX_LAYERS + 1];
    int n;
    bool has_attn, has_up;
    nn_conv up;
} unet_up;

struct se_unet {
    se_unet_config cfg;
    se_backend *be;                 /* not owned */
    se_weights *w;                  /* all weights, one backend allocation */
    nn_linear time_l1, time_l2, add_l1, add_l2;
    nn_conv conv_in, conv_out;
    nn_norm norm_out;
    unet_down down[SE_UNET_MAX_BLOCKS];
    nn_resnet mid_res[2];
    nn_transformer mid_attn;
    unet_up up[SE_UNET_MAX_BLOCKS];
    se_arena *skips, *pp[2], *scratch;  /* activation arenas (see the file comment) */
    se_unet_probe_fn probe;
    void *probe_user;
};

/* ======================== building ======================== */

/* Declares every tensor of the network in u->w (names as diffusers writes them). */
static se_status unet_declare(se_unet *u) {
    const se_unet_config *c = &u->cfg;
    se_weights *w = u->w;
    const int n = c->nblocks, G = c->norm_groups;
    const float eps = c->norm_eps;
    const int64_t TE = c->time_embed_dim, C0 = c->channels[0], X = c->cross_attention_dim;
    char p[128];

    SE_TRY(nn_linear_init(w, &u->time_l1, "time_embedding.linear_1", C0, TE, true));
    SE_TRY(nn_linear_init(w, &u->time_l2, "time_embedding.linear_2", TE, TE, true));
    if (c->add_text_time) {
        SE_TRY(nn_linear_init(w, &u->add_l1, "add_embedding.linear_1", c->projection_dim, TE, true));
        SE_TRY(nn_linear_init(w, &u->add_l2, "add_embedding.linear_2", TE, TE, true));
    }
    SE_TRY(nn_conv_init(w, &u->conv_in, "conv_in", c->in_channels, C0, 3, 1, 1));

    for (int i = 0; i < n; i++) {
        unet_down *d = &u->down[i];
        int64_t cin = i == 0 ? C0 : c->channels[i - 1], cout = c->channels[i];
        d->n = c->layers[i];
        d->has_attn = c->down_attn[i];
        d->has_down = i < n - 1;
        for (int j = 0; j < d->n; j++) {
            snprintf(p, sizeof p, "down_blocks.%d.resnets.%d", i, j);
            SE_TRY(nn_resnet_init(w, &d->res[j], p, j == 0 ? cin : cout, cout, TE, G, eps));
            if (d->has_attn) {
                snprintf(p, sizeof p, "down_blocks.%d.attentions.%d", i, j);
                SE_TRY(nn_transformer_init(w, &d->attn[j], p, cout, X, c->heads[i], c->depth[i], G,
                                           c->linear_proj));
            }
        }
        if (d->has_down) {
            snprintf(p, sizeof p, "down_blocks.%d.downsamplers.0", i);
            SE_TRY(nn_downsample_init(w, &d->down, p, cout));
        }
    }

    const int64_t CL = c->channels[n - 1];
    SE_TRY(nn_resnet_init(w, &u->mid_res[0], "mid_block.resnets.0", CL, CL, TE, G, eps));
    SE_TRY(nn_transformer_init(w, &u->mid_attn, "mid_block.attentions.0", CL, X, c->heads[n - 1],
                               c->depth[n - 1], G, c->linear_proj));
    SE_TRY(nn_resnet_init(w, &u->mid_res[1], "mid_block.resnets.1", CL, CL, TE, G, eps));

    /* Up block i works at reversed level r = n-1-i; skips come back in reverse order. */
    for (int i = 0; i < n; i++) {
        unet_up *b = &u->up[i];
        int r = n - 1 - i;
        int64_t cout = c->channels[r];
        int64_t prev = i == 0 ? CL : c->channels[r + 1];
        int64_t input = c->channels[r > 0 ? r - 1 : 0];
        b->n = c->layers[r] + 1;
        b->has_attn = c->up_attn[i];
        b->has_up = i < n - 1;
        for (int j = 0; j < b->n; j++) {
            int64_t skip = j == b->n - 1 ? input : cout;
            int64_t rin = j == 0 ? prev : cout;
            snprintf(p, sizeof p, "up_blocks.%d.resnets.%d", i, j);
            SE_TRY(nn_resnet_init(w, &b->res[j], p, rin + skip, cout, TE, G, eps));
            if (b->has_attn) {
                snprintf(p, sizeof p, "up_blocks.%d.attentions.%d", i, j);
                SE_TRY(nn_transformer_init(w, &b->attn[j], p, cout, X, c->heads[r], c->depth[r], G,
                                           c->linear_proj));
            }
        }
        if (b->has_up) {
            snprintf(p, sizeof p, "up_blocks.%d.upsamplers.0", i);
            SE_TRY(nn_upsample_init(w, &b->up, p, cout));
        }
    }
    SE_TRY(nn_norm_init(w, &u->norm_out, "conv_norm_out", C0, G, eps));
    return nn_conv_init(w, &u->conv_out, "conv_out", C0, c->out_channels, 3, 1, 1);
}

/* Allocates the struct and declares the weights; the caller loads them. */
static se_status unet_create(const se_unet_config *cfg, se_backend *be, se_unet **out) {
    *out = NULL;
    if (cfg->nblocks < 1 || cfg->nblocks > SE_UNET_MAX_BLOCKS)
        return se_fail(SE_ERR_CONFIG, "unet: %d blocks (1..%d supported)", cfg->nblocks,
                       SE_UNET_MAX_BLOCKS);
    se_unet *u = calloc(1, sizeof *u);
    if (!u) return se_fail(SE_ERR_NOMEM, "unet: no memory");
    u->cfg = *cfg;
    u->be = be;
    se_status st = se_weights_new("unet", &u->w);
    if (st == SE_OK) st = unet_declare(u);
    if (st != SE_OK) {
        se_unet_destroy(&u);
        return st;
    }
    *out = u;
    return SE_OK;
}

void se_unet_destroy(se_unet **pu) {
    if (!pu || !*pu) return;
    se_unet *u = *pu;
    for (int i = 0; i < SE_UNET_MAX_BLOCKS; i++)
        for (int j = 0; j <= SE_UNET_MAX_LAYERS; j++) {
            if (j < SE_UNET_MAX_LAYERS) nn_transformer_free(&u->down[i].attn[j]);
            nn_transformer_free(&u->up[i].attn[j]);
        }
    nn_transformer_free(&u->mid_attn);
    se_weights_destroy(&u->w);
    se_arena_destroy(&u->skips);
    se_arena_destroy(&u->pp[0]);
    se_arena_destroy(&u->pp[1]);
    se_arena_destroy(&u->scratch);
    free(u);
    *pu = NULL;
}

se_status se_unet_count(const se_unet_config *cfg, size_t *tensors, int64_t *params) {
    se_unet *u;
    SE_TRY(unet_create(cfg, NULL, &u));
    *tensors = se_weights_count(u->w);
    *params = se_weights_numel(u->w);
    se_unet_destroy(&u);
    return SE_OK;
}

se_status se_unet_new_random(const se_unet_config *cfg, se_backend *be, uint64_t seed,
                             se_unet **out) {
    se_unet *u;
    SE_TRY(unet_create(cfg, be, &u));
    se_status st = se_weights_load_random(u->w, be, seed);
    if (st != SE_OK) {
        se_unet_destroy(&u);
        return st;
    }
    *out = u;
    return SE_OK;
}

se_status se_unet_new_from_files(const char *config_path, const char *weights_path,
                                 se_backend *be, se_unet **out) {
    *out = NULL;
    se_unet_config cfg;
    SE_TRY(se_unet_config_load(config_path, &cfg));
    se_unet *u;
    SE_TRY(unet_create(&cfg, be, &u));
    se_st_file *f = NULL;
    se_status st = se_st_open(weights_path, &f);
    if (st == SE_OK) st = se_weights_load(u->w, f, be);
    se_st_close(&f);
    if (st != SE_OK) {
        se_unet_destroy(&u);
        return st;
    }
    *out = u;
    return SE_OK;
}

/* se_weights_name_fn adapter for SGM names. */
static bool sgm_map(void *user, const char *name, char *out, size_t cap) {
    return se_unet_sgm_name(user, name, out, cap);
}

se_status se_unet_new_from_single_file(const char *path, const se_unet_config *cfg,
                                       se_backend *be, se_unet **out) {
    *out = NULL;
    se_unet_config sdxl;
    if (!cfg) {
        se_unet_config_sdxl(&sdxl);
        cfg = &sdxl;
    }
    se_st_file *f = NULL;
    SE_TRY(se_st_open(path, &f));
    bool sgm = se_st_find(f, SE_UNET_SGM_PREFIX "input_blocks.0.0.weight") != NULL;
    se_status st = SE_OK;
    if (!sgm && !se_st_find(f, "conv_in.weight"))
        st = se_fail(SE_ERR_MISSING_TENSOR, "unet: %s holds no UNet: neither conv_in.weight "
                     "(diffusers) nor " SE_UNET_SGM_PREFIX "input_blocks.0.0.weight (SGM)", path);
    for (int i = 1; st == SE_OK && sgm && i < cfg->nblocks; i++)
        if (cfg->layers[i] != cfg->layers[0])
            st = se_fail(SE_ERR_UNSUPPORTED, "unet: SGM naming needs the same layers_per_block "
                         "in every block");
    se_unet *u = NULL;
    if (st == SE_OK) st = unet_create(cfg, be, &u);
    if (st == SE_OK) {
        const se_st_file *files[1] = {f};
        st = se_weights_load_mapped(u->w, files, 1, sgm ? sgm_map : NULL, &u->cfg, be);
    }
    se_st_close(&f);
    if (st != SE_OK) {
        se_unet_destroy(&u);
        return st;
    }
    *out = u;
    return SE_OK;
}

se_status se_unet_new_from_dir(const char *dir, se_backend *be, se_unet **out) {
    char cfg[1024], wts[1024];
    struct stat sb;
    if (snprintf(cfg, sizeof cfg, "%s/config.json", dir) >= (int)sizeof cfg)
        return se_fail(SE_ERR_INVALID_ARG, "unet: path too long: %s", dir);
    static const char *names[] = {"diffusion_pytorch_model.safetensors",
                                  "diffusion_pytorch_model.fp16.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(wts, sizeof wts, "%s/%s", dir, names[i]);
        if (stat(wts, &sb) == 0) return se_unet_new_from_files(cfg, wts, be, out);
    }
    *out = NULL;
    return se_fail(SE_ERR_IO, "unet: no %s (or %s) in %s", names[0], names[1], dir);
}

const se_unet_config *se_unet_get_config(const se_unet *u) { return &u->cfg; }
const se_weights *se_unet_weights(const se_unet *u) { return u->w; }

void se_unet_set_probe(se_unet *u, se_unet_probe_fn fn, void *user) {
    u->probe = fn;
    u->probe_user = user;
}

void se_unet_activation_bytes(const se_unet *u, size_t *reserved, size_t *peak) {
    se_arena *a[4] = {u->skips, u->pp[0], u->pp[1], u->scratch};
    *reserved = *peak = 0;
    for (int i = 0; i < 4; i++)
        if (a[i]) {
            *reserved += se_arena_capacity(a[i]);
            *peak += se_arena_peak(a[i]);
        }
}

/* ======================== forward ======================== */

/* Makes sure arena *a holds at least bytes (recreated when smaller). */
static se_status arena_ensure(se_backend *be, se_arena **a, size_t bytes, const char *what) {
    if (*a && se_arena_capacity(*a) >= bytes) {
        se_arena_reset(*a);
        return SE_OK;
    }
    se_arena_destroy(a);
    se_status st = se_arena_new(be, bytes, a);
    if (st != SE_OK)
        return se_fail(st, "unet: cannot reserve %.1f MB for %s activations: %s",
                       (double)bytes / 1048576.0, what, se_last_error());
    return SE_OK;
}

/* Sizes the arenas for batch B and latent h x w (bounds, in elements, then bytes). */
static se_status unet_reserve(se_unet *u, int64_t B, int64_t h, int64_t w) {
    const se_unet_config *c = &u->cfg;
    const size_t esz = se_dtype_size(u->be->act_dtype), slack = 256 * 1024;
    const int n = c->nblocks;
    int64_t act = 0, tr = 0, skips = (int64_t)c->channels[0] * h * w;
    int nskips = 1;
    for (int i = 0; i < n; i++) {
        int64_t hw = (h >> i) * (w >> i), ci = c->channels[i];
        /* Widest tensor at level i: a concat of the hidden state (this level's width or the one
         * below) and a skip (this level's or the one above); an upsample output is narrower. */
        int64_t cm = ci;
        if (i > 0 && c->channels[i - 1] > cm) cm = c->channels[i - 1];
        if (i < n - 1 && c->channels[i + 1] > cm) cm = c->channels[i + 1];
        act = 2 * cm * hw > act ? 2 * cm * hw : act;
        if (c->down_attn[i] || c->up_attn[n - 1 - i] || i == n - 1)
            tr = ci * hw > tr ? ci * hw : tr;
        skips += c->layers[i] * ci * hw;
        nskips += c->layers[i];
        if (i < n - 1) {
            skips += ci * (hw / 4);
            nskips++;
        }
    }
    int64_t emb = 8 * c->time_embed_dim + c->projection_dim + 6 * c->addition_time_embed_dim +
                  c->channels[0];
    size_t k_bytes = (size_t)(B * (skips + emb)) * esz + (size_t)(nskips + 16) * 256 + slack;
    size_t p_bytes = (size_t)(B * act) * esz + slack;
    /* Transformer temporaries: norm, tokens, hidden, block norm/attn, q/k/v/o, FF 8C + 4C: at
     * most 22 x (C x HW); resnet ones (norm1, conv1, norm2, shortcut, upsample) at most 4 x act. */
    size_t tr_bytes = (size_t)(B * 22 * tr) * esz, rs_bytes = (size_t)(B * 4 * act) * esz;
    size_t s_bytes = (tr_bytes > rs_bytes ? tr_bytes : rs_bytes) + 64 * 256 + slack;
    SE_TRY(arena_ensure(u->be, &u->skips, k_bytes, "skip"));
    SE_TRY(arena_ensure(u->be, &u->pp[0], p_bytes, "hidden"));
    SE_TRY(arena_ensure(u->be, &u->pp[1], p_bytes, "hidden"));
    return arena_ensure(u->be, &u->scratch, s_bytes, "scratch");
}

/* Forward state: where the hidden state lives and the skip stack. */
typedef struct fwd {
    se_unet *u;
    nn_ctx c;
    int cur;                        /* pp index holding h, -1 when h is on the skip stack */
    se_tensor skip[1 + SE_UNET_MAX_BLOCKS * (SE_UNET_MAX_LAYERS + 1)];
    size_t skip_mark[1 + SE_UNET_MAX_BLOCKS * (SE_UNET_MAX_LAYERS + 1)];
    int nskip;
} fwd;

/* A tensor for the next hidden state, in the ping-pong buffer that does not hold h. */
static se_status next_hidden(fwd *f, int64_t B, int64_t C, int64_t H, int64_t W, const char *name,
                             se_tensor *out, int *where) {
    int idx = f->cur == 0 ? 1 : 0;
    se_arena_reset(f->u->pp[idx]);
    *where = idx;
    return se_arena_tensor(f->u->pp[idx], f->c.act, 4, (int64_t[]){B, C, H, W}, name, out);
}

/* A tensor pushed on the skip stack. */
static se_status push_skip(fwd *f, int64_t B, int64_t C, int64_t H, int64_t W, const char *name,
                           se_tensor **out) {
    if (f->nskip >= (int)(sizeof f->skip / sizeof f->skip[0]))
        return se_fail(SE_ERR_INTERNAL, "unet: skip stack overflow");
    f->skip_mark[f->nskip] = se_arena_mark(f->u->skips);
    SE_TRY(se_arena_tensor(f->u->skips, f->c.act, 4, (int64_t[]){B, C, H, W}, name,
                           &f->skip[f->nskip]));
    *out = &f->skip[f->nskip++];
    return SE_OK;
}

static void probe(fwd *f, const char *name, const se_tensor *t) {
    if (f->u->probe) f->u->probe(f->u->probe_user, name, t);
}

/* emb = time_embedding(sinusoid(t)) + add_embedding([text_embeds, sinusoid(time_ids)]), then
 * SiLU(emb), which every resnet's time_emb_proj consumes. Lives at the bottom of the skip arena. */
static se_status embeddings(fwd *f, const se_tensor *timestep, const se_tensor *text_embeds,
                            const se_tensor *time_ids, se_tensor *temb_act) {
    se_unet *u = f->u;
    const se_unet_config *c = &u->cfg;
    se_arena *k = u->skips;
    se_backend *be = u->be;
    const int64_t B = timestep->ne[0], TE = c->time_embed_dim, C0 = c->channels[0];
    se_tensor ts, t1, emb;
    SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, C0}, "t_sinusoid", &ts));
    SE_TRY(se_timestep_embedding(be, timestep, c->flip_sin_to_cos, c->freq_shift, 10000.0f, &ts));
    SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, TE}, "temb1", &t1));
    SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, TE}, "temb", &emb));
    SE_TRY(nn_linear_fwd(&f->c, &u->time_l1, &ts, &t1));
    SE_TRY(se_silu(be, &t1, &t1));
    SE_TRY(nn_linear_fwd(&f->c, &u->time_l2, &t1, &emb));
    probe(f, "temb", &emb);
    if (c->add_text_time) {
        const int64_t A = c->addition_time_embed_dim, P = c->projection_dim;
        se_tensor ids = se_tensor_reshape(time_ids, 1, (int64_t[]){B * 6});
        se_tensor tsin, cat, a1, aug;
        SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B * 6, A}, "time_ids_sinusoid", &tsin));
        SE_TRY(se_timestep_embedding(be, &ids, c->flip_sin_to_cos, c->freq_shift, 10000.0f, &tsin));
        se_tensor tsin2 = se_tensor_reshape(&tsin, 2, (int64_t[]){B, 6 * A});
        SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, P}, "add_embeds", &cat));
        SE_TRY(se_concat(be, text_embeds, &tsin2, 1, &cat));
        SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, TE}, "aug1", &a1));
        SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, TE}, "aug", &aug));
        SE_TRY(nn_linear_fwd(&f->c, &u->add_l1, &cat, &a1));
        SE_TRY(se_silu(be, &a1, &a1));
        SE_TRY(nn_linear_fwd(&f->c, &u->add_l2, &a1, &aug));
        probe(f, "aug", &aug);
        SE_TRY(se_add(be, &emb, &aug, &emb));
    }
    SE_TRY(se_arena_tensor(k, f->c.act, 2, (int64_t[]){B, TE}, "temb_silu", temb_act));
    return se_silu(be, &emb, temb_act);
}

/* Checks one input: dtype, contiguity, shape. */
static se_status need_input(const char *role, const se_tensor *t, se_dtype dt, int ndim,
                            const int64_t *ne) {
    if (!t || !t->data) return se_fail(SE_ERR_INVALID_ARG, "unet: %s is missing", role);
    char a[96], b[96];
    se_tensor want = se_tensor_make(dt, ndim, ne, NULL, NULL);
    if (t->dtype != dt || !se_tensor_same_shape(t, &want) || !se_tensor_is_contiguous(t))
        return se_fail(SE_ERR_SHAPE, "unet: %s: expected contiguous %s %s, got %s %s%s", role,
                       se_dtype_name(dt), se_tensor_shape_str(&want, a, sizeof a),
                       se_dtype_name(t->dtype), se_tensor_shape_str(t, b, sizeof b),
                       se_tensor_is_contiguous(t) ? "" : " (strided)");
    return SE_OK;
}

static se_status forward_body(fwd *f, const se_tensor *sample, const se_tensor *timestep,
                              const se_tensor *ctx, const se_tensor *text_embeds,
                              const se_tensor *time_ids, se_tensor *out) {
    se_unet *u = f->u;
    const se_unet_config *c = &u->cfg;
    const int n = c->nblocks;
    const int64_t B = sample->ne[0];
    int64_t H = sample->ne[2], W = sample->ne[3];
    char name[64];
    se_tensor temb;
    SE_TRY(embeddings(f, timestep, text_embeds, time_ids, &temb));

    se_tensor *sk = NULL, h;
    int where;
    SE_TRY(push_skip(f, B, c->channels[0], H, W, "conv_in", &sk));
    SE_TRY(nn_conv_fwd(&f->c, &u->conv_in, sample, sk));
    h = *sk;
    f->cur = -1;
    probe(f, "conv_in", &h);

    for (int i = 0; i < n; i++) {
        const unet_down *d = &u->down[i];
        const int64_t C = c->channels[i];
        for (int j = 0; j < d->n; j++) {
            if (d->has_attn) {
                se_tensor r;
                SE_TRY(next_hidden(f, B, C, H, W, "down.resnet", &r, &where));
                SE_TRY(nn_resnet_fwd(&f->c, &d->res[j], &h, &temb, &r));
                SE_TRY(push_skip(f, B, C, H, W, "down.attn", &sk));
                SE_TRY(nn_transformer_fwd(&f->c, &d->attn[j], &r, ctx, sk));
            } else {
                SE_TRY(push_skip(f, B, C, H, W, "down.resnet", &sk));
                SE_TRY(nn_resnet_fwd(&f->c, &d->res[j], &h, &temb, sk));
            }
            h = *sk;
            f->cur = -1;
        }
        if (d->has_down) {
            SE_TRY(push_skip(f, B, C, H / 2, W / 2, "down.downsample", &sk));
            SE_TRY(nn_conv_fwd(&f->c, &d->down, &h, sk));
            h = *sk;
            H /= 2, W /= 2;
        }
        snprintf(name, sizeof name, "down.%d", i);
        probe(f, name, &h);
    }

    const int64_t CL = c->channels[n - 1];
    se_tensor t;
    SE_TRY(next_hidden(f, B, CL, H, W, "mid.resnet0", &t, &where));
    SE_TRY(nn_resnet_fwd(&f->c, &u->mid_res[0], &h, &temb, &t));
    h = t, f->cur = where;
    SE_TRY(next_hidden(f, B, CL, H, W, "mid.attn", &t, &where));
    SE_TRY(nn_transformer_fwd(&f->c, &u->mid_attn, &h, ctx, &t));
    h = t, f->cur = where;
    SE_TRY(next_hidden(f, B, CL, H, W, "mid.resnet1", &t, &where));
    SE_TRY(nn_resnet_fwd(&f->c, &u->mid_res[1], &h, &temb, &t));
    h = t, f->cur = where;
    probe(f, "mid", &h);

    for (int i = 0; i < n; i++) {
        const unet_up *b = &u->up[i];
        const int64_t C = c->channels[n - 1 - i];
        for (int j = 0; j < b->n; j++) {
            if (f->nskip < 1) return se_fail(SE_ERR_INTERNAL, "unet: skip stack underflow");
            const se_tensor *s = &f->skip[f->nskip - 1];
            se_tensor cat;
            SE_TRY(next_hidden(f, B, h.ne[1] + s->ne[1], H, W, "up.concat", &cat, &where));
            SE_TRY(se_concat(u->be, &h, s, 1, &cat));     /* [h, skip] along channels */
            h = cat, f->cur = where;
            se_arena_release(u->skips, f->skip_mark[--f->nskip]);
            SE_TRY(next_hidden(f, B, C, H, W, "up.resnet", &t, &where));
            SE_TRY(nn_resnet_fwd(&f->c, &b->res[j], &h, &temb, &t));
            h = t, f->cur = where;
            if (b->has_attn) {
                SE_TRY(next_hidden(f, B, C, H, W, "up.attn", &t, &where));
                SE_TRY(nn_transformer_fwd(&f->c, &b->attn[j], &h, ctx, &t));
                h = t, f->cur = where;
            }
        }
        if (b->has_up) {
            SE_TRY(next_hidden(f, B, C, 2 * H, 2 * W, "up.upsample", &t, &where));
            SE_TRY(nn_upsample_fwd(&f->c, &b->up, &h, &t));
            h = t, f->cur = where;
            H *= 2, W *= 2;
        }
        snprintf(name, sizeof name, "up.%d", i);
        probe(f, name, &h);
    }
    if (f->nskip != 0) return se_fail(SE_ERR_INTERNAL, "unet: %d skips left over", f->nskip);

    se_tensor nrm;
    SE_TRY(nn_tmp(&f->c, 4, h.ne, "norm_out", &nrm));
    SE_TRY(nn_norm_fwd(&f->c, &u->norm_out, &h, true, &nrm));
    return nn_conv_fwd(&f->c, &u->conv_out, &nrm, out);
}

se_status se_unet_forward(se_unet *u, const se_tensor *sample, const se_tensor *timestep,
                          const se_tensor *encoder_hidden_states, const se_tensor *text_embeds,
                          const se_tensor *time_ids, se_tensor *out) {
    const se_unet_config *c = &u->cfg;
    const se_dtype act = u->be->act_dtype;
    if (!sample || sample->ndim != 4)
        return se_fail(SE_ERR_SHAPE, "unet: sample must be [B,%d,h,w]", c->in_channels);
    const int64_t B = sample->ne[0], H = sample->ne[2], W = sample->ne[3];
    const int64_t mult = (int64_t)1 << (c->nblocks - 1);
    if (B < 1 || H < 1 || W < 1 || H % mult != 0 || W % mult != 0 || H > 4096 || W > 4096)
        return se_fail(SE_ERR_SHAPE, "unet: latent %lldx%lld: each side must be a positive "
                       "multiple of %lld (at most 4096)", (long long)H, (long long)W,
                       (long long)mult);
    SE_TRY(need_input("sample", sample, act, 4, (int64_t[]){B, c->in_channels, H, W}));
    SE_TRY(need_input("timestep", timestep, SE_F32, 1, (int64_t[]){B}));
    if (!encoder_hidden_states || encoder_hidden_states->ndim != 3)
        return se_fail(SE_ERR_SHAPE, "unet: encoder_hidden_states must be [B,M,%lld]",
                       (long long)c->cross_attention_dim);
    SE_TRY(need_input("encoder_hidden_states", encoder_hidden_states, act, 3,
                      (int64_t[]){B, encoder_hidden_states->ne[1], c->cross_attention_dim}));
    if (c->add_text_time) {
        SE_TRY(need_input("text_embeds", text_embeds, act, 2,
                          (int64_t[]){B, c->projection_dim - 6 * c->addition_time_embed_dim}));
        SE_TRY(need_input("time_ids", time_ids, SE_F32, 2, (int64_t[]){B, 6}));
    }
    SE_TRY(need_input("output", out, act, 4, (int64_t[]){B, c->out_channels, H, W}));

    SE_TRY(unet_reserve(u, B, H, W));
    fwd *f = calloc(1, sizeof *f);
    if (!f) return se_fail(SE_ERR_NOMEM, "unet: no memory");
    f->u = u;
    f->c = (nn_ctx){.be = u->be, .w = u->w, .scratch = u->scratch, .act = act};
    f->cur = -1;
    se_status st = forward_body(f, sample, timestep, encoder_hidden_states, text_embeds, time_ids,
                                out);
    free(f);
    return st;
}
