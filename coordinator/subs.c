/* subs.c - submissions: creation (idempotent by client token), chunks (in order, idempotent by
 * index), seal, cancel, retry, delete, counters, finishing, and the chunk cache.
 *
 * Redis keys of submission N (all share the hash tag {s:N}), prefix P:
 *   P:{s:N}:meta     HASH  template and counters
 *   P:{s:N}:c:<k>    STRING chunk k, packed (chunk.c)
 *   P:{s:N}:fin      STRING bitmap: job final (done, dead or cancelled-after-lease)
 *   P:{s:N}:dead     STRING bitmap: job dead
 *   P:{s:N}:q        LIST  re-queued ranges
 *   P:{s:N}:leases   ZSET  leases by deadline
 *   P:{s:N}:res      STRING results log
 *   P:{s:N}:err      HASH  job index -> last error of dead jobs
 * See docs/redis.md. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

#define SUB_RATE_MIN 1e-3 /* jobs/s: a smaller recent rate is reported as 0 */

int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 8;
  while (n < need) n *= 2;
  void *p = realloc(*arr, n * elem);
  if (!p) return -1;
  memset((char *)p + *cap * elem, 0, (n - *cap) * elem);
  *arr = p;
  *cap = n;
  return 0;
}

const char *sub_key(coord *c, const csub *s, char *buf, size_t cap, const char *what) {
  return rs_key(c, buf, cap, "{s:%llu}:%s", (unsigned long long)s->id, what);
}

csub *sub_get(coord *c, uint64_t id) { return id < c->subs_cap ? c->subs[id] : NULL; }

csub *sub_by_name(coord *c, const char *name) {
  if (!name || name[0] != 's' || !name[1]) return NULL;
  char *end;
  unsigned long long id = strtoull(name + 1, &end, 10);
  if (*end) return NULL;
  return sub_get(c, id);
}

csub *sub_new(coord *c, uint64_t id) {
  if (grow((void **)&c->subs, &c->subs_cap, id + 1, sizeof *c->subs)) return NULL;
  csub *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->id = id;
  snprintf(s->name, sizeof s->name, "s%llu", (unsigned long long)id);
  s->level = -1;
  c->subs[id] = s;
  if (id >= c->next_id) c->next_id = id + 1;
  return s;
}

void sub_free(csub **ps) {
  if (!ps || !*ps) return;
  csub *s = *ps;
  free(s->token);
  if (s->tpl) strike__template__free_unpacked(s->tpl, NULL);
  for (size_t i = 0; i < s->cache_cap; i++) chunk_free(&s->cache[i]);
  free(s->cache);
  free(s->chunk_first);
  free(s->retry);
  free(s->fin);
  free(s->dead);
  free(s);
  *ps = NULL;
}

int sub_bits_reserve(csub *s, uint64_t n) {
  size_t need = (size_t)((n + 7) / 8);
  if (need <= s->bits_cap) return 0;
  size_t cap = s->bits_cap;
  if (grow((void **)&s->fin, &cap, need, 1)) return -1;
  size_t cap2 = s->bits_cap;
  if (grow((void **)&s->dead, &cap2, need, 1)) return -1;
  s->bits_cap = cap < cap2 ? cap : cap2;
  return 0;
}

static void mark_dirty(coord *c, csub *s) {
  if (s->in_dirty) return;
  if (grow((void **)&c->dirty, &c->dirty_cap, c->ndirty + 1, sizeof *c->dirty)) return;
  c->dirty[c->ndirty++] = s;
  s->in_dirty = 1;
}

void sub_touch_bits(coord *c, csub *s, uint64_t first, uint64_t count) {
  if (!count) return;
  uint64_t lo = first / 8, hi = (first + count - 1) / 8;
  if (!s->fin_dirty) {
    s->fin_lo = lo;
    s->fin_hi = hi;
    s->fin_dirty = 1;
  } else {
    if (lo < s->fin_lo) s->fin_lo = lo;
    if (hi > s->fin_hi) s->fin_hi = hi;
  }
  mark_dirty(c, s);
}

void sub_save_meta(coord *c, csub *s) {
  s->meta_dirty = 1;
  mark_dirty(c, s);
}

void sub_flush(coord *c, csub *s) {
  char k[128];
  if (s->fin_dirty) {
    size_t lo = (size_t)s->fin_lo, n = (size_t)(s->fin_hi - s->fin_lo + 1);
    rs_cmd(c, "SETRANGE %s %llu %b", sub_key(c, s, k, sizeof k, "fin"), (unsigned long long)lo,
           s->fin + lo, n);
    rs_cmd(c, "SETRANGE %s %llu %b", sub_key(c, s, k, sizeof k, "dead"), (unsigned long long)lo,
           s->dead + lo, n);
    s->fin_dirty = 0;
  }
  if (s->meta_dirty) {
    rs_cmd(c,
           "HSET %s chunks %llu total %llu sealed %d cursor %llu state %d finished %llu "
           "cancelled %llu failed %llu",
           sub_key(c, s, k, sizeof k, "meta"), (unsigned long long)s->chunks,
           (unsigned long long)s->total, s->sealed, (unsigned long long)s->cursor, (int)s->state,
           (unsigned long long)s->finished_ms, (unsigned long long)s->cancelled,
           (unsigned long long)s->failed_attempts);
    s->meta_dirty = 0;
  }
}

void subs_flush_dirty(coord *c) {
  for (size_t i = 0; i < c->ndirty; i++) {
    sub_flush(c, c->dirty[i]);
    c->dirty[i]->in_dirty = 0;
  }
  c->ndirty = 0;
}

uint64_t sub_final(const csub *s) { return s->done + s->dead_n + s->cancelled; }

uint64_t sub_queued(const csub *s) {
  if (s->state == SUB_CANCELLED) return 0;
  uint64_t q = s->retry_jobs + (s->total - s->cursor);
  uint64_t open = s->total - sub_final(s);
  return q < open ? q : open;
}

void sub_check_finished(coord *c, csub *s) {
  if (s->state != SUB_OPEN || !s->sealed || sub_final(s) < s->total) return;
  s->state = SUB_FINISHED;
  s->finished_ms = sf_wall_ms();
  sched_remove(c, s);
  sub_save_meta(c, s);
  retention_note(c, s);
  SF_INFO("submission %s finished: %llu done, %llu dead", s->name, (unsigned long long)s->done,
          (unsigned long long)s->dead_n);
}

static const char *state_name(const csub *s) {
  switch (s->state) {
  case SUB_OPEN: return s->sealed ? "active" : "open";
  case SUB_FINISHED: return "finished";
  case SUB_CANCELLED: return "cancelled";
  }
  return "?";
}

void sub_fill_status(coord *c, csub *s, Strike__SubmissionStatus *st) {
  strike__submission_status__init(st);
  st->submission_id = s->name;
  st->state = (char *)state_name(s);
  st->template_ = s->tpl;
  st->total = s->total;
  st->queued = sub_queued(s);
  uint64_t open = s->total - sub_final(s);
  st->leased = s->state == SUB_CANCELLED ? 0 : open - st->queued;
  st->done = s->done;
  st->dead = s->dead_n;
  st->cancelled = s->cancelled;
  st->failed_attempts = s->failed_attempts;
  st->sealed = s->sealed;
  st->created_ms = s->created_ms;
  st->finished_ms = s->finished_ms;
  /* rate over a sliding window of about 5 s */
  uint64_t now = coord_now(c), fin = s->done + s->dead_n;
  if (!s->rate_t0_ms) {
    s->rate_t0_ms = now;
    s->rate_n0 = fin;
  } else if (now - s->rate_t0_ms >= 1000) {
    double r = (double)(fin - s->rate_n0) * 1000.0 / (double)(now - s->rate_t0_ms);
    s->rate = s->rate > 0 ? 0.5 * s->rate + 0.5 * r : r;
    /* the average halves every window without progress: below one job in ~17 min it is 0,
     * not a value such as 9.97e-50 */
    if (s->rate < SUB_RATE_MIN) s->rate = 0;
    if (now - s->rate_t0_ms >= 5000) {
      s->rate_t0_ms = now;
      s->rate_n0 = fin;
    }
  }
  st->rate = s->state == SUB_OPEN ? s->rate : 0;
}

/* Check a template's (or a job's) steps. With a models config (m: its model) the model must list
 * them; 0 is resolved by the caller to the model's default. Without one the coordinator does not
 * know the model, so it refuses only what no engine can run: 0 (the worker's model default) or
 * 1..CM_STEPS_MAX (= the engine's SE_MAX_JOB_STEPS, the bound se_engine_render and the models
 * config apply); the worker refuses a count its model's spec does not list (invalid_steps). */
sf_status sub_check_steps(const cmodel *m, uint32_t steps, const char *who, char *err,
                          size_t errlen) {
  if (m) {
    if (steps == 0 || cmodel_supports(m, steps)) return SF_OK;
    char list[160];
    snprintf(err, errlen, "%s: steps %u: model %s supports steps {%s} (default %u)", who, steps,
             m->name, cmodel_steps_text(m, list, sizeof list), m->default_steps);
    return SF_ERR_INVALID_STEPS;
  }
  if (steps <= CM_STEPS_MAX) return SF_OK;
  snprintf(err, errlen, "%s: steps %u not in 1..%u%s", who, steps, CM_STEPS_MAX,
           strcmp(who, "template") == 0 ? " (0 = the model's default)" : "");
  return SF_ERR_INVALID_STEPS;
}

/* Check a template; returns SF_OK or an error with a message naming the field. With a models
 * config the model must be one of it (*model receives it). */
static sf_status check_template(coord *c, const Strike__Template *t, const cmodel **model,
                                char *err, size_t errlen) {
  *model = NULL;
  if (!t) {
    snprintf(err, errlen, "template missing");
    return SF_ERR_INVALID_ARGUMENT;
  }
  size_t ml = t->model ? strlen(t->model) : 0;
  if (ml == 0 || ml > SF_MAX_MODEL_BYTES || !sf_utf8_valid(t->model, ml)) {
    snprintf(err, errlen, "model name must be 1..%u bytes of UTF-8", SF_MAX_MODEL_BYTES);
    return SF_ERR_INVALID_ARGUMENT;
  }
  if (c->models && !(*model = cmodels_find(c->models, t->model))) {
    char names[512];
    int cut = (int)(ml < 64 ? ml : 64);
    while (cut > 0 && (size_t)cut < ml && ((unsigned char)t->model[cut] & 0xC0) == 0x80) cut--;
    snprintf(err, errlen, "unknown model \"%.*s%s\"; the coordinator's models config %s has: %s",
             cut, t->model, (size_t)cut < ml ? "..." : "", c->models->path,
             cmodels_names_text(c->models, names, sizeof names));
    return SF_ERR_MODEL;
  }
  sf_status st = sub_check_steps(*model, t->steps, "template", err, errlen);
  if (st) return st;
  if (!sf_side_valid(t->width) || !sf_side_valid(t->height)) {
    snprintf(err, errlen, "size %ux%u: width and height must be %u..%u and multiples of %u",
             t->width, t->height, SF_MIN_SIDE, SF_MAX_SIDE, SF_SIDE_STEP);
    return SF_ERR_INVALID_SIZE;
  }
  if (t->priority < SF_MIN_PRIORITY || t->priority > SF_MAX_PRIORITY) {
    snprintf(err, errlen, "priority %d not in %d..%d", t->priority, SF_MIN_PRIORITY,
             SF_MAX_PRIORITY);
    return SF_ERR_INVALID_ARGUMENT;
  }
  size_t rl = t->output_root ? strlen(t->output_root) : 0;
  if (rl > SF_MAX_ROOT_BYTES || (rl && !sf_utf8_valid(t->output_root, rl))) {
    snprintf(err, errlen, "output root longer than %u bytes or not UTF-8", SF_MAX_ROOT_BYTES);
    return SF_ERR_INVALID_ARGUMENT;
  }
  if (t->output_prefix && !sf_prefix_valid(t->output_prefix)) {
    snprintf(err, errlen, "output prefix must be <= %u characters of [A-Za-z0-9._-]",
             SF_MAX_PREFIX_BYTES);
    return SF_ERR_INVALID_ARGUMENT;
  }
  if (t->n_tags > SF_MAX_TAGS) {
    snprintf(err, errlen, "%zu tags; at most %u", t->n_tags, SF_MAX_TAGS);
    return SF_ERR_INVALID_ARGUMENT;
  }
  for (size_t i = 0; i < t->n_tags; i++) {
    size_t l = strlen(t->tags[i]);
    if (l == 0 || l > SF_MAX_TAG_BYTES || !sf_utf8_valid(t->tags[i], l)) {
      snprintf(err, errlen, "tag %zu must be 1..%u bytes of UTF-8", i, SF_MAX_TAG_BYTES);
      return SF_ERR_INVALID_ARGUMENT;
    }
  }
  size_t nl = t->negative_prompt ? strlen(t->negative_prompt) : 0;
  if (nl > SF_MAX_PROMPT_BYTES || (nl && !sf_utf8_valid(t->negative_prompt, nl))) {
    snprintf(err, errlen, "negative prompt longer than %u bytes or not UTF-8", SF_MAX_PROMPT_BYTES);
    return SF_ERR_INVALID_PROMPT;
  }
  return SF_OK;
}

/* Apply a (validated, owned) template to the in-memory submission. */
void sub_apply_template(csub *s, Strike__Template *t) {
  if (s->tpl) strike__template__free_unpacked(s->tpl, NULL);
  s->tpl = t;
  s->priority = t->priority;
  s->steps = t->steps;
  s->width = t->width;
  s->height = t->height;
}

sf_status sub_create(coord *c, const Strike__Create *cr, csub **out, int *existed, char *err,
                     size_t errlen) {
  *out = NULL;
  *existed = 0;
  size_t tl = cr->client_token ? strlen(cr->client_token) : 0;
  if (tl == 0 || tl > 128) {
    snprintf(err, errlen, "client token must be 1..128 bytes");
    return SF_ERR_INVALID_ARGUMENT;
  }
  for (size_t i = 1; i < c->subs_cap; i++) {
    csub *s = c->subs[i];
    if (s && s->token && strcmp(s->token, cr->client_token) == 0) {
      *out = s;
      *existed = 1;
      return SF_OK;
    }
  }
  const cmodel *model = NULL;
  sf_status st = check_template(c, cr->template_, &model, err, errlen);
  if (st) return st;
  /* Store our own copy, with the default output root filled in and, with a models config, the
   * model's default steps for steps 0 (without one, 0 is stored and the worker resolves it). */
  Strike__Template t = *cr->template_;
  if (!t.output_root || !*t.output_root) t.output_root = c->cfg.default_output_root;
  if (t.steps == 0 && model) t.steps = model->default_steps;
  size_t n = strike__template__get_packed_size(&t);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return SF_ERR_NO_MEMORY;
  strike__template__pack(&t, buf);
  Strike__Template *own = strike__template__unpack(NULL, n, buf);
  csub *s = own ? sub_new(c, c->next_id) : NULL;
  if (!s || !(s->token = strdup(cr->client_token))) {
    free(buf);
    if (own) strike__template__free_unpacked(own, NULL);
    if (s) {
      c->subs[s->id] = NULL;
      sub_free(&s);
    }
    return SF_ERR_NO_MEMORY;
  }
  sub_apply_template(s, own);
  s->created_ms = sf_wall_ms();
  char k[128], k2[128];
  rs_cmd(c, "SET %s %llu", rs_key(c, k, sizeof k, "next_id"), (unsigned long long)c->next_id);
  rs_cmd(c, "HSET %s %s %llu", rs_key(c, k, sizeof k, "tokens"), s->token,
         (unsigned long long)s->id);
  rs_cmd(c, "ZADD %s %llu %llu", rs_key(c, k2, sizeof k2, "subs"), (unsigned long long)s->id,
         (unsigned long long)s->id);
  rs_cmd(c, "HSET %s tpl %b token %s created %llu", sub_key(c, s, k, sizeof k, "meta"), buf, n,
         s->token, (unsigned long long)s->created_ms);
  free(buf);
  sub_save_meta(c, s);
  char stx[16];
  snprintf(stx, sizeof stx, "%u", s->steps);
  SF_INFO("submission %s created (model %s, %ux%u, %s steps, priority %d)", s->name,
          s->tpl->model, s->width, s->height, s->steps ? stx : "the model's default", s->priority);
  *out = s;
  return SF_OK;
}

sf_status sub_add_chunk(coord *c, csub *s, const Strike__Chunk *ch, int *duplicate, char *err,
                        size_t errlen) {
  *duplicate = 0;
  if (ch->chunk_index < s->chunks) {
    if (ch->first_index != s->chunk_first[ch->chunk_index]) {
      snprintf(err, errlen, "chunk %llu was stored with first index %llu, not %llu",
               (unsigned long long)ch->chunk_index,
               (unsigned long long)s->chunk_first[ch->chunk_index],
               (unsigned long long)ch->first_index);
      return SF_ERR_CONFLICT;
    }
    *duplicate = 1;
    return SF_OK;
  }
  if (s->state == SUB_CANCELLED) {
    snprintf(err, errlen, "submission %s is cancelled", s->name);
    return SF_ERR_CANCELLED;
  }
  if (s->sealed) {
    snprintf(err, errlen, "submission %s is sealed", s->name);
    return SF_ERR_CONFLICT;
  }
  if (ch->chunk_index != s->chunks || ch->first_index != s->total) {
    snprintf(err, errlen, "expected chunk %llu starting at job %llu, got chunk %llu at job %llu",
             (unsigned long long)s->chunks, (unsigned long long)s->total,
             (unsigned long long)ch->chunk_index, (unsigned long long)ch->first_index);
    return SF_ERR_CONFLICT;
  }
  if (ch->count > c->cfg.max_chunk_jobs) {
    snprintf(err, errlen, "chunk of %u jobs; at most %llu", ch->count,
             (unsigned long long)c->cfg.max_chunk_jobs);
    return SF_ERR_LIMIT;
  }
  uint8_t *blob = NULL;
  size_t len = 0;
  const cmodel *model = c->models && s->tpl ? cmodels_find(c->models, s->tpl->model) : NULL;
  if (c->models && !model) {
    snprintf(err, errlen, "the model of submission %s is not in the coordinator's models config "
             "%s any more", s->name, c->models->path);
    return SF_ERR_MODEL;
  }
  sf_status st = chunk_pack(s, model, ch, &blob, &len, err, errlen);
  if (st) return st;
  if (grow((void **)&s->chunk_first, &s->chunk_first_cap, s->chunks + 1, sizeof *s->chunk_first) ||
      grow((void **)&s->cache, &s->cache_cap, s->chunks + 1, sizeof *s->cache) ||
      sub_bits_reserve(s, s->total + ch->count)) {
    free(blob);
    return SF_ERR_NO_MEMORY;
  }
  char k[128], what[48];
  snprintf(what, sizeof what, "c:%llu", (unsigned long long)s->chunks);
  rs_cmd(c, "SET %s %b", sub_key(c, s, k, sizeof k, what), blob, len);
  chunk_view *v = chunk_decode(s, s->chunks, blob, len);
  if (v) {
    v->last_use = c->iteration;
    s->cache[s->chunks] = v;
    c->cache_bytes += v->blob_len + (size_t)v->count * 16;
  }
  s->chunk_first[s->chunks] = s->total;
  s->chunks++;
  s->total += ch->count;
  sub_save_meta(c, s);
  sched_update(c, s);
  return SF_OK;
}

sf_status sub_seal(coord *c, csub *s, const Strike__Seal *se, char *err, size_t errlen) {
  if (se->total_jobs != s->total || se->total_chunks != s->chunks) {
    snprintf(err, errlen, "seal says %llu jobs in %llu chunks but %llu jobs in %llu chunks are stored",
             (unsigned long long)se->total_jobs, (unsigned long long)se->total_chunks,
             (unsigned long long)s->total, (unsigned long long)s->chunks);
    return SF_ERR_CONFLICT;
  }
  if (!s->sealed) {
    s->sealed = 1;
    sub_save_meta(c, s);
    sub_check_finished(c, s);
  }
  return SF_OK;
}

sf_status sub_cancel(coord *c, csub *s, uint64_t *affected) {
  *affected = 0;
  if (s->state != SUB_OPEN) return SF_OK;
  /* Drop leases (workers are told once each; their late results will be stale). */
  cworker **told = calloc(c->nworkers + 1, sizeof *told);
  size_t ntold = 0;
  for (size_t i = 0; i < c->nleases;) {
    lease *l = c->leases[i];
    if (l->sub != s) {
      i++;
      continue;
    }
    cworker *w = worker_by_id(c, l->worker_id);
    int already = 0;
    for (size_t k = 0; k < ntold; k++) already |= told[k] == w;
    if (w && !already && told) told[ntold++] = w;
    if (w && !already && w->state == WORKER_READY) {
      Strike__Envelope env = STRIKE__ENVELOPE__INIT;
      Strike__CancelSubmission cs = STRIKE__CANCEL_SUBMISSION__INIT;
      cs.submission_id = s->name;
      env.body_case = STRIKE__ENVELOPE__BODY_CANCEL_SUBMISSION;
      env.cancel_submission = &cs;
      worker_send(c, w, &env, 0);
    }
    lease_drop(c, l, 0);
  }
  free(told);
  char k[128];
  rs_cmd(c, "DEL %s", sub_key(c, s, k, sizeof k, "leases"));
  rs_cmd(c, "DEL %s", sub_key(c, s, k, sizeof k, "q"));
  s->retry_head = s->retry_len = 0;
  s->retry_jobs = 0;
  s->cursor = s->total;
  *affected = s->total - s->done - s->dead_n;
  s->cancelled = *affected;
  s->state = SUB_CANCELLED;
  s->finished_ms = sf_wall_ms();
  sched_remove(c, s);
  sub_save_meta(c, s);
  retention_note(c, s);
  SF_INFO("submission %s cancelled: %llu jobs not run", s->name, (unsigned long long)*affected);
  return SF_OK;
}

sf_status sub_retry(coord *c, csub *s, uint64_t *affected) {
  *affected = 0;
  if (s->state == SUB_CANCELLED) return SF_ERR_CANCELLED;
  if (!s->dead_n) return SF_OK;
  uint64_t i = 0;
  while (i < s->total) {
    if (!s->dead[i >> 3]) {
      i = (i | 7) + 1;
      continue;
    }
    if (!bit_get(s->dead, i)) {
      i++;
      continue;
    }
    uint64_t j = i;
    while (j < s->total && bit_get(s->dead, j) && j - i < SF_MAX_SHARD_JOBS) {
      bit_clr(s->dead, j);
      bit_clr(s->fin, j);
      j++;
    }
    sub_touch_bits(c, s, i, j - i);
    q_push(c, s, i, j - i, 1);
    *affected += j - i;
    i = j;
  }
  s->dead_n -= *affected;
  if (s->state == SUB_FINISHED) {
    s->state = SUB_OPEN;
    s->finished_ms = 0;
  }
  sub_save_meta(c, s);
  sched_update(c, s);
  SF_INFO("submission %s: %llu dead jobs queued again", s->name, (unsigned long long)*affected);
  return SF_OK;
}

/* Forget a submission whose every job is final (with force: cancel it first, *cancelled = the jobs
 * that cancelled). Every Redis key of it is UNLINKed in this iteration's transaction, with its
 * token (a Create with the same token makes a new submission) and its entry in P:subs; the
 * in-memory state goes at once (scheduler, dirty list, chunk cache, leases; metrics and watchers
 * only see c->subs). Late results for its leases are stale (lease_find no longer knows them).
 * *s is freed and set to NULL on success. */
sf_status sub_delete(coord *c, csub **ps, int force, uint64_t *cancelled, char *err,
                     size_t errlen) {
  csub *s = *ps;
  *cancelled = 0;
  if (s->state == SUB_OPEN) {
    uint64_t open = s->total - sub_final(s);
    if (!force) {
      if (open)
        snprintf(err, errlen, "submission %s has %llu jobs queued or leased: cancel it first, or "
                 "wait (or delete --force)", s->name, (unsigned long long)open);
      else
        snprintf(err, errlen, "submission %s is not sealed (still receiving chunks): cancel it "
                 "first (or delete --force)", s->name);
      return SF_ERR_CONFLICT;
    }
    sf_status st = sub_cancel(c, s, cancelled);
    if (st) {
      snprintf(err, errlen, "cancel %s: %s", s->name, sf_strerror(st));
      return st;
    }
  }
  /* A final submission holds no leases; drop any left so that nothing points at it. */
  for (size_t i = 0; i < c->nleases;) {
    if (c->leases[i]->sub == s) lease_drop(c, c->leases[i], 0);
    else i++;
  }
  char k[128], what[48];
  static const char *const keys[] = {"meta", "fin", "dead", "q", "leases", "res", "err"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    rs_cmd(c, "UNLINK %s", sub_key(c, s, k, sizeof k, keys[i]));
  for (uint64_t ch = 0; ch < s->chunks; ch++) {
    snprintf(what, sizeof what, "c:%llu", (unsigned long long)ch);
    rs_cmd(c, "UNLINK %s", sub_key(c, s, k, sizeof k, what));
  }
  if (s->token) rs_cmd(c, "HDEL %s %s", rs_key(c, k, sizeof k, "tokens"), s->token);
  rs_cmd(c, "ZREM %s %llu", rs_key(c, k, sizeof k, "subs"), (unsigned long long)s->id);
  /* Nothing of it may be written after the UNLINKs (that would bring keys back). */
  if (s->in_dirty) {
    for (size_t i = 0; i < c->ndirty; i++) {
      if (c->dirty[i] == s) {
        c->dirty[i] = c->dirty[--c->ndirty];
        break;
      }
    }
    s->in_dirty = 0;
  }
  sched_remove(c, s);
  for (size_t i = 0; i < s->cache_cap; i++) {
    chunk_view *v = s->cache[i];
    if (v) c->cache_bytes -= v->blob_len + (size_t)v->count * 16;
  }
  SF_INFO("submission %s deleted (%llu jobs; %llu cancelled first); its images stay on disk",
          s->name, (unsigned long long)s->total, (unsigned long long)*cancelled);
  c->subs[s->id] = NULL;
  sub_free(ps);
  return SF_OK;
}

chunk_view *sub_chunk_for(coord *c, csub *s, uint64_t index) {
  if (index >= s->total || !s->chunks) return NULL;
  size_t lo = 0, hi = (size_t)s->chunks; /* last chunk with first <= index */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (s->chunk_first[mid] <= index) lo = mid;
    else hi = mid;
  }
  chunk_view *v = s->cache[lo];
  if (!v) {
    char k[128], what[48];
    snprintf(what, sizeof what, "c:%llu", (unsigned long long)lo);
    redisReply *r = rs_read(c, "GET %s", sub_key(c, s, k, sizeof k, what));
    if (!r) return NULL;
    if (r->type == REDIS_REPLY_STRING) {
      uint8_t *blob = malloc(r->len ? r->len : 1);
      if (blob) {
        memcpy(blob, r->str, r->len);
        v = chunk_decode(s, lo, blob, r->len);
      }
    } else {
      SF_ERROR("chunk %zu of %s missing in Redis", lo, s->name);
    }
    freeReplyObject(r);
    if (!v) return NULL;
    s->cache[lo] = v;
    c->cache_bytes += v->blob_len + (size_t)v->count * 16;
  }
  v->last_use = c->iteration;
  return v;
}

void cache_trim(coord *c) {
  size_t limit = (size_t)c->cfg.chunk_cache_mb << 20;
  while (c->cache_bytes > limit) {
    chunk_view **victim = NULL;
    for (size_t i = 1; i < c->subs_cap; i++) {
      csub *s = c->subs[i];
      if (!s) continue;
      for (size_t k = 0; k < s->chunks; k++) {
        chunk_view *v = s->cache[k];
        if (v && v->last_use < c->iteration && (!victim || v->last_use < (*victim)->last_use))
          victim = &s->cache[k];
      }
    }
    if (!victim) return;
    c->cache_bytes -= (*victim)->blob_len + (size_t)(*victim)->count * 16;
    chunk_free(victim);
  }
}
