/*
 * engine.c - engine selection for strike-worker: maps --engine KIND to a constructor. The null
 * engine is a test engine; cpu and cuda are the Lightning engine (engine_lightning.c).
 */
#include <stdio.h>
#include <string.h>

#include "engine_iface.h"
#include "engine_lightning.h"

sw_engine *sw_engine_create(const char *kind, const char *options, int gpu, char *err, size_t errlen) {
    if (!kind || !*kind) {
        snprintf(err, errlen, "no engine given: pass --engine null|cpu|cuda (null is a test engine)");
        return NULL;
    }
    if (gpu >= 0 && strcmp(kind, "cuda") != 0) {
        snprintf(err, errlen, "--gpu %d needs --engine cuda (engine %s runs on the CPU)", gpu, kind);
        return NULL;
    }
    if (strcmp(kind, "null") == 0)
        return sw_engine_null_create(options, err, errlen);
    if (strcmp(kind, "cpu") == 0 || strcmp(kind, "cuda") == 0)
        return sw_engine_lightning_create(kind, options, gpu, err, errlen);
    snprintf(err, errlen, "unknown engine \"%s\" (known: null, cpu, cuda)", kind);
    return NULL;
}

void sw_engine_destroy(sw_engine **e) {
    if (!e || !*e)
        return;
    (*e)->ops->destroy(*e);
    *e = NULL;
}
