/*
 * vae.h - the AutoencoderKL decoder (diffusers layout): latents in, pixels out, on any backend.
 *
 * Built from a diffusers vae/ folder (config.json + diffusion_pytorch_model.safetensors), from a
 * config.json plus a weight file, or from a config with random weights. Any member of the
 * family the config describes: block_out_channels, layers_per_block (decoder blocks have one
 * more resnet), latent_channels, out_channels, norm_num_groups, scaling_factor,
 * use_post_quant_conv, mid_block_add_attention. Architecture: sdxl-lightning.md section 2.4.
 *
 *   post_quant_conv (1x1) -> conv_in (3x3) -> mid [resnet, attention (1 head), resnet]
 *   -> up blocks (reversed channels; layers_per_block+1 resnets; nearest 2x + conv except the
 *   last) -> GroupNorm + SiLU -> conv_out. Every GroupNorm has eps 1e-6.
 *
 *   se_vae *v; SE_TRY(se_vae_new_from_dir("sdxl/vae", be, &v));
 *   SE_TRY(se_vae_decode_host(v, latents, B, h, w, NULL, rgb));   // latents as sampled
 *   se_vae_destroy(&v);
 */
#ifndef STRIKE_ENGINE_VAE_H
#define STRIKE_ENGINE_VAE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backend.h"
#include "io/weights.h"

#define SE_VAE_MAX_BLOCKS 6

typedef struct se_vae_config {
    int latent_channels;                    /* latent_channels (4) */
    int out_channels;                       /* out_channels (3) */
    int nblocks;                            /* len(block_out_channels) */
    int64_t channels[SE_VAE_MAX_BLOCKS];    /* block_out_channels ([128,256,512,512]) */
    int layers_per_block;                   /* layers_per_block (2; decoder blocks have 3) */
    int norm_groups;                        /* norm_num_groups (32) */
    double scaling_factor;                  /* scaling_factor (0.13025 for SDXL) */
    bool post_quant_conv;                   /* use_post_quant_conv (true) */
    bool mid_attention;                     /* mid_block_add_attention (true) */
} se_vae_config;

typedef struct se_vae se_vae;

/* The SDXL VAE configuration. */
void se_vae_config_sdxl(se_vae_config *c);
/* Reads and validates a diffusers vae config.json (SE_ERR_CONFIG naming the key, or
 * SE_ERR_UNSUPPORTED for latents_mean/std, spatial norm or non-UpDecoderBlock2D blocks). */
se_status se_vae_config_load(const char *path, se_vae_config *c);

/* dir/config.json + dir/diffusion_pytorch_model.safetensors (or .fp16.safetensors). */
se_status se_vae_new_from_dir(const char *dir, se_backend *be, se_vae **out);
/* A config.json and one weight file. */
se_status se_vae_new_from_files(const char *config_path, const char *weights_path, se_backend *be,
                                se_vae **out);
/* Random weights (deterministic for seed). */
se_status se_vae_new_random(const se_vae_config *cfg, se_backend *be, uint64_t seed, se_vae **out);
void se_vae_destroy(se_vae **v);

const se_vae_config *se_vae_get_config(const se_vae *v);
const se_weights *se_vae_weights(const se_vae *v);
/* Pixels per latent along each side: 2^(nblocks-1) (8 for SDXL). */
int se_vae_upscale(const se_vae *v);

/* Decoder forward on backend tensors in be->act_dtype: z [B, latent_channels, h, w] ALREADY
 * divided by the scaling factor -> image [B, out_channels, h*up, w*up], values about -1..1. */
se_status se_vae_decode(se_vae *v, const se_tensor *z, se_tensor *image);

/* Host convenience, the pipeline's last step: latents [B, latent_channels, h, w] as the sampler
 * left them are divided by scaling_factor (float32, like torch), uploaded, decoded; the float
 * image [B, out_channels, H, W] is written to image_f32 and/or the 8-bit RGB image
 * [B, H, W, out_channels] (interleaved) to rgb; either may be NULL. */
se_status se_vae_decode_host(se_vae *v, const float *latents, int B, int h, int w,
                             float *image_f32, uint8_t *rgb);

/* diffusers VaeImageProcessor.postprocess to 8 bits: clamp(x*0.5 + 0.5, 0, 1) in float32, then
 * numpy's (x * 255).round() (half to even) as uint8, planar [B,C,H,W] -> interleaved [B,H,W,C].
 * NaN becomes 0. */
void se_vae_to_rgb8(const float *image, int B, int C, int H, int W, uint8_t *rgb);

/* Activation memory of the last decode: bytes reserved and high-water mark, all arenas. */
void se_vae_activation_bytes(const se_vae *v, size_t *reserved, size_t *peak);

#endif
