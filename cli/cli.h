/*
 * cli.h - shared pieces of the `strike` commands: options, exit codes, connection set-up.
 *
 * Exit codes (docs/cli.md):
 *   0  success (watch: every job done)
 *   1  other error
 *   2  usage error (unknown flag, bad flag value, missing argument)
 *   3  bad input line (submit): accepted jobs are kept; fix the input and re-run to resume
 *   4  coordinator unreachable or silent (timeout)
 *   5  the coordinator refused the request (its message is printed)
 *   6  submission not found
 *   7  watch: the submission finished with dead or cancelled jobs
 *   130 interrupted (Ctrl-C)
 */
#ifndef STRIKE_CLI_CLI_H
#define STRIKE_CLI_CLI_H

#include <signal.h>

#include "client.h"

enum {
    CLI_OK = 0,
    CLI_ERR = 1,
    CLI_USAGE = 2,
    CLI_BAD_INPUT = 3,
    CLI_UNREACHABLE = 4,
    CLI_REFUSED = 5,
    CLI_NOT_FOUND = 6,
    CLI_INCOMPLETE = 7,
    CLI_INTERRUPTED = 130,
};

#define CLI_DEFAULT_COORDINATOR "tcp://127.0.0.1:7701"

/* Every option of every command; each command's table uses the fields it needs. */
typedef struct cli_opts {
    char *coordinator;      /* client endpoint; "" = $STRIKE_COORDINATOR or the default */
    long long timeout_ms;   /* longest wait for any reply */
    int json;               /* machine-readable output */
    /* submit */
    char *model;
    long long steps, width, height;
    char *seed;             /* base seed ("" = random) */
    long long priority;
    char *out;              /* output root ("" = the workers' --output-root) */
    char *prefix;           /* file name prefix */
    char *tags;             /* comma-separated */
    char *token;            /* client token ("" = derived from the input) */
    int fresh;              /* --new: never resume */
    int skip_invalid;       /* skip bad lines instead of stopping */
    char *format;           /* auto | text | jsonl */
    long long chunk_jobs;   /* jobs per chunk */
    long long window;       /* chunks in flight */
    int watch;              /* submit: watch after sealing */
    int progress;           /* progress bar on a terminal */
    /* status */
    long long limit;
    /* watch */
    long long interval_ms;
    /* results */
    long long page;
    /* delete */
    int force;              /* cancel first when jobs are still queued or leased */
} cli_opts;

extern volatile sig_atomic_t cli_interrupted;

/* Connect to the coordinator named by o (flag, else $STRIKE_COORDINATOR, else the default).
 * Prints the error and returns NULL on failure. */
sc_client *cli_connect(const cli_opts *o);

/* Exit code for an sf_status from a failed call. */
int cli_exit_for(int status);

/* The commands. argv[0] is the command name. */
int cli_submit(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_watch(int argc, char **argv);
int cli_workers(int argc, char **argv);
int cli_cancel(int argc, char **argv);
int cli_delete(int argc, char **argv);
int cli_retry(int argc, char **argv);
int cli_results(int argc, char **argv);

/* Watch a submission until it finishes (used by watch and submit --watch). */
int cli_watch_id(sc_client *c, const cli_opts *o, const char *id);

#endif
