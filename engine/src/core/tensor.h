/*
 * tensor.h - the engine's tensor: dtype, shape, byte strides, data pointer, name.
 *
 * Shapes are written outermost first, as in PyTorch: an image batch is [B, C, H, W], a token
 * sequence [B, N, C], a Linear weight [out, in], a conv weight [Cout, Cin, kh, kw].
 * ne[i] is the extent of dim i; nb[i] the distance in bytes between consecutive elements of dim i
 * (so a contiguous tensor has nb[ndim-1] = dtype size and nb[i] = nb[i+1] * ne[i+1]). Views (a
 * slice, a transpose) change ne/nb/data and copy nothing. Unused dims (i >= ndim) have ne = 1.
 *
 * data points into memory owned by a backend (host memory for the CPU backend, device memory
 * for CUDA). A tensor never owns its data; buffers and arenas do.
 */
#ifndef STRIKE_ENGINE_TENSOR_H
#define STRIKE_ENGINE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strike/engine.h"

#define SE_MAX_DIMS 4
#define SE_NAME_MAX 96

typedef enum se_dtype {
    SE_F32 = 0,
    SE_F16 = 1,
    SE_BF16 = 2,
    SE_I32 = 3,   /* token ids for gather */
    SE_DTYPE_COUNT
} se_dtype;

typedef struct se_tensor {
    se_dtype dtype;
    int ndim;                   /* 1..SE_MAX_DIMS (0 means a scalar of one element) */
    int64_t ne[SE_MAX_DIMS];    /* extents, outermost first */
    int64_t nb[SE_MAX_DIMS];    /* byte strides */
    void *data;                 /* backend memory; not owned */
    char name[SE_NAME_MAX];     /* shows up in errors and test output */
} se_tensor;

/* dtype facts, one table indexed by the enum. */
size_t se_dtype_size(se_dtype dt);
const char *se_dtype_name(se_dtype dt);

/* A contiguous tensor description of the given shape over data (which may be NULL for now). */
se_tensor se_tensor_make(se_dtype dt, int ndim, const int64_t *ne, void *data, const char *name);
/* Shorthands for 1-4 dims. */
se_tensor se_tensor_1d(se_dtype dt, int64_t n0, void *data);
se_tensor se_tensor_2d(se_dtype dt, int64_t n0, int64_t n1, void *data);
se_tensor se_tensor_3d(se_dtype dt, int64_t n0, int64_t n1, int64_t n2, void *data);
se_tensor se_tensor_4d(se_dtype dt, int64_t n0, int64_t n1, int64_t n2, int64_t n3, void *data);

int64_t se_tensor_numel(const se_tensor *t);
size_t se_tensor_nbytes(const se_tensor *t);       /* numel * dtype size (contiguous size) */
bool se_tensor_is_contiguous(const se_tensor *t);
bool se_tensor_same_shape(const se_tensor *a, const se_tensor *b);
/* Formats "[2,320,64,64]" into buf; returns buf. */
const char *se_tensor_shape_str(const se_tensor *t, char *buf, size_t cap);
void se_tensor_set_name(se_tensor *t, const char *fmt, ...);

/* Views that copy nothing. reshape requires a contiguous tensor with the same numel. */
se_tensor se_tensor_reshape(const se_tensor *t, int ndim, const int64_t *ne);
/* Swap two dims (strides only). */
se_tensor se_tensor_transpose(const se_tensor *t, int d0, int d1);
/* Elements [begin, begin+len) of dim d. */
se_tensor se_tensor_slice(const se_tensor *t, int d, int64_t begin, int64_t len);

/* Host-side scalar conversions (round to nearest even), used by loaders and tests. */
uint16_t se_f32_to_f16(float f);
float se_f16_to_f32(uint16_t h);
uint16_t se_f32_to_bf16(float f);
float se_bf16_to_f32(uint16_t h);
/* Converts n contiguous host elements between dtypes (F32/F16/BF16). */
void se_convert_host(se_dtype dst_dt, void *dst, se_dtype src_dt, const void *src, size_t n);

#endif
