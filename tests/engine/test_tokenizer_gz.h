/*
 * test_tokenizer_gz.h - read a whole (gzip-compressed) fixture file into memory for the text tests.
 */
#ifndef STRIKE_TEST_TOKENIZER_GZ_H
#define STRIKE_TEST_TOKENIZER_GZ_H

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

/* Returns a malloc'd, NUL-terminated buffer with the inflated contents of path (gzip or plain),
 * its length in *len; NULL (with a message) on failure. */
static char *read_gz(const char *path, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            fprintf(stderr, "%s: gzread failed\n", path);
            free(buf);
            buf = NULL;
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    gzclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

#endif
