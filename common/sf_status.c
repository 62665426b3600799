/* sf_status.c - messages and names of the farm status codes (see sf_status.h). */
#include "sf_status.h"

const char *sf_strerror(sf_status s) {
  switch (s) {
  case SF_OK: return "ok";
  case SF_ERR_INVALID_ARGUMENT: return "invalid argument";
  case SF_ERR_NO_MEMORY: return "out of memory";
  case SF_ERR_IO: return "I/O error";
  case SF_ERR_PROTOCOL: return "protocol error (malformed message)";
  case SF_ERR_FRAME_TOO_LARGE: return "frame too large";
  case SF_ERR_VERSION: return "protocol version mismatch";
  case SF_ERR_TIMEOUT: return "timed out";
  case SF_ERR_AGAIN: return "nothing ready";
  case SF_ERR_REDIS: return "Redis unavailable";
  case SF_ERR_NOT_FOUND: return "not found";
  case SF_ERR_UNKNOWN_WORKER: return "unknown worker (register again)";
  case SF_ERR_STALE_LEASE: return "stale lease or attempt";
  case SF_ERR_CANCELLED: return "cancelled";
  case SF_ERR_CONFLICT: return "conflicts with stored state";
  case SF_ERR_INVALID_PROMPT: return "invalid prompt";
  case SF_ERR_INVALID_SIZE: return "invalid image size";
  case SF_ERR_INVALID_STEPS: return "invalid step count";
  case SF_ERR_UNSUPPORTED: return "unsupported";
  case SF_ERR_ENGINE: return "engine failed";
  case SF_ERR_LEASE_EXPIRED: return "lease expired";
  case SF_ERR_WORKER_LOST: return "worker lost";
  case SF_ERR_CONFIG: return "configuration error";
  case SF_ERR_OUTPUT: return "writing output failed";
  case SF_ERR_MODEL: return "model unavailable";
  case SF_ERR_SHUTDOWN: return "shutting down";
  case SF_ERR_INTERNAL: return "internal error";
  case SF_ERR_LIMIT: return "limit reached";
  case SF_ERR_AUTH: return "refused by CURVE security";
  }
  return "unknown status";
}

const char *sf_status_name(sf_status s) {
  switch (s) {
  case SF_OK: return "ok";
  case SF_ERR_INVALID_ARGUMENT: return "invalid_argument";
  case SF_ERR_NO_MEMORY: return "no_memory";
  case SF_ERR_IO: return "io";
  case SF_ERR_PROTOCOL: return "protocol";
  case SF_ERR_FRAME_TOO_LARGE: return "frame_too_large";
  case SF_ERR_VERSION: return "version";
  case SF_ERR_TIMEOUT: return "timeout";
  case SF_ERR_AGAIN: return "again";
  case SF_ERR_REDIS: return "redis";
  case SF_ERR_NOT_FOUND: return "not_found";
  case SF_ERR_UNKNOWN_WORKER: return "unknown_worker";
  case SF_ERR_STALE_LEASE: return "stale_lease";
  case SF_ERR_CANCELLED: return "cancelled";
  case SF_ERR_CONFLICT: return "conflict";
  case SF_ERR_INVALID_PROMPT: return "invalid_prompt";
  case SF_ERR_INVALID_SIZE: return "invalid_size";
  case SF_ERR_INVALID_STEPS: return "invalid_steps";
  case SF_ERR_UNSUPPORTED: return "unsupported";
  case SF_ERR_ENGINE: return "engine";
  case SF_ERR_LEASE_EXPIRED: return "lease_expired";
  case SF_ERR_WORKER_LOST: return "worker_lost";
  case SF_ERR_CONFIG: return "config";
  case SF_ERR_OUTPUT: return "output";
  case SF_ERR_MODEL: return "model";
  case SF_ERR_SHUTDOWN: return "shutdown";
  case SF_ERR_INTERNAL: return "internal";
  case SF_ERR_LIMIT: return "limit";
  case SF_ERR_AUTH: return "auth";
  }
  return "unknown";
}
