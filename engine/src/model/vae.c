/*
 * vae.c - the AutoencoderKL decoder (see vae.h), built from the shared blocks in nn.h.
 *
 * Memory: three arenas on the backend, sized from the input shape before each decode and kept
 * between calls (grown when a larger shape comes): two ping-pong buffers each holding the
 * largest activation, and a scratch arena for the temporaries inside a block (nn_*_fwd take
 * and release their own). Every block reads one ping-pong buffer and writes the other.
 *
 * Semantics (diffusers models/autoencoders/vae.py Decoder, unet_2d_blocks.py UNetMidBlock2D and
 * UpDecoderBlock2D, resnet.py ResnetBlock2D with temb None, attention_processor.py Attention
 * with residual_connection and one head of width C): the names below are the diffusers keys.
 */
#include "model/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/json_config.h"
#include "model/nn.h"

#define VAE_EPS 1e-6f
#define VAE_MAX_LAYERS 8 /* layers_per_block + 1 resnets per up block */

typedef struct vae_up {
    int nres;                          /* layers_per_block + 1 */
    nn_resnet res[VAE_MAX_LAYERS];
    bool has_up;                       /* every block but the last upsamples */
    nn_conv up;
} vae_up;

struct se_vae {
    se_vae_config cfg;
    se_backend *be;                    /* not owned */
    se_weights *w;
    nn_conv post_quant_conv, conv_in, conv_out;
    nn_resnet mid_res0, mid_res1;
    nn_attn_block mid_attn;
    vae_up up[SE_VAE_MAX_BLOCKS];
    nn_norm norm_out;
    se_arena *pp[2], *scratch;         /* activation arenas */
};

/* ======================== config ======================== */

void se_vae_config_sdxl(se_vae_config *c) {
    memset(c, 0, sizeof *c);
    c->latent_channels = 4;
    c->out_channels = 3;
    c->nblocks = 4;
    c->channels[0] = 128, c->channels[1] = 256, c->channels[2] = 512, c->channels[3] = 512;
    c->layers_per_block = 2;
    c->norm_groups = 32;
    c->scaling_factor = 0.13025;
    c->post_quant_conv = true;
    c->mid_attention = true;
}

/* Checks a config for what this decoder can build. */
static se_status vae_config_check(const se_vae_config *c, const char *where) {
    if (c->nblocks < 1 || c->nblocks > SE_VAE_MAX_BLOCKS)
        return se_fail(SE_ERR_CONFIG, "%s: block_out_channels: expected 1..%d entries, got %d", where,
                       SE_VAE_MAX_BLOCKS, c->nblocks);
    if (c->layers_per_block < 0 || c->layers_per_block + 1 > VAE_MAX_LAYERS)
        return se_fail(SE_ERR_CONFIG, "%s: layers_per_block: expected 0..%d, got %d", where,
                       VAE_MAX_LAYERS - 1, c->layers_per_block);
    if (c->latent_channels < 1 || c->latent_channels > 64 || c->out_channels < 1 || c->out_channels > 64)
        return se_fail(SE_ERR_CONFIG, "%s: latent_channels %d / out_channels %d out of range 1..64",
                       where, c->latent_channels, c->out_channels);
    if (c->norm_groups < 1)
        return se_fail(SE_ERR_CONFIG, "%s: norm_num_groups must be positive, got %d", where, c->norm_groups);
    for (int i = 0; i < c->nblocks; i++) {
        if (c->channels[i] < 1 || c->channels[i] > 65536)
            return se_fail(SE_ERR_CONFIG, "%s: block_out_channels[%d] = %lld out of range", where, i,
                           (long long)c->channels[i]);
        if (c->channels[i] % c->norm_groups != 0)
            return se_fail(SE_ERR_CONFIG, "%s: block_out_channels[%d] = %lld is not divisible by "
                           "norm_num_groups %d", where, i, (long long)c->channels[i], c->norm_groups);
    }
    if (!(c->scaling_factor > 0.0) || !isfinite(c->scaling_factor))
        return se_fail(SE_ERR_CONFIG, "%s: scaling_factor must be positive, got %g", where,
                       c->scaling_factor);
    return SE_OK;
}

/* The body of se_vae_config_load with the config open. */
static se_status vae_config_read(se_config *j, const char *path, se_vae_config *c) {
    int64_t v, ch[SE_VAE_MAX_BLOCKS + 1];
    size_t n = 0;
    se_vae_config_sdxl(c);
    SE_TRY(se_config_int_array(j, "block_out_channels", true, SE_VAE_MAX_BLOCKS + 1, ch, &n, 0));
    if (n < 1 || n > SE_VAE_MAX_BLOCKS)
        return se_fail(SE_ERR_CONFIG, "%s: block_out_channels: expected 1..%d entries, got %zu", path,
                       SE_VAE_MAX_BLOCKS, n);
    c->nblocks = (int)n;
    for (size_t i = 0; i < n; i++) c->channels[i] = ch[i];
    SE_TRY(se_config_int(j, "layers_per_block", 1, &v));
    c->layers_per_block = v < 0 || v > 64 ? -1 : (int)v;
    SE_TRY(se_config_int(j, "latent_channels", 4, &v));
    c->latent_channels = v < 1 || v > 64 ? 0 : (int)v;
    SE_TRY(se_config_int(j, "out_channels", 3, &v));
    c->out_channels = v < 1 || v > 64 ? 0 : (int)v;
    SE_TRY(se_config_int(j, "norm_num_groups", 32, &v));
    c->norm_groups = v < 1 || v > 65536 ? 0 : (int)v;
    SE_TRY(se_config_float(j, "scaling_factor", false, 0.18215, &c->scaling_factor));
    SE_TRY(se_config_bool(j, "use_post_quant_conv", false, true, &c->post_quant_conv));
    SE_TRY(se_config_bool(j, "mid_block_add_attention", false, true, &c->mid_attention));
    const char *act = NULL;
    SE_TRY(se_config_string(j, "act_fn", "silu", &act));
    if (strcmp(act, "silu") != 0)
        return se_fail(SE_ERR_UNSUPPORTED, "%s: act_fn \"%s\" is not supported (only silu)", path, act);
    const char *types[SE_VAE_MAX_BLOCKS + 1];
    size_t nt = 0;
    if (se_config_has(j, "up_block_types")) /* absent: all UpDecoderBlock2D */
        SE_TRY(se_config_string_array(j, "up_block_types", SE_VAE_MAX_BLOCKS + 1, types, &nt));
    if (nt != 0 && nt != n)
        return se_fail(SE_ERR_CONFIG, "%s: %zu up_block_types for %zu block_out_channels", path, nt, n);
    for (size_t i = 0; i < nt; i++)
        if (strcmp(types[i], "UpDecoderBlock2D") != 0)
            return se_fail(SE_ERR_UNSUPPORTED, "%s: up_block_types[%zu] \"%s\" is not supported "
                           "(only UpDecoderBlock2D)", path, i, types[i]);
    if (se_config_has(j, "latents_mean") || se_config_has(j, "latents_std"))
        return se_fail(SE_ERR_UNSUPPORTED, "%s: latents_mean/latents_std are not supported", path);
    if (se_config_has(j, "shift_factor"))
        return se_fail(SE_ERR_UNSUPPORTED, "%s: shift_factor is not supported", path);
    if (se_config_has(j, "norm_type")) {
        const char *nt_s = NULL;
        SE_TRY(se_config_string(j, "norm_type", "group", &nt_s));
        if (strcmp(nt_s, "group") != 0)
            return se_fail(SE_ERR_UNSUPPORTED, "%s: norm_type \"%s\" is not supported", path, nt_s);
    }
    return vae_config_check(c, path);
}

se_status se_vae_config_load(const char *path, se_vae_config *c) {
    se_config *j = NULL;
    SE_TRY(se_config_open(path, &j));
    se_status st = vae_config_read(j, path, c);
    se_config_close(&j);
    return st;
}

/* ======================== construction ======================== */

/* Declares every decoder tensor under its diffusers name. */
static se_status vae_declare(se_vae *v) {
    const se_vae_config *c = &v->cfg;
    const int G = c->norm_groups, nb = c->nblocks;
    const int64_t top = c->channels[nb - 1];
    char p[128];
    if (c->post_quant_conv)
        SE_TRY(nn_conv_init(v->w, &v->post_quant_conv, "post_quant_conv", c->latent_channels,
                            c->latent_channels, 1, 1, 0));
    SE_TRY(nn_conv_init(v->w, &v->conv_in, "decoder.conv_in", c->latent_channels, top, 3, 1, 1));
    SE_TRY(nn_resnet_init(v->w, &v->mid_res0, "decoder.mid_block.resnets.0", top, top, 0, G, VAE_EPS));
    if (c->mid_attention)
        SE_TRY(nn_attn_block_init(v->w, &v->mid_attn, "decoder.mid_block.attentions.0", top, 1, G,
                                  VAE_EPS));
    SE_TRY(nn_resnet_init(v->w, &v->mid_res1, "decoder.mid_block.resnets.1", top, top, 0, G, VAE_EPS));
    int64_t prev = top;
    for (int i = 0; i < nb; i++) {
        const int64_t ch = c->channels[nb - 1 - i];
        vae_up *u = &v->up[i];
        u->nres = c->layers_per_block + 1;
        for (int r = 0; r < u->nres; r++) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, r);
            SE_TRY(nn_resnet_init(v->w, &u->res[r], p, r == 0 ? prev : ch, ch, 0, G, VAE_EPS));
        }
        u->has_up = i < nb - 1;
        if (u->has_up) {
            snprintf(p, sizeof p, "decoder.up_blocks.%d.upsamplers.0", i);
            SE_TRY(nn_upsample_init(v->w, &u->up, p, ch));
        }
        prev = ch;
    }
    SE_TRY(nn_norm_init(v->w, &v->norm_out, "decoder.conv_norm_out", c->channels[0], G, VAE_EPS));
    return nn_conv_init(v->w, &v->conv_out, "decoder.conv_out", c->channels[0], c->out_channels, 3, 1, 1);
}

/* Allocates the model and declares its weights (nothing loaded yet). */
static se_status vae_create(const se_vae_config *cfg, se_backend *be, se_vae **out) {
    *out = NULL;
    if (!cfg || !be) return se_fail(SE_ERR_INVALID_ARG, "vae: NULL config or backend");
    SE_TRY(vae_config_check(cfg, "vae"));
    se_vae *v = calloc(1, sizeof *v);
    if (!v) return se_fail(SE_ERR_NOMEM, "vae: no memory for the model");
    v->cfg = *cfg;
    v->be = be;
    se_status st = se_weights_new("vae", &v->w);
    if (st == SE_OK) st = vae_declare(v);
    if (st != SE_OK) {
        se_vae_destroy(&v);
        return st;
    }
    *out = v;
    return SE_OK;
}

void se_vae_destroy(se_vae **pv) {
    if (!pv || !*pv) return;
    se_vae *v = *pv;
    se_weights_destroy(&v->w);
    se_arena_destroy(&v->pp[0]);
    se_arena_destroy(&v->pp[1]);
    se_arena_destroy(&v->scratch);
    free(v);
    *pv = NULL;
}

se_status se_vae_new_random(const se_vae_config *cfg, se_backend *be, uint64_t seed, se_vae **out) {
    se_vae *v;
    SE_TRY(vae_create(cfg, be, &v));
    se_status st = se_weights_load_random(v->w, be, seed);
    if (st != SE_OK) {
        se_vae_destroy(&v);
        return st;
    }
    *out = v;
    return SE_OK;
}

se_status se_vae_new_from_files(const char *config_path, const char *weights_path, se_backend *be,
                                se_vae **out) {
    *out = NULL;
    se_vae_config cfg;
    SE_TRY(se_vae_config_load(config_path, &cfg));
    se_vae *v;
    SE_TRY(vae_create(&cfg, be, &v));
    se_st_file *f = NULL;
    se_status st = se_st_open(weights_path, &f);
    if (st == SE_OK) st = se_weights_load(v->w, f, be);
    se_st_close(&f);
    if (st != SE_OK) {
        se_vae_destroy(&v);
        return st;
    }
    *out = v;
    return SE_OK;
}

se_status se_vae_new_from_dir(const char *dir, se_backend *be, se_vae **out) {
    char cfg[1024], wts[1024];
    struct stat sb;
    *out = NULL;
    if (!dir) return se_fail(SE_ERR_INVALID_ARG, "vae: NULL folder");
    if (snprintf(cfg, sizeof cfg, "%s/config.json", dir) >= (int)sizeof cfg)
        return se_fail(SE_ERR_INVALID_ARG, "vae: folder path too long: %s", dir);
    static const char *names[] = {"diffusion_pytorch_model.safetensors",
                                  "diffusion_pytorch_model.fp16.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(wts, sizeof wts, "%s/%s", dir, names[i]);
        if (stat(wts, &sb) == 0) return se_vae_new_from_files(cfg, wts, be, out);
    }
    return se_fail(SE_ERR_IO, "vae: no %s (or %s) in %s", names[0], names[1], dir);
}

const se_vae_config *se_vae_get_config(const se_vae *v) { return &v->cfg; }
const se_weights *se_vae_weights(const se_vae *v) { return v->w; }
int se_vae_upscale(const se_vae *v) { return 1 << (v->cfg.nblocks - 1); }

/* ======================== memory ======================== */

/* (Re)creates arena *a with at least bytes capacity. */
static se_status vae_arena(se_vae *v, se_arena **a, size_t bytes, const char *what) {
    if (*a && se_arena_capacity(*a) >= bytes) {
        se_arena_reset(*a);
        return SE_OK;
    }
    se_arena_destroy(a);
    se_status st = se_arena_new(v->be, bytes, a);
    if (st != SE_OK)
        return se_fail(st, "vae: cannot reserve %.1f MB for %s activations: %s",
                       (double)bytes / 1048576.0, what, se_last_error());
    return SE_OK;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Sizes the arenas for batch B and latent h x w: the largest activation (ping-pong) and the
 * largest set of temporaries one block takes (in elements, then bytes with alignment slack). */
static se_status vae_reserve(se_vae *v, int64_t B, int64_t h, int64_t w) {
    const se_vae_config *c = &v->cfg;
    const int nb = c->nblocks;
    const size_t esz = se_dtype_size(v->be->act_dtype), slack = 64 * 1024;
    int64_t act = max64((int64_t)c->latent_channels, c->channels[nb - 1]) * h * w;
    int64_t tmp = 0;
    /* mid: resnet (h1, h2, h3) and attention (norm, tokens, q, k, v, o) at the top width. */
    int64_t top = c->channels[nb - 1] * h * w;
    tmp = max64(tmp, 3 * top);
    if (c->mid_attention) tmp = max64(tmp, 6 * top);
    int64_t prev = c->channels[nb - 1], hh = h, ww = w;
    for (int i = 0; i < nb; i++) {
        const int64_t ch = c->channels[nb - 1 - i], hw = hh * ww;
        /* first resnet: h1 (prev), h2 and h3 (ch), shortcut (ch) */
        tmp = max64(tmp, prev * hw + 3 * ch * hw);
        act = max64(act, max64(prev, ch) * hw);
        if (i < nb - 1) {
            hh *= 2, ww *= 2;
            tmp = max64(tmp, ch * hh * ww); /* the nearest-2x temporary */
            act = max64(act, ch * hh * ww);
        }
        prev = ch;
    }
    act = max64(act, (int64_t)c->out_channels * hh * ww);
    const size_t act_b = (size_t)(B * act) * esz + slack, tmp_b = (size_t)(B * tmp) * esz + slack;
    SE_TRY(vae_arena(v, &v->pp[0], act_b, "ping"));
    SE_TRY(vae_arena(v, &v->pp[1], act_b, "pong"));
    return vae_arena(v, &v->scratch, tmp_b, "scratch");
}

void se_vae_activation_bytes(const se_vae *v, size_t *reserved, size_t *peak) {
    size_t r = 0, p = 0;
    se_arena *as[3] = {v->pp[0], v->pp[1], v->scratch};
    for (int i = 0; i < 3; i++)
        if (as[i]) r += se_arena_capacity(as[i]), p += se_arena_peak(as[i]);
    if (reserved) *reserved = r;
    if (peak) *peak = p;
}

/* ======================== forward ======================== */

/* A fresh tensor of shape [B,C,H,W] in ping-pong arena k (emptied first). */
static se_status pp_tensor(se_vae *v, int k, int64_t B, int64_t C, int64_t H, int64_t W,
                           const char *name, se_tensor *t) {
    se_arena_reset(v->pp[k]);
    return se_arena_tensor(v->pp[k], v->be->act_dtype, 4, (int64_t[]){B, C, H, W}, name, t);
}

/* The decoder body, arenas reserved. cur alternates between the two ping-pong arenas. */
static se_status vae_forward(se_vae *v, nn_ctx *ctx, const se_tensor *z, se_tensor *image) {
    const se_vae_config *c = &v->cfg;
    const int nb = c->nblocks;
    const int64_t B = z->ne[0], top = c->channels[nb - 1];
    int64_t H = z->ne[2], W = z->ne[3];
    se_tensor a, b;
    int k; /* the ping-pong arena holding the current activation a */
    if (c->post_quant_conv) {
        SE_TRY(pp_tensor(v, 0, B, c->latent_channels, H, W, "vae.post_quant_conv", &a));
        SE_TRY(nn_conv_fwd(ctx, &v->post_quant_conv, z, &a));
        SE_TRY(pp_tensor(v, 1, B, top, H, W, "vae.conv_in", &b));
        SE_TRY(nn_conv_fwd(ctx, &v->conv_in, &a, &b));
        k = 1;
    } else {
        SE_TRY(pp_tensor(v, 0, B, top, H, W, "vae.conv_in", &b));
        SE_TRY(nn_conv_fwd(ctx, &v->conv_in, z, &b));
        k = 0;
    }
    a = b;
    /* mid block */
    SE_TRY(pp_tensor(v, 1 - k, B, top, H, W, "vae.mid.resnet0", &b));
    SE_TRY(nn_resnet_fwd(ctx, &v->mid_res0, &a, NULL, &b));
    a = b, k = 1 - k;
    if (c->mid_attention) {
        SE_TRY(pp_tensor(v, 1 - k, B, top, H, W, "vae.mid.attention", &b));
        SE_TRY(nn_attn_block_fwd(ctx, &v->mid_attn, &a, &b));
        a = b, k = 1 - k;
    }
    SE_TRY(pp_tensor(v, 1 - k, B, top, H, W, "vae.mid.resnet1", &b));
    SE_TRY(nn_resnet_fwd(ctx, &v->mid_res1, &a, NULL, &b));
    a = b, k = 1 - k;
    /* up blocks */
    for (int i = 0; i < nb; i++) {
        const vae_up *u = &v->up[i];
        const int64_t ch = c->channels[nb - 1 - i];
        for (int r = 0; r < u->nres; r++) {
            SE_TRY(pp_tensor(v, 1 - k, B, ch, H, W, "vae.up.resnet", &b));
            se_tensor_set_name(&b, "vae.up%d.resnet%d", i, r);
            SE_TRY(nn_resnet_fwd(ctx, &u->res[r], &a, NULL, &b));
            a = b, k = 1 - k;
        }
        if (u->has_up) {
            SE_TRY(pp_tensor(v, 1 - k, B, ch, 2 * H, 2 * W, "vae.up.upsample", &b));
            se_tensor_set_name(&b, "vae.up%d.upsample", i);
            SE_TRY(nn_upsample_fwd(ctx, &u->up, &a, &b));
            a = b, k = 1 - k;
            H *= 2, W *= 2;
        }
    }
    /* GroupNorm + SiLU, conv_out */
    SE_TRY(pp_tensor(v, 1 - k, B, c->channels[0], H, W, "vae.conv_norm_out", &b));
    SE_TRY(nn_norm_fwd(ctx, &v->norm_out, &a, true, &b));
    return nn_conv_fwd(ctx, &v->conv_out, &b, image);
}

se_status se_vae_decode(se_vae *v, const se_tensor *z, se_tensor *image) {
    if (!v || !z || !image) return se_fail(SE_ERR_INVALID_ARG, "vae decode: NULL argument");
    const se_vae_config *c = &v->cfg;
    const int up = se_vae_upscale(v);
    char b1[64], b2[64];
    if (z->ndim != 4 || z->ne[1] != c->latent_channels || z->ne[0] < 1 || z->ne[2] < 1 || z->ne[3] < 1)
        return se_fail(SE_ERR_SHAPE, "vae decode: latents %s: expected [B,%d,h,w]",
                       se_tensor_shape_str(z, b1, sizeof b1), c->latent_channels);
    if (image->ndim != 4 || image->ne[0] != z->ne[0] || image->ne[1] != c->out_channels ||
        image->ne[2] != z->ne[2] * up || image->ne[3] != z->ne[3] * up)
        return se_fail(SE_ERR_SHAPE, "vae decode: image %s: expected [%lld,%d,%lld,%lld] for latents %s",
                       se_tensor_shape_str(image, b1, sizeof b1), (long long)z->ne[0], c->out_channels,
                       (long long)(z->ne[2] * up), (long long)(z->ne[3] * up),
                       se_tensor_shape_str(z, b2, sizeof b2));
    if (z->ne[2] > 4096 || z->ne[3] > 4096 || z->ne[0] > 1024)
        return se_fail(SE_ERR_SHAPE, "vae decode: latents %s too large",
                       se_tensor_shape_str(z, b1, sizeof b1));
    SE_TRY(vae_reserve(v, z->ne[0], z->ne[2], z->ne[3]));
    nn_ctx ctx = {v->be, v->w, v->scratch, v->be->act_dtype};
    return vae_forward(v, &ctx, z, image);
}

void se_vae_to_rgb8(const float *image, int B, int C, int H, int W, uint8_t *rgb) {
    const size_t plane = (size_t)H * (size_t)W;
    for (int b = 0; b < B; b++) {
        const float *src = image + (size_t)b * C * plane;
        uint8_t *dst = rgb + (size_t)b * C * plane;
        for (size_t p = 0; p < plane; p++) {
            for (int ch = 0; ch < C; ch++) {
                float x = src[(size_t)ch * plane + p];
                float half = x * 0.5f;
                float y = half + 0.5f;
                if (!(y >= 0.0f)) y = 0.0f; /* also NaN */
                if (y > 1.0f) y = 1.0f;
                float s = y * 255.0f;
                dst[p * (size_t)C + (size_t)ch] = (uint8_t)nearbyintf(s);
            }
        }
    }
}

se_status se_vae_decode_host(se_vae *v, const float *latents, int B, int h, int w,
                             float *image_f32, uint8_t *rgb) {
    if (!v || !latents) return se_fail(SE_ERR_INVALID_ARG, "vae decode: NULL model or latents");
    if (B < 1 || h < 1 || w < 1 || B > 1024 || h > 4096 || w > 4096)
        return se_fail(SE_ERR_SHAPE, "vae decode: bad latent shape [%d,%d,%d,%d]", B,
                       v->cfg.latent_channels, h, w);
    const se_vae_config *c = &v->cfg;
    const int up = se_vae_upscale(v);
    const se_dtype dt = v->be->act_dtype;
    const size_t esz = se_dtype_size(dt);
    const size_t nz = (size_t)B * c->latent_channels * h * w;
    const size_t nimg = (size_t)B * c->out_channels * ((size_t)h * up) * ((size_t)w * up);
    se_status st = SE_OK;
    void *zbuf = NULL, *ibuf = NULL, *hz = NULL, *himg = NULL;
    float *img32 = NULL;
    se_tensor z = se_tensor_4d(dt, B, c->latent_channels, h, w, NULL);
    se_tensor img = se_tensor_4d(dt, B, c->out_channels, (int64_t)h * up, (int64_t)w * up, NULL);
    se_tensor_set_name(&z, "vae.latents");
    se_tensor_set_name(&img, "vae.image");
    float *zs = malloc(nz * sizeof(float));
    hz = malloc(nz * esz);
    himg = malloc(nimg * esz);
    img32 = image_f32 ? image_f32 : malloc(nimg * sizeof(float));
    if (!zs || !hz || !himg || !img32) {
        st = se_fail(SE_ERR_NOMEM, "vae decode: no host memory for %zu + %zu elements", nz, nimg);
        goto done;
    }
    /* latents / scaling_factor: torch divides by the factor rounded to float32 */
    const float sf = (float)c->scaling_factor;
    for (size_t i = 0; i < nz; i++) zs[i] = latents[i] / sf;
    se_convert_host(dt, hz, SE_F32, zs, nz);
    if ((st = se_backend_alloc(v->be, nz * esz, &zbuf)) != SE_OK) goto done;
    if ((st = se_backend_alloc(v->be, nimg * esz, &ibuf)) != SE_OK) goto done;
    z.data = zbuf;
    img.data = ibuf;
    if ((st = se_tensor_set_data(v->be, &z, hz, nz * esz)) != SE_OK) goto done;
    if ((st = se_vae_decode(v, &z, &img)) != SE_OK) goto done;
    if ((st = se_tensor_get_data(v->be, &img, himg, nimg * esz)) != SE_OK) goto done;
    se_convert_host(SE_F32, img32, dt, himg, nimg);
    if (rgb) se_vae_to_rgb8(img32, B, c->out_channels, h * up, w * up, rgb);
done:
    if (zbuf) se_backend_free(v->be, zbuf);
    if (ibuf) se_backend_free(v->be, ibuf);
    free(zs);
    free(hz);
    free(himg);
    if (img32 != image_f32) free(img32);
    return st;
}
