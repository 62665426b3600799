/*
 * args.c - flag / positional split and parsing for the `strike` commands (see args.h).
 */
#include "args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 if --name (without "=value") takes the next argument as its value. */
static int takes_value(const sf_cfg_entry *t, size_t n, const char *name) {
    if (strcmp(name, "config") == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const char *a = t[i].name, *b = name;
        while (*a && *b && (*a == *b || ((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return t[i].type != SF_CFG_BOOL;
    }
    return 0;
}

int cli_parse(const sf_cfg_entry *t, size_t n, cli_opts *o, int argc, char **argv, const char *usage,
              const char *about, char **pos, int maxpos, int *npos) {
    /* Rebuild argv as: command, flags..., "--", positionals... */
    char **v = calloc((size_t)argc + 2, sizeof *v);
    char **p = calloc((size_t)argc + 1, sizeof *p);
    int nv = 0, np = 0, rc = 0;
    if (!v || !p) {
        free(v);
        free(p);
        return CLI_ERR;
    }
    v[nv++] = argv[0];
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            v[nv++] = argv[i];
            if (!strchr(a, '=') && takes_value(t, n, a + 2) && i + 1 < argc)
                v[nv++] = argv[++i];
        } else {
            p[np++] = argv[i];
        }
    }
    for (; i < argc; i++)
        p[np++] = argv[i];
    v[nv++] = (char *)"--";

    char err[512] = "";
    char program[64];
    snprintf(program, sizeof program, "strike %s", argv[0]);
    sf_cfg_parse cp = {.program = program, .usage = usage};
    memset(o, 0, sizeof *o);
    if (sf_config_parse(t, n, o, nv, v, &cp, err, sizeof err) != SF_OK) {
        fprintf(stderr, "strike %s: %s\n", argv[0], err);
        rc = CLI_USAGE;
    } else if (cp.help) {
        if (about)
            printf("\n%s\n", about);
        rc = -1;
    } else if (np > maxpos) {
        fprintf(stderr, "strike %s: unexpected argument \"%s\" (see strike %s --help)\n", argv[0], p[maxpos],
                argv[0]);
        rc = CLI_USAGE;
    } else {
        for (int k = 0; k < np; k++)
            pos[k] = p[k];
        *npos = np;
    }
    if (rc == 0 && o->timeout_ms < 1) {
        fprintf(stderr, "strike %s: --timeout-ms must be at least 1\n", argv[0]);
        rc = CLI_USAGE;
    }
    free(v);
    free(p);
    return rc;
}

void cli_opts_free(const sf_cfg_entry *t, size_t n, cli_opts *o) { sf_config_free(t, n, o); }
