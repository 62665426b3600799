/* sf_log.c - leveled stderr logging with rate limiting (see sf_log.h). */
#include "sf_log.h"
#include "sf_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_program = "strike";
static sf_log_level g_level = SF_LOG_INFO;

void sf_log_set_program(const char *name) { g_program = name ? name : "strike"; }
void sf_log_set_level(sf_log_level level) { g_level = level; }
sf_log_level sf_log_get_level(void) { return g_level; }

int sf_log_parse_level(const char *s, sf_log_level *out) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, names[i]) == 0) {
      *out = (sf_log_level)i;
      return 0;
    }
  }
  return -1;
}

static const char *level_name(sf_log_level l) {
  switch (l) {
  case SF_LOG_ERROR: return "ERROR";
  case SF_LOG_WARN: return "WARN";
  case SF_LOG_INFO: return "INFO";
  case SF_LOG_DEBUG: return "DEBUG";
  }
  return "?";
}

/* Formats the whole line into one buffer and writes it with one call, so lines from several
 * processes sharing stderr do not interleave mid-line. */
static void log_v(sf_log_level level, const char *suffix, const char *fmt, va_list ap) {
  char line[2048];
  uint64_t ms = sf_wall_ms();
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (int)(ms % 1000), g_program, (int)getpid(), level_name(level));
  if (n < 0) return;
  if ((size_t)n < sizeof line) {
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m > 0) n += m;
  }
  if ((size_t)n >= sizeof line - 2) n = (int)sizeof line - 2;
  if (suffix && *suffix) {
    int m = snprintf(line + n, sizeof line - (size_t)n, "%s", suffix);
    if (m > 0) n += m;
    if ((size_t)n >= sizeof line - 2) n = (int)sizeof line - 2;
  }
  line[n++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
}

void sf_log(sf_log_level level, const char *fmt, ...) {
  if (level > g_level) return;
  va_list ap;
  va_start(ap, fmt);
  log_v(level, NULL, fmt, ap);
  va_end(ap);
}

void sf_log_rl(sf_ratelimit *rl, sf_log_level level, const char *fmt, ...) {
  if (level > g_level) return;
  uint64_t now = sf_now_ms();
  uint64_t period = rl->period_ms ? rl->period_ms : 1000;
  uint32_t burst = rl->burst ? rl->burst : 5;
  if (now - rl->window_start >= period) {
    rl->window_start = now;
    rl->in_window = 0;
  }
  if (rl->in_window >= burst) {
    rl->suppressed++;
    return;
  }
  rl->in_window++;
  char suffix[64] = "";
  if (rl->suppressed) {
    snprintf(suffix, sizeof suffix, " (%llu similar suppressed)",
             (unsigned long long)rl->suppressed);
    rl->suppressed = 0;
  }
  va_list ap;
  va_start(ap, fmt);
  log_v(level, suffix, fmt, ap);
  va_end(ap);
}

int sf_log_rl_flush(sf_ratelimit *rl, sf_log_level level, const char *what) {
  if (!rl->suppressed) return 0;
  uint64_t period = rl->period_ms ? rl->period_ms : 1000;
  if (sf_now_ms() - rl->window_start < period) return 0;
  unsigned long long n = (unsigned long long)rl->suppressed;
  rl->suppressed = 0;
  if (level > g_level) return 0;
  sf_log(level, "%s: %llu similar lines suppressed", what ? what : "log", n);
  return 1;
}
