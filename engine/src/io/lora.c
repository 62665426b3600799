/*
 * lora.c - LoRA key styles, module matching and the fp32 merge (see lora.h).
 */
#include "io/lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define LORA_MAX_TENSORS 65536

/* One LoRA module: its key (without the role suffix) and its tensors. */
typedef struct lora_module {
    char key[256];
    const se_st_tensor *down, *up, *alpha;
} lora_module;

/* Role suffixes of LoRA tensors: 0 down, 1 up, 2 alpha. */
static const struct {
    const char *suffix;
    int role;
} ROLES[] = {
    {".lora_down.weight", 0}, {".lora_up.weight", 1}, {".alpha", 2},
    {".lora_A.weight", 0},    {".lora_B.weight", 1},
};

/* Kohya-style flattening of a tensor name: ".weight" dropped, '.' -> '_'. */
static void kohya_of(const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    if (n >= 7 && strcmp(name + n - 7, ".weight") == 0) n -= 7;
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = name[i] == '.' ? '_' : name[i];
    out[n] = '\0';
}

static bool ends_weight(const char *s) {
    size_t n = strlen(s);
    return n > 7 && strcmp(s + n - 7, ".weight") == 0;
}

/* The names a view's tensors can be called by in a LoRA file, computed once per view: for each
 * "*.weight" entry its dotted name without ".weight" (PEFT), and flattened kohya names: of the
 * diffusers name, of "text_model." + name (text encoders whose file lacks the prefix) and of the
 * SGM name (UNet). NULL where not applicable. */
typedef struct name_index {
    size_t n;
    char **dotted, **flat, **flat_tm, **flat_sgm;
} name_index;

static void index_free(name_index *x) {
    for (size_t i = 0; i < x->n; i++) {
        free(x->dotted[i]);
        free(x->flat[i]);
        free(x->flat_tm[i]);
        free(x->flat_sgm[i]);
    }
    free(x->dotted);
    free(x->flat);
    free(x->flat_tm);
    free(x->flat_sgm);
    memset(x, 0, sizeof *x);
}

static se_status index_build(const se_sf_view *v, bool text, const se_unet_config *ucfg,
                             name_index *x) {
    size_t n = se_sf_view_count(v);
    x->n = n;
    x->dotted = calloc(n ? n : 1, sizeof *x->dotted);
    x->flat = calloc(n ? n : 1, sizeof *x->flat);
    x->flat_tm = calloc(n ? n : 1, sizeof *x->flat_tm);
    x->flat_sgm = calloc(n ? n : 1, sizeof *x->flat_sgm);
    if (!x->dotted || !x->flat || !x->flat_tm || !x->flat_sgm) {
        index_free(x);
        return se_fail(SE_ERR_NOMEM, "no memory for a LoRA name index");
    }
    char a[256], b[256];
    for (size_t i = 0; i < n; i++) {
        const char *name = se_sf_view_name(v, i);
        if (!ends_weight(name)) continue;
        snprintf(a, sizeof a, "%.*s", (int)(strlen(name) - 7), name);
        x->dotted[i] = strdup(a);
        kohya_of(name, a, sizeof a);
        x->flat[i] = strdup(a);
        if (text && strncmp(name, "text_model.", 11) != 0) {
            snprintf(b, sizeof b, "text_model.%s", name);
            kohya_of(b, a, sizeof a);
            x->flat_tm[i] = strdup(a);
        }
        if (ucfg && se_sgm_unet_from_diffusers(ucfg, name, b, sizeof b)) {
            kohya_of(b, a, sizeof a);
            x->flat_sgm[i] = strdup(a);
        }
    }
    return SE_OK;
}

static bool eq(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* The entry a module key (after its style prefix) names, or -1. PEFT keys may also carry a
 * "text_model." prefix the view's names lack. */
static long match(const name_index *x, const char *rest, bool kohya) {
    for (size_t i = 0; i < x->n; i++) {
        if (kohya) {
            if (eq(x->flat[i], rest) || eq(x->flat_tm[i], rest) || eq(x->flat_sgm[i], rest))
                return (long)i;
        } else if (eq(x->dotted[i], rest) ||
                   (x->flat_tm[i] && strncmp(rest, "text_model.", 11) == 0 && eq(x->dotted[i], rest + 11))) {
            return (long)i;
        }
    }
    return -1;
}

/* Reads a scalar (or 1-element) alpha as a float. */
static se_status read_alpha(const se_st_file *f, const se_st_tensor *t, float *out) {
    if (t->numel != 1)
        return se_fail(SE_ERR_SHAPE, "%s: %s: alpha must be a scalar, has %lld values", se_st_path(f),
                       t->name, (long long)t->numel);
    return se_st_read_host(f, t, SE_F32, out, sizeof *out);
}

/* Merges one module into entry idx of view v. */
static se_status merge_one(const se_st_file *f, const se_st_file *vf, const lora_module *m,
                           se_sf_view *v, long idx, float strength, int *rank_out) {
    const char *path = se_st_path(f);
    if (!m->down || !m->up)
        return se_fail(SE_ERR_FORMAT, "%s: LoRA module %s has no %s tensor", path, m->key,
                       m->down ? "up (lora_up / lora_B)" : "down (lora_down / lora_A)");
    const se_st_tensor *d = m->down, *u = m->up;
    char s1[96], s2[96];
    bool dok = d->ndim == 2 || d->ndim == 4;
    bool uok = u->ndim == 2 || (u->ndim == 4 && u->shape[2] == 1 && u->shape[3] == 1);
    if (!dok || !uok)
        return se_fail(SE_ERR_SHAPE, "%s: LoRA module %s: down %s / up %s are not [r,in(,kh,kw)] / "
                       "[out,r(,1,1)]", path, m->key, se_st_shape_str(d, s1, sizeof s1),
                       se_st_shape_str(u, s2, sizeof s2));
    int64_t r = d->shape[0], out = u->shape[0], in = d->numel / (r ? r : 1);
    if (r <= 0 || u->shape[1] != r)
        return se_fail(SE_ERR_SHAPE, "%s: LoRA module %s: rank mismatch: down %s has rank %lld, "
                       "up %s has %lld", path, m->key, se_st_shape_str(d, s1, sizeof s1),
                       (long long)r, se_st_shape_str(u, s2, sizeof s2), (long long)u->shape[1]);
    int64_t ne[SE_ST_MAX_DIMS];
    int nd = se_sf_view_shape(v, (size_t)idx, ne);
    int64_t wn = se_sf_view_numel(v, (size_t)idx);
    bool ok = nd >= 2 && ne[0] == out && wn == out * in;
    if (ok && nd == 4 && d->ndim == 4)
        ok = ne[1] == d->shape[1] && ne[2] == d->shape[2] && ne[3] == d->shape[3];
    if (!ok)
        return se_fail(SE_ERR_SHAPE, "%s: LoRA module %s: up %s @ down %s does not fit %s "
                       "(%lld values, %d dims)", path, m->key, se_st_shape_str(u, s2, sizeof s2),
                       se_st_shape_str(d, s1, sizeof s1), se_sf_view_name(v, (size_t)idx),
                       (long long)wn, nd);
    float scale = strength;
    if (m->alpha) {
        float a;
        SE_TRY(read_alpha(f, m->alpha, &a));
        scale = strength * a / (float)r;
    }
    /* the update is added (fp32) whenever the tensor is read: records of vf, the view's own
     * open copy of the LoRA file */
    se_status st = se_sf_view_add_delta(v, (size_t)idx, vf, se_st_find(vf, u->name),
                                        se_st_find(vf, d->name), scale);
    if (st == SE_OK && r > *rank_out) *rank_out = (int)r;
    return st;
}

/* Groups the file's tensors into modules. */
static se_status group(const se_st_file *f, lora_module **mods, size_t *nmods) {
    size_t n = se_st_count(f);
    if (n > LORA_MAX_TENSORS) /* grouping is quadratic: bound it (real files have ~2,000) */
        return se_fail(SE_ERR_FORMAT, "%s: %zu tensors, more than a LoRA may have (%d)",
                       se_st_path(f), n, LORA_MAX_TENSORS);
    lora_module *m = calloc(n ? n : 1, sizeof *m);
    if (!m) return se_fail(SE_ERR_NOMEM, "no memory for LoRA modules");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const se_st_tensor *t = se_st_at(f, i);
        size_t len = strlen(t->name);
        int role = -1;
        size_t keylen = 0;
        for (size_t r = 0; r < sizeof ROLES / sizeof ROLES[0] && role < 0; r++) {
            size_t sl = strlen(ROLES[r].suffix);
            if (len > sl && strcmp(t->name + len - sl, ROLES[r].suffix) == 0) {
                role = ROLES[r].role;
                keylen = len - sl;
            }
        }
        if (role < 0) {
            free(m);
            return se_fail(SE_ERR_FORMAT, "%s: %s is not a LoRA tensor (expected .lora_down/.lora_up"
                           ".weight, .alpha or .lora_A/.lora_B.weight)", se_st_path(f), t->name);
        }
        if (keylen >= sizeof m[0].key) {
            free(m);
            return se_fail(SE_ERR_FORMAT, "%s: LoRA key too long: %s", se_st_path(f), t->name);
        }
        size_t j = 0;
        while (j < k && !(strncmp(m[j].key, t->name, keylen) == 0 && m[j].key[keylen] == '\0')) j++;
        if (j == k) {
            memcpy(m[k].key, t->name, keylen);
            m[k].key[keylen] = '\0';
            k++;
        }
        const se_st_tensor **slot = role == 0 ? &m[j].down : role == 1 ? &m[j].up : &m[j].alpha;
        if (*slot) {
            se_status st = se_fail(SE_ERR_FORMAT, "%s: LoRA module %s has two %s tensors",
                                   se_st_path(f), m[j].key,
                                   role == 0 ? "down" : role == 1 ? "up" : "alpha");
            free(m);
            return st;
        }
        *slot = t;
    }
    *mods = m;
    *nmods = k;
    return SE_OK;
}

se_status se_lora_apply(const char *path, float strength, const se_lora_targets *tg,
                        se_lora_stats *stats) {
    memset(stats, 0, sizeof *stats);
    se_st_file *f = NULL;
    SE_TRY(se_st_open(path, &f));
    lora_module *m = NULL;
    size_t nm = 0;
    se_status st = group(f, &m, &nm);
    se_unet_config sdxl;
    const se_unet_config *ucfg = tg->ucfg;
    if (!ucfg) {
        se_unet_config_sdxl(&sdxl);
        ucfg = &sdxl;
    }
    if (st == SE_OK && nm == 0) st = se_fail(SE_ERR_FORMAT, "%s: no LoRA tensors", path);
    se_sf_view *views[3] = {tg->unet, tg->te1, tg->te2};
    name_index idxs[3];
    memset(idxs, 0, sizeof idxs);
    se_st_file *vfiles[3] = {NULL, NULL, NULL}; /* per view: its own open copy of the file */
    for (int k = 0; k < 3 && st == SE_OK; k++)
        if (views[k]) st = index_build(views[k], k != 0, k == 0 ? ucfg : NULL, &idxs[k]);
    for (size_t i = 0; i < nm && st == SE_OK; i++) {
        const char *key = m[i].key;
        static const struct {
            const char *prefix;
            int net;      /* 0 unet, 1 te1, 2 te2 */
            bool kohya;
        } STYLES[] = {
            {"lora_unet_", 0, true}, {"lora_te1_", 1, true}, {"lora_te2_", 2, true},
            {"unet.", 0, false},     {"text_encoder.", 1, false}, {"text_encoder_2.", 2, false},
        };
        int s = -1;
        for (size_t k = 0; k < sizeof STYLES / sizeof STYLES[0] && s < 0; k++)
            if (strncmp(key, STYLES[k].prefix, strlen(STYLES[k].prefix)) == 0) s = (int)k;
        if (s < 0) {
            st = se_fail(SE_ERR_FORMAT, "%s: LoRA key %s: unknown style (expected lora_unet_, "
                         "lora_te1_, lora_te2_, unet., text_encoder. or text_encoder_2.)", path, key);
            break;
        }
        int net = STYLES[s].net;
        se_sf_view *v = net == 0 ? tg->unet : net == 1 ? tg->te1 : tg->te2;
        static const char *const NETS[] = {"the UNet", "text encoder 1 (CLIP-L)",
                                           "text encoder 2 (bigG)"};
        if (!v) {
            st = se_fail(SE_ERR_MISSING_TENSOR, "%s: LoRA key %s targets %s, which is not loaded",
                         path, key, NETS[net]);
            break;
        }
        long idx = match(&idxs[net], key + strlen(STYLES[s].prefix), STYLES[s].kohya);
        if (idx < 0) {
            st = se_fail(SE_ERR_MISSING_TENSOR, "%s: LoRA key %s matches no tensor of %s", path, key,
                         NETS[net]);
            break;
        }
        if (!vfiles[net]) {
            st = se_st_open(path, &vfiles[net]);
            if (st == SE_OK) st = se_sf_view_adopt(v, vfiles[net]); /* the view closes it */
            if (st != SE_OK) break;
        }
        st = merge_one(f, vfiles[net], &m[i], v, idx, strength, &stats->rank_max);
        if (st == SE_OK) {
            stats->modules++;
            if (net == 0) stats->unet++;
            else if (net == 1) stats->te1++;
            else stats->te2++;
        }
    }
    for (int k = 0; k < 3; k++) index_free(&idxs[k]);
    free(m);
    se_st_close(&f);
    return st;
}
