/*
 * euler.c - Euler steps in torch's float32 operation order.
 *
 * diffusers (s_churn = 0, so sigma_hat = sigma):
 *   scale_model_input:  x / ((sigma**2 + 1) ** 0.5)         -> x / sqrtf(sigma*sigma + 1)
 *   epsilon:            x0 = x - sigma * eps                 (mul, then sub)
 *   sample:             x0 = model_output
 *   derivative = (x - x0) / sigma;  dt = sigma_next - sigma;  x = x + derivative * dt
 * Each line is one torch kernel, so each operation rounds to float; nothing is fused (this file
 * must not be compiled with FP contraction, which C11 mode (-std=c11) turns off in GCC).
 */
#include "sample/euler.h"

#include <math.h>

#include "core/error.h"

void se_euler_init_noise(const se_schedule *s, float *x, size_t n) {
    const float k = s->init_noise_sigma;
    for (size_t j = 0; j < n; j++) x[j] = x[j] * k;
}

void se_euler_scale_input(const se_schedule *s, int i, const float *x, float *x_in, size_t n) {
    const float sigma = s->sigmas[i];
    const float sq = sigma * sigma;
    const float c = sqrtf(sq + 1.0f);
    for (size_t j = 0; j < n; j++) x_in[j] = x[j] / c;
}

void se_euler_step(const se_schedule *s, int i, se_prediction pred, float *x,
                   const float *model_out, size_t n) {
    const float sigma = s->sigmas[i];
    const float dt = s->sigmas[i + 1] - sigma;
    for (size_t j = 0; j < n; j++) {
        float x0;
        if (pred == SE_PRED_EPSILON) {
            float se = sigma * model_out[j];
            x0 = x[j] - se;
        } else {
            x0 = model_out[j];
        }
        float d = (x[j] - x0) / sigma;
        float dd = d * dt;
        x[j] = x[j] + dd;
    }
}

se_status se_euler_sample(const se_schedule *s, se_prediction pred, float *x, size_t n,
                          float *scratch, se_model_fn model, void *user) {
    if (!s || !x || !scratch || !model)
        return se_fail(SE_ERR_INVALID_ARG, "euler: NULL schedule, latents, scratch or model");
    if (s->steps < 1 || s->steps > SE_SCHED_MAX_STEPS)
        return se_fail(SE_ERR_INVALID_ARG, "euler: schedule has %d steps", s->steps);
    if (pred != SE_PRED_EPSILON && pred != SE_PRED_SAMPLE)
        return se_fail(SE_ERR_INVALID_ARG, "euler: unknown prediction type %d", (int)pred);
    float *x_in = scratch, *out = scratch + n;
    se_euler_init_noise(s, x, n);
    for (int i = 0; i < s->steps; i++) {
        se_euler_scale_input(s, i, x, x_in, n);
        SE_TRY(model(user, i, s->timesteps[i], x_in, out, n));
        se_euler_step(s, i, pred, x, out, n);
    }
    return SE_OK;
}
