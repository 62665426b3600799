/*
 * test_worker_null.c - unit test of the worker's null test engine: determinism, sensitivity to
 * prompt and seed, image size rule, batch independence, the fail option and bad options.
 * (Engine selection, e.g. the refusal to start without --engine, is covered by farm_bad_input.)
 */
#include <stdlib.h>
#include <string.h>

#include "engine_iface.h"
#include "test_util.h"

int main(void) {
    char err[256];
    CHECK(sw_engine_null_create("bogus=1", err, sizeof err) == NULL && strstr(err, "bogus"));
    CHECK(sw_engine_null_create("scale=0", err, sizeof err) == NULL);
    CHECK(sw_engine_null_create("delay_ms", err, sizeof err) == NULL && strstr(err, "key=value"));

    sw_engine *e = sw_engine_null_create("fail=BOOM", err, sizeof err);
    CHECK(e != NULL);
    if (!e)
        return test_report("test_worker_null");
    sw_job jobs[4] = {
        {"a cat", 5, 42, 4, 1024, 1024, "m"},
        {"a cat", 5, 43, 4, 1024, 1024, "m"},
        {"a dog", 5, 42, 4, 512, 768, "m"},
        {"BOOM now", 8, 1, 4, 64, 64, "m"},
    };
    sw_image out[4], again[4];
    CHECK(e->ops->render(e, jobs, 4, out) == 0);
    CHECK(out[0].status == 0 && out[0].width == 64 && out[0].height == 64 && out[0].rgb);
    CHECK(out[2].status == 0 && out[2].width == 32 && out[2].height == 48);
    CHECK(out[3].status != 0 && strstr(out[3].error, "BOOM") && out[3].rgb == NULL);
    size_t n0 = 64 * 64 * 3;
    unsigned char *copy0 = malloc(n0), *copy1 = malloc(n0), *copy2 = malloc(32 * 48 * 3);
    memcpy(copy0, out[0].rgb, n0);
    memcpy(copy1, out[1].rgb, n0);
    memcpy(copy2, out[2].rgb, 32 * 48 * 3);
    CHECK(memcmp(copy0, copy1, n0) != 0); /* another seed, another image */
    CHECK(e->ops->render(e, jobs, 3, again) == 0);
    CHECK(memcmp(again[0].rgb, copy0, n0) == 0 && memcmp(again[1].rgb, copy1, n0) == 0 &&
          memcmp(again[2].rgb, copy2, 32 * 48 * 3) == 0); /* deterministic */
    /* Batch independence: a job renders the same alone. */
    CHECK(e->ops->render(e, &jobs[1], 1, again) == 0 && memcmp(again[0].rgb, copy1, n0) == 0);
    free(copy0);
    free(copy1);
    free(copy2);
    e->ops->destroy(e);
    return test_report("test_worker_null");
}
