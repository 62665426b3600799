/*
 * rng_mt19937.h - PyTorch's CPU random generator (mt19937 as in ATen's MT19937RNGEngine.h) and
 * torch.randn(n, generator=torch.Generator("cpu").manual_seed(seed), dtype=float32) on top of it.
 *
 * torch's float32 normal kernel differs by CPU build: on x86 machines with AVX2 (and AVX512,
 * where torch uses the AVX2 kernel for normal) it evaluates log and sin/cos with the
 * avx_mathfun.h polynomials; elsewhere ("default" capability: no AVX2, ARM, or
 * ATEN_CPU_CAPABILITY=default) with the C library's logf/sinf/cosf. Both are provided; the AVX2
 * one is what "cpu" noise means. See docs/sampler.md.
 */
#ifndef STRIKE_SAMPLE_RNG_MT19937_H
#define STRIKE_SAMPLE_RNG_MT19937_H

#include <stddef.h>
#include <stdint.h>

#define SE_MT_N 624

typedef struct se_mt19937 {
    uint32_t state[SE_MT_N]; /* the twister state */
    int next;                /* index of the next state word to temper */
    int left;                /* words left before the next twist (torch's bookkeeping) */
} se_mt19937;

/* Seeds like torch's Generator.manual_seed: only the low 32 bits of the seed are used. */
void se_mt19937_seed(se_mt19937 *mt, uint64_t seed);
/* Next 32-bit output (torch CPUGeneratorImpl::random()). */
uint32_t se_mt19937_next32(se_mt19937 *mt);
/* Next 64-bit output: first word high, second low (CPUGeneratorImpl::random64()). */
uint64_t se_mt19937_next64(se_mt19937 *mt);

/* Which of torch's CPU normal kernels to reproduce. */
typedef enum se_torch_cpu_kernel {
    SE_TORCH_CPU_AVX2 = 0,    /* x86 with AVX2/AVX512 (the common case) */
    SE_TORCH_CPU_DEFAULT = 1, /* the portable kernel with libm logf/cosf/sinf */
} se_torch_cpu_kernel;

/* out[0..n) = torch.randn(n) from a fresh CPU generator seeded with `seed` (float32). For
 * n >= 16 this is the 16-wide Box-Muller with the tail redraw, for n < 16 torch's double
 * Box-Muller (the same for both kernels). */
void se_torch_cpu_randn(uint64_t seed, se_torch_cpu_kernel kernel, float *out, size_t n);

#endif
