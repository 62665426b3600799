/* models.c - the coordinator's view of the models config (the same JSON file the workers read;
 * format: docs/models.md "Model specs", deploy/models.example.json).
 *
 * The coordinator needs only each model's name, the step counts it supports and its default, to
 * refuse at submit a job its model cannot render and to store a template's default steps
 * resolved. It does not link the engine: the file is parsed here with jansson, with the same
 * rules the engine applies to these keys (the path keys are accepted and left to the workers).
 * Everything read is bounded: file size, model count, name length, step counts. A malformed file
 * is a start-up error naming the file, the model (or models[i]) and the key. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coord.h"

#define CM_MAX_FILE_BYTES (1u << 20) /* as the engine's se_model_specs_load */

/* Keys a model may have besides name/steps/default_steps (checked by the workers' engine). */
static const char *const k_other_keys[] = {"base", "unet", "checkpoint", "lora", "lora_strength",
                                           "vae", "prediction"};

/* 1 if s is a valid model name: 1..CM_NAME_MAX-1 characters of [A-Za-z0-9._-]. */
static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= CM_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

/* Read a whole file of at most CM_MAX_FILE_BYTES. Returns malloc'ed text or NULL (err set). */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  struct stat sb;
  if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    snprintf(err, errlen, "models config %s: cannot read it (not a readable file)", path);
    if (f) fclose(f);
    return NULL;
  }
  if (sb.st_size > (off_t)CM_MAX_FILE_BYTES) {
    snprintf(err, errlen, "models config %s: %lld bytes; at most %u", path, (long long)sb.st_size,
             CM_MAX_FILE_BYTES);
    fclose(f);
    return NULL;
  }
  char *buf = malloc((size_t)sb.st_size + 1);
  size_t n = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
  fclose(f);
  if (!buf || n != (size_t)sb.st_size) {
    snprintf(err, errlen, "models config %s: %s", path, buf ? "short read" : "no memory");
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* Parse one model object into m. Returns 0, or -1 with err naming file, model and key. */
static int parse_model(const char *path, size_t i, json_t *o, cmodel *m, char *err, size_t errlen) {
  char who[96];
  snprintf(who, sizeof who, "models[%zu]", i);
  if (!json_is_object(o)) {
    snprintf(err, errlen, "models config %s: %s is not an object", path, who);
    return -1;
  }
  json_t *jn = json_object_get(o, "name");
  if (!json_is_string(jn) || !name_ok(json_string_value(jn))) {
    snprintf(err, errlen, "models config %s: %s: \"name\" must be 1..%d characters of [A-Za-z0-9._-]",
             path, who, CM_NAME_MAX - 1);
    return -1;
  }
  snprintf(m->name, sizeof m->name, "%s", json_string_value(jn));
  snprintf(who, sizeof who, "model %s", m->name);
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    if (key[0] == '_' || !strcmp(key, "name") || !strcmp(key, "steps") ||
        !strcmp(key, "default_steps"))
      continue;
    int known = 0;
    for (size_t k = 0; k < sizeof k_other_keys / sizeof k_other_keys[0]; k++)
      known |= !strcmp(key, k_other_keys[k]);
    if (!known) {
      snprintf(err, errlen, "models config %s: %s: unknown key \"%.64s\"", path, who, key);
      return -1;
    }
  }
  json_t *js = json_object_get(o, "steps");
  size_t ns = json_is_array(js) ? json_array_size(js) : 0;
  if (ns == 0 || ns > CM_MAX_STEPS) {
    snprintf(err, errlen, "models config %s: %s: \"steps\" must be a list of 1..%d step counts",
             path, who, CM_MAX_STEPS);
    return -1;
  }
  for (size_t k = 0; k < ns; k++) {
    json_t *e = json_array_get(js, k);
    json_int_t x = json_is_integer(e) ? json_integer_value(e) : 0;
    if (x < 1 || x > CM_STEPS_MAX) {
      snprintf(err, errlen, "models config %s: %s: \"steps\"[%zu] must be an integer 1..%d", path,
               who, k, CM_STEPS_MAX);
      return -1;
    }
    for (int q = 0; q < m->nsteps; q++)
      if (m->steps[q] == (uint32_t)x) {
        snprintf(err, errlen, "models config %s: %s: \"steps\" lists %lld twice", path, who,
                 (long long)x);
        return -1;
      }
    m->steps[m->nsteps++] = (uint32_t)x;
  }
  m->default_steps = m->steps[0];
  json_t *jd = json_object_get(o, "default_steps");
  if (jd) {
    json_int_t x = json_is_integer(jd) ? json_integer_value(jd) : 0;
    if (x < 1 || x > CM_STEPS_MAX || !cmodel_supports(m, (uint32_t)x)) {
      snprintf(err, errlen, "models config %s: %s: \"default_steps\" must be one of \"steps\"", path,
               who);
      return -1;
    }
    m->default_steps = (uint32_t)x;
  }
  return 0;
}

sf_status cmodels_load(const char *path, cmodels **out, char *err, size_t errlen) {
  *out = NULL;
  size_t len = 0;
  char *text = read_file(path, &len, err, errlen);
  if (!text) return SF_ERR_CONFIG;
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  free(text);
  if (!root) {
    snprintf(err, errlen, "models config %s: line %d: %s", path, je.line, je.text);
    return SF_ERR_CONFIG;
  }
  sf_status st = SF_ERR_CONFIG;
  cmodels *ms = calloc(1, sizeof *ms);
  json_t *list = json_object_get(root, "models");
  size_t n = json_is_array(list) ? json_array_size(list) : 0;
  const char *key;
  json_t *v;
  if (!ms) {
    snprintf(err, errlen, "models config %s: no memory", path);
    st = SF_ERR_NO_MEMORY;
    goto out;
  }
  json_object_foreach(root, key, v) {
    if (key[0] != '_' && strcmp(key, "models") != 0) {
      snprintf(err, errlen, "models config %s: unknown key \"%.64s\" (expected \"models\")", path,
               key);
      goto out;
    }
  }
  if (!json_is_object(root) || !json_is_array(list)) {
    snprintf(err, errlen, "models config %s: expected an object with a \"models\" list", path);
    goto out;
  }
  if (n == 0 || n > CM_MAX_MODELS) {
    snprintf(err, errlen, "models config %s: \"models\" must list 1..%d models", path, CM_MAX_MODELS);
    goto out;
  }
  ms->m = calloc(n, sizeof *ms->m);
  if (!ms->m) {
    snprintf(err, errlen, "models config %s: no memory", path);
    st = SF_ERR_NO_MEMORY;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (parse_model(path, i, json_array_get(list, i), &ms->m[i], err, errlen)) goto out;
    if (cmodels_find(ms, ms->m[i].name)) {
      snprintf(err, errlen, "models config %s: model %s is listed twice", path, ms->m[i].name);
      goto out;
    }
    ms->n = i + 1;
  }
  snprintf(ms->path, sizeof ms->path, "%s", path);
  st = SF_OK;
out:
  json_decref(root);
  if (st) cmodels_free(&ms);
  *out = ms;
  return st;
}

void cmodels_free(cmodels **pms) {
  if (!pms || !*pms) return;
  free((*pms)->m);
  free(*pms);
  *pms = NULL;
}

const cmodel *cmodels_find(const cmodels *ms, const char *name) {
  for (size_t i = 0; ms && name && i < ms->n; i++)
    if (strcmp(ms->m[i].name, name) == 0) return &ms->m[i];
  return NULL;
}

int cmodel_supports(const cmodel *m, uint32_t steps) {
  for (int i = 0; i < m->nsteps; i++)
    if (m->steps[i] == steps) return 1;
  return 0;
}

const char *cmodel_steps_text(const cmodel *m, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < m->nsteps && o < cap; i++) {
    int k = snprintf(buf + o, cap - o, "%s%u", i ? ", " : "", m->steps[i]);
    if (k < 0) break;
    o += (size_t)k;
  }
  return buf;
}

const char *cmodels_names_text(const cmodels *ms, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = 0;
  for (size_t i = 0; i < ms->n && o < cap; i++) {
    int k = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", ms->m[i].name);
    if (k < 0) break;
    o += (size_t)k;
  }
  if (o >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
  return buf;
}
