/*
 * tiny_model.h - generates a random SDXL-architecture model folder in the diffusers layout, in
 * C (no Python, no download): unet/ text_encoder/ text_encoder_2/ vae/ tokenizer/ tokenizer_2/
 * scheduler/ model_index.json, with config.json files, safetensors weights and a small byte-level
 * BPE vocabulary of its own (256 byte symbols, their "</w>" forms, a few merges, BOS/EOS).
 *
 * Its images are noise: it exists so the farm and the tools run end to end without real weights
 * (README: "Rendering with real SDXL-Lightning weights"). Presets:
 *   tiny  the architecture in miniature (64x64 px renders in well under a second); ~2 MB.
 *   sdxl  the full SDXL base configuration (UNet 2.6 G parameters, CLIP ViT-L and bigG, the SDXL
 *         VAE decoder), fp16 files (~6 GB; generating needs ~11 GB of RAM): benchmarks.
 * The VAE file also holds a random encoder (the engine never runs it) so that diffusers loads
 * the folder as a complete StableDiffusionXLPipeline.
 */
#ifndef STRIKE_PIPELINE_TINY_MODEL_H
#define STRIKE_PIPELINE_TINY_MODEL_H

#include <stdint.h>

#include "strike/engine.h"

typedef enum se_gen_preset {
    SE_GEN_TINY = 0,
    SE_GEN_SDXL = 1,
} se_gen_preset;

/* Writes the model folder into dir (created if missing; existing files are replaced).
 * seed selects the random weights. Errors name the file that could not be written. */
se_status se_make_random_model(const char *dir, se_gen_preset preset, uint64_t seed);

#endif
