/*
 * error.h - how engine code reports failures.
 *
 *   return se_fail(SE_ERR_SHAPE, "%s: tensor %s: expected [%d,%d], got [%d,%d]", file, name, ...);
 *
 * se_fail records the message as this thread's last error (se_last_error()) and returns the
 * status, so every failure carries a message naming what was wrong.
 */
#ifndef STRIKE_ENGINE_ERROR_H
#define STRIKE_ENGINE_ERROR_H

#include "strike/engine.h"

#if defined(__GNUC__)
#define SE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SE_PRINTF(a, b)
#endif

se_status se_fail(se_status st, const char *fmt, ...) SE_PRINTF(2, 3);
void se_clear_error(void);

/* Propagate a failure: SE_TRY(expr) returns expr's status from the caller when it is not SE_OK. */
#define SE_TRY(expr)                                                                              \
    do {                                                                                          \
        se_status se_try_st_ = (expr);                                                            \
        if (se_try_st_ != SE_OK) return se_try_st_;                                               \
    } while (0)

/* A broken invariant is a bug: crash loudly with file and line. */
#define SE_ASSERT(cond)                                                                           \
    do {                                                                                          \
        if (!(cond)) se_assert_fail(#cond, __FILE__, __LINE__);                                   \
    } while (0)
/* _Noreturn is C11; CUDA sources (C++) include this header too. */
#if defined(__cplusplus)
#define SE_NORETURN [[noreturn]]
#else
#define SE_NORETURN _Noreturn
#endif
SE_NORETURN void se_assert_fail(const char *expr, const char *file, int line);

#endif
