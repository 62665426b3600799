/*
 * safetensors.h - a bounds-checked, read-only safetensors reader (mmap).
 *
 * File layout (see docs/models.md): u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
 * then the data section. se_st_open() maps the file and checks everything before any tensor is
 * used: N <= 100 MB and inside the file, the JSON parses, every entry has a known dtype string, a
 * sane shape (no negative dims, no overflowing product), offsets inside the data section with
 * end - begin == numel * dtype size, and no two tensors overlap. Any failure is SE_ERR_FORMAT
 * (or SE_ERR_IO) with a message naming the file and the tensor.
 *
 * Every tensor becomes a neutral record (se_st_tensor): name, dtype string, shape, a pointer into
 * the map. F32/F16/BF16 tensors are loadable (converted to the dtype asked for); other dtypes
 * (I64 position_ids buffers, U8, ...) are listed with loadable = false and never loaded.
 * `__metadata__` is ignored. Data in the map may be unaligned: readers memcpy, never cast.
 */
#ifndef STRIKE_ENGINE_SAFETENSORS_H
#define STRIKE_ENGINE_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/tensor.h"

#define SE_ST_MAX_DIMS 8                    /* the most dims a record may have */
#define SE_ST_MAX_HEADER (100u * 1000u * 1000u) /* the safetensors crate's own header cap */

/* One tensor of a safetensors file (a neutral record, valid while the file is open). */
typedef struct se_st_tensor {
    const char *name;               /* the key in the header */
    char dtype_name[12];            /* the dtype string as written ("F16", "I64", ...) */
    bool loadable;                  /* F32, F16 or BF16: can be loaded into an se_tensor */
    se_dtype dtype;                 /* valid when loadable */
    int ndim;                       /* 0 (a scalar) .. SE_ST_MAX_DIMS */
    int64_t shape[SE_ST_MAX_DIMS];  /* extents, outermost first */
    int64_t numel;                  /* product of shape (1 for a scalar) */
    uint64_t begin, end;            /* byte offsets inside the data section, end exclusive */
    const void *data;               /* begin's address in the map (possibly unaligned) */
} se_st_tensor;

typedef struct se_st_file se_st_file;

/* Maps and validates path. On success *out owns the map; close it with se_st_close. */
se_status se_st_open(const char *path, se_st_file **out);
/* Accepts NULL; sets *f to NULL. */
void se_st_close(se_st_file **f);

const char *se_st_path(const se_st_file *f);
/* Number of tensors (metadata excluded), and the i-th in file order of the header. */
size_t se_st_count(const se_st_file *f);
const se_st_tensor *se_st_at(const se_st_file *f, size_t i);
/* The tensor called name, or NULL. */
const se_st_tensor *se_st_find(const se_st_file *f, const char *name);

/* Formats a record's shape as "[a,b,c]" into buf (returns buf). */
const char *se_st_shape_str(const se_st_tensor *t, char *buf, size_t cap);

/* Does the record have exactly this shape? */
bool se_st_shape_is(const se_st_tensor *t, int ndim, const int64_t *ne);

/* Converts the record's data into dst (host memory, cap bytes) as dtype dt (F32/F16/BF16).
 * SE_ERR_DTYPE if the record is not loadable, SE_ERR_INVALID_ARG if dst is too small. */
se_status se_st_read_host(const se_st_file *f, const se_st_tensor *t, se_dtype dt, void *dst,
                          size_t cap);

/* Tells the kernel the mapped bytes of t are no longer needed (after loading them), so a large
 * file does not stay resident next to the converted copy. The data stays readable (pages come
 * back from the file on access). */
void se_st_done(const se_st_file *f, const se_st_tensor *t);

/* Looks up name, checks its shape against (ndim, ne) and copies it, converted to dst->dtype,
 * into dst (a contiguous tensor in backend memory with that shape). `what` prefixes messages
 * ("unet"). Errors: SE_ERR_MISSING_TENSOR "what: missing tensor X in FILE", SE_ERR_SHAPE
 * "what: tensor X: expected [..], got [..] (FILE)", SE_ERR_DTYPE for an unloadable dtype. */
se_status se_st_load(const se_st_file *f, const char *what, const char *name, se_backend *be,
                     se_tensor *dst);

/* Like se_st_load for a record already found (no lookup); `name` is the name used in messages
 * (e.g. the model's own name when the file uses another naming). */
se_status se_st_load_record(const se_st_file *f, const char *what, const char *name,
                            const se_st_tensor *t, se_backend *be, se_tensor *dst);

#endif
