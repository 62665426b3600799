/*
 * tokenizer.h - the CLIP byte-level BPE tokenizer, id for id the same as the pinned reference
 * (transformers 5.23.0 CLIPTokenizer, Rust-backed) in SDXL's two configurations.
 *
 *   se_tokenizer *tok;
 *   SE_TRY(se_tokenizer_load("/models/sdxl/tokenizer_2", SE_TOK_PAD_AUTO, &tok));
 *   int32_t ids[77]; se_tok_info info;
 *   SE_TRY(se_tokenizer_encode(tok, prompt, strlen(prompt), 77, ids, &info));
 *   if (info.n_truncated) ... warn: "prompt truncated: N tokens dropped"
 *   se_tokenizer_destroy(&tok);
 *
 * What it does (docs/tokenizer.md has the details and the differences from open_clip):
 *  1. split the raw text on the added tokens that are matched before normalisation:
 *     "<|endoftext|>" and, when the pad token is not a vocabulary special (tokenizer_2: "!"),
 *     the pad token itself, which then always stands alone as its own id;
 *  2. normalise each piece: NFC, then lowercase (whitespace runs collapse; no ftfy, no HTML
 *     unescaping); then split on "<|startoftext|>" (an added token matched after normalisation);
 *  3. pre-tokenise with the CLIP pattern (Unicode letter / number classes), BPE each word with
 *     "</w>" on its last symbol, merges by rank;
 *  4. [BOS] + up to max_len-2 tokens + [EOS], then the pad id up to max_len.
 *
 * Any vocabulary size works (tiny test models); BOS/EOS are the ids of "<|startoftext|>" and
 * "<|endoftext|>" in vocab.json (49406/49407 for the real one). A tokenizer keeps a word cache
 * and scratch buffers: it is NOT thread-safe; use one per thread.
 */
#ifndef STRIKE_TEXT_TOKENIZER_H
#define STRIKE_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "strike/engine.h"

typedef struct se_tokenizer se_tokenizer;

/* Which pad rule: read it from tokenizer_config.json ("pad_token"; default <|endoftext|> when the
 * file or key is absent), SDXL `tokenizer` (pad with <|endoftext|>), or SDXL `tokenizer_2`
 * (pad with "!", id 0, and "!" becomes a special token everywhere in the prompt). */
typedef enum se_tok_pad {
    SE_TOK_PAD_AUTO = 0,
    SE_TOK_PAD_EOS = 1,
    SE_TOK_PAD_BANG = 2,
} se_tok_pad;

/* What one encode call did. */
typedef struct se_tok_info {
    int n_tokens;    /* ids before padding, BOS and EOS included (2..max_len) */
    int n_truncated; /* prompt tokens dropped because the prompt was too long (0 = it fit) */
} se_tok_info;

/* Largest accepted files and prompt. */
#define SE_TOK_MAX_FILE_BYTES (64u << 20)
#define SE_TOK_MAX_VOCAB (1 << 22)
#define SE_TOK_MAX_TEXT_BYTES (1u << 20)

/* Loads dir/vocab.json and dir/merges.txt (and dir/tokenizer_config.json for SE_TOK_PAD_AUTO).
 * Errors (SE_ERR_IO / SE_ERR_TOKENIZER) name the file and what is wrong. */
se_status se_tokenizer_load(const char *dir, se_tok_pad pad, se_tokenizer **out);

/* Builds a tokenizer from the two file texts in memory. pad_token (NULL = by `pad`) is the pad
 * token's text when pad is SE_TOK_PAD_AUTO; origin names the source in error messages. */
se_status se_tokenizer_from_memory(const char *vocab_json, size_t vocab_len, const char *merges,
                                   size_t merges_len, se_tok_pad pad, const char *pad_token,
                                   const char *origin, se_tokenizer **out);

void se_tokenizer_destroy(se_tokenizer **tok);

/* Encodes text[0..len) (UTF-8) into ids[0..max_len) (max_len >= 2), padded. Invalid UTF-8 or a
 * prompt over SE_TOK_MAX_TEXT_BYTES is SE_ERR_INVALID_ARG. info may be NULL. */
se_status se_tokenizer_encode(se_tokenizer *tok, const char *text, size_t len, int max_len,
                              int32_t *ids, se_tok_info *info);

int32_t se_tokenizer_bos(const se_tokenizer *tok);
int32_t se_tokenizer_eos(const se_tokenizer *tok);
int32_t se_tokenizer_pad(const se_tokenizer *tok);
/* Largest id + 1 of the vocabulary. */
int32_t se_tokenizer_vocab_size(const se_tokenizer *tok);

#endif
