/*
 * test_formats_spec.c - model specs (io/model_spec.h): the example config parses, good and bad
 * specs, step checks, file checks and the content hash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/model_spec.h"
#include "test_util.h"

static bool msg_has(const char *s) { return strstr(se_last_error(), s) != NULL; }

/* Parses text and expects SE_ERR_CONFIG with needle in the message. */
static void bad(const char *what, const char *text, const char *needle) {
    se_model_specs *ms = NULL;
    se_status st = se_model_specs_parse("test.json", text, "/d", &ms);
    printf("%-28s -> %s\n", what, st == SE_OK ? "accepted" : se_last_error());
    CHECK_MSG(st == SE_ERR_CONFIG && msg_has(needle), "%s", what);
    CHECK(ms == NULL);
    se_model_specs_free(&ms);
}

static void write_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (text) fputs(text, f);
    for (size_t i = 0; i < n; i++) fputc((int)(i * 7 % 251), f);
    fclose(f);
}

int main(void) {
    /* the shipped example */
    se_model_specs *ms = NULL;
    se_status st = se_model_specs_load(STRIKE_SOURCE_DIR "/deploy/models.example.json", &ms);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (ms) {
        CHECK(se_model_specs_count(ms) == 4);
        const se_model_spec *m1 = se_model_specs_find(ms, "lightning-1step");
        CHECK(m1 && m1->prediction == SE_SPEC_PRED_SAMPLE && m1->nsteps == 1 && m1->steps[0] == 1);
        const se_model_spec *m8 = se_model_specs_find(ms, "lightning-8step");
        CHECK(m8 && m8->checkpoint[0] && !m8->unet[0] && m8->default_steps == 8);
        const se_model_spec *ml = se_model_specs_find(ms, "lightning-2step-lora");
        CHECK(ml && ml->lora[0] && ml->lora_strength == 1.0f && ml->vae[0]);
        CHECK(se_model_specs_find(ms, "nope") == NULL);
        se_model_desc d;
        se_model_spec_to_desc(m1, &d);
        CHECK(d.prediction == SE_MODEL_PRED_SAMPLE && d.unet_file && !d.checkpoint_file &&
              !d.lora_file && !strcmp(d.name, "lightning-1step") && d.lora_strength == 1.0f);
        se_model_spec_to_desc(ml, &d);
        CHECK(d.lora_file && d.vae_dir && !d.unet_file && d.prediction == SE_MODEL_PRED_EPSILON);
    }
    se_model_specs_free(&ms);

    /* a good spec: relative paths, defaults, steps sorted, default_steps */
    const char *good =
        "{\"_comment\": \"x\", \"models\": [{\"name\": \"m-1.a_b\", \"base\": \"base\", "
        "\"unet\": \"/abs/u.safetensors\", \"steps\": [8, 4, 2], \"default_steps\": 4, "
        "\"lora\": \"l.safetensors\", \"lora_strength\": 0.5}]}";
    st = se_model_specs_parse("good.json", good, "/cfg", &ms);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (ms) {
        const se_model_spec *m = se_model_specs_at(ms, 0);
        CHECK(!strcmp(m->base, "/cfg/base") && !strcmp(m->unet, "/abs/u.safetensors"));
        CHECK(!strcmp(m->lora, "/cfg/l.safetensors") && m->lora_strength == 0.5f);
        CHECK(m->nsteps == 3 && m->steps[0] == 2 && m->steps[2] == 8 && m->default_steps == 4);
        CHECK(m->prediction == SE_SPEC_PRED_EPSILON);
        int s = 0;
        CHECK(se_model_spec_check_steps(m, 0, &s) == SE_OK && s == 4);
        CHECK(se_model_spec_check_steps(m, 8, &s) == SE_OK && s == 8);
        st = se_model_spec_check_steps(m, 1, &s);
        printf("steps not supported -> %s\n", se_last_error());
        CHECK(st == SE_ERR_INVALID_ARG && msg_has("m-1.a_b") && msg_has("2, 4, 8") &&
              msg_has("asks for 1"));
        /* missing files */
        st = se_model_spec_check_files(m);
        printf("missing base -> %s\n", se_last_error());
        CHECK(st == SE_ERR_IO && msg_has("/cfg/base"));
    }
    se_model_specs_free(&ms);

    /* bad specs */
    bad("not JSON", "{\"models\": [", "line");
    bad("no models list", "{\"model\": []}", "\"models\" list");
    bad("unknown top-level key", "{\"models\": [], \"x\": 1}", "unknown top-level key");
    bad("unknown key", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [4], \"stpes\": 4}]}",
        "unknown key \"stpes\"");
    bad("missing base", "{\"models\": [{\"name\": \"a\", \"steps\": [4]}]}", "missing key \"base\"");
    bad("bad name", "{\"models\": [{\"name\": \"a b\", \"base\": \"b\", \"steps\": [4]}]}", "bad name");
    bad("empty steps", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": []}]}", "\"steps\"");
    bad("steps not a list", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": 4}]}", "\"steps\"");
    bad("zero steps", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [4, 0]}]}", "steps[1]");
    bad("fractional steps", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [2.5]}]}", "steps[0]");
    bad("too many steps", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [5000]}]}", "1..1000");
    bad("duplicate steps", "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [4, 4]}]}", "twice");
    bad("default not listed",
        "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [4], \"default_steps\": 8}]}",
        "default_steps");
    bad("bad prediction",
        "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [1], \"prediction\": \"x0\"}]}",
        "prediction");
    bad("unet and checkpoint",
        "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"unet\": \"u\", \"checkpoint\": \"c\", \"steps\": [4]}]}",
        "exclude");
    bad("strength without lora",
        "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"lora_strength\": 1, \"steps\": [4]}]}",
        "needs \"lora\"");
    bad("duplicate names",
        "{\"models\": [{\"name\": \"a\", \"base\": \"b\", \"steps\": [4]}, {\"name\": \"a\", \"base\": \"c\", \"steps\": [4]}]}",
        "two models");
    bad("empty path", "{\"models\": [{\"name\": \"a\", \"base\": \"\", \"steps\": [4]}]}", "\"base\"");

    /* files on disk: check_files and the hash */
    char dir[] = "/tmp/strike-spec-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[512], cfg[512], big[512];
    snprintf(p, sizeof p, "%s/base", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/base/unet", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/base/unet/config.json", dir);
    write_file(p, "{}", 0);
    snprintf(big, sizeof big, "%s/u.safetensors", dir);
    write_file(big, NULL, 5u << 20); /* 5 MiB: edges and sampled blocks */
    snprintf(cfg, sizeof cfg, "%s/models.json", dir);
    write_file(cfg, "{\"models\": [{\"name\": \"t\", \"base\": \"base\", \"unet\": \"u.safetensors\", "
                    "\"steps\": [4]}, {\"name\": \"t2\", \"base\": \"base\", \"unet\": \"u.safetensors\", "
                    "\"steps\": [4], \"vae\": \"novae\"}]}", 0);
    st = se_model_specs_load(cfg, &ms);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (ms) {
        const se_model_spec *m = se_model_specs_find(ms, "t");
        CHECK(se_model_spec_check_files(m) == SE_OK);
        st = se_model_spec_check_files(se_model_specs_find(ms, "t2"));
        printf("missing vae -> %s\n", se_last_error());
        CHECK(st == SE_ERR_IO && msg_has("vae folder") && msg_has("novae"));
        char h1[SE_MODEL_HASH_LEN + 1], h2[SE_MODEL_HASH_LEN + 1], h3[SE_MODEL_HASH_LEN + 1];
        CHECK(se_model_spec_hash(m, h1) == SE_OK && strlen(h1) == SE_MODEL_HASH_LEN);
        CHECK(se_model_spec_hash(m, h2) == SE_OK && !strcmp(h1, h2));
        /* change one byte in the middle of a sampled block: the hash changes */
        FILE *f = fopen(big, "r+b");
        uint64_t size = 5u << 20, off = (1u << 20) + (size - 2 * (1u << 20) - 65536) / 31 * 10 + 100;
        if (f) {
            fseek(f, (long)off, SEEK_SET);
            int c = fgetc(f);
            fseek(f, (long)off, SEEK_SET);
            fputc(c ^ 0x55, f);
            fclose(f);
        }
        CHECK(se_model_spec_hash(m, h3) == SE_OK && strcmp(h1, h3) != 0);
        printf("hash %s -> %s after a byte changed\n", h1, h3);
        /* the prediction is part of the hash */
        se_model_spec copy = *m;
        copy.prediction = SE_SPEC_PRED_SAMPLE;
        CHECK(se_model_spec_hash(&copy, h2) == SE_OK && strcmp(h2, h3) != 0);
    }
    se_model_specs_free(&ms);
    CHECK(se_model_specs_load("/nonexistent/models.json", &ms) == SE_ERR_IO);
    unlink(big);
    unlink(cfg);
    snprintf(p, sizeof p, "%s/base/unet/config.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/base/unet", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/base", dir);
    rmdir(p);
    rmdir(dir);
    return test_report("engine_formats_spec");
}
