/* sf_config.c - table-driven config file and flag parsing (see sf_config.h). */
#include "sf_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Compare names treating '-' and '_' as equal; `klen` bytes of key against the whole name. */
static int name_eq(const char *name, const char *key, size_t klen) {
  size_t i = 0;
  for (; i < klen && name[i]; i++) {
    char a = name[i] == '_' ? '-' : name[i];
    char b = key[i] == '_' ? '-' : key[i];
    if (a != b) return 0;
  }
  return i == klen && name[i] == '\0';
}

static const sf_cfg_entry *find(const sf_cfg_entry *t, size_t n, const char *key, size_t klen) {
  for (size_t i = 0; i < n; i++)
    if (name_eq(t[i].name, key, klen)) return &t[i];
  return NULL;
}

static int parse_bool(const char *v, int *out) {
  static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0) { *out = 1; return 0; }
    if (strcasecmp(v, no[i]) == 0) { *out = 0; return 0; }
  }
  return -1;
}

/* Store a value into the field described by e. */
static sf_status store(const sf_cfg_entry *e, void *cfg, const char *v, char *err, size_t errlen) {
  char *field = (char *)cfg + e->offset;
  char *end = NULL;
  if (!v) v = "";
  switch (e->type) {
  case SF_CFG_STRING: {
    char *copy = strdup(v);
    if (!copy) return SF_ERR_NO_MEMORY;
    free(*(char **)field);
    *(char **)field = copy;
    return SF_OK;
  }
  case SF_CFG_INT: {
    errno = 0;
    long long x = strtoll(v, &end, 0);
    if (errno || end == v || *end) goto bad;
    *(long long *)field = x;
    return SF_OK;
  }
  case SF_CFG_UINT: {
    errno = 0;
    if (*v == '-') goto bad;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end) goto bad;
    *(unsigned long long *)field = x;
    return SF_OK;
  }
  case SF_CFG_BOOL: {
    int b;
    if (parse_bool(v, &b)) goto bad;
    *(int *)field = b;
    return SF_OK;
  }
  case SF_CFG_DOUBLE: {
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) goto bad;
    *(double *)field = x;
    return SF_OK;
  }
  }
bad:
  set_err(err, errlen, "bad value for %s: \"%s\"", e->name, v);
  return SF_ERR_CONFIG;
}

sf_status sf_config_defaults(const sf_cfg_entry *t, size_t n, void *cfg, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    const char *d = t[i].def;
    if (!d) d = t[i].type == SF_CFG_STRING ? "" : "0";
    sf_status s = store(&t[i], cfg, d, err, errlen);
    if (s) return s;
  }
  return SF_OK;
}

sf_status sf_config_set(const sf_cfg_entry *t, size_t n, void *cfg, const char *key,
                        const char *value, char *err, size_t errlen) {
  const sf_cfg_entry *e = find(t, n, key, strlen(key));
  if (!e) {
    set_err(err, errlen, "unknown setting \"%s\"", key);
    return SF_ERR_CONFIG;
  }
  return store(e, cfg, value, err, errlen);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t l = strlen(s);
  while (l && isspace((unsigned char)s[l - 1])) s[--l] = '\0';
  return s;
}

sf_status sf_config_load_file(const sf_cfg_entry *t, size_t n, void *cfg, const char *path,
                              char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    set_err(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
    return SF_ERR_CONFIG;
  }
  char line[4096];
  int lineno = 0;
  sf_status st = SF_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t l = strlen(line);
    if (l == sizeof line - 1 && line[l - 1] != '\n') {
      set_err(err, errlen, "%s:%d: line too long", path, lineno);
      st = SF_ERR_CONFIG;
      break;
    }
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      set_err(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
      st = SF_ERR_CONFIG;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
      val[vl - 1] = '\0';
      val++;
    }
    char e2[256];
    st = sf_config_set(t, n, cfg, key, val, e2, sizeof e2);
    if (st) {
      set_err(err, errlen, "%s:%d: %s", path, lineno, e2);
      break;
    }
  }
  fclose(f);
  return st;
}

sf_status sf_config_parse(const sf_cfg_entry *t, size_t n, void *cfg, int argc, char **argv,
                          sf_cfg_parse *p, char *err, size_t errlen) {
  p->help = 0;
  p->first_arg = argc;
  sf_status st = sf_config_defaults(t, n, cfg, err, errlen);
  if (st) return st;
  /* Pass 1: --help and --config, so that flags override the file wherever they appear. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] != '-') break;
    if (strcmp(a, "--help") == 0) {
      sf_config_print_help(stdout, t, n, p->program, p->usage);
      p->help = 1;
      return SF_OK;
    }
    const char *path = NULL;
    if (strncmp(a, "--config=", 9) == 0) path = a + 9;
    else if (strcmp(a, "--config") == 0) {
      if (i + 1 >= argc) {
        set_err(err, errlen, "--config needs a file name");
        return SF_ERR_CONFIG;
      }
      path = argv[++i];
    } else if (!strchr(a, '=') && i + 1 < argc) {
      const sf_cfg_entry *e = find(t, n, a + 2, strlen(a + 2));
      if (e && e->type != SF_CFG_BOOL) i++; /* skip the value */
    }
    if (path) {
      st = sf_config_load_file(t, n, cfg, path, err, errlen);
      if (st) return st;
    }
  }
  /* Pass 2: flags. */
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] != '-' || a[2] == '\0') break;
    const char *name = a + 2;
    if (strncmp(name, "config", 6) == 0 && (name[6] == '\0' || name[6] == '=')) {
      if (name[6] == '\0') i++;
      continue;
    }
    const char *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    const sf_cfg_entry *e = find(t, n, name, nl);
    const char *val = eq ? eq + 1 : NULL;
    if (!e && !eq && strncmp(name, "no-", 3) == 0) {
      e = find(t, n, name + 3, nl - 3);
      if (e && e->type == SF_CFG_BOOL) val = "false";
      else e = NULL;
    }
    if (!e) {
      set_err(err, errlen, "unknown flag --%.*s (see --help)", (int)nl, name);
      return SF_ERR_CONFIG;
    }
    if (!val) {
      if (e->type == SF_CFG_BOOL) val = "true";
      else if (i + 1 < argc) val = argv[++i];
      else {
        set_err(err, errlen, "flag --%s needs a value", e->name);
        return SF_ERR_CONFIG;
      }
    }
    st = store(e, cfg, val, err, errlen);
    if (st) return st;
  }
  p->first_arg = i;
  return SF_OK;
}

static const char *type_name(sf_cfg_type ty) {
  switch (ty) {
  case SF_CFG_STRING: return "TEXT";
  case SF_CFG_INT: return "INT";
  case SF_CFG_UINT: return "N";
  case SF_CFG_BOOL: return "BOOL";
  case SF_CFG_DOUBLE: return "NUM";
  }
  return "?";
}

void sf_config_print_help(FILE *f, const sf_cfg_entry *t, size_t n, const char *program,
                          const char *usage) {
  fprintf(f, "usage: %s %s\n\noptions (also settable as \"key = value\" in --config FILE):\n",
          program ? program : "strike", usage ? usage : "[options]");
  fprintf(f, "  --help                          print this help and exit\n");
  fprintf(f, "  --config FILE                   read settings from FILE (flags override it)\n");
  for (size_t i = 0; i < n; i++) {
    char left[96];
    snprintf(left, sizeof left, "--%s %s", t[i].name, type_name(t[i].type));
    fprintf(f, "  %-31s %s (default: %s)\n", left, t[i].help ? t[i].help : "",
            t[i].def && *t[i].def ? t[i].def : "\"\"");
  }
}

void sf_config_print(FILE *f, const sf_cfg_entry *t, size_t n, const void *cfg) {
  for (size_t i = 0; i < n; i++) {
    const char *field = (const char *)cfg + t[i].offset;
    fprintf(f, "# %s\n%s = ", t[i].help ? t[i].help : "", t[i].name);
    switch (t[i].type) {
    case SF_CFG_STRING: {
      const char *s = *(char *const *)field;
      fprintf(f, "%s\n", s ? s : "");
      break;
    }
    case SF_CFG_INT: fprintf(f, "%lld\n", *(const long long *)field); break;
    case SF_CFG_UINT: fprintf(f, "%llu\n", *(const unsigned long long *)field); break;
    case SF_CFG_BOOL: fprintf(f, "%s\n", *(const int *)field ? "true" : "false"); break;
    case SF_CFG_DOUBLE: fprintf(f, "%g\n", *(const double *)field); break;
    }
  }
}

void sf_config_free(const sf_cfg_entry *t, size_t n, void *cfg) {
  for (size_t i = 0; i < n; i++) {
    if (t[i].type != SF_CFG_STRING) continue;
    char **field = (char **)((char *)cfg + t[i].offset);
    free(*field);
    *field = NULL;
  }
}
