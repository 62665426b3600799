/*
 * model_check.c - se_model_check: is a model description complete and consistent with what the
 * networks need, without loading its weights (a worker checks its models at start; the real
 * SDXL load takes ~30 s and ~10 GB).
 *
 * How: the ordinary loaders run against a "check" backend. Each network's loader reads its
 * config, opens its safetensors file (header only: se_st_open maps the file and validates the
 * header; no tensor data is read), declares every tensor it needs from its own name and shape
 * tables and checks that each is present with that shape (se_weights_load_mapped checks
 * everything before allocating). Its first backend allocation is the weights' buffer, and the
 * check backend refuses it: reaching that allocation means the network passed every check. So
 * the name/shape tables, the SGM name mapping and the LoRA key matching are the loaders' own,
 * never a copy. Every network is checked on its own (each loader stops at its allocation);
 * sources are resolved by se_sf_load_desc exactly as se_model_load resolves them.
 *
 * Also: the scheduler config parses (when present) and both tokenizers load (vocab.json and
 * merges.txt, a few MB). Not covered: the cross-network consistency check of se_model_load
 * (text encoder widths against the UNet's cross_attention_dim), which needs loaded networks.
 * Cost: headers, configs and tokenizer files. Networks taken from an SGM single-file checkpoint
 * through a name-mapping view (text encoders, VAE) load from an in-memory image, as in a load;
 * here the image holds only the header (diffusers names, shapes, offsets) and its data section
 * is a hole (se_sf_check_desc), so no weight is copied or read (a load copies ~1.8 GB for SDXL).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/backend.h"
#include "core/error.h"
#include "io/json_config.h"
#include "io/single_file.h"
#include "strike/engine.h"
#include "text/tokenizer.h"

/* ------------------------------------------------------------ check backend ---- */

typedef struct chk_state {
    int reached; /* a loader asked for its weight buffer: its checks passed */
} chk_state;

static void chk_destroy(se_backend *be) { (void)be; }

static se_status chk_alloc(se_backend *be, size_t bytes, void **out) {
    (void)bytes;
    *out = NULL;
    ((chk_state *)be->impl)->reached = 1;
    return se_fail(SE_ERR_UNSUPPORTED, "model check: weights are not loaded");
}

static void chk_free(se_backend *be, void *ptr) {
    (void)be;
    (void)ptr;
}

static se_status chk_set(se_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    (void)dst;
    (void)src;
    (void)bytes;
    return se_fail(SE_ERR_INTERNAL, "model check: a loader copied data before its weights");
}

static se_status chk_get(se_backend *be, void *dst, const void *src, size_t bytes) {
    return chk_set(be, dst, src, bytes);
}

static bool chk_supports(se_backend *be, const se_op *op) {
    (void)be;
    (void)op;
    return false;
}

static se_status chk_compute(se_backend *be, const se_op *op) {
    (void)be;
    (void)op;
    return se_fail(SE_ERR_INTERNAL, "model check: a loader ran an op");
}

static se_status chk_sync(se_backend *be) {
    (void)be;
    return SE_OK;
}

static const se_backend_vtbl g_chk_vtbl = {
    .name = "check",
    .destroy = chk_destroy,
    .alloc = chk_alloc,
    .free = chk_free,
    .set = chk_set,
    .get = chk_get,
    .supports_op = chk_supports,
    .compute = chk_compute,
    .sync = chk_sync,
};

/* ------------------------------------------------------------------ checks ---- */

/* Runs se_sf_check_desc (se_sf_load_desc's sources and loaders; images of SGM tensors hold
 * their header only) for the networks asked for (flags: 1 UNet, 2 text_encoder,
 * 4 text_encoder_2, 8 VAE) against the check backend. SE_OK when the loader reached its weight
 * allocation (the first network asked for passed its checks), else the loader's failure. */
static se_status check_networks(const se_model_desc *d, unsigned which) {
    chk_state cs = {0};
    se_backend be = {.vt = &g_chk_vtbl, .impl = &cs, .weight_dtype = SE_F32, .act_dtype = SE_F32};
    se_unet *u = NULL;
    se_clip *t1 = NULL, *t2 = NULL;
    se_vae *v = NULL;
    se_status st = se_sf_check_desc(d, &be, (which & 1) ? &u : NULL, (which & 2) ? &t1 : NULL,
                                   (which & 4) ? &t2 : NULL, (which & 8) ? &v : NULL);
    /* nothing can be returned: every load stops at the refused allocation */
    se_unet_destroy(&u);
    se_clip_destroy(&t1);
    se_clip_destroy(&t2);
    se_vae_destroy(&v);
    if (cs.reached) return SE_OK;
    if (st == SE_OK) return se_fail(SE_ERR_INTERNAL, "model check: a network loaded no weights");
    return st;
}

static bool is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* base/sub/ holds a loadable tokenizer. */
static se_status check_tokenizer(const char *base, const char *sub) {
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", base, sub) >= sizeof dir)
        return se_fail(SE_ERR_INVALID_ARG, "model: path too long: %s/%s", base, sub);
    if (!is_dir(dir))
        return se_fail(SE_ERR_IO, "model %s: missing folder %s/ (a diffusers SDXL folder has "
                       "unet/ text_encoder/ text_encoder_2/ vae/ tokenizer/ tokenizer_2/)", base, sub);
    se_tokenizer *t = NULL;
    SE_TRY(se_tokenizer_load(dir, SE_TOK_PAD_AUTO, &t));
    se_tokenizer_destroy(&t);
    return SE_OK;
}

/* base/scheduler/scheduler_config.json parses when it is there (it is optional). */
static se_status check_scheduler(const char *base) {
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/scheduler/scheduler_config.json", base) >= sizeof p)
        return se_fail(SE_ERR_INVALID_ARG, "model: path too long: %s", base);
    if (!is_file(p)) return SE_OK;
    se_config *c = NULL;
    SE_TRY(se_config_open(p, &c));
    se_config_close(&c);
    return SE_OK;
}

/* Adds "model NAME: " in front of the current message (when the description has a name). */
static se_status named(const se_model_desc *d, se_status st) {
    if (st == SE_OK || !d->name) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", se_last_error());
    return se_fail(st, "model %s: %s", d->name, msg);
}

se_status se_model_check(const se_model_desc *d) {
    if (!d) return se_fail(SE_ERR_INVALID_ARG, "model check: NULL description");
    if (!d->base_dir) return named(d, se_fail(SE_ERR_INVALID_ARG, "model: no base_dir given"));
    if (!is_dir(d->base_dir))
        return named(d, se_fail(SE_ERR_IO, "model: %s is not a folder (expected a diffusers SDXL "
                                "folder)", d->base_dir));
    SE_TRY(named(d, check_scheduler(d->base_dir)));
    SE_TRY(named(d, check_tokenizer(d->base_dir, "tokenizer")));
    SE_TRY(named(d, check_tokenizer(d->base_dir, "tokenizer_2")));
    /* with a LoRA: its keys are matched against the UNet and both text encoders (all three
     * views are built before the first load), then each network is checked without it */
    se_model_desc plain = *d;
    if (d->lora_file) {
        SE_TRY(named(d, check_networks(d, 1 | 2 | 4)));
        plain.lora_file = NULL;
    }
    for (unsigned which = 1; which <= 8; which <<= 1) SE_TRY(named(d, check_networks(&plain, which)));
    return SE_OK;
}
