/*
 * tiny_model.c - the random SDXL-architecture model folder generator (see tiny_model.h).
 *
 * The UNet's and the VAE's tensor lists come from the networks themselves (se_unet_new_random /
 * se_vae_new_random declare and fill every tensor they load), so the folder always matches what
 * the engine reads. The CLIP encoders' tensors are listed here in transformers naming
 * ("text_model." prefix, as SDXL's files), with values uniform in +-1/sqrt(fan_in), embeddings
 * N-ish(0, 0.5) from the same generator, norm scales 1 and biases near 0.
 */
#include "pipeline/tiny_model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/backend_cpu.h"
#include "core/error.h"
#include "io/safetensors_write.h"
#include "model/unet.h"
#include "model/vae.h"

#define PATHMAX 4096

/* The words the tiny vocabulary has merges for (everything else is spelled byte by byte). */
static const char *const k_words[] = {"a", "red", "cat", "dog", "on", "the", "blue", "sky",
                                      "photo", "of", "house", "tree", "strike", "render", "farm"};

static se_status mkdir_p(const char *dir) {
    char p[PATHMAX];
    if ((size_t)snprintf(p, sizeof p, "%s", dir) >= sizeof p)
        return se_fail(SE_ERR_INVALID_ARG, "model generator: path too long: %s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return se_fail(SE_ERR_IO, "model generator: cannot create %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return se_fail(SE_ERR_IO, "model generator: cannot create %s: %s", p, strerror(errno));
    return SE_OK;
}

static se_status path_of(char *out, const char *dir, const char *rel) {
    if ((size_t)snprintf(out, PATHMAX, "%s/%s", dir, rel) >= PATHMAX)
        return se_fail(SE_ERR_INVALID_ARG, "model generator: path too long: %s/%s", dir, rel);
    return SE_OK;
}

/* Writes a JSON value to dir/rel (and releases it). */
static se_status write_json(const char *dir, const char *rel, json_t *j) {
    char p[PATHMAX];
    se_status st = path_of(p, dir, rel);
    if (st == SE_OK && (!j || json_dump_file(j, p, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0))
        st = se_fail(SE_ERR_IO, "model generator: cannot write %s", p);
    json_decref(j);
    return st;
}

static se_status write_text(const char *dir, const char *rel, const char *text) {
    char p[PATHMAX];
    SE_TRY(path_of(p, dir, rel));
    FILE *f = fopen(p, "w");
    if (!f) return se_fail(SE_ERR_IO, "model generator: cannot create %s: %s", p, strerror(errno));
    int ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok) return se_fail(SE_ERR_IO, "model generator: cannot write %s", p);
    return SE_OK;
}

static json_t *int_array(const int64_t *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *str_array(const char *const *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

/* ---- tokenizer ------------------------------------------------------------------------- */

/* CLIP's byte -> symbol table (GPT-2 bytes_to_unicode), in the order CLIP's vocabulary uses:
 * the printable bytes first, then the others mapped to U+0100 upwards. sym[i] is UTF-8. */
static void byte_symbols(char sym[256][5]) {
    int order[256], n = 0, used[256] = {0};
    for (int b = '!'; b <= '~'; b++) order[n++] = b;
    for (int b = 0xA1; b <= 0xAC; b++) order[n++] = b;
    for (int b = 0xAE; b <= 0xFF; b++) order[n++] = b;
    for (int i = 0; i < n; i++) used[order[i]] = 1;
    int cps[256], extra = 0;
    for (int i = 0; i < n; i++) cps[i] = order[i];
    for (int b = 0; b < 256; b++)
        if (!used[b]) {
            order[n] = b;
            cps[n++] = 256 + extra++;
        }
    for (int i = 0; i < 256; i++) {
        unsigned cp = (unsigned)cps[i];
        if (cp < 0x80) {
            sym[i][0] = (char)cp;
            sym[i][1] = 0;
        } else {
            sym[i][0] = (char)(0xC0 | (cp >> 6));
            sym[i][1] = (char)(0x80 | (cp & 0x3F));
            sym[i][2] = 0;
        }
    }
}

/* vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json; *vocab_size out. */
static se_status write_tokenizer(const char *dir, const char *pad, int64_t *vocab_size) {
    SE_TRY(mkdir_p(dir));
    char sym[256][5];
    byte_symbols(sym);
    json_t *vocab = json_object();
    int64_t id = 0;
    char tok[128];
    for (int i = 0; i < 256; i++) json_object_set_new(vocab, sym[i], json_integer(id++));
    for (int i = 0; i < 256; i++) {
        snprintf(tok, sizeof tok, "%s</w>", sym[i]);
        json_object_set_new(vocab, tok, json_integer(id++));
    }
    /* merges: each word left to right ("r e", "re d</w>"); merged symbols join the vocabulary */
    size_t mcap = 8192, mlen = 0;
    char *merges = malloc(mcap);
    if (!merges) {
        json_decref(vocab);
        return se_fail(SE_ERR_NOMEM, "model generator: no memory");
    }
    mlen = (size_t)snprintf(merges, mcap, "#version: 0.2\n");
    for (size_t w = 0; w < sizeof k_words / sizeof k_words[0]; w++) {
        const char *word = k_words[w];
        size_t L = strlen(word);
        char left[128] = "";
        for (size_t k = 0; k + 1 < L; k++) {
            char right[16];
            if (k == 0) snprintf(left, sizeof left, "%c", word[0]);
            if (k + 2 == L) snprintf(right, sizeof right, "%c</w>", word[k + 1]);
            else snprintf(right, sizeof right, "%c", word[k + 1]);
            char line[256];
            int ll = snprintf(line, sizeof line, "%s %s\n", left, right);
            if (!strstr(merges, line) && mlen + (size_t)ll < mcap) {
                memcpy(merges + mlen, line, (size_t)ll + 1);
                mlen += (size_t)ll;
            }
            char joined[128];
            snprintf(joined, sizeof joined, "%.100s%s", left, right);
            if (!json_object_get(vocab, joined)) json_object_set_new(vocab, joined, json_integer(id++));
            snprintf(left, sizeof left, "%s", joined);
        }
    }
    json_object_set_new(vocab, "<|startoftext|>", json_integer(id++));
    json_object_set_new(vocab, "<|endoftext|>", json_integer(id++));
    *vocab_size = id;
    se_status st = write_json(dir, "vocab.json", vocab);
    if (st == SE_OK) st = write_text(dir, "merges.txt", merges);
    free(merges);
    if (st != SE_OK) return st;
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:b}", "bos_token", "<|startoftext|>",
                            "eos_token", "<|endoftext|>", "unk_token", "<|endoftext|>", "pad_token", pad,
                            "tokenizer_class", "CLIPTokenizer", "model_max_length", 77,
                            "do_lower_case", 1, "clean_up_tokenization_spaces", 0);
    SE_TRY(write_json(dir, "tokenizer_config.json", cfg));
    json_t *sp = json_pack("{s:s, s:s, s:s, s:s}", "bos_token", "<|startoftext|>", "eos_token",
                           "<|endoftext|>", "unk_token", "<|endoftext|>", "pad_token", pad);
    return write_json(dir, "special_tokens_map.json", sp);
}

/* ---- CLIP text encoders ---------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [-a, a) */
static float rng_unif(rng *r, float a) {
    return a * (2.0f * (float)((rng_next(r) >> 40) * (1.0 / 16777216.0)) - 1.0f);
}

typedef struct clip_shape {
    int64_t vocab, hidden, inter, layers, heads, proj;
    int gelu, projection;
} clip_shape;

/* Adds one tensor filled by kind: 'w' matrix +-1/sqrt(fan_in), 'e' embedding +-0.9,
 * 'g' norm scale 1, 'b' bias +-0.02. */
static se_status add_rand(se_st_writer *w, rng *r, se_dtype dt, const char *name, int64_t n0,
                          int64_t n1, char kind) {
    size_t n = (size_t)n0 * (size_t)(n1 ? n1 : 1);
    float *v = malloc(n * sizeof(float));
    if (!v) return se_fail(SE_ERR_NOMEM, "model generator: no memory for %s", name);
    float a = kind == 'w' ? 1.0f / sqrtf((float)n1) : kind == 'e' ? 0.9f : 0.02f;
    for (size_t i = 0; i < n; i++) v[i] = kind == 'g' ? 1.0f : rng_unif(r, a);
    se_status st = se_st_writer_add(w, name, dt, n1 ? 2 : 1, (int64_t[]){n0, n1}, v);
    free(v);
    return st;
}

static se_status write_clip(const char *dir, const clip_shape *c, se_dtype dt, uint64_t seed) {
    SE_TRY(mkdir_p(dir));
    json_t *cfg = json_pack("{s:[s], s:f, s:i, s:s, s:i, s:s, s:i, s:f, s:i, s:f, s:i, s:s, s:i, s:i, s:i, s:i, s:s}",
                            "architectures", c->projection ? "CLIPTextModelWithProjection" : "CLIPTextModel",
                            "attention_dropout", 0.0, "bos_token_id", 0, "dtype",
                            dt == SE_F16 ? "float16" : "float32", "eos_token_id", 2,
                            "hidden_act", c->gelu ? "gelu" : "quick_gelu",
                            "hidden_size", (int)c->hidden, "initializer_factor", 1.0,
                            "intermediate_size", (int)c->inter, "layer_norm_eps", 1e-5,
                            "max_position_embeddings", 77, "model_type", "clip_text_model",
                            "num_attention_heads", (int)c->heads, "num_hidden_layers", (int)c->layers,
                            "pad_token_id", 1, "projection_dim", (int)c->proj,
                            "transformers_version", "5.23.0");
    if (cfg) json_object_set_new(cfg, "vocab_size", json_integer(c->vocab));
    SE_TRY(write_json(dir, "config.json", cfg));
    se_st_writer *w = NULL;
    SE_TRY(se_st_writer_new(&w));
    rng r = {seed};
    const int64_t D = c->hidden, I = c->inter;
    char n[160];
    se_status st = add_rand(w, &r, dt, "text_model.embeddings.token_embedding.weight", c->vocab, D, 'e');
    if (st == SE_OK) st = add_rand(w, &r, dt, "text_model.embeddings.position_embedding.weight", 77, D, 'e');
    static const struct { const char *leaf; int rows_inter, cols_inter; char kind; int vec; } L[] = {
        {"layer_norm1.weight", 0, 0, 'g', 1}, {"layer_norm1.bias", 0, 0, 'b', 1},
        {"self_attn.q_proj.weight", 0, 0, 'w', 0}, {"self_attn.q_proj.bias", 0, 0, 'b', 1},
        {"self_attn.k_proj.weight", 0, 0, 'w', 0}, {"self_attn.k_proj.bias", 0, 0, 'b', 1},
        {"self_attn.v_proj.weight", 0, 0, 'w', 0}, {"self_attn.v_proj.bias", 0, 0, 'b', 1},
        {"self_attn.out_proj.weight", 0, 0, 'w', 0}, {"self_attn.out_proj.bias", 0, 0, 'b', 1},
        {"layer_norm2.weight", 0, 0, 'g', 1}, {"layer_norm2.bias", 0, 0, 'b', 1},
        {"mlp.fc1.weight", 1, 0, 'w', 0}, {"mlp.fc1.bias", 1, 0, 'b', 1},
        {"mlp.fc2.weight", 0, 1, 'w', 0}, {"mlp.fc2.bias", 0, 0, 'b', 1},
    };
    for (int64_t l = 0; st == SE_OK && l < c->layers; l++) {
        for (size_t k = 0; st == SE_OK && k < sizeof L / sizeof L[0]; k++) {
            snprintf(n, sizeof n, "text_model.encoder.layers.%lld.%s", (long long)l, L[k].leaf);
            int64_t rows = L[k].rows_inter ? I : D, cols = L[k].vec ? 0 : (L[k].cols_inter ? I : D);
            st = add_rand(w, &r, dt, n, rows, cols, L[k].kind);
        }
    }
    if (st == SE_OK) st = add_rand(w, &r, dt, "text_model.final_layer_norm.weight", D, 0, 'g');
    if (st == SE_OK) st = add_rand(w, &r, dt, "text_model.final_layer_norm.bias", D, 0, 'b');
    if (st == SE_OK && c->projection) st = add_rand(w, &r, dt, "text_projection.weight", c->proj, D, 'w');
    char p[PATHMAX];
    if (st == SE_OK) st = path_of(p, dir, "model.safetensors");
    if (st == SE_OK) st = se_st_writer_save(w, p);
    se_st_writer_destroy(&w);
    return st;
}

/* ---- UNet and VAE: from the networks' own declarations ---------------------------------- */

static se_status add_vae_encoder(se_st_writer *w, const se_vae_config *c, se_dtype dt, uint64_t seed);

/* Every declared tensor of ws into dir/diffusion_pytorch_model.safetensors as dt. */
static se_status write_weights(const char *dir, const se_weights *ws, se_dtype dt,
                               const se_vae_config *vae_encoder, uint64_t seed) {
    se_st_writer *w = NULL;
    SE_TRY(se_st_writer_new(&w));
    se_status st = vae_encoder ? add_vae_encoder(w, vae_encoder, dt, seed) : SE_OK;
    for (size_t i = 0; st == SE_OK && i < se_weights_count(ws); i++) {
        const se_tensor *t = se_weights_at(ws, (int)i);
        if (t->dtype == dt) st = se_st_writer_add_raw_borrowed(w, t->name, dt, t->ndim, t->ne, t->data);
        else if (t->dtype == SE_F32) st = se_st_writer_add_borrowed(w, t->name, dt, t->ndim, t->ne, t->data);
        else st = se_fail(SE_ERR_INTERNAL, "model generator: %s is %s", t->name, se_dtype_name(t->dtype));
    }
    char p[PATHMAX];
    if (st == SE_OK) st = path_of(p, dir, "diffusion_pytorch_model.safetensors");
    if (st == SE_OK) st = se_st_writer_save(w, p);
    se_st_writer_destroy(&w);
    return st;
}

static se_status write_unet(const char *dir, const se_unet_config *c, se_backend *be, se_dtype dt,
                            uint64_t seed) {
    SE_TRY(mkdir_p(dir));
    const char *down[SE_UNET_MAX_BLOCKS], *upb[SE_UNET_MAX_BLOCKS];
    int64_t heads[SE_UNET_MAX_BLOCKS], depth[SE_UNET_MAX_BLOCKS], layers[SE_UNET_MAX_BLOCKS];
    for (int i = 0; i < c->nblocks; i++) {
        down[i] = c->down_attn[i] ? "CrossAttnDownBlock2D" : "DownBlock2D";
        upb[i] = c->up_attn[i] ? "CrossAttnUpBlock2D" : "UpBlock2D";
        heads[i] = c->heads[i];
        depth[i] = c->depth[i];
        layers[i] = c->layers[i];
    }
    json_t *j = json_object();
    json_object_set_new(j, "_class_name", json_string("UNet2DConditionModel"));
    json_object_set_new(j, "_diffusers_version", json_string("0.42.1"));
    json_object_set_new(j, "act_fn", json_string("silu"));
    json_object_set_new(j, "addition_embed_type", json_string("text_time"));
    json_object_set_new(j, "addition_embed_type_num_heads", json_integer(64));
    json_object_set_new(j, "addition_time_embed_dim", json_integer(c->addition_time_embed_dim));
    json_object_set_new(j, "attention_head_dim", int_array(heads, c->nblocks));
    json_object_set_new(j, "block_out_channels", int_array(c->channels, c->nblocks));
    json_object_set_new(j, "center_input_sample", json_false());
    json_object_set_new(j, "cross_attention_dim", json_integer(c->cross_attention_dim));
    json_object_set_new(j, "down_block_types", str_array(down, c->nblocks));
    json_object_set_new(j, "downsample_padding", json_integer(1));
    json_object_set_new(j, "flip_sin_to_cos", json_boolean(c->flip_sin_to_cos));
    json_object_set_new(j, "freq_shift", json_real(c->freq_shift));
    json_object_set_new(j, "in_channels", json_integer(c->in_channels));
    json_object_set_new(j, "layers_per_block", int_array(layers, c->nblocks));
    json_object_set_new(j, "mid_block_scale_factor", json_integer(1));
    json_object_set_new(j, "mid_block_type", json_string("UNetMidBlock2DCrossAttn"));
    json_object_set_new(j, "norm_eps", json_real(c->norm_eps));
    json_object_set_new(j, "norm_num_groups", json_integer(c->norm_groups));
    json_object_set_new(j, "out_channels", json_integer(c->out_channels));
    json_object_set_new(j, "projection_class_embeddings_input_dim", json_integer(c->projection_dim));
    json_object_set_new(j, "sample_size", json_integer(128));
    json_object_set_new(j, "transformer_layers_per_block", int_array(depth, c->nblocks));
    json_object_set_new(j, "up_block_types", str_array(upb, c->nblocks));
    json_object_set_new(j, "use_linear_projection", json_boolean(c->linear_proj));
    SE_TRY(write_json(dir, "config.json", j));
    se_unet *u = NULL;
    SE_TRY(se_unet_new_random(c, be, seed, &u));
    se_status st = write_weights(dir, se_unet_weights(u), dt, NULL, 0);
    se_unet_destroy(&u);
    return st;
}

/* A random tensor of any rank: 'w' uniform +-1/sqrt(prod(ne[1:])), 'g' ones, 'b' +-0.02. */
static se_status add_rand_nd(se_st_writer *w, rng *r, se_dtype dt, char kind, int nd,
                             const int64_t *ne, const char *fmt, ...) SE_PRINTF(7, 8);
static se_status add_rand_nd(se_st_writer *w, rng *r, se_dtype dt, char kind, int nd,
                             const int64_t *ne, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    size_t n = 1, fan = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)ne[i];
    for (int i = 1; i < nd; i++) fan *= (size_t)ne[i];
    float *v = malloc(n * sizeof(float));
    if (!v) return se_fail(SE_ERR_NOMEM, "model generator: no memory for %s", name);
    float a = kind == 'w' ? 1.0f / sqrtf((float)fan) : 0.02f;
    for (size_t i = 0; i < n; i++) v[i] = kind == 'g' ? 1.0f : rng_unif(r, a);
    se_status st = se_st_writer_add(w, name, dt, nd, ne, v);
    free(v);
    return st;
}

/* One encoder resnet (diffusers ResnetBlock2D without time embedding) under prefix. */
static se_status enc_resnet(se_st_writer *w, rng *r, se_dtype dt, int64_t cin, int64_t cout,
                            const char *p) {
    SE_TRY(add_rand_nd(w, r, dt, 'g', 1, (int64_t[]){cin}, "%s.norm1.weight", p));
    SE_TRY(add_rand_nd(w, r, dt, 'b', 1, (int64_t[]){cin}, "%s.norm1.bias", p));
    SE_TRY(add_rand_nd(w, r, dt, 'w', 4, (int64_t[]){cout, cin, 3, 3}, "%s.conv1.weight", p));
    SE_TRY(add_rand_nd(w, r, dt, 'b', 1, (int64_t[]){cout}, "%s.conv1.bias", p));
    SE_TRY(add_rand_nd(w, r, dt, 'g', 1, (int64_t[]){cout}, "%s.norm2.weight", p));
    SE_TRY(add_rand_nd(w, r, dt, 'b', 1, (int64_t[]){cout}, "%s.norm2.bias", p));
    SE_TRY(add_rand_nd(w, r, dt, 'w', 4, (int64_t[]){cout, cout, 3, 3}, "%s.conv2.weight", p));
    SE_TRY(add_rand_nd(w, r, dt, 'b', 1, (int64_t[]){cout}, "%s.conv2.bias", p));
    if (cin != cout) {
        SE_TRY(add_rand_nd(w, r, dt, 'w', 4, (int64_t[]){cout, cin, 1, 1}, "%s.conv_shortcut.weight", p));
        SE_TRY(add_rand_nd(w, r, dt, 'b', 1, (int64_t[]){cout}, "%s.conv_shortcut.bias", p));
    }
    return SE_OK;
}

/* The VAE encoder + quant_conv (diffusers Encoder naming): the engine never runs it, but with it
 * the folder is a complete AutoencoderKL that diffusers loads without complaint. */
static se_status add_vae_encoder(se_st_writer *w, const se_vae_config *c, se_dtype dt, uint64_t seed) {
    rng r = {seed};
    const int64_t L2 = 2 * c->latent_channels, C0 = c->channels[0], CL = c->channels[c->nblocks - 1];
    char p[160];
    SE_TRY(add_rand_nd(w, &r, dt, 'w', 4, (int64_t[]){C0, 3, 3, 3}, "encoder.conv_in.weight"));
    SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){C0}, "encoder.conv_in.bias"));
    int64_t cin = C0;
    for (int i = 0; i < c->nblocks; i++) {
        int64_t cout = c->channels[i];
        for (int j = 0; j < c->layers_per_block; j++) {
            snprintf(p, sizeof p, "encoder.down_blocks.%d.resnets.%d", i, j);
            SE_TRY(enc_resnet(w, &r, dt, j == 0 ? cin : cout, cout, p));
        }
        if (i + 1 < c->nblocks) {
            SE_TRY(add_rand_nd(w, &r, dt, 'w', 4, (int64_t[]){cout, cout, 3, 3},
                               "encoder.down_blocks.%d.downsamplers.0.conv.weight", i));
            SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){cout},
                               "encoder.down_blocks.%d.downsamplers.0.conv.bias", i));
        }
        cin = cout;
    }
    SE_TRY(enc_resnet(w, &r, dt, CL, CL, "encoder.mid_block.resnets.0"));
    SE_TRY(enc_resnet(w, &r, dt, CL, CL, "encoder.mid_block.resnets.1"));
    if (c->mid_attention) {
        SE_TRY(add_rand_nd(w, &r, dt, 'g', 1, (int64_t[]){CL}, "encoder.mid_block.attentions.0.group_norm.weight"));
        SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){CL}, "encoder.mid_block.attentions.0.group_norm.bias"));
        static const char *const proj[] = {"to_q", "to_k", "to_v", "to_out.0"};
        for (int k = 0; k < 4; k++) {
            SE_TRY(add_rand_nd(w, &r, dt, 'w', 2, (int64_t[]){CL, CL}, "encoder.mid_block.attentions.0.%s.weight", proj[k]));
            SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){CL}, "encoder.mid_block.attentions.0.%s.bias", proj[k]));
        }
    }
    SE_TRY(add_rand_nd(w, &r, dt, 'g', 1, (int64_t[]){CL}, "encoder.conv_norm_out.weight"));
    SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){CL}, "encoder.conv_norm_out.bias"));
    SE_TRY(add_rand_nd(w, &r, dt, 'w', 4, (int64_t[]){L2, CL, 3, 3}, "encoder.conv_out.weight"));
    SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){L2}, "encoder.conv_out.bias"));
    if (c->post_quant_conv) {
        SE_TRY(add_rand_nd(w, &r, dt, 'w', 4, (int64_t[]){L2, L2, 1, 1}, "quant_conv.weight"));
        SE_TRY(add_rand_nd(w, &r, dt, 'b', 1, (int64_t[]){L2}, "quant_conv.bias"));
    }
    return SE_OK;
}

static se_status write_vae(const char *dir, const se_vae_config *c, se_backend *be, se_dtype dt,
                           uint64_t seed) {
    SE_TRY(mkdir_p(dir));
    const char *down[SE_VAE_MAX_BLOCKS], *upb[SE_VAE_MAX_BLOCKS];
    for (int i = 0; i < c->nblocks; i++) {
        down[i] = "DownEncoderBlock2D";
        upb[i] = "UpDecoderBlock2D";
    }
    json_t *j = json_object();
    json_object_set_new(j, "_class_name", json_string("AutoencoderKL"));
    json_object_set_new(j, "_diffusers_version", json_string("0.42.1"));
    json_object_set_new(j, "act_fn", json_string("silu"));
    json_object_set_new(j, "block_out_channels", int_array(c->channels, c->nblocks));
    json_object_set_new(j, "down_block_types", str_array(down, c->nblocks));
    json_object_set_new(j, "force_upcast", json_true());
    json_object_set_new(j, "in_channels", json_integer(3));
    json_object_set_new(j, "latent_channels", json_integer(c->latent_channels));
    json_object_set_new(j, "layers_per_block", json_integer(c->layers_per_block));
    json_object_set_new(j, "norm_num_groups", json_integer(c->norm_groups));
    json_object_set_new(j, "out_channels", json_integer(c->out_channels));
    json_object_set_new(j, "sample_size", json_integer(1024));
    json_object_set_new(j, "scaling_factor", json_real(c->scaling_factor));
    json_object_set_new(j, "up_block_types", str_array(upb, c->nblocks));
    SE_TRY(write_json(dir, "config.json", j));
    se_vae *v = NULL;
    SE_TRY(se_vae_new_random(c, be, seed, &v));
    se_status st = write_weights(dir, se_vae_weights(v), dt, c, seed ^ 0x5555);
    se_vae_destroy(&v);
    return st;
}

static se_status write_index(const char *dir, se_gen_preset preset) {
    json_t *j = json_pack("{s:s, s:s, s:b, s:[s,s], s:[s,s], s:[s,s], s:[s,s], s:[s,s], s:[s,s], s:[s,s]}",
                          "_class_name", "StableDiffusionXLPipeline", "_diffusers_version", "0.42.1",
                          "force_zeros_for_empty_prompt", 1,
                          "scheduler", "diffusers", "EulerDiscreteScheduler",
                          "text_encoder", "transformers", "CLIPTextModel",
                          "text_encoder_2", "transformers", "CLIPTextModelWithProjection",
                          "tokenizer", "transformers", "CLIPTokenizer",
                          "tokenizer_2", "transformers", "CLIPTokenizer",
                          "unet", "diffusers", "UNet2DConditionModel",
                          "vae", "diffusers", "AutoencoderKL");
    SE_TRY(write_json(dir, "model_index.json", j));
    json_t *s = json_pack("{s:s, s:i, s:f, s:f, s:s, s:s, s:s, s:i, s:s}",
                          "_class_name", "EulerDiscreteScheduler", "num_train_timesteps", 1000,
                          "beta_start", 0.00085, "beta_end", 0.012, "beta_schedule", "scaled_linear",
                          "prediction_type", "epsilon", "timestep_spacing", "trailing",
                          "steps_offset", 1, "interpolation_type", "linear");
    SE_TRY(write_json(dir, "scheduler/scheduler_config.json", s));
    return write_text(dir, "STRIKE_RANDOM_MODEL.txt",
                      preset == SE_GEN_SDXL
                          ? "A random model with the full SDXL configuration, generated by Strike "
                            "(strike-render --make-tiny-model DIR --preset sdxl).\nIts weights are "
                            "random: its images are noise. For benchmarks only.\n"
                          : "A tiny random SDXL-architecture model generated by Strike "
                            "(strike-render --make-tiny-model DIR).\nIts weights are random: its "
                            "images are noise. It exists so the tools and the farm run end to end "
                            "without real weights; see the README for real SDXL-Lightning "
                            "weights.\n");
}

se_status se_make_random_model(const char *dir, se_gen_preset preset, uint64_t seed) {
    if (!dir || (preset != SE_GEN_TINY && preset != SE_GEN_SDXL))
        return se_fail(SE_ERR_INVALID_ARG, "model generator: bad argument");
    char p[PATHMAX];
    SE_TRY(mkdir_p(dir));
    int64_t vocab = 0;
    SE_TRY(path_of(p, dir, "tokenizer"));
    SE_TRY(write_tokenizer(p, "<|endoftext|>", &vocab));
    SE_TRY(path_of(p, dir, "tokenizer_2"));
    SE_TRY(write_tokenizer(p, "!", &vocab));
    SE_TRY(path_of(p, dir, "scheduler"));
    SE_TRY(mkdir_p(p));

    const int sdxl = preset == SE_GEN_SDXL;
    const se_dtype dt = SE_F16; /* both presets: fp16 files, as SDXL ships */
    /* bigG wider than CLIP-L (48 vs 32), as in the fixture model (tests/fixtures/pipeline) and in
     * SDXL; diffusers' from_single_file needs the widths to differ */
    clip_shape l = {vocab, 32, 64, 3, 2, 32, 0, 0}, g = {vocab, 48, 64, 3, 2, 48, 1, 1};
    if (sdxl) {
        l = (clip_shape){49408, 768, 3072, 12, 12, 768, 0, 0};
        g = (clip_shape){49408, 1280, 5120, 32, 20, 1280, 1, 1};
    }
    SE_TRY(path_of(p, dir, "text_encoder"));
    SE_TRY(write_clip(p, &l, dt, seed ^ 0x1111));
    SE_TRY(path_of(p, dir, "text_encoder_2"));
    SE_TRY(write_clip(p, &g, dt, seed ^ 0x2222));

    se_unet_config uc;
    se_unet_config_sdxl(&uc);
    se_vae_config vc;
    se_vae_config_sdxl(&vc);
    if (!sdxl) {
        /* the architecture in miniature: 3 levels, attention on levels 1-2, text_time */
        const int64_t ch[3] = {16, 32, 32};
        for (int i = 0; i < 3; i++) {
            uc.channels[i] = ch[i];
            uc.layers[i] = 2;
            uc.depth[i] = 1;
            uc.heads[i] = i == 0 ? 1 : 2;
        }
        uc.cross_attention_dim = l.hidden + g.hidden;
        uc.norm_groups = 8;
        uc.time_embed_dim = 4 * ch[0];
        uc.addition_time_embed_dim = 8;
        uc.projection_dim = g.proj + 6 * 8;
        const int64_t vch[4] = {16, 16, 32, 32};
        for (int i = 0; i < 4; i++) vc.channels[i] = vch[i];
        vc.layers_per_block = 1;
        vc.norm_groups = 8;
    }
    se_cpu_params cp;
    se_cpu_params_init(&cp);
    se_backend *be = NULL;
    SE_TRY(se_backend_cpu_new(&cp, &be));
    /* The networks are only generated here, never run: store their weights directly in the file
     * dtype (halves the memory of the full-size preset: 5 GB instead of 10 for the UNet). */
    be->weight_dtype = dt;
    se_status st = path_of(p, dir, "unet");
    if (st == SE_OK) st = write_unet(p, &uc, be, dt, seed ^ 0x3333);
    if (st == SE_OK) st = path_of(p, dir, "vae");
    if (st == SE_OK) st = write_vae(p, &vc, be, dt, seed ^ 0x4444);
    se_backend_destroy(&be);
    if (st == SE_OK) st = write_index(dir, preset);
    return st;
}
