/*
 * engine.c - the public engine object (strike/engine.h): parameters, backend creation, the list
 * of loaded models, the UNet step graph cache (cuda backend, unet_graph.h), and the small public
 * enum helpers. Rendering itself is in render.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cpu.h"
#include "core/backend_cuda.h"
#include "core/error.h"
#include "pipeline/engine_internal.h"

void se_engine_params_init(se_engine_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->backend = SE_BACKEND_CPU;
    p->threads = 0;
    p->device = 0;
    p->dtype = SE_COMPUTE_AUTO;
    p->max_batch = 4;
    p->embed_cache_entries = 256;
    p->embed_cache_bytes = (size_t)256 << 20;
}

se_status se_engine_new(const se_engine_params *p, se_engine **out) {
    if (!out) return se_fail(SE_ERR_INVALID_ARG, "engine: NULL output");
    *out = NULL;
    se_engine_params def;
    if (!p) {
        se_engine_params_init(&def);
        p = &def;
    }
    if (p->threads < 0 || p->threads > 4096)
        return se_fail(SE_ERR_INVALID_ARG, "engine: threads %d outside 0..4096", p->threads);
    if (p->max_batch < 1 || p->max_batch > 64)
        return se_fail(SE_ERR_INVALID_ARG, "engine: max_batch %d outside 1..64", p->max_batch);
    int graphs = 0;   /* CUDA graphs for the UNet step: cuda backend only, STRIKE_CUDA_GRAPH */
    if (p->backend == SE_BACKEND_CUDA) SE_TRY(se_unet_graph_env(&graphs));
    se_engine *e = calloc(1, sizeof *e);
    if (!e) return se_fail(SE_ERR_NOMEM, "engine: no memory");
    e->p = *p;
    se_status st;
    switch (p->backend) {
    case SE_BACKEND_CPU: {
        if (p->dtype != SE_COMPUTE_AUTO && p->dtype != SE_COMPUTE_F32) {
            free(e);
            return se_fail(SE_ERR_UNSUPPORTED, "engine: the CPU backend computes in F32 only");
        }
        se_cpu_params cp;
        se_cpu_params_init(&cp);
        cp.threads = p->threads;
        st = se_backend_cpu_new(&cp, &e->be);
        break;
    }
    case SE_BACKEND_CUDA: {
        se_cuda_params cp;
        se_cuda_params_init(&cp);
        cp.device = p->device;
        if (p->dtype == SE_COMPUTE_F32) cp.compute_dtype = SE_F32;
        else if (p->dtype == SE_COMPUTE_F16) cp.compute_dtype = SE_F16;
        else if (p->dtype == SE_COMPUTE_BF16) cp.compute_dtype = SE_BF16;
        st = se_backend_cuda_new(&cp, &e->be);
        break;
    }
    default:
        st = se_fail(SE_ERR_INVALID_ARG, "engine: unknown backend %d", (int)p->backend);
        break;
    }
    if (st != SE_OK) {
        free(e);
        return st;
    }
    if (graphs) {
        st = se_unet_graphs_new(e->be, NULL, SE_UNET_GRAPH_SLOTS, &e->graphs);
        if (st != SE_OK) {
            se_backend_destroy(&e->be);
            free(e);
            return st;
        }
    }
    *out = e;
    return SE_OK;
}

void se_engine_destroy(se_engine **pe) {
    if (!pe || !*pe) return;
    se_engine *e = *pe;
    se_unet_graphs_destroy(&e->graphs);   /* before the models whose memory the graphs use */
    while (e->models) {
        se_model *m = e->models;
        e->models = m->next;
        se_model_free(&m);
    }
    se_backend_destroy(&e->be);
    free(e);
    *pe = NULL;
}

const char *se_engine_backend_name(const se_engine *e) {
    return e && e->be ? se_backend_name(e->be) : "none";
}

se_status se_engine_load_model(se_engine *e, const se_model_desc *d, se_model **out) {
    if (!e || !d || !out) return se_fail(SE_ERR_INVALID_ARG, "engine: NULL argument to load_model");
    SE_TRY(se_model_load(d, e->be, e->p.embed_cache_entries, e->p.embed_cache_bytes, out));
    (*out)->next = e->models;
    e->models = *out;
    return SE_OK;
}

void se_engine_unload_model(se_engine *e, se_model **pm) {
    if (!e || !pm || !*pm) return;
    se_unet_graphs_drop_model(e->graphs, *pm);
    for (se_model **pp = &e->models; *pp; pp = &(*pp)->next) {
        if (*pp == *pm) {
            *pp = (*pm)->next;
            break;
        }
    }
    se_model_free(pm);
}

const char *se_model_name(const se_model *m) { return m ? m->name : ""; }

const char *se_job_noise_name(se_job_noise n) {
    switch (n) {
    case SE_JOB_NOISE_CPU: return "cpu";
    case SE_JOB_NOISE_PHILOX: return "philox";
    case SE_JOB_NOISE_CPU_DEFAULT: return "cpu-default";
    }
    return "unknown";
}

se_status se_job_noise_parse(const char *s, se_job_noise *out) {
    if (!s || !out) return se_fail(SE_ERR_INVALID_ARG, "noise: NULL argument");
    if (strcmp(s, "cpu") == 0) *out = SE_JOB_NOISE_CPU;
    else if (strcmp(s, "philox") == 0) *out = SE_JOB_NOISE_PHILOX;
    else if (strcmp(s, "cpu-default") == 0) *out = SE_JOB_NOISE_CPU_DEFAULT;
    else return se_fail(SE_ERR_INVALID_ARG, "noise mode \"%s\": expected cpu, philox or cpu-default", s);
    return SE_OK;
}

void se_job_init(se_job *j) {
    if (!j) return;
    memset(j, 0, sizeof *j);
    j->steps = 4;
    j->width = 1024;
    j->height = 1024;
    j->noise = SE_JOB_NOISE_CPU;
}
