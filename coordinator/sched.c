/* sched.c - queued work and dispatch.
 *
 * Queued jobs of a submission are the never-dispatched tail [cursor, total) plus a FIFO of
 * re-queued ranges (expired leases, failed jobs, handed-back jobs, retried dead jobs), which go
 * first. Submissions with queued work sit in priority levels. Between levels, stride scheduling:
 * a level's virtual time advances by jobs / weight, weight = 2^(priority / 10), and the level with
 * the smallest virtual time goes next, so a higher priority gets a larger share and a lower one
 * still gets its share (never starved). Within a level, first in first out (by submission id).
 * Model affinity: within the chosen level a worker gets the oldest submission whose model it has
 * loaded, else the oldest it can run. A shard is a contiguous run of one chunk, at most
 * min(credit, shard-jobs) jobs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

double sched_weight(int priority) { return pow(2.0, priority / 10.0); }

static void q_put_redis(coord *c, csub *s, const char *op, const qrange *r) {
  uint8_t b[16];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(r->first >> (8 * i));
  for (int i = 0; i < 4; i++) b[8 + i] = (uint8_t)(r->count >> (8 * i));
  for (int i = 0; i < 4; i++) b[12 + i] = (uint8_t)(r->attempt >> (8 * i));
  char k[128];
  if (strcmp(op, "LSET") == 0) rs_cmd(c, "LSET %s 0 %b", sub_key(c, s, k, sizeof k, "q"), b, sizeof b);
  else rs_cmd(c, "RPUSH %s %b", sub_key(c, s, k, sizeof k, "q"), b, sizeof b);
}

/* Append a range to the in-memory FIFO only. */
int q_append_mem(csub *s, uint64_t first, uint32_t count, uint32_t attempt) {
  if (s->retry_head > 0 && s->retry_head == s->retry_len) s->retry_head = s->retry_len = 0;
  if (s->retry_head > 1024 && s->retry_head * 2 > s->retry_len) {
    memmove(s->retry, s->retry + s->retry_head, (s->retry_len - s->retry_head) * sizeof *s->retry);
    s->retry_len -= s->retry_head;
    s->retry_head = 0;
  }
  if (grow((void **)&s->retry, &s->retry_cap, s->retry_len + 1, sizeof *s->retry)) return -1;
  s->retry[s->retry_len++] = (qrange){first, count, attempt};
  s->retry_jobs += count;
  return 0;
}

void q_push(coord *c, csub *s, uint64_t first, uint64_t count, uint32_t attempt) {
  while (count > 0) {
    uint32_t n = count > SF_MAX_SHARD_JOBS ? SF_MAX_SHARD_JOBS : (uint32_t)count;
    if (q_append_mem(s, first, n, attempt)) {
      SF_ERROR("out of memory queueing jobs of %s", s->name);
      return;
    }
    q_put_redis(c, s, "RPUSH", &s->retry[s->retry_len - 1]);
    first += n;
    count -= n;
  }
  sched_update(c, s);
}

uint64_t q_push_unfinished(coord *c, csub *s, uint64_t first, uint32_t count,
                           const uint8_t *skip, uint32_t attempt) {
  uint64_t queued = 0;
  uint32_t i = 0;
  while (i < count) {
    if (bit_get(s->fin, first + i) || (skip && bit_get(skip, i))) {
      i++;
      continue;
    }
    uint32_t j = i;
    while (j < count && !bit_get(s->fin, first + j) && !(skip && bit_get(skip, j))) j++;
    q_push(c, s, first + i, j - i, attempt);
    queued += j - i;
    i = j;
  }
  return queued;
}

static int dispatchable(const csub *s) {
  return s->state == SUB_OPEN && (s->retry_len > s->retry_head || s->cursor < s->total);
}

static plevel *level_for(coord *c, int priority, int create) {
  for (size_t i = 0; i < c->nlevels; i++)
    if (c->levels[i].priority == priority) return &c->levels[i];
  if (!create) return NULL;
  if (grow((void **)&c->levels, &c->levels_cap, c->nlevels + 1, sizeof *c->levels)) return NULL;
  plevel *l = &c->levels[c->nlevels++];
  memset(l, 0, sizeof *l);
  l->priority = priority;
  l->stride = 1.0 / sched_weight(priority);
  return l;
}

void sched_update(coord *c, csub *s) {
  int want = dispatchable(s);
  if (want && s->level < 0) {
    plevel *l = level_for(c, s->priority, 1);
    if (!l || grow((void **)&l->subs, &l->cap, l->n + 1, sizeof *l->subs)) return;
    if (l->n == 0) {
      /* A level that wakes up starts at the current virtual time, so it cannot claim a burst for
       * the time it was idle. */
      double minp = -1;
      for (size_t i = 0; i < c->nlevels; i++)
        if (&c->levels[i] != l && c->levels[i].n && (minp < 0 || c->levels[i].pass < minp))
          minp = c->levels[i].pass;
      if (minp >= 0 && l->pass < minp) l->pass = minp;
    }
    size_t at = l->n; /* keep FIFO by id */
    while (at > 0 && l->subs[at - 1]->id > s->id) at--;
    memmove(l->subs + at + 1, l->subs + at, (l->n - at) * sizeof *l->subs);
    l->subs[at] = s;
    l->n++;
    s->level = 1;
  } else if (!want && s->level >= 0) {
    sched_remove(c, s);
  }
}

void sched_remove(coord *c, csub *s) {
  if (s->level < 0) return;
  plevel *l = level_for(c, s->priority, 0);
  if (l) {
    for (size_t i = 0; i < l->n; i++) {
      if (l->subs[i] == s) {
        memmove(l->subs + i, l->subs + i + 1, (l->n - i - 1) * sizeof *l->subs);
        l->n--;
        break;
      }
    }
  }
  s->level = -1;
}

/* Pick the submission worker w should get work from next; NULL if none it can run. */
static csub *pick(coord *c, cworker *w, plevel **lvl) {
  plevel *best = NULL;
  csub *bs = NULL;
  for (size_t i = 0; i < c->nlevels; i++) {
    plevel *l = &c->levels[i];
    if (!l->n) continue;
    if (best && (l->pass > best->pass || (l->pass == best->pass && l->priority < best->priority)))
      continue;
    csub *loaded = NULL, *runnable = NULL;
    for (size_t k = 0; k < l->n && !loaded; k++) {
      csub *s = l->subs[k];
      if (!worker_can_run(w, s->tpl->model)) continue;
      if (!runnable) runnable = s;
      if (worker_has_loaded(w, s->tpl->model)) loaded = s;
    }
    csub *s = loaded ? loaded : runnable;
    if (!s) continue;
    best = l;
    bs = s;
  }
  *lvl = best;
  return bs;
}

/* Takes the first n jobs off the submission's queue: from the head retry range when from_retry,
 * else from the fresh cursor, and records that in Redis (pipelined with the rest of the loop). */
static void q_take(coord *c, csub *s, uint32_t n, int from_retry) {
  if (from_retry) {
    qrange *r = &s->retry[s->retry_head];
    r->first += n;
    r->count -= n;
    s->retry_jobs -= n;
    char k[128];
    if (r->count == 0) {
      rs_cmd(c, "LPOP %s", sub_key(c, s, k, sizeof k, "q"));
      s->retry_head++;
    } else {
      q_put_redis(c, s, "LSET", r);
    }
  } else {
    s->cursor += n;
    sub_save_meta(c, s);
  }
}

/* The chunk holding job `first` cannot be read back from Redis (missing or corrupt): its queued
 * jobs up to the chunk's end become dead with SF_ERR_INTERNAL, so dispatch of everything else goes
 * on. */
static void unreadable_chunk(coord *c, csub *s, uint64_t first, uint32_t avail, uint32_t attempt,
                             int from_retry) {
  uint64_t end = s->total;
  for (uint64_t k = 0; k < s->chunks; k++)
    if (s->chunk_first[k] > first) {
      end = s->chunk_first[k];
      break;
    }
  uint32_t n = end - first < avail ? (uint32_t)(end - first) : avail;
  SF_ERROR("%s: jobs %llu..%llu are dead: their stored chunk cannot be read", s->name,
           (unsigned long long)first, (unsigned long long)(first + n - 1));
  jobs_mark_dead(c, s, first, n, NULL, attempt, SF_ERR_INTERNAL, "stored chunk unreadable");
  q_take(c, s, n, from_retry);
  sched_update(c, s);
  sub_check_finished(c, s);
}

/* Build, lease and send one shard of s to w. Returns jobs sent (0 if nothing could be sent). */
static uint32_t give(coord *c, cworker *w, csub *s, uint32_t max) {
  uint64_t first;
  uint32_t avail, attempt;
  int from_retry = 0;
  for (;;) {
    if (s->retry_len > s->retry_head) {
      qrange *r = &s->retry[s->retry_head];
      while (r->count && bit_get(s->fin, r->first)) { /* skip jobs that finished meanwhile */
        r->first++;
        r->count--;
        s->retry_jobs--;
      }
      if (!r->count) {
        char k[128];
        rs_cmd(c, "LPOP %s", sub_key(c, s, k, sizeof k, "q"));
        s->retry_head++;
        continue;
      }
      first = r->first;
      avail = r->count;
      attempt = r->attempt;
      from_retry = 1;
    } else if (s->cursor < s->total) {
      first = s->cursor;
      uint64_t a = s->total - s->cursor;
      avail = a > SF_MAX_SHARD_JOBS ? SF_MAX_SHARD_JOBS : (uint32_t)a;
      attempt = 1;
    } else {
      sched_update(c, s);
      return 0;
    }
    break;
  }
  chunk_view *v = sub_chunk_for(c, s, first);
  if (!v) {
    if (c->redis_up) unreadable_chunk(c, s, first, avail, attempt, from_retry);
    return 0;
  }
  uint32_t o = (uint32_t)(first - v->first);
  uint32_t n = avail < max ? avail : max;
  if (n > v->count - o) n = v->count - o;
  if (from_retry) /* stop before the next job that is already final */
    for (uint32_t i = 1; i < n; i++)
      if (bit_get(s->fin, first + i)) {
        n = i;
        break;
      }
  uint64_t deadline_wall = sf_wall_ms() + c->cfg.lease_timeout_ms;
  lease *l = lease_add(c, s, first, n, attempt, w->id, deadline_wall, 1);
  if (!l) return 0;
  /* Build the Shard: arrays point into the cached chunk; packed into the outbox at once. */
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Shard sh = STRIKE__SHARD__INIT;
  sh.lease_id = l->id;
  sh.attempt = attempt;
  sh.submission_id = s->name;
  sh.first_index = first;
  sh.count = n;
  sh.model = s->tpl->model;
  sh.steps = s->steps;
  sh.width = s->width;
  sh.height = s->height;
  uint32_t end_off = o + n < v->count ? v->off[o + n] : v->off[v->count - 1] + v->len[v->count - 1];
  sh.prompts.data = (uint8_t *)v->prompts + v->off[o];
  sh.prompts.len = end_off - v->off[o];
  sh.n_prompt_len = n;
  sh.prompt_len = v->len + o;
  sh.n_seeds = n;
  sh.seeds = v->seed + o;
  if (v->steps) {
    sh.n_steps_override = n;
    sh.steps_override = v->steps + o;
  }
  if (v->width) {
    sh.n_width_override = n;
    sh.width_override = v->width + o;
  }
  if (v->height) {
    sh.n_height_override = n;
    sh.height_override = v->height + o;
  }
  sh.output_root = s->tpl->output_root;
  sh.output_prefix = s->tpl->output_prefix;
  sh.deadline_ms = c->cfg.lease_timeout_ms;
  sh.negative_prompt = s->tpl->negative_prompt;
  sh.cfg_scale = s->tpl->cfg_scale;
  env.body_case = STRIKE__ENVELOPE__BODY_SHARD;
  env.shard = &sh;
  /* Take the jobs off the queue. */
  q_take(c, s, n, from_retry);
  w->credit -= n;
  w->in_flight += n;
  c->stats.jobs_dispatched += n;
  worker_send(c, w, &env, n);
  sched_update(c, s);
  return n;
}

void sched_dispatch(coord *c) {
  if (!c->redis_up) return;
  int progress = 1, idle_rounds = 0;
  while (progress && idle_rounds < 10000) { /* the bound only guards against a bug */
    progress = 0;
    for (size_t i = 0; i < c->nworkers; i++) {
      cworker *w = c->workers[i];
      if (w->state != WORKER_READY || w->credit == 0) continue;
      plevel *l = NULL;
      csub *s = pick(c, w, &l);
      if (!s) continue;
      uint64_t max = w->credit < c->cfg.shard_jobs ? w->credit : c->cfg.shard_jobs;
      uint32_t n = give(c, w, s, (uint32_t)max);
      if (!c->redis_up) return;
      if (n) {
        l->pass += n * l->stride;
        progress = 1;
        idle_rounds = 0;
      } else {
        idle_rounds++;
        progress = 1; /* s left the levels, or unreadable jobs were retired: look again */
      }
    }
  }
}
