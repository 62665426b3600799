/*
 * submit.c - `strike submit FILE|-`: stream prompts (text or JSONL) to the coordinator in chunks.
 *
 * Memory is bounded: one input line, one chunk being filled and at most --window chunks in flight.
 * Resuming: the client token is derived from the input's absolute path and the template (or given
 * with --token), so running the same command again finds the same submission; Created says how
 * many jobs are already stored, and that many valid input jobs are skipped before sending goes on.
 * A bad line stops the submit (exit 3) after every earlier job was acknowledged; --skip-invalid
 * reports and skips bad lines instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "input.h"
#include "sf_job.h"
#include "sf_status.h"
#include "sf_time.h"

#define CHUNK_MAX_BYTES (8u << 20) /* prompt bytes per chunk */
#define MAX_WINDOW 64
#define SHOWN_BAD_LINES 100        /* --skip-invalid prints this many bad lines, then counts */

#define O(f) offsetof(cli_opts, f)
static const sf_cfg_entry k_submit[] = {
    CLI_COMMON_OPTIONS,
    {"model", SF_CFG_STRING, O(model), "sdxl-lightning", "model name the workers know"},
    {"steps", SF_CFG_INT, O(steps), "0",
     "sampler steps: 1..1000, those the model supports; 0 = the model's default (its default_steps in the models config)"},
    {"width", SF_CFG_INT, O(width), "1024", "image width, 64..4096, a multiple of 64"},
    {"height", SF_CFG_INT, O(height), "1024", "image height, 64..4096, a multiple of 64"},
    {"seed", SF_CFG_STRING, O(seed), "",
     "base seed: job i without its own seed gets (seed + i) mod 2^32 (default: random)"},
    {"priority", SF_CFG_INT, O(priority), "0", "-100..100; higher gets a larger share of dispatch"},
    {"out", SF_CFG_STRING, O(out), "", "output root directory (default: the workers' --output-root)"},
    {"prefix", SF_CFG_STRING, O(prefix), "", "image file name prefix ([A-Za-z0-9._-], <= 64)"},
    {"tags", SF_CFG_STRING, O(tags), "", "comma-separated labels (<= 16, each <= 64 bytes)"},
    {"token", SF_CFG_STRING, O(token), "",
     "client token (16..128 chars) naming this submission for resume (default: from file path + template)"},
    {"new", SF_CFG_BOOL, O(fresh), "false", "always start a new submission (never resume)"},
    {"skip-invalid", SF_CFG_BOOL, O(skip_invalid), "false", "skip and report bad lines instead of stopping"},
    {"format", SF_CFG_STRING, O(format), "auto", "input format: auto (JSONL if it starts with '{'), text, jsonl"},
    {"chunk-jobs", SF_CFG_INT, O(chunk_jobs), "16384", "jobs per chunk message (1..16384)"},
    {"window", SF_CFG_INT, O(window), "4", "chunks in flight before waiting for acks (1..64)"},
    {"watch", SF_CFG_BOOL, O(watch), "false", "watch the submission after sending it"},
    {"progress", SF_CFG_BOOL, O(progress), "true", "progress bar on a terminal (stderr)"},
};
#undef O
#define N_SUBMIT (sizeof k_submit / sizeof k_submit[0])

/* The chunk being filled. */
typedef struct chunk {
    uint8_t *bytes;
    size_t nbytes, capbytes;
    uint32_t *len;
    uint64_t *seed;
    protobuf_c_boolean *has_seed;
    uint32_t *steps, *width, *height;
    uint32_t count, cap;
    int any_seed, any_override;
} chunk;

/* One chunk sent and not yet acknowledged. */
typedef struct pending {
    uint64_t request_id, chunk_index;
} pending;

/* Submit state. */
typedef struct submit {
    const cli_opts *o;
    sc_client *c;
    char id[160];          /* submission id */
    uint64_t next_chunk;   /* index of the next chunk to send */
    uint64_t next_job;     /* index of the next job to send */
    uint64_t jobs_acked;   /* jobs durable per the last ack */
    pending win[MAX_WINDOW];
    int nwin;
    chunk ch;
    char err[1024];
    int status;            /* sf_status of the failure */
} submit;

static int chunk_init(chunk *c, uint32_t cap) {
    memset(c, 0, sizeof *c);
    c->cap = cap;
    c->capbytes = 1 << 20;
    c->bytes = malloc(c->capbytes);
    c->len = malloc(cap * sizeof *c->len);
    c->seed = malloc(cap * sizeof *c->seed);
    c->has_seed = malloc(cap * sizeof *c->has_seed);
    c->steps = malloc(cap * sizeof *c->steps);
    c->width = malloc(cap * sizeof *c->width);
    c->height = malloc(cap * sizeof *c->height);
    return c->bytes && c->len && c->seed && c->has_seed && c->steps && c->width && c->height ? 0 : -1;
}

static void chunk_free(chunk *c) {
    free(c->bytes);
    free(c->len);
    free(c->seed);
    free(c->has_seed);
    free(c->steps);
    free(c->width);
    free(c->height);
}

/* Add a job; returns -1 on out of memory. */
static int chunk_add(chunk *c, const si_job *j) {
    if (c->nbytes + j->prompt_len > c->capbytes) {
        size_t nc = c->capbytes * 2;
        while (nc < c->nbytes + j->prompt_len)
            nc *= 2;
        uint8_t *nb = realloc(c->bytes, nc);
        if (!nb)
            return -1;
        c->bytes = nb;
        c->capbytes = nc;
    }
    memcpy(c->bytes + c->nbytes, j->prompt, j->prompt_len);
    c->nbytes += j->prompt_len;
    uint32_t i = c->count++;
    c->len[i] = (uint32_t)j->prompt_len;
    c->seed[i] = j->seed;
    c->has_seed[i] = j->has_seed;
    c->steps[i] = (uint32_t)j->steps;
    c->width[i] = (uint32_t)j->width;
    c->height[i] = (uint32_t)j->height;
    c->any_seed |= j->has_seed;
    c->any_override |= j->steps || j->width || j->height;
    return 0;
}

/* Handle one reply while chunks are in flight. Returns 0, or -1 on failure (s->err set). */
static int take_reply(submit *s) {
    int st;
    Strike__Envelope *env = sc_recv(s->c, -1, &st, s->err, sizeof s->err);
    if (!env) {
        s->status = st;
        return -1;
    }
    int rc = 0, found = -1;
    for (int i = 0; i < s->nwin; i++)
        if (s->win[i].request_id == env->request_id)
            found = i;
    if (found < 0) {
        strike__envelope__free_unpacked(env, NULL);
        return 0; /* a late reply to something else: ignore */
    }
    if (env->body_case == STRIKE__ENVELOPE__BODY_ERROR) {
        s->status = env->error->status ? (int)env->error->status : SF_ERR_INTERNAL;
        snprintf(s->err, sizeof s->err, "coordinator refused chunk %" PRIu64 ": %s", s->win[found].chunk_index,
                 env->error->message);
        rc = -1;
    } else if (env->body_case == STRIKE__ENVELOPE__BODY_CHUNK_ACK) {
        Strike__ChunkAck *a = env->chunk_ack;
        if (a->status != 0) {
            s->status = (int)a->status;
            snprintf(s->err, sizeof s->err, "coordinator refused chunk %" PRIu64 ": %s (%s)", a->chunk_index,
                     a->message, sf_strerror((sf_status)a->status));
            rc = -1;
        } else if (a->jobs_stored > s->jobs_acked) {
            s->jobs_acked = a->jobs_stored;
        }
    }
    s->win[found] = s->win[--s->nwin];
    strike__envelope__free_unpacked(env, NULL);
    return rc;
}

/* Wait until at most `keep` chunks are in flight. */
static int drain(submit *s, int keep) {
    while (s->nwin > keep)
        if (take_reply(s) != 0)
            return -1;
    return 0;
}

/* Send the chunk being filled (if any) and start a new one. */
static int flush_chunk(submit *s) {
    chunk *c = &s->ch;
    if (c->count == 0)
        return 0;
    if (drain(s, (int)s->o->window - 1) != 0)
        return -1;
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__Chunk m = STRIKE__CHUNK__INIT;
    m.submission_id = s->id;
    m.chunk_index = s->next_chunk;
    m.first_index = s->next_job;
    m.count = c->count;
    m.prompts.data = c->bytes;
    m.prompts.len = c->nbytes;
    m.n_prompt_len = c->count;
    m.prompt_len = c->len;
    if (c->any_seed) {
        m.n_seeds = m.n_has_seed = c->count;
        m.seeds = c->seed;
        m.has_seed = c->has_seed;
    }
    if (c->any_override) {
        m.n_steps = m.n_width = m.n_height = c->count;
        m.steps = c->steps;
        m.width = c->width;
        m.height = c->height;
    }
    env.body_case = STRIKE__ENVELOPE__BODY_CHUNK;
    env.chunk = &m;
    env.request_id = sc_next_id(s->c);
    int st = sc_send(s->c, &env, s->err, sizeof s->err);
    if (st != SF_OK) {
        s->status = st;
        return -1;
    }
    s->win[s->nwin].request_id = env.request_id;
    s->win[s->nwin].chunk_index = s->next_chunk;
    s->nwin++;
    s->next_chunk++;
    s->next_job += c->count;
    c->count = 0;
    c->nbytes = 0;
    c->any_seed = c->any_override = 0;
    return 0;
}

/* 64-bit FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Token from the absolute input path and the template flags (docs/cli.md "Resuming"). */
static void derive_token(char *tok, size_t cap, const char *abspath, const cli_opts *o, const char *fmt) {
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "strike-submit-v1|%s|%s|%lld|%lld|%lld|%s|%lld|%s|%s|%s|%s", abspath, o->model,
                     o->steps, o->width, o->height, o->seed, o->priority, o->out, o->prefix, o->tags, fmt);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    uint64_t a = fnv(0xcbf29ce484222325ull, buf, len);
    uint64_t b = fnv(0x84222325cbf29ce4ull ^ len, buf, len);
    snprintf(tok, cap, "file-%016" PRIx64 "%016" PRIx64, a, b);
}

static void random_token(char *tok, size_t cap) {
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        r[0] = sf_wall_ms();
        r[1] = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
    }
    snprintf(tok, cap, "rand-%016" PRIx64 "%016" PRIx64, r[0], r[1]);
}

/* Check the template flags. Returns NULL or a message. */
static const char *check_template(const cli_opts *o, uint64_t *base_seed, char *buf, size_t cap) {
    if (!o->model[0] || strlen(o->model) > SF_MAX_MODEL_BYTES)
        return "--model must be 1..256 bytes";
    /* 0 or 1..1000; the model's own counts are checked by the coordinator (models config) or
     * the worker */
    if (o->steps != 0 && (o->steps < 0 || o->steps > LONG_MAX || si_check_steps((long)o->steps))) {
        snprintf(buf, cap, "--steps %lld is not in 1..1000 (or 0: the model's default)", o->steps);
        return buf;
    }
    if (o->width < 0 || !sf_side_valid((uint32_t)o->width) || o->height < 0 || !sf_side_valid((uint32_t)o->height)) {
        snprintf(buf, cap, "--width/--height %lldx%lld: each must be 64..4096 and a multiple of 64", o->width,
                 o->height);
        return buf;
    }
    if (o->priority < SF_MIN_PRIORITY || o->priority > SF_MAX_PRIORITY)
        return "--priority must be -100..100";
    if (o->prefix[0] && !sf_prefix_valid(o->prefix))
        return "--prefix must be <= 64 characters of [A-Za-z0-9._-], not starting with '.'";
    if (strlen(o->out) > SF_MAX_ROOT_BYTES)
        return "--out is longer than 1024 bytes";
    if (o->chunk_jobs < 1 || o->chunk_jobs > SF_MAX_CHUNK_JOBS)
        return "--chunk-jobs must be 1..16384";
    if (o->window < 1 || o->window > MAX_WINDOW)
        return "--window must be 1..64";
    if (o->token[0] && (strlen(o->token) < 16 || strlen(o->token) > 128))
        return "--token must be 16..128 characters";
    if (o->seed[0]) {
        char *end;
        errno = 0;
        if (o->seed[0] == '-')
            return "--seed must be a number 0..18446744073709551615";
        unsigned long long v = strtoull(o->seed, &end, 10);
        if (errno || *end)
            return "--seed must be a number 0..18446744073709551615";
        *base_seed = v;
    } else {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)(sf_wall_ms() ^ (uint64_t)getpid());
        *base_seed = r;
    }
    return NULL;
}

/* Split "a,b,c" into the Template's tags (pointers into a strdup'd copy). */
static int split_tags(char *copy, char **tags, size_t *n) {
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!*t)
            continue;
        if (*n >= SF_MAX_TAGS || strlen(t) > SF_MAX_TAG_BYTES)
            return -1;
        tags[(*n)++] = t;
    }
    return 0;
}

/* Progress bar on stderr: prompts sent, rate, and (for a file) percent and ETA by bytes. */
static void draw_progress(uint64_t jobs, double secs, uint64_t off, uint64_t size, int final) {
    double rate = secs > 0 ? (double)jobs / secs : 0;
    if (size > 0) {
        double frac = (double)off / (double)size;
        if (frac > 1)
            frac = 1;
        int filled = (int)(frac * 30);
        char bar[31];
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = 0;
        double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
        fprintf(stderr, "\r[%s] %3d%%  %" PRIu64 " prompts  %.0f/s  ETA %.0fs   ", bar, (int)(frac * 100), jobs, rate,
                eta);
    } else {
        fprintf(stderr, "\rsubmitting: %" PRIu64 " prompts  %.0f/s   ", jobs, rate);
    }
    if (final)
        fputc('\n', stderr);
}

int cli_submit(int argc, char **argv) {
    cli_opts o;
    char *pos[1];
    int npos = 0;
    int rc = cli_parse(k_submit, N_SUBMIT, &o, argc, argv, "[options] FILE|-",
                       "Sends one job per prompt: FILE holds one prompt per line (text) or one JSON object per\n"
                       "line (JSONL: prompt, seed, steps, width, height). '-' reads standard input. Steps not\n"
                       "given come from the model (the models config's default_steps). Prints the\n"
                       "submission id. Running the same command again resumes a submit that stopped (crash, bad\n"
                       "line) without duplicating jobs. See docs/cli.md.",
                       pos, 1, &npos);
    if (rc != 0) {
        cli_opts_free(k_submit, N_SUBMIT, &o);
        return rc < 0 ? 0 : rc;
    }
    submit s;
    memset(&s, 0, sizeof s);
    s.o = &o;
    FILE *fp = NULL;
    si_reader *rd = NULL;
    char *tagcopy = NULL;
    char buf[512];
    uint64_t base_seed = 0;
    const char *bad = NULL;
    rc = CLI_USAGE;
    if (npos != 1) {
        fprintf(stderr, "strike submit: give one input FILE, or - for standard input (see --help)\n");
        goto out;
    }
    if ((bad = check_template(&o, &base_seed, buf, sizeof buf))) {
        fprintf(stderr, "strike submit: %s\n", bad);
        goto out;
    }
    si_format fmt = SI_FORMAT_AUTO;
    if (strcmp(o.format, "text") == 0)
        fmt = SI_FORMAT_TEXT;
    else if (strcmp(o.format, "jsonl") == 0)
        fmt = SI_FORMAT_JSONL;
    else if (strcmp(o.format, "auto") != 0) {
        fprintf(stderr, "strike submit: --format must be auto, text or jsonl\n");
        goto out;
    }
    char *tags[SF_MAX_TAGS];
    size_t ntags = 0;
    tagcopy = strdup(o.tags);
    if (!tagcopy || split_tags(tagcopy, tags, &ntags) != 0) {
        fprintf(stderr, "strike submit: --tags: at most 16 tags of at most 64 bytes\n");
        goto out;
    }
    /* The output root travels to workers on other machines: make it absolute. */
    char outabs[PATH_MAX] = "";
    if (o.out[0] == '/' || !o.out[0]) {
        snprintf(outabs, sizeof outabs, "%s", o.out);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            fprintf(stderr, "strike submit: cannot resolve --out: %s\n", strerror(errno));
            goto out;
        }
        if ((size_t)snprintf(outabs, sizeof outabs, "%.2048s/%.1024s", cwd, o.out) >= sizeof outabs) {
            fprintf(stderr, "strike submit: --out path too long\n");
            goto out;
        }
    }

    /* Input and token. */
    rc = CLI_ERR;
    char token[160];
    uint64_t in_size = 0;
    int from_stdin = strcmp(pos[0], "-") == 0;
    if (from_stdin) {
        fp = stdin;
    } else {
        fp = fopen(pos[0], "r");
        if (!fp) {
            fprintf(stderr, "strike submit: cannot open %s: %s\n", pos[0], strerror(errno));
            goto out;
        }
        struct stat st;
        if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode))
            in_size = (uint64_t)st.st_size;
    }
    if (o.token[0]) {
        snprintf(token, sizeof token, "%s", o.token);
    } else if (o.fresh || from_stdin) {
        random_token(token, sizeof token);
        if (from_stdin && !o.json)
            fprintf(stderr, "strike submit: reading standard input; to resume this submit later, re-run with "
                            "--token %s\n", token);
    } else {
        char abspath[PATH_MAX];
        if (!realpath(pos[0], abspath))
            snprintf(abspath, sizeof abspath, "%s", pos[0]);
        derive_token(token, sizeof token, abspath, &o, o.format);
    }
    rd = si_reader_new(fp, fmt);
    if (!rd || chunk_init(&s.ch, (uint32_t)o.chunk_jobs) != 0) {
        fprintf(stderr, "strike submit: out of memory\n");
        goto out;
    }
    s.c = cli_connect(&o);
    if (!s.c)
        goto out;

    /* Create (or find) the submission. */
    Strike__Envelope req = STRIKE__ENVELOPE__INIT;
    Strike__Create cr = STRIKE__CREATE__INIT;
    Strike__Template tp = STRIKE__TEMPLATE__INIT;
    tp.model = o.model;
    tp.steps = (uint32_t)o.steps;
    tp.width = (uint32_t)o.width;
    tp.height = (uint32_t)o.height;
    tp.base_seed = base_seed;
    tp.priority = (int32_t)o.priority;
    tp.output_root = outabs;
    tp.output_prefix = o.prefix;
    tp.n_tags = ntags;
    tp.tags = tags;
    cr.client_token = token;
    cr.template_ = &tp;
    cr.chunk_jobs = (uint32_t)o.chunk_jobs;
    req.body_case = STRIKE__ENVELOPE__BODY_CREATE;
    req.create = &cr;
    int st;
    Strike__Envelope *rep = sc_call(s.c, &req, &st, s.err, sizeof s.err);
    if (!rep || rep->body_case != STRIKE__ENVELOPE__BODY_CREATED) {
        fprintf(stderr, "strike submit: %s\n", rep ? "unexpected reply to Create" : s.err);
        rc = rep ? CLI_ERR : cli_exit_for(st);
        if (rep)
            strike__envelope__free_unpacked(rep, NULL);
        goto out;
    }
    snprintf(s.id, sizeof s.id, "%s", rep->created->submission_id);
    uint64_t resume_jobs = rep->created->jobs_stored;
    int sealed = rep->created->sealed, existed = rep->created->existed;
    s.next_chunk = rep->created->chunks_stored;
    s.next_job = resume_jobs;
    s.jobs_acked = resume_jobs;
    strike__envelope__free_unpacked(rep, NULL);
    if (sealed) {
        if (!o.json)
            fprintf(stderr, "strike submit: submission %s was already sent completely (%" PRIu64 " jobs)\n", s.id,
                    resume_jobs);
    } else if (existed && !o.json) {
        fprintf(stderr, "strike submit: resuming submission %s: %" PRIu64 " jobs already stored\n", s.id, resume_jobs);
    }

    /* Stream the input. */
    uint64_t t0 = sf_now_us(), last_draw = 0, skipped_valid = 0, bad_lines = 0;
    int tty = o.progress && !o.json && isatty(2);
    si_job job;
    char lerr[512];
    int input_bad = 0;
    while (!sealed) {
        if (cli_interrupted) {
            s.status = SF_ERR_SHUTDOWN;
            snprintf(s.err, sizeof s.err, "interrupted");
            break;
        }
        int r = si_reader_next(rd, &job, lerr, sizeof lerr);
        if (r == 0)
            break;
        if (r == -2) {
            snprintf(s.err, sizeof s.err, "%s: %s", from_stdin ? "stdin" : pos[0], lerr);
            s.status = SF_ERR_IO;
            break;
        }
        if (r == -1) {
            if (o.skip_invalid) {
                if (bad_lines++ < SHOWN_BAD_LINES)
                    fprintf(stderr, "%sstrike submit: skipped %s\n", tty ? "\n" : "", lerr);
                continue;
            }
            snprintf(s.err, sizeof s.err, "%s", lerr);
            input_bad = 1;
            break;
        }
        if (skipped_valid < resume_jobs) {
            skipped_valid++;
            continue;
        }
        if (s.ch.count >= s.ch.cap || s.ch.nbytes + job.prompt_len > CHUNK_MAX_BYTES)
            if (flush_chunk(&s) != 0)
                break;
        if (chunk_add(&s.ch, &job) != 0) {
            snprintf(s.err, sizeof s.err, "out of memory");
            s.status = SF_ERR_NO_MEMORY;
            break;
        }
        if (tty && ((s.next_job + s.ch.count) & 4095) == 0 && s.next_job + s.ch.count > resume_jobs) {
            uint64_t now = sf_now_us();
            if (now - last_draw > 100000) {
                last_draw = now;
                draw_progress(s.next_job + s.ch.count - resume_jobs, (double)(now - t0) / 1e6, si_reader_offset(rd),
                              in_size, 0);
            }
        }
    }
    /* Whatever was read before a stop is still sent and acknowledged: nothing accepted is lost. */
    if (!s.status && flush_chunk(&s) == 0)
        drain(&s, 0);
    else if (s.status == 0 || s.status == SF_ERR_SHUTDOWN || s.status == SF_ERR_IO)
        drain(&s, 0);
    double secs = (double)(sf_now_us() - t0) / 1e6;
    uint64_t sent = s.next_job - resume_jobs;
    if (tty)
        draw_progress(sent, secs, si_reader_offset(rd), in_size, 1);

    if (!sealed && !input_bad && !s.status && skipped_valid < resume_jobs) {
        snprintf(s.err, sizeof s.err, "the input has %" PRIu64 " jobs but submission %s already stored %" PRIu64
                 " (not the same input? use --new for a new submission)", skipped_valid, s.id, resume_jobs);
        s.status = SF_ERR_CONFLICT;
    }
    if (input_bad) {
        fprintf(stderr, "strike submit: %s\n", s.err);
        fprintf(stderr, "strike submit: stopped; %" PRIu64 " jobs of submission %s are stored and kept. Fix the "
                        "line and run the same command again to resume%s.\n",
                s.jobs_acked, s.id, from_stdin ? " (with the --token printed above)" : "");
        printf("%s\n", s.id);
        rc = CLI_BAD_INPUT;
        goto out;
    }
    if (s.status) {
        fprintf(stderr, "strike submit: %s\n", s.err);
        if (s.id[0])
            fprintf(stderr, "strike submit: %" PRIu64 " jobs of submission %s are stored; run the same command "
                            "again to resume.\n", s.jobs_acked, s.id);
        rc = cli_exit_for(s.status);
        goto out;
    }
    if (!sealed) {
        Strike__Envelope sreq = STRIKE__ENVELOPE__INIT;
        Strike__Seal sl = STRIKE__SEAL__INIT;
        sl.submission_id = s.id;
        sl.total_jobs = s.next_job;
        sl.total_chunks = s.next_chunk;
        sreq.body_case = STRIKE__ENVELOPE__BODY_SEAL;
        sreq.seal = &sl;
        rep = sc_call(s.c, &sreq, &st, s.err, sizeof s.err);
        if (!rep || rep->body_case != STRIKE__ENVELOPE__BODY_REPLY || rep->reply->status != 0) {
            fprintf(stderr, "strike submit: seal failed: %s\n",
                    !rep ? s.err : rep->body_case == STRIKE__ENVELOPE__BODY_REPLY ? rep->reply->message : "bad reply");
            rc = !rep ? cli_exit_for(st) : CLI_REFUSED;
            if (rep)
                strike__envelope__free_unpacked(rep, NULL);
            goto out;
        }
        strike__envelope__free_unpacked(rep, NULL);
    }
    if (o.json) {
        char seedtxt[24]; /* a string: a 64-bit seed does not always fit a JSON integer */
        snprintf(seedtxt, sizeof seedtxt, "%" PRIu64, base_seed);
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:s, s:s}", "submission_id", s.id, "jobs",
                              (json_int_t)s.next_job, "sent", (json_int_t)sent, "resumed_at", (json_int_t)resume_jobs,
                              "skipped_lines", (json_int_t)bad_lines, "seconds", secs, "prompts_per_s",
                              secs > 0 ? (double)sent / secs : 0.0, "token", token, "base_seed", seedtxt);
        json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(j);
    } else {
        printf("%s\n", s.id);
        fprintf(stderr, "strike submit: submission %s: %" PRIu64 " jobs (%" PRIu64 " sent now in %.2f s, %.0f "
                        "prompts/s)%s\n", s.id, s.next_job, sent, secs, secs > 0 ? (double)sent / secs : 0.0,
                bad_lines ? "" : "");
        if (bad_lines)
            fprintf(stderr, "strike submit: %" PRIu64 " bad lines skipped\n", bad_lines);
    }
    fflush(stdout);
    rc = CLI_OK;
    if (o.watch)
        rc = cli_watch_id(s.c, &o, s.id);
out:
    if (fp && fp != stdin)
        fclose(fp);
    si_reader_destroy(&rd);
    chunk_free(&s.ch);
    sc_client_destroy(&s.c);
    free(tagcopy);
    cli_opts_free(k_submit, N_SUBMIT, &o);
    return rc;
}
