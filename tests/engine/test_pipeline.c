/*
 * test_pipeline.c - the whole Lightning pipeline through the public API (strike/engine.h)
 * against diffusers' StableDiffusionXLPipeline (tests/reference/make_pipeline_fixtures.py): a
 * tiny random SDXL model in the diffusers layout, Euler trailing, no CFG, CPU generators.
 *
 * argv[1]: a case name from cases.txt (e4, e2, e8, s1, nonsquare, batch2, latents, bigseed,
 * long, philox, sgm, lora), or "api" for the API checks (errors per job, cache reuse, batch
 * independence). sgm loads the model from model_sgm.safetensors (the SGM single-file checkpoint;
 * reference: diffusers' from_single_file) and also checks it gives the same image as the diffusers
 * folder; lora merges lora_peft.safetensors at 0.8 (reference: diffusers' fuse_lora).
 * Each case: every job's 8-bit image against the reference uint8 image, max abs diff <= 2 and
 * PSNR >= 50 dB. argv[2]: "cpu" (default) or "cuda" (skipped without a device).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "strike/engine.h"
#include "fixture_util.h"
#include "pipeline_cases.h"
#include "test_util.h"

#define FIX STRIKE_FIXTURES_DIR "/pipeline/"
/* The jobs of case `name` (pipeline_cases.h); their count, 0 when the file is missing. */
static int load_case(const char *name, pipeline_job *out) {
    int n = pipeline_case_read(FIX "cases.txt", name, out);
    CHECK(n >= 0);
    return n < 0 ? 0 : n;
}

/* The model a case runs on: the diffusers folder; for "sgm" the SGM checkpoint over it (configs
 * and tokenizers from the folder), for "lora" the folder with the LoRA merged. */
static se_status load_model(se_engine *e, const char *name, const char *pred, se_model **m) {
    se_model_desc d;
    se_model_desc_init(&d);
    d.base_dir = FIX "model";
    d.name = "tiny-ref";
    if (strcmp(name, "sgm") == 0) d.checkpoint_file = FIX "model_sgm.safetensors";
    if (strcmp(name, "lora") == 0) {
        d.lora_file = FIX "lora_peft.safetensors";
        d.lora_strength = 0.8f;
    }
    d.prediction = strcmp(pred, "sample") == 0 ? SE_MODEL_PRED_SAMPLE : SE_MODEL_PRED_EPSILON;
    return se_engine_load_model(e, &d, m);
}

/* Compares an 8-bit image with the reference; prints the numbers. */
static void compare(const char *what, const uint8_t *got, const uint8_t *ref, size_t n) {
    int maxd = 0;
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)ref[i]);
        if (d > maxd) maxd = d;
        se += (double)d * d;
    }
    double mse = se / (double)n;
    double psnr = mse == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / mse);
    printf("%s: max abs diff %d, PSNR %.2f dB\n", what, maxd, psnr);
    CHECK_MSG(maxd <= 2, "%s: max abs diff %d > 2", what, maxd);
    CHECK_MSG(psnr >= 50.0, "%s: PSNR %.2f < 50 dB", what, psnr);
}

static void run_case(se_engine *e, const char *name) {
    pipeline_job fj[MAXJ];
    int n = load_case(name, fj);
    CHECK_MSG(n > 0, "case %s not in cases.txt", name);
    if (n <= 0) return;
    se_model *m = NULL;
    se_status st = load_model(e, name, fj[0].pred, &m);
    CHECK_MSG(st == SE_OK, "load: %s", se_last_error());
    if (st != SE_OK) return;
    const size_t img = (size_t)fj[0].H * (size_t)fj[0].W * 3;
    char fn[128];
    snprintf(fn, sizeof fn, "case_%s.rgb.u8", name);
    uint8_t *ref = fixture_read_in(FIX, fn, img * (size_t)n);
    float *start = NULL;
    const size_t nlat = (size_t)4 * (size_t)(fj[0].H / 8) * (size_t)(fj[0].W / 8);
    /* start column: "-" = the seed's cpu noise, "philox" = the seed's philox noise, else a file */
    const int philox = strcmp(fj[0].start, "philox") == 0;
    const int given = !philox && strcmp(fj[0].start, "-") != 0;
    if (given) start = fixture_read_in(FIX, fj[0].start, nlat * 4 * (size_t)n);
    uint8_t *out = calloc(img * (size_t)n, 1);
    se_job jobs[MAXJ];
    se_job_result res[MAXJ];
    for (int i = 0; i < n; i++)
        pipeline_job_fill(&fj[i], philox, start ? start + (size_t)i * nlat : NULL, out + (size_t)i * img,
                          &jobs[i]);
    CHECK(ref && out && (!given || start));
    if (ref && out) {
        st = se_engine_render(e, m, jobs, (size_t)n, res, NULL, NULL);
        CHECK_MSG(st == SE_OK, "%s: render: %s", name, res[0].error);
        for (int i = 0; i < n; i++) {
            char what[64];
            snprintf(what, sizeof what, "%s job %d", name, i);
            CHECK_MSG(res[i].status == SE_OK, "%s: %s", what, res[i].error);
            if (res[i].status == SE_OK) compare(what, out + (size_t)i * img, ref + (size_t)i * img, img);
            /* only the long prompt is truncated, and it says so */
            int truncated = strcmp(name, "long") == 0;
            CHECK_MSG((res[i].warning[0] != 0) == truncated, "%s: warning \"%s\"", what, res[i].warning);
            if (truncated) CHECK(strstr(res[i].warning, "truncated") != NULL);
        }
    }
    if (strcmp(name, "sgm") == 0 && ref && out) { /* the same jobs from the diffusers folder */
        se_model *mf = NULL;
        uint8_t *out2 = calloc(img * (size_t)n, 1);
        st = load_model(e, "folder", fj[0].pred, &mf);
        CHECK_MSG(st == SE_OK, "load folder: %s", se_last_error());
        for (int i = 0; i < n; i++) jobs[i].rgb = out2 + (size_t)i * img;
        if (st == SE_OK && out2) {
            st = se_engine_render(e, mf, jobs, (size_t)n, res, NULL, NULL);
            CHECK_MSG(st == SE_OK, "folder render: %s", res[0].error);
            if (st == SE_OK) compare("sgm file vs diffusers folder", out, out2, img * (size_t)n);
        }
        free(out2);
        se_engine_unload_model(e, &mf);
    }
    free(ref);
    free(start);
    free(out);
    se_engine_unload_model(e, &m);
    CHECK(m == NULL);
}

/* Writes the SGM fixture checkpoint to path without the tensor `drop` and with `reshape` stored
 * as a [numel] vector (NULL: none); returns 1 when done. */
static int write_broken_sgm(const char *path, const char *drop, const char *reshape) {
    se_st_file *f = NULL;
    se_st_writer *w = NULL;
    int ok = se_st_open(FIX "model_sgm.safetensors", &f) == SE_OK && se_st_writer_new(&w) == SE_OK;
    for (size_t i = 0; ok && i < se_st_count(f); i++) {
        const se_st_tensor *t = se_st_at(f, i);
        if (strcmp(t->name, drop) == 0 || t->ndim == 0) continue; /* (scalars: logit_scale, unused) */
        float *v = malloc((size_t)t->numel * sizeof(float));
        ok = v && se_st_read_host(f, t, SE_F32, v, (size_t)t->numel * sizeof(float)) == SE_OK;
        int64_t flat[1] = {t->numel};
        int vec = reshape && strcmp(t->name, reshape) == 0;
        if (ok) ok = se_st_writer_add(w, t->name, SE_F16, vec ? 1 : t->ndim, vec ? flat : t->shape, v) == SE_OK;
        free(v);
    }
    if (ok) ok = se_st_writer_save(w, path) == SE_OK;
    if (!ok) fprintf(stderr, "write_broken_sgm: %s\n", se_last_error());
    se_st_writer_destroy(&w);
    se_st_close(&f);
    return ok;
}

static int g_progress_denoise, g_progress_done;

static void on_progress(void *user, const se_progress *p) {
    (void)user;
    if (p->stage == SE_STAGE_DENOISE) g_progress_denoise++;
    if (p->stage == SE_STAGE_DONE) g_progress_done = (int)p->jobs_done;
}

/* API behaviour: bad jobs fail alone, the batch result equals the single-job results, repeated
 * prompts (cache hits) give the same pixels, load errors name what is missing. */
static void run_api(se_engine *e) {
    se_model *m = NULL;
    se_status st = load_model(e, "api", "epsilon", &m);
    CHECK_MSG(st == SE_OK, "load: %s", se_last_error());
    if (st != SE_OK) return;
    const size_t img = 64 * 64 * 3;
    uint8_t *buf = calloc(img, 6);
    se_job jobs[5];
    se_job_result res[5];
    const char *prompts[5] = {"a red cat", "a red cat", "blue sky", "a dog", "a tree"};
    for (int i = 0; i < 5; i++) {
        se_job_init(&jobs[i]);
        jobs[i].prompt = prompts[i];
        jobs[i].seed = (uint64_t)(100 + i);
        jobs[i].steps = 2;
        jobs[i].width = jobs[i].height = 64;
        jobs[i].rgb = buf + (size_t)i * img;
    }
    jobs[1].width = 60;                  /* not a multiple of 32: refused alone */
    jobs[3].prompt = "a \xff dog";       /* invalid UTF-8: refused alone */
    jobs[4].noise = SE_JOB_NOISE_PHILOX; /* renders */
    g_progress_denoise = g_progress_done = 0;
    st = se_engine_render(e, m, jobs, 5, res, on_progress, NULL);
    CHECK(st != SE_OK);
    CHECK(res[0].status == SE_OK && res[2].status == SE_OK && res[4].status == SE_OK);
    CHECK_MSG(res[1].status == SE_ERR_INVALID_ARG && strstr(res[1].error, "60x64"), "%s", res[1].error);
    CHECK_MSG(res[3].status != SE_OK && res[3].error[0], "%d %s", res[3].status, res[3].error);
    CHECK_MSG(g_progress_denoise == 2, "denoise reports %d (one batch of 3, 2 steps)", g_progress_denoise);
    CHECK(g_progress_done == 5);
    /* the same jobs one at a time (the prompts are now cached): the same pixels, within 1 */
    for (int i = 0; i < 5; i += 2) {
        se_job one = jobs[i];
        one.rgb = buf + 5 * img;
        st = se_engine_render(e, m, &one, 1, &res[i], NULL, NULL);
        CHECK_MSG(st == SE_OK, "%s", res[i].error);
        int maxd = 0;
        for (size_t k = 0; k < img; k++) {
            int d = abs((int)one.rgb[k] - (int)jobs[i].rgb[k]);
            if (d > maxd) maxd = d;
        }
        CHECK_MSG(maxd <= 1, "job %d alone vs in a batch: max diff %d", i, maxd);
    }
    /* philox noise gives a different image than cpu noise for the same seed */
    se_job a = jobs[4];
    a.noise = SE_JOB_NOISE_CPU;
    a.rgb = buf + 5 * img;
    CHECK(se_engine_render(e, m, &a, 1, &res[0], NULL, NULL) == SE_OK);
    CHECK(memcmp(a.rgb, jobs[4].rgb, img) != 0);
    CHECK(se_engine_render(e, m, NULL, 0, NULL, NULL, NULL) == SE_OK);
    se_engine_unload_model(e, &m);
    free(buf);

    /* load errors name what is wrong */
    se_model_desc d;
    se_model_desc_init(&d);
    d.base_dir = FIX "no-such-model";
    CHECK(se_engine_load_model(e, &d, &m) == SE_ERR_IO && m == NULL);
    CHECK(strstr(se_last_error(), "no-such-model") != NULL);
    d.base_dir = FIX;  /* a folder without unet/ etc. */
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st != SE_OK && strstr(se_last_error(), "missing folder"), "%s", se_last_error());
    d.base_dir = FIX "model";
    d.unet_file = FIX "cases.txt";      /* not a safetensors file */
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_ERR_FORMAT || st == SE_ERR_IO, "%d %s", st, se_last_error());
    /* a UNet file over the base folder (the Lightning UNet layout) loads */
    d.unet_file = FIX "model/unet/diffusion_pytorch_model.safetensors";
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_OK, "unet_file: %s", se_last_error());
    se_engine_unload_model(e, &m);
    d.unet_file = NULL;
    /* a checkpoint that is not SGM, a missing LoRA, a LoRA for another model: named errors */
    d.checkpoint_file = FIX "model/unet/diffusion_pytorch_model.safetensors";
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_ERR_FORMAT && strstr(se_last_error(), "not an SGM"), "%d %s", st, se_last_error());
    d.checkpoint_file = NULL;
    d.lora_file = FIX "no-such-lora.safetensors";
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_ERR_IO && strstr(se_last_error(), "no-such-lora"), "%d %s", st, se_last_error());
    d.lora_file = STRIKE_FIXTURES_DIR "/formats/lora_peft.safetensors"; /* made for another UNet */
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st != SE_OK && m == NULL && strstr(se_last_error(), "lora"), "%d %s", st, se_last_error());
    printf("LoRA for another model: %s\n", se_last_error());
    d.lora_file = NULL;
    /* an incomplete SGM checkpoint and one with a mismatched tensor: refused, the tensor named */
    char tmp[] = "/tmp/strike-pipeline-test.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char broken[256];
    snprintf(broken, sizeof broken, "%s/broken.safetensors", tmp);
    CHECK(write_broken_sgm(broken, "model.diffusion_model.out.2.weight", NULL));
    d.checkpoint_file = broken;
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_ERR_MISSING_TENSOR && m == NULL && strstr(se_last_error(), "conv_out.weight") &&
              strstr(se_last_error(), "out.2.weight"), "%d %s", st, se_last_error());
    printf("incomplete checkpoint: %s\n", se_last_error());
    CHECK(write_broken_sgm(broken, "", "conditioner.embedders.1.model.token_embedding.weight"));
    st = se_engine_load_model(e, &d, &m);
    CHECK_MSG(st == SE_ERR_SHAPE && m == NULL && strstr(se_last_error(), "token_embedding.weight"),
              "%d %s", st, se_last_error());
    if (m) se_engine_unload_model(e, &m);
    printf("mismatched tensor: %s\n", se_last_error());
    d.checkpoint_file = NULL;
    remove(broken);
    rmdir(tmp);
    se_job_noise nz;
    CHECK(se_job_noise_parse("philox", &nz) == SE_OK && nz == SE_JOB_NOISE_PHILOX);
    CHECK(se_job_noise_parse("gpu", &nz) == SE_ERR_INVALID_ARG);
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "e4";
    const char *backend = argc > 2 ? argv[2] : "cpu";
    se_engine_params p;
    se_engine_params_init(&p);
    p.threads = 2;
    if (strcmp(backend, "cuda") == 0) {
        p.backend = SE_BACKEND_CUDA;
        p.dtype = SE_COMPUTE_F32;
    }
    se_engine *e = NULL;
    se_status st = se_engine_new(&p, &e);
    if (st == SE_ERR_NO_DEVICE || (st == SE_ERR_UNSUPPORTED && p.backend == SE_BACKEND_CUDA))
        skip_test(se_last_error());
    CHECK_MSG(st == SE_OK, "engine: %s", se_last_error());
    if (st == SE_OK) {
        if (strcmp(what, "api") == 0) run_api(e);
        else run_case(e, what);
    }
    se_engine_destroy(&e);
    return test_report("engine_pipeline");
}
