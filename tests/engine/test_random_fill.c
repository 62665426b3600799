/*
 * test_random_fill.c - random weights made by a generator hook instead of on the host
 * (io/weights.h se_weights_set_random_fill) and the device generator behind it
 * (cuda/random_fill.h, se_cuda_fill_uniform):
 *
 *   (no argument)  CPU: Philox4x32-10 known answers (Random123's vector and the engine's own
 *                  sample/rng_philox.c), the fill's range, mean and variance, determinism and
 *                  stream/seed separation; the hook gets every tensor with the host path's
 *                  range, a declining hook leaves the host values unchanged, a failing one
 *                  fails the load naming the tensor and frees the set.
 *   --cuda         the kernel on the GPU (F32, F16, BF16, odd lengths) against random_fill.h
 *                  evaluated on the host, bit for bit, and a hooked se_weights_load_random on
 *                  the device; "SKIPPED: no CUDA device: ..." without one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cpu.h"
#include "core/backend_cuda.h"
#include "core/error.h"
#include "cuda/cuda_info.h"
#include "cuda/random_fill.h"
#include "io/weights.h"
#include "sample/rng_philox.h"
#include "test_util.h"

static void check_philox(void) {
    /* Random123 kat_vectors: philox4x32 10 rounds, counter 0, key 0. */
    uint32_t c[4] = {0, 0, 0, 0};
    se_rf_philox(c, 0, 0);
    CHECK(c[0] == 0x6627e8d5u && c[1] == 0xe169c58du && c[2] == 0xbc57ac4cu && c[3] == 0x9b00dbd8u);
    /* The same function as the engine's philox noise, over a few counters and keys. */
    uint64_t s = 12345;
    for (int i = 0; i < 1000; i++) {
        uint32_t ctr[4], key[2], ref[4];
        for (int j = 0; j < 4; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ctr[j] = (uint32_t)s ^ (uint32_t)(s >> 32);
        }
        key[0] = (uint32_t)(s >> 17);
        key[1] = (uint32_t)(s >> 29) * 2654435761u;
        se_philox4x32_10(ctr, key, ref);
        uint32_t got[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
        se_rf_philox(got, key[0], key[1]);
        if (memcmp(got, ref, sizeof ref) != 0) {
            CHECK_MSG(0, "philox differs from sample/rng_philox.c at case %d", i);
            return;
        }
    }
    CHECK(1);
}

static void check_distribution(void) {
    const float lo = -0.125f, hi = 0.125f;
    const uint64_t groups = 1u << 18;   /* 1M values */
    double sum = 0, sq = 0;
    float mn = 1, mx = -1;
    int out_of_range = 0;
    for (uint64_t g = 0; g < groups; g++) {
        float v[4];
        se_rf_group(7, 3, g, lo, hi, v);
        for (int j = 0; j < 4; j++) {
            if (!(v[j] >= lo && v[j] <= hi)) out_of_range++;
            sum += v[j];
            sq += (double)v[j] * v[j];
            mn = v[j] < mn ? v[j] : mn;
            mx = v[j] > mx ? v[j] : mx;
        }
    }
    const double n = 4.0 * groups, mean = sum / n, var = sq / n - mean * mean;
    const double a = hi, want_var = a * a / 3;
    printf("fill: mean %.3g var %.6g (uniform: %.6g) min %g max %g\n", mean, var, want_var, mn, mx);
    CHECK(out_of_range == 0);
    CHECK(fabs(mean) < 0.01 * a);                  /* sd of the mean: a / sqrt(3n) ~ 6e-4 a */
    CHECK(fabs(var - want_var) < 0.01 * want_var);
    CHECK(mn < lo + 0.001f && mx > hi - 0.001f);   /* covers the whole range */
    /* deterministic; streams and seeds give different values; lo == hi is that constant */
    float a1[4], a2[4], b1[4], c1[4], k[4];
    se_rf_group(7, 3, 99, lo, hi, a1);
    se_rf_group(7, 3, 99, lo, hi, a2);
    se_rf_group(7, 4, 99, lo, hi, b1);
    se_rf_group(8, 3, 99, lo, hi, c1);
    se_rf_group(7, 3, 99, 1.0f, 1.0f, k);
    CHECK(memcmp(a1, a2, sizeof a1) == 0);
    CHECK(memcmp(a1, b1, sizeof a1) != 0);
    CHECK(memcmp(a1, c1, sizeof a1) != 0);
    CHECK(k[0] == 1.0f && k[1] == 1.0f && k[2] == 1.0f && k[3] == 1.0f);
}

/* ---- the hook in se_weights_load_random ---- */

typedef struct hook_log {
    int calls;
    float lo[8], hi[8];
    uint64_t seed[8], stream[8];
    size_t n[8];
    int decline, fail_at;
} hook_log;
static hook_log g_log;

/* A generator that writes its stream index + 0.5 everywhere (through the backend), so the
 * test can tell which tensor got which call. */
static se_status fake_fill(se_backend *be, void *dst, se_dtype dt, size_t n, float lo, float hi,
                           uint64_t seed, uint64_t stream) {
    if (g_log.decline) return se_fail(SE_ERR_UNSUPPORTED, "fake: not this backend");
    int i = g_log.calls++;
    if (i < 8) {
        g_log.lo[i] = lo, g_log.hi[i] = hi, g_log.seed[i] = seed, g_log.stream[i] = stream;
        g_log.n[i] = n;
    }
    if (i == g_log.fail_at) return se_fail(SE_ERR_CUDA, "fake: kernel failed");
    if (dt != SE_F32) return se_fail(SE_ERR_INVALID_ARG, "fake: F32 only");
    float *h = malloc(n * sizeof *h);
    if (!h) return se_fail(SE_ERR_NOMEM, "fake: no memory");
    for (size_t k = 0; k < n; k++) h[k] = (float)stream + 0.5f;
    se_status st = se_backend_set(be, dst, h, n * sizeof *h);
    free(h);
    return st;
}

/* A set of 4 tensors: a conv kernel, its bias, a norm scale, a matrix. */
static se_weights *make_set(void) {
    se_weights *w = NULL;
    int h;
    CHECK(se_weights_new("t", &w) == SE_OK);
    CHECK(se_weights_require(w, "conv.weight", 4, (int64_t[]){8, 4, 3, 3}, &h) == SE_OK);
    CHECK(se_weights_require(w, "conv.bias", 1, (int64_t[]){8}, &h) == SE_OK);
    CHECK(se_weights_require(w, "norm.weight", 1, (int64_t[]){8}, &h) == SE_OK);
    CHECK(se_weights_require(w, "lin.weight", 2, (int64_t[]){16, 25}, &h) == SE_OK);
    return w;
}

/* All values of a loaded set, concatenated (malloc'd; *n their count). */
static float *values(se_backend *be, se_weights *w, size_t *n) {
    *n = (size_t)se_weights_numel(w);
    float *v = malloc(*n * sizeof *v);
    size_t off = 0;
    for (size_t i = 0; i < se_weights_count(w); i++) {
        const se_tensor *t = se_weights_at(w, (int)i);
        CHECK(se_tensor_get_data(be, t, v + off, se_tensor_nbytes(t)) == SE_OK);
        off += (size_t)se_tensor_numel(t);
    }
    return v;
}

static void check_hook(void) {
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    cp.threads = 1;
    se_backend *be = NULL;
    CHECK(se_backend_cpu_new(&cp, &be) == SE_OK);
    if (!be) return;

    /* host path (no hook): the reference values and ranges */
    CHECK(se_weights_set_random_fill(NULL) == NULL);
    se_weights *w = make_set();
    CHECK(se_weights_load_random(w, be, 42) == SE_OK);
    size_t n;
    float *host = values(be, w, &n);
    const float a_conv = 1.0f / 6.0f, a_lin = 1.0f / 5.0f;
    int ok = 1;
    for (size_t k = 0; k < 288; k++) ok &= fabsf(host[k]) <= a_conv;
    for (size_t k = 288; k < 296; k++) ok &= fabsf(host[k]) <= 0.02f;
    for (size_t k = 296; k < 304; k++) ok &= host[k] == 1.0f;
    for (size_t k = 304; k < n; k++) ok &= fabsf(host[k]) <= a_lin;
    CHECK(ok);
    se_weights_destroy(&w);

    /* the hook gets every tensor, in order, with the host path's range */
    memset(&g_log, 0, sizeof g_log);
    g_log.fail_at = -1;
    CHECK(se_weights_set_random_fill(fake_fill) == NULL);
    w = make_set();
    CHECK(se_weights_load_random(w, be, 42) == SE_OK);
    CHECK(g_log.calls == 4);
    CHECK(g_log.lo[0] == -a_conv && g_log.hi[0] == a_conv && g_log.n[0] == 288);
    CHECK(g_log.lo[1] == -0.02f && g_log.hi[1] == 0.02f && g_log.n[1] == 8);
    CHECK(g_log.lo[2] == 1.0f && g_log.hi[2] == 1.0f);
    CHECK(g_log.lo[3] == -a_lin && g_log.hi[3] == a_lin && g_log.n[3] == 400);
    for (int i = 0; i < 4; i++) CHECK(g_log.seed[i] == 42 && g_log.stream[i] == (uint64_t)i);
    size_t n2;
    float *hooked = values(be, w, &n2);
    CHECK(n2 == n && hooked[0] == 0.5f && hooked[290] == 1.5f && hooked[n2 - 1] == 3.5f);
    free(hooked);
    se_weights_destroy(&w);

    /* a hook that declines the backend: the host path, same values as without a hook */
    g_log.decline = 1;
    w = make_set();
    CHECK(se_weights_load_random(w, be, 42) == SE_OK);
    float *declined = values(be, w, &n2);
    CHECK(n2 == n && memcmp(declined, host, n * sizeof *host) == 0);
    free(declined);
    se_weights_destroy(&w);

    /* the CUDA generator declines a CPU backend the same way */
    CHECK(se_weights_set_random_fill(se_cuda_fill_uniform) == fake_fill);
    w = make_set();
    CHECK(se_weights_load_random(w, be, 42) == SE_OK);
    declined = values(be, w, &n2);
    CHECK(n2 == n && memcmp(declined, host, n * sizeof *host) == 0);
    free(declined);
    se_weights_destroy(&w);

    /* a failing hook fails the load, names the tensor, and leaves nothing allocated */
    memset(&g_log, 0, sizeof g_log);
    g_log.fail_at = 2;
    se_weights_set_random_fill(fake_fill);
    w = make_set();
    CHECK(se_weights_load_random(w, be, 42) == SE_ERR_CUDA);
    CHECK_MSG(strstr(se_last_error(), "norm.weight") && strstr(se_last_error(), "kernel failed"),
              "message: %s", se_last_error());
    CHECK(se_weights_bytes(w) == 0 && se_weights_at(w, 0)->data == NULL);
    se_weights_destroy(&w);
    se_weights_set_random_fill(NULL);
    free(host);
    se_backend_destroy(&be);
}

/* ---- --cuda: the kernel against the host evaluation ---- */

static void check_cuda(void) {
    se_cuda_params cp;
    se_cuda_params_init(&cp);
    cp.compute_dtype = SE_F32;
    se_backend *be = NULL;
    se_status st = se_backend_cuda_new(&cp, &be);
    if (st == SE_ERR_NO_DEVICE || (st == SE_ERR_UNSUPPORTED && se_cuda_device_count() == 0)) {
        const char *m = se_last_error(), *pre = "no CUDA device (";
        char why[512];
        const int wrapped = strncmp(m, pre, strlen(pre)) == 0;
        snprintf(why, sizeof why, "%s", wrapped ? m + strlen(pre) : m);
        size_t len = strlen(why);
        if (wrapped && len && why[len - 1] == ')') why[len - 1] = '\0';
        printf("SKIPPED: no CUDA device: %s\n", why);
        exit(77);
    }
    CHECK_MSG(st == SE_OK, "cuda backend: %s", se_last_error());
    if (st != SE_OK) return;
    const se_dtype dts[3] = {SE_F32, SE_F16, SE_BF16};
    const size_t lens[4] = {1, 7, 4096, 1000003};
    for (int d = 0; d < 3; d++) {
        for (int l = 0; l < 4; l++) {
            const size_t n = lens[l], esz = se_dtype_size(dts[d]);
            const float lo = l == 1 ? 1.0f : -0.03f, hi = l == 1 ? 1.0f : 0.03f;
            void *dev = NULL;
            CHECK(se_backend_alloc(be, n * esz, &dev) == SE_OK);
            st = se_cuda_fill_uniform(be, dev, dts[d], n, lo, hi, 0x123456789abcull, 77 + (uint64_t)l);
            CHECK_MSG(st == SE_OK, "fill: %s", se_last_error());
            char *got = malloc(n * esz), *want = malloc(n * esz);
            float *ref = malloc((n + 3) * sizeof *ref);
            CHECK(se_backend_get(be, got, dev, n * esz) == SE_OK);
            for (uint64_t g = 0; 4 * g < n; g++) se_rf_group(0x123456789abcull, 77 + (uint64_t)l, g, lo, hi, ref + 4 * g);
            se_convert_host(dts[d], want, SE_F32, ref, n);
            CHECK_MSG(memcmp(got, want, n * esz) == 0, "%s n=%zu: device differs from random_fill.h",
                      se_dtype_name(dts[d]), n);
            free(got), free(want), free(ref);
            se_backend_free(be, dev);
        }
    }
    /* bad arguments are refused, naming the op */
    CHECK(se_cuda_fill_uniform(be, NULL, SE_I32, 4, 0, 1, 1, 1) == SE_ERR_INVALID_ARG);
    CHECK(se_cuda_fill_uniform(be, NULL, SE_F32, 4, 1, 0, 1, 1) == SE_ERR_INVALID_ARG);
    /* a weight set made on the device: the host path's ranges, finite */
    se_weights_set_random_fill(se_cuda_fill_uniform);
    se_weights *w = make_set();
    CHECK(se_weights_load_random(w, be, 5) == SE_OK);
    size_t n;
    float *v = values(be, w, &n);
    int ok = 1;
    for (size_t k = 0; k < 288; k++) ok &= fabsf(v[k]) <= 1.0f / 6.0f;
    for (size_t k = 296; k < 304; k++) ok &= v[k] == 1.0f;
    CHECK(ok);
    free(v);
    se_weights_destroy(&w);
    se_weights_set_random_fill(NULL);
    se_backend_destroy(&be);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--cuda") == 0) {
        check_cuda();
        return test_report("engine_cuda_random_fill");
    }
    check_philox();
    check_distribution();
    check_hook();
    return test_report("engine_random_fill");
}
