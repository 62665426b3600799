#!/usr/bin/env bash
# test_farm_lost_shard.sh - shards lost on their way to a live worker (the worker's
# --test-drop-shards hook drops the first ones it receives) are re-queued with attempt + 1 once
# the worker's lease reports (Heartbeat.held_leases) have left them out past the grace period
# (--lease-reconcile-ms), not after the lease timeout (10 min by default, kept here). Every job
# still ends done exactly once.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init lost-shard
h_redis_start
h_coord_start --heartbeat-ms 200 --lease-reconcile-ms 1000 --shard-jobs 20
h_worker_start w1 --test-drop-shards 3 --credit 100 --batch 8
h_wait_workers 1
h_prompts "$H_DIR/p.txt" 300 lost
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 300
u=$(h_strike workers --json | jq .leases_unreported)
[ "$u" -eq 3 ] || h_fail "strike workers says leases_unreported=$u, expected 3"
n=$(grep -c "is not held by its live worker w1" "$H_DIR/logs/coordinator.log")
[ "$n" -eq 3 ] || h_fail "expected the 3 dropped leases re-queued by reconciliation, log says $n"
[ "$(grep -c "test hook --test-drop-shards: dropping" "$H_DIR/logs/worker-w1.log")" -eq 3 ] || h_fail "the worker did not drop 3 shards"
# the re-run jobs were recorded with attempt 2
a2=$(h_strike results "$id" | jq -r 'select(.attempt == 2) | .index' | wc -l)
[ "$a2" -eq 60 ] || h_fail "expected 60 jobs done at attempt 2 (3 shards of 20), got $a2"
h_done
