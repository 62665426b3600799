/*
 * test_clip_cache.c - the bounded LRU embedding cache (text/embed_cache.h): hits and misses,
 * LRU order under the entry limit and the byte limit, replacement, oversize values, stats.
 */
#include <string.h>

#include "test_util.h"
#include "text/embed_cache.h"

static int get_val(se_embed_cache *c, const char *key, float *v) {
    return se_embed_cache_get(c, key, strlen(key), v, 4 * sizeof(float));
}

static void put_val(se_embed_cache *c, const char *key, float x) {
    float v[4] = {x, x + 1, x + 2, x + 3};
    CHECK(se_embed_cache_put(c, key, strlen(key), v, sizeof v) == SE_OK);
}

int main(void) {
    se_embed_cache *c = NULL;
    CHECK(se_embed_cache_new(0, 100, &c) == SE_ERR_INVALID_ARG && c == NULL);
    CHECK(se_embed_cache_new(3, 1 << 20, &c) == SE_OK && c);
    if (!c) return test_report("engine_clip_cache");
    float v[4];
    CHECK(!get_val(c, "a cat", v));
    put_val(c, "a cat", 1);
    put_val(c, "a dog", 10);
    put_val(c, "a fox", 20);
    CHECK(get_val(c, "a cat", v) && v[0] == 1 && v[3] == 4);   /* cat is now most recent */
    put_val(c, "an owl", 30);                                 /* evicts the LRU: dog */
    CHECK(!get_val(c, "a dog", v));
    CHECK(get_val(c, "a fox", v) && v[0] == 20);
    CHECK(get_val(c, "an owl", v) && v[1] == 31);
    CHECK(get_val(c, "a cat", v) && v[0] == 1);
    /* Size mismatch is a miss, not a partial copy. */
    float big[8];
    CHECK(!se_embed_cache_get(c, "a cat", 5, big, sizeof big));
    /* Keys are bytes: a prefix or a differently cased prompt is another key. */
    CHECK(!get_val(c, "a ca", v) && !get_val(c, "A cat", v));
    /* Replacing keeps one entry. */
    put_val(c, "a cat", 100);
    CHECK(get_val(c, "a cat", v) && v[0] == 100);
    se_embed_cache_stats s = se_embed_cache_get_stats(c);
    CHECK(s.entries == 3 && s.evictions == 1 && s.hits == 5 && s.misses >= 5);
    CHECK(s.bytes == strlen("a cat") + strlen("a fox") + strlen("an owl") + 3 * sizeof v);
    se_embed_cache_destroy(&c);
    CHECK(c == NULL);
    se_embed_cache_destroy(&c);

    /* Byte limit: 3 entries of 5 + 16 bytes fit in 64, a fourth evicts the oldest. */
    CHECK(se_embed_cache_new(100, 64, &c) == SE_OK);
    if (c) {
        put_val(c, "key01", 1);
        put_val(c, "key02", 2);
        put_val(c, "key03", 3);
        CHECK(se_embed_cache_get_stats(c).entries == 3);
        put_val(c, "key04", 4);
        CHECK(!get_val(c, "key01", v) && get_val(c, "key04", v) && v[0] == 4);
        CHECK(se_embed_cache_get_stats(c).bytes <= 64);
        /* A value over the byte limit is not cached (and evicts nothing). */
        float huge[32] = {0};
        CHECK(se_embed_cache_put(c, "huge", 4, huge, sizeof huge) == SE_OK);
        CHECK(!se_embed_cache_get(c, "huge", 4, huge, sizeof huge));
        CHECK(se_embed_cache_get_stats(c).entries == 3);
        /* Many prompts: the cache never holds more than its limits. */
        for (int i = 0; i < 1000; i++) {
            char k[16];
            snprintf(k, sizeof k, "p%04d", i);
            put_val(c, k, (float)i);
        }
        se_embed_cache_stats st = se_embed_cache_get_stats(c);
        CHECK(st.entries == 3 && st.bytes <= 64);
        CHECK(get_val(c, "p0999", v) && v[0] == 999.0f);
        se_embed_cache_clear(c);
        CHECK(se_embed_cache_get_stats(c).entries == 0 && !get_val(c, "p0999", v));
        se_embed_cache_destroy(&c);
    }
    return test_report("engine_clip_cache");
}
