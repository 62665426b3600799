/*
 * test_vae.c - the AutoencoderKL decoder against diffusers (tests/reference/make_vae_fixtures.py):
 * a tiny random VAE with the SDXL VAE architecture in the diffusers folder layout; square,
 * non-square and batch-2 latents. Float output: normalised max error <= 1e-4; 8-bit image: max
 * abs diff <= 1. Runs on the CPU backend (tuned; the naive loops on one case), and on CUDA in
 * F32 when a device is present. Also: config and folder errors are reported, not crashed on.
 *
 * argv[1]: "cpu" (default) or "cuda".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend_cpu.h"
#include "core/backend_cuda.h"
#include "io/json_config.h"
#include "model/vae.h"
#include "fixture_util.h"
#include "test_util.h"

#define FIX STRIKE_FIXTURES_DIR "/vae/"

/* Decodes the fixture cases on be (only the one called `only` when not NULL); returns the
 * number of cases run. */
static int run_cases(se_backend *be, const char *label, const char *only) {
    se_vae *v = NULL;
    se_status st = se_vae_new_from_dir(FIX "tiny", be, &v);
    CHECK_MSG(st == SE_OK, "%s: load: %s", label, se_last_error());
    if (st != SE_OK) return 0;
    CHECK(se_vae_upscale(v) == 8);
    FILE *list = fopen(FIX "cases.txt", "r");
    CHECK(list != NULL);
    int ran = 0;
    char line[256];
    while (list && fgets(line, sizeof line, list)) {
        char name[64], fn[128];
        int B, h, w;
        if (line[0] == '#' || sscanf(line, "%63s %d %d %d", name, &B, &h, &w) != 4) continue;
        if (only && strcmp(name, only) != 0) continue;
        const size_t nz = (size_t)B * 4 * h * w, nimg = (size_t)B * 3 * (8 * h) * (8 * w);
        snprintf(fn, sizeof fn, "case_%s.latents.f32", name);
        float *lat = fixture_read_in(FIX, fn, nz * 4);
        snprintf(fn, sizeof fn, "case_%s.image.f32", name);
        float *ref = fixture_read_in(FIX, fn, nimg * 4);
        snprintf(fn, sizeof fn, "case_%s.rgb.u8", name);
        uint8_t *ref8 = fixture_read_in(FIX, fn, nimg);
        float *img = malloc(nimg * 4);
        uint8_t *rgb = malloc(nimg);
        CHECK(lat && ref && ref8 && img && rgb);
        if (lat && ref && ref8 && img && rgb) {
            st = se_vae_decode_host(v, lat, B, h, w, img, rgb);
            CHECK_MSG(st == SE_OK, "%s/%s: decode: %s", label, name, se_last_error());
            double maxerr = 0, maxref = 0;
            int maxd = 0;
            size_t ndiff = 0;
            for (size_t i = 0; i < nimg; i++) {
                double e = fabs((double)img[i] - (double)ref[i]);
                if (!(e <= maxerr)) maxerr = isnan(e) ? INFINITY : e;
                if (fabs((double)ref[i]) > maxref) maxref = fabs((double)ref[i]);
                int d = abs((int)rgb[i] - (int)ref8[i]);
                if (d > maxd) maxd = d;
                ndiff += d != 0;
            }
            double rel = maxerr / maxref;
            printf("%s/%s: max abs err %.3g, normalised %.3g; uint8 max diff %d (%zu of %zu differ)\n",
                   label, name, maxerr, rel, maxd, ndiff, nimg);
            CHECK_MSG(rel <= 1e-4, "%s/%s: normalised error %g", label, name, rel);
            CHECK_MSG(maxd <= 1, "%s/%s: uint8 max diff %d", label, name, maxd);
            ran++;
        }
        free(lat), free(ref), free(ref8), free(img), free(rgb);
    }
    if (list) fclose(list);
    size_t reserved = 0, peak = 0;
    se_vae_activation_bytes(v, &reserved, &peak);
    CHECK(peak > 0 && peak <= reserved);
    se_vae_destroy(&v);
    CHECK(v == NULL);
    return ran;
}

/* The postprocessing: clamp, *255, round to nearest, interleave. */
static void test_to_rgb8(void) {
    /* planes (C=3, H=1, W=2): R = {~10/255, ~200/255}, G = {-3, 3}, B = {0, NaN} */
    const float img[6] = {2.0f * (10.2f / 255.0f) - 1.0f, 2.0f * (199.8f / 255.0f) - 1.0f, -3.0f,
                          3.0f, 0.0f, NAN};
    uint8_t out[6];
    se_vae_to_rgb8(img, 1, 3, 1, 2, out);
    CHECK(out[0] == 10 && out[3] == 200);  /* pixel 0 R, pixel 1 R */
    CHECK(out[1] == 0 && out[4] == 255);   /* G clamps */
    CHECK(out[2] == 128 && out[5] == 0);   /* B: 0 -> 127.5 -> 128; NaN -> 0 */
}

static void test_errors(se_backend *be) {
    se_vae *v = (se_vae *)1;
    CHECK(se_vae_new_from_dir(FIX "no-such-folder", be, &v) == SE_ERR_IO && v == NULL);
    CHECK(strstr(se_last_error(), "no-such-folder") != NULL);
    se_vae_config c;
    se_vae_config_sdxl(&c);
    c.norm_groups = 24; /* 128 % 24 != 0 */
    CHECK(se_vae_new_random(&c, be, 1, &v) == SE_ERR_CONFIG);
    CHECK(strstr(se_last_error(), "norm_num_groups") != NULL);
    /* A small random model: wrong latent shapes are refused with the shape in the message. */
    se_vae_config_sdxl(&c);
    c.nblocks = 2, c.channels[0] = 32, c.channels[1] = 32;
    CHECK(se_vae_new_random(&c, be, 1, &v) == SE_OK);
    if (v) {
        CHECK(se_vae_upscale(v) == 2);
        float lat[4 * 2 * 2], img[3 * 4 * 4];
        for (int i = 0; i < 16; i++) lat[i] = (float)i / 16.0f - 0.5f;
        CHECK(se_vae_decode_host(v, lat, 1, 2, 2, img, NULL) == SE_OK);
        int finite = 1;
        for (int i = 0; i < 48; i++) finite &= isfinite(img[i]) != 0;
        CHECK(finite);
        CHECK(se_vae_decode_host(v, lat, 0, 2, 2, img, NULL) == SE_ERR_SHAPE);
        se_tensor z = se_tensor_4d(SE_F32, 1, 3, 2, 2, NULL), o = se_tensor_4d(SE_F32, 1, 3, 4, 4, NULL);
        CHECK(se_vae_decode(v, &z, &o) == SE_ERR_SHAPE);
        CHECK(strstr(se_last_error(), "[1,3,2,2]") != NULL);
        se_vae_destroy(&v);
    }
    se_vae_destroy(&v); /* NULL is fine */
}

/* Writes text to a fresh temporary file; returns its path in buf. */
static int write_tmp(char *buf, size_t cap, const char *text) {
    snprintf(buf, cap, "/tmp/strike_vae_cfg_XXXXXX");
    int fd = mkstemp(buf);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

static void test_config(void) {
    se_vae_config c;
    CHECK(se_vae_config_load(FIX "tiny/config.json", &c) == SE_OK);
    CHECK(c.nblocks == 4 && c.channels[0] == 32 && c.channels[3] == 64 && c.norm_groups == 16);
    CHECK(c.layers_per_block == 2 && c.latent_channels == 4 && c.out_channels == 3);
    CHECK(fabs(c.scaling_factor - 0.13025) < 1e-12 && c.post_quant_conv && c.mid_attention);
    static const struct { const char *json; se_status want; const char *key; } cases[] = {
        {"{\"layers_per_block\": 2}", SE_ERR_CONFIG, "block_out_channels"},
        {"{\"block_out_channels\": [64, 64], \"latents_mean\": [0, 0, 0, 0]}", SE_ERR_UNSUPPORTED, "latents_mean"},
        {"{\"block_out_channels\": [64, 64], \"up_block_types\": [\"UpDecoderBlock2D\", \"AttnUpDecoderBlock2D\"]}",
         SE_ERR_UNSUPPORTED, "AttnUpDecoderBlock2D"},
        {"{\"block_out_channels\": [64, 48]}", SE_ERR_CONFIG, "norm_num_groups"},
        {"{\"block_out_channels\": [64, 64], \"shift_factor\": 0.1}", SE_ERR_UNSUPPORTED, "shift_factor"},
        {"{\"block_out_channels\": [64, 64], \"scaling_factor\": -1}", SE_ERR_CONFIG, "scaling_factor"},
        {"{\"block_out_channels\": [64, 64], \"layers_per_block\": 100}", SE_ERR_CONFIG, "layers_per_block"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64];
        if (write_tmp(path, sizeof path, cases[i].json) != 0) {
            CHECK_MSG(0, "cannot write a temporary config");
            continue;
        }
        se_status st = se_vae_config_load(path, &c);
        CHECK_MSG(st == cases[i].want && strstr(se_last_error(), cases[i].key) != NULL,
                  "config %zu: status %d, message \"%s\"", i, (int)st, se_last_error());
        remove(path);
    }
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "cpu";
    test_to_rgb8();
    test_config();
    if (strcmp(which, "cuda") == 0) {
        if (se_cuda_device_count() <= 0) skip_test("no CUDA device");
        se_cuda_params cp;
        se_cuda_params_init(&cp);
        cp.compute_dtype = SE_F32;
        se_backend *be = NULL;
        CHECK_MSG(se_backend_cuda_new(&cp, &be) == SE_OK, "cuda backend: %s", se_last_error());
        if (be) CHECK(run_cases(be, "cuda-f32", NULL) == 3);
        se_backend_destroy(&be);
        return test_report("engine_vae_cuda");
    }
    for (int naive = 0; naive < 2; naive++) {
        se_cpu_params p;
        se_cpu_params_init(&p);
        p.naive = naive;
        p.threads = 2;
        se_backend *be = NULL;
        CHECK(se_backend_cpu_new(&p, &be) == SE_OK);
        if (!be) continue;
        /* The naive loops are slow under the sanitizers: one case is enough there. */
        CHECK(run_cases(be, naive ? "cpu-naive" : "cpu", naive ? "nonsquare" : NULL) == (naive ? 1 : 3));
        if (!naive) test_errors(be);
        se_backend_destroy(&be);
    }
    return test_report("engine_vae");
}
