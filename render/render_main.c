/*
 * render_main.c - strike-render: renders prompts to PNG files on one machine with the Lightning
 * engine, no farm. Also generates the tiny random model (--make-tiny-model DIR).
 *
 *   strike-render --model /models/sdxl-lightning --prompt "a cat" --seed 42 -o cat.png
 *   strike-render --model DIR --prompts prompts.txt --count 2 -o outdir/
 *   strike-render --make-tiny-model /tmp/tiny && strike-render --model /tmp/tiny --prompt x \
 *       --width 64 --height 64 -o x.png
 *
 * Exit status: 0 all images written, 1 some job failed, 2 usage or model error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "png_write.h"
#include "strike/engine.h"

#define MAX_PROMPT_BYTES (1u << 20)
#define MAX_JOBS 100000
#define DEFAULT_MODELS "/etc/strike/models.json"

static void usage(FILE *f) {
    fputs(
        "usage: strike-render --model PATH|NAME (--prompt TEXT | --prompts FILE) [options] -o OUT\n"
        "       strike-render --make-tiny-model DIR [--preset tiny|sdxl] [--seed N]\n"
        "\n"
        "Renders SDXL-Lightning images on this machine (no farm) and writes PNGs with an\n"
        "A1111-style `parameters` text chunk.\n"
        "\n"
        "Model:\n"
        "  --model PATH|NAME   a diffusers SDXL folder (unet/ text_encoder/ text_encoder_2/ vae/\n"
        "                      tokenizer/ tokenizer_2/), or the name of a model in the models\n"
        "                      config (its steps default from the model; other steps refused)\n"
        "  --models FILE       the models config (docs/models.md); default $STRIKE_MODELS, else\n"
        "                      " DEFAULT_MODELS " when it exists\n"
        "  --checkpoint FILE   an SGM single-file checkpoint over the folder (its configs and\n"
        "                      tokenizers)\n"
        "  --lora FILE         a LoRA merged at load time; --lora-strength X (default 1)\n"
        "  --unet FILE         a Lightning UNet file (sdxl_lightning_Nstep_unet.safetensors) used\n"
        "                      instead of the folder's unet weights\n"
        "  --vae DIR           a diffusers vae/ folder used instead of the model's\n"
        "  --prediction P      auto (the folder's scheduler config; default), epsilon, or sample\n"
        "                      (the 1-step Lightning UNet predicts the sample, x0)\n"
        "  --name TEXT         model name written into the PNGs (default: the folder's name)\n"
        "Jobs:\n"
        "  --prompt TEXT       the prompt\n"
        "  --prompts FILE      one prompt per line (empty lines and lines starting with # skipped)\n"
        "  --count N           images per prompt, seeds SEED, SEED+1, ... (default 1)\n"
        "  --seed N            noise seed of the first image (default 0); with --prompts, the\n"
        "                      prompt on line k (counting prompts from 0) starts at SEED + k*COUNT\n"
        "  --steps N           sampler steps (default 4; use the step count the model was made for)\n"
        "  --width N           image width in pixels (default 1024; multiple of 32 for SDXL)\n"
        "  --height N          image height in pixels (default 1024)\n"
        "  --noise MODE        cpu (torch CPU randn, as diffusers with a CPU generator; default),\n"
        "                      philox (A1111's model of torch CUDA randn), cpu-default\n"
        "Engine:\n"
        "  --batch N           most jobs rendered together as one batch (default 1)\n"
        "  --backend B         cpu (default) or cuda\n"
        "  --threads N         CPU threads (default 0 = all cores)\n"
        "  --device N          CUDA device (default 0)\n"
        "  --dtype D           auto (default: f32 on cpu, bf16 on cuda), f32, f16, bf16\n"
        "Output:\n"
        "  -o, --output OUT    a PNG file for one image; a folder (created) for several, with\n"
        "                      files NNNNN-SEED.png\n"
        "  --compression N     zlib level 0..9 (default 6)\n"
        "  --quiet             no progress on stderr\n"
        "Other:\n"
        "  --make-tiny-model DIR  write a random SDXL-architecture model folder (its images are\n"
        "                      noise) and exit; --preset tiny (default, ~2 MB) or sdxl (the full\n"
        "                      SDXL configuration in fp16, ~6 GB, for benchmarks)\n"
        "  --version           print the engine version\n"
        "  -h, --help          this text\n",
        f);
}

static int parse_int(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "strike-render: %s: expected an integer in %ld..%ld, got \"%s\"\n", flag, lo,
                hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *flag, const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *s == '-' || *end || errno) {
        fprintf(stderr, "strike-render: %s: expected an unsigned integer, got \"%s\"\n", flag,
                s ? s : "");
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads the prompts file into a NULL-free array of lines. */
static char **read_prompts(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "strike-render: --prompts %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int bad = 0;
    long lineno = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue;
        if ((size_t)len > MAX_PROMPT_BYTES || strlen(line) != (size_t)len || *n >= MAX_JOBS) {
            fprintf(stderr, "strike-render: %s line %ld: prompt too long, contains a NUL byte, or "
                    "too many prompts (max %d)\n", path, lineno, MAX_JOBS);
            bad = 1;
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                bad = 1;
                break;
            }
            v = nv;
        }
        if (!(v[(*n)++] = strdup(line))) {
            bad = 1;
            break;
        }
    }
    free(line);
    fclose(f);
    if (!bad && *n == 0) {
        fprintf(stderr, "strike-render: %s holds no prompts\n", path);
        bad = 1;
    }
    if (bad) {
        for (size_t i = 0; i < *n; i++) free(v[i]);
        free(v);
        return NULL;
    }
    return v;
}

typedef struct progress_state {
    int quiet;
    int tty;      /* stderr is a terminal: per-step progress on one line */
    double t0;
} progress_state;

static void on_progress(void *user, const se_progress *p) {
    progress_state *s = user;
    if (s->quiet) return;
    if (p->stage == SE_STAGE_DENOISE && s->tty)
        fprintf(stderr, "\rstrike-render: jobs %zu-%zu of %zu: step %d/%d (%.1f s)", p->batch_first + 1,
                p->batch_first + p->batch_size, p->jobs_total, p->step, p->steps, now_s() - s->t0);
    else if (p->stage == SE_STAGE_DONE)
        fprintf(stderr, "%sstrike-render: %zu of %zu jobs done (%.1f s)%s\n", s->tty ? "\r" : "",
                p->jobs_done, p->jobs_total, now_s() - s->t0, s->tty ? "          " : "");
}

int main(int argc, char **argv) {
    const char *model = NULL, *unet = NULL, *vae = NULL, *name = NULL, *prompt = NULL;
    const char *prompts_file = NULL, *out = NULL, *tiny_dir = NULL, *preset = "tiny";
    const char *models_file = NULL, *checkpoint = NULL, *lora = NULL;
    double lora_strength = 1.0;
    int steps_given = 0;
    long count = 1, steps = 4, width = 1024, height = 1024, batch = 1, threads = 0, device = 0;
    long compression = 6;
    uint64_t seed = 0;
    int quiet = 0;
    se_job_noise noise = SE_JOB_NOISE_CPU;
    se_engine_params ep;
    se_engine_params_init(&ep);
    se_model_prediction pred = SE_MODEL_PRED_AUTO;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("strike-render (engine %s)\n", se_version());
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "strike-render: %s needs a value (or unknown flag); see --help\n", a);
            return 2;
        } else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--unet")) unet = v;
        else if (!strcmp(a, "--models")) models_file = v;
        else if (!strcmp(a, "--checkpoint")) checkpoint = v;
        else if (!strcmp(a, "--lora")) lora = v;
        else if (!strcmp(a, "--lora-strength")) {
            char *end = NULL;
            lora_strength = strtod(v, &end);
            if (!*v || *end || !(lora_strength >= -16.0 && lora_strength <= 16.0)) {
                fprintf(stderr, "strike-render: --lora-strength: expected a number in -16..16, got \"%s\"\n", v);
                return 2;
            }
        }
        else if (!strcmp(a, "--vae")) vae = v;
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--prompts")) prompts_file = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--make-tiny-model")) tiny_dir = v;
        else if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--seed")) {
            if (parse_u64(a, v, &seed)) return 2;
        } else if (!strcmp(a, "--count")) {
            if (parse_int(a, v, 1, MAX_JOBS, &count)) return 2;
        } else if (!strcmp(a, "--steps")) {
            if (parse_int(a, v, 1, SE_MAX_JOB_STEPS, &steps)) return 2;
            steps_given = 1;
        } else if (!strcmp(a, "--width")) {
            if (parse_int(a, v, 8, SE_MAX_IMAGE_SIDE, &width)) return 2;
        } else if (!strcmp(a, "--height")) {
            if (parse_int(a, v, 8, SE_MAX_IMAGE_SIDE, &height)) return 2;
        } else if (!strcmp(a, "--batch")) {
            if (parse_int(a, v, 1, 64, &batch)) return 2;
        } else if (!strcmp(a, "--threads")) {
            if (parse_int(a, v, 0, 4096, &threads)) return 2;
        } else if (!strcmp(a, "--device")) {
            if (parse_int(a, v, 0, 1024, &device)) return 2;
        } else if (!strcmp(a, "--compression")) {
            if (parse_int(a, v, 0, 9, &compression)) return 2;
        } else if (!strcmp(a, "--noise")) {
            if (se_job_noise_parse(v, &noise) != SE_OK) {
                fprintf(stderr, "strike-render: --noise: %s\n", se_last_error());
                return 2;
            }
        } else if (!strcmp(a, "--backend")) {
            if (!strcmp(v, "cpu")) ep.backend = SE_BACKEND_CPU;
            else if (!strcmp(v, "cuda")) ep.backend = SE_BACKEND_CUDA;
            else {
                fprintf(stderr, "strike-render: --backend: expected cpu or cuda, got \"%s\"\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--dtype")) {
            if (!strcmp(v, "auto")) ep.dtype = SE_COMPUTE_AUTO;
            else if (!strcmp(v, "f32")) ep.dtype = SE_COMPUTE_F32;
            else if (!strcmp(v, "f16")) ep.dtype = SE_COMPUTE_F16;
            else if (!strcmp(v, "bf16")) ep.dtype = SE_COMPUTE_BF16;
            else {
                fprintf(stderr, "strike-render: --dtype: expected auto, f32, f16 or bf16, got \"%s\"\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--prediction")) {
            if (!strcmp(v, "auto")) pred = SE_MODEL_PRED_AUTO;
            else if (!strcmp(v, "epsilon")) pred = SE_MODEL_PRED_EPSILON;
            else if (!strcmp(v, "sample")) pred = SE_MODEL_PRED_SAMPLE;
            else {
                fprintf(stderr, "strike-render: --prediction: expected auto, epsilon or sample, got \"%s\"\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "strike-render: unknown flag %s; see --help\n", a);
            return 2;
        }
        i += takes;
    }

    if (tiny_dir) {
        if (strcmp(preset, "tiny") != 0 && strcmp(preset, "sdxl") != 0) {
            fprintf(stderr, "strike-render: --preset: expected tiny or sdxl, got \"%s\"\n", preset);
            return 2;
        }
        if (se_model_make_random(tiny_dir, preset, seed) != SE_OK) {
            fprintf(stderr, "strike-render: %s\n", se_last_error());
            return 2;
        }
        fprintf(stderr, "strike-render: wrote a random %s model to %s (its images are noise)\n",
                preset, tiny_dir);
        return 0;
    }
    if (!model || !out || (!prompt == !prompts_file)) {
        fprintf(stderr, "strike-render: need --model, -o and exactly one of --prompt/--prompts; "
                "see --help\n");
        return 2;
    }
    if (prompt && (strlen(prompt) > MAX_PROMPT_BYTES)) {
        fprintf(stderr, "strike-render: --prompt longer than %u bytes\n", MAX_PROMPT_BYTES);
        return 2;
    }
    /* --model: a folder, else a name in the models config */
    se_model_specs *specs = NULL;
    const se_model_spec *spec = NULL;
    char model_hash[SE_MODEL_HASH_LEN + 1] = "";
    struct stat sb;
    if (stat(model, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        const char *mf = models_file ? models_file : getenv("STRIKE_MODELS");
        if ((!mf || !*mf) && stat(DEFAULT_MODELS, &sb) == 0) mf = DEFAULT_MODELS;
        if (!mf || !*mf) {
            fprintf(stderr, "strike-render: --model %s: not a model folder, and no models config to "
                    "look the name up in (--models FILE, $STRIKE_MODELS or " DEFAULT_MODELS ")\n", model);
            return 2;
        }
        if (se_model_specs_load(mf, &specs) != SE_OK) {
            fprintf(stderr, "strike-render: --models %s: %s\n", mf, se_last_error());
            return 2;
        }
        spec = se_model_specs_find(specs, model);
        int st_steps = 0;
        const char *bad = NULL;
        if (!spec) bad = "no such model";
        else if (unet || vae || checkpoint || lora || pred != SE_MODEL_PRED_AUTO)
            bad = "--unet/--vae/--checkpoint/--lora/--prediction apply to a folder; a named model "
                  "takes them from its spec";
        else if (se_model_spec_check_files(spec) != SE_OK ||
                 se_model_spec_check_steps(spec, steps_given ? (int)steps : 0, &st_steps) != SE_OK ||
                 se_model_spec_hash(spec, model_hash) != SE_OK)
            bad = se_last_error();
        if (bad) {
            fprintf(stderr, "strike-render: --model %s (models config %s): %s\n", model, mf, bad);
            if (!spec) {
                fprintf(stderr, "strike-render: models in %s:", mf);
                for (size_t i = 0; i < se_model_specs_count(specs); i++)
                    fprintf(stderr, " %s", se_model_spec_name(se_model_specs_at(specs, i)));
                fprintf(stderr, "\n");
            }
            se_model_specs_free(&specs);
            return 2;
        }
        steps = st_steps;
    }

    se_model_desc d;
    se_model_desc_init(&d);
    d.base_dir = model;
    d.unet_file = unet;
    d.vae_dir = vae;
    d.checkpoint_file = checkpoint;
    d.lora_file = lora;
    d.lora_strength = (float)lora_strength;
    d.name = name;
    d.prediction = pred;
    if (spec) {
        se_model_spec_to_desc(spec, &d);
        if (name) d.name = name;
    }
    /* a folder: the hash of a spec naming the same files, as the worker's model=PATH (the name
     * is not hashed) */
    if (!spec && se_model_desc_hash(&d, model_hash) != SE_OK) {
        fprintf(stderr, "strike-render: --model %s: %s\n", model, se_last_error());
        return 2;
    }

    size_t nprompts = 1;
    char **prompts = NULL;
    if (prompts_file) {
        prompts = read_prompts(prompts_file, &nprompts);
        if (!prompts) {
            se_model_specs_free(&specs);
            return 2;
        }
    }
    const size_t njobs = nprompts * (size_t)count;
    if (njobs > MAX_JOBS) {
        fprintf(stderr, "strike-render: %zu images requested (max %d)\n", njobs, MAX_JOBS);
        se_model_specs_free(&specs);
        return 2;
    }
    const int one_file = njobs == 1;
    if (!one_file && mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "strike-render: cannot create output folder %s: %s\n", out, strerror(errno));
        se_model_specs_free(&specs);
        return 2;
    }

    ep.threads = (int)threads;
    ep.device = (int)device;
    ep.max_batch = (int)batch;
    double t0 = now_s();
    se_engine *e = NULL;
    se_model *m = NULL;
    int rc = 0;
    if (se_engine_new(&ep, &e) != SE_OK) {
        fprintf(stderr, "strike-render: engine: %s\n", se_last_error());
        rc = 2;
    }
    if (rc == 0 && se_engine_load_model(e, &d, &m) != SE_OK) {
        fprintf(stderr, "strike-render: model: %s\n", se_last_error());
        rc = 2;
    }
    se_model_specs_free(&specs); /* d pointed into it; the model is loaded */
    double t_load = now_s() - t0;
    const size_t img = (size_t)width * (size_t)height * 3;
    /* render in chunks of the batch size so memory stays bounded for long prompt files */
    const size_t chunk = (size_t)batch;
    se_job *jobs = calloc(chunk, sizeof *jobs);
    se_job_result *res = calloc(chunk, sizeof *res);
    uint8_t *rgb = malloc(img * chunk);
    if (rc == 0 && (!jobs || !res || !rgb)) {
        fprintf(stderr, "strike-render: no memory for %zu images of %ldx%ld\n", chunk, width, height);
        rc = 2;
    }
    progress_state ps = {quiet, isatty(2), now_s()};
    size_t ok = 0;
    char version[64];
    snprintf(version, sizeof version, "strike-engine %s (%s)", se_version(), se_engine_backend_name(e));
    for (size_t first = 0; rc != 2 && first < njobs; first += chunk) {
        size_t n = njobs - first < chunk ? njobs - first : chunk;
        for (size_t k = 0; k < n; k++) {
            size_t idx = first + k, p = idx / (size_t)count;
            se_job_init(&jobs[k]);
            jobs[k].prompt = prompts ? prompts[p] : prompt;
            jobs[k].seed = seed + idx;
            jobs[k].steps = (int)steps;
            jobs[k].width = (int)width;
            jobs[k].height = (int)height;
            jobs[k].noise = noise;
            jobs[k].rgb = rgb + k * img;
        }
        se_engine_render(e, m, jobs, n, res, on_progress, &ps);
        for (size_t k = 0; k < n; k++) {
            size_t idx = first + k;
            if (res[k].warning[0])
                fprintf(stderr, "strike-render: job %zu: warning: %s\n", idx, res[k].warning);
            if (res[k].status != SE_OK) {
                fprintf(stderr, "strike-render: job %zu (seed %llu): %s\n", idx,
                        (unsigned long long)jobs[k].seed, res[k].error);
                rc = 1;
                continue;
            }
            char path[4096], err[512];
            if (one_file) snprintf(path, sizeof path, "%s", out);
            else snprintf(path, sizeof path, "%s/%05zu-%llu.png", out, idx, (unsigned long long)jobs[k].seed);
            sf_png_meta meta = {.prompt = jobs[k].prompt, .model = se_model_name(m), .seed = jobs[k].seed,
                                .steps = jobs[k].steps, .job_index = idx, .has_job_index = 1,
                                .noise_mode = se_job_noise_name(noise), .engine_version = version,
                                .model_hash = model_hash[0] ? model_hash : NULL};
            sf_png_opts po;
            sf_png_opts_init(&po);
            po.compression = (int)compression;
            if (sf_png_write(path, jobs[k].rgb, (int)width, (int)height, &meta, &po, err, sizeof err) != 0) {
                fprintf(stderr, "strike-render: %s\n", err);
                rc = 1;
                continue;
            }
            ok++;
            if (!quiet) fprintf(stderr, "strike-render: wrote %s\n", path);
        }
    }
    if (rc != 2) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "strike-render: images=%zu of=%zu total_s=%.3f load_s=%.3f render_s=%.3f "
                "peak_rss_mb=%.0f backend=%s\n", ok, njobs, now_s() - t0, t_load,
                now_s() - t0 - t_load, (double)ru.ru_maxrss / 1024.0, se_engine_backend_name(e));
    }
    free(jobs);
    free(res);
    free(rgb);
    if (prompts) {
        for (size_t i = 0; i < nprompts; i++) free(prompts[i]);
        free(prompts);
    }
    se_engine_unload_model(e, &m);
    se_engine_destroy(&e);
    return rc;
}
