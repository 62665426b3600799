/*
 * backend_cuda_stub.c - stands in for the CUDA backend when the engine is built without CUDA,
 * so callers get a clear error instead of a link failure (the constructor and cuda_info.h).
 */
#include <string.h>

#include "core/backend_cuda.h"
#include "core/error.h"
#include "cuda/cuda_info.h"

void se_cuda_params_init(se_cuda_params *p) {
    p->device = 0;
    p->compute_dtype = SE_BF16;
}

se_status se_backend_cuda_new(const se_cuda_params *p, se_backend **out) {
    (void)p;
    *out = NULL;
    return se_fail(SE_ERR_UNSUPPORTED, "this engine was built without CUDA (nvcc was not found at configure time)");
}

int se_cuda_device_count(void) { return 0; }

/* ---- cuda_info.h without CUDA: nothing can be a cuda backend, so every call is refused ---- */

static se_status no_cuda(const char *what) {
    return se_fail(SE_ERR_UNSUPPORTED, "%s: this engine was built without CUDA", what);
}

se_status se_cuda_backend_info(se_backend *be, se_cuda_info *info) {
    (void)be;
    memset(info, 0, sizeof *info);
    return no_cuda("se_cuda_backend_info");
}

se_status se_cuda_reset_peak(se_backend *be) {
    (void)be;
    return no_cuda("se_cuda_reset_peak");
}

void *se_cuda_backend_stream(se_backend *be) {
    (void)be;
    return NULL;
}

se_status se_cuda_capture_begin(se_backend *be) {
    (void)be;
    return no_cuda("se_cuda_capture_begin");
}

se_status se_cuda_capture_end(se_backend *be, se_cuda_graph **out) {
    (void)be;
    if (out) *out = NULL;
    return no_cuda("se_cuda_capture_end");
}

se_status se_cuda_graph_launch(se_backend *be, se_cuda_graph *g) {
    (void)be;
    (void)g;
    return no_cuda("se_cuda_graph_launch");
}

void se_cuda_graph_destroy(se_cuda_graph **g) {
    if (g) *g = NULL;
}

se_status se_cuda_fill_uniform(se_backend *be, void *dst, se_dtype dt, size_t n, float lo,
                               float hi, uint64_t seed, uint64_t stream) {
    (void)be, (void)dst, (void)dt, (void)n, (void)lo, (void)hi, (void)seed, (void)stream;
    return no_cuda("se_cuda_fill_uniform");
}
