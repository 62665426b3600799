/*
 * json_config.c - config.json getters with defaults and errors naming the file and the key.
 */
#include "io/json_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define CONFIG_MAX_BYTES (16u << 20)

struct se_config {
    char path[512];     /* file name (or the name given to se_config_parse) */
    json_t *root;       /* the parsed object */
};

se_status se_config_parse(const char *name, const char *text, se_config **out) {
    *out = NULL;
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return se_fail(SE_ERR_CONFIG, "%s: bad JSON: %s (line %d, column %d)", name, err.text,
                       err.line, err.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return se_fail(SE_ERR_CONFIG, "%s: not a JSON object", name);
    }
    se_config *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(root);
        return se_fail(SE_ERR_NOMEM, "%s: no memory", name);
    }
    snprintf(c->path, sizeof c->path, "%s", name);
    c->root = root;
    *out = c;
    return SE_OK;
}

se_status se_config_open(const char *path, se_config **out) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return se_fail(SE_ERR_IO, "%s: cannot open", path);
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    if (!buf) {
        fclose(fp);
        return se_fail(SE_ERR_NOMEM, "%s: no memory", path);
    }
    size_t n = fread(buf, 1, CONFIG_MAX_BYTES + 1, fp);
    bool err = ferror(fp) != 0;
    fclose(fp);
    se_status st;
    if (err) st = se_fail(SE_ERR_IO, "%s: read error", path);
    else if (n > CONFIG_MAX_BYTES) st = se_fail(SE_ERR_CONFIG, "%s: larger than 16 MB", path);
    else {
        buf[n] = '\0';
        if (strlen(buf) != n) st = se_fail(SE_ERR_CONFIG, "%s: contains a NUL byte", path);
        else st = se_config_parse(path, buf, out);
    }
    free(buf);
    return st;
}

void se_config_close(se_config **c) {
    if (!c || !*c) return;
    json_decref((*c)->root);
    free(*c);
    *c = NULL;
}

const char *se_config_path(const se_config *c) { return c->path; }

/* The value of key, or NULL when absent or null. */
static json_t *cfg_get(const se_config *c, const char *key) {
    json_t *v = json_object_get(c->root, key);
    return v && !json_is_null(v) ? v : NULL;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

bool se_config_has(const se_config *c, const char *key) { return cfg_get(c, key) != NULL; }

/* Reads an integer from v (integer or integral real); false if it is neither. */
static bool json_as_int(const json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9e15) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

se_status se_config_int(const se_config *c, const char *key, int64_t def, int64_t *out) {
    json_t *v = cfg_get(c, key);
    if (!v) {
        if (def == SE_CONFIG_REQUIRED)
            return se_fail(SE_ERR_CONFIG, "%s: missing key \"%s\" (an integer)", c->path, key);
        *out = def;
        return SE_OK;
    }
    if (!json_as_int(v, out))
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": expected an integer, got %s", c->path, key,
                       json_kind(v));
    return SE_OK;
}

se_status se_config_float(const se_config *c, const char *key, bool required, double def,
                          double *out) {
    json_t *v = cfg_get(c, key);
    if (!v) {
        if (required)
            return se_fail(SE_ERR_CONFIG, "%s: missing key \"%s\" (a number)", c->path, key);
        *out = def;
        return SE_OK;
    }
    if (!json_is_number(v))
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": expected a number, got %s", c->path, key,
                       json_kind(v));
    *out = json_number_value(v);
    return SE_OK;
}

se_status se_config_bool(const se_config *c, const char *key, bool required, bool def, bool *out) {
    json_t *v = cfg_get(c, key);
    if (!v) {
        if (required)
            return se_fail(SE_ERR_CONFIG, "%s: missing key \"%s\" (a boolean)", c->path, key);
        *out = def;
        return SE_OK;
    }
    if (!json_is_boolean(v))
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": expected a boolean, got %s", c->path, key,
                       json_kind(v));
    *out = json_is_true(v);
    return SE_OK;
}

se_status se_config_string(const se_config *c, const char *key, const char *def, const char **out) {
    json_t *v = cfg_get(c, key);
    if (!v) {
        if (!def) return se_fail(SE_ERR_CONFIG, "%s: missing key \"%s\" (a string)", c->path, key);
        *out = def;
        return SE_OK;
    }
    if (!json_is_string(v))
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": expected a string, got %s", c->path, key,
                       json_kind(v));
    *out = json_string_value(v);
    return SE_OK;
}

se_status se_config_int_array(const se_config *c, const char *key, bool required, size_t cap,
                              int64_t *out, size_t *n, size_t bcast_n) {
    *n = 0;
    json_t *v = cfg_get(c, key);
    if (!v) {
        if (required)
            return se_fail(SE_ERR_CONFIG, "%s: missing key \"%s\" (an integer list)", c->path, key);
        return SE_OK;
    }
    int64_t one;
    if (bcast_n > 0 && json_as_int(v, &one)) {
        if (bcast_n > cap)
            return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": more than %zu entries", c->path, key, cap);
        for (size_t i = 0; i < bcast_n; i++) out[i] = one;
        *n = bcast_n;
        return SE_OK;
    }
    if (!json_is_array(v))
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": expected an integer list%s, got %s", c->path,
                       key, bcast_n ? " or an integer" : "", json_kind(v));
    size_t len = json_array_size(v);
    if (len > cap)
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": %zu entries, at most %zu supported", c->path,
                       key, len, cap);
    for (size_t i = 0; i < len; i++)
        if (!json_as_int(json_array_get(v, i), &out[i]))
            return se_fail(SE_ERR_CONFIG, "%s: key \"%s\"[%zu]: expected an integer, got %s",
                           c->path, key, i, json_kind(json_array_get(v, i)));
    *n = len;
    return SE_OK;
}

se_status se_config_string_array(const se_config *c, const char *key, size_t cap,
                                 const char **out, size_t *n) {
    *n = 0;
    json_t *v = cfg_get(c, key);
    if (!v) return se_fail(SE_ERR_CONFIG, "%s: missing key \"%s\" (a string list)", c->path, key);
    if (!json_is_array(v))
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": expected a string list, got %s", c->path,
                       key, json_kind(v));
    size_t len = json_array_size(v);
    if (len > cap)
        return se_fail(SE_ERR_CONFIG, "%s: key \"%s\": %zu entries, at most %zu supported", c->path,
                       key, len, cap);
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return se_fail(SE_ERR_CONFIG, "%s: key \"%s\"[%zu]: expected a string, got %s", c->path,
                           key, i, json_kind(e));
        out[i] = json_string_value(e);
    }
    *n = len;
    return SE_OK;
}
