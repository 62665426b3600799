#!/usr/bin/env bash
# test_farm_kill_worker.sh - kill -9 of a worker in the middle of a shard: its leases go back to
# the queue when its heartbeats stop, and every job still ends done exactly once with a valid PNG.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init kill-worker
h_redis_start
h_coord_start --heartbeat-ms 200 --shard-jobs 50
# Slow workers (5 ms per job) so the victim is surely holding a shard when it dies.
h_worker_start victim --engine-options delay_ms=5 --credit 200 --batch 8
h_worker_start w2 --engine-options delay_ms=5 --credit 200 --batch 8
h_wait_workers 2
h_prompts "$H_DIR/p.txt" 1200 kill
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
# Wait until the victim has done some work and holds more.
h_until "victim rendered something" bash -c "ls $H_OUT/$id/manifest-victim.jsonl && [ \$(wc -l <$H_OUT/$id/manifest-victim.jsonl) -ge 20 ]"
h_worker_kill victim KILL
h_log "killed victim; done so far: $(h_status "$id" | jq .done)"
h_worker_start w3 --engine-options delay_ms=1
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 1200
st=$(h_status "$id")
[ "$(echo "$st" | jq .dead)" -eq 0 ] || h_fail "dead jobs after a worker kill: $st"
h_done
