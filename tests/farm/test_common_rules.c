/* test_common_rules.c - strike_common's rules and helpers: the config table (defaults, file,
 * flags, precedence, errors), the seed rule, the output path rule, UTF-8 and prompt checks, and
 * that every status code has a message and a name. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sf_config.h"
#include "sf_job.h"
#include "sf_log.h"
#include "sf_status.h"
#include "test_util.h"

typedef struct tcfg {
  char *name;
  unsigned long long n;
  long long i;
  int flag;
  double x;
} tcfg;

static const sf_cfg_entry table[] = {
    {"name", SF_CFG_STRING, offsetof(tcfg, name), "default", "a name"},
    {"count-max", SF_CFG_UINT, offsetof(tcfg, n), "10", "a count"},
    {"offset", SF_CFG_INT, offsetof(tcfg, i), "-5", "an int"},
    {"verbose", SF_CFG_BOOL, offsetof(tcfg, flag), "false", "a flag"},
    {"ratio", SF_CFG_DOUBLE, offsetof(tcfg, x), "0.5", "a double"},
};
#define N (sizeof table / sizeof table[0])

static void test_config(void) {
  tcfg c;
  memset(&c, 0, sizeof c);
  char err[256];
  char path[] = "/tmp/strike-cfg-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const char *text = "# comment\n name = \"from file\"\ncount_max=20\n\nverbose = yes\n";
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  char *argv[] = {"prog", "--config", path, "--count-max=30", "--no-verbose", "--ratio", "2.5",
                  "--", "pos"};
  sf_cfg_parse p = {.program = "prog"};
  CHECK(sf_config_parse(table, N, &c, 9, argv, &p, err, sizeof err) == SF_OK);
  CHECK(strcmp(c.name, "from file") == 0); /* file over default */
  CHECK(c.n == 30);                         /* flag over file */
  CHECK(c.i == -5 && c.flag == 0 && c.x == 2.5);
  CHECK(p.first_arg == 8 && !p.help);
  char *bad1[] = {"prog", "--count-max", "-3"};
  CHECK(sf_config_parse(table, N, &c, 3, bad1, &p, err, sizeof err) == SF_ERR_CONFIG &&
        strstr(err, "count-max") != NULL);
  char *bad2[] = {"prog", "--nope"};
  CHECK(sf_config_parse(table, N, &c, 2, bad2, &p, err, sizeof err) == SF_ERR_CONFIG &&
        strstr(err, "nope") != NULL);
  char *bad3[] = {"prog", "--offset"};
  CHECK(sf_config_parse(table, N, &c, 2, bad3, &p, err, sizeof err) == SF_ERR_CONFIG);
  FILE *f = fopen(path, "w");
  fputs("name = x\nthis line is wrong\n", f);
  fclose(f);
  char *bad4[] = {"prog", "--config", path};
  CHECK(sf_config_parse(table, N, &c, 3, bad4, &p, err, sizeof err) == SF_ERR_CONFIG &&
        strstr(err, ":2:") != NULL);
  unlink(path);
  sf_config_free(table, N, &c);
  CHECK(c.name == NULL);
}

static void test_rules(void) {
  CHECK(sf_seed_derive(42, 0) == 42 && sf_seed_derive(42, 7) == 49);
  CHECK(sf_seed_derive(0xFFFFFFFFull, 1) == 0); /* wraps at 2^32 */
  char buf[256];
  CHECK(sf_output_path(buf, sizeof buf, "/data", "s7", "img", 12345) > 0 &&
        strcmp(buf, "/data/s7/000012/img000012345.png") == 0);
  CHECK(sf_output_path(buf, 10, "/data", "s7", "img", 1) == -1);
  CHECK(sf_steps_valid(1) && sf_steps_valid(3) && sf_steps_valid(SF_MAX_STEPS) &&
        !sf_steps_valid(0) && !sf_steps_valid(SF_MAX_STEPS + 1));
  CHECK(sf_side_valid(64) && sf_side_valid(1024) && !sf_side_valid(1000) && !sf_side_valid(0) &&
        !sf_side_valid(4160));
  CHECK(sf_utf8_valid("h\xc3\xa9llo", 6));
  CHECK(!sf_utf8_valid("\xc3\x28", 2));        /* bad continuation */
  CHECK(!sf_utf8_valid("\xc0\xaf", 2));        /* overlong */
  CHECK(!sf_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
  CHECK(!sf_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
  CHECK(!sf_utf8_valid("\xe2\x82", 2));        /* truncated */
  CHECK(sf_prompt_check("a cat", 5) == SF_OK);
  CHECK(sf_prompt_check("", 0) == SF_ERR_INVALID_PROMPT);
  CHECK(sf_prompt_check("a\0b", 3) == SF_ERR_INVALID_PROMPT);
  CHECK(sf_prefix_valid("img_01-x.") && !sf_prefix_valid("a/b") && !sf_prefix_valid(".hidden"));
  for (int s = 0; s < SF_STATUS_COUNT; s++) {
    CHECK(strcmp(sf_strerror((sf_status)s), "unknown status") != 0);
    CHECK(strcmp(sf_status_name((sf_status)s), "unknown") != 0);
  }
  CHECK(strcmp(sf_strerror((sf_status)SF_STATUS_COUNT), "unknown status") == 0);
}

/* Rate-limited logging: a burst beyond the budget is suppressed, and the number suppressed is
 * logged by sf_log_rl_flush once the window is over even when no later line comes. stderr goes
 * to a temporary file for the duration. */
static void test_ratelimit(void) {
  char path[] = "/tmp/strike-log-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  sf_ratelimit rl;
  memset(&rl, 0, sizeof rl);
  rl.period_ms = 20;
  rl.burst = 2;
  for (int i = 0; i < 10; i++) sf_log_rl(&rl, SF_LOG_WARN, "bad frame %d", i);
  int early = sf_log_rl_flush(&rl, SF_LOG_WARN, "x"); /* window not over yet (unless very slow) */
  struct timespec ts = {0, 30 * 1000000L};
  nanosleep(&ts, NULL);
  int flushed = sf_log_rl_flush(&rl, SF_LOG_WARN, "bad frames");
  int again = sf_log_rl_flush(&rl, SF_LOG_WARN, "bad frames");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char text[4096] = "";
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  text[n] = '\0';
  if (f) fclose(f);
  close(fd);
  unlink(path);
  CHECK(strstr(text, "bad frame 0") && strstr(text, "bad frame 1") && !strstr(text, "bad frame 2"));
  CHECK(flushed + early == 1 && again == 0);
  CHECK_MSG(strstr(text, ": 8 similar lines suppressed") != NULL, "log was: %s", text);
}

int main(void) {
  test_config();
  test_rules();
  test_ratelimit();
  return test_report("farm_common_rules");
}
