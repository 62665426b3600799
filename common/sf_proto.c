/* sf_proto.c - envelope framing over ZeroMQ with size, version and body checks (see sf_proto.h). */
#include "sf_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int64_t sf_transport_limit(size_t max_frame) {
  if (!max_frame || max_frame > SF_DEFAULT_MAX_FRAME) max_frame = SF_DEFAULT_MAX_FRAME;
  return 2 * (int64_t)max_frame;
}

int sf_socket_limits(void *sock, size_t max_frame, int sndhwm, int rcvhwm) {
  int64_t mx = sf_transport_limit(max_frame);
  int linger = 0;
  if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &mx, sizeof mx)) return -1;
  if (sndhwm > 0 && zmq_setsockopt(sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm)) return -1;
  if (rcvhwm > 0 && zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm)) return -1;
  if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger)) return -1;
  return 0;
}

const char *sf_peer_str(const sf_peer *p, char *buf, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  if (!p || cap < 4) {
    if (cap) buf[0] = '\0';
    return buf;
  }
  for (size_t i = 0; i < p->len && o + 3 < cap && i < 16; i++) {
    buf[o++] = hex[p->id[i] >> 4];
    buf[o++] = hex[p->id[i] & 15];
  }
  buf[o] = '\0';
  return buf;
}

sf_status sf_msg_decode(const void *data, size_t len, size_t max_frame, sf_frame_stats *st,
                        const char *from, Strike__Envelope **out) {
  *out = NULL;
  if (!max_frame) max_frame = SF_DEFAULT_MAX_FRAME;
  if (len > max_frame) {
    st->oversized++;
    sf_log_rl(&st->rl_oversized, SF_LOG_WARN, "dropped frame from %s: %zu bytes exceeds limit %zu",
              from ? from : "peer", len, max_frame);
    return SF_ERR_FRAME_TOO_LARGE;
  }
  Strike__Envelope *env = strike__envelope__unpack(NULL, len, data);
  if (!env) {
    st->malformed++;
    sf_log_rl(&st->rl, SF_LOG_WARN, "dropped frame from %s: %zu bytes do not decode as a message",
              from ? from : "peer", len);
    return SF_ERR_PROTOCOL;
  }
  if (env->version != SF_PROTOCOL_VERSION) {
    st->version_mismatch++;
    sf_log_rl(&st->rl, SF_LOG_WARN, "dropped frame from %s: protocol version %u, expected %u",
              from ? from : "peer", env->version, SF_PROTOCOL_VERSION);
    strike__envelope__free_unpacked(env, NULL);
    return SF_ERR_VERSION;
  }
  if (env->body_case == STRIKE__ENVELOPE__BODY__NOT_SET) {
    st->malformed++;
    sf_log_rl(&st->rl, SF_LOG_WARN, "dropped frame from %s: no message body (unknown type?)",
              from ? from : "peer");
    strike__envelope__free_unpacked(env, NULL);
    return SF_ERR_PROTOCOL;
  }
  st->received++;
  *out = env;
  return SF_OK;
}

/* Discard the remaining parts of a multipart message. */
static void drain_more(void *sock) {
  int more = 0;
  size_t sz = sizeof more;
  while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0) {
      zmq_msg_close(&m);
      return;
    }
    zmq_msg_close(&m);
  }
}

sf_status sf_msg_recv(void *sock, sf_peer *peer, size_t max_frame, sf_frame_stats *st,
                      Strike__Envelope **out, int flags) {
  *out = NULL;
  zmq_msg_t m;
  char from[48] = "peer";
  if (peer) {
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, flags) < 0) {
      int e = errno;
      zmq_msg_close(&m);
      return (e == EAGAIN || e == EINTR) ? SF_ERR_AGAIN : SF_ERR_IO;
    }
    size_t l = zmq_msg_size(&m);
    int more = zmq_msg_more(&m);
    if (l > SF_PEER_ID_MAX) l = SF_PEER_ID_MAX;
    memcpy(peer->id, zmq_msg_data(&m), l);
    peer->len = l;
    zmq_msg_close(&m);
    sf_peer_str(peer, from, sizeof from);
    if (!more) {
      st->malformed++;
      sf_log_rl(&st->rl, SF_LOG_WARN, "dropped message from %s: identity without body", from);
      return SF_ERR_PROTOCOL;
    }
    flags = 0; /* the rest of a multipart message is already here */
  }
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, sock, flags) < 0) {
    int e = errno;
    zmq_msg_close(&m);
    return (e == EAGAIN || e == EINTR) ? SF_ERR_AGAIN : SF_ERR_IO;
  }
  if (zmq_msg_more(&m)) {
    zmq_msg_close(&m);
    drain_more(sock);
    st->malformed++;
    sf_log_rl(&st->rl, SF_LOG_WARN, "dropped message from %s: more than one body frame", from);
    return SF_ERR_PROTOCOL;
  }
  sf_status s = sf_msg_decode(zmq_msg_data(&m), zmq_msg_size(&m), max_frame, st, from, out);
  zmq_msg_close(&m);
  return s;
}

uint8_t *sf_msg_pack(Strike__Envelope *env, size_t *len) {
  env->version = SF_PROTOCOL_VERSION;
  size_t n = strike__envelope__get_packed_size(env);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return NULL;
  *len = strike__envelope__pack(env, buf);
  return buf;
}

static void free_buf(void *data, void *hint) {
  (void)hint;
  free(data);
}

sf_status sf_msg_send(void *sock, const sf_peer *peer, Strike__Envelope *env, sf_frame_stats *st,
                      int flags) {
  size_t n = 0;
  uint8_t *buf = sf_msg_pack(env, &n);
  if (!buf) return SF_ERR_NO_MEMORY;
  if (peer) {
    if (zmq_send(sock, peer->id, peer->len, flags | ZMQ_SNDMORE) < 0) {
      int e = errno;
      free(buf);
      if (st) st->send_failed++;
      return e == EAGAIN ? SF_ERR_AGAIN : SF_ERR_IO;
    }
  }
  zmq_msg_t m;
  if (zmq_msg_init_data(&m, buf, n, free_buf, NULL)) {
    free(buf);
    return SF_ERR_NO_MEMORY;
  }
  if (zmq_msg_send(&m, sock, peer ? 0 : flags) < 0) {
    int e = errno;
    zmq_msg_close(&m);
    if (st) st->send_failed++;
    return e == EAGAIN ? SF_ERR_AGAIN : SF_ERR_IO;
  }
  if (st) st->sent++;
  return SF_OK;
}

void sf_msg_free(Strike__Envelope **env) {
  if (!env || !*env) return;
  strike__envelope__free_unpacked(*env, NULL);
  *env = NULL;
}

const char *sf_msg_name(Strike__Envelope__BodyCase c) {
  switch (c) {
  case STRIKE__ENVELOPE__BODY__NOT_SET: return "none";
  case STRIKE__ENVELOPE__BODY_REGISTER_WORKER: return "register";
  case STRIKE__ENVELOPE__BODY_REGISTER_ACK: return "register_ack";
  case STRIKE__ENVELOPE__BODY_CREDIT: return "credit";
  case STRIKE__ENVELOPE__BODY_SHARD: return "shard";
  case STRIKE__ENVELOPE__BODY_RESULTS: return "results";
  case STRIKE__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
  case STRIKE__ENVELOPE__BODY_GOODBYE: return "goodbye";
  case STRIKE__ENVELOPE__BODY_CANCEL_SUBMISSION: return "cancel_submission";
  case STRIKE__ENVELOPE__BODY_CREATE: return "create";
  case STRIKE__ENVELOPE__BODY_CREATED: return "created";
  case STRIKE__ENVELOPE__BODY_CHUNK: return "chunk";
  case STRIKE__ENVELOPE__BODY_CHUNK_ACK: return "chunk_ack";
  case STRIKE__ENVELOPE__BODY_SEAL: return "seal";
  case STRIKE__ENVELOPE__BODY_STATUS_REQUEST: return "status_request";
  case STRIKE__ENVELOPE__BODY_STATUS_REPLY: return "status_reply";
  case STRIKE__ENVELOPE__BODY_WATCH: return "watch";
  case STRIKE__ENVELOPE__BODY_UNWATCH: return "unwatch";
  case STRIKE__ENVELOPE__BODY_PROGRESS: return "progress";
  case STRIKE__ENVELOPE__BODY_WORKERS_REQUEST: return "workers_request";
  case STRIKE__ENVELOPE__BODY_WORKERS_REPLY: return "workers_reply";
  case STRIKE__ENVELOPE__BODY_CANCEL: return "cancel";
  case STRIKE__ENVELOPE__BODY_RETRY: return "retry";
  case STRIKE__ENVELOPE__BODY_RESULTS_REQUEST: return "results_request";
  case STRIKE__ENVELOPE__BODY_RESULTS_PAGE: return "results_page";
  case STRIKE__ENVELOPE__BODY_REPLY: return "reply";
  case STRIKE__ENVELOPE__BODY_DELETE_REQUEST: return "delete_request";
  case STRIKE__ENVELOPE__BODY_ERROR: return "error";
  case _STRIKE__ENVELOPE__BODY__CASE_IS_INT_SIZE: break;
  }
  return "unknown";
}
