/*
 * arena.c - activation memory: one backend buffer handed out by bumping an offset.
 */
#include "core/arena.h"

#include <stdlib.h>

#include "core/error.h"

#define SE_ARENA_ALIGN 256

struct se_arena {
    se_backend *be;     /* owner of the buffer */
    char *base;         /* backend memory, capacity bytes */
    size_t capacity;    /* bytes */
    size_t used;        /* bytes handed out (offset of the next allocation, aligned) */
    size_t peak;        /* high-water mark of used */
};

se_status se_arena_new(se_backend *be, size_t capacity, se_arena **out) {
    if (!be || !out) return se_fail(SE_ERR_INVALID_ARG, "se_arena_new: NULL backend or out");
    *out = NULL;
    se_arena *a = calloc(1, sizeof *a);
    if (!a) return se_fail(SE_ERR_NOMEM, "se_arena_new: no memory for the arena header");
    a->be = be;
    capacity = (capacity + SE_ARENA_ALIGN - 1) / SE_ARENA_ALIGN * SE_ARENA_ALIGN;
    if (capacity) {
        void *p = NULL;
        se_status st = se_backend_alloc(be, capacity, &p);
        if (st != SE_OK) {
            free(a);
            return st;
        }
        a->base = p;
    }
    a->capacity = capacity;
    *out = a;
    return SE_OK;
}

void se_arena_destroy(se_arena **a) {
    if (!a || !*a) return;
    se_backend_free((*a)->be, (*a)->base);
    free(*a);
    *a = NULL;
}

se_status se_arena_alloc(se_arena *a, size_t bytes, void **out) {
    if (!a || !out) return se_fail(SE_ERR_INVALID_ARG, "se_arena_alloc: NULL arena or out");
    size_t need = (bytes + SE_ARENA_ALIGN - 1) / SE_ARENA_ALIGN * SE_ARENA_ALIGN;
    if (need < bytes || need > a->capacity - a->used) {
        *out = NULL;
        return se_fail(SE_ERR_NOMEM, "arena full: capacity %zu bytes, used %zu, asked %zu",
                       a->capacity, a->used, bytes);
    }
    *out = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return SE_OK;
}

se_status se_arena_tensor(se_arena *a, se_dtype dt, int ndim, const int64_t *ne, const char *name,
                          se_tensor *out) {
    if (ndim < 0 || ndim > SE_MAX_DIMS || (unsigned)dt >= SE_DTYPE_COUNT)
        return se_fail(SE_ERR_INVALID_ARG, "se_arena_tensor '%s': bad ndim %d or dtype %d",
                       name ? name : "", ndim, (int)dt);
    for (int i = 0; i < ndim; i++)
        if (ne[i] < 0)
            return se_fail(SE_ERR_SHAPE, "se_arena_tensor '%s': negative extent %lld in dim %d",
                           name ? name : "", (long long)ne[i], i);
    *out = se_tensor_make(dt, ndim, ne, NULL, name);
    void *p = NULL;
    se_status st = se_arena_alloc(a, se_tensor_nbytes(out), &p);
    if (st != SE_OK) {
        char s[64];
        return se_fail(st, "arena full allocating tensor '%s' %s: capacity %zu bytes, used %zu, asked %zu",
                       out->name, se_tensor_shape_str(out, s, sizeof s), a->capacity, a->used,
                       se_tensor_nbytes(out));
    }
    out->data = p;
    return SE_OK;
}

size_t se_arena_mark(const se_arena *a) { return a->used; }

void se_arena_release(se_arena *a, size_t mark) {
    SE_ASSERT(mark <= a->used);
    a->used = mark;
}

void se_arena_reset(se_arena *a) { a->used = 0; }
size_t se_arena_used(const se_arena *a) { return a->used; }
size_t se_arena_peak(const se_arena *a) { return a->peak; }
size_t se_arena_capacity(const se_arena *a) { return a->capacity; }
