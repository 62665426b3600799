/* test_coord_proto.c - bad input on the wire: a real coordinator bound to ipc:// endpoints and raw
 * ZeroMQ DEALER peers sending garbage, truncated messages, wrong versions, empty bodies, extra
 * frames, oversized frames and messages of the wrong direction. Every one must be counted and
 * dropped (or answered with an error) and the coordinator must keep serving good requests. Also
 * checks the framing helpers directly (sf_msg_decode). */
#include <zmq.h>

#include "coord_harness.h"

static h_redis g_redis;

static void small_frames(coord_config *cfg) { cfg->max_frame_bytes = 65536; }

/* Poll the coordinator until the dealer has a reply (or give up after many rounds). */
static Strike__Envelope *await_reply(coord *c, void *dealer) {
  for (int i = 0; i < 400; i++) {
    coord_poll_once(c, 5);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, dealer, ZMQ_DONTWAIT) >= 0) {
      Strike__Envelope *e = strike__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
      zmq_msg_close(&m);
      return e;
    }
    zmq_msg_close(&m);
  }
  return NULL;
}

static void pump(coord *c, int n) {
  for (int i = 0; i < n; i++) coord_poll_once(c, 5);
}

static void send_env(void *sock, Strike__Envelope *env) {
  size_t len;
  uint8_t *b = sf_msg_pack(env, &len);
  zmq_send(sock, b, len, 0);
  free(b);
}

static void test_decode_unit(void) {
  sf_frame_stats st;
  memset(&st, 0, sizeof st);
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Credit cr = STRIKE__CREDIT__INIT;
  cr.jobs = 5;
  env.body_case = STRIKE__ENVELOPE__BODY_CREDIT;
  env.credit = &cr;
  size_t len;
  uint8_t *b = sf_msg_pack(&env, &len);
  Strike__Envelope *out = NULL;
  CHECK(sf_msg_decode(b, len, 1024, &st, "t", &out) == SF_OK && out && out->credit->jobs == 5);
  sf_msg_free(&out);
  CHECK(out == NULL);
  CHECK(sf_msg_decode(b, len, len - 1, &st, "t", &out) == SF_ERR_FRAME_TOO_LARGE && !out);
  CHECK(st.oversized == 1);
  /* every truncation of a valid message is either rejected or decodes without crashing */
  for (size_t l = 0; l < len; l++) {
    sf_status s = sf_msg_decode(b, l, 1024, &st, "t", &out);
    CHECK(s != SF_OK || out != NULL);
    sf_msg_free(&out);
  }
  uint8_t junk[64];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
  CHECK(sf_msg_decode(junk, sizeof junk, 1024, &st, "t", &out) != SF_OK && !out);
  env.version = 99;
  free(b);
  /* pack sets the version: build a wrong-version frame by hand */
  Strike__Envelope bad = STRIKE__ENVELOPE__INIT;
  bad.version = 99;
  bad.body_case = STRIKE__ENVELOPE__BODY_CREDIT;
  bad.credit = &cr;
  uint8_t vb[64];
  size_t vl = strike__envelope__pack(&bad, vb);
  uint64_t vm = st.version_mismatch;
  CHECK(sf_msg_decode(vb, vl, 1024, &st, "t", &out) == SF_ERR_VERSION && !out);
  CHECK(st.version_mismatch == vm + 1);
  /* an envelope without a body */
  Strike__Envelope empty = STRIKE__ENVELOPE__INIT;
  uint8_t *eb = sf_msg_pack(&empty, &len);
  uint64_t mal = st.malformed;
  CHECK(sf_msg_decode(eb, len, 1024, &st, "t", &out) == SF_ERR_PROTOCOL && !out);
  CHECK(st.malformed == mal + 1);
  free(eb);
}

static void test_wire(void) {
  char wep[400], cep[400];
  snprintf(wep, sizeof wep, "ipc://%s/w.ipc", g_redis.dir);
  snprintf(cep, sizeof cep, "ipc://%s/c.ipc", g_redis.dir);
  coord *c = h_coord(&g_redis, "p1", small_frames);
  CHECK(c != NULL);
  if (!c) return;
  c->deliver = NULL; /* restore real delivery below */
  coord_destroy(&c);
  coord_config cfg;
  memset(&cfg, 0, sizeof cfg);
  char err[256];
  sf_config_defaults(coord_config_table, coord_config_table_len, &cfg, err, sizeof err);
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "redis", g_redis.sock, err, sizeof err);
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "redis-prefix", "p1", err, sizeof err);
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "worker-endpoint", wep, err, sizeof err);
  sf_config_set(coord_config_table, coord_config_table_len, &cfg, "client-endpoint", cep, err, sizeof err);
  cfg.max_frame_bytes = 65536;
  c = coord_new(&cfg);
  CHECK(c && coord_bind(c) == SF_OK);
  if (!c || !c->csock) {
    coord_destroy(&c);
    return;
  }
  void *ctx = zmq_ctx_new();
  void *cl = zmq_socket(ctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt(cl, ZMQ_LINGER, &linger, sizeof linger);
  CHECK(zmq_connect(cl, cep) == 0);

  /* garbage */
  const char junk[] = "\xff\xff\xff\xff this is not a protobuf message \x01\x02";
  zmq_send(cl, junk, sizeof junk, 0);
  /* a truncated Create */
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Create cr = STRIKE__CREATE__INIT;
  Strike__Template t = STRIKE__TEMPLATE__INIT;
  t.model = "m";
  t.steps = 4;
  t.width = t.height = 512;
  cr.client_token = "tok-proto";
  cr.template_ = &t;
  env.body_case = STRIKE__ENVELOPE__BODY_CREATE;
  env.create = &cr;
  size_t len;
  uint8_t *b = sf_msg_pack(&env, &len);
  zmq_send(cl, b, len - 3, 0);
  free(b);
  /* two body frames in one message */
  zmq_send(cl, "ab", 2, ZMQ_SNDMORE);
  zmq_send(cl, "cd", 2, 0);
  /* an empty envelope */
  Strike__Envelope empty = STRIKE__ENVELOPE__INIT;
  send_env(cl, &empty);
  pump(c, 20);
  uint64_t dropped = c->cstats.malformed + c->cstats.version_mismatch;
  CHECK_MSG(dropped >= 3, "dropped %llu", (unsigned long long)dropped);
  /* a worker-side message on the client socket gets an error reply */
  Strike__Envelope w = STRIKE__ENVELOPE__INIT;
  Strike__Credit credit = STRIKE__CREDIT__INIT;
  w.request_id = 31;
  w.body_case = STRIKE__ENVELOPE__BODY_CREDIT;
  w.credit = &credit;
  send_env(cl, &w);
  Strike__Envelope *rep = await_reply(c, cl);
  CHECK(rep && rep->body_case == STRIKE__ENVELOPE__BODY_ERROR && rep->request_id == 31 &&
        rep->error->status == SF_ERR_PROTOCOL);
  if (rep) strike__envelope__free_unpacked(rep, NULL);
  /* a bad template gets an error naming the field: without a models config the coordinator
   * refuses only steps no engine runs (over 1000; a count such as 3 is the worker's to check) */
  t.steps = 1001;
  env.request_id = 32;
  send_env(cl, &env);
  rep = await_reply(c, cl);
  CHECK(rep && rep->body_case == STRIKE__ENVELOPE__BODY_ERROR && rep->error->status == SF_ERR_INVALID_STEPS &&
        strstr(rep->error->message, "steps 1001 not in 1..1000") != NULL);
  if (rep) strike__envelope__free_unpacked(rep, NULL);
  t.steps = 4;
  t.width = 500;
  env.request_id = 33;
  send_env(cl, &env);
  rep = await_reply(c, cl);
  CHECK(rep && rep->body_case == STRIKE__ENVELOPE__BODY_ERROR && rep->error->status == SF_ERR_INVALID_SIZE);
  if (rep) strike__envelope__free_unpacked(rep, NULL);
  t.width = 512;
  /* a good Create still works */
  env.request_id = 34;
  send_env(cl, &env);
  rep = await_reply(c, cl);
  CHECK(rep && rep->body_case == STRIKE__ENVELOPE__BODY_CREATED && rep->request_id == 34);
  char sub[32] = "s0";
  if (rep) {
    snprintf(sub, sizeof sub, "%s", rep->created->submission_id);
    strike__envelope__free_unpacked(rep, NULL);
  }
  /* chunks with bad prompts: invalid UTF-8, empty, too long, lengths not matching */
  struct { const char *data; size_t len; uint32_t plen; uint32_t want; } cases[] = {
      {"\xc3\x28", 2, 2, SF_ERR_INVALID_PROMPT},
      {"", 0, 0, SF_ERR_INVALID_PROMPT},
      {"abc", 3, 5, SF_ERR_PROTOCOL},
      {"ab\0c", 4, 4, SF_ERR_INVALID_PROMPT},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    Strike__Envelope ce = STRIKE__ENVELOPE__INIT;
    Strike__Chunk ch = STRIKE__CHUNK__INIT;
    uint32_t pl = cases[k].plen;
    ch.submission_id = sub;
    ch.chunk_index = 0;
    ch.first_index = 0;
    ch.count = 1;
    ch.prompts.data = (uint8_t *)cases[k].data;
    ch.prompts.len = cases[k].len;
    ch.n_prompt_len = 1;
    ch.prompt_len = &pl;
    ce.request_id = 40 + k;
    ce.body_case = STRIKE__ENVELOPE__BODY_CHUNK;
    ce.chunk = &ch;
    send_env(cl, &ce);
    rep = await_reply(c, cl);
    CHECK_MSG(rep && rep->body_case == STRIKE__ENVELOPE__BODY_CHUNK_ACK &&
                  rep->chunk_ack->status == cases[k].want,
              "case %zu: status %u", k, rep && rep->chunk_ack ? rep->chunk_ack->status : 999);
    if (rep) strike__envelope__free_unpacked(rep, NULL);
  }
  char *longp = malloc(SF_MAX_PROMPT_BYTES + 1);
  memset(longp, 'x', SF_MAX_PROMPT_BYTES + 1);
  {
    Strike__Envelope ce = STRIKE__ENVELOPE__INIT;
    Strike__Chunk ch = STRIKE__CHUNK__INIT;
    uint32_t pl = SF_MAX_PROMPT_BYTES + 1;
    ch.submission_id = sub;
    ch.count = 1;
    ch.prompts.data = (uint8_t *)longp;
    ch.prompts.len = pl;
    ch.n_prompt_len = 1;
    ch.prompt_len = &pl;
    ce.request_id = 50;
    ce.body_case = STRIKE__ENVELOPE__BODY_CHUNK;
    ce.chunk = &ch;
    send_env(cl, &ce);
    rep = await_reply(c, cl);
    CHECK(rep && rep->chunk_ack && rep->chunk_ack->status == SF_ERR_INVALID_PROMPT &&
          strstr(rep->chunk_ack->message, "too long") != NULL);
    if (rep) strike__envelope__free_unpacked(rep, NULL);
  }
  free(longp);
  /* a frame over the limit (64 KiB) but under the transport limit (twice that) reaches the
   * coordinator: counted as oversized and dropped; the connection stays */
  uint64_t over0 = c->cstats.oversized;
  char *over = calloc(100000, 1);
  zmq_send(cl, over, 100000, 0);
  free(over);
  for (int i = 0; i < 200 && c->cstats.oversized == over0; i++) pump(c, 5);
  CHECK(c->cstats.oversized == over0 + 1);
  /* an oversized frame over the transport limit: ZeroMQ drops it with the connection; the
   * coordinator keeps serving */
  size_t big = 200000;
  char *huge = calloc(big, 1);
  zmq_send(cl, huge, big, 0);
  free(huge);
  pump(c, 20);
  void *cl2 = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(cl2, ZMQ_LINGER, &linger, sizeof linger);
  CHECK(zmq_connect(cl2, cep) == 0);
  /* a worker socket peer sending results before registering is told to register */
  void *wk = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(wk, ZMQ_LINGER, &linger, sizeof linger);
  CHECK(zmq_connect(wk, wep) == 0);
  Strike__Envelope re = STRIKE__ENVELOPE__INIT;
  Strike__Results rs = STRIKE__RESULTS__INIT;
  rs.lease_id = 12345;
  rs.attempt = 1;
  rs.submission_id = sub;
  re.body_case = STRIKE__ENVELOPE__BODY_RESULTS;
  re.results = &rs;
  send_env(wk, &re);
  rep = await_reply(c, wk);
  CHECK(rep && rep->body_case == STRIKE__ENVELOPE__BODY_ERROR &&
        rep->error->status == SF_ERR_UNKNOWN_WORKER);
  if (rep) strike__envelope__free_unpacked(rep, NULL);
  zmq_send(wk, junk, sizeof junk, 0);
  pump(c, 10);
  CHECK(c->wstats.malformed >= 1);
  /* the metrics show the dropped frames */
  Strike__Envelope wr = STRIKE__ENVELOPE__INIT;
  Strike__WorkersRequest wq = STRIKE__WORKERS_REQUEST__INIT;
  wr.request_id = 60;
  wr.body_case = STRIKE__ENVELOPE__BODY_WORKERS_REQUEST;
  wr.workers_request = &wq;
  send_env(cl2, &wr);
  rep = await_reply(c, cl2);
  CHECK(rep && rep->body_case == STRIKE__ENVELOPE__BODY_WORKERS_REPLY &&
        rep->workers_reply->frames_malformed >= 4 && rep->workers_reply->redis_up &&
        rep->workers_reply->results_stale >= 1);
  if (rep) strike__envelope__free_unpacked(rep, NULL);
  zmq_close(cl);
  zmq_close(cl2);
  zmq_close(wk);
  zmq_ctx_term(ctx);
  coord_destroy(&c);
}

/* Redis goes away and comes back (AOF, fsync always): requests fail with SF_ERR_REDIS meanwhile,
 * nothing acknowledged is lost, and the coordinator reloads its state and carries on. */
static void test_redis_restart(void) {
  h_redis r2;
  memset(&r2, 0, sizeof r2);
  const char *aof[] = {"--appendonly", "yes", "--appendfsync", "always", NULL};
  if (h_redis_start(&r2, aof) != 0) {
    CHECK(!"second redis-server");
    return;
  }
  coord *c = h_coord(&r2, "rr", NULL);
  const char *id0 = h_create(c, "tok-redis-restart", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 500, 30, NULL) == SF_OK);
  h_register(c, "wpeer", "worker-r", NULL);
  h_cap_clear();
  h_credit(c, "wpeer", 500);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  CHECK(sh.n == 1);
  if (sh.n) h_results(c, "wpeer", sh.env[0]->shard, 0, 100, 0, NULL);
  coord_tick(c);
  h_redis_stop(&r2, SIGKILL);
  /* while Redis is down: a chunk is refused (not acknowledged), the coordinator keeps running */
  uint32_t st = h_chunk(c, sub, 1, 500, 100, 30, NULL);
  CHECK_MSG(st == SF_ERR_REDIS, "chunk while Redis is down: %u", st);
  CHECK(!c->redis_up);
  CHECK(h_chunk(c, sub, 1, 500, 100, 30, NULL) == SF_ERR_REDIS);
  CHECK(h_start_again(&r2, aof) == 0);
  for (int i = 0; i < 50 && !c->redis_up; i++) {
    c->now_ms += 6000;
    h_heartbeat(c, "wpeer");
    coord_tick(c);
  }
  CHECK(c->redis_up);
  h_status s = h_get_status(c, sub);
  CHECK_MSG(s.total == 500 && s.done == 100, "total %llu done %llu", (unsigned long long)s.total,
            (unsigned long long)s.done);
  CHECK(h_chunk(c, sub, 1, 500, 100, 30, NULL) == SF_OK);
  /* the lease survived: the worker finishes it */
  if (sh.n) h_results(c, "wpeer", sh.env[0]->shard, 100, 400, 1, NULL);
  coord_tick(c);
  s = h_get_status(c, sub);
  CHECK_MSG(s.done == 500 && s.total == 600, "done %llu total %llu", (unsigned long long)s.done,
            (unsigned long long)s.total);
  h_shards_free(&sh);
  h_cap_clear();
  coord_destroy(&c);
  h_redis_stop(&r2, SIGTERM);
  h_cleanup_dir(&r2);
}

/* Deterministic mutation fuzzing of whole handler paths: valid messages of each kind with random
 * bytes flipped, truncated or extended, fed through the real decoder into the coordinator (ASan
 * and UBSan watch). Afterwards the coordinator must still answer and finish a clean submission. */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)g_rng;
}

static void fuzz_one(coord *c, int worker_side, const char *peer, Strike__Envelope *env) {
  size_t len;
  uint8_t *b = sf_msg_pack(env, &len);
  for (int it = 0; it < 1500; it++) {
    size_t l = len;
    uint8_t *m = malloc(len + 16);
    memcpy(m, b, len);
    int flips = 1 + (int)(rnd() % 4);
    for (int f = 0; f < flips; f++) m[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
    if (rnd() % 4 == 0) l = rnd() % len;
    if (rnd() % 8 == 0) {
      for (int k = 0; k < 16; k++) m[len + k] = (uint8_t)rnd();
      l = len + 16;
    }
    Strike__Envelope *in = NULL;
    sf_frame_stats *st = worker_side ? &c->wstats : &c->cstats;
    if (sf_msg_decode(m, l, c->cfg.max_frame_bytes, st, peer, &in) == SF_OK) {
      sf_peer p = h_peer(peer);
      if (worker_side) coord_on_worker(c, &p, in);
      else coord_on_client(c, &p, in);
      sf_msg_free(&in);
    }
    free(m);
    if (it % 16 == 0) coord_tick(c);
  }
  coord_tick(c);
  free(b);
}

static void test_fuzz(void) {
  coord *c = h_coord(&g_redis, "fz", NULL);
  CHECK(c && c->redis_up);
  if (!c) return;
  const char *id0 = h_create(c, "tok-fuzz", 0, NULL);
  char sub[32];
  snprintf(sub, sizeof sub, "%s", id0 ? id0 : "s0");
  CHECK(h_chunk(c, sub, 0, 0, 64, 20, NULL) == SF_OK);
  h_register(c, "fw", "fuzz-worker", NULL);
  h_cap_clear();
  h_credit(c, "fw", 64);
  coord_tick(c);
  h_shards sh = {.n = 0};
  h_take_shards(&sh);
  CHECK(sh.n == 1);
  /* worker side: Register, Credit, Results (with errors), Heartbeat, Goodbye */
  Strike__Envelope env = STRIKE__ENVELOPE__INIT;
  Strike__Register r = STRIKE__REGISTER__INIT;
  char *models[2] = {"m1", "m2"};
  r.worker_id = "fuzz-worker";
  r.host = "h";
  r.engine = "null";
  r.n_models = 2;
  r.models = models;
  env.body_case = STRIKE__ENVELOPE__BODY_REGISTER_WORKER;
  env.register_worker = &r;
  fuzz_one(c, 1, "fw", &env);
  h_register(c, "fw", "fuzz-worker", NULL);
  if (sh.n) {
    Strike__Envelope re = STRIKE__ENVELOPE__INIT;
    Strike__Results rs = STRIKE__RESULTS__INIT;
    uint32_t off[3] = {0, 1, 2};
    uint32_t ms[3] = {1, 2, 3};
    Strike__JobError e1 = STRIKE__JOB_ERROR__INIT;
    e1.offset = 5;
    e1.status = SF_ERR_ENGINE;
    e1.message = "boom";
    Strike__JobError *ep[1] = {&e1};
    rs.lease_id = sh.env[0]->shard->lease_id;
    rs.attempt = 1;
    rs.submission_id = sub;
    rs.n_offset = 3;
    rs.offset = off;
    rs.n_render_ms = 3;
    rs.render_ms = ms;
    rs.n_errors = 1;
    rs.errors = ep;
    re.body_case = STRIKE__ENVELOPE__BODY_RESULTS;
    re.results = &rs;
    fuzz_one(c, 1, "fw", &re);
  }
  /* client side: Create, Chunk (with overrides and seeds), Seal, Status, Watch, Results, Cancel */
  Strike__Envelope ce = STRIKE__ENVELOPE__INIT;
  Strike__Chunk ch = STRIKE__CHUNK__INIT;
  uint32_t lens[3] = {3, 4, 5};
  uint64_t seeds[3] = {1, 2, 3};
  protobuf_c_boolean has[3] = {1, 0, 1};
  uint32_t steps[3] = {0, 2, 8};
  uint32_t w[3] = {64, 0, 128};
  ch.submission_id = sub;
  ch.chunk_index = 1;
  ch.first_index = 64;
  ch.count = 3;
  ch.prompts.data = (uint8_t *)"abcdefghijkl";
  ch.prompts.len = 12;
  ch.n_prompt_len = 3;
  ch.prompt_len = lens;
  ch.n_seeds = 3;
  ch.seeds = seeds;
  ch.n_has_seed = 3;
  ch.has_seed = has;
  ch.n_steps = 3;
  ch.steps = steps;
  ch.n_width = 3;
  ch.width = w;
  ce.request_id = 5;
  ce.body_case = STRIKE__ENVELOPE__BODY_CHUNK;
  ce.chunk = &ch;
  fuzz_one(c, 0, "fc", &ce);
  Strike__Envelope cr = STRIKE__ENVELOPE__INIT;
  Strike__Create cc = STRIKE__CREATE__INIT;
  Strike__Template t = STRIKE__TEMPLATE__INIT;
  char *tags[1] = {"tag"};
  t.model = "m";
  t.steps = 2;
  t.width = 256;
  t.height = 256;
  t.output_prefix = "p";
  t.n_tags = 1;
  t.tags = tags;
  cc.client_token = "fuzz-token";
  cc.template_ = &t;
  cr.body_case = STRIKE__ENVELOPE__BODY_CREATE;
  cr.create = &cc;
  fuzz_one(c, 0, "fc", &cr);
  Strike__Envelope rq = STRIKE__ENVELOPE__INIT;
  Strike__ResultsRequest rr = STRIKE__RESULTS_REQUEST__INIT;
  rr.submission_id = sub;
  rr.max = 10;
  rq.body_case = STRIKE__ENVELOPE__BODY_RESULTS_REQUEST;
  rq.results_request = &rr;
  fuzz_one(c, 0, "fc", &rq);
  Strike__Envelope wa = STRIKE__ENVELOPE__INIT;
  Strike__Watch wt = STRIKE__WATCH__INIT;
  wt.submission_id = sub;
  wa.body_case = STRIKE__ENVELOPE__BODY_WATCH;
  wa.watch = &wt;
  fuzz_one(c, 0, "fc", &wa);
  /* still healthy: a fresh submission runs to the end. First the fuzzed worker leaves (mutated
   * messages may have given it credit, and this test would not answer its shards). */
  Strike__Envelope gb = STRIKE__ENVELOPE__INIT;
  Strike__Goodbye bye = STRIKE__GOODBYE__INIT;
  gb.body_case = STRIKE__ENVELOPE__BODY_GOODBYE;
  gb.goodbye = &bye;
  h_feed(c, 1, "fw", &gb);
  coord_tick(c);
  h_cap_clear();
  const char *id2 = h_create(c, "tok-after-fuzz", 0, NULL);
  char sub2[32];
  snprintf(sub2, sizeof sub2, "%s", id2 ? id2 : "s0");
  CHECK(id2 != NULL);
  CHECK(h_chunk(c, sub2, 0, 0, 100, 20, NULL) == SF_OK);
  CHECK(h_seal(c, sub2, 100, 1) == SF_OK);
  h_register(c, "fw2", "fuzz-worker-2", NULL);
  for (int round = 0; round < 20; round++) {
    h_shards s2 = {.n = 0};
    h_take_shards(&s2);
    h_cap_clear();
    h_credit(c, "fw2", 1000);
    coord_tick(c);
    h_take_shards(&s2);
    for (size_t i = 0; i < s2.n; i++)
      h_results(c, "fw2", s2.env[i]->shard, 0, s2.env[i]->shard->count, 1, NULL);
    coord_tick(c);
    h_shards_free(&s2);
  }
  h_status st = h_get_status(c, sub2);
  CHECK_MSG(st.done == 100 && strcmp(st.state, "finished") == 0, "done %llu state %s",
            (unsigned long long)st.done, st.state);
  h_shards_free(&sh);
  h_cap_clear();
  coord_destroy(&c);
}

int main(void) {
  sf_log_set_level(SF_LOG_ERROR);
  signal(SIGPIPE, SIG_IGN); /* as strike-coordinator does: a dead Redis must not kill us */
  if (access(STRIKE_REDIS_SERVER, X_OK) != 0) return 77;
  test_decode_unit();
  if (h_redis_start(&g_redis, NULL) != 0) {
    fprintf(stderr, "cannot start redis-server\n");
    return 1;
  }
  test_wire();
  test_redis_restart();
  test_fuzz();
  h_cap_clear();
  h_redis_stop(&g_redis, SIGTERM);
  h_cleanup_dir(&g_redis);
  return test_report("farm_coord_proto");
}
