/*
 * png_write.h - Strike's one PNG writer (libpng, 8-bit RGB), shared by strike-worker and
 * strike-render.
 *
 * Every image carries a `parameters` text chunk in the AUTOMATIC1111 convention:
 *
 *     <prompt>
 *     Steps: 4, Sampler: Euler, Seed: 42, Size: 1024x1024, Model: NAME
 *
 * (Size is WIDTHxHEIGHT), plus Strike's own keys, each its own text chunk:
 *     strike:submission, strike:job_index, strike:noise_mode, strike:model_hash,
 *     strike:engine_version
 * (a key whose value is NULL or empty is left out). Text that is pure ASCII goes into tEXt chunks;
 * text with other bytes (UTF-8 prompts) goes into an uncompressed iTXt chunk, which PNG defines as
 * UTF-8 (tEXt is Latin-1), under the same keyword. Readers that understand A1111 metadata (PIL,
 * exiftool, the A1111 / ComfyUI "PNG info" tabs) read both.
 *
 * Writes are atomic: the image goes to a temporary name in the target directory
 * (".<name>.<pid>.<n>.tmp"), is flushed and fsync()ed, then rename()d over the final path. A reader
 * never sees a half-written image; a retry of the same job overwrites the same path.
 */
#ifndef STRIKE_PNG_WRITE_H
#define STRIKE_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

/* What the image is; strings are borrowed for the duration of the call. */
typedef struct sf_png_meta {
    const char *prompt;         /* UTF-8 prompt (required; may be empty for tests) */
    const char *model;          /* model name the job asked for */
    const char *sampler;        /* "Euler" when NULL */
    uint64_t seed;              /* the job's seed */
    int steps;                  /* sampler steps */
    const char *submission;     /* Strike submission id (strike:submission) */
    uint64_t job_index;         /* index of the job in its submission (strike:job_index) */
    int has_job_index;          /* 0: leave strike:job_index out */
    const char *noise_mode;     /* "torch-cpu", "philox", "null", ... (strike:noise_mode) */
    const char *model_hash;     /* hash of the loaded weights (strike:model_hash) */
    const char *engine_version; /* engine name and version (strike:engine_version) */
} sf_png_meta;

/* Options for sf_png_write(); sf_png_opts_init() fills the defaults. */
typedef struct sf_png_opts {
    int compression; /* zlib level 0..9; default 6. -1 = libpng's default */
    int fsync_file;  /* fsync() the file before rename (default 1) */
    int fsync_dir;   /* fsync() the directory after rename, for a durable name (default 0) */
} sf_png_opts;

void sf_png_opts_init(sf_png_opts *o);

/*
 * Write `rgb` (width*height*3 bytes, row-major, no padding) to `path` atomically.
 * `meta` may be NULL (no text chunks); `opts` may be NULL (defaults).
 * Returns 0 on success; on failure returns -1, writes a message naming the path and the cause into
 * err (when errlen > 0) and leaves no temporary file behind.
 */
int sf_png_write(const char *path, const uint8_t *rgb, int width, int height, const sf_png_meta *meta,
                 const sf_png_opts *opts, char *err, size_t errlen);

/*
 * Format the A1111 `parameters` text for meta and a width x height image into buf.
 * Returns the length it needs (like snprintf), or -1 when meta->prompt is NULL.
 */
int sf_png_parameters(char *buf, size_t buflen, const sf_png_meta *meta, int width, int height);

#endif
