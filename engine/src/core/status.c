/*
 * status.c - the engine's status codes, their messages, and the thread-local detail of the
 * last failure.
 */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *se_strerror(se_status st) {
    switch (st) {
    case SE_OK: return "ok";
    case SE_ERR_NOMEM: return "out of memory";
    case SE_ERR_INVALID_ARG: return "invalid argument";
    case SE_ERR_IO: return "i/o error";
    case SE_ERR_FORMAT: return "malformed file";
    case SE_ERR_MISSING_TENSOR: return "missing tensor";
    case SE_ERR_SHAPE: return "shape mismatch";
    case SE_ERR_DTYPE: return "unsupported dtype";
    case SE_ERR_UNSUPPORTED: return "unsupported operation";
    case SE_ERR_NO_DEVICE: return "no CUDA device";
    case SE_ERR_CUDA: return "CUDA error";
    case SE_ERR_CUBLAS: return "cuBLAS error";
    case SE_ERR_CONFIG: return "bad model config";
    case SE_ERR_TOKENIZER: return "tokenizer error";
    case SE_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

static _Thread_local char g_last_error[1024];

const char *se_last_error(void) { return g_last_error; }

se_status se_fail(se_status st, const char *fmt, ...) {
    /* Formatted into a local buffer first: callers may pass se_last_error() itself as an
     * argument (wrapping an inner error), and vsnprintf into the buffer it reads from is
     * undefined behaviour. */
    char msg[sizeof g_last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(g_last_error, msg, sizeof msg);
    return st;
}

void se_clear_error(void) { g_last_error[0] = '\0'; }

const char *se_version(void) { return "0.1.0"; }

#include <stdlib.h>

_Noreturn void se_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "strike engine: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
