/* sf_log.h - leveled logging to stderr for the farm binaries, plus a rate limiter for messages
 * a misbehaving peer could trigger at line rate.
 *
 * Line format: "2026-11-25T18:00:00.123Z strike-coordinator[1234] WARN message". */
#ifndef STRIKE_SF_LOG_H
#define STRIKE_SF_LOG_H
#include <stdint.h>

typedef enum sf_log_level {
  SF_LOG_ERROR = 0,
  SF_LOG_WARN = 1,
  SF_LOG_INFO = 2,
  SF_LOG_DEBUG = 3,
} sf_log_level;

/* Program name shown in every line (default "strike"); the string must outlive the process. */
void sf_log_set_program(const char *name);
/* Lines above this level are dropped (default SF_LOG_INFO). */
void sf_log_set_level(sf_log_level level);
sf_log_level sf_log_get_level(void);
/* Parse "error", "warn", "info" or "debug"; returns 0 and sets *out, or -1 if unknown. */
int sf_log_parse_level(const char *s, sf_log_level *out);

/* Print one line at `level` (printf format; a trailing newline is added). */
void sf_log(sf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rate limiter: at most `burst` lines per `period_ms`; the rest are counted and reported in the
 * next line that gets through ("(N similar suppressed)"). Zero-initialise, then set the fields. */
typedef struct sf_ratelimit {
  uint64_t period_ms;     /* window length; 0 means 1000 */
  uint32_t burst;         /* lines allowed per window; 0 means 5 */
  uint64_t window_start;  /* start of the current window (monotonic ms) */
  uint32_t in_window;     /* lines printed in the current window */
  uint64_t suppressed;    /* lines dropped since the last printed one */
} sf_ratelimit;

/* Like sf_log, but drops lines beyond the limiter's budget. */
void sf_log_rl(sf_ratelimit *rl, sf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Call periodically (the coordinator does every loop iteration): once the window in which lines
 * were suppressed is over, log "<what>: N similar lines suppressed" at `level`, so a burst that
 * is not followed by another line of the same limiter is still accounted for. Returns 1 if it
 * logged. */
int sf_log_rl_flush(sf_ratelimit *rl, sf_log_level level, const char *what);

#define SF_ERROR(...) sf_log(SF_LOG_ERROR, __VA_ARGS__)
#define SF_WARN(...) sf_log(SF_LOG_WARN, __VA_ARGS__)
#define SF_INFO(...) sf_log(SF_LOG_INFO, __VA_ARGS__)
#define SF_DEBUG(...) \
  do { if (sf_log_get_level() >= SF_LOG_DEBUG) sf_log(SF_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
