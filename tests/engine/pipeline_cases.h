/*
 * pipeline_cases.h - the jobs of one case of tests/fixtures/pipeline/cases.txt (written by
 * tests/reference/make_pipeline_fixtures.py), shared by the CPU pipeline test (test_pipeline.c)
 * and the CUDA one (test_cuda_models.c), and the engine job each line describes. One line per job:
 *   name j B steps prediction H W seed start|- prompt...
 */
#ifndef STRIKE_TEST_PIPELINE_CASES_H
#define STRIKE_TEST_PIPELINE_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "strike/engine.h"

#define MAXJ 8 /* the most jobs in one case */

typedef struct pipeline_job {
    char name[32];
    int j, B, steps, H, W;
    char pred[16];
    unsigned long long seed;
    char start[64];
    char prompt[1024];
} pipeline_job;

/* Reads the jobs of case `name` from the cases file at path into out[MAXJ]; returns their
 * count, -1 (with a message) when the file cannot be opened. */
static int pipeline_case_read(const char *path, const char *name, pipeline_job *out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "missing fixture %s\n", path);
        return -1;
    }
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAXJ) {
        if (line[0] == '#') continue;
        pipeline_job *j = &out[n];
        int off = 0;
        if (sscanf(line, "%31s %d %d %d %15s %d %d %llu %63s %n", j->name, &j->j, &j->B, &j->steps,
                   j->pred, &j->H, &j->W, &j->seed, j->start, &off) != 9 ||
            strcmp(j->name, name) != 0)
            continue;
        snprintf(j->prompt, sizeof j->prompt, "%s", line + off);
        j->prompt[strcspn(j->prompt, "\n")] = 0;
        n++;
    }
    fclose(f);
    return n;
}

/* The engine job of case job f: the seed's philox or cpu noise, or the given start latents
 * (start, may be NULL); the image goes to rgb. The prompt stays f's. */
static void pipeline_job_fill(const pipeline_job *f, int philox, const float *start, uint8_t *rgb,
                              se_job *j) {
    se_job_init(j);
    j->prompt = f->prompt;
    j->seed = f->seed;
    j->steps = f->steps;
    j->width = f->W;
    j->height = f->H;
    j->noise = philox ? SE_JOB_NOISE_PHILOX : SE_JOB_NOISE_CPU;
    j->start_latents = start;
    j->rgb = rgb;
}

#endif
