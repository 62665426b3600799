/*
 * args.h - option parsing of the `strike` commands on top of the settings table (sf_config):
 * flags and positional arguments may come in any order; `--` ends the flags.
 */
#ifndef STRIKE_CLI_ARGS_H
#define STRIKE_CLI_ARGS_H

#include <stddef.h>

#include "cli.h"
#include "sf_config.h"

/* The options every command has. */
#define CLI_COMMON_OPTIONS                                                                                    \
    {"coordinator", SF_CFG_STRING, offsetof(cli_opts, coordinator), "",                                      \
     "coordinator client endpoint (default: $STRIKE_COORDINATOR, else " CLI_DEFAULT_COORDINATOR ")"},        \
        {"timeout-ms", SF_CFG_INT, offsetof(cli_opts, timeout_ms), "10000",                                  \
         "longest wait for the coordinator's answer; then exit 4"},                                          \
        {"json", SF_CFG_BOOL, offsetof(cli_opts, json), "false", "machine-readable JSON output"}

/*
 * Parse argv (argv[0] = command name) into o. Positional arguments are returned in pos[0..*npos)
 * (at most maxpos; more is a usage error). Returns -1 after printing --help (exit 0), 0 when fine,
 * or CLI_USAGE after printing the error.
 */
int cli_parse(const sf_cfg_entry *t, size_t n, cli_opts *o, int argc, char **argv, const char *usage,
              const char *about, char **pos, int maxpos, int *npos);

void cli_opts_free(const sf_cfg_entry *t, size_t n, cli_opts *o);

#endif
