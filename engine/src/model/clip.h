/*
 * clip.h - the CLIP text encoders SDXL conditions on: CLIPTextModel (ViT-L style, quick_gelu) and
 * CLIPTextModelWithProjection (OpenCLIP bigG style, gelu, text_projection), any size in the
 * family, from a diffusers folder (text_encoder/ or text_encoder_2/: config.json +
 * model.safetensors; transformers naming with the "text_model." prefix, as in SDXL's files, or
 * without it, as transformers 5 saves a CLIPTextModel).
 *
 *   se_clip *enc; SE_TRY(se_clip_load("/m/text_encoder_2", be, &enc));
 *   se_tensor hidden = ... [B,T,hidden] on be;  se_tensor pooled = ... [B,proj] on be;
 *   SE_TRY(se_clip_encode(enc, ids, B, T, 0, &hidden, &pooled));
 *   se_clip_destroy(&enc);
 *
 * Semantics (transformers 5.23.0 modeling_clip.py): x = token_embedding[ids] + position_embedding
 * [0..T); each layer x += out_proj(attn(LN1(x))) with a causal mask (no padding mask), then
 * x += fc2(act(fc1(LN2(x)))). hidden = hidden_states[-(clip_skip+2)] = the output of layer
 * L-1-clip_skip (no final LayerNorm; clip_skip 0 = the penultimate layer, what SDXL uses).
 * pooled = final_layer_norm(last layer)[b, p_b], then text_projection when the model has one;
 * p_b = argmax(ids[b]) when config eos_token_id == 2 (the legacy rule, SDXL's configs), else the
 * first position of eos_token_id (0 when absent).
 */
#ifndef STRIKE_MODEL_CLIP_H
#define STRIKE_MODEL_CLIP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backend.h"
#include "io/weights.h"

/* The shape of one encoder (config.json). */
typedef struct se_clip_config {
    int64_t vocab_size;        /* vocab_size (49408) */
    int64_t hidden;            /* hidden_size (768 / 1280) */
    int64_t intermediate;      /* intermediate_size (3072 / 5120) */
    int64_t layers;            /* num_hidden_layers (12 / 32) */
    int64_t heads;             /* num_attention_heads (12 / 20) */
    int64_t max_positions;     /* max_position_embeddings (77) */
    int64_t projection_dim;    /* projection_dim (1280; only used with a projection) */
    int64_t eos_token_id;      /* eos_token_id (2 in SDXL's configs: argmax rule) */
    float eps;                 /* layer_norm_eps (1e-5) */
    bool gelu;                 /* hidden_act: "gelu" (exact) = true, "quick_gelu" = false */
    bool projection;           /* CLIPTextModelWithProjection (text_projection.weight present) */
} se_clip_config;

typedef struct se_clip se_clip;

/* Loads dir/config.json and dir/model.safetensors onto be. Errors name the file and the key or
 * tensor (missing, wrong shape). */
se_status se_clip_load(const char *dir, se_backend *be, se_clip **out);
/* Same from explicit paths ("what" names it in messages, e.g. "text_encoder_2"). */
se_status se_clip_load_files(const char *config_path, const char *weights_path, const char *what,
                             se_backend *be, se_clip **out);
void se_clip_destroy(se_clip **enc);

const se_clip_config *se_clip_get_config(const se_clip *enc);
/* The backend the encoder's weights live on. */
se_backend *se_clip_backend(const se_clip *enc);
/* The encoder's weight set (e.g. to merge a LoRA into it after loading, io/single_file.c). */
const se_weights *se_clip_weights(const se_clip *enc);
/* Width of the pooled output: projection_dim with a projection, else hidden. */
int64_t se_clip_pooled_dim(const se_clip *enc);

/* Runs the encoder on host ids [B,T] (0 <= id < vocab_size, T <= max_positions).
 * hidden: NULL or a contiguous [B,T,hidden] tensor on the backend (act dtype) receiving
 * hidden_states[-(clip_skip+2)]; pooled: NULL or [B,pooled_dim]. clip_skip in [0, layers-1).
 * Scratch memory is taken per call from an arena owned by the encoder (grown when B*T grows). */
se_status se_clip_encode(se_clip *enc, const int32_t *ids, int B, int T, int clip_skip,
                         se_tensor *hidden, se_tensor *pooled);

#endif
