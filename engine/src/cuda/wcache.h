/*
 * wcache.h - the bookkeeping of the CUDA backend's conv weight cache, in plain C (no CUDA), so
 * tests/engine/test_cuda_wcache.c checks it on machines without a GPU.
 *
 * conv.cu rearranges a 3x3 (or any kh x kw, stride s) weight into the GEMM layout
 * [group (ky, px)][Cout][shift][Cin] once and keeps it here, keyed by the weight's address,
 * dtype, shape and stride, instead of once per call. A cached copy must never outlive or
 * disagree with its source, so:
 *   - every backend allocation is tracked (address, size) while the cache is enabled, and
 *     freeing an allocation drops the entries whose weight lies in it (a later allocation at the
 *     same address is a different tensor);
 *   - a host upload (set) or an op whose destination overlaps a cached weight drops the entry;
 *   - anything the bookkeeping cannot follow (an untracked free, no memory for the tables)
 *     clears the whole cache and disables it.
 * Entries are freed through a caller-supplied callback (the backend frees device memory in
 * stream order, or defers it while a CUDA graph is being captured).
 */
#ifndef STRIKE_ENGINE_CUDA_WCACHE_H
#define STRIKE_ENGINE_CUDA_WCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct se_wcache_key {
    const void *w;                  /* the source weight tensor's data */
    int dt;                         /* its se_dtype */
    int64_t cout, cin, kh, kw;
    int s;                          /* stride (the grouping depends on it) */
} se_wcache_key;

typedef struct se_wcache_entry {
    se_wcache_key key;
    size_t wbytes;                  /* bytes of the source weight (for overlap tests) */
    void *packed;                   /* the rearranged copy (device memory) */
    size_t bytes;
} se_wcache_entry;

typedef struct se_wcache_alloc {
    void *p;
    size_t bytes;
} se_wcache_alloc;

typedef void (*se_wcache_drop_fn)(void *user, void *packed);

typedef struct se_wcache {
    int enabled;
    size_t limit;                   /* most bytes of packed copies */
    size_t total;                   /* bytes held now */
    se_wcache_entry *e;
    size_t n, cap;
    se_wcache_alloc *a;             /* live backend allocations */
    size_t na, acap;
    void **pending;                 /* packed copies whose free is deferred (graph capture) */
    size_t np, pcap;
    uint64_t hits, misses;
} se_wcache;

static inline void se_wcache_init(se_wcache *c, size_t limit) {
    c->enabled = limit > 0;
    c->limit = limit;
    c->total = 0;
    c->e = NULL, c->n = c->cap = 0;
    c->a = NULL, c->na = c->acap = 0;
    c->pending = NULL, c->np = c->pcap = 0;
    c->hits = c->misses = 0;
}

static inline int se_wcache_key_eq(const se_wcache_key *x, const se_wcache_key *y) {
    return x->w == y->w && x->dt == y->dt && x->cout == y->cout && x->cin == y->cin &&
           x->kh == y->kh && x->kw == y->kw && x->s == y->s;
}

/* The packed copy for key, or NULL. Counts hits and misses. */
static inline void *se_wcache_find(se_wcache *c, const se_wcache_key *k) {
    if (!c->enabled) return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (se_wcache_key_eq(&c->e[i].key, k)) {
            c->hits++;
            return c->e[i].packed;
        }
    c->misses++;
    return NULL;
}

/* Would a copy of `bytes` more fit under the limit? */
static inline int se_wcache_fits(const se_wcache *c, size_t bytes) {
    return c->enabled && bytes <= c->limit && c->total <= c->limit - bytes;
}

/* Drops every entry (freeing each through drop); allocations stay tracked. */
static inline void se_wcache_clear(se_wcache *c, se_wcache_drop_fn drop, void *user) {
    for (size_t i = 0; i < c->n; i++) drop(user, c->e[i].packed);
    c->n = 0;
    c->total = 0;
}

/* Clears and disables (bookkeeping lost track). */
static inline void se_wcache_disable(se_wcache *c, se_wcache_drop_fn drop, void *user) {
    se_wcache_clear(c, drop, user);
    c->enabled = 0;
    free(c->a);
    c->a = NULL, c->na = c->acap = 0;
}

/* Adds an entry; returns 1, or 0 when it does not fit or the table cannot grow (the caller then
 * still owns packed). */
static inline int se_wcache_insert(se_wcache *c, const se_wcache_key *k, size_t wbytes, void *packed,
                                   size_t bytes) {
    if (!se_wcache_fits(c, bytes)) return 0;
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 64;
        se_wcache_entry *ne = (se_wcache_entry *)realloc(c->e, nc * sizeof *ne);
        if (!ne) return 0;
        c->e = ne;
        c->cap = nc;
    }
    se_wcache_entry *e = &c->e[c->n++];
    e->key = *k;
    e->wbytes = wbytes;
    e->packed = packed;
    e->bytes = bytes;
    c->total += bytes;
    return 1;
}

/* Drops the entries whose source weight overlaps [lo, lo + len); returns how many. */
static inline size_t se_wcache_invalidate(se_wcache *c, const void *lo, size_t len,
                                          se_wcache_drop_fn drop, void *user) {
    if (c->n == 0 || len == 0) return 0;
    const uintptr_t a0 = (uintptr_t)lo, a1 = a0 + len;
    size_t dropped = 0;
    for (size_t i = 0; i < c->n;) {
        const uintptr_t w0 = (uintptr_t)c->e[i].key.w, w1 = w0 + c->e[i].wbytes;
        if (w0 < a1 && a0 < w1) {
            drop(user, c->e[i].packed);
            c->total -= c->e[i].bytes;
            c->e[i] = c->e[--c->n];
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

/* Records a live allocation (only while enabled). Out of memory for the table disables the
 * cache (clearing it), since frees could no longer be followed. */
static inline void se_wcache_track(se_wcache *c, void *p, size_t bytes, se_wcache_drop_fn drop, void *user) {
    if (!c->enabled || !p) return;
    if (c->na == c->acap) {
        size_t nc = c->acap ? 2 * c->acap : 256;
        se_wcache_alloc *na = (se_wcache_alloc *)realloc(c->a, nc * sizeof *na);
        if (!na) {
            se_wcache_disable(c, drop, user);
            return;
        }
        c->a = na;
        c->acap = nc;
    }
    c->a[c->na].p = p;
    c->a[c->na].bytes = bytes;
    c->na++;
}

/* An allocation is being freed: forget it and drop the entries whose weight lay in it. A free
 * of an allocation the table does not know (made before the cache was enabled, or lost) clears
 * the cache when it holds anything. */
static inline void se_wcache_untrack(se_wcache *c, void *p, se_wcache_drop_fn drop, void *user) {
    if (!c->enabled || !p) return;
    for (size_t i = c->na; i-- > 0;)
        if (c->a[i].p == p) {
            se_wcache_invalidate(c, p, c->a[i].bytes, drop, user);
            c->a[i] = c->a[--c->na];
            return;
        }
    if (c->n) se_wcache_clear(c, drop, user);
}

/* Deferred frees (while a CUDA graph is captured): remember packed; se_wcache_flush hands them
 * to free_fn later. Returns 0 when the list cannot grow (the caller must then leak or free). */
static inline int se_wcache_defer(se_wcache *c, void *packed) {
    if (c->np == c->pcap) {
        size_t nc = c->pcap ? 2 * c->pcap : 16;
        void **np = (void **)realloc(c->pending, nc * sizeof *np);
        if (!np) return 0;
        c->pending = np;
        c->pcap = nc;
    }
    c->pending[c->np++] = packed;
    return 1;
}

static inline void se_wcache_flush(se_wcache *c, se_wcache_drop_fn free_fn, void *user) {
    for (size_t i = 0; i < c->np; i++) free_fn(user, c->pending[i]);
    c->np = 0;
}

/* Frees the tables (entries must have been cleared and pending flushed first). */
static inline void se_wcache_destroy(se_wcache *c) {
    free(c->e);
    free(c->a);
    free(c->pending);
    se_wcache_init(c, 0);
}

#endif
