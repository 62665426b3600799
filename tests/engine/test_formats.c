/*
 * test_formats.c - single-file SGM checkpoints and LoRA merging against the reference
 * (tests/reference/make_format_fixtures.py; fixtures in tests/fixtures/formats/).
 *
 *   test_formats sgm      every tensor of tiny_sgm.safetensors (UNet, CLIP-L, bigG, VAE), read
 *                         through our SGM -> diffusers views, equals the diffusers files it was
 *                         written from (the file itself is proven by diffusers' own single-file
 *                         loaders in the script); the networks loaded from the checkpoint give
 *                         the same UNet / CLIP / VAE outputs as those loaded from the folders;
 *                         every diffusers UNet tensor named through se_unet_sgm_name (the
 *                         loader's direction, tiny config) is in the checkpoint, same values.
 *   test_formats lora <kohya_sgm|kohya_diff|peft>
 *                         merged weights vs the reference merge (rel err <= 1e-5 per tensor),
 *                         untouched tensors unchanged, and the UNet output with the merged
 *                         weights vs the reference (rel err <= 1e-4).
 *   test_formats names    all 1680 SDXL UNet names both ways (list checked with diffusers), VAE
 *                         and bigG spot checks.
 *   test_formats desc     se_sf_load_desc (the pipeline's entry) over a base folder: checkpoint
 *                         over base, LoRA over base, refusals.
 *   test_formats errors   incomplete / inconsistent files and LoRAs are refused with the tensor
 *                         or key named.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend_cpu.h"
#include "core/error.h"
#include "io/lora.h"
#include "io/safetensors.h"
#include "io/sgm_names.h"
#include "io/single_file.h"
#include "model/clip.h"
#include "model/unet.h"
#include "model/vae.h"
#include "fixture_util.h"
#include "test_util.h"

#define FIX STRIKE_FIXTURES_DIR
#define UNET_DIR FIX "/unet/tiny/unet"
#define UNET_CFG UNET_DIR "/config.json"
#define UNET_W UNET_DIR "/diffusion_pytorch_model.safetensors"
#define TE1_DIR FIX "/clip/text_encoder"
#define TE2_DIR FIX "/clip/text_encoder_2"
#define VAE_DIR FIX "/vae/tiny"
#define SGM FIX "/formats/tiny_sgm.safetensors"

static se_backend *g_be;

static bool msg_has_any(const char *s) { return strstr(se_last_error(), s) != NULL; }


/* Compares every entry of view v with the tensor of the same name in f (name with prefix
 * `strip` removed in f, for the prefix-less CLIP-L fixture); counts matches. Every tensor of f
 * accepted by keep() must be in the view. */
static int compare_view(const se_sf_view *v, const se_st_file *f, const char *strip,
                        bool (*keep)(const char *)) {
    int same = 0;
    size_t expected = 0;
    for (size_t i = 0; i < se_st_count(f); i++) {
        const se_st_tensor *t = se_st_at(f, i);
        if (t->loadable && (!keep || keep(t->name))) expected++;
    }
    CHECK_MSG(se_sf_view_count(v) == expected, "view has %zu tensors, file %zu",
              se_sf_view_count(v), expected);
    for (size_t i = 0; i < se_sf_view_count(v); i++) {
        const char *name = se_sf_view_name(v, i);
        const char *fname = name;
        if (strip && strncmp(name, strip, strlen(strip)) == 0 && !se_st_find(f, name))
            fname = name + strlen(strip);
        const se_st_tensor *t = se_st_find(f, fname);
        CHECK_MSG(t != NULL, "view tensor %s not in %s", name, se_st_path(f));
        if (!t) continue;
        int64_t ne[SE_ST_MAX_DIMS];
        int nd = se_sf_view_shape(v, i, ne);
        CHECK_MSG(se_st_shape_is(t, nd, ne), "%s: shape differs", name);
        if (!se_st_shape_is(t, nd, ne)) continue;
        size_t n = (size_t)t->numel;
        float *a = malloc(n * 4), *b = malloc(n * 4);
        CHECK(se_sf_view_read_f32(v, i, a, n) == SE_OK);
        CHECK(se_st_read_host(f, t, SE_F32, b, n * 4) == SE_OK);
        bool eq = memcmp(a, b, n * 4) == 0;
        CHECK_MSG(eq, "%s: values differ", name);
        same += eq;
        free(a);
        free(b);
    }
    return same;
}

static bool vae_decoder_only(const char *n) {
    return strncmp(n, "decoder.", 8) == 0 || strncmp(n, "post_quant_conv.", 16) == 0;
}

/* Backend tensor of host data. */
static se_tensor up_tensor(const float *host, int nd, const int64_t *ne, void **mem) {
    se_tensor t = se_tensor_make(SE_F32, nd, ne, NULL, "in");
    size_t bytes = se_tensor_nbytes(&t);
    *mem = NULL;
    if (se_backend_alloc(g_be, bytes, mem) == SE_OK) {
        t.data = *mem;
        se_backend_set(g_be, t.data, host, bytes);
    }
    return t;
}

/* Runs u on the tiny UNet fixture's inputs; returns a malloc'ed output and its length. */
static float *unet_out(se_unet *u, size_t *n) {
    se_st_file *io = NULL;
    *n = 0;
    if (se_st_open(FIX "/unet/tiny/io.safetensors", &io) != SE_OK) return NULL;
    const char *names[5] = {"in.sample", "in.timestep", "in.encoder_hidden_states",
                            "in.text_embeds", "in.time_ids"};
    se_tensor in[5];
    void *mem[6] = {0};
    for (int i = 0; i < 5; i++) {
        const se_st_tensor *r = se_st_find(io, names[i]);
        float *h = malloc((size_t)r->numel * 4);
        se_st_read_host(io, r, SE_F32, h, (size_t)r->numel * 4);
        in[i] = up_tensor(h, r->ndim, r->shape, &mem[i]);
        free(h);
    }
    se_tensor out = se_tensor_make(SE_F32, 4, in[0].ne, NULL, "out");
    size_t bytes = se_tensor_nbytes(&out);
    float *host = NULL;
    if (se_backend_alloc(g_be, bytes, &mem[5]) == SE_OK) {
        out.data = mem[5];
        se_status st = se_unet_forward(u, &in[0], &in[1], &in[2], &in[3], &in[4], &out);
        CHECK_MSG(st == SE_OK, "forward: %s", se_last_error());
        if (st == SE_OK) {
            host = malloc(bytes);
            se_tensor_get_data(g_be, &out, host, bytes);
            *n = bytes / 4;
        }
    }
    for (int i = 0; i < 6; i++) se_backend_free(g_be, mem[i]);
    se_st_close(&io);
    return host;
}

/* CLIP outputs (hidden[-2] and pooled) for fixed ids. */
static float *clip_out(se_clip *e, size_t *n) {
    const int B = 1, T = 77;
    int32_t ids[77];
    for (int i = 0; i < T; i++) ids[i] = (i * 37 + 5) % 500;
    ids[0] = 1;
    const se_clip_config *c = se_clip_get_config(e);
    int64_t hne[3] = {B, T, c->hidden}, pne[2] = {B, se_clip_pooled_dim(e)};
    se_tensor h = se_tensor_make(SE_F32, 3, hne, NULL, "h"), p = se_tensor_make(SE_F32, 2, pne, NULL, "p");
    void *mh = NULL, *mp = NULL;
    se_backend_alloc(g_be, se_tensor_nbytes(&h), &mh);
    se_backend_alloc(g_be, se_tensor_nbytes(&p), &mp);
    h.data = mh;
    p.data = mp;
    se_status st = se_clip_encode(e, ids, B, T, 0, &h, &p);
    CHECK_MSG(st == SE_OK, "clip: %s", se_last_error());
    size_t nh = se_tensor_nbytes(&h) / 4, np = se_tensor_nbytes(&p) / 4;
    float *host = malloc((nh + np) * 4);
    se_tensor_get_data(g_be, &h, host, nh * 4);
    se_tensor_get_data(g_be, &p, host + nh, np * 4);
    se_backend_free(g_be, mh);
    se_backend_free(g_be, mp);
    *n = nh + np;
    return host;
}

static float *vae_out(se_vae *v, size_t *n) {
    const int h = 4, w = 6, C = 4;
    float lat[4 * 4 * 6];
    for (int i = 0; i < C * h * w; i++) lat[i] = (float)sin(i * 0.7) * 0.5f;
    int up = se_vae_upscale(v);
    *n = (size_t)3 * h * up * w * up;
    float *img = malloc(*n * 4);
    se_status st = se_vae_decode_host(v, lat, 1, h, w, img, NULL);
    CHECK_MSG(st == SE_OK, "vae: %s", se_last_error());
    return img;
}

static void check_same(const char *what, float *a, size_t na, float *b, size_t nb) {
    CHECK_MSG(a && b && na == nb && na > 0, "%s: outputs missing", what);
    if (a && b && na == nb) {
        bool eq = memcmp(a, b, na * 4) == 0;
        printf("  %s output from the SGM checkpoint: %s the diffusers folder's (%zu values)\n", what,
               eq ? "identical to" : "DIFFERS from", na);
        CHECK(eq);
    }
    free(a);
    free(b);
}

static void run_sgm(void) {
    se_st_file *f = NULL, *d = NULL;
    se_status st = se_st_open(SGM, &f);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (st != SE_OK) return;
    unsigned styles = se_sf_detect(f);
    char sb[128];
    printf("styles: %s\n", se_sf_styles_str(styles, sb, sizeof sb));
    CHECK(styles == (SE_SF_STYLE_SGM_UNET | SE_SF_STYLE_SGM_CLIP_L | SE_SF_STYLE_SGM_CLIP_G |
                     SE_SF_STYLE_SGM_VAE));
    CHECK(se_st_open(UNET_W, &d) == SE_OK);
    CHECK(d && se_sf_detect(d) == SE_SF_STYLE_DIFFUSERS_UNET);
    se_st_close(&d);
    se_unet_config uc;
    CHECK(se_unet_config_load(UNET_CFG, &uc) == SE_OK);

    struct {
        se_sf_component c;
        const char *file, *strip;
        bool (*keep)(const char *);
    } comps[] = {
        {SE_SF_UNET, UNET_W, NULL, NULL},
        {SE_SF_CLIP_L, TE1_DIR "/model.safetensors", "text_model.", NULL},
        {SE_SF_CLIP_G, TE2_DIR "/model.safetensors", NULL, NULL},
        {SE_SF_VAE, VAE_DIR "/diffusion_pytorch_model.safetensors", NULL, vae_decoder_only},
    };
    for (size_t k = 0; k < 4; k++) {
        se_sf_view *v = NULL;
        st = se_sf_view_new(f, comps[k].c, &uc, &v);
        CHECK_MSG(st == SE_OK, "%s", se_last_error());
        CHECK(se_st_open(comps[k].file, &d) == SE_OK);
        if (v && d) {
            int same = compare_view(v, d, comps[k].strip, comps[k].keep);
            printf("  component %zu: %d of %zu tensors identical to %s\n", k, same,
                   se_sf_view_count(v), comps[k].file);
        }
        if (d && comps[k].c == SE_SF_UNET) {
            /* The loader's direction (se_unet_new_from_single_file): every tensor of the
             * diffusers UNet, named through se_unet_sgm_name on the tiny (non-SDXL) config,
             * is the tensor the reference script wrote under its own SGM name (shape and
             * values), so the prefix and the from-diffusers mapping are checked against the
             * Python naming, not against themselves. */
            int found = 0;
            for (size_t i = 0; i < se_st_count(d); i++) {
                const se_st_tensor *td = se_st_at(d, i);
                char a[256];
                bool ok = se_unet_sgm_name(&uc, td->name, a, sizeof a);
                const se_st_tensor *ts = ok ? se_st_find(f, a) : NULL;
                CHECK_MSG(ts != NULL, "%s: SGM name %s not in %s", td->name, ok ? a : "(none)", SGM);
                if (!ts) continue;
                bool same = se_st_shape_is(ts, td->ndim, td->shape);
                size_t n = (size_t)td->numel;
                float *x = same ? malloc(n * 4) : NULL, *y = same ? malloc(n * 4) : NULL;
                same = same && x && y && se_st_read_host(d, td, SE_F32, x, n * 4) == SE_OK &&
                       se_st_read_host(f, ts, SE_F32, y, n * 4) == SE_OK && memcmp(x, y, n * 4) == 0;
                CHECK_MSG(same, "%s -> %s: shape or values differ", td->name, a);
                found += same;
                free(x);
                free(y);
            }
            printf("  UNet names: %d of %zu diffusers tensors found under se_unet_sgm_name in %s\n",
                   found, se_st_count(d), SGM);
            CHECK(found > 0 && (size_t)found == se_st_count(d));
        }
        se_st_close(&d);
        se_sf_view_destroy(&v);
    }
    se_st_close(&f);

    /* networks: from the checkpoint vs from the folders */
    se_sf_sources s = {.checkpoint = SGM, .unet_config = UNET_CFG,
                       .te1_config = TE1_DIR "/config.json", .te2_config = TE2_DIR "/config.json",
                       .vae_config = VAE_DIR "/config.json"};
    se_unet *u1 = NULL, *u2 = NULL;
    se_clip *a1 = NULL, *a2 = NULL, *b1 = NULL, *b2 = NULL;
    se_vae *v1 = NULL, *v2 = NULL;
    st = se_sf_load_networks(&s, g_be, &u1, &a1, &b1, &v1);
    CHECK_MSG(st == SE_OK, "load from checkpoint: %s", se_last_error());
    CHECK(se_unet_new_from_dir(UNET_DIR, g_be, &u2) == SE_OK);
    CHECK(se_clip_load(TE1_DIR, g_be, &a2) == SE_OK);
    CHECK(se_clip_load(TE2_DIR, g_be, &b2) == SE_OK);
    CHECK(se_vae_new_from_dir(VAE_DIR, g_be, &v2) == SE_OK);
    if (st == SE_OK && u2 && a2 && b2 && v2) {
        size_t na, nb;
        float *x = unet_out(u1, &na), *y = unet_out(u2, &nb);
        check_same("UNet", x, na, y, nb);
        x = clip_out(a1, &na);
        y = clip_out(a2, &nb);
        check_same("CLIP-L", x, na, y, nb);
        x = clip_out(b1, &na);
        y = clip_out(b2, &nb);
        check_same("bigG", x, na, y, nb);
        x = vae_out(v1, &na);
        y = vae_out(v2, &nb);
        check_same("VAE", x, na, y, nb);
    }
    se_unet_destroy(&u1);
    se_unet_destroy(&u2);
    se_clip_destroy(&a1);
    se_clip_destroy(&a2);
    se_clip_destroy(&b1);
    se_clip_destroy(&b2);
    se_vae_destroy(&v1);
    se_vae_destroy(&v2);
}

/* All 1680 tensors of the real SDXL UNet: our mapping both ways against the list checked with
 * diffusers' convert_ldm_unet_checkpoint (sdxl_unet_names.txt), and through se_unet_sgm_name (the prefix it adds). */
static void run_names(void) {
    FILE *f = fopen(FIX "/formats/sdxl_unet_names.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    se_unet_config c;
    se_unet_config_sdxl(&c);
    char diff[256], sgm[256], a[256], b[256];
    int n = 0, ok = 0;
    while (fscanf(f, "%255s %255s", diff, sgm) == 2) {
        n++;
        bool to = se_sgm_unet_to_diffusers(&c, sgm, a, sizeof a) && strcmp(a, diff) == 0;
        bool from = se_sgm_unet_from_diffusers(&c, diff, b, sizeof b) && strcmp(b, sgm) == 0;
        char u[256];
        bool other = se_unet_sgm_name(&c, diff, u, sizeof u) &&
                     strcmp(u + strlen(SE_SGM_PREFIX_UNET), sgm) == 0;
        CHECK_MSG(to && from && other, "%s <-> %s (got %s / %s)", diff, sgm, to ? "ok" : a,
                  from ? "ok" : b);
        ok += to && from && other;
    }
    fclose(f);
    printf("SDXL UNet: %d of %d names map both ways\n", ok, n);
    CHECK(n == 1680 && ok == n);
    /* names that are not UNet tensors */
    CHECK(!se_sgm_unet_to_diffusers(&c, "input_blocks.9.0.in_layers.0.weight", a, sizeof a));
    CHECK(!se_sgm_unet_to_diffusers(&c, "input_blocks.1.0.bogus.weight", a, sizeof a));
    CHECK(!se_sgm_unet_from_diffusers(&c, "down_blocks.3.resnets.0.conv1.weight", a, sizeof a));
    /* VAE and bigG spot checks (SDXL sizes) */
    se_sgm_op op;
    CHECK(se_sgm_vae_to_diffusers("decoder.up.3.block.0.conv1.weight", 4, a, sizeof a, &op) &&
          !strcmp(a, "decoder.up_blocks.0.resnets.0.conv1.weight") && op == SE_SGM_COPY);
    CHECK(se_sgm_vae_to_diffusers("decoder.up.1.block.0.nin_shortcut.bias", 4, a, sizeof a, &op) &&
          !strcmp(a, "decoder.up_blocks.2.resnets.0.conv_shortcut.bias"));
    CHECK(se_sgm_vae_to_diffusers("decoder.mid.attn_1.proj_out.weight", 4, a, sizeof a, &op) &&
          !strcmp(a, "decoder.mid_block.attentions.0.to_out.0.weight") && op == SE_SGM_SQUEEZE);
    CHECK(se_sgm_vae_to_diffusers("decoder.mid.attn_1.proj_out.bias", 4, a, sizeof a, &op) &&
          op == SE_SGM_COPY);
    char outs[3][128];
    CHECK(se_sgm_bigg_to_hf("transformer.resblocks.31.attn.in_proj_weight", outs, &op) == 3 &&
          op == SE_SGM_SPLIT3 && !strcmp(outs[2], "text_model.encoder.layers.31.self_attn.v_proj.weight"));
    CHECK(se_sgm_bigg_to_hf("text_projection", outs, &op) == 1 && op == SE_SGM_TRANSPOSE);
    CHECK(se_sgm_bigg_to_hf("logit_scale", outs, &op) == 0);
    CHECK(se_sgm_bigg_to_hf("transformer.resblocks.0.attn.bogus", outs, &op) == -1);
    /* hostile indices: too many digits, signs, missing parts */
    CHECK(se_sgm_bigg_to_hf("transformer.resblocks.123456789012.ln_1.weight", outs, &op) == -1);
    CHECK(se_sgm_bigg_to_hf("transformer.resblocks.-1.ln_1.weight", outs, &op) == -1);
    CHECK(se_sgm_bigg_to_hf("transformer.resblocks.", outs, &op) == -1);
    CHECK(!se_sgm_vae_to_diffusers("decoder.up.99999999999.block.0.conv1.weight", 4, a, sizeof a, &op));
    CHECK(!se_sgm_vae_to_diffusers("decoder.up.7.block.0.conv1.weight", 4, a, sizeof a, &op));
    CHECK(!se_sgm_vae_to_diffusers("decoder.up.1.block.", 4, a, sizeof a, &op));
    CHECK(!se_sgm_unet_to_diffusers(&c, "input_blocks.99999999999999.0.in_layers.0.weight", a, sizeof a));
}

/* ------------------------------------------------------------------ LoRA ---- */

/* Are two loaded weight sets of the same network the same tensors (declaration order; the
 * names may differ by a "text_model." prefix) with the same bytes? */
static bool weights_identical(const se_weights *a, const se_weights *b) {
    if (!a || !b || se_weights_count(a) != se_weights_count(b)) {
        printf("  weight sets of %zu and %zu tensors\n", a ? se_weights_count(a) : 0,
               b ? se_weights_count(b) : 0);
        return false;
    }
    bool same = true;
    for (int h = 0; h < (int)se_weights_count(a) && same; h++) {
        const se_tensor *x = se_weights_at(a, h), *y = se_weights_at(b, h);
        size_t nb = se_tensor_nbytes(x);
        if (x->dtype != y->dtype || !se_tensor_same_shape(x, y) ||
            (!strstr(x->name, y->name) && !strstr(y->name, x->name))) {
            printf("  tensor %d: %s / %s differ in dtype, shape or name\n", h, x->name, y->name);
            same = false;
            break;
        }
        char *p = malloc(nb), *q = malloc(nb);
        same = p && q && se_tensor_get_data(g_be, x, p, nb) == SE_OK &&
               se_tensor_get_data(g_be, y, q, nb) == SE_OK && memcmp(p, q, nb) == 0;
        if (!same) printf("  %s differs\n", x->name);
        free(p);
        free(q);
    }
    return same;
}

/* The UNet and text encoders of sources s (diffusers files, or the SGM checkpoint when a file
 * is NULL) loaded the way se_sf_load_networks did before it merged while loading: views with
 * the LoRA's updates, materialised as images, each network loaded from its image. */
static se_status load_via_images(const se_sf_sources *s, se_unet **u, se_clip **c1, se_clip **c2) {
    se_st_file *files[3] = {NULL, NULL, NULL}, *ck = NULL;
    se_sf_view *v[3] = {NULL, NULL, NULL};
    const char *paths[3] = {s->unet_file, s->te1_file, s->te2_file};
    se_unet_config uc;
    se_status st = se_unet_config_load(s->unet_config, &uc);
    if (st == SE_OK && s->checkpoint) st = se_st_open(s->checkpoint, &ck);
    for (int k = 0; k < 3 && st == SE_OK; k++) {
        if (paths[k]) {
            st = se_st_open(paths[k], &files[k]);
            if (st == SE_OK) st = se_sf_view_identity(files[k], NULL, &v[k]);
        } else {
            st = se_sf_view_new(ck, (se_sf_component)k, &uc, &v[k]);
        }
    }
    se_lora_targets tg = {.unet = v[0], .ucfg = &uc, .te1 = v[1], .te2 = v[2]};
    se_lora_stats ls;
    if (st == SE_OK) st = se_lora_apply(s->lora, s->lora_strength, &tg, &ls);
    for (int k = 0; k < 3 && st == SE_OK; k++) {
        se_sf_image img;
        st = se_sf_view_materialize(v[k], &img);
        if (st != SE_OK) break;
        if (k == 0) st = se_unet_new_from_files(s->unet_config, img.path, g_be, u);
        else st = se_clip_load_files(k == 1 ? s->te1_config : s->te2_config, img.path, "te", g_be,
                                     k == 1 ? c1 : c2);
        se_sf_image_close(&img);
    }
    for (int k = 0; k < 3; k++) {
        se_sf_view_destroy(&v[k]);
        se_st_close(&files[k]);
    }
    se_st_close(&ck);
    return st;
}

/* The most host memory a LoRA merge may hold at once, from the files alone: for the largest
 * merged tensor (its fp32 reference in lora_ref, prefix pre) its fp32 result, a fused source it
 * is split from (q/k/v: 3x) and a converted copy, plus the largest pair of LoRA factors in fp32.
 * A whole network's image is far above this for every fixture. */
static size_t merge_bound(const char *lora, const se_st_file *ref, const char *pre) {
    size_t tmax = 0, fmax = 0;
    for (size_t i = 0; i < se_st_count(ref); i++) {
        const se_st_tensor *r = se_st_at(ref, i);
        if (strncmp(r->name, pre, strlen(pre)) == 0 && !strstr(r->name, "unet_out") &&
            (size_t)r->numel > tmax)
            tmax = (size_t)r->numel;
    }
    se_st_file *f = NULL;
    if (se_st_open(lora, &f) != SE_OK) return 0;
    for (size_t i = 0; i < se_st_count(f); i++)
        if ((size_t)se_st_at(f, i)->numel > fmax) fmax = (size_t)se_st_at(f, i)->numel;
    se_st_close(&f);
    return 4 * (5 * tmax + 2 * fmax);
}

static void run_lora(const char *style) {
    char path[512];
    snprintf(path, sizeof path, FIX "/formats/lora_%s.safetensors", style);
    const char *refp = strncmp(style, "kohya", 5) == 0 ? "kohya" : "peft";
    float strength = strcmp(refp, "kohya") == 0 ? 0.8f : 1.0f;
    se_st_file *fu = NULL, *f1 = NULL, *f2 = NULL, *ref = NULL;
    CHECK(se_st_open(UNET_W, &fu) == SE_OK);
    CHECK(se_st_open(TE1_DIR "/model.safetensors", &f1) == SE_OK);
    CHECK(se_st_open(TE2_DIR "/model.safetensors", &f2) == SE_OK);
    CHECK(se_st_open(FIX "/formats/lora_ref.safetensors", &ref) == SE_OK);
    if (!fu || !f1 || !f2 || !ref) return;
    se_unet_config uc;
    CHECK(se_unet_config_load(UNET_CFG, &uc) == SE_OK);
    se_sf_view *vu = NULL, *v1 = NULL, *v2 = NULL;
    CHECK(se_sf_view_identity(fu, NULL, &vu) == SE_OK);
    CHECK(se_sf_view_identity(f1, NULL, &v1) == SE_OK);
    CHECK(se_sf_view_identity(f2, NULL, &v2) == SE_OK);
    se_lora_targets tg = {.unet = vu, .ucfg = &uc, .te1 = v1, .te2 = v2};
    se_lora_stats ls;
    se_status st = se_lora_apply(path, strength, &tg, &ls);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    printf("%s: %d modules (unet %d, te1 %d, te2 %d), max rank %d\n", style, ls.modules, ls.unet,
           ls.te1, ls.te2, ls.rank_max);
    int nref = 0;
    double worst = 0;
    char pre[32];
    snprintf(pre, sizeof pre, "%s.", refp);
    for (size_t i = 0; i < se_st_count(ref); i++) {
        const se_st_tensor *r = se_st_at(ref, i);
        if (strncmp(r->name, pre, strlen(pre)) != 0 || strstr(r->name, "unet_out")) continue;
        const char *comp = r->name + strlen(pre);
        const char *name = strchr(comp, '.') + 1;
        se_sf_view *v = strncmp(comp, "unet.", 5) == 0 ? vu : strncmp(comp, "te1.", 4) == 0 ? v1 : v2;
        long idx = se_sf_view_find(v, name);
        if (idx < 0 && strncmp(name, "text_model.", 11) == 0) idx = se_sf_view_find(v, name + 11);
        CHECK_MSG(idx >= 0, "merged tensor %s not in the view", name);
        if (idx < 0) continue;
        size_t n = (size_t)r->numel;
        float *a = malloc(n * 4), *b = malloc(n * 4);
        CHECK(se_sf_view_read_f32(v, (size_t)idx, a, n) == SE_OK);
        se_st_read_host(ref, r, SE_F32, b, n * 4);
        double e = rel_err_l2(a, b, n);
        CHECK_MSG(e <= 1e-5, "%s: rel err %.3g", r->name, e);
        if (e > worst) worst = e;
        nref++;
        free(a);
        free(b);
    }
    CHECK(nref == ls.modules && nref == 15);
    printf("  %d merged tensors vs reference: worst rel err %.3g (tolerance 1e-5)\n", nref, worst);
    /* an untouched tensor is unchanged */
    long c = se_sf_view_find(vu, "conv_in.weight");
    const se_st_tensor *t = se_st_find(fu, "conv_in.weight");
    if (c >= 0 && t) {
        size_t n = (size_t)t->numel;
        float *a = malloc(n * 4), *b = malloc(n * 4);
        se_sf_view_read_f32(vu, (size_t)c, a, n);
        se_st_read_host(fu, t, SE_F32, b, n * 4);
        CHECK(memcmp(a, b, n * 4) == 0);
        free(a);
        free(b);
    }
    /* UNet output with the merged weights */
    se_sf_image img;
    st = se_sf_view_materialize(vu, &img);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    se_unet *u = NULL;
    if (st == SE_OK) st = se_unet_new_from_files(UNET_CFG, img.path, g_be, &u);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    se_sf_image_close(&img);
    char key[64];
    snprintf(key, sizeof key, "%s.unet_out", refp);
    const se_st_tensor *ro = se_st_find(ref, key);
    if (u && ro) {
        size_t n;
        float *got = unet_out(u, &n);
        float *want = malloc((size_t)ro->numel * 4);
        se_st_read_host(ref, ro, SE_F32, want, (size_t)ro->numel * 4);
        CHECK(got && n == (size_t)ro->numel);
        if (got && n == (size_t)ro->numel) {
            double e = rel_err_l2(got, want, n);
            printf("  UNet output with the LoRA merged: rel err %.3g (tolerance 1e-4)\n", e);
            CHECK(e <= 1e-4);
        }
        free(got);
        free(want);
    }
    se_unet_destroy(&u);
    /* end to end through se_sf_load_networks: the diffusers files + this LoRA, then the SGM
     * checkpoint + this LoRA; the merge's host memory stays within one tensor's worth */
    size_t bound = merge_bound(path, ref, pre);
    se_sf_load_stats ms;
    se_sf_sources s = {.unet_config = UNET_CFG, .unet_file = UNET_W,
                       .te1_config = TE1_DIR "/config.json", .te1_file = TE1_DIR "/model.safetensors",
                       .te2_config = TE2_DIR "/config.json", .te2_file = TE2_DIR "/model.safetensors",
                       .lora = path, .lora_strength = strength, .stats = &ms};
    se_clip *c1 = NULL, *c2 = NULL;
    for (int pass = 0; pass < 2; pass++) {
        const char *what = pass ? "SGM checkpoint + LoRA" : "diffusers files + LoRA";
        if (pass) {
            s.checkpoint = SGM;
            s.unet_file = s.te1_file = s.te2_file = NULL;
            se_unet_destroy(&u);
            se_clip_destroy(&c1);
            se_clip_destroy(&c2);
        }
        st = se_sf_load_networks(&s, g_be, &u, &c1, &c2, NULL);
        CHECK_MSG(st == SE_OK, "%s: %s", what, se_last_error());
        if (u && ro) {
            size_t n;
            float *got = unet_out(u, &n);
            float *want = malloc((size_t)ro->numel * 4);
            se_st_read_host(ref, ro, SE_F32, want, (size_t)ro->numel * 4);
            if (got && n == (size_t)ro->numel) {
                double e = rel_err_l2(got, want, n);
                printf("  %s via se_sf_load_networks: UNet rel err %.3g\n", what, e);
                CHECK(e <= 1e-4);
            } else {
                CHECK(0);
            }
            free(got);
            free(want);
        }
        /* merged while loading = the same bytes as loading merged images (the old way) */
        se_unet *ui = NULL;
        se_clip *ai = NULL, *bi = NULL;
        st = load_via_images(&s, &ui, &ai, &bi);
        CHECK_MSG(st == SE_OK, "%s via images: %s", what, se_last_error());
        bool same = u && c1 && c2 && ui && ai && bi &&
                    weights_identical(se_unet_weights(ui), se_unet_weights(u)) &&
                    weights_identical(se_clip_weights(ai), se_clip_weights(c1)) &&
                    weights_identical(se_clip_weights(bi), se_clip_weights(c2));
        printf("  %s: UNet and text encoder weights %s those loaded from merged images\n", what,
               same ? "bit-identical to" : "DIFFER from");
        CHECK(same);
        se_unet_destroy(&ui);
        se_clip_destroy(&ai);
        se_clip_destroy(&bi);
        size_t held = (size_t)ms.merged_image_bytes + ms.merge_scratch_peak;
        printf("  %s: merge held %zu host bytes at most (images with merged tensors %llu, "
               "scratch %zu; bound %zu), %d tensors merged, %d unused\n", what, held,
               (unsigned long long)ms.merged_image_bytes, ms.merge_scratch_peak, bound, ms.merged,
               ms.merged_unused);
        CHECK_MSG(held <= bound, "%s: the merge held %zu bytes, more than one tensor's worth "
                  "(%zu)", what, held, bound);
        CHECK(ms.merged + ms.merged_unused == ls.modules);
    }
    /* the text encoders changed: CLIP-L output differs from the plain checkpoint's */
    se_clip *p1 = NULL;
    s.lora = NULL;
    CHECK(se_sf_load_networks(&s, g_be, NULL, &p1, NULL, NULL) == SE_OK);
    if (c1 && p1) {
        size_t na, nb;
        float *x = clip_out(c1, &na), *y = clip_out(p1, &nb);
        CHECK(x && y && na == nb && memcmp(x, y, na * 4) != 0);
        free(x);
        free(y);
    }
    se_clip_destroy(&p1);
    se_clip_destroy(&c1);
    se_clip_destroy(&c2);
    se_unet_destroy(&u);
    se_sf_view_destroy(&vu);
    se_sf_view_destroy(&v1);
    se_sf_view_destroy(&v2);
    se_st_close(&fu);
    se_st_close(&f1);
    se_st_close(&f2);
    se_st_close(&ref);
}

/* ------------------------------------------------------- descriptions ---- */

/* se_sf_load_desc over a base folder made of symlinks to the tiny fixtures. */
static void run_desc(void) {
    char dir[] = "/tmp/strike-desc-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    const char *links[4][2] = {{"unet", UNET_DIR}, {"text_encoder", TE1_DIR},
                               {"text_encoder_2", TE2_DIR}, {"vae", VAE_DIR}};
    char p[512];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, links[i][0]);
        CHECK(symlink(links[i][1], p) == 0);
    }
    se_model_desc d;
    memset(&d, 0, sizeof d);
    d.base_dir = dir;
    d.lora_strength = 1.0f;
    d.checkpoint_file = SGM;
    se_unet *u = NULL, *u2 = NULL;
    se_clip *a = NULL, *b = NULL;
    se_vae *v = NULL, *v2 = NULL;
    se_status st = se_sf_load_desc(&d, g_be, &u, &a, &b, &v);
    CHECK_MSG(st == SE_OK, "checkpoint over base: %s", se_last_error());
    CHECK(se_unet_new_from_dir(UNET_DIR, g_be, &u2) == SE_OK);
    CHECK(se_vae_new_from_dir(VAE_DIR, g_be, &v2) == SE_OK);
    if (st == SE_OK && u2 && v2) {
        size_t na, nb;
        float *x = unet_out(u, &na), *y = unet_out(u2, &nb);
        check_same("desc UNet", x, na, y, nb);
        x = vae_out(v, &na);
        y = vae_out(v2, &nb);
        check_same("desc VAE", x, na, y, nb);
    }
    se_unet_destroy(&u);
    se_clip_destroy(&a);
    se_clip_destroy(&b);
    se_vae_destroy(&v);
    /* a LoRA over the plain base folder */
    d.checkpoint_file = NULL;
    d.lora_file = FIX "/formats/lora_peft.safetensors";
    st = se_sf_load_desc(&d, g_be, &u, &a, &b, &v);
    CHECK_MSG(st == SE_OK, "LoRA over base: %s", se_last_error());
    se_st_file *ref = NULL;
    CHECK(se_st_open(FIX "/formats/lora_ref.safetensors", &ref) == SE_OK);
    const se_st_tensor *ro = ref ? se_st_find(ref, "peft.unet_out") : NULL;
    if (u && ro) {
        size_t n;
        float *got = unet_out(u, &n), *want = malloc((size_t)ro->numel * 4);
        se_st_read_host(ref, ro, SE_F32, want, (size_t)ro->numel * 4);
        CHECK(got && n == (size_t)ro->numel && rel_err_l2(got, want, n) <= 1e-4);
        if (got && n == (size_t)ro->numel)
            printf("  desc with lora_file: UNet rel err %.3g\n", rel_err_l2(got, want, n));
        free(got);
        free(want);
    }
    se_st_close(&ref);
    se_unet_destroy(&u);
    se_clip_destroy(&a);
    se_clip_destroy(&b);
    se_vae_destroy(&v);
    /* refusals */
    d.lora_file = NULL;
    d.checkpoint_file = FIX "/formats/lora_peft.safetensors";
    st = se_sf_load_desc(&d, g_be, &u, &a, &b, &v);
    printf("not a checkpoint: %s\n", se_last_error());
    CHECK(st == SE_ERR_FORMAT && msg_has_any("not an SGM single-file checkpoint"));
    d.checkpoint_file = "/nonexistent/x.safetensors";
    st = se_sf_load_desc(&d, g_be, &u, &a, &b, &v);
    CHECK(st == SE_ERR_IO && msg_has_any("/nonexistent/x.safetensors"));
    CHECK(!u && !a && !b && !v);
    /* an incomplete base folder (no text_encoder_2/) and no checkpoint to fill in */
    d.checkpoint_file = NULL;
    d.lora_file = FIX "/formats/lora_peft.safetensors";
    snprintf(p, sizeof p, "%s/text_encoder_2", dir);
    unlink(p);
    st = se_sf_load_desc(&d, g_be, &u, &a, &b, &v);
    printf("incomplete base: %s\n", se_last_error());
    CHECK(st == SE_ERR_IO && msg_has_any("text_encoder_2"));
    CHECK(!u && !a && !b && !v);
    /* the checkpoint brings weights, not configs: still refused, naming the config */
    d.checkpoint_file = SGM;
    st = se_sf_load_desc(&d, g_be, &u, &a, &b, &v);
    printf("incomplete base + checkpoint: %s\n", se_last_error());
    CHECK(st != SE_OK && msg_has_any("text_encoder_2/config.json"));
    CHECK(!u && !a && !b && !v);
    se_unet_destroy(&u2);
    se_vae_destroy(&v2);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, links[i][0]);
        unlink(p);
    }
    rmdir(dir);
}

/* ---------------------------------------------------------------- errors ---- */

/* A tensor to write into a test safetensors file. */
typedef struct wt {
    const char *name;
    int ndim;
    int64_t ne[4];
} wt;

/* Writes an F32 safetensors file of tensors t (values i*0.01) to path. */
static bool write_st(const char *path, const wt *t, int n) {
    char hdr[8192];
    size_t len = 0;
    uint64_t off = 0;
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "{");
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        char shape[96];
        size_t sl = 0;
        for (int d = 0; d < t[i].ndim; d++) {
            numel *= t[i].ne[d];
            sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%s%lld", d ? "," : "",
                                   (long long)t[i].ne[d]);
        }
        if (t[i].ndim == 0) shape[0] = '\0';
        len += (size_t)snprintf(hdr + len, sizeof hdr - len,
                                "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                                i ? "," : "", t[i].name, shape, (unsigned long long)off,
                                (unsigned long long)(off + (uint64_t)numel * 4));
        off += (uint64_t)numel * 4;
    }
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "}");
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    uint64_t hl = len;
    unsigned char l8[8];
    for (int b = 0; b < 8; b++) l8[b] = (unsigned char)(hl >> (8 * b));
    fwrite(l8, 1, 8, fp);
    fwrite(hdr, 1, len, fp);
    for (uint64_t i = 0; i < off / 4; i++) {
        float v = (float)(i % 97) * 0.01f;
        fwrite(&v, 4, 1, fp);
    }
    return fclose(fp) == 0;
}

static bool msg_has(const char *s) { return strstr(se_last_error(), s) != NULL; }

/* Copies the tiny SGM checkpoint to path, dropping tensor `drop` and giving `reshape` the shape
 * ne (F16 data of the right size). */
static bool copy_sgm(const char *path, const char *drop, const char *reshape, int nd,
                     const int64_t *ne) {
    se_st_file *f = NULL;
    if (se_st_open(SGM, &f) != SE_OK) return false;
    size_t cap = 1 << 20, len = 0;
    char *hdr = malloc(cap);
    len += (size_t)snprintf(hdr, cap, "{");
    uint64_t off = 0;
    bool first = true;
    for (size_t i = 0; i < se_st_count(f); i++) {
        const se_st_tensor *t = se_st_at(f, i);
        if (drop && strcmp(t->name, drop) == 0) continue;
        char shape[128];
        size_t sl = 0;
        shape[0] = '\0';
        int tn = t->ndim;
        const int64_t *tne = t->shape;
        if (reshape && strcmp(t->name, reshape) == 0) {
            tn = nd;
            tne = ne;
        }
        for (int d = 0; d < tn; d++)
            sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%s%lld", d ? "," : "",
                                   (long long)tne[d]);
        len += (size_t)snprintf(hdr + len, cap - len,
                                "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                                first ? "" : ",", t->name, t->dtype_name, shape,
                                (unsigned long long)off, (unsigned long long)(off + t->end - t->begin));
        off += t->end - t->begin;
        first = false;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    FILE *fp = fopen(path, "wb");
    bool ok = fp != NULL;
    if (ok) {
        unsigned char l8[8];
        for (int b = 0; b < 8; b++) l8[b] = (unsigned char)((uint64_t)len >> (8 * b));
        fwrite(l8, 1, 8, fp);
        fwrite(hdr, 1, len, fp);
        for (size_t i = 0; i < se_st_count(f); i++) {
            const se_st_tensor *t = se_st_at(f, i);
            if (drop && strcmp(t->name, drop) == 0) continue;
            fwrite(t->data, 1, t->end - t->begin, fp);
        }
        ok = fclose(fp) == 0;
    }
    free(hdr);
    se_st_close(&f);
    return ok;
}

static void run_errors(void) {
    char dir[] = "/tmp/strike-formats-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char p[256];
    se_status st;
    se_sf_sources s = {.checkpoint = p, .unet_config = UNET_CFG,
                       .te1_config = TE1_DIR "/config.json", .te2_config = TE2_DIR "/config.json",
                       .vae_config = VAE_DIR "/config.json"};
    se_unet *u = NULL;
    se_clip *c1 = NULL, *c2 = NULL;
    se_vae *v = NULL;

    /* 1. an SGM checkpoint missing a UNet tensor: named in diffusers and SGM terms */
    snprintf(p, sizeof p, "%s/missing.safetensors", dir);
    CHECK(copy_sgm(p, "model.diffusion_model.input_blocks.4.1.proj_in.weight", NULL, 0, NULL));
    st = se_sf_load_networks(&s, g_be, &u, NULL, NULL, NULL);
    printf("missing UNet tensor: %s\n", se_last_error());
    CHECK(st == SE_ERR_MISSING_TENSOR && msg_has("down_blocks.1.attentions.0.proj_in.weight"));
    CHECK(u == NULL);
    /* ... and a missing VAE tensor (through a view) */
    CHECK(copy_sgm(p, "first_stage_model.decoder.up.0.block.0.conv1.weight", NULL, 0, NULL));
    st = se_sf_load_networks(&s, g_be, NULL, NULL, NULL, &v);
    printf("missing VAE tensor: %s\n", se_last_error());
    CHECK(st == SE_ERR_MISSING_TENSOR && msg_has("decoder.up_blocks.3.resnets.0.conv1.weight"));

    /* 2. wrong shapes: a bigG text projection and a fused in_proj that does not split in three */
    snprintf(p, sizeof p, "%s/shape.safetensors", dir);
    CHECK(copy_sgm(p, NULL, "conditioner.embedders.1.model.text_projection", 2, (int64_t[]){40, 48}));
    st = se_sf_load_networks(&s, g_be, NULL, NULL, &c2, NULL);
    printf("wrong shape: %s\n", se_last_error());
    CHECK(st == SE_ERR_SHAPE && msg_has("text_projection.weight"));
    CHECK(copy_sgm(p, NULL, "conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight",
                   2, (int64_t[]){48, 144})); /* same bytes, transposed shape */
    st = se_sf_load_networks(&s, g_be, NULL, NULL, &c2, NULL);
    printf("in_proj with a wrong shape: %s\n", se_last_error());
    CHECK(st == SE_ERR_SHAPE && msg_has("text_model.encoder.layers.1.self_attn.q_proj.weight"));
    CHECK(c2 == NULL);
    se_clip_destroy(&c2);
    wt fused[] = {{"conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", 2, {10, 4}}};
    snprintf(p, sizeof p, "%s/fused.safetensors", dir);
    CHECK(write_st(p, fused, 1));
    se_st_file *f = NULL;
    se_sf_view *vw = NULL;
    CHECK(se_st_open(p, &f) == SE_OK);
    st = se_sf_view_new(f, SE_SF_CLIP_G, NULL, &vw);
    printf("fused in_proj: %s\n", se_last_error());
    CHECK(st == SE_ERR_SHAPE && msg_has("in_proj_weight"));
    se_st_close(&f);

    /* 3. unknown key styles */
    wt unk[] = {{"foo.bar.weight", 2, {2, 2}}};
    snprintf(p, sizeof p, "%s/unknown.safetensors", dir);
    CHECK(write_st(p, unk, 1));
    CHECK(se_st_open(p, &f) == SE_OK);
    CHECK(f && se_sf_detect(f) == 0);
    st = se_sf_view_new(f, SE_SF_VAE, NULL, &vw);
    printf("no VAE: %s\n", se_last_error());
    CHECK(st == SE_ERR_MISSING_TENSOR && msg_has("first_stage_model."));
    se_st_close(&f);
    wt unk2[] = {{"model.diffusion_model.input_blocks.99.0.in_layers.0.weight", 1, {4}},
                 {"first_stage_model.decoder.mid.attn_9.q.weight", 1, {4}}};
    snprintf(p, sizeof p, "%s/unknown2.safetensors", dir);
    CHECK(write_st(p, unk2, 2));
    CHECK(se_st_open(p, &f) == SE_OK);
    st = se_sf_view_new(f, SE_SF_UNET, NULL, &vw);
    printf("unknown SGM UNet key: %s\n", se_last_error());
    CHECK(st == SE_ERR_FORMAT && msg_has("input_blocks.99.0.in_layers.0.weight"));
    st = se_sf_view_new(f, SE_SF_VAE, NULL, &vw);
    printf("unknown SGM VAE key: %s\n", se_last_error());
    CHECK(st == SE_ERR_FORMAT && msg_has("mid.attn_9.q.weight"));
    se_st_close(&f);

    /* 4. LoRA errors against the tiny UNet */
    se_st_file *fu = NULL;
    se_unet_config uc;
    CHECK(se_unet_config_load(UNET_CFG, &uc) == SE_OK);
    CHECK(se_st_open(UNET_W, &fu) == SE_OK);
    se_sf_view *vu = NULL;
    CHECK(se_sf_view_identity(fu, NULL, &vu) == SE_OK);
    se_lora_targets tg = {.unet = vu, .ucfg = &uc};
    se_lora_stats ls;
    struct {
        const char *what;
        wt t[3];
        int n;
        se_status want;
        const char *needle;
    } cases[] = {
        {"key targeting nothing",
         {{"lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight", 2, {2, 32}},
          {"lora_unet_down_blocks_9_attentions_0_proj_in.lora_up.weight", 2, {32, 2}}}, 2,
         SE_ERR_MISSING_TENSOR, "lora_unet_down_blocks_9_attentions_0_proj_in"},
        {"rank mismatch",
         {{"lora_unet_input_blocks_4_1_proj_in.lora_down.weight", 2, {4, 32}},
          {"lora_unet_input_blocks_4_1_proj_in.lora_up.weight", 2, {32, 2}}}, 2,
         SE_ERR_SHAPE, "rank mismatch"},
        {"product not the weight's shape",
         {{"unet.down_blocks.1.attentions.0.proj_in.lora_A.weight", 2, {2, 31}},
          {"unet.down_blocks.1.attentions.0.proj_in.lora_B.weight", 2, {32, 2}}}, 2,
         SE_ERR_SHAPE, "down_blocks.1.attentions.0.proj_in"},
        {"up half missing",
         {{"lora_unet_input_blocks_4_1_proj_in.lora_down.weight", 2, {2, 32}}}, 1,
         SE_ERR_FORMAT, "lora_unet_input_blocks_4_1_proj_in"},
        {"not a LoRA tensor", {{"lora_unet_conv_in.weird", 2, {2, 2}}}, 1, SE_ERR_FORMAT,
         "lora_unet_conv_in.weird"},
        {"unknown style",
         {{"lora_vae_x.lora_down.weight", 2, {2, 2}}, {"lora_vae_x.lora_up.weight", 2, {2, 2}}}, 2,
         SE_ERR_FORMAT, "lora_vae_x"},
        {"text encoder not loaded",
         {{"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", 2, {2, 32}},
          {"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", 2, {64, 2}}}, 2,
         SE_ERR_MISSING_TENSOR, "not loaded"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(p, sizeof p, "%s/lora%zu.safetensors", dir, i);
        CHECK(write_st(p, cases[i].t, cases[i].n));
        st = se_lora_apply(p, 1.0f, &tg, &ls);
        printf("LoRA %s: %s\n", cases[i].what, se_last_error());
        CHECK_MSG(st == cases[i].want && msg_has(cases[i].needle), "case %s: status %d", cases[i].what,
                  (int)st);
    }
    se_sf_view_destroy(&vu);
    se_st_close(&fu);
    (void)c1;
    for (int i = 0; i < 20; i++) {
        char q[300];
        snprintf(q, sizeof q, "%s/lora%d.safetensors", dir, i);
        unlink(q);
    }
    const char *files[] = {"missing", "shape", "fused", "unknown", "unknown2"};
    for (size_t i = 0; i < 5; i++) {
        char q[300];
        snprintf(q, sizeof q, "%s/%s.safetensors", dir, files[i]);
        unlink(q);
    }
    rmdir(dir);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s sgm | lora <style> | errors\n", argv[0]);
        return 2;
    }
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    if (se_backend_cpu_new(&cp, &g_be) != SE_OK) {
        fprintf(stderr, "cpu backend: %s\n", se_last_error());
        return 1;
    }
    char name[96];
    snprintf(name, sizeof name, "engine_formats_%s%s%s", argv[1], argc > 2 ? "_" : "",
             argc > 2 ? argv[2] : "");
    if (strcmp(argv[1], "sgm") == 0) run_sgm();
    else if (strcmp(argv[1], "lora") == 0 && argc > 2) run_lora(argv[2]);
    else if (strcmp(argv[1], "errors") == 0) run_errors();
    else if (strcmp(argv[1], "names") == 0) run_names();
    else if (strcmp(argv[1], "desc") == 0) run_desc();
    else {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        se_backend_destroy(&g_be);
        return 2;
    }
    se_backend_destroy(&g_be);
    return test_report(name);
}
