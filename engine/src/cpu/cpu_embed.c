/*
 * cpu_embed.c - the sinusoidal timestep embedding of diffusers' get_timestep_embedding:
 * half = dim/2, freq_j = exp(-ln(max_period) * j / (half - shift)), out = [sin(t f), cos(t f)]
 * (or [cos, sin] when flip_sin_to_cos). Computed in double; tiny, so one path for both modes.
 */
#include "cpu/cpu_internal.h"

se_status cpu_timestep_embedding(const se_op *op) {
    const float *t = op->src[0]->data;
    float *y = op->dst->data;
    int64_t B = op->src[0]->ne[0], dim = op->dst->ne[1], half = dim / 2;
    int flip = op->i[0];
    double shift = op->f[0], lmp = log((double)op->f[1]);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < half; j++) {
            /* diffusers computes exponent and argument in float32; follow it so results agree */
            float ex = ((float)-lmp * (float)j) / (float)((double)half - shift);
            float arg = t[b] * expf(ex);
            float s = (float)sin(arg), co = (float)cos(arg);
            y[b * dim + j] = flip ? co : s;
            y[b * dim + half + j] = flip ? s : co;
        }
    return SE_OK;
}
