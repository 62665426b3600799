/* workers.c - the worker registry: Register, heartbeats both ways, death after heartbeat-misses
 * silent intervals (its leases go back to the queue with attempt + 1), capabilities for model
 * affinity. Workers are known by the worker_id they choose; the ROUTER identity of the current
 * connection is kept to reach them. The registry lives in memory only: after a coordinator restart
 * workers are told SF_ERR_UNKNOWN_WORKER and register again. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

#define DEAD_KEEP_MS 60000 /* dead workers stay listed this long */
#define MAX_WORKERS 10000  /* workers known at once (live, recovering or recently dead) */

cworker *worker_by_peer(coord *c, const sf_peer *p) {
  for (size_t i = 0; i < c->nworkers; i++) {
    cworker *w = c->workers[i];
    if (w->state != WORKER_RECOVERING && w->peer.len == p->len &&
        memcmp(w->peer.id, p->id, p->len) == 0)
      return w;
  }
  return NULL;
}

cworker *worker_by_id(coord *c, const char *id) {
  for (size_t i = 0; i < c->nworkers; i++)
    if (strcmp(c->workers[i]->id, id) == 0) return c->workers[i];
  return NULL;
}

cworker *worker_add(coord *c, const char *id) {
  if (grow((void **)&c->workers, &c->workers_cap, c->nworkers + 1, sizeof *c->workers)) return NULL;
  cworker *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  snprintf(w->id, sizeof w->id, "%s", id);
  w->last_seen_ms = w->last_sent_ms = coord_now(c);
  c->workers[c->nworkers++] = w;
  return w;
}

static void worker_free(cworker *w) {
  if (w->reg) strike__register__free_unpacked(w->reg, NULL);
  free(w);
}

int worker_can_run(const cworker *w, const char *model) {
  if (!w->reg || w->reg->n_models == 0) return 1;
  for (size_t i = 0; i < w->reg->n_models; i++)
    if (strcmp(w->reg->models[i], model) == 0) return 1;
  return 0;
}

int worker_has_loaded(const cworker *w, const char *model) {
  if (!w->reg) return 0;
  for (size_t i = 0; i < w->reg->n_loaded_models; i++)
    if (strcmp(w->reg->loaded_models[i], model) == 0) return 1;
  return 0;
}

void worker_send(coord *c, cworker *w, Strike__Envelope *env, uint32_t shard_jobs) {
  out_push(c, OUT_WORKER, &w->peer, env, 0, shard_jobs, w->id);
  w->last_sent_ms = coord_now(c);
}

static void send_ack(coord *c, const sf_peer *peer, sf_status st, const char *msg) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__RegisterAck ack = STRIKE__REGISTER_ACK__INIT;
  ack.status = st;
  ack.message = (char *)(msg ? msg : "");
  ack.heartbeat_ms = (uint32_t)c->cfg.heartbeat_ms;
  ack.max_frame_bytes = (uint32_t)c->cfg.max_frame_bytes;
  ack.coordinator_id = c->coordinator_id;
  env.body_case = STRIKE__ENVELOPE__BODY_REGISTER_ACK;
  env.register_ack = &ack;
  out_push(c, OUT_WORKER, peer, &env, 0, 0, NULL);
}

/* Check the capability strings of a Register; NULL if fine, else what is wrong. */
static const char *check_register(const Strike__Register *r) {
  size_t l = r->worker_id ? strlen(r->worker_id) : 0;
  if (l == 0 || l > 128 || !sf_utf8_valid(r->worker_id, l)) return "worker_id must be 1..128 bytes of UTF-8";
  if (r->host && strlen(r->host) > 256) return "host longer than 256 bytes";
  if (r->engine && strlen(r->engine) > 64) return "engine longer than 64 bytes";
  if (r->n_models > 64 || r->n_loaded_models > 64) return "more than 64 models";
  for (size_t i = 0; i < r->n_models; i++)
    if (strlen(r->models[i]) > SF_MAX_MODEL_BYTES) return "model name too long";
  for (size_t i = 0; i < r->n_loaded_models; i++)
    if (strlen(r->loaded_models[i]) > SF_MAX_MODEL_BYTES) return "model name too long";
  if (r->n_devices > 64) return "more than 64 devices";
  for (size_t i = 0; i < r->n_devices; i++)
    if (r->devices[i]->name && (strlen(r->devices[i]->name) > 256 ||
                                !sf_utf8_valid(r->devices[i]->name, strlen(r->devices[i]->name))))
      return "device name longer than 256 bytes or not UTF-8";
  return NULL;
}

void worker_on_register(coord *c, const sf_peer *peer, Strike__Envelope *env) {
  Strike__Register *r = env->register_worker;
  const char *bad = check_register(r);
  if (bad) {
    c->stats.bad_requests++;
    sf_log_rl(&c->rl, SF_LOG_WARN, "refused worker registration: %s", bad);
    send_ack(c, peer, SF_ERR_INVALID_ARGUMENT, bad);
    return;
  }
  cworker *w = worker_by_id(c, r->worker_id);
  if (!w && c->nworkers >= MAX_WORKERS) {
    sf_log_rl(&c->rl, SF_LOG_WARN, "refused worker %s: %d workers already known", r->worker_id,
              MAX_WORKERS);
    send_ack(c, peer, SF_ERR_LIMIT, "too many workers");
    return;
  }
  if (!w) w = worker_add(c, r->worker_id);
  if (!w) {
    send_ack(c, peer, SF_ERR_NO_MEMORY, "out of memory");
    return;
  }
  /* A registering peer replaces any other worker entry that had this identity. */
  cworker *other = worker_by_peer(c, peer);
  if (other && other != w) other->peer.len = 0;
  int was = w->state;
  if (r->fresh_start && c->redis_up) {
    /* a new process under this id: whatever an earlier process held is lost */
    for (size_t i = 0; i < c->nleases; i++) {
      if (strcmp(c->leases[i]->worker_id, w->id) == 0) {
        SF_WARN("worker %s started afresh: the leases of its previous process are re-queued", w->id);
        leases_of_worker_lost(c, w->id, SF_ERR_WORKER_LOST);
        break;
      }
    }
  }
  w->peer = *peer;
  w->state = WORKER_READY;
  w->credit = 0;
  w->last_seen_ms = coord_now(c);
  /* keep the capabilities: take the Register out of the envelope */
  if (w->reg) strike__register__free_unpacked(w->reg, NULL);
  w->reg = r;
  env->register_worker = NULL;
  env->body_case = STRIKE__ENVELOPE__BODY__NOT_SET;
  w->in_flight = 0;
  for (size_t i = 0; i < c->nleases; i++)
    if (strcmp(c->leases[i]->worker_id, w->id) == 0)
      w->in_flight += c->leases[i]->count - c->leases[i]->settled_n;
  SF_INFO("worker %s registered%s (host %s, engine %s, %zu models, %llu jobs in flight)", w->id,
          was == WORKER_RECOVERING ? " again after restart" : "", r->host ? r->host : "?",
          r->engine ? r->engine : "?", r->n_models, (unsigned long long)w->in_flight);
  send_ack(c, peer, SF_OK, NULL);
  w->last_sent_ms = coord_now(c);
}

void workers_check(coord *c) {
  uint64_t now = coord_now(c);
  uint64_t limit = c->cfg.heartbeat_ms * c->cfg.heartbeat_misses;
  for (size_t i = 0; i < c->nworkers;) {
    cworker *w = c->workers[i];
    if (w->state == WORKER_DEAD) {
      if (now - w->dead_since_ms > DEAD_KEEP_MS) {
        c->workers[i] = c->workers[--c->nworkers];
        worker_free(w);
        continue;
      }
      i++;
      continue;
    }
    if (now - w->last_seen_ms > limit) {
      SF_WARN("worker %s silent for %llu ms: declared dead, its leases go back to the queue", w->id,
              (unsigned long long)(now - w->last_seen_ms));
      w->state = WORKER_DEAD;
      w->dead_since_ms = now;
      w->credit = 0;
      c->stats.workers_lost++;
      if (c->redis_up) leases_of_worker_lost(c, w->id, SF_ERR_WORKER_LOST);
      i++;
      continue;
    }
    if (w->state == WORKER_READY && now - w->last_sent_ms >= c->cfg.heartbeat_ms) {
      Strike__Envelope env = STRIKE__ENVELOPE__INIT;
      Strike__Heartbeat hb = STRIKE__HEARTBEAT__INIT;
      env.body_case = STRIKE__ENVELOPE__BODY_HEARTBEAT;
      env.heartbeat = &hb;
      worker_send(c, w, &env, 0);
    }
    /* rate estimate */
    if (!w->rate_t0_ms) {
      w->rate_t0_ms = now;
      w->rate_n0 = w->jobs_done;
    } else if (now - w->rate_t0_ms >= 2000) {
      w->rate = (double)(w->jobs_done - w->rate_n0) * 1000.0 / (double)(now - w->rate_t0_ms);
      w->rate_t0_ms = now;
      w->rate_n0 = w->jobs_done;
    }
    i++;
  }
}

/* Free every worker (shutdown). */
void workers_free(coord *c) {
  for (size_t i = 0; i < c->nworkers; i++) worker_free(c->workers[i]);
  free(c->workers);
  c->workers = NULL;
  c->nworkers = c->workers_cap = 0;
}
