/*
 * engine_iface.h - what strike-worker needs from an engine: a batch of jobs in, one RGB image or
 * one error per job out. The farm never sees more of the engine than this, so the Lightning engine
 * (cuda / cpu, other issues) plugs in without touching the worker.
 *
 * Engines:
 *   null  test and benchmark engine: no model, renders a small deterministic pattern from the
 *         prompt and seed (see engine_null.c). Never the default. Steps 0 count as 4.
 *   cpu, cuda  the Lightning engine (engine_lightning.c).
 */
#ifndef STRIKE_WORKER_ENGINE_IFACE_H
#define STRIKE_WORKER_ENGINE_IFACE_H

#include <stddef.h>
#include <stdint.h>

/* One job of a batch; strings are borrowed for the duration of the render call. */
typedef struct sw_job {
    const char *prompt; /* UTF-8 */
    size_t prompt_len;  /* bytes */
    uint64_t seed;
    int steps;          /* 0 = the model's default (the engine resolves it: sw_image.steps) */
    int width, height;
    const char *model;
} sw_job;

/* One output. On success status == 0 and rgb holds width*height*3 bytes (owned by the engine,
 * valid until the next render call or destroy). On failure status != 0 (an sf_status value) and
 * error says why; rgb is NULL. width/height are the size actually rendered, steps the steps
 * actually run (never 0: a job's steps 0 resolved to its model's default), model_hash the
 * rendering model's content hash (16 hex digits, se_model_spec_hash; "" when the engine has no
 * model files, as the null engine). PNGs and manifest lines record steps and model_hash. */
#define SW_MODEL_HASH_LEN 16
typedef struct sw_image {
    int status;
    char error[256];
    uint8_t *rgb;
    int width, height;
    int steps;
    char model_hash[SW_MODEL_HASH_LEN + 1];
} sw_image;

typedef struct sw_engine sw_engine;

/* The vtable every engine implements. */
typedef struct sw_engine_ops {
    const char *kind; /* "null", "cpu", "cuda" */
    /* Render n jobs; fills out[0..n). Returns 0, or -1 when the whole batch failed (out[] then
     * carries the error of every job). */
    int (*render)(sw_engine *e, const sw_job *jobs, size_t n, sw_image *out);
    void (*destroy)(sw_engine *e);
    /* Optional (NULL: nothing to check): the start-up check of the models the worker will serve,
     * `only` (comma-separated, the worker's --models; "" = every model the engine has), without
     * loading them. Returns 0, or -1 with err naming the model, the file and the tensor. */
    int (*check)(sw_engine *e, const char *only, char *err, size_t errlen);
} sw_engine_ops;

/* Base of every engine object. */
struct sw_engine {
    const sw_engine_ops *ops;
    const char *version;    /* engine version text, reported at Register and in PNGs */
    const char *noise_mode; /* noise generator name (strike:noise_mode in PNGs) */
    int max_batch;          /* largest batch render() accepts */
    char device_name[256];  /* device it renders on, reported at Register: "cpu", or the GPU's
                               name (e.g. "NVIDIA H100 80GB HBM3") */
    uint64_t device_memory; /* that device's memory in bytes, 0 if unknown (cpu) */
};

/*
 * Create an engine by kind with "key=value,key=value" options (may be NULL or empty). gpu is the
 * CUDA device ordinal for kind "cuda" (--gpu; -1 = not given: the engine's default, device 0);
 * other kinds refuse gpu >= 0. Returns NULL with a message in err when the kind is unknown, not
 * built, there is no such CUDA device, or an option is bad.
 */
sw_engine *sw_engine_create(const char *kind, const char *options, int gpu, char *err, size_t errlen);
void sw_engine_destroy(sw_engine **e);

/* The null engine (engine_null.c). */
sw_engine *sw_engine_null_create(const char *options, char *err, size_t errlen);

#endif
