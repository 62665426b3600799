/*
 * strike/engine.h - public API of the Strike Lightning engine.
 *
 * The engine turns prompts into 8-bit RGB pixels with SDXL-Lightning. It stops at pixels: PNG
 * encoding belongs to the farm. Everything here is C11 and needs none of the farm's libraries.
 *
 * Conventions: functions return se_status; SE_OK is 0. On failure, se_last_error() returns a
 * message (thread-local) naming what was wrong: the file, the tensor, the op, expected and got.
 * Objects are created with *_new() and released with *_destroy(&p), which accepts NULL and sets
 * the caller's pointer to NULL.
 */
#ifndef STRIKE_ENGINE_H
#define STRIKE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The engine's one status enum. Append only; never renumber. se_strerror() covers every code
 * (built with -Werror=switch and no default: a code without a message fails the build). */
typedef enum se_status {
    SE_OK = 0,
    SE_ERR_NOMEM = 1,           /* an allocation failed (host or device) */
    SE_ERR_INVALID_ARG = 2,     /* a caller passed a bad argument (NULL, bad size, bad enum) */
    SE_ERR_IO = 3,              /* a file could not be opened, read or mapped */
    SE_ERR_FORMAT = 4,          /* a file is malformed (truncated, bad header, bad offsets) */
    SE_ERR_MISSING_TENSOR = 5,  /* a model file lacks a tensor the network needs */
    SE_ERR_SHAPE = 6,           /* a tensor has a shape other than the one expected */
    SE_ERR_DTYPE = 7,           /* a dtype is not supported here */
    SE_ERR_UNSUPPORTED = 8,     /* the backend or build does not support this operation */
    SE_ERR_NO_DEVICE = 9,       /* no CUDA device is present */
    SE_ERR_CUDA = 10,           /* a CUDA runtime call failed */
    SE_ERR_CUBLAS = 11,         /* a cuBLAS call failed */
    SE_ERR_CONFIG = 12,         /* a config.json (or model spec) is missing a key or has a bad value */
    SE_ERR_TOKENIZER = 13,      /* tokenizer files are missing or inconsistent */
    SE_ERR_INTERNAL = 14,       /* a broken invariant inside the engine (a bug) */
} se_status;

/* Static text for a status code. Never NULL. */
const char *se_strerror(se_status st);

/* Detail of the last failure on this thread ("" when none). Valid until the next failure. */
const char *se_last_error(void);

/* Engine version string, e.g. "0.1.0". */
const char *se_version(void);

#ifdef __cplusplus
}
#endif
#endif
