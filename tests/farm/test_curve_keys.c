/* test_curve_keys.c - common/sf_curve.c on real files: key pairs from zmq_curve_keypair written
 * in the documented formats and read back; comments; errors that name the file and the line
 * (bad key, second key, overlong line, pair that does not belong together, secret file readable
 * by others, one of the two client settings only); allow-list lookups. Exit 77 without CURVE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "sf_curve.h"
#include "test_util.h"

static char g_dir[256];

/* Write text to DIR/name with mode; returns the path (static buffer rotation of 8). */
static const char *put(const char *name, const char *text, mode_t mode) {
  static char paths[8][512];
  static int k;
  char *p = paths[k++ % 8];
  snprintf(p, 512, "%s/%s", g_dir, name);
  FILE *f = fopen(p, "w");
  if (!f) return p;
  fputs(text, f);
  fclose(f);
  chmod(p, mode);
  return p;
}

int main(void) {
  if (!sf_curve_available()) {
    printf("no CURVE in this libzmq: skipped\n");
    return 77;
  }
  snprintf(g_dir, sizeof g_dir, "%s/strike-curve-keys-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  CHECK(mkdtemp(g_dir) != NULL);
  char pub[41], sec[41], pub2[41], sec2[41], got[41], gsec[41], err[512], text[1024];
  CHECK(sf_curve_keypair(pub, sec, err, sizeof err) == SF_OK);
  CHECK(sf_curve_keypair(pub2, sec2, err, sizeof err) == SF_OK);
  CHECK(strlen(pub) == 40 && strlen(sec) == 40 && strcmp(pub, pub2) != 0);

  /* public file with comments and a trailing comment */
  snprintf(text, sizeof text, "# a comment\n\n   %s   # the coordinator\n#\n", pub);
  const char *p = put("a.pub", text, 0644);
  CHECK(sf_curve_read_public(p, got, err, sizeof err) == SF_OK);
  CHECK(strcmp(got, pub) == 0);
  /* two keys, a bad key, a "#comment" without a space, an empty file */
  snprintf(text, sizeof text, "%s\n%s\n", pub, pub2);
  p = put("two.pub", text, 0644);
  CHECK(sf_curve_read_public(p, got, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "two.pub line 2") != NULL, "%s", err);
  p = put("bad.pub", "# ok\nnot-a-key\n", 0644);
  CHECK(sf_curve_read_public(p, got, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "bad.pub line 2") != NULL, "%s", err);
  snprintf(text, sizeof text, "%.39s\n", pub); /* one character short */
  p = put("short.pub", text, 0644);
  CHECK(sf_curve_read_public(p, got, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "short.pub line 1") != NULL, "%s", err);
  p = put("empty.pub", "# nothing\n", 0644);
  CHECK(sf_curve_read_public(p, got, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "no public key") != NULL, "%s", err);
  CHECK(sf_curve_read_public("/nonexistent/x.pub", got, err, sizeof err) == SF_ERR_CONFIG);

  /* key pair files */
  snprintf(text, sizeof text, "# secret\npublic-key %s\nsecret-key %s # mine\n", pub, sec);
  p = put("a.key", text, 0600);
  CHECK(sf_curve_read_pair(p, got, gsec, err, sizeof err) == SF_OK);
  CHECK(strcmp(got, pub) == 0 && strcmp(gsec, sec) == 0);
  p = put("open.key", text, 0640);
  CHECK(sf_curve_read_pair(p, got, gsec, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "chmod 600") != NULL, "%s", err);
  snprintf(text, sizeof text, "public-key %s\nsecret-key %s\n", pub2, sec); /* not a pair */
  p = put("mixed.key", text, 0600);
  CHECK(sf_curve_read_pair(p, got, gsec, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "does not belong") != NULL, "%s", err);
  snprintf(text, sizeof text, "public-key %s\n", pub);
  p = put("half.key", text, 0600);
  CHECK(sf_curve_read_pair(p, got, gsec, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "secret-key") != NULL, "%s", err);
  /* a public key file given as a key pair: says so, and never echoes file content */
  p = put("pub-as.key", "# x\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", 0600);
  CHECK(sf_curve_read_pair(p, got, gsec, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "pub-as.key line 2") != NULL && strstr(err, "AAAA") == NULL, "%s", err);

  /* allow-lists */
  snprintf(text, sizeof text, "# workers\n%s # w1\n\n%s\n%s\n", pub, pub2, pub);
  p = put("allow", text, 0644);
  sf_curve_allow *a = NULL;
  CHECK(sf_curve_allow_load(p, &a, err, sizeof err) == SF_OK);
  CHECK(a && a->n == 3);
  uint8_t k1[32], k2[32], k3[32];
  CHECK(zmq_z85_decode(k1, pub) && zmq_z85_decode(k2, pub2));
  char pub3[41], sec3[41];
  CHECK(sf_curve_keypair(pub3, sec3, err, sizeof err) == SF_OK);
  CHECK(zmq_z85_decode(k3, pub3) != NULL);
  CHECK(sf_curve_allow_has(a, k1) && sf_curve_allow_has(a, k2) && !sf_curve_allow_has(a, k3));
  sf_curve_allow_free(&a);
  CHECK(a == NULL);
  sf_curve_allow_free(&a); /* twice is harmless */
  snprintf(text, sizeof text, "%s\n# ok\n%s extra\n", pub, pub2);
  p = put("allow-bad", text, 0644);
  CHECK(sf_curve_allow_load(p, &a, err, sizeof err) == SF_ERR_CONFIG && a == NULL);
  CHECK_MSG(strstr(err, "allow-bad line 3") != NULL, "%s", err);
  static char longline[3000];
  memset(longline, 'x', 2000);
  longline[2000] = '\n';
  p = put("allow-long", longline, 0644);
  CHECK(sf_curve_allow_load(p, &a, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "allow-long line 1: longer than") != NULL, "%s", err);
  p = put("allow-empty", "# nobody yet\n", 0644);
  CHECK(sf_curve_allow_load(p, &a, err, sizeof err) == SF_OK && a && a->n == 0);
  CHECK(!sf_curve_allow_has(a, k1));
  sf_curve_allow_free(&a);

  /* client set-up: both or neither */
  void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
  char own[41] = "";
  CHECK(sf_curve_client_setup(s, "", "", own, err, sizeof err) == SF_OK && own[0] == '\0');
  CHECK(sf_curve_client_setup(s, put("s.pub", pub, 0644), "", own, err, sizeof err) == SF_ERR_CONFIG);
  CHECK_MSG(strstr(err, "needs both") != NULL, "%s", err);
  snprintf(text, sizeof text, "public-key %s\nsecret-key %s\n", pub2, sec2);
  CHECK(sf_curve_client_setup(s, put("s2.pub", pub, 0644), put("c.key", text, 0600), own, err,
                              sizeof err) == SF_OK);
  CHECK(strcmp(own, pub2) == 0);
  zmq_close(s);
  zmq_ctx_term(ctx);
  sf_curve_wipe(sec, sizeof sec);
  CHECK(sec[0] == 0 && sec[39] == 0);

  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  CHECK(system(cmd) == 0);
  return test_report("farm_curve_keys");
}
