/*
 * noise.c - per-job initial noise: dispatch to the torch CPU (mt19937) or philox generator.
 */
#include "sample/noise.h"

#include <string.h>

#include "core/error.h"
#include "sample/rng_mt19937.h"
#include "sample/rng_philox.h"

se_status se_noise_fill(se_noise_mode mode, uint64_t seed, float *out, size_t n) {
    if (!out || n == 0) return se_fail(SE_ERR_INVALID_ARG, "noise: NULL buffer or zero elements");
    switch (mode) {
    case SE_NOISE_CPU:
        se_torch_cpu_randn(seed, SE_TORCH_CPU_AVX2, out, n);
        return SE_OK;
    case SE_NOISE_CPU_DEFAULT:
        se_torch_cpu_randn(seed, SE_TORCH_CPU_DEFAULT, out, n);
        return SE_OK;
    case SE_NOISE_PHILOX:
        if ((uint64_t)n > (UINT64_C(1) << 32))
            return se_fail(SE_ERR_INVALID_ARG, "noise: philox draws at most 2^32 elements, got %zu", n);
        se_philox_randn(seed, 0, out, n);
        return SE_OK;
    }
    return se_fail(SE_ERR_INVALID_ARG, "noise: unknown mode %d", (int)mode);
}

const char *se_noise_mode_name(se_noise_mode mode) {
    switch (mode) {
    case SE_NOISE_CPU: return "cpu";
    case SE_NOISE_PHILOX: return "philox";
    case SE_NOISE_CPU_DEFAULT: return "cpu-default";
    }
    return "?";
}

se_status se_noise_mode_parse(const char *s, se_noise_mode *out) {
    static const se_noise_mode modes[] = {SE_NOISE_CPU, SE_NOISE_PHILOX, SE_NOISE_CPU_DEFAULT};
    for (size_t i = 0; s && i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(s, se_noise_mode_name(modes[i])) == 0) {
            *out = modes[i];
            return SE_OK;
        }
    }
    return se_fail(SE_ERR_INVALID_ARG, "noise mode: expected \"cpu\", \"philox\" or \"cpu-default\", got \"%s\"",
                   s ? s : "(null)");
}
