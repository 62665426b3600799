/*
 * backend_cuda_stub.c - stands in for the CUDA backend when the engine is built without CUDA,
 * so callers get a clear error instead of a link failure.
 */
#include "core/backend_cuda.h"
#include "core/error.h"

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
