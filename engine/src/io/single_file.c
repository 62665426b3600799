/*
 * single_file.c - single-file checkpoint detection and diffusers-named weight views (see
 * single_file.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "io/single_file.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "cpu/cpu_internal.h"
#include "io/lora.h"
#include "io/weights.h"

#define SF_MAX_ENTRIES 65536

/* Tensor data bytes written into weight images by this process (se_sf_image_data_bytes). */
static _Atomic uint64_t g_image_data_bytes;

uint64_t se_sf_image_data_bytes(void) { return g_image_data_bytes; }

/* One diffusers-named tensor of a view. */
typedef struct sf_entry {
    char name[SE_NAME_MAX];         /* diffusers / transformers name */
    int ndim;                       /* dims of the diffusers tensor */
    int64_t ne[SE_ST_MAX_DIMS];     /* its shape */
    const se_st_tensor *src;        /* source record (in the view's file) */
    se_sgm_op op;                   /* how src becomes this tensor */
    int part;                       /* SPLIT3: 0 q, 1 k, 2 v */
    float *owned;                   /* replaced data (fp32), or NULL */
    struct sf_delta *delta;         /* low-rank updates added when read (LoRA), or NULL */
    int ndelta, capdelta;           /* their count and capacity */
} sf_entry;

/* W += scale * up[out, r] @ down[r, in], both read (as fp32) from a file the view holds. */
typedef struct sf_delta {
    const se_st_file *f;
    const se_st_tensor *up, *down;
    float scale;
} sf_delta;

/* Host bytes the view's reads hold at once (its buffers; see se_sf_load_stats). */
typedef struct sf_acct {
    size_t cur, peak;
} sf_acct;

struct se_sf_view {
    const se_st_file *f;            /* the file every entry reads from */
    sf_acct *acct;                  /* counts the buffers of reads */
    sf_entry *e;                    /* entries */
    size_t n, cap;                  /* count and capacity */
    se_dtype merge_dt;              /* dtype replaced entries are written in */
    se_st_file **adopted;           /* files the view closes (LoRA files its deltas read) */
    size_t nadopted;
};

/* malloc / free of a read buffer, counted in the view's acct. */
static void *acct_alloc(const se_sf_view *v, size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (p) {
        v->acct->cur += bytes;
        if (v->acct->cur > v->acct->peak) v->acct->peak = v->acct->cur;
    }
    return p;
}

static void acct_free(const se_sf_view *v, void *p, size_t bytes) {
    if (!p) return;
    free(p);
    v->acct->cur -= bytes;
}

/* Does entry e differ from its source (replaced data or LoRA updates)? */
static bool entry_updated(const sf_entry *e) { return e->owned || e->ndelta; }

/* ------------------------------------------------------------ detection ---- */

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

unsigned se_sf_detect(const se_st_file *f) {
    unsigned s = 0;
    for (size_t i = 0; i < se_st_count(f); i++) {
        const char *n = se_st_at(f, i)->name;
        if (starts(n, SE_SGM_PREFIX_UNET)) s |= SE_SF_STYLE_SGM_UNET;
        else if (starts(n, "down_blocks.")) s |= SE_SF_STYLE_DIFFUSERS_UNET;
        else if (starts(n, "conditioner.embedders.0.")) s |= SE_SF_STYLE_SGM_CLIP_L;
        else if (starts(n, "conditioner.embedders.1.")) s |= SE_SF_STYLE_SGM_CLIP_G;
        else if (starts(n, SE_SGM_PREFIX_VAE)) s |= SE_SF_STYLE_SGM_VAE;
    }
    return s;
}

const char *se_sf_styles_str(unsigned styles, char *buf, size_t cap) {
    static const char *const names[] = {"sgm-unet", "diffusers-unet", "sgm-clip-l", "sgm-clip-g",
                                        "sgm-vae"};
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 5; i++) {
        if (!(styles & (1u << i))) continue;
        int k = snprintf(buf + len, cap - len, "%s%s", len ? "+" : "", names[i]);
        if (k < 0 || (size_t)k >= cap - len) break;
        len += (size_t)k;
    }
    if (!styles) snprintf(buf, cap, "none");
    return buf;
}

/* ----------------------------------------------------------------- views ---- */

static se_status view_alloc(const se_st_file *f, se_sf_view **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return se_fail(SE_ERR_NOMEM, "no memory for a weight view");
    (*out)->f = f;
    (*out)->merge_dt = SE_F32;
    (*out)->acct = calloc(1, sizeof *(*out)->acct);
    if (!(*out)->acct) {
        free(*out);
        *out = NULL;
        return se_fail(SE_ERR_NOMEM, "no memory for a weight view");
    }
    return SE_OK;
}

void se_sf_view_destroy(se_sf_view **pv) {
    if (!pv || !*pv) return;
    for (size_t i = 0; i < (*pv)->n; i++) {
        free((*pv)->e[i].owned);
        free((*pv)->e[i].delta);
    }
    for (size_t i = 0; i < (*pv)->nadopted; i++) se_st_close(&(*pv)->adopted[i]);
    free((*pv)->adopted);
    free((*pv)->acct);
    free((*pv)->e);
    free(*pv);
    *pv = NULL;
}

/* Appends an entry for source t under name with transform op (shape derived from t and op). */
static se_status view_add(se_sf_view *v, const char *name, const se_st_tensor *t, se_sgm_op op,
                          int part) {
    if (strlen(name) >= SE_NAME_MAX)
        return se_fail(SE_ERR_FORMAT, "%s: tensor name too long: %s", se_st_path(v->f), name);
    if (se_sf_view_find(v, name) >= 0)
        return se_fail(SE_ERR_FORMAT, "%s: two tensors map to %s (the second is %s)",
                       se_st_path(v->f), name, t->name);
    if (!t->loadable)
        return se_fail(SE_ERR_DTYPE, "%s: tensor %s has dtype %s (F32, F16 or BF16 expected)",
                       se_st_path(v->f), t->name, t->dtype_name);
    if (v->n >= SF_MAX_ENTRIES) /* duplicate checks are quadratic: bound them (SDXL: 1,680) */
        return se_fail(SE_ERR_FORMAT, "%s: more than %d tensors in one network", se_st_path(v->f),
                       SF_MAX_ENTRIES);
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        sf_entry *ne = realloc(v->e, nc * sizeof *ne);
        if (!ne) return se_fail(SE_ERR_NOMEM, "no memory for %zu view entries", nc);
        v->e = ne;
        v->cap = nc;
    }
    sf_entry *e = &v->e[v->n];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->src = t;
    e->op = op;
    e->part = part;
    e->ndim = t->ndim;
    memcpy(e->ne, t->shape, sizeof e->ne);
    char sh[96];
    switch (op) {
    case SE_SGM_COPY:
        break;
    case SE_SGM_SPLIT3:
        if (t->ndim < 1 || t->shape[0] % 3 != 0)
            return se_fail(SE_ERR_SHAPE, "%s: fused tensor %s: shape %s does not split into q/k/v",
                           se_st_path(v->f), t->name, se_st_shape_str(t, sh, sizeof sh));
        e->ne[0] = t->shape[0] / 3;
        break;
    case SE_SGM_TRANSPOSE:
        if (t->ndim != 2)
            return se_fail(SE_ERR_SHAPE, "%s: tensor %s: expected a matrix, got %s",
                           se_st_path(v->f), t->name, se_st_shape_str(t, sh, sizeof sh));
        e->ne[0] = t->shape[1];
        e->ne[1] = t->shape[0];
        break;
    case SE_SGM_SQUEEZE:
        if (t->ndim == 4 && t->shape[2] == 1 && t->shape[3] == 1) {
            e->ndim = 2;
        } else if (t->ndim != 2) {
            return se_fail(SE_ERR_SHAPE, "%s: tensor %s: expected [o,i,1,1] or [o,i], got %s",
                           se_st_path(v->f), t->name, se_st_shape_str(t, sh, sizeof sh));
        }
        break;
    }
    v->n++;
    return SE_OK;
}

/* Does the view's component c own this SGM name? Returns the part after the prefix or NULL. */
static const char *comp_rest(se_sf_component c, const char *name) {
    static const char *const pre[] = {SE_SGM_PREFIX_UNET, SE_SGM_PREFIX_CLIP_L,
                                      SE_SGM_PREFIX_CLIP_G, SE_SGM_PREFIX_VAE};
    if (starts(name, pre[c])) return name + strlen(pre[c]);
    return NULL;
}

static const char *comp_name(se_sf_component c) {
    static const char *const n[] = {"UNet", "CLIP-L", "CLIP-G (bigG)", "VAE"};
    return n[c];
}

/* Number of decoder up blocks in an SGM VAE: 1 + the largest N of "decoder.up.N.". */
static int vae_nup(const se_st_file *f) {
    int nup = 0;
    for (size_t i = 0; i < se_st_count(f); i++) {
        const char *r = comp_rest(SE_SF_VAE, se_st_at(f, i)->name);
        if (!r || strncmp(r, "decoder.up.", 11) != 0) continue;
        int k = 0, d = 0;
        for (r += 11; *r >= '0' && *r <= '9' && d < 3; r++, d++) k = k * 10 + (*r - '0');
        if (d > 0 && *r == '.' && k < 64 && k + 1 > nup) nup = k + 1;
    }
    return nup;
}

se_status se_sf_view_new(const se_st_file *f, se_sf_component c, const se_unet_config *ucfg,
                         se_sf_view **out) {
    se_unet_config sdxl;
    if (c == SE_SF_UNET && !ucfg) {
        se_unet_config_sdxl(&sdxl);
        ucfg = &sdxl;
    }
    if ((unsigned)c > SE_SF_VAE) return se_fail(SE_ERR_INVALID_ARG, "bad component %d", (int)c);
    SE_TRY(view_alloc(f, out));
    se_sf_view *v = *out;
    int nup = c == SE_SF_VAE ? vae_nup(f) : 0;
    se_status st = SE_OK;
    for (size_t i = 0; i < se_st_count(f) && st == SE_OK; i++) {
        const se_st_tensor *t = se_st_at(f, i);
        const char *r = comp_rest(c, t->name);
        if (!r) continue;
        char name[256];
        se_sgm_op op = SE_SGM_COPY;
        bool known = true;
        switch (c) {
        case SE_SF_UNET:
            known = se_sgm_unet_to_diffusers(ucfg, r, name, sizeof name);
            if (known) st = view_add(v, name, t, op, 0);
            break;
        case SE_SF_CLIP_L:
            if (!t->loadable && strstr(r, "position_ids")) break; /* I64 buffer */
            known = *r != '\0';
            if (known) st = view_add(v, r, t, op, 0);
            break;
        case SE_SF_CLIP_G: {
            char outs[3][128];
            int k = se_sgm_bigg_to_hf(r, outs, &op);
            known = k >= 0;
            for (int p = 0; p < k && st == SE_OK; p++) st = view_add(v, outs[p], t, op, p);
            break;
        }
        case SE_SF_VAE:
            known = se_sgm_vae_to_diffusers(r, nup, name, sizeof name, &op);
            if (known) st = view_add(v, name, t, op, 0);
            break;
        }
        if (st == SE_OK && !known)
            st = se_fail(SE_ERR_FORMAT, "%s: unknown SGM %s tensor %s", se_st_path(f), comp_name(c),
                         t->name);
    }
    if (st == SE_OK && v->n == 0)
        st = se_fail(SE_ERR_MISSING_TENSOR, "%s: no %s tensors (prefix %s) in this file",
                     se_st_path(f), comp_name(c),
                     (const char *[]){SE_SGM_PREFIX_UNET, SE_SGM_PREFIX_CLIP_L, SE_SGM_PREFIX_CLIP_G,
                                      SE_SGM_PREFIX_VAE}[c]);
    if (st != SE_OK) se_sf_view_destroy(out);
    return st;
}

se_status se_sf_view_identity(const se_st_file *f, const char *strip, se_sf_view **out) {
    SE_TRY(view_alloc(f, out));
    size_t sl = strip ? strlen(strip) : 0;
    se_status st = SE_OK;
    for (size_t i = 0; i < se_st_count(f) && st == SE_OK; i++) {
        const se_st_tensor *t = se_st_at(f, i);
        if (!t->loadable) continue;
        if (sl && strncmp(t->name, strip, sl) != 0) continue;
        st = view_add(*out, t->name + sl, t, SE_SGM_COPY, 0);
    }
    if (st != SE_OK) se_sf_view_destroy(out);
    return st;
}

size_t se_sf_view_count(const se_sf_view *v) { return v->n; }
const char *se_sf_view_name(const se_sf_view *v, size_t i) { return v->e[i].name; }

int se_sf_view_shape(const se_sf_view *v, size_t i, int64_t *ne) {
    memcpy(ne, v->e[i].ne, sizeof v->e[i].ne);
    return v->e[i].ndim;
}

int64_t se_sf_view_numel(const se_sf_view *v, size_t i) {
    int64_t n = 1;
    for (int d = 0; d < v->e[i].ndim; d++) n *= v->e[i].ne[d];
    return n;
}

long se_sf_view_find(const se_sf_view *v, const char *name) {
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->e[i].name, name) == 0) return (long)i;
    return -1;
}

void se_sf_view_set_merge_dtype(se_sf_view *v, se_dtype dt) { v->merge_dt = dt; }

/* Entry i's data before its deltas (owned, or the source with its transform). */
static se_status read_base_f32(const se_sf_view *v, size_t i, float *dst, size_t n) {
    const sf_entry *e = &v->e[i];
    int64_t numel = se_sf_view_numel(v, i);
    if (e->owned) {
        memcpy(dst, e->owned, (size_t)numel * sizeof *dst);
        return SE_OK;
    }
    const se_st_tensor *t = e->src;
    if (e->op == SE_SGM_COPY || e->op == SE_SGM_SQUEEZE) {
        return se_st_read_host(v->f, t, SE_F32, dst, n * sizeof *dst);
    }
    size_t allb = (size_t)t->numel * sizeof(float);
    float *all = acct_alloc(v, allb);
    if (!all) return se_fail(SE_ERR_NOMEM, "no memory to read %s", t->name);
    se_status st = se_st_read_host(v->f, t, SE_F32, all, (size_t)t->numel * sizeof *all);
    if (st == SE_OK) {
        if (e->op == SE_SGM_SPLIT3) {
            memcpy(dst, all + (size_t)e->part * (size_t)numel, (size_t)numel * sizeof *dst);
        } else {
            int64_t r = t->shape[0], c = t->shape[1];
            for (int64_t a = 0; a < r; a++)
                for (int64_t b = 0; b < c; b++) dst[b * r + a] = all[a * c + b];
        }
    }
    acct_free(v, all, allb);
    return st;
}

/* dst[out, in] += scale * up @ down for one delta. */
static se_status apply_delta(const se_sf_view *v, const sf_delta *d, const char *name, float *dst) {
    int64_t r = d->down->shape[0], out = d->up->shape[0], in = d->down->numel / r;
    size_t db = (size_t)d->down->numel * sizeof(float), ub = (size_t)d->up->numel * sizeof(float);
    float *df = acct_alloc(v, db);
    float *uf = acct_alloc(v, ub);
    se_status st = SE_OK;
    if (!df || !uf) st = se_fail(SE_ERR_NOMEM, "no memory to merge into %s", name);
    if (st == SE_OK) st = se_st_read_host(d->f, d->down, SE_F32, df, (size_t)d->down->numel * sizeof *df);
    if (st == SE_OK) st = se_st_read_host(d->f, d->up, SE_F32, uf, (size_t)d->up->numel * sizeof *uf);
    /* the CPU backend's host SGEMM (OpenBLAS or the built-in blocked one), fp32, beta 1 */
    if (st == SE_OK) cpu_sgemm(false, false, out, in, r, d->scale, uf, r, df, in, 1.0f, dst, in);
    acct_free(v, df, db);
    acct_free(v, uf, ub);
    return st;
}

se_status se_sf_view_read_f32(const se_sf_view *v, size_t i, float *dst, size_t n) {
    const sf_entry *e = &v->e[i];
    int64_t numel = se_sf_view_numel(v, i);
    if ((int64_t)n < numel)
        return se_fail(SE_ERR_INVALID_ARG, "%s: buffer of %zu floats, need %lld", e->name, n,
                       (long long)numel);
    SE_TRY(read_base_f32(v, i, dst, n));
    for (int k = 0; k < e->ndelta; k++) SE_TRY(apply_delta(v, &e->delta[k], e->name, dst));
    return SE_OK;
}

se_status se_sf_view_add_delta(se_sf_view *v, size_t i, const se_st_file *f,
                               const se_st_tensor *up, const se_st_tensor *down, float scale) {
    sf_entry *e = &v->e[i];
    int64_t r = down->ndim >= 1 ? down->shape[0] : 0;
    if (r <= 0 || up->ndim < 2 || up->shape[1] != r || up->shape[0] * (down->numel / r) != se_sf_view_numel(v, i))
        return se_fail(SE_ERR_SHAPE, "%s: low-rank update %s @ %s does not fit", e->name, up->name,
                       down->name);
    if (e->ndelta == e->capdelta) {
        int nc = e->capdelta ? e->capdelta * 2 : 1;
        sf_delta *nd = realloc(e->delta, (size_t)nc * sizeof *nd);
        if (!nd) return se_fail(SE_ERR_NOMEM, "no memory for a LoRA update of %s", e->name);
        e->delta = nd;
        e->capdelta = nc;
    }
    e->delta[e->ndelta++] = (sf_delta){.f = f, .up = up, .down = down, .scale = scale};
    return SE_OK;
}

se_status se_sf_view_adopt(se_sf_view *v, se_st_file *f) {
    se_st_file **na = realloc(v->adopted, (v->nadopted + 1) * sizeof *na);
    if (!na) {
        se_st_close(&f);
        return se_fail(SE_ERR_NOMEM, "no memory to keep a file open");
    }
    v->adopted = na;
    v->adopted[v->nadopted++] = f;
    return SE_OK;
}

se_status se_sf_view_set_f32(se_sf_view *v, size_t i, const float *src, size_t n) {
    sf_entry *e = &v->e[i];
    int64_t numel = se_sf_view_numel(v, i);
    if ((int64_t)n != numel)
        return se_fail(SE_ERR_INVALID_ARG, "%s: %zu values given, %lld needed", e->name, n,
                       (long long)numel);
    if (!e->owned) {
        e->owned = malloc((size_t)numel * sizeof *e->owned);
        if (!e->owned) return se_fail(SE_ERR_NOMEM, "no memory for merged %s", e->name);
    }
    memcpy(e->owned, src, (size_t)numel * sizeof *src);
    return SE_OK;
}

/* ---------------------------------------------------------- materialise ---- */

/* Writes entry e's data (transform applied) as bytes of dtype dt into dst. For untouched COPY /
 * SQUEEZE / SPLIT3 entries with dt == the source dtype this is a plain copy of the source bytes. */
static se_status entry_bytes(const se_sf_view *v, const sf_entry *e, se_dtype dt, bool updates,
                             void *dst) {
    const se_st_tensor *t = e->src;
    size_t esz = se_dtype_size(dt);
    int64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= e->ne[d];
    if ((updates && entry_updated(e)) || dt != t->dtype) { /* via fp32 */
        float *tmp = acct_alloc(v, (size_t)n * sizeof *tmp);
        if (!tmp) return se_fail(SE_ERR_NOMEM, "no memory to convert %s", e->name);
        se_status st = updates ? se_sf_view_read_f32(v, (size_t)(e - v->e), tmp, (size_t)n)
                               : read_base_f32(v, (size_t)(e - v->e), tmp, (size_t)n);
        if (st == SE_OK) se_convert_host(dt, dst, SE_F32, tmp, (size_t)n);
        acct_free(v, tmp, (size_t)n * sizeof *tmp);
        return st;
    }
    const char *src = (const char *)t->data;
    switch (e->op) {
    case SE_SGM_COPY:
    case SE_SGM_SQUEEZE:
        memcpy(dst, src, (size_t)n * esz);
        break;
    case SE_SGM_SPLIT3:
        memcpy(dst, src + (size_t)e->part * (size_t)n * esz, (size_t)n * esz);
        break;
    case SE_SGM_TRANSPOSE: {
        int64_t r = t->shape[0], c = t->shape[1]; /* source [r, c] -> dst [c, r] */
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < c; j++)
                memcpy((char *)dst + (size_t)(j * r + i) * esz, src + (size_t)(i * c + j) * esz, esz);
        break;
    }
    }
    return SE_OK;
}


static const char *st_dtype_str(se_dtype dt) {
    return dt == SE_F16 ? "F16" : dt == SE_BF16 ? "BF16" : "F32";
}

/* The dtype entry e is written in (updates: with its updates, else its source as it is). */
static se_dtype entry_dtype(const se_sf_view *v, const sf_entry *e, bool updates) {
    return updates && entry_updated(e) ? v->merge_dt : e->src->dtype;
}

/* Writes all of buf to fd. */
static se_status write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return se_fail(SE_ERR_IO, "writing a weight image: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    return SE_OK;
}

/* An anonymous file: memfd, else an unlinked temporary file in TMPDIR. */
static int anon_file(void) {
#ifdef MFD_CLOEXEC
    int fd = memfd_create("strike-weights", MFD_CLOEXEC);
    if (fd >= 0) return fd;
#endif
    const char *dir = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/strike-weights-XXXXXX", dir && *dir ? dir : "/tmp");
    int t = mkstemp(tmpl);
    if (t >= 0) unlink(tmpl);
    return t;
}

/* Writes the view as a safetensors image, with its updates or (updates false) every entry as
 * its source holds it (the LoRA is then merged after loading, sf_patch). header_only: the
 * header only, the data section left a hole of the right size (ftruncate; no page of it is
 * written or held), for a loader that checks names and shapes and stops before reading any data
 * (se_sf_check_desc); reading such an image's tensors gives zeros. */
static se_status materialize(const se_sf_view *v, bool updates, bool header_only, se_sf_image *img) {
    img->fd = -1;
    img->path[0] = '\0';
    img->bytes = 0;
    json_t *root = json_object();
    if (!root) return se_fail(SE_ERR_NOMEM, "no memory for a weight image header");
    uint64_t off = 0;
    size_t maxbytes = 0;
    for (size_t i = 0; i < v->n; i++) {
        const sf_entry *e = &v->e[i];
        se_dtype dt = entry_dtype(v, e, updates);
        size_t nb = (size_t)se_sf_view_numel(v, i) * se_dtype_size(dt);
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) json_array_append_new(shape, json_integer(e->ne[d]));
        json_t *rec = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype_str(dt), "shape", shape,
                                "data_offsets", (json_int_t)off, (json_int_t)(off + nb));
        if (!rec || json_object_set_new(root, e->name, rec) != 0) {
            json_decref(root);
            return se_fail(SE_ERR_NOMEM, "no memory for a weight image header");
        }
        off += nb;
        if (nb > maxbytes) maxbytes = nb;
    }
    char *hdr = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!hdr) return se_fail(SE_ERR_NOMEM, "no memory for a weight image header");
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    int fd = anon_file();
    if (fd < 0) {
        free(hdr);
        return se_fail(SE_ERR_IO, "cannot create an anonymous file for a weight image: %s",
                       strerror(errno));
    }
    uint8_t len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (uint8_t)((uint64_t)padded >> (8 * b));
    se_status st = write_all(fd, len8, 8);
    if (st == SE_OK) st = write_all(fd, hdr, hl);
    for (size_t k = hl; k < padded && st == SE_OK; k++) st = write_all(fd, " ", 1);
    free(hdr);
    if (header_only) {
        if (st == SE_OK && ftruncate(fd, (off_t)(8 + padded + off)) != 0)
            st = se_fail(SE_ERR_IO, "sizing a weight image's header: %s", strerror(errno));
        maxbytes = 0;
    }
    void *buf = st == SE_OK && !header_only ? malloc(maxbytes ? maxbytes : 1) : NULL;
    if (st == SE_OK && !header_only && !buf) st = se_fail(SE_ERR_NOMEM, "no memory for a weight image");
    for (size_t i = 0; i < v->n && st == SE_OK && !header_only; i++) {
        const sf_entry *e = &v->e[i];
        se_dtype dt = entry_dtype(v, e, updates);
        size_t nb = (size_t)se_sf_view_numel(v, i) * se_dtype_size(dt);
        st = entry_bytes(v, e, dt, updates, buf);
        if (st == SE_OK) st = write_all(fd, buf, nb);
        if (st == SE_OK) g_image_data_bytes += nb;
    }
    free(buf);
    if (st != SE_OK) {
        close(fd);
        return st;
    }
    img->fd = fd;
    img->bytes = 8 + padded + off;
    snprintf(img->path, sizeof img->path, "/proc/self/fd/%d", fd);
    return SE_OK;
}

se_status se_sf_view_materialize(const se_sf_view *v, se_sf_image *img) {
    return materialize(v, true, false, img);
}

void se_sf_image_close(se_sf_image *img) {
    if (img && img->fd >= 0) close(img->fd);
    if (img) {
        img->fd = -1;
        img->path[0] = '\0';
    }
}

/* ------------------------------------------------------------ networks ---- */

/* Merges the updated entries of v (LoRA deltas, replaced data) into the weights w of a network
 * just loaded from v's sources, one tensor at a time: each is computed in fp32 from the source
 * (as an image with updates would hold it), converted to the weight's dtype and written over
 * the loaded values, so the result is the same bytes as loading a materialised image with the
 * updates, and the host memory is one tensor's buffers (counted in v's acct). Entries the
 * network does not declare are skipped (it never reads them) and counted in *unused. */
static se_status sf_patch(const se_sf_view *v, const se_weights *w, se_backend *be,
                          const char *what, int *merged, int *unused) {
    for (size_t i = 0; i < v->n; i++) {
        const sf_entry *e = &v->e[i];
        if (!entry_updated(e)) continue;
        const se_tensor *t = se_weights_get(w, e->name);
        if (!t) {
            (*unused)++;
            continue;
        }
        size_t n = (size_t)se_sf_view_numel(v, i);
        if ((size_t)se_tensor_numel(t) != n || !t->data)
            return se_fail(SE_ERR_SHAPE, "%s: tensor %s: the loaded weight has %lld values, the "
                           "merged one %zu", what, e->name, (long long)se_tensor_numel(t), n);
        size_t fb = n * sizeof(float), cb = t->dtype == SE_F32 ? 0 : n * se_dtype_size(t->dtype);
        float *tmp = acct_alloc(v, fb);
        void *conv = cb ? acct_alloc(v, cb) : NULL;
        se_status st = SE_OK;
        if (!tmp || (cb && !conv))
            st = se_fail(SE_ERR_NOMEM, "%s: no memory to merge a LoRA into %s", what, e->name);
        if (st == SE_OK) st = se_sf_view_read_f32(v, i, tmp, n);
        /* the mapped source and factor pages are not needed again: let them go, as a load does */
        se_st_done(v->f, e->src);
        for (int k = 0; k < e->ndelta; k++) {
            se_st_done(e->delta[k].f, e->delta[k].up);
            se_st_done(e->delta[k].f, e->delta[k].down);
        }
        if (st == SE_OK && conv) se_convert_host(t->dtype, conv, SE_F32, tmp, n);
        if (st == SE_OK) st = se_backend_set(be, t->data, conv ? conv : (void *)tmp, n * se_dtype_size(t->dtype));
        acct_free(v, conv, cb);
        acct_free(v, tmp, fb);
        if (st != SE_OK) return st;
        (*merged)++;
    }
    return SE_OK;
}

/* One network's weight source while loading: a diffusers file, or the checkpoint's SGM tensors,
 * seen as a view when it needs a transform or a LoRA. */
typedef struct net_src {
    const char *what;            /* "unet", "text_encoder", ... for messages */
    const char *file;            /* diffusers-named weights, or NULL: the checkpoint */
    se_st_file *own;             /* file opened here (for a view over it) */
    se_sf_view *view;            /* SGM transforms and/or the LoRA's updates, or NULL */
    bool image;                  /* loaded from the view's image (SGM transforms), else from
                                  * file / the checkpoint directly */
    se_sf_image img;             /* the materialised view (source values, no updates) */
} net_src;

/* Opens net's view: an identity view of its file, or the SGM component c of the checkpoint. */
static se_status net_view(net_src *n, const se_st_file *ck, se_sf_component c,
                          const se_unet_config *ucfg, se_dtype merge_dt) {
    if (n->file) {
        SE_TRY(se_st_open(n->file, &n->own));
        SE_TRY(se_sf_view_identity(n->own, NULL, &n->view));
    } else {
        if (!ck)
            return se_fail(SE_ERR_INVALID_ARG, "%s: no weights given (neither a file nor a "
                           "checkpoint)", n->what);
        SE_TRY(se_sf_view_new(ck, c, ucfg, &n->view));
    }
    se_sf_view_set_merge_dtype(n->view, merge_dt);
    return SE_OK;
}

/* The source name of the view entry named in msg ("tensor NAME:" or "tensor NAME "), or NULL. */
static const char *named_source(const se_sf_view *v, const char *msg) {
    char needle[SE_NAME_MAX + 8];
    for (size_t i = 0; i < v->n; i++) {
        snprintf(needle, sizeof needle, "tensor %s", v->e[i].name);
        for (const char *p = strstr(msg, needle); p; p = strstr(p + 1, needle)) {
            char after = p[strlen(needle)];
            if (after == ':' || after == ' ') return v->e[i].src->name;
        }
    }
    return NULL;
}

/* A failed load from n's view (st, se_last_error()) restated to say where its tensors came from:
 * the image's "/proc/self/fd/N" becomes the checkpoint's path, a tensor the message names gets
 * its SGM name, and "(weights from ...)" names the file or checkpoint. */
static se_status view_failure(const net_src *n, se_status st, const char *checkpoint, bool lora) {
    char msg[1024], out[1024];
    snprintf(msg, sizeof msg, "%s", se_last_error());
    const char *src = n->file ? n->file : checkpoint ? checkpoint : "?";
    size_t pl = strlen(n->img.path);
    for (char *p = pl ? strstr(msg, n->img.path) : NULL; p; p = strstr(p + 1, n->img.path)) {
        if (p[pl] >= '0' && p[pl] <= '9') continue; /* /proc/self/fd/1 in /proc/self/fd/12 */
        snprintf(out, sizeof out, "%.*s%s%s", (int)(p - msg), msg, src, p + pl);
        memcpy(msg, out, sizeof msg);
        break;
    }
    const char *sgm = n->file ? NULL : named_source(n->view, msg);
    return se_fail(st, "%s (weights %s%s%s%s%s)", msg, n->file ? "from " : "from the SGM checkpoint ",
                   src, sgm ? ", SGM tensor " : "", sgm ? sgm : "", lora ? ", LoRA merged" : "");
}

static void net_close(net_src *n) {
    se_sf_image_close(&n->img);
    se_sf_view_destroy(&n->view);
    se_st_close(&n->own);
}

se_status se_sf_load_networks(const se_sf_sources *s, se_backend *be, se_unet **unet,
                              se_clip **te1, se_clip **te2, se_vae **vae) {
    if (unet) *unet = NULL;
    if (te1) *te1 = NULL;
    if (te2) *te2 = NULL;
    if (vae) *vae = NULL;
    if (s->stats) memset(s->stats, 0, sizeof *s->stats);
    net_src n[4] = {
        {.what = "unet", .file = s->unet_file},
        {.what = "text_encoder", .file = s->te1_file},
        {.what = "text_encoder_2", .file = s->te2_file},
        {.what = "vae", .file = s->vae_file},
    };
    for (int i = 0; i < 4; i++) n[i].img.fd = -1;
    se_st_file *ck = NULL;
    se_unet_config ucfg;
    se_status st = SE_OK;
    if (unet && !s->unet_config)
        st = se_fail(SE_ERR_INVALID_ARG, "unet: no config.json given");
    if (st == SE_OK && unet) st = se_unet_config_load(s->unet_config, &ucfg);
    if (st == SE_OK && s->checkpoint) st = se_st_open(s->checkpoint, &ck);
    bool want[4] = {unet != NULL, te1 != NULL, te2 != NULL, vae != NULL};
    bool lora = s->lora && *s->lora;
    se_dtype mdt = be->weight_dtype;
    /* views: every network from the checkpoint except an SGM UNet (these load through an image
     * of their source tensors), plus the UNet and text encoders when a LoRA is merged (its
     * updates are merged into the loaded weights afterwards) */
    for (int i = 0; i < 4 && st == SE_OK; i++) {
        if (!want[i]) continue;
        /* se_unet_new_from_single_file maps names only for the same layers in every block */
        bool uniform = true;
        for (int b = 1; i == 0 && b < ucfg.nblocks; b++) uniform &= ucfg.layers[b] == ucfg.layers[0];
        n[i].image = !n[i].file && (i != 0 || !uniform);
        bool need = n[i].image || (lora && i != 3);
        if (!n[i].file && !ck)
            st = se_fail(SE_ERR_INVALID_ARG, "%s: no weights given (neither a file nor a "
                         "checkpoint)", n[i].what);
        else if (need)
            st = net_view(&n[i], ck, (se_sf_component)i, i == 0 ? &ucfg : NULL, mdt);
    }
    if (st == SE_OK && lora) {
        se_lora_targets tg = {.unet = n[0].view, .ucfg = unet ? &ucfg : NULL, .te1 = n[1].view,
                              .te2 = n[2].view};
        se_lora_stats ls;
        st = se_lora_apply(s->lora, s->lora_strength, &tg, &ls);
    }
    /* load, materialising a view that needs it just before its network loads (one image at a
     * time, source values only), then merging the LoRA's updates into the loaded weights one
     * tensor at a time (sf_patch): no copy of a network is ever held for the merge */
    const char *cfgs[4] = {s->unet_config, s->te1_config, s->te2_config, s->vae_config};
    int merged = 0, unused = 0;
    for (int i = 0; i < 4 && st == SE_OK; i++) {
        if (!want[i]) continue;
        if (n[i].image) {
            st = materialize(n[i].view, false, s->check_only, &n[i].img);
            if (st != SE_OK) break;
            if (s->stats && n[i].img.bytes > s->stats->image_bytes)
                s->stats->image_bytes = n[i].img.bytes;
        }
        const char *wpath = n[i].image ? n[i].img.path : n[i].file;
        if (!cfgs[i]) {
            st = se_fail(SE_ERR_INVALID_ARG, "%s: no config.json given", n[i].what);
            break;
        }
        switch (i) {
        case 0:
            if (wpath) st = se_unet_new_from_files(cfgs[0], wpath, be, unet);
            else st = se_unet_new_from_single_file(s->checkpoint, &ucfg, be, unet);
            break;
        case 1: st = se_clip_load_files(cfgs[1], wpath, n[1].what, be, te1); break;
        case 2: st = se_clip_load_files(cfgs[2], wpath, n[2].what, be, te2); break;
        case 3: st = se_vae_new_from_files(cfgs[3], wpath, be, vae); break;
        }
        if (st == SE_OK && lora && n[i].view) {
            const se_weights *w = i == 0 ? se_unet_weights(*unet)
                                : se_clip_weights(i == 1 ? *te1 : *te2);
            n[i].view->acct->peak = n[i].view->acct->cur;
            st = sf_patch(n[i].view, w, be, n[i].what, &merged, &unused);
            if (s->stats && n[i].view->acct->peak > s->stats->merge_scratch_peak)
                s->stats->merge_scratch_peak = n[i].view->acct->peak;
        }
        if (st != SE_OK && n[i].view) st = view_failure(&n[i], st, s->checkpoint, lora);
        net_close(&n[i]); /* frees the image as soon as the network holds its weights */
    }
    for (int i = 0; i < 4; i++) net_close(&n[i]);
    se_st_close(&ck);
    if (s->stats) {
        s->stats->merged = merged;
        s->stats->merged_unused = unused;
    }
    if (st != SE_OK) {
        if (unet) se_unet_destroy(unet);
        if (te1) se_clip_destroy(te1);
        if (te2) se_clip_destroy(te2);
        if (vae) se_vae_destroy(vae);
    }
    return st;
}

/* ---------------------------------------------------------- descriptions ---- */

#define DESC_PATH_MAX 4096

static bool sf_is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool sf_is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* out = dir/a, or dir/b when dir/a is not a file (b may be NULL). */
static se_status pick(char *out, const char *dir, const char *a, const char *b) {
    if ((size_t)snprintf(out, DESC_PATH_MAX, "%s/%s", dir, a) >= DESC_PATH_MAX)
        return se_fail(SE_ERR_INVALID_ARG, "model: path too long: %s/%s", dir, a);
    if (b && !sf_is_file(out)) {
        char alt[DESC_PATH_MAX];
        if ((size_t)snprintf(alt, sizeof alt, "%s/%s", dir, b) >= sizeof alt)
            return se_fail(SE_ERR_INVALID_ARG, "model: path too long: %s/%s", dir, b);
        if (sf_is_file(alt)) memcpy(out, alt, sizeof alt); /* else keep a's name for messages */
    }
    return SE_OK;
}

/* se_sf_load_desc, or with check_only se_sf_check_desc. */
static se_status load_desc(const se_model_desc *d, bool check_only, se_backend *be, se_unet **unet,
                           se_clip **te1, se_clip **te2, se_vae **vae) {
    if (!d || !d->base_dir) return se_fail(SE_ERR_INVALID_ARG, "model: no base_dir given");
    unsigned styles = 0;
    if (d->checkpoint_file) {
        if (!sf_is_file(d->checkpoint_file))
            return se_fail(SE_ERR_IO, "model: checkpoint file %s not found", d->checkpoint_file);
        se_st_file *ck = NULL;
        SE_TRY(se_st_open(d->checkpoint_file, &ck));
        styles = se_sf_detect(ck);
        se_st_close(&ck);
        unsigned sgm = SE_SF_STYLE_SGM_UNET | SE_SF_STYLE_SGM_CLIP_L | SE_SF_STYLE_SGM_CLIP_G |
                       SE_SF_STYLE_SGM_VAE;
        if (!(styles & sgm)) {
            char sb[128];
            return se_fail(SE_ERR_FORMAT, "model: %s is not an SGM single-file checkpoint (no "
                           "model.diffusion_model., conditioner.embedders. or first_stage_model. "
                           "tensors; styles found: %s)", d->checkpoint_file,
                           se_sf_styles_str(styles, sb, sizeof sb));
        }
    }
    if (d->unet_file && !sf_is_file(d->unet_file))
        return se_fail(SE_ERR_IO, "model: UNet file %s not found", d->unet_file);
    if (d->vae_dir && !sf_is_dir(d->vae_dir))
        return se_fail(SE_ERR_IO, "model: VAE folder %s not found", d->vae_dir);
    if (d->lora_file && !sf_is_file(d->lora_file))
        return se_fail(SE_ERR_IO, "model: LoRA file %s not found", d->lora_file);
    char ucfg[DESC_PATH_MAX], uw[DESC_PATH_MAX], c1[DESC_PATH_MAX], w1[DESC_PATH_MAX];
    char c2[DESC_PATH_MAX], w2[DESC_PATH_MAX], vc[DESC_PATH_MAX], vw[DESC_PATH_MAX];
    const char *vdir = d->vae_dir;
    char vbase[DESC_PATH_MAX];
    if (!vdir) {
        SE_TRY(pick(vbase, d->base_dir, "vae", NULL));
        vdir = vbase;
    }
    SE_TRY(pick(ucfg, d->base_dir, "unet/config.json", NULL));
    SE_TRY(pick(uw, d->base_dir, "unet/diffusion_pytorch_model.safetensors",
                "unet/diffusion_pytorch_model.fp16.safetensors"));
    SE_TRY(pick(c1, d->base_dir, "text_encoder/config.json", NULL));
    SE_TRY(pick(w1, d->base_dir, "text_encoder/model.safetensors", "text_encoder/model.fp16.safetensors"));
    SE_TRY(pick(c2, d->base_dir, "text_encoder_2/config.json", NULL));
    SE_TRY(pick(w2, d->base_dir, "text_encoder_2/model.safetensors",
                "text_encoder_2/model.fp16.safetensors"));
    SE_TRY(pick(vc, vdir, "config.json", NULL));
    SE_TRY(pick(vw, vdir, "diffusion_pytorch_model.safetensors",
                "diffusion_pytorch_model.fp16.safetensors"));
    se_sf_sources s = {.checkpoint = d->checkpoint_file, .unet_config = ucfg, .te1_config = c1,
                       .te2_config = c2, .vae_config = vc, .lora = d->lora_file,
                       .lora_strength = d->lora_strength, .check_only = check_only};
    s.unet_file = d->unet_file ? d->unet_file : (styles & SE_SF_STYLE_SGM_UNET) ? NULL : uw;
    s.te1_file = (styles & SE_SF_STYLE_SGM_CLIP_L) ? NULL : w1;
    s.te2_file = (styles & SE_SF_STYLE_SGM_CLIP_G) ? NULL : w2;
    s.vae_file = (d->vae_dir || !(styles & SE_SF_STYLE_SGM_VAE)) ? vw : NULL;
    const char *files[4] = {s.unet_file, s.te1_file, s.te2_file, s.vae_file};
    for (int i = 0; i < 4; i++)
        if (files[i] && !sf_is_file(files[i]))
            return se_fail(SE_ERR_IO, "model %s: weights %s not found (nor its .fp16 variant)",
                           d->base_dir, files[i]);
    return se_sf_load_networks(&s, be, unet, te1, te2, vae);
}

se_status se_sf_load_desc(const se_model_desc *d, se_backend *be, se_unet **unet, se_clip **te1,
                          se_clip **te2, se_vae **vae) {
    return load_desc(d, false, be, unet, te1, te2, vae);
}

se_status se_sf_check_desc(const se_model_desc *d, se_backend *be, se_unet **unet, se_clip **te1,
                           se_clip **te2, se_vae **vae) {
    return load_desc(d, true, be, unet, te1, te2, vae);
}
