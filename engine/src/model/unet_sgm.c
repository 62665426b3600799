/*
 * unet_sgm.c - loading a UNet from one safetensors file, in diffusers naming or in the original
 * SGM / ComfyUI single-file naming ("model.diffusion_model.input_blocks.4.1...."), e.g. the
 * SDXL-Lightning all-in-one checkpoints. The network still declares diffusers names; the SGM
 * name of each is computed here (sdxl-lightning.md 3.2) and looked up in the file.
 */
#include <stdio.h>
#include <string.h>

#include "model/unet.h"

#define SGM_PREFIX SE_UNET_SGM_PREFIX

/* Resnet part names, diffusers -> SGM; NULL when rest is not a resnet tensor. */
static const char *resnet_part(const char *rest, const char **tail) {
    static const struct { const char *d, *s; } map[] = {
        {"norm1.", "in_layers.0."},  {"conv1.", "in_layers.2."},  {"time_emb_proj.", "emb_layers.1."},
        {"norm2.", "out_layers.0."}, {"conv2.", "out_layers.3."}, {"conv_shortcut.", "skip_connection."},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].d);
        if (strncmp(rest, map[i].d, n) == 0) {
            *tail = rest + n;
            return map[i].s;
        }
    }
    return NULL;
}

/* out = SGM_PREFIX + block + ("resnet part" + tail | rest); false when it does not fit. */
static bool put(char *out, size_t cap, const char *block, const char *rest, bool resnet) {
    const char *part = "", *tail = rest;
    if (resnet && !(part = resnet_part(rest, &tail))) return false;
    int n = snprintf(out, cap, SGM_PREFIX "%s%s%s", block, part, tail);
    return n > 0 && (size_t)n < cap;
}

bool se_unet_sgm_name(const se_unet_config *c, const char *name, char *out, size_t cap) {
    static const struct { const char *d, *s; } fixed[] = {
        {"time_embedding.linear_1.", "time_embed.0."}, {"time_embedding.linear_2.", "time_embed.2."},
        {"add_embedding.linear_1.", "label_emb.0.0."}, {"add_embedding.linear_2.", "label_emb.0.2."},
        {"conv_in.", "input_blocks.0.0."},             {"conv_norm_out.", "out.0."},
        {"conv_out.", "out.2."},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        size_t n = strlen(fixed[i].d);
        if (strncmp(name, fixed[i].d, n) == 0) return put(out, cap, fixed[i].s, name + n, false);
    }
    const int L = c->layers[0]; /* the SGM numbering assumes the same count in every block */
    char blk[64];
    int i = 0, j = 0, pos = 0;
#define MATCH(fmt, ...) (pos = 0, sscanf(name, fmt "%n", __VA_ARGS__, &pos), pos > 0)
    if (MATCH("down_blocks.%d.resnets.%d.", &i, &j)) {
        snprintf(blk, sizeof blk, "input_blocks.%d.0.", (L + 1) * i + j + 1);
        return put(out, cap, blk, name + pos, true);
    }
    if (MATCH("down_blocks.%d.attentions.%d.", &i, &j)) {
        snprintf(blk, sizeof blk, "input_blocks.%d.1.", (L + 1) * i + j + 1);
        return put(out, cap, blk, name + pos, false);
    }
    if (MATCH("down_blocks.%d.downsamplers.0.conv.", &i)) {
        snprintf(blk, sizeof blk, "input_blocks.%d.0.op.", (L + 1) * (i + 1));
        return put(out, cap, blk, name + pos, false);
    }
    if (MATCH("mid_block.resnets.%d.", &j)) {
        snprintf(blk, sizeof blk, "middle_block.%d.", 2 * j);
        return put(out, cap, blk, name + pos, true);
    }
    if (MATCH("mid_block.attentions.%d.", &j)) return put(out, cap, "middle_block.1.", name + pos, false);
    if (MATCH("up_blocks.%d.resnets.%d.", &i, &j)) {
        snprintf(blk, sizeof blk, "output_blocks.%d.0.", (L + 1) * i + j);
        return put(out, cap, blk, name + pos, true);
    }
    if (MATCH("up_blocks.%d.attentions.%d.", &i, &j)) {
        snprintf(blk, sizeof blk, "output_blocks.%d.1.", (L + 1) * i + j);
        return put(out, cap, blk, name + pos, false);
    }
    if (MATCH("up_blocks.%d.upsamplers.0.conv.", &i)) {
        /* Slot 2 when the block has attention in slot 1, else slot 1. */
        bool attn = i >= 0 && i < c->nblocks && c->up_attn[i];
        snprintf(blk, sizeof blk, "output_blocks.%d.%d.conv.", (L + 1) * i + L, attn ? 2 : 1);
        return put(out, cap, blk, name + pos, false);
    }
#undef MATCH
    return false;
}
