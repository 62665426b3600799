/* test_coord_store.c - the coordinator's job state against a REAL redis-server (unix socket in a
 * temporary directory): submission and chunks (idempotent), dispatch by credit in shards, results,
 * fencing of stale results, lease expiry re-queue with attempt + 1, worker death, max attempts ->
 * dead, retry, cancel, priorities (share and no starvation), restart recovery from Redis alone,
 * Redis memory per queued job. The coordinator core is driven directly with a manual clock; all
 * messages go through the real protobuf framing. */
#include "coord_harness.h"

static h_redis g_redis;

static void short_times(coord_config *cfg) {
  cfg->heartbeat_ms = 1000;
  cfg->heartbeat_misses = 4;
  cfg->lease_timeout_ms = 60000;
  cfg->shard_jobs = 256;
}

/* Run one worker that completes everything it gets until nothing is left; returns jobs reported.
 * Checks that no job index is dispatched twice while its first lease is still open. */
static uint64_t run_worker_to_end(coord *c, const char *peer, int (*fail)(uint64_t), int rounds) {
  uint64_t reported = 0;
  for (int r = 0; r < rounds; r++) {
    h_shards sh = {.n = 0};
    h_take_shards(&sh); /* shards already sent (e.g. re-dispatched failures) first */
    h_cap_clear();
    h_credit(c, peer, 1024);
    coord_tick(c);
    h_take_shards(&sh);
    if (sh.n == 0) {
      h_shards_free(&sh);
      break;
    }
    for (size_t i = 0; i < sh.n; i++) {
      h_results(c, peer, sh.env[i]->shard, 0, sh.env[i]->shard->count, 1, fail);
      reported += sh.env[i]->shard->count;
    }
    coord_tick(c);
    h_shards_free(&sh);
  }
  return reported;
}

/* Count entries of the results log through ResultsRequest paging; fills seen[] counts. */
static uint64_t page_results(coord *c, const char *sub, uint8_t *seen, uint64_t total,
                             uint64_t *dead, int *paths_ok) {
  uint64_t cursor = 0, n = 0;
  *paths_ok = 1;
  for (int guard = 0; guard < 10000; guard++) {
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__ResultsRequest rq = STRIKE__RESULTS_REQUEST__INIT;
    rq.submission_id = (char *)sub;
    rq.cursor = cursor;
    rq.max = 300;
    env.request_id = 77;
    env.body_case = STRIKE__ENVELOPE__BODY_RESULTS_REQUEST;
    env.results_request = &rq;
    h_cap_clear();
    h_feed(c, 0, "client", &env);
    coord_tick(c);
    Strike__Envelope *p = h_cap_last(STRIKE__ENVELOPE__BODY_RESULTS_PAGE);
    if (!p) return n;
    for (size_t i = 0; i < p->results_page->n_results; i++) {
      Strike__JobResult *jr = p->results_page->results[i];
      if (jr->index < total && seen[jr->index] < 255) seen[jr->index]++;
      if (jr->status) (*dead)++;
      char want[1200];
      sf_output_path(want, sizeof want, "/tmp/strike-test-out", sub, "img", jr->index);
      if (jr->status == 0 && strcmp(jr->output_path, want) != 0) *paths_ok = 0;
      if (!jr->prompt || !*jr->prompt) *paths_ok = 0;
      n++;
    }
    cursor = p->results_page->next_cursor;
    if (p->results_page->end) break;
  }
  return n;
}

static void test_basic_and_idempotent_submit(void) {
  coord *c = h_coord(&g_redis, "t1", short_times);
  CHECK(c && c->redis_up);
  const char *id0 = h_create(c, "token-basic", 0, NULL);
  CHECK(id0 != NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 1000, 60, NULL) == SF_OK);
  CHECK(h_chunk(c, sub, 1, 1000, 1000, 60, NULL) == SF_OK);
  /* a re-sent chunk is acknowledged as a duplicate and changes nothing */
  CHECK(h_chunk(c, sub, 1, 1000, 1000, 60, NULL) == SF_OK);
  Strike__Envelope *a = h_cap_last(STRIKE__ENVELOPE__BODY_CHUNK_ACK);
  CHECK(a && a->chunk_ack->duplicate && a->chunk_ack->jobs_stored == 2000);
  /* a gap is refused */
  CHECK(h_chunk(c, sub, 5, 5000, 10, 60, NULL) == SF_ERR_CONFLICT);
  CHECK(h_chunk(c, sub, 2, 2000, 500, 60, NULL) == SF_OK);
  /* re-create with the same token: same id and the resume point */
  const char *again = h_create(c, "token-basic", 0, NULL);
  CHECK(again && strcmp(again, sub) == 0);
  Strike__Envelope *cr = h_cap_last(STRIKE__ENVELOPE__BODY_CREATED);
  CHECK(cr && cr->created->existed && cr->created->chunks_stored == 3 &&
        cr->created->jobs_stored == 2500);
  CHECK(h_seal(c, sub, 9999, 3) == SF_ERR_CONFLICT);
  CHECK(h_seal(c, sub, 2500, 3) == SF_OK);
  h_status st = h_get_status(c, sub);
  CHECK(st.found && st.total == 2500 && st.queued == 2500 && st.done == 0);

  h_cap_clear();
  h_register(c, "peerA", "worker-a", NULL);
  coord_tick(c);
  Strike__Envelope *ack = h_cap_last(STRIKE__ENVELOPE__BODY_REGISTER_ACK);
  CHECK(ack && ack->register_ack->status == 0);
  /* credit bounds what is sent */
  h_cap_clear();
  h_credit(c, "peerA", 300);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  uint64_t sent = 0;
  for (size_t i = 0; i < sh.n; i++) sent += sh.env[i]->shard->count;
  CHECK_MSG(sent == 300, "sent %llu", (unsigned long long)sent);
  CHECK(sh.n == 2); /* 256 + 44: shard-jobs = 256 */
  if (sh.n) {
    Strike__Shard *s0 = sh.env[0]->shard;
    CHECK(s0->first_index == 0 && s0->attempt == 1 && s0->n_seeds == s0->count &&
          s0->n_prompt_len == s0->count && s0->seeds[3] == sf_seed_derive(42, 3));
    char want[200];
    size_t wl = h_prompt(want, sizeof want, 3, 60);
    uint64_t o = 0;
    for (int k = 0; k < 3; k++) o += s0->prompt_len[k];
    CHECK(s0->prompt_len[3] == wl && memcmp(s0->prompts.data + o, want, wl) == 0);
  }
  st = h_get_status(c, sub);
  CHECK(st.leased == 300 && st.queued == 2200);
  for (size_t i = 0; i < sh.n; i++)
    h_results(c, "peerA", sh.env[i]->shard, 0, sh.env[i]->shard->count, 1, NULL);
  coord_tick(c);
  h_shards_free(&sh);
  st = h_get_status(c, sub);
  CHECK(st.done == 300 && st.leased == 0);
  run_worker_to_end(c, "peerA", NULL, 100);
  st = h_get_status(c, sub);
  CHECK_MSG(st.done == 2500 && strcmp(st.state, "finished") == 0, "done %llu state %s",
            (unsigned long long)st.done, st.state);
  uint8_t *seen = calloc(2500, 1);
  uint64_t dead = 0;
  int paths_ok = 0;
  uint64_t n = page_results(c, sub, seen, 2500, &dead, &paths_ok);
  int once = 1;
  for (int i = 0; i < 2500; i++) once &= seen[i] == 1;
  CHECK_MSG(n == 2500 && once && dead == 0 && paths_ok, "results %llu once %d paths %d",
            (unsigned long long)n, once, paths_ok);
  free(seen);
  h_cap_clear();
  coord_destroy(&c);
}

static int fail_all(uint64_t i) { (void)i; return 1; }
static int fail_7(uint64_t i) { return i == 7; }

static void test_fencing_expiry_dead_retry(void) {
  coord *c = h_coord(&g_redis, "t2", short_times);
  const char *id0 = h_create(c, "token-fence", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 200, 40, NULL) == SF_OK);
  CHECK(h_seal(c, sub, 200, 1) == SF_OK);
  h_register(c, "peerB", "worker-b", NULL);
  h_cap_clear();
  h_credit(c, "peerB", 200);
  coord_tick(c);
  h_shards sh1 = {.n = 0};
  h_take_shards(&sh1);
  CHECK(sh1.n == 1 && sh1.env[0]->shard->count == 200);
  if (sh1.n != 1) return;
  Strike__Shard *s1 = sh1.env[0]->shard;
  /* a result with the wrong attempt is stale */
  uint64_t stale0 = c->stats.results_stale;
  s1->attempt = 2;
  h_results(c, "peerB", s1, 0, 10, 0, NULL);
  s1->attempt = 1;
  coord_tick(c);
  CHECK(c->stats.results_stale == stale0 + 1);
  h_status st = h_get_status(c, sub);
  CHECK(st.done == 0);
  /* partial results, then the lease expires: the rest is re-queued with attempt 2 */
  h_results(c, "peerB", s1, 0, 50, 0, NULL);
  coord_tick(c);
  st = h_get_status(c, sub);
  CHECK(st.done == 50 && st.leased == 150);
  for (int i = 0; i < 70; i++) { /* keep the worker alive while time passes */
    c->now_ms += 1000;
    h_heartbeat(c, "peerB");
    coord_tick(c);
  }
  CHECK(c->stats.leases_expired == 1);
  st = h_get_status(c, sub);
  CHECK_MSG(st.queued == 150 && st.done == 50, "queued %llu", (unsigned long long)st.queued);
  h_cap_clear();
  h_credit(c, "peerB", 1000);
  coord_tick(c);
  h_shards sh2 = {.n = 0};
  h_take_shards(&sh2);
  CHECK(sh2.n >= 1 && sh2.env[0]->shard->attempt == 2 && sh2.env[0]->shard->first_index == 50);
  /* the old lease reports late: fenced, not double counted */
  uint64_t stale1 = c->stats.results_stale;
  h_results(c, "peerB", s1, 50, 150, 1, NULL);
  coord_tick(c);
  CHECK(c->stats.results_stale == stale1 + 1);
  st = h_get_status(c, sub);
  CHECK(st.done == 50);
  /* attempt 2 fails job 7? (not in range) -> all fail: attempt 2 fails, 3 fails -> dead */
  for (size_t i = 0; i < sh2.n; i++)
    h_results(c, "peerB", sh2.env[i]->shard, 0, sh2.env[i]->shard->count, 1, fail_all);
  coord_tick(c);
  st = h_get_status(c, sub);
  CHECK_MSG(st.failed == 150 && st.dead == 0 && st.queued + st.leased == 150, "failed %llu dead %llu queued %llu leased %llu",
            (unsigned long long)st.failed, (unsigned long long)st.dead, (unsigned long long)st.queued, (unsigned long long)st.leased);
  run_worker_to_end(c, "peerB", fail_all, 20);
  st = h_get_status(c, sub);
  CHECK_MSG(st.dead == 150 && st.done == 50 && strcmp(st.state, "finished") == 0,
            "dead %llu done %llu state %s", (unsigned long long)st.dead,
            (unsigned long long)st.done, st.state);
  CHECK(st.failed == 300); /* attempts 2 and 3 */
  /* results page: dead jobs carry their last error */
  uint8_t *seen = calloc(200, 1);
  uint64_t dead = 0;
  int ok = 0;
  page_results(c, sub, seen, 200, &dead, &ok);
  CHECK(dead == 150);
  free(seen);
  /* retry: dead back to queued, then they finish */
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Retry rt = STRIKE__RETRY__INIT;
  rt.submission_id = sub;
  env.request_id = 5;
  env.body_case = STRIKE__ENVELOPE__BODY_RETRY;
  env.retry = &rt;
  h_cap_clear();
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  Strike__Envelope *rep = h_cap_last(STRIKE__ENVELOPE__BODY_REPLY);
  CHECK(rep && rep->reply->status == 0 && rep->reply->affected == 150);
  st = h_get_status(c, sub);
  CHECK(st.dead == 0 && st.queued + st.leased == 150 && strcmp(st.state, "active") == 0);
  run_worker_to_end(c, "peerB", fail_7, 20);
  st = h_get_status(c, sub);
  CHECK_MSG(st.done == 200 && st.dead == 0, "done %llu dead %llu", (unsigned long long)st.done,
            (unsigned long long)st.dead);
  h_shards_free(&sh1);
  h_shards_free(&sh2);
  h_cap_clear();
  coord_destroy(&c);
}

static void test_worker_death_and_cancel(void) {
  coord *c = h_coord(&g_redis, "t3", short_times);
  const char *id0 = h_create(c, "token-death", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  for (int k = 0; k < 4; k++) CHECK(h_chunk(c, sub, (uint64_t)k, (uint64_t)k * 1000, 1000, 30, NULL) == SF_OK);
  h_register(c, "peerC", "worker-c", NULL);
  h_register(c, "peerD", "worker-d", NULL);
  h_cap_clear();
  h_credit(c, "peerC", 512);
  coord_tick(c);
  h_shards shc = {.n = 0};
  h_take_shards(&shc);
  CHECK(shc.n == 2);
  /* worker C goes silent; D keeps heartbeating: C is declared dead, its jobs re-queued */
  for (int i = 0; i < 6; i++) {
    c->now_ms += 1000;
    h_heartbeat(c, "peerD");
    coord_tick(c);
  }
  CHECK(c->stats.workers_lost == 1);
  h_status st = h_get_status(c, sub);
  CHECK(st.leased == 0 && st.queued == 4000);
  h_cap_clear();
  h_credit(c, "peerD", 256);
  coord_tick(c);
  h_shards shd = {.n = 0};
  h_take_shards(&shd);
  CHECK(shd.n == 1 && shd.env[0]->shard->first_index == 0 && shd.env[0]->shard->attempt == 2);
  /* worker D is killed and restarted under the same id: its lease is re-queued at once */
  h_register_ex(c, "peerD-new", "worker-d", NULL, 1);
  coord_tick(c);
  st = h_get_status(c, sub);
  CHECK(st.leased == 0 && st.queued == 4000);
  h_cap_clear();
  h_credit(c, "peerD-new", 512);
  coord_tick(c);
  h_shards_free(&shd);
  h_take_shards(&shd);
  /* re-queued ranges go in FIFO order: C's second range (attempt 2), then D's (attempt 3) */
  CHECK(shd.n == 2 && shd.env[0]->shard->first_index == 256 && shd.env[0]->shard->attempt == 2 &&
        shd.env[1]->shard->first_index == 0 && shd.env[1]->shard->attempt == 3);
  /* a message from the dead worker gets "register again" */
  h_cap_clear();
  h_heartbeat(c, "peerC");
  coord_tick(c);
  Strike__Envelope *e = h_cap_last(STRIKE__ENVELOPE__BODY_ERROR);
  CHECK(e && e->error->status == SF_ERR_UNKNOWN_WORKER);
  /* cancel: no more dispatch, counts cancelled, leased results afterwards are stale */
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Cancel cn = STRIKE__CANCEL__INIT;
  cn.submission_id = sub;
  env.request_id = 3;
  env.body_case = STRIKE__ENVELOPE__BODY_CANCEL;
  env.cancel = &cn;
  h_cap_clear();
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  Strike__Envelope *rep = h_cap_last(STRIKE__ENVELOPE__BODY_REPLY);
  CHECK(rep && rep->reply->status == 0 && rep->reply->affected == 4000);
  CHECK(h_cap_count(STRIKE__ENVELOPE__BODY_CANCEL_SUBMISSION) == 1); /* once per worker */
  uint64_t stale = c->stats.results_stale;
  h_results(c, "peerD-new", shd.env[0]->shard, 0, 256, 1, NULL);
  h_cap_clear();
  h_credit(c, "peerD-new", 5000);
  coord_tick(c);
  CHECK(h_cap_count(STRIKE__ENVELOPE__BODY_SHARD) == 0);
  CHECK(c->stats.results_stale == stale + 1);
  st = h_get_status(c, sub);
  CHECK(st.cancelled == 4000 && st.done == 0 && strcmp(st.state, "cancelled") == 0);
  /* chunks after cancel are refused */
  CHECK(h_chunk(c, sub, 4, 4000, 10, 30, NULL) == SF_ERR_CANCELLED);
  h_shards_free(&shc);
  h_shards_free(&shd);
  h_cap_clear();
  coord_destroy(&c);
}

static void reconcile_times(coord_config *cfg) {
  short_times(cfg);
  cfg->lease_reconcile_ms = 3000;
}

/* A Heartbeat carrying a lease report (ids of the shards the worker holds). */
static void report(coord *c, const char *peer, const uint64_t *ids, size_t n, int complete) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Heartbeat hb = STRIKE__HEARTBEAT__INIT;
  hb.n_held_leases = n;
  hb.held_leases = (uint64_t *)ids;
  hb.held_leases_complete = complete;
  env.body_case = STRIKE__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  h_feed(c, 1, peer, &env);
  coord_tick(c);
}

/* Lease reconciliation: a lease the live worker does not report (a Shard lost in flight) is
 * re-queued with attempt + 1 after the grace period and two reports without it, long before the
 * lease timeout (60 s here); reported leases, and workers that send no report, keep theirs. */
static void test_reconcile(void) {
  coord *c = h_coord(&g_redis, "trec", reconcile_times);
  const char *id0 = h_create(c, "token-reconcile", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 1000, 30, NULL) == SF_OK);
  h_register(c, "peerR", "worker-r", NULL);
  h_register(c, "peerQ", "worker-q", NULL); /* an old worker: never reports */
  h_cap_clear();
  h_credit(c, "peerR", 512);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  CHECK(sh.n == 2);
  if (sh.n != 2) {
    h_shards_free(&sh);
    coord_destroy(&c);
    return;
  }
  h_cap_clear();
  h_credit(c, "peerQ", 100);
  coord_tick(c);
  h_shards shq = {.n = 0};
  h_take_shards(&shq);
  CHECK(shq.n == 1);
  uint64_t a = sh.env[0]->shard->lease_id; /* held by the worker; the second one was "lost" */
  /* within the grace period a missing lease is a Shard still on its way: nothing happens */
  for (int i = 0; i < 3; i++) {
    c->now_ms += 900;
    report(c, "peerR", &a, 1, 1);
    h_heartbeat(c, "peerQ");
    coord_tick(c);
  }
  h_status st = h_get_status(c, sub);
  CHECK(st.leased == 612 && c->stats.leases_unreported == 0);
  /* after it: an incomplete report counts for nothing, the first complete one starts counting */
  c->now_ms += 900;
  report(c, "peerR", NULL, 0, 0);
  st = h_get_status(c, sub);
  CHECK(st.leased == 612);
  report(c, "peerR", &a, 1, 1);
  st = h_get_status(c, sub);
  CHECK(st.leased == 612 && c->stats.leases_unreported == 0);
  /* the second report in a row without it: re-queued with attempt + 1 */
  report(c, "peerR", &a, 1, 1);
  st = h_get_status(c, sub);
  CHECK(st.leased == 356 && st.queued == 644 && c->stats.leases_unreported == 1);
  CHECK(c->stats.workers_lost == 0); /* the worker itself is fine */
  h_cap_clear();
  h_credit(c, "peerR", 256);
  coord_tick(c);
  h_shards again = {.n = 0};
  h_take_shards(&again);
  CHECK(again.n == 1 && again.env[0]->shard->first_index == sh.env[1]->shard->first_index &&
        again.env[0]->shard->attempt == 2);
  /* a late result for the lost lease is stale (fencing) */
  uint64_t stale = c->stats.results_stale;
  h_results(c, "peerR", sh.env[1]->shard, 0, sh.env[1]->shard->count, 1, NULL);
  CHECK(c->stats.results_stale == stale + 1);
  /* the reported lease and the non-reporting worker's lease were never touched */
  CHECK(lease_find(c, a) != NULL && lease_find(c, shq.env[0]->shard->lease_id) != NULL);
  h_shards_free(&sh);
  h_shards_free(&shq);
  h_shards_free(&again);
  h_cap_clear();
  coord_destroy(&c);
}

/* The recent rate of a submission that stops making progress decays to exactly 0 (not to a
 * value such as 9.97e-50 that the CLI would print). */
static void test_rate_decays_to_zero(void) {
  coord *c = h_coord(&g_redis, "trate", short_times);
  const char *id0 = h_create(c, "token-rate", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 1000, 30, NULL) == SF_OK);
  h_register(c, "peerT", "worker-t", NULL);
  h_get_status(c, sub); /* starts the rate window */
  h_cap_clear();
  h_credit(c, "peerT", 256);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  CHECK(sh.n == 1);
  if (sh.n == 1) h_results(c, "peerT", sh.env[0]->shard, 0, 256, 1, NULL);
  c->now_ms += 1000;
  h_status st = h_get_status(c, sub);
  CHECK(st.done == 256 && st.rate > 100.0);
  /* no progress for 200 windows (the worker keeps heartbeating): the average halves each time */
  for (int i = 0; i < 200; i++) {
    c->now_ms += 1000;
    h_heartbeat(c, "peerT");
    h_cap_clear();
    st = h_get_status(c, sub);
  }
  CHECK(st.found && st.done == 256);
  CHECK_MSG(st.rate == 0.0, "rate after 200 idle windows is %g, expected 0", st.rate);
  h_shards_free(&sh);
  h_cap_clear();
  coord_destroy(&c);
}

static void test_priorities(void) {
  coord *c = h_coord(&g_redis, "t4", short_times);
  char lo[32], hi[32], lo2[32];
  const char *x = h_create(c, "token-lo", 0, NULL);
  snprintf(lo, sizeof lo, "%s", x ? x : "");
  x = h_create(c, "token-hi", 10, NULL);
  snprintf(hi, sizeof hi, "%s", x ? x : "");
  x = h_create(c, "token-lo2", 0, NULL);
  snprintf(lo2, sizeof lo2, "%s", x ? x : "");
  for (int k = 0; k < 10; k++) {
    CHECK(h_chunk(c, lo, (uint64_t)k, (uint64_t)k * 1000, 1000, 20, NULL) == SF_OK);
    CHECK(h_chunk(c, hi, (uint64_t)k, (uint64_t)k * 1000, 1000, 20, NULL) == SF_OK);
    CHECK(h_chunk(c, lo2, (uint64_t)k, (uint64_t)k * 1000, 1000, 20, NULL) == SF_OK);
  }
  h_register(c, "peerE", "worker-e", NULL);
  uint64_t got_lo = 0, got_hi = 0, got_lo2 = 0;
  for (int r = 0; r < 30; r++) {
    h_cap_clear();
    h_credit(c, "peerE", 256);
    coord_tick(c);
    h_shards sh = {.n = 0};
    h_take_shards(&sh);
    for (size_t i = 0; i < sh.n; i++) {
      Strike__Shard *s = sh.env[i]->shard;
      if (strcmp(s->submission_id, lo) == 0) got_lo += s->count;
      if (strcmp(s->submission_id, hi) == 0) got_hi += s->count;
      if (strcmp(s->submission_id, lo2) == 0) got_lo2 += s->count;
      h_results(c, "peerE", s, 0, s->count, 1, NULL);
    }
    coord_tick(c);
    h_shards_free(&sh);
  }
  /* weight 2^(10/10) = 2: the high priority gets about twice the low level's share; the low
   * level is not starved; within a priority, first in first out (lo before lo2). */
  CHECK_MSG(got_hi > got_lo && got_lo > 0, "hi %llu lo %llu", (unsigned long long)got_hi,
            (unsigned long long)got_lo);
  double ratio = got_lo ? (double)got_hi / (double)got_lo : 0;
  CHECK_MSG(ratio > 1.6 && ratio < 2.5, "ratio %.2f", ratio);
  CHECK_MSG(got_lo2 == 0, "lo2 got %llu before lo finished", (unsigned long long)got_lo2);
  h_cap_clear();
  coord_destroy(&c);
}

static void test_restart_recovery(void) {
  coord *c = h_coord(&g_redis, "t5", short_times);
  const char *id0 = h_create(c, "token-restart", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  for (int k = 0; k < 3; k++) CHECK(h_chunk(c, sub, (uint64_t)k, (uint64_t)k * 700, 700, 50, NULL) == SF_OK);
  CHECK(h_seal(c, sub, 2100, 3) == SF_OK);
  h_register(c, "peerF", "worker-f", NULL);
  h_cap_clear();
  h_credit(c, "peerF", 700);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  CHECK(sh.n == 3);
  /* shard 0 completes, shard 1 half, shard 2 nothing, then the coordinator "crashes" */
  h_results(c, "peerF", sh.env[0]->shard, 0, sh.env[0]->shard->count, 1, NULL);
  h_results(c, "peerF", sh.env[1]->shard, 0, 100, 0, NULL);
  coord_tick(c);
  coord_destroy(&c);
  h_cap_clear();

  c = h_coord(&g_redis, "t5", short_times);
  CHECK(c && c->redis_up);
  h_status st = h_get_status(c, sub);
  CHECK_MSG(st.total == 2100 && st.done == 356 && st.leased == 344 && st.queued == 1400,
            "total %llu done %llu leased %llu queued %llu", (unsigned long long)st.total,
            (unsigned long long)st.done, (unsigned long long)st.leased,
            (unsigned long long)st.queued);
  CHECK(c->nleases == 2);
  /* the worker hears "unknown", registers again, and reports its old leases: adopted */
  h_cap_clear();
  h_heartbeat(c, "peerF");
  coord_tick(c);
  CHECK(h_cap_count(STRIKE__ENVELOPE__BODY_ERROR) == 1);
  h_register(c, "peerF2", "worker-f", NULL);
  h_results(c, "peerF2", sh.env[1]->shard, 100, 156, 1, NULL);
  h_results(c, "peerF2", sh.env[2]->shard, 0, sh.env[2]->shard->count, 1, NULL);
  /* and a duplicate of shard 0's results: fenced (its lease is closed) */
  uint64_t stale = c->stats.results_stale;
  h_results(c, "peerF2", sh.env[0]->shard, 0, sh.env[0]->shard->count, 1, NULL);
  coord_tick(c);
  CHECK(c->stats.results_stale == stale + 1);
  st = h_get_status(c, sub);
  CHECK(st.done == 700);
  /* the Create token still maps to the same submission after the restart */
  const char *again = h_create(c, "token-restart", 0, NULL);
  CHECK(again && strcmp(again, sub) == 0);
  run_worker_to_end(c, "peerF2", NULL, 100);
  st = h_get_status(c, sub);
  CHECK(st.done == 2100 && strcmp(st.state, "finished") == 0);
  uint8_t *seen = calloc(2100, 1);
  uint64_t dead = 0;
  int ok = 0;
  uint64_t n = page_results(c, sub, seen, 2100, &dead, &ok);
  int once = 1;
  for (int i = 0; i < 2100; i++) once &= seen[i] == 1;
  CHECK_MSG(n == 2100 && once, "results %llu once %d", (unsigned long long)n, once);
  free(seen);
  /* a new submission gets a new id after the restart */
  const char *nid = h_create(c, "token-restart-2", 0, NULL);
  CHECK(nid && strcmp(nid, sub) != 0);
  h_shards_free(&sh);
  h_cap_clear();
  coord_destroy(&c);
}

static void test_redis_memory(void) {
  redisContext *x = h_redis_conn(&g_redis);
  CHECK(x != NULL);
  if (!x) return;
  long long before = h_used_memory(x);
  coord *c = h_coord(&g_redis, "t6", short_times);
  const char *id0 = h_create(c, "token-memory", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  uint64_t jobs = 200000, per = 10000, pbytes = 0;
  for (uint64_t k = 0; k < jobs / per; k++)
    CHECK(h_chunk(c, sub, k, k * per, (uint32_t)per, 60, &pbytes) == SF_OK);
  CHECK(h_seal(c, sub, jobs, jobs / per) == SF_OK);
  long long after = h_used_memory(x);
  double per_job = (double)(after - before) / (double)jobs;
  double overhead = (double)(after - before - (long long)pbytes) / (double)jobs;
  printf("redis_bytes_per_queued_job=%.1f prompt_bytes_per_job=%.1f overhead_bytes_per_job=%.1f\n",
         per_job, (double)pbytes / (double)jobs, overhead);
  CHECK_MSG(after > before && overhead <= 40.0, "overhead %.1f B/job", overhead);
  /* finished jobs cost a few bytes each on top */
  h_register(c, "peerG", "worker-g", NULL);
  run_worker_to_end(c, "peerG", NULL, 1000);
  h_status st = h_get_status(c, sub);
  CHECK(st.done == jobs);
  long long done_mem = h_used_memory(x);
  double fin_per_job = (double)(done_mem - after) / (double)jobs;
  printf("redis_bytes_per_finished_job=%.1f\n", fin_per_job);
  CHECK_MSG(fin_per_job <= 16.0, "finished job costs %.1f B", fin_per_job);
  h_cap_clear();
  coord_destroy(&c);
  redisFree(x);
}

static void no_cache(coord_config *cfg) {
  short_times(cfg);
  cfg->chunk_cache_mb = 0;
}

/* A stored chunk that vanished from Redis: its jobs become dead, the rest of the farm goes on
 * (also exercises reading chunks back from Redis when the cache is empty). */
static void test_unreadable_chunk(void) {
  coord *c = h_coord(&g_redis, "t7", no_cache);
  const char *id0 = h_create(c, "token-unreadable", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 300, 40, NULL) == SF_OK);
  CHECK(h_chunk(c, sub, 1, 300, 300, 40, NULL) == SF_OK);
  CHECK(h_seal(c, sub, 600, 2) == SF_OK);
  CHECK(c->cache_bytes == 0);
  redisContext *x = h_redis_conn(&g_redis);
  char key[128];
  snprintf(key, sizeof key, "t7:{s:%s}:c:0", sub + 1); /* sN -> {s:N} */
  redisReply *r = x ? redisCommand(x, "DEL %s", key) : NULL;
  CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
  if (r) freeReplyObject(r);
  if (x) redisFree(x);
  h_register(c, "peerH", "worker-h", NULL);
  run_worker_to_end(c, "peerH", NULL, 50);
  h_status st = h_get_status(c, sub);
  CHECK_MSG(st.dead == 300 && st.done == 300 && strcmp(st.state, "finished") == 0,
            "dead %llu done %llu state %s", (unsigned long long)st.dead,
            (unsigned long long)st.done, st.state);
  h_cap_clear();
  coord_destroy(&c);
}

/* Model routing: a worker that lists models only gets those; among runnable submissions of one
 * priority, a worker gets the one whose model it has loaded first. */
static void test_affinity(void) {
  coord *c = h_coord(&g_redis, "t9", short_times);
  char sa[32], sb[32];
  const char *x = h_create(c, "token-model-a", 0, "model-a");
  snprintf(sa, sizeof sa, "%s", x ? x : "");
  x = h_create(c, "token-model-b", 0, "model-b");
  snprintf(sb, sizeof sb, "%s", x ? x : "");
  CHECK(h_chunk(c, sa, 0, 0, 500, 20, NULL) == SF_OK);
  CHECK(h_chunk(c, sb, 0, 0, 500, 20, NULL) == SF_OK);
  h_register(c, "peerB1", "worker-b-only", "model-b"); /* can run and has loaded model-b only */
  h_cap_clear();
  h_credit(c, "peerB1", 2000);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < sh.n; i++) {
    if (strcmp(sh.env[i]->shard->submission_id, sa) == 0) a += sh.env[i]->shard->count;
    if (strcmp(sh.env[i]->shard->submission_id, sb) == 0) b += sh.env[i]->shard->count;
    CHECK(strcmp(sh.env[i]->shard->model, "model-b") == 0);
  }
  CHECK_MSG(a == 0 && b == 500, "a %llu b %llu", (unsigned long long)a, (unsigned long long)b);
  h_shards_free(&sh);
  h_status st = h_get_status(c, sa);
  CHECK(st.queued == 500);
  /* a worker for any model takes model-a's jobs */
  h_register(c, "peerAny", "worker-any", NULL);
  h_cap_clear();
  h_credit(c, "peerAny", 2000);
  coord_tick(c);
  h_take_shards(&sh);
  a = 0;
  for (size_t i = 0; i < sh.n; i++)
    if (strcmp(sh.env[i]->shard->submission_id, sa) == 0) a += sh.env[i]->shard->count;
  CHECK(a == 500);
  h_shards_free(&sh);
  h_cap_clear();
  coord_destroy(&c);
}

static long long redis_int(redisContext *x, const char *cmd, const char *key) {
  redisReply *r = redisCommand(x, "%s %s", cmd, key);
  long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  if (r) freeReplyObject(r);
  return v;
}

/* One coordinator per prefix: a second one waits for the lock; a coordinator whose lock was taken
 * writes nothing more; the lock passes on when its holder stops. */
static void test_lock(void) {
  redisContext *x = h_redis_conn(&g_redis);
  CHECK(x != NULL);
  if (!x) return;
  coord *c1 = h_coord(&g_redis, "t8", short_times);
  coord *c2 = h_coord(&g_redis, "t8", short_times);
  CHECK(c1 && c1->redis_up);
  CHECK(c2 && !c2->redis_up);
  CHECK(h_create(c1, "token-lock-1", 0, NULL) != NULL);
  CHECK(redis_int(x, "HLEN", "t8:tokens") == 1);
  /* someone else takes the lock: c1's next transaction is discarded */
  redisReply *r = redisCommand(x, "SET t8:lock intruder");
  if (r) freeReplyObject(r);
  CHECK(h_create(c1, "token-lock-2", 0, NULL) == NULL);
  Strike__Envelope *e = h_cap_last(STRIKE__ENVELOPE__BODY_ERROR);
  CHECK(e && e->error->status == SF_ERR_REDIS);
  CHECK(!c1->redis_up);
  CHECK(redis_int(x, "HLEN", "t8:tokens") == 1);
  /* the intruder leaves; c2 gets the lock first, c1 keeps waiting */
  r = redisCommand(x, "DEL t8:lock");
  if (r) freeReplyObject(r);
  c2->now_ms += 10000;
  coord_tick(c2);
  CHECK(c2->redis_up);
  c1->now_ms += 10000;
  coord_tick(c1);
  CHECK(!c1->redis_up);
  CHECK(h_create(c2, "token-lock-3", 0, NULL) != NULL);
  CHECK(redis_int(x, "HLEN", "t8:tokens") == 2);
  coord_destroy(&c2); /* releases the lock */
  c1->now_ms += 10000;
  coord_tick(c1);
  CHECK(c1->redis_up);
  h_cap_clear();
  coord_destroy(&c1);
  redisFree(x);
}

/* Keys of prefix P with submission sub's hash tag (KEYS is fine on a test server). */
static size_t sub_keys(redisContext *x, const char *prefix, const char *sub) {
  redisReply *r = redisCommand(x, "KEYS %s:{s:%s}:*", prefix, sub + 1);
  size_t n = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 9999;
  if (r) freeReplyObject(r);
  return n;
}

/* A DeleteRequest; returns the Reply's or Error's status (-1: no answer), *affected the Reply's
 * count, msg the Error's message. */
static int del(coord *c, const char *sub, int force, uint64_t *affected, char *msg, size_t cap) {
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__DeleteRequest d = STRIKE__DELETE_REQUEST__INIT;
  d.submission_id = (char *)sub;
  d.force = force;
  env.request_id = 9;
  env.body_case = STRIKE__ENVELOPE__BODY_DELETE_REQUEST;
  env.delete_request = &d;
  h_cap_clear();
  h_feed(c, 0, "client", &env);
  coord_tick(c);
  Strike__Envelope *rep = h_cap_last(STRIKE__ENVELOPE__BODY_REPLY);
  Strike__Envelope *er = h_cap_last(STRIKE__ENVELOPE__BODY_ERROR);
  if (msg && cap) snprintf(msg, cap, "%s", er ? er->error->message : "");
  if (affected) *affected = rep ? rep->reply->affected : 0;
  return rep ? (int)rep->reply->status : er ? (int)er->error->status : -1;
}

/* Delete: refused while jobs are leased; with force cancelled and every key of the submission
 * gone (its token and P:subs entry too); late results and lease reports of its leases are stale
 * and write nothing; a restarted coordinator does not know it; the token makes a new submission. */
static void test_delete(void) {
  coord *c = h_coord(&g_redis, "t9", short_times);
  redisContext *x = h_redis_conn(&g_redis);
  CHECK(c && x);
  if (!c || !x) {
    if (x) redisFree(x);
    coord_destroy(&c);
    return;
  }
  const char *id0 = h_create(c, "token-delete", 0, NULL);
  char sub[32], msg[512];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  for (int k = 0; k < 2; k++) CHECK(h_chunk(c, sub, (uint64_t)k, (uint64_t)k * 500, 500, 40, NULL) == SF_OK);
  CHECK(h_seal(c, sub, 1000, 2) == SF_OK);
  h_register(c, "peerX", "worker-x", NULL);
  h_cap_clear();
  h_credit(c, "peerX", 256);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  CHECK(sh.n >= 1);
  size_t before = sub_keys(x, "t9", sub);
  CHECK_MSG(before >= 4, "%zu keys of %s before delete", before, sub); /* meta, 2 chunks, leases */
  uint64_t n = 0;
  CHECK(del(c, sub, 0, &n, msg, sizeof msg) == SF_ERR_CONFLICT);
  CHECK_MSG(strstr(msg, "1000 jobs queued or leased: cancel it first") != NULL, "refusal: %s", msg);
  CHECK(sub_keys(x, "t9", sub) == before);
  CHECK(h_get_status(c, sub).found);
  CHECK(del(c, sub, 1, &n, NULL, 0) == SF_OK);
  CHECK(n == 1000);
  CHECK(h_cap_count(STRIKE__ENVELOPE__BODY_CANCEL_SUBMISSION) == 1);
  CHECK_MSG(sub_keys(x, "t9", sub) == 0, "%zu keys of %s left", sub_keys(x, "t9", sub), sub);
  redisReply *r = redisCommand(x, "HGET t9:tokens token-delete");
  CHECK(r && r->type == REDIS_REPLY_NIL);
  if (r) freeReplyObject(r);
  r = redisCommand(x, "ZSCORE t9:subs %s", sub + 1);
  CHECK(r && r->type == REDIS_REPLY_NIL);
  if (r) freeReplyObject(r);
  CHECK(!h_get_status(c, sub).found);
  CHECK(del(c, sub, 1, NULL, NULL, 0) == SF_ERR_NOT_FOUND);
  /* the worker still returns results and reports the lease: stale, nothing written */
  uint64_t stale = c->stats.results_stale;
  if (sh.n) {
    h_results(c, "peerX", sh.env[0]->shard, 0, sh.env[0]->shard->count, 1, NULL);
    uint64_t held = sh.env[0]->shard->lease_id;
    report(c, "peerX", &held, 1, 1);
  }
  h_credit(c, "peerX", 256);
  coord_tick(c);
  CHECK(c->stats.results_stale == stale + (sh.n ? 1 : 0));
  CHECK(sub_keys(x, "t9", sub) == 0);
  /* restart: still unknown; the token makes a new submission */
  coord_destroy(&c);
  h_cap_clear();
  c = h_coord(&g_redis, "t9", short_times);
  CHECK(c && c->redis_up);
  if (c) {
    CHECK(!h_get_status(c, sub).found);
    const char *id1 = h_create(c, "token-delete", 0, NULL);
    CHECK(id1 && strcmp(id1, sub) != 0);
  }
  CHECK(sub_keys(x, "t9", sub) == 0);
  h_shards_free(&sh);
  h_cap_clear();
  redisFree(x);
  coord_destroy(&c);
}

int main(void) {
  sf_log_set_level(SF_LOG_WARN);
  if (access(STRIKE_REDIS_SERVER, X_OK) != 0) {
    printf("redis-server not found: skipped\n");
    return 77;
  }
  if (h_redis_start(&g_redis, NULL) != 0) {
    fprintf(stderr, "cannot start redis-server\n");
    return 1;
  }
  test_basic_and_idempotent_submit();
  test_fencing_expiry_dead_retry();
  test_worker_death_and_cancel();
  test_priorities();
  test_reconcile();
  test_rate_decays_to_zero();
  test_restart_recovery();
  test_redis_memory();
  test_unreadable_chunk();
  test_lock();
  test_affinity();
  test_delete();
  h_cap_clear();
  h_redis_stop(&g_redis, SIGTERM);
  h_cleanup_dir(&g_redis);
  return test_report("farm_coord_store");
}
