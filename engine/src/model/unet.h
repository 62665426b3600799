/*
 * unet.h - the SDXL-family UNet2DConditionModel (diffusers layout), on any backend.
 *
 * Built from a diffusers unet/ folder (config.json + diffusion_pytorch_model.safetensors), from a
 * config.json and a separate weight file (a Lightning UNet file over a base folder), or from a
 * config with random weights generated in process (benchmarks). Supported config keys and the
 * tensor naming: docs/models.md. Architecture facts: sdxl-lightning.md section 2.
 *
 *   se_unet *u; SE_TRY(se_unet_new_from_dir("sdxl/unet", be, &u));
 *   SE_TRY(se_unet_forward(u, &sample, &t, &ctx, &text_embeds, &time_ids, &out));
 *   se_unet_destroy(&u);
 *
 * Inputs and output are backend tensors in be->act_dtype (F32 on the CPU), contiguous:
 *   sample [B, in_channels, h, w] (h and w divisible by 2^(blocks-1)), timestep F32 [B],
 *   encoder_hidden_states [B, M, cross_attention_dim], text_embeds [B, pooled],
 *   time_ids [B, 6] -> out [B, out_channels, h, w].
 * text_embeds/time_ids are only used (and required) with addition_embed_type "text_time".
 * A UNet keeps its activation arenas between calls: run one forward at a time per se_unet
 * (separate se_unet objects are independent).
 */
#ifndef STRIKE_ENGINE_UNET_H
#define STRIKE_ENGINE_UNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "io/weights.h"

#define SE_UNET_MAX_BLOCKS 4    /* down/up block count */
#define SE_UNET_MAX_LAYERS 4    /* layers_per_block */

/* The network's shape, from config.json (diffusers key names in comments). */
typedef struct se_unet_config {
    int in_channels, out_channels;                 /* in_channels, out_channels */
    int nblocks;                                   /* len(block_out_channels) */
    int64_t channels[SE_UNET_MAX_BLOCKS];          /* block_out_channels */
    int layers[SE_UNET_MAX_BLOCKS];                /* layers_per_block (int or list) */
    int depth[SE_UNET_MAX_BLOCKS];                 /* transformer_layers_per_block */
    int heads[SE_UNET_MAX_BLOCKS];                 /* attention_head_dim (a head COUNT) */
    bool down_attn[SE_UNET_MAX_BLOCKS];            /* down_block_types[i] == CrossAttnDownBlock2D */
    bool up_attn[SE_UNET_MAX_BLOCKS];              /* up_block_types[i] == CrossAttnUpBlock2D */
    int64_t cross_attention_dim;                   /* cross_attention_dim */
    int norm_groups;                               /* norm_num_groups */
    float norm_eps;                                /* norm_eps (resnets, conv_norm_out) */
    bool linear_proj;                              /* use_linear_projection */
    bool flip_sin_to_cos;                          /* flip_sin_to_cos */
    float freq_shift;                              /* freq_shift */
    int64_t time_embed_dim;                        /* time_embedding_dim or 4 * channels[0] */
    bool add_text_time;                            /* addition_embed_type == "text_time" */
    int64_t addition_time_embed_dim;               /* addition_time_embed_dim */
    int64_t projection_dim;                        /* projection_class_embeddings_input_dim */
} se_unet_config;

typedef struct se_unet se_unet;

/* The SDXL base 1.0 UNet configuration (sdxl-lightning.md 2.1). */
void se_unet_config_sdxl(se_unet_config *c);
/* Reads and validates a diffusers unet config.json. SE_ERR_CONFIG naming the key on failure;
 * SE_ERR_UNSUPPORTED for features this engine does not implement. */
se_status se_unet_config_load(const char *path, se_unet_config *c);

/* dir/config.json + dir/diffusion_pytorch_model.safetensors (or .fp16.safetensors). */
se_status se_unet_new_from_dir(const char *dir, se_backend *be, se_unet **out);
/* A config.json and one weight file. */
se_status se_unet_new_from_files(const char *config_path, const char *weights_path,
                                 se_backend *be, se_unet **out);
/* Random weights (deterministic for seed), generated in process. */
se_status se_unet_new_random(const se_unet_config *cfg, se_backend *be, uint64_t seed,
                             se_unet **out);
/* One safetensors file holding the UNet in diffusers naming or in SGM / ComfyUI single-file
 * naming (SE_UNET_SGM_PREFIX "input_blocks..."; other tensors such as the text encoders and VAE
 * of an all-in-one checkpoint are ignored). cfg NULL: the SDXL base configuration. */
se_status se_unet_new_from_single_file(const char *path, const se_unet_config *cfg,
                                       se_backend *be, se_unet **out);
void se_unet_destroy(se_unet **u);
/* The SGM name of a diffusers UNet tensor name for config c (the SGM numbering needs the same
 * layers_per_block in every block): writes it into out and returns true, or false when name is
 * not a UNet tensor name or does not fit in cap. sdxl-lightning.md 3.2. */
#define SE_UNET_SGM_PREFIX "model.diffusion_model."
bool se_unet_sgm_name(const se_unet_config *c, const char *name, char *out, size_t cap);
/* Counts the tensors and parameters a config declares, without allocating weights. */
se_status se_unet_count(const se_unet_config *cfg, size_t *tensors, int64_t *params);

const se_unet_config *se_unet_get_config(const se_unet *u);
const se_weights *se_unet_weights(const se_unet *u);

/* Runs the network (see the shapes above). */
se_status se_unet_forward(se_unet *u, const se_tensor *sample, const se_tensor *timestep,
                          const se_tensor *encoder_hidden_states, const se_tensor *text_embeds,
                          const se_tensor *time_ids, se_tensor *out);

/* Optional probe, called during forward with intermediate results (tests use it to find the
 * first block that diverges): "temb", "aug", "conv_in", "down.<i>", "mid", "up.<i>". The tensor
 * is valid only during the call. */
typedef void (*se_unet_probe_fn)(void *user, const char *name, const se_tensor *t);
void se_unet_set_probe(se_unet *u, se_unet_probe_fn fn, void *user);

/* Activation memory of the last forward: bytes reserved and high-water mark, all arenas. */
void se_unet_activation_bytes(const se_unet *u, size_t *reserved, size_t *peak);

#endif
