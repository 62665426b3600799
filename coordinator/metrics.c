/* metrics.c - the coordinator's metrics pages, rendered from the in-memory state on each request:
 * GET /metrics (Prometheus text exposition format 0.0.4), GET /status.json (the same numbers as
 * JSON) and GET / (a self-contained dashboard page that polls /status.json). Also the few numbers
 * only this file keeps: the Redis commit latency histogram, transaction sizes and the start time.
 * Per-event cost is O(1) (metrics_commit: one bucket increment per transaction); a request walks
 * the submissions and workers in memory once. Never a Redis call. See docs/metrics.md. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_time.h"

#ifndef STRIKE_VERSION_STRING
#define STRIKE_VERSION_STRING "unknown"
#endif

/* upper bounds of the commit latency buckets, in microseconds */
static const uint64_t commit_le_us[METRICS_COMMIT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

void metrics_init(coord *c) {
  c->mstats = calloc(1, sizeof *c->mstats);
  if (c->mstats) c->mstats->start_unix_ms = sf_wall_ms();
}

static void on_request(void *ud, const http_request *rq, http_response *rs) {
  metrics_handle(ud, rq, rs);
}

sf_status metrics_listen(coord *c) {
  if (!c->cfg.metrics_listen || !*c->cfg.metrics_listen) return SF_OK;
  char err[512];
  c->http = http_open(c->cfg.metrics_listen, on_request, c, err, sizeof err);
  if (!c->http) {
    SF_ERROR("%s", err);
    return SF_ERR_IO;
  }
  SF_INFO("metrics and dashboard on http://%s/ (/metrics, /status.json)", http_bound(c->http));
  return SF_OK;
}

void metrics_free(coord *c) {
  http_close(&c->http);
  free(c->mstats);
  c->mstats = NULL;
}

void metrics_commit(coord *c, size_t cmds, uint64_t us) {
  coord_mstats *m = c->mstats;
  if (!m) return;
  size_t b = 0;
  while (b < METRICS_COMMIT_BUCKETS && us > commit_le_us[b]) b++;
  m->commit_bucket[b]++;
  m->commit_count++;
  m->commit_sum_us += us;
  m->txn_cmds_total += cmds;
  m->txn_cmds_last = cmds;
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  if (s[0] < 0x80) return 1;
  size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
  if (!len || len > n) return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
  if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
  return len;
}

/* Append s escaped for a Prometheus label value (json = 0: \\ \" \n) or a JSON string (json = 1:
 * also other control characters as \u00XX). Invalid UTF-8 bytes become '?'. */
static void put_escaped(hbuf *b, const char *str, int json) {
  const unsigned char *s = (const unsigned char *)(str ? str : "");
  size_t n = strlen((const char *)s);
  for (size_t i = 0; i < n;) {
    unsigned char ch = s[i];
    if (ch == '\\') hbuf_put(b, "\\\\", 2);
    else if (ch == '"') hbuf_put(b, "\\\"", 2);
    else if (ch == '\n') hbuf_put(b, "\\n", 2);
    else if (json && ch < 0x20) hbuf_printf(b, "\\u%04x", ch);
    else if (json && ch == '<') hbuf_put(b, "\\u003c", 6); /* harmless if ever inlined in HTML */
    else {
      size_t l = utf8_len(s + i, n - i);
      if (!l) {
        hbuf_put(b, "?", 1);
        i++;
        continue;
      }
      hbuf_put(b, (const char *)s + i, l);
      i += l;
      continue;
    }
    i++;
  }
}

static void put_json_str(hbuf *b, const char *s) {
  hbuf_put(b, "\"", 1);
  put_escaped(b, s, 1);
  hbuf_put(b, "\"", 1);
}

/* ---- the numbers, gathered once per request ---- */

typedef struct totals {
  uint64_t subs_open, subs_finished, subs_cancelled, nsubs;
  uint64_t submitted, queued, leased, done, dead, cancelled, failed_attempts;
  uint64_t workers_ready, workers_recovering, workers_dead;
  uint64_t credit, in_flight;
} totals;

static void gather(coord *c, totals *t) {
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < c->subs_cap; i++) {
    csub *s = c->subs[i];
    if (!s) continue;
    t->nsubs++;
    if (s->state == SUB_OPEN) t->subs_open++;
    else if (s->state == SUB_FINISHED) t->subs_finished++;
    else t->subs_cancelled++;
    t->submitted += s->total;
    t->queued += sub_queued(s);
    t->leased += s->leased;
    t->done += s->done;
    t->dead += s->dead_n;
    t->cancelled += s->cancelled;
    t->failed_attempts += s->failed_attempts;
  }
  for (size_t i = 0; i < c->nworkers; i++) {
    cworker *w = c->workers[i];
    if (w->state == WORKER_READY) {
      t->workers_ready++;
      t->credit += w->credit;
    } else if (w->state == WORKER_RECOVERING) t->workers_recovering++;
    else t->workers_dead++;
    t->in_flight += w->in_flight;
  }
}

static const char *sub_state_name(sub_state s) {
  return s == SUB_OPEN ? "open" : s == SUB_FINISHED ? "finished" : "cancelled";
}
static const char *worker_state_name(worker_state s) {
  return s == WORKER_READY ? "ready" : s == WORKER_RECOVERING ? "recovering" : "dead";
}
static const char *sub_model(const csub *s) {
  return s->tpl && s->tpl->model ? s->tpl->model : "";
}

/* ---- Prometheus text format ---- */

static void help(hbuf *b, const char *name, const char *type, const char *text) {
  hbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}
static void metric(hbuf *b, const char *name, const char *type, const char *text, uint64_t v) {
  help(b, name, type, text);
  hbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}
/* name{label="value"} v, the value escaped */
static void labeled(hbuf *b, const char *name, const char *label, const char *value, uint64_t v) {
  hbuf_printf(b, "%s{%s=\"", name, label);
  put_escaped(b, value, 0);
  hbuf_printf(b, "\"} %llu\n", (unsigned long long)v);
}

static void render_prom(coord *c, hbuf *b) {
  totals t;
  gather(c, &t);
  const coord_mstats *m = c->mstats;
  static const coord_mstats zero;
  if (!m) m = &zero;

  help(b, "strike_build_info", "gauge", "Coordinator build: version and protocol version (value 1).");
  hbuf_printf(b, "strike_build_info{version=\"%s\",protocol=\"%u\"} 1\n", STRIKE_VERSION_STRING,
              (unsigned)SF_PROTOCOL_VERSION);
  help(b, "strike_process_start_time_seconds", "gauge", "Start time of the coordinator process, unix seconds.");
  hbuf_printf(b, "strike_process_start_time_seconds %.3f\n", (double)m->start_unix_ms / 1000.0);
  metric(b, "strike_redis_up", "gauge", "1 while Redis is connected and the state is loaded.",
         (uint64_t)(c->redis_up != 0));

  help(b, "strike_submissions", "gauge", "Submissions in memory by state.");
  hbuf_printf(b, "strike_submissions{state=\"open\"} %llu\n", (unsigned long long)t.subs_open);
  hbuf_printf(b, "strike_submissions{state=\"finished\"} %llu\n", (unsigned long long)t.subs_finished);
  hbuf_printf(b, "strike_submissions{state=\"cancelled\"} %llu\n", (unsigned long long)t.subs_cancelled);
  metric(b, "strike_jobs_submitted", "gauge", "Jobs stored, all submissions.", t.submitted);
  help(b, "strike_jobs", "gauge", "Jobs by state, all submissions.");
  hbuf_printf(b, "strike_jobs{state=\"queued\"} %llu\n", (unsigned long long)t.queued);
  hbuf_printf(b, "strike_jobs{state=\"leased\"} %llu\n", (unsigned long long)t.leased);
  hbuf_printf(b, "strike_jobs{state=\"done\"} %llu\n", (unsigned long long)t.done);
  hbuf_printf(b, "strike_jobs{state=\"dead\"} %llu\n", (unsigned long long)t.dead);
  hbuf_printf(b, "strike_jobs{state=\"cancelled\"} %llu\n", (unsigned long long)t.cancelled);
  metric(b, "strike_job_failed_attempts", "gauge",
         "Failed attempts (retried or dead), all submissions.", t.failed_attempts);

  /* per submission: the newest METRICS_MAX_SUBMISSIONS */
  static const char *const sub_metrics[][2] = {
      {"strike_submission_jobs_submitted", "Jobs stored in the submission."},
      {"strike_submission_jobs", "Jobs of the submission by state."},
      {"strike_submission_failed_attempts", "Failed attempts (retried or dead) of the submission."},
      {"strike_submission_info", "Submission state and model (value 1)."},
  };
  for (int k = 0; k < 4; k++) {
    help(b, sub_metrics[k][0], "gauge", sub_metrics[k][1]);
    size_t shown = 0;
    for (size_t i = c->subs_cap; i-- > 0 && shown < METRICS_MAX_SUBMISSIONS;) {
      csub *s = c->subs[i];
      if (!s) continue;
      shown++;
      if (k == 0) labeled(b, sub_metrics[k][0], "submission", s->name, s->total);
      else if (k == 2) labeled(b, sub_metrics[k][0], "submission", s->name, s->failed_attempts);
      else if (k == 3) {
        hbuf_printf(b, "strike_submission_info{submission=\"%s\",state=\"%s\",model=\"", s->name,
                    sub_state_name(s->state));
        put_escaped(b, sub_model(s), 0);
        hbuf_puts(b, "\"} 1\n");
      } else {
        const char *names[5] = {"queued", "leased", "done", "dead", "cancelled"};
        uint64_t v[5] = {sub_queued(s), s->leased, s->done, s->dead_n, s->cancelled};
        for (int j = 0; j < 5; j++)
          hbuf_printf(b, "strike_submission_jobs{submission=\"%s\",state=\"%s\"} %llu\n", s->name,
                      names[j], (unsigned long long)v[j]);
      }
    }
  }

  metric(b, "strike_jobs_dispatched_total", "counter", "Jobs sent to workers in shards.",
         c->stats.jobs_dispatched);
  metric(b, "strike_jobs_completed_total", "counter", "Jobs finished successfully.", c->stats.jobs_done);
  metric(b, "strike_jobs_dead_total", "counter", "Jobs that became dead (attempts used up).", c->stats.jobs_dead);
  metric(b, "strike_submissions_expired_total", "counter",
         "Submissions deleted by finished-retention.", c->stats.subs_expired);

  help(b, "strike_workers", "gauge", "Workers in the registry by state.");
  hbuf_printf(b, "strike_workers{state=\"ready\"} %llu\n", (unsigned long long)t.workers_ready);
  hbuf_printf(b, "strike_workers{state=\"recovering\"} %llu\n", (unsigned long long)t.workers_recovering);
  hbuf_printf(b, "strike_workers{state=\"dead\"} %llu\n", (unsigned long long)t.workers_dead);
  metric(b, "strike_worker_credit", "gauge", "Credit (jobs) ready workers may still be sent.", t.credit);
  metric(b, "strike_leases_in_flight", "gauge", "Leases (shards) held by workers.", (uint64_t)c->nleases);
  help(b, "strike_worker_jobs_done_total", "counter", "Jobs finished by each worker.");
  for (size_t i = 0; i < c->nworkers && i < METRICS_MAX_WORKERS; i++)
    labeled(b, "strike_worker_jobs_done_total", "worker", c->workers[i]->id, c->workers[i]->jobs_done);
  help(b, "strike_worker_in_flight_jobs", "gauge", "Jobs leased to each worker.");
  for (size_t i = 0; i < c->nworkers && i < METRICS_MAX_WORKERS; i++)
    labeled(b, "strike_worker_in_flight_jobs", "worker", c->workers[i]->id, c->workers[i]->in_flight);

  help(b, "strike_lease_requeues_total", "counter", "Leases re-queued after they were lost, by reason.");
  hbuf_printf(b, "strike_lease_requeues_total{reason=\"expired\"} %llu\n",
              (unsigned long long)c->stats.leases_expired);
  hbuf_printf(b, "strike_lease_requeues_total{reason=\"unreported\"} %llu\n",
              (unsigned long long)c->stats.leases_unreported);
  metric(b, "strike_workers_lost_total", "counter", "Workers declared dead (silent or restarted).",
         c->stats.workers_lost);
  metric(b, "strike_results_stale_total", "counter", "Result messages ignored by fencing.", c->stats.results_stale);
  metric(b, "strike_results_duplicate_total", "counter", "Job results for jobs already final.",
         c->stats.results_duplicate);
  metric(b, "strike_bad_requests_total", "counter", "Well-formed frames with invalid content.",
         c->stats.bad_requests);

  const sf_frame_stats *fs[2] = {&c->wstats, &c->cstats};
  const char *sock[2] = {"worker", "client"};
  help(b, "strike_frames_received_total", "counter", "Envelopes decoded, by socket.");
  for (int i = 0; i < 2; i++) labeled(b, "strike_frames_received_total", "socket", sock[i], fs[i]->received);
  help(b, "strike_frames_sent_total", "counter", "Envelopes sent, by socket.");
  for (int i = 0; i < 2; i++) labeled(b, "strike_frames_sent_total", "socket", sock[i], fs[i]->sent);
  help(b, "strike_send_failed_total", "counter", "Sends that failed (peer gone, high-water mark), by socket.");
  for (int i = 0; i < 2; i++) labeled(b, "strike_send_failed_total", "socket", sock[i], fs[i]->send_failed);
  help(b, "strike_frames_dropped_total", "counter", "Frames dropped (protocol errors), by socket and reason.");
  for (int i = 0; i < 2; i++) {
    hbuf_printf(b, "strike_frames_dropped_total{socket=\"%s\",reason=\"malformed\"} %llu\n", sock[i],
                (unsigned long long)fs[i]->malformed);
    hbuf_printf(b, "strike_frames_dropped_total{socket=\"%s\",reason=\"oversized\"} %llu\n", sock[i],
                (unsigned long long)fs[i]->oversized);
    hbuf_printf(b, "strike_frames_dropped_total{socket=\"%s\",reason=\"version\"} %llu\n", sock[i],
                (unsigned long long)fs[i]->version_mismatch);
  }

  help(b, "strike_auth_refused_total", "counter",
       "CURVE handshakes refused by the allow-lists (ZAP), by socket.");
  labeled(b, "strike_auth_refused_total", "socket", "worker", c->stats.curve_refused_workers);
  labeled(b, "strike_auth_refused_total", "socket", "client", c->stats.curve_refused_clients);
  help(b, "strike_auth_failed_total", "counter",
       "Other failed CURVE handshakes (plaintext peer, wrong server key), by socket.");
  labeled(b, "strike_auth_failed_total", "socket", "worker", c->stats.curve_failed_workers);
  labeled(b, "strike_auth_failed_total", "socket", "client", c->stats.curve_failed_clients);

  metric(b, "strike_redis_failures_total", "counter", "Redis failures (connection, transaction).",
         c->stats.redis_failures);
  metric(b, "strike_redis_transactions_total", "counter", "Transactions committed.", c->stats.txn_count);
  help(b, "strike_redis_commit_seconds", "histogram",
       "Time to commit one loop iteration's transaction (send, EXEC, replies).");
  uint64_t cum = 0;
  for (int i = 0; i < METRICS_COMMIT_BUCKETS; i++) {
    cum += m->commit_bucket[i];
    hbuf_printf(b, "strike_redis_commit_seconds_bucket{le=\"%g\"} %llu\n",
                (double)commit_le_us[i] / 1e6, (unsigned long long)cum);
  }
  cum += m->commit_bucket[METRICS_COMMIT_BUCKETS];
  hbuf_printf(b, "strike_redis_commit_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  hbuf_printf(b, "strike_redis_commit_seconds_sum %.6f\n", (double)m->commit_sum_us / 1e6);
  hbuf_printf(b, "strike_redis_commit_seconds_count %llu\n", (unsigned long long)m->commit_count);
  metric(b, "strike_redis_batch_commands", "gauge", "Commands in the last transaction (write batch).",
         m->txn_cmds_last);
  metric(b, "strike_redis_batch_commands_total", "counter", "Commands sent in transactions.",
         m->txn_cmds_total);
  metric(b, "strike_redis_pending_commands", "gauge", "Commands queued for the next transaction.",
         (uint64_t)c->txn_cmds);

  metric(b, "strike_watchers", "gauge", "Clients watching a submission.", (uint64_t)c->nwatchers);
  metric(b, "strike_chunk_cache_bytes", "gauge", "Bytes of prompt chunks cached in memory.",
         (uint64_t)c->cache_bytes);
  metric(b, "strike_outbox_messages", "gauge", "Messages waiting for the transaction.", (uint64_t)c->nout);
  if (c->http) {
    const http_stats *hs = http_get_stats(c->http);
    metric(b, "strike_http_requests_total", "counter", "HTTP responses sent (any status).", hs->requests);
    metric(b, "strike_http_bad_requests_total", "counter", "HTTP 400, 405 and 431 responses.", hs->bad);
    metric(b, "strike_http_refused_total", "counter", "HTTP connections closed at accept (limit reached).",
           hs->refused);
    metric(b, "strike_http_timeouts_total", "counter", "HTTP connections closed by the timeout.", hs->timeouts);
    metric(b, "strike_http_connections", "gauge", "HTTP connections open.", (uint64_t)http_open_conns(c->http));
  }
}

/* ---- JSON ---- */

static void render_json(coord *c, hbuf *b) {
  totals t;
  gather(c, &t);
  const coord_mstats *m = c->mstats;
  hbuf_puts(b, "{\"coordinator_id\":");
  put_json_str(b, c->coordinator_id);
  hbuf_printf(b, ",\"version\":\"%s\",\"start_time_ms\":%llu,\"now_ms\":%llu,\"redis_up\":%s",
              STRIKE_VERSION_STRING, (unsigned long long)(m ? m->start_unix_ms : 0),
              (unsigned long long)sf_wall_ms(), c->redis_up ? "true" : "false");
  hbuf_printf(b,
              ",\"jobs\":{\"submitted\":%llu,\"queued\":%llu,\"leased\":%llu,\"done\":%llu,"
              "\"dead\":%llu,\"cancelled\":%llu,\"failed_attempts\":%llu,\"completed_total\":%llu,"
              "\"dispatched_total\":%llu}",
              (unsigned long long)t.submitted, (unsigned long long)t.queued,
              (unsigned long long)t.leased, (unsigned long long)t.done, (unsigned long long)t.dead,
              (unsigned long long)t.cancelled, (unsigned long long)t.failed_attempts,
              (unsigned long long)c->stats.jobs_done, (unsigned long long)c->stats.jobs_dispatched);
  hbuf_printf(b,
              ",\"workers_ready\":%llu,\"worker_credit\":%llu,\"leases_in_flight\":%zu,"
              "\"lease_requeues\":%llu,\"submissions_total\":%llu,\"submissions\":[",
              (unsigned long long)t.workers_ready, (unsigned long long)t.credit, c->nleases,
              (unsigned long long)(c->stats.leases_expired + c->stats.leases_unreported),
              (unsigned long long)t.nsubs);
  size_t shown = 0;
  for (size_t i = c->subs_cap; i-- > 0 && shown < METRICS_MAX_SUBMISSIONS;) {
    csub *s = c->subs[i];
    if (!s) continue;
    hbuf_printf(b, "%s{\"id\":\"%s\",\"state\":\"%s\",\"model\":", shown ? "," : "", s->name,
                sub_state_name(s->state));
    put_json_str(b, sub_model(s));
    hbuf_printf(b,
                ",\"priority\":%d,\"sealed\":%s,\"created_ms\":%llu,\"finished_ms\":%llu,"
                "\"total\":%llu,\"queued\":%llu,\"leased\":%llu,\"done\":%llu,\"dead\":%llu,"
                "\"cancelled\":%llu,\"failed_attempts\":%llu}",
                s->priority, s->sealed ? "true" : "false", (unsigned long long)s->created_ms,
                (unsigned long long)s->finished_ms, (unsigned long long)s->total,
                (unsigned long long)sub_queued(s), (unsigned long long)s->leased,
                (unsigned long long)s->done, (unsigned long long)s->dead_n,
                (unsigned long long)s->cancelled, (unsigned long long)s->failed_attempts);
    shown++;
  }
  hbuf_puts(b, "],\"workers\":[");
  for (size_t i = 0; i < c->nworkers && i < METRICS_MAX_WORKERS; i++) {
    cworker *w = c->workers[i];
    const Strike__Register *r = w->reg;
    hbuf_puts(b, i ? ",{\"id\":" : "{\"id\":");
    put_json_str(b, w->id);
    hbuf_printf(b, ",\"state\":\"%s\",\"host\":", worker_state_name(w->state));
    put_json_str(b, r ? r->host : "");
    hbuf_puts(b, ",\"engine\":");
    put_json_str(b, r ? r->engine : "");
    hbuf_puts(b, ",\"devices\":[");
    for (size_t k = 0; r && k < r->n_devices && k < 64; k++) {
      if (k) hbuf_puts(b, ",");
      put_json_str(b, r->devices[k] ? r->devices[k]->name : "");
    }
    hbuf_puts(b, "],\"models\":[");
    for (size_t k = 0; r && k < r->n_models && k < 64; k++) {
      if (k) hbuf_puts(b, ",");
      put_json_str(b, r->models[k]);
    }
    hbuf_printf(b, "],\"credit\":%llu,\"in_flight\":%llu,\"jobs_done\":%llu,\"rate\":%.3f}",
                (unsigned long long)w->credit, (unsigned long long)w->in_flight,
                (unsigned long long)w->jobs_done, w->rate);
  }
  hbuf_puts(b, "]}\n");
}

/* ---- the dashboard (self-contained; builds the DOM with textContent, never innerHTML) ---- */

static const char dashboard_html[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Strike</title><style>"
    "body{font:14px sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #ddd}"
    ".bar{width:200px;height:12px;background:#eee;position:relative}.bar div{height:100%;position:absolute}"
    ".d{background:#3a3}.x{background:#c33}#err{color:#c33}</style></head><body>"
    "<h2>Strike farm</h2><div id=\"sum\"></div><div id=\"err\"></div>"
    "<h3>Submissions</h3><table id=\"subs\"></table><h3>Workers</h3><table id=\"wk\"></table>"
    "<script>\n"
    "var last={};\n"
    "function el(t,x){var e=document.createElement(t);if(x!==undefined)e.textContent=x;return e}\n"
    "function row(tb,cells,th){var r=el('tr');cells.forEach(function(c){var d=el(th?'th':'td');"
    "if(c instanceof Node)d.appendChild(c);else d.textContent=c;r.appendChild(d)});tb.appendChild(r)}\n"
    "function bar(s){var b=el('div');b.className='bar';var t=s.total||1,d=el('div'),x=el('div');"
    "d.className='d';d.style.width=(100*s.done/t)+'%';x.className='x';x.style.left=d.style.width;"
    "x.style.width=(100*(s.dead+s.cancelled)/t)+'%';b.appendChild(d);b.appendChild(x);return b}\n"
    "function show(j){var now=j.now_ms,subs=document.getElementById('subs'),wk=document.getElementById('wk');"
    "document.getElementById('sum').textContent='version '+j.version+' | redis '+(j.redis_up?'up':'DOWN')+"
    "' | workers ready '+j.workers_ready+' | leases '+j.leases_in_flight+' | jobs done '+j.jobs.done+"
    "' queued '+j.jobs.queued+' dead '+j.jobs.dead;"
    "subs.textContent='';row(subs,['id','state','model','progress','done','total','queued','leased','dead','jobs/s'],1);"
    "var seen={};j.submissions.forEach(function(s){var p=last[s.id],r='';"
    "if(p&&now>p.t)r=((s.done-p.d)*1000/(now-p.t)).toFixed(1);seen[s.id]={t:now,d:s.done};"
    "row(subs,[s.id,s.state,s.model,bar(s),s.done,s.total,s.queued,s.leased,s.dead,r])});last=seen;"
    "wk.textContent='';row(wk,['id','state','host','engine','device','models','in flight','done','jobs/s'],1);"
    "j.workers.forEach(function(w){row(wk,[w.id,w.state,w.host,w.engine,w.devices.join(', '),"
    "w.models.length?w.models.join(', '):'any',w.in_flight,w.jobs_done,w.rate.toFixed(1)])})}\n"
    "function poll(){fetch('status.json',{cache:'no-store'}).then(function(r){return r.json()})"
    ".then(function(j){document.getElementById('err').textContent='';show(j)})"
    ".catch(function(e){document.getElementById('err').textContent='no answer: '+e})}\n"
    "poll();setInterval(poll,2000);\n"
    "</script></body></html>\n";

void metrics_handle(void *coord_ptr, const http_request *rq, http_response *rs) {
  coord *c = coord_ptr;
  if (strcmp(rq->path, "/metrics") == 0) {
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    render_prom(c, &rs->body);
  } else if (strcmp(rq->path, "/status.json") == 0) {
    rs->content_type = "application/json";
    render_json(c, &rs->body);
  } else if (strcmp(rq->path, "/") == 0 || strcmp(rq->path, "/index.html") == 0) {
    rs->content_type = "text/html; charset=utf-8";
    hbuf_put(&rs->body, dashboard_html, sizeof dashboard_html - 1);
  } else {
    rs->status = 404;
    hbuf_puts(&rs->body, "not found: try /metrics, /status.json or /\n");
  }
}
