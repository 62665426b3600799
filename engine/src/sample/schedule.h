/*
 * schedule.h - the noise schedule of diffusers' EulerDiscreteScheduler with "trailing" timestep
 * spacing, reproduced in the same float32/float64 arithmetic as the pinned diffusers + torch.
 *
 * Training table: betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2 ("scaled_linear"),
 * alphas_cumprod = cumprod(1 - betas), sigma_t = sqrt((1 - ac_t) / ac_t).
 * Inference: timesteps = round(arange(T, 0, -T/N)) - 1 (numpy's arange and round-half-even),
 * sigma_i = the table at timestep_i, then a final sigma of 0. init_noise_sigma = max sigma.
 * Details and what each step computes in which precision: docs/sampler.md.
 */
#ifndef STRIKE_SAMPLE_SCHEDULE_H
#define STRIKE_SAMPLE_SCHEDULE_H

#include "strike/engine.h"

#define SE_SCHED_MAX_TRAIN 1000 /* largest num_train_timesteps supported */
#define SE_SCHED_MAX_STEPS 1000 /* largest number of inference steps */

/* What the model predicts; selects the Euler step's x0 estimate. */
typedef enum se_prediction {
    SE_PRED_EPSILON = 0, /* the noise (2-, 4-, 8-step Lightning, SDXL base) */
    SE_PRED_SAMPLE = 1,  /* x0 directly ("sample"; the 1-step Lightning UNet) */
} se_prediction;

/* Scheduler config (scheduler_config.json of an SDXL folder). */
typedef struct se_schedule_config {
    int num_train_timesteps; /* T, 1000 for SDXL */
    double beta_start;       /* 0.00085 */
    double beta_end;         /* 0.012 */
} se_schedule_config;

/* The schedule for one step count. */
typedef struct se_schedule {
    int steps;                                 /* N, number of model evaluations */
    float timesteps[SE_SCHED_MAX_STEPS];       /* t_i passed to the UNet (integer valued) */
    float sigmas[SE_SCHED_MAX_STEPS + 1];      /* sigma_i; sigmas[steps] = 0 */
    float init_noise_sigma;                    /* initial noise scale (max sigma, "trailing") */
} se_schedule;

/* SDXL's defaults: T = 1000, beta 0.00085 .. 0.012, scaled_linear. */
void se_schedule_config_init(se_schedule_config *cfg);

/* Fills table[0..T) with the training sigmas sigma_t (float32, as torch computes them).
 * Returns SE_ERR_INVALID_ARG for a bad config. */
se_status se_schedule_train_sigmas(const se_schedule_config *cfg, float *table);

/* Builds the trailing-spacing schedule for `steps` steps. Refuses (SE_ERR_INVALID_ARG) steps
 * outside 1..min(T, SE_SCHED_MAX_STEPS), and (SE_ERR_UNSUPPORTED) the few step counts for which
 * numpy's arange yields N+1 timesteps (e.g. 61), where diffusers itself misbehaves. */
se_status se_schedule_trailing(const se_schedule_config *cfg, int steps, se_schedule *out);

/* Name of a prediction type ("epsilon" / "sample"), and the reverse (SE_ERR_INVALID_ARG). */
const char *se_prediction_name(se_prediction p);
se_status se_prediction_parse(const char *s, se_prediction *out);

#endif
