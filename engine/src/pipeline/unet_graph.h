/*
 * unet_graph.h - the pipeline's UNet step as a CUDA graph, captured once per (model, batch,
 * latent size) and replayed every denoising step (render.c calls it; docs/pipeline.md).
 *
 * An entry of the cache owns the step's six tensors at fixed device addresses (sample,
 * timestep, ctx, pooled, time_ids, out); render.c writes a batch's inputs into them (text and
 * time ids once per batch, the latents and timesteps before each step, plain copies outside the
 * graph) and reads the output from them. The first step of a new entry runs the UNet eagerly
 * (its output is that step's result, and it sizes the UNet's activation arenas), then captures
 * one forward; later steps replay the graph. The graph records the arenas' addresses, so an
 * entry whose UNet has since grown its arenas (a larger batch or image ran in between) is
 * captured again. Anything that goes wrong with capture or replay makes that entry run eagerly
 * from then on, with one warning per engine on stderr: the graph never fails a job.
 *
 * The cache is an LRU of at most SE_UNET_GRAPH_SLOTS entries per engine; entries of a model are
 * dropped when it is unloaded, and all with the engine. The capture/replay calls go through
 * se_unet_graph_ops (the CUDA backend's se_cuda_capture_* by default), so the bookkeeping and the
 * state machine are tested on the CPU with stand-in calls (tests/engine/test_unet_graph.c).
 */
#ifndef STRIKE_PIPELINE_UNET_GRAPH_H
#define STRIKE_PIPELINE_UNET_GRAPH_H

#include <stdint.h>

#include "core/backend.h"
#include "model/unet.h"

#define SE_UNET_GRAPH_SLOTS 4

/* ---- the LRU's bookkeeping (plain C, no backend) ---- */

typedef struct se_graph_key {
    const void *model;      /* the se_model */
    const void *unet;       /* its UNet */
    int B, h, w;            /* batch and latent size */
} se_graph_key;

typedef struct se_graph_lru {
    int cap, n;
    uint64_t tick;
    struct {
        se_graph_key key;
        uint64_t last;      /* tick of the last get/put */
        void *val;
    } slot[SE_UNET_GRAPH_SLOTS];
} se_graph_lru;

/* cap is clamped to 1..SE_UNET_GRAPH_SLOTS. */
void se_graph_lru_init(se_graph_lru *l, int cap);
/* The value under k (and marks it most recently used), or NULL. */
void *se_graph_lru_get(se_graph_lru *l, const se_graph_key *k);
/* Adds k -> val (k must not be present). When full, the least recently used entry is removed
 * first and its value returned in *evicted (else *evicted = NULL). */
void se_graph_lru_put(se_graph_lru *l, const se_graph_key *k, void *val, void **evicted);
/* Removes every entry of model (all entries when model is NULL), calling fn(user, val) on each. */
void se_graph_lru_drop(se_graph_lru *l, const void *model, void (*fn)(void *user, void *val),
                       void *user);

/* ---- capture and replay calls (the CUDA backend's by default) ---- */

typedef struct se_unet_graph_io se_unet_graph_io;

typedef struct se_unet_graph_ops {
    /* Starts recording the backend's work; u and io say what will be run (the CUDA calls do not
     * need them; the tests' stand-ins replay by running it). */
    se_status (*begin)(void *user, se_backend *be, se_unet *u, const se_unet_graph_io *io);
    /* Ends the capture begun by begin (also after a failed forward) and returns the
     * instantiated graph in *graph (NULL on failure). */
    se_status (*end)(void *user, se_backend *be, void **graph);
    se_status (*launch)(void *user, se_backend *be, void *graph);
    void (*destroy)(void *user, void *graph);
    void *user;
} se_unet_graph_ops;

/* ---- the cache ---- */

typedef struct se_unet_graphs se_unet_graphs;

/* The step's tensors of one entry (device memory owned by the cache). */
struct se_unet_graph_io {
    se_tensor sample, timestep, ctx, pooled, time_ids, out;
};

typedef struct se_unet_graph_entry se_unet_graph_entry;

typedef struct se_unet_graph_stats {
    unsigned long long captures;    /* graphs instantiated */
    unsigned long long replays;     /* steps run by a graph launch */
    unsigned long long eager;       /* steps run eagerly (warm-up steps and fallbacks) */
    unsigned long long recaptures;  /* graphs dropped because the UNet's arenas moved */
    unsigned long long evictions;   /* entries evicted by the LRU */
    unsigned long long fallbacks;   /* entries switched to eager after a graph failure */
    int entries;                    /* entries held now */
    char last_error[256];           /* the last graph failure ("" when none) */
} se_unet_graph_stats;

/* STRIKE_CUDA_GRAPH: unset or "" or "1" -> 1, "0" -> 0, anything else SE_ERR_INVALID_ARG. */
se_status se_unet_graph_env(int *on);

/* A cache for backend be with at most cap entries (clamped to 1..SE_UNET_GRAPH_SLOTS); ops NULL
 * uses the CUDA backend's capture calls (cuda_info.h). */
se_status se_unet_graphs_new(se_backend *be, const se_unet_graph_ops *ops, int cap,
                             se_unet_graphs **out);
/* Frees every entry (waits for the backend first). Accepts NULL; sets *g to NULL. */
void se_unet_graphs_destroy(se_unet_graphs **g);
/* Drops the entries of model (before the model is freed). g may be NULL. */
void se_unet_graphs_drop_model(se_unet_graphs *g, const void *model);

/* The entry for (model, u, B, h, w), created (its tensors allocated in act dtype, D = ctx width,
 * P = pooled width, C / Cout = UNet in / out channels) when missing, evicting the least recently
 * used one when full. *io points at its tensors until the next acquire or drop. */
se_status se_unet_graphs_acquire(se_unet_graphs *g, const void *model, se_unet *u, int B, int h,
                                 int w, int64_t D, int64_t P, int C, int Cout, se_dtype act,
                                 se_unet_graph_entry **out, se_unet_graph_io **io);
/* One UNet forward on the entry's tensors: replay, or eager + capture (first use), or eager
 * (after a failure). Errors only when the eager forward itself fails. */
se_status se_unet_graphs_step(se_unet_graphs *g, se_unet_graph_entry *en);

void se_unet_graphs_stats(const se_unet_graphs *g, se_unet_graph_stats *s);

#endif
