/*
 * embed_cache.h - a bounded LRU cache of text embeddings keyed by prompt text, so a submission
 * that repeats one prompt with many seeds runs the text encoders once.
 *
 *   se_embed_cache *c; SE_TRY(se_embed_cache_new(256, 512u << 20, &c));  // entries, bytes
 *   if (!se_embed_cache_get(c, key, key_len, buf, buf_bytes)) {
 *       ... run the encoders into buf ...
 *       se_embed_cache_put(c, key, key_len, buf, buf_bytes);
 *   }
 *   se_embed_cache_destroy(&c);
 *
 * Keys are arbitrary bytes: callers put everything that changes the embedding in the key (the
 * prompt text, and e.g. the model id when one cache serves several models). Values are copied in
 * and out (host memory). When a put would pass either limit, least recently used entries are
 * evicted; a value larger than the byte limit is simply not cached. Not thread-safe: one cache per
 * engine thread, or lock around it.
 */
#ifndef STRIKE_TEXT_EMBED_CACHE_H
#define STRIKE_TEXT_EMBED_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "strike/engine.h"

typedef struct se_embed_cache se_embed_cache;

/* Counters since creation. */
typedef struct se_embed_cache_stats {
    uint64_t hits, misses, evictions;
    size_t entries, bytes; /* now (bytes = keys + values) */
} se_embed_cache_stats;

/* max_entries >= 1, max_bytes >= 1 (keys + values). */
se_status se_embed_cache_new(size_t max_entries, size_t max_bytes, se_embed_cache **out);
void se_embed_cache_destroy(se_embed_cache **c);

/* On a hit whose value is exactly value_bytes long, copies it into value, marks the entry most
 * recently used and returns 1; otherwise returns 0 (a size mismatch counts as a miss). */
int se_embed_cache_get(se_embed_cache *c, const void *key, size_t key_len, void *value,
                       size_t value_bytes);

/* Stores (a copy of) value under key, replacing an older value, evicting LRU entries to stay
 * within the limits. SE_ERR_NOMEM when a copy cannot be made (the cache stays consistent). */
se_status se_embed_cache_put(se_embed_cache *c, const void *key, size_t key_len, const void *value,
                             size_t value_bytes);

void se_embed_cache_clear(se_embed_cache *c);
se_embed_cache_stats se_embed_cache_get_stats(const se_embed_cache *c);

#endif
