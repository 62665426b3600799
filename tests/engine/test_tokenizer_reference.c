/*
 * test_tokenizer_reference.c - the C tokenizer against the pinned reference (transformers 5.23.0
 * CLIPTokenizer in SDXL's `tokenizer` and `tokenizer_2` configurations) on every prompt of
 * tests/fixtures/tokenizer/corpus.bin.gz (made by tests/reference/make_tokenizer_fixtures.py).
 *
 * Checks all 77 ids of both tokenizers and the truncation count; prints the first mismatch of
 * each tokenizer with its prompt.
 */
#include <stdint.h>
#include <string.h>

#include "test_tokenizer_gz.h"
#include "test_util.h"
#include "text/tokenizer.h"

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Prints a prompt with non-printable bytes escaped. */
static void print_prompt(const char *s, size_t n) {
    fputc('"', stderr);
    for (size_t i = 0; i < n && i < 400; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "\"%s\n", n > 400 ? "..." : "");
}

int main(void) {
    size_t vl, ml, cl;
    char *vocab = read_gz(STRIKE_FIXTURES_DIR "/tokenizer/vocab.json.gz", &vl);
    char *merges = read_gz(STRIKE_FIXTURES_DIR "/tokenizer/merges.txt.gz", &ml);
    char *corpus = read_gz(STRIKE_FIXTURES_DIR "/tokenizer/corpus.bin.gz", &cl);
    CHECK(vocab && merges && corpus);
    if (!vocab || !merges || !corpus) return test_report("engine_tokenizer_reference");

    se_tokenizer *tok[2] = {NULL, NULL};
    CHECK(se_tokenizer_from_memory(vocab, vl, merges, ml, SE_TOK_PAD_EOS, NULL, "tokenizer", &tok[0]) == SE_OK);
    CHECK(se_tokenizer_from_memory(vocab, vl, merges, ml, SE_TOK_PAD_BANG, NULL, "tokenizer_2", &tok[1]) == SE_OK);
    if (!tok[0] || !tok[1]) {
        fprintf(stderr, "load: %s\n", se_last_error());
        return test_report("engine_tokenizer_reference");
    }
    CHECK(se_tokenizer_bos(tok[0]) == 49406 && se_tokenizer_eos(tok[0]) == 49407);
    CHECK(se_tokenizer_pad(tok[0]) == 49407 && se_tokenizer_pad(tok[1]) == 0);
    CHECK(se_tokenizer_vocab_size(tok[0]) == 49408);

    const unsigned char *p = (const unsigned char *)corpus, *end = p + cl;
    CHECK(cl >= 16 && memcmp(p, "STKTOK01", 8) == 0);
    uint32_t count = rd32(p + 8), max_len = rd32(p + 12);
    CHECK(count >= 5000 && max_len == 77);
    p += 16;
    uint32_t ok[2] = {0, 0}, bad[2] = {0, 0}, trunc_seen = 0;
    for (uint32_t k = 0; k < count; k++) {
        if (end - p < 12) break;
        uint32_t tl = rd32(p), full[2] = {rd32(p + 4), rd32(p + 8)};
        p += 12;
        if ((size_t)(end - p) < tl + 4u * max_len) break;
        const char *text = (const char *)p;
        p += tl;
        for (int w = 0; w < 2; w++) {
            int32_t want[77], got[77];
            for (uint32_t i = 0; i < max_len; i++) want[i] = (int32_t)(p[2 * i] | p[2 * i + 1] << 8);
            p += 2 * max_len;
            se_tok_info info = {0, 0};
            se_status st = se_tokenizer_encode(tok[w], text, tl, (int)max_len, got, &info);
            int want_trunc = full[w] > max_len ? (int)(full[w] - max_len) : 0;
            int same = st == SE_OK && memcmp(want, got, sizeof want) == 0 && info.n_truncated == want_trunc;
            if (same) {
                ok[w]++;
                continue;
            }
            if (bad[w]++ == 0) {
                fprintf(stderr, "FIRST MISMATCH (%s) at prompt %u: ", w ? "tokenizer_2" : "tokenizer", k);
                print_prompt(text, tl);
                if (st != SE_OK) fprintf(stderr, "  error: %s\n", se_last_error());
                fprintf(stderr, "  want:");
                for (uint32_t i = 0; i < max_len; i++) fprintf(stderr, " %d", want[i]);
                fprintf(stderr, "\n  got: ");
                for (uint32_t i = 0; i < max_len; i++) fprintf(stderr, " %d", got[i]);
                fprintf(stderr, "\n  truncated: want %d got %d\n", want_trunc, info.n_truncated);
            }
        }
        trunc_seen += full[0] > max_len;
    }
    printf("tokenizer: %u/%u identical; tokenizer_2: %u/%u identical; %u prompts truncated\n", ok[0],
           count, ok[1], count, trunc_seen);
    CHECK(ok[0] == count && bad[0] == 0);
    CHECK(ok[1] == count && bad[1] == 0);
    CHECK(trunc_seen > 0);
    se_tokenizer_destroy(&tok[0]);
    se_tokenizer_destroy(&tok[1]);
    CHECK(tok[0] == NULL);
    free(vocab);
    free(merges);
    free(corpus);
    return test_report("engine_tokenizer_reference");
}
