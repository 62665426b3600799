/*
 * unet_config.c - the UNet's configuration: the SDXL defaults and config.json parsing.
 *
 * Defaults are diffusers' UNet2DConditionModel defaults where it has them. Keys that select
 * features this engine does not implement are rejected with SE_ERR_UNSUPPORTED naming the key,
 * rather than silently computing something else.
 */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "io/json_config.h"
#include "model/unet.h"

void se_unet_config_sdxl(se_unet_config *c) {
    memset(c, 0, sizeof *c);
    c->in_channels = 4, c->out_channels = 4;
    c->nblocks = 3;
    const int64_t ch[3] = {320, 640, 1280};
    const int depth[3] = {1, 2, 10}, heads[3] = {5, 10, 20};
    for (int i = 0; i < 3; i++) {
        c->channels[i] = ch[i];
        c->layers[i] = 2;
        c->depth[i] = depth[i];
        c->heads[i] = heads[i];
        c->down_attn[i] = i > 0;
        c->up_attn[i] = i < 2;
    }
    c->cross_attention_dim = 2048;
    c->norm_groups = 32;
    c->norm_eps = 1e-5f;
    c->linear_proj = true;
    c->flip_sin_to_cos = true;
    c->freq_shift = 0.0f;
    c->time_embed_dim = 4 * 320;
    c->add_text_time = true;
    c->addition_time_embed_dim = 256;
    c->projection_dim = 2816;
}

/* Fails unless key is absent/null or equals the one supported string. */
static se_status need_string(const se_config *j, const char *key, const char *supported) {
    const char *s;
    SE_TRY(se_config_string(j, key, supported, &s));
    if (strcmp(s, supported) != 0)
        return se_fail(SE_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (only \"%s\")",
                       se_config_path(j), key, s, supported);
    return SE_OK;
}

/* Fails unless key is absent/null (a feature we do not implement). */
static se_status need_absent(const se_config *j, const char *key) {
    if (se_config_has(j, key))
        return se_fail(SE_ERR_UNSUPPORTED, "%s: %s is set, which this engine does not support",
                       se_config_path(j), key);
    return SE_OK;
}

/* Fails if a boolean feature flag is true (or not a plain false). */
static se_status need_false(const se_config *j, const char *key) {
    bool b = false;
    if (se_config_bool(j, key, false, false, &b) != SE_OK || b)
        return se_fail(SE_ERR_UNSUPPORTED, "%s: %s must be false (or absent)", se_config_path(j), key);
    return SE_OK;
}

/* Reads an int-or-list key into n ints, each in [lo, hi]. */
static se_status per_block(const se_config *j, const char *key, int n, int64_t def, int64_t lo,
                           int64_t hi, int *out) {
    int64_t v[SE_UNET_MAX_BLOCKS];
    size_t got = 0;
    SE_TRY(se_config_int_array(j, key, false, SE_UNET_MAX_BLOCKS, v, &got, (size_t)n));
    if (got == 0) {
        for (int i = 0; i < n; i++) v[i] = def;
        got = (size_t)n;
    }
    if (got != (size_t)n)
        return se_fail(SE_ERR_CONFIG, "%s: %s has %zu entries, expected %d (one per block)",
                       se_config_path(j), key, got, n);
    for (int i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > hi)
            return se_fail(SE_ERR_CONFIG, "%s: %s[%d] = %lld, expected %lld..%lld",
                           se_config_path(j), key, i, (long long)v[i], (long long)lo, (long long)hi);
        out[i] = (int)v[i];
    }
    return SE_OK;
}

/* Everything but the sanity checks of the values (done by the caller). */
static se_status parse(const se_config *j, se_unet_config *c) {
    const char *path = se_config_path(j);
    int64_t v;
    double d;
    const char *s;
    memset(c, 0, sizeof *c);
    if (se_config_has(j, "_class_name")) {
        SE_TRY(se_config_string(j, "_class_name", NULL, &s));
        if (strcmp(s, "UNet2DConditionModel") != 0)
            return se_fail(SE_ERR_UNSUPPORTED, "%s: _class_name \"%s\" (expected UNet2DConditionModel)",
                           path, s);
    }
    SE_TRY(se_config_int(j, "in_channels", 4, &v));
    c->in_channels = (int)v;
    SE_TRY(se_config_int(j, "out_channels", 4, &v));
    c->out_channels = (int)v;
    if (c->in_channels < 1 || c->in_channels > 64 || c->out_channels < 1 || c->out_channels > 64)
        return se_fail(SE_ERR_CONFIG, "%s: in_channels/out_channels out of range", path);

    size_t n = 0;
    SE_TRY(se_config_int_array(j, "block_out_channels", true, SE_UNET_MAX_BLOCKS, c->channels, &n, 0));
    if (n < 1) return se_fail(SE_ERR_CONFIG, "%s: block_out_channels is empty", path);
    c->nblocks = (int)n;
    for (size_t i = 0; i < n; i++)
        if (c->channels[i] < 1 || c->channels[i] > 16384)
            return se_fail(SE_ERR_CONFIG, "%s: block_out_channels[%zu] = %lld", path, i,
                           (long long)c->channels[i]);

    const char *types[SE_UNET_MAX_BLOCKS];
    size_t nt = 0;
    SE_TRY(se_config_string_array(j, "down_block_types", SE_UNET_MAX_BLOCKS, types, &nt));
    if (nt != n)
        return se_fail(SE_ERR_CONFIG, "%s: down_block_types has %zu entries, block_out_channels %zu",
                       path, nt, n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(types[i], "CrossAttnDownBlock2D") == 0) c->down_attn[i] = true;
        else if (strcmp(types[i], "DownBlock2D") != 0)
            return se_fail(SE_ERR_UNSUPPORTED, "%s: down_block_types[%zu] \"%s\" (supported: "
                           "DownBlock2D, CrossAttnDownBlock2D)", path, i, types[i]);
    }
    SE_TRY(se_config_string_array(j, "up_block_types", SE_UNET_MAX_BLOCKS, types, &nt));
    if (nt != n)
        return se_fail(SE_ERR_CONFIG, "%s: up_block_types has %zu entries, block_out_channels %zu",
                       path, nt, n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(types[i], "CrossAttnUpBlock2D") == 0) c->up_attn[i] = true;
        else if (strcmp(types[i], "UpBlock2D") != 0)
            return se_fail(SE_ERR_UNSUPPORTED, "%s: up_block_types[%zu] \"%s\" (supported: "
                           "UpBlock2D, CrossAttnUpBlock2D)", path, i, types[i]);
    }
    SE_TRY(need_string(j, "mid_block_type", "UNetMidBlock2DCrossAttn"));

    SE_TRY(per_block(j, "layers_per_block", c->nblocks, 2, 1, SE_UNET_MAX_LAYERS, c->layers));
    SE_TRY(per_block(j, "transformer_layers_per_block", c->nblocks, 1, 1, 64, c->depth));
    SE_TRY(need_absent(j, "reverse_transformer_layers_per_block"));
    /* diffusers' naming bug: attention_head_dim is the number of heads. */
    SE_TRY(need_absent(j, "num_attention_heads"));
    SE_TRY(per_block(j, "attention_head_dim", c->nblocks, 8, 1, 1024, c->heads));

    int64_t cad[SE_UNET_MAX_BLOCKS];
    size_t ncad = 0;
    SE_TRY(se_config_int_array(j, "cross_attention_dim", false, SE_UNET_MAX_BLOCKS, cad, &ncad, 1));
    c->cross_attention_dim = ncad ? cad[0] : 1280;
    for (size_t i = 1; i < ncad; i++)
        if (cad[i] != cad[0])
            return se_fail(SE_ERR_UNSUPPORTED, "%s: cross_attention_dim differs between blocks",
                           path);
    if (c->cross_attention_dim < 1 || c->cross_attention_dim > 16384)
        return se_fail(SE_ERR_CONFIG, "%s: cross_attention_dim = %lld", path,
                       (long long)c->cross_attention_dim);

    SE_TRY(se_config_int(j, "norm_num_groups", 32, &v));
    if (v < 1 || v > 1024) return se_fail(SE_ERR_CONFIG, "%s: norm_num_groups = %lld", path, (long long)v);
    c->norm_groups = (int)v;
    SE_TRY(se_config_float(j, "norm_eps", false, 1e-5, &d));
    if (!(d > 0 && d < 1)) return se_fail(SE_ERR_CONFIG, "%s: norm_eps = %g", path, d);
    c->norm_eps = (float)d;
    SE_TRY(se_config_bool(j, "use_linear_projection", false, false, &c->linear_proj));
    SE_TRY(se_config_bool(j, "flip_sin_to_cos", false, true, &c->flip_sin_to_cos));
    SE_TRY(se_config_float(j, "freq_shift", false, 0.0, &d));
    c->freq_shift = (float)d;
    SE_TRY(se_config_int(j, "time_embedding_dim", 4 * c->channels[0], &v));
    if (v < 1 || v > 65536) return se_fail(SE_ERR_CONFIG, "%s: time_embedding_dim = %lld", path, (long long)v);
    c->time_embed_dim = v;

    if (se_config_has(j, "addition_embed_type")) {
        SE_TRY(need_string(j, "addition_embed_type", "text_time"));
        c->add_text_time = true;
        SE_TRY(se_config_int(j, "addition_time_embed_dim", SE_CONFIG_REQUIRED, &c->addition_time_embed_dim));
        SE_TRY(se_config_int(j, "projection_class_embeddings_input_dim", SE_CONFIG_REQUIRED,
                             &c->projection_dim));
        if (c->addition_time_embed_dim < 2 || c->addition_time_embed_dim % 2 != 0 ||
            c->addition_time_embed_dim > 65536)
            return se_fail(SE_ERR_CONFIG, "%s: addition_time_embed_dim = %lld (must be even)", path,
                           (long long)c->addition_time_embed_dim);
        if (c->projection_dim <= 6 * c->addition_time_embed_dim || c->projection_dim > 1 << 20)
            return se_fail(SE_ERR_CONFIG, "%s: projection_class_embeddings_input_dim = %lld must "
                           "exceed 6 * addition_time_embed_dim = %lld (pooled text + 6 time ids)",
                           path, (long long)c->projection_dim,
                           (long long)(6 * c->addition_time_embed_dim));
    }

    /* Features outside the SDXL family. */
    SE_TRY(need_string(j, "act_fn", "silu"));
    SE_TRY(need_string(j, "time_embedding_type", "positional"));
    SE_TRY(need_string(j, "resnet_time_scale_shift", "default"));
    SE_TRY(need_string(j, "attention_type", "default"));
    static const char *absent[] = {"class_embed_type", "encoder_hid_dim", "encoder_hid_dim_type",
                                   "time_cond_proj_dim", "num_class_embeds", "timestep_post_act",
                                   "time_embedding_act_fn", "cross_attention_norm"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) SE_TRY(need_absent(j, absent[i]));
    static const char *falses[] = {"center_input_sample", "dual_cross_attention",
                                   "resnet_skip_time_act", "class_embeddings_concat",
                                   "mid_block_only_cross_attention"};
    for (size_t i = 0; i < sizeof falses / sizeof falses[0]; i++) SE_TRY(need_false(j, falses[i]));
    if (se_config_has(j, "only_cross_attention")) SE_TRY(need_false(j, "only_cross_attention"));
    SE_TRY(se_config_int(j, "conv_in_kernel", 3, &v));
    if (v != 3) return se_fail(SE_ERR_UNSUPPORTED, "%s: conv_in_kernel %lld (only 3)", path, (long long)v);
    SE_TRY(se_config_int(j, "conv_out_kernel", 3, &v));
    if (v != 3) return se_fail(SE_ERR_UNSUPPORTED, "%s: conv_out_kernel %lld (only 3)", path, (long long)v);
    SE_TRY(se_config_int(j, "downsample_padding", 1, &v));
    if (v != 1) return se_fail(SE_ERR_UNSUPPORTED, "%s: downsample_padding %lld (only 1)", path, (long long)v);
    SE_TRY(se_config_float(j, "mid_block_scale_factor", false, 1.0, &d));
    if (d != 1.0) return se_fail(SE_ERR_UNSUPPORTED, "%s: mid_block_scale_factor %g (only 1)", path, d);
    SE_TRY(se_config_float(j, "resnet_out_scale_factor", false, 1.0, &d));
    if (d != 1.0) return se_fail(SE_ERR_UNSUPPORTED, "%s: resnet_out_scale_factor %g (only 1)", path, d);

    /* Channel, group and head divisibility (an error here beats a shape error later). */
    for (int i = 0; i < c->nblocks; i++) {
        if (c->channels[i] % c->norm_groups != 0)
            return se_fail(SE_ERR_CONFIG, "%s: block_out_channels[%d] = %lld is not divisible by "
                           "norm_num_groups %d", path, i, (long long)c->channels[i], c->norm_groups);
        bool attn = c->down_attn[i] || c->up_attn[c->nblocks - 1 - i] || i == c->nblocks - 1;
        if (attn && c->channels[i] % c->heads[i] != 0)
            return se_fail(SE_ERR_CONFIG, "%s: block_out_channels[%d] = %lld is not divisible by "
                           "%d heads (attention_head_dim)", path, i, (long long)c->channels[i],
                           c->heads[i]);
    }
    return SE_OK;
}

se_status se_unet_config_load(const char *path, se_unet_config *c) {
    se_config *j = NULL;
    SE_TRY(se_config_open(path, &j));
    se_status st = parse(j, c);
    se_config_close(&j);
    return st;
}
