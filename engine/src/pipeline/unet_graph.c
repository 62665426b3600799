/*
 * unet_graph.c - the UNet step as a CUDA graph for the pipeline: the LRU bookkeeping, the
 * entries (fixed-address step tensors + the instantiated graph) and the capture/replay state
 * machine with its eager fallback. See unet_graph.h.
 */
#include "pipeline/unet_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cuda/cuda_info.h"

/* ======================== LRU ======================== */

void se_graph_lru_init(se_graph_lru *l, int cap) {
    memset(l, 0, sizeof *l);
    l->cap = cap < 1 ? 1 : cap > SE_UNET_GRAPH_SLOTS ? SE_UNET_GRAPH_SLOTS : cap;
}

static int key_eq(const se_graph_key *a, const se_graph_key *b) {
    return a->model == b->model && a->unet == b->unet && a->B == b->B && a->h == b->h &&
           a->w == b->w;
}

void *se_graph_lru_get(se_graph_lru *l, const se_graph_key *k) {
    for (int i = 0; i < l->n; i++)
        if (key_eq(&l->slot[i].key, k)) {
            l->slot[i].last = ++l->tick;
            return l->slot[i].val;
        }
    return NULL;
}

void se_graph_lru_put(se_graph_lru *l, const se_graph_key *k, void *val, void **evicted) {
    *evicted = NULL;
    int at = l->n;
    if (l->n == l->cap) {
        at = 0;
        for (int i = 1; i < l->n; i++)
            if (l->slot[i].last < l->slot[at].last) at = i;
        *evicted = l->slot[at].val;
    } else {
        l->n++;
    }
    l->slot[at].key = *k;
    l->slot[at].val = val;
    l->slot[at].last = ++l->tick;
}

void se_graph_lru_drop(se_graph_lru *l, const void *model, void (*fn)(void *user, void *val),
                       void *user) {
    int j = 0;
    for (int i = 0; i < l->n; i++) {
        if (!model || l->slot[i].key.model == model) {
            if (fn) fn(user, l->slot[i].val);
        } else {
            l->slot[j++] = l->slot[i];
        }
    }
    l->n = j;
}

/* ======================== CUDA capture calls (the default ops) ======================== */

static se_status cuda_begin(void *user, se_backend *be, se_unet *u, const se_unet_graph_io *io) {
    (void)user, (void)u, (void)io;
    return se_cuda_capture_begin(be);
}

static se_status cuda_end(void *user, se_backend *be, void **graph) {
    (void)user;
    se_cuda_graph *g = NULL;
    se_status st = se_cuda_capture_end(be, &g);
    *graph = g;
    return st;
}

static se_status cuda_launch(void *user, se_backend *be, void *graph) {
    (void)user;
    return se_cuda_graph_launch(be, graph);
}

static void cuda_destroy(void *user, void *graph) {
    (void)user;
    se_cuda_graph *g = graph;
    se_cuda_graph_destroy(&g);
}

static const se_unet_graph_ops k_cuda_ops = {cuda_begin, cuda_end, cuda_launch, cuda_destroy, NULL};

/* ======================== entries and the cache ======================== */

#define NIO 6

struct se_unet_graph_entry {
    se_unet *u;
    se_graph_key key;
    se_unet_graph_io io;
    void *mem[NIO];         /* the io tensors' device memory */
    void *graph;            /* NULL until captured (or after it was dropped) */
    size_t arenas;          /* the UNet's reserved activation bytes when the graph was captured */
    int eager_only;         /* a graph failed for this entry: eager from now on */
};

struct se_unet_graphs {
    se_backend *be;
    se_unet_graph_ops ops;
    se_graph_lru lru;
    se_unet_graph_stats st;
    int warned;             /* the one warning of this engine was printed */
};

se_status se_unet_graph_env(int *on) {
    const char *v = getenv("STRIKE_CUDA_GRAPH");
    *on = 1;
    if (!v || !*v || strcmp(v, "1") == 0) return SE_OK;
    if (strcmp(v, "0") == 0) {
        *on = 0;
        return SE_OK;
    }
    return se_fail(SE_ERR_INVALID_ARG, "STRIKE_CUDA_GRAPH='%s': expected 0 (off) or 1 (on, the "
                   "default for the cuda backend)", v);
}

se_status se_unet_graphs_new(se_backend *be, const se_unet_graph_ops *ops, int cap,
                             se_unet_graphs **out) {
    *out = NULL;
    if (!be) return se_fail(SE_ERR_INVALID_ARG, "unet graphs: NULL backend");
    se_unet_graphs *g = calloc(1, sizeof *g);
    if (!g) return se_fail(SE_ERR_NOMEM, "unet graphs: no memory");
    g->be = be;
    g->ops = ops ? *ops : k_cuda_ops;
    se_graph_lru_init(&g->lru, cap);
    *out = g;
    return SE_OK;
}

/* Drops the entry's graph (the backend must be idle: callers sync first). */
static void drop_graph(se_unet_graphs *g, se_unet_graph_entry *en) {
    if (en->graph) g->ops.destroy(g->ops.user, en->graph);
    en->graph = NULL;
}

static void entry_free(se_unet_graphs *g, se_unet_graph_entry *en) {
    if (!en) return;
    drop_graph(g, en);
    for (int i = 0; i < NIO; i++)
        if (en->mem[i]) se_backend_free(g->be, en->mem[i]);
    free(en);
}

/* LRU callback: frees an entry. */
static void entry_free_cb(void *user, void *val) { entry_free(user, val); }

/* Waits for queued work (a replay may still be reading an entry about to be freed). A failure
 * here belongs to earlier work and is reported by the next sync of the pipeline. */
static void quiesce(se_unet_graphs *g) { (void)se_backend_sync(g->be); }

void se_unet_graphs_destroy(se_unet_graphs **pg) {
    if (!pg || !*pg) return;
    se_unet_graphs *g = *pg;
    quiesce(g);
    se_graph_lru_drop(&g->lru, NULL, entry_free_cb, g);
    free(g);
    *pg = NULL;
}

void se_unet_graphs_drop_model(se_unet_graphs *g, const void *model) {
    if (!g || !model) return;
    quiesce(g);
    se_graph_lru_drop(&g->lru, model, entry_free_cb, g);
    g->st.entries = g->lru.n;
}

static se_status entry_alloc(se_backend *be, se_unet_graph_entry *en, int k, se_dtype dt, int nd,
                             const int64_t *ne, const char *name, se_tensor *t) {
    *t = se_tensor_make(dt, nd, ne, NULL, name);
    SE_TRY(se_backend_alloc(be, se_tensor_nbytes(t), &en->mem[k]));
    t->data = en->mem[k];
    return SE_OK;
}

se_status se_unet_graphs_acquire(se_unet_graphs *g, const void *model, se_unet *u, int B, int h,
                                 int w, int64_t D, int64_t P, int C, int Cout, se_dtype act,
                                 se_unet_graph_entry **out, se_unet_graph_io **io) {
    *out = NULL;
    *io = NULL;
    se_graph_key key = {.model = model, .unet = u, .B = B, .h = h, .w = w};
    se_unet_graph_entry *en = se_graph_lru_get(&g->lru, &key);
    if (en) {
        *out = en;
        *io = &en->io;
        return SE_OK;
    }
    en = calloc(1, sizeof *en);
    if (!en) return se_fail(SE_ERR_NOMEM, "unet graphs: no memory for an entry");
    en->u = u;
    en->key = key;
    se_unet_graph_io *t = &en->io;
    se_status st = entry_alloc(g->be, en, 0, act, 4, (int64_t[]){B, C, h, w}, "sample", &t->sample);
    if (st == SE_OK) st = entry_alloc(g->be, en, 1, SE_F32, 1, (int64_t[]){B}, "timestep", &t->timestep);
    if (st == SE_OK) st = entry_alloc(g->be, en, 2, act, 3, (int64_t[]){B, 77, D}, "ctx", &t->ctx);
    if (st == SE_OK) st = entry_alloc(g->be, en, 3, act, 2, (int64_t[]){B, P}, "pooled", &t->pooled);
    if (st == SE_OK) st = entry_alloc(g->be, en, 4, SE_F32, 2, (int64_t[]){B, 6}, "time_ids", &t->time_ids);
    if (st == SE_OK) st = entry_alloc(g->be, en, 5, act, 4, (int64_t[]){B, Cout, h, w}, "unet.out", &t->out);
    if (st != SE_OK) {
        entry_free(g, en);
        return st;
    }
    void *evicted = NULL;
    se_graph_lru_put(&g->lru, &key, en, &evicted);
    if (evicted) {
        quiesce(g);
        entry_free(g, evicted);
        g->st.evictions++;
    }
    g->st.entries = g->lru.n;
    *out = en;
    *io = &en->io;
    return SE_OK;
}

/* The UNet's reserved activation bytes: they grow exactly when an arena is reallocated (arenas
 * are only ever replaced by larger ones), which moves addresses a graph has recorded. */
static size_t arena_bytes(const se_unet *u) {
    size_t reserved = 0, peak = 0;
    se_unet_activation_bytes(u, &reserved, &peak);
    return reserved;
}

static se_status eager(se_unet_graphs *g, se_unet_graph_entry *en) {
    se_unet_graph_io *t = &en->io;
    g->st.eager++;
    return se_unet_forward(en->u, &t->sample, &t->timestep, &t->ctx, &t->pooled, &t->time_ids,
                           &t->out);
}

/* A graph failure: this entry runs eagerly from now on; the first one per engine is printed. */
static void give_up(se_unet_graphs *g, se_unet_graph_entry *en, const char *what, const char *why) {
    drop_graph(g, en);
    en->eager_only = 1;
    g->st.fallbacks++;
    snprintf(g->st.last_error, sizeof g->st.last_error, "%s: %s", what, why);
    if (!g->warned) {
        g->warned = 1;
        fprintf(stderr, "strike engine: warning: CUDA graph of the UNet step (batch %d, latent "
                "%dx%d) failed, running that step eagerly (STRIKE_CUDA_GRAPH=0 turns graphs off): "
                "%s\n", en->key.B, en->key.h, en->key.w, g->st.last_error);
    }
}

/* Records one forward on the entry's tensors into a graph (nothing runs). The arenas must
 * already fit (an eager forward of the same shapes ran just before). */
static void capture(se_unet_graphs *g, se_unet_graph_entry *en) {
    char why[256];
    const size_t before = arena_bytes(en->u);
    se_status st = g->ops.begin(g->ops.user, g->be, en->u, &en->io);
    if (st != SE_OK) {
        snprintf(why, sizeof why, "%s", se_last_error());
        give_up(g, en, "capture begin", why);
        return;
    }
    se_unet_graph_io *t = &en->io;
    se_status fst = se_unet_forward(en->u, &t->sample, &t->timestep, &t->ctx, &t->pooled,
                                    &t->time_ids, &t->out);
    if (fst != SE_OK) snprintf(why, sizeof why, "%s", se_last_error());
    void *graph = NULL;
    st = g->ops.end(g->ops.user, g->be, &graph);   /* always end the capture */
    if (fst != SE_OK) {
        if (graph) g->ops.destroy(g->ops.user, graph);
        give_up(g, en, "forward under capture", why);
        return;
    }
    if (st != SE_OK) {
        snprintf(why, sizeof why, "%s", se_last_error());
        give_up(g, en, "capture end", why);
        return;
    }
    if (arena_bytes(en->u) != before) {
        /* Cannot happen (the eager run sized the arenas); if it did, the graph would point at
         * memory it owns itself. */
        g->ops.destroy(g->ops.user, graph);
        give_up(g, en, "capture", "the UNet reallocated its activation arenas while capturing");
        return;
    }
    en->graph = graph;
    en->arenas = before;
    g->st.captures++;
}

se_status se_unet_graphs_step(se_unet_graphs *g, se_unet_graph_entry *en) {
    if (en->eager_only) return eager(g, en);
    if (en->graph && arena_bytes(en->u) != en->arenas) {
        /* Another shape grew the UNet's arenas since the capture: the recorded addresses are
         * stale. No replay is queued on them any more (the arenas were freed in stream order
         * after it), so the graph can go. */
        quiesce(g);
        drop_graph(g, en);
        g->st.recaptures++;
    }
    if (en->graph) {
        se_status st = g->ops.launch(g->ops.user, g->be, en->graph);
        if (st == SE_OK) {
            g->st.replays++;
            return SE_OK;
        }
        char why[256];
        snprintf(why, sizeof why, "%s", se_last_error());
        give_up(g, en, "launch", why);
        return eager(g, en);
    }
    /* First use: the eager forward is this step's result and sizes the arenas; then capture. */
    SE_TRY(eager(g, en));
    capture(g, en);
    return SE_OK;
}

void se_unet_graphs_stats(const se_unet_graphs *g, se_unet_graph_stats *s) {
    if (!g) {
        memset(s, 0, sizeof *s);
        return;
    }
    *s = g->st;
    s->entries = g->lru.n;
}
