/*
 * sgm_names.h - tensor names of the original SGM / ComfyUI single-file checkpoints <-> diffusers.
 *
 * The single-file SDXL checkpoints (sd_xl_base_1.0.safetensors, the SDXL-Lightning "all-in-one"
 * files) use Stability's SGM naming; the engine's networks are keyed by diffusers / transformers
 * names. These functions translate one name at a time (sdxl-lightning.md section 3):
 *
 *   UNet  "model.diffusion_model." + input_blocks.N.K / middle_block.K / output_blocks.N.K ...
 *         <-> down_blocks.i.{resnets,attentions}.j / mid_block / up_blocks ... (generic over the
 *         block count, layers per block and which blocks have attention, from the UNet config);
 *   CLIP-L "conditioner.embedders.0.transformer." + HF names (only the prefix differs);
 *   bigG  "conditioner.embedders.1.model." + open_clip names: resblocks.N.attn.in_proj_* is one
 *         fused [3D, D] tensor split into q/k/v, text_projection [D, P] is transposed to the HF
 *         Linear weight [P, D];
 *   VAE   "first_stage_model." + decoder.up.(n-1-i) <-> decoder.up_blocks.i, nin_shortcut <->
 *         conv_shortcut, mid.attn_1.{q,k,v,proj_out} 1x1 conv kernels <-> Linear weights.
 *
 * The names passed and returned here are WITHOUT the component prefix (SE_SGM_PREFIX_*).
 * Every function returns false for a name it does not know (the caller reports it).
 */
#ifndef STRIKE_ENGINE_SGM_NAMES_H
#define STRIKE_ENGINE_SGM_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "model/unet.h"

#define SE_SGM_PREFIX_UNET "model.diffusion_model."
#define SE_SGM_PREFIX_CLIP_L "conditioner.embedders.0.transformer."
#define SE_SGM_PREFIX_CLIP_G "conditioner.embedders.1.model."
#define SE_SGM_PREFIX_VAE "first_stage_model."

/* How a source tensor becomes the diffusers tensor. */
typedef enum se_sgm_op {
    SE_SGM_COPY = 0,      /* same data, same shape */
    SE_SGM_SPLIT3,        /* rows [part*R/3, (part+1)*R/3) of a fused q/k/v tensor */
    SE_SGM_TRANSPOSE,     /* a 2-D matrix transposed */
    SE_SGM_SQUEEZE,       /* trailing 1x1 dims dropped (1x1 conv kernel -> Linear) */
} se_sgm_op;

/* UNet: SGM name -> diffusers name under config c. */
bool se_sgm_unet_to_diffusers(const se_unet_config *c, const char *sgm, char *out, size_t cap);
/* UNet: diffusers name -> SGM name (the inverse; LoRA files with SGM names use it). */
bool se_sgm_unet_from_diffusers(const se_unet_config *c, const char *diff, char *out, size_t cap);

/* VAE: SGM name -> diffusers name; nup = number of decoder up blocks. *op is COPY or SQUEEZE
 * (mid.attn_1 q/k/v/proj_out weights). */
bool se_sgm_vae_to_diffusers(const char *sgm, int nup, char *out, size_t cap, se_sgm_op *op);

/* bigG (open_clip) name -> HF CLIPTextModelWithProjection name(s). Returns the number of outputs:
 * 0 for a tensor to skip (logit_scale, attn_mask), 1 (COPY or TRANSPOSE), or 3 for a fused
 * in_proj split into q, k, v (*op = SPLIT3, out[0..2] in q, k, v order); -1 for an unknown name. */
int se_sgm_bigg_to_hf(const char *sgm, char out[3][128], se_sgm_op *op);

#endif
