/*
 * render.c - the Lightning pipeline: jobs in, 8-bit RGB out (se_engine_render, strike/engine.h).
 *
 * Per batch of jobs sharing steps and size (sdxl-lightning.md sections 1-3, diffusers'
 * StableDiffusionXLPipeline with guidance_scale 0):
 *   1. text: both tokenizers, prompt-embedding cache per model, both encoders on the misses as
 *      one batch -> ctx [B,77,D1+D2] (hidden_states[-2] of each, concatenated), pooled [B,P2];
 *   2. time_ids [H,W,0,0,H,W] per job (original size, crop, target size);
 *   3. noise per job from its own generator (or its given start latents), x = noise * sigma_max;
 *   4. Euler on trailing timesteps, the UNet run at batch B each step (no CFG); on the cuda
 *      backend the step is a CUDA graph replayed from the engine's cache (unet_graph.h), whose
 *      entry also owns the step's tensors (ctx, pooled, time_ids, sample, timestep, out);
 *   5. VAE decode of x / scaling_factor at batch B, diffusers' 8-bit rounding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/clip_sdxl.h"
#include "pipeline/engine_internal.h"
#include "sample/euler.h"
#include "sample/noise.h"

#define TOK_LEN 77

/* Per-job state while a call runs. */
typedef struct job_state {
    int32_t ids1[TOK_LEN], ids2[TOK_LEN];
    int valid;       /* passed validation, not yet rendered */
} job_state;

/* One batch in flight. */
typedef struct batch {
    se_engine *e;
    se_model *m;
    const se_job *jobs;
    job_state *js;
    size_t *idx;        /* job indices of the batch */
    int B, H, W, h, w, steps;
    size_t njobs_total, jobs_done, first;
    se_tensor ctx, pooled, time_ids, sample, timestep, out;
    void *mem_ctx, *mem_pooled, *mem_time, *mem_sample, *mem_t, *mem_out;   /* NULL with graph */
    se_unet_graph_entry *graph;   /* the step's graph entry (its tensors above), or NULL */
    void *host_act;     /* act-dtype staging buffer (n elements) when act != F32 */
    se_progress_fn progress;
    void *user;
} batch;

static void report(batch *b, se_stage stage, int step) {
    if (!b->progress) return;
    se_progress p = {.stage = stage, .step = step, .steps = b->steps, .batch_first = b->first,
                     .batch_size = (size_t)b->B, .jobs_done = b->jobs_done,
                     .jobs_total = b->njobs_total};
    b->progress(b->user, &p);
}

static void set_result(se_job_result *r, se_status st, const char *msg) {
    r->status = st;
    snprintf(r->error, sizeof r->error, "%s", st == SE_OK ? "" : msg);
}

/* Checks a job against the model; tokenises its prompt. On failure returns the status with
 * se_last_error() naming the problem. */
static se_status validate(se_model *m, const se_job *j, job_state *s, se_job_result *r) {
    if (!j->prompt) return se_fail(SE_ERR_INVALID_ARG, "job: no prompt");
    if (!j->rgb) return se_fail(SE_ERR_INVALID_ARG, "job: no output buffer (rgb)");
    if (j->steps < 1 || j->steps > SE_MAX_JOB_STEPS)
        return se_fail(SE_ERR_INVALID_ARG, "job: steps %d outside 1..%d", j->steps, SE_MAX_JOB_STEPS);
    const int mult = se_model_size_multiple(m);
    if (j->width < mult || j->height < mult || j->width > SE_MAX_IMAGE_SIDE ||
        j->height > SE_MAX_IMAGE_SIDE || j->width % mult || j->height % mult)
        return se_fail(SE_ERR_INVALID_ARG, "job: size %dx%d: width and height must be multiples "
                       "of %d between %d and %d for model %s", j->width, j->height, mult, mult,
                       SE_MAX_IMAGE_SIDE, m->name);
    if (j->noise != SE_JOB_NOISE_CPU && j->noise != SE_JOB_NOISE_PHILOX &&
        j->noise != SE_JOB_NOISE_CPU_DEFAULT)
        return se_fail(SE_ERR_INVALID_ARG, "job: unknown noise mode %d", (int)j->noise);
    se_tok_info i1, i2;
    size_t len = strlen(j->prompt);
    SE_TRY(se_tokenizer_encode(m->tok1, j->prompt, len, TOK_LEN, s->ids1, &i1));
    SE_TRY(se_tokenizer_encode(m->tok2, j->prompt, len, TOK_LEN, s->ids2, &i2));
    int trunc = i1.n_truncated > i2.n_truncated ? i1.n_truncated : i2.n_truncated;
    if (trunc > 0)
        snprintf(r->warning, sizeof r->warning, "prompt truncated: %d tokens dropped (77-token "
                 "limit)", trunc);
    return SE_OK;
}

static se_status alloc_tensor(se_backend *be, se_dtype dt, int nd, const int64_t *ne,
                              const char *name, void **mem, se_tensor *t) {
    size_t n = se_dtype_size(dt);
    for (int i = 0; i < nd; i++) n *= (size_t)ne[i];
    SE_TRY(se_backend_alloc(be, n, mem));
    *t = se_tensor_make(dt, nd, ne, *mem, name);
    return SE_OK;
}

/* Uploads n host floats into t (converted to t's dtype through the staging buffer). */
static se_status upload_f32(batch *b, se_tensor *t, const float *x, size_t n) {
    if (t->dtype == SE_F32) return se_tensor_set_data(b->m->be, t, x, n * sizeof(float));
    se_convert_host(t->dtype, b->host_act, SE_F32, x, n);
    return se_tensor_set_data(b->m->be, t, b->host_act, n * se_dtype_size(t->dtype));
}

static se_status download_f32(batch *b, const se_tensor *t, float *x, size_t n) {
    if (t->dtype == SE_F32) return se_tensor_get_data(b->m->be, t, x, n * sizeof(float));
    SE_TRY(se_tensor_get_data(b->m->be, t, b->host_act, n * se_dtype_size(t->dtype)));
    se_convert_host(SE_F32, x, t->dtype, b->host_act, n);
    return SE_OK;
}

/* ctx/pooled rows for every job of the batch: cached rows are copied in, the misses are encoded
 * together (one encoder batch) and cached. Cache key: clip_skip + prompt bytes. */
/* The text cache key of a prompt: clip_skip then the prompt bytes (malloc'd, *len its size);
 * NULL (reported) without memory. */
static char *cache_key(const se_model *m, const char *prompt, size_t *len) {
    size_t plen = strlen(prompt);
    char *key = malloc(sizeof(int) + plen + 1);
    if (!key) {
        se_fail(SE_ERR_NOMEM, "pipeline: no memory for a cache key");
        return NULL;
    }
    memcpy(key, &m->clip_skip, sizeof(int));
    memcpy(key + sizeof(int), prompt, plen);
    *len = sizeof(int) + plen;
    return key;
}

static se_status encode_text(batch *b) {
    se_model *m = b->m;
    se_backend *be = m->be;
    const size_t crow = se_tensor_nbytes(&b->ctx) / (size_t)b->B;
    const size_t prow = se_tensor_nbytes(&b->pooled) / (size_t)b->B;
    const int64_t D = b->ctx.ne[2], P = b->pooled.ne[1];
    char *row = malloc(crow + prow);
    int *miss = malloc(sizeof(int) * (size_t)b->B);
    int32_t *ids1 = malloc(sizeof(int32_t) * TOK_LEN * (size_t)b->B);
    int32_t *ids2 = malloc(sizeof(int32_t) * TOK_LEN * (size_t)b->B);
    char *host = NULL;
    void *mc = NULL, *mp = NULL;
    se_status st = (row && miss && ids1 && ids2) ? SE_OK
                                                 : se_fail(SE_ERR_NOMEM, "pipeline: no memory for text");
    int nmiss = 0;
    for (int i = 0; st == SE_OK && i < b->B; i++) {
        int hit = 0;
        if (m->cache) {
            size_t klen;
            char *key = cache_key(m, b->jobs[b->idx[i]].prompt, &klen);
            if (!key) {
                st = SE_ERR_NOMEM;
                break;
            }
            hit = se_embed_cache_get(m->cache, key, klen, row, crow + prow);
            free(key);
        }
        if (hit) {
            st = se_backend_set(be, (char *)b->ctx.data + (size_t)i * crow, row, crow);
            if (st == SE_OK) st = se_backend_set(be, (char *)b->pooled.data + (size_t)i * prow, row + crow, prow);
        } else {
            memcpy(ids1 + (size_t)nmiss * TOK_LEN, b->js[b->idx[i]].ids1, sizeof(int32_t) * TOK_LEN);
            memcpy(ids2 + (size_t)nmiss * TOK_LEN, b->js[b->idx[i]].ids2, sizeof(int32_t) * TOK_LEN);
            miss[nmiss++] = i;
        }
    }
    if (st == SE_OK && nmiss > 0) {
        se_dtype dt = b->ctx.dtype;
        se_tensor c, p;
        st = alloc_tensor(be, dt, 3, (int64_t[]){nmiss, TOK_LEN, D}, "text.ctx", &mc, &c);
        if (st == SE_OK) st = alloc_tensor(be, dt, 2, (int64_t[]){nmiss, P}, "text.pooled", &mp, &p);
        if (st == SE_OK)
            st = se_sdxl_encode_ids(m->enc1, m->enc2, ids1, ids2, nmiss, TOK_LEN, m->clip_skip, &c, &p);
        if (st == SE_OK) {
            host = malloc((crow + prow) * (size_t)nmiss);
            if (!host) st = se_fail(SE_ERR_NOMEM, "pipeline: no memory for text rows");
        }
        if (st == SE_OK) st = se_backend_get(be, host, c.data, crow * (size_t)nmiss);
        if (st == SE_OK)
            st = se_backend_get(be, host + crow * (size_t)nmiss, p.data, prow * (size_t)nmiss);
        for (int k = 0; st == SE_OK && k < nmiss; k++) {
            int i = miss[k];
            const char *crow_h = host + (size_t)k * crow;
            const char *prow_h = host + crow * (size_t)nmiss + (size_t)k * prow;
            st = se_backend_set(be, (char *)b->ctx.data + (size_t)i * crow, crow_h, crow);
            if (st == SE_OK)
                st = se_backend_set(be, (char *)b->pooled.data + (size_t)i * prow, prow_h, prow);
            if (st == SE_OK && m->cache) {
                size_t klen;
                char *key = cache_key(m, b->jobs[b->idx[i]].prompt, &klen);
                if (!key) {
                    st = SE_ERR_NOMEM;
                    break;
                }
                memcpy(row, crow_h, crow);
                memcpy(row + crow, prow_h, prow);
                st = se_embed_cache_put(m->cache, key, klen, row, crow + prow);
                free(key);
            }
        }
    }
    if (mc) se_backend_free(be, mc);
    if (mp) se_backend_free(be, mp);
    free(host);
    free(row);
    free(miss);
    free(ids1);
    free(ids2);
    return st;
}

/* The sampler's model callback: the UNet at batch B on x_in, output back to the host. */
static se_status unet_step(void *user, int step, float timestep, const float *x_in, float *out,
                           size_t n) {
    batch *b = user;
    SE_TRY(upload_f32(b, &b->sample, x_in, n));
    float ts[64];
    for (int i = 0; i < b->B; i++) ts[i] = timestep;
    SE_TRY(se_tensor_set_data(b->m->be, &b->timestep, ts, sizeof(float) * (size_t)b->B));
    if (b->graph)
        SE_TRY(se_unet_graphs_step(b->e->graphs, b->graph));
    else
        SE_TRY(se_unet_forward(b->m->unet, &b->sample, &b->timestep, &b->ctx, &b->pooled,
                               &b->time_ids, &b->out));
    SE_TRY(download_f32(b, &b->out, out, n));
    report(b, SE_STAGE_DENOISE, step + 1);
    return SE_OK;
}

/* Takes the step's tensors from the engine's graph cache entry for this batch's shape (so the
 * graph's fixed addresses are the ones the pipeline fills). When no entry can be made (no
 * memory), the batch runs eagerly on its own tensors, as with graphs off. */
static void use_graph(batch *b, int C, int64_t D, int64_t P) {
    se_unet_graph_io *io = NULL;
    if (se_unet_graphs_acquire(b->e->graphs, b->m, b->m->unet, b->B, b->h, b->w, D, P, C, C,
                               b->m->be->act_dtype, &b->graph, &io) != SE_OK) {
        b->graph = NULL;
        return;
    }
    b->ctx = io->ctx;
    b->pooled = io->pooled;
    b->time_ids = io->time_ids;
    b->timestep = io->timestep;
    b->sample = io->sample;
    b->out = io->out;
}

/* Runs one batch (all jobs valid, same steps and size); fills each job's rgb. */
static se_status run_batch(batch *b) {
    se_model *m = b->m;
    se_backend *be = m->be;
    const se_dtype act = be->act_dtype;
    const int up = se_vae_upscale(m->vae);
    const int C = se_unet_get_config(m->unet)->in_channels;
    b->h = b->H / up;
    b->w = b->W / up;
    const size_t n1 = (size_t)C * (size_t)b->h * (size_t)b->w, n = n1 * (size_t)b->B;
    const int64_t D = se_unet_get_config(m->unet)->cross_attention_dim;
    const int64_t P = se_clip_pooled_dim(m->enc2);

    se_schedule *s = malloc(sizeof *s);
    float *x = malloc(n * sizeof(float)), *scratch = malloc(2 * n * sizeof(float));
    uint8_t *rgb = malloc(n1 / (size_t)C * 3 * (size_t)(up * up) * (size_t)b->B);
    b->host_act = act == SE_F32 ? NULL : malloc(n * se_dtype_size(act) + 64 * 6 * 4);
    se_status st = (s && x && scratch && rgb && (act == SE_F32 || b->host_act))
                       ? SE_OK : se_fail(SE_ERR_NOMEM, "pipeline: no memory for a batch of %d", b->B);
    if (st == SE_OK) st = se_schedule_trailing(&m->sched, b->steps, s);
    report(b, SE_STAGE_TEXT, 0);
    if (st == SE_OK && b->e->graphs) use_graph(b, C, D, P);
    if (!b->graph) {
        if (st == SE_OK) st = alloc_tensor(be, act, 3, (int64_t[]){b->B, TOK_LEN, D}, "ctx", &b->mem_ctx, &b->ctx);
        if (st == SE_OK) st = alloc_tensor(be, act, 2, (int64_t[]){b->B, P}, "pooled", &b->mem_pooled, &b->pooled);
        if (st == SE_OK) st = alloc_tensor(be, SE_F32, 2, (int64_t[]){b->B, 6}, "time_ids", &b->mem_time, &b->time_ids);
        if (st == SE_OK) st = alloc_tensor(be, SE_F32, 1, (int64_t[]){b->B}, "timestep", &b->mem_t, &b->timestep);
        if (st == SE_OK) st = alloc_tensor(be, act, 4, (int64_t[]){b->B, C, b->h, b->w}, "sample", &b->mem_sample, &b->sample);
        if (st == SE_OK) st = alloc_tensor(be, act, 4, (int64_t[]){b->B, C, b->h, b->w}, "unet.out", &b->mem_out, &b->out);
    }
    if (st == SE_OK) st = encode_text(b);
    if (st == SE_OK) {
        float tid[64 * 6];
        for (int i = 0; i < b->B; i++) {
            float *r = tid + 6 * i;
            r[0] = (float)b->H; r[1] = (float)b->W; r[2] = 0; r[3] = 0;
            r[4] = (float)b->H; r[5] = (float)b->W;
        }
        st = se_tensor_set_data(be, &b->time_ids, tid, sizeof(float) * 6 * (size_t)b->B);
    }
    /* each job's own noise: its generator, its seed (never depends on the batch) */
    for (int i = 0; st == SE_OK && i < b->B; i++) {
        const se_job *j = &b->jobs[b->idx[i]];
        if (j->start_latents) {
            memcpy(x + (size_t)i * n1, j->start_latents, n1 * sizeof(float));
        } else {
            se_noise_mode mode = j->noise == SE_JOB_NOISE_PHILOX ? SE_NOISE_PHILOX
                                 : j->noise == SE_JOB_NOISE_CPU_DEFAULT ? SE_NOISE_CPU_DEFAULT
                                                                        : SE_NOISE_CPU;
            st = se_noise_fill(mode, j->seed, x + (size_t)i * n1, n1);
        }
    }
    if (st == SE_OK) st = se_euler_sample(s, m->pred, x, n, scratch, unet_step, b);
    if (st == SE_OK) {
        report(b, SE_STAGE_DECODE, b->steps);
        st = se_vae_decode_host(m->vae, x, b->B, b->h, b->w, NULL, rgb);
    }
    if (st == SE_OK) {
        const size_t img = (size_t)b->H * (size_t)b->W * 3;
        for (int i = 0; i < b->B; i++) memcpy(b->jobs[b->idx[i]].rgb, rgb + (size_t)i * img, img);
    }
    void **mems[] = {&b->mem_ctx, &b->mem_pooled, &b->mem_time, &b->mem_t, &b->mem_sample, &b->mem_out};
    for (size_t k = 0; k < sizeof mems / sizeof mems[0]; k++) {
        if (*mems[k]) se_backend_free(be, *mems[k]);
        *mems[k] = NULL;
    }
    free(b->host_act);
    b->host_act = NULL;
    free(s);
    free(x);
    free(scratch);
    free(rgb);
    return st;
}

se_status se_engine_render(se_engine *e, se_model *m, const se_job *jobs, size_t njobs,
                           se_job_result *results, se_progress_fn progress, void *user) {
    if (!e || !m || (!jobs && njobs) || (!results && njobs))
        return se_fail(SE_ERR_INVALID_ARG, "render: NULL argument");
    if (m->be != e->be) return se_fail(SE_ERR_INVALID_ARG, "render: model %s belongs to another engine", m->name);
    if (njobs == 0) return SE_OK;
    job_state *js = calloc(njobs, sizeof *js);
    size_t *idx = malloc(sizeof(size_t) * (size_t)e->p.max_batch);
    if (!js || !idx) {
        free(js);
        free(idx);
        return se_fail(SE_ERR_NOMEM, "render: no memory for %zu jobs", njobs);
    }
    se_status first_bad = SE_OK;
    for (size_t i = 0; i < njobs; i++) {
        memset(&results[i], 0, sizeof results[i]);
        se_status st = validate(m, &jobs[i], &js[i], &results[i]);
        set_result(&results[i], st, se_last_error());
        js[i].valid = st == SE_OK;
        if (st != SE_OK && first_bad == SE_OK) first_bad = st;
    }
    size_t done = 0;
    for (size_t i = 0; i < njobs; i++) done += !js[i].valid;
    for (size_t i = 0; i < njobs; i++) {
        if (!js[i].valid) continue; /* invalid, or already rendered in an earlier batch */
        /* gather the batch: this job and later pending jobs with the same steps and size */
        batch b = {.e = e, .m = m, .jobs = jobs, .js = js, .idx = idx, .B = 0,
                   .H = jobs[i].height, .W = jobs[i].width, .steps = jobs[i].steps,
                   .njobs_total = njobs, .jobs_done = done, .first = i,
                   .progress = progress, .user = user};
        for (size_t k = i; k < njobs && b.B < e->p.max_batch; k++) {
            if (!js[k].valid || jobs[k].steps != b.steps || jobs[k].width != b.W ||
                jobs[k].height != b.H)
                continue;
            idx[b.B++] = k;
            js[k].valid = 0;
        }
        se_status st = run_batch(&b);
        for (int k = 0; k < b.B; k++) set_result(&results[idx[k]], st, se_last_error());
        if (st != SE_OK && first_bad == SE_OK) first_bad = st;
        done += (size_t)b.B;
        b.jobs_done = done;
        report(&b, SE_STAGE_DONE, b.steps);
    }
    free(js);
    free(idx);
    return first_bad;
}
