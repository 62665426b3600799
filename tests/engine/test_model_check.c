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
 *     missing tokenizer, a missing UNet file, a NULL description.
 * (That no weights are read is by construction: the check backend refuses the weights'
 * allocation and fails any copy, so a loader that read data would fail the check.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    CHECK_MSG(se_model_check(&d) == SE_OK, "SGM checkpoint: %s", se_last_error());
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
