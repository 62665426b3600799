/*
 * noise.h - the initial noise of a job: one generator per job, seeded by the job's seed, so a
 * job's noise never depends on which batch (or machine) it runs in.
 *
 *   cpu     torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed)), float32, as
 *           torch computes it on x86 with AVX2/AVX512 (diffusers with a CPU generator, ComfyUI).
 *   cpu-default  the same from torch's portable (non-AVX2) kernel (ARM, old x86).
 *   philox  A1111's rng_philox.py (A1111's default, sd.cpp --rng cuda), a model of
 *           torch.randn on CUDA; see docs/sampler.md for what is and is not verified.
 */
#ifndef STRIKE_SAMPLE_NOISE_H
#define STRIKE_SAMPLE_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "strike/engine.h"

typedef enum se_noise_mode {
    SE_NOISE_CPU = 0,
    SE_NOISE_PHILOX = 1,
    SE_NOISE_CPU_DEFAULT = 2,
} se_noise_mode;

/* Fills out[0..n) with one job's unit normal noise (the whole latent, e.g. 4*128*128 for
 * 1024x1024, drawn as one randn call of that many elements). SE_ERR_INVALID_ARG for a NULL
 * buffer, n == 0, an unknown mode, or n > 2^32 for philox. */
se_status se_noise_fill(se_noise_mode mode, uint64_t seed, float *out, size_t n);

/* "cpu" / "philox" / "cpu-default", and the reverse (SE_ERR_INVALID_ARG naming the input). */
const char *se_noise_mode_name(se_noise_mode mode);
se_status se_noise_mode_parse(const char *s, se_noise_mode *out);

#endif
