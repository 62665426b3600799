/*
 * backend.h - the backend interface: an opaque handle over a table of function pointers.
 *
 * Model code talks only to this interface (through ops.h), never to a backend directly, and
 * contains no #ifdef for CUDA. Backends: cpu (backend_cpu.h) and cuda (backend_cuda.h).
 *
 * Memory: alloc/free give backend memory (host memory on the CPU, device memory on CUDA);
 * set/get copy between host and backend memory. compute() may be asynchronous (CUDA stream);
 * get() and sync() wait for it. Errors come back as se_status with se_last_error() naming the op.
 */
#ifndef STRIKE_ENGINE_BACKEND_H
#define STRIKE_ENGINE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "core/op.h"

typedef struct se_backend se_backend;

typedef struct se_backend_vtbl {
    const char *name;                                       /* "cpu", "cpu-naive", "cuda" */
    void (*destroy)(se_backend *be);
    se_status (*alloc)(se_backend *be, size_t bytes, void **out);
    void (*free)(se_backend *be, void *ptr);
    se_status (*set)(se_backend *be, void *dst, const void *host_src, size_t bytes);
    se_status (*get)(se_backend *be, void *host_dst, const void *src, size_t bytes);
    /* May dst/srcs of this op, with these dtypes and shapes, run here? Tests use it to skip. */
    bool (*supports_op)(se_backend *be, const se_op *op);
    se_status (*compute)(se_backend *be, const se_op *op);
    se_status (*sync)(se_backend *be);
} se_backend_vtbl;

struct se_backend {
    const se_backend_vtbl *vt;
    void *impl;                 /* backend-private state */
    se_dtype weight_dtype;      /* dtype the backend wants weights in (F32 on CPU) */
    se_dtype act_dtype;         /* dtype the backend wants activations in (F32 on CPU) */
};

/* Thin wrappers over the vtable. */
se_status se_backend_alloc(se_backend *be, size_t bytes, void **out);
void se_backend_free(se_backend *be, void *ptr);
se_status se_backend_set(se_backend *be, void *dst, const void *host_src, size_t bytes);
se_status se_backend_get(se_backend *be, void *host_dst, const void *src, size_t bytes);
bool se_backend_supports(se_backend *be, const se_op *op);
se_status se_backend_compute(se_backend *be, const se_op *op);
se_status se_backend_sync(se_backend *be);
const char *se_backend_name(const se_backend *be);
/* Accepts NULL; sets *be to NULL. */
void se_backend_destroy(se_backend **be);

/* Tensor upload/download helpers: copy a contiguous host array of t's dtype into/out of t. */
se_status se_tensor_set_data(se_backend *be, se_tensor *t, const void *host, size_t bytes);
se_status se_tensor_get_data(se_backend *be, const se_tensor *t, void *host, size_t bytes);

#endif
