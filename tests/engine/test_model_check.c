/*
 * test_model_check.c - se_model_check (strike/engine.h): a model is checked without loading its
 * weights, through the loaders' own tables.
 *
 *   - the tiny random model (se_make_random_model) checks out, and so does it with a Lightning
 *     UNet file given separately;
 *   - the fixtures' SGM single-file checkpoint over a base folder of the fixtures' configs, and
 *     a PEFT and a kohya LoRA over it, check out;
 *   - failures name the model, the file and the tensor: a checkpoint whose UNet the base's
 *     config does not describe, a LoRA matching nothing in the model, a missing folder, a
 *     missing tokenizer, a missing UNet file, a NULL description;
 *   - the SGM checkpoint with one text-encoder tensor (CLIP-L fc1) or one VAE tensor (conv_in)
 *     given a mis-shaped header entry (same bytes, dims swapped): refused, the message naming
 *     the checkpoint file, the diffusers tensor name and its SGM name (never /proc/self/fd/N);
 *   - checking the SGM checkpoint writes no tensor bytes into weight images
 *     (se_sf_image_data_bytes unchanged: its text encoders and VAE get header-only images),
 *     while loading the same networks (se_sf_load_desc on the CPU) writes them (so the counter
 *     counts: the old check wrote exactly those bytes).
 * (That no weights are read is by construction: the check backend refuses the weights'
 * allocation and fails any copy, so a loader that read data would fail the check.)
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/backend_cpu.h"
#include "io/single_file.h"
#include "pipeline/tiny_model.h"
#include "strike/engine.h"
#include "test_util.h"

#define FIX STRIKE_FIXTURES_DIR
#define SGM FIX "/formats/tiny_sgm.safetensors"

static int has(const char *s) { return strstr(se_last_error(), s) != NULL; }

/* dir/name -> target symlink. */
static void link_to(const char *dir, const char *name, const char *target) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK_MSG(symlink(target, p) == 0, "symlink %s", p);
}

/* Copies the safetensors file src to dst with tensor key's shape dims swapped (d0 <-> d1; the
 * byte count stays, so the header stays valid). Returns 0 on success. */
static int swap_dims_copy(const char *src, const char *dst, const char *key) {
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    uint8_t l8[8];
    int rc = -1;
    char *hdr = NULL, *out = NULL;
    uint8_t *data = NULL;
    json_t *root = NULL;
    if (fread(l8, 1, 8, f) != 8) goto done;
    uint64_t n = 0;
    for (int b = 7; b >= 0; b--) n = n << 8 | l8[b];
    if (n > 100000000) goto done;
    hdr = malloc(n + 1);
    if (!hdr || fread(hdr, 1, n, f) != n) goto done;
    hdr[n] = '\0';
    long at = ftell(f);
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fseek(f, at, SEEK_SET);
    size_t dn = (size_t)(end - at);
    data = malloc(dn ? dn : 1);
    if (!data || fread(data, 1, dn, f) != dn) goto done;
    root = json_loads(hdr, 0, NULL);
    json_t *shape = root ? json_object_get(json_object_get(root, key), "shape") : NULL;
    if (!shape || json_array_size(shape) < 2) goto done;
    json_t *a = json_incref(json_array_get(shape, 0)), *b = json_incref(json_array_get(shape, 1));
    json_array_set_new(shape, 0, b);
    json_array_set_new(shape, 1, a);
    out = json_dumps(root, JSON_COMPACT);
    if (!out) goto done;
    size_t hl = strlen(out);
    FILE *g = fopen(dst, "wb");
    if (!g) goto done;
    for (int k = 0; k < 8; k++) l8[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    int ok = fwrite(l8, 1, 8, g) == 8 && fwrite(out, 1, hl, g) == hl && fwrite(data, 1, dn, g) == dn;
    rc = fclose(g) == 0 && ok ? 0 : -1;
done:
    fclose(f);
    json_decref(root);
    free(hdr);
    free(out);
    free(data);
    return rc;
}

int main(void) {
    char tmp[] = "/tmp/strike-model-check-XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    char tiny[600], base[600], p[700];
    snprintf(tiny, sizeof tiny, "%s/tiny", tmp);
    snprintf(base, sizeof base, "%s/base", tmp);
    CHECK_MSG(se_make_random_model(tiny, SE_GEN_TINY, 1) == SE_OK, "tiny model: %s", se_last_error());

    se_model_desc d;
    se_model_desc_init(&d);
    d.name = "tiny";
    d.base_dir = tiny;
    CHECK_MSG(se_model_check(&d) == SE_OK, "tiny model: %s", se_last_error());
    snprintf(p, sizeof p, "%s/unet/diffusion_pytorch_model.safetensors", tiny);
    d.unet_file = p;
    CHECK_MSG(se_model_check(&d) == SE_OK, "tiny model + unet file: %s", se_last_error());

    d.unet_file = NULL;

    /* the fixtures' SGM checkpoint over a base folder of the fixtures' configs */
    CHECK(mkdir(base, 0755) == 0);
    link_to(base, "unet", FIX "/unet/tiny/unet");
    link_to(base, "text_encoder", FIX "/clip/text_encoder");
    link_to(base, "text_encoder_2", FIX "/clip/text_encoder_2");
    link_to(base, "vae", FIX "/vae/tiny");
    snprintf(p, sizeof p, "%s/tokenizer", tiny);
    link_to(base, "tokenizer", p);
    snprintf(p, sizeof p, "%s/tokenizer_2", tiny);
    link_to(base, "tokenizer_2", p);
    se_model_desc_init(&d);
    d.name = "fx";
    d.base_dir = base;
    CHECK_MSG(se_model_check(&d) == SE_OK, "fixture base: %s", se_last_error());
    d.checkpoint_file = SGM;
    uint64_t image_bytes0 = se_sf_image_data_bytes();
    CHECK_MSG(se_model_check(&d) == SE_OK, "SGM checkpoint: %s", se_last_error());
    /* no tensor bytes copied into images: the text encoders and VAE get header-only images */
    uint64_t image_bytes1 = se_sf_image_data_bytes();
    printf("SGM checkpoint check: %llu tensor bytes written into weight images\n",
           (unsigned long long)(image_bytes1 - image_bytes0));
    CHECK(image_bytes1 == image_bytes0);
    {   /* a load of the same networks does write them (what the check wrote before) */
        se_cpu_params cp;
        se_cpu_params_init(&cp);
        cp.threads = 1;
        se_backend *be = NULL;
        CHECK(se_backend_cpu_new(&cp, &be) == SE_OK);
        se_unet *u = NULL;
        se_clip *c1 = NULL, *c2 = NULL;
        se_vae *v = NULL;
        CHECK_MSG(be && se_sf_load_desc(&d, be, &u, &c1, &c2, &v) == SE_OK, "SGM load: %s", se_last_error());
        uint64_t loaded = se_sf_image_data_bytes() - image_bytes1;
        printf("SGM checkpoint load: %llu tensor bytes written into weight images\n", (unsigned long long)loaded);
        CHECK(loaded > 100000);
        se_unet_destroy(&u);
        se_clip_destroy(&c1);
        se_clip_destroy(&c2);
        se_vae_destroy(&v);
        se_backend_destroy(&be);
    }
    /* a mis-shaped text-encoder / VAE tensor in the checkpoint: refused, naming the checkpoint,
     * the tensor and its SGM name */
    static const struct {
        const char *sgm, *diffusers, *file;
    } bent[] = {
        {"conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight",
         "text_model.encoder.layers.0.mlp.fc1.weight", "bent_te.safetensors"},
        {"first_stage_model.decoder.conv_in.weight", "decoder.conv_in.weight", "bent_vae.safetensors"},
    };
    for (size_t k = 0; k < sizeof bent / sizeof bent[0]; k++) {
        char bp[700], want[900];
        snprintf(bp, sizeof bp, "%s/%s", tmp, bent[k].file);
        CHECK_MSG(swap_dims_copy(SGM, bp, bent[k].sgm) == 0, "writing %s", bp);
        d.checkpoint_file = bp;
        se_status bst = se_model_check(&d);
        printf("mis-shaped %s: %s\n", bent[k].sgm, se_last_error());
        snprintf(want, sizeof want, "tensor %s: expected", bent[k].diffusers);
        CHECK(bst == SE_ERR_SHAPE && has("model fx") && has(want) && has(bp) && has(bent[k].sgm) &&
              !has("/proc/self/fd"));
    }
    d.checkpoint_file = NULL;
    d.lora_file = FIX "/formats/lora_peft.safetensors";
    CHECK_MSG(se_model_check(&d) == SE_OK, "PEFT LoRA: %s", se_last_error());
    d.lora_file = FIX "/formats/lora_kohya_sgm.safetensors";
    CHECK_MSG(se_model_check(&d) == SE_OK, "kohya LoRA: %s", se_last_error());

    /* failures */
    se_model_desc_init(&d);
    d.name = "mixed";
    d.base_dir = tiny;
    d.checkpoint_file = SGM; /* the fixture's networks are not the tiny model's shapes */
    se_status st = se_model_check(&d);
    printf("checkpoint for another config: %s\n", se_last_error());
    CHECK(st != SE_OK && has("model mixed") && (has("expected") || has("missing tensor")));
    d.checkpoint_file = NULL;
    d.lora_file = FIX "/formats/lora_peft.safetensors";
    st = se_model_check(&d);
    printf("LoRA for another model: %s\n", se_last_error());
    CHECK(st != SE_OK && has("model mixed"));
    d.lora_file = NULL;
    d.unet_file = "/nonexistent/sdxl_lightning_4step_unet.safetensors";
    st = se_model_check(&d);
    CHECK(st == SE_ERR_IO && has("/nonexistent/sdxl_lightning_4step_unet.safetensors"));
    d.unet_file = NULL;
    d.base_dir = "/nonexistent/model";
    st = se_model_check(&d);
    CHECK(st == SE_ERR_IO && has("/nonexistent/model") && has("model mixed"));
    snprintf(p, sizeof p, "%s/tokenizer_2/vocab.json", tiny);
    CHECK(unlink(p) == 0);
    d.base_dir = tiny;
    st = se_model_check(&d);
    printf("missing tokenizer file: %s\n", se_last_error());
    CHECK(st != SE_OK && has("tokenizer_2/vocab.json"));
    CHECK(se_model_check(NULL) == SE_ERR_INVALID_ARG);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("could not remove %s\n", tmp);
    return test_report("engine_model_check");
}
