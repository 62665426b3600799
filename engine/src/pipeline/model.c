/*
 * model.c - resolving a model description to its parts and loading them (see model.h).
 *
 * Sources, part by part (docs/pipeline.md):
 *   tokenizers       base_dir/tokenizer/, base_dir/tokenizer_2/
 *   text encoders    base_dir/text_encoder{,_2}/config.json + model.safetensors (or .fp16.)
 *   UNet             unet_file over base_dir/unet/config.json, else base_dir/unet/
 *   VAE              vae_dir/, else base_dir/vae/
 *   scheduler        base_dir/scheduler/scheduler_config.json (optional; SDXL's defaults)
 * With a checkpoint_file (SGM single file) and/or a lora_file, the four networks come from
 * se_sf_load_desc (io/single_file.h: each part from its most specific source, the LoRA merged at
 * lora_strength into the UNet and text encoders); tokenizers and scheduler still come from
 * base_dir. Missing or mismatched tensors are reported by the network loads with their names.
 */
#include "pipeline/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/json_config.h"
#include "io/single_file.h"

void se_model_desc_init(se_model_desc *d) {
    if (!d) return;
    memset(d, 0, sizeof *d);
    d->lora_strength = 1.0f;
    d->prediction = SE_MODEL_PRED_AUTO;
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* out = dir/part (SE_ERR_INVALID_ARG when it does not fit). */
static se_status join(char *out, const char *dir, const char *part) {
    if ((size_t)snprintf(out, SE_MODEL_PATH_MAX, "%s/%s", dir, part) >= SE_MODEL_PATH_MAX)
        return se_fail(SE_ERR_INVALID_ARG, "model: path too long: %s/%s", dir, part);
    return SE_OK;
}

/* base_dir/sub must be a folder. */
static se_status need_dir(const char *base, const char *sub, char *out) {
    SE_TRY(join(out, base, sub));
    if (!is_dir(out))
        return se_fail(SE_ERR_IO, "model %s: missing folder %s/ (a diffusers SDXL folder has "
                       "unet/ text_encoder/ text_encoder_2/ vae/ tokenizer/ tokenizer_2/)", base, sub);
    return SE_OK;
}

static se_status load_tokenizers(const se_model_desc *d, se_model *m) {
    char p[SE_MODEL_PATH_MAX];
    SE_TRY(need_dir(d->base_dir, "tokenizer", p));
    SE_TRY(se_tokenizer_load(p, SE_TOK_PAD_AUTO, &m->tok1));
    SE_TRY(need_dir(d->base_dir, "tokenizer_2", p));
    return se_tokenizer_load(p, SE_TOK_PAD_AUTO, &m->tok2);
}

/* One text encoder from base_dir/sub (config.json + model.safetensors or model.fp16.safetensors). */
static se_status load_clip(const se_model_desc *d, const char *sub, se_backend *be, se_clip **out) {
    char dir[SE_MODEL_PATH_MAX], cfg[SE_MODEL_PATH_MAX], w[SE_MODEL_PATH_MAX];
    SE_TRY(need_dir(d->base_dir, sub, dir));
    SE_TRY(join(cfg, dir, "config.json"));
    SE_TRY(join(w, dir, "model.safetensors"));
    if (!is_file(w)) {
        SE_TRY(join(w, dir, "model.fp16.safetensors"));
        if (!is_file(w))
            return se_fail(SE_ERR_IO, "model %s: %s/ has no model.safetensors (nor "
                           "model.fp16.safetensors); sharded encoders are not supported",
                           d->base_dir, sub);
    }
    return se_clip_load_files(cfg, w, sub, be, out);
}

static se_status load_unet(const se_model_desc *d, se_backend *be, se_unet **out) {
    char dir[SE_MODEL_PATH_MAX], cfg[SE_MODEL_PATH_MAX];
    SE_TRY(need_dir(d->base_dir, "unet", dir));
    if (d->unet_file) {
        if (!is_file(d->unet_file))
            return se_fail(SE_ERR_IO, "model: UNet file %s not found", d->unet_file);
        SE_TRY(join(cfg, dir, "config.json"));
        return se_unet_new_from_files(cfg, d->unet_file, be, out);
    }
    return se_unet_new_from_dir(dir, be, out);
}

static se_status load_vae(const se_model_desc *d, se_backend *be, se_vae **out) {
    char dir[SE_MODEL_PATH_MAX];
    if (d->vae_dir) {
        if (!is_dir(d->vae_dir)) return se_fail(SE_ERR_IO, "model: VAE folder %s not found", d->vae_dir);
        return se_vae_new_from_dir(d->vae_dir, be, out);
    }
    SE_TRY(need_dir(d->base_dir, "vae", dir));
    return se_vae_new_from_dir(dir, be, out);
}

/* scheduler/scheduler_config.json: the beta schedule and the prediction type. Absent: SDXL's
 * defaults and epsilon. Timestep spacing is always "trailing" (what Lightning needs). */
static se_status load_scheduler(const se_model_desc *d, se_model *m) {
    se_schedule_config_init(&m->sched);
    m->pred = SE_PRED_EPSILON;
    char p[SE_MODEL_PATH_MAX];
    SE_TRY(join(p, d->base_dir, "scheduler/scheduler_config.json"));
    if (is_file(p)) {
        se_config *c = NULL;
        SE_TRY(se_config_open(p, &c));
        int64_t T = 1000;
        double b0 = 0, b1 = 0;
        const char *sched = NULL, *pred = NULL;
        se_status st = se_config_int(c, "num_train_timesteps", 1000, &T);
        if (st == SE_OK) st = se_config_float(c, "beta_start", false, 0.00085, &b0);
        if (st == SE_OK) st = se_config_float(c, "beta_end", false, 0.012, &b1);
        if (st == SE_OK) st = se_config_string(c, "beta_schedule", "scaled_linear", &sched);
        if (st == SE_OK) st = se_config_string(c, "prediction_type", "epsilon", &pred);
        if (st == SE_OK && strcmp(sched, "scaled_linear") != 0)
            st = se_fail(SE_ERR_UNSUPPORTED, "%s: beta_schedule \"%s\": only scaled_linear is "
                         "supported", p, sched);
        if (st == SE_OK && (T < 1 || T > SE_SCHED_MAX_TRAIN))
            st = se_fail(SE_ERR_CONFIG, "%s: num_train_timesteps %lld outside 1..%d", p,
                         (long long)T, SE_SCHED_MAX_TRAIN);
        if (st == SE_OK && se_prediction_parse(pred, &m->pred) != SE_OK)
            st = se_fail(SE_ERR_UNSUPPORTED, "%s: prediction_type \"%s\": expected epsilon or sample",
                         p, pred);
        if (st == SE_OK) {
            m->sched.num_train_timesteps = (int)T;
            m->sched.beta_start = b0;
            m->sched.beta_end = b1;
        }
        se_config_close(&c);
        SE_TRY(st);
    }
    if (d->prediction == SE_MODEL_PRED_EPSILON) m->pred = SE_PRED_EPSILON;
    else if (d->prediction == SE_MODEL_PRED_SAMPLE) m->pred = SE_PRED_SAMPLE;
    return SE_OK;
}

/* The parts must fit together: ctx width, pooled width, latent channels. */
static se_status check_consistent(const se_model *m) {
    const se_unet_config *u = se_unet_get_config(m->unet);
    const se_clip_config *c1 = se_clip_get_config(m->enc1), *c2 = se_clip_get_config(m->enc2);
    const se_vae_config *v = se_vae_get_config(m->vae);
    if (c1->hidden + c2->hidden != u->cross_attention_dim)
        return se_fail(SE_ERR_SHAPE, "model %s: text encoders give %lld + %lld features, the UNet's "
                       "cross_attention_dim is %lld", m->name, (long long)c1->hidden,
                       (long long)c2->hidden, (long long)u->cross_attention_dim);
    if (!u->add_text_time)
        return se_fail(SE_ERR_UNSUPPORTED, "model %s: the UNet has no text_time conditioning "
                       "(not an SDXL UNet)", m->name);
    if (se_clip_pooled_dim(m->enc2) + 6 * u->addition_time_embed_dim != u->projection_dim)
        return se_fail(SE_ERR_SHAPE, "model %s: pooled width %lld + 6 x %lld does not match the "
                       "UNet's projection_class_embeddings_input_dim %lld", m->name,
                       (long long)se_clip_pooled_dim(m->enc2), (long long)u->addition_time_embed_dim,
                       (long long)u->projection_dim);
    if (u->in_channels != v->latent_channels || u->out_channels != v->latent_channels)
        return se_fail(SE_ERR_SHAPE, "model %s: UNet channels %d/%d, VAE latent_channels %d",
                       m->name, u->in_channels, u->out_channels, v->latent_channels);
    if (v->out_channels != 3)
        return se_fail(SE_ERR_UNSUPPORTED, "model %s: VAE out_channels %d (RGB needs 3)", m->name,
                       v->out_channels);
    if (c1->max_positions < 77 || c2->max_positions < 77)
        return se_fail(SE_ERR_SHAPE, "model %s: text encoders need 77 positions", m->name);
    return SE_OK;
}

static void set_name(const se_model_desc *d, se_model *m) {
    const char *src = d->name ? d->name : d->base_dir;
    if (!d->name) {
        size_t n = strlen(src);
        while (n > 1 && src[n - 1] == '/') n--;
        size_t b = n;
        while (b > 0 && src[b - 1] != '/') b--;
        size_t len = n - b < SE_MODEL_NAME_MAX - 1 ? n - b : SE_MODEL_NAME_MAX - 1;
        memcpy(m->name, src + b, len);
        m->name[len] = 0;
    } else {
        snprintf(m->name, sizeof m->name, "%s", src);
    }
}

se_status se_model_load(const se_model_desc *d, se_backend *be, size_t cache_entries,
                        size_t cache_bytes, se_model **out) {
    if (!d || !be || !out) return se_fail(SE_ERR_INVALID_ARG, "model: NULL argument");
    *out = NULL;
    if (!d->base_dir) return se_fail(SE_ERR_INVALID_ARG, "model: no base_dir given");
    if (!is_dir(d->base_dir))
        return se_fail(SE_ERR_IO, "model: %s is not a folder (expected a diffusers SDXL folder)",
                       d->base_dir);
    se_model *m = calloc(1, sizeof *m);
    if (!m) return se_fail(SE_ERR_NOMEM, "model: no memory");
    m->be = be;
    set_name(d, m);
    se_status st = load_scheduler(d, m);
    if (st == SE_OK) st = load_tokenizers(d, m);
    if (st == SE_OK && (d->checkpoint_file || d->lora_file)) {
        st = se_sf_load_desc(d, be, &m->unet, &m->enc1, &m->enc2, &m->vae);
    } else {
        if (st == SE_OK) st = load_clip(d, "text_encoder", be, &m->enc1);
        if (st == SE_OK) st = load_clip(d, "text_encoder_2", be, &m->enc2);
        if (st == SE_OK) st = load_unet(d, be, &m->unet);
        if (st == SE_OK) st = load_vae(d, be, &m->vae);
    }
    if (st == SE_OK) st = check_consistent(m);
    if (st == SE_OK && cache_entries > 0 && cache_bytes > 0)
        st = se_embed_cache_new(cache_entries, cache_bytes, &m->cache);
    if (st != SE_OK) {
        se_model_free(&m);
        return st;
    }
    *out = m;
    return SE_OK;
}

void se_model_free(se_model **pm) {
    if (!pm || !*pm) return;
    se_model *m = *pm;
    se_embed_cache_destroy(&m->cache);
    se_vae_destroy(&m->vae);
    se_unet_destroy(&m->unet);
    se_clip_destroy(&m->enc2);
    se_clip_destroy(&m->enc1);
    se_tokenizer_destroy(&m->tok2);
    se_tokenizer_destroy(&m->tok1);
    free(m);
    *pm = NULL;
}

int se_model_size_multiple(const se_model *m) {
    return se_vae_upscale(m->vae) * (1 << (se_unet_get_config(m->unet)->nblocks - 1));
}
