/* outbox.c - messages waiting for this iteration's Redis transaction.
 *
 * Everything the coordinator sends is packed at once and queued here; after the transaction
 * commits, the outbox is delivered. If the transaction failed, client replies become
 * Error(SF_ERR_REDIS) for the same request (the client retries; chunks are idempotent), shards are
 * dropped and their jobs' credit is given back to the worker, and the rest (heartbeats, register
 * acks) is delivered as usual. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "coord.h"

void out_push(coord *c, out_sock s, const sf_peer *peer, Strike__Envelope *env, int is_reply,
              uint32_t shard_jobs, const char *worker_id) {
  if (grow((void **)&c->out, &c->out_cap, c->nout + 1, sizeof *c->out)) {
    SF_ERROR("out of memory queueing a %s message", sf_msg_name(env->body_case));
    return;
  }
  outmsg *m = &c->out[c->nout];
  m->buf = sf_msg_pack(env, &m->len);
  if (!m->buf) {
    SF_ERROR("out of memory packing a %s message", sf_msg_name(env->body_case));
    return;
  }
  m->sock = s;
  m->peer = *peer;
  m->request_id = env->request_id;
  m->is_reply = is_reply;
  m->shard_jobs = shard_jobs;
  snprintf(m->worker_id, sizeof m->worker_id, "%s", worker_id ? worker_id : "");
  c->nout++;
}

void out_flush(coord *c, int ok) {
  for (size_t i = 0; i < c->nout; i++) {
    outmsg *m = &c->out[i];
    if (!ok && m->shard_jobs) {
      cworker *w = worker_by_id(c, m->worker_id);
      if (w) {
        w->credit += m->shard_jobs;
        w->in_flight = w->in_flight > m->shard_jobs ? w->in_flight - m->shard_jobs : 0;
      }
    } else if (!ok && m->is_reply) {
      Strike__Envelope env = STRIKE__ENVELOPE__INIT;
      Strike__Error e = STRIKE__ERROR__INIT;
      e.status = SF_ERR_REDIS;
      e.message = "Redis unavailable: the request was not stored; retry";
      env.request_id = m->request_id;
      env.body_case = STRIKE__ENVELOPE__BODY_ERROR;
      env.error = &e;
      size_t len = 0;
      uint8_t *b = sf_msg_pack(&env, &len);
      if (b && c->deliver) c->deliver(c, m->sock, &m->peer, b, len);
      free(b);
    } else if (c->deliver) {
      c->deliver(c, m->sock, &m->peer, m->buf, m->len);
    }
    free(m->buf);
  }
  c->nout = 0;
}

void reply_error(coord *c, const sf_peer *peer, uint64_t request_id, sf_status st,
                 const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Error e = STRIKE__ERROR__INIT;
  e.status = st;
  e.message = msg;
  env.request_id = request_id;
  env.body_case = STRIKE__ENVELOPE__BODY_ERROR;
  env.error = &e;
  out_push(c, OUT_CLIENT, peer, &env, 0, 0, NULL);
}

void reply_simple(coord *c, const sf_peer *peer, uint64_t request_id, sf_status st,
                  const char *msg, uint64_t affected) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Reply r = STRIKE__REPLY__INIT;
  r.status = st;
  r.message = (char *)(msg ? msg : "");
  r.affected = affected;
  env.request_id = request_id;
  env.body_case = STRIKE__ENVELOPE__BODY_REPLY;
  env.reply = &r;
  out_push(c, OUT_CLIENT, peer, &env, 1, 0, NULL);
}
