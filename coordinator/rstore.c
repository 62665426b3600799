/* rstore.c - Redis connections and the per-iteration transaction.
 *
 * Two connections: `rw` carries this iteration's writes as one MULTI ... EXEC (pipelined with
 * redisAppendCommand and committed once per loop iteration), `rd` serves synchronous reads of
 * durable data (chunks, results). Any failure closes both, marks Redis down and schedules a
 * reconnect with exponential backoff; coord_tick then reloads the whole state from Redis, which is
 * the consistent snapshot left by the last committed transaction.
 *
 * One coordinator per key prefix: P:lock holds a random token of the coordinator that owns the
 * prefix, with an expiry (lock_ttl_ms). Every transaction is WATCH P:lock, GET P:lock, MULTI,
 * commands, and then EXEC only if the GET returned our token (else DISCARD); the WATCH makes the
 * EXEC fail if the lock changes in between. The lock's refresh (PEXPIRE, every third of the
 * expiry) rides in a transaction. So a coordinator that lost the lock (it stalled past the expiry
 * and another one took over) never writes again; it goes back to waiting for the lock. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "sf_time.h"

#include <unistd.h>

const char *rs_key(coord *c, char *buf, size_t cap, const char *fmt, ...) {
  int n = snprintf(buf, cap, "%s:", c->kp);
  if (n < 0 || (size_t)n >= cap) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
  va_end(ap);
  return buf;
}

/* Open one connection to the configured Redis (host:port or a unix socket path) and AUTH. */
static redisContext *connect_one(coord *c, char *err, size_t errlen) {
  struct timeval tv = {(time_t)(c->cfg.redis_timeout_ms / 1000),
                       (suseconds_t)((c->cfg.redis_timeout_ms % 1000) * 1000)};
  const char *addr = c->cfg.redis;
  redisContext *r = NULL;
  if (strchr(addr, '/')) {
    r = redisConnectUnixWithTimeout(addr, tv);
  } else {
    char host[256];
    const char *colon = strrchr(addr, ':');
    int port = 6379;
    size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (colon) port = atoi(colon + 1);
    r = redisConnectWithTimeout(host, port, tv);
  }
  if (!r || r->err) {
    snprintf(err, errlen, "cannot connect to Redis at %s: %s", addr, r ? r->errstr : "no memory");
    if (r) redisFree(r);
    return NULL;
  }
  redisSetTimeout(r, tv);
  if (c->cfg.redis_password && *c->cfg.redis_password) {
    redisReply *rep = redisCommand(r, "AUTH %s", c->cfg.redis_password);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
      snprintf(err, errlen, "Redis AUTH failed at %s: %s", addr,
               rep ? rep->str : r->errstr);
      if (rep) freeReplyObject(rep);
      redisFree(r);
      return NULL;
    }
    freeReplyObject(rep);
  }
  return r;
}

sf_status rs_connect(coord *c) {
  char err[512];
  rs_disconnect(c);
  c->rw = connect_one(c, err, sizeof err);
  if (c->rw) c->rd = connect_one(c, err, sizeof err);
  if (!c->rw || !c->rd) {
    sf_log_rl(&c->rl, SF_LOG_ERROR, "%s (retrying with backoff up to 5 s)", err);
    rs_disconnect(c);
    return SF_ERR_REDIS;
  }
  return SF_OK;
}

void rs_disconnect(coord *c) {
  if (c->rw) redisFree(c->rw);
  if (c->rd) redisFree(c->rd);
  c->rw = c->rd = NULL;
  c->txn_cmds = 0;
}

void rs_fail(coord *c, const char *what) {
  if (c->redis_up || c->rw) {
    SF_ERROR("Redis failed (%s): pausing dispatch; reconnecting and reloading state from Redis",
             what);
  }
  c->stats.redis_failures++;
  c->redis_up = 0;
  rs_disconnect(c);
  if (!c->redis_backoff_ms) c->redis_backoff_ms = 100;
  c->redis_retry_ms = coord_now(c) + c->redis_backoff_ms;
  c->redis_backoff_ms *= 2;
  if (c->redis_backoff_ms > 5000) c->redis_backoff_ms = 5000;
}

void rs_cmd(coord *c, const char *fmt, ...) {
  if (!c->rw) return;
  if (c->txn_cmds == 0) {
    char k[128];
    rs_key(c, k, sizeof k, "lock");
    if (redisAppendCommand(c->rw, "WATCH %s", k) != REDIS_OK) return;
    if (redisAppendCommand(c->rw, "GET %s", k) != REDIS_OK) return;
    if (redisAppendCommand(c->rw, "MULTI") != REDIS_OK) return;
    c->txn_lock_idx = -1;
  }
  va_list ap;
  va_start(ap, fmt);
  int rc = redisvAppendCommand(c->rw, fmt, ap);
  va_end(ap);
  if (rc == REDIS_OK) c->txn_cmds++;
}

/* Commit the transaction: WATCH lock, GET lock, MULTI, commands were sent (queued, not run);
 * EXEC only if the lock still holds our token, else DISCARD and fail. Two round trips. */
sf_status rs_commit(coord *c) {
  if (!c->rw) return c->txn_cmds ? SF_ERR_REDIS : SF_OK;
  if (c->txn_cmds == 0) return SF_OK;
  size_t n = c->txn_cmds;
  c->txn_cmds = 0;
  sf_status st = SF_OK;
  char what[256] = "";
  int ours = 0;
  for (size_t i = 0; i < 2; i++) { /* WATCH, GET (this flushes everything queued so far) */
    redisReply *rep = NULL;
    if (redisGetReply(c->rw, (void **)&rep) != REDIS_OK || !rep) {
      snprintf(what, sizeof what, "transaction: %s", c->rw->errstr);
      rs_fail(c, what);
      return SF_ERR_REDIS;
    }
    if (i == 1)
      ours = rep->type == REDIS_REPLY_STRING && strcmp(rep->str, c->lock_token) == 0;
    freeReplyObject(rep);
  }
  if (redisAppendCommand(c->rw, ours ? "EXEC" : "DISCARD") != REDIS_OK) {
    rs_fail(c, "append EXEC");
    return SF_ERR_REDIS;
  }
  if (!ours) {
    snprintf(what, sizeof what, "this coordinator no longer holds the lock: writes discarded");
    st = SF_ERR_REDIS;
  }
  for (size_t i = 0; i < n + 2; i++) { /* MULTI, n commands, EXEC/DISCARD */
    redisReply *rep = NULL;
    if (redisGetReply(c->rw, (void **)&rep) != REDIS_OK || !rep) {
      snprintf(what, sizeof what, "transaction: %s", c->rw->errstr);
      st = SF_ERR_REDIS;
      break;
    }
    if (i == n + 1 && ours) { /* EXEC */
      if (rep->type != REDIS_REPLY_ARRAY) {
        snprintf(what, sizeof what, "EXEC: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str
                                                : "refused: the coordinator lock changed hands");
        st = SF_ERR_REDIS;
      } else if (c->txn_lock_idx >= 0 && (size_t)c->txn_lock_idx < rep->elements &&
                 (rep->element[c->txn_lock_idx]->type != REDIS_REPLY_INTEGER ||
                  rep->element[c->txn_lock_idx]->integer != 1)) {
        snprintf(what, sizeof what, "the coordinator lock expired");
        st = SF_ERR_REDIS;
      } else {
        for (size_t k = 0; k < rep->elements; k++) {
          if (rep->element[k]->type == REDIS_REPLY_ERROR) {
            snprintf(what, sizeof what, "command %zu of the transaction: %s", k,
                     rep->element[k]->str);
            st = SF_ERR_REDIS;
            break;
          }
        }
      }
    } else if (rep->type == REDIS_REPLY_ERROR && st == SF_OK) {
      snprintf(what, sizeof what, "queueing command %zu: %s", i, rep->str); /* 0 = MULTI */
      st = SF_ERR_REDIS;
    }
    freeReplyObject(rep);
  }
  if (st != SF_OK) {
    rs_fail(c, what);
    return st;
  }
  c->stats.txn_count++;
  c->redis_backoff_ms = 0;
  return SF_OK;
}

redisReply *rs_read(coord *c, const char *fmt, ...) {
  if (!c->rd) return NULL;
  va_list ap;
  va_start(ap, fmt);
  redisReply *rep = redisvCommand(c->rd, fmt, ap);
  va_end(ap);
  if (!rep) {
    rs_fail(c, c->rd->errstr);
    return NULL;
  }
  return rep;
}

sf_status rs_lock_acquire(coord *c) {
  char k[128];
  rs_key(c, k, sizeof k, "lock");
  if (!c->lock_token[0]) {
    char host[64] = "?";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(c->lock_token, sizeof c->lock_token, "%s:%d:%llx", host, (int)getpid(),
             (unsigned long long)(sf_now_us() ^ ((uint64_t)getpid() << 40)));
  }
  redisReply *r = rs_read(c, "SET %s %s NX PX %llu", k, c->lock_token,
                          (unsigned long long)c->lock_ttl_ms);
  if (!r) return SF_ERR_REDIS;
  int got = r->type == REDIS_REPLY_STATUS;
  freeReplyObject(r);
  if (!got) {
    r = rs_read(c, "GET %s", k);
    if (!r) return SF_ERR_REDIS;
    int ours = r->type == REDIS_REPLY_STRING && strcmp(r->str, c->lock_token) == 0;
    if (!ours)
      sf_log_rl(&c->rl, SF_LOG_WARN,
                "another coordinator (%s) holds %s: waiting for it to stop or its lock to expire",
                r->type == REDIS_REPLY_STRING ? r->str : "?", k);
    freeReplyObject(r);
    if (!ours) return SF_ERR_CONFLICT;
    r = rs_read(c, "PEXPIRE %s %llu", k, (unsigned long long)c->lock_ttl_ms);
    if (!r) return SF_ERR_REDIS;
    freeReplyObject(r);
  }
  c->lock_refreshed_ms = sf_now_ms();
  return SF_OK;
}

void rs_lock_refresh(coord *c) {
  uint64_t now = sf_now_ms(); /* real time, even under a test's manual clock */
  if (!c->redis_up || now - c->lock_refreshed_ms < c->lock_ttl_ms / 3) return;
  char k[128];
  rs_cmd(c, "PEXPIRE %s %llu", rs_key(c, k, sizeof k, "lock"), (unsigned long long)c->lock_ttl_ms);
  c->txn_lock_idx = (long)c->txn_cmds - 1;
  c->lock_refreshed_ms = now;
}

void rs_lock_release(coord *c) {
  if (!c->rd || !c->redis_up) return;
  char k[128];
  redisReply *r = rs_read(c,
                          "EVAL %s 1 %s %s",
                          "if redis.call('get', KEYS[1]) == ARGV[1] then "
                          "return redis.call('del', KEYS[1]) else return 0 end",
                          rs_key(c, k, sizeof k, "lock"), c->lock_token);
  if (r) freeReplyObject(r);
}
