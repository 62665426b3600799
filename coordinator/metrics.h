/* metrics.h - the coordinator's metrics: a few counters of its own (Redis commit latency
 * histogram, transaction sizes, start time), the HTTP pages rendered from the in-memory state
 * (GET /metrics in Prometheus text format 0.0.4, GET /status.json, GET / the dashboard), and
 * the hooks loop.c calls. Everything is O(1) per event; rendering walks the in-memory state
 * once per request (never Redis). docs/metrics.md lists every metric. */
#ifndef STRIKE_METRICS_H
#define STRIKE_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "http.h"

#define METRICS_MAX_SUBMISSIONS 100 /* per-submission series: the newest this many */
#define METRICS_MAX_WORKERS 256     /* per-worker series: the first this many in the registry */
#define METRICS_COMMIT_BUCKETS 14   /* upper bounds of strike_redis_commit_seconds (+Inf apart) */

typedef struct coord_mstats {
  uint64_t start_unix_ms;
  uint64_t commit_bucket[METRICS_COMMIT_BUCKETS + 1]; /* per bucket (not cumulative); last +Inf */
  uint64_t commit_count;
  uint64_t commit_sum_us;
  uint64_t txn_cmds_total;      /* commands in committed or attempted transactions */
  uint64_t txn_cmds_last;       /* commands in the last transaction */
} coord_mstats;

/* Allocate c->mstats (coord_new). Failure leaves it NULL: metrics then read 0. */
void metrics_init(coord *c);
/* Open the HTTP server when metrics-listen is set. SF_OK, or SF_ERR_IO / SF_ERR_CONFIG with the
 * reason logged (a malformed address, a port in use). */
sf_status metrics_listen(coord *c);
/* Close the server and free c->mstats (coord_destroy). */
void metrics_free(coord *c);
/* One transaction of `cmds` commands took `us` microseconds (commit and reply reading). */
void metrics_commit(coord *c, size_t cmds, uint64_t us);
/* Render one page: path "/metrics", "/status.json" or "/"; else 404. Public for tests. */
void metrics_handle(void *coord_ptr, const http_request *rq, http_response *rs);

#endif
