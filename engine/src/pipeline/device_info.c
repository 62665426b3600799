/*
 * device_info.c - se_engine_device_info: the device an engine renders on (its name and memory),
 * for callers that see only the public API (strike-worker reports it at Register). The CUDA
 * backend's details come from cuda/cuda_info.h (the stub reports SE_ERR_UNSUPPORTED without
 * CUDA); the CPU backend is "cpu" with no memory figure.
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "cuda/cuda_info.h"
#include "pipeline/engine_internal.h"
#include "strike/engine.h"

se_status se_engine_device_info(const se_engine *e, se_device_info *out) {
    if (!e || !out) return se_fail(SE_ERR_INVALID_ARG, "se_engine_device_info: NULL argument");
    memset(out, 0, sizeof *out);
    const char *kind = se_engine_backend_name(e);
    if (strcmp(kind, "cuda") != 0) {
        snprintf(out->name, sizeof out->name, "%s", kind);
        return SE_OK;
    }
    se_cuda_info info;
    memset(&info, 0, sizeof info);
    se_status st = se_cuda_backend_info(e->be, &info);
    if (st != SE_OK) return st;
    snprintf(out->name, sizeof out->name, "%s", info.name[0] ? info.name : "cuda (unknown device)");
    out->memory_bytes = (uint64_t)info.total_mem;
    return SE_OK;
}
