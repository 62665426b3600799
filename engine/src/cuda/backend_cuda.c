/*
 * backend_cuda.c - the CUDA backend's vtable: device discovery, one stream and one cuBLAS handle
 * per backend, device memory from the stream-ordered pool (cudaMallocAsync on the device's
 * default mempool with its release threshold raised, so freed blocks are cached and reused
 * instead of going back to the driver), host<->device copies, supports_op and the op dispatch.
 *
 * The kernels live in one .cu file per op family (cuda_internal.h lists them). This file is C,
 * so it is compiled with the rest of the engine's warnings and sanitizers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_info.h"
#include "cuda/cuda_internal.h"

#define SE_CUDA_BLAS_WS_BYTES (32u << 20)   /* cuBLAS workspace: fixed so graphs can capture GEMMs */

/* ---- error reporting ---- */

se_status se_cuda_fail(const char *opname, const char *stmt, const char *file, int line,
                       cudaError_t err) {
    /* Out-of-memory keeps its own code so callers can shrink a batch. */
    se_status st = err == cudaErrorMemoryAllocation ? SE_ERR_NOMEM : SE_ERR_CUDA;
    return se_fail(st, "cuda %s: %s failed at %s:%d: %s (%s)", opname, stmt, file, line,
                   cudaGetErrorName(err), cudaGetErrorString(err));
}

se_status se_cublas_fail(const char *opname, const char *stmt, const char *file, int line,
                         cublasStatus_t err) {
    return se_fail(SE_ERR_CUBLAS, "cuda %s: %s failed at %s:%d: %s (%s)", opname, stmt, file, line,
                   cublasGetStatusName(err), cublasGetStatusString(err));
}

/* ---- scratch ---- */

se_status se_cuda_scratch(se_cuda *c, const char *opname, size_t bytes, void **out) {
    *out = NULL;
    if (bytes == 0) bytes = 256;
    SE_CU(opname, cudaMallocAsync(out, bytes, c->stream));
    return SE_OK;
}

void se_cuda_scratch_free(se_cuda *c, void *p) {
    /* A failing stream-ordered free means the stream is already broken; the next op or sync
     * reports that, so the status is deliberately dropped here. */
    if (p) (void)cudaFreeAsync(p, c->stream);
}

/* ---- conv weight cache (wcache.h) ---- */

void se_cuda_wcache_drop(void *user, void *packed) {
    se_cuda *c = user;
    if (!packed) return;
    if (c->capturing) {
        /* Freeing now would record a free node into the graph; keep it for after the capture.
         * If even that list cannot grow, leaking one copy is the safe choice. */
        (void)se_wcache_defer(&c->wcache, packed);
        return;
    }
    (void)cudaFreeAsync(packed, c->stream);
}

static void wcache_free_now(void *user, void *packed) {
    se_cuda *c = user;
    if (packed) (void)cudaFreeAsync(packed, c->stream);
}

/* Frees the copies whose free was deferred during a capture (outside a capture only). */
static void wcache_flush(se_cuda *c) {
    if (!c->capturing && c->wcache.np) se_wcache_flush(&c->wcache, wcache_free_now, c);
}

/* ---- device discovery ---- */

void se_cuda_params_init(se_cuda_params *p) {
    p->device = 0;
    p->compute_dtype = SE_BF16;
}

int se_cuda_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();   /* not sticky, but leave no error behind */
        return 0;
    }
    return n;
}

/* ---- vtable ---- */

static se_cuda *impl(se_backend *be) { return (se_cuda *)be->impl; }

static void cuda_destroy(se_backend *be) {
    se_cuda *c = impl(be);
    if (c) {
        (void)cudaSetDevice(c->device);
        if (c->capturing) {
            cudaGraph_t g = NULL;
            if (cudaStreamEndCapture(c->stream, &g) == cudaSuccess && g) (void)cudaGraphDestroy(g);
            (void)cudaGetLastError();
        }
        c->capturing = 0;
        if (c->stream) {
            se_wcache_clear(&c->wcache, wcache_free_now, c);
            se_wcache_flush(&c->wcache, wcache_free_now, c);
        }
        se_wcache_destroy(&c->wcache);
        if (c->stream) (void)cudaStreamSynchronize(c->stream);
        if (c->blas) (void)cublasDestroy(c->blas);
        if (c->blas_ws) (void)cudaFree(c->blas_ws);
        if (c->stream) (void)cudaStreamDestroy(c->stream);
        /* Give cached pool memory back to the driver (other backends on this device keep theirs
         * until they trim too; trimming only releases blocks nobody holds). */
        if (c->pool) (void)cudaMemPoolTrimTo(c->pool, 0);
        /* And what graph memory nodes (scratch inside captured work) still hold. */
        if (c->pool) (void)cudaDeviceGraphMemTrim(c->device);
        free(c);
    }
    free(be);
}

static se_status cuda_alloc(se_backend *be, size_t bytes, void **out) {
    se_cuda *c = impl(be);
    *out = NULL;
    SE_CU("alloc", cudaSetDevice(c->device));
    if (bytes == 0) bytes = 256;
    cudaError_t e = cudaMallocAsync(out, bytes, c->stream);
    if (e != cudaSuccess) {
        size_t fr = 0, tot = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&fr, &tot);
        *out = NULL;
        return se_fail(e == cudaErrorMemoryAllocation ? SE_ERR_NOMEM : SE_ERR_CUDA,
                       "cuda alloc: cudaMallocAsync of %zu bytes failed: %s (%s); device %d has "
                       "%zu of %zu bytes free",
                       bytes, cudaGetErrorName(e), cudaGetErrorString(e), c->device, fr, tot);
    }
    se_wcache_track(&c->wcache, *out, bytes, se_cuda_wcache_drop, c);
    return SE_OK;
}

static void cuda_free(se_backend *be, void *ptr) {
    se_cuda *c = impl(be);
    if (!ptr) return;
    (void)cudaSetDevice(c->device);
    /* Cached conv weights that lived in this allocation go with it. */
    se_wcache_untrack(&c->wcache, ptr, se_cuda_wcache_drop, c);
    (void)cudaFreeAsync(ptr, c->stream);
}

/* Host round trips cannot be part of a CUDA graph. */
static se_status no_capture(const se_cuda *c, const char *what) {
    if (!c->capturing) return SE_OK;
    return se_fail(SE_ERR_UNSUPPORTED, "cuda %s: not allowed while a CUDA graph is being captured "
                   "(end the capture first)", what);
}

static se_status cuda_set(se_backend *be, void *dst, const void *host_src, size_t bytes) {
    se_cuda *c = impl(be);
    SE_TRY(no_capture(c, "set"));
    SE_CU("set", cudaSetDevice(c->device));
    /* New contents for a cached conv weight: its packed copy is stale. */
    se_wcache_invalidate(&c->wcache, dst, bytes, se_cuda_wcache_drop, c);
    wcache_flush(c);
    SE_CU("set", cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c->stream));
    /* The caller may free host_src on return; waiting also surfaces earlier async errors. */
    SE_CU("set", cudaStreamSynchronize(c->stream));
    return SE_OK;
}

static se_status cuda_get(se_backend *be, void *host_dst, const void *src, size_t bytes) {
    se_cuda *c = impl(be);
    SE_TRY(no_capture(c, "get"));
    SE_CU("get", cudaSetDevice(c->device));
    SE_CU("get", cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    SE_CU("get", cudaStreamSynchronize(c->stream));
    return SE_OK;
}

static se_status cuda_sync(se_backend *be) {
    se_cuda *c = impl(be);
    SE_TRY(no_capture(c, "sync"));
    SE_CU("sync", cudaSetDevice(c->device));
    /* An error here came from an earlier asynchronous op (the message names the CUDA error). */
    SE_CU("sync (an earlier asynchronous op failed)", cudaStreamSynchronize(c->stream));
    return SE_OK;
}

/* ---- supports_op: exactly what the .cu files implement ---- */

static bool is_f(const se_tensor *t) { return t && se_cuda_is_float(t->dtype); }
static bool contig(const se_tensor *t) { return t && se_tensor_is_contiguous(t); }
/* An optional float vector (bias, gamma, beta) of n elements. */
static bool opt_vec(const se_tensor *t, int64_t n) {
    return !t || (is_f(t) && contig(t) && se_tensor_numel(t) == n);
}
/* In-place is fine only when dst and src have the same dtype and layout. */
static bool alias_ok(const se_tensor *dst, const se_tensor *src) {
    if (!dst->data || dst->data != src->data) return true;
    return dst->dtype == src->dtype && se_tensor_same_shape(dst, src);
}
/* dst does not share memory with src (tensors without data, as supports_op queries may pass,
 * count as distinct). */
static bool distinct(const se_tensor *dst, const se_tensor *src) {
    return !dst->data || !src || dst->data != src->data;
}
static bool gemm_dt(se_dtype dt) { return dt == SE_F32 || dt == SE_F16 || dt == SE_BF16; }

static bool cuda_supports(se_backend *be, const se_op *op) {
    (void)be;
    const se_tensor *d = op->dst, *a = op->src[0], *b = op->src[1], *e = op->src[2];
    if (!d || !a || !is_f(d) || !contig(d)) {
        /* GATHER's src0 is a float table too; TIMESTEP_EMBEDDING's src0 is F32. */
        return false;
    }
    switch (op->kind) {
    case SE_OP_CONV2D:
        return is_f(a) && b && a->dtype == b->dtype && d->dtype == a->dtype && gemm_dt(a->dtype) &&
               contig(a) && contig(b) && a->ndim == 4 && b->ndim == 4 && d->ndim == 4 &&
               op->i[0] >= 1 && op->i[0] <= 4 && op->i[1] >= 0 && op->i[1] <= 8 &&
               b->ne[2] >= 1 && b->ne[2] <= 7 && b->ne[3] >= 1 && b->ne[3] <= 7 &&
               opt_vec(e, b->ne[0]) && distinct(d, a);
    case SE_OP_LINEAR:
        return is_f(a) && b && a->dtype == b->dtype && d->dtype == a->dtype && gemm_dt(a->dtype) &&
               contig(a) && contig(b) && b->ndim == 2 && opt_vec(e, b->ne[0]) &&
               distinct(d, a);
    case SE_OP_GROUP_NORM:
        return is_f(a) && contig(a) && a->ndim >= 2 && op->i[0] >= 1 && a->ne[1] % op->i[0] == 0 &&
               opt_vec(b, a->ne[1]) && opt_vec(e, a->ne[1]) && alias_ok(d, a);
    case SE_OP_LAYER_NORM:
        return is_f(a) && contig(a) && opt_vec(b, a->ne[a->ndim > 0 ? a->ndim - 1 : 0]) &&
               opt_vec(e, a->ne[a->ndim > 0 ? a->ndim - 1 : 0]) && alias_ok(d, a);
    case SE_OP_SILU:
    case SE_OP_GELU:
    case SE_OP_QUICK_GELU:
    case SE_OP_SOFTMAX:
        return is_f(a) && contig(a) && alias_ok(d, a);
    case SE_OP_GEGLU:
        return is_f(a) && contig(a) && distinct(d, a);
    case SE_OP_ATTENTION:
        return is_f(a) && b && e && a->dtype == b->dtype && a->dtype == e->dtype &&
               d->dtype == a->dtype && contig(a) && contig(b) && contig(e) && a->ndim == 3 &&
               b->ndim == 3 && e->ndim == 3 && op->i[0] >= 1 && a->ne[2] % op->i[0] == 0 &&
               distinct(d, a) && distinct(d, b) && distinct(d, e);
    case SE_OP_UPSAMPLE_NEAREST2X:
        return is_f(a) && contig(a) && a->ndim == 4 && distinct(d, a);
    case SE_OP_CONCAT:
        return is_f(a) && is_f(b) && contig(a) && contig(b) && distinct(d, a) &&
               distinct(d, b);
    case SE_OP_ADD:
        return is_f(a) && is_f(b) && contig(a) && contig(b) && alias_ok(d, a) &&
               alias_ok(d, b);
    case SE_OP_SCALE_ADD:
        return is_f(a) && contig(a) && alias_ok(d, a) &&
               (!b || (is_f(b) && contig(b) && alias_ok(d, b)));
    case SE_OP_COPY:
        /* src may have any strides; in place is not supported (a permuting copy would race). */
        return is_f(a) && distinct(d, a);
    case SE_OP_GATHER:
        return is_f(a) && contig(a) && a->ndim == 2 && b && b->dtype == SE_I32 && contig(b);
    case SE_OP_TIMESTEP_EMBEDDING:
        return a->dtype == SE_F32 && contig(a) && d->ndim == 2 && d->ne[1] % 2 == 0;
    case SE_OP_COUNT:
        break;
    }
    return false;
}

static se_status cuda_compute(se_backend *be, const se_op *op) {
    se_cuda *c = impl(be);
    const char *name = se_op_name(op->kind);
    if (!cuda_supports(be, op)) {
        char s0[64] = "-", s1[64] = "-", sd[64] = "-";
        if (op->src[0]) se_tensor_shape_str(op->src[0], s0, sizeof s0);
        if (op->src[1]) se_tensor_shape_str(op->src[1], s1, sizeof s1);
        if (op->dst) se_tensor_shape_str(op->dst, sd, sizeof sd);
        return se_fail(SE_ERR_UNSUPPORTED,
                       "cuda %s: unsupported dtypes/layout: src0 '%s' %s %s, src1 '%s' %s %s, "
                       "dst '%s' %s %s (see supports_op in backend_cuda.c)",
                       name, op->src[0] ? op->src[0]->name : "-", s0,
                       op->src[0] ? se_dtype_name(op->src[0]->dtype) : "-",
                       op->src[1] ? op->src[1]->name : "-", s1,
                       op->src[1] ? se_dtype_name(op->src[1]->dtype) : "-",
                       op->dst ? op->dst->name : "-", sd,
                       op->dst ? se_dtype_name(op->dst->dtype) : "-");
    }
    if (se_tensor_numel(op->dst) == 0) return SE_OK;
    if (op->kind == SE_OP_GATHER) SE_TRY(no_capture(c, "gather"));
    SE_CU(name, cudaSetDevice(c->device));
    /* An op that writes into a cached conv weight makes its packed copy stale (dst is
     * contiguous, supports_op checked). */
    if (c->wcache.n) se_wcache_invalidate(&c->wcache, op->dst->data, se_tensor_nbytes(op->dst),
                                          se_cuda_wcache_drop, c);
    wcache_flush(c);
    switch (op->kind) {
    case SE_OP_CONV2D: return se_cuda_conv2d(c, op);
    case SE_OP_LINEAR: return se_cuda_linear(c, op);
    case SE_OP_GROUP_NORM: return se_cuda_group_norm(c, op);
    case SE_OP_LAYER_NORM: return se_cuda_layer_norm(c, op);
    case SE_OP_SILU:
    case SE_OP_GELU:
    case SE_OP_QUICK_GELU:
    case SE_OP_GEGLU: return se_cuda_act(c, op);
    case SE_OP_SOFTMAX: return se_cuda_softmax(c, op);
    case SE_OP_ATTENTION: return se_cuda_attention(c, op);
    case SE_OP_UPSAMPLE_NEAREST2X:
    case SE_OP_CONCAT:
    case SE_OP_COPY: return se_cuda_shape(c, op);
    case SE_OP_ADD:
    case SE_OP_SCALE_ADD: return se_cuda_elementwise(c, op);
    case SE_OP_GATHER:
    case SE_OP_TIMESTEP_EMBEDDING: return se_cuda_embed(c, op);
    case SE_OP_COUNT: break;
    }
    return se_fail(SE_ERR_INVALID_ARG, "cuda: bad op kind %d", (int)op->kind);
}

static const se_backend_vtbl k_cuda_vtbl = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .set = cuda_set,
    .get = cuda_get,
    .supports_op = cuda_supports,
    .compute = cuda_compute,
    .sync = cuda_sync,
};

/* Sets up stream, pool and cuBLAS on c->device. On failure the caller destroys what exists. */
static se_status cuda_init(se_cuda *c) {
    struct cudaDeviceProp prop;
    SE_CU("init", cudaSetDevice(c->device));
    SE_CU("init", cudaGetDeviceProperties(&prop, c->device));
    snprintf(c->name, sizeof c->name, "%s", prop.name);
    c->total_mem = prop.totalGlobalMem;
    c->sm_major = prop.major;
    c->sm_minor = prop.minor;
    if (prop.major < 7 || (prop.major == 7 && prop.minor < 5))
        return se_fail(SE_ERR_UNSUPPORTED, "cuda: device %d (%s) has compute capability %d.%d; "
                       "CUDA 13 and this engine need 7.5 or newer (8.0+ for bf16)",
                       c->device, c->name, prop.major, prop.minor);
    if (c->compute == SE_BF16 && prop.major < 8)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda: device %d (%s, sm_%d%d) has no bf16 tensor cores; "
                       "use compute_dtype F16 or F32", c->device, c->name, prop.major, prop.minor);
    int pools = 0;
    SE_CU("init", cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, c->device));
    if (!pools)
        return se_fail(SE_ERR_UNSUPPORTED, "cuda: device %d (%s) does not support stream-ordered "
                       "memory pools (cudaMallocAsync)", c->device, c->name);
    SE_CU("init", cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    SE_CU("init", cudaDeviceGetDefaultMemPool(&c->pool, c->device));
    uint64_t keep = UINT64_MAX;     /* never give freed blocks back to the driver at syncs */
    SE_CU("init", cudaMemPoolSetAttribute(c->pool, cudaMemPoolAttrReleaseThreshold, &keep));
    SE_CUBLAS("init", cublasCreate(&c->blas));
    SE_CUBLAS("init", cublasSetStream(c->blas, c->stream));
    /* Default math: no TF32 for F32 GEMMs (the checking path); bf16/f16 use tensor cores. */
    SE_CUBLAS("init", cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    SE_CUBLAS("init", cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));
    c->blas_ws_bytes = SE_CUDA_BLAS_WS_BYTES;
    SE_CU("init", cudaMalloc(&c->blas_ws, c->blas_ws_bytes));
    SE_CUBLAS("init", cublasSetWorkspace(c->blas, c->blas_ws, c->blas_ws_bytes));
    return SE_OK;
}

se_status se_backend_cuda_new(const se_cuda_params *p, se_backend **out) {
    if (!out) return se_fail(SE_ERR_INVALID_ARG, "se_backend_cuda_new: NULL out");
    *out = NULL;
    se_cuda_params def;
    if (!p) {
        se_cuda_params_init(&def);
        p = &def;
    }
    if (p->compute_dtype != SE_F32 && p->compute_dtype != SE_F16 && p->compute_dtype != SE_BF16)
        return se_fail(SE_ERR_INVALID_ARG, "se_backend_cuda_new: compute_dtype %d is not F32, F16 "
                       "or BF16", (int)p->compute_dtype);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return se_fail(SE_ERR_NO_DEVICE, "no CUDA device (cudaGetDeviceCount: %s: %s)",
                       cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (n <= 0) return se_fail(SE_ERR_NO_DEVICE, "no CUDA device (cudaGetDeviceCount: 0 devices)");
    if (p->device < 0 || p->device >= n)
        return se_fail(SE_ERR_NO_DEVICE, "no CUDA device %d (this machine has %d: 0..%d)",
                       p->device, n, n - 1);

    se_backend *be = calloc(1, sizeof *be);
    se_cuda *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return se_fail(SE_ERR_NOMEM, "se_backend_cuda_new: no host memory for the backend");
    }
    c->device = p->device;
    c->compute = p->compute_dtype;
    const char *attn = getenv("STRIKE_CUDA_ATTENTION");
    if (attn && strcmp(attn, "flash") == 0) c->attn = SE_CUDA_ATTN_FLASH;
    else if (attn && *attn && strcmp(attn, "gemm") != 0) {
        free(be);
        free(c);
        return se_fail(SE_ERR_INVALID_ARG, "STRIKE_CUDA_ATTENTION='%s': expected gemm or flash", attn);
    }
    /* Conv weight cache limit in MiB (default 2048; 0 turns it off). */
    long wc_mb = 2048;
    const char *wc = getenv("STRIKE_CUDA_CONV_WCACHE_MB");
    if (wc && *wc) {
        char *end = NULL;
        wc_mb = strtol(wc, &end, 10);
        if (!end || *end || wc_mb < 0 || wc_mb > (1L << 20)) {
            free(be);
            free(c);
            return se_fail(SE_ERR_INVALID_ARG, "STRIKE_CUDA_CONV_WCACHE_MB='%s': expected MiB in "
                           "0..1048576", wc);
        }
    }
    se_wcache_init(&c->wcache, (size_t)wc_mb << 20);
    be->vt = &k_cuda_vtbl;
    be->impl = c;
    be->weight_dtype = p->compute_dtype;
    be->act_dtype = p->compute_dtype;
    se_status st = cuda_init(c);
    if (st != SE_OK) {
        cuda_destroy(be);
        return st;
    }
    *out = be;
    return SE_OK;
}

/* ---- extras for tests and benchmarks (declared in cuda_info.h) ---- */

se_status se_cuda_backend_info(se_backend *be, se_cuda_info *info) {
    memset(info, 0, sizeof *info);
    if (!be || strcmp(be->vt->name, "cuda") != 0)
        return se_fail(SE_ERR_INVALID_ARG, "se_cuda_backend_info: not a cuda backend");
    se_cuda *c = impl(be);
    snprintf(info->name, sizeof info->name, "%s", c->name);
    info->device = c->device;
    info->total_mem = c->total_mem;
    info->sm_major = c->sm_major;
    info->sm_minor = c->sm_minor;
    uint64_t hi = 0, used = 0;
    SE_CU("info", cudaSetDevice(c->device));
    SE_CU("info", cudaMemPoolGetAttribute(c->pool, cudaMemPoolAttrReservedMemHigh, &hi));
    SE_CU("info", cudaMemPoolGetAttribute(c->pool, cudaMemPoolAttrUsedMemHigh, &used));
    info->pool_reserved_peak = (size_t)hi;
    info->pool_used_peak = (size_t)used;
    info->conv_wcache_bytes = c->wcache.total;
    info->conv_wcache_entries = c->wcache.n;
    info->conv_wcache_hits = (unsigned long long)c->wcache.hits;
    info->conv_wcache_misses = (unsigned long long)c->wcache.misses;
    return SE_OK;
}

se_status se_cuda_reset_peak(se_backend *be) {
    if (!be || strcmp(be->vt->name, "cuda") != 0)
        return se_fail(SE_ERR_INVALID_ARG, "se_cuda_reset_peak: not a cuda backend");
    se_cuda *c = impl(be);
    uint64_t zero = 0;
    SE_CU("info", cudaSetDevice(c->device));
    SE_CU("info", cudaMemPoolSetAttribute(c->pool, cudaMemPoolAttrReservedMemHigh, &zero));
    SE_CU("info", cudaMemPoolSetAttribute(c->pool, cudaMemPoolAttrUsedMemHigh, &zero));
    return SE_OK;
}

void *se_cuda_backend_stream(se_backend *be) {
    if (!be || strcmp(be->vt->name, "cuda") != 0) return NULL;
    return impl(be)->stream;
}

/* ---- device-side random fill (benchmark weights; see io/weights.h) ---- */

se_status se_cuda_fill_uniform(se_backend *be, void *dst, se_dtype dt, size_t n, float lo,
                               float hi, uint64_t seed, uint64_t stream) {
    if (!be || strcmp(be->vt->name, "cuda") != 0)
        return se_fail(SE_ERR_UNSUPPORTED, "se_cuda_fill_uniform: not a cuda backend");
    se_cuda *c = impl(be);
    if (!se_cuda_is_float(dt))
        return se_fail(SE_ERR_INVALID_ARG, "cuda fill: dtype %s is not F32, F16 or BF16",
                       se_dtype_name(dt));
    if (n > (size_t)INT64_MAX / 4)
        return se_fail(SE_ERR_INVALID_ARG, "cuda fill: %zu elements is too many", n);
    if (n && !dst) return se_fail(SE_ERR_INVALID_ARG, "cuda fill: NULL destination");
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return se_fail(SE_ERR_INVALID_ARG, "cuda fill: range [%g, %g) is not finite and ordered",
                       (double)lo, (double)hi);
    SE_TRY(no_capture(c, "fill"));
    SE_CU("fill", cudaSetDevice(c->device));
    /* New contents for a cached conv weight: its packed copy is stale (as in set). */
    se_wcache_invalidate(&c->wcache, dst, n * se_dtype_size(dt), se_cuda_wcache_drop, c);
    wcache_flush(c);
    return se_cuda_random_fill(c, dst, dt, (int64_t)n, lo, hi, seed, stream);
}

/* ---- CUDA graphs ---- */

struct se_cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

static se_status need_cuda(se_backend *be, const char *what) {
    if (!be || strcmp(be->vt->name, "cuda") != 0)
        return se_fail(SE_ERR_INVALID_ARG, "%s: not a cuda backend", what);
    return SE_OK;
}

se_status se_cuda_capture_begin(se_backend *be) {
    SE_TRY(need_cuda(be, "se_cuda_capture_begin"));
    se_cuda *c = impl(be);
    if (c->capturing)
        return se_fail(SE_ERR_INVALID_ARG, "se_cuda_capture_begin: a capture is already running");
    SE_CU("capture", cudaSetDevice(c->device));
    /* Queued work must finish first: a capture records, it does not wait. */
    SE_CU("capture", cudaStreamSynchronize(c->stream));
    SE_CU("capture", cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    c->capturing = 1;
    return SE_OK;
}

se_status se_cuda_capture_end(se_backend *be, se_cuda_graph **out) {
    if (!out) return se_fail(SE_ERR_INVALID_ARG, "se_cuda_capture_end: NULL out");
    *out = NULL;
    SE_TRY(need_cuda(be, "se_cuda_capture_end"));
    se_cuda *c = impl(be);
    if (!c->capturing) return se_fail(SE_ERR_INVALID_ARG, "se_cuda_capture_end: no capture running");
    c->capturing = 0;
    SE_CU("capture", cudaSetDevice(c->device));
    se_cuda_graph *g = calloc(1, sizeof *g);
    if (!g) {
        cudaGraph_t tmp = NULL;
        if (cudaStreamEndCapture(c->stream, &tmp) == cudaSuccess && tmp) (void)cudaGraphDestroy(tmp);
        return se_fail(SE_ERR_NOMEM, "se_cuda_capture_end: no host memory");
    }
    cudaError_t e = cudaStreamEndCapture(c->stream, &g->graph);
    wcache_flush(c);   /* copies dropped during the capture */
    if (e == cudaSuccess) e = cudaGraphInstantiate(&g->exec, g->graph, 0);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        se_cuda_graph_destroy(&g);
        return se_cuda_fail("capture", "cudaStreamEndCapture + cudaGraphInstantiate", __FILE__,
                            __LINE__, e);
    }
    *out = g;
    return SE_OK;
}

se_status se_cuda_graph_launch(se_backend *be, se_cuda_graph *g) {
    SE_TRY(need_cuda(be, "se_cuda_graph_launch"));
    if (!g) return se_fail(SE_ERR_INVALID_ARG, "se_cuda_graph_launch: NULL graph");
    se_cuda *c = impl(be);
    SE_TRY(no_capture(c, "graph launch"));
    SE_CU("graph", cudaSetDevice(c->device));
    SE_CU("graph", cudaGraphLaunch(g->exec, c->stream));
    return SE_OK;
}

void se_cuda_graph_destroy(se_cuda_graph **g) {
    if (!g || !*g) return;
    if ((*g)->exec) (void)cudaGraphExecDestroy((*g)->exec);
    if ((*g)->graph) (void)cudaGraphDestroy((*g)->graph);
    free(*g);
    *g = NULL;
}
