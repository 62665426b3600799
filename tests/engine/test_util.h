/*
 * test_util.h - the small assertion kit shared by the engine's C tests.
 *
 * CHECK(cond) records a failure with file and line and goes on; test_report() prints
 * "N passed, N failed" and returns the exit code. skip_test(msg) exits 77 (ctest: skipped).
 */
#ifndef STRIKE_TEST_UTIL_H
#define STRIKE_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

static int g_test_pass, g_test_fail;

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (cond) {                                                                               \
            g_test_pass++;                                                                        \
        } else {                                                                                  \
            g_test_fail++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                       \
        }                                                                                         \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                      \
    do {                                                                                          \
        if (cond) {                                                                               \
            g_test_pass++;                                                                        \
        } else {                                                                                  \
            g_test_fail++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fputc('\n', stderr);                                                                  \
        }                                                                                         \
    } while (0)

static inline int test_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_test_pass, g_test_fail);
    return g_test_fail == 0 && g_test_pass > 0 ? 0 : 1;
}

static inline void skip_test(const char *why) {
    printf("SKIPPED: %s\n", why);
    exit(77);
}

#endif
