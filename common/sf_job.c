/* sf_job.c - job limits, validation, the seed rule and the output path rule (see sf_job.h). */
#include "sf_job.h"

#include <stdio.h>
#include <string.h>

uint64_t sf_seed_derive(uint64_t base_seed, uint64_t index) {
  return (base_seed + index) & 0xFFFFFFFFull;
}

int sf_output_path(char *buf, size_t cap, const char *root, const char *submission_id,
                   const char *prefix, uint64_t index) {
  int n = snprintf(buf, cap, "%s/%s/%06llu/%s%09llu.png", root ? root : "", submission_id,
                   (unsigned long long)(index / SF_FILES_PER_DIR), prefix ? prefix : "",
                   (unsigned long long)index);
  if (n < 0 || (size_t)n >= cap) return -1;
  return n;
}

int sf_steps_valid(uint32_t steps) {
  return steps >= 1 && steps <= SF_MAX_STEPS;
}

int sf_side_valid(uint32_t side) {
  return side >= SF_MIN_SIDE && side <= SF_MAX_SIDE && side % SF_SIDE_STEP == 0;
}

int sf_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
    else return 0;
    if (len - i - 1 < need) return 0;
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += need + 1;
  }
  return 1;
}

sf_status sf_prompt_check(const char *s, size_t len) {
  if (len == 0 || len > SF_MAX_PROMPT_BYTES) return SF_ERR_INVALID_PROMPT;
  if (memchr(s, '\0', len)) return SF_ERR_INVALID_PROMPT;
  if (!sf_utf8_valid(s, len)) return SF_ERR_INVALID_PROMPT;
  return SF_OK;
}

int sf_prefix_valid(const char *s) {
  size_t n = strlen(s);
  if (n > SF_MAX_PREFIX_BYTES || (n && s[0] == '.')) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}
