/*
 * backend_cuda.h - the CUDA backend (kernels + cuBLAS), compiled whenever nvcc is present.
 *
 * se_backend_cuda_new returns SE_ERR_NO_DEVICE with a clear message when the machine has no
 * CUDA device, and SE_ERR_UNSUPPORTED when the engine was built without CUDA.
 */
#ifndef STRIKE_ENGINE_BACKEND_CUDA_H
#define STRIKE_ENGINE_BACKEND_CUDA_H

#include "core/backend.h"

typedef struct se_cuda_params {
    int device;             /* CUDA device ordinal */
    se_dtype compute_dtype; /* SE_BF16 (default), SE_F16, or SE_F32 (TF32 off: the checking path) */
} se_cuda_params;

void se_cuda_params_init(se_cuda_params *p);
se_status se_backend_cuda_new(const se_cuda_params *p, se_backend **out);
/* Number of CUDA devices (0 when none or when built without CUDA). */
int se_cuda_device_count(void);

#endif
