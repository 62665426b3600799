/*
 * test_pipeline_tiny.c - the random model generator (pipeline/tiny_model.c) and the safetensors
 * writer: the generated folder loads through the public API and renders deterministically (and
 * not a flat image); writer round trips in F32/F16/BF16 through the reader; writer errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "pipeline/tiny_model.h"
#include "strike/engine.h"
#include "test_util.h"

static void test_writer(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    se_st_writer *w = NULL;
    CHECK(se_st_writer_new(&w) == SE_OK);
    float a[6] = {1.5f, -2.25f, 3.0f, 0.1f, -0.0f, 65504.0f};
    CHECK(se_st_writer_add(w, "a.f32", SE_F32, 2, (int64_t[]){2, 3}, a) == SE_OK);
    CHECK(se_st_writer_add(w, "a.f16", SE_F16, 1, (int64_t[]){6}, a) == SE_OK);
    CHECK(se_st_writer_add_borrowed(w, "a.bf16", SE_BF16, 3, (int64_t[]){1, 2, 3}, a) == SE_OK);
    CHECK(se_st_writer_add(w, "a.f32", SE_F32, 1, (int64_t[]){6}, a) == SE_ERR_INVALID_ARG);
    CHECK(se_st_writer_add(w, "bad", SE_F32, 0, (int64_t[]){6}, a) == SE_ERR_INVALID_ARG);
    CHECK(se_st_writer_save(w, path) == SE_OK);
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.safetensors", dir);
    CHECK(se_st_writer_save(w, nodir) == SE_ERR_IO);
    se_st_writer_destroy(&w);
    CHECK(w == NULL);
    se_st_file *f = NULL;
    CHECK(se_st_open(path, &f) == SE_OK);
    if (!f) return;
    CHECK(se_st_count(f) == 3);
    const char *names[3] = {"a.f32", "a.f16", "a.bf16"};
    for (int i = 0; i < 3; i++) {
        const se_st_tensor *t = se_st_find(f, names[i]);
        CHECK(t != NULL && t->numel == 6);
        if (!t) continue;
        float back[6];
        CHECK(se_st_read_host(f, t, SE_F32, back, sizeof back) == SE_OK);
        for (int k = 0; k < 6; k++) {
            float tol = i == 0 ? 0.0f : i == 1 ? 1e-3f * (1 + a[k] * (a[k] < 0 ? -1 : 1))
                                               : 1e-2f * (1 + a[k] * (a[k] < 0 ? -1 : 1));
            float d = back[k] - a[k];
            CHECK_MSG(d <= tol && d >= -tol, "%s[%d]: %g vs %g", names[i], k, back[k], a[k]);
        }
    }
    CHECK(se_st_find(f, "a.f32")->ndim == 2 && se_st_find(f, "a.bf16")->ndim == 3);
    se_st_close(&f);
}

static void test_tiny(const char *dir) {
    char mdir[512];
    snprintf(mdir, sizeof mdir, "%s/tiny", dir);
    se_status st = se_make_random_model(mdir, SE_GEN_TINY, 7);
    CHECK_MSG(st == SE_OK, "generate: %s", se_last_error());
    if (st != SE_OK) return;
    se_engine_params p;
    se_engine_params_init(&p);
    p.threads = 2;
    se_engine *e = NULL;
    CHECK(se_engine_new(&p, &e) == SE_OK);
    se_model_desc d;
    se_model_desc_init(&d);
    d.base_dir = mdir;
    se_model *m = NULL;
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_OK, "load: %s", se_last_error());
    if (st == SE_OK) {
        CHECK(strcmp(se_model_name(m), "tiny") == 0);
        const size_t img = 64 * 96 * 3;
        uint8_t *buf = malloc(3 * img);
        se_job j[3];
        se_job_result r[3];
        for (int i = 0; i < 3; i++) {
            se_job_init(&j[i]);
            j[i].prompt = i == 2 ? "a blue house" : "a red cat on a strike render farm";
            j[i].seed = 5;
            j[i].width = 96;
            j[i].height = 64;
            j[i].rgb = buf + (size_t)i * img;
        }
        CHECK(se_engine_render(e, m, j, 3, r, NULL, NULL) == SE_OK);
        CHECK(memcmp(buf, buf + img, img) == 0);      /* same job, same pixels */
        CHECK(memcmp(buf, buf + 2 * img, img) != 0);  /* another prompt, other pixels */
        int lo = 255, hi = 0;
        for (size_t k = 0; k < img; k++) {
            if (buf[k] < lo) lo = buf[k];
            if (buf[k] > hi) hi = buf[k];
        }
        CHECK_MSG(hi - lo > 16, "flat image %d..%d", lo, hi);
        free(buf);
    }
    se_engine_destroy(&e);
    /* a second generation with the same seed writes the same weights */
    char m2[512], p1[600], p2[600];
    snprintf(m2, sizeof m2, "%s/tiny2", dir);
    CHECK(se_make_random_model(m2, SE_GEN_TINY, 7) == SE_OK);
    snprintf(p1, sizeof p1, "%s/unet/diffusion_pytorch_model.safetensors", mdir);
    snprintf(p2, sizeof p2, "%s/unet/diffusion_pytorch_model.safetensors", m2);
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    CHECK(f1 && f2);
    if (f1 && f2) {
        int c1, c2, same = 1;
        do {
            c1 = fgetc(f1);
            c2 = fgetc(f2);
            if (c1 != c2) same = 0;
        } while (c1 != EOF && c2 != EOF && same);
        CHECK(same);
    }
    if (f1) fclose(f1);
    if (f2) fclose(f2);
    CHECK(se_make_random_model(mdir, (se_gen_preset)9, 1) == SE_ERR_INVALID_ARG);
}

/* An incomplete UNet file (the fixture model's UNet without conv_out.weight) is refused with
 * the missing tensor named; a VAE folder that is not one is refused naming the file. */
static void test_incomplete(const char *dir) {
    se_st_file *f = NULL;
    CHECK(se_st_open(STRIKE_FIXTURES_DIR "/pipeline/model/unet/diffusion_pytorch_model.safetensors", &f) == SE_OK);
    if (!f) return;
    se_st_writer *w = NULL;
    CHECK(se_st_writer_new(&w) == SE_OK);
    int dropped = 0;
    for (size_t i = 0; w && i < se_st_count(f); i++) {
        const se_st_tensor *t = se_st_at(f, i);
        if (strcmp(t->name, "conv_out.weight") == 0) {
            dropped = 1;
            continue;
        }
        float *v = malloc((size_t)t->numel * sizeof(float));
        CHECK(v && se_st_read_host(f, t, SE_F32, v, (size_t)t->numel * sizeof(float)) == SE_OK);
        if (v) CHECK(se_st_writer_add(w, t->name, SE_F16, t->ndim, t->shape, v) == SE_OK);
        free(v);
    }
    CHECK(dropped);
    char path[512];
    snprintf(path, sizeof path, "%s/incomplete_unet.safetensors", dir);
    CHECK(w && se_st_writer_save(w, path) == SE_OK);
    se_st_writer_destroy(&w);
    se_st_close(&f);
    se_engine *e = NULL;
    CHECK(se_engine_new(NULL, &e) == SE_OK);
    se_model_desc d;
    se_model_desc_init(&d);
    d.base_dir = STRIKE_FIXTURES_DIR "/pipeline/model";
    d.unet_file = path;
    se_model *m = NULL;
    se_status st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_ERR_MISSING_TENSOR && m == NULL, "%d %s", st, se_last_error());
    CHECK_MSG(strstr(se_last_error(), "conv_out.weight") != NULL, "%s", se_last_error());
    d.unet_file = NULL;
    d.vae_dir = STRIKE_FIXTURES_DIR "/pipeline/model/text_encoder";
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st != SE_OK && m == NULL && strstr(se_last_error(), "text_encoder"), "%d %s", st, se_last_error());
    se_engine_destroy(&e);
}

int main(void) {
    char dir[] = "/tmp/strike-tiny-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_writer(dir);
    test_tiny(dir);
    test_incomplete(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_report("engine_pipeline_tiny_model");
}
