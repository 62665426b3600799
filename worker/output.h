/*
 * output.h - where a worker puts its work: the PNG of each job (atomic write under sharded
 * directories, path by sf_output_path) and one manifest JSONL per worker per submission, next to
 * the images, so that many hosts never append to the same file.
 *
 * Manifest: <dir of the submission>/manifest-<worker id>.jsonl, one object per finished job:
 *   {"index":N,"path":"...","seed":S,"steps":4,"width":1024,"height":1024,"model":"...",
 *    "model_hash":"0123456789abcdef","render_ms":R,"worker":"...","prompt":"..."}
 * steps are the steps the engine ran (a job's 0 resolved); model_hash only when the engine has one
 * (not the null engine); a seed over 2^63-1 is a string of digits.
 * Lines are appended and flushed before the matching Results are sent; a job retried on another
 * worker appears in that worker's manifest too (the coordinator's record is the truth).
 */
#ifndef STRIKE_WORKER_OUTPUT_H
#define STRIKE_WORKER_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "engine_iface.h"
#include "png_write.h"

typedef struct sw_output sw_output;

/* worker_id names the manifests; png options apply to every image; write_manifest 0 turns
 * manifests off. */
sw_output *sw_output_new(const char *worker_id, const sf_png_opts *png, int write_manifest);
void sw_output_destroy(sw_output **o);

/* Everything about one finished job that goes into its PNG and manifest line. */
typedef struct sw_output_job {
    const char *root;       /* output root of the submission */
    const char *prefix;     /* file name prefix (may be empty) */
    const char *submission; /* submission id */
    uint64_t index;         /* job index */
    const sw_job *job;      /* prompt, seed, steps, size, model */
    const sw_image *image;  /* the pixels */
    const sw_engine *engine;
    uint32_t render_ms;
} sw_output_job;

/* Write the job's PNG (creating directories as needed) and append its manifest line.
 * Returns 0, or -1 with err naming the path and cause. */
int sw_output_write(sw_output *o, const sw_output_job *j, char *err, size_t errlen);

/* The two halves of sw_output_write. sw_output_png may run on several threads at once (the
 * PNGs of one batch are encoded in parallel); sw_output_manifest must be called from one thread. */
int sw_output_png(sw_output *o, const sw_output_job *j, char *err, size_t errlen);
int sw_output_manifest(sw_output *o, const sw_output_job *j, char *err, size_t errlen);

/* Flush every open manifest (call before reporting results). */
void sw_output_flush(sw_output *o);

/* Close the manifest of a submission (it finished or was cancelled). */
void sw_output_close_submission(sw_output *o, const char *submission);

#endif
