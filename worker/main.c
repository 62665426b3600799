/*
 * main.c - strike-worker: settings, engine choice, signals; the session itself is worker.c.
 *
 *   strike-worker --engine null --coordinator tcp://127.0.0.1:7700 --output-root /data/out
 *
 * There is no default engine: `null` is a test engine that renders patterns, `cpu` and `cuda` are
 * the Lightning engine (`--gpu N` picks the CUDA device: one worker per GPU). SIGTERM / SIGINT drain: the running batch finishes, held
 * jobs are handed back, the worker says Goodbye and exits 0.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_iface.h"
#include "sf_config.h"
#include "sf_log.h"
#include "worker.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* The settings table: flag / config key, type, field, default, help. */
#define F(field) offsetof(sw_config, field)
static const sf_cfg_entry k_table[] = {
    {"coordinator", SF_CFG_STRING, F(coordinator), "tcp://127.0.0.1:7700",
     "coordinator worker endpoint(s), comma-separated (tried in turn on reconnect)"},
    {"engine", SF_CFG_STRING, F(engine), "",
     "engine: null (TEST engine: renders patterns, no model), cpu, cuda (required, no default)"},
    {"gpu", SF_CFG_INT, F(gpu), "-1",
     "CUDA device ordinal for --engine cuda (-1: device 0); run one worker per GPU, each with its own --gpu"},
    {"engine-options", SF_CFG_STRING, F(engine_options), "",
     "engine options key=value,... (cpu/cuda: model=[NAME:]PATH, models=FILE, unet.NAME=FILE, threads=N, noise=MODE, max_batch=N, ...; null: fail=TEXT, delay_ms=N, scale=N; docs/worker.md lists them all)"},
    {"output-root", SF_CFG_STRING, F(output_root), "",
     "where images go when a submission names no output root"},
    {"worker-id", SF_CFG_STRING, F(worker_id), "", "stable worker id (default host:pid:random)"},
    {"models", SF_CFG_STRING, F(models), "", "comma-separated models served (empty = any)"},
    {"credit", SF_CFG_INT, F(credit), "8192", "most jobs held at once (in flight + queued here)"},
    {"batch", SF_CFG_INT, F(batch), "64", "most jobs per engine call (capped by the engine)"},
    {"writers", SF_CFG_INT, F(writers), "2", "threads encoding and writing the PNGs of a batch in parallel (1..64)"},
    {"no-write", SF_CFG_BOOL, F(no_write), "false",
     "benchmark mode: neither encode nor write images nor manifests (results are still reported)"},
    {"manifest", SF_CFG_BOOL, F(manifest), "true", "write manifest-<worker>.jsonl next to the images"},
    {"compression", SF_CFG_INT, F(compression), "6", "PNG zlib level 0..9"},
    {"fsync", SF_CFG_BOOL, F(fsync), "true", "fsync each image before its rename"},
    {"connect-timeout-ms", SF_CFG_INT, F(connect_timeout_ms), "3000",
     "wait this long for the coordinator to accept a Register before trying again"},
    {"backoff-max-ms", SF_CFG_INT, F(backoff_max_ms), "5000", "longest wait between reconnect attempts"},
    {"log-level", SF_CFG_STRING, F(log_level), "info", "error, warn, info or debug"},
    {"curve-server-key", SF_CFG_STRING, F(curve_server_key), "",
     "the coordinator's CURVE public key file (its .pub from strike keygen); with curve-key: encrypted, authenticated connection"},
    {"curve-key", SF_CFG_STRING, F(curve_key), "",
     "this worker's CURVE key pair file (.key from strike keygen, mode 0600); its .pub goes on the coordinator's curve-allow-workers"},
    {"exit-after-idle-ms", SF_CFG_INT, F(exit_after_idle_ms), "0",
     "leave after being idle this long (0 = never; for batch jobs such as Slurm arrays)"},
    {"test-drop-shards", SF_CFG_INT, F(test_drop_shards), "0",
     "TESTS ONLY: silently drop the first N shards received, as if lost in flight (their credit comes back)"},
};
#undef F
#define N_TABLE (sizeof k_table / sizeof k_table[0])

int main(int argc, char **argv) {
    sw_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512] = "";
    sf_cfg_parse p = {.program = "strike-worker", .usage = "--engine null|cpu|cuda [options]"};
    sf_log_set_program("strike-worker");
    if (sf_config_parse(k_table, N_TABLE, &cfg, argc, argv, &p, err, sizeof err) != SF_OK) {
        fprintf(stderr, "strike-worker: %s\n", err);
        sf_config_free(k_table, N_TABLE, &cfg);
        return 2;
    }
    if (p.help) {
        printf("\nThe null engine is a test and benchmark engine: it renders small deterministic patterns,\n"
               "not pictures. See docs/worker.md.\n");
        sf_config_free(k_table, N_TABLE, &cfg);
        return 0;
    }
    int rc = 2;
    sw_engine *engine = NULL;
    sf_log_level lvl;
    if (p.first_arg < argc) {
        fprintf(stderr, "strike-worker: unexpected argument \"%s\" (see --help)\n", argv[p.first_arg]);
        goto out;
    }
    if (sf_log_parse_level(cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "strike-worker: bad --log-level \"%s\" (error, warn, info, debug)\n", cfg.log_level);
        goto out;
    }
    sf_log_set_level(lvl);
    if (cfg.credit < 1 || cfg.credit > 1000000 || cfg.batch < 1 || cfg.batch > 4096 || cfg.compression < 0 ||
        cfg.writers < 1 || cfg.writers > 64 || cfg.gpu < -1 || cfg.gpu > 1024 ||
        cfg.compression > 9 || cfg.connect_timeout_ms < 10 || cfg.backoff_max_ms < 10) {
        fprintf(stderr, "strike-worker: out of range: --credit 1..1000000, --batch 1..4096, --compression 0..9, "
                        "--writers 1..64, --gpu -1..1024, --connect-timeout-ms and --backoff-max-ms >= 10\n");
        goto out;
    }
    engine = sw_engine_create(cfg.engine, cfg.engine_options, (int)cfg.gpu, err, sizeof err);
    if (!engine) {
        fprintf(stderr, "strike-worker: %s\n", err);
        goto out;
    }
    /* the start-up check of the models this worker serves (headers only; docs/worker.md) */
    if (engine->ops->check && engine->ops->check(engine, cfg.models, err, sizeof err) != 0) {
        fprintf(stderr, "strike-worker: %s\n", err);
        goto out;
    }
    if (strcmp(engine->ops->kind, "null") == 0)
        SF_WARN("engine null: a TEST engine that renders patterns, not pictures");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = sw_worker_run(&cfg, engine, &g_stop);
out:
    sw_engine_destroy(&engine);
    sf_config_free(k_table, N_TABLE, &cfg);
    return rc;
}
