/* sf_status.h - the farm's one status enum, shared by coordinator, worker and CLI.
 *
 * Append-only: codes are never renumbered or reused (they travel on the wire as uint32 and are
 * stored in Redis). sf_strerror() is a switch without default, so a code without a message fails
 * the build (-Werror=switch). Values also serve as process exit codes where documented. */
#ifndef STRIKE_SF_STATUS_H
#define STRIKE_SF_STATUS_H

typedef enum sf_status {
  SF_OK = 0,                    /* success */
  SF_ERR_INVALID_ARGUMENT = 1,  /* a request or flag value is wrong (message names it) */
  SF_ERR_NO_MEMORY = 2,         /* allocation failed */
  SF_ERR_IO = 3,                /* file or socket I/O failed */
  SF_ERR_PROTOCOL = 4,          /* malformed frame / message (undecodable, empty body, bad field) */
  SF_ERR_FRAME_TOO_LARGE = 5,   /* frame over the size limit, dropped before decoding */
  SF_ERR_VERSION = 6,           /* peer speaks another protocol version */
  SF_ERR_TIMEOUT = 7,           /* no answer in time (e.g. coordinator unreachable) */
  SF_ERR_AGAIN = 8,             /* nothing ready now (non-blocking receive) */
  SF_ERR_REDIS = 9,             /* Redis unreachable or failed; retry later */
  SF_ERR_NOT_FOUND = 10,        /* unknown submission / lease / object */
  SF_ERR_UNKNOWN_WORKER = 11,   /* coordinator does not know this worker: Register again */
  SF_ERR_STALE_LEASE = 12,      /* result for a lease or attempt that is no longer current */
  SF_ERR_CANCELLED = 13,        /* job or submission cancelled */
  SF_ERR_CONFLICT = 14,         /* request conflicts with stored state (chunk gap, seal mismatch) */
  SF_ERR_INVALID_PROMPT = 15,   /* prompt empty, too long, or not valid UTF-8 */
  SF_ERR_INVALID_SIZE = 16,     /* width/height out of range or not a multiple of 64 */
  SF_ERR_INVALID_STEPS = 17,    /* steps out of range, or not listed by the job's model */
  SF_ERR_UNSUPPORTED = 18,      /* not implemented / not supported by this peer */
  SF_ERR_ENGINE = 19,           /* the engine failed to render a job */
  SF_ERR_LEASE_EXPIRED = 20,    /* the job's lease expired (worker too slow or gone) */
  SF_ERR_WORKER_LOST = 21,      /* the worker holding the job died or left */
  SF_ERR_CONFIG = 22,           /* configuration file or flag error */
  SF_ERR_OUTPUT = 23,           /* writing the output image failed */
  SF_ERR_MODEL = 24,            /* model unknown to / not loadable by the worker */
  SF_ERR_SHUTDOWN = 25,         /* peer is shutting down or draining */
  SF_ERR_INTERNAL = 26,         /* a bug: an invariant did not hold */
  SF_ERR_LIMIT = 27,            /* a configured limit was reached (too many chunks, watchers...) */
  SF_ERR_AUTH = 28,             /* CURVE security: key refused by the peer's allow-list, or the
                                   handshake failed (mechanism mismatch, wrong server key) */
} sf_status;

#define SF_STATUS_COUNT 29

/* Short English description of a status (never NULL; "unknown status" for out-of-range values
 * received from the network). */
const char *sf_strerror(sf_status s);

/* Stable lower-case name of a status ("ok", "invalid_argument", ...) for logs and JSON. */
const char *sf_status_name(sf_status s);

#endif
