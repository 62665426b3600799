/*
 * cuda_info.h - CUDA-only extras for tests and benchmarks: device name, memory, pool peak, conv
 * weight cache counters, the backend's stream, graph capture/replay and a device-side random fill.
 * Implemented by the CUDA backend (STRIKE_HAVE_CUDA); without CUDA, cuda_stub/ provides the same
 * functions, which report SE_ERR_UNSUPPORTED. Model code never includes it.
 */
#ifndef STRIKE_ENGINE_CUDA_INFO_H
#define STRIKE_ENGINE_CUDA_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

typedef struct se_cuda_info {
    char name[256];             /* e.g. "NVIDIA H100 80GB HBM3" */
    int device;
    int sm_major, sm_minor;
    size_t total_mem;           /* bytes */
    size_t pool_reserved_peak;  /* high-water mark of memory the pool held from the driver, bytes */
    size_t pool_used_peak;      /* high-water mark of memory handed out (buffers + scratch), bytes */
    size_t conv_wcache_bytes;   /* conv weights held in GEMM layout (wcache.h), bytes */
    size_t conv_wcache_entries;
    unsigned long long conv_wcache_hits, conv_wcache_misses;
} se_cuda_info;

/* SE_ERR_INVALID_ARG when be is not a cuda backend. */
se_status se_cuda_backend_info(se_backend *be, se_cuda_info *info);
/* Resets the pool's high-water marks (to what is reserved / in use now). */
se_status se_cuda_reset_peak(se_backend *be);
/* The backend's cudaStream_t (as void *), NULL when be is not a cuda backend. */
void *se_cuda_backend_stream(se_backend *be);

/* ---- CUDA graphs: capture everything the backend queues (ops, scratch allocations, cuBLAS)
 * between begin and end, then replay it with one launch. Run the work once uncaptured first, so
 * arenas and weights exist before the capture (memory allocated inside a capture belongs to the
 * graph). While capturing, set/get/sync and GATHER (which reads back a flag) fail with
 * SE_ERR_UNSUPPORTED, and the capture must be ended (se_cuda_capture_end) to recover. The capture
 * is cudaStreamCaptureModeThreadLocal on the backend's stream (other threads' CUDA calls are not
 * affected); op scratch taken inside it becomes the graph's own memory nodes; cuBLAS runs on the
 * fixed workspace set at creation. The pipeline replays the UNet step this way
 * (pipeline/unet_graph.c, STRIKE_CUDA_GRAPH). ---- */
typedef struct se_cuda_graph se_cuda_graph;

se_status se_cuda_capture_begin(se_backend *be);
/* Ends the capture and instantiates the graph into *out (NULL on failure). */
se_status se_cuda_capture_end(se_backend *be, se_cuda_graph **out);
/* Queues one replay on the backend's stream (asynchronous, like compute). */
se_status se_cuda_graph_launch(se_backend *be, se_cuda_graph *g);
/* Accepts NULL; sets *g to NULL. */
void se_cuda_graph_destroy(se_cuda_graph **g);

/* ---- device-side random fill: n elements of dtype dt (F32/F16/BF16) at dst, uniform in
 * [lo, hi) (lo == hi: that constant), deterministic for (seed, stream) (random_fill.h gives the
 * exact values). Asynchronous, on the backend's stream. The signature is io/weights.h's
 * se_weights_random_fn, so benchmarks pass it to se_weights_set_random_fill and random weights
 * are made on the device. SE_ERR_UNSUPPORTED when be is not a cuda backend (or CUDA is not
 * built). ---- */
se_status se_cuda_fill_uniform(se_backend *be, void *dst, se_dtype dt, size_t n, float lo,
                               float hi, uint64_t seed, uint64_t stream);

#endif
