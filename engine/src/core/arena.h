/*
 * arena.h - activation memory: one backend buffer, bump allocation, marks to release scratch.
 *
 * Weights are loaded once into their own buffers; activations come from an arena, never from a
 * malloc per op. A forward pass takes a mark, allocates, and releases back to the mark:
 *
 *   size_t m = se_arena_mark(a);
 *   se_tensor tmp; SE_TRY(se_arena_tensor(a, SE_F32, 4, ne, "tmp", &tmp));
 *   ... use tmp ...
 *   se_arena_release(a, m);     // frees tmp and everything after it
 *
 * se_arena_peak() reports the high-water mark, so a planner can size the arena exactly.
 * Allocations are aligned to 256 bytes.
 */
#ifndef STRIKE_ENGINE_ARENA_H
#define STRIKE_ENGINE_ARENA_H

#include "core/backend.h"

typedef struct se_arena se_arena;

se_status se_arena_new(se_backend *be, size_t capacity, se_arena **out);
void se_arena_destroy(se_arena **a);
/* SE_ERR_NOMEM with a message giving capacity, used and asked when the arena is full. */
se_status se_arena_alloc(se_arena *a, size_t bytes, void **out);
se_status se_arena_tensor(se_arena *a, se_dtype dt, int ndim, const int64_t *ne, const char *name,
                          se_tensor *out);
size_t se_arena_mark(const se_arena *a);
void se_arena_release(se_arena *a, size_t mark);
void se_arena_reset(se_arena *a);
size_t se_arena_used(const se_arena *a);
size_t se_arena_peak(const se_arena *a);
size_t se_arena_capacity(const se_arena *a);

#endif
