/*
 * sgm_names.c - SGM / open_clip / LDM-VAE tensor names <-> diffusers names (see sgm_names.h).
 */
#include "io/sgm_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s after the literal l, or NULL. */
static const char *lit(const char *s, const char *l) {
    size_t n = strlen(l);
    return s && strncmp(s, l, n) == 0 ? s + n : NULL;
}

/* A block index of 1 to 4 decimal digits at s (file names are bounded before use): stores it and
 * returns the text after it, or NULL. */
static const char *num(const char *s, int *v) {
    if (!s) return NULL;
    int n = 0, k = 0;
    while (s[k] >= '0' && s[k] <= '9') {
        if (k == 4) return NULL;
        n = n * 10 + (s[k] - '0');
        k++;
    }
    if (k == 0) return NULL;
    *v = n;
    return s + k;
}

/* ---------------------------------------------------------------- UNet ---- */

/* One block of the UNet: its SGM prefix, its diffusers prefix and whether it is a resnet (whose
 * inner names differ) or a block whose inner names are the same on both sides. */
typedef struct block_pair {
    char sgm[48];
    char diff[48];
    bool resnet;
} block_pair;

#define MAX_PAIRS 160

/* Builds the block table of config c (sdxl-lightning.md 3.2, generic over the block counts). */
static int unet_pairs(const se_unet_config *c, block_pair *p) {
    int n = 0;
#define ADD(rn, ...)                                                                              \
    do {                                                                                          \
        if (n < MAX_PAIRS) {                                                                      \
            p[n].resnet = rn;                                                                     \
            snprintf(p[n].sgm, sizeof p[n].sgm, __VA_ARGS__);                                     \
        }                                                                                         \
    } while (0)
#define DIFF(...)                                                                                 \
    do {                                                                                          \
        if (n < MAX_PAIRS) snprintf(p[n].diff, sizeof p[n].diff, __VA_ARGS__);                    \
        n++;                                                                                      \
    } while (0)
    ADD(false, "time_embed.0"); DIFF("time_embedding.linear_1");
    ADD(false, "time_embed.2"); DIFF("time_embedding.linear_2");
    ADD(false, "label_emb.0.0"); DIFF("add_embedding.linear_1");
    ADD(false, "label_emb.0.2"); DIFF("add_embedding.linear_2");
    ADD(false, "input_blocks.0.0"); DIFF("conv_in");
    ADD(false, "out.0"); DIFF("conv_norm_out");
    ADD(false, "out.2"); DIFF("conv_out");
    int nb = c->nblocks, k = 1;
    for (int i = 0; i < nb; i++) {
        for (int j = 0; j < c->layers[i]; j++, k++) {
            ADD(true, "input_blocks.%d.0", k); DIFF("down_blocks.%d.resnets.%d", i, j);
            if (c->down_attn[i]) {
                ADD(false, "input_blocks.%d.1", k); DIFF("down_blocks.%d.attentions.%d", i, j);
            }
        }
        if (i < nb - 1) {
            ADD(false, "input_blocks.%d.0.op", k); DIFF("down_blocks.%d.downsamplers.0.conv", i);
            k++;
        }
    }
    ADD(true, "middle_block.0"); DIFF("mid_block.resnets.0");
    ADD(false, "middle_block.1"); DIFF("mid_block.attentions.0");
    ADD(true, "middle_block.2"); DIFF("mid_block.resnets.1");
    k = 0;
    for (int i = 0; i < nb; i++) {
        int nl = c->layers[nb - 1 - i] + 1;
        for (int j = 0; j < nl; j++, k++) {
            ADD(true, "output_blocks.%d.0", k); DIFF("up_blocks.%d.resnets.%d", i, j);
            if (c->up_attn[i]) {
                ADD(false, "output_blocks.%d.1", k); DIFF("up_blocks.%d.attentions.%d", i, j);
            }
            if (j == nl - 1 && i < nb - 1) {
                ADD(false, "output_blocks.%d.%d.conv", k, c->up_attn[i] ? 2 : 1);
                DIFF("up_blocks.%d.upsamplers.0.conv", i);
            }
        }
    }
#undef ADD
#undef DIFF
    return n < MAX_PAIRS ? n : MAX_PAIRS;
}

/* Inner names of a resnet: SGM, diffusers. */
static const char *const RESNET_INNER[][2] = {
    {"in_layers.0", "norm1"},     {"in_layers.2", "conv1"},  {"emb_layers.1", "time_emb_proj"},
    {"out_layers.0", "norm2"},    {"out_layers.3", "conv2"}, {"skip_connection", "conv_shortcut"},
};

/* If s starts with prefix followed by '.', returns the rest after the dot, else NULL. */
static const char *after_prefix(const char *s, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0 || s[n] != '.') return NULL;
    return s + n + 1;
}

/* Maps name through the block table; from = 0 for SGM -> diffusers, 1 for the inverse. */
static bool unet_map(const se_unet_config *c, const char *name, int from, char *out, size_t cap) {
    block_pair p[MAX_PAIRS];
    int n = unet_pairs(c, p);
    const block_pair *best = NULL;
    const char *rest = NULL;
    size_t best_len = 0;
    for (int i = 0; i < n; i++) {
        const char *pre = from == 0 ? p[i].sgm : p[i].diff;
        const char *r = after_prefix(name, pre);
        if (r && strlen(pre) > best_len) { /* longest prefix: "input_blocks.3.0.op" over ".0" */
            best = &p[i];
            rest = r;
            best_len = strlen(pre);
        }
    }
    if (!best || !*rest) return false;
    const char *dst = from == 0 ? best->diff : best->sgm;
    char inner[160];
    if (best->resnet) {
        const char *tail = NULL;
        for (size_t i = 0; i < sizeof RESNET_INNER / sizeof RESNET_INNER[0] && !tail; i++) {
            tail = after_prefix(rest, RESNET_INNER[i][from]);
            if (tail) snprintf(inner, sizeof inner, "%s.%s", RESNET_INNER[i][1 - from], tail);
        }
        if (!tail) return false;
    } else {
        snprintf(inner, sizeof inner, "%s", rest);
    }
    int len = snprintf(out, cap, "%s.%s", dst, inner);
    return len > 0 && (size_t)len < cap;
}

bool se_sgm_unet_to_diffusers(const se_unet_config *c, const char *sgm, char *out, size_t cap) {
    return unet_map(c, sgm, 0, out, cap);
}

bool se_sgm_unet_from_diffusers(const se_unet_config *c, const char *diff, char *out, size_t cap) {
    return unet_map(c, diff, 1, out, cap);
}

/* ----------------------------------------------------------------- VAE ---- */

/* Renames one dotted component sequence: SGM inner resnet / attention names -> diffusers. */
static const char *const VAE_RENAMES[][2] = {
    {"nin_shortcut", "conv_shortcut"},
    {"norm_out", "conv_norm_out"},
    {"mid.block_1", "mid_block.resnets.0"},
    {"mid.block_2", "mid_block.resnets.1"},
    {"mid.attn_1.norm", "mid_block.attentions.0.group_norm"},
    {"mid.attn_1.q", "mid_block.attentions.0.to_q"},
    {"mid.attn_1.k", "mid_block.attentions.0.to_k"},
    {"mid.attn_1.v", "mid_block.attentions.0.to_v"},
    {"mid.attn_1.proj_out", "mid_block.attentions.0.to_out.0"},
};

bool se_sgm_vae_to_diffusers(const char *sgm, int nup, char *out, size_t cap, se_sgm_op *op) {
    *op = SE_SGM_COPY;
    const char *part = NULL;
    char head[64];
    if ((part = after_prefix(sgm, "decoder")) != NULL) {
        snprintf(head, sizeof head, "decoder");
    } else if ((part = after_prefix(sgm, "encoder")) != NULL) {
        snprintf(head, sizeof head, "encoder");
    } else if (strncmp(sgm, "post_quant_conv.", 16) == 0 || strncmp(sgm, "quant_conv.", 11) == 0) {
        int len = snprintf(out, cap, "%s", sgm);
        return len > 0 && (size_t)len < cap;
    } else {
        return false;
    }
    bool dec = head[0] == 'd';
    char body[160];
    int blk = -1, j = -1;
    const char *ub = num(lit(part, dec ? "up." : "down."), &blk);
    const char *t = lit(num(lit(ub, ".block."), &j), ".");
    const char *tu = lit(ub, dec ? ".upsample.conv." : ".downsample.conv.");
    if (t) {
        int bi = dec ? nup - 1 - blk : blk;
        if (bi < 0) return false;
        if (strncmp(t, "nin_shortcut.", 13) == 0)
            snprintf(body, sizeof body, "%s_blocks.%d.resnets.%d.conv_shortcut.%s", dec ? "up" : "down",
                     bi, j, t + 13);
        else
            snprintf(body, sizeof body, "%s_blocks.%d.resnets.%d.%s", dec ? "up" : "down", bi, j, t);
    } else if (tu) {
        int bi = dec ? nup - 1 - blk : blk;
        if (bi < 0) return false;
        snprintf(body, sizeof body, dec ? "up_blocks.%d.upsamplers.0.conv.%s"
                                        : "down_blocks.%d.downsamplers.0.conv.%s", bi, tu);
    } else {
        bool done = false;
        for (size_t i = 0; i < sizeof VAE_RENAMES / sizeof VAE_RENAMES[0] && !done; i++) {
            const char *t = after_prefix(part, VAE_RENAMES[i][0]);
            if (!t) continue;
            snprintf(body, sizeof body, "%s.%s", VAE_RENAMES[i][1], t);
            done = true;
            if (strncmp(VAE_RENAMES[i][0], "mid.attn_1.", 11) == 0 &&
                strcmp(VAE_RENAMES[i][0], "mid.attn_1.norm") != 0 && strcmp(t, "weight") == 0)
                *op = SE_SGM_SQUEEZE;
        }
        if (!done) {
            if (strncmp(part, "conv_in.", 8) != 0 && strncmp(part, "conv_out.", 9) != 0) return false;
            snprintf(body, sizeof body, "%s", part);
        }
    }
    int len = snprintf(out, cap, "%s.%s", head, body);
    return len > 0 && (size_t)len < cap;
}

/* ---------------------------------------------------------------- bigG ---- */

static const char *const BIGG_LAYER[][2] = {
    {"ln_1", "layer_norm1"},           {"ln_2", "layer_norm2"},  {"attn.out_proj", "self_attn.out_proj"},
    {"mlp.c_fc", "mlp.fc1"},           {"mlp.c_proj", "mlp.fc2"},
};

int se_sgm_bigg_to_hf(const char *sgm, char out[3][128], se_sgm_op *op) {
    *op = SE_SGM_COPY;
    if (strcmp(sgm, "logit_scale") == 0 || strcmp(sgm, "attn_mask") == 0) return 0;
    if (strcmp(sgm, "token_embedding.weight") == 0) {
        snprintf(out[0], 128, "text_model.embeddings.token_embedding.weight");
        return 1;
    }
    if (strcmp(sgm, "positional_embedding") == 0) {
        snprintf(out[0], 128, "text_model.embeddings.position_embedding.weight");
        return 1;
    }
    if (strcmp(sgm, "text_projection") == 0) {
        snprintf(out[0], 128, "text_projection.weight");
        *op = SE_SGM_TRANSPOSE;
        return 1;
    }
    const char *t = after_prefix(sgm, "ln_final");
    if (t) {
        snprintf(out[0], 128, "text_model.final_layer_norm.%s", t);
        return 1;
    }
    int layer = -1;
    const char *rest = lit(num(lit(sgm, "transformer.resblocks."), &layer), ".");
    if (!rest) return -1;
    if (strcmp(rest, "attn.in_proj_weight") == 0 || strcmp(rest, "attn.in_proj_bias") == 0) {
        const char *kind = rest[13] == 'w' ? "weight" : "bias";
        const char qkv[3] = {'q', 'k', 'v'};
        for (int i = 0; i < 3; i++)
            snprintf(out[i], 128, "text_model.encoder.layers.%d.self_attn.%c_proj.%s", layer, qkv[i],
                     kind);
        *op = SE_SGM_SPLIT3;
        return 3;
    }
    for (size_t i = 0; i < sizeof BIGG_LAYER / sizeof BIGG_LAYER[0]; i++) {
        const char *tail = after_prefix(rest, BIGG_LAYER[i][0]);
        if (tail && (strcmp(tail, "weight") == 0 || strcmp(tail, "bias") == 0)) {
            snprintf(out[0], 128, "text_model.encoder.layers.%d.%s.%s", layer, BIGG_LAYER[i][1], tail);
            return 1;
        }
    }
    return -1;
}
