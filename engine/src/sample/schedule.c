/*
 * schedule.c - EulerDiscreteScheduler(timestep_spacing="trailing") schedule, bit-compatible with
 * the pinned diffusers on torch's x86 (AVX2/AVX512) CPU kernels.
 *
 * Precision, step by step (what diffusers + torch do):
 *   linspace: torch float32 linspace; its vectorised kernel evaluates start + step*i (first half)
 *             and end - step*(T-1-i) (second half) in double and rounds once to float, with step
 *             = (end - start)/(T-1) in float. (torch's non-SIMD kernel rounds twice in float;
 *             the two differ by 1 ulp in a few betas and by <= 2.4e-7 relative in sigma.)
 *   betas = v*v (float), alphas = 1 - betas (float), cumprod accumulated in double and stored
 *   as float (torch's CPU cumprod uses a double accumulator), sigma = sqrt((1-ac)/ac) in float.
 *   Not reproduced: torch's float sqrt goes through MKL VML, which is not correctly rounded (up
 *   to 0.75 ulp measured); ours is, so ~19% of the table differs from torch by 1 ulp (6e-8
 *   relative). Everything else matches bit for bit.
 *   Trailing timesteps are computed in double exactly as numpy's arange + round (half to even),
 *   then cast to float and 1 subtracted. np.interp at integer timesteps is an exact lookup.
 */
#include "sample/schedule.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

void se_schedule_config_init(se_schedule_config *cfg) {
    cfg->num_train_timesteps = 1000;
    cfg->beta_start = 0.00085;
    cfg->beta_end = 0.012;
}

static se_status check_config(const se_schedule_config *cfg) {
    if (!cfg) return se_fail(SE_ERR_INVALID_ARG, "schedule: config is NULL");
    if (cfg->num_train_timesteps < 2 || cfg->num_train_timesteps > SE_SCHED_MAX_TRAIN)
        return se_fail(SE_ERR_INVALID_ARG,
                       "schedule: num_train_timesteps must be in 2..%d, got %d",
                       SE_SCHED_MAX_TRAIN, cfg->num_train_timesteps);
    if (!(cfg->beta_start > 0.0) || !(cfg->beta_end > cfg->beta_start) || !(cfg->beta_end < 1.0))
        return se_fail(SE_ERR_INVALID_ARG,
                       "schedule: need 0 < beta_start < beta_end < 1, got %g .. %g",
                       cfg->beta_start, cfg->beta_end);
    return SE_OK;
}

se_status se_schedule_train_sigmas(const se_schedule_config *cfg, float *table) {
    SE_TRY(check_config(cfg));
    const int T = cfg->num_train_timesteps;
    /* Python's beta_start**0.5 is a double; torch converts the linspace ends to float. */
    const float start = (float)pow(cfg->beta_start, 0.5);
    const float end = (float)pow(cfg->beta_end, 0.5);
    const float step = (end - start) / (float)(T - 1);
    const int halfway = T / 2;
    double acc = 1.0;
    for (int i = 0; i < T; i++) {
        float v = i < halfway ? (float)((double)start + (double)step * (double)i)
                              : (float)((double)end - (double)step * (double)(T - 1 - i));
        float beta = v * v;
        float alpha = 1.0f - beta;
        acc *= (double)alpha;
        float ac = (float)acc;
        float ratio = (1.0f - ac) / ac;
        table[i] = sqrtf(ratio);
    }
    return SE_OK;
}

se_status se_schedule_trailing(const se_schedule_config *cfg, int steps, se_schedule *out) {
    SE_TRY(check_config(cfg));
    const int T = cfg->num_train_timesteps;
    if (!out) return se_fail(SE_ERR_INVALID_ARG, "schedule: output is NULL");
    if (steps < 1 || steps > T || steps > SE_SCHED_MAX_STEPS)
        return se_fail(SE_ERR_INVALID_ARG, "schedule: steps must be in 1..%d, got %d",
                       T < SE_SCHED_MAX_STEPS ? T : SE_SCHED_MAX_STEPS, steps);
    float table[SE_SCHED_MAX_TRAIN];
    SE_TRY(se_schedule_train_sigmas(cfg, table));

    /* numpy: np.arange(T, 0, -T/N): length ceil((0 - T) / (-T/N)); element 1 is T + step and
     * elements i >= 2 are T + i * ((T + step) - T). */
    const double ratio = (double)T / (double)steps;
    const double neg = -ratio;
    const double len_d = ceil((0.0 - (double)T) / neg);
    if (len_d != (double)steps)
        return se_fail(SE_ERR_UNSUPPORTED,
                       "schedule: %d steps: numpy's arange gives %.0f trailing timesteps (diffusers "
                       "would run an extra step); choose another step count", steps, len_d);
    memset(out, 0, sizeof(*out));
    out->steps = steps;
    const double first = (double)T;
    const double second = first + neg;
    const double delta = second - first;
    for (int i = 0; i < steps; i++) {
        double v = i == 0 ? first : i == 1 ? second : first + (double)i * delta;
        float t = (float)nearbyint(v); /* np.round: half to even (default rounding mode) */
        t -= 1.0f;
        if (t < 0.0f || t > (float)(T - 1))
            return se_fail(SE_ERR_INTERNAL, "schedule: timestep %g out of range", (double)t);
        out->timesteps[i] = t;
        out->sigmas[i] = table[(int)t];
    }
    out->sigmas[steps] = 0.0f;
    float mx = 0.0f;
    for (int i = 0; i <= steps; i++)
        if (out->sigmas[i] > mx) mx = out->sigmas[i];
    out->init_noise_sigma = mx;
    return SE_OK;
}

const char *se_prediction_name(se_prediction p) {
    switch (p) {
    case SE_PRED_EPSILON: return "epsilon";
    case SE_PRED_SAMPLE: return "sample";
    }
    return "?";
}

se_status se_prediction_parse(const char *s, se_prediction *out) {
    if (s && strcmp(s, "epsilon") == 0) {
        *out = SE_PRED_EPSILON;
        return SE_OK;
    }
    if (s && (strcmp(s, "sample") == 0 || strcmp(s, "x0") == 0)) {
        *out = SE_PRED_SAMPLE;
        return SE_OK;
    }
    return se_fail(SE_ERR_INVALID_ARG, "prediction type: expected \"epsilon\" or \"sample\", got \"%s\"",
                   s ? s : "(null)");
}
