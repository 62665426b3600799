/*
 * test_unet.c - the C UNet against diffusers, on fixtures made by
 * tests/reference/make_unet_fixtures.py.
 *
 * Usage: test_unet <case> <naive|fast>   (ctest: engine_unet_<case>[_naive])
 *        test_unet errors                (ctest: engine_unet_errors)
 *        test_unet random                (ctest: engine_unet_random: random-weight constructor)
 *        test_unet <case> single <sgm|diffusers>  (ctest: engine_unet_single_file_*): the same
 *              case loaded from one file, SGM-named (sgm_single_file.safetensors) or diffusers-named
 *
 * Loads tests/fixtures/unet/<case>/unet (config.json + safetensors), runs the forward on the
 * inputs recorded in io.safetensors and compares the output and every recorded intermediate
 * (temb, aug, conv_in, down.i, mid, up.i) by relative error ||c - ref|| / ||ref|| <= 1e-4,
 * printing each error and naming the first block that diverges.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend_cpu.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "model/unet.h"
#include "test_util.h"

#define TOL 1e-4

static se_backend *g_be;

/* Relative error of n floats against a reference; inf if the reference norm is zero. */
static double rel_err(const float *got, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)ref[i];
        if (!isfinite(got[i])) return INFINITY;
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : INFINITY;
}

/* Uploads a fixture tensor (F32) into a fresh backend tensor. */
static se_tensor upload(se_st_file *io, const char *name, void **mem) {
    const se_st_tensor *r = se_st_find(io, name);
    se_tensor t;
    memset(&t, 0, sizeof t);
    *mem = NULL;
    if (!r || r->ndim > 4) {
        fprintf(stderr, "fixture lacks %s\n", name);
        return t;
    }
    t = se_tensor_make(SE_F32, r->ndim, r->shape, NULL, name);
    size_t bytes = se_tensor_nbytes(&t);
    float *host = malloc(bytes);
    if (se_st_read_host(io, r, SE_F32, host, bytes) != SE_OK ||
        se_backend_alloc(g_be, bytes, mem) != SE_OK) {
        free(host);
        return t;
    }
    t.data = *mem;
    se_tensor_set_data(g_be, &t, host, bytes);
    free(host);
    return t;
}

typedef struct probe_state {
    se_st_file *io;
    char first_bad[64];     /* first intermediate over tolerance */
    int compared;
} probe_state;

/* Compares one intermediate with inter.<name>. */
static void on_probe(void *user, const char *name, const se_tensor *t) {
    probe_state *ps = user;
    char key[80];
    snprintf(key, sizeof key, "inter.%s", name);
    const se_st_tensor *r = se_st_find(ps->io, key);
    if (!r) return;
    bool shape_ok = se_st_shape_is(r, t->ndim, t->ne);
    CHECK_MSG(shape_ok, "intermediate %s: shape differs from the reference", name);
    if (!shape_ok) return;
    size_t n = (size_t)r->numel;
    float *got = malloc(n * 4), *ref = malloc(n * 4);
    se_tensor_get_data(g_be, t, got, n * 4);
    se_st_read_host(ps->io, r, SE_F32, ref, n * 4);
    double e = rel_err(got, ref, n);
    printf("  %-8s rel err %.3g\n", name, e);
    CHECK_MSG(e <= TOL, "intermediate %s: rel err %.3g > %g", name, e, TOL);
    if (!(e <= TOL) && !ps->first_bad[0]) snprintf(ps->first_bad, sizeof ps->first_bad, "%s", name);
    ps->compared++;
    free(got);
    free(ref);
}

/* single: NULL (diffusers folder), "sgm" or "diffusers" (one file, config from the folder). */
static void run_case(const char *name, const char *single) {
    char dir[1024], iop[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/unet/%s/unet", STRIKE_FIXTURES_DIR, name);
    snprintf(iop, sizeof iop, "%s/unet/%s/io.safetensors", STRIKE_FIXTURES_DIR, name);
    se_st_file *io = NULL;
    se_status st = se_st_open(iop, &io);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (st != SE_OK) return;
    se_unet *u = NULL;
    if (!single) {
        st = se_unet_new_from_dir(dir, g_be, &u);
    } else {
        se_unet_config cfg;
        snprintf(path, sizeof path, "%s/config.json", dir);
        st = se_unet_config_load(path, &cfg);
        if (strcmp(single, "sgm") == 0)
            snprintf(path, sizeof path, "%s/unet/%s/sgm_single_file.safetensors", STRIKE_FIXTURES_DIR, name);
        else
            snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
        if (st == SE_OK) st = se_unet_new_from_single_file(path, &cfg, g_be, &u);
        printf("single file (%s naming): %s\n", single, path);
    }
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (st != SE_OK) {
        se_st_close(&io);
        return;
    }
    void *m[6];
    se_tensor x = upload(io, "in.sample", &m[0]), ts = upload(io, "in.timestep", &m[1]);
    se_tensor ctx = upload(io, "in.encoder_hidden_states", &m[2]);
    se_tensor te = upload(io, "in.text_embeds", &m[3]), ti = upload(io, "in.time_ids", &m[4]);
    se_tensor out = se_tensor_make(SE_F32, 4, x.ne, NULL, "out");
    size_t bytes = se_tensor_nbytes(&out);
    CHECK(se_backend_alloc(g_be, bytes, &m[5]) == SE_OK);
    out.data = m[5];
    const se_unet_config *c = se_unet_get_config(u);
    printf("%s: %d blocks, channels %lld.., batch %lld, latent %lldx%lld, %lld params\n", name,
           c->nblocks, (long long)c->channels[0], (long long)x.ne[0], (long long)x.ne[2],
           (long long)x.ne[3], (long long)se_weights_numel(se_unet_weights(u)));

    probe_state ps = {.io = io};
    se_unet_set_probe(u, on_probe, &ps);
    st = se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out);
    CHECK_MSG(st == SE_OK, "forward: %s", se_last_error());
    CHECK_MSG(ps.compared >= 6, "only %d intermediates compared", ps.compared);
    const se_st_tensor *r = se_st_find(io, "out");
    CHECK(r && (size_t)r->numel * 4 == bytes);
    if (st == SE_OK && r && (size_t)r->numel * 4 == bytes) {
        float *got = malloc(bytes), *ref = malloc(bytes);
        se_tensor_get_data(g_be, &out, got, bytes);
        se_st_read_host(io, r, SE_F32, ref, bytes);
        double e = rel_err(got, ref, bytes / 4);
        printf("  %-8s rel err %.3g (tolerance %g)\n", "out", e, TOL);
        CHECK_MSG(e <= TOL, "output rel err %.3g > %g", e, TOL);
        if (ps.first_bad[0]) printf("  first block over tolerance: %s\n", ps.first_bad);
        /* A second run (arenas reused) gives the same bits. */
        se_unet_set_probe(u, NULL, NULL);
        float *again = malloc(bytes);
        CHECK(se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out) == SE_OK);
        se_tensor_get_data(g_be, &out, again, bytes);
        CHECK(memcmp(again, got, bytes) == 0);
        size_t reserved, peak;
        se_unet_activation_bytes(u, &reserved, &peak);
        printf("  activations: %.2f MB reserved, %.2f MB peak\n", reserved / 1048576.0,
               peak / 1048576.0);
        CHECK(peak > 0 && peak <= reserved);
        free(again);
        free(got);
        free(ref);
    }
    for (int i = 0; i < 6; i++) se_backend_free(g_be, m[i]);
    se_unet_destroy(&u);
    CHECK(u == NULL);
    se_st_close(&io);
}

/* Wrong weights, missing tensors, unsupported configs and bad inputs: clear errors. */
static void run_errors(void) {
    char cfg_a[1024], w_b[1024], io_a[1024], tmp[256];
    snprintf(cfg_a, sizeof cfg_a, "%s/unet/tiny/unet/config.json", STRIKE_FIXTURES_DIR);
    snprintf(w_b, sizeof w_b, "%s/unet/b2_nonsquare/unet/diffusion_pytorch_model.safetensors",
             STRIKE_FIXTURES_DIR);
    snprintf(io_a, sizeof io_a, "%s/unet/tiny/io.safetensors", STRIKE_FIXTURES_DIR);
    se_unet *u = NULL;
    se_status st = se_unet_new_from_files(cfg_a, w_b, g_be, &u);
    printf("  expected error: %s\n", se_last_error());
    CHECK(st == SE_ERR_SHAPE && u == NULL);
    CHECK_MSG(strstr(se_last_error(), "unet: tensor ") && strstr(se_last_error(), "expected [") &&
              strstr(se_last_error(), "got ["), "%s", se_last_error());
    st = se_unet_new_from_files(cfg_a, io_a, g_be, &u);
    printf("  expected error: %s\n", se_last_error());
    CHECK(st == SE_ERR_MISSING_TENSOR && u == NULL);
    CHECK_MSG(strstr(se_last_error(), "missing tensor time_embedding.linear_1.weight in") &&
              strstr(se_last_error(), "io.safetensors"), "%s", se_last_error());
    st = se_unet_new_from_dir("/nonexistent/unet", g_be, &u);
    CHECK(st == SE_ERR_IO && u == NULL);
    /* A file without a UNet, and an SGM file under the wrong config. */
    st = se_unet_new_from_single_file(io_a, NULL, g_be, &u);
    printf("  expected error: %s\n", se_last_error());
    CHECK(st == SE_ERR_MISSING_TENSOR && u == NULL && strstr(se_last_error(), "holds no UNet"));
    char sgm_b[1024];
    snprintf(sgm_b, sizeof sgm_b, "%s/unet/b2_nonsquare/sgm_single_file.safetensors", STRIKE_FIXTURES_DIR);
    se_unet_config ca;
    CHECK(se_unet_config_load(cfg_a, &ca) == SE_OK);
    st = se_unet_new_from_single_file(sgm_b, &ca, g_be, &u);
    printf("  expected error: %s\n", se_last_error());
    CHECK(st != SE_OK && u == NULL && strstr(se_last_error(), "(as model.diffusion_model."));
    /* Names: SDXL's documented examples (sdxl-lightning.md 3.2). */
    se_unet_config sx;
    se_unet_config_sdxl(&sx);
    char nm[256];
    CHECK(se_unet_sgm_name(&sx, "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight") == 0);
    CHECK(se_unet_sgm_name(&sx, "up_blocks.0.upsamplers.0.conv.weight", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.output_blocks.2.2.conv.weight") == 0);
    CHECK(se_unet_sgm_name(&sx, "up_blocks.1.upsamplers.0.conv.bias", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.output_blocks.5.2.conv.bias") == 0);
    CHECK(se_unet_sgm_name(&sx, "down_blocks.1.downsamplers.0.conv.weight", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.input_blocks.6.0.op.weight") == 0);
    CHECK(se_unet_sgm_name(&sx, "up_blocks.2.resnets.0.conv_shortcut.weight", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.output_blocks.6.0.skip_connection.weight") == 0);
    CHECK(se_unet_sgm_name(&sx, "mid_block.resnets.1.time_emb_proj.bias", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.middle_block.2.emb_layers.1.bias") == 0);
    CHECK(se_unet_sgm_name(&sx, "add_embedding.linear_2.weight", nm, sizeof nm) &&
          strcmp(nm, "model.diffusion_model.label_emb.0.2.weight") == 0);
    CHECK(!se_unet_sgm_name(&sx, "text_model.final_layer_norm.weight", nm, sizeof nm));

    /* Configs: unsupported features and bad values name the key. */
    snprintf(tmp, sizeof tmp, "/tmp/strike-unet-cfg-%d.json", (int)getpid());
    struct { const char *json; se_status want; const char *word; } cases[] = {
        {"{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\",\"CrossAttnDownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"],\"num_attention_heads\":4}",
         SE_ERR_UNSUPPORTED, "num_attention_heads"},
        {"{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\",\"AttnDownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"]}",
         SE_ERR_UNSUPPORTED, "AttnDownBlock2D"},
        {"{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"]}",
         SE_ERR_CONFIG, "down_block_types"},
        {"{\"block_out_channels\":[30,64],\"down_block_types\":[\"DownBlock2D\",\"CrossAttnDownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"],\"norm_num_groups\":8}",
         SE_ERR_CONFIG, "norm_num_groups"},
        {"{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\",\"CrossAttnDownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"],\"addition_embed_type\":\"text_time\"}",
         SE_ERR_CONFIG, "addition_time_embed_dim"},
        {"{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\",\"CrossAttnDownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"],\"layers_per_block\":\"two\"}",
         SE_ERR_CONFIG, "layers_per_block"},
        {"{\"block_out_channels\":[32,64],\"down_block_types\":[\"DownBlock2D\",\"CrossAttnDownBlock2D\"],"
         "\"up_block_types\":[\"CrossAttnUpBlock2D\",\"UpBlock2D\"],\"class_embed_type\":\"timestep\"}",
         SE_ERR_UNSUPPORTED, "class_embed_type"},
        {"{\"down_block_types\":[]}", SE_ERR_CONFIG, "block_out_channels"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(tmp, "w");
        fputs(cases[i].json, f);
        fclose(f);
        se_unet_config c;
        st = se_unet_config_load(tmp, &c);
        printf("  expected error: %s\n", se_last_error());
        CHECK_MSG(st == cases[i].want && strstr(se_last_error(), cases[i].word) &&
                  strstr(se_last_error(), tmp), "case %zu: status %d: %s", i, st, se_last_error());
    }
    remove(tmp);
    se_unet_config c;
    CHECK(se_unet_config_load(cfg_a, &c) == SE_OK);
    CHECK(c.nblocks == 3 && c.heads[2] == 4 && c.depth[2] == 2 && c.add_text_time &&
          c.cross_attention_dim == 40 && c.linear_proj && c.time_embed_dim == 64);

    /* Bad inputs to forward. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/unet/tiny/unet", STRIKE_FIXTURES_DIR);
    st = se_unet_new_from_dir(dir, g_be, &u);
    CHECK_MSG(st == SE_OK, "%s", se_last_error());
    if (st != SE_OK) return;
    void *mem = NULL;
    CHECK(se_backend_alloc(g_be, 1 << 20, &mem) == SE_OK);
    float *z = mem;
    memset(z, 0, 1 << 20);
    se_tensor x = se_tensor_4d(SE_F32, 1, 4, 10, 16, z);   /* 10 is not a multiple of 4 */
    se_tensor ts = se_tensor_1d(SE_F32, 1, z), ctx = se_tensor_3d(SE_F32, 1, 77, 40, z);
    se_tensor te = se_tensor_2d(SE_F32, 1, 24, z), ti = se_tensor_2d(SE_F32, 1, 6, z);
    se_tensor out = se_tensor_4d(SE_F32, 1, 4, 10, 16, z);
    CHECK(se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out) == SE_ERR_SHAPE);
    printf("  expected error: %s\n", se_last_error());
    x = se_tensor_4d(SE_F32, 1, 4, 8, 16, z);
    out = se_tensor_4d(SE_F32, 1, 4, 8, 16, z);
    ctx = se_tensor_3d(SE_F32, 1, 77, 41, z);
    CHECK(se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out) == SE_ERR_SHAPE);
    printf("  expected error: %s\n", se_last_error());
    CHECK(strstr(se_last_error(), "encoder_hidden_states") != NULL);
    ctx = se_tensor_3d(SE_F32, 1, 77, 40, z);
    te = se_tensor_2d(SE_F32, 1, 25, z);
    CHECK(se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out) == SE_ERR_SHAPE);
    CHECK(strstr(se_last_error(), "text_embeds") != NULL);
    te = se_tensor_2d(SE_F32, 1, 24, z);
    ts = se_tensor_1d(SE_F32, 2, z);
    CHECK(se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out) == SE_ERR_SHAPE);
    ts = se_tensor_1d(SE_F32, 1, z);
    CHECK(se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out) == SE_OK); /* zeros run fine */
    se_backend_free(g_be, mem);
    se_unet_destroy(&u);
}

/* Runs a UNet with random weights (the benchmark's constructor) on fixed inputs into host out. */
static se_status random_forward(const se_unet_config *cfg, uint64_t seed, float *host, size_t n) {
    se_unet *u = NULL;
    SE_TRY(se_unet_new_random(cfg, g_be, seed, &u));
    const int64_t B = 2, H = 8, W = 12;
    int64_t pooled = cfg->projection_dim - 6 * cfg->addition_time_embed_dim;
    size_t sizes[6] = {(size_t)(B * cfg->in_channels * H * W), (size_t)B,
                       (size_t)(B * 77 * cfg->cross_attention_dim), (size_t)(B * pooled), (size_t)(B * 6),
                       n};
    void *m[6] = {0};
    se_status st = SE_OK;
    for (int i = 0; i < 6 && st == SE_OK; i++) {
        st = se_backend_alloc(g_be, sizes[i] * 4, &m[i]);
        if (st != SE_OK) break;
        float *h = malloc(sizes[i] * 4);
        for (size_t k = 0; k < sizes[i]; k++) h[k] = i == 1 ? 500.0f : (float)sin(0.37 * (double)k + i);
        st = se_backend_set(g_be, m[i], h, sizes[i] * 4);
        free(h);
    }
    if (st == SE_OK) {
        se_tensor x = se_tensor_4d(SE_F32, B, cfg->in_channels, H, W, m[0]);
        se_tensor ts = se_tensor_1d(SE_F32, B, m[1]);
        se_tensor ctx = se_tensor_3d(SE_F32, B, 77, cfg->cross_attention_dim, m[2]);
        se_tensor te = se_tensor_2d(SE_F32, B, pooled, m[3]), ti = se_tensor_2d(SE_F32, B, 6, m[4]);
        se_tensor out = se_tensor_4d(SE_F32, B, cfg->out_channels, H, W, m[5]);
        st = se_unet_forward(u, &x, &ts, &ctx, &te, &ti, &out);
        if (st == SE_OK) st = se_tensor_get_data(g_be, &out, host, n * 4);
    }
    for (int i = 0; i < 6; i++) se_backend_free(g_be, m[i]);
    se_unet_destroy(&u);
    return st;
}

/* The random-weight constructor: deterministic per seed, different across seeds, finite. */
static void run_random(void) {
    char cfgp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/unet/b2_nonsquare/unet/config.json", STRIKE_FIXTURES_DIR);
    se_unet_config cfg;
    CHECK_MSG(se_unet_config_load(cfgp, &cfg) == SE_OK, "%s", se_last_error());
    size_t n = (size_t)(2 * cfg.out_channels * 8 * 12);
    float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
    CHECK_MSG(random_forward(&cfg, 1, a, n) == SE_OK, "%s", se_last_error());
    CHECK_MSG(random_forward(&cfg, 1, b, n) == SE_OK, "%s", se_last_error());
    CHECK_MSG(random_forward(&cfg, 2, c, n) == SE_OK, "%s", se_last_error());
    CHECK(memcmp(a, b, n * 4) == 0);
    CHECK(memcmp(a, c, n * 4) != 0);
    double norm = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        finite &= isfinite(a[i]) != 0;
        norm += (double)a[i] * a[i];
    }
    printf("  random UNet output norm %.4f\n", sqrt(norm));
    CHECK(finite && norm > 0);
    /* The SDXL config itself declares the real tensor count and parameter total. */
    se_unet_config sdxl;
    se_unet_config_sdxl(&sdxl);
    CHECK(sdxl.nblocks == 3 && sdxl.channels[2] == 1280 && sdxl.depth[2] == 10 && sdxl.heads[2] == 20);
    size_t nt = 0;
    int64_t np = 0;
    CHECK(se_unet_count(&sdxl, &nt, &np) == SE_OK);
    printf("  SDXL UNet: %zu tensors, %lld params\n", nt, (long long)np);
    CHECK(nt == 1680 && np == 2567463684LL);   /* sdxl-lightning.md 2.2 */
    free(a);
    free(b);
    free(c);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <case> <naive|fast> | errors\n", argv[0]);
        return 2;
    }
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    cp.naive = argc < 3 || strcmp(argv[2], "fast") != 0;
    if (se_backend_cpu_new(&cp, &g_be) != SE_OK) {
        fprintf(stderr, "cpu backend: %s\n", se_last_error());
        return 1;
    }
    printf("backend %s\n", se_backend_name(g_be));
    if (strcmp(argv[1], "errors") == 0) run_errors();
    else if (strcmp(argv[1], "random") == 0) run_random();
    else if (argc >= 4 && strcmp(argv[2], "single") == 0) run_case(argv[1], argv[3]);
    else run_case(argv[1], NULL);
    se_backend_destroy(&g_be);
    char name[128];
    snprintf(name, sizeof name, "engine_unet_%s%s%s", argv[1],
             argc >= 3 && strcmp(argv[2], "naive") == 0 ? "_naive" : "",
             argc >= 4 && strcmp(argv[2], "single") == 0 ? (strcmp(argv[3], "sgm") == 0 ? "_sgm" : "_single") : "");
    return test_report(name);
}
