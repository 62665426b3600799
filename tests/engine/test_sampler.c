/*
 * test_sampler.c - the trailing Euler schedule and Euler steps against fixtures recorded from
 * the pinned diffusers EulerDiscreteScheduler (tests/reference/make_sampler_fixtures.py).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample/euler.h"
#include "sample/schedule.h"
#include "test_util.h"

#define FIX STRIKE_FIXTURES_DIR "/sampler/"

/* Reads a whole float32 file; returns the element count (0 when missing) and *out (malloc'd). */
static size_t read_f32(const char *name, float **out) {
    char path[512];
    snprintf(path, sizeof path, FIX "%s", name);
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f) {
        fprintf(stderr, "missing fixture %s\n", path);
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *buf = malloc(sz > 0 ? (size_t)sz : 1);
    size_t n = buf ? fread(buf, 4, (size_t)sz / 4, f) : 0;
    fclose(f);
    *out = buf;
    return n;
}

/* max |a-b| / max(|b|, tiny) over n elements. */
static double max_rel(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double r = d / fmax(fabs((double)b[i]), 1e-6);
        if (r > m) m = r;
    }
    return m;
}

/* Largest distance in units in the last place between same-signed finite floats. */
static uint32_t max_ulps(const float *a, const float *b, size_t n) {
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t ia, ib;
        memcpy(&ia, &a[i], 4);
        memcpy(&ib, &b[i], 4);
        uint32_t d = ia > ib ? (uint32_t)ia - (uint32_t)ib : (uint32_t)ib - (uint32_t)ia;
        if ((ia < 0) != (ib < 0)) d = UINT32_MAX;
        if (d > m) m = d;
    }
    return m;
}

static size_t count_diff(const float *a, const float *b, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += memcmp(&a[i], &b[i], 4) != 0;
    return k;
}

static void test_train_table(void) {
    se_schedule_config cfg;
    se_schedule_config_init(&cfg);
    float table[1000], *ref;
    size_t n = read_f32("train_sigmas.f32", &ref);
    CHECK(n == 1000);
    CHECK(se_schedule_train_sigmas(&cfg, table) == SE_OK);
    if (n == 1000) {
        CHECK_MSG(max_rel(table, ref, 1000) <= 1e-6, "train sigma rel err %g", max_rel(table, ref, 1000));
        /* torch's sqrt runs through MKL VML (up to 0.75 ulp); ours is correctly rounded, so
         * about a fifth of the entries differ by one ulp (docs/sampler.md). */
        CHECK_MSG(max_ulps(table, ref, 1000) <= 1, "train sigmas: %u ulp", max_ulps(table, ref, 1000));
        printf("note: %zu of 1000 train sigmas differ from torch by 1 ulp\n", count_diff(table, ref, 1000));
        CHECK(fabsf(table[999] - 14.61465f) < 1e-4f && fabsf(table[0] - 0.029168f) < 1e-5f);
    }
    free(ref);
}

static void test_schedules(void) {
    static const int steps[] = {1, 2, 3, 4, 6, 8, 10, 16, 25, 50};
    se_schedule_config cfg;
    se_schedule_config_init(&cfg);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        int N = steps[k];
        char name[64];
        snprintf(name, sizeof name, "schedule_N%d.f32", N);
        float *ref;
        size_t n = read_f32(name, &ref);
        CHECK_MSG(n == (size_t)(2 * N + 2), "%s has %zu floats", name, n);
        se_schedule s;
        CHECK(se_schedule_trailing(&cfg, N, &s) == SE_OK);
        if (n == (size_t)(2 * N + 2)) {
            CHECK_MSG(count_diff(s.timesteps, ref, (size_t)N) == 0, "N=%d timesteps differ", N);
            CHECK_MSG(max_rel(s.sigmas, ref + N, (size_t)N + 1) <= 1e-6, "N=%d sigma rel err %g", N,
                      max_rel(s.sigmas, ref + N, (size_t)N + 1));
            CHECK_MSG(max_ulps(s.sigmas, ref + N, (size_t)N + 1) <= 1, "N=%d sigmas: %u ulp", N,
                      max_ulps(s.sigmas, ref + N, (size_t)N + 1));
            CHECK_MSG(max_ulps(&s.init_noise_sigma, ref + 2 * N + 1, 1) <= 1,
                      "N=%d init_noise_sigma %.9g vs %.9g", N, (double)s.init_noise_sigma,
                      (double)ref[2 * N + 1]);
            CHECK(s.sigmas[N] == 0.0f);
        }
        free(ref);
    }
    /* The documented 4-step table. */
    se_schedule s4;
    CHECK(se_schedule_trailing(&cfg, 4, &s4) == SE_OK);
    CHECK(s4.timesteps[0] == 999.0f && s4.timesteps[1] == 749.0f && s4.timesteps[2] == 499.0f &&
          s4.timesteps[3] == 249.0f);
}

static void test_schedule_errors(void) {
    se_schedule_config cfg;
    se_schedule_config_init(&cfg);
    se_schedule s;
    CHECK(se_schedule_trailing(&cfg, 0, &s) == SE_ERR_INVALID_ARG);
    CHECK(se_schedule_trailing(&cfg, 1001, &s) == SE_ERR_INVALID_ARG);
    CHECK(se_schedule_trailing(&cfg, 61, &s) == SE_ERR_UNSUPPORTED); /* numpy gives 62 */
    CHECK(strstr(se_last_error(), "61") != NULL);
    CHECK(se_schedule_trailing(&cfg, 1000, &s) == SE_OK);
    CHECK(s.timesteps[999] == 0.0f);
    se_schedule_config bad = cfg;
    bad.beta_end = 0.0;
    CHECK(se_schedule_trailing(&bad, 4, &s) == SE_ERR_INVALID_ARG);
    se_prediction p;
    CHECK(se_prediction_parse("sample", &p) == SE_OK && p == SE_PRED_SAMPLE);
    CHECK(se_prediction_parse("epsilon", &p) == SE_OK && p == SE_PRED_EPSILON);
    CHECK(se_prediction_parse("v_prediction", &p) == SE_ERR_INVALID_ARG);
}

/* Model callback replaying the recorded outputs and checking the scaled inputs. */
typedef struct replay {
    const float *rec; /* the fixture */
    size_t n;         /* elements per tensor */
    int calls;
    double max_in_err;
    const float *latents; /* the sampler's x, to compare after each step */
} replay;

static se_status replay_model(void *user, int step, float timestep, const float *x_in, float *out,
                              size_t n) {
    replay *r = user;
    const float *base = r->rec + r->n + (size_t)step * 3 * r->n;
    double e = max_rel(x_in, base, n);
    if (e > r->max_in_err) r->max_in_err = e;
    memcpy(out, base + r->n, n * sizeof(float));
    r->calls++;
    (void)timestep;
    return SE_OK;
}

static se_status failing_model(void *user, int step, float timestep, const float *x_in, float *out,
                               size_t n) {
    (void)user, (void)step, (void)timestep, (void)x_in, (void)out, (void)n;
    return SE_ERR_INTERNAL;
}

static void test_euler(void) {
    static const int steps[] = {1, 2, 4, 8};
    const size_t n = 2 * 4 * 8 * 8;
    se_schedule_config cfg;
    se_schedule_config_init(&cfg);
    for (int p = 0; p < 2; p++) {
        se_prediction pred = p == 0 ? SE_PRED_EPSILON : SE_PRED_SAMPLE;
        for (size_t k = 0; k < 4; k++) {
            int N = steps[k];
            char name[64];
            snprintf(name, sizeof name, "euler_%s_N%d.f32", se_prediction_name(pred), N);
            float *rec;
            size_t got = read_f32(name, &rec);
            CHECK_MSG(got == n + 3 * n * (size_t)N, "%s: %zu floats", name, got);
            if (got != n + 3 * n * (size_t)N) {
                free(rec);
                continue;
            }
            se_schedule s;
            CHECK(se_schedule_trailing(&cfg, N, &s) == SE_OK);
            /* Step by step, comparing after each step. */
            float *x = malloc(n * 4), *xin = malloc(n * 4);
            memcpy(x, rec, n * 4);
            se_euler_init_noise(&s, x, n);
            double worst = 0.0;
            size_t bits = 0;
            for (int i = 0; i < N; i++) {
                const float *b = rec + n + (size_t)i * 3 * n;
                se_euler_scale_input(&s, i, x, xin, n);
                double ein = max_rel(xin, b, n);
                if (ein > worst) worst = ein;
                bits += count_diff(xin, b, n);
                se_euler_step(&s, i, pred, x, b + n, n);
                double ex = max_rel(x, b + 2 * n, n);
                if (ex > worst) worst = ex;
                bits += count_diff(x, b + 2 * n, n);
            }
            CHECK_MSG(worst <= 1e-6, "%s: max rel err %g", name, worst);
            if (bits) printf("note: %s: %zu values differ in the last bits\n", name, bits);
            /* The whole loop through the callback gives the same final latents. */
            float *y = malloc(n * 4), *scratch = malloc(2 * n * 4);
            memcpy(y, rec, n * 4);
            replay r = {rec, n, 0, 0.0, y};
            CHECK(se_euler_sample(&s, pred, y, n, scratch, replay_model, &r) == SE_OK);
            CHECK(r.calls == N);
            CHECK_MSG(r.max_in_err <= 1e-6, "%s: model input err %g", name, r.max_in_err);
            CHECK(memcmp(x, y, n * 4) == 0);
            CHECK(max_rel(y, rec + n + (size_t)(N - 1) * 3 * n + 2 * n, n) <= 1e-6);
            /* A failing model stops the loop with its status. */
            memcpy(y, rec, n * 4);
            CHECK(se_euler_sample(&s, pred, y, n, scratch, failing_model, NULL) == SE_ERR_INTERNAL);
            free(x), free(xin), free(y), free(scratch), free(rec);
        }
    }
}

int main(void) {
    test_train_table();
    test_schedules();
    test_schedule_errors();
    test_euler();
    return test_report("engine_sampler");
}
