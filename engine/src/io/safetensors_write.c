/*
 * safetensors_write.c - the safetensors writer (see safetensors_write.h).
 */
#include "io/safetensors_write.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

typedef struct st_rec {
    char *name;
    se_dtype dt;
    int ndim;
    int64_t ne[8];
    void *data;       /* converted bytes (owned), or NULL when borrowed */
    const float *src; /* borrowed float32 values, converted at save time */
    const void *raw;  /* borrowed bytes already in dt */
    size_t n, bytes;
} st_rec;

struct se_st_writer {
    st_rec *r;
    size_t n, cap;
};

se_status se_st_writer_new(se_st_writer **out) {
    if (!out) return se_fail(SE_ERR_INVALID_ARG, "safetensors writer: NULL output");
    *out = calloc(1, sizeof **out);
    return *out ? SE_OK : se_fail(SE_ERR_NOMEM, "safetensors writer: no memory");
}

void se_st_writer_destroy(se_st_writer **pw) {
    if (!pw || !*pw) return;
    se_st_writer *w = *pw;
    for (size_t i = 0; i < w->n; i++) {
        free(w->r[i].name);
        free(w->r[i].data);
    }
    free(w->r);
    free(w);
    *pw = NULL;
}

static const char *dtype_str(se_dtype dt) {
    switch (dt) {
    case SE_F32: return "F32";
    case SE_F16: return "F16";
    case SE_BF16: return "BF16";
    default: return NULL;
    }
}

/* Adds a record; copy 1: convert data now into owned memory; 0: keep the float pointer;
 * 2: keep data as raw bytes already in dt. */
static se_status add(se_st_writer *w, const char *name, se_dtype dt, int ndim, const int64_t *ne,
                     const void *data, int copy) {
    if (!w || !name || !ne || !data || ndim < 1 || ndim > 8 || !dtype_str(dt))
        return se_fail(SE_ERR_INVALID_ARG, "safetensors writer: bad argument for tensor %s",
                       name ? name : "(null)");
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (ne[i] < 0) return se_fail(SE_ERR_INVALID_ARG, "safetensors writer: %s: dim %d is negative", name, i);
        n *= (size_t)ne[i];
    }
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->r[i].name, name) == 0)
            return se_fail(SE_ERR_INVALID_ARG, "safetensors writer: tensor %s added twice", name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        st_rec *r = realloc(w->r, cap * sizeof *r);
        if (!r) return se_fail(SE_ERR_NOMEM, "safetensors writer: no memory");
        w->r = r;
        w->cap = cap;
    }
    st_rec *r = &w->r[w->n];
    memset(r, 0, sizeof *r);
    r->n = n;
    r->bytes = n * se_dtype_size(dt);
    r->name = strdup(name);
    r->data = copy == 1 ? malloc(r->bytes ? r->bytes : 1) : NULL;
    if (!r->name || (copy == 1 && !r->data)) {
        free(r->name);
        free(r->data);
        return se_fail(SE_ERR_NOMEM, "safetensors writer: no memory for %s (%zu bytes)", name, r->bytes);
    }
    r->dt = dt;
    r->ndim = ndim;
    memcpy(r->ne, ne, sizeof(int64_t) * (size_t)ndim);
    if (copy == 1) se_convert_host(dt, r->data, SE_F32, data, n);
    else if (copy == 0) r->src = data;
    else r->raw = data;
    w->n++;
    return SE_OK;
}

se_status se_st_writer_add(se_st_writer *w, const char *name, se_dtype dt, int ndim,
                           const int64_t *ne, const float *data) {
    return add(w, name, dt, ndim, ne, data, 1);
}

se_status se_st_writer_add_borrowed(se_st_writer *w, const char *name, se_dtype dt, int ndim,
                                    const int64_t *ne, const float *data) {
    return add(w, name, dt, ndim, ne, data, 0);
}

se_status se_st_writer_add_raw_borrowed(se_st_writer *w, const char *name, se_dtype dt, int ndim,
                                        const int64_t *ne, const void *bytes) {
    return add(w, name, dt, ndim, ne, bytes, 2);
}

/* Writes one record's bytes (converting borrowed floats in chunks). */
static int write_rec(FILE *f, const st_rec *r) {
    if (r->data) return fwrite(r->data, 1, r->bytes, f) == r->bytes;
    if (r->raw) return fwrite(r->raw, 1, r->bytes, f) == r->bytes;
    enum { CHUNK = 1 << 16 };
    const size_t es = se_dtype_size(r->dt);
    unsigned char *buf = malloc(CHUNK * es);
    int ok = buf != NULL;
    for (size_t i = 0; ok && i < r->n; i += CHUNK) {
        size_t k = r->n - i < CHUNK ? r->n - i : CHUNK;
        se_convert_host(r->dt, buf, SE_F32, r->src + i, k);
        ok = fwrite(buf, es, k, f) == k;
    }
    free(buf);
    return ok;
}

/* The JSON header text (caller frees). */
static char *header_json(const se_st_writer *w) {
    json_t *root = json_object();
    uint64_t off = 0;
    for (size_t i = 0; root && i < w->n; i++) {
        const st_rec *r = &w->r[i];
        json_t *shape = json_array();
        for (int d = 0; d < r->ndim; d++) json_array_append_new(shape, json_integer(r->ne[d]));
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + r->bytes)));
        json_t *t = json_object();
        json_object_set_new(t, "dtype", json_string(dtype_str(r->dt)));
        json_object_set_new(t, "shape", shape);
        json_object_set_new(t, "data_offsets", offs);
        json_object_set_new(root, r->name, t);
        off += r->bytes;
    }
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(root, "__metadata__", meta);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

se_status se_st_writer_save(const se_st_writer *w, const char *path) {
    if (!w || !path) return se_fail(SE_ERR_INVALID_ARG, "safetensors writer: NULL argument");
    char *hdr = header_json(w);
    if (!hdr) return se_fail(SE_ERR_NOMEM, "safetensors writer: no memory for the header");
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        free(hdr);
        return se_fail(SE_ERR_INVALID_ARG, "safetensors writer: path too long: %s", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(hdr);
        return se_fail(SE_ERR_IO, "safetensors writer: cannot create %s", tmp);
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen;
    for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < w->n; i++)
        ok = write_rec(f, &w->r[i]);
    free(hdr);
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return se_fail(SE_ERR_IO, "safetensors writer: cannot write %s", path);
    }
    return SE_OK;
}
