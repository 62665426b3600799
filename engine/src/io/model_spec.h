/*
 * model_spec.h - named model specs: the models a worker (or strike-render) knows, from a JSON
 * config file (format and a commented example: deploy/models.example.json, docs/models.md
 * "Model specs").
 *
 *   se_model_specs *ms; SE_TRY(se_model_specs_load("/etc/strike/models.json", &ms));
 *   const se_model_spec *m = se_model_specs_find(ms, "lightning-4step");
 *   int steps; SE_TRY(se_model_spec_check_steps(m, job_steps, &steps)); // 0 = the default
 *   SE_TRY(se_model_spec_check_files(m));          // every file / folder is there
 *   char hash[SE_MODEL_HASH_LEN + 1]; SE_TRY(se_model_spec_hash(m, hash));
 *   se_model_specs_free(&ms);
 *
 * A spec: name; base (a diffusers SDXL folder: configs, tokenizers and the weights not given
 * otherwise); at most one of unet (a Lightning UNet file over base/unet/config.json) and
 * checkpoint (an SGM single-file checkpoint with any of the four networks); optional lora +
 * lora_strength; optional vae (a diffusers vae/ folder); steps (the step counts it supports; the
 * Lightning checkpoints are per step count); default_steps; prediction "epsilon" or "sample"
 * (x0, the 1-step model). Relative paths are relative to the config file's folder. Unknown keys,
 * bad values and duplicate names are SE_ERR_CONFIG naming the file, the model and the key.
 *
 * Content hash: 16 hex digits of FNV-1a 64 over, for every file of the spec in a fixed order
 * (base's weight files, unet, checkpoint, lora, vae), its role, its size and sampled bytes: the
 * first and last MiB and 32 blocks of 64 KiB evenly spaced; then the LoRA strength and
 * prediction. About 4 MiB read per file however large (fast on 7 GB checkpoints); it changes when
 * a file is replaced by another, but is not a cryptographic digest of every byte.
 */
#ifndef STRIKE_ENGINE_MODEL_SPEC_H
#define STRIKE_ENGINE_MODEL_SPEC_H

#include <stddef.h>

#include "strike/engine.h"

#define SE_MODEL_SPEC_NAME_MAX 64
#define SE_MODEL_SPEC_PATH_MAX 1024
#define SE_MODEL_SPEC_MAX_STEPS 16      /* step counts one spec may list */
#define SE_MODEL_SPEC_STEPS_MAX 1000    /* the largest step count accepted */
#define SE_MODEL_SPEC_MAX_MODELS 256
/* SE_MODEL_HASH_LEN, the se_model_specs / se_model_spec types and the calls tools use are
 * declared in strike/engine.h (public); this header adds the spec's fields and the rest. */

typedef enum se_spec_prediction {
    SE_SPEC_PRED_EPSILON = 0,   /* "epsilon" (default; the 2-, 4- and 8-step models) */
    SE_SPEC_PRED_SAMPLE = 1,    /* "sample": x0 prediction (the 1-step model) */
} se_spec_prediction;

struct se_model_spec {
    char name[SE_MODEL_SPEC_NAME_MAX];         /* [A-Za-z0-9._-]+ */
    char base[SE_MODEL_SPEC_PATH_MAX];         /* diffusers SDXL folder (required) */
    char unet[SE_MODEL_SPEC_PATH_MAX];         /* "" or a diffusers-named UNet file */
    char checkpoint[SE_MODEL_SPEC_PATH_MAX];   /* "" or an SGM single-file checkpoint */
    char lora[SE_MODEL_SPEC_PATH_MAX];         /* "" or a LoRA file */
    float lora_strength;                       /* default 1.0 */
    char vae[SE_MODEL_SPEC_PATH_MAX];          /* "" or a diffusers vae/ folder */
    int steps[SE_MODEL_SPEC_MAX_STEPS];        /* supported step counts, ascending */
    int nsteps;
    int default_steps;                         /* default_steps, else the first of "steps" */
    se_spec_prediction prediction;
};

/* se_model_specs_load from text; name is used in messages, dir resolves relative paths. */
se_status se_model_specs_parse(const char *name, const char *text, const char *dir,
                               se_model_specs **out);

const char *se_spec_prediction_name(se_spec_prediction p);
/* The rest (load, free, count, at, find, name, check_steps, check_files, hash, to_desc,
 * se_model_desc_hash): strike/engine.h. */

#endif
