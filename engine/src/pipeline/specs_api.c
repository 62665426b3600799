/*
 * specs_api.c - the public model-spec calls that are not the reader's own (strike/engine.h,
 * "Model specs"): a spec's name, the content hash of a model given by its files (a folder model,
 * hashed as a spec naming the same files), and the random model generator by preset name. They
 * let strike-worker and strike-render use only the public header.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "core/error.h"
#include "io/model_spec.h"
#include "pipeline/tiny_model.h"
#include "strike/engine.h"

const char *se_model_spec_name(const se_model_spec *m) { return m ? m->name : NULL; }

/* Copies an optional path into a spec field; one that does not fit is an error naming it. */
static se_status put_path(char *dst, size_t cap, const char *key, const char *src) {
    if (!src) src = "";
    if (strlen(src) >= cap)
        return se_fail(SE_ERR_INVALID_ARG, "model hash: %s path longer than %zu bytes: %.64s...",
                       key, cap - 1, src);
    memcpy(dst, src, strlen(src) + 1);
    return SE_OK;
}

se_status se_model_desc_hash(const se_model_desc *d, char out[SE_MODEL_HASH_LEN + 1]) {
    if (!d || !d->base_dir || !out)
        return se_fail(SE_ERR_INVALID_ARG, "model hash: no description or base_dir");
    se_model_spec *sp = calloc(1, sizeof *sp);
    if (!sp) return se_fail(SE_ERR_NOMEM, "model hash: no memory");
    /* the name, steps and default are not hashed; give them valid values all the same */
    snprintf(sp->name, sizeof sp->name, "folder");
    se_status st = put_path(sp->base, sizeof sp->base, "base", d->base_dir);
    if (st == SE_OK) st = put_path(sp->unet, sizeof sp->unet, "unet", d->unet_file);
    if (st == SE_OK) st = put_path(sp->checkpoint, sizeof sp->checkpoint, "checkpoint", d->checkpoint_file);
    if (st == SE_OK) st = put_path(sp->lora, sizeof sp->lora, "lora", d->lora_file);
    if (st == SE_OK) st = put_path(sp->vae, sizeof sp->vae, "vae", d->vae_dir);
    sp->lora_strength = d->lora_strength;
    sp->prediction = d->prediction == SE_MODEL_PRED_SAMPLE ? SE_SPEC_PRED_SAMPLE : SE_SPEC_PRED_EPSILON;
    sp->steps[0] = 4;
    sp->nsteps = 1;
    sp->default_steps = 4;
    if (st == SE_OK) st = se_model_spec_hash(sp, out);
    free(sp);
    return st;
}

se_status se_model_make_random(const char *dir, const char *preset, uint64_t seed) {
    if (!dir || !preset) return se_fail(SE_ERR_INVALID_ARG, "random model: no folder or preset");
    se_gen_preset p;
    if (!strcmp(preset, "tiny")) p = SE_GEN_TINY;
    else if (!strcmp(preset, "sdxl")) p = SE_GEN_SDXL;
    else return se_fail(SE_ERR_INVALID_ARG, "random model: preset \"%.64s\": expected tiny or sdxl", preset);
    return se_make_random_model(dir, p, seed);
}
