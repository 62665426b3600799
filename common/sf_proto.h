/* sf_proto.h - framing of protocol messages over ZeroMQ: one packed strike.Envelope per frame
 * (ROUTER sockets also carry the peer identity frame first).
 *
 * Receiving enforces the maximum frame size BEFORE unpacking, checks the protocol version and that
 * a body is set, and counts and logs (rate-limited) every dropped frame. Every envelope returned by
 * sf_msg_recv/sf_msg_decode must be released with sf_msg_free (which pairs the unpack with
 * strike__envelope__free_unpacked). Never aborts on bad input. */
#ifndef STRIKE_SF_PROTO_H
#define STRIKE_SF_PROTO_H
#include <stddef.h>
#include <stdint.h>

#include "sf_log.h"
#include "sf_status.h"
#include "strike.pb-c.h"

/* Protocol version carried in every Envelope. Bump only for changes old peers cannot ignore. */
#define SF_PROTOCOL_VERSION 1u
/* Default and hard upper bound of one frame. */
#define SF_DEFAULT_MAX_FRAME (64u << 20)
/* Most lease ids in one Heartbeat.held_leases (a worker holding more sends no report). */
#define SF_MAX_HELD_LEASES 1024u
/* Longest ROUTER identity ZeroMQ produces or accepts. */
#define SF_PEER_ID_MAX 255

/* Counters of one socket's traffic; shown in coordinator metrics. Zero-initialise. */
typedef struct sf_frame_stats {
  uint64_t received;          /* envelopes decoded successfully */
  uint64_t sent;              /* envelopes sent */
  uint64_t malformed;         /* frames dropped: undecodable, empty body, extra/missing frames */
  uint64_t oversized;         /* frames dropped: larger than the limit */
  uint64_t version_mismatch;  /* frames dropped: other protocol version */
  uint64_t send_failed;       /* sends that failed (peer gone, HWM reached) */
  sf_ratelimit rl;            /* limits the log lines about dropped frames */
  sf_ratelimit rl_oversized;  /* ... about oversized ones (own budget: a flood of small bad
                                 frames never hides them) */
} sf_frame_stats;

/* Identity of a peer on a ROUTER socket (opaque bytes). */
typedef struct sf_peer {
  uint8_t id[SF_PEER_ID_MAX + 1];
  size_t len;
} sf_peer;

/* Transport limit for an application frame limit: ZMQ_MAXMSGSIZE is set this much higher (twice
 * the limit) so that a frame between the two reaches sf_msg_decode, which drops it, counts it as
 * oversized and logs it; ZeroMQ itself drops only frames above this, together with the peer's
 * connection (the app never sees those). */
int64_t sf_transport_limit(size_t max_frame);

/* Apply the farm's socket limits: ZMQ_MAXMSGSIZE (sf_transport_limit(max_frame)), send/receive
 * high-water marks (in messages; 0 keeps ZeroMQ's default), linger 0 (close never blocks).
 * Returns 0 or -1 (errno). */
int sf_socket_limits(void *sock, size_t max_frame, int sndhwm, int rcvhwm);

/* Decode one frame. `from` names the peer in log lines. On success *out is set (free with
 * sf_msg_free). Errors: SF_ERR_FRAME_TOO_LARGE, SF_ERR_PROTOCOL, SF_ERR_VERSION (all counted in st
 * and logged rate-limited). */
sf_status sf_msg_decode(const void *data, size_t len, size_t max_frame, sf_frame_stats *st,
                        const char *from, Strike__Envelope **out);

/* Receive one envelope. For a ROUTER socket pass peer != NULL: the identity frame is stored there.
 * flags: 0 (block) or ZMQ_DONTWAIT. Returns SF_OK, SF_ERR_AGAIN (nothing to read or interrupted),
 * SF_ERR_IO (socket error), or a decode error (frame dropped; the caller just continues). */
sf_status sf_msg_recv(void *sock, sf_peer *peer, size_t max_frame, sf_frame_stats *st,
                      Strike__Envelope **out, int flags);

/* Pack and send one envelope (version is set here). For a ROUTER socket pass the peer to send to.
 * flags: 0 or ZMQ_DONTWAIT. Returns SF_OK, SF_ERR_AGAIN (HWM reached with ZMQ_DONTWAIT),
 * SF_ERR_IO (peer unreachable or socket error) or SF_ERR_NO_MEMORY. */
sf_status sf_msg_send(void *sock, const sf_peer *peer, Strike__Envelope *env, sf_frame_stats *st,
                      int flags);

/* Pack an envelope into a new buffer (malloc; caller frees). Sets the version. NULL on OOM. */
uint8_t *sf_msg_pack(Strike__Envelope *env, size_t *len);

/* Free a received envelope and set *env to NULL (NULL-safe). */
void sf_msg_free(Strike__Envelope **env);

/* Name of a body case for logs ("shard", "results", ...). */
const char *sf_msg_name(Strike__Envelope__BodyCase c);

/* Printable form of a peer identity (hex, truncated) for logs; buf of at least 40 bytes. */
const char *sf_peer_str(const sf_peer *p, char *buf, size_t cap);

#endif
