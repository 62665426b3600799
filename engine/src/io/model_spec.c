/*
 * model_spec.c - the models config file: parsing, validation, step checks, content hash (see
 * model_spec.h).
 */
#include "io/model_spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

#define SPEC_FILE_MAX (1u << 20)

struct se_model_specs {
    se_model_spec *m;      /* the models in file order */
    size_t n;              /* their count */
};

/* ---------------------------------------------------------------- parsing ---- */

static bool name_ok(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* Resolves p against dir into out (absolute paths kept). */
static se_status resolve(const char *file, const char *model, const char *key, const char *dir,
                         const char *p, char *out) {
    int len = (p[0] == '/' || !dir || !*dir) ? snprintf(out, SE_MODEL_SPEC_PATH_MAX, "%s", p)
                                              : snprintf(out, SE_MODEL_SPEC_PATH_MAX, "%s/%s", dir, p);
    if (len < 0 || len >= SE_MODEL_SPEC_PATH_MAX)
        return se_fail(SE_ERR_CONFIG, "%s: model %s: %s: path too long", file, model, key);
    return SE_OK;
}

/* A string key (optional) resolved as a path into out. */
static se_status path_key(const char *file, const se_model_spec *m, json_t *o, const char *key,
                          bool required, const char *dir, char *out) {
    out[0] = '\0';
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return se_fail(SE_ERR_CONFIG, "%s: model %s: missing key \"%s\"", file, m->name, key);
        return SE_OK;
    }
    if (!json_is_string(v) || !*json_string_value(v))
        return se_fail(SE_ERR_CONFIG, "%s: model %s: \"%s\" must be a non-empty path string", file,
                       m->name, key);
    return resolve(file, m->name, key, dir, json_string_value(v), out);
}

static int cmp_int(const void *a, const void *b) {
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* One model object. */
static se_status parse_model(const char *file, json_t *o, size_t idx, const char *dir,
                             se_model_spec *m) {
    memset(m, 0, sizeof *m);
    m->lora_strength = 1.0f;
    snprintf(m->name, sizeof m->name, "#%zu", idx);
    if (!json_is_object(o))
        return se_fail(SE_ERR_CONFIG, "%s: models[%zu] is not an object", file, idx);
    static const char *const KEYS[] = {"name", "base", "unet", "checkpoint", "lora",
                                       "lora_strength", "vae", "steps", "default_steps",
                                       "prediction"};
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        bool known = key[0] == '_'; /* "_comment" and friends */
        for (size_t k = 0; k < sizeof KEYS / sizeof KEYS[0] && !known; k++) known = !strcmp(key, KEYS[k]);
        if (!known)
            return se_fail(SE_ERR_CONFIG, "%s: models[%zu]: unknown key \"%s\" (known: name, base, "
                           "unet, checkpoint, lora, lora_strength, vae, steps, default_steps, "
                           "prediction)", file, idx, key);
    }
    json_t *n = json_object_get(o, "name");
    if (!json_is_string(n))
        return se_fail(SE_ERR_CONFIG, "%s: models[%zu]: missing string key \"name\"", file, idx);
    const char *ns = json_string_value(n);
    if (strlen(ns) >= sizeof m->name || !name_ok(ns))
        return se_fail(SE_ERR_CONFIG, "%s: models[%zu]: bad name \"%.80s\" (1-%zu of A-Z a-z 0-9 . _ -)",
                       file, idx, ns, sizeof m->name - 1);
    snprintf(m->name, sizeof m->name, "%s", ns);
    SE_TRY(path_key(file, m, o, "base", true, dir, m->base));
    SE_TRY(path_key(file, m, o, "unet", false, dir, m->unet));
    SE_TRY(path_key(file, m, o, "checkpoint", false, dir, m->checkpoint));
    SE_TRY(path_key(file, m, o, "lora", false, dir, m->lora));
    SE_TRY(path_key(file, m, o, "vae", false, dir, m->vae));
    if (m->unet[0] && m->checkpoint[0])
        return se_fail(SE_ERR_CONFIG, "%s: model %s: \"unet\" and \"checkpoint\" exclude each other",
                       file, m->name);
    json_t *ls = json_object_get(o, "lora_strength");
    if (ls && !json_is_null(ls)) {
        if (!json_is_number(ls) || !m->lora[0])
            return se_fail(SE_ERR_CONFIG, "%s: model %s: \"lora_strength\" must be a number and "
                           "needs \"lora\"", file, m->name);
        double v = json_number_value(ls);
        if (!(v >= -16.0 && v <= 16.0))
            return se_fail(SE_ERR_CONFIG, "%s: model %s: lora_strength %g outside [-16, 16]", file,
                           m->name, v);
        m->lora_strength = (float)v;
    }
    json_t *st = json_object_get(o, "steps");
    if (!json_is_array(st) || json_array_size(st) == 0 ||
        json_array_size(st) > SE_MODEL_SPEC_MAX_STEPS)
        return se_fail(SE_ERR_CONFIG, "%s: model %s: \"steps\" must be a list of 1 to %d step "
                       "counts", file, m->name, SE_MODEL_SPEC_MAX_STEPS);
    for (size_t i = 0; i < json_array_size(st); i++) {
        json_t *e = json_array_get(st, i);
        json_int_t v = json_is_integer(e) ? json_integer_value(e) : -1;
        if (v < 1 || v > SE_MODEL_SPEC_STEPS_MAX)
            return se_fail(SE_ERR_CONFIG, "%s: model %s: steps[%zu] must be an integer in 1..%d",
                           file, m->name, i, SE_MODEL_SPEC_STEPS_MAX);
        for (int k = 0; k < m->nsteps; k++)
            if (m->steps[k] == (int)v)
                return se_fail(SE_ERR_CONFIG, "%s: model %s: steps lists %d twice", file, m->name,
                               (int)v);
        m->steps[m->nsteps++] = (int)v;
    }
    m->default_steps = m->steps[0];
    qsort(m->steps, (size_t)m->nsteps, sizeof m->steps[0], cmp_int);
    json_t *ds = json_object_get(o, "default_steps");
    if (ds && !json_is_null(ds)) {
        json_int_t v = json_is_integer(ds) ? json_integer_value(ds) : -1;
        bool in = false;
        for (int k = 0; k < m->nsteps; k++) in |= m->steps[k] == v;
        if (!in)
            return se_fail(SE_ERR_CONFIG, "%s: model %s: default_steps must be one of \"steps\"",
                           file, m->name);
        m->default_steps = (int)v;
    }
    json_t *p = json_object_get(o, "prediction");
    if (p && !json_is_null(p)) {
        const char *ps = json_is_string(p) ? json_string_value(p) : "";
        if (!strcmp(ps, "epsilon")) m->prediction = SE_SPEC_PRED_EPSILON;
        else if (!strcmp(ps, "sample")) m->prediction = SE_SPEC_PRED_SAMPLE;
        else
            return se_fail(SE_ERR_CONFIG, "%s: model %s: prediction must be \"epsilon\" or "
                           "\"sample\"", file, m->name);
    }
    return SE_OK;
}

se_status se_model_specs_parse(const char *name, const char *text, const char *dir,
                               se_model_specs **out) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return se_fail(SE_ERR_CONFIG, "%s: line %d: %s", name, jerr.line, jerr.text);
    se_status st = SE_OK;
    json_t *models = json_object_get(root, "models");
    if (!json_is_object(root) || !json_is_array(models))
        st = se_fail(SE_ERR_CONFIG, "%s: expected an object with a \"models\" list", name);
    const char *key;
    json_t *val;
    if (st == SE_OK) {
        json_object_foreach(root, key, val) {
            if (strcmp(key, "models") != 0 && key[0] != '_') {
                st = se_fail(SE_ERR_CONFIG, "%s: unknown top-level key \"%s\" (expected \"models\")",
                             name, key);
                break;
            }
        }
    }
    size_t n = st == SE_OK ? json_array_size(models) : 0;
    if (st == SE_OK && n > SE_MODEL_SPEC_MAX_MODELS)
        st = se_fail(SE_ERR_CONFIG, "%s: %zu models (at most %d)", name, n, SE_MODEL_SPEC_MAX_MODELS);
    se_model_specs *ms = NULL;
    if (st == SE_OK) {
        ms = calloc(1, sizeof *ms);
        if (ms) ms->m = calloc(n ? n : 1, sizeof *ms->m);
        if (!ms || !ms->m) st = se_fail(SE_ERR_NOMEM, "%s: no memory for %zu models", name, n);
    }
    for (size_t i = 0; i < n && st == SE_OK; i++) {
        st = parse_model(name, json_array_get(models, i), i, dir, &ms->m[i]);
        for (size_t k = 0; k < i && st == SE_OK; k++)
            if (!strcmp(ms->m[k].name, ms->m[i].name))
                st = se_fail(SE_ERR_CONFIG, "%s: two models are called %s", name, ms->m[i].name);
        if (st == SE_OK) ms->n = i + 1;
    }
    json_decref(root);
    if (st != SE_OK) {
        se_model_specs_free(&ms);
        return st;
    }
    *out = ms;
    return SE_OK;
}

se_status se_model_specs_load(const char *path, se_model_specs **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return se_fail(SE_ERR_IO, "models config %s: %s", path, strerror(errno));
    char *buf = malloc(SPEC_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SPEC_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf) return se_fail(SE_ERR_NOMEM, "models config %s: no memory", path);
    if (n > SPEC_FILE_MAX) {
        free(buf);
        return se_fail(SE_ERR_CONFIG, "models config %s: larger than %u bytes", path, SPEC_FILE_MAX);
    }
    buf[n] = '\0';
    char dir[SE_MODEL_SPEC_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    se_status st = se_model_specs_parse(path, buf, dir, out);
    free(buf);
    return st;
}

void se_model_specs_free(se_model_specs **ms) {
    if (!ms || !*ms) return;
    free((*ms)->m);
    free(*ms);
    *ms = NULL;
}

size_t se_model_specs_count(const se_model_specs *ms) { return ms ? ms->n : 0; }
const se_model_spec *se_model_specs_at(const se_model_specs *ms, size_t i) {
    return ms && i < ms->n ? &ms->m[i] : NULL;
}

const se_model_spec *se_model_specs_find(const se_model_specs *ms, const char *name) {
    if (!ms || !name) return NULL;
    for (size_t i = 0; i < ms->n; i++)
        if (!strcmp(ms->m[i].name, name)) return &ms->m[i];
    return NULL;
}

const char *se_spec_prediction_name(se_spec_prediction p) {
    return p == SE_SPEC_PRED_SAMPLE ? "sample" : "epsilon";
}

void se_model_spec_to_desc(const se_model_spec *m, se_model_desc *d) {
    se_model_desc_init(d);
    d->name = m->name;
    d->base_dir = m->base;
    d->unet_file = m->unet[0] ? m->unet : NULL;
    d->checkpoint_file = m->checkpoint[0] ? m->checkpoint : NULL;
    d->vae_dir = m->vae[0] ? m->vae : NULL;
    d->lora_file = m->lora[0] ? m->lora : NULL;
    d->lora_strength = m->lora_strength;
    d->prediction = m->prediction == SE_SPEC_PRED_SAMPLE ? SE_MODEL_PRED_SAMPLE : SE_MODEL_PRED_EPSILON;
}

/* ----------------------------------------------------------------- checks ---- */

se_status se_model_spec_check_steps(const se_model_spec *m, int steps, int *resolved) {
    if (steps == 0) steps = m->default_steps;
    for (int k = 0; k < m->nsteps; k++)
        if (m->steps[k] == steps) {
            if (resolved) *resolved = steps;
            return SE_OK;
        }
    char list[128];
    size_t len = 0;
    list[0] = '\0';
    for (int k = 0; k < m->nsteps; k++) {
        int w = snprintf(list + len, sizeof list - len, "%s%d", k ? ", " : "", m->steps[k]);
        if (w < 0 || (size_t)w >= sizeof list - len) break;
        len += (size_t)w;
    }
    return se_fail(SE_ERR_INVALID_ARG, "model %s supports %s steps only, the job asks for %d",
                   m->name, list, steps);
}

static bool is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_file(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

se_status se_model_spec_check_files(const se_model_spec *m) {
    if (!is_dir(m->base))
        return se_fail(SE_ERR_IO, "model %s: base folder %s not found", m->name, m->base);
    const struct {
        const char *key, *path;
        bool dir;
    } parts[] = {{"unet", m->unet, false}, {"checkpoint", m->checkpoint, false},
                 {"lora", m->lora, false}, {"vae", m->vae, true}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i].path[0]) continue;
        if (parts[i].dir ? !is_dir(parts[i].path) : !is_file(parts[i].path))
            return se_fail(SE_ERR_IO, "model %s: %s %s %s not found", m->name, parts[i].key,
                           parts[i].dir ? "folder" : "file", parts[i].path);
    }
    return SE_OK;
}

/* ------------------------------------------------------------------- hash ---- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define HASH_EDGE (1u << 20)
#define HASH_BLOCK (64u * 1024u)
#define HASH_BLOCKS 32

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

/* Feeds n bytes of f at off (fewer at the end of the file). */
static se_status feed_range(uint64_t *h, FILE *f, const char *path, uint64_t off, size_t n,
                            unsigned char *buf) {
    if (fseeko(f, (off_t)off, SEEK_SET) != 0)
        return se_fail(SE_ERR_IO, "hashing %s: seek: %s", path, strerror(errno));
    size_t got = fread(buf, 1, n, f);
    if (got < n && ferror(f)) return se_fail(SE_ERR_IO, "hashing %s: read error", path);
    *h = fnv(*h, buf, got);
    return SE_OK;
}

/* Feeds one file: role, size, sampled bytes. Absent optional files feed nothing. */
static se_status feed_file(uint64_t *h, const char *role, const char *path, unsigned char *buf) {
    struct stat s;
    if (stat(path, &s) != 0) return SE_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return se_fail(SE_ERR_IO, "hashing %s: %s", path, strerror(errno));
    uint64_t size = (uint64_t)s.st_size;
    *h = fnv(*h, role, strlen(role) + 1);
    unsigned char sz[8];
    for (int i = 0; i < 8; i++) sz[i] = (unsigned char)(size >> (8 * i));
    *h = fnv(*h, sz, 8);
    se_status st = feed_range(h, f, path, 0, HASH_EDGE, buf);
    if (size > 2ull * HASH_EDGE) {
        for (int i = 0; i < HASH_BLOCKS && st == SE_OK; i++) {
            uint64_t off = HASH_EDGE + (size - 2ull * HASH_EDGE - HASH_BLOCK) / (HASH_BLOCKS - 1) * (uint64_t)i;
            if (size - 2ull * HASH_EDGE < HASH_BLOCK) break;
            st = feed_range(h, f, path, off, HASH_BLOCK, buf);
        }
    }
    if (st == SE_OK && size > HASH_EDGE)
        st = feed_range(h, f, path, size > 2ull * HASH_EDGE ? size - HASH_EDGE : HASH_EDGE,
                        HASH_EDGE, buf);
    fclose(f);
    return st;
}

se_status se_model_spec_hash(const se_model_spec *m, char out[SE_MODEL_HASH_LEN + 1]) {
    static const char *const BASE_FILES[] = {
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/config.json",
        "text_encoder/model.safetensors", "text_encoder/model.fp16.safetensors",
        "text_encoder_2/config.json", "text_encoder_2/model.safetensors",
        "text_encoder_2/model.fp16.safetensors", "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors",
        "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer_2/vocab.json",
        "tokenizer_2/merges.txt",
    };
    unsigned char *buf = malloc(HASH_EDGE);
    if (!buf) return se_fail(SE_ERR_NOMEM, "no memory to hash model %s", m->name);
    uint64_t h = FNV_OFFSET;
    se_status st = SE_OK;
    char p[SE_MODEL_SPEC_PATH_MAX + 64];
    for (size_t i = 0; i < sizeof BASE_FILES / sizeof BASE_FILES[0] && st == SE_OK; i++) {
        snprintf(p, sizeof p, "%s/%s", m->base, BASE_FILES[i]);
        st = feed_file(&h, BASE_FILES[i], p, buf);
    }
    const struct {
        const char *role, *path;
    } parts[] = {{"unet", m->unet}, {"checkpoint", m->checkpoint}, {"lora", m->lora}};
    for (size_t i = 0; i < 3 && st == SE_OK; i++)
        if (parts[i].path[0]) st = feed_file(&h, parts[i].role, parts[i].path, buf);
    if (st == SE_OK && m->vae[0]) {
        snprintf(p, sizeof p, "%s/diffusion_pytorch_model.safetensors", m->vae);
        st = feed_file(&h, "vae", p, buf);
        snprintf(p, sizeof p, "%s/diffusion_pytorch_model.fp16.safetensors", m->vae);
        if (st == SE_OK) st = feed_file(&h, "vae16", p, buf);
    }
    free(buf);
    if (st != SE_OK) return st;
    char tail[64];
    int tl = snprintf(tail, sizeof tail, "%s|%.6f|%s", m->lora[0] ? "lora" : "-",
                      (double)m->lora_strength, se_spec_prediction_name(m->prediction));
    h = fnv(h, tail, (size_t)tl);
    snprintf(out, SE_MODEL_HASH_LEN + 1, "%016llx", (unsigned long long)h);
    return SE_OK;
}
