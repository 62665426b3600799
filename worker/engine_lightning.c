/*
 * engine_lightning.c - strike-worker's cpu/cuda engines over the Lightning engine's public API
 * (see engine_lightning.h for the options). One se_engine (one backend) per worker; models stay
 * loaded between batches; jobs of one model go to se_engine_render together, which runs jobs
 * sharing steps and size as one batch through every network.
 */
#include "engine_lightning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sf_status.h"
#include "strike/engine.h" /* the only engine header: engine, models config (specs), hash */

#define LT_MAX_MODELS 16
#define LT_DEFAULT_MODELS "/etc/strike/models.json" /* when no model is given (and no $STRIKE_MODELS) */

typedef struct lt_model {
    char name[128];
    char path[1024];
    char unet[1024];   /* "" or a Lightning UNet file over path's unet/config.json */
    se_model_prediction pred;
    const se_model_spec *spec; /* from models=FILE (then path/unet/pred unused), else NULL */
    se_model *m;       /* NULL until first used (or after a failed load) */
    char hash[SE_MODEL_HASH_LEN + 1]; /* content hash of the files loaded ("" until loaded) */
} lt_model;

#define LT_BARE_DEFAULT_STEPS 4 /* a bare model=PATH whose file names say no step count */

typedef struct lt_engine {
    sw_engine base;    /* must be first */
    char version[64];
    se_engine *e;
    se_job_noise noise;
    lt_model models[LT_MAX_MODELS];
    int nmodels;
    se_model_specs *specs; /* models=FILE, or NULL */
    uint8_t *pixels;   /* one buffer for the whole batch's images */
    size_t cap;
    char **prompts;    /* NUL-terminated copies of the batch's prompts */
    size_t nprompts;
    se_job *jobs;
    se_job_result *res;
    size_t *idx;
    size_t jcap;
} lt_engine;

static void fail_job(sw_image *o, int status, const char *msg) {
    memset(o, 0, sizeof *o);
    o->status = status;
    snprintf(o->error, sizeof o->error, "%s", msg);
}

/* The model a job names (empty: the first), or -1. */
static int find_model(const lt_engine *le, const char *name) {
    if (!name || !*name) return le->nmodels > 0 ? 0 : -1;
    for (int i = 0; i < le->nmodels; i++)
        if (strcmp(le->models[i].name, name) == 0) return i;
    return -1;
}

/* Default steps of a bare model=PATH (no spec, so no default_steps): the N of a Lightning file
 * name "..._Nstep..." (sdxl_lightning_8step_unet.safetensors: 8), looked for in the UNet file's
 * name, then the folder's; else LT_BARE_DEFAULT_STEPS. */
static int bare_default_steps(const lt_model *m) {
    const char *names[2] = {m->unet, m->path};
    for (int k = 0; k < 2; k++) {
        const char *base = strrchr(names[k], '/');
        base = base ? base + 1 : names[k];
        for (const char *p = strstr(base, "step"); p; p = strstr(p + 1, "step")) {
            const char *d = p;
            while (d > base && d[-1] >= '0' && d[-1] <= '9') d--;
            if (d == p || p - d > 4) continue;
            int n = atoi(d);
            if (n >= 1 && n <= SE_MAX_JOB_STEPS && (d == base || d[-1] == '_' || d[-1] == '-')) return n;
        }
    }
    return LT_BARE_DEFAULT_STEPS;
}

/* The content hash of a model's files (se_model_spec_hash, the same value strike-render writes):
 * a spec's own, or for a bare model=PATH that of a spec with its folder, UNet file and
 * prediction (auto counts as epsilon). */
static se_status model_hash(const lt_model *lm, char out[SE_MODEL_HASH_LEN + 1]) {
    if (lm->spec) return se_model_spec_hash(lm->spec, out);
    se_model_desc d;
    se_model_desc_init(&d);
    d.name = lm->name;
    d.base_dir = lm->path;
    d.unet_file = lm->unet[0] ? lm->unet : NULL;
    d.prediction = lm->pred;
    return se_model_desc_hash(&d, out);
}

/* The engine's description of a model (strings point into lm and its spec). */
static void model_desc(const lt_model *lm, se_model_desc *d) {
    se_model_desc_init(d);
    d->base_dir = lm->path;
    d->name = lm->name;
    d->unet_file = lm->unet[0] ? lm->unet : NULL;
    d->prediction = lm->pred;
    if (lm->spec) se_model_spec_to_desc(lm->spec, d);
}

/* 1 if name is one of the comma-separated list (exact match). */
static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

/* The start-up check (sw_engine_ops.check): every model the worker will serve (those named in
 * `only`, the worker's --models, else all) goes through se_model_check: files, configs,
 * tokenizers and every tensor's presence and shape, without loading weights. A worker with a
 * broken model refuses to start: a typo in a path should stop it at once, not fail its jobs one
 * by one. A name in `only` that the engine does not serve is refused too. */
static int lt_check(sw_engine *base, const char *only, char *err, size_t errlen) {
    lt_engine *le = (lt_engine *)base;
    const char *list = only ? only : "";
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        if (len && find_model(le, name) < 0) {
            snprintf(err, errlen, "lightning engine: --models names %s, which the engine does not "
                     "serve (its models come from model=/models= in --engine-options)", name);
            return -1;
        }
        p += len + (e ? 1 : 0);
    }
    for (int i = 0; i < le->nmodels; i++) {
        if (*list && !in_list(list, le->models[i].name)) continue;
        se_model_desc d;
        model_desc(&le->models[i], &d);
        if (se_model_check(&d) != SE_OK) {
            snprintf(err, errlen, "lightning engine: start-up check of the models (nothing loaded): %s",
                     se_last_error()); /* "model NAME: <part>: missing tensor T in FILE" */
            return -1;
        }
    }
    return 0;
}

static int grow(lt_engine *le, size_t n, size_t pixels) {
    if (pixels > le->cap) {
        uint8_t *p = realloc(le->pixels, pixels);
        if (!p) return -1;
        le->pixels = p;
        le->cap = pixels;
    }
    if (n > le->jcap) {
        se_job *j = realloc(le->jobs, n * sizeof *j);
        if (j) le->jobs = j;
        se_job_result *r = realloc(le->res, n * sizeof *r);
        if (r) le->res = r;
        size_t *x = realloc(le->idx, n * sizeof *x);
        if (x) le->idx = x;
        char **pr = realloc(le->prompts, n * sizeof *pr);
        if (pr) le->prompts = pr;
        if (!j || !r || !x || !pr) return -1;
        le->jcap = n;
    }
    return 0;
}

static int lt_render(sw_engine *base, const sw_job *jobs, size_t n, sw_image *out) {
    lt_engine *le = (lt_engine *)base;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].width > 0 && jobs[i].height > 0 && jobs[i].width <= SE_MAX_IMAGE_SIDE &&
            jobs[i].height <= SE_MAX_IMAGE_SIDE)
            need += (size_t)jobs[i].width * (size_t)jobs[i].height * 3;
    }
    for (size_t i = 0; i < le->nprompts; i++) free(le->prompts[i]);
    le->nprompts = 0;
    if (grow(le, n, need) != 0) {
        for (size_t i = 0; i < n; i++) fail_job(&out[i], SF_ERR_NO_MEMORY, "lightning engine: no memory for the batch");
        return -1;
    }
    /* per job: the prompt as a C string, its image slot */
    size_t off = 0;
    int *which = calloc(n ? n : 1, sizeof *which);
    if (!which) {
        for (size_t i = 0; i < n; i++) fail_job(&out[i], SF_ERR_NO_MEMORY, "lightning engine: no memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        which[i] = -2;
        const sw_job *j = &jobs[i];
        le->prompts[i] = NULL;
        if (!(j->width > 0 && j->height > 0 && j->width <= SE_MAX_IMAGE_SIDE && j->height <= SE_MAX_IMAGE_SIDE)) {
            char msg[128];
            snprintf(msg, sizeof msg, "lightning engine: size %dx%d out of range", j->width, j->height);
            fail_job(&out[i], SF_ERR_INVALID_SIZE, msg);
            continue;
        }
        int mi = find_model(le, j->model);
        if (mi < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "lightning engine: model \"%s\" is not served by this worker", j->model ? j->model : "");
            fail_job(&out[i], SF_ERR_MODEL, msg);
            continue;
        }
        int steps = j->steps;
        if (le->models[mi].spec) {
            if (se_model_spec_check_steps(le->models[mi].spec, steps, &steps) != SE_OK) {
                fail_job(&out[i], SF_ERR_INVALID_STEPS, se_last_error()); /* names model and steps */
                continue;
            }
        } else if (steps == 0) {
            steps = bare_default_steps(&le->models[mi]);
        }
        if ((j->prompt_len && !j->prompt) || (j->prompt && memchr(j->prompt, 0, j->prompt_len))) {
            fail_job(&out[i], SF_ERR_INVALID_PROMPT, "lightning engine: prompt contains a NUL byte");
            continue;
        }
        char *p = malloc(j->prompt_len + 1);
        if (!p) {
            fail_job(&out[i], SF_ERR_NO_MEMORY, "lightning engine: no memory");
            continue;
        }
        if (j->prompt_len) memcpy(p, j->prompt, j->prompt_len);
        p[j->prompt_len] = 0;
        le->prompts[le->nprompts++] = p;
        out[i].width = j->width;
        out[i].height = j->height;
        out[i].steps = steps;
        out[i].rgb = le->pixels + off;
        off += (size_t)j->width * (size_t)j->height * 3;
        which[i] = mi;
        se_job_init(&le->jobs[i]);
        le->jobs[i].prompt = p;
        le->jobs[i].seed = j->seed;
        le->jobs[i].steps = steps;
        le->jobs[i].width = j->width;
        le->jobs[i].height = j->height;
        le->jobs[i].noise = le->noise;
        le->jobs[i].rgb = out[i].rgb;
    }
    /* one engine call per model, its jobs in batch order */
    int all_failed = 1;
    for (int mi = 0; mi < le->nmodels; mi++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (which[i] == mi) le->idx[k++] = i;
        if (k == 0) continue;
        lt_model *lm = &le->models[mi];
        if (!lm->m) {
            se_model_desc d;
            model_desc(lm, &d);
            if (model_hash(lm, lm->hash) != SE_OK || se_engine_load_model(le->e, &d, &lm->m) != SE_OK) {
                char msg[256];
                snprintf(msg, sizeof msg, "lightning engine: model %s: %s", lm->name, se_last_error());
                for (size_t q = 0; q < k; q++) fail_job(&out[le->idx[q]], SF_ERR_MODEL, msg);
                lm->hash[0] = 0;
                continue;
            }
        }
        for (size_t q = 0; q < k; q++)
            memcpy(out[le->idx[q]].model_hash, lm->hash, sizeof lm->hash);
        /* gather this model's jobs contiguously */
        se_job *mj = malloc(k * sizeof *mj);
        se_job_result *mr = malloc(k * sizeof *mr);
        if (!mj || !mr) {
            free(mj);
            free(mr);
            for (size_t q = 0; q < k; q++) fail_job(&out[le->idx[q]], SF_ERR_NO_MEMORY, "lightning engine: no memory");
            continue;
        }
        for (size_t q = 0; q < k; q++) mj[q] = le->jobs[le->idx[q]];
        se_engine_render(le->e, lm->m, mj, k, mr, NULL, NULL);
        for (size_t q = 0; q < k; q++) {
            sw_image *o = &out[le->idx[q]];
            if (mr[q].status == SE_OK) {
                all_failed = 0;
                continue;
            }
            int st = mr[q].status == SE_ERR_INVALID_ARG ? SF_ERR_INVALID_ARGUMENT : SF_ERR_ENGINE;
            if (strstr(mr[q].error, "size")) st = SF_ERR_INVALID_SIZE;
            else if (strstr(mr[q].error, "steps")) st = SF_ERR_INVALID_STEPS;
            else if (strstr(mr[q].error, "UTF-8") || strstr(mr[q].error, "prompt")) st = SF_ERR_INVALID_PROMPT;
            fail_job(o, st, mr[q].error);
        }
        free(mj);
        free(mr);
    }
    free(which);
    return (n > 0 && all_failed) ? -1 : 0;
}

static void lt_destroy(sw_engine *base) {
    lt_engine *le = (lt_engine *)base;
    se_engine_destroy(&le->e); /* unloads the models */
    se_model_specs_free(&le->specs);
    for (size_t i = 0; i < le->nprompts; i++) free(le->prompts[i]);
    free(le->prompts);
    free(le->pixels);
    free(le->jobs);
    free(le->res);
    free(le->idx);
    free(le);
}

static const sw_engine_ops lt_cpu_ops = {"cpu", lt_render, lt_destroy, lt_check};
static const sw_engine_ops lt_cuda_ops = {"cuda", lt_render, lt_destroy, lt_check};

/* "[NAME:]PATH" -> a model entry. */
static int add_model(lt_engine *le, const char *v, char *err, size_t errlen) {
    if (le->nmodels >= LT_MAX_MODELS) {
        snprintf(err, errlen, "lightning engine: more than %d models", LT_MAX_MODELS);
        return -1;
    }
    lt_model *m = &le->models[le->nmodels];
    const char *colon = strchr(v, ':');
    const char *path = colon ? colon + 1 : v;
    if (!*path || strlen(path) >= sizeof m->path) {
        snprintf(err, errlen, "lightning engine: bad model path \"%s\"", v);
        return -1;
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    if (colon) {
        size_t nl = (size_t)(colon - v);
        if (nl == 0 || nl >= sizeof m->name) {
            snprintf(err, errlen, "lightning engine: bad model name in \"%s\"", v);
            return -1;
        }
        memcpy(m->name, v, nl);
        m->name[nl] = 0;
    } else {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/') n--;
        size_t b = n;
        while (b > 0 && path[b - 1] != '/') b--;
        size_t len = n - b < sizeof m->name - 1 ? n - b : sizeof m->name - 1;
        memcpy(m->name, path + b, len);
        m->name[len] = 0;
    }
    le->nmodels++;
    return 0;
}

/* models=FILE: every model of a models config (strike/engine.h "Model specs", docs/models.md). */
static int add_specs(lt_engine *le, const char *path, char *err, size_t errlen) {
    if (le->specs) {
        snprintf(err, errlen, "lightning engine: models= given twice");
        return -1;
    }
    if (se_model_specs_load(path, &le->specs) != SE_OK) {
        snprintf(err, errlen, "lightning engine: models=%s: %s", path, se_last_error());
        return -1;
    }
    for (size_t i = 0; i < se_model_specs_count(le->specs); i++) {
        const se_model_spec *sp = se_model_specs_at(le->specs, i);
        if (le->nmodels >= LT_MAX_MODELS || find_model(le, se_model_spec_name(sp)) >= 0) {
            snprintf(err, errlen, "lightning engine: models=%s: %s", path,
                     le->nmodels >= LT_MAX_MODELS ? "too many models" : "a model name given twice");
            return -1;
        }
        lt_model *m = &le->models[le->nmodels++];
        se_model_desc d;
        se_model_desc_init(&d);
        se_model_spec_to_desc(sp, &d);
        snprintf(m->name, sizeof m->name, "%s", se_model_spec_name(sp));
        snprintf(m->path, sizeof m->path, "%s", d.base_dir ? d.base_dir : "");
        m->spec = sp;
    }
    return 0;
}

static int parse_long(const char *k, const char *v, long lo, long hi, long *out, char *err, size_t errlen) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        snprintf(err, errlen, "lightning engine: bad %s \"%s\" (%ld..%ld)", k, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Fill the engine's device description: "cpu", or the CUDA device's name and memory. */
static void describe_device(lt_engine *le) {
    se_device_info info;
    if (le->e && se_engine_device_info(le->e, &info) == SE_OK) {
        snprintf(le->base.device_name, sizeof le->base.device_name, "%s", info.name);
        le->base.device_memory = info.memory_bytes;
    } else {
        snprintf(le->base.device_name, sizeof le->base.device_name, "%s (unknown device)",
                 le->e ? se_engine_backend_name(le->e) : "?");
        le->base.device_memory = 0;
    }
}

sw_engine *sw_engine_lightning_create(const char *kind, const char *options, int gpu, char *err,
                                      size_t errlen) {
    lt_engine *le = calloc(1, sizeof *le);
    if (!le) {
        snprintf(err, errlen, "lightning engine: no memory");
        return NULL;
    }
    se_engine_params p;
    se_engine_params_init(&p);
    p.backend = strcmp(kind, "cuda") == 0 ? SE_BACKEND_CUDA : SE_BACKEND_CPU;
    int rc = 0, device_opt = 0;
    if (options && *options) {
        char *copy = strdup(options), *save = NULL;
        if (!copy) rc = -1;
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            long x = 0;
            if (!eq) {
                snprintf(err, errlen, "lightning engine: option \"%s\" is not key=value", tok);
                rc = -1;
                break;
            }
            *eq = 0;
            const char *v = eq + 1;
            if (strcmp(tok, "model") == 0) rc = add_model(le, v, err, errlen);
            else if (strcmp(tok, "models") == 0) rc = add_specs(le, v, err, errlen);
            else if (strncmp(tok, "unet.", 5) == 0 || strncmp(tok, "prediction.", 11) == 0) {
                int is_unet = tok[0] == 'u';
                const char *mname = tok + (is_unet ? 5 : 11);
                int mi = find_model(le, mname);
                if (!*mname || mi < 0) {
                    snprintf(err, errlen, "lightning engine: %s names no model given before it "
                             "(model=NAME:PATH first)", tok);
                    rc = -1;
                } else if (is_unet) {
                    if (!*v || strlen(v) >= sizeof le->models[mi].unet) {
                        snprintf(err, errlen, "lightning engine: bad %s \"%s\"", tok, v);
                        rc = -1;
                    } else {
                        snprintf(le->models[mi].unet, sizeof le->models[mi].unet, "%s", v);
                    }
                } else if (strcmp(v, "epsilon") == 0) {
                    le->models[mi].pred = SE_MODEL_PRED_EPSILON;
                } else if (strcmp(v, "sample") == 0) {
                    le->models[mi].pred = SE_MODEL_PRED_SAMPLE;
                } else {
                    snprintf(err, errlen, "lightning engine: %s: expected epsilon or sample, got \"%s\"", tok, v);
                    rc = -1;
                }
            }
            else if (strcmp(tok, "threads") == 0) {
                rc = parse_long(tok, v, 0, 4096, &x, err, errlen);
                p.threads = (int)x;
            } else if (strcmp(tok, "device") == 0) {
                rc = parse_long(tok, v, 0, 1024, &x, err, errlen);
                p.device = (int)x;
                device_opt = 1;
            } else if (strcmp(tok, "max_batch") == 0) {
                rc = parse_long(tok, v, 1, 64, &x, err, errlen);
                p.max_batch = (int)x;
            } else if (strcmp(tok, "noise") == 0) {
                if (se_job_noise_parse(v, &le->noise) != SE_OK) {
                    snprintf(err, errlen, "lightning engine: %s", se_last_error());
                    rc = -1;
                }
            } else {
                snprintf(err, errlen, "lightning engine: unknown option \"%s\" (model, models, unet.NAME, "
                         "prediction.NAME, threads, device, noise, max_batch)", tok);
                rc = -1;
            }
        }
        free(copy);
    }
    if (rc == 0 && gpu >= 0) {
        if (device_opt && p.device != gpu) {
            snprintf(err, errlen, "lightning engine: --gpu %d and device=%d disagree (give one)", gpu, p.device);
            rc = -1;
        }
        p.device = gpu;
    }
    /* the device first: on a machine without a GPU (or a build without CUDA) that is the news */
    if (rc == 0 && se_engine_new(&p, &le->e) != SE_OK) {
        snprintf(err, errlen, "lightning engine (%s): %s", kind, se_last_error());
        rc = -1;
    }
    if (rc == 0 && le->nmodels == 0) { /* no model given: the models config, as strike-render */
        const char *mf = getenv("STRIKE_MODELS");
        if ((!mf || !*mf) && access(LT_DEFAULT_MODELS, R_OK) == 0) mf = LT_DEFAULT_MODELS;
        if (mf && *mf) rc = add_specs(le, mf, err, errlen);
    }
    if (rc == 0 && le->nmodels == 0) {
        snprintf(err, errlen, "lightning engine: no model: pass --engine-options model=[NAME:]PATH or models=FILE "
                 "(a diffusers SDXL folder; strike-render --make-tiny-model DIR makes a tiny random one)");
        rc = -1;
    }
    if (rc != 0) {
        se_engine_destroy(&le->e);
        se_model_specs_free(&le->specs);
        free(le);
        return NULL;
    }
    snprintf(le->version, sizeof le->version, "strike-engine %s (%s)", se_version(),
             se_engine_backend_name(le->e));
    le->base.ops = p.backend == SE_BACKEND_CUDA ? &lt_cuda_ops : &lt_cpu_ops;
    le->base.version = le->version;
    le->base.noise_mode = se_job_noise_name(le->noise);
    le->base.max_batch = 64;
    describe_device(le);
    return &le->base;
}
