/* results.c - the results log of a submission and its paging.
 *
 * P:{s:N}:res is a STRING of records appended in the order jobs became final (done or dead):
 *   u64 first index (of the lease), u16 n, then n entries of 8 bytes:
 *   u16 offset (job = first + offset), u8 status (0 = done, else sf_status of the last error),
 *   u8 attempt, u32 render ms                            (all little-endian)
 * A job appears once per time it became final (twice only if it was dead and then retried).
 * Seeds, prompts and output paths are not stored again: they follow from the chunk and the
 * rules in sf_job.h. Error texts of dead jobs are in P:{s:N}:err. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"

#define REC_HEADER 10u
#define REC_ENTRY 8u
#define PAGE_MAX 4096u

void results_log(coord *c, csub *s, uint64_t first, uint32_t n, const uint32_t *offset,
                 const uint8_t *status, const uint32_t *attempt, const uint32_t *render_ms) {
  while (n > 0) {
    uint32_t m = n > 0xFFFF ? 0xFFFF : n;
    size_t len = REC_HEADER + (size_t)m * REC_ENTRY;
    uint8_t *b = malloc(len);
    if (!b) return;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(first >> (8 * i));
    b[8] = (uint8_t)m;
    b[9] = (uint8_t)(m >> 8);
    for (uint32_t k = 0; k < m; k++) {
      uint8_t *e = b + REC_HEADER + (size_t)k * REC_ENTRY;
      e[0] = (uint8_t)offset[k];
      e[1] = (uint8_t)(offset[k] >> 8);
      e[2] = status[k];
      e[3] = (uint8_t)(attempt[k] > 255 ? 255 : attempt[k]);
      for (int i = 0; i < 4; i++) e[4 + i] = (uint8_t)(render_ms[k] >> (8 * i));
    }
    char k[128];
    rs_cmd(c, "APPEND %s %b", sub_key(c, s, k, sizeof k, "res"), b, len);
    free(b);
    offset += m, status += m, attempt += m, render_ms += m;
    n -= m;
  }
}

/* Read `len` bytes at `off` of the results log; returns bytes read into buf (0 at the end). */
static size_t read_log(coord *c, csub *s, uint64_t off, uint8_t *buf, size_t len) {
  char k[128];
  redisReply *r = rs_read(c, "GETRANGE %s %llu %llu", sub_key(c, s, k, sizeof k, "res"),
                          (unsigned long long)off, (unsigned long long)(off + len - 1));
  if (!r) return 0;
  size_t got = 0;
  if (r->type == REDIS_REPLY_STRING) {
    got = r->len < len ? r->len : len;
    memcpy(buf, r->str, got);
  }
  freeReplyObject(r);
  return got;
}

void results_page(coord *c, const sf_peer *peer, uint64_t request_id,
                  const Strike__ResultsRequest *rq) {
  csub *s = sub_by_name(c, rq->submission_id);
  if (!s) {
    reply_error(c, peer, request_id, SF_ERR_NOT_FOUND, "no submission \"%s\"",
                rq->submission_id ? rq->submission_id : "");
    return;
  }
  uint32_t max = rq->max && rq->max < PAGE_MAX ? rq->max : PAGE_MAX;
  uint64_t off = rq->cursor >> 13, idx = rq->cursor & 0x1FFF;
  Strike__JobResult *items = calloc(max, sizeof *items);
  Strike__JobResult **ptrs = calloc(max, sizeof *ptrs);
  char (*paths)[1200] = calloc(max, sizeof *paths);
  char **errs = calloc(max, sizeof *errs);
  uint8_t *ent = malloc(PAGE_MAX * REC_ENTRY);
  if (!items || !ptrs || !paths || !errs || !ent) {
    reply_error(c, peer, request_id, SF_ERR_NO_MEMORY, "out of memory");
    goto out;
  }
  uint32_t n = 0;
  int end = 0;
  char ek[128];
  sub_key(c, s, ek, sizeof ek, "err");
  while (n < max) {
    uint8_t h[REC_HEADER];
    if (read_log(c, s, off, h, REC_HEADER) < REC_HEADER) {
      end = 1;
      break;
    }
    uint64_t first = 0;
    for (int i = 0; i < 8; i++) first |= (uint64_t)h[i] << (8 * i);
    uint32_t rn = (uint32_t)h[8] | ((uint32_t)h[9] << 8);
    if (idx >= rn) { /* next record */
      off += REC_HEADER + (uint64_t)rn * REC_ENTRY;
      idx = 0;
      continue;
    }
    uint32_t take = rn - (uint32_t)idx;
    if (take > max - n) take = max - n;
    size_t got = read_log(c, s, off + REC_HEADER + idx * REC_ENTRY, ent, (size_t)take * REC_ENTRY);
    if (got < (size_t)take * REC_ENTRY) {
      end = 1;
      break;
    }
    for (uint32_t k = 0; k < take; k++) {
      const uint8_t *e = ent + (size_t)k * REC_ENTRY;
      Strike__JobResult *jr = &items[n];
      strike__job_result__init(jr);
      jr->index = first + ((uint32_t)e[0] | ((uint32_t)e[1] << 8));
      jr->status = e[2];
      jr->attempt = e[3];
      jr->render_ms = (uint32_t)e[4] | ((uint32_t)e[5] << 8) | ((uint32_t)e[6] << 16) |
                      ((uint32_t)e[7] << 24);
      chunk_view *v = sub_chunk_for(c, s, jr->index);
      if (v) {
        uint32_t o = (uint32_t)(jr->index - v->first);
        jr->seed = v->seed[o];
        jr->prompt = strndup((const char *)v->prompts + v->off[o], v->len[o]);
      }
      if (jr->status == 0) {
        if (sf_output_path(paths[n], sizeof paths[n], s->tpl->output_root, s->name,
                           s->tpl->output_prefix, jr->index) >= 0)
          jr->output_path = paths[n];
      } else {
        redisReply *r = rs_read(c, "HGET %s %llu", ek, (unsigned long long)jr->index);
        if (r && r->type == REDIS_REPLY_STRING) {
          const char *colon = memchr(r->str, ':', r->len);
          errs[n] = strdup(colon ? colon + 1 : r->str);
          jr->error = errs[n];
        }
        if (r) freeReplyObject(r);
      }
      ptrs[n] = jr;
      n++;
    }
    idx += take;
    if (!c->redis_up) break;
  }
  if (!c->redis_up) {
    reply_error(c, peer, request_id, SF_ERR_REDIS, "Redis unavailable");
  } else {
    Strike__Envelope env = STRIKE__ENVELOPE__INIT;
    Strike__ResultsPage pg = STRIKE__RESULTS_PAGE__INIT;
    pg.submission_id = s->name;
    pg.n_results = n;
    pg.results = ptrs;
    pg.next_cursor = (off << 13) | idx;
    pg.end = end;
    env.request_id = request_id;
    env.body_case = STRIKE__ENVELOPE__BODY_RESULTS_PAGE;
    env.results_page = &pg;
    out_push(c, OUT_CLIENT, peer, &env, 1, 0, NULL);
  }
  for (uint32_t k = 0; k < n; k++) {
    free(items[k].prompt);
    free(errs[k]);
  }
out:
  free(items);
  free(ptrs);
  free(paths);
  free(errs);
  free(ent);
}
