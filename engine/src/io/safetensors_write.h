/*
 * safetensors_write.h - a small safetensors writer (the tiny-model generator and tests).
 *
 *   se_st_writer *w; SE_TRY(se_st_writer_new(&w));
 *   SE_TRY(se_st_writer_add(w, "conv_in.weight", SE_F16, 4, (int64_t[]){320,4,3,3}, f32_data));
 *   SE_TRY(se_st_writer_save(w, "dir/diffusion_pytorch_model.safetensors"));
 *   se_st_writer_destroy(&w);
 *
 * Tensors are given as float32 host data and stored converted to the dtype asked for (F32, F16,
 * BF16); the writer keeps its own copy. The file: u64 LE header length, a JSON header padded with
 * spaces to a multiple of 8 bytes, the data in the order the tensors were added. The file is
 * written to a temporary name and renamed into place.
 */
#ifndef STRIKE_ENGINE_SAFETENSORS_WRITE_H
#define STRIKE_ENGINE_SAFETENSORS_WRITE_H

#include <stdint.h>

#include "core/tensor.h"
#include "strike/engine.h"

typedef struct se_st_writer se_st_writer;

se_status se_st_writer_new(se_st_writer **out);
void se_st_writer_destroy(se_st_writer **w);
/* Adds a tensor (ndim 1..8) from n = prod(ne) float32 values, stored as dt. A duplicate name is
 * SE_ERR_INVALID_ARG. */
se_status se_st_writer_add(se_st_writer *w, const char *name, se_dtype dt, int ndim,
                           const int64_t *ne, const float *data);
/* Same, borrowing data: nothing is copied now; the floats must stay valid until the last save
 * (they are converted while writing, so a large model needs no second copy). */
se_status se_st_writer_add_borrowed(se_st_writer *w, const char *name, se_dtype dt, int ndim,
                                    const int64_t *ne, const float *data);
/* Same, borrowing bytes already in dtype dt (prod(ne) * size(dt) bytes), written as they are. */
se_status se_st_writer_add_raw_borrowed(se_st_writer *w, const char *name, se_dtype dt, int ndim,
                                        const int64_t *ne, const void *bytes);
/* Writes the file (SE_ERR_IO naming the path on failure). The writer can be saved again. */
se_status se_st_writer_save(const se_st_writer *w, const char *path);

#endif
