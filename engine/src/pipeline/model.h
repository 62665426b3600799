/*
 * model.h - a loaded SDXL-Lightning model: both tokenizers, both text encoders, the UNet, the
 * VAE decoder, the scheduler settings and the model's prompt-embedding cache, all on one backend.
 *
 * A model is described by se_model_desc (strike/engine.h): a set of weight sources for unet /
 * text_encoder / text_encoder_2 / vae plus their configs and tokenizers. se_model_load() is the
 * ONE place where a description becomes networks: it resolves each part to its source (one
 * static helper per part in model.c) and loads it. Other formats (a Lightning UNet file over a
 * base folder, an SGM single-file checkpoint, a LoRA merged at load time) plug in there, part by
 * part, without touching the pipeline (render.c), which only sees the loaded networks below.
 */
#ifndef STRIKE_PIPELINE_MODEL_H
#define STRIKE_PIPELINE_MODEL_H

#include "core/backend.h"
#include "model/clip.h"
#include "model/unet.h"
#include "model/vae.h"
#include "sample/schedule.h"
#include "strike/engine.h"
#include "text/embed_cache.h"
#include "text/tokenizer.h"

#define SE_MODEL_PATH_MAX 4096
#define SE_MODEL_NAME_MAX 128

struct se_model {
    char name[SE_MODEL_NAME_MAX];  /* desc.name or the folder's last component */
    se_backend *be;                /* borrowed: the engine's backend */
    se_tokenizer *tok1, *tok2;     /* tokenizer/ (pads <|endoftext|>), tokenizer_2/ (pads "!") */
    se_clip *enc1, *enc2;          /* text_encoder/ (ViT-L style), text_encoder_2/ (bigG style) */
    se_unet *unet;
    se_vae *vae;
    se_schedule_config sched;      /* scheduler/scheduler_config.json or SDXL's defaults */
    se_prediction pred;            /* epsilon or sample (x0) */
    int clip_skip;                 /* 0 = SDXL (hidden_states[-2]) */
    se_embed_cache *cache;         /* prompt -> (ctx row, pooled row), this model only */
    struct se_model *next;         /* the engine's list of loaded models */
};

/* Loads the model described by d onto be. cache_entries/cache_bytes size its embedding cache
 * (0 entries: no cache). Errors name the part, the file and the tensor or key. */
se_status se_model_load(const se_model_desc *d, se_backend *be, size_t cache_entries,
                        size_t cache_bytes, se_model **out);
/* Frees everything (NULL allowed; sets *m to NULL). */
void se_model_free(se_model **m);

/* The pixel multiple a side must be: vae upscale * 2^(unet levels - 1) (8 * 4 = 32 for SDXL). */
int se_model_size_multiple(const se_model *m);

#endif
