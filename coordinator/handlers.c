/* handlers.c - what the coordinator does with each decoded message, by socket and type.
 * Messages of the wrong direction or socket are malformed (counted, logged, dropped). While Redis
 * is down, requests that change state get Error(SF_ERR_REDIS) and worker results are dropped
 * (their leases are re-run later: at-least-once). */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

static void unknown_worker(coord *c, const sf_peer *peer) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Error e = STRIKE__ERROR__INIT;
  e.status = SF_ERR_UNKNOWN_WORKER;
  e.message = "unknown worker: register again";
  env.body_case = STRIKE__ENVELOPE__BODY_ERROR;
  env.error = &e;
  out_push(c, OUT_WORKER, peer, &env, 0, 0, NULL);
}

void coord_on_worker(coord *c, const sf_peer *peer, Strike__Envelope *env) {
  if (env->body_case == STRIKE__ENVELOPE__BODY_REGISTER_WORKER) {
    worker_on_register(c, peer, env);
    return;
  }
  cworker *w = worker_by_peer(c, peer);
  if (!w || w->state != WORKER_READY) {
    if (env->body_case != STRIKE__ENVELOPE__BODY_GOODBYE) unknown_worker(c, peer);
    /* Results are fenced by lease and attempt, not by session: keep what a worker that we lost
     * track of (e.g. after a restart) still delivers. */
    if (env->body_case == STRIKE__ENVELOPE__BODY_RESULTS && c->redis_up)
      lease_on_results(c, NULL, env->results);
    return;
  }
  w->last_seen_ms = coord_now(c);
  switch (env->body_case) {
  case STRIKE__ENVELOPE__BODY_CREDIT:
    w->credit += env->credit->jobs;
    if (w->credit > 1000000) w->credit = 1000000;
    break;
  case STRIKE__ENVELOPE__BODY_RESULTS:
    if (c->redis_up) lease_on_results(c, w, env->results);
    break;
  case STRIKE__ENVELOPE__BODY_HEARTBEAT:
    leases_reconcile(c, w, env->heartbeat);
    break;
  case STRIKE__ENVELOPE__BODY_GOODBYE:
    SF_INFO("worker %s says goodbye (%s)", w->id,
            env->goodbye->reason && *env->goodbye->reason ? env->goodbye->reason : "no reason");
    w->state = WORKER_DEAD;
    w->dead_since_ms = coord_now(c);
    w->credit = 0;
    if (c->redis_up) leases_of_worker_lost(c, w->id, SF_ERR_WORKER_LOST);
    break;
  default:
    c->wstats.malformed++;
    sf_log_rl(&c->wstats.rl, SF_LOG_WARN, "dropped %s message on the worker socket from %s",
              sf_msg_name(env->body_case), w->id);
    break;
  }
}

static void on_create(coord *c, const sf_peer *peer, uint64_t rid, const Strike__Create *cr) {
  char err[512];
  csub *s = NULL;
  int existed = 0;
  sf_status st = sub_create(c, cr, &s, &existed, err, sizeof err);
  if (st) {
    c->stats.bad_requests++;
    reply_error(c, peer, rid, st, "create: %s", err);
    return;
  }
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Created r = STRIKE__CREATED__INIT;
  r.submission_id = s->name;
  r.chunks_stored = s->chunks;
  r.jobs_stored = s->total;
  r.sealed = s->sealed;
  r.existed = existed;
  env.request_id = rid;
  env.body_case = STRIKE__ENVELOPE__BODY_CREATED;
  env.created = &r;
  out_push(c, OUT_CLIENT, peer, &env, 1, 0, NULL);
}

static void on_chunk(coord *c, const sf_peer *peer, uint64_t rid, const Strike__Chunk *ch) {
  char err[512] = "";
  int dup = 0;
  csub *s = sub_by_name(c, ch->submission_id);
  sf_status st = SF_ERR_NOT_FOUND;
  if (!s) snprintf(err, sizeof err, "no submission \"%s\"", ch->submission_id ? ch->submission_id : "");
  else st = sub_add_chunk(c, s, ch, &dup, err, sizeof err);
  if (st) c->stats.bad_requests++;
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__ChunkAck a = STRIKE__CHUNK_ACK__INIT;
  a.submission_id = ch->submission_id;
  a.chunk_index = ch->chunk_index;
  a.status = st;
  a.message = err;
  a.duplicate = dup;
  a.jobs_stored = s ? s->total : 0;
  env.request_id = rid;
  env.body_case = STRIKE__ENVELOPE__BODY_CHUNK_ACK;
  env.chunk_ack = &a;
  out_push(c, OUT_CLIENT, peer, &env, 1, 0, NULL);
}

static void on_status(coord *c, const sf_peer *peer, uint64_t rid, const Strike__StatusRequest *rq) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__StatusReply rep = STRIKE__STATUS_REPLY__INIT;
  size_t cap = 1;
  if (!rq->submission_id || !*rq->submission_id) cap = rq->limit ? rq->limit : 100;
  if (cap > 1000) cap = 1000;
  Strike__SubmissionStatus *sts = calloc(cap, sizeof *sts);
  Strike__SubmissionStatus **ptr = calloc(cap, sizeof *ptr);
  if (!sts || !ptr) {
    free(sts), free(ptr);
    reply_error(c, peer, rid, SF_ERR_NO_MEMORY, "out of memory");
    return;
  }
  size_t n = 0;
  if (rq->submission_id && *rq->submission_id) {
    csub *s = sub_by_name(c, rq->submission_id);
    if (!s) {
      free(sts), free(ptr);
      reply_error(c, peer, rid, SF_ERR_NOT_FOUND, "no such submission \"%s\"", rq->submission_id);
      return;
    }
    sub_fill_status(c, s, &sts[n]);
    ptr[n] = &sts[n];
    n++;
  } else {
    for (size_t i = c->subs_cap; i-- > 1 && n < cap;) {
      csub *s = c->subs[i];
      if (!s) continue;
      sub_fill_status(c, s, &sts[n]);
      ptr[n] = &sts[n];
      n++;
    }
  }
  rep.n_submissions = n;
  rep.submissions = ptr;
  env.request_id = rid;
  env.body_case = STRIKE__ENVELOPE__BODY_STATUS_REPLY;
  env.status_reply = &rep;
  out_push(c, OUT_CLIENT, peer, &env, 0, 0, NULL);
  free(sts);
  free(ptr);
}

static const char *worker_state_name(worker_state s) {
  switch (s) {
  case WORKER_READY: return "ready";
  case WORKER_RECOVERING: return "recovering";
  case WORKER_DEAD: return "dead";
  }
  return "?";
}

static void on_workers(coord *c, const sf_peer *peer, uint64_t rid) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__WorkersReply rep = STRIKE__WORKERS_REPLY__INIT;
  size_t n = c->nworkers;
  Strike__WorkerInfo *wi = calloc(n + 1, sizeof *wi);
  Strike__WorkerInfo **ptr = calloc(n + 1, sizeof *ptr);
  if (!wi || !ptr) {
    free(wi), free(ptr);
    reply_error(c, peer, rid, SF_ERR_NO_MEMORY, "out of memory");
    return;
  }
  uint64_t now = coord_now(c);
  for (size_t i = 0; i < n; i++) {
    cworker *w = c->workers[i];
    strike__worker_info__init(&wi[i]);
    wi[i].worker_id = w->id;
    if (w->reg) {
      wi[i].host = w->reg->host;
      wi[i].engine = w->reg->engine;
      wi[i].n_models = w->reg->n_models;
      wi[i].models = w->reg->models;
      wi[i].n_devices = w->reg->n_devices;
      wi[i].devices = w->reg->devices;
      wi[i].version = w->reg->version;
    }
    wi[i].jobs_done = w->jobs_done;
    wi[i].rate = w->rate;
    wi[i].heartbeat_age_ms = now - w->last_seen_ms;
    wi[i].in_flight = (uint32_t)w->in_flight;
    wi[i].credit = (uint32_t)w->credit;
    wi[i].state = (char *)worker_state_name(w->state);
    ptr[i] = &wi[i];
  }
  rep.n_workers = n;
  rep.workers = ptr;
  rep.frames_malformed = c->wstats.malformed + c->cstats.malformed + c->wstats.version_mismatch +
                         c->cstats.version_mismatch;
  rep.frames_oversized = c->wstats.oversized + c->cstats.oversized;
  rep.results_stale = c->stats.results_stale;
  rep.results_duplicate = c->stats.results_duplicate;
  rep.redis_up = c->redis_up;
  rep.leases_expired = c->stats.leases_expired;
  rep.leases_unreported = c->stats.leases_unreported;
  env.request_id = rid;
  env.body_case = STRIKE__ENVELOPE__BODY_WORKERS_REPLY;
  env.workers_reply = &rep;
  out_push(c, OUT_CLIENT, peer, &env, 0, 0, NULL);
  free(wi);
  free(ptr);
}

/* Requests that change state need Redis. */
static int needs_redis(Strike__Envelope__BodyCase b) {
  switch (b) {
  case STRIKE__ENVELOPE__BODY_CREATE:
  case STRIKE__ENVELOPE__BODY_CHUNK:
  case STRIKE__ENVELOPE__BODY_SEAL:
  case STRIKE__ENVELOPE__BODY_CANCEL:
  case STRIKE__ENVELOPE__BODY_RETRY:
  case STRIKE__ENVELOPE__BODY_DELETE_REQUEST:
  case STRIKE__ENVELOPE__BODY_RESULTS_REQUEST:
    return 1;
  default:
    return 0;
  }
}

void coord_on_client(coord *c, const sf_peer *peer, Strike__Envelope *env) {
  uint64_t rid = env->request_id;
  if (!c->redis_up && needs_redis(env->body_case)) {
    reply_error(c, peer, rid, SF_ERR_REDIS, "Redis unavailable; retry later");
    return;
  }
  char err[512];
  switch (env->body_case) {
  case STRIKE__ENVELOPE__BODY_CREATE:
    on_create(c, peer, rid, env->create);
    break;
  case STRIKE__ENVELOPE__BODY_CHUNK:
    on_chunk(c, peer, rid, env->chunk);
    break;
  case STRIKE__ENVELOPE__BODY_SEAL: {
    csub *s = sub_by_name(c, env->seal->submission_id);
    if (!s) {
      reply_error(c, peer, rid, SF_ERR_NOT_FOUND, "no submission \"%s\"", env->seal->submission_id);
      break;
    }
    sf_status st = sub_seal(c, s, env->seal, err, sizeof err);
    if (st) reply_error(c, peer, rid, st, "seal: %s", err);
    else reply_simple(c, peer, rid, SF_OK, "sealed", s->total);
    break;
  }
  case STRIKE__ENVELOPE__BODY_STATUS_REQUEST:
    on_status(c, peer, rid, env->status_request);
    break;
  case STRIKE__ENVELOPE__BODY_WATCH:
    watch_add(c, peer, rid, env->watch);
    break;
  case STRIKE__ENVELOPE__BODY_UNWATCH: {
    csub *s = sub_by_name(c, env->unwatch->submission_id);
    if (s) watch_remove(c, peer, s->id);
    reply_simple(c, peer, rid, SF_OK, "unwatched", 0);
    break;
  }
  case STRIKE__ENVELOPE__BODY_WORKERS_REQUEST:
    on_workers(c, peer, rid);
    break;
  case STRIKE__ENVELOPE__BODY_CANCEL:
  case STRIKE__ENVELOPE__BODY_RETRY: {
    int cancel = env->body_case == STRIKE__ENVELOPE__BODY_CANCEL;
    const char *id = cancel ? env->cancel->submission_id : env->retry->submission_id;
    csub *s = sub_by_name(c, id);
    if (!s) {
      reply_error(c, peer, rid, SF_ERR_NOT_FOUND, "no submission \"%s\"", id ? id : "");
      break;
    }
    uint64_t n = 0;
    sf_status st = cancel ? sub_cancel(c, s, &n) : sub_retry(c, s, &n);
    if (st) reply_error(c, peer, rid, st, "%s %s: %s", cancel ? "cancel" : "retry", s->name,
                        st == SF_ERR_CANCELLED ? "submission is cancelled" : sf_strerror(st));
    else reply_simple(c, peer, rid, SF_OK, cancel ? "cancelled" : "queued again", n);
    break;
  }
  case STRIKE__ENVELOPE__BODY_DELETE_REQUEST: {
    const char *id = env->delete_request->submission_id;
    csub *s = sub_by_name(c, id);
    if (!s) {
      reply_error(c, peer, rid, SF_ERR_NOT_FOUND, "no such submission \"%s\"", id ? id : "");
      break;
    }
    uint64_t n = 0;
    sf_status st = sub_delete(c, &s, env->delete_request->force, &n, err, sizeof err);
    if (st) reply_error(c, peer, rid, st, "delete: %s", err);
    else reply_simple(c, peer, rid, SF_OK, "deleted", n);
    break;
  }
  case STRIKE__ENVELOPE__BODY_RESULTS_REQUEST:
    results_page(c, peer, rid, env->results_request);
    break;
  default:
    c->cstats.malformed++;
    sf_log_rl(&c->cstats.rl, SF_LOG_WARN, "dropped %s message on the client socket",
              sf_msg_name(env->body_case));
    reply_error(c, peer, rid, SF_ERR_PROTOCOL, "%s is not a client request",
                sf_msg_name(env->body_case));
    break;
  }
}
