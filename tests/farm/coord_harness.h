/* coord_harness.h - helpers for the coordinator's tests: a real redis-server on a unix socket in a
 * temporary directory, a coordinator core driven by hand (manual clock, outbox captured instead of
 * sent), and builders for the messages workers and clients send. Header-only; one test per file. */
#ifndef STRIKE_COORD_HARNESS_H
#define STRIKE_COORD_HARNESS_H
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coord.h"
#include "test_util.h"

/* ---- redis-server ---- */
typedef struct h_redis {
  char dir[256];
  char sock[300];
  pid_t pid;
} h_redis;

/* Start redis-server (extra args appended, NULL-terminated list). Exits 77 if it is missing. */
static inline int h_redis_start(h_redis *r, const char *const *extra) {
  if (!r->dir[0]) {
    snprintf(r->dir, sizeof r->dir, "/tmp/strike-coordtest-XXXXXX");
    if (!mkdtemp(r->dir)) return -1;
  }
  snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
  unlink(r->sock);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const char *argv[40] = {STRIKE_REDIS_SERVER, "--port", "0", "--unixsocket", r->sock,
                            "--unixsocketperm", "700", "--dir", r->dir, "--save", "",
                            "--daemonize", "no", "--loglevel", "warning"};
    int n = 15;
    for (int i = 0; extra && extra[i] && n < 38; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    char log[320];
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    FILE *f = freopen(log, "a", stdout);
    (void)f;
    dup2(1, 2);
    execv(STRIKE_REDIS_SERVER, (char *const *)argv);
    _exit(127);
  }
  r->pid = pid;
  for (int i = 0; i < 1000; i++) { /* wait for the socket (up to ~10 s) */
    redisContext *x = redisConnectUnix(r->sock);
    if (x && !x->err) {
      redisReply *rep = redisCommand(x, "PING");
      int ok = rep && rep->type == REDIS_REPLY_STATUS;
      if (rep) freeReplyObject(rep);
      redisFree(x);
      if (ok) return 0;
    } else if (x) {
      redisFree(x);
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      fprintf(stderr, "redis-server exited early (see %s/redis.log)\n", r->dir);
      return -1;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

static inline int h_redis_start(h_redis *r, const char *const *extra);
/* Start the same server again (same directory, so an AOF there is loaded). */
static inline int h_start_again(h_redis *r, const char *const *extra) { return h_redis_start(r, extra); }

static inline void h_redis_stop(h_redis *r, int sig) {
  if (r->pid > 0) {
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
  }
}

/* A synchronous connection for the test's own inspection. */
static inline redisContext *h_redis_conn(h_redis *r) {
  redisContext *x = redisConnectUnix(r->sock);
  if (!x || x->err) {
    if (x) redisFree(x);
    return NULL;
  }
  return x;
}

static inline void h_cleanup_dir(h_redis *r) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", r->dir);
}

/* ---- captured outbox ---- */
#define H_MAXCAP 4096
typedef struct h_msg {
  out_sock sock;
  sf_peer peer;
  Strike__Envelope *env;
} h_msg;
static h_msg g_cap[H_MAXCAP];
static size_t g_ncap;

static inline void h_capture(coord *c, out_sock s, const sf_peer *peer, const uint8_t *buf, size_t len) {
  (void)c;
  if (g_ncap >= H_MAXCAP) return;
  Strike__Envelope *env = strike__envelope__unpack(NULL, len, buf);
  if (!env) return;
  g_cap[g_ncap].sock = s;
  g_cap[g_ncap].peer = *peer;
  g_cap[g_ncap].env = env;
  g_ncap++;
}

static inline void h_cap_clear(void) {
  for (size_t i = 0; i < g_ncap; i++) strike__envelope__free_unpacked(g_cap[i].env, NULL);
  g_ncap = 0;
}

/* Count captured messages of one kind. */
static inline size_t h_cap_count(Strike__Envelope__BodyCase b) {
  size_t n = 0;
  for (size_t i = 0; i < g_ncap; i++) n += g_cap[i].env->body_case == b;
  return n;
}

/* Last captured message of a kind, or NULL. */
static inline Strike__Envelope *h_cap_last(Strike__Envelope__BodyCase b) {
  for (size_t i = g_ncap; i-- > 0;)
    if (g_cap[i].env->body_case == b) return g_cap[i].env;
  return NULL;
}

/* ---- coordinator ---- */
static inline coord *h_coord(h_redis *r, const char *prefix, void (*tweak)(coord_config *)) {
  coord_config cfg;
  memset(&cfg, 0, sizeof cfg);
  char err[256];
  if (sf_config_defaults(coord_config_table, coord_config_table_len, &cfg, err, sizeof err)) return NULL;
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "redis", r->sock, err, sizeof err);
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "redis-prefix", prefix, err, sizeof err);
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "default-output-root", "/tmp/strike-test-out", err, sizeof err);
  cfg.redis_timeout_ms = 2000;
  if (tweak) tweak(&cfg);
  coord *c = coord_new(&cfg);
  if (!c) return NULL;
  c->deliver = h_capture;
  coord_use_manual_clock(c, 1000000);
  return c;
}

static inline sf_peer h_peer(const char *name) {
  sf_peer p;
  memset(&p, 0, sizeof p);
  p.len = strlen(name);
  memcpy(p.id, name, p.len);
  return p;
}

/* Feed one envelope to the coordinator as if it arrived on a socket (packed + decoded, so the
 * test goes through the real framing code). */
static inline void h_feed(coord *c, int worker_side, const char *peer, Strike__Envelope *env) {
  size_t len = 0;
  uint8_t *buf = sf_msg_pack(env, &len);
  Strike__Envelope *in = NULL;
  sf_frame_stats *st = worker_side ? &c->wstats : &c->cstats;
  if (sf_msg_decode(buf, len, c->cfg.max_frame_bytes, st, peer, &in) == SF_OK) {
    sf_peer p = h_peer(peer);
    if (worker_side) coord_on_worker(c, &p, in);
    else coord_on_client(c, &p, in);
    sf_msg_free(&in);
  }
  free(buf);
}

static inline void h_register_ex(coord *c, const char *peer, const char *id, const char *model,
                                 int fresh) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Register r = STRIKE__REGISTER__INIT;
  r.fresh_start = fresh;
  r.worker_id = (char *)id;
  r.host = "testhost";
  r.engine = "null";
  char *models[1] = {(char *)model};
  if (model) {
    r.n_models = 1;
    r.models = models;
    r.n_loaded_models = 1;
    r.loaded_models = models;
  }
  env.body_case = STRIKE__ENVELOPE__BODY_REGISTER_WORKER;
  env.register_worker = &r;
  h_feed(c, 1, peer, &env);
}

static inline void h_register(coord *c, const char *peer, const char *id, const char *model) {
  h_register_ex(c, peer, id, model, 0);
}

static inline void h_credit(coord *c, const char *peer, uint32_t jobs) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Credit cr = STRIKE__CREDIT__INIT;
  cr.jobs = jobs;
  env.body_case = STRIKE__ENVELOPE__BODY_CREDIT;
  env.credit = &cr;
  h_feed(c, 1, peer, &env);
}

static inline void h_heartbeat(coord *c, const char *peer) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Heartbeat hb = STRIKE__HEARTBEAT__INIT;
  env.body_case = STRIKE__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  h_feed(c, 1, peer, &env);
}

/* Create a submission; returns its id string (static buffer) or NULL. */
static inline const char *h_create(coord *c, const char *token, int priority, const char *model) {
  static char id[32];
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Create cr = STRIKE__CREATE__INIT;
  Strike__Template t = STRIKE__TEMPLATE__INIT;
  t.model = (char *)(model ? model : "sdxl-lightning");
  t.steps = 4;
  t.width = 1024;
  t.height = 1024;
  t.base_seed = 42;
  t.priority = priority;
  t.output_prefix = "img";
  cr.client_token = (char *)token;
  cr.template_ = &t;
  env.request_id = 1;
  env.body_case = STRIKE__ENVELOPE__BODY_CREATE;
  env.create = &cr;
  h_cap_clear();
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  Strike__Envelope *rep = h_cap_last(STRIKE__ENVELOPE__BODY_CREATED);
  if (!rep) return NULL;
  snprintf(id, sizeof id, "%s", rep->created->submission_id);
  return id;
}

/* Prompt text of job i (deterministic, ~prompt_len bytes). */
static inline size_t h_prompt(char *buf, size_t cap, uint64_t i, size_t plen) {
  int n = snprintf(buf, cap, "a photograph of object number %llu on a table, ",
                   (unsigned long long)i);
  size_t l = (size_t)n;
  while (l < plen && l + 1 < cap) {
    buf[l] = (char)('a' + (i + l) % 26);
    l++;
  }
  return l;
}

/* Send one chunk of `count` jobs; returns the ChunkAck status (or 999 if none). */
static inline uint32_t h_chunk(coord *c, const char *sub, uint64_t chunk_index, uint64_t first,
                        uint32_t count, size_t plen, uint64_t *prompt_bytes) {
  char *prompts = malloc((size_t)count * (plen + 64));
  uint32_t *lens = malloc(sizeof *lens * count);
  size_t o = 0;
  for (uint32_t i = 0; i < count; i++) {
    lens[i] = (uint32_t)h_prompt(prompts + o, plen + 64, first + i, plen);
    o += lens[i];
  }
  if (prompt_bytes) *prompt_bytes += o;
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Chunk ch = STRIKE__CHUNK__INIT;
  ch.submission_id = (char *)sub;
  ch.chunk_index = chunk_index;
  ch.first_index = first;
  ch.count = count;
  ch.prompts.data = (uint8_t *)prompts;
  ch.prompts.len = o;
  ch.n_prompt_len = count;
  ch.prompt_len = lens;
  env.request_id = 100 + chunk_index;
  env.body_case = STRIKE__ENVELOPE__BODY_CHUNK;
  env.chunk = &ch;
  h_cap_clear();
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  free(prompts);
  free(lens);
  Strike__Envelope *a = h_cap_last(STRIKE__ENVELOPE__BODY_CHUNK_ACK);
  if (a) return a->chunk_ack->status;
  a = h_cap_last(STRIKE__ENVELOPE__BODY_ERROR); /* any request may get Error instead */
  return a ? a->error->status : 999;
}

static inline uint32_t h_seal(coord *c, const char *sub, uint64_t jobs, uint64_t chunks) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Seal se = STRIKE__SEAL__INIT;
  se.submission_id = (char *)sub;
  se.total_jobs = jobs;
  se.total_chunks = chunks;
  env.request_id = 7;
  env.body_case = STRIKE__ENVELOPE__BODY_SEAL;
  env.seal = &se;
  h_cap_clear();
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  Strike__Envelope *r = h_cap_last(STRIKE__ENVELOPE__BODY_REPLY);
  if (r) return r->reply->status;
  r = h_cap_last(STRIKE__ENVELOPE__BODY_ERROR);
  return r ? r->error->status : 999;
}

/* Submission status via the client protocol. Returns a copy of the counters. */
typedef struct h_status {
  uint64_t total, queued, leased, done, dead, cancelled, failed;
  double rate;
  char state[32];
  int found;
} h_status;

static inline h_status h_get_status(coord *c, const char *sub) {
  h_status s;
  memset(&s, 0, sizeof s);
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__StatusRequest rq = STRIKE__STATUS_REQUEST__INIT;
  rq.submission_id = (char *)sub;
  env.request_id = 9;
  env.body_case = STRIKE__ENVELOPE__BODY_STATUS_REQUEST;
  env.status_request = &rq;
  size_t before = g_ncap;
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  for (size_t i = g_ncap; i-- > before;) {
    Strike__Envelope *e = g_cap[i].env;
    if (e->body_case == STRIKE__ENVELOPE__BODY_STATUS_REPLY && e->status_reply->n_submissions) {
      Strike__SubmissionStatus *st = e->status_reply->submissions[0];
      s.total = st->total, s.queued = st->queued, s.leased = st->leased, s.done = st->done;
      s.dead = st->dead, s.cancelled = st->cancelled, s.failed = st->failed_attempts;
      s.rate = st->rate;
      snprintf(s.state, sizeof s.state, "%s", st->state);
      s.found = 1;
      break;
    }
  }
  return s;
}

/* Report results for a shard: all succeed except offsets for which fail(offset) is non-zero. */
static inline void h_results(coord *c, const char *peer, const Strike__Shard *sh, uint32_t from,
                      uint32_t n, int final, int (*fail)(uint64_t index)) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Results r = STRIKE__RESULTS__INIT;
  uint32_t *off = malloc(sizeof *off * (n + 1));
  uint64_t *seed = malloc(sizeof *seed * (n + 1));
  uint32_t *ms = malloc(sizeof *ms * (n + 1));
  Strike__JobError *errs = malloc(sizeof *errs * (n + 1));
  Strike__JobError **eptr = malloc(sizeof *eptr * (n + 1));
  size_t k = 0, e = 0;
  for (uint32_t i = from; i < from + n; i++) {
    if (fail && fail(sh->first_index + i)) {
      strike__job_error__init(&errs[e]);
      errs[e].offset = i;
      errs[e].status = SF_ERR_ENGINE;
      errs[e].message = "synthetic failure";
      eptr[e] = &errs[e];
      e++;
      continue;
    }
    off[k] = i;
    seed[k] = sh->seeds[i];
    ms[k] = 5;
    k++;
  }
  r.lease_id = sh->lease_id;
  r.attempt = sh->attempt;
  r.submission_id = sh->submission_id;
  r.first_index = sh->first_index;
  r.n_offset = k;
  r.offset = off;
  r.n_seed = k;
  r.seed = seed;
  r.n_render_ms = k;
  r.render_ms = ms;
  r.n_errors = e;
  r.errors = eptr;
  r.final = final;
  env.body_case = STRIKE__ENVELOPE__BODY_RESULTS;
  env.results = &r;
  h_feed(c, 1, peer, &env);
  free(off), free(seed), free(ms), free(errs), free(eptr);
}

/* Copies of the shards captured so far (unpacked; free with h_shards_free). */
typedef struct h_shards {
  Strike__Envelope *env[H_MAXCAP];
  char peer[H_MAXCAP][32];
  size_t n;
} h_shards;

/* Move captured Shard messages into `out` (appending). */
static inline void h_take_shards(h_shards *out) {
  for (size_t i = 0; i < g_ncap; i++) {
    if (g_cap[i].env->body_case == STRIKE__ENVELOPE__BODY_SHARD && out->n < H_MAXCAP) {
      out->env[out->n] = g_cap[i].env;
      snprintf(out->peer[out->n], sizeof out->peer[0], "%.*s", (int)g_cap[i].peer.len,
               (const char *)g_cap[i].peer.id);
      out->n++;
      g_cap[i].env = NULL;
    }
  }
  size_t w = 0;
  for (size_t i = 0; i < g_ncap; i++)
    if (g_cap[i].env) g_cap[w++] = g_cap[i];
  g_ncap = w;
}

static inline void h_shards_free(h_shards *s) {
  for (size_t i = 0; i < s->n; i++) strike__envelope__free_unpacked(s->env[i], NULL);
  s->n = 0;
}

/* INFO memory used_memory */
static inline long long h_used_memory(redisContext *x) {
  redisReply *r = redisCommand(x, "INFO memory");
  long long v = -1;
  if (r && r->str && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type > REDIS_REPLY_ERROR)) {
    const char *p = strstr(r->str, "used_memory:");
    if (p) v = atoll(p + 12);
  }
  if (r) freeReplyObject(r);
  return v;
}

#endif
