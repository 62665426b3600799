/*
 * strike/engine.h - public API of the Strike Lightning engine.
 *
 * The engine turns prompts into 8-bit RGB pixels with SDXL-Lightning. It stops at pixels: PNG
 * encoding belongs to the farm. Everything here is C11 and needs none of the farm's libraries.
 *
 * Conventions: functions return se_status; SE_OK is 0. On failure, se_last_error() returns a
 * message (thread-local) naming what was wrong: the file, the tensor, the op, expected and got.
 * Objects are created with *_new() and released with *_destroy(&p), which accepts NULL and sets
 * the caller's pointer to NULL.
 */
#ifndef STRIKE_ENGINE_H
#define STRIKE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The engine's one status enum. Append only; never renumber. se_strerror() covers every code
 * (built with -Werror=switch and no default: a code without a message fails the build). */
typedef enum se_status {
    SE_OK = 0,
    SE_ERR_NOMEM = 1,           /* an allocation failed (host or device) */
    SE_ERR_INVALID_ARG = 2,     /* a caller passed a bad argument (NULL, bad size, bad enum) */
    SE_ERR_IO = 3,              /* a file could not be opened, read or mapped */
    SE_ERR_FORMAT = 4,          /* a file is malformed (truncated, bad header, bad offsets) */
    SE_ERR_MISSING_TENSOR = 5,  /* a model file lacks a tensor the network needs */
    SE_ERR_SHAPE = 6,           /* a tensor has a shape other than the one expected */
    SE_ERR_DTYPE = 7,           /* a dtype is not supported here */
    SE_ERR_UNSUPPORTED = 8,     /* the backend or build does not support this operation */
    SE_ERR_NO_DEVICE = 9,       /* no CUDA device is present */
    SE_ERR_CUDA = 10,           /* a CUDA runtime call failed */
    SE_ERR_CUBLAS = 11,         /* a cuBLAS call failed */
    SE_ERR_CONFIG = 12,         /* a config.json (or model spec) is missing a key or has a bad value */
    SE_ERR_TOKENIZER = 13,      /* tokenizer files are missing or inconsistent */
    SE_ERR_INTERNAL = 14,       /* a broken invariant inside the engine (a bug) */
} se_status;

/* Static text for a status code. Never NULL. */
const char *se_strerror(se_status st);

/* Detail of the last failure on this thread ("" when none). Valid until the next failure. */
const char *se_last_error(void);

/* Engine version string, e.g. "0.1.0". */
const char *se_version(void);


/* ---------------------------------------------------------------------------------------------
 * Engine, models and rendering (docs/pipeline.md).
 *
 *   se_engine_params p; se_engine_params_init(&p);          // cpu, all cores
 *   se_engine *e; se_engine_new(&p, &e);
 *   se_model_desc d; se_model_desc_init(&d); d.base_dir = "/models/sdxl-lightning-4step";
 *   se_model *m; se_engine_load_model(e, &d, &m);          // kept loaded until unloaded
 *   se_job job; se_job_init(&job); job.prompt = "a cat"; job.seed = 42; job.rgb = buf;
 *   se_job_result r; se_engine_render(e, m, &job, 1, &r, NULL, NULL);
 *   // r.status per job; buf holds width*height*3 bytes of RGB
 *   se_engine_unload_model(e, &m); se_engine_destroy(&e);
 *
 * One engine = one backend (one device); calls on one engine must not overlap (not
 * thread-safe). Several engines may run on different threads.
 * ------------------------------------------------------------------------------------------- */

typedef enum se_backend_kind {
    SE_BACKEND_CPU = 0,
    SE_BACKEND_CUDA = 1,
} se_backend_kind;

/* Compute precision. AUTO: F32 on the CPU, BF16 on CUDA. */
typedef enum se_compute_dtype {
    SE_COMPUTE_AUTO = 0,
    SE_COMPUTE_F32 = 1,
    SE_COMPUTE_F16 = 2,
    SE_COMPUTE_BF16 = 3,
} se_compute_dtype;

typedef struct se_engine_params {
    se_backend_kind backend;     /* SE_BACKEND_CPU (default) */
    int threads;                 /* CPU threads; 0 = all cores (default) */
    int device;                  /* CUDA device ordinal (default 0) */
    se_compute_dtype dtype;      /* SE_COMPUTE_AUTO (default) */
    int max_batch;               /* most jobs run as one batch (default 4) */
    size_t embed_cache_entries;  /* prompt embedding cache per model (default 256 prompts) */
    size_t embed_cache_bytes;    /* and its byte limit (default 256 MiB) */
} se_engine_params;

void se_engine_params_init(se_engine_params *p);

typedef struct se_engine se_engine;
typedef struct se_model se_model;

se_status se_engine_new(const se_engine_params *p, se_engine **out);
/* Unloads every model still loaded, frees the backend. Accepts NULL. */
void se_engine_destroy(se_engine **e);
/* "cpu", "cuda" (the backend actually in use). */
const char *se_engine_backend_name(const se_engine *e);

/* What the model predicts (Lightning: epsilon, except the 1-step UNet: sample = x0). */
typedef enum se_model_prediction {
    SE_MODEL_PRED_AUTO = 0,      /* scheduler/scheduler_config.json's prediction_type, else epsilon */
    SE_MODEL_PRED_EPSILON = 1,
    SE_MODEL_PRED_SAMPLE = 2,
} se_model_prediction;

/* Where a model's parts come from. Every path is borrowed for the duration of the load call.
 * Each part comes from the most specific source given: unet_file over base_dir/unet/,
 * vae_dir over base_dir/vae/, checkpoint_file over base_dir (see docs/pipeline.md). */
typedef struct se_model_desc {
    const char *name;            /* shown in messages and PNGs ("sdxl-lightning-4step"); NULL: from the path */
    const char *base_dir;        /* a diffusers SDXL folder: unet/ text_encoder/ text_encoder_2/
                                    vae/ tokenizer/ tokenizer_2/ [scheduler/] */
    const char *unet_file;       /* optional: UNet weights (a Lightning UNet file) over base_dir/unet/config.json */
    const char *checkpoint_file; /* optional: a single-file SGM checkpoint (all networks) */
    const char *vae_dir;         /* optional: another diffusers vae/ folder */
    const char *lora_file;       /* optional: a LoRA merged at load time */
    float lora_strength;         /* its multiplier (default 1.0) */
    se_model_prediction prediction; /* default AUTO */
} se_model_desc;

void se_model_desc_init(se_model_desc *d);

/* Loads every part of the model onto the engine's backend. An incomplete or inconsistent model
 * fails with the missing or mismatched file/tensor named (se_last_error()). */
se_status se_engine_load_model(se_engine *e, const se_model_desc *d, se_model **out);
/* Frees a model (NULL allowed; sets *m to NULL). */
void se_engine_unload_model(se_engine *e, se_model **m);
/* The model's name (desc.name or the last component of its path). */
const char *se_model_name(const se_model *m);

/* Initial noise of a job (docs/sampler.md). */
typedef enum se_job_noise {
    SE_JOB_NOISE_CPU = 0,         /* torch CPU randn for the seed (diffusers CPU generator, ComfyUI) */
    SE_JOB_NOISE_PHILOX = 1,      /* A1111's philox model of torch CUDA randn */
    SE_JOB_NOISE_CPU_DEFAULT = 2, /* torch CPU randn, portable (non-AVX2) kernel */
} se_job_noise;
/* "cpu" / "philox" / "cpu-default"; parse returns SE_ERR_INVALID_ARG for anything else. */
const char *se_job_noise_name(se_job_noise n);
se_status se_job_noise_parse(const char *s, se_job_noise *out);

#define SE_MAX_IMAGE_SIDE 4096   /* pixels; sides must also be multiples of 8 * 2^(unet levels-1) */
#define SE_MAX_JOB_STEPS 1000

/* One image to render. */
typedef struct se_job {
    const char *prompt;          /* UTF-8, required */
    uint64_t seed;               /* noise seed */
    int steps;                   /* sampler steps, 1..SE_MAX_JOB_STEPS (default 4) */
    int width, height;           /* pixels (default 1024 x 1024) */
    se_job_noise noise;          /* default SE_JOB_NOISE_CPU */
    const float *start_latents;  /* optional unit noise [4, height/8, width/8] used instead of
                                    the seed's noise (scaled by the schedule like the noise) */
    uint8_t *rgb;                /* output: width*height*3 bytes, interleaved RGB, row-major */
} se_job;

void se_job_init(se_job *j);

/* What happened to one job. */
typedef struct se_job_result {
    se_status status;            /* SE_OK: rgb is filled */
    char error[256];             /* the message when status != SE_OK */
    char warning[256];           /* e.g. "prompt truncated: 12 tokens dropped"; "" when none */
} se_job_result;

/* Progress of a render call. */
typedef enum se_stage {
    SE_STAGE_TEXT = 0,           /* encoding prompts */
    SE_STAGE_DENOISE = 1,        /* after UNet step `step` of `steps` */
    SE_STAGE_DECODE = 2,         /* VAE decode of the batch */
    SE_STAGE_DONE = 3,           /* the batch's jobs are finished */
} se_stage;

typedef struct se_progress {
    se_stage stage;
    int step, steps;             /* SE_STAGE_DENOISE: steps done so far (1..steps) */
    size_t batch_first;          /* index of the batch's first job in the call's job array */
    size_t batch_size;           /* jobs in the batch now running */
    size_t jobs_done, jobs_total; /* over the whole call */
} se_progress;

typedef void (*se_progress_fn)(void *user, const se_progress *p);

/* Renders njobs jobs with model m. Jobs with the same steps and size run together in batches of
 * up to max_batch through every network; each job's noise is its own (its seed, its generator).
 * A job that is invalid (size, steps, prompt) or whose batch fails gets its own status in
 * results[i]; the others still render. Returns SE_OK when every job succeeded, otherwise the
 * first failing job's status (results[] say which). progress may be NULL. */
se_status se_engine_render(se_engine *e, se_model *m, const se_job *jobs, size_t njobs,
                           se_job_result *results, se_progress_fn progress, void *user);

/* Checks a model description without loading its weights: every file and folder is there, the
 * configs, the scheduler config and both tokenizers read, every safetensors header is valid and
 * every tensor each network needs is present with the shape its config implies (the loaders'
 * own tables, through the same sources se_engine_load_model uses: folder, UNet file, SGM
 * checkpoint, VAE folder; a LoRA's keys are matched too). Reads headers, configs and tokenizer
 * files, not the weights (networks mapped from an SGM checkpoint are checked through images
 * holding their header only: docs/models.md). SE_OK, or the failure with se_last_error() naming the model (d->name), the
 * file and the missing or mismatched tensor, as a load would. Needs no engine. */
se_status se_model_check(const se_model_desc *d);

/* The device an engine renders on. */
typedef struct se_device_info {
    char name[256];              /* "cpu", or the GPU's name ("NVIDIA H100 80GB HBM3") */
    uint64_t memory_bytes;       /* the device's memory; 0 for the CPU */
} se_device_info;

/* Fills *out for engine e (no device call beyond a property query). */
se_status se_engine_device_info(const se_engine *e, se_device_info *out);

/* ---------------------------------------------------------------------------------------------
 * Model specs: the named models of a models config file (JSON; format and a commented example:
 * docs/models.md "Model specs", deploy/models.example.json). What strike-worker and
 * strike-render need from it, over the engine's reader (engine/src/io/model_spec.c):
 *
 *   se_model_specs *ms; SE_TRY(se_model_specs_load("/etc/strike/models.json", &ms));
 *   const se_model_spec *m = se_model_specs_find(ms, "lightning-4step");   // NULL: no such
 *   int steps; SE_TRY(se_model_spec_check_steps(m, job_steps, &steps));   // 0 = its default
 *   char hash[SE_MODEL_HASH_LEN + 1]; SE_TRY(se_model_spec_hash(m, hash));
 *   se_model_desc d; se_model_desc_init(&d); se_model_spec_to_desc(m, &d); // then load or check
 *   se_model_specs_free(&ms);                          // d's strings point into ms until then
 * ------------------------------------------------------------------------------------------- */

#define SE_MODEL_HASH_LEN 16                 /* hex digits of a model's content hash */

typedef struct se_model_specs se_model_specs; /* a loaded models config */
typedef struct se_model_spec se_model_spec;   /* one model of it (owned by the se_model_specs) */

/* Reads and validates a models config file (at most 1 MB): unknown keys, bad values and
 * duplicate names are SE_ERR_CONFIG naming the file, the model and the key. */
se_status se_model_specs_load(const char *path, se_model_specs **out);
/* Frees the specs (NULL allowed; sets *ms to NULL). */
void se_model_specs_free(se_model_specs **ms);
/* The number of models, and model i (NULL when i is out of range), in the file's order. */
size_t se_model_specs_count(const se_model_specs *ms);
const se_model_spec *se_model_specs_at(const se_model_specs *ms, size_t i);
/* The model called name, or NULL. */
const se_model_spec *se_model_specs_find(const se_model_specs *ms, const char *name);
/* The model's name ([A-Za-z0-9._-], at most 63 characters). */
const char *se_model_spec_name(const se_model_spec *m);
/* A job's steps against the model: 0 takes its default_steps; a count it does not list is
 * SE_ERR_INVALID_ARG ("model M supports 4 steps only, the job asks for 8"). *resolved gets the
 * steps to render. */
se_status se_model_spec_check_steps(const se_model_spec *m, int steps, int *resolved);
/* Every file and folder the model names exists (SE_ERR_IO naming the key and the path). */
se_status se_model_spec_check_files(const se_model_spec *m);
/* The model's content hash (docs/models.md): SE_MODEL_HASH_LEN hex digits and a NUL. */
se_status se_model_spec_hash(const se_model_spec *m, char out[SE_MODEL_HASH_LEN + 1]);
/* Fills the description's name, base_dir, unet_file, checkpoint_file, vae_dir, lora_file,
 * lora_strength and prediction from the model (strings point into m). */
void se_model_spec_to_desc(const se_model_spec *m, se_model_desc *d);
/* The content hash of a model given by its files (a folder model: base_dir, unet_file,
 * checkpoint_file, vae_dir, lora_file at lora_strength, prediction; AUTO counts as epsilon):
 * the hash of a spec naming the same files, so a bare folder hashes the same in the worker and
 * strike-render. */
se_status se_model_desc_hash(const se_model_desc *d, char out[SE_MODEL_HASH_LEN + 1]);

/* Writes a random SDXL-architecture model folder in the diffusers layout into dir (images are
 * noise; for running the tools without real weights): preset "tiny" (~2 MB) or "sdxl" (the full
 * configuration in fp16, ~6 GB). seed selects the weights. Errors name the preset or the file. */
se_status se_model_make_random(const char *dir, const char *preset, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
