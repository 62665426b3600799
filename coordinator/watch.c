/* watch.c - progress events for clients watching a submission: one at once, then about every
 * interval while something changed, and a last one (finished = true) when the submission is
 * finished or cancelled. A watch ends then, on Unwatch, or when sending to the client fails. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"

static void send_progress(coord *c, watcher *wt, csub *s, int finished) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Progress p = STRIKE__PROGRESS__INIT;
  Strike__SubmissionStatus st;
  sub_fill_status(c, s, &st);
  p.status = &st;
  p.finished = finished;
  env.request_id = wt->request_id;
  env.body_case = STRIKE__ENVELOPE__BODY_PROGRESS;
  env.progress = &p;
  out_push(c, OUT_CLIENT, &wt->peer, &env, 0, 0, NULL);
  wt->last_fin = sub_final(s);
  wt->last_leased = st.leased;
}

void watch_add(coord *c, const sf_peer *peer, uint64_t request_id, const Strike__Watch *w) {
  csub *s = sub_by_name(c, w->submission_id);
  if (!s) {
    reply_error(c, peer, request_id, SF_ERR_NOT_FOUND, "no submission \"%s\"",
                w->submission_id ? w->submission_id : "");
    return;
  }
  if (c->nwatchers >= 10000) {
    reply_error(c, peer, request_id, SF_ERR_LIMIT, "too many watchers");
    return;
  }
  watch_remove(c, peer, s->id);
  if (grow((void **)&c->watchers, &c->watchers_cap, c->nwatchers + 1, sizeof *c->watchers)) return;
  watcher *wt = &c->watchers[c->nwatchers++];
  memset(wt, 0, sizeof *wt);
  wt->peer = *peer;
  wt->sub_id = s->id;
  wt->request_id = request_id;
  wt->interval_ms = w->interval_ms ? (w->interval_ms < 50 ? 50 : w->interval_ms)
                                   : c->cfg.watch_interval_ms;
  int done = s->state != SUB_OPEN;
  send_progress(c, wt, s, done);
  wt->next_ms = coord_now(c) + wt->interval_ms;
  if (done) c->nwatchers--;
}

void watch_remove(coord *c, const sf_peer *peer, uint64_t sub_id) {
  for (size_t i = 0; i < c->nwatchers; i++) {
    watcher *wt = &c->watchers[i];
    if (wt->sub_id == sub_id && wt->peer.len == peer->len &&
        memcmp(wt->peer.id, peer->id, peer->len) == 0) {
      c->watchers[i] = c->watchers[--c->nwatchers];
      return;
    }
  }
}

void watch_tick(coord *c) {
  uint64_t now = coord_now(c);
  for (size_t i = 0; i < c->nwatchers;) {
    watcher *wt = &c->watchers[i];
    csub *s = sub_get(c, wt->sub_id);
    if (!s) { /* vanished (deleted, or state reloaded without it): tell the watcher */
      reply_error(c, &wt->peer, wt->request_id, SF_ERR_NOT_FOUND,
                  "submission s%llu no longer exists (deleted)", (unsigned long long)wt->sub_id);
      c->watchers[i] = c->watchers[--c->nwatchers];
      continue;
    }
    int done = s->state != SUB_OPEN;
    if (done || now >= wt->next_ms) {
      if (done || sub_final(s) != wt->last_fin || now >= wt->next_ms + 10 * wt->interval_ms)
        send_progress(c, wt, s, done);
      wt->next_ms = now + wt->interval_ms;
    }
    if (done) {
      c->watchers[i] = c->watchers[--c->nwatchers];
      continue;
    }
    i++;
  }
}
