/*
 * embed_cache.c - bounded LRU cache of embeddings (see embed_cache.h): a chained hash table over
 * the keys plus a doubly linked recency list; each entry is one allocation holding key and value.
 */
#include "text/embed_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct entry {
    struct entry *hnext;          /* hash chain */
    struct entry *prev, *next;    /* recency list: head = most recent */
    uint64_t hash;
    size_t key_len, value_len;
    unsigned char data[];         /* key bytes, then value bytes */
} entry;

struct se_embed_cache {
    entry **buckets;
    size_t nbuckets;              /* power of two */
    entry *head, *tail;
    size_t max_entries, max_bytes;
    size_t entries, bytes;
    uint64_t hits, misses, evictions;
};

static uint64_t hash_key(const void *key, size_t n) {
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

se_status se_embed_cache_new(size_t max_entries, size_t max_bytes, se_embed_cache **out) {
    if (!out || max_entries == 0 || max_bytes == 0)
        return se_fail(SE_ERR_INVALID_ARG, "embed cache: need max_entries >= 1 and max_bytes >= 1");
    *out = NULL;
    se_embed_cache *c = calloc(1, sizeof *c);
    if (!c) return se_fail(SE_ERR_NOMEM, "embed cache: no memory");
    c->nbuckets = 16;
    while (c->nbuckets < max_entries && c->nbuckets < (1u << 20)) c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        size_t nb = c->nbuckets;
        free(c);
        return se_fail(SE_ERR_NOMEM, "embed cache: no memory for %zu buckets", nb);
    }
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    *out = c;
    return SE_OK;
}

static void list_unlink(se_embed_cache *c, entry *e) {
    if (e->prev) e->prev->next = e->next; else c->head = e->next;
    if (e->next) e->next->prev = e->prev; else c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(se_embed_cache *c, entry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

/* Finds key; *link receives the chain pointer that points at the entry (for removal). */
static entry *find(se_embed_cache *c, const void *key, size_t key_len, uint64_t h, entry ***link) {
    entry **l = &c->buckets[h & (c->nbuckets - 1)];
    for (; *l; l = &(*l)->hnext) {
        entry *e = *l;
        if (e->hash == h && e->key_len == key_len && memcmp(e->data, key, key_len) == 0) {
            if (link) *link = l;
            return e;
        }
    }
    return NULL;
}

/* Unlinks and frees e (chain link given). */
static void remove_entry(se_embed_cache *c, entry *e, entry **link) {
    *link = e->hnext;
    list_unlink(c, e);
    c->entries--;
    c->bytes -= e->key_len + e->value_len;
    free(e);
}

static void evict_lru(se_embed_cache *c) {
    entry *e = c->tail;
    entry **link = NULL;
    find(c, e->data, e->key_len, e->hash, &link);
    remove_entry(c, e, link);
    c->evictions++;
}

int se_embed_cache_get(se_embed_cache *c, const void *key, size_t key_len, void *value,
                       size_t value_bytes) {
    if (!c || (!key && key_len)) return 0;
    entry *e = find(c, key, key_len, hash_key(key, key_len), NULL);
    if (!e || e->value_len != value_bytes) {
        c->misses++;
        return 0;
    }
    if (value_bytes) memcpy(value, e->data + e->key_len, value_bytes);
    list_unlink(c, e);
    list_push_front(c, e);
    c->hits++;
    return 1;
}

se_status se_embed_cache_put(se_embed_cache *c, const void *key, size_t key_len, const void *value,
                             size_t value_bytes) {
    if (!c || (!key && key_len) || (!value && value_bytes))
        return se_fail(SE_ERR_INVALID_ARG, "embed cache: put: NULL argument");
    uint64_t h = hash_key(key, key_len);
    entry **link = NULL;
    entry *old = find(c, key, key_len, h, &link);
    if (old) remove_entry(c, old, link);
    size_t need = key_len + value_bytes;
    if (need > c->max_bytes || need < key_len) return SE_OK; /* too big to cache: not an error */
    entry *e = malloc(sizeof *e + need);
    if (!e) return se_fail(SE_ERR_NOMEM, "embed cache: no memory for a %zu-byte entry", need);
    while (c->entries && (c->entries + 1 > c->max_entries || c->bytes + need > c->max_bytes)) evict_lru(c);
    e->hash = h;
    e->key_len = key_len;
    e->value_len = value_bytes;
    if (key_len) memcpy(e->data, key, key_len);
    if (value_bytes) memcpy(e->data + key_len, value, value_bytes);
    entry **b = &c->buckets[h & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    list_push_front(c, e);
    c->entries++;
    c->bytes += need;
    return SE_OK;
}

void se_embed_cache_clear(se_embed_cache *c) {
    if (!c) return;
    for (entry *e = c->head; e;) {
        entry *n = e->next;
        free(e);
        e = n;
    }
    memset(c->buckets, 0, c->nbuckets * sizeof *c->buckets);
    c->head = c->tail = NULL;
    c->entries = c->bytes = 0;
}

void se_embed_cache_destroy(se_embed_cache **c) {
    if (!c || !*c) return;
    se_embed_cache_clear(*c);
    free((*c)->buckets);
    free(*c);
    *c = NULL;
}

se_embed_cache_stats se_embed_cache_get_stats(const se_embed_cache *c) {
    se_embed_cache_stats s = {0, 0, 0, 0, 0};
    if (!c) return s;
    s.hits = c->hits;
    s.misses = c->misses;
    s.evictions = c->evictions;
    s.entries = c->entries;
    s.bytes = c->bytes;
    return s;
}
