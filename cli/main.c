/*
 * main.c - `strike`, the command-line client of the Strike farm: dispatches to one command per
 * file (submit.c, watch.c, commands.c, keygen.c). It links no engine; it talks only to the coordinator.
 *
 * CURVE security options are global: --curve-server-key FILE and --curve-key FILE (or the
 * environment variables STRIKE_CURVE_SERVER_KEY / STRIKE_CURVE_KEY) are taken out of the arguments
 * here, wherever they appear before "--", and apply to every command's connection. They name files;
 * a key itself never appears in the arguments.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keygen.h"
#include "sf_log.h"
#include "sf_status.h"

volatile sig_atomic_t cli_interrupted;

static const char *g_curve_server_key; /* --curve-server-key FILE (coordinator's public key) */
static const char *g_curve_key;        /* --curve-key FILE (this client's key pair) */

static void on_sigint(int sig) {
    (void)sig;
    cli_interrupted = 1;
}

sc_client *cli_connect(const cli_opts *o) {
    const char *ep = o->coordinator && *o->coordinator ? o->coordinator : getenv("STRIKE_COORDINATOR");
    if (!ep || !*ep)
        ep = CLI_DEFAULT_COORDINATOR;
    char err[512];
    const char *sk = g_curve_server_key ? g_curve_server_key : getenv("STRIKE_CURVE_SERVER_KEY");
    const char *ck = g_curve_key ? g_curve_key : getenv("STRIKE_CURVE_KEY");
    sc_client *c = sc_client_new(ep, (int)o->timeout_ms, sk, ck, err, sizeof err);
    if (!c)
        fprintf(stderr, "strike: %s\n", err);
    return c;
}

int cli_exit_for(int status) {
    switch (status) {
    case SF_OK:
        return CLI_OK;
    case SF_ERR_TIMEOUT:
        return CLI_UNREACHABLE;
    case SF_ERR_NOT_FOUND:
        return CLI_NOT_FOUND;
    case SF_ERR_SHUTDOWN:
        return cli_interrupted ? CLI_INTERRUPTED : CLI_REFUSED;
    default:
        return CLI_REFUSED;
    }
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} k_commands[] = {
    {"submit", cli_submit, "submit FILE|-     send prompts (text or JSONL) as a new submission, print its id"},
    {"status", cli_status, "status [ID]       counts of one submission, or of all"},
    {"watch", cli_watch, "watch ID          live progress until the submission finishes"},
    {"workers", cli_workers, "workers           connected workers and coordinator counters"},
    {"cancel", cli_cancel, "cancel ID         stop dispatching a submission; queued jobs are cancelled"},
    {"retry", cli_retry, "retry ID          move dead jobs of a submission back to the queue"},
    {"delete", cli_delete, "delete ID         forget a finished submission (--force: cancel it first)"},
    {"results", cli_results, "results ID        recorded results as JSONL (manifest lines)"},
    {"keygen", cli_keygen, "keygen [--out P]  make a CURVE key pair P.key (secret) and P.pub (default P: strike)"},
};
#define N_COMMANDS (sizeof k_commands / sizeof k_commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: strike COMMAND [options] [args]   (strike COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %s\n", k_commands[i].help);
    fprintf(f, "\nThe coordinator is --coordinator ENDPOINT, else $STRIKE_COORDINATOR, else %s.\n"
               "Exit codes: 0 ok, 1 error, 2 usage, 3 bad input line, 4 coordinator unreachable (timeout),\n"
               "5 refused by the coordinator, 6 not found, 7 finished with dead/cancelled jobs, 130 interrupted.\n"
               "CURVE security (any command): --curve-server-key FILE --curve-key FILE, else\n"
               "$STRIKE_CURVE_SERVER_KEY and $STRIKE_CURVE_KEY (files from strike keygen).\n"
               "See docs/cli.md.\n",
            CLI_DEFAULT_COORDINATOR);
}

/* Take --curve-server-key / --curve-key (FILE or =FILE) out of argv[1..argc) (up to "--");
 * returns the new argc, or -1 after printing a usage error. */
static int take_curve_flags(int argc, char **argv) {
    int out = 1, in = 1;
    for (; in < argc; in++) {
        const char *a = argv[in];
        if (strcmp(a, "--") == 0)
            break;
        const char **dst = NULL;
        const char *val = NULL;
        static const struct {
            const char *name;
            size_t len;
        } k[2] = {{"--curve-server-key", 18}, {"--curve-key", 11}};
        for (int j = 0; j < 2 && !dst; j++) {
            if (strncmp(a, k[j].name, k[j].len) != 0 || (a[k[j].len] != '\0' && a[k[j].len] != '='))
                continue;
            dst = j == 0 ? &g_curve_server_key : &g_curve_key;
            if (a[k[j].len] == '=') {
                val = a + k[j].len + 1;
            } else if (in + 1 < argc) {
                val = argv[++in];
            } else {
                fprintf(stderr, "strike: %s needs a FILE\n", k[j].name);
                return -1;
            }
        }
        if (dst)
            *dst = val;
        else
            argv[out++] = argv[in];
    }
    for (; in < argc; in++)
        argv[out++] = argv[in];
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv) {
    sf_log_set_program("strike");
    sf_log_set_level(SF_LOG_WARN);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("strike 0.1.0\n");
        return CLI_OK;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    argc = take_curve_flags(argc, argv);
    if (argc < 0)
        return CLI_USAGE;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], k_commands[i].name) == 0)
            return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "strike: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
