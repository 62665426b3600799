/*
 * euler.h - the Euler sampler (diffusers EulerDiscreteScheduler.step with s_churn = 0) as plain
 * functions over host float arrays and a model callback. Backend-independent: the caller runs
 * the UNet inside the callback (on any backend) and hands back its output on the host.
 *
 * Every element-wise operation is done in float32 in the same order as torch, so with the same
 * model outputs the latents match diffusers bit for bit (see docs/sampler.md).
 */
#ifndef STRIKE_SAMPLE_EULER_H
#define STRIKE_SAMPLE_EULER_H

#include <stddef.h>

#include "sample/schedule.h"

/* The model: given the scaled input x_in (n floats) at step `step` with timestep `timestep`,
 * write the model output (epsilon or x0, per the prediction type) to out (n floats).
 * Return SE_OK, or a status that stops sampling and is returned by se_euler_sample. */
typedef se_status (*se_model_fn)(void *user, int step, float timestep, const float *x_in,
                                 float *out, size_t n);

/* x *= init_noise_sigma (the initial latents from unit noise). */
void se_euler_init_noise(const se_schedule *s, float *x, size_t n);

/* x_in = x / sqrt(sigma_i^2 + 1) (scale_model_input). */
void se_euler_scale_input(const se_schedule *s, int i, const float *x, float *x_in, size_t n);

/* One Euler step from sigma_i to sigma_{i+1}, in place on x, given the model output. */
void se_euler_step(const se_schedule *s, int i, se_prediction pred, float *x,
                   const float *model_out, size_t n);

/* The whole loop: x holds unit noise on entry (it is scaled by init_noise_sigma here) and the
 * denoised latents on return. scratch must hold 2*n floats. Stops at the first callback failure
 * and returns its status. */
se_status se_euler_sample(const se_schedule *s, se_prediction pred, float *x, size_t n,
                          float *scratch, se_model_fn model, void *user);

#endif
