/*
 * clip_sdxl.h - SDXL's text conditioning from the two CLIP encoders (diffusers encode_prompt):
 *   ctx    [B,T,D1+D2] = concat(enc1 hidden_states[-2], enc2 hidden_states[-2]) along features,
 *                        encoder 1 (ViT-L) first;
 *   pooled [B,P2]      = encoder 2's projected output at its pooling position.
 * plus the prompt-level path: tokenize with both tokenizers, look the prompt up in the bounded
 * embedding cache, run the encoders only on a miss, and report truncation.
 */
#ifndef STRIKE_MODEL_CLIP_SDXL_H
#define STRIKE_MODEL_CLIP_SDXL_H

#include "model/clip.h"
#include "text/embed_cache.h"
#include "text/tokenizer.h"

/* Ids -> conditioning. ids1/ids2: host [B,T] for encoder 1 / 2; ctx [B,T,D1+D2] and pooled
 * [B,P2] contiguous on the encoders' backend (act dtype); clip_skip as in clip.h (0 = SDXL). */
se_status se_sdxl_encode_ids(se_clip *enc1, se_clip *enc2, const int32_t *ids1, const int32_t *ids2,
                             int B, int T, int clip_skip, se_tensor *ctx, se_tensor *pooled);

/* The whole text path of one model. Borrowed pointers; cache may be NULL (no caching). */
typedef struct se_sdxl_text {
    se_tokenizer *tok1, *tok2;  /* tokenizer/ (pads with <|endoftext|>), tokenizer_2/ (pads with "!") */
    se_clip *enc1, *enc2;       /* text_encoder/, text_encoder_2/ */
    se_embed_cache *cache;      /* keyed by (clip_skip, prompt text) */
    int max_len;                /* 77 */
} se_sdxl_text;

/* What encoding one prompt did. */
typedef struct se_sdxl_text_info {
    int truncated_tokens;       /* tokens dropped by truncation (the larger of the two
                                   tokenizers); non-zero: put a warning in the job result */
    int cache_hit;              /* 1 when the encoders did not run */
} se_sdxl_text_info;

/* One prompt -> ctx [1,max_len,D1+D2], pooled [1,P2] (on the backend). */
se_status se_sdxl_encode_prompt(se_sdxl_text *t, const char *prompt, size_t len, int clip_skip,
                                se_tensor *ctx, se_tensor *pooled, se_sdxl_text_info *info);

#endif
