/*
 * fixture_util.h - small helpers the engine tests share for reading fixture files and comparing
 * float outputs with a reference:
 *   fixture_read(path, want)   a file of exactly `want` bytes (malloc'd), or NULL with a message
 *                              (missing, shorter or longer)
 *   fixture_read_in(dir, name, want)  the same for dir/name (dir ends in '/')
 *   rel_err_l2(got, ref, n)    ||got - ref|| / ||ref||; inf for a non-finite value; 0 when both
 *                              are all zero, inf when only the reference is
 *   rel_err_max(got, ref, n)   max |got - ref| / max |ref| (a NaN counts as a failure)
 * All static inline, so a test includes this header and uses only what it needs.
 */
#ifndef STRIKE_TEST_FIXTURE_UTIL_H
#define STRIKE_TEST_FIXTURE_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static inline void *fixture_read(const char *path, size_t want) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "missing fixture %s\n", path);
        return NULL;
    }
    void *buf = malloc(want ? want : 1);
    size_t got = buf ? fread(buf, 1, want, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != want || extra) {
        fprintf(stderr, "%s: expected exactly %zu bytes\n", path, want);
        free(buf);
        return NULL;
    }
    return buf;
}

static inline void *fixture_read_in(const char *dir, const char *name, size_t want) {
    char path[1024];
    int len = snprintf(path, sizeof path, "%s%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof path) {
        fprintf(stderr, "fixture path too long: %s%s\n", dir, name);
        return NULL;
    }
    return fixture_read(path, want);
}

static inline double rel_err_l2(const float *got, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double d = (double)got[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : (num == 0 ? 0 : INFINITY);
}

static inline double rel_err_max(const float *got, const float *ref, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (!(d <= md)) md = d; /* NaN propagates as a failure */
        if (fabs((double)ref[i]) > mb) mb = fabs((double)ref[i]);
    }
    return mb > 0 ? md / mb : md;
}

#endif
