/* coord.h - the coordinator's state and the functions of its modules.
 *
 * The coordinator is one single-threaded event loop. In-memory state is authoritative while it
 * runs; Redis is the durable copy, written behind in ONE MULTI/EXEC transaction per loop iteration
 * (so Redis always holds a consistent snapshot of some iteration boundary). Messages that depend on
 * what was written (acks, shards, replies) wait in the outbox until that transaction succeeded.
 * After a restart, or after losing Redis, the state is rebuilt from Redis alone (store_load.c).
 *
 * Modules (one concern each):
 *   config.c      settings table (file + flags)
 *   models.c      the models config: model names and the step counts each supports
 *   rstore.c      Redis connections, the per-iteration transaction, reconnect with backoff
 *   chunk.c       packed chunk format (prompts + per-job overrides) stored as one Redis value
 *   store_load.c  rebuild state from Redis (start-up and after Redis comes back)
 *   subs.c        submissions: create, chunk, seal, cancel, retry, delete, status, finish
 *   retention.c   finished-retention: delete final submissions after a while (via sub_delete)
 *   sched.c       queue ranges, priority levels (stride scheduling), dispatch into shards
 *   leases.c      leases: results (fencing), expiry, hand-back, worker loss
 *   workers.c     worker registry and heartbeats
 *   results.c     the results log and its paging
 *   outbox.c      messages waiting for the transaction, delivery
 *   handlers.c    decode-level dispatch of worker and client messages
 *   watch.c       progress events for watching clients
 *   loop.c        sockets, zmq_poll loop, timers
 *   zap.c         CURVE security: key pair, allow-lists, the ZAP handler
 *   http.c        tiny HTTP/1.1 server on the loop (metrics-listen); metrics.c renders its pages
 *   main.c        flags, signals */
#ifndef STRIKE_COORD_H
#define STRIKE_COORD_H
#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "sf_config.h"
#include "sf_job.h"
#include "sf_log.h"
#include "sf_proto.h"
#include "sf_status.h"

/* ------------------------------------------------------------------------------------------ */
/* Settings (config.c). Every field is one row of the config table. */
typedef struct coord_config {
  char *worker_endpoint;        /* ROUTER endpoint for workers */
  char *client_endpoint;        /* ROUTER endpoint for clients */
  char *redis;                  /* host:port or /path/to/unix.sock */
  char *redis_password;         /* AUTH password ("" = none) */
  char *redis_prefix;           /* prefix of every key (namespaces several farms in one Redis) */
  unsigned long long heartbeat_ms;      /* heartbeat interval both ways */
  unsigned long long heartbeat_misses;  /* intervals of silence before a worker is dead */
  unsigned long long lease_timeout_ms;  /* a lease expires this long after dispatch */
  unsigned long long lease_reconcile_ms; /* grace before a lease a live worker does not report is
                                           re-queued (0 = off) */
  unsigned long long max_attempts;      /* tries per job before it is dead */
  unsigned long long shard_jobs;        /* most jobs per shard */
  unsigned long long max_frame_bytes;   /* largest frame accepted (ZMQ_MAXMSGSIZE) */
  unsigned long long hwm;               /* ZeroMQ high-water mark per socket, messages */
  unsigned long long chunk_cache_mb;    /* prompt chunks kept in memory */
  unsigned long long max_chunk_jobs;    /* most jobs per Chunk message */
  unsigned long long redis_timeout_ms;  /* Redis connect/command timeout */
  unsigned long long watch_interval_ms; /* default interval of progress events */
  char *default_output_root;    /* output root of submissions that name none */
  char *models;                 /* models config (JSON, as the workers'); "" = none (models.c) */
  char *log_level;              /* error, warn, info, debug */
  char *curve_secret_key;       /* CURVE key pair file ("" = plaintext; zap.c) */
  char *curve_allow_workers;    /* allowed worker public keys ("" = any CURVE key) */
  char *curve_allow_clients;    /* allowed client public keys ("" = any CURVE key) */
  char *metrics_listen;         /* HOST:PORT of the /metrics HTTP server ("" = off; http.c) */
  unsigned long long finished_retention_s; /* delete final submissions this long after they
                                              finished (0 = keep forever; retention.c) */
} coord_config;

/* ------------------------------------------------------------------------------------------ */
/* The models config as the coordinator sees it (models.c): names and step counts only. */
#define CM_NAME_MAX 64                /* name length + NUL (as the engine's specs) */
#define CM_MAX_STEPS 16               /* step counts one model may list */
#define CM_STEPS_MAX SF_MAX_STEPS    /* the largest step count (common/sf_job.h) */
#define CM_MAX_MODELS 256
typedef struct cmodel {
  char name[CM_NAME_MAX];
  uint32_t steps[CM_MAX_STEPS];       /* supported step counts, as listed */
  int nsteps;
  uint32_t default_steps;             /* default_steps, else the first listed */
} cmodel;
typedef struct cmodels {
  cmodel *m;
  size_t n;
  char path[1024];                    /* the file, for messages */
} cmodels;

/* ------------------------------------------------------------------------------------------ */
/* A range of queued jobs of one submission waiting for dispatch. */
typedef struct qrange {
  uint64_t first;               /* first job index */
  uint32_t count;               /* jobs */
  uint32_t attempt;             /* attempt number the next lease gets */
} qrange;

/* Decoded view of one stored chunk (chunk.c). Arrays have `count` entries. */
typedef struct chunk_view {
  uint64_t chunk_index;         /* position in the submission */
  uint64_t first;               /* job index of entry 0 */
  uint32_t count;
  uint8_t *blob;                /* the packed value as stored (owned) */
  size_t blob_len;
  const uint8_t *prompts;       /* into blob: concatenated prompts */
  uint32_t *len;                /* prompt byte lengths */
  uint32_t *off;                /* prompt offsets into prompts */
  uint64_t *seed;               /* effective seed of every job */
  uint8_t *explicit_seed;       /* 1 where the seed was given explicitly (NULL if none) */
  uint32_t *steps;              /* per-job steps or NULL (0 entries = template) */
  uint32_t *width;              /* per-job width or NULL */
  uint32_t *height;             /* per-job height or NULL */
  int durable;                  /* 1 once the transaction that stored it succeeded */
  uint64_t last_use;            /* loop iteration of last use (eviction) */
} chunk_view;

/* Submission life states (stored in meta "state"). */
typedef enum sub_state {
  SUB_OPEN = 0,                 /* created, receiving chunks (jobs may already run) */
  SUB_FINISHED = 1,             /* sealed and every job final */
  SUB_CANCELLED = 2,            /* cancelled */
} sub_state;

/* One submission in memory. */
typedef struct csub {
  uint64_t id;                  /* numeric id; shown as "s<id>" */
  char name[24];                /* "s<id>" */
  char *token;                  /* client token (Create is idempotent by it) */
  Strike__Template *tpl;        /* template (unpacked; freed with strike__template__free_unpacked) */
  int priority;
  uint32_t steps, width, height;
  sub_state state;
  int sealed;
  uint64_t created_ms, finished_ms;   /* unix ms */
  uint64_t chunks;              /* chunks stored */
  uint64_t total;               /* jobs stored */
  uint64_t *chunk_first;        /* first job index of each chunk (chunks entries) */
  size_t chunk_first_cap;
  chunk_view **cache;           /* cached chunk views by chunk index (NULL = not cached) */
  size_t cache_cap;
  uint64_t cursor;              /* jobs [cursor, total) were never dispatched */
  qrange *retry;                /* queued ranges (re-queued jobs), FIFO */
  size_t retry_head, retry_len, retry_cap;
  uint64_t retry_jobs;          /* jobs in the retry ranges */
  uint8_t *fin;                 /* bitmap (Redis bit order): job is final (done/dead/cancelled) */
  uint8_t *dead;                /* bitmap: job is dead */
  size_t bits_cap;              /* bytes allocated in fin and dead */
  uint64_t fin_lo, fin_hi;      /* dirty byte span of fin/dead to write this iteration */
  int fin_dirty;
  int meta_dirty;               /* meta hash must be rewritten this iteration */
  int in_dirty;                 /* on coord.dirty */
  int on_final;                 /* its id is on coord.final_ids (retention.c) */
  uint64_t done, dead_n, cancelled, failed_attempts, leased;
  int level;                    /* index into the priority levels; -1 when not dispatchable */
  /* rate estimate */
  uint64_t rate_t0_ms, rate_n0; /* window start and finished count then */
  double rate;                  /* jobs/s finished, recent */
} csub;

/* A lease: one shard of one submission held by one worker. */
typedef struct lease {
  uint64_t id;                  /* fencing token (epoch << 32 | sequence) */
  csub *sub;
  uint64_t first;
  uint32_t count;
  uint32_t attempt;
  char worker_id[129];
  uint64_t deadline_ms;         /* monotonic */
  uint64_t deadline_wall;       /* unix ms, as stored */
  uint8_t *settled;             /* bit per job: a result (success or error) arrived */
  uint32_t settled_n;
  uint64_t sent_ms;             /* monotonic: dispatched (or loaded from Redis) */
  uint32_t unreported;          /* lease reports of its worker in a row that lacked it (after
                                   the grace period) */
} lease;

/* Worker states. */
typedef enum worker_state {
  WORKER_READY = 0,             /* registered and alive */
  WORKER_RECOVERING = 1,        /* known only from leases loaded from Redis; not yet registered */
  WORKER_DEAD = 2,              /* missed heartbeats or said goodbye; kept for display */
} worker_state;

/* A worker. */
typedef struct cworker {
  char id[129];                 /* worker_id from Register */
  sf_peer peer;                 /* current ROUTER identity */
  worker_state state;
  Strike__Register *reg;        /* capabilities (unpacked; NULL while recovering) */
  uint64_t credit;              /* jobs it may still be sent */
  uint64_t in_flight;           /* jobs leased to it */
  uint64_t jobs_done;
  uint64_t last_seen_ms;        /* monotonic: last message from it */
  uint64_t last_sent_ms;        /* monotonic: last message to it */
  uint64_t dead_since_ms;
  uint64_t rate_t0_ms, rate_n0;
  double rate;
} cworker;

/* A client watching a submission. */
typedef struct watcher {
  sf_peer peer;
  uint64_t sub_id;
  uint64_t request_id;
  uint64_t interval_ms;
  uint64_t next_ms;             /* monotonic: next event due */
  uint64_t last_fin;            /* finished count at the last event (send only on change) */
  uint64_t last_leased;
} watcher;

/* Which socket an outbox message goes to. */
typedef enum out_sock { OUT_WORKER = 0, OUT_CLIENT = 1 } out_sock;

/* A message waiting for the transaction of this iteration. */
typedef struct outmsg {
  out_sock sock;
  sf_peer peer;
  uint8_t *buf;                 /* packed envelope (owned) */
  size_t len;
  uint64_t request_id;          /* for client replies: Error(SF_ERR_REDIS) if the txn fails */
  int is_reply;                 /* client reply that must become an error on failure */
  uint32_t shard_jobs;          /* shards: credit to give back to the worker on failure */
  char worker_id[129];
} outmsg;

/* Priority level: all dispatchable submissions with one priority, FIFO by id. */
typedef struct plevel {
  int priority;
  double pass;                  /* stride scheduling: virtual time of this level */
  double stride;                /* per dispatched job */
  csub **subs;                  /* FIFO by id */
  size_t n, cap;
} plevel;

/* Counters shown in metrics. */
typedef struct coord_stats {
  uint64_t results_stale;       /* result messages ignored by fencing */
  uint64_t results_duplicate;   /* job results for jobs already final */
  uint64_t jobs_dispatched;
  uint64_t jobs_done;
  uint64_t jobs_dead;
  uint64_t leases_expired;
  uint64_t leases_unreported;   /* leases re-queued because their live worker did not hold them */
  uint64_t workers_lost;
  uint64_t redis_failures;
  uint64_t txn_count;
  uint64_t bad_requests;        /* well-formed frames with invalid content */
  uint64_t curve_refused_workers; /* CURVE handshakes refused on the worker socket (zap.c) */
  uint64_t curve_refused_clients; /* ... on the client socket */
  uint64_t curve_failed_workers;  /* other failed handshakes on the worker socket (plaintext peer,
                                     wrong server key...; zap.c's socket monitors) */
  uint64_t curve_failed_clients;  /* ... on the client socket */
  uint64_t subs_expired;        /* submissions deleted by finished-retention (retention.c) */
} coord_stats;

/* Delivery hook: how outbox messages leave (zmq by default; tests capture them). */
struct coord;
typedef void (*coord_deliver_fn)(struct coord *c, out_sock s, const sf_peer *peer,
                                 const uint8_t *buf, size_t len);

/* The coordinator. */
typedef struct coord {
  coord_config cfg;
  cmodels *models;              /* models config (owned), or NULL: steps checked against {1,2,4,8} */
  /* Redis */
  redisContext *rw;             /* write connection: the per-iteration transaction */
  redisContext *rd;             /* read connection: chunk and results reads */
  int redis_up;                 /* 1 while both connections work and state is loaded */
  uint64_t redis_retry_ms;      /* monotonic: next reconnect attempt */
  uint64_t redis_backoff_ms;
  size_t txn_cmds;              /* commands queued in the open transaction (0 = none) */
  char kp[64];                  /* key prefix (cfg.redis_prefix) */
  uint64_t epoch;               /* coordinator start counter (INCR), high half of lease ids */
  char lock_token[96];          /* value of P:lock while this coordinator holds it */
  uint64_t lock_ttl_ms;         /* P:lock expiry; refreshed every third of it */
  uint64_t lock_refreshed_ms;   /* real monotonic ms of the last refresh */
  long txn_lock_idx;            /* index of the lock refresh in the open transaction, -1 if none */
  uint32_t lease_seq;
  char coordinator_id[32];
  /* state */
  csub **subs;                  /* by id (index = id); NULL holes */
  size_t subs_cap;
  uint64_t next_id;             /* next submission id */
  lease **leases;
  size_t nleases, leases_cap;
  cworker **workers;
  size_t nworkers, workers_cap;
  plevel *levels;
  size_t nlevels, levels_cap;
  watcher *watchers;
  size_t nwatchers, watchers_cap;
  outmsg *out;
  size_t nout, out_cap;
  csub **dirty;                 /* submissions with changes to write this iteration */
  size_t ndirty, dirty_cap;
  uint64_t *final_ids;          /* ids of final submissions, for retention (retention.c) */
  size_t nfinal, final_cap;
  uint64_t retention_next_ms;   /* monotonic: next retention check */
  size_t cache_bytes;           /* bytes in chunk caches */
  uint64_t iteration;
  uint64_t now_ms;              /* monotonic ms of this iteration (tests may set it) */
  int manual_clock;             /* tests: now_ms is set by the caller */
  coord_stats stats;
  sf_frame_stats wstats, cstats;  /* per socket framing counters */
  sf_ratelimit rl;              /* rate limit for bad-request log lines */
  /* sockets */
  void *zctx, *wsock, *csock;
  void *zap;                    /* ZAP handler (REP), NULL without CURVE (zap.c) */
  struct sf_curve_allow *allow_workers, *allow_clients; /* NULL: any CURVE key */
  sf_ratelimit zap_rl;          /* rate limit for refused-peer log lines */
  void *zap_mon[2];             /* monitors of the worker / client ROUTER's failed handshakes */
  sf_ratelimit zap_fail_rl[2];  /* rate limits of their log lines, per socket */
  int zap_mon_tried;            /* the monitors were set up (zap_tick, once) */
  coord_deliver_fn deliver;
  /* metrics (metrics.c) and their HTTP server (http.c; NULL when metrics-listen is off) */
  struct coord_mstats *mstats;
  struct http_server *http;
} coord;

/* ---- config.c ---- */
extern const sf_cfg_entry coord_config_table[];
extern const size_t coord_config_table_len;

/* ---- models.c ---- */
/* Read and check a models config (at most 1 MiB, CM_MAX_MODELS models). SF_OK, or SF_ERR_CONFIG
 * (SF_ERR_NO_MEMORY) with err naming the file, the model (or models[i]) and the key. */
sf_status cmodels_load(const char *path, cmodels **out, char *err, size_t errlen);
void cmodels_free(cmodels **ms);
/* The model called name, or NULL (ms may be NULL). */
const cmodel *cmodels_find(const cmodels *ms, const char *name);
/* 1 if the model lists this step count. */
int cmodel_supports(const cmodel *m, uint32_t steps);
/* "1, 2, 4": the model's step counts / "a, b": the models' names, into buf; returns buf. */
const char *cmodel_steps_text(const cmodel *m, char *buf, size_t cap);
const char *cmodels_names_text(const cmodels *ms, char *buf, size_t cap);

/* ---- core lifecycle (loop.c) ---- */
/* Create a coordinator with these settings (ownership of cfg's strings passes to it); connects to
 * Redis and loads state (a Redis that is down is retried by coord_tick). No sockets: see
 * coord_bind. Returns NULL on allocation failure. */
coord *coord_new(const coord_config *cfg);
void coord_destroy(coord **c);
/* Bind the two ROUTER sockets. Returns SF_OK or SF_ERR_IO (message logged). */
sf_status coord_bind(coord *c);
/* One loop iteration's work after input: timers, dispatch, transaction, outbox. */
void coord_tick(coord *c);
/* Wait up to timeout_ms for messages, handle a batch, then coord_tick. Returns 1 if more input is
 * probably waiting, 0 if not, -1 on a socket error. */
int coord_poll_once(coord *c, int timeout_ms);
/* Run the poll loop until *stop becomes non-zero. */
sf_status coord_run(coord *c, volatile int *stop);
uint64_t coord_now(coord *c);
/* Tests: from now on time only moves when the caller changes c->now_ms; existing deadlines and
 * heartbeat times are shifted to the new clock. */
void coord_use_manual_clock(coord *c, uint64_t now_ms);

/* ---- zap.c ---- */
/* Before the ROUTERs bind: with curve-secret-key set, read the key pair (secret into sec, which
 * the caller wipes), load the allow-lists and bind the ZAP handler. sec[0] = '\0' means
 * plaintext. SF_OK, or SF_ERR_CONFIG with err naming the setting, file and line. */
sf_status zap_start(coord *c, char sec[41], char *err, size_t errlen);
void zap_stop(coord *c);
/* Answer waiting ZAP requests (the loop polls c->zap). */
void zap_serve(coord *c);
/* Per iteration: flush the refusal log limiter, reload the allow-lists after SIGHUP. */
void zap_tick(coord *c);

/* ---- handlers.c ---- */
void coord_on_worker(coord *c, const sf_peer *peer, Strike__Envelope *env);
void coord_on_client(coord *c, const sf_peer *peer, Strike__Envelope *env);

/* ---- rstore.c ---- */
sf_status rs_connect(coord *c);
void rs_disconnect(coord *c);
/* Queue one write command in this iteration's transaction (redisAppendCommand format). */
void rs_cmd(coord *c, const char *fmt, ...);
/* Commit the transaction. SF_OK, or SF_ERR_REDIS (connections closed, redis_up = 0). */
sf_status rs_commit(coord *c);
/* Synchronous read on the read connection; NULL on failure (marks Redis down). Caller frees. */
redisReply *rs_read(coord *c, const char *fmt, ...);
/* Mark Redis as failed: close connections, schedule a reconnect. */
void rs_fail(coord *c, const char *what);
/* Take the coordinator lock P:lock (SET NX PX) or confirm we hold it. SF_OK, SF_ERR_CONFLICT
 * (another coordinator holds it) or SF_ERR_REDIS. */
sf_status rs_lock_acquire(coord *c);
/* Queue the lock refresh into this iteration's transaction when due. */
void rs_lock_refresh(coord *c);
/* Delete the lock if it is ours (clean shutdown). */
void rs_lock_release(coord *c);
const char *rs_key(coord *c, char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- chunk.c ---- */
/* Validate a Chunk message against its submission (and its model from the models config, or
 * NULL) and pack it for storage. On error returns a status and writes a message naming the job
 * index. *out is malloc'ed. */
sf_status chunk_pack(const csub *s, const cmodel *model, const Strike__Chunk *ch, uint8_t **out,
                     size_t *out_len, char *err, size_t errlen);
/* Decode a stored value into a view (takes ownership of blob). NULL if the blob is corrupt. */
chunk_view *chunk_decode(const csub *s, uint64_t chunk_index, uint8_t *blob, size_t len);
void chunk_free(chunk_view **v);
/* Read the header of a stored value: first index and count. 0 on success. */
int chunk_header(const uint8_t *blob, size_t len, uint64_t *first, uint32_t *count);
#define CHUNK_HEADER_BYTES 16

/* ---- store_load.c ---- */
/* Drop in-memory job state and rebuild it from Redis. Workers stay registered. */
sf_status store_load(coord *c);
/* Free all submissions, leases, levels (not workers, not watchers). */
void state_clear(coord *c);

/* ---- retention.c ---- */
/* Upper bound of finished-retention, in seconds (10 years). */
#define COORD_MAX_RETENTION_S 315360000ull
/* Note that s is final (finished or cancelled): it goes on the list retention walks. */
void retention_note(coord *c, csub *s);
/* At most once per second, with finished-retention > 0 and Redis up: delete (sub_delete) every
 * final submission that finished more than finished-retention seconds ago. */
void retention_tick(coord *c);

/* ---- subs.c ---- */
csub *sub_get(coord *c, uint64_t id);
csub *sub_by_name(coord *c, const char *name);
csub *sub_new(coord *c, uint64_t id);
void sub_free(csub **s);
/* Make sure the bitmaps hold at least n jobs. 0 on success. */
int sub_bits_reserve(csub *s, uint64_t n);
static inline int bit_get(const uint8_t *b, uint64_t i) { return (b[i >> 3] >> (7 - (i & 7))) & 1; }
static inline void bit_set(uint8_t *b, uint64_t i) { b[i >> 3] |= (uint8_t)(0x80u >> (i & 7)); }
static inline void bit_clr(uint8_t *b, uint64_t i) { b[i >> 3] &= (uint8_t)~(0x80u >> (i & 7)); }
/* Mark bytes of the fin/dead bitmaps covering jobs [first, first+count) for writing. */
void sub_touch_bits(coord *c, csub *s, uint64_t first, uint64_t count);
/* Flush every dirty submission into the transaction (called once per iteration). */
void subs_flush_dirty(coord *c);
/* Write what changed in this submission's bitmaps and counters into the transaction. */
void sub_flush(coord *c, csub *s);
uint64_t sub_queued(const csub *s);
uint64_t sub_final(const csub *s);
void sub_check_finished(coord *c, csub *s);
void sub_fill_status(coord *c, csub *s, Strike__SubmissionStatus *st);
/* Steps against a model (m NULL: no models config): SF_OK, or SF_ERR_INVALID_STEPS with a
 * message starting with who ("template", "job 7") naming the steps and what the model supports. */
sf_status sub_check_steps(const cmodel *m, uint32_t steps, const char *who, char *err,
                          size_t errlen);
sf_status sub_create(coord *c, const Strike__Create *cr, csub **out, int *existed, char *err,
                     size_t errlen);
sf_status sub_add_chunk(coord *c, csub *s, const Strike__Chunk *ch, int *duplicate, char *err,
                        size_t errlen);
sf_status sub_seal(coord *c, csub *s, const Strike__Seal *se, char *err, size_t errlen);
sf_status sub_cancel(coord *c, csub *s, uint64_t *affected);
sf_status sub_delete(coord *c, csub **ps, int force, uint64_t *cancelled, char *err,
                     size_t errlen);
sf_status sub_retry(coord *c, csub *s, uint64_t *affected);
/* The chunk holding job `index` (cached or read from Redis), or NULL. */
chunk_view *sub_chunk_for(coord *c, csub *s, uint64_t index);
void cache_trim(coord *c);
/* Save meta fields (cursor, counters, state...) into the transaction. */
void sub_save_meta(coord *c, csub *s);
/* Install a template (owned) into a submission. */
void sub_apply_template(csub *s, Strike__Template *t);
/* Key of a submission's Redis object: rs_key(c, buf, cap, "{s:%llu}:%s"). */
const char *sub_key(coord *c, const csub *s, char *buf, size_t cap, const char *what);

/* ---- sched.c ---- */
/* Append a queued range (and its Redis RPUSH). */
void q_push(coord *c, csub *s, uint64_t first, uint64_t count, uint32_t attempt);
/* Append a range to the in-memory FIFO only (loading). 0 on success. */
int q_append_mem(csub *s, uint64_t first, uint32_t count, uint32_t attempt);
/* Queue jobs of [first, first+count) that are not final and not set in `skip` (bit per job
 * relative to first; may be NULL), as ranges with the given attempt. Returns jobs queued. */
uint64_t q_push_unfinished(coord *c, csub *s, uint64_t first, uint32_t count,
                           const uint8_t *skip, uint32_t attempt);
/* Put a submission into / out of dispatch (priority levels). */
void sched_update(coord *c, csub *s);
void sched_remove(coord *c, csub *s);
/* Hand out work to every worker that has credit. */
void sched_dispatch(coord *c);
double sched_weight(int priority);

/* ---- leases.c ---- */
lease *lease_find(coord *c, uint64_t id);
lease *lease_add(coord *c, csub *s, uint64_t first, uint32_t count, uint32_t attempt,
                 const char *worker_id, uint64_t deadline_wall, int persist);
/* Remove (and ZREM) a lease; frees it. */
void lease_drop(coord *c, lease *l, int persist);
void lease_on_results(coord *c, cworker *w, const Strike__Results *r);
/* Re-queue the unsettled jobs of a lease with attempt+1 (or dead) and drop it. */
void lease_expire(coord *c, lease *l, sf_status why);
void leases_check(coord *c);
void leases_of_worker_lost(coord *c, const char *worker_id, sf_status why);
/* A live worker reported the leases it holds (Heartbeat.held_leases): leases the coordinator
 * thinks it holds but that it did not report, in LEASE_UNREPORTED_REPORTS reports in a row, all
 * arriving at least lease-reconcile-ms after dispatch, are re-queued with attempt + 1. */
void leases_reconcile(coord *c, cworker *w, const Strike__Heartbeat *hb);
#define LEASE_UNREPORTED_REPORTS 2
/* Record jobs as dead with an error (bits, counters, results log, error texts). */
void jobs_mark_dead(coord *c, csub *s, uint64_t first, uint32_t count, const uint8_t *only,
                    uint32_t attempt, sf_status st, const char *msg);

/* ---- workers.c ---- */
cworker *worker_by_peer(coord *c, const sf_peer *p);
cworker *worker_by_id(coord *c, const char *id);
cworker *worker_add(coord *c, const char *id);
void worker_on_register(coord *c, const sf_peer *peer, Strike__Envelope *env);
void workers_check(coord *c);
void workers_free(coord *c);
void worker_send(coord *c, cworker *w, Strike__Envelope *env, uint32_t shard_jobs);
int worker_can_run(const cworker *w, const char *model);
int worker_has_loaded(const cworker *w, const char *model);

/* ---- results.c ---- */
/* Append one results-log record for final jobs of a lease (8 bytes per job). */
void results_log(coord *c, csub *s, uint64_t first, uint32_t n, const uint32_t *offset,
                 const uint8_t *status, const uint32_t *attempt, const uint32_t *render_ms);
void results_page(coord *c, const sf_peer *peer, uint64_t request_id,
                  const Strike__ResultsRequest *rq);

/* ---- outbox.c ---- */
void out_push(coord *c, out_sock s, const sf_peer *peer, Strike__Envelope *env, int is_reply,
              uint32_t shard_jobs, const char *worker_id);
/* Deliver everything (ok = transaction committed) or fail replies / return credit. */
void out_flush(coord *c, int ok);
void reply_error(coord *c, const sf_peer *peer, uint64_t request_id, sf_status st,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void reply_simple(coord *c, const sf_peer *peer, uint64_t request_id, sf_status st,
                  const char *msg, uint64_t affected);

/* ---- watch.c ---- */
void watch_add(coord *c, const sf_peer *peer, uint64_t request_id, const Strike__Watch *w);
void watch_remove(coord *c, const sf_peer *peer, uint64_t sub_id);
void watch_tick(coord *c);

/* Generic growth helper: ensure *cap >= need for an array of elem-size items. 0 on success. */
int grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
