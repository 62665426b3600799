/*
 * tokenizer.c - CLIP byte-level BPE (see tokenizer.h for the contract and docs/tokenizer.md for
 * the reference behaviour it reproduces).
 *
 * Layout: loading (vocab.json via jansson, merges.txt by hand, into a merge hash map keyed by
 * the pair of ids), the word cache, BPE of one word (a min-heap by (rank, position), as the
 * reference does), pre-tokenisation over normalised code points, and encode().
 */
#include "text/tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/unicode.h"

#define CACHE_SLOTS (1u << 15)        /* word cache slots (power of two) */
#define CACHE_MAX_WORD 64             /* longest word (bytes) that is cached */
#define CACHE_KEY_POOL (1u << 20)     /* bytes of cached words */
#define CACHE_ID_POOL (1u << 18)      /* ids of cached words */
#define MAX_RAW_TOKENS 2              /* added tokens matched on raw text */

/* One merge rule: (left, right) -> merged, with its rank (line index). */
typedef struct merge_slot {
    uint64_t key; /* (left << 32) | right; UINT64_MAX = empty */
    int32_t rank;
    int32_t merged;
} merge_slot;

/* One word cache slot. */
typedef struct cache_slot {
    uint64_t hash; /* 0 = empty */
    uint32_t key_off, id_off;
    uint16_t key_len, n_ids;
} cache_slot;

/* One BPE symbol of the word being merged (a doubly linked list over an array). */
typedef struct bpe_sym {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
    int32_t alive;
} bpe_sym;

/* One candidate merge in the heap. */
typedef struct bpe_cand {
    int32_t rank, pos, merged;
} bpe_cand;

/* A growable array of T (scratch memory reused across calls). */
#define VEC(T)                                                                                    \
    struct {                                                                                      \
        T *p;                                                                                     \
        size_t n, cap;                                                                            \
    }

struct se_tokenizer {
    int32_t vocab_size;                /* largest id + 1 */
    int32_t bos, eos, unk, pad;        /* ids */
    int32_t byte_id[256];              /* id of each byte as a word-inner symbol (-1: none) */
    int32_t byte_eow_id[256];          /* id of each byte + "</w>" (-1: none) */
    merge_slot *merges;                /* open addressing, merge_mask + 1 slots */
    uint64_t merge_mask;
    size_t n_merges;
    /* Added tokens matched on the raw text: "<|endoftext|>" and maybe the pad token. */
    int n_raw;
    char raw_text[MAX_RAW_TOKENS][64];
    size_t raw_len[MAX_RAW_TOKENS];
    int32_t raw_id[MAX_RAW_TOKENS];
    /* Word cache. */
    cache_slot *cache;
    unsigned char *cache_keys;
    int32_t *cache_ids;
    size_t cache_used, cache_key_used, cache_id_used;
    /* Scratch. */
    VEC(uint32_t) cps;    /* decoded segment */
    VEC(uint32_t) norm;   /* normalised segment */
    VEC(uint32_t) tmp;    /* NFC scratch */
    VEC(unsigned char) word;
    VEC(int32_t) ids;     /* prompt ids (no BOS/EOS) */
    VEC(bpe_sym) syms;
    VEC(bpe_cand) heap;
};

/* Grows a VEC to hold at least `need` elements. */
static se_status vec_reserve(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SE_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return se_fail(SE_ERR_NOMEM, "tokenizer: cannot grow a buffer to %zu elements", nc);
    *p = q;
    *cap = nc;
    return SE_OK;
}
#define VEC_RESERVE(v, need) vec_reserve((void **)&(v).p, &(v).cap, (need), sizeof *(v).p)

/* ------------------------------------------------------------------------------------------- */
/* Merge map                                                                                    */
/* ------------------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The slot of (left, right), or NULL when it is no merge. */
static const merge_slot *merge_find(const se_tokenizer *t, int32_t left, int32_t right) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t i = mix64(key) & t->merge_mask;
    for (;;) {
        const merge_slot *s = &t->merges[i];
        if (s->key == key) return s;
        if (s->key == UINT64_MAX) return NULL;
        i = (i + 1) & t->merge_mask;
    }
}

/* Inserts or overwrites (a later duplicate line wins, as in the reference's hash map). */
static void merge_put(se_tokenizer *t, int32_t left, int32_t right, int32_t rank, int32_t merged) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t i = mix64(key) & t->merge_mask;
    while (t->merges[i].key != UINT64_MAX && t->merges[i].key != key) i = (i + 1) & t->merge_mask;
    if (t->merges[i].key == UINT64_MAX) t->n_merges++;
    t->merges[i].key = key;
    t->merges[i].rank = rank;
    t->merges[i].merged = merged;
}

/* ------------------------------------------------------------------------------------------- */
/* Loading                                                                                      */
/* ------------------------------------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode: the printable code point standing for byte b. */
static uint32_t byte_to_cp(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256u + (uint32_t)n;
}

/* Looks a token text up in the parsed vocab; -1 when absent. */
static int32_t vocab_get(json_t *vocab, const char *s) {
    json_t *v = json_object_get(vocab, s);
    return v ? (int32_t)json_integer_value(v) : -1;
}

/* Reads a whole file of at most SE_TOK_MAX_FILE_BYTES; *out is NUL-terminated, caller frees. */
static se_status read_file(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return se_fail(SE_ERR_IO, "tokenizer: cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return se_fail(SE_ERR_IO, "tokenizer: cannot seek %s", path);
    }
    long sz = ftell(f);
    if (sz < 0 || (unsigned long)sz > SE_TOK_MAX_FILE_BYTES) {
        fclose(f);
        return se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: size %ld is over the limit of %u bytes", path,
                       sz, SE_TOK_MAX_FILE_BYTES);
    }
    rewind(f);
    char *buf = malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return se_fail(SE_ERR_NOMEM, "tokenizer: %s: cannot allocate %ld bytes", path, sz);
    }
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) {
        free(buf);
        return se_fail(SE_ERR_IO, "tokenizer: %s: short read (%zu of %ld bytes)", path, got, sz);
    }
    buf[sz] = '\0';
    *out = buf;
    *len = (size_t)sz;
    return SE_OK;
}

/* Fills byte_id / byte_eow_id from the vocab. */
static void load_byte_ids(se_tokenizer *t, json_t *vocab) {
    for (int b = 0; b < 256; b++) {
        unsigned char u[4];
        char s[16];
        int n = uni_utf8_encode(byte_to_cp(b), u);
        memcpy(s, u, (size_t)n);
        s[n] = '\0';
        t->byte_id[b] = vocab_get(vocab, s);
        memcpy(s + n, "</w>", 5);
        t->byte_eow_id[b] = vocab_get(vocab, s);
    }
}

/* Parses merges.txt: "#version" lines and empty lines are skipped, every other line is
 * "left right"; rank = index among the merge lines. */
static se_status load_merges(se_tokenizer *t, json_t *vocab, const char *text, size_t len,
                             const char *origin) {
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    uint64_t cap = 1024;
    while (cap < 2 * lines) cap *= 2;
    t->merges = malloc(cap * sizeof *t->merges);
    if (!t->merges) return se_fail(SE_ERR_NOMEM, "tokenizer: %s: no memory for merges", origin);
    for (uint64_t i = 0; i < cap; i++) t->merges[i].key = UINT64_MAX;
    t->merge_mask = cap - 1;

    char buf[1024];
    int32_t rank = 0;
    size_t line_no = 0, pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        size_t n = end - pos;
        line_no++;
        if (n > 0 && text[pos + n - 1] == '\r') n--;
        const char *line = text + pos;
        pos = end + 1;
        if (n == 0 || (n >= 8 && memcmp(line, "#version", 8) == 0)) continue;
        if (n >= sizeof buf / 2)
            return se_fail(SE_ERR_TOKENIZER, "tokenizer: %s merges.txt line %zu: %zu bytes is too long",
                           origin, line_no, n);
        const char *sp = memchr(line, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - line)) || sp == line || sp == line + n - 1)
            return se_fail(SE_ERR_TOKENIZER,
                           "tokenizer: %s merges.txt line %zu: expected \"left right\", got \"%.*s\"",
                           origin, line_no, (int)(n < 80 ? n : 80), line);
        size_t ln = (size_t)(sp - line), rn = n - ln - 1;
        /* buf = left \0 right \0 left+right \0 */
        memcpy(buf, line, ln);
        buf[ln] = '\0';
        char *right = buf + ln + 1;
        memcpy(right, sp + 1, rn);
        right[rn] = '\0';
        char *both = right + rn + 1;
        memcpy(both, line, ln);
        memcpy(both + ln, sp + 1, rn);
        both[ln + rn] = '\0';
        int32_t a = vocab_get(vocab, buf), b = vocab_get(vocab, right), m = vocab_get(vocab, both);
        if (a < 0 || b < 0 || m < 0)
            return se_fail(SE_ERR_TOKENIZER,
                           "tokenizer: %s merges.txt line %zu: \"%s\" is not in vocab.json", origin,
                           line_no, a < 0 ? buf : b < 0 ? right : both);
        merge_put(t, a, b, rank++, m);
    }
    return SE_OK;
}

/* Adds a raw-matched added token. */
static void add_raw_token(se_tokenizer *t, const char *s, int32_t id) {
    size_t n = strlen(s);
    memcpy(t->raw_text[t->n_raw], s, n + 1);
    t->raw_len[t->n_raw] = n;
    t->raw_id[t->n_raw] = id;
    t->n_raw++;
}

se_status se_tokenizer_from_memory(const char *vocab_json, size_t vocab_len, const char *merges,
                                   size_t merges_len, se_tok_pad pad, const char *pad_token,
                                   const char *origin, se_tokenizer **out) {
    if (!vocab_json || !merges || !out) return se_fail(SE_ERR_INVALID_ARG, "tokenizer: NULL argument");
    *out = NULL;
    if (!origin) origin = "(memory)";
    if (vocab_len > SE_TOK_MAX_FILE_BYTES || merges_len > SE_TOK_MAX_FILE_BYTES)
        return se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: vocab (%zu bytes) or merges (%zu bytes) over %u bytes",
                       origin, vocab_len, merges_len, SE_TOK_MAX_FILE_BYTES);
    json_error_t jerr;
    json_t *vocab = json_loadb(vocab_json, vocab_len, 0, &jerr);
    if (!vocab)
        return se_fail(SE_ERR_TOKENIZER, "tokenizer: %s vocab.json: line %d: %s", origin, jerr.line, jerr.text);
    se_status st = SE_OK;
    se_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(vocab);
        return se_fail(SE_ERR_NOMEM, "tokenizer: no memory");
    }
    if (!json_is_object(vocab) || json_object_size(vocab) == 0 ||
        json_object_size(vocab) > SE_TOK_MAX_VOCAB) {
        st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s vocab.json: expected an object of 1..%d tokens",
                     origin, SE_TOK_MAX_VOCAB);
        goto fail;
    }
    const char *key;
    json_t *val;
    int32_t max_id = -1;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= SE_TOK_MAX_VOCAB) {
            st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s vocab.json: token \"%.40s\": id must be an integer in [0, %d)",
                         origin, key, SE_TOK_MAX_VOCAB);
            goto fail;
        }
        if ((int32_t)json_integer_value(val) > max_id) max_id = (int32_t)json_integer_value(val);
    }
    t->vocab_size = max_id + 1;
    t->bos = vocab_get(vocab, "<|startoftext|>");
    t->eos = vocab_get(vocab, "<|endoftext|>");
    if (t->bos < 0 || t->eos < 0) {
        st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s vocab.json: missing \"%s\"", origin,
                     t->bos < 0 ? "<|startoftext|>" : "<|endoftext|>");
        goto fail;
    }
    t->unk = t->eos;
    load_byte_ids(t, vocab);
    if ((st = load_merges(t, vocab, merges, merges_len, origin)) != SE_OK) goto fail;

    /* Pad rule. */
    const char *ptok = pad == SE_TOK_PAD_BANG ? "!" : pad == SE_TOK_PAD_EOS ? "<|endoftext|>" : pad_token;
    if (!ptok) ptok = "<|endoftext|>";
    if (strlen(ptok) == 0 || strlen(ptok) >= sizeof t->raw_text[0]) {
        st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: pad token must be 1..63 bytes", origin);
        goto fail;
    }
    t->pad = vocab_get(vocab, ptok);
    if (t->pad < 0) {
        st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: pad token \"%.63s\" is not in vocab.json", origin, ptok);
        goto fail;
    }
    add_raw_token(t, "<|endoftext|>", t->eos);
    /* A pad token other than the two specials becomes an added special token, matched on the raw
     * text like <|endoftext|> (SDXL tokenizer_2: "!"). */
    if (strcmp(ptok, "<|endoftext|>") != 0 && strcmp(ptok, "<|startoftext|>") != 0)
        add_raw_token(t, ptok, t->pad);

    t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);
    t->cache_keys = malloc(CACHE_KEY_POOL);
    t->cache_ids = malloc(CACHE_ID_POOL * sizeof *t->cache_ids);
    if (!t->cache || !t->cache_keys || !t->cache_ids) {
        st = se_fail(SE_ERR_NOMEM, "tokenizer: no memory for the word cache");
        goto fail;
    }
    json_decref(vocab);
    *out = t;
    return SE_OK;
fail:
    json_decref(vocab);
    se_tokenizer_destroy(&t);
    return st;
}

/* Reads "pad_token" (a string, or an object with "content") from tokenizer_config.json. */
static se_status read_pad_token(const char *dir, char *out, size_t cap) {
    char path[4096];
    snprintf(out, cap, "<|endoftext|>");
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= sizeof path)
        return se_fail(SE_ERR_INVALID_ARG, "tokenizer: path too long: %s", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return SE_OK; /* no config: the default pad */
    fclose(f);
    char *text;
    size_t len;
    SE_TRY(read_file(path, &text, &len));
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!root) return se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: line %d: %s", path, jerr.line, jerr.text);
    json_t *p = json_object_get(root, "pad_token");
    if (json_is_object(p)) p = json_object_get(p, "content");
    se_status st = SE_OK;
    if (json_is_string(p)) {
        if (strlen(json_string_value(p)) + 1 > cap || json_string_length(p) == 0)
            st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: pad_token must be 1..%zu bytes", path, cap - 1);
        else
            snprintf(out, cap, "%s", json_string_value(p));
    } else if (p && !json_is_null(p)) {
        st = se_fail(SE_ERR_TOKENIZER, "tokenizer: %s: pad_token must be a string", path);
    }
    json_decref(root);
    return st;
}

se_status se_tokenizer_load(const char *dir, se_tok_pad pad, se_tokenizer **out) {
    if (!dir || !out) return se_fail(SE_ERR_INVALID_ARG, "tokenizer: NULL argument");
    *out = NULL;
    char vpath[4096], mpath[4096], ptok[64];
    if ((size_t)snprintf(vpath, sizeof vpath, "%s/vocab.json", dir) >= sizeof vpath ||
        (size_t)snprintf(mpath, sizeof mpath, "%s/merges.txt", dir) >= sizeof mpath)
        return se_fail(SE_ERR_INVALID_ARG, "tokenizer: path too long: %s", dir);
    if (pad == SE_TOK_PAD_AUTO) SE_TRY(read_pad_token(dir, ptok, sizeof ptok));
    char *v = NULL, *m = NULL;
    size_t vl = 0, ml = 0;
    se_status st = read_file(vpath, &v, &vl);
    if (st == SE_OK) st = read_file(mpath, &m, &ml);
    if (st == SE_OK)
        st = se_tokenizer_from_memory(v, vl, m, ml, pad, pad == SE_TOK_PAD_AUTO ? ptok : NULL, dir, out);
    free(v);
    free(m);
    return st;
}

void se_tokenizer_destroy(se_tokenizer **tok) {
    if (!tok || !*tok) return;
    se_tokenizer *t = *tok;
    free(t->merges);
    free(t->cache);
    free(t->cache_keys);
    free(t->cache_ids);
    free(t->cps.p);
    free(t->norm.p);
    free(t->tmp.p);
    free(t->word.p);
    free(t->ids.p);
    free(t->syms.p);
    free(t->heap.p);
    free(t);
    *tok = NULL;
}

int32_t se_tokenizer_bos(const se_tokenizer *tok) { return tok->bos; }
int32_t se_tokenizer_eos(const se_tokenizer *tok) { return tok->eos; }
int32_t se_tokenizer_pad(const se_tokenizer *tok) { return tok->pad; }
int32_t se_tokenizer_vocab_size(const se_tokenizer *tok) { return tok->vocab_size; }

/* ------------------------------------------------------------------------------------------- */
/* Word cache                                                                                   */
/* ------------------------------------------------------------------------------------------- */

static uint64_t hash_bytes(const unsigned char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h | 1; /* never 0 (0 marks an empty slot) */
}

/* Appends the cached ids of word w to t->ids; returns 1 on a hit. */
static int cache_get(se_tokenizer *t, const unsigned char *w, size_t n, uint64_t h) {
    uint32_t i = (uint32_t)h & (CACHE_SLOTS - 1);
    for (;;) {
        const cache_slot *s = &t->cache[i];
        if (s->hash == 0) return 0;
        if (s->hash == h && s->key_len == n && memcmp(t->cache_keys + s->key_off, w, n) == 0) {
            if (VEC_RESERVE(t->ids, t->ids.n + s->n_ids) != SE_OK) return 0;
            memcpy(t->ids.p + t->ids.n, t->cache_ids + s->id_off, s->n_ids * sizeof(int32_t));
            t->ids.n += s->n_ids;
            return 1;
        }
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
}

/* Remembers word w -> ids; clears the whole cache when it is full (bounded memory). */
static void cache_put(se_tokenizer *t, const unsigned char *w, size_t n, uint64_t h,
                      const int32_t *ids, size_t n_ids) {
    if (t->cache_used * 4 >= CACHE_SLOTS * 3 || t->cache_key_used + n > CACHE_KEY_POOL ||
        t->cache_id_used + n_ids > CACHE_ID_POOL) {
        memset(t->cache, 0, CACHE_SLOTS * sizeof *t->cache);
        t->cache_used = t->cache_key_used = t->cache_id_used = 0;
    }
    uint32_t i = (uint32_t)h & (CACHE_SLOTS - 1);
    while (t->cache[i].hash != 0) i = (i + 1) & (CACHE_SLOTS - 1);
    cache_slot *s = &t->cache[i];
    s->hash = h;
    s->key_off = (uint32_t)t->cache_key_used;
    s->key_len = (uint16_t)n;
    s->id_off = (uint32_t)t->cache_id_used;
    s->n_ids = (uint16_t)n_ids;
    memcpy(t->cache_keys + t->cache_key_used, w, n);
    memcpy(t->cache_ids + t->cache_id_used, ids, n_ids * sizeof(int32_t));
    t->cache_key_used += n;
    t->cache_id_used += n_ids;
    t->cache_used++;
}

/* ------------------------------------------------------------------------------------------- */
/* BPE                                                                                          */
/* ------------------------------------------------------------------------------------------- */

static int cand_less(const bpe_cand *a, const bpe_cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(se_tokenizer *t, bpe_cand c) {
    size_t i = t->heap.n++;
    bpe_cand *h = t->heap.p;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
}

static bpe_cand heap_pop(se_tokenizer *t) {
    bpe_cand *h = t->heap.p;
    bpe_cand top = h[0], last = h[--t->heap.n];
    size_t n = t->heap.n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
    return top;
}

/* Queues the merge of symbol pos with its successor, when there is one. */
static void try_pair(se_tokenizer *t, int32_t pos) {
    int32_t nx = t->syms.p[pos].next;
    if (nx < 0) return;
    const merge_slot *m = merge_find(t, t->syms.p[pos].id, t->syms.p[nx].id);
    if (m) heap_push(t, (bpe_cand){m->rank, pos, m->merged});
}

/* BPE of one word (raw UTF-8 bytes); appends its ids to t->ids. */
static se_status bpe_word(se_tokenizer *t, const unsigned char *w, size_t n) {
    uint64_t h = 0;
    if (n <= CACHE_MAX_WORD) {
        h = hash_bytes(w, n);
        if (cache_get(t, w, n, h)) return SE_OK;
    }
    SE_TRY(VEC_RESERVE(t->syms, n));
    SE_TRY(VEC_RESERVE(t->heap, 2 * n + 2));
    SE_TRY(VEC_RESERVE(t->ids, t->ids.n + n));
    bpe_sym *s = t->syms.p;
    for (size_t i = 0; i < n; i++) {
        int32_t id = i + 1 == n ? t->byte_eow_id[w[i]] : t->byte_id[w[i]];
        s[i].id = id >= 0 ? id : t->unk;
        s[i].prev = (int32_t)i - 1;
        s[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
        s[i].alive = 1;
    }
    t->heap.n = 0;
    for (size_t i = 0; i + 1 < n; i++) try_pair(t, (int32_t)i);
    while (t->heap.n) {
        bpe_cand c = heap_pop(t);
        bpe_sym *a = &s[c.pos];
        if (!a->alive || a->next < 0) continue;
        const merge_slot *m = merge_find(t, a->id, s[a->next].id);
        if (!m || m->merged != c.merged) continue; /* stale: a neighbour changed */
        bpe_sym *b = &s[a->next];
        a->id = c.merged;
        b->alive = 0;
        a->next = b->next;
        if (b->next >= 0) s[b->next].prev = c.pos;
        if (a->prev >= 0) try_pair(t, a->prev);
        try_pair(t, c.pos);
    }
    size_t start = t->ids.n;
    for (int32_t i = 0; i >= 0; i = s[i].next) t->ids.p[t->ids.n++] = s[i].id;
    if (n <= CACHE_MAX_WORD) cache_put(t, w, n, h, t->ids.p + start, t->ids.n - start);
    return SE_OK;
}

/* BPE of cps[a..b) (normalised code points): UTF-8 encode, then bpe_word. */
static se_status bpe_piece(se_tokenizer *t, const uint32_t *cps, size_t a, size_t b) {
    SE_TRY(VEC_RESERVE(t->word, 4 * (b - a)));
    size_t n = 0;
    for (size_t i = a; i < b; i++) {
        if (cps[i] < 0x80)
            t->word.p[n++] = (unsigned char)cps[i];
        else
            n += (size_t)uni_utf8_encode(cps[i], t->word.p + n);
    }
    return bpe_word(t, t->word.p, n);
}

/* ------------------------------------------------------------------------------------------- */
/* Pre-tokenisation and encode                                                                  */
/* ------------------------------------------------------------------------------------------- */

/* Does cps[i..n) start with the ASCII string s? */
static int starts_with(const uint32_t *cps, size_t i, size_t n, const char *s, size_t len) {
    if (n - i < len) return 0;
    for (size_t k = 0; k < len; k++)
        if (cps[i + k] != (unsigned char)s[k]) return 0;
    return 1;
}

/* Splits normalised cps[a..b) with the CLIP pattern
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * (leftmost match, alternatives in order; whitespace matches nothing and is dropped) and BPEs
 * each piece. The reference's ByteLevel step re-splits pieces with GPT-2's pattern, which only
 * changes the two special-token alternatives: they become "<|", the name, "|>". */
static se_status pretokenize(se_tokenizer *t, const uint32_t *cps, size_t a, size_t b) {
    static const char *const specials[2] = {"<|startoftext|>", "<|endoftext|>"};
    size_t i = a;
    while (i < b) {
        uint32_t c = cps[i];
        if (c == '<') {
            int hit = 0;
            for (int k = 0; k < 2 && !hit; k++) {
                size_t len = strlen(specials[k]);
                if (starts_with(cps, i, b, specials[k], len)) {
                    SE_TRY(bpe_piece(t, cps, i, i + 2));
                    SE_TRY(bpe_piece(t, cps, i + 2, i + len - 2));
                    SE_TRY(bpe_piece(t, cps, i + len - 2, i + len));
                    i += len;
                    hit = 1;
                }
            }
            if (hit) continue;
        }
        if (c == '\'' && i + 1 < b) {
            uint32_t d = cps[i + 1];
            size_t len = 0;
            if (d == 's' || d == 't' || d == 'm' || d == 'd')
                len = 2;
            else if (i + 2 < b && ((d == 'r' && cps[i + 2] == 'e') || (d == 'v' && cps[i + 2] == 'e') ||
                                   (d == 'l' && cps[i + 2] == 'l')))
                len = 3;
            if (len) {
                SE_TRY(bpe_piece(t, cps, i, i + len));
                i += len;
                continue;
            }
        }
        int cls = uni_class(c);
        if (cls == UNI_SPACE) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (cls == UNI_LETTER) {
            while (j < b && uni_class(cps[j]) == UNI_LETTER) j++;
        } else if (cls == 0) {
            while (j < b && uni_class(cps[j]) == 0) j++;
        } /* a number is one code point */
        SE_TRY(bpe_piece(t, cps, i, j));
        i = j;
    }
    return SE_OK;
}

/* Normalises raw text s[0..n) (one segment between raw-matched added tokens): NFC, lowercase;
 * then splits on "<|startoftext|>" (matched after normalisation) and pre-tokenises the rest. */
static se_status encode_segment(se_tokenizer *t, const char *s, size_t n) {
    if (n == 0) return SE_OK;
    SE_TRY(VEC_RESERVE(t->cps, n));
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) {
            ascii = 0;
            break;
        }
    size_t m;
    if (ascii) {
        SE_TRY(VEC_RESERVE(t->norm, n));
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            t->norm.p[i] = (c >= 'A' && c <= 'Z') ? c + 32u : c;
        }
        m = n;
    } else {
        size_t bad = 0;
        long nc = uni_utf8_decode(s, n, t->cps.p, &bad);
        if (nc < 0) return se_fail(SE_ERR_INVALID_ARG, "tokenizer: prompt is not valid UTF-8 (at byte %zu)", bad);
        SE_TRY(VEC_RESERVE(t->tmp, 4 * (size_t)nc));
        SE_TRY(VEC_RESERVE(t->norm, 4 * (size_t)nc));
        size_t k = uni_nfc(t->cps.p, (size_t)nc, t->norm.p, t->tmp.p);
        /* Lowercase into tmp (a code point lowercases to at most 3). */
        SE_TRY(VEC_RESERVE(t->tmp, 3 * k));
        m = 0;
        for (size_t i = 0; i < k; i++) m += (size_t)uni_lower(t->norm.p[i], t->tmp.p + m);
        SE_TRY(VEC_RESERVE(t->norm, m));
        memcpy(t->norm.p, t->tmp.p, m * sizeof(uint32_t));
    }
    /* "<|startoftext|>" is an added token matched on the normalised text. */
    static const char bos_text[] = "<|startoftext|>";
    const size_t bos_len = sizeof bos_text - 1;
    size_t start = 0;
    for (size_t i = 0; i < m; i++) {
        if (t->norm.p[i] == '<' && starts_with(t->norm.p, i, m, bos_text, bos_len)) {
            SE_TRY(pretokenize(t, t->norm.p, start, i));
            SE_TRY(VEC_RESERVE(t->ids, t->ids.n + 1));
            t->ids.p[t->ids.n++] = t->bos;
            i += bos_len - 1;
            start = i + 1;
        }
    }
    return pretokenize(t, t->norm.p, start, m);
}

se_status se_tokenizer_encode(se_tokenizer *t, const char *text, size_t len, int max_len,
                              int32_t *ids, se_tok_info *info) {
    if (!t || (!text && len) || !ids || max_len < 2)
        return se_fail(SE_ERR_INVALID_ARG, "tokenizer: encode: bad argument (max_len %d, need >= 2)", max_len);
    if (len > SE_TOK_MAX_TEXT_BYTES)
        return se_fail(SE_ERR_INVALID_ARG, "tokenizer: prompt of %zu bytes is over the limit of %u bytes",
                       len, SE_TOK_MAX_TEXT_BYTES);
    t->ids.n = 0;
    /* Split on the added tokens matched on raw text (leftmost, then longest). */
    size_t seg = 0, i = 0;
    while (i < len) {
        int best = -1;
        for (int k = 0; k < t->n_raw; k++) {
            if (text[i] == t->raw_text[k][0] && len - i >= t->raw_len[k] &&
                memcmp(text + i, t->raw_text[k], t->raw_len[k]) == 0 &&
                (best < 0 || t->raw_len[k] > t->raw_len[best]))
                best = k;
        }
        if (best < 0) {
            i++;
            continue;
        }
        SE_TRY(encode_segment(t, text + seg, i - seg));
        SE_TRY(VEC_RESERVE(t->ids, t->ids.n + 1));
        t->ids.p[t->ids.n++] = t->raw_id[best];
        i += t->raw_len[best];
        seg = i;
    }
    SE_TRY(encode_segment(t, text + seg, len - seg));

    size_t room = (size_t)max_len - 2;
    size_t keep = t->ids.n < room ? t->ids.n : room;
    ids[0] = t->bos;
    if (keep) memcpy(ids + 1, t->ids.p, keep * sizeof(int32_t));
    ids[keep + 1] = t->eos;
    for (size_t k = keep + 2; k < (size_t)max_len; k++) ids[k] = t->pad;
    if (info) {
        info->n_tokens = (int)keep + 2;
        info->n_truncated = (int)(t->ids.n - keep);
    }
    return SE_OK;
}
