/*
 * safetensors.c - the safetensors reader: mmap, header validation, lookup, dtype conversion.
 *
 * Validation happens once, in se_st_open, so every later access trusts the records. The header
 * is parsed with jansson (duplicates rejected by the parser). Lookups go through an index sorted
 * by name (bsearch); overlap checks through an index sorted by begin offset.
 */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

struct se_st_file {
    char *path;             /* as given to se_st_open */
    void *map;              /* the whole file, read-only */
    size_t map_size;        /* file size in bytes */
    const uint8_t *data;    /* start of the data section (map + 8 + N) */
    uint64_t data_size;     /* bytes in the data section */
    json_t *root;           /* the parsed header; record names point into it */
    se_st_tensor *t;        /* records in header order */
    size_t n;               /* number of records */
    const se_st_tensor **by_name; /* records sorted by name */
};

/* dtype strings of the format and their element sizes; loadable ones map to an se_dtype. */
static const struct {
    const char *name;
    size_t size;
    int se;             /* se_dtype, or -1 when we list but never load it */
} g_st_dtypes[] = {
    {"BOOL", 1, -1},  {"U8", 1, -1},      {"I8", 1, -1},      {"F8_E4M3", 1, -1},
    {"F8_E5M2", 1, -1}, {"F8_E8M0", 1, -1}, {"F8_E4M3FNUZ", 1, -1}, {"F8_E5M2FNUZ", 1, -1},
    {"I16", 2, -1},   {"U16", 2, -1},     {"F16", 2, SE_F16}, {"BF16", 2, SE_BF16},
    {"I32", 4, -1},   {"U32", 4, -1},     {"F32", 4, SE_F32}, {"F64", 8, -1},
    {"I64", 8, -1},   {"U64", 8, -1},     {"C64", 8, -1},
};

/* Looks up a dtype string; returns its index in g_st_dtypes or -1. (F4/F6 are sub-byte and
 * not listed: such a file is rejected as an unknown dtype.) */
static int st_dtype_find(const char *s) {
    for (size_t i = 0; i < sizeof g_st_dtypes / sizeof g_st_dtypes[0]; i++)
        if (strcmp(g_st_dtypes[i].name, s) == 0) return (int)i;
    return -1;
}

const char *se_st_path(const se_st_file *f) { return f->path; }
size_t se_st_count(const se_st_file *f) { return f->n; }
const se_st_tensor *se_st_at(const se_st_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }

const char *se_st_shape_str(const se_st_tensor *t, char *buf, size_t cap) {
    size_t off = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    off += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->ndim && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    if (off < cap) snprintf(buf + off, cap - off, "]");
    return buf;
}

bool se_st_shape_is(const se_st_tensor *t, int ndim, const int64_t *ne) {
    if (t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != ne[i]) return false;
    return true;
}

void se_st_close(se_st_file **pf) {
    if (!pf || !*pf) return;
    se_st_file *f = *pf;
    if (f->map) munmap(f->map, f->map_size);
    if (f->root) json_decref(f->root);
    free(f->t);
    free((void *)f->by_name);
    free(f->path);
    free(f);
    *pf = NULL;
}

/* qsort comparators over arrays of record pointers. */
static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const se_st_tensor *const *)a)->name, (*(const se_st_tensor *const *)b)->name);
}
static int cmp_by_begin(const void *a, const void *b) {
    const se_st_tensor *x = *(const se_st_tensor *const *)a, *y = *(const se_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Fills one record from its JSON entry and checks it against the data section. */
static se_status st_parse_entry(se_st_file *f, const char *name, json_t *e, se_st_tensor *t) {
    const char *p = f->path;
    if (!json_is_object(e))
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: header entry is not an object", p, name);
    json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape");
    json_t *jo = json_object_get(e, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo))
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: needs string dtype, array shape and array "
                       "data_offsets", p, name);
    t->name = name;
    const char *ds = json_string_value(jd);
    int di = st_dtype_find(ds);
    if (di < 0) return se_fail(SE_ERR_FORMAT, "%s: tensor %s: unknown dtype \"%.16s\"", p, name, ds);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", g_st_dtypes[di].name);
    t->loadable = g_st_dtypes[di].se >= 0;
    t->dtype = t->loadable ? (se_dtype)g_st_dtypes[di].se : SE_F32;
    size_t nd = json_array_size(js);
    if (nd > SE_ST_MAX_DIMS)
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: %zu dims (at most %d)", p, name, nd,
                       SE_ST_MAX_DIMS);
    t->ndim = (int)nd;
    /* numel stays below 2^62 / 8 so numel * size cannot overflow. */
    const int64_t numel_cap = (int64_t)1 << 58;
    int64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return se_fail(SE_ERR_FORMAT, "%s: tensor %s: shape[%zu] is not a non-negative integer",
                           p, name, i);
        int64_t v = (int64_t)json_integer_value(d);
        if (v > numel_cap || (v > 0 && numel > numel_cap / v))
            return se_fail(SE_ERR_FORMAT, "%s: tensor %s: shape too large", p, name);
        t->shape[i] = v;
        numel *= v;
    }
    t->numel = numel;
    if (json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: data_offsets must be [begin, end]", p, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0));
    json_int_t en = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || en < b)
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: bad data_offsets [%lld, %lld]", p, name,
                       (long long)b, (long long)en);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)en;
    if (t->end > f->data_size)
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu] outside the data "
                       "section (%llu bytes; file truncated?)", p, name,
                       (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)f->data_size);
    uint64_t want = (uint64_t)numel * g_st_dtypes[di].size;
    if (t->end - t->begin != want)
        return se_fail(SE_ERR_FORMAT, "%s: tensor %s: data_offsets span %llu bytes, but %s %s "
                       "needs %llu", p, name, (unsigned long long)(t->end - t->begin),
                       t->dtype_name, se_st_shape_str(t, (char[160]){0}, 160),
                       (unsigned long long)want);
    t->data = f->data + t->begin;
    return SE_OK;
}

/* Parses and validates the header; fills f->t, f->by_name. */
static se_status st_parse_header(se_st_file *f, const char *hdr, size_t len) {
    json_error_t jerr;
    f->root = json_loadb(hdr, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->root)
        return se_fail(SE_ERR_FORMAT, "%s: %s: %s (line %d, column %d)", f->path,
                       strstr(jerr.text, "duplicate") ? "duplicate tensor key in header"
                                                      : "bad JSON header",
                       jerr.text, jerr.line, jerr.column);
    if (!json_is_object(f->root))
        return se_fail(SE_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    size_t cap = json_object_size(f->root);
    f->t = calloc(cap ? cap : 1, sizeof *f->t);
    if (!f->t) return se_fail(SE_ERR_NOMEM, "%s: no memory for %zu tensor records", f->path, cap);
    const char *key;
    json_t *val;
    json_object_foreach(f->root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        SE_TRY(st_parse_entry(f, key, val, &f->t[f->n]));
        f->n++;
    }
    f->by_name = malloc((f->n ? f->n : 1) * sizeof *f->by_name);
    const se_st_tensor **by_begin = malloc((f->n ? f->n : 1) * sizeof *by_begin);
    if (!f->by_name || !by_begin) {
        free(by_begin);
        return se_fail(SE_ERR_NOMEM, "%s: no memory for the tensor index", f->path);
    }
    for (size_t i = 0; i < f->n; i++) f->by_name[i] = by_begin[i] = &f->t[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_by_name);
    qsort(by_begin, f->n, sizeof *by_begin, cmp_by_begin);
    se_status st = SE_OK;
    for (size_t i = 1; i < f->n; i++) {
        const se_st_tensor *a = f->by_name[i - 1], *b = f->by_name[i];
        if (strcmp(a->name, b->name) == 0) {
            st = se_fail(SE_ERR_FORMAT, "%s: tensor %s: duplicate key", f->path, b->name);
            break;
        }
    }
    /* Sorted by begin, a tensor overlaps the next one when its end passes the next's begin.
     * Empty tensors occupy no bytes and overlap nothing. */
    uint64_t reach = 0;
    const se_st_tensor *owner = NULL;
    for (size_t i = 0; st == SE_OK && i < f->n; i++) {
        const se_st_tensor *c = by_begin[i];
        if (c->end == c->begin) continue;
        if (owner && c->begin < reach) {
            st = se_fail(SE_ERR_FORMAT, "%s: tensor %s: bytes [%llu, %llu) overlap tensor %s "
                         "[%llu, %llu)", f->path, c->name, (unsigned long long)c->begin,
                         (unsigned long long)c->end, owner->name,
                         (unsigned long long)owner->begin, (unsigned long long)owner->end);
            break;
        }
        reach = c->end;
        owner = c;
    }
    free((void *)by_begin);
    return st;
}

se_status se_st_open(const char *path, se_st_file **out) {
    *out = NULL;
    se_st_file *f = calloc(1, sizeof *f);
    if (!f) return se_fail(SE_ERR_NOMEM, "%s: no memory", path);
    f->path = strdup(path);
    if (!f->path) {
        free(f);
        return se_fail(SE_ERR_NOMEM, "%s: no memory", path);
    }
    se_status st = SE_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = se_fail(SE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        st = se_fail(SE_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    if (sb.st_size < 8) {
        close(fd);
        st = se_fail(SE_ERR_FORMAT, "%s: truncated: %lld bytes, less than the 8-byte header length",
                     path, (long long)sb.st_size);
        goto fail;
    }
    f->map_size = (size_t)sb.st_size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        st = se_fail(SE_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    const uint8_t *m = f->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | m[i];   /* little-endian u64 */
    if (n > SE_ST_MAX_HEADER || n > f->map_size - 8) {
        st = se_fail(SE_ERR_FORMAT, "%s: header length %llu exceeds %s (%zu bytes after the "
                     "length field)", path, (unsigned long long)n,
                     n > SE_ST_MAX_HEADER ? "the 100 MB limit" : "the file",
                     f->map_size - 8);
        goto fail;
    }
    f->data = m + 8 + n;
    f->data_size = f->map_size - 8 - n;
    st = st_parse_header(f, (const char *)m + 8, (size_t)n);
    if (st != SE_OK) goto fail;
    *out = f;
    return SE_OK;
fail:
    se_st_close(&f);
    return st;
}

const se_st_tensor *se_st_find(const se_st_file *f, const char *name) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->by_name[mid]->name, name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

se_status se_st_read_host(const se_st_file *f, const se_st_tensor *t, se_dtype dt, void *dst,
                          size_t cap) {
    if (!t->loadable)
        return se_fail(SE_ERR_DTYPE, "%s: tensor %s: dtype %s cannot be loaded (F32/F16/BF16 only)",
                       f->path, t->name, t->dtype_name);
    if (dt != SE_F32 && dt != SE_F16 && dt != SE_BF16)
        return se_fail(SE_ERR_DTYPE, "%s: tensor %s: cannot convert to %s", f->path, t->name,
                       se_dtype_name(dt));
    if ((uint64_t)t->numel * se_dtype_size(dt) > cap)
        return se_fail(SE_ERR_INVALID_ARG, "%s: tensor %s: destination holds %zu bytes, needs %llu",
                       f->path, t->name, cap,
                       (unsigned long long)((uint64_t)t->numel * se_dtype_size(dt)));
    se_convert_host(dt, dst, t->dtype, t->data, (size_t)t->numel);
    return SE_OK;
}

void se_st_done(const se_st_file *f, const se_st_tensor *t) {
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || t->end <= t->begin) return;
    uintptr_t a = (uintptr_t)t->data, e = a + (uintptr_t)(t->end - t->begin);
    uintptr_t lo = (a + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;   /* whole pages only */
    uintptr_t hi = e / (uintptr_t)pg * (uintptr_t)pg;
    (void)f;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

se_status se_st_load(const se_st_file *f, const char *what, const char *name, se_backend *be,
                     se_tensor *dst) {
    const se_st_tensor *t = se_st_find(f, name);
    if (!t) return se_fail(SE_ERR_MISSING_TENSOR, "%s: missing tensor %s in %s", what, name, f->path);
    return se_st_load_record(f, what, name, t, be, dst);
}

se_status se_st_load_record(const se_st_file *f, const char *what, const char *name,
                            const se_st_tensor *t, se_backend *be, se_tensor *dst) {
    if (!se_st_shape_is(t, dst->ndim, dst->ne)) {
        char a[160], b[160];
        return se_fail(SE_ERR_SHAPE, "%s: tensor %s: expected %s, got %s (%s)", what, name,
                       se_tensor_shape_str(dst, a, sizeof a), se_st_shape_str(t, b, sizeof b),
                       f->path);
    }
    if (!t->loadable)
        return se_fail(SE_ERR_DTYPE, "%s: tensor %s: dtype %s cannot be loaded (%s)", what, name,
                       t->dtype_name, f->path);
    size_t bytes = se_tensor_nbytes(dst);
    if (t->dtype == dst->dtype) return se_backend_set(be, dst->data, t->data, bytes);
    /* Convert in bounded chunks so a large tensor needs no full-size host copy. */
    const size_t chunk = 1u << 20;
    size_t esz_src = se_dtype_size(t->dtype), esz_dst = se_dtype_size(dst->dtype);
    void *tmp = malloc(chunk * esz_dst);
    if (!tmp) return se_fail(SE_ERR_NOMEM, "%s: tensor %s: no memory for conversion", what, name);
    se_status st = SE_OK;
    for (size_t i = 0; i < (size_t)t->numel && st == SE_OK; i += chunk) {
        size_t cnt = (size_t)t->numel - i < chunk ? (size_t)t->numel - i : chunk;
        se_convert_host(dst->dtype, tmp, t->dtype, (const char *)t->data + i * esz_src, cnt);
        st = se_backend_set(be, (char *)dst->data + i * esz_dst, tmp, cnt * esz_dst);
    }
    free(tmp);
    return st;
}
