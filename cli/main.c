/*
 * main.c - `strike`, the command-line client of the Strike farm: dispatches to one command per
 * file (submit.c, watch.c, commands.c). It links no engine; it talks only to the coordinator.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sf_log.h"
#include "sf_status.h"

volatile sig_atomic_t cli_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    cli_interrupted = 1;
}

sc_client *cli_connect(const cli_opts *o) {
    const char *ep = o->coordinator && *o->coordinator ? o->coordinator : getenv("STRIKE_COORDINATOR");
    if (!ep || !*ep)
        ep = CLI_DEFAULT_COORDINATOR;
    char err[512];
    sc_client *c = sc_client_new(ep, (int)o->timeout_ms, err, sizeof err);
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
    {"results", cli_results, "results ID        recorded results as JSONL (manifest lines)"},
};
#define N_COMMANDS (sizeof k_commands / sizeof k_commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: strike COMMAND [options] [args]   (strike COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %s\n", k_commands[i].help);
    fprintf(f, "\nThe coordinator is --coordinator ENDPOINT, else $STRIKE_COORDINATOR, else %s.\n"
               "Exit codes: 0 ok, 1 error, 2 usage, 3 bad input line, 4 coordinator unreachable (timeout),\n"
               "5 refused by the coordinator, 6 not found, 7 finished with dead/cancelled jobs, 130 interrupted.\n"
               "See docs/cli.md.\n",
            CLI_DEFAULT_COORDINATOR);
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
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], k_commands[i].name) == 0)
            return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "strike: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
