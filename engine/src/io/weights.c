/*
 * weights.c - a model's weight set: declare by name and shape, load once into one allocation.
 */
#include "io/weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHTS_ALIGN 256u

struct se_weights {
    char what[32];          /* model name for messages */
    se_tensor *t;           /* declared tensors (data set at load) */
    size_t n, cap;          /* count and capacity of t */
    se_backend *be;         /* backend holding buf, NULL before loading */
    void *buf;              /* the one backend allocation */
    size_t bytes;           /* its size */
};

se_status se_weights_new(const char *what, se_weights **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return se_fail(SE_ERR_NOMEM, "%s: no memory for the weight set", what);
    snprintf((*out)->what, sizeof (*out)->what, "%s", what);
    return SE_OK;
}

void se_weights_destroy(se_weights **pw) {
    if (!pw || !*pw) return;
    se_weights *w = *pw;
    if (w->buf) se_backend_free(w->be, w->buf);
    free(w->t);
    free(w);
    *pw = NULL;
}

const se_tensor *se_weights_get(const se_weights *w, const char *name) {
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0) return &w->t[i];
    return NULL;
}

se_status se_weights_require(se_weights *w, const char *name, int ndim, const int64_t *ne,
                             int *handle) {
    if (w->buf)
        return se_fail(SE_ERR_INVALID_ARG, "%s: tensor %s declared after loading", w->what, name);
    if (strlen(name) >= SE_NAME_MAX)
        return se_fail(SE_ERR_INVALID_ARG, "%s: tensor name too long (max %d): %s", w->what,
                       SE_NAME_MAX - 1, name);
    if (ndim < 0 || ndim > SE_MAX_DIMS)
        return se_fail(SE_ERR_INVALID_ARG, "%s: tensor %s: %d dims", w->what, name, ndim);
    for (int i = 0; i < ndim; i++)
        if (ne[i] <= 0)
            return se_fail(SE_ERR_INVALID_ARG, "%s: tensor %s: dim %d is %lld", w->what, name, i,
                           (long long)ne[i]);
    se_tensor t = se_tensor_make(SE_F32, ndim, ne, NULL, name);
    const se_tensor *prev = se_weights_get(w, name);
    if (prev) {
        if (!se_tensor_same_shape(prev, &t)) {
            char a[96], b[96];
            return se_fail(SE_ERR_SHAPE, "%s: tensor %s declared twice: %s and %s", w->what, name,
                           se_tensor_shape_str(prev, a, sizeof a), se_tensor_shape_str(&t, b, sizeof b));
        }
        *handle = (int)(prev - w->t);
        return SE_OK;
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        se_tensor *nt = realloc(w->t, nc * sizeof *nt);
        if (!nt) return se_fail(SE_ERR_NOMEM, "%s: no memory for %zu tensor records", w->what, nc);
        w->t = nt;
        w->cap = nc;
    }
    w->t[w->n] = t;
    *handle = (int)w->n++;
    return SE_OK;
}

se_status se_weights_requiref(se_weights *w, int *handle, int ndim, const int64_t *ne,
                              const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof name)
        return se_fail(SE_ERR_INVALID_ARG, "%s: tensor name too long", w->what);
    return se_weights_require(w, name, ndim, ne, handle);
}

const se_tensor *se_weights_at(const se_weights *w, int handle) {
    SE_ASSERT(handle >= 0 && (size_t)handle < w->n);
    return &w->t[handle];
}

size_t se_weights_count(const se_weights *w) { return w->n; }
size_t se_weights_bytes(const se_weights *w) { return w->bytes; }

int64_t se_weights_numel(const se_weights *w) {
    int64_t n = 0;
    for (size_t i = 0; i < w->n; i++) n += se_tensor_numel(&w->t[i]);
    return n;
}

/* Sets every tensor's dtype to dt and allocates the one buffer that holds them all. */
static se_status weights_alloc(se_weights *w, se_backend *be) {
    if (w->buf) return se_fail(SE_ERR_INVALID_ARG, "%s: weights loaded twice", w->what);
    se_dtype dt = be->weight_dtype;
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        se_tensor *t = &w->t[i];
        se_tensor r = se_tensor_make(dt, t->ndim, t->ne, NULL, t->name);
        *t = r;
        off += (se_tensor_nbytes(t) + WEIGHTS_ALIGN - 1) / WEIGHTS_ALIGN * WEIGHTS_ALIGN;
    }
    void *buf = NULL;
    se_status st = se_backend_alloc(be, off ? off : WEIGHTS_ALIGN, &buf);
    if (st != SE_OK)
        return se_fail(st, "%s: cannot allocate %.1f MB of weights on %s", w->what,
                       (double)off / 1048576.0, se_backend_name(be));
    w->be = be;
    w->buf = buf;
    w->bytes = off;
    off = 0;
    for (size_t i = 0; i < w->n; i++) {
        w->t[i].data = (char *)buf + off;
        off += (se_tensor_nbytes(&w->t[i]) + WEIGHTS_ALIGN - 1) / WEIGHTS_ALIGN * WEIGHTS_ALIGN;
    }
    return SE_OK;
}

/* Undoes weights_alloc after a failed load, so the set owns nothing half-loaded. */
static void weights_unalloc(se_weights *w) {
    se_backend_free(w->be, w->buf);
    w->buf = NULL;
    w->be = NULL;
    w->bytes = 0;
    for (size_t i = 0; i < w->n; i++) w->t[i].data = NULL;
}

/* The file name of declared tensor t under map (buf holds it), or t's own name. */
static const char *mapped_name(const se_tensor *t, se_weights_name_fn map, void *user, char *buf,
                               size_t cap) {
    if (map && map(user, t->name, buf, cap)) return buf;
    return t->name;
}

/* Finds the record for name in the first file that has it (k receives the file index). */
static const se_st_tensor *find_in(const se_st_file *const *files, size_t nfiles, const char *name,
                                   size_t *k) {
    for (*k = 0; *k < nfiles; (*k)++) {
        const se_st_tensor *r = se_st_find(files[*k], name);
        if (r) return r;
    }
    return NULL;
}

se_status se_weights_load_mapped(se_weights *w, const se_st_file *const *files, size_t nfiles,
                                 se_weights_name_fn map, void *user, se_backend *be) {
    if (nfiles == 0) return se_fail(SE_ERR_INVALID_ARG, "%s: no weight files", w->what);
    char fname[256], as[300];
    size_t k;
    /* Check presence and shapes of everything before allocating anything. */
    for (size_t i = 0; i < w->n; i++) {
        const se_tensor *t = &w->t[i];
        const char *fn = mapped_name(t, map, user, fname, sizeof fname);
        const se_st_tensor *r = find_in(files, nfiles, fn, &k);
        as[0] = '\0';
        if (fn != t->name) snprintf(as, sizeof as, " (as %s)", fn);
        if (!r)
            return se_fail(SE_ERR_MISSING_TENSOR, "%s: missing tensor %s%s in %s%s", w->what,
                           t->name, as, se_st_path(files[0]),
                           nfiles > 1 ? " (and the other files)" : "");
        if (!se_st_shape_is(r, t->ndim, t->ne)) {
            char a[160], b[160];
            return se_fail(SE_ERR_SHAPE, "%s: tensor %s%s: expected %s, got %s in %s", w->what,
                           t->name, as, se_tensor_shape_str(t, a, sizeof a),
                           se_st_shape_str(r, b, sizeof b), se_st_path(files[k]));
        }
    }
    SE_TRY(weights_alloc(w, be));
    for (size_t i = 0; i < w->n; i++) {
        const char *fn = mapped_name(&w->t[i], map, user, fname, sizeof fname);
        const se_st_tensor *r = find_in(files, nfiles, fn, &k);
        se_status st = se_st_load_record(files[k], w->what, w->t[i].name, r, be, &w->t[i]);
        se_st_done(files[k], r);
        if (st != SE_OK) {
            weights_unalloc(w);
            return st;
        }
    }
    return SE_OK;
}

se_status se_weights_load_files(se_weights *w, const se_st_file *const *files, size_t nfiles,
                                se_backend *be) {
    return se_weights_load_mapped(w, files, nfiles, NULL, NULL, be);
}

se_status se_weights_load(se_weights *w, const se_st_file *f, se_backend *be) {
    return se_weights_load_files(w, &f, 1, be);
}

/* splitmix64: a small deterministic generator for random weights. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static se_weights_random_fn g_random_fill;   /* se_weights_set_random_fill; NULL: host */

se_weights_random_fn se_weights_set_random_fill(se_weights_random_fn fn) {
    se_weights_random_fn prev = g_random_fill;
    g_random_fill = fn;
    return prev;
}

/* The range of tensor t's random values: norm scales (1-D "*.weight") 1.0; matrices and conv
 * kernels uniform in +-1/sqrt(fan_in); other 1-D tensors (biases) +-0.02. */
static void random_range(const se_tensor *t, float *lo, float *hi) {
    int64_t fan_in = 1;
    for (int d = 1; d < t->ndim; d++) fan_in *= t->ne[d];
    if (t->ndim == 1 && ends_with(t->name, ".weight")) {
        *lo = *hi = 1.0f;
        return;
    }
    float a = t->ndim >= 2 ? 1.0f / sqrtf((float)fan_in) : 0.02f;
    *lo = -a;
    *hi = a;
}

/* Every tensor through the installed generator; *served false when it declined the backend. */
static se_status load_random_fill(se_weights *w, se_backend *be, uint64_t seed, bool *served) {
    *served = true;
    for (size_t i = 0; i < w->n; i++) {
        se_tensor *t = &w->t[i];
        float lo, hi;
        random_range(t, &lo, &hi);
        se_status st = g_random_fill(be, t->data, t->dtype, (size_t)se_tensor_numel(t), lo, hi,
                                     seed, (uint64_t)i);
        if (st == SE_ERR_UNSUPPORTED && i == 0) {
            *served = false;
            return SE_OK;
        }
        if (st != SE_OK) {
            char why[512];   /* copied: se_fail must not read the buffer it writes */
            snprintf(why, sizeof why, "%s", se_last_error());
            return se_fail(st, "%s: random fill of tensor %s: %s", w->what, t->name, why);
        }
    }
    return SE_OK;
}

se_status se_weights_load_random(se_weights *w, se_backend *be, uint64_t seed) {
    SE_TRY(weights_alloc(w, be));
    if (g_random_fill) {
        bool served;
        se_status st = load_random_fill(w, be, seed, &served);
        if (st != SE_OK) weights_unalloc(w);
        if (st != SE_OK || served) return st;
    }
    const size_t chunk = 1u << 20;
    float *f32 = malloc(chunk * sizeof *f32);
    void *conv = malloc(chunk * 4);
    if (!f32 || !conv) {
        free(f32);
        free(conv);
        weights_unalloc(w);
        return se_fail(SE_ERR_NOMEM, "%s: no memory for random weights", w->what);
    }
    uint64_t s = seed;
    se_status st = SE_OK;
    for (size_t i = 0; i < w->n && st == SE_OK; i++) {
        se_tensor *t = &w->t[i];
        float lo, hi;
        random_range(t, &lo, &hi);
        const bool constant = lo == hi;
        const double a = hi;
        size_t numel = (size_t)se_tensor_numel(t), esz = se_dtype_size(t->dtype);
        for (size_t j = 0; j < numel && st == SE_OK; j += chunk) {
            size_t cnt = numel - j < chunk ? numel - j : chunk;
            for (size_t k = 0; k < cnt; k++) {
                double u = (double)(splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0);
                f32[k] = constant ? lo : (float)((2.0 * u - 1.0) * a);
            }
            se_convert_host(t->dtype, conv, SE_F32, f32, cnt);
            st = se_backend_set(be, (char *)t->data + j * esz, conv, cnt * esz);
        }
    }
    free(f32);
    free(conv);
    if (st != SE_OK) weights_unalloc(w);
    return st;
}
