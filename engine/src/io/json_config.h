/*
 * json_config.h - reading a model's config.json (diffusers / transformers style).
 *
 *   se_config *c; SE_TRY(se_config_open("/m/unet/config.json", &c));
 *   int64_t groups; SE_TRY(se_config_int(c, "norm_num_groups", 32, &groups));   // default 32
 *   int64_t ch[8]; size_t n;
 *   SE_TRY(se_config_int_array(c, "block_out_channels", true, 8, ch, &n, 0));
 *   se_config_close(&c);
 *
 * Each getter takes a default: SE_CONFIG_REQUIRED (for ints/floats) means the key must be there.
 * A key present with JSON null counts as absent (diffusers writes null for "use the default").
 * Errors are SE_ERR_CONFIG naming the file, the key, what was expected and what was found.
 */
#ifndef STRIKE_ENGINE_JSON_CONFIG_H
#define STRIKE_ENGINE_JSON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strike/engine.h"

typedef struct se_config se_config;

/* A default value meaning "no default: the key is required". */
#define SE_CONFIG_REQUIRED INT64_MIN

/* Reads and parses path (at most 16 MB). */
se_status se_config_open(const char *path, se_config **out);
/* Parses a JSON text (tests, built-in configs); name is used in messages. */
se_status se_config_parse(const char *name, const char *text, se_config **out);
void se_config_close(se_config **c);
const char *se_config_path(const se_config *c);

/* Is the key present and not null? */
bool se_config_has(const se_config *c, const char *key);
/* Integer (a JSON integer, or a real with an integral value). def may be SE_CONFIG_REQUIRED. */
se_status se_config_int(const se_config *c, const char *key, int64_t def, int64_t *out);
/* Number (integer or real). required: no default. */
se_status se_config_float(const se_config *c, const char *key, bool required, double def,
                          double *out);
se_status se_config_bool(const se_config *c, const char *key, bool required, bool def, bool *out);
/* String; *out points into the config (valid until close). def may be NULL (= required). */
se_status se_config_string(const se_config *c, const char *key, const char *def, const char **out);
/* Integer array of at most cap entries into out[], count in *n. If the key holds a single
 * integer, it is broadcast: out[0..bcast_n) all get it (bcast_n > 0 required for that, else an
 * error). Absent and !required: *n = 0. */
se_status se_config_int_array(const se_config *c, const char *key, bool required, size_t cap,
                              int64_t *out, size_t *n, size_t bcast_n);
/* String array, as int_array (no broadcast); pointers into the config. */
se_status se_config_string_array(const se_config *c, const char *key, size_t cap,
                                 const char **out, size_t *n);

#endif
