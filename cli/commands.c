/*
 * commands.c - the small `strike` commands: status, workers, cancel, retry, delete, results. Each is one
 * request (results: pages of requests) and a printout, human or --json.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "sf_status.h"
#include "sf_time.h"

#define O(f) offsetof(cli_opts, f)
static const sf_cfg_entry k_plain[] = {CLI_COMMON_OPTIONS};
static const sf_cfg_entry k_status[] = {
    CLI_COMMON_OPTIONS,
    {"limit", SF_CFG_INT, O(limit), "100", "most submissions listed without an ID (newest first)"},
};
static const sf_cfg_entry k_delete[] = {
    CLI_COMMON_OPTIONS,
    {"force", SF_CFG_BOOL, O(force), "false", "cancel the submission first if jobs are still queued or leased"},
};
static const sf_cfg_entry k_results[] = {
    CLI_COMMON_OPTIONS,
    {"page", SF_CFG_INT, O(page), "4096", "results fetched per request (1..4096)"},
};
#undef O
#define N_OF(t) (sizeof t / sizeof t[0])

/* A 64-bit unsigned value as JSON: a number when it fits JSON's signed integers, else a string of
 * digits (seeds may use all 64 bits). */
static json_t *json_u64(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return json_string(b);
}

/* JSON object of one submission's counts. */
json_t *cli_status_json(const Strike__SubmissionStatus *s) {
    json_t *tags = json_array();
    const Strike__Template *t = s->template_;
    for (size_t i = 0; t && i < t->n_tags; i++)
        json_array_append_new(tags, json_string(t->tags[i]));
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:f, s:I, s:I, s:s, s:i, s:i, s:i, "
                     "s:i, s:s, s:o}",
                     "submission_id", s->submission_id, "state", s->state, "total", (json_int_t)s->total, "queued",
                     (json_int_t)s->queued, "leased", (json_int_t)s->leased, "done", (json_int_t)s->done, "dead",
                     (json_int_t)s->dead, "cancelled", (json_int_t)s->cancelled, "failed_attempts",
                     (json_int_t)s->failed_attempts, "sealed", (int)s->sealed, "rate", s->rate, "created_ms",
                     (json_int_t)s->created_ms, "finished_ms", (json_int_t)s->finished_ms, "model",
                     t ? t->model : "", "steps", t ? (int)t->steps : 0, "width", t ? (int)t->width : 0, "height",
                     t ? (int)t->height : 0, "priority", t ? (int)t->priority : 0, "output_root",
                     t ? t->output_root : "", "tags", tags);
    if (j && t)
        json_object_set_new(j, "base_seed", json_u64(t->base_seed));
    return j;
}

static void print_json(json_t *j) {
    json_dumpf(j, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(j);
}

/* Common start: parse, connect. Returns NULL with *rc set when the command should end. */
static sc_client *start(const sf_cfg_entry *t, size_t n, cli_opts *o, int argc, char **argv, const char *usage,
                        const char *about, char **pos, int minpos, int maxpos, int *npos, int *rc) {
    *rc = cli_parse(t, n, o, argc, argv, usage, about, pos, maxpos, npos);
    if (*rc != 0) {
        *rc = *rc < 0 ? 0 : *rc;
        return NULL;
    }
    if (*npos < minpos) {
        fprintf(stderr, "strike %s: missing argument (usage: strike %s %s)\n", argv[0], argv[0], usage);
        *rc = CLI_USAGE;
        return NULL;
    }
    sc_client *c = cli_connect(o);
    if (!c)
        *rc = CLI_ERR;
    return c;
}

static int fail(const char *cmd, int st, const char *err) {
    fprintf(stderr, "strike %s: %s\n", cmd, err);
    return cli_exit_for(st);
}

int cli_status(int argc, char **argv) {
    cli_opts o;
    char *pos[1];
    int npos = 0, rc;
    sc_client *c = start(k_status, N_OF(k_status), &o, argc, argv, "[options] [ID]",
                         "Counts of one submission (queued, leased, done, dead, cancelled), or of all.", pos, 0, 1,
                         &npos, &rc);
    if (!c)
        goto out;
    Strike__Envelope req = STRIKE__ENVELOPE__INIT;
    Strike__StatusRequest sr = STRIKE__STATUS_REQUEST__INIT;
    sr.submission_id = npos ? pos[0] : (char *)"";
    sr.limit = (uint32_t)(o.limit > 0 ? o.limit : 100);
    req.body_case = STRIKE__ENVELOPE__BODY_STATUS_REQUEST;
    req.status_request = &sr;
    char err[1024];
    int st;
    Strike__Envelope *rep = sc_call(c, &req, &st, err, sizeof err);
    if (!rep) {
        rc = fail("status", st, err);
        goto out;
    }
    if (rep->body_case != STRIKE__ENVELOPE__BODY_STATUS_REPLY) {
        rc = fail("status", SF_ERR_PROTOCOL, "unexpected reply");
        strike__envelope__free_unpacked(rep, NULL);
        goto out;
    }
    Strike__StatusReply *r = rep->status_reply;
    if (o.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < r->n_submissions; i++)
            json_array_append_new(arr, cli_status_json(r->submissions[i]));
        if (npos && r->n_submissions == 1)
            print_json(json_incref(json_array_get(arr, 0)));
        else
            print_json(json_incref(arr));
        json_decref(arr);
    } else {
        printf("%-12s %-10s %10s %10s %10s %10s %8s %9s %9s\n", "ID", "STATE", "TOTAL", "QUEUED", "LEASED", "DONE",
               "DEAD", "CANCELLED", "RATE/s");
        for (size_t i = 0; i < r->n_submissions; i++) {
            Strike__SubmissionStatus *s = r->submissions[i];
            printf("%-12s %-10s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %9" PRIu64
                   " %9.0f\n",
                   s->submission_id, s->state, s->total, s->queued, s->leased, s->done, s->dead, s->cancelled,
                   s->rate);
        }
    }
    if (npos && r->n_submissions == 0) {
        fprintf(stderr, "strike status: no such submission %s\n", pos[0]);
        rc = CLI_NOT_FOUND;
    }
    strike__envelope__free_unpacked(rep, NULL);
out:
    sc_client_destroy(&c);
    cli_opts_free(k_status, N_OF(k_status), &o);
    return rc;
}

int cli_workers(int argc, char **argv) {
    cli_opts o;
    char *pos[1];
    int npos = 0, rc;
    sc_client *c = start(k_plain, N_OF(k_plain), &o, argc, argv, "[options]",
                         "Workers the coordinator knows (id, host, engine, models, jobs done, rate, heartbeat\n"
                         "age) and its protocol counters (malformed / oversized frames, stale results).",
                         pos, 0, 0, &npos, &rc);
    if (!c)
        goto out;
    Strike__Envelope req = STRIKE__ENVELOPE__INIT;
    Strike__WorkersRequest wr = STRIKE__WORKERS_REQUEST__INIT;
    req.body_case = STRIKE__ENVELOPE__BODY_WORKERS_REQUEST;
    req.workers_request = &wr;
    char err[1024];
    int st;
    Strike__Envelope *rep = sc_call(c, &req, &st, err, sizeof err);
    if (!rep || rep->body_case != STRIKE__ENVELOPE__BODY_WORKERS_REPLY) {
        rc = fail("workers", rep ? SF_ERR_PROTOCOL : st, rep ? "unexpected reply" : err);
        if (rep)
            strike__envelope__free_unpacked(rep, NULL);
        goto out;
    }
    Strike__WorkersReply *r = rep->workers_reply;
    if (o.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < r->n_workers; i++) {
            Strike__WorkerInfo *w = r->workers[i];
            json_t *models = json_array();
            for (size_t k = 0; k < w->n_models; k++)
                json_array_append_new(models, json_string(w->models[k]));
            json_t *devices = json_array();
            for (size_t k = 0; k < w->n_devices; k++)
                if (w->devices[k])
                    json_array_append_new(devices, json_pack("{s:s, s:I}", "name", w->devices[k]->name,
                                                             "memory_bytes", (json_int_t)w->devices[k]->memory_bytes));
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:f, s:I, s:i, s:i, s:s, s:s}", "worker_id",
                               w->worker_id, "host", w->host, "engine", w->engine, "models", models, "devices",
                               devices, "jobs_done", (json_int_t)w->jobs_done, "rate", w->rate, "heartbeat_age_ms",
                               (json_int_t)w->heartbeat_age_ms, "in_flight", (int)w->in_flight, "credit",
                               (int)w->credit, "state", w->state, "version", w->version));
        }
        print_json(json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "workers", arr, "frames_malformed",
                             (json_int_t)r->frames_malformed, "frames_oversized", (json_int_t)r->frames_oversized,
                             "results_stale", (json_int_t)r->results_stale, "results_duplicate",
                             (json_int_t)r->results_duplicate, "leases_expired", (json_int_t)r->leases_expired,
                             "leases_unreported", (json_int_t)r->leases_unreported, "redis_up", (int)r->redis_up));
    } else {
        printf("%-32s %-16s %-6s %-28s %-20s %10s %8s %9s %6s\n", "WORKER", "HOST", "ENGINE", "DEVICE", "MODELS",
               "DONE", "RATE/s", "HB AGE ms", "STATE");
        for (size_t i = 0; i < r->n_workers; i++) {
            Strike__WorkerInfo *w = r->workers[i];
            char models[64] = "";
            for (size_t k = 0; k < w->n_models; k++)
                snprintf(models + strlen(models), sizeof models - strlen(models), "%s%s", k ? "," : "", w->models[k]);
            char device[64] = "-";
            if (w->n_devices && w->devices[0] && w->devices[0]->name) {
                if (w->devices[0]->memory_bytes)
                    snprintf(device, sizeof device, "%.40s %.0fG", w->devices[0]->name,
                             (double)w->devices[0]->memory_bytes / (1024.0 * 1024.0 * 1024.0));
                else
                    snprintf(device, sizeof device, "%.40s", w->devices[0]->name);
                if (w->n_devices > 1)
                    snprintf(device + strlen(device), sizeof device - strlen(device), " +%zu", w->n_devices - 1);
            }
            printf("%-32s %-16s %-6s %-28s %-20s %10" PRIu64 " %8.0f %9" PRIu64 " %6s\n", w->worker_id, w->host,
                   w->engine, device, w->n_models ? models : "(any)", w->jobs_done, w->rate, w->heartbeat_age_ms,
                   w->state);
        }
        printf("frames dropped: %" PRIu64 " malformed, %" PRIu64 " oversized; results ignored: %" PRIu64
               " stale, %" PRIu64 " duplicate; leases re-queued: %" PRIu64 " (%" PRIu64
               " not held by their worker); redis %s\n",
               r->frames_malformed, r->frames_oversized, r->results_stale, r->results_duplicate, r->leases_expired,
               r->leases_unreported, r->redis_up ? "up" : "DOWN");
    }
    strike__envelope__free_unpacked(rep, NULL);
    rc = CLI_OK;
out:
    sc_client_destroy(&c);
    cli_opts_free(k_plain, N_OF(k_plain), &o);
    return rc;
}

/* Sends req and expects a Reply with status 0. Returns the reply envelope (the caller frees it;
 * ->reply is the Reply), or NULL with the failure reported and *rc set to its exit code. */
static Strike__Envelope *call_reply(sc_client *c, Strike__Envelope *req, const char *cmd, int *rc) {
    char err[1024];
    int st;
    Strike__Envelope *rep = sc_call(c, req, &st, err, sizeof err);
    if (!rep || rep->body_case != STRIKE__ENVELOPE__BODY_REPLY) {
        *rc = fail(cmd, rep ? SF_ERR_PROTOCOL : st, rep ? "unexpected reply" : err);
        if (rep)
            strike__envelope__free_unpacked(rep, NULL);
        return NULL;
    }
    const Strike__Reply *r = rep->reply;
    if (r->status != 0) {
        snprintf(err, sizeof err, "%s (%s)", r->message, sf_strerror((sf_status)r->status));
        *rc = fail(cmd, (int)r->status, err);
        strike__envelope__free_unpacked(rep, NULL);
        return NULL;
    }
    return rep;
}

/* cancel and retry: one request, a Reply with the number of jobs affected. */
static int simple(int argc, char **argv, int is_cancel) {
    cli_opts o;
    char *pos[1];
    int npos = 0, rc;
    const char *cmd = is_cancel ? "cancel" : "retry";
    sc_client *c = start(k_plain, N_OF(k_plain), &o, argc, argv, "[options] ID",
                         is_cancel ? "Stops dispatching the submission: queued and leased jobs become cancelled; "
                                     "done jobs stay."
                                   : "Moves the submission's dead jobs back to queued with a fresh attempt budget.",
                         pos, 1, 1, &npos, &rc);
    if (!c)
        goto out;
    Strike__Envelope req = STRIKE__ENVELOPE__INIT;
    Strike__Cancel cm = STRIKE__CANCEL__INIT;
    Strike__Retry rm = STRIKE__RETRY__INIT;
    if (is_cancel) {
        cm.submission_id = pos[0];
        req.body_case = STRIKE__ENVELOPE__BODY_CANCEL;
        req.cancel = &cm;
    } else {
        rm.submission_id = pos[0];
        req.body_case = STRIKE__ENVELOPE__BODY_RETRY;
        req.retry = &rm;
    }
    Strike__Envelope *rep = call_reply(c, &req, cmd, &rc);
    if (!rep)
        goto out;
    const Strike__Reply *r = rep->reply;
    if (o.json)
        print_json(json_pack("{s:s, s:I}", "submission_id", pos[0], "affected", (json_int_t)r->affected));
    else
        printf("%s: %" PRIu64 " jobs %s\n", pos[0], r->affected, is_cancel ? "cancelled" : "queued again");
    rc = CLI_OK;
    strike__envelope__free_unpacked(rep, NULL);
out:
    sc_client_destroy(&c);
    cli_opts_free(k_plain, N_OF(k_plain), &o);
    return rc;
}

int cli_cancel(int argc, char **argv) { return simple(argc, argv, 1); }
int cli_retry(int argc, char **argv) { return simple(argc, argv, 0); }

/* delete: one DeleteRequest, a Reply (affected = jobs that --force cancelled). The coordinator
 * forgets the submission; images already written stay where they are. */
int cli_delete(int argc, char **argv) {
    cli_opts o;
    char *pos[1];
    int npos = 0, rc;
    sc_client *c = start(k_delete, N_OF(k_delete), &o, argc, argv, "[options] ID",
                         "Forgets a submission whose every job is final (done, dead or cancelled): the coordinator\n"
                         "removes its prompts, bitmaps and results log from Redis, and a submit with the same token\n"
                         "starts a new submission. Refused while jobs are queued or leased, unless --force (cancel\n"
                         "first). Images already written are NOT deleted.",
                         pos, 1, 1, &npos, &rc);
    if (!c)
        goto out;
    Strike__Envelope req = STRIKE__ENVELOPE__INIT;
    Strike__DeleteRequest dm = STRIKE__DELETE_REQUEST__INIT;
    dm.submission_id = pos[0];
    dm.force = o.force != 0;
    req.body_case = STRIKE__ENVELOPE__BODY_DELETE_REQUEST;
    req.delete_request = &dm;
    Strike__Envelope *rep = call_reply(c, &req, "delete", &rc);
    if (!rep)
        goto out;
    const Strike__Reply *r = rep->reply;
    if (o.json)
        print_json(json_pack("{s:s, s:b, s:I, s:b}", "submission_id", pos[0], "deleted", 1, "cancelled",
                             (json_int_t)r->affected, "images_kept", 1));
    else if (r->affected)
        printf("%s: deleted (%" PRIu64 " jobs cancelled first); images already written were not deleted\n",
               pos[0], r->affected);
    else
        printf("%s: deleted; images already written were not deleted\n", pos[0]);
    rc = CLI_OK;
    strike__envelope__free_unpacked(rep, NULL);
out:
    sc_client_destroy(&c);
    cli_opts_free(k_delete, N_OF(k_delete), &o);
    return rc;
}

int cli_results(int argc, char **argv) {
    cli_opts o;
    char *pos[1];
    int npos = 0, rc;
    sc_client *c = start(k_results, N_OF(k_results), &o, argc, argv, "[options] ID",
                         "Prints every recorded result of the submission as one JSON object per line:\n"
                         "index, status (0 = done), attempt, seed, render_ms, path, error, prompt. Works without\n"
                         "the image storage mounted (the coordinator keeps the records).",
                         pos, 1, 1, &npos, &rc);
    if (!c)
        goto out;
    uint64_t cursor = 0, n = 0;
    for (;;) {
        if (cli_interrupted) {
            rc = CLI_INTERRUPTED;
            goto out;
        }
        Strike__Envelope req = STRIKE__ENVELOPE__INIT;
        Strike__ResultsRequest rr = STRIKE__RESULTS_REQUEST__INIT;
        rr.submission_id = pos[0];
        rr.cursor = cursor;
        rr.max = (uint32_t)(o.page > 0 && o.page <= 4096 ? o.page : 4096);
        req.body_case = STRIKE__ENVELOPE__BODY_RESULTS_REQUEST;
        req.results_request = &rr;
        char err[1024];
        int st;
        Strike__Envelope *rep = sc_call(c, &req, &st, err, sizeof err);
        if (!rep || rep->body_case != STRIKE__ENVELOPE__BODY_RESULTS_PAGE) {
            rc = fail("results", rep ? SF_ERR_PROTOCOL : st, rep ? "unexpected reply" : err);
            if (rep)
                strike__envelope__free_unpacked(rep, NULL);
            goto out;
        }
        Strike__ResultsPage *p = rep->results_page;
        for (size_t i = 0; i < p->n_results; i++) {
            Strike__JobResult *r = p->results[i];
            json_t *j = json_pack("{s:I, s:i, s:i, s:o, s:i, s:s, s:s, s:s}", "index", (json_int_t)r->index, "status",
                                  (int)r->status, "attempt", (int)r->attempt, "seed", json_u64(r->seed),
                                  "render_ms", (int)r->render_ms, "path", r->output_path, "error", r->error,
                                  "prompt", r->prompt);
            if (j) {
                json_dumpf(j, stdout, JSON_COMPACT);
                fputc('\n', stdout);
                json_decref(j);
            }
            n++;
        }
        int end = p->end || p->n_results == 0;
        cursor = p->next_cursor;
        strike__envelope__free_unpacked(rep, NULL);
        if (end)
            break;
    }
    fflush(stdout);
    rc = CLI_OK;
out:
    sc_client_destroy(&c);
    cli_opts_free(k_results, N_OF(k_results), &o);
    return rc;
}
