/*
 * weights.h - a model's weight set: named tensors uploaded once into ONE backend allocation.
 *
 * How a model uses it (UNet, CLIP, VAE all do the same):
 *
 *   se_weights *w; SE_TRY(se_weights_new("unet", &w));
 *   // 1. declare every tensor the network needs, by the checkpoint's own name and shape;
 *   //    each call returns a stable handle (an index), usable before and after loading.
 *   int h; SE_TRY(se_weights_requiref(w, &h, 2, (int64_t[]){320, 4}, "%s.weight", prefix));
 *   // 2. load them all: one backend allocation, each tensor checked (missing -> "unet: missing
 *   //    tensor X in FILE", wrong shape -> "unet: tensor X: expected [..], got [..]") and
 *   //    converted to be->weight_dtype. Or fill with random values (benchmarks, no download).
 *   SE_TRY(se_weights_load(w, st_file, be));      // or se_weights_load_random(w, be, seed)
 *   // 3. use them
 *   const se_tensor *t = se_weights_at(w, h);     // or se_weights_get(w, "conv_in.weight")
 *   ...
 *   se_weights_destroy(&w);                       // frees the backend allocation
 *
 * Tensors in the file that nobody declared are ignored (e.g. I64 position_ids). Declaring the
 * same name twice returns the first handle when the shapes agree and is an error otherwise.
 * Several files (a sharded checkpoint) can be loaded with se_weights_load_files.
 */
#ifndef STRIKE_ENGINE_WEIGHTS_H
#define STRIKE_ENGINE_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"
#include "io/safetensors.h"

typedef struct se_weights se_weights;

/* what names the model in error messages ("unet", "vae", "clip-l"). */
se_status se_weights_new(const char *what, se_weights **out);
/* Frees the backend allocation (with the backend it was loaded on) and the set. Accepts NULL. */
void se_weights_destroy(se_weights **w);

/* Declares a tensor the model needs; *handle receives its index. Not allowed after loading. */
se_status se_weights_require(se_weights *w, const char *name, int ndim, const int64_t *ne,
                             int *handle);
/* Same with a printf-formatted name. */
se_status se_weights_requiref(se_weights *w, int *handle, int ndim, const int64_t *ne,
                              const char *fmt, ...) SE_PRINTF(5, 6);

/* Loads every declared tensor from f into one allocation on be, converted to be->weight_dtype. */
se_status se_weights_load(se_weights *w, const se_st_file *f, se_backend *be);
/* Same over several files: each tensor is taken from the first file that has it. */
se_status se_weights_load_files(se_weights *w, const se_st_file *const *files, size_t nfiles,
                                se_backend *be);
/* Maps a declared name to the name used in a file (e.g. diffusers -> SGM naming). Writes the
 * file's name into out (cap bytes) and returns true, or returns false when it has no mapping. */
typedef bool (*se_weights_name_fn)(void *user, const char *name, char *out, size_t cap);
/* se_weights_load_files, looking each tensor up under map(name) (map NULL: the name itself).
 * Messages name both: "unet: missing tensor conv_in.weight (as input_blocks.0.0.weight) in F". */
se_status se_weights_load_mapped(se_weights *w, const se_st_file *const *files, size_t nfiles,
                                 se_weights_name_fn map, void *user, se_backend *be);
/* Fills every declared tensor with deterministic random values (no file): matrices and conv
 * kernels uniform in +-1/sqrt(fan_in), 1-D "*.weight" (norm scales) 1.0, 1-D biases +-0.02. */
se_status se_weights_load_random(se_weights *w, se_backend *be, uint64_t seed);

/* A generator that fills backend memory itself (e.g. on the GPU: se_cuda_fill_uniform in
 * cuda/cuda_info.h): n elements of dtype dt at dst, uniform in [lo, hi) (lo == hi: that
 * constant), deterministic for (seed, stream). SE_ERR_UNSUPPORTED means "not for this backend". */
typedef se_status (*se_weights_random_fn)(se_backend *be, void *dst, se_dtype dt, size_t n,
                                          float lo, float hi, uint64_t seed, uint64_t stream);
/* Installs fn process-wide for se_weights_load_random (NULL, the default: host generation);
 * returns the previous one. Set it once before loading (benchmarks), not while another thread
 * loads. With fn installed, tensor i of a set is fn(be, data, dtype, numel, lo, hi, seed, i) with
 * the same ranges as the host path (so the same distribution, not the same values); when fn
 * answers SE_ERR_UNSUPPORTED for the set's first tensor, the whole set is made on the host. */
se_weights_random_fn se_weights_set_random_fill(se_weights_random_fn fn);

/* The tensor of a handle (its data is NULL before loading). */
const se_tensor *se_weights_at(const se_weights *w, int handle);
/* The declared tensor called name, or NULL. */
const se_tensor *se_weights_get(const se_weights *w, const char *name);
size_t se_weights_count(const se_weights *w);
/* Bytes of the backend allocation (0 before loading). */
size_t se_weights_bytes(const se_weights *w);
/* Number of elements declared (parameter count). */
int64_t se_weights_numel(const se_weights *w);

#endif
