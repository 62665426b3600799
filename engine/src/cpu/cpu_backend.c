/*
 * cpu_backend.c - the CPU backend: its function table, memory, the "supports" rule, per-thread
 * scratch and the dispatch from op kind to the op-family files (naive or fast).
 */
#include "core/backend_cpu.h"

#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"

int cpu_isa = 0;

/* Picks the widest build of the hot loops this CPU runs: x86-64-v4 needs AVX-512 F/BW/DQ/VL,
 * x86-64-v3 needs AVX2, FMA, BMI1/2 and F16C. STRIKE_CPU_ISA=0|3|4 lowers it (for testing). */
void cpu_detect_features(void) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
    __builtin_cpu_init();
    int isa = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
        __builtin_cpu_supports("f16c"))
        isa = 3;
    if (isa == 3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        isa = 4;
    const char *env = getenv("STRIKE_CPU_ISA");
    if (env && (env[0] == '0' || env[0] == '3' || env[0] == '4') && env[1] == '\0' && env[0] - '0' < isa)
        isa = env[0] - '0';
    cpu_isa = isa;
#endif
}

void se_cpu_params_init(se_cpu_params *p) {
    p->naive = false;
    p->threads = 0;
    p->gemm_threading = SE_CPU_GEMM_POOL;
}

static se_cpu *cpu_of(se_backend *be) { return (se_cpu *)be->impl; }

static void cpu_destroy(se_backend *be) {
    se_cpu *c = cpu_of(be);
    if (c) {
        cpu_pool_destroy(&c->pool);
        if (c->scratch)
            for (int t = 0; t < c->threads; t++) free(c->scratch[t]);
        free(c->scratch);
        free(c->scratch_cap);
        free(c->shared);
        free(c);
    }
    free(be);
}

/* Host memory, 64-byte aligned (a cache line; AVX-512 loads). */
static se_status cpu_alloc(se_backend *be, size_t bytes, void **out) {
    size_t n = (bytes + 63) / 64 * 64;
    if (n < bytes) return se_fail(SE_ERR_NOMEM, "cpu backend: allocation of %zu bytes overflows", bytes);
    void *p = aligned_alloc(64, n ? n : 64);
    if (!p) return se_fail(SE_ERR_NOMEM, "cpu backend: could not allocate %zu bytes", bytes);
    *out = p;
    return SE_OK;
}

static void cpu_free(se_backend *be, void *ptr) { free(ptr); }

static se_status cpu_set(se_backend *be, void *dst, const void *src, size_t bytes) {
    memmove(dst, src, bytes);
    return SE_OK;
}

static se_status cpu_get(se_backend *be, void *dst, const void *src, size_t bytes) {
    memmove(dst, src, bytes);
    return SE_OK;
}

static se_status cpu_sync(se_backend *be) { return SE_OK; }

/* The CPU computes in F32 only; COPY also converts between F32, F16 and BF16, and GATHER takes
 * I32 ids. */
static bool cpu_supports(se_backend *be, const se_op *op) {
    if (!op->dst || !op->src[0]) return false;
    switch (op->kind) {
    case SE_OP_COPY: {
        se_dtype s = op->src[0]->dtype, d = op->dst->dtype;
        return (s == SE_F32 || s == SE_F16 || s == SE_BF16) && (d == SE_F32 || d == SE_F16 || d == SE_BF16);
    }
    case SE_OP_GATHER:
        return op->src[1] && op->src[0]->dtype == SE_F32 && op->src[1]->dtype == SE_I32 &&
               op->dst->dtype == SE_F32;
    case SE_OP_TIMESTEP_EMBEDDING:
        return op->src[0]->dtype == SE_F32 && op->dst->dtype == SE_F32;
    case SE_OP_CONV2D: case SE_OP_LINEAR: case SE_OP_GROUP_NORM: case SE_OP_LAYER_NORM:
    case SE_OP_SILU: case SE_OP_GELU: case SE_OP_QUICK_GELU: case SE_OP_GEGLU: case SE_OP_SOFTMAX:
    case SE_OP_ATTENTION: case SE_OP_UPSAMPLE_NEAREST2X: case SE_OP_CONCAT: case SE_OP_ADD:
    case SE_OP_SCALE_ADD:
        if (op->dst->dtype != SE_F32) return false;
        for (int i = 0; i < SE_OP_MAX_SRC; i++)
            if (op->src[i] && op->src[i]->dtype != SE_F32) return false;
        return true;
    case SE_OP_COUNT: break;
    }
    return false;
}

static se_status cpu_compute_naive(const se_op *op) {
    switch (op->kind) {
    case SE_OP_CONV2D: return cpu_conv2d_naive(op);
    case SE_OP_LINEAR: return cpu_linear_naive(op);
    case SE_OP_GROUP_NORM: return cpu_group_norm_naive(op);
    case SE_OP_LAYER_NORM: return cpu_layer_norm_naive(op);
    case SE_OP_SILU: case SE_OP_GELU: case SE_OP_QUICK_GELU: case SE_OP_GEGLU: return cpu_act_naive(op);
    case SE_OP_SOFTMAX: return cpu_softmax_naive(op);
    case SE_OP_ATTENTION: return cpu_attention_naive(op);
    case SE_OP_UPSAMPLE_NEAREST2X: return cpu_upsample_naive(op);
    case SE_OP_CONCAT: return cpu_concat_naive(op);
    case SE_OP_ADD: return cpu_add_naive(op);
    case SE_OP_SCALE_ADD: return cpu_scale_add_naive(op);
    case SE_OP_COPY: return cpu_copy_naive(op);
    case SE_OP_GATHER: return cpu_gather_naive(op);
    case SE_OP_TIMESTEP_EMBEDDING: return cpu_timestep_embedding(op);
    case SE_OP_COUNT: break;
    }
    return se_fail(SE_ERR_UNSUPPORTED, "cpu backend: unknown op kind %d", (int)op->kind);
}

static se_status cpu_compute_fast(se_cpu *c, const se_op *op) {
    switch (op->kind) {
    case SE_OP_CONV2D: return cpu_conv2d_fast(c, op);
    case SE_OP_LINEAR: return cpu_linear_fast(c, op);
    case SE_OP_GROUP_NORM: return cpu_group_norm_fast(c, op);
    case SE_OP_LAYER_NORM: return cpu_layer_norm_fast(c, op);
    case SE_OP_SILU: case SE_OP_GELU: case SE_OP_QUICK_GELU: case SE_OP_GEGLU: return cpu_act_fast(c, op);
    case SE_OP_SOFTMAX: return cpu_softmax_fast(c, op);
    case SE_OP_ATTENTION: return cpu_attention_fast(c, op);
    case SE_OP_UPSAMPLE_NEAREST2X: case SE_OP_CONCAT: case SE_OP_COPY: case SE_OP_GATHER:
        return cpu_shape_fast(c, op);
    case SE_OP_ADD: case SE_OP_SCALE_ADD: return cpu_elementwise_fast(c, op);
    case SE_OP_TIMESTEP_EMBEDDING: return cpu_timestep_embedding(op);
    case SE_OP_COUNT: break;
    }
    return se_fail(SE_ERR_UNSUPPORTED, "cpu backend: unknown op kind %d", (int)op->kind);
}

static se_status cpu_compute(se_backend *be, const se_op *op) {
    if (!cpu_supports(be, op))
        return se_fail(SE_ERR_UNSUPPORTED, "%s: backend %s does not support dtype %s -> %s",
                       se_op_name(op->kind), be->vt->name, se_dtype_name(op->src[0]->dtype),
                       se_dtype_name(op->dst->dtype));
    se_cpu *c = cpu_of(be);
    return c->naive ? cpu_compute_naive(op) : cpu_compute_fast(c, op);
}

/* The two CPU vtables differ only in the name (the naive flag lives in se_cpu). */
#define CPU_VTBL(NAME)                                                                      \
    {                                                                                       \
        .name = NAME, .destroy = cpu_destroy, .alloc = cpu_alloc, .free = cpu_free,         \
        .set = cpu_set, .get = cpu_get, .supports_op = cpu_supports, .compute = cpu_compute, \
        .sync = cpu_sync,                                                                   \
    }
static const se_backend_vtbl g_cpu_vtbl = CPU_VTBL("cpu");
static const se_backend_vtbl g_cpu_naive_vtbl = CPU_VTBL("cpu-naive");
#undef CPU_VTBL

se_status cpu_scratch_reserve(se_cpu *c, size_t nfloats) {
    for (int t = 0; t < c->threads; t++) {
        if (c->scratch_cap[t] >= nfloats) continue;
        size_t n = nfloats + nfloats / 4;  /* grow with headroom so it settles quickly */
        free(c->scratch[t]);
        c->scratch[t] = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
        if (!c->scratch[t]) {
            c->scratch_cap[t] = 0;
            return se_fail(SE_ERR_NOMEM, "cpu backend: no memory for %zu bytes of scratch", n * sizeof(float));
        }
        c->scratch_cap[t] = n;
    }
    return SE_OK;
}

se_status cpu_shared_reserve(se_cpu *c, size_t nfloats) {
    if (c->shared_cap >= nfloats) return SE_OK;
    size_t n = nfloats + nfloats / 4;
    free(c->shared);
    c->shared = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!c->shared) {
        c->shared_cap = 0;
        return se_fail(SE_ERR_NOMEM, "cpu backend: no memory for %zu bytes of shared scratch", n * sizeof(float));
    }
    c->shared_cap = n;
    return SE_OK;
}

se_status se_backend_cpu_new(const se_cpu_params *p, se_backend **out) {
    if (!out) return se_fail(SE_ERR_INVALID_ARG, "se_backend_cpu_new: NULL out");
    *out = NULL;
    se_cpu_params def;
    if (!p) {
        se_cpu_params_init(&def);
        p = &def;
    }
    if (p->threads < 0) return se_fail(SE_ERR_INVALID_ARG, "se_backend_cpu_new: threads %d < 0", p->threads);
    se_backend *be = calloc(1, sizeof *be);
    se_cpu *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return se_fail(SE_ERR_NOMEM, "se_backend_cpu_new: no memory");
    }
    be->vt = p->naive ? &g_cpu_naive_vtbl : &g_cpu_vtbl;
    be->impl = c;
    be->weight_dtype = SE_F32;
    be->act_dtype = SE_F32;
    c->naive = p->naive;
    se_cpu_gemm_threading gt = p->gemm_threading;
    const char *env = getenv("STRIKE_CPU_GEMM");
    if (env && strcmp(env, "blas") == 0) gt = SE_CPU_GEMM_BLAS;
    if (env && strcmp(env, "pool") == 0) gt = SE_CPU_GEMM_POOL;
    c->blas_threads = !p->naive && gt == SE_CPU_GEMM_BLAS && strcmp(cpu_gemm_impl(), "openblas") == 0;
    /* automatic: every CPU we may run on, at most 64 (past that a UNet's ops stop scaling, and
     * it is the thread limit distributions build OpenBLAS with) */
    int autothreads = cpu_count() < 64 ? cpu_count() : 64;
    c->threads = p->naive ? 1 : (p->threads ? p->threads : autothreads);
    c->scratch = calloc((size_t)c->threads, sizeof *c->scratch);
    c->scratch_cap = calloc((size_t)c->threads, sizeof *c->scratch_cap);
    if (!c->scratch || !c->scratch_cap) {
        cpu_destroy(be);
        return se_fail(SE_ERR_NOMEM, "se_backend_cpu_new: no memory");
    }
    if (c->threads > 1) {
        c->pool = cpu_pool_new(c->threads);
        if (!c->pool) {
            cpu_destroy(be);
            return se_fail(SE_ERR_NOMEM, "se_backend_cpu_new: could not start %d threads", c->threads);
        }
    }
    if (!c->naive) {
        cpu_gemm_init();
        cpu_detect_features();
    }
    *out = be;
    return SE_OK;
}
