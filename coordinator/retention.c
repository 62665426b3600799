/* retention.c - optional automatic deletion of finished submissions (finished-retention). Every
 * submission that becomes final (finished or cancelled, meta "finished" set) has its id put on
 * coord.final_ids; once per second the coordinator walks that list only (O(final submissions),
 * no Redis scan) and deletes, with sub_delete as `strike delete` does, those that finished more
 * than finished-retention seconds ago. finished_ms is the wall-clock time stored in Redis, so a
 * restarted coordinator (store_load notes every final submission it loads) keeps the same
 * deadlines. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

void retention_note(coord *c, csub *s) {
  if (s->on_final) return;
  if (c->nfinal == c->final_cap) {
    size_t cap = c->final_cap ? c->final_cap * 2 : 64;
    uint64_t *p = realloc(c->final_ids, cap * sizeof *p);
    if (!p) return; /* not noted: kept until the next restart notes it (no harm) */
    c->final_ids = p;
    c->final_cap = cap;
  }
  c->final_ids[c->nfinal++] = s->id;
  s->on_final = 1;
}

void retention_tick(coord *c) {
  uint64_t keep_s = c->cfg.finished_retention_s;
  if (!keep_s || !c->redis_up) return;
  uint64_t now = coord_now(c);
  if (now < c->retention_next_ms) return;
  c->retention_next_ms = now + 1000;
  uint64_t wall = sf_wall_ms(), keep_ms = keep_s * 1000;
  for (size_t i = 0; i < c->nfinal;) {
    uint64_t id = c->final_ids[i];
    csub *s = id < c->subs_cap ? c->subs[id] : NULL;
    if (s && s->state == SUB_OPEN) s->on_final = 0; /* retried: noted again when final */
    if (!s || s->state == SUB_OPEN) {
      c->final_ids[i] = c->final_ids[--c->nfinal];
      continue;
    }
    /* finished_ms 0 (meta written by an old version): keep it */
    if (!s->finished_ms || wall < s->finished_ms || wall - s->finished_ms <= keep_ms) {
      i++;
      continue;
    }
    uint64_t age_s = (wall - s->finished_ms) / 1000, cancelled = 0;
    char name[sizeof s->name], err[256];
    memcpy(name, s->name, sizeof name);
    sf_status st = sub_delete(c, &s, 0, &cancelled, err, sizeof err);
    if (st != SF_OK) {
      SF_WARN("retention: cannot delete %s: %s", name, err);
      s->on_final = 0;
      c->final_ids[i] = c->final_ids[--c->nfinal];
      continue;
    }
    c->stats.subs_expired++;
    SF_INFO("retention: submission %s deleted, finished %llu s ago (finished-retention %llu s)",
            name, (unsigned long long)age_s, (unsigned long long)keep_s);
    c->final_ids[i] = c->final_ids[--c->nfinal];
  }
}
