/*
 * test_specs_api.c - the public model-spec calls of strike/engine.h (what strike-worker and
 * strike-render use; this file includes no engine-internal header):
 *   - se_model_make_random writes the tiny model; an unknown preset is refused, naming it;
 *   - a models config loads; count/at/find/name agree; NULLs are harmless;
 *   - check_steps resolves 0 to default_steps and refuses an unlisted count with the message;
 *   - check_files names a missing file; to_desc fills the description (paths resolved);
 *   - se_model_desc_hash of a folder model equals se_model_spec_hash of a spec naming the same
 *     files, and changes with the files named (a UNet file) and the prediction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strike/engine.h"
#include "test_util.h"

static int has(const char *s) { return strstr(se_last_error(), s) != NULL; }

int main(void) {
    char tmp[] = "/tmp/strike-specs-api-XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    char tiny[600], cfg[600], p[700];
    snprintf(tiny, sizeof tiny, "%s/tiny", tmp);
    snprintf(cfg, sizeof cfg, "%s/models.json", tmp);
    CHECK(se_model_make_random(tiny, "huge", 1) == SE_ERR_INVALID_ARG && has("\"huge\""));
    CHECK_MSG(se_model_make_random(tiny, "tiny", 1) == SE_OK, "tiny model: %s", se_last_error());

    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (!f) return test_report("engine_specs_api");
    fprintf(f, "{\"models\": [{\"name\": \"t-odd\", \"base\": \"tiny\", \"steps\": [3, 5], "
               "\"default_steps\": 5},\n"
               " {\"name\": \"t-unet\", \"base\": \"tiny\", \"unet\": "
               "\"tiny/unet/diffusion_pytorch_model.safetensors\", \"steps\": [4], \"prediction\": \"sample\"},\n"
               " {\"name\": \"t-gone\", \"base\": \"tiny\", \"vae\": \"no-such-vae\", \"steps\": [4]}]}\n");
    fclose(f);
    se_model_specs *ms = NULL;
    CHECK_MSG(se_model_specs_load(cfg, &ms) == SE_OK, "load: %s", se_last_error());
    CHECK(se_model_specs_count(ms) == 3);
    CHECK(se_model_specs_count(NULL) == 0 && se_model_specs_at(NULL, 0) == NULL &&
          se_model_specs_find(NULL, "x") == NULL && se_model_specs_find(ms, NULL) == NULL);
    CHECK(se_model_specs_at(ms, 3) == NULL && se_model_specs_find(ms, "nope") == NULL);
    const se_model_spec *odd = se_model_specs_find(ms, "t-odd");
    const se_model_spec *un = se_model_specs_find(ms, "t-unet");
    const se_model_spec *gone = se_model_specs_find(ms, "t-gone");
    CHECK(odd && un && gone && odd == se_model_specs_at(ms, 0) && gone == se_model_specs_at(ms, 2));
    if (!odd || !un || !gone) return test_report("engine_specs_api");
    CHECK(strcmp(se_model_spec_name(odd), "t-odd") == 0 && strcmp(se_model_spec_name(gone), "t-gone") == 0);

    int steps = -1;
    CHECK(se_model_spec_check_steps(odd, 0, &steps) == SE_OK && steps == 5);
    CHECK(se_model_spec_check_steps(odd, 3, &steps) == SE_OK && steps == 3);
    CHECK(se_model_spec_check_steps(odd, 4, &steps) == SE_ERR_INVALID_ARG && has("t-odd") && has("4"));
    printf("unlisted steps: %s\n", se_last_error());
    CHECK_MSG(se_model_spec_check_files(odd) == SE_OK, "%s", se_last_error());
    CHECK(se_model_spec_check_files(gone) == SE_ERR_IO && has("no-such-vae"));

    se_model_desc d;
    se_model_desc_init(&d);
    se_model_spec_to_desc(un, &d);
    snprintf(p, sizeof p, "%s/tiny/unet/diffusion_pytorch_model.safetensors", tmp);
    CHECK(d.base_dir && strcmp(d.base_dir, tiny) == 0 && d.unet_file && strcmp(d.unet_file, p) == 0);
    CHECK(d.prediction == SE_MODEL_PRED_SAMPLE && d.checkpoint_file == NULL && d.lora_file == NULL);

    /* a folder model hashes as a spec naming the same files */
    char hs[SE_MODEL_HASH_LEN + 1], hd[SE_MODEL_HASH_LEN + 1], ho[SE_MODEL_HASH_LEN + 1];
    CHECK(se_model_spec_hash(un, hs) == SE_OK && strlen(hs) == SE_MODEL_HASH_LEN);
    se_model_desc fd;
    se_model_desc_init(&fd);
    fd.name = "another name"; /* names are not hashed */
    fd.base_dir = tiny;
    fd.unet_file = p;
    fd.prediction = SE_MODEL_PRED_SAMPLE;
    CHECK(se_model_desc_hash(&fd, hd) == SE_OK);
    CHECK_MSG(strcmp(hs, hd) == 0, "spec %s, folder %s", hs, hd);
    CHECK(se_model_spec_hash(odd, ho) == SE_OK);
    fd.unet_file = NULL;
    fd.prediction = SE_MODEL_PRED_AUTO; /* counts as epsilon, as odd's default */
    CHECK(se_model_desc_hash(&fd, hd) == SE_OK && strcmp(hd, ho) == 0 && strcmp(hd, hs) != 0);
    fd.prediction = SE_MODEL_PRED_SAMPLE;
    CHECK(se_model_desc_hash(&fd, hd) == SE_OK && strcmp(hd, ho) != 0);
    CHECK(se_model_desc_hash(NULL, hd) == SE_ERR_INVALID_ARG);

    se_model_specs_free(&ms);
    CHECK(ms == NULL);
    se_model_specs_free(&ms);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("could not remove %s\n", tmp);
    return test_report("engine_specs_api");
}
