/* store_load.c - rebuild the coordinator's job state from Redis alone: at start-up, and after
 * Redis came back from a failure. Redis holds the snapshot of the last committed iteration
 * (submissions, chunks, bitmaps, queued ranges, leases), so the rebuilt state is consistent.
 * Leases in flight are kept with their deadlines: a worker that registers again and reports them
 * is believed (fencing by lease id and attempt), and owners that do not come back within the
 * heartbeat limit are declared dead, which re-queues their leases with attempt + 1. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

void state_clear(coord *c) {
  while (c->nleases) lease_drop(c, c->leases[c->nleases - 1], 0);
  for (size_t i = 0; i < c->subs_cap; i++) sub_free(&c->subs[i]);
  for (size_t i = 0; i < c->nlevels; i++) free(c->levels[i].subs);
  c->nlevels = 0;
  c->ndirty = 0;
  c->nfinal = 0;
  c->cache_bytes = 0;
  c->next_id = 1;
}

static uint64_t popcount(const uint8_t *b, size_t n) {
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++) k += (uint64_t)__builtin_popcount(b[i]);
  return k;
}

static uint64_t rd_u64(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Load one submission; 0 on success, -1 on a Redis failure, 1 if its data is unusable. */
static int load_sub(coord *c, uint64_t id) {
  char k[128];
  rs_key(c, k, sizeof k, "{s:%llu}:meta", (unsigned long long)id);
  redisReply *r = rs_read(c, "HGETALL %s", k);
  if (!r) return -1;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
    SF_ERROR("submission s%llu: meta missing in Redis; skipped", (unsigned long long)id);
    freeReplyObject(r);
    return 1;
  }
  csub *s = sub_new(c, id);
  if (!s) {
    freeReplyObject(r);
    return -1;
  }
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const char *f = r->element[i]->str;
    redisReply *v = r->element[i + 1];
    unsigned long long x = strtoull(v->str ? v->str : "0", NULL, 10);
    if (strcmp(f, "tpl") == 0) {
      Strike__Template *t = strike__template__unpack(NULL, v->len, (const uint8_t *)v->str);
      if (t) sub_apply_template(s, t);
    } else if (strcmp(f, "token") == 0) {
      free(s->token);
      s->token = strdup(v->str);
    } else if (strcmp(f, "chunks") == 0) s->chunks = x;
    else if (strcmp(f, "total") == 0) s->total = x;
    else if (strcmp(f, "sealed") == 0) s->sealed = (int)x;
    else if (strcmp(f, "cursor") == 0) s->cursor = x;
    else if (strcmp(f, "state") == 0) s->state = (sub_state)x;
    else if (strcmp(f, "created") == 0) s->created_ms = x;
    else if (strcmp(f, "finished") == 0) s->finished_ms = x;
    else if (strcmp(f, "cancelled") == 0) s->cancelled = x;
    else if (strcmp(f, "failed") == 0) s->failed_attempts = x;
  }
  freeReplyObject(r);
  if (!s->tpl || s->state > SUB_CANCELLED || s->cursor > s->total) {
    SF_ERROR("submission %s: meta in Redis is unusable; skipped", s->name);
    c->subs[id] = NULL;
    sub_free(&s);
    return 1;
  }
  if (grow((void **)&s->chunk_first, &s->chunk_first_cap, s->chunks + 1, sizeof *s->chunk_first) ||
      grow((void **)&s->cache, &s->cache_cap, s->chunks + 1, sizeof *s->cache) ||
      sub_bits_reserve(s, s->total))
    return -1;
  /* chunk headers, pipelined */
  for (uint64_t i = 0; i < s->chunks; i++) {
    rs_key(c, k, sizeof k, "{s:%llu}:c:%llu", (unsigned long long)id, (unsigned long long)i);
    redisAppendCommand(c->rd, "GETRANGE %s 0 %d", k, CHUNK_HEADER_BYTES - 1);
  }
  int bad = 0;
  for (uint64_t i = 0; i < s->chunks; i++) {
    redisReply *h = NULL;
    if (redisGetReply(c->rd, (void **)&h) != REDIS_OK || !h) {
      rs_fail(c, "loading chunk headers");
      return -1;
    }
    uint64_t first;
    uint32_t n;
    if (h->type != REDIS_REPLY_STRING ||
        chunk_header((const uint8_t *)h->str, h->len, &first, &n))
      bad = 1;
    else
      s->chunk_first[i] = first;
    freeReplyObject(h);
  }
  if (bad) SF_ERROR("submission %s: a chunk is missing or corrupt in Redis", s->name);
  /* bitmaps */
  const char *names[2] = {"fin", "dead"};
  uint8_t *dst[2] = {s->fin, s->dead};
  for (int b = 0; b < 2; b++) {
    r = rs_read(c, "GET %s", sub_key(c, s, k, sizeof k, names[b]));
    if (!r) return -1;
    if (r->type == REDIS_REPLY_STRING) {
      size_t n = r->len < s->bits_cap ? r->len : s->bits_cap;
      memcpy(dst[b], r->str, n);
    }
    freeReplyObject(r);
  }
  size_t nb = (size_t)((s->total + 7) / 8);
  s->dead_n = popcount(s->dead, nb);
  uint64_t fin = popcount(s->fin, nb);
  s->done = fin >= s->dead_n ? fin - s->dead_n : 0;
  /* queued ranges */
  r = rs_read(c, "LRANGE %s 0 -1", sub_key(c, s, k, sizeof k, "q"));
  if (!r) return -1;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
    redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING || e->len != 16) continue;
    const uint8_t *p = (const uint8_t *)e->str;
    uint64_t first = rd_u64(p, 8);
    uint32_t cnt = (uint32_t)rd_u64(p + 8, 4), att = (uint32_t)rd_u64(p + 12, 4);
    if (first + cnt <= s->total) q_append_mem(s, first, cnt, att);
  }
  freeReplyObject(r);
  /* leases */
  r = rs_read(c, "ZRANGE %s 0 -1 WITHSCORES", sub_key(c, s, k, sizeof k, "leases"));
  if (!r) return -1;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
    redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING || e->len < 25 || e->len > 24 + 128) continue;
    const uint8_t *p = (const uint8_t *)e->str;
    char wid[129];
    memcpy(wid, p + 24, e->len - 24);
    wid[e->len - 24] = '\0';
    uint64_t lid = rd_u64(p, 8), first = rd_u64(p + 8, 8);
    uint32_t cnt = (uint32_t)rd_u64(p + 16, 4), att = (uint32_t)rd_u64(p + 20, 4);
    uint64_t deadline = strtoull(r->element[i + 1]->str, NULL, 10);
    if (!cnt || cnt > SF_MAX_SHARD_JOBS || first + cnt > s->total) continue;
    lease *l = lease_add(c, s, first, cnt, att, wid, deadline, 0);
    if (!l) continue;
    l->id = lid; /* keep the stored fencing token */
    for (uint32_t o = 0; o < cnt; o++) /* jobs already final count as settled */
      if (bit_get(s->fin, first + o)) {
        bit_set(l->settled, o);
        l->settled_n++;
      }
    if (!worker_by_id(c, wid)) {
      cworker *w = worker_add(c, wid);
      if (w) w->state = WORKER_RECOVERING;
    }
  }
  freeReplyObject(r);
  sched_update(c, s);
  if (s->state != SUB_OPEN) retention_note(c, s); /* its meta "finished" time is the deadline's base */
  return 0;
}

sf_status store_load(coord *c) {
  state_clear(c);
  sf_status lk = rs_lock_acquire(c);
  if (lk != SF_OK) return lk;
  char k[128];
  redisReply *r = rs_read(c, "INCR %s", rs_key(c, k, sizeof k, "epoch"));
  if (!r) return SF_ERR_REDIS;
  if (r->type != REDIS_REPLY_INTEGER) {
    SF_ERROR("Redis: INCR %s: %s", k, r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
    freeReplyObject(r);
    rs_fail(c, "epoch");
    return SF_ERR_REDIS;
  }
  c->epoch = (uint64_t)r->integer;
  c->lease_seq = 0;
  snprintf(c->coordinator_id, sizeof c->coordinator_id, "c%llu", (unsigned long long)c->epoch);
  freeReplyObject(r);
  r = rs_read(c, "GET %s", rs_key(c, k, sizeof k, "next_id"));
  if (!r) return SF_ERR_REDIS;
  uint64_t next = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 1;
  freeReplyObject(r);
  r = rs_read(c, "ZRANGE %s 0 -1", rs_key(c, k, sizeof k, "subs"));
  if (!r) return SF_ERR_REDIS;
  uint64_t loaded = 0;
  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
    uint64_t id = strtoull(r->element[i]->str, NULL, 10);
    if (!id) continue;
    if (sf_now_ms() - c->lock_refreshed_ms > c->lock_ttl_ms / 3) { /* long loads keep the lock */
      redisReply *x = rs_read(c, "PEXPIRE %s %llu", rs_key(c, k, sizeof k, "lock"),
                              (unsigned long long)c->lock_ttl_ms);
      if (!x) {
        freeReplyObject(r);
        return SF_ERR_REDIS;
      }
      freeReplyObject(x);
      c->lock_refreshed_ms = sf_now_ms();
    }
    int rc = load_sub(c, id);
    if (rc < 0) {
      freeReplyObject(r);
      return SF_ERR_REDIS;
    }
    if (rc == 0) loaded++;
  }
  freeReplyObject(r);
  if (next > c->next_id) c->next_id = next;
  for (size_t i = 0; i < c->nworkers; i++) {
    cworker *w = c->workers[i];
    w->in_flight = 0;
    w->last_seen_ms = w->state == WORKER_RECOVERING ? coord_now(c) : w->last_seen_ms;
  }
  for (size_t i = 0; i < c->nleases; i++) {
    cworker *w = worker_by_id(c, c->leases[i]->worker_id);
    if (w) w->in_flight += c->leases[i]->count - c->leases[i]->settled_n;
  }
  c->redis_up = 1;
  SF_INFO("state loaded from Redis %s: %llu submissions, %zu leases in flight (epoch %llu)",
          c->cfg.redis, (unsigned long long)loaded, c->nleases, (unsigned long long)c->epoch);
  return SF_OK;
}
