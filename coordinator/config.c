/* config.c - the coordinator's settings table: one row per setting (name, type, field, default,
 * help). The same table drives the config file, the flags and --help; docs/configuration.md
 * lists the same rows. */
#include <stddef.h>

#include "coord.h"

#define F(field) offsetof(coord_config, field)

const sf_cfg_entry coord_config_table[] = {
    {"worker-endpoint", SF_CFG_STRING, F(worker_endpoint), "tcp://127.0.0.1:7700",
     "ZeroMQ endpoint bound for workers (tcp://HOST:PORT or ipc://PATH)"},
    {"client-endpoint", SF_CFG_STRING, F(client_endpoint), "tcp://127.0.0.1:7701",
     "ZeroMQ endpoint bound for clients (strike CLI)"},
    {"redis", SF_CFG_STRING, F(redis), "127.0.0.1:6379",
     "Redis server: HOST:PORT or the path of a unix socket"},
    {"redis-password", SF_CFG_STRING, F(redis_password), "",
     "Redis AUTH password (empty: no AUTH)"},
    {"redis-prefix", SF_CFG_STRING, F(redis_prefix), "strike",
     "prefix of every Redis key (several farms can share one Redis)"},
    {"redis-timeout-ms", SF_CFG_UINT, F(redis_timeout_ms), "5000",
     "Redis connect and command timeout in ms"},
    {"heartbeat-ms", SF_CFG_UINT, F(heartbeat_ms), "1000",
     "heartbeat interval with workers, both ways, in ms"},
    {"heartbeat-misses", SF_CFG_UINT, F(heartbeat_misses), "4",
     "silent intervals after which a worker is dead and its leases are re-queued"},
    {"lease-timeout-ms", SF_CFG_UINT, F(lease_timeout_ms), "600000",
     "a lease expires this long after dispatch (its jobs are re-queued with attempt + 1)"},
    {"lease-reconcile-ms", SF_CFG_UINT, F(lease_reconcile_ms), "5000",
     "a lease its live worker does not report holding this long after dispatch (2 reports in a "
     "row) is re-queued with attempt + 1; 0 = off"},
    {"max-attempts", SF_CFG_UINT, F(max_attempts), "3",
     "tries per job; a job failing this many times is dead with its last error"},
    {"shard-jobs", SF_CFG_UINT, F(shard_jobs), "1024",
     "most jobs per shard (one lease); a shard never exceeds a worker's credit"},
    {"max-chunk-jobs", SF_CFG_UINT, F(max_chunk_jobs), "16384",
     "most jobs accepted in one Chunk message"},
    {"max-frame-bytes", SF_CFG_UINT, F(max_frame_bytes), "67108864",
     "largest frame accepted from any peer; bigger ones are dropped and counted (up to twice this "
     "size; ZMQ_MAXMSGSIZE drops bigger ones with the connection)"},
    {"hwm", SF_CFG_UINT, F(hwm), "10000",
     "ZeroMQ send/receive high-water mark per socket, in messages"},
    {"chunk-cache-mb", SF_CFG_UINT, F(chunk_cache_mb), "512",
     "memory for prompt chunks kept for dispatch (more are read back from Redis)"},
    {"watch-interval-ms", SF_CFG_UINT, F(watch_interval_ms), "500",
     "default interval between progress events sent to watching clients"},
    {"default-output-root", SF_CFG_STRING, F(default_output_root), "./strike-out",
     "output root of submissions that do not name one"},
    {"models", SF_CFG_STRING, F(models), "",
     "models config (the workers' JSON file, docs/models.md): submissions must name one of its "
     "models, steps 0 become the model's default_steps, other steps must be listed (empty: no "
     "check; steps 0 go to the worker)"},
    {"log-level", SF_CFG_STRING, F(log_level), "info", "error, warn, info or debug"},
    {"curve-secret-key", SF_CFG_STRING, F(curve_secret_key), "",
     "CURVE key pair file of the coordinator (strike keygen; mode 0600): encrypts both sockets "
     "(empty: plaintext)"},
    {"curve-allow-workers", SF_CFG_STRING, F(curve_allow_workers), "",
     "file of worker public keys allowed to connect, one per line (empty: any CURVE key)"},
    {"curve-allow-clients", SF_CFG_STRING, F(curve_allow_clients), "",
     "file of client public keys allowed to connect, one per line (empty: any CURVE key)"},
    {"metrics-listen", SF_CFG_STRING, F(metrics_listen), "",
     "HOST:PORT of the HTTP server for /metrics (Prometheus) and the dashboard (empty: off); "
     "e.g. 127.0.0.1:7702; port 0 picks a free port (logged)"},
    {"finished-retention", SF_CFG_UINT, F(finished_retention_s), "0",
     "seconds a finished or cancelled submission is kept before it is deleted as by strike "
     "delete (checked once a second; 0 = keep forever; at most 315360000 = 10 years)"},
};

const size_t coord_config_table_len = sizeof coord_config_table / sizeof coord_config_table[0];
