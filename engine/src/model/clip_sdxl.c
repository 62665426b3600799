/*
 * clip_sdxl.c - SDXL text conditioning from two CLIP encoders (see clip_sdxl.h).
 */
#include "model/clip_sdxl.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ops.h"

se_status se_sdxl_encode_ids(se_clip *enc1, se_clip *enc2, const int32_t *ids1, const int32_t *ids2,
                             int B, int T, int clip_skip, se_tensor *ctx, se_tensor *pooled) {
    if (!enc1 || !enc2 || !ids1 || !ids2 || !ctx || !pooled || B < 1 || T < 1)
        return se_fail(SE_ERR_INVALID_ARG, "sdxl text: NULL argument or empty batch");
    /* Both encoders must live on one backend: the tensors are exchanged through concat. */
    se_backend *be = NULL;
    const se_clip_config *c1 = se_clip_get_config(enc1), *c2 = se_clip_get_config(enc2);
    int64_t D1 = c1->hidden, D2 = c2->hidden;
    if (ctx->ndim != 3 || ctx->ne[0] != B || ctx->ne[1] != T || ctx->ne[2] != D1 + D2)
        return se_fail(SE_ERR_SHAPE, "sdxl text: ctx must be [%d,%d,%lld] (%lld + %lld)", B, T,
                       (long long)(D1 + D2), (long long)D1, (long long)D2);
    be = se_clip_backend(enc1);
    if (be != se_clip_backend(enc2)) return se_fail(SE_ERR_INVALID_ARG, "sdxl text: the encoders are on different backends");
    size_t es = se_dtype_size(be->act_dtype);
    void *m1 = NULL, *m2 = NULL;
    se_status st = se_backend_alloc(be, (size_t)B * (size_t)T * (size_t)D1 * es, &m1);
    if (st == SE_OK) st = se_backend_alloc(be, (size_t)B * (size_t)T * (size_t)D2 * es, &m2);
    if (st == SE_OK) {
        se_tensor h1 = se_tensor_make(be->act_dtype, 3, (int64_t[]){B, T, D1}, m1, "sdxl.hidden1");
        se_tensor h2 = se_tensor_make(be->act_dtype, 3, (int64_t[]){B, T, D2}, m2, "sdxl.hidden2");
        st = se_clip_encode(enc1, ids1, B, T, clip_skip, &h1, NULL);
        if (st == SE_OK) st = se_clip_encode(enc2, ids2, B, T, clip_skip, &h2, pooled);
        if (st == SE_OK) st = se_concat(be, &h1, &h2, 2, ctx);
    }
    if (m1) se_backend_free(be, m1);
    if (m2) se_backend_free(be, m2);
    return st;
}

se_status se_sdxl_encode_prompt(se_sdxl_text *t, const char *prompt, size_t len, int clip_skip,
                                se_tensor *ctx, se_tensor *pooled, se_sdxl_text_info *info) {
    if (!t || !t->tok1 || !t->tok2 || !t->enc1 || !t->enc2 || (!prompt && len) || !ctx || !pooled)
        return se_fail(SE_ERR_INVALID_ARG, "sdxl text: NULL argument");
    int T = t->max_len > 0 ? t->max_len : 77;
    if (T > 77) return se_fail(SE_ERR_INVALID_ARG, "sdxl text: max_len %d over 77", T);
    if (info) memset(info, 0, sizeof *info);
    int32_t ids1[77], ids2[77];
    se_tok_info i1, i2;
    SE_TRY(se_tokenizer_encode(t->tok1, prompt, len, T, ids1, &i1));
    SE_TRY(se_tokenizer_encode(t->tok2, prompt, len, T, ids2, &i2));
    if (info) info->truncated_tokens = i1.n_truncated > i2.n_truncated ? i1.n_truncated : i2.n_truncated;

    size_t cb = se_tensor_nbytes(ctx), pb = se_tensor_nbytes(pooled);
    char *key = NULL, *val = NULL;
    size_t klen = sizeof(int) + len;
    if (t->cache) {
        key = malloc(klen);
        val = malloc(cb + pb);
        if (!key || !val) {
            free(key);
            free(val);
            return se_fail(SE_ERR_NOMEM, "sdxl text: no memory for a cache lookup");
        }
        memcpy(key, &clip_skip, sizeof(int));
        if (len) memcpy(key + sizeof(int), prompt, len);
        if (se_embed_cache_get(t->cache, key, klen, val, cb + pb)) {
                    se_backend *be = se_clip_backend(t->enc1);
            se_status st = se_tensor_set_data(be, ctx, val, cb);
            if (st == SE_OK) st = se_tensor_set_data(be, pooled, val + cb, pb);
            if (info) info->cache_hit = 1;
            free(key);
            free(val);
            return st;
        }
    }
    se_status st = se_sdxl_encode_ids(t->enc1, t->enc2, ids1, ids2, 1, T, clip_skip, ctx, pooled);
    if (st == SE_OK && t->cache) {
            se_backend *be = se_clip_backend(t->enc1);
        st = se_tensor_get_data(be, ctx, val, cb);
        if (st == SE_OK) st = se_tensor_get_data(be, pooled, val + cb, pb);
        if (st == SE_OK) st = se_embed_cache_put(t->cache, key, klen, val, cb + pb);
    }
    free(key);
    free(val);
    return st;
}
