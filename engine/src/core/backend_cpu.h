/*
 * backend_cpu.h - the CPU backend.
 *
 * Two modes in one backend: "naive" (plain loops, the reference the tests trust) and the
 * production path (OpenBLAS GEMM, multi-threaded). Only F32 compute.
 *
 * One backend runs one op at a time: its thread pool and scratch memory serve the op in progress,
 * so a backend must not be used from two threads at once (give each thread its own backend).
 */
#ifndef STRIKE_ENGINE_BACKEND_CPU_H
#define STRIKE_ENGINE_BACKEND_CPU_H

#include "core/backend.h"

/* Who runs a large GEMM's threads on the fast path (see docs/engine.md, "Threading"). */
typedef enum se_cpu_gemm_threading {
    SE_CPU_GEMM_POOL = 0,   /* our pool splits C into tiles, single-threaded BLAS per tile (default) */
    SE_CPU_GEMM_BLAS = 1,   /* linear/conv GEMMs call OpenBLAS once with `threads` BLAS threads */
} se_cpu_gemm_threading;

typedef struct se_cpu_params {
    bool naive;     /* true: the reference loops only (tests); false: the tuned path */
    int threads;    /* 0: all CPUs this process may run on (at most 64) */
    /* SE_CPU_GEMM_POOL by default; the environment variable STRIKE_CPU_GEMM=blas or =pool
     * overrides it (for benchmarking both on a given machine). Ignored without OpenBLAS. */
    se_cpu_gemm_threading gemm_threading;
} se_cpu_params;

void se_cpu_params_init(se_cpu_params *p);
/* Returns SE_OK and a backend in *out. */
se_status se_backend_cpu_new(const se_cpu_params *p, se_backend **out);

#endif
