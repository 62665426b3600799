/*
 * worker.h - the strike-worker session: connect to a coordinator, register, take shards by credit,
 * render them through the engine interface in batches, write outputs, report results, heartbeat,
 * reconnect with backoff, and drain on SIGTERM.
 */
#ifndef STRIKE_WORKER_WORKER_H
#define STRIKE_WORKER_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "engine_iface.h"
#include "png_write.h"

/* Worker settings (filled from the config table in main.c). */
typedef struct sw_config {
    char *coordinator;      /* worker endpoint(s) of the coordinator, comma-separated */
    char *engine;           /* engine kind: null | cpu | cuda (no default) */
    char *engine_options;   /* "key=value,..." for the engine */
    char *output_root;      /* used when a submission names no output root */
    char *worker_id;        /* stable id; empty = host:pid:random */
    char *models;           /* comma-separated models this worker serves; empty = any */
    long long credit;       /* jobs held at most (in flight + queued locally) */
    long long batch;        /* jobs per engine call (capped by the engine's max batch) */
    long long writers;      /* threads encoding and writing the PNGs of a batch in parallel */
    int no_write;           /* benchmark: neither encode nor write images nor manifests */
    int manifest;           /* write a manifest JSONL per submission */
    long long compression;  /* PNG zlib level 0..9 */
    int fsync;              /* fsync each image before rename */
    long long connect_timeout_ms; /* wait for RegisterAck before trying again */
    long long backoff_max_ms;     /* reconnect backoff cap */
    char *log_level;        /* error | warn | info | debug */
    long long exit_after_idle_ms; /* tests: exit when idle this long (0 = never) */
    long long test_drop_shards;   /* TESTS ONLY: drop the first N shards received (lost in flight) */
    long long gpu;                /* CUDA device ordinal for --engine cuda; -1 = not given (device 0) */
    char *curve_server_key;       /* coordinator's CURVE public key file ("" = plaintext) */
    char *curve_key;              /* this worker's CURVE key pair file (strike keygen) */
} sw_config;

/* Run until *stop (SIGINT/SIGTERM: drain and leave). Returns a process exit code. */
int sw_worker_run(const sw_config *cfg, sw_engine *engine, volatile sig_atomic_t *stop);

#endif
