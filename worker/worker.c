/*
 * worker.c - the strike-worker event loop (see worker.h and docs/worker.md).
 *
 * Three threads (plus the PNG encoders of a batch). The main thread owns the DEALER socket: it
 * receives shards (queued locally; the credit bounds how many jobs can be held), sends heartbeats
 * and results, and reconnects. The render thread runs one batch at a time through the engine, so a
 * batch that takes longer than several heartbeat intervals (a real engine on a CPU) never silences
 * the worker; the write thread encodes and writes the images and manifest lines of the batch
 * before, so batch k+1 renders while batch k is written (two batch slots). The queued shards are
 * rendered in order, batch by batch; a batch's results are recorded once it is written, and go
 * back in one Results per shard (plus partial Results when a shard takes longer than
 * SW_PARTIAL_MS), then the freed capacity goes back as Credit.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "output.h"
#include "sf_curve.h"
#include "sf_log.h"
#include "sf_proto.h"
#include "sf_status.h"
#include "sf_time.h"
#include "strike.pb-c.h"

#define SW_PARTIAL_MS 250     /* send partial Results of a long shard this often */
#define SW_DEFAULT_HB_MS 1000 /* heartbeat interval until the coordinator says otherwise */
#define SW_DEAD_INTERVALS 4   /* silent intervals before the coordinator counts as gone */
#define SW_VERSION "strike-worker 0.1.0"
#define SW_RETAIN_MS 30000          /* final Results kept this long for re-sending after a reconnect */
#define SW_RETAIN_BYTES (16u << 20) /* ... and at most this many bytes of them */
#define SW_RETAIN_MAX 4096          /* ... and at most this many messages */
#define SW_MAX_WRITERS 64           /* PNG writer threads per batch, at most */
#define SW_SLOTS 2                  /* batches in flight: one rendering while the one before is written */

/* A shard held by the worker, with the results gathered so far. */
typedef struct held {
    Strike__Envelope *env;    /* owns the unpacked message; env->shard is the shard */
    uint64_t *poff;           /* byte offset of each prompt in shard->prompts (count + 1) */
    uint32_t next;            /* offsets below this are rendered, written and recorded */
    uint32_t sched;           /* offsets below this were handed to the render thread */
    uint32_t inflight;        /* batches of it handed out and not yet completed */
    uint32_t reported;        /* offsets below this were already sent in a partial Results */
    uint32_t *ok_off;         /* successful offsets not yet reported */
    uint64_t *ok_seed;
    uint32_t *ok_ms;
    size_t n_ok;
    Strike__JobError *errs;   /* failed jobs not yet reported */
    size_t n_err;
    int cancelled;            /* CancelSubmission arrived: stop rendering it */
    uint64_t last_report_ms;  /* when results of it were last sent */
} held;

/* A final Results frame kept for re-sending (see retain()). */
typedef struct retained {
    uint8_t *data;  /* packed Envelope */
    size_t len;
    uint64_t sent;  /* monotonic ms */
} retained;

/* One batch in flight: the main loop fills it, the render thread renders it, the write thread
 * writes it, the main loop records and reports it. */
typedef struct batch {
    sw_job *jobs;             /* batch_cap each */
    sw_image *images;
    uint8_t *out_failed;      /* 1 where writing the output failed (message in images[i]) */
    uint8_t *pix;             /* the images' pixels, copied out of the engine (see keep_pixels) */
    size_t pix_cap;
    held *h;                  /* its shard */
    uint32_t off;             /* first offset */
    size_t n;                 /* jobs */
    uint32_t ms;              /* render ms per job */
    uint64_t seq;             /* batch number (logs) */
} batch;

/* Worker session state. */
typedef struct sw_worker {
    const sw_config *cfg;
    sw_engine *engine;
    sw_output *out;
    void *ctx, *sock;         /* ZeroMQ context and DEALER */
    void *mon;                /* PAIR receiving sock's handshake failures (CURVE refusals) */
    int mon_vague;            /* handshake failures without detail in a row on this socket */
    char curve_pub[41];       /* this worker's CURVE public key ("" = plaintext) */
    char **endpoints;         /* coordinator worker endpoints */
    size_t n_endpoints, cur;  /* list and the one in use */
    char id[160];             /* worker id */
    char host[256];
    char **models;            /* models served (empty = any) */
    size_t n_models;
    held **q;                 /* local queue of shards (ring) */
    size_t q_cap, q_head, q_len;
    uint64_t held_jobs;       /* jobs in held shards not yet finally reported */
    int registered;           /* RegisterAck received on this connection */
    uint32_t hb_ms;           /* heartbeat interval */
    uint64_t last_send, last_recv; /* monotonic ms */
    uint64_t last_hb;         /* when the last Heartbeat (lease report) was sent */
    uint64_t test_dropped;    /* shards dropped by the --test-drop-shards hook */
    uint64_t register_sent;   /* when Register was last sent */
    uint64_t backoff_ms;      /* next reconnect delay */
    uint64_t jobs_done, jobs_failed, shards, malformed;
    size_t batch_cap;
    int fatal;                /* the coordinator refused us: exit */
    int sessions;             /* RegisterAcks received so far */
    retained *ret;            /* ring of recent final Results (SW_RETAIN_MAX) */
    size_t ret_head, ret_len, ret_bytes;
    uint64_t resent;          /* Results frames re-sent after reconnects */
    /* Pipeline of batches numbered 0, 1, 2, ...; batch k lives in slot[k % SW_SLOTS]. Main fills
     * a free slot and counts it `started`; the render thread renders it (`rendered`); the write
     * thread writes it (`written`) and writes a byte to wake[1]; main records and reports it
     * (`completed`). So batch k+1 renders while batch k is written, and results are reported only
     * once their files exist. started <= completed + SW_SLOTS. */
    batch slot[SW_SLOTS];
    pthread_t th_render, th_write;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* broadcast on every change of the counters and of quit */
    int th_render_started, th_write_started;
    int wake[2];              /* pipe: write thread -> main loop */
    int draining;             /* leaving: finished shards give no credit back */
    uint64_t started, completed;   /* main only (started is also read under mu) */
    uint64_t rendered, written;    /* under mu */
    int quit;                      /* under mu */
    uint64_t overlapped;      /* under mu: batches whose rendering began while an earlier one was written */
    long long test_write_delay_ms; /* TESTS ONLY (STRIKE_TEST_WRITE_DELAY_MS): sleep before writing a batch */
} sw_worker;

/* ---- sending ------------------------------------------------------------------------------- */

/*
 * Keep a copy of a final Results frame. A coordinator that dies (or loses Redis) before its
 * write-behind transaction commits forgets results it had received; the lease then looks in
 * flight on this worker although the work is done. After registering again the worker re-sends
 * what it reported in the last SW_RETAIN_MS; the coordinator's fencing ignores what it already had.
 */
static void retain(sw_worker *w, const uint8_t *data, size_t len) {
    uint64_t now = sf_now_ms();
    if (!w->ret)
        w->ret = calloc(SW_RETAIN_MAX, sizeof *w->ret);
    if (!w->ret || len > SW_RETAIN_BYTES)
        return;
    /* Drop the oldest while full, too big or too old. */
    while (w->ret_len && (w->ret_len == SW_RETAIN_MAX || w->ret_bytes + len > SW_RETAIN_BYTES ||
                          now - w->ret[w->ret_head].sent > SW_RETAIN_MS)) {
        retained *r = &w->ret[w->ret_head];
        w->ret_bytes -= r->len;
        free(r->data);
        r->data = NULL;
        w->ret_head = (w->ret_head + 1) % SW_RETAIN_MAX;
        w->ret_len--;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, data, len);
    retained *r = &w->ret[(w->ret_head + w->ret_len) % SW_RETAIN_MAX];
    r->data = copy;
    r->len = len;
    r->sent = now;
    w->ret_len++;
    w->ret_bytes += len;
}

/* Re-send every retained Results frame (after registering again). */
static void resend_retained(sw_worker *w) {
    size_t n = 0;
    uint64_t now = sf_now_ms();
    for (size_t i = 0; i < w->ret_len; i++) {
        retained *r = &w->ret[(w->ret_head + i) % SW_RETAIN_MAX];
        if (now - r->sent > SW_RETAIN_MS)
            continue;
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, r->len) != 0)
            break;
        memcpy(zmq_msg_data(&m), r->data, r->len);
        if (zmq_msg_send(&m, w->sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        n++;
    }
    if (n) {
        w->resent += n;
        w->last_send = sf_now_ms();
        SF_INFO("re-sent %zu recent results after registering again (the coordinator ignores what it had)", n);
    }
}

static void retained_free(sw_worker *w) {
    for (size_t i = 0; w->ret && i < w->ret_len; i++)
        free(w->ret[(w->ret_head + i) % SW_RETAIN_MAX].data);
    free(w->ret);
    w->ret = NULL;
}

/* Pack and send env (keeping a copy when keep is set). Returns 0 or -1 (send timed out). */
static int send_env_keep(sw_worker *w, Strike__Envelope *env, int keep) {
    env->version = SF_PROTOCOL_VERSION;
    size_t n = strike__envelope__get_packed_size(env);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, n) != 0)
        return -1;
    strike__envelope__pack(env, zmq_msg_data(&m));
    if (keep)
        retain(w, zmq_msg_data(&m), n);
    if (zmq_msg_send(&m, w->sock, 0) < 0) {
        zmq_msg_close(&m);
        SF_WARN("send to %s failed: %s", w->endpoints[w->cur], zmq_strerror(errno));
        return -1;
    }
    w->last_send = sf_now_ms();
    return 0;
}

static int send_env(sw_worker *w, Strike__Envelope *env) { return send_env_keep(w, env, 0); }

static void send_register(sw_worker *w) {
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__Register r = STRIKE__REGISTER__INIT;
    Strike__Device dev = STRIKE__DEVICE__INIT;
    Strike__Device *devs[1] = {&dev};
    r.worker_id = w->id;
    r.host = w->host;
    r.engine = (char *)w->engine->ops->kind;
    r.engine_version = (char *)w->engine->version;
    r.n_models = w->n_models;
    r.models = w->models;
    r.n_loaded_models = w->n_models;
    r.loaded_models = w->models;
    r.max_batch = (uint32_t)w->batch_cap;
    dev.name = w->engine->device_name[0] ? w->engine->device_name : (char *)"cpu";
    dev.memory_bytes = w->engine->device_memory;
    r.n_devices = 1;
    r.devices = devs;
    r.version = (char *)SW_VERSION;
    /* Until the first RegisterAck this process has never been sent a shard: leases the
     * coordinator still has under our id belong to an earlier process and are lost. */
    r.fresh_start = w->sessions == 0;
    env.body_case = STRIKE__ENVELOPE__BODY_REGISTER_WORKER;
    env.register_worker = &r;
    send_env(w, &env);
    w->register_sent = sf_now_ms();
}

static void send_credit(sw_worker *w, uint32_t jobs) {
    if (jobs == 0)
        return;
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__Credit c = STRIKE__CREDIT__INIT;
    c.jobs = jobs;
    env.body_case = STRIKE__ENVELOPE__BODY_CREDIT;
    env.credit = &c;
    send_env(w, &env);
}

/* Heartbeat with the lease report: the id of every shard held (queued, rendering, or not yet
 * reported final), so the coordinator can re-queue leases it thinks we hold but we never got. */
static void send_heartbeat(sw_worker *w) {
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__Heartbeat hb = STRIKE__HEARTBEAT__INIT;
    uint64_t ids[SF_MAX_HELD_LEASES];
    hb.in_flight = (uint32_t)w->held_jobs;
    if (w->q_len <= SF_MAX_HELD_LEASES) {
        for (size_t i = 0; i < w->q_len; i++)
            ids[i] = w->q[(w->q_head + i) % w->q_cap]->env->shard->lease_id;
        hb.n_held_leases = w->q_len;
        hb.held_leases = ids;
        hb.held_leases_complete = 1;
    }
    env.body_case = STRIKE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_env(w, &env);
    w->last_hb = sf_now_ms();
}

/* Send what h gathered; with final set, the lease ends (unreported jobs are handed back). */
static void send_results(sw_worker *w, held *h, int final) {
    Strike__Shard *s = h->env->shard;
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__Results r = STRIKE__RESULTS__INIT;
    Strike__JobError **ep = NULL;
    r.lease_id = s->lease_id;
    r.attempt = s->attempt;
    r.submission_id = s->submission_id;
    r.first_index = s->first_index;
    r.n_offset = h->n_ok;
    r.offset = h->ok_off;
    r.n_seed = h->n_ok;
    r.seed = h->ok_seed;
    r.n_render_ms = h->n_ok;
    r.render_ms = h->ok_ms;
    if (h->n_err) {
        ep = malloc(h->n_err * sizeof *ep);
        for (size_t i = 0; ep && i < h->n_err; i++)
            ep[i] = &h->errs[i];
        r.n_errors = ep ? h->n_err : 0;
        r.errors = ep;
    }
    r.final = final;
    env.body_case = STRIKE__ENVELOPE__BODY_RESULTS;
    env.results = &r;
    send_env_keep(w, &env, final);
    free(ep);
    for (size_t i = 0; i < h->n_err; i++)
        free(h->errs[i].message);
    h->n_ok = 0;
    h->n_err = 0;
    h->reported = h->next;
    h->last_report_ms = sf_now_ms();
}

/* ---- held shards ---------------------------------------------------------------------------- */

static void held_free(held *h) {
    if (!h)
        return;
    for (size_t i = 0; i < h->n_err; i++)
        free(h->errs[i].message);
    strike__envelope__free_unpacked(h->env, NULL);
    free(h->poff);
    free(h->ok_off);
    free(h->ok_seed);
    free(h->ok_ms);
    free(h->errs);
    free(h);
}

/* Check a Shard's arrays against its count. Returns NULL or what is wrong. */
static const char *shard_check(const Strike__Shard *s) {
    if (s->count == 0)
        return "count is 0";
    if (s->n_prompt_len != s->count)
        return "prompt_len does not have count entries";
    if (s->n_seeds != s->count)
        return "seeds does not have count entries";
    if ((s->n_steps_override && s->n_steps_override != s->count) ||
        (s->n_width_override && s->n_width_override != s->count) ||
        (s->n_height_override && s->n_height_override != s->count))
        return "an override array is neither empty nor count long";
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n_prompt_len; i++)
        sum += s->prompt_len[i];
    if (sum != s->prompts.len)
        return "prompt lengths do not add up to the prompt bytes";
    if (!s->submission_id || !*s->submission_id)
        return "no submission id";
    return NULL;
}

/* Record a failed job of h. */
static void add_error(held *h, uint32_t off, uint32_t status, const char *msg) {
    Strike__JobError e = STRIKE__JOB_ERROR__INIT;
    e.offset = off;
    e.status = status;
    e.message = strdup(msg ? msg : "");
    h->errs[h->n_err++] = e;
}

/* Take ownership of a Shard envelope and queue it. */
static void take_shard(sw_worker *w, Strike__Envelope *env) {
    Strike__Shard *s = env->shard;
    if (w->test_dropped < (uint64_t)w->cfg->test_drop_shards) {
        /* TEST HOOK: the shard is "lost in flight". Its credit comes back (as a re-register after a
         * real loss would give it), the lease stays with the coordinator until reconciled. */
        w->test_dropped++;
        SF_WARN("test hook --test-drop-shards: dropping shard lease %" PRIu64 " of %s (%u jobs)", s->lease_id,
                s->submission_id, s->count);
        uint32_t n = s->count;
        strike__envelope__free_unpacked(env, NULL);
        send_credit(w, n);
        return;
    }
    const char *bad = shard_check(s);
    held *h = calloc(1, sizeof *h);
    if (!h) {
        strike__envelope__free_unpacked(env, NULL);
        return;
    }
    h->env = env;
    uint32_t n = s->count;
    h->poff = malloc(((size_t)n + 1) * sizeof *h->poff);
    h->ok_off = malloc((size_t)n * sizeof *h->ok_off);
    h->ok_seed = malloc((size_t)n * sizeof *h->ok_seed);
    h->ok_ms = malloc((size_t)n * sizeof *h->ok_ms);
    h->errs = calloc((size_t)n, sizeof *h->errs);
    if (!h->poff || !h->ok_off || !h->ok_seed || !h->ok_ms || !h->errs) {
        SF_ERROR("out of memory for a shard of %u jobs", n);
        held_free(h);
        return;
    }
    h->last_report_ms = sf_now_ms();
    w->shards++;
    if (bad) {
        /* A shard we cannot read: fail every job so the coordinator retries it elsewhere. */
        w->malformed++;
        SF_WARN("malformed shard (lease %" PRIu64 " of %s): %s", s->lease_id, s->submission_id, bad);
        for (uint32_t i = 0; i < n && i < 4096; i++)
            add_error(h, i, SF_ERR_PROTOCOL, bad);
        send_results(w, h, 1);
        held_free(h);
        send_credit(w, n);
        return;
    }
    h->poff[0] = 0;
    for (uint32_t i = 0; i < n; i++)
        h->poff[i + 1] = h->poff[i] + s->prompt_len[i];
    if (w->q_len == w->q_cap) {
        size_t nc = w->q_cap ? w->q_cap * 2 : 16;
        held **nq = malloc(nc * sizeof *nq);
        if (!nq) {
            held_free(h);
            return;
        }
        for (size_t i = 0; i < w->q_len; i++)
            nq[i] = w->q[(w->q_head + i) % w->q_cap];
        free(w->q);
        w->q = nq;
        w->q_cap = nc;
        w->q_head = 0;
    }
    w->q[(w->q_head + w->q_len) % w->q_cap] = h;
    w->q_len++;
    w->held_jobs += n;
}

/* Finish the head shard: final Results, free it, give its capacity back as credit. */
static void finish_head(sw_worker *w, int give_credit) {
    held *h = w->q[w->q_head];
    uint32_t n = h->env->shard->count;
    send_results(w, h, 1);
    w->q_head = (w->q_head + 1) % w->q_cap;
    w->q_len--;
    w->held_jobs -= n;
    held_free(h);
    if (give_credit && !w->draining)
        send_credit(w, n);
}

/* ---- rendering ------------------------------------------------------------------------------ */

/* One PNG writer thread of a batch: jobs t, t + T, t + 2T, ... */
typedef struct writer_arg {
    sw_worker *w;
    const batch *b;
    size_t t, T;
} writer_arg;

/* Fill the output description of job i of batch b. */
static void batch_output_job(sw_worker *w, const batch *b, size_t i, sw_output_job *oj) {
    const Strike__Shard *s = b->h->env->shard;
    const char *root = s->output_root && *s->output_root ? s->output_root : w->cfg->output_root;
    sw_output_job o = {root, s->output_prefix, s->submission_id, s->first_index + b->off + i, &b->jobs[i],
                       &b->images[i], w->engine, b->ms};
    *oj = o;
}

static void *writer_main(void *arg) {
    writer_arg *a = arg;
    const batch *b = a->b;
    for (size_t i = a->t; i < b->n; i += a->T) {
        sw_image *im = &b->images[i];
        if (im->status != 0 || b->out_failed[i]) /* failed, or its pixels could not be kept */
            continue;
        sw_output_job oj;
        batch_output_job(a->w, b, i, &oj);
        char err[512];
        if (sw_output_png(a->w->out, &oj, err, sizeof err) != 0) {
            b->out_failed[i] = 1;
            snprintf(im->error, sizeof im->error, "%.255s", err);
        }
    }
    return NULL;
}

/* Write a batch's images: PNGs encoded by up to --writers threads at once (encoding a large
 * image costs about as much as rendering it on a fast GPU), then the manifest lines in order. */
static void write_batch(sw_worker *w, const batch *b) {
    size_t n = b->n;
    size_t T = (size_t)(w->cfg->writers > 0 ? w->cfg->writers : 1);
    if (T > n)
        T = n;
    if (T > SW_MAX_WRITERS)
        T = SW_MAX_WRITERS;
    pthread_t th[SW_MAX_WRITERS];
    writer_arg args[SW_MAX_WRITERS];
    size_t started = 0;
    for (size_t t = 1; t < T; t++) {
        args[t] = (writer_arg){w, b, t, T};
        if (pthread_create(&th[t], NULL, writer_main, &args[t]) != 0)
            break;
        started = t;
    }
    /* This thread takes share 0, plus the shares of threads that failed to start. */
    for (size_t t = 0; t < T; t++) {
        if (t != 0 && t <= started)
            continue;
        args[t] = (writer_arg){w, b, t, T};
        writer_main(&args[t]);
    }
    for (size_t t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    for (size_t i = 0; i < n; i++) {
        if (b->images[i].status != 0 || b->out_failed[i])
            continue;
        sw_output_job oj;
        batch_output_job(w, b, i, &oj);
        char err[512];
        if (sw_output_manifest(w->out, &oj, err, sizeof err) != 0) {
            b->out_failed[i] = 1;
            snprintf(b->images[i].error, sizeof b->images[i].error, "%.255s", err);
        }
    }
}

/* Copy the pixels of b's images into the slot's own buffer: the engine's are only valid until
 * its next render call, which runs while this batch is written. Returns 0 or -1 (out of memory:
 * every image of the batch then fails with SF_ERR_OUTPUT). */
static int keep_pixels(batch *b) {
    size_t need = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->images[i].status == 0)
            need += (size_t)b->images[i].width * (size_t)b->images[i].height * 3;
    if (need > b->pix_cap) {
        uint8_t *p = realloc(b->pix, need);
        if (!p) {
            for (size_t i = 0; i < b->n; i++)
                if (b->images[i].status == 0) {
                    b->out_failed[i] = 1;
                    snprintf(b->images[i].error, sizeof b->images[i].error,
                             "out of memory keeping %zu bytes of pixels for writing", need);
                }
            return -1;
        }
        b->pix = p;
        b->pix_cap = need;
    }
    size_t at = 0;
    for (size_t i = 0; i < b->n; i++) {
        sw_image *im = &b->images[i];
        if (im->status != 0)
            continue;
        size_t len = (size_t)im->width * (size_t)im->height * 3;
        memcpy(b->pix + at, im->rgb, len);
        im->rgb = b->pix + at;
        at += len;
    }
    return 0;
}

/* Wake the main loop (a byte on the wake pipe). */
static void wake_main(sw_worker *w) {
    char c = 1;
    if (write(w->wake[1], &c, 1) < 0) {
        /* the pipe is non-blocking and only ever holds a few bytes: nothing to do */
    }
}

/* Render thread: run the batches handed over by the main loop through the engine, in order,
 * and pass each on to the write thread. */
static void *render_main(void *arg) {
    sw_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->rendered == w->started && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->rendered == w->started) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        batch *b = &w->slot[w->rendered % SW_SLOTS];
        uint64_t writing = w->rendered - w->written; /* earlier batches not yet written */
        if (writing)
            w->overlapped++;
        pthread_mutex_unlock(&w->mu);

        SF_DEBUG("batch %" PRIu64 ": rendering %zu jobs (%" PRIu64 " earlier batch%s being written)", b->seq, b->n,
                 writing, writing == 1 ? "" : "es");
        uint64_t t0 = sf_now_us();
        w->engine->ops->render(w->engine, b->jobs, b->n, b->images);
        b->ms = (uint32_t)((sf_now_us() - t0) / 1000 / (b->n ? b->n : 1));
        if (!w->cfg->no_write)
            keep_pixels(b);

        pthread_mutex_lock(&w->mu);
        w->rendered++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Write thread: write the rendered batches (PNGs and manifest lines), in order, then tell the
 * main loop, which reports their results. */
static void *write_main(void *arg) {
    sw_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->written == w->rendered && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->written == w->rendered) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        batch *b = &w->slot[w->written % SW_SLOTS];
        pthread_mutex_unlock(&w->mu);

        if (!w->cfg->no_write) {
            if (w->test_write_delay_ms > 0) {
                struct timespec ts = {(time_t)(w->test_write_delay_ms / 1000),
                                      (long)(w->test_write_delay_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            write_batch(w, b);
            sw_output_flush(w->out);
        }
        SF_DEBUG("batch %" PRIu64 ": written", b->seq);

        pthread_mutex_lock(&w->mu);
        w->written++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        wake_main(w);
    }
}

/* Finish the head shards that have nothing left to render and no batch in flight. */
static void finish_done(sw_worker *w) {
    while (w->q_len) {
        held *h = w->q[w->q_head];
        if (h->inflight || (!h->cancelled && h->next < h->env->shard->count))
            break;
        finish_head(w, 1);
    }
}

/* Hand the next batch (of the first queued shard with jobs not yet handed out) to the render
 * thread, when a slot is free. Returns 1 when a batch was started. */
static int start_batch(sw_worker *w) {
    finish_done(w);
    if (w->started - w->completed >= SW_SLOTS)
        return 0;
    held *h = NULL;
    for (size_t k = 0; k < w->q_len && !h; k++) {
        held *c = w->q[(w->q_head + k) % w->q_cap];
        if (!c->cancelled && c->sched < c->env->shard->count)
            h = c;
    }
    if (!h)
        return 0;
    Strike__Shard *s = h->env->shard;
    batch *b = &w->slot[w->started % SW_SLOTS];
    size_t n = s->count - h->sched;
    if (n > w->batch_cap)
        n = w->batch_cap;
    for (size_t i = 0; i < n; i++) {
        uint32_t off = h->sched + (uint32_t)i;
        sw_job *j = &b->jobs[i];
        j->prompt = (const char *)s->prompts.data + h->poff[off];
        j->prompt_len = s->prompt_len[off];
        j->seed = s->seeds[off];
        j->steps = (int)(s->n_steps_override && s->steps_override[off] ? s->steps_override[off] : s->steps);
        j->width = (int)(s->n_width_override && s->width_override[off] ? s->width_override[off] : s->width);
        j->height = (int)(s->n_height_override && s->height_override[off] ? s->height_override[off] : s->height);
        j->model = s->model;
        b->out_failed[i] = 0;
    }
    b->h = h;
    b->off = h->sched;
    b->n = n;
    b->seq = w->started;
    h->sched += (uint32_t)n;
    h->inflight++;
    pthread_mutex_lock(&w->mu);
    w->started++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 1;
}

/* Record the outcome of every batch written since the last call (oldest first) in its shard and
 * report: final Results when its shard is done, partial ones every SW_PARTIAL_MS. With wait set,
 * first wait until every batch handed out is written. Returns the number of batches completed. */
static int complete_batches(sw_worker *w, int wait) {
    pthread_mutex_lock(&w->mu);
    while (wait && w->written != w->started)
        pthread_cond_wait(&w->cv, &w->mu);
    uint64_t written = w->written;
    pthread_mutex_unlock(&w->mu);
    int done = 0;
    for (; w->completed < written; w->completed++, done++) {
        batch *b = &w->slot[w->completed % SW_SLOTS];
        held *h = b->h;
        for (size_t i = 0; i < b->n; i++) {
            uint32_t off = b->off + (uint32_t)i;
            sw_image *im = &b->images[i];
            if (im->status != 0 || b->out_failed[i]) {
                if (b->out_failed[i])
                    SF_WARN("%s", im->error);
                add_error(h, off, b->out_failed[i] ? SF_ERR_OUTPUT : SF_ERR_ENGINE, im->error);
                w->jobs_failed++;
                continue;
            }
            h->ok_off[h->n_ok] = off;
            h->ok_seed[h->n_ok] = b->jobs[i].seed;
            h->ok_ms[h->n_ok] = b->ms;
            h->n_ok++;
            w->jobs_done++;
        }
        h->next = b->off + (uint32_t)b->n;
        h->inflight--;
        b->h = NULL;
        if (h->next < h->env->shard->count && !h->cancelled && sf_now_ms() - h->last_report_ms >= SW_PARTIAL_MS)
            send_results(w, h, 0);
    }
    finish_done(w);
    return done;
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void handle(sw_worker *w, Strike__Envelope *env) {
    switch (env->body_case) {
    case STRIKE__ENVELOPE__BODY_REGISTER_ACK: {
        Strike__RegisterAck *a = env->register_ack;
        if (a->status != 0) {
            SF_ERROR("coordinator refused registration: %s (%s)", a->message, sf_strerror((sf_status)a->status));
            w->fatal = 1;
            break;
        }
        w->registered = 1;
        w->backoff_ms = 100;
        if (w->sessions++ > 0)
            resend_retained(w);
        w->hb_ms = a->heartbeat_ms ? a->heartbeat_ms : SW_DEFAULT_HB_MS;
        SF_INFO("registered with %s as %s (coordinator %s, heartbeat %u ms)", w->endpoints[w->cur], w->id,
                a->coordinator_id, w->hb_ms);
        /* The coordinator reset our credit to 0: offer what we can hold beyond what we hold. */
        uint64_t cap = (uint64_t)w->cfg->credit;
        if (cap > w->held_jobs)
            send_credit(w, (uint32_t)(cap - w->held_jobs));
        break;
    }
    case STRIKE__ENVELOPE__BODY_SHARD:
        take_shard(w, env);
        return; /* owned by the queue now */
    case STRIKE__ENVELOPE__BODY_CANCEL_SUBMISSION: {
        const char *sid = env->cancel_submission->submission_id;
        for (size_t i = 0; i < w->q_len; i++) {
            held *h = w->q[(w->q_head + i) % w->q_cap];
            if (strcmp(h->env->shard->submission_id, sid) == 0)
                h->cancelled = 1;
        }
        SF_INFO("submission %s cancelled: dropping its queued jobs", sid);
        break;
    }
    case STRIKE__ENVELOPE__BODY_ERROR:
        if (env->error->status == SF_ERR_UNKNOWN_WORKER) {
            /* Every message sent before the coordinator sees our new Register earns this error:
             * register once; the main loop retries if no RegisterAck comes. */
            if (w->registered) {
                SF_INFO("coordinator does not know us (%s): registering again", env->error->message);
                w->registered = 0;
                send_register(w);
            }
        } else {
            SF_WARN("coordinator error: %s (%s)", env->error->message, sf_strerror((sf_status)env->error->status));
        }
        break;
    case STRIKE__ENVELOPE__BODY_HEARTBEAT:
        break;
    default:
        w->malformed++;
        SF_DEBUG("unexpected message %d from the coordinator", (int)env->body_case);
        break;
    }
    strike__envelope__free_unpacked(env, NULL);
}

/* Read every frame waiting (up to a bound), waiting up to timeout_ms for the first frame or for
 * the render thread's wake-up. */
static void pump(sw_worker *w, long timeout_ms) {
    for (int k = 0; k < 256; k++) {
        zmq_pollitem_t pi[2] = {{w->sock, 0, ZMQ_POLLIN, 0}, {NULL, w->wake[0], ZMQ_POLLIN, 0}};
        int rc = zmq_poll(pi, 2, k == 0 ? timeout_ms : 0);
        if (rc <= 0)
            return;
        if (pi[1].revents & ZMQ_POLLIN) {
            char buf[64];
            while (read(w->wake[0], buf, sizeof buf) > 0) {
            }
        }
        if (!(pi[0].revents & ZMQ_POLLIN))
            return;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, w->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        w->last_recv = sf_now_ms();
        Strike__Envelope *env = NULL;
        size_t size = zmq_msg_size(&m);
        if (size > SF_DEFAULT_MAX_FRAME) /* between the frame limit and the transport limit */
            SF_WARN("frame of %zu bytes from the coordinator is over the %u byte limit", size,
                    (unsigned)SF_DEFAULT_MAX_FRAME);
        else if (!zmq_msg_more(&m))
            env = strike__envelope__unpack(NULL, size, zmq_msg_data(&m));
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            zmq_msg_recv(&m, w->sock, 0);
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
            if (env) {
                strike__envelope__free_unpacked(env, NULL);
                env = NULL;
            }
        }
        if (!env || env->version != SF_PROTOCOL_VERSION || env->body_case == STRIKE__ENVELOPE__BODY__NOT_SET) {
            w->malformed++;
            SF_WARN("dropped a malformed frame from the coordinator (%" PRIu64 " so far)", w->malformed);
            if (env)
                strike__envelope__free_unpacked(env, NULL);
            continue;
        }
        handle(w, env);
    }
}

/* ---- connection ----------------------------------------------------------------------------- */

/* A new DEALER (CURVE client when curve-server-key/curve-key are set: the key files are read
 * again for every socket and the secret wiped) replaces the old one and connects to the current
 * endpoint. If the new socket cannot be made (e.g. a key file became unreadable) the old one
 * stays and -1 is returned. */
static int open_socket(sw_worker *w) {
    void *s = zmq_socket(w->ctx, ZMQ_DEALER);
    if (!s)
        return -1;
    int linger = 0, hwm = 10000, sndtimeo = 2000;
    int64_t maxmsg = sf_transport_limit(SF_DEFAULT_MAX_FRAME); /* bigger frames counted, see pump() */
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    char err[512];
    if (sf_curve_client_setup(s, w->cfg->curve_server_key, w->cfg->curve_key, w->curve_pub, err, sizeof err) !=
        SF_OK) {
        SF_ERROR("%s", err);
        zmq_close(s);
        return -1;
    }
    if (w->mon)
        zmq_close(w->mon);
    if (w->sock)
        zmq_close(w->sock);
    w->sock = s;
    w->mon = sf_curve_monitor_open(w->ctx, s); /* before connecting: sees every handshake */
    w->mon_vague = 0;
    if (zmq_connect(w->sock, w->endpoints[w->cur]) != 0) {
        SF_ERROR("cannot connect to %s: %s", w->endpoints[w->cur], zmq_strerror(errno));
        return -1;
    }
    w->registered = 0;
    w->last_recv = sf_now_ms();
    send_register(w);
    return 0;
}

/* Connection lost or never made: wait the backoff (unless stopping), try the next endpoint. */
static void reconnect(sw_worker *w, volatile sig_atomic_t *stop) {
    char why[400];
    if (sf_curve_monitor_check(w->mon, w->curve_pub[0] != '\0', &w->mon_vague, why, sizeof why) != SF_OK)
        SF_ERROR("the coordinator at %s refused this worker (CURVE public key %s): %s; retrying in %" PRIu64 " ms",
                 w->endpoints[w->cur], w->curve_pub[0] ? w->curve_pub : "none, plaintext", why, w->backoff_ms);
    else
        SF_WARN("no answer from the coordinator at %s: reconnecting in %" PRIu64 " ms", w->endpoints[w->cur],
                w->backoff_ms);
    uint64_t until = sf_now_ms() + w->backoff_ms;
    while (!*stop && sf_now_ms() < until) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    w->backoff_ms *= 2;
    if (w->backoff_ms > (uint64_t)w->cfg->backoff_max_ms)
        w->backoff_ms = (uint64_t)w->cfg->backoff_max_ms;
    w->cur = (w->cur + 1) % w->n_endpoints;
    open_socket(w);
}

/* Split a comma-separated list into a NULL-free array of strdup'd strings. */
static char **split_list(const char *s, size_t *n) {
    *n = 0;
    if (!s || !*s)
        return NULL;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = calloc(cap, sizeof *v);
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); v && t; t = strtok_r(NULL, ",", &save))
        if (*t)
            v[(*n)++] = strdup(t);
    free(copy);
    return v;
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int sw_worker_run(const sw_config *cfg, sw_engine *engine, volatile sig_atomic_t *stop) {
    sw_worker w;
    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.engine = engine;
    w.hb_ms = SW_DEFAULT_HB_MS;
    w.backoff_ms = 100;
    gethostname(w.host, sizeof w.host - 1);
    if (cfg->worker_id && *cfg->worker_id)
        snprintf(w.id, sizeof w.id, "%s", cfg->worker_id);
    else
        snprintf(w.id, sizeof w.id, "%.64s:%ld:%04x", w.host, (long)getpid(),
                 (unsigned)((sf_wall_ms() ^ (uint64_t)getpid() * 2654435761u) & 0xffff));
    w.endpoints = split_list(cfg->coordinator, &w.n_endpoints);
    w.models = split_list(cfg->models, &w.n_models);
    if (w.n_endpoints == 0) {
        SF_ERROR("no coordinator endpoint (--coordinator)");
        return 2;
    }
    w.batch_cap = (size_t)(cfg->batch > 0 ? cfg->batch : 1);
    if (engine->max_batch > 0 && w.batch_cap > (size_t)engine->max_batch)
        w.batch_cap = (size_t)engine->max_batch;
    int slots_ok = 1;
    for (int k = 0; k < SW_SLOTS; k++) {
        w.slot[k].jobs = calloc(w.batch_cap, sizeof *w.slot[k].jobs);
        w.slot[k].images = calloc(w.batch_cap, sizeof *w.slot[k].images);
        w.slot[k].out_failed = calloc(w.batch_cap, 1);
        slots_ok = slots_ok && w.slot[k].jobs && w.slot[k].images && w.slot[k].out_failed;
    }
    const char *twd = getenv("STRIKE_TEST_WRITE_DELAY_MS");
    if (twd && *twd) {
        w.test_write_delay_ms = atoll(twd);
        SF_WARN("TEST HOOK: sleeping %lld ms before writing each batch (STRIKE_TEST_WRITE_DELAY_MS)",
                w.test_write_delay_ms);
    }
    sf_png_opts po;
    sf_png_opts_init(&po);
    po.compression = (int)cfg->compression;
    po.fsync_file = cfg->fsync;
    w.out = sw_output_new(w.id, &po, cfg->manifest);
    w.ctx = zmq_ctx_new();
    w.wake[0] = w.wake[1] = -1;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = 0;
    if (pipe2(w.wake, O_NONBLOCK | O_CLOEXEC) != 0 ||
        !(w.th_render_started = pthread_create(&w.th_render, NULL, render_main, &w) == 0) ||
        !(w.th_write_started = pthread_create(&w.th_write, NULL, write_main, &w) == 0)) {
        SF_ERROR("cannot start the render and write threads: %s", strerror(errno));
        rc = 1;
        goto done;
    }
    if (!slots_ok || !w.out || !w.ctx || open_socket(&w) != 0) {
        SF_ERROR("worker start-up failed");
        rc = 1;
        goto done;
    }
    SF_INFO("worker %s: engine %s (%s) on %s (%" PRIu64 " MiB), batch %zu, credit %lld, %s", w.id, engine->ops->kind,
            engine->version, engine->device_name[0] ? engine->device_name : "cpu", engine->device_memory >> 20,
            w.batch_cap, cfg->credit, cfg->no_write ? "not writing images (--no-write)" : "writing images");

    uint64_t idle_since = sf_now_ms();
    while (!*stop && !w.fatal) {
        pump(&w, 50); /* returns early on a frame or when the write thread finished a batch */
        complete_batches(&w, 0);
        while (start_batch(&w)) {
        }
        uint64_t now = sf_now_ms();
        if (w.started != w.completed || w.q_len) {
            idle_since = now;
        } else if (cfg->exit_after_idle_ms > 0 && now - idle_since > (uint64_t)cfg->exit_after_idle_ms) {
            SF_INFO("idle for %lld ms: leaving", cfg->exit_after_idle_ms);
            break;
        }
        now = sf_now_ms();
        if (!w.registered) {
            if (now - w.register_sent > (uint64_t)cfg->connect_timeout_ms)
                reconnect(&w, stop);
            continue;
        }
        /* at least one Heartbeat (lease report) per interval, whatever else is sent */
        if (now - w.last_hb >= w.hb_ms)
            send_heartbeat(&w);
        if (now - w.last_recv > (uint64_t)w.hb_ms * SW_DEAD_INTERVALS)
            reconnect(&w, stop);
    }

    /* Drain: let the batches in flight (rendering and writing) finish and report them, hand back
     * everything not rendered, say goodbye. */
    w.draining = 1;
    if (w.started != w.completed)
        SF_INFO("draining: finishing the %" PRIu64 " batches in flight (rendering or writing)", w.started - w.completed);
    while (w.started != w.completed) { /* keep heartbeats going while they finish */
        pump(&w, 50);
        complete_batches(&w, 0);
        if (w.sock && w.registered && sf_now_ms() - w.last_send >= w.hb_ms)
            send_heartbeat(&w);
    }
    if (w.sock && w.registered) {
        SF_INFO("draining: handing back %" PRIu64 " held jobs", w.held_jobs);
        sw_output_flush(w.out);
        while (w.q_len)
            finish_head(&w, 0);
        Strike__Envelope env = STRIKE__ENVELOPE__INIT;
        Strike__Goodbye g = STRIKE__GOODBYE__INIT;
        g.reason = (char *)(*stop ? "signal" : "idle");
        env.body_case = STRIKE__ENVELOPE__BODY_GOODBYE;
        env.goodbye = &g;
        send_env(&w, &env);
        int linger = 2000;
        zmq_setsockopt(w.sock, ZMQ_LINGER, &linger, sizeof linger);
    }
    rc = w.fatal ? 1 : 0;
    pthread_mutex_lock(&w.mu);
    uint64_t overlapped = w.overlapped;
    pthread_mutex_unlock(&w.mu);
    SF_INFO("worker %s done: %" PRIu64 " jobs rendered, %" PRIu64 " failed, %" PRIu64 " shards, %" PRIu64
            " malformed frames, %" PRIu64 " results re-sent, %" PRIu64 " of %" PRIu64
            " batches began rendering while an earlier one was being written",
            w.id, w.jobs_done, w.jobs_failed, w.shards, w.malformed, w.resent, overlapped, w.completed);
done:
    /* Nothing is in flight here (the drain waited for it): stop both threads. */
    pthread_mutex_lock(&w.mu);
    w.quit = 1;
    pthread_cond_broadcast(&w.cv);
    pthread_mutex_unlock(&w.mu);
    if (w.th_render_started)
        pthread_join(w.th_render, NULL);
    if (w.th_write_started)
        pthread_join(w.th_write, NULL);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    if (w.wake[0] >= 0)
        close(w.wake[0]);
    if (w.wake[1] >= 0)
        close(w.wake[1]);
    for (int k = 0; k < SW_SLOTS; k++) {
        free(w.slot[k].jobs);
        free(w.slot[k].images);
        free(w.slot[k].out_failed);
        free(w.slot[k].pix);
    }
    while (w.q_len) {
        held_free(w.q[w.q_head]);
        w.q_head = (w.q_head + 1) % w.q_cap;
        w.q_len--;
    }
    free(w.q);
    retained_free(&w);
    if (w.mon)
        zmq_close(w.mon);
    if (w.sock)
        zmq_close(w.sock);
    if (w.ctx)
        zmq_ctx_term(w.ctx);
    sw_output_destroy(&w.out);
    free_list(w.endpoints, w.n_endpoints);
    free_list(w.models, w.n_models);
    return rc;
}
