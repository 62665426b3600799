/*
 * test_cuda_wcache.c - the CUDA backend's conv weight cache bookkeeping (engine/src/cuda/wcache.h,
 * plain C), without a GPU: host buffers stand in for device allocations, and the sequence of
 * calls is the one backend_cuda.c / conv.cu make (track on alloc, find/insert per conv, drop on
 * set / op dst overlap / free, deferral during a graph capture). ctest engine_cuda_wcache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/wcache.h"
#include "test_util.h"

typedef struct dropper {
    int capturing;
    se_wcache *c;
    int freed;          /* packed copies freed */
    void *last;
} dropper;

static void drop_cb(void *user, void *packed) {
    dropper *d = user;
    if (d->capturing) {
        CHECK(se_wcache_defer(d->c, packed));
        return;
    }
    d->freed++;
    d->last = packed;
    free(packed);
}

static void free_cb(void *user, void *packed) {
    dropper *d = user;
    d->freed++;
    free(packed);
}

static se_wcache_key key_for(const void *w, int64_t cout, int64_t cin, int s) {
    se_wcache_key k;
    memset(&k, 0, sizeof k);
    k.w = w, k.dt = 1, k.cout = cout, k.cin = cin, k.kh = 3, k.kw = 3, k.s = s;
    return k;
}

/* conv.cu's pattern: find, else "pack" into a new buffer and insert (or free it). */
static void *conv_call(se_wcache *c, dropper *d, const se_wcache_key *k, int *packed_now) {
    void *p = se_wcache_find(c, k);
    *packed_now = 0;
    if (p) return p;
    size_t bytes = (size_t)(k->cout * k->cin * k->kh * k->kw) * 2;
    p = malloc(bytes);
    memset(p, 0x5a, bytes);
    *packed_now = 1;
    if (!se_wcache_insert(c, k, bytes, p, bytes)) {
        free_cb(d, p);
        return NULL;
    }
    return p;
}

int main(void) {
    se_wcache c;
    dropper d = {0};
    d.c = &c;
    se_wcache_init(&c, 1 << 20);
    CHECK(c.enabled);

    /* A weight block with two conv weights in it (as se_weights allocates one block). */
    const size_t wb = 4096;
    char *block = malloc(wb);
    se_wcache_track(&c, block, wb, drop_cb, &d);
    se_wcache_key k1 = key_for(block, 8, 8, 1), k2 = key_for(block + 2048, 8, 8, 1);
    int packed;
    void *p1 = conv_call(&c, &d, &k1, &packed);
    CHECK(p1 && packed && c.n == 1);
    CHECK(conv_call(&c, &d, &k1, &packed) == p1 && !packed);          /* hit */
    void *p2 = conv_call(&c, &d, &k2, &packed);
    CHECK(p2 && packed && p2 != p1 && c.n == 2 && c.total == 2 * 8 * 8 * 9 * 2);
    /* Same address, other stride or shape: a different entry. */
    se_wcache_key k1s2 = key_for(block, 8, 8, 2);
    void *p3 = conv_call(&c, &d, &k1s2, &packed);
    CHECK(p3 && packed && p3 != p1 && c.n == 3);
    CHECK(c.hits == 1 && c.misses == 3);

    /* A host upload into the second weight drops only the entries on it. */
    CHECK(se_wcache_invalidate(&c, block + 2048 + 100, 8, drop_cb, &d) == 1);
    CHECK(c.n == 2 && d.freed == 1 && d.last == p2);
    CHECK(conv_call(&c, &d, &k2, &packed) != NULL && packed);        /* re-packed */
    /* A write that ends exactly where a weight starts does not touch it. */
    CHECK(se_wcache_invalidate(&c, block + 2048 - 16, 16, drop_cb, &d) == 0);
    /* An unrelated write (an activation) drops nothing. */
    char act[64];
    CHECK(se_wcache_invalidate(&c, act, sizeof act, drop_cb, &d) == 0);

    /* Freeing the weight block drops everything in it; a new block at the same address (as a
     * pool may hand out) is a miss, not a stale hit. */
    int before = d.freed;
    se_wcache_untrack(&c, block, drop_cb, &d);
    CHECK(c.n == 0 && c.total == 0 && d.freed == before + 3 && c.na == 0);
    se_wcache_track(&c, block, wb, drop_cb, &d);
    CHECK(conv_call(&c, &d, &k1, &packed) != NULL && packed);

    /* A free the table does not know clears the cache (safe side). */
    char other[16];
    se_wcache_untrack(&c, other, drop_cb, &d);
    CHECK(c.n == 0 && c.na == 1);

    /* During a capture, drops are deferred, then flushed. */
    CHECK(conv_call(&c, &d, &k1, &packed) != NULL && packed);
    d.capturing = 1;
    before = d.freed;
    CHECK(se_wcache_invalidate(&c, block, 1, drop_cb, &d) == 1);
    CHECK(d.freed == before && c.np == 1 && c.n == 0);
    d.capturing = 0;
    se_wcache_flush(&c, free_cb, &d);
    CHECK(d.freed == before + 1 && c.np == 0);

    /* The limit: a copy that does not fit is not kept (the caller frees it as scratch). */
    se_wcache small;
    dropper ds = {0};
    ds.c = &small;
    se_wcache_init(&small, 8 * 8 * 9 * 2 + 10);
    se_wcache_track(&small, block, wb, drop_cb, &ds);
    CHECK(conv_call(&small, &ds, &k1, &packed) != NULL);
    CHECK(conv_call(&small, &ds, &k2, &packed) == NULL && ds.freed == 1 && small.n == 1);
    se_wcache_clear(&small, free_cb, &ds);
    se_wcache_destroy(&small);

    /* Disabled (limit 0): never finds, never keeps, tracks nothing. */
    se_wcache off;
    se_wcache_init(&off, 0);
    CHECK(!off.enabled);
    se_wcache_track(&off, block, wb, drop_cb, &d);
    CHECK(off.na == 0 && se_wcache_find(&off, &k1) == NULL && !se_wcache_fits(&off, 1));
    se_wcache_destroy(&off);

    se_wcache_untrack(&c, block, drop_cb, &d);
    se_wcache_clear(&c, free_cb, &d);
    se_wcache_destroy(&c);
    free(block);
    return test_report("engine_cuda_wcache");
}
