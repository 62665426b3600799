/*
 * watch.c - `strike watch ID`: live progress of a submission until it finishes.
 *
 * Sends Watch and prints each Progress (a bar on a terminal, one line per event otherwise, JSON
 * lines with --json). When the coordinator is silent for --timeout-ms (nothing changes, or it
 * restarted and forgot the watch), it asks for the status: an answer renews the Watch, no answer is
 * exit 4. Exit 0 when every job is done, 7 when the submission finished with dead or cancelled jobs.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "sf_status.h"
#include "sf_time.h"

json_t *cli_status_json(const Strike__SubmissionStatus *s);

#define O(f) offsetof(cli_opts, f)
static const sf_cfg_entry k_watch[] = {
    CLI_COMMON_OPTIONS,
    {"interval-ms", SF_CFG_INT, O(interval_ms), "500", "progress update interval asked of the coordinator"},
    {"progress", SF_CFG_BOOL, O(progress), "true", "redraw one line on a terminal (else one line per event)"},
};
#undef O
#define N_WATCH (sizeof k_watch / sizeof k_watch[0])

/* Print one status; returns 1 when the submission is finished. */
static int show(const cli_opts *o, const Strike__SubmissionStatus *s, int finished, int tty) {
    int fin = finished || strcmp(s->state, "finished") == 0 || strcmp(s->state, "cancelled") == 0;
    if (o->json) {
        json_t *j = cli_status_json(s);
        json_object_set_new(j, "finished", json_boolean(fin));
        json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(j);
        return fin;
    }
    uint64_t final = s->done + s->dead + s->cancelled;
    double frac = s->total ? (double)final / (double)s->total : 0;
    double eta = s->rate > 0 ? (double)(s->total - final) / s->rate : 0;
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = 0;
    char etas[32] = "-";
    if (s->rate > 0 && !fin)
        snprintf(etas, sizeof etas, "%.0fs", eta);
    fprintf(tty ? stderr : stdout,
            "%s%s [%s] %3d%%  done %" PRIu64 "/%" PRIu64 "  leased %" PRIu64 "  dead %" PRIu64 "  cancelled %" PRIu64
            "  %.0f jobs/s  ETA %s  %s%s",
            tty ? "\r" : "", s->submission_id, bar, (int)(frac * 100), s->done, s->total, s->leased, s->dead,
            s->cancelled, s->rate, etas, s->state, tty && !fin ? "   " : "\n");
    fflush(tty ? stderr : stdout);
    return fin;
}

/* Send Watch; returns its request id (0 on failure). */
static uint64_t send_watch(sc_client *c, const cli_opts *o, const char *id, char *err, size_t errlen, int *st) {
    Strike__Envelope req = STRIKE__ENVELOPE__INIT;
    Strike__Watch w = STRIKE__WATCH__INIT;
    w.submission_id = (char *)id;
    w.interval_ms = (uint32_t)(o->interval_ms >= 50 ? o->interval_ms : 50);
    req.body_case = STRIKE__ENVELOPE__BODY_WATCH;
    req.watch = &w;
    req.request_id = sc_next_id(c);
    *st = sc_send(c, &req, err, errlen);
    return *st == SF_OK ? req.request_id : 0;
}

int cli_watch_id(sc_client *c, const cli_opts *o, const char *id) {
    char err[1024];
    int st;
    int tty = o->progress && !o->json && isatty(2);
    uint64_t rid = send_watch(c, o, id, err, sizeof err, &st);
    if (!rid) {
        fprintf(stderr, "strike watch: %s\n", err);
        return cli_exit_for(st);
    }
    for (;;) {
        if (cli_interrupted) {
            if (tty)
                fputc('\n', stderr);
            return CLI_INTERRUPTED;
        }
        Strike__Envelope *env = sc_recv(c, (int)o->timeout_ms, &st, err, sizeof err);
        if (!env && st == SF_ERR_TIMEOUT) {
            /* Silence: is the coordinator still there? Ask, then watch again. */
            Strike__Envelope req = STRIKE__ENVELOPE__INIT;
            Strike__StatusRequest sr = STRIKE__STATUS_REQUEST__INIT;
            sr.submission_id = (char *)id;
            req.body_case = STRIKE__ENVELOPE__BODY_STATUS_REQUEST;
            req.status_request = &sr;
            Strike__Envelope *rep = sc_call(c, &req, &st, err, sizeof err);
            if (!rep) {
                if (tty)
                    fputc('\n', stderr);
                fprintf(stderr, "strike watch: %s\n", err);
                return cli_exit_for(st);
            }
            int fin = 0, rc = CLI_OK;
            if (rep->body_case == STRIKE__ENVELOPE__BODY_STATUS_REPLY && rep->status_reply->n_submissions == 1) {
                Strike__SubmissionStatus *s = rep->status_reply->submissions[0];
                fin = show(o, s, 0, tty);
                rc = s->dead || s->cancelled ? CLI_INCOMPLETE : CLI_OK;
            }
            strike__envelope__free_unpacked(rep, NULL);
            if (fin)
                return rc;
            rid = send_watch(c, o, id, err, sizeof err, &st);
            continue;
        }
        if (!env) {
            fprintf(stderr, "strike watch: %s\n", err);
            return cli_exit_for(st);
        }
        if (env->request_id != rid) {
            strike__envelope__free_unpacked(env, NULL);
            continue;
        }
        if (env->body_case == STRIKE__ENVELOPE__BODY_ERROR) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr, "strike watch: %s: %s (%s)\n", id, env->error->message,
                    sf_strerror((sf_status)env->error->status));
            int rc = cli_exit_for((int)env->error->status);
            strike__envelope__free_unpacked(env, NULL);
            return rc;
        }
        if (env->body_case == STRIKE__ENVELOPE__BODY_PROGRESS && env->progress->status) {
            Strike__SubmissionStatus *s = env->progress->status;
            int fin = show(o, s, env->progress->finished, tty);
            int rc = s->dead || s->cancelled ? CLI_INCOMPLETE : CLI_OK;
            strike__envelope__free_unpacked(env, NULL);
            if (fin)
                return rc;
            continue;
        }
        strike__envelope__free_unpacked(env, NULL);
    }
}

int cli_watch(int argc, char **argv) {
    cli_opts o;
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(k_watch, N_WATCH, &o, argc, argv, "[options] ID",
                       "Live progress until the submission finishes. Exit 0: every job done; 7: finished\n"
                       "with dead or cancelled jobs; 4: coordinator unreachable.",
                       pos, 1, &npos);
    if (rc == 0 && npos != 1) {
        fprintf(stderr, "strike watch: give a submission ID\n");
        rc = CLI_USAGE;
    }
    if (rc == 0) {
        sc_client *c = cli_connect(&o);
        rc = c ? cli_watch_id(c, &o, pos[0]) : CLI_ERR;
        sc_client_destroy(&c);
    }
    cli_opts_free(k_watch, N_WATCH, &o);
    return rc < 0 ? 0 : rc;
}
