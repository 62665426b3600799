/* leases.c - leases and results: a lease covers one shard (a contiguous range of one submission's
 * jobs) held by one worker until a deadline. Results are fenced by (lease id, attempt): a result
 * for a lease that no longer exists or for another attempt is counted as stale and ignored, and a
 * job already final is never counted twice (fin bitmap). Failed jobs are re-queued with
 * attempt + 1 until max-attempts, then dead with their last error. An expired lease, or a lease of
 * a lost worker, re-queues its unsettled jobs with attempt + 1. So does a lease its live worker
 * does not list among the leases it holds (Heartbeat.held_leases, leases_reconcile): a Shard lost
 * on the way, or results the coordinator lost with Redis, no longer wait for lease-timeout-ms.
 *
 * Redis: P:{s:N}:leases ZSET, score = deadline (unix ms), member = 24 bytes
 * (lease id u64, first u64, count u32, attempt u32, little-endian) + worker id. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

static size_t member(const lease *l, uint8_t *b) {
  uint64_t v[2] = {l->id, l->first};
  uint32_t u[2] = {l->count, l->attempt};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 8; i++) b[k * 8 + i] = (uint8_t)(v[k] >> (8 * i));
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 4; i++) b[16 + k * 4 + i] = (uint8_t)(u[k] >> (8 * i));
  size_t wl = strlen(l->worker_id);
  memcpy(b + 24, l->worker_id, wl);
  return 24 + wl;
}

lease *lease_find(coord *c, uint64_t id) {
  for (size_t i = 0; i < c->nleases; i++)
    if (c->leases[i]->id == id) return c->leases[i];
  return NULL;
}

lease *lease_add(coord *c, csub *s, uint64_t first, uint32_t count, uint32_t attempt,
                 const char *worker_id, uint64_t deadline_wall, int persist) {
  if (grow((void **)&c->leases, &c->leases_cap, c->nleases + 1, sizeof *c->leases)) return NULL;
  lease *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->settled = calloc((count + 7) / 8, 1);
  if (!l->settled) {
    free(l);
    return NULL;
  }
  l->id = (c->epoch << 32) | ++c->lease_seq;
  l->sub = s;
  l->first = first;
  l->count = count;
  l->attempt = attempt;
  snprintf(l->worker_id, sizeof l->worker_id, "%s", worker_id);
  l->deadline_wall = deadline_wall;
  uint64_t wall = sf_wall_ms(), now = coord_now(c);
  l->deadline_ms = deadline_wall > wall ? now + (deadline_wall - wall) : now;
  l->sent_ms = now;
  c->leases[c->nleases++] = l;
  if (persist) {
    uint8_t b[24 + 129];
    size_t n = member(l, b);
    char k[128];
    rs_cmd(c, "ZADD %s %llu %b", sub_key(c, s, k, sizeof k, "leases"),
           (unsigned long long)deadline_wall, b, n);
  }
  return l;
}

void lease_drop(coord *c, lease *l, int persist) {
  if (persist) {
    uint8_t b[24 + 129];
    size_t n = member(l, b);
    char k[128];
    rs_cmd(c, "ZREM %s %b", sub_key(c, l->sub, k, sizeof k, "leases"), b, n);
  }
  cworker *w = worker_by_id(c, l->worker_id);
  uint64_t left = l->count - l->settled_n;
  if (w) w->in_flight = w->in_flight > left ? w->in_flight - left : 0;
  for (size_t i = 0; i < c->nleases; i++) {
    if (c->leases[i] == l) {
      c->leases[i] = c->leases[--c->nleases];
      break;
    }
  }
  free(l->settled);
  free(l);
}

void jobs_mark_dead(coord *c, csub *s, uint64_t first, uint32_t count, const uint8_t *skip,
                    uint32_t attempt, sf_status st, const char *msg) {
  uint32_t *off = malloc(sizeof *off * count);
  uint8_t *stv = malloc(count);
  uint32_t *att = malloc(sizeof *att * count);
  uint32_t *ms = calloc(count, sizeof *ms);
  uint32_t n = 0;
  char k[128], text[1100];
  sub_key(c, s, k, sizeof k, "err");
  snprintf(text, sizeof text, "%u:%s", (unsigned)st, msg ? msg : sf_strerror(st));
  for (uint32_t i = 0; i < count; i++) {
    uint64_t j = first + i;
    if (bit_get(s->fin, j) || (skip && bit_get(skip, i))) continue;
    bit_set(s->fin, j);
    bit_set(s->dead, j);
    s->dead_n++;
    c->stats.jobs_dead++;
    rs_cmd(c, "HSET %s %llu %s", k, (unsigned long long)j, text);
    if (off && stv && att && ms) {
      off[n] = i;
      stv[n] = (uint8_t)st;
      att[n] = attempt;
      n++;
    }
  }
  if (n) results_log(c, s, first, n, off, stv, att, ms);
  sub_touch_bits(c, s, first, count);
  sub_save_meta(c, s);
  free(off);
  free(stv);
  free(att);
  free(ms);
}

/* Settle one job of a lease (owner = the lease's worker, may be NULL); returns 0 if it was
 * already settled. */
static int settle(lease *l, cworker *owner, uint32_t o) {
  if (bit_get(l->settled, o)) return 0;
  bit_set(l->settled, o);
  l->settled_n++;
  if (owner && owner->in_flight) owner->in_flight--;
  return 1;
}

void lease_on_results(coord *c, cworker *w, const Strike__Results *r) {
  lease *l = lease_find(c, r->lease_id);
  if (!l || l->attempt != r->attempt || l->first != r->first_index || !r->submission_id ||
      strcmp(l->sub->name, r->submission_id) != 0) {
    c->stats.results_stale++;
    sf_log_rl(&c->rl, SF_LOG_INFO,
              "ignored stale results from %s: lease %llu attempt %u (%s)", w ? w->id : "?",
              (unsigned long long)r->lease_id, r->attempt,
              l ? "attempt or range does not match" : "lease unknown or already closed");
    return;
  }
  /* Validate before changing anything. */
  int bad = (r->n_seed && r->n_seed != r->n_offset) || (r->n_render_ms && r->n_render_ms != r->n_offset);
  for (size_t i = 0; i < r->n_offset && !bad; i++) bad = r->offset[i] >= l->count;
  for (size_t i = 0; i < r->n_errors && !bad; i++) bad = !r->errors[i] || r->errors[i]->offset >= l->count;
  if (bad) {
    c->stats.bad_requests++;
    sf_log_rl(&c->rl, SF_LOG_WARN, "dropped malformed results for lease %llu: offsets out of range "
              "or array lengths differ", (unsigned long long)r->lease_id);
    return;
  }
  csub *s = l->sub;
  cworker *owner = worker_by_id(c, l->worker_id);
  uint32_t n = 0;
  uint32_t *off = malloc(sizeof *off * (r->n_offset + 1));
  uint8_t *stv = calloc(r->n_offset + 1, 1);
  uint32_t *att = malloc(sizeof *att * (r->n_offset + 1));
  uint32_t *ms = malloc(sizeof *ms * (r->n_offset + 1));
  if (!off || !stv || !att || !ms) {
    free(off), free(stv), free(att), free(ms);
    SF_ERROR("out of memory recording results");
    return;
  }
  for (size_t i = 0; i < r->n_offset; i++) {
    uint32_t o = r->offset[i];
    if (!settle(l, owner, o)) continue;
    uint64_t j = l->first + o;
    if (bit_get(s->fin, j)) {
      c->stats.results_duplicate++;
      continue;
    }
    bit_set(s->fin, j);
    s->done++;
    c->stats.jobs_done++;
    off[n] = o;
    att[n] = l->attempt;
    ms[n] = r->n_render_ms ? r->render_ms[i] : 0;
    n++;
  }
  if (n) {
    results_log(c, s, l->first, n, off, stv, att, ms);
    sub_touch_bits(c, s, l->first, l->count);
    if (w) w->jobs_done += n;
  }
  free(off), free(stv), free(att), free(ms);
  for (size_t i = 0; i < r->n_errors; i++) {
    const Strike__JobError *e = r->errors[i];
    if (!settle(l, owner, e->offset)) continue;
    uint64_t j = l->first + e->offset;
    if (bit_get(s->fin, j)) {
      c->stats.results_duplicate++;
      continue;
    }
    s->failed_attempts++;
    sf_status st = e->status && e->status < SF_STATUS_COUNT ? (sf_status)e->status : SF_ERR_ENGINE;
    char msg[1025];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "");
    if (!sf_utf8_valid(msg, strlen(msg))) snprintf(msg, sizeof msg, "(error text not UTF-8)");
    if (l->attempt >= c->cfg.max_attempts) {
      jobs_mark_dead(c, s, j, 1, NULL, l->attempt, st, msg);
    } else {
      q_push(c, s, j, 1, l->attempt + 1);
    }
  }
  sub_save_meta(c, s);
  if (r->final || l->settled_n == l->count) {
    /* Jobs not reported are handed back without using an attempt (a draining worker). */
    if (l->settled_n < l->count) q_push_unfinished(c, s, l->first, l->count, l->settled, l->attempt);
    lease_drop(c, l, 1);
  }
  sub_check_finished(c, s);
}

void lease_expire(coord *c, lease *l, sf_status why) {
  csub *s = l->sub;
  c->stats.leases_expired++;
  uint32_t left = l->count - l->settled_n;
  SF_WARN("lease %llu (%s jobs %llu..%llu, attempt %u, worker %s) %s: %u jobs %s",
          (unsigned long long)l->id, s->name, (unsigned long long)l->first,
          (unsigned long long)(l->first + l->count - 1), l->attempt, l->worker_id,
          why == SF_ERR_WORKER_LOST ? "lost with its worker" : "expired", left,
          l->attempt >= c->cfg.max_attempts ? "dead" : "re-queued");
  if (left) {
    if (l->attempt >= c->cfg.max_attempts) {
      jobs_mark_dead(c, s, l->first, l->count, l->settled, l->attempt, why, sf_strerror(why));
    } else {
      q_push_unfinished(c, s, l->first, l->count, l->settled, l->attempt + 1);
    }
  }
  lease_drop(c, l, 1);
  sub_check_finished(c, s);
}

void leases_check(coord *c) {
  uint64_t now = coord_now(c);
  for (size_t i = 0; i < c->nleases;) {
    lease *l = c->leases[i];
    if (now >= l->deadline_ms) {
      lease_expire(c, l, SF_ERR_LEASE_EXPIRED); /* removes leases[i] */
      continue;
    }
    i++;
  }
}

void leases_of_worker_lost(coord *c, const char *worker_id, sf_status why) {
  for (size_t i = 0; i < c->nleases;) {
    lease *l = c->leases[i];
    if (strcmp(l->worker_id, worker_id) == 0) {
      lease_expire(c, l, why);
      continue;
    }
    i++;
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

void leases_reconcile(coord *c, cworker *w, const Strike__Heartbeat *hb) {
  if (!hb->held_leases_complete || !c->cfg.lease_reconcile_ms || !c->redis_up) return;
  if (hb->n_held_leases > SF_MAX_HELD_LEASES) {
    c->stats.bad_requests++;
    sf_log_rl(&c->rl, SF_LOG_WARN, "worker %s reported %zu held leases (limit %u): report ignored",
              w->id, hb->n_held_leases, SF_MAX_HELD_LEASES);
    return;
  }
  uint64_t *ids = NULL;
  if (hb->n_held_leases) {
    ids = malloc(hb->n_held_leases * sizeof *ids);
    if (!ids) return;
    memcpy(ids, hb->held_leases, hb->n_held_leases * sizeof *ids);
    qsort(ids, hb->n_held_leases, sizeof *ids, cmp_u64);
  }
  uint64_t now = coord_now(c);
  for (size_t i = 0; i < c->nleases;) {
    lease *l = c->leases[i];
    if (strcmp(l->worker_id, w->id) != 0) {
      i++;
      continue;
    }
    if (ids && bsearch(&l->id, ids, hb->n_held_leases, sizeof *ids, cmp_u64)) {
      l->unreported = 0;
      i++;
      continue;
    }
    /* A Shard still on its way is not reported yet: only count reports after the grace period. */
    if (now - l->sent_ms < c->cfg.lease_reconcile_ms || ++l->unreported < LEASE_UNREPORTED_REPORTS) {
      i++;
      continue;
    }
    SF_WARN("lease %llu (%s jobs %llu..%llu) is not held by its live worker %s (missing from %u "
            "reports): re-queued", (unsigned long long)l->id, l->sub->name,
            (unsigned long long)l->first, (unsigned long long)(l->first + l->count - 1), w->id,
            l->unreported);
    c->stats.leases_unreported++;
    lease_expire(c, l, SF_ERR_LEASE_EXPIRED); /* removes leases[i] */
  }
  free(ids);
}
