/* sf_curve.c - CurveZMQ key files (public, secret, allow-lists), socket set-up and the client's
 * handshake monitor. File formats: sf_curve.h and docs/protocol.md "Security". */
#include "sf_curve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

int sf_curve_available(void) { return zmq_has("curve") ? 1 : 0; }

void sf_curve_wipe(void *p, size_t n) {
  if (p && n) explicit_bzero(p, n);
}

sf_status sf_curve_keypair(char pub[41], char sec[41], char *err, size_t errlen) {
  if (!sf_curve_available() || zmq_curve_keypair(pub, sec) != 0) {
    snprintf(err, errlen, "this libzmq has no CURVE support (it must be built with libsodium)");
    return SF_ERR_UNSUPPORTED;
  }
  return SF_OK;
}

/* 1 if s[0..len) is a valid Z85 key (40 characters that decode). */
static int z85_key_ok(const char *s, size_t len) {
  if (len != SF_CURVE_Z85_LEN) return 0;
  char tmp[SF_CURVE_Z85_LEN + 1];
  memcpy(tmp, s, len);
  tmp[len] = '\0';
  uint8_t bin[SF_CURVE_KEY_BYTES];
  int ok = zmq_z85_decode(bin, tmp) != NULL;
  sf_curve_wipe(tmp, sizeof tmp);
  sf_curve_wipe(bin, sizeof bin);
  return ok;
}

/* A key file being read line by line. */
typedef struct keyfile {
  FILE *f;
  const char *path;
  long line;                            /* number of the line in buf */
  char buf[SF_CURVE_MAX_LINE + 2];      /* one line (wiped on close) */
  char iobuf[4096];                     /* stdio's buffer, ours so that it can be wiped too */
} keyfile;

/* Open path, refuse files over SF_CURVE_MAX_FILE (and, if private, files group or others may
 * read). */
static sf_status kf_open(keyfile *k, const char *path, int private_file, char *err, size_t errlen) {
  memset(k, 0, sizeof *k);
  k->path = path;
  if (!path || !*path) {
    snprintf(err, errlen, "no key file given");
    return SF_ERR_CONFIG;
  }
  k->f = fopen(path, "re");
  if (!k->f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return SF_ERR_CONFIG;
  }
  setvbuf(k->f, k->iobuf, _IOFBF, sizeof k->iobuf);
  struct stat st;
  if (fstat(fileno(k->f), &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    fclose(k->f);
    return SF_ERR_CONFIG;
  }
  if ((unsigned long long)st.st_size > SF_CURVE_MAX_FILE) {
    snprintf(err, errlen, "%s: %lld bytes, over the limit of %u", path, (long long)st.st_size,
             SF_CURVE_MAX_FILE);
    fclose(k->f);
    return SF_ERR_CONFIG;
  }
  if (private_file && (st.st_mode & 077)) {
    snprintf(err, errlen,
             "%s: secret key file is accessible by group or others (mode %04o); chmod 600 it",
             path, (unsigned)(st.st_mode & 0777));
    fclose(k->f);
    return SF_ERR_CONFIG;
  }
  return SF_OK;
}

static void kf_close(keyfile *k) {
  if (k->f) fclose(k->f);
  k->f = NULL;
  sf_curve_wipe(k->buf, sizeof k->buf);
  sf_curve_wipe(k->iobuf, sizeof k->iobuf);
}

/* Next meaningful line: leading/trailing white space removed; blank lines and comment lines
 * ("#" alone or "# ...") skipped. Returns 1 with *line set, 0 at end, -1 on an error (err). */
static int kf_next(keyfile *k, char **line, char *err, size_t errlen) {
  while (fgets(k->buf, sizeof k->buf, k->f)) {
    k->line++;
    size_t n = strlen(k->buf);
    if (n == sizeof k->buf - 1 && k->buf[n - 1] != '\n') {
      snprintf(err, errlen, "%s line %ld: longer than %d bytes", k->path, k->line,
               SF_CURVE_MAX_LINE);
      return -1;
    }
    while (n && (k->buf[n - 1] == '\n' || k->buf[n - 1] == '\r' || k->buf[n - 1] == ' ' ||
                 k->buf[n - 1] == '\t'))
      k->buf[--n] = '\0';
    char *s = k->buf;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) continue;
    if (s[0] == '#' && (s[1] == '\0' || s[1] == ' ' || s[1] == '\t')) continue;
    *line = s;
    return 1;
  }
  if (ferror(k->f)) {
    snprintf(err, errlen, "%s: read error", k->path);
    return -1;
  }
  return 0;
}

/* Split "TOKEN [# comment]" : returns the token length, or 0 if anything else follows it. */
static size_t one_token(const char *s) {
  size_t n = strcspn(s, " \t");
  const char *r = s + n;
  while (*r == ' ' || *r == '\t') r++;
  if (*r && *r != '#') return 0;
  return n;
}

static void bad_key_line(keyfile *k, char *err, size_t errlen, const char *what) {
  snprintf(err, errlen,
           "%s line %ld: expected %s (a 40-character Z85 key, optionally followed by \"# comment\"; "
           "comment lines start with \"# \")",
           k->path, k->line, what);
}

sf_status sf_curve_read_public(const char *path, char pub[41], char *err, size_t errlen) {
  keyfile k;
  sf_status st = kf_open(&k, path, 0, err, errlen);
  if (st) return st;
  int found = 0, r;
  char *s;
  while ((r = kf_next(&k, &s, err, errlen)) == 1) {
    size_t n = one_token(s);
    if (!n || !z85_key_ok(s, n)) {
      bad_key_line(&k, err, errlen, "a public key");
      goto fail;
    }
    if (found) {
      snprintf(err, errlen, "%s line %ld: a second key (a public key file holds one)", path, k.line);
      goto fail;
    }
    memcpy(pub, s, SF_CURVE_Z85_LEN);
    pub[SF_CURVE_Z85_LEN] = '\0';
    found = 1;
  }
  if (r < 0) goto fail;
  if (!found) {
    snprintf(err, errlen, "%s: no public key in the file", path);
    goto fail;
  }
  kf_close(&k);
  return SF_OK;
fail:
  kf_close(&k);
  return SF_ERR_CONFIG;
}

sf_status sf_curve_read_pair(const char *path, char pub[41], char sec[41], char *err, size_t errlen) {
  keyfile k;
  sf_status st = kf_open(&k, path, 1, err, errlen);
  if (st) return st;
  int have_pub = 0, have_sec = 0, r;
  char *s;
  char derived[41];
  while ((r = kf_next(&k, &s, err, errlen)) == 1) {
    char *which = NULL;
    int is_sec = 0;
    if (strncmp(s, "public-key", 10) == 0 && (s[10] == ' ' || s[10] == '\t')) which = s + 10;
    else if (strncmp(s, "secret-key", 10) == 0 && (s[10] == ' ' || s[10] == '\t')) which = s + 10, is_sec = 1;
    if (!which) {
      snprintf(err, errlen, "%s line %ld: expected \"public-key KEY\" or \"secret-key KEY\"%s", path,
               k.line, strlen(s) == SF_CURVE_Z85_LEN ? " (is this a public key file?)" : "");
      goto fail;
    }
    while (*which == ' ' || *which == '\t') which++;
    size_t n = one_token(which);
    if (!n || !z85_key_ok(which, n)) {
      bad_key_line(&k, err, errlen, is_sec ? "secret-key KEY" : "public-key KEY");
      goto fail;
    }
    if ((is_sec && have_sec) || (!is_sec && have_pub)) {
      snprintf(err, errlen, "%s line %ld: %s given twice", path, k.line, is_sec ? "secret-key" : "public-key");
      goto fail;
    }
    memcpy(is_sec ? sec : pub, which, SF_CURVE_Z85_LEN);
    (is_sec ? sec : pub)[SF_CURVE_Z85_LEN] = '\0';
    if (is_sec) have_sec = 1;
    else have_pub = 1;
  }
  if (r < 0) goto fail;
  if (!have_sec || !have_pub) {
    snprintf(err, errlen, "%s: lacks the %s line (a key pair file made by `strike keygen`)", path,
             have_sec ? "public-key" : "secret-key");
    goto fail;
  }
  if (zmq_curve_public(derived, sec) != 0 || strcmp(derived, pub) != 0) {
    snprintf(err, errlen, "%s: the public-key does not belong to the secret-key", path);
    goto fail;
  }
  sf_curve_wipe(derived, sizeof derived);
  kf_close(&k);
  return SF_OK;
fail:
  sf_curve_wipe(derived, sizeof derived);
  sf_curve_wipe(sec, 41);
  kf_close(&k);
  return SF_ERR_CONFIG;
}

static int key_cmp(const void *a, const void *b) { return memcmp(a, b, SF_CURVE_KEY_BYTES); }

sf_status sf_curve_allow_load(const char *path, sf_curve_allow **out, char *err, size_t errlen) {
  *out = NULL;
  keyfile k;
  sf_status st = kf_open(&k, path, 0, err, errlen);
  if (st) return st;
  sf_curve_allow *a = calloc(1, sizeof *a);
  size_t cap = 0;
  if (!a) {
    snprintf(err, errlen, "out of memory");
    kf_close(&k);
    return SF_ERR_NO_MEMORY;
  }
  snprintf(a->path, sizeof a->path, "%s", path);
  int r;
  char *s;
  while ((r = kf_next(&k, &s, err, errlen)) == 1) {
    size_t n = one_token(s);
    if (!n || !z85_key_ok(s, n)) {
      bad_key_line(&k, err, errlen, "a public key");
      st = SF_ERR_CONFIG;
      goto fail;
    }
    if (a->n == SF_CURVE_MAX_KEYS) {
      snprintf(err, errlen, "%s line %ld: more than %d keys", path, k.line, SF_CURVE_MAX_KEYS);
      st = SF_ERR_CONFIG;
      goto fail;
    }
    if (a->n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      void *p = realloc(a->keys, nc * sizeof *a->keys);
      if (!p) {
        snprintf(err, errlen, "out of memory reading %s", path);
        st = SF_ERR_NO_MEMORY;
        goto fail;
      }
      a->keys = p;
      cap = nc;
    }
    s[n] = '\0';
    zmq_z85_decode(a->keys[a->n++], s);
  }
  if (r < 0) {
    st = SF_ERR_CONFIG;
    goto fail;
  }
  if (a->n) qsort(a->keys, a->n, sizeof *a->keys, key_cmp);
  kf_close(&k);
  *out = a;
  return SF_OK;
fail:
  kf_close(&k);
  sf_curve_allow_free(&a);
  return st;
}

void sf_curve_allow_free(sf_curve_allow **pa) {
  if (!pa || !*pa) return;
  free((*pa)->keys);
  free(*pa);
  *pa = NULL;
}

int sf_curve_allow_has(const sf_curve_allow *a, const uint8_t *key) {
  if (!a || !a->n) return 0;
  return bsearch(key, a->keys, a->n, sizeof *a->keys, key_cmp) != NULL;
}

sf_status sf_curve_client_setup(void *sock, const char *server_key_file, const char *key_file,
                                char own_pub[41], char *err, size_t errlen) {
  int have_server = server_key_file && *server_key_file, have_own = key_file && *key_file;
  if (!have_server && !have_own) return SF_OK;
  if (!have_server || !have_own) {
    snprintf(err, errlen, "CURVE needs both curve-server-key (the coordinator's public key file) "
                          "and curve-key (this side's key pair file); only %s is set",
             have_server ? "curve-server-key" : "curve-key");
    return SF_ERR_CONFIG;
  }
  if (!sf_curve_available()) {
    snprintf(err, errlen, "CURVE security is configured but this libzmq has no CURVE support "
                          "(it must be built with libsodium)");
    return SF_ERR_CONFIG;
  }
  char server[41], pub[41], sec[41];
  sf_status st = sf_curve_read_public(server_key_file, server, err, errlen);
  if (st) return st;
  st = sf_curve_read_pair(key_file, pub, sec, err, errlen);
  if (st) return st;
  if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 41) != 0 ||
      zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 41) != 0 ||
      zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 41) != 0) {
    snprintf(err, errlen, "cannot set the CURVE keys on the socket: %s", zmq_strerror(errno));
    st = SF_ERR_CONFIG;
  }
  sf_curve_wipe(sec, sizeof sec);
  if (own_pub) memcpy(own_pub, pub, 41);
  return st;
}

int sf_curve_server_setup(void *sock, const char *sec_z85, const char *zap_domain) {
  int one = 1;
  if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
      zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec_z85, SF_CURVE_Z85_LEN + 1) != 0 ||
      zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain)) != 0)
    return -1;
  return 0;
}

void *sf_curve_monitor_open(void *ctx, void *sock) {
  static unsigned long seq; /* unique endpoint per monitor, even for a reused socket address */
  char ep[96];
  snprintf(ep, sizeof ep, "inproc://strike-curve-monitor-%p-%lu", sock,
           __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
  int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
  if (zmq_socket_monitor(sock, ep, events) != 0) return NULL;
  void *mon = zmq_socket(ctx, ZMQ_PAIR);
  int linger = 0;
  if (!mon) return NULL;
  zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_connect(mon, ep) != 0) {
    zmq_close(mon);
    return NULL;
  }
  return mon;
}

int sf_monitor_event_recv(void *mon, uint16_t *ev, uint32_t *val) {
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&m);
    return 0;
  }
  *ev = 0;
  *val = 0;
  if (zmq_msg_size(&m) >= 6) { /* event (16 bits) then value (32 bits), host order */
    memcpy(ev, zmq_msg_data(&m), 2);
    memcpy(val, (const char *)zmq_msg_data(&m) + 2, 4);
  }
  int more = zmq_msg_more(&m);
  zmq_msg_close(&m);
  while (more) { /* the endpoint frame */
    zmq_msg_init(&m);
    more = zmq_msg_recv(&m, mon, 0) >= 0 && zmq_msg_more(&m);
    zmq_msg_close(&m);
  }
  return 1;
}

sf_status sf_curve_monitor_check(void *mon, int curve_on, int *vague, char *err, size_t errlen) {
  if (!mon) return SF_OK;
  sf_status st = SF_OK;
  uint16_t ev;
  uint32_t val;
  for (int i = 0; i < 64 && sf_monitor_event_recv(mon, &ev, &val); i++) {
    if (st != SF_OK) continue; /* keep the first failure's message; drain the rest */
    int definite = ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                   (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                    val == (uint32_t)ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH);
    if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      *vague = 0;
      continue;
    }
    if (!definite && ++*vague < SF_CURVE_VAGUE_FAILURES) continue;
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      snprintf(err, errlen, "the coordinator refused this side's CURVE key (ZAP status %u): its "
                            "public key is not on the coordinator's allow-list", (unsigned)val);
      st = SF_ERR_AUTH;
    } else if (!curve_on && (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                             ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
      snprintf(err, errlen, "security mismatch: the coordinator requires CURVE encryption and this "
                            "side is plaintext (set curve-server-key and curve-key)");
      st = SF_ERR_AUTH;
    } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
               val == (uint32_t)ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
      snprintf(err, errlen, "security mismatch: this side uses CURVE encryption and the coordinator "
                            "does not (it has no curve-secret-key)");
      st = SF_ERR_AUTH;
    } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      snprintf(err, errlen, "the security handshake with the coordinator failed (event 0x%x, "
                            "detail 0x%x): is curve-server-key the coordinator's public key?",
               (unsigned)ev, (unsigned)val);
      st = SF_ERR_AUTH;
    }
  }
  return st;
}
