/*
 * test_clip_reference.c - the CLIP text encoders against transformers 5.23.0 on tiny random
 * models of both SDXL kinds (tests/fixtures/clip, made by tests/reference/make_clip_fixtures.py),
 * on the CPU backend in both modes (naive loops and the tuned path), fp32:
 *   hidden_states[-2] (and [-3] for clip_skip 1), pooled outputs under both pooling rules, and
 *   SDXL's conditioning (concat of both penultimate states, pooled of encoder 2), each within
 *   relative error 1e-4 (max |got - want| / max |want|);
 * then the prompt path (two tokenizers + cache) and the error paths.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cpu.h"
#include "core/ops.h"
#include "model/clip.h"
#include "model/clip_sdxl.h"
#include "fixture_util.h"
#include "test_util.h"

#define B 3
#define T 77
#define FIX STRIKE_FIXTURES_DIR "/clip/"

/* Reads exactly n values of 4 bytes into dst (little-endian host assumed, as the CI machines
 * are); 0 (reported) otherwise. */
static int read_raw(const char *name, void *dst, size_t n) {
    void *buf = fixture_read(name, n * 4);
    if (buf) memcpy(dst, buf, n * 4);
    free(buf);
    return buf != NULL;
}


/* A backend tensor of floats. */
static se_tensor new_tensor(se_backend *be, int ndim, int64_t a, int64_t b, int64_t c, const char *name) {
    int64_t ne[3] = {a, b, c};
    se_tensor t = se_tensor_make(SE_F32, ndim, ne, NULL, name);
    void *p = NULL;
    if (se_backend_alloc(be, se_tensor_nbytes(&t), &p) == SE_OK) t.data = p;
    return t;
}

/* Compares backend tensor t against fixture file want (n floats). */
static void compare(se_backend *be, const se_tensor *t, const char *file, const char *what) {
    size_t n = (size_t)se_tensor_numel(t);
    float *got = malloc(n * 4), *want = malloc(n * 4);
    CHECK(got && want);
    if (got && want && read_raw(file, want, n) && se_tensor_get_data(be, t, got, n * 4) == SE_OK) {
        double e = rel_err_max(got, want, n);
        printf("  %-34s rel err %.3g\n", what, e);
        CHECK_MSG(e <= 1e-4, "%s: relative error %g > 1e-4", what, e);
    } else {
        CHECK_MSG(0, "%s: could not compare", what);
    }
    free(got);
    free(want);
}

/* One encoder: load, run, compare hidden[-2] (+[-3]) and pooled. */
static void check_encoder(se_backend *be, const char *name, const char *ids_file, int64_t D, int64_t P, int test_skip1) {
    char path[512];
    int32_t ids[B * T];
    CHECK(read_raw(ids_file, ids, B * T));
    snprintf(path, sizeof path, FIX "%s", name);
    se_clip *enc = NULL;
    se_status st = se_clip_load(path, be, &enc);
    CHECK_MSG(st == SE_OK, "load %s: %s", name, se_last_error());
    if (!enc) return;
    CHECK(se_clip_get_config(enc)->hidden == D && se_clip_pooled_dim(enc) == P);
    se_tensor h = new_tensor(be, 3, B, T, D, "hidden"), p = new_tensor(be, 2, B, P, 0, "pooled");
    st = se_clip_encode(enc, ids, B, T, 0, &h, &p);
    CHECK_MSG(st == SE_OK, "encode %s: %s", name, se_last_error());
    char want[512], what[128];
    snprintf(want, sizeof want, FIX "%s.hidden_m2.f32", name);
    snprintf(what, sizeof what, "%s hidden_states[-2]", name);
    compare(be, &h, want, what);
    snprintf(want, sizeof want, FIX "%s.pooled.f32", name);
    snprintf(what, sizeof what, "%s pooled", name);
    compare(be, &p, want, what);
    if (test_skip1) {
        CHECK(se_clip_encode(enc, ids, B, T, 1, &h, NULL) == SE_OK);
        snprintf(want, sizeof want, FIX "%s.hidden_m3.f32", name);
        snprintf(what, sizeof what, "%s hidden_states[-3]", name);
        compare(be, &h, want, what);
    }
    se_backend_free(be, h.data);
    se_backend_free(be, p.data);
    se_clip_destroy(&enc);
    CHECK(enc == NULL);
}

/* A tiny tokenizer whose ids fit the tiny models' 512-entry vocabulary: bytes a..z (with and
 * without </w>), "!" = 0, BOS 510, EOS 511, no merges. */
static se_tokenizer *tiny_tokenizer(se_tok_pad pad) {
    char vocab[4096];
    size_t n = (size_t)snprintf(vocab, sizeof vocab, "{\"!\": 0, \"!</w>\": 53");
    for (int c = 0; c < 26; c++)
        n += (size_t)snprintf(vocab + n, sizeof vocab - n, ", \"%c\": %d, \"%c</w>\": %d", 'a' + c, 1 + c, 'a' + c, 27 + c);
    n += (size_t)snprintf(vocab + n, sizeof vocab - n, ", \"<|startoftext|>\": 510, \"<|endoftext|>\": 511}");
    se_tokenizer *t = NULL;
    const char *merges = "#version: 0.2\n";
    if (se_tokenizer_from_memory(vocab, n, merges, strlen(merges), pad, NULL, "tiny", &t) != SE_OK)
        fprintf(stderr, "tiny tokenizer: %s\n", se_last_error());
    return t;
}

static void check_sdxl(se_backend *be) {
    se_clip *e1 = NULL, *e2 = NULL;
    CHECK(se_clip_load(FIX "text_encoder", be, &e1) == SE_OK);
    CHECK(se_clip_load(FIX "text_encoder_2", be, &e2) == SE_OK);
    if (!e1 || !e2) goto out;
    int32_t ids1[B * T], ids2[B * T];
    CHECK(read_raw(FIX "ids_1.i32", ids1, B * T) && read_raw(FIX "ids_2.i32", ids2, B * T));
    se_tensor ctx = new_tensor(be, 3, B, T, 64 + 48, "ctx"), pooled = new_tensor(be, 2, B, 40, 0, "pooled");
    se_status st = se_sdxl_encode_ids(e1, e2, ids1, ids2, B, T, 0, &ctx, &pooled);
    CHECK_MSG(st == SE_OK, "sdxl encode: %s", se_last_error());
    compare(be, &ctx, FIX "sdxl_ctx.f32", "sdxl ctx (enc1 | enc2)");
    compare(be, &pooled, FIX "sdxl_pooled.f32", "sdxl pooled");
    se_backend_free(be, ctx.data);
    se_backend_free(be, pooled.data);

    /* Prompt path: tokenizers + cache give the same as ids through the encoders; the second
     * call hits the cache; a long prompt reports its truncation. */
    se_tokenizer *t1 = tiny_tokenizer(SE_TOK_PAD_EOS), *t2 = tiny_tokenizer(SE_TOK_PAD_BANG);
    se_embed_cache *cache = NULL;
    CHECK(t1 && t2 && se_embed_cache_new(8, 1 << 20, &cache) == SE_OK);
    if (t1 && t2 && cache) {
        se_sdxl_text txt = {t1, t2, e1, e2, cache, 77};
        se_tensor c1 = new_tensor(be, 3, 1, T, 112, "ctx1"), p1 = new_tensor(be, 2, 1, 40, 0, "pooled1");
        se_tensor c2 = new_tensor(be, 3, 1, T, 112, "ctx2"), p2 = new_tensor(be, 2, 1, 40, 0, "pooled2");
        const char *prompt = "A cat, sitting!";
        se_sdxl_text_info info;
        CHECK(se_sdxl_encode_prompt(&txt, prompt, strlen(prompt), 0, &c1, &p1, &info) == SE_OK);
        CHECK(info.cache_hit == 0 && info.truncated_tokens == 0);
        int32_t i1[T], i2[T];
        CHECK(se_tokenizer_encode(t1, prompt, strlen(prompt), T, i1, NULL) == SE_OK);
        CHECK(se_tokenizer_encode(t2, prompt, strlen(prompt), T, i2, NULL) == SE_OK);
        CHECK(i1[0] == 510 && i2[0] == 510 && i1[76] == 511 && i2[76] == 0);
        CHECK(se_sdxl_encode_ids(e1, e2, i1, i2, 1, T, 0, &c2, &p2) == SE_OK);
        size_t nc = 77 * 112, np = 40;
        float *a = malloc(nc * 4), *b = malloc(nc * 4);
        if (a && b) {
            CHECK(se_tensor_get_data(be, &c1, a, nc * 4) == SE_OK && se_tensor_get_data(be, &c2, b, nc * 4) == SE_OK);
            CHECK(memcmp(a, b, nc * 4) == 0);
            /* Cache hit: same values, encoders not run. */
            CHECK(se_sdxl_encode_prompt(&txt, prompt, strlen(prompt), 0, &c2, &p2, &info) == SE_OK);
            CHECK(info.cache_hit == 1);
            CHECK(se_tensor_get_data(be, &c2, b, nc * 4) == SE_OK && memcmp(a, b, nc * 4) == 0);
            CHECK(se_tensor_get_data(be, &p1, a, np * 4) == SE_OK && se_tensor_get_data(be, &p2, b, np * 4) == SE_OK);
            CHECK(memcmp(a, b, np * 4) == 0);
            CHECK(se_embed_cache_get_stats(cache).hits == 1);
            /* Another clip_skip is another cache key. */
            CHECK(se_sdxl_encode_prompt(&txt, prompt, strlen(prompt), 1, &c2, &p2, &info) == SE_OK);
            CHECK(info.cache_hit == 0);
        }
        free(a);
        free(b);
        char longp[400];
        for (int i = 0; i < 100; i++) memcpy(longp + 2 * i, "x ", 2);
        CHECK(se_sdxl_encode_prompt(&txt, longp, 200, 0, &c1, &p1, &info) == SE_OK);
        CHECK(info.truncated_tokens == 25);
        se_backend_free(be, c1.data);
        se_backend_free(be, p1.data);
        se_backend_free(be, c2.data);
        se_backend_free(be, p2.data);
    }
    se_embed_cache_destroy(&cache);
    se_tokenizer_destroy(&t1);
    se_tokenizer_destroy(&t2);
out:
    se_clip_destroy(&e1);
    se_clip_destroy(&e2);
}

static void check_errors(se_backend *be) {
    se_clip *e = NULL;
    CHECK(se_clip_load(FIX "no_such_encoder", be, &e) != SE_OK && e == NULL);
    CHECK(strstr(se_last_error(), "no_such_encoder") != NULL);
    CHECK(se_clip_load(FIX "text_encoder", be, &e) == SE_OK);
    if (!e) return;
    int32_t ids[T] = {0};
    se_tensor h = new_tensor(be, 3, 1, T, 64, "h"), bad = new_tensor(be, 3, 1, T, 63, "bad");
    ids[5] = 512; /* outside the vocabulary */
    CHECK(se_clip_encode(e, ids, 1, T, 0, &h, NULL) == SE_ERR_INVALID_ARG);
    CHECK(strstr(se_last_error(), "512") != NULL);
    ids[5] = 7;
    CHECK(se_clip_encode(e, ids, 1, 78, 0, &h, NULL) == SE_ERR_INVALID_ARG);   /* T > 77 */
    CHECK(se_clip_encode(e, ids, 1, T, 2, &h, NULL) == SE_ERR_INVALID_ARG);    /* skip >= layers-1 */
    CHECK(se_clip_encode(e, ids, 1, T, 0, &bad, NULL) == SE_ERR_SHAPE);        /* wrong width */
    CHECK(se_clip_encode(e, ids, 1, T, 0, &h, NULL) == SE_OK);
    se_backend_free(be, h.data);
    se_backend_free(be, bad.data);
    se_clip_destroy(&e);
}

int main(void) {
    for (int naive = 1; naive >= 0; naive--) {
        se_cpu_params p;
        se_cpu_params_init(&p);
        p.naive = naive;
        p.threads = 2;
        se_backend *be = NULL;
        CHECK(se_backend_cpu_new(&p, &be) == SE_OK);
        if (!be) break;
        printf("cpu backend (%s):\n", naive ? "naive" : "tuned");
        check_encoder(be, "text_encoder", FIX "ids_1.i32", 64, 64, 1);
        check_encoder(be, "text_encoder_2", FIX "ids_2.i32", 48, 40, 0);
        check_encoder(be, "text_encoder_eos", FIX "ids_3.i32", 32, 24, 0);
        check_sdxl(be);
        if (naive) check_errors(be);
        se_backend_destroy(&be);
    }
    return test_report("engine_clip_reference");
}
