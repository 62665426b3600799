#!/usr/bin/env bash
# test_farm_redis_restart.sh - Redis killed (-9) while workers render, then restarted on its AOF
# (appendfsync always): the coordinator notices, keeps its clients answered, reconnects, and the
# submission completes with every job done exactly once.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init redis-restart
h_redis_start --appendfsync always
h_coord_start --heartbeat-ms 200 --redis-timeout-ms 500
h_worker_start w1 --engine-options delay_ms=1 --no-fsync --credit 100 --batch 8
h_worker_start w2 --engine-options delay_ms=1 --no-fsync --credit 100 --batch 8
h_wait_workers 2
h_prompts "$H_DIR/p.txt" 3000 redis
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
h_until "rendering under way" bash -c "\"$H_CLI\" status $id --coordinator \"$H_CEP\" --json | jq -e '.done >= 300'"
h_redis_kill KILL
h_log "redis killed"
# The coordinator still answers, and says Redis is down.
h_until "coordinator reports redis down" bash -c "\"$H_CLI\" workers --coordinator \"$H_CEP\" --json --timeout-ms 3000 | jq -e '.redis_up == false'"
h_redis_start --appendfsync always
h_log "redis restarted"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 3000
h_done
