/* main.c - strike-coordinator: parse settings (config file + flags), bind the worker and client
 * sockets, run the loop until SIGTERM or SIGINT, then commit and exit cleanly (exit code 0).
 * Exit codes: 0 clean stop, 1 settings error, 2 cannot bind. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"

static volatile int g_stop = 0;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

int main(int argc, char **argv) {
  sf_log_set_program("strike-coordinator");
  coord_config cfg;
  memset(&cfg, 0, sizeof cfg);
  char err[512];
  sf_cfg_parse p = {.program = "strike-coordinator", .usage = "[options]"};
  sf_status st = sf_config_parse(coord_config_table, coord_config_table_len, &cfg, argc, argv, &p,
                                 err, sizeof err);
  if (st || p.help || p.first_arg != argc) {
    if (st) fprintf(stderr, "strike-coordinator: %s\n", err);
    else if (!p.help) fprintf(stderr, "strike-coordinator: unexpected argument \"%s\"\n", argv[p.first_arg]);
    sf_config_free(coord_config_table, coord_config_table_len, &cfg);
    return p.help && !st ? 0 : 1;
  }
  sf_log_level lvl;
  if (sf_log_parse_level(cfg.log_level, &lvl)) {
    fprintf(stderr, "strike-coordinator: bad --log-level \"%s\" (error, warn, info, debug)\n",
            cfg.log_level);
    sf_config_free(coord_config_table, coord_config_table_len, &cfg);
    return 1;
  }
  sf_log_set_level(lvl);
  if (cfg.finished_retention_s > COORD_MAX_RETENTION_S) {
    fprintf(stderr, "strike-coordinator: bad --finished-retention %llu: at most %llu seconds "
            "(10 years; 0 = keep forever)\n", cfg.finished_retention_s, COORD_MAX_RETENTION_S);
    sf_config_free(coord_config_table, coord_config_table_len, &cfg);
    return 1;
  }
  cmodels *models = NULL;
  if (cfg.models && *cfg.models && cmodels_load(cfg.models, &models, err, sizeof err) != SF_OK) {
    fprintf(stderr, "strike-coordinator: %s\n", err);
    sf_config_free(coord_config_table, coord_config_table_len, &cfg);
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  coord *c = coord_new(&cfg); /* takes the strings */
  if (!c) {
    fprintf(stderr, "strike-coordinator: out of memory\n");
    cmodels_free(&models);
    return 1;
  }
  c->models = models;
  if (models)
    SF_INFO("models config %s: %zu models; submissions are checked against it", models->path,
            models->n);
  if (coord_bind(c) != SF_OK) {
    coord_destroy(&c);
    return 2;
  }
  SF_INFO("coordinator ready (Redis %s, key prefix %s)", c->cfg.redis, c->kp);
  coord_run(c, &g_stop);
  coord_destroy(&c);
  SF_INFO("stopped");
  return 0;
}
