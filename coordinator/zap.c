/* zap.c - CURVE security of the coordinator: the key pair, the allow-lists of worker and client
 * public keys, and the ZAP handler that enforces them.
 *
 * With curve-secret-key set, both ROUTER sockets are CURVE servers (every byte on the wire is
 * encrypted) with their own ZAP domain (SF_ZAP_DOMAIN_WORKERS / _CLIENTS). ZeroMQ asks the ZAP
 * handler, a REP socket bound at inproc://zeromq.zap.01 in the coordinator's context, about every
 * new connection (RFC 27/ZAP); the handler is one more item of the coordinator's zmq_poll loop and
 * never blocks. It accepts a key listed in the allow-list of the socket's domain (any key when that
 * side has no list), refuses the others (ZAP status 400: the peer's handshake fails with
 * ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), logs refusals rate-limited and counts them in
 * coord.stats.curve_refused_workers / curve_refused_clients. Handshakes that fail before ZAP (a
 * plaintext peer, a peer with the wrong server key) are seen by a monitor on each ROUTER, read
 * every iteration: logged rate-limited and counted in curve_failed_workers / _clients. SIGHUP
 * reloads the allow-lists (a bad file keeps the lists in use and logs why). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "coord.h"
#include "sf_curve.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_BATCH 64       /* requests answered per loop iteration */
#define ZAP_FRAMES 8       /* frames kept of one request (CURVE sends 7) */
#define ZAP_FRAME_MAX 256  /* bytes kept of each frame */

static volatile sig_atomic_t g_reload; /* SIGHUP seen: reload the allow-lists */

static void on_sighup(int sig) {
  (void)sig;
  g_reload = 1;
}

/* Load both allow-lists into *w and *cl (NULL where none is configured). */
static sf_status load_lists(coord *c, sf_curve_allow **w, sf_curve_allow **cl, char *err,
                            size_t errlen) {
  *w = *cl = NULL;
  const char *wf = c->cfg.curve_allow_workers, *cf = c->cfg.curve_allow_clients;
  char e[400];
  if (wf && *wf && sf_curve_allow_load(wf, w, e, sizeof e) != SF_OK) {
    snprintf(err, errlen, "curve-allow-workers: %s", e);
    return SF_ERR_CONFIG;
  }
  if (cf && *cf && sf_curve_allow_load(cf, cl, e, sizeof e) != SF_OK) {
    snprintf(err, errlen, "curve-allow-clients: %s", e);
    sf_curve_allow_free(w);
    return SF_ERR_CONFIG;
  }
  return SF_OK;
}

sf_status zap_start(coord *c, char sec[41], char *err, size_t errlen) {
  sec[0] = '\0';
  /* SIGHUP reloads the allow-lists; without them it is logged and ignored (never a stop without
   * the last commit, which is what its default action would be): `systemctl reload` is safe. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sighup;
  sa.sa_flags = SA_RESTART; /* blocking Redis reads go on; zmq_poll returns EINTR and the loop ticks */
  sigaction(SIGHUP, &sa, NULL);
  const char *kf = c->cfg.curve_secret_key;
  int lists = (c->cfg.curve_allow_workers && *c->cfg.curve_allow_workers) ||
              (c->cfg.curve_allow_clients && *c->cfg.curve_allow_clients);
  if (!kf || !*kf) {
    if (lists) {
      snprintf(err, errlen, "curve-allow-workers / curve-allow-clients need curve-secret-key "
                            "(the coordinator's key pair) to be set");
      return SF_ERR_CONFIG;
    }
    return SF_OK; /* plaintext */
  }
  if (!sf_curve_available()) {
    snprintf(err, errlen, "curve-secret-key is set but this libzmq has no CURVE support (it must "
                          "be built with libsodium): refusing to start without encryption");
    return SF_ERR_CONFIG;
  }
  char pub[41], e[400];
  if (sf_curve_read_pair(kf, pub, sec, e, sizeof e) != SF_OK) {
    snprintf(err, errlen, "curve-secret-key: %s", e);
    return SF_ERR_CONFIG;
  }
  if (load_lists(c, &c->allow_workers, &c->allow_clients, err, errlen) != SF_OK) goto fail;
  c->zap = zmq_socket(c->zctx, ZMQ_REP);
  int linger = 0;
  if (!c->zap || zmq_setsockopt(c->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
      zmq_bind(c->zap, ZAP_ENDPOINT) != 0) {
    snprintf(err, errlen, "cannot bind the ZAP handler at %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
    goto fail;
  }
  c->zap_rl.burst = 10;
  c->zap_rl.period_ms = 10000;
  for (int i = 0; i < 2; i++) {
    c->zap_fail_rl[i].burst = 10;
    c->zap_fail_rl[i].period_ms = 10000;
  }
  SF_INFO("CURVE security on: coordinator public key %s", pub);
  if (c->allow_workers)
    SF_INFO("workers: %zu allowed keys (%s)", c->allow_workers->n, c->allow_workers->path);
  else
    SF_WARN("workers: no curve-allow-workers list: any worker that knows the coordinator's public key may connect");
  if (c->allow_clients)
    SF_INFO("clients: %zu allowed keys (%s)", c->allow_clients->n, c->allow_clients->path);
  else
    SF_WARN("clients: no curve-allow-clients list: any client that knows the coordinator's public key may connect");
  return SF_OK;
fail:
  sf_curve_wipe(sec, 41);
  sec[0] = '\0';
  zap_stop(c);
  return SF_ERR_CONFIG;
}

void zap_stop(coord *c) {
  for (int i = 0; i < 2; i++) {
    if (c->zap_mon[i]) zmq_close(c->zap_mon[i]);
    c->zap_mon[i] = NULL;
  }
  if (c->zap) zmq_close(c->zap);
  c->zap = NULL;
  sf_curve_allow_free(&c->allow_workers);
  sf_curve_allow_free(&c->allow_clients);
}

/* Send the ZAP reply: version, request id, status code and text, user id, metadata. */
static void zap_reply(void *sock, const uint8_t *rid, size_t rid_len, const char *code,
                      const char *text, const char *user) {
  zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
  zmq_send(sock, rid, rid_len, ZMQ_SNDMORE);
  zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
  zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
  zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
  zmq_send(sock, "", 0, 0);
}

/* Answer one ZAP request. Returns 0, or -1 when nothing was waiting. */
static int zap_one(coord *c) {
  uint8_t fr[ZAP_FRAMES][ZAP_FRAME_MAX];
  size_t len[ZAP_FRAMES] = {0};
  int n = 0, more = 1;
  while (more) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
      zmq_msg_close(&m);
      if (n == 0) return -1;
      break;
    }
    if (n < ZAP_FRAMES) {
      size_t sz = zmq_msg_size(&m);
      len[n] = sz > ZAP_FRAME_MAX ? ZAP_FRAME_MAX : sz;
      memcpy(fr[n], zmq_msg_data(&m), len[n]);
      if (sz > ZAP_FRAME_MAX) len[n] = ZAP_FRAME_MAX + 1; /* marks "too long" (never valid) */
    }
    n++;
    more = zmq_msg_more(&m);
    zmq_msg_close(&m);
  }
  /* frames: 0 version, 1 request id, 2 domain, 3 address, 4 routing id, 5 mechanism, 6 key */
  size_t rid_len = n > 1 && len[1] <= ZAP_FRAME_MAX ? len[1] : 0;
  if (n < 7 || len[0] != 3 || memcmp(fr[0], "1.0", 3) != 0) {
    zap_reply(c->zap, fr[1], rid_len, "400", "malformed ZAP request", "");
    return 0;
  }
  char domain[64] = "", address[64] = "";
  snprintf(domain, sizeof domain, "%.*s", (int)(len[2] < sizeof domain ? len[2] : 0), (const char *)fr[2]);
  snprintf(address, sizeof address, "%.*s", (int)(len[3] < sizeof address ? len[3] : 0), (const char *)fr[3]);
  int workers = strcmp(domain, SF_ZAP_DOMAIN_WORKERS) == 0;
  int clients = strcmp(domain, SF_ZAP_DOMAIN_CLIENTS) == 0;
  int curve = len[5] == 5 && memcmp(fr[5], "CURVE", 5) == 0 && len[6] == SF_CURVE_KEY_BYTES;
  char z85[41] = "?";
  if (curve) zmq_z85_encode(z85, fr[6], SF_CURVE_KEY_BYTES);
  const sf_curve_allow *list = workers ? c->allow_workers : c->allow_clients;
  if (curve && (workers || clients) && (!list || sf_curve_allow_has(list, fr[6]))) {
    zap_reply(c->zap, fr[1], rid_len, "200", "OK", z85);
    SF_DEBUG("accepted CURVE key %s from %s on the %s socket", z85, address, workers ? "worker" : "client");
    return 0;
  }
  if (clients) c->stats.curve_refused_clients++;
  else c->stats.curve_refused_workers++;
  if (curve)
    sf_log_rl(&c->zap_rl, SF_LOG_WARN, "refused CURVE key %s from %s on the %s socket: not in %s", z85,
              address, workers ? "worker" : clients ? "client" : "unknown", list ? list->path : "any list");
  else
    sf_log_rl(&c->zap_rl, SF_LOG_WARN, "refused a peer from %s on the %s socket: not a CURVE handshake",
              address, workers ? "worker" : clients ? "client" : "unknown");
  zap_reply(c->zap, fr[1], rid_len, "400", "key not allowed", "");
  return 0;
}

void zap_serve(coord *c) {
  if (!c->zap) return;
  for (int i = 0; i < ZAP_BATCH; i++)
    if (zap_one(c) < 0) break;
}

/* Monitor the ROUTERs' handshake failures that never reach ZAP (once both sockets exist). */
static void monitors_start(coord *c) {
  c->zap_mon_tried = 1;
  void *socks[2] = {c->wsock, c->csock};
  for (int i = 0; i < 2; i++) {
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://strike-zap-monitor-%d-%p", i, (void *)c);
    if (zmq_socket_monitor(socks[i], ep, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
      continue;
    void *m = zmq_socket(c->zctx, ZMQ_PAIR);
    int linger = 0;
    if (m) zmq_setsockopt(m, ZMQ_LINGER, &linger, sizeof linger);
    if (m && zmq_connect(m, ep) != 0) {
      zmq_close(m);
      m = NULL;
    }
    c->zap_mon[i] = m;
  }
}

/* Count and log (rate-limited) the failed handshakes the monitors report. */
static void monitors_read(coord *c) {
  for (int i = 0; i < 2; i++) {
    uint16_t ev;
    uint32_t val;
    for (int k = 0; c->zap_mon[i] && k < ZAP_BATCH && sf_monitor_event_recv(c->zap_mon[i], &ev, &val);
         k++) {
      if (i == 0) c->stats.curve_failed_workers++;
      else c->stats.curve_failed_clients++;
      int mismatch = ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                     val == (uint32_t)ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH;
      sf_log_rl(&c->zap_fail_rl[i], SF_LOG_WARN, "failed handshake on the %s socket: %s (event 0x%x, detail 0x%x)",
                i == 0 ? "worker" : "client",
                mismatch ? "a plaintext peer (it has no curve-server-key / curve-key)"
                : ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                    ? "the peer closed the connection during the handshake"
                    : "not a valid CURVE handshake (wrong curve-server-key?)",
                (unsigned)ev, (unsigned)val);
    }
  }
}

void zap_tick(coord *c) {
  if (!c->zap) {
    if (g_reload) SF_INFO("SIGHUP: nothing to reload (no CURVE allow-lists)");
    g_reload = 0;
    return;
  }
  if (!c->zap_mon_tried && c->wsock && c->csock) monitors_start(c);
  monitors_read(c);
  sf_log_rl_flush(&c->zap_rl, SF_LOG_WARN, "refused CURVE peers");
  sf_log_rl_flush(&c->zap_fail_rl[0], SF_LOG_WARN, "failed handshakes on the worker socket");
  sf_log_rl_flush(&c->zap_fail_rl[1], SF_LOG_WARN, "failed handshakes on the client socket");
  if (!g_reload) return;
  g_reload = 0;
  if (!(c->cfg.curve_allow_workers && *c->cfg.curve_allow_workers) &&
      !(c->cfg.curve_allow_clients && *c->cfg.curve_allow_clients)) {
    SF_INFO("SIGHUP: nothing to reload (no CURVE allow-lists)");
    return;
  }
  sf_curve_allow *w = NULL, *cl = NULL;
  char err[512];
  if (load_lists(c, &w, &cl, err, sizeof err) != SF_OK) {
    SF_ERROR("SIGHUP: allow-lists not reloaded, the old ones stay in force: %s", err);
    return;
  }
  sf_curve_allow_free(&c->allow_workers);
  sf_curve_allow_free(&c->allow_clients);
  c->allow_workers = w;
  c->allow_clients = cl;
  SF_INFO("SIGHUP: allow-lists reloaded: %zu worker keys, %zu client keys (connections already "
          "made stay)", w ? w->n : 0, cl ? cl->n : 0);
}
