/*
 * cuda_internal.h - what the CUDA backend's files share: the backend state, the checking macros
 * for every CUDA and cuBLAS call, device scratch from the stream-ordered pool, and one launcher
 * per op family (each in its own .cu file).
 *
 * Included from C (backend_cuda.c) and from CUDA C++ (*.cu); the engine's core headers have no
 * C++ guards, so this header wraps them in extern "C".
 *
 * Error reporting: SE_CU(opname, call) and SE_CUBLAS(opname, call) run the call once and on
 * failure return se_fail(SE_ERR_CUDA / SE_ERR_CUBLAS, ...) naming the op, the statement, the
 * file and line and the library's error name and string. Kernel launches are followed by
 * SE_CU_LAUNCH(opname), which checks cudaGetLastError().
 */
#ifndef STRIKE_ENGINE_CUDA_INTERNAL_H
#define STRIKE_ENGINE_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/backend.h"
#include "core/backend_cuda.h"
#include "core/error.h"
#include "cuda/wcache.h"

/* Attention implementation (attention.cu): batched GEMM + softmax, or the fused kernel. */
typedef enum se_cuda_attn { SE_CUDA_ATTN_GEMM = 0, SE_CUDA_ATTN_FLASH = 1 } se_cuda_attn;

/* The CUDA backend's private state (se_backend.impl). One stream and one cuBLAS handle per
 * backend; all work, allocation and frees are ordered on that stream. */
typedef struct se_cuda {
    int device;                 /* CUDA device ordinal */
    se_dtype compute;           /* SE_BF16, SE_F16 or SE_F32 */
    cudaStream_t stream;
    cudaMemPool_t pool;         /* the device's default pool, release threshold raised */
    cublasHandle_t blas;
    void *blas_ws;              /* cuBLAS workspace (fixed, set once) */
    size_t blas_ws_bytes;
    char name[256];             /* device name, for messages and benchmarks */
    size_t total_mem;           /* bytes */
    int sm_major, sm_minor;
    se_cuda_attn attn;          /* from STRIKE_CUDA_ATTENTION (gemm | flash) at creation */
    int capturing;              /* between se_cuda_capture_begin and _end */
    se_wcache wcache;           /* conv weights in GEMM layout, packed once (wcache.h); limit
                                   from STRIKE_CUDA_CONV_WCACHE_MB at creation (0: off) */
} se_cuda;

/* ---- error checking (statement, file, line, library message, op name) ---- */

se_status se_cuda_fail(const char *opname, const char *stmt, const char *file, int line,
                       cudaError_t err);
se_status se_cublas_fail(const char *opname, const char *stmt, const char *file, int line,
                         cublasStatus_t err);

#define SE_CU(opname, call)                                                                       \
    do {                                                                                          \
        cudaError_t se_cu_err_ = (call);                                                          \
        if (se_cu_err_ != cudaSuccess)                                                            \
            return se_cuda_fail((opname), #call, __FILE__, __LINE__, se_cu_err_);                \
    } while (0)

#define SE_CUBLAS(opname, call)                                                                   \
    do {                                                                                          \
        cublasStatus_t se_cb_err_ = (call);                                                       \
        if (se_cb_err_ != CUBLAS_STATUS_SUCCESS)                                                  \
            return se_cublas_fail((opname), #call, __FILE__, __LINE__, se_cb_err_);              \
    } while (0)

/* After a kernel launch: configuration errors show up here (execution errors at the next sync). */
#define SE_CU_LAUNCH(opname) SE_CU((opname), cudaGetLastError())

/* ---- scratch: stream-ordered allocations from the pool (no cudaMalloc per op) ---- */

se_status se_cuda_scratch(se_cuda *c, const char *opname, size_t bytes, void **out);
/* Frees scratch in stream order (the memory returns to the pool once queued work is done). */
void se_cuda_scratch_free(se_cuda *c, void *p);

/* Frees a packed weight copy dropped from the cache: stream-ordered, or deferred to the end of
 * a running graph capture (so the free is not recorded into the graph). user is the se_cuda. */
void se_cuda_wcache_drop(void *user, void *packed);

/* ---- GEMM (gemm.cu): row-major, strided-batched, through cublasGemmEx ----
 * C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b]; op(A) is MxK (A stored KxM when ta),
 * op(B) is KxN (B stored NxK when tb). A and B have dtype ab (F32/F16/BF16); C has dtype cdt
 * (F32, or ab). Accumulation is always fp32 (CUBLAS_COMPUTE_32F: no TF32 for F32 inputs). */
typedef struct se_gemm {
    int ta, tb;
    int64_t M, N, K;
    se_dtype ab, cdt;
    const void *A; int64_t lda; int64_t sA;     /* strides between batches, in elements */
    const void *B; int64_t ldb; int64_t sB;
    void *C; int64_t ldc; int64_t sC;
    int64_t batch;
    float alpha, beta;
} se_gemm;
se_status se_cuda_gemm(se_cuda *c, const char *opname, const se_gemm *g);

/* ---- op families (one .cu each); shapes were checked by core/ops.c and supports_op ---- */
se_status se_cuda_conv2d(se_cuda *c, const se_op *op);          /* conv.cu */
se_status se_cuda_linear(se_cuda *c, const se_op *op);          /* linear.cu */
se_status se_cuda_group_norm(se_cuda *c, const se_op *op);      /* norm.cu */
se_status se_cuda_layer_norm(se_cuda *c, const se_op *op);      /* norm.cu */
se_status se_cuda_act(se_cuda *c, const se_op *op);             /* act.cu: SILU GELU QUICK_GELU GEGLU */
se_status se_cuda_softmax(se_cuda *c, const se_op *op);         /* softmax.cu */
se_status se_cuda_attention(se_cuda *c, const se_op *op);       /* attention.cu */
se_status se_cuda_shape(se_cuda *c, const se_op *op);           /* shape.cu: UPSAMPLE CONCAT COPY */
se_status se_cuda_elementwise(se_cuda *c, const se_op *op);     /* elementwise.cu: ADD SCALE_ADD */
se_status se_cuda_embed(se_cuda *c, const se_op *op);           /* embed.cu: GATHER TIMESTEP_EMBEDDING */

/* Fills n elements of dtype dt at dst with uniform values in [lo, hi) (lo == hi: that constant),
 * a Philox4x32-10 hash of (seed; element, stream): deterministic, no host data. (random_fill.cu) */
se_status se_cuda_random_fill(se_cuda *c, void *dst, se_dtype dt, int64_t n, float lo, float hi,
                              uint64_t seed, uint64_t stream);

/* Row softmax (softmax.cu; attention.cu uses it too): y[r, :n] = softmax(scale * x[r, :n]) for
 * rows r, row strides ldx / ldy in elements, dtypes xdt / ydt. causal: row r is query
 * q0 + (r % rows_per_head), and keys j greater than that query get probability 0. */
se_status se_cuda_softmax_rows(se_cuda *c, const char *opname, const void *x, se_dtype xdt,
                               int64_t ldx, void *y, se_dtype ydt, int64_t ldy, int64_t rows,
                               int64_t n, float scale, int causal, int64_t rows_per_head,
                               int64_t q0);

/* Fills dst rows [M, N] (row stride ldd elements, dtype ddt) with bias [N] (dtype bdt); used to
 * seed GEMM outputs so the bias is added before the single rounding. (linear.cu) */
se_status se_cuda_fill_bias(se_cuda *c, const char *opname, void *dst, se_dtype ddt, int64_t ldd,
                            int64_t M, int64_t N, const void *bias, se_dtype bdt);

/* Runtime-dtype element access is the rule for memory-bound kernels (few instantiations, short
 * compile); compute-bound work goes through cuBLAS. */
static inline int se_cuda_is_float(se_dtype dt) {
    return dt == SE_F32 || dt == SE_F16 || dt == SE_BF16;
}

/* Grid size for a grid-stride loop over n items with 256-thread blocks. */
static inline unsigned se_cuda_blocks(int64_t n) {
    int64_t b = (n + 255) / 256;
    if (b < 1) b = 1;
    if (b > 65535LL * 8) b = 65535LL * 8;
    return (unsigned)b;
}

#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
/* A grid for "one row per blockIdx.x, the row's columns over blockIdx.y x 256 threads (and a
 * loop)": no per-element integer division. rows must be < 2^31 (callers check). */
static inline dim3 se_cuda_rows_grid(int64_t rows, int64_t cols) {
    int64_t y = (cols + 255) / 256;
    if (y < 1) y = 1;
    if (y > 64) y = 64;
    return dim3((unsigned)(rows < 1 ? 1 : rows), (unsigned)y);
}
#define SE_ROW_STRIDE(j, cols)                                                                    \
    for (int64_t j = (int64_t)blockIdx.y * blockDim.x + threadIdx.x; j < (cols);                  \
         j += (int64_t)gridDim.y * blockDim.x)

/* ---- device helpers shared by the kernels ---- */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

__device__ __forceinline__ float se_ld(const void *p, int dt, int64_t i) {
    if (dt == SE_F32) return ((const float *)p)[i];
    if (dt == SE_F16) return __half2float(((const __half *)p)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

__device__ __forceinline__ void se_st(void *p, int dt, int64_t i, float v) {
    if (dt == SE_F32) ((float *)p)[i] = v;
    else if (dt == SE_F16) ((__half *)p)[i] = __float2half_rn(v);
    else ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

/* Sum (or max) of v over a block of blockDim.x threads (a multiple of 32, at most 1024); every
 * thread gets the result. sh needs 32 floats of shared memory; safe to call repeatedly. */
__device__ __forceinline__ float se_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float se_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float se_block_reduce(float v, float *sh, bool is_max) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = is_max ? se_warp_max(v) : se_warp_sum(v);
    __syncthreads();                      /* sh may still be read from a previous call */
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float r = lane < nw ? sh[lane] : (is_max ? -INFINITY : 0.0f);
    return is_max ? se_warp_max(r) : se_warp_sum(r);
}

#define SE_GRID_STRIDE(i, n)                                                                      \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                     \
         i += (int64_t)gridDim.x * blockDim.x)
#endif

#endif
