/* chunk.c - the packed chunk: one Redis string per Chunk message, holding the prompts and the tiny
 * per-job overrides of up to max-chunk-jobs jobs.
 *
 * Layout (little-endian):
 *   0  'S' 'C'            magic
 *   2  u8  version (1)
 *   3  u8  flags          1 = explicit seeds, 2 = steps, 4 = width, 8 = height
 *   4  u32 count
 *   8  u64 first index
 *  16  varint[count]      prompt byte lengths
 *      if seeds:  bitmap[(count+7)/8] (bit i, LSB first: job i has an explicit seed), then one u64
 *                 per explicit seed, in job order
 *      if steps:  u8[count]   (0 = template)
 *      if width:  u8[count]   (width / 64, 0 = template)
 *      if height: u8[count]   (height / 64, 0 = template)
 *      prompts                concatenated UTF-8, exactly the sum of the lengths
 * A job costs its prompt plus 1-2 bytes (plus 1 per override kind, plus 8 with an explicit seed). */
#include <stdlib.h>
#include <string.h>

#include "coord.h"

#define CF_SEEDS 1u
#define CF_STEPS 2u
#define CF_WIDTH 4u
#define CF_HEIGHT 8u

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

int chunk_header(const uint8_t *b, size_t len, uint64_t *first, uint32_t *count) {
  if (len < CHUNK_HEADER_BYTES || b[0] != 'S' || b[1] != 'C' || b[2] != 1) return -1;
  *count = get_u32(b + 4);
  *first = get_u64(b + 8);
  return 0;
}

sf_status chunk_pack(const csub *s, const cmodel *model, const Strike__Chunk *ch, uint8_t **out,
                     size_t *out_len, char *err, size_t errlen) {
  *out = NULL;
  uint32_t n = ch->count;
  if (n == 0) {
    snprintf(err, errlen, "chunk %llu has no jobs", (unsigned long long)ch->chunk_index);
    return SF_ERR_INVALID_ARGUMENT;
  }
  if (ch->n_prompt_len != n) {
    snprintf(err, errlen, "chunk %llu: %zu prompt lengths for %u jobs",
             (unsigned long long)ch->chunk_index, ch->n_prompt_len, n);
    return SF_ERR_PROTOCOL;
  }
  int seeds = ch->n_has_seed > 0 || ch->n_seeds > 0;
  if (seeds && (ch->n_has_seed != n || ch->n_seeds != n)) {
    snprintf(err, errlen, "chunk %llu: seeds/has_seed must be empty or have %u entries",
             (unsigned long long)ch->chunk_index, n);
    return SF_ERR_PROTOCOL;
  }
  if ((ch->n_steps && ch->n_steps != n) || (ch->n_width && ch->n_width != n) ||
      (ch->n_height && ch->n_height != n)) {
    snprintf(err, errlen, "chunk %llu: steps/width/height must be empty or have %u entries",
             (unsigned long long)ch->chunk_index, n);
    return SF_ERR_PROTOCOL;
  }
  uint64_t sum = 0, nseeds = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t idx = ch->first_index + i;
    uint32_t l = ch->prompt_len[i];
    if (l == 0 || l > SF_MAX_PROMPT_BYTES) {
      snprintf(err, errlen, "job %llu: prompt is %s (%u bytes; limit %u)", (unsigned long long)idx,
               l ? "too long" : "empty", l, SF_MAX_PROMPT_BYTES);
      return SF_ERR_INVALID_PROMPT;
    }
    if (sum + l > ch->prompts.len) {
      snprintf(err, errlen, "chunk %llu: prompt lengths exceed the %zu prompt bytes sent",
               (unsigned long long)ch->chunk_index, ch->prompts.len);
      return SF_ERR_PROTOCOL;
    }
    if (sf_prompt_check((const char *)ch->prompts.data + sum, l) != SF_OK) {
      snprintf(err, errlen, "job %llu: prompt is not valid UTF-8 or contains a NUL byte",
               (unsigned long long)idx);
      return SF_ERR_INVALID_PROMPT;
    }
    sum += l;
    if (seeds && ch->has_seed[i]) nseeds++;
    if (ch->n_steps && ch->steps[i]) {
      char who[40];
      snprintf(who, sizeof who, "job %llu", (unsigned long long)idx);
      sf_status st = sub_check_steps(model, ch->steps[i], who, err, errlen);
      if (st) return st;
      if (ch->steps[i] > 255) { /* stored as u8 (a model may list up to 1000) */
        snprintf(err, errlen, "job %llu: per-job steps %u: at most 255 (set them in the template)",
                 (unsigned long long)idx, ch->steps[i]);
        return SF_ERR_INVALID_STEPS;
      }
    }
    if ((ch->n_width && ch->width[i] && !sf_side_valid(ch->width[i])) ||
        (ch->n_height && ch->height[i] && !sf_side_valid(ch->height[i]))) {
      snprintf(err, errlen, "job %llu: size %ux%u must be %u..%u and a multiple of %u",
               (unsigned long long)idx, ch->n_width ? ch->width[i] : s->width,
               ch->n_height ? ch->height[i] : s->height, SF_MIN_SIDE, SF_MAX_SIDE, SF_SIDE_STEP);
      return SF_ERR_INVALID_SIZE;
    }
  }
  if (sum != ch->prompts.len) {
    snprintf(err, errlen, "chunk %llu: %zu prompt bytes sent but lengths add up to %llu",
             (unsigned long long)ch->chunk_index, ch->prompts.len, (unsigned long long)sum);
    return SF_ERR_PROTOCOL;
  }
  uint8_t flags = (uint8_t)((seeds && nseeds ? CF_SEEDS : 0) | (ch->n_steps ? CF_STEPS : 0) |
                            (ch->n_width ? CF_WIDTH : 0) | (ch->n_height ? CF_HEIGHT : 0));
  size_t cap = CHUNK_HEADER_BYTES + (size_t)n * 3 + sum;
  if (flags & CF_SEEDS) cap += (n + 7) / 8 + nseeds * 8;
  if (flags & CF_STEPS) cap += n;
  if (flags & CF_WIDTH) cap += n;
  if (flags & CF_HEIGHT) cap += n;
  uint8_t *b = malloc(cap);
  if (!b) return SF_ERR_NO_MEMORY;
  b[0] = 'S';
  b[1] = 'C';
  b[2] = 1;
  b[3] = flags;
  put_u32(b + 4, n);
  put_u64(b + 8, ch->first_index);
  size_t o = CHUNK_HEADER_BYTES;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t l = ch->prompt_len[i];
    while (l >= 0x80) {
      b[o++] = (uint8_t)(l | 0x80);
      l >>= 7;
    }
    b[o++] = (uint8_t)l;
  }
  if (flags & CF_SEEDS) {
    memset(b + o, 0, (n + 7) / 8);
    for (uint32_t i = 0; i < n; i++)
      if (ch->has_seed[i]) b[o + i / 8] |= (uint8_t)(1u << (i % 8));
    o += (n + 7) / 8;
    for (uint32_t i = 0; i < n; i++)
      if (ch->has_seed[i]) {
        put_u64(b + o, ch->seeds[i]);
        o += 8;
      }
  }
  if (flags & CF_STEPS)
    for (uint32_t i = 0; i < n; i++) b[o++] = (uint8_t)ch->steps[i];
  if (flags & CF_WIDTH)
    for (uint32_t i = 0; i < n; i++) b[o++] = (uint8_t)(ch->width[i] / SF_SIDE_STEP);
  if (flags & CF_HEIGHT)
    for (uint32_t i = 0; i < n; i++) b[o++] = (uint8_t)(ch->height[i] / SF_SIDE_STEP);
  memcpy(b + o, ch->prompts.data, sum);
  o += sum;
  *out = b;
  *out_len = o;
  return SF_OK;
}

void chunk_free(chunk_view **pv) {
  if (!pv || !*pv) return;
  chunk_view *v = *pv;
  free(v->blob);
  free(v->len);
  free(v->off);
  free(v->seed);
  free(v->explicit_seed);
  free(v->steps);
  free(v->width);
  free(v->height);
  free(v);
  *pv = NULL;
}

/* Decode a per-job u8 override array into effective u32 values (template where 0). */
static uint32_t *decode_override(const uint8_t *p, uint32_t n, uint32_t mul, uint32_t def) {
  uint32_t *a = malloc(sizeof *a * n);
  if (!a) return NULL;
  for (uint32_t i = 0; i < n; i++) a[i] = p[i] ? p[i] * mul : def;
  return a;
}

chunk_view *chunk_decode(const csub *s, uint64_t chunk_index, uint8_t *b, size_t len) {
  uint64_t first;
  uint32_t n;
  if (chunk_header(b, len, &first, &n) || n == 0 || n > 1u << 24) {
    free(b);
    return NULL;
  }
  chunk_view *v = calloc(1, sizeof *v);
  if (!v) {
    free(b);
    return NULL;
  }
  v->blob = b;
  v->blob_len = len;
  v->chunk_index = chunk_index;
  v->first = first;
  v->count = n;
  uint8_t flags = b[3];
  v->len = malloc(sizeof *v->len * n);
  v->off = malloc(sizeof *v->off * n);
  v->seed = malloc(sizeof *v->seed * n);
  if (!v->len || !v->off || !v->seed) goto corrupt;
  size_t o = CHUNK_HEADER_BYTES;
  uint64_t sum = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t l = 0;
    for (int shift = 0;; shift += 7) {
      if (o >= len || shift > 28) goto corrupt;
      uint8_t x = b[o++];
      l |= (uint32_t)(x & 0x7F) << shift;
      if (!(x & 0x80)) break;
    }
    v->len[i] = l;
    v->off[i] = (uint32_t)sum;
    sum += l;
  }
  uint64_t base = s->tpl ? s->tpl->base_seed : 0;
  if (flags & CF_SEEDS) {
    size_t bm = (n + 7) / 8;
    if (o + bm > len) goto corrupt;
    const uint8_t *bits = b + o;
    o += bm;
    v->explicit_seed = calloc(n, 1);
    if (!v->explicit_seed) goto corrupt;
    for (uint32_t i = 0; i < n; i++) {
      if (bits[i / 8] & (1u << (i % 8))) {
        if (o + 8 > len) goto corrupt;
        v->seed[i] = get_u64(b + o);
        v->explicit_seed[i] = 1;
        o += 8;
      } else {
        v->seed[i] = sf_seed_derive(base, first + i);
      }
    }
  } else {
    for (uint32_t i = 0; i < n; i++) v->seed[i] = sf_seed_derive(base, first + i);
  }
  if (flags & CF_STEPS) {
    if (o + n > len || !(v->steps = decode_override(b + o, n, 1, s->steps))) goto corrupt;
    o += n;
  }
  if (flags & CF_WIDTH) {
    if (o + n > len || !(v->width = decode_override(b + o, n, SF_SIDE_STEP, s->width))) goto corrupt;
    o += n;
  }
  if (flags & CF_HEIGHT) {
    if (o + n > len || !(v->height = decode_override(b + o, n, SF_SIDE_STEP, s->height)))
      goto corrupt;
    o += n;
  }
  if (len - o != sum) goto corrupt;
  v->prompts = b + o;
  return v;
corrupt:
  SF_ERROR("stored chunk %llu of %s is corrupt (%zu bytes)", (unsigned long long)chunk_index,
           s->name, len);
  chunk_free(&v);
  return NULL;
}
