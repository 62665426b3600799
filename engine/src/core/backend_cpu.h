/*
 * backend_cpu.h - the CPU backend.
 *
 * Two modes in one backend: "naive" (plain loops, the reference the tests trust) and the
 * production path (OpenBLAS GEMM, multi-threaded). Only F32 compute.
 */
#ifndef STRIKE_ENGINE_BACKEND_CPU_H
#define STRIKE_ENGINE_BACKEND_CPU_H

#include "core/backend.h"

typedef struct se_cpu_params {
    bool naive;     /* true: the reference loops only (tests); false: the tuned path */
    int threads;    /* 0: all cores */
} se_cpu_params;

void se_cpu_params_init(se_cpu_params *p);
/* Returns SE_OK and a backend in *out. */
se_status se_backend_cpu_new(const se_cpu_params *p, se_backend **out);

#endif
