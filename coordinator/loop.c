/* loop.c - the coordinator's life: creation, sockets, and the single-threaded zmq_poll loop.
 *
 * One iteration: read up to a batch of messages from each socket and handle them (state changes in
 * memory, writes appended to the open Redis transaction, replies into the outbox), then
 * coord_tick: reconnect Redis if needed, heartbeats and worker deaths, lease expiry, dispatch,
 * progress events, commit the transaction, deliver the outbox. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "coord.h"
#include "metrics.h"
#include "sf_curve.h"
#include "sf_time.h"

#define BATCH 512 /* messages per socket per iteration */

uint64_t coord_now(coord *c) { return c->manual_clock ? c->now_ms : sf_now_ms(); }

/* Default delivery: non-blocking send on the ROUTER socket. A client that went away loses its
 * watches. */
static void zmq_deliver(coord *c, out_sock s, const sf_peer *peer, const uint8_t *buf,
                        size_t len) {
  void *sock = s == OUT_WORKER ? c->wsock : c->csock;
  sf_frame_stats *st = s == OUT_WORKER ? &c->wstats : &c->cstats;
  if (!sock) return;
  if (zmq_send(sock, peer->id, peer->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
      zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0) {
    st->send_failed++;
    if (s == OUT_CLIENT) {
      for (size_t i = 0; i < c->nwatchers;) {
        watcher *w = &c->watchers[i];
        if (w->peer.len == peer->len && memcmp(w->peer.id, peer->id, peer->len) == 0) {
          c->watchers[i] = c->watchers[--c->nwatchers];
          continue;
        }
        i++;
      }
    }
    return;
  }
  st->sent++;
}

/* Connect to Redis, take the lock and load the state. On failure, schedule the next attempt:
 * soon if another coordinator holds the lock, with backoff if Redis is unreachable. */
static void redis_up_attempt(coord *c, const char *what) {
  if (rs_connect(c) == SF_OK) {
    sf_status st = store_load(c);
    if (st == SF_OK) {
      c->redis_backoff_ms = 0;
      return;
    }
    if (st == SF_ERR_CONFLICT) {
      state_clear(c);
      rs_disconnect(c);
      c->redis_up = 0;
      c->redis_retry_ms = coord_now(c) + 500;
      return;
    }
  }
  rs_fail(c, what);
}

coord *coord_new(const coord_config *cfg) {
  coord *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cfg = *cfg;
  snprintf(c->kp, sizeof c->kp, "%s", cfg->redis_prefix && *cfg->redis_prefix ? cfg->redis_prefix : "strike");
  if (c->cfg.shard_jobs == 0 || c->cfg.shard_jobs > SF_MAX_SHARD_JOBS) c->cfg.shard_jobs = SF_MAX_SHARD_JOBS;
  if (c->cfg.max_chunk_jobs == 0 || c->cfg.max_chunk_jobs > SF_MAX_CHUNK_JOBS)
    c->cfg.max_chunk_jobs = SF_MAX_CHUNK_JOBS;
  if (c->cfg.max_attempts == 0) c->cfg.max_attempts = 1;
  if (c->cfg.heartbeat_ms == 0) c->cfg.heartbeat_ms = 1000;
  if (c->cfg.heartbeat_misses == 0) c->cfg.heartbeat_misses = 4;
  if (c->cfg.max_frame_bytes == 0 || c->cfg.max_frame_bytes > SF_DEFAULT_MAX_FRAME)
    c->cfg.max_frame_bytes = SF_DEFAULT_MAX_FRAME;
  c->next_id = 1;
  c->deliver = zmq_deliver;
  c->rl.burst = 10;
  c->now_ms = sf_now_ms();
  snprintf(c->coordinator_id, sizeof c->coordinator_id, "c?");
  c->lock_ttl_ms = c->cfg.heartbeat_ms * c->cfg.heartbeat_misses * 2;
  if (c->lock_ttl_ms < 3000) c->lock_ttl_ms = 3000;
  c->txn_lock_idx = -1;
  metrics_init(c);
  redis_up_attempt(c, "start-up");
  return c;
}

void coord_use_manual_clock(coord *c, uint64_t now_ms) {
  uint64_t old = coord_now(c);
  for (size_t i = 0; i < c->nworkers; i++) {
    c->workers[i]->last_seen_ms = c->workers[i]->last_seen_ms - old + now_ms;
    c->workers[i]->last_sent_ms = c->workers[i]->last_sent_ms - old + now_ms;
  }
  for (size_t i = 0; i < c->nleases; i++) {
    c->leases[i]->deadline_ms = c->leases[i]->deadline_ms - old + now_ms;
    c->leases[i]->sent_ms = c->leases[i]->sent_ms - old + now_ms;
  }
  c->redis_retry_ms = now_ms;
  c->now_ms = now_ms;
  c->manual_clock = 1;
}

void coord_destroy(coord **pc) {
  if (!pc || !*pc) return;
  coord *c = *pc;
  out_flush(c, 0);
  rs_lock_release(c);
  state_clear(c);
  workers_free(c);
  rs_disconnect(c);
  metrics_free(c);
  if (c->wsock) zmq_close(c->wsock);
  if (c->csock) zmq_close(c->csock);
  zap_stop(c);
  if (c->zctx) zmq_ctx_term(c->zctx);
  free(c->subs);
  free(c->leases);
  free(c->levels);
  free(c->watchers);
  free(c->out);
  free(c->dirty);
  free(c->final_ids);
  cmodels_free(&c->models);
  sf_config_free(coord_config_table, coord_config_table_len, &c->cfg);
  free(c);
  *pc = NULL;
}

/* A bound ROUTER; a CURVE server in ZAP domain `domain` when sec (secret key, Z85) is not "". */
static void *router(coord *c, const char *endpoint, const char *what, const char *sec,
                    const char *domain) {
  void *s = zmq_socket(c->zctx, ZMQ_ROUTER);
  int one = 1;
  if (!s || sf_socket_limits(s, c->cfg.max_frame_bytes, (int)c->cfg.hwm, (int)c->cfg.hwm) ||
      zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) ||
      (*sec && sf_curve_server_setup(s, sec, domain)) || zmq_bind(s, endpoint)) {
    SF_ERROR("cannot bind the %s socket to %s: %s", what, endpoint, zmq_strerror(errno));
    if (s) zmq_close(s);
    return NULL;
  }
  SF_INFO("listening for %s on %s", what, endpoint);
  return s;
}

sf_status coord_bind(coord *c) {
  if (!c->zctx) c->zctx = zmq_ctx_new();
  if (!c->zctx) return SF_ERR_IO;
  char sec[41], err[512];
  if (zap_start(c, sec, err, sizeof err) != SF_OK) { /* CURVE: before any peer can connect */
    SF_ERROR("%s", err);
    return SF_ERR_CONFIG;
  }
  c->wsock = router(c, c->cfg.worker_endpoint, "workers", sec, SF_ZAP_DOMAIN_WORKERS);
  c->csock = router(c, c->cfg.client_endpoint, "clients", sec, SF_ZAP_DOMAIN_CLIENTS);
  sf_curve_wipe(sec, sizeof sec);
  if (!c->wsock || !c->csock) return SF_ERR_IO;
  return metrics_listen(c);
}

void coord_tick(coord *c) {
  c->iteration++;
  if (!c->manual_clock) c->now_ms = sf_now_ms();
  if (!c->redis_up && !c->rw && coord_now(c) >= c->redis_retry_ms) {
    redis_up_attempt(c, "reconnect");
    if (c->redis_up) SF_INFO("Redis is available: dispatch resumes");
  }
  workers_check(c);
  if (c->redis_up) {
    leases_check(c);
    sched_dispatch(c);
    retention_tick(c);
  }
  watch_tick(c);
  if (c->redis_up) {
    subs_flush_dirty(c);
    rs_lock_refresh(c);
  } else {
    for (size_t i = 0; i < c->ndirty; i++) c->dirty[i]->in_dirty = 0;
    c->ndirty = 0;
  }
  size_t txn_cmds = c->txn_cmds;
  uint64_t txn_t0 = txn_cmds ? sf_now_us() : 0;
  int ok = rs_commit(c) == SF_OK && c->redis_up;
  if (txn_cmds) metrics_commit(c, txn_cmds, sf_now_us() - txn_t0);
  out_flush(c, ok);
  if (c->redis_up) cache_trim(c);
  /* account for rate-limited lines whose burst ended without a later line to carry the count */
  sf_log_rl_flush(&c->wstats.rl, SF_LOG_WARN, "dropped frames on the worker socket");
  sf_log_rl_flush(&c->cstats.rl, SF_LOG_WARN, "dropped frames on the client socket");
  sf_log_rl_flush(&c->wstats.rl_oversized, SF_LOG_WARN, "oversized frames on the worker socket");
  sf_log_rl_flush(&c->cstats.rl_oversized, SF_LOG_WARN, "oversized frames on the client socket");
  sf_log_rl_flush(&c->rl, SF_LOG_WARN, "bad requests and stale results");
  zap_tick(c);
}

/* Read and handle up to BATCH messages from one socket. Returns messages read. */
static int drain(coord *c, void *sock, int worker_side) {
  int n = 0;
  sf_frame_stats *st = worker_side ? &c->wstats : &c->cstats;
  for (; n < BATCH; n++) {
    sf_peer peer;
    Strike__Envelope *env = NULL;
    sf_status s = sf_msg_recv(sock, &peer, c->cfg.max_frame_bytes, st, &env, ZMQ_DONTWAIT);
    if (s == SF_ERR_AGAIN || s == SF_ERR_IO) break;
    if (s != SF_OK) continue; /* dropped and counted */
    if (worker_side) coord_on_worker(c, &peer, env);
    else coord_on_client(c, &peer, env);
    sf_msg_free(&env);
  }
  return n;
}

int coord_poll_once(coord *c, int timeout_ms) {
  zmq_pollitem_t items[3 + HTTP_POLL_ITEMS] = {{c->wsock, 0, ZMQ_POLLIN, 0},
                                               {c->csock, 0, ZMQ_POLLIN, 0},
                                               {c->zap, 0, ZMQ_POLLIN, 0}};
  int nz = c->zap ? 3 : 2;
  size_t nhttp = c->http ? http_poll_items(c->http, items + nz) : 0; /* metrics-listen */
  int rc = zmq_poll(items, nz + (int)nhttp, timeout_ms);
  if (rc < 0 && errno != EINTR) {
    SF_ERROR("zmq_poll: %s", zmq_strerror(errno));
    return -1;
  }
  int busy = 0;
  if (rc > 0) {
    if (items[0].revents & ZMQ_POLLIN) busy |= drain(c, c->wsock, 1) == BATCH;
    if (items[1].revents & ZMQ_POLLIN) busy |= drain(c, c->csock, 0) == BATCH;
    if (c->zap && (items[2].revents & ZMQ_POLLIN)) zap_serve(c); /* CURVE handshakes (zap.c) */
  }
  if (c->http) http_service(c->http, items + nz, rc > 0 ? nhttp : 0, sf_now_ms());
  coord_tick(c);
  return busy;
}

sf_status coord_run(coord *c, volatile int *stop) {
  int busy = 0;
  while (!*stop) {
    busy = coord_poll_once(c, busy ? 0 : 20);
    if (busy < 0) return SF_ERR_IO;
  }
  SF_INFO("stopping: committing the last transaction");
  coord_tick(c);
  return SF_OK;
}
