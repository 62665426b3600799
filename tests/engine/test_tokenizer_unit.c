/*
 * test_tokenizer_unit.c - tokenizer behaviour that the reference corpus does not cover: loading
 * a tiny vocabulary from a folder (pad rule read from tokenizer_config.json), unknown bytes,
 * truncation counts, and clear errors for bad files and bad prompts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "text/tokenizer.h"

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void rm_file(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static const char *TINY_VOCAB =
    "{\"!\": 0, \"a\": 1, \"b\": 2, \"a</w>\": 3, \"b</w>\": 4, \"ab</w>\": 5, \"!</w>\": 6,"
    " \"<|startoftext|>\": 7, \"<|endoftext|>\": 8}";
static const char *TINY_MERGES = "#version: 0.2\na b</w>\n";

int main(void) {
    char dir[] = "/tmp/strike_tok_XXXXXX";
    if (!mkdtemp(dir)) skip_test("cannot make a temporary folder");
    write_file(dir, "vocab.json", TINY_VOCAB);
    write_file(dir, "merges.txt", TINY_MERGES);
    write_file(dir, "tokenizer_config.json", "{\"pad_token\": \"!\", \"model_max_length\": 77}");

    /* AUTO reads pad "!" from the config: "!" is then a special token and the pad. */
    se_tokenizer *t = NULL;
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_AUTO, &t) == SE_OK);
    if (t) {
        CHECK(se_tokenizer_vocab_size(t) == 9 && se_tokenizer_bos(t) == 7 && se_tokenizer_eos(t) == 8);
        CHECK(se_tokenizer_pad(t) == 0);
        int32_t ids[10];
        se_tok_info info;
        const char *p = "AB ab c!";
        CHECK(se_tokenizer_encode(t, p, strlen(p), 10, ids, &info) == SE_OK);
        int32_t want[10] = {7, 5, 5, 8, 0, 8, 0, 0, 0, 0}; /* c is unknown: <|endoftext|> as unk */
        CHECK(memcmp(ids, want, sizeof want) == 0);
        CHECK(info.n_tokens == 6 && info.n_truncated == 0);
        /* Truncation: 5 words into max_len 4 keeps 2 and reports 3 dropped; EOS stays last. */
        p = "ab ab ab ab ab";
        CHECK(se_tokenizer_encode(t, p, strlen(p), 4, ids, &info) == SE_OK);
        CHECK(ids[0] == 7 && ids[1] == 5 && ids[2] == 5 && ids[3] == 8);
        CHECK(info.n_tokens == 4 && info.n_truncated == 3);
        /* Empty prompt. */
        CHECK(se_tokenizer_encode(t, "", 0, 4, ids, &info) == SE_OK);
        CHECK(ids[0] == 7 && ids[1] == 8 && ids[2] == 0 && ids[3] == 0 && info.n_tokens == 2);
        /* Bad prompts: invalid UTF-8 (a lone continuation byte, a surrogate), max_len < 2. */
        CHECK(se_tokenizer_encode(t, "a\x80", 2, 4, ids, &info) == SE_ERR_INVALID_ARG);
        CHECK(strstr(se_last_error(), "UTF-8") != NULL);
        CHECK(se_tokenizer_encode(t, "\xed\xa0\x80", 3, 4, ids, &info) == SE_ERR_INVALID_ARG);
        CHECK(se_tokenizer_encode(t, "\xc3", 1, 4, ids, &info) == SE_ERR_INVALID_ARG);
        CHECK(se_tokenizer_encode(t, "ab", 2, 1, ids, &info) == SE_ERR_INVALID_ARG);
        /* A hostile prompt: one letter and 200,000 combining marks of alternating classes (one
         * run to reorder) plus a 300,000-byte word; both are handled in (near) linear time. */
        size_t big = 1 + 4 * 100000 + 1 + 300000;
        char *h = malloc(big);
        if (h) {
            h[0] = 'a';
            for (size_t i = 0; i < 100000; i++) memcpy(h + 1 + 4 * i, "\xcc\x81\xcc\x96", 4); /* U+0301 U+0316 */
            h[1 + 4 * 100000] = ' ';
            memset(h + 2 + 4 * 100000, 'a', 300000 - 1);
            h[big - 1] = 'b';
            CHECK(se_tokenizer_encode(t, h, big, 10, ids, &info) == SE_OK);
            CHECK(info.n_tokens == 10 && info.n_truncated > 0 && ids[9] == 8);
            free(h);
        }
        se_tokenizer_destroy(&t);
        CHECK(t == NULL);
        se_tokenizer_destroy(&t); /* harmless */
    }

    /* Forced EOS rule on the same folder: "!" is an ordinary word again. */
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_OK);
    if (t) {
        int32_t ids[8];
        CHECK(se_tokenizer_encode(t, "ab c!", 5, 8, ids, NULL) == SE_OK);
        int32_t want[8] = {7, 5, 8, 6, 8, 8, 8, 8};
        CHECK(memcmp(ids, want, sizeof want) == 0);
        se_tokenizer_destroy(&t);
    }

    /* Bad files: a merge naming an unknown token, a bad merge line, bad JSON, no specials,
     * a missing file. Each fails with a message naming the problem. */
    write_file(dir, "merges.txt", "#version: 0.2\na x\n");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_ERR_TOKENIZER && t == NULL);
    CHECK(strstr(se_last_error(), "\"x\" is not in vocab.json") != NULL);
    write_file(dir, "merges.txt", "a b c\n");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_ERR_TOKENIZER);
    CHECK(strstr(se_last_error(), "line 1") != NULL);
    write_file(dir, "merges.txt", TINY_MERGES);
    write_file(dir, "vocab.json", "{\"a\": 1,");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_ERR_TOKENIZER);
    write_file(dir, "vocab.json", "{\"a\": 1, \"b\": 2, \"a</w>\": 3, \"b</w>\": 4, \"ab</w>\": 5}");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_ERR_TOKENIZER);
    CHECK(strstr(se_last_error(), "<|startoftext|>") != NULL);
    write_file(dir, "vocab.json", "{\"a\": -1}");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_ERR_TOKENIZER);
    write_file(dir, "vocab.json", TINY_VOCAB);
    write_file(dir, "tokenizer_config.json", "{\"pad_token\": \"<pad>\"}");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_AUTO, &t) == SE_ERR_TOKENIZER);
    CHECK(strstr(se_last_error(), "<pad>") != NULL);
    rm_file(dir, "merges.txt");
    CHECK(se_tokenizer_load(dir, SE_TOK_PAD_EOS, &t) == SE_ERR_IO);
    CHECK(strstr(se_last_error(), "merges.txt") != NULL);

    rm_file(dir, "vocab.json");
    rm_file(dir, "tokenizer_config.json");
    rmdir(dir);
    return test_report("engine_tokenizer_unit");
}
