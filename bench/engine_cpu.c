/*
 * engine_cpu.c - times one full-size SDXL UNet forward on the CPU backend, with random weights
 * generated in process (no download). Used by bench/engine_cpu.sh.
 *
 *   bench_engine_unet [--threads N] [--size H] [--batch B] [--warmup N] [--runs N] [--naive]
 *
 * Prints key=value lines: engine_unet_s (the fastest timed run), peak_rss_mb (whole process,
 * weights included), weights_mb, act_reserved_mb / act_peak_mb (activation arenas), and one
 * op_<kind>_s / op_<kind>_pct line per op kind (time inside the backend per op family, last run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/backend_cpu.h"
#include "core/error.h"
#include "model/unet.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- a timing wrapper around a backend: same impl, compute() timed per op kind ---- */
static se_backend *g_inner;
static double g_op_s[SE_OP_COUNT];
static long g_op_n[SE_OP_COUNT];

static se_status timed_compute(se_backend *be, const se_op *op) {
    (void)be;
    double t0 = now_s();
    se_status st = g_inner->vt->compute(g_inner, op);
    if ((unsigned)op->kind < SE_OP_COUNT) {
        g_op_s[op->kind] += now_s() - t0;
        g_op_n[op->kind]++;
    }
    return st;
}
static void w_destroy(se_backend *be) { (void)be; }
static se_status w_alloc(se_backend *be, size_t n, void **o) { (void)be; return g_inner->vt->alloc(g_inner, n, o); }
static void w_free(se_backend *be, void *p) { (void)be; g_inner->vt->free(g_inner, p); }
static se_status w_set(se_backend *be, void *d, const void *s, size_t n) { (void)be; return g_inner->vt->set(g_inner, d, s, n); }
static se_status w_get(se_backend *be, void *d, const void *s, size_t n) { (void)be; return g_inner->vt->get(g_inner, d, s, n); }
static bool w_supports(se_backend *be, const se_op *op) { (void)be; return g_inner->vt->supports_op(g_inner, op); }
static se_status w_sync(se_backend *be) { (void)be; return g_inner->vt->sync(g_inner); }

static const se_backend_vtbl g_timed_vt = {
    .name = "cpu-timed", .destroy = w_destroy, .alloc = w_alloc, .free = w_free, .set = w_set,
    .get = w_get, .supports_op = w_supports, .compute = timed_compute, .sync = w_sync,
};

/* Fills a fresh backend tensor with uniform values in [lo, hi). */
static se_status rand_tensor(se_backend *be, int ndim, const int64_t *ne, float lo, float hi,
                             uint32_t *seed, se_tensor *t) {
    *t = se_tensor_make(SE_F32, ndim, ne, NULL, "input");
    size_t n = (size_t)se_tensor_numel(t);
    SE_TRY(se_backend_alloc(be, n * 4, &t->data));
    float *h = malloc(n * 4);
    if (!h) return se_fail(SE_ERR_NOMEM, "bench: no memory");
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        h[i] = lo + (hi - lo) * (float)(*seed >> 8) / 16777216.0f;
    }
    se_status st = se_tensor_set_data(be, t, h, n * 4);
    free(h);
    return st;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv) {
    int threads = 0, size = 64, batch = 1, warmup = 1, runs = 1;
    bool naive = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--naive")) naive = true;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--size H] [--batch B] [--warmup N] "
                            "[--runs N] [--naive]\n", argv[0]);
            return 2;
        }
    }
    if (size < 4 || size % 4 || batch < 1 || runs < 1 || warmup < 0 || threads < 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    cp.threads = threads;
    cp.naive = naive;
    if (se_backend_cpu_new(&cp, &g_inner) != SE_OK) {
        fprintf(stderr, "cpu backend: %s\n", se_last_error());
        return 1;
    }
    se_backend timed = *g_inner;
    timed.vt = &g_timed_vt;
    se_backend *be = &timed;

    se_unet_config cfg;
    se_unet_config_sdxl(&cfg);
    se_unet *u = NULL;
    double t0 = now_s();
    if (se_unet_new_random(&cfg, be, 1, &u) != SE_OK) {
        fprintf(stderr, "unet: %s\n", se_last_error());
        return 1;
    }
    const se_weights *w = se_unet_weights(u);
    fprintf(stderr, "random SDXL UNet: %zu tensors, %lld params, %.1f s to generate\n",
            se_weights_count(w), (long long)se_weights_numel(w), now_s() - t0);

    uint32_t seed = 7;
    se_tensor x, ts, ctx, te, ti, out;
    int64_t B = batch;
    se_status st = rand_tensor(be, 4, (int64_t[]){B, 4, size, size}, -1, 1, &seed, &x);
    if (st == SE_OK) st = rand_tensor(be, 1, (int64_t[]){B}, 900, 999, &seed, &ts);
    if (st == SE_OK) st = rand_tensor(be, 3, (int64_t[]){B, 77, 2048}, -1, 1, &seed, &ctx);
    if (st == SE_OK) st = rand_tensor(be, 2, (int64_t[]){B, 1280}, -1, 1, &seed, &te);
    if (st == SE_OK) st = rand_tensor(be, 2, (int64_t[]){B, 6}, 0, 1, &seed, &ti);
    if (st == SE_OK) st = rand_tensor(be, 4, (int64_t[]){B, 4, size, size}, 0, 0, &seed, &out);
    if (st == SE_OK) {
        float ids[6] = {(float)size * 8, (float)size * 8, 0, 0, (float)size * 8, (float)size * 8};
        for (int b = 0; b < batch && st == SE_OK; b++)
            st = se_backend_set(be, (float *)ti.data + 6 * b, ids, sizeof ids);
    }
    if (st != SE_OK) {
        fprintf(stderr, "inputs: %s\n", se_last_error());
        return 1;
    }
    double best = 1e30;
    for (int r = 0; r < warmup + runs; r++) {
        memset(g_op_s, 0, sizeof g_op_s);
        memset(g_op_n, 0, sizeof g_op_n);
        double a = now_s();
        st = se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out);
        if (st == SE_OK) st = se_backend_sync(be);
        double dt = now_s() - a;
        if (st != SE_OK) {
            fprintf(stderr, "forward: %s\n", se_last_error());
            return 1;
        }
        fprintf(stderr, "%s run %d: %.3f s\n", r < warmup ? "warm-up" : "timed", r, dt);
        if (r >= warmup && dt < best) best = dt;
    }
    float probe[4];
    se_backend_get(be, probe, out.data, sizeof probe);
    fprintf(stderr, "out[0..3] = %g %g %g %g\n", probe[0], probe[1], probe[2], probe[3]);
    double total = 0;
    for (int k = 0; k < SE_OP_COUNT; k++) total += g_op_s[k];
    for (int k = 0; k < SE_OP_COUNT; k++)
        if (g_op_n[k])
            printf("op_%s_s=%.3f op_%s_pct=%.1f op_%s_calls=%ld\n", se_op_name((se_op_kind)k),
                   g_op_s[k], se_op_name((se_op_kind)k), 100.0 * g_op_s[k] / (total > 0 ? total : 1),
                   se_op_name((se_op_kind)k), g_op_n[k]);
    size_t reserved, peak;
    se_unet_activation_bytes(u, &reserved, &peak);
    printf("weights_mb=%.1f act_reserved_mb=%.1f act_peak_mb=%.1f\n",
           (double)se_weights_bytes(w) / 1048576.0, reserved / 1048576.0, peak / 1048576.0);
    printf("engine_unet_s=%.3f peak_rss_mb=%.0f threads=%d backend=%s\n", best, peak_rss_mb(),
           threads, se_backend_name(g_inner));
    se_backend_free(be, x.data);
    se_backend_free(be, ts.data);
    se_backend_free(be, ctx.data);
    se_backend_free(be, te.data);
    se_backend_free(be, ti.data);
    se_backend_free(be, out.data);
    se_unet_destroy(&u);
    se_backend_destroy(&g_inner);
    return 0;
}
