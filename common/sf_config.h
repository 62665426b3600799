/* sf_config.h - configuration as a table: every setting is one row (name, type, field, default,
 * help) that serves the config file ("key = value" lines), the command-line flag (--key VALUE,
 * --key=VALUE, --key / --no-key for booleans) and the --help text alike.
 *
 * Order of precedence: built-in default < config file (--config PATH) < flags. In the file and on
 * the command line '-' and '_' in names are the same. Lines starting with '#' are comments. */
#ifndef STRIKE_SF_CONFIG_H
#define STRIKE_SF_CONFIG_H
#include <stddef.h>
#include <stdio.h>

#include "sf_status.h"

typedef enum sf_cfg_type {
  SF_CFG_STRING = 0,  /* char * field, owned by the struct (strdup); free with sf_config_free */
  SF_CFG_INT = 1,     /* long long field */
  SF_CFG_UINT = 2,    /* unsigned long long field */
  SF_CFG_BOOL = 3,    /* int field, 0 or 1 ("true/false/yes/no/on/off/1/0") */
  SF_CFG_DOUBLE = 4,  /* double field */
} sf_cfg_type;

typedef struct sf_cfg_entry {
  const char *name;   /* key and flag name, e.g. "worker-endpoint" */
  sf_cfg_type type;
  size_t offset;      /* offsetof(struct, field) */
  const char *def;    /* default value as text (NULL = empty string / 0) */
  const char *help;   /* one line for --help and the docs */
} sf_cfg_entry;

/* Results of sf_config_parse beyond the status. */
typedef struct sf_cfg_parse {
  const char *program;  /* in: shown in --help */
  const char *usage;    /* in: text after the program name in --help, e.g. "[options]" */
  int first_arg;        /* out: index of the first positional argument (argc if none) */
  int help;             /* out: 1 if --help was given (help was printed to stdout) */
} sf_cfg_parse;

/* Set every field to its default. Returns SF_ERR_CONFIG if a default does not parse (a bug). */
sf_status sf_config_defaults(const sf_cfg_entry *t, size_t n, void *cfg, char *err, size_t errlen);

/* Set one key from text. SF_ERR_CONFIG (message in err) for an unknown key or a bad value. */
sf_status sf_config_set(const sf_cfg_entry *t, size_t n, void *cfg, const char *key,
                        const char *value, char *err, size_t errlen);

/* Read "key = value" lines from a file (values may be quoted with "..."). Errors name the file and
 * line. */
sf_status sf_config_load_file(const sf_cfg_entry *t, size_t n, void *cfg, const char *path,
                              char *err, size_t errlen);

/* Defaults, then --config FILE (if any), then flags. Parsing stops at the first argument that is
 * not a flag, or after "--". */
sf_status sf_config_parse(const sf_cfg_entry *t, size_t n, void *cfg, int argc, char **argv,
                          sf_cfg_parse *p, char *err, size_t errlen);

/* Print every flag with its type, default and help. */
void sf_config_print_help(FILE *f, const sf_cfg_entry *t, size_t n, const char *program,
                          const char *usage);

/* Print the current values as a config file ("key = value" with help as comments). */
void sf_config_print(FILE *f, const sf_cfg_entry *t, size_t n, const void *cfg);

/* Free the string fields (safe to call twice: pointers are set to NULL). */
void sf_config_free(const sf_cfg_entry *t, size_t n, void *cfg);

#endif
