/*
 * cpu_internal.h - what the CPU backend's files share: the backend state, the thread pool,
 * per-thread scratch, the GEMM wrappers and one compute entry per op family.
 *
 * Every op family has two entry points: *_naive (plain loops, double accumulation where it
 * matters; the reference the tests trust) and *_fast (threads, OpenBLAS, bounded scratch).
 * The dispatcher in cpu_backend.c picks one by the backend's mode. Shapes have already been
 * checked by core/ops.c; the CPU code only re-checks what ops.c cannot (e.g. gather ids).
 */
#ifndef STRIKE_ENGINE_CPU_INTERNAL_H
#define STRIKE_ENGINE_CPU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"

typedef struct cpu_pool cpu_pool;

/* The CPU backend's private state (se_backend.impl). */
typedef struct se_cpu {
    bool naive;         /* reference loops only */
    int threads;        /* worker count including the calling thread (>= 1) */
    bool blas_threads;  /* large linear/conv GEMMs run on OpenBLAS's threads, not the pool */
    cpu_pool *pool;     /* NULL when threads == 1 or naive */
    float **scratch;    /* per-thread scratch, threads entries, grown by cpu_scratch_reserve */
    size_t *scratch_cap;/* capacity of each scratch block, in floats */
    float *shared;      /* one scratch block shared by all threads (e.g. im2col strips) */
    size_t shared_cap;  /* its capacity in floats */
} se_cpu;

/* ---- thread pool (cpu_pool.c) ---- */

/* A task body: process items [begin, end) on thread tid (0 = the calling thread). */
typedef void (*cpu_task_fn)(void *arg, int64_t begin, int64_t end, int tid);

/* Creates a pool of nthreads-1 workers (the caller is the nth). NULL on failure. */
cpu_pool *cpu_pool_new(int nthreads);
void cpu_pool_destroy(cpu_pool **p);
/* Runs fn over [0, n) in chunks of `grain` items, spread over the pool; returns when all are
 * done. With no pool (or one chunk) it runs inline on the caller as tid 0. */
void cpu_parallel_for(se_cpu *c, int64_t n, int64_t grain, cpu_task_fn fn, void *arg);
/* Number of logical CPUs (>= 1). */
int cpu_count(void);

/* Makes every per-thread scratch block hold at least nfloats (grows, never shrinks). */
se_status cpu_scratch_reserve(se_cpu *c, size_t nfloats);
/* Makes the shared scratch block hold at least nfloats. */
se_status cpu_shared_reserve(se_cpu *c, size_t nfloats);

/* ---- GEMM (cpu_gemm.c), row-major: C = alpha * op(A) op(B) + beta * C ----
 * op(A) is MxK (A is KxM when transA), op(B) is KxN (B is NxK when transB). */
void cpu_sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
               const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
               int64_t ldc);
/* The built-in blocked GEMM behind cpu_sgemm when OpenBLAS is absent (always compiled, so the
 * op test checks it on every build). */
void cpu_sgemm_builtin(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc);
/* The same, split into tiles over the pool (each tile one single-threaded cpu_sgemm). */
void cpu_par_sgemm(se_cpu *c, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                   float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc);
/* C = op(A) op(B) + bias, the bias broadcast along rows (bias_n[N], a Linear) or along columns
 * (bias_m[M], a conv's per-channel bias); either may be NULL. Each tile writes its own block of
 * bias before its GEMM accumulates onto it, so the bias costs no serial pass. */
void cpu_par_sgemm_bias(se_cpu *c, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, const float *bias_m, const float *bias_n);
/* C = op(A) op(B) + bias for the big GEMMs of linear and conv: cpu_par_sgemm_bias, or with
 * blas_threads one multi-threaded OpenBLAS call (bias written by the pool first). */
void cpu_big_sgemm_bias(se_cpu *c, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, const float *bias_m, const float *bias_n);
/* "openblas" or "builtin". */
const char *cpu_gemm_impl(void);
/* Tells the BLAS library to run single-threaded (our pool does the threading). */
void cpu_gemm_init(void);

/* ---- op families ---- */
se_status cpu_conv2d_naive(const se_op *op);
se_status cpu_conv2d_fast(se_cpu *c, const se_op *op);
se_status cpu_linear_naive(const se_op *op);
se_status cpu_linear_fast(se_cpu *c, const se_op *op);
se_status cpu_group_norm_naive(const se_op *op);
se_status cpu_group_norm_fast(se_cpu *c, const se_op *op);
se_status cpu_layer_norm_naive(const se_op *op);
se_status cpu_layer_norm_fast(se_cpu *c, const se_op *op);
se_status cpu_act_naive(const se_op *op);            /* SILU, GELU, QUICK_GELU, GEGLU */
se_status cpu_act_fast(se_cpu *c, const se_op *op);
se_status cpu_softmax_naive(const se_op *op);
se_status cpu_softmax_fast(se_cpu *c, const se_op *op);
se_status cpu_attention_naive(const se_op *op);
se_status cpu_attention_fast(se_cpu *c, const se_op *op);
se_status cpu_upsample_naive(const se_op *op);
se_status cpu_concat_naive(const se_op *op);
se_status cpu_copy_naive(const se_op *op);
se_status cpu_gather_naive(const se_op *op);
se_status cpu_shape_fast(se_cpu *c, const se_op *op); /* UPSAMPLE, CONCAT, COPY, GATHER */
se_status cpu_add_naive(const se_op *op);
se_status cpu_scale_add_naive(const se_op *op);
se_status cpu_elementwise_fast(se_cpu *c, const se_op *op); /* ADD, SCALE_ADD */
se_status cpu_timestep_embedding(const se_op *op);

/* Hot fast-path loops are compiled three times: for baseline x86-64, for x86-64-v3 (AVX2 + FMA)
 * and for x86-64-v4 (AVX-512), and the backend picks one at run time (cpu_isa, set from the
 * CPU's features when a backend is created). The default build stays portable, no -march flag
 * is needed, and there is no ifunc (which sanitizers and static links handle badly). Usage, for
 * a body written once:
 *
 *   static CPU_INLINE void foo_impl(const se_op *op, int64_t a, int64_t b) { ...loops... }
 *   CPU_MULTIVERSION(foo, (const se_op *op, int64_t a, int64_t b), (op, a, b))
 *
 * defines static void foo(...) that calls the right build of foo_impl. */
extern int cpu_isa;   /* 0 baseline, 3 x86-64-v3, 4 x86-64-v4 */
void cpu_detect_features(void);
#define CPU_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define CPU_MULTIVERSION(name, params, args)                                                      \
    __attribute__((target("arch=x86-64-v4"))) static void name##_v4 params { name##_impl args; } \
    __attribute__((target("arch=x86-64-v3"))) static void name##_v3 params { name##_impl args; } \
    static void name##_base params { name##_impl args; }                                        \
    static void name params {                                                                   \
        if (cpu_isa >= 4)                                                                       \
            name##_v4 args;                                                                     \
        else if (cpu_isa == 3)                                                                  \
            name##_v3 args;                                                                     \
        else                                                                                    \
            name##_base args;                                                                   \
    }
#else
#define CPU_MULTIVERSION(name, params, args) static void name params { name##_impl args; }
#endif

/* Scalar helpers shared by naive and fast paths. */
static inline float cpu_silu(float x) { return x / (1.0f + expf(-x)); }

/* exp(x) for the fast path, branch-free so loops over it vectorise: round x/ln2 to n with the
 * 1.5*2^23 trick, reduce r = x - n ln2 (two-part ln2), a degree-7 Taylor polynomial on
 * |r| <= ln2/2 (relative error ~ 5e-9 + rounding), then scale by 2^n through the exponent bits.
 * x is clamped to [-87, 88] so 2^n stays a normal float: exp(-1000) gives 1.6e-38, not 0. */
static inline float cpu_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { float f; int32_t i; } u = {t};
    union { int32_t i; float f; } sc;
    sc.i = (u.i - 0x4B400000 + 127) * (1 << 23);  /* n + 127 in the exponent field */
    return p * sc.f;
}

/* erf(x) for the fast path, branch-free: Abramowitz & Stegun 7.1.26, a rational-times-exp form
 * (absolute error 1.5e-7 in exact arithmetic, about 5e-7 in float), odd symmetry by copysign. */
static inline float cpu_erf_fast(float x) {
    float ax = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float y = 1.0f - p * t * cpu_expf(-ax * ax);
    return copysignf(y, x);
}

static inline float cpu_gelu_fast(float x) { return 0.5f * x * (1.0f + cpu_erf_fast(x * 0.70710678118654752f)); }

static inline float cpu_silu_fast(float x) { return x * (1.0f / (1.0f + cpu_expf(-x))); }

/* Sum and maximum of n floats with 16 independent partial results, so the compiler can keep them
 * in vector registers (a plain float reduction may not be reordered, so it never vectorises).
 * 16 lanes fill one AVX-512 register or two AVX2 ones. */
#define CPU_LANES 16
static inline float cpu_sum(const float *x, int64_t n) {
    float a[CPU_LANES] = {0};
    int64_t i = 0;
    for (; i + CPU_LANES <= n; i += CPU_LANES)
        for (int k = 0; k < CPU_LANES; k++) a[k] += x[i + k];
    float s = 0.0f;
    for (int k = 0; k < CPU_LANES; k++) s += a[k];
    for (; i < n; i++) s += x[i];
    return s;
}

static inline float cpu_max(const float *x, int64_t n) {
    float a[CPU_LANES];
    int64_t i = 0;
    for (int k = 0; k < CPU_LANES; k++) a[k] = n > 0 ? x[0] : -INFINITY;
    for (; i + CPU_LANES <= n; i += CPU_LANES)
        for (int k = 0; k < CPU_LANES; k++) a[k] = x[i + k] > a[k] ? x[i + k] : a[k];
    float m = a[0];
    for (int k = 1; k < CPU_LANES; k++) m = a[k] > m ? a[k] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* Sum of squared deviations from mean. */
static inline float cpu_sumsq_dev(const float *x, int64_t n, float mean) {
    float a[CPU_LANES] = {0};
    int64_t i = 0;
    for (; i + CPU_LANES <= n; i += CPU_LANES)
        for (int k = 0; k < CPU_LANES; k++) a[k] += (x[i + k] - mean) * (x[i + k] - mean);
    float s = 0.0f;
    for (int k = 0; k < CPU_LANES; k++) s += a[k];
    for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
    return s;
}

#endif
