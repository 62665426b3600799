/* sf_job.h - rules about jobs that every part of the farm must agree on: limits, validation, the
 * seed rule and the output path rule. These rules never change between versions (images must be
 * reproducible and findable); new rules get new names. */
#ifndef STRIKE_SF_JOB_H
#define STRIKE_SF_JOB_H
#include <stddef.h>
#include <stdint.h>

#include "sf_status.h"

#define SF_MAX_PROMPT_BYTES 4096u   /* longest prompt, in UTF-8 bytes */
#define SF_MAX_CHUNK_JOBS 16384u    /* most jobs in one Chunk message */
#define SF_MAX_SHARD_JOBS 4096u     /* most jobs in one Shard message */
#define SF_MIN_SIDE 64u             /* smallest width / height */
#define SF_MAX_SIDE 4096u           /* largest width / height */
#define SF_MAX_STEPS 1000u          /* most sampler steps a job may ask for: the engine's
                                       SE_MAX_JOB_STEPS (the farm does not link the engine) */
#define SF_SIDE_STEP 64u            /* width and height are multiples of this */
#define SF_MAX_MODEL_BYTES 256u     /* longest model name */
#define SF_MAX_ROOT_BYTES 1024u     /* longest output root */
#define SF_MAX_PREFIX_BYTES 64u     /* longest output prefix */
#define SF_MAX_TAGS 16u             /* most tags per submission */
#define SF_MAX_TAG_BYTES 64u        /* longest tag */
#define SF_MIN_PRIORITY (-100)
#define SF_MAX_PRIORITY 100
#define SF_DEFAULT_MAX_ATTEMPTS 3u  /* tries per job before it is dead */
#define SF_FILES_PER_DIR 1000u      /* images per output directory */

/* The seed rule: a job without an explicit seed gets
 *     seed = (base_seed + index) mod 2^32
 * (index = the job's 0-based position in its submission). Consecutive jobs get consecutive seeds,
 * as in the AUTOMATIC1111 batch convention, and every seed fits 32 bits. */
uint64_t sf_seed_derive(uint64_t base_seed, uint64_t index);

/* The output path rule:
 *     <root>/<submission_id>/<index / 1000, 6 digits>/<prefix><index, 9 digits>.png
 * e.g. /data/out/s7/000012/img000012345.png. Writes into buf (NUL-terminated) and returns the
 * length, or -1 if it does not fit in cap. An empty prefix is allowed. */
int sf_output_path(char *buf, size_t cap, const char *root, const char *submission_id,
                   const char *prefix, uint64_t index);

/* 1 if steps is in 1..SF_MAX_STEPS (which counts a model supports is its spec's business). */
int sf_steps_valid(uint32_t steps);
/* 1 if side is in [SF_MIN_SIDE, SF_MAX_SIDE] and a multiple of SF_SIDE_STEP. */
int sf_side_valid(uint32_t side);
/* 1 if the bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int sf_utf8_valid(const char *s, size_t len);
/* Check a prompt: 1..SF_MAX_PROMPT_BYTES bytes, valid UTF-8, no NUL byte.
 * Returns SF_OK or SF_ERR_INVALID_PROMPT. */
sf_status sf_prompt_check(const char *s, size_t len);
/* 1 if s is a valid output prefix: <= SF_MAX_PREFIX_BYTES of [A-Za-z0-9._-], not starting with '.'. */
int sf_prefix_valid(const char *s);

#endif
