/*
 * engine_null.c - the null engine: a TEST and BENCHMARK engine that loads no model and renders a
 * small deterministic pattern instead of a picture.
 *
 * Image: (width/16) x (height/16) pixels for a job of width x height (1024x1024 -> 64x64). Every
 * pixel is a function of (x, y) and a 64-bit key = FNV-1a(prompt) XOR splitmix64(seed), so the
 * same prompt and seed always give the same bytes and different ones (almost) always differ.
 *
 * Options ("key=value,..."):
 *   fail=TEXT     jobs whose prompt contains TEXT fail with SF-style status 1 (tests of retries)
 *   delay_ms=N    sleep N ms per job (tests that need a worker to be busy, e.g. kill mid-shard)
 *   scale=N       divide the job's sides by N instead of 16 (1..64)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_iface.h"

#define NULL_DEFAULT_STEPS 4 /* what a job with steps 0 records (the null engine has no model) */

typedef struct {
    sw_engine base;  /* must be first */
    char fail[256];  /* prompt substring that makes a job fail; empty = never */
    int delay_ms;    /* per-job sleep */
    int scale;       /* side divisor */
    uint8_t *pixels; /* one buffer for the whole batch */
    size_t cap;      /* its size in bytes */
} null_engine;

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Paint one w x h pattern for key into px. */
static void paint(uint8_t *px, int w, int h, uint64_t key) {
    unsigned r0 = key & 0xff, g0 = (key >> 8) & 0xff, b0 = (key >> 16) & 0xff;
    unsigned stripe = 2 + ((key >> 24) & 7), mask = (unsigned)(key >> 32);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            unsigned bit = (mask >> (((unsigned)x / stripe + (unsigned)y / stripe) & 31)) & 1;
            p[0] = (uint8_t)(r0 + x * 255 / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)(g0 + y * 255 / (h > 1 ? h - 1 : 1));
            p[2] = (uint8_t)(b0 ^ (bit ? 0xff : 0));
        }
}

static int null_render(sw_engine *e, const sw_job *jobs, size_t n, sw_image *out) {
    null_engine *ne = (null_engine *)e;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        int w = jobs[i].width / ne->scale, h = jobs[i].height / ne->scale;
        need += (size_t)(w < 1 ? 1 : w) * (size_t)(h < 1 ? 1 : h) * 3;
    }
    if (need > ne->cap) {
        uint8_t *np = realloc(ne->pixels, need);
        if (!np) {
            for (size_t i = 0; i < n; i++) {
                memset(&out[i], 0, sizeof out[i]);
                out[i].status = 1;
                snprintf(out[i].error, sizeof out[i].error, "null engine: out of memory for %zu bytes", need);
            }
            return -1;
        }
        ne->pixels = np;
        ne->cap = need;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        sw_image *o = &out[i];
        memset(o, 0, sizeof *o);
        if (ne->delay_ms > 0) {
            struct timespec ts = {ne->delay_ms / 1000, (long)(ne->delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (ne->fail[0] && jobs[i].prompt_len > 0 && memmem(jobs[i].prompt, jobs[i].prompt_len, ne->fail, strlen(ne->fail))) {
            o->status = 1;
            snprintf(o->error, sizeof o->error, "null engine: prompt contains the fail marker \"%s\"", ne->fail);
            continue;
        }
        int w = jobs[i].width / ne->scale, h = jobs[i].height / ne->scale;
        o->width = w < 1 ? 1 : w;
        o->height = h < 1 ? 1 : h;
        o->steps = jobs[i].steps > 0 ? jobs[i].steps : NULL_DEFAULT_STEPS; /* 0 = "the model's default" */
        o->rgb = ne->pixels + off;
        off += (size_t)o->width * o->height * 3;
        paint(o->rgb, o->width, o->height, fnv1a(jobs[i].prompt, jobs[i].prompt_len) ^ splitmix64(jobs[i].seed));
    }
    return 0;
}

static void null_destroy(sw_engine *e) {
    null_engine *ne = (null_engine *)e;
    free(ne->pixels);
    free(ne);
}

static const sw_engine_ops null_ops = {"null", null_render, null_destroy, NULL}; /* no models to check */

/* Parse "key=value,..." into ne. Returns 0 or -1 with err set. */
static int parse_options(null_engine *ne, const char *options, char *err, size_t errlen) {
    if (!options || !*options)
        return 0;
    char *copy = strdup(options), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            snprintf(err, errlen, "null engine: option \"%s\" is not key=value", tok);
            rc = -1;
            break;
        }
        *eq = 0;
        const char *v = eq + 1;
        char *end;
        if (strcmp(tok, "fail") == 0) {
            snprintf(ne->fail, sizeof ne->fail, "%s", v);
        } else if (strcmp(tok, "delay_ms") == 0 || strcmp(tok, "scale") == 0) {
            long x = strtol(v, &end, 10);
            int is_delay = tok[0] == 'd';
            if (*v == 0 || *end || x < (is_delay ? 0 : 1) || x > (is_delay ? 60000 : 64)) {
                snprintf(err, errlen, "null engine: bad %s \"%s\" (%s)", tok, v, is_delay ? "0..60000" : "1..64");
                rc = -1;
                break;
            }
            if (is_delay)
                ne->delay_ms = (int)x;
            else
                ne->scale = (int)x;
        } else {
            snprintf(err, errlen, "null engine: unknown option \"%s\" (known: fail, delay_ms, scale)", tok);
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

sw_engine *sw_engine_null_create(const char *options, char *err, size_t errlen) {
    null_engine *ne = calloc(1, sizeof *ne);
    if (!ne) {
        snprintf(err, errlen, "null engine: out of memory");
        return NULL;
    }
    ne->base.ops = &null_ops;
    ne->base.version = "null-1 (test engine, renders patterns)";
    ne->base.noise_mode = "null";
    ne->base.max_batch = 64;
    snprintf(ne->base.device_name, sizeof ne->base.device_name, "cpu");
    ne->scale = 16;
    if (parse_options(ne, options, err, errlen) != 0) {
        free(ne);
        return NULL;
    }
    return &ne->base;
}
