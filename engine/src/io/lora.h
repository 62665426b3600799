/*
 * lora.h - LoRA files merged into a model's weights at load time (fp32).
 *
 * Accepted key styles (sdxl-lightning.md 3.4), detected per key:
 *   kohya, SGM UNet names:       lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q
 *   kohya, diffusers UNet names: lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q
 *   kohya text encoders:         lora_te1_text_model_encoder_layers_0_self_attn_q_proj (CLIP-L),
 *                                lora_te2_... (bigG, HF names)
 *     each with .lora_down.weight [r, in(, kh, kw)], .lora_up.weight [out, r(, 1, 1)] and an
 *     optional .alpha scalar;
 *   PEFT / diffusers:            unet.<diffusers name>.lora_A.weight / .lora_B.weight,
 *                                text_encoder.<name>..., text_encoder_2.<name>... (no alpha).
 * A kohya key is matched EXACTLY against every model tensor's name with '.' replaced by '_' (its
 * diffusers name and, for the UNet, its SGM name), so no underscore guessing is involved.
 *
 * Merge (kohya rule): rank r = rows of down; scale = strength * alpha / r (alpha absent: scale =
 * strength); W += scale * (up @ down) computed in fp32 from the file's values; conv kernels
 * through the flattened kernel, W[o, i, kh, kw] += scale * (up[o, r] @ down[r, i*kh*kw]).
 * se_lora_apply checks and matches every module and records it as an update of its view entry
 * (se_sf_view_add_delta; each view keeps its own open copy of the LoRA file); the product is
 * computed one tensor at a time when the view is read or materialised, or (se_sf_load_networks)
 * written over the network's loaded tensor, so merging costs no memory beyond one tensor. On
 * failure the views may hold some updates: destroy them.
 *
 * Policy: every LoRA module must hit a tensor of the model, with matching shapes. A key that
 * targets nothing is an ERROR (SE_ERR_MISSING_TENSOR naming the key), not a warning: a LoRA
 * applied only in part renders something that is neither the base nor the LoRA model. A missing
 * up or down half, a rank mismatch between them or a product whose shape is not the weight's is
 * SE_ERR_SHAPE / SE_ERR_FORMAT naming the key. Modules for a text encoder with no view given
 * (NULL) are errors too. Keys the merge does not use (.alpha aside) are reported the same way.
 */
#ifndef STRIKE_ENGINE_LORA_H
#define STRIKE_ENGINE_LORA_H

#include <stddef.h>

#include "io/single_file.h"
#include "model/unet.h"

/* The weights a LoRA may change: diffusers-named views (any may be NULL). ucfg is the UNet's
 * config (for SGM-named kohya keys; NULL = SDXL base). */
typedef struct se_lora_targets {
    se_sf_view *unet;
    const se_unet_config *ucfg;
    se_sf_view *te1;      /* CLIP-L, HF names ("text_model." prefix optional) */
    se_sf_view *te2;      /* bigG, HF names */
} se_lora_targets;

/* What a merge did. */
typedef struct se_lora_stats {
    int modules;          /* LoRA modules merged */
    int unet, te1, te2;   /* of which per network */
    int rank_max;         /* largest rank seen */
} se_lora_stats;

/* Merges the LoRA file at path into the targets with the given strength (multiplier). */
se_status se_lora_apply(const char *path, float strength, const se_lora_targets *tg,
                        se_lora_stats *stats);

#endif
