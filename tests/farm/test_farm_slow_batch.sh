#!/usr/bin/env bash
# test_farm_slow_batch.sh - an engine batch much longer than the heartbeat interval (as a real
# engine on a CPU) must not make the coordinator count the worker as dead: the render thread keeps
# the batch off the socket thread. Every job is done exactly once, on its first attempt. Then a
# SIGTERM in the middle of a slow batch drains: the batch finishes, the rest is handed back (again
# without using an attempt) and another worker completes the submission.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init slow-batch
h_redis_start
h_coord_start --heartbeat-ms 100 --heartbeat-misses 3 --shard-jobs 8
# 4 jobs x 150 ms = 600 ms per batch: six heartbeat intervals.
h_worker_start slow --engine-options delay_ms=150 --batch 4 --credit 8
h_wait_workers 1
h_prompts "$H_DIR/p.txt" 24 slow
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 24
late=$(jq -r 'select(.attempt != 1) | .index' "$H_DIR/results-$id.jsonl" | wc -l)
[ "$late" -eq 0 ] || h_fail "$late jobs needed more than one attempt: the slow worker was declared dead"
[ "$(h_strike workers --json | jq '[.workers[] | select(.worker_id == "slow" and .state == "ready")] | length')" -eq 1 ] ||
  h_fail "the slow worker is not ready: $(h_strike workers --json)"

# Drain: SIGTERM while a slow batch runs.
h_prompts "$H_DIR/q.txt" 40 drain
id2=$(h_strike submit "$H_DIR/q.txt") || h_fail "submit 2 failed"
h_until "slow worker busy" bash -c "ls $H_OUT/$id2/manifest-slow.jsonl"
h_worker_kill slow TERM
rc=$?
[ $rc -eq 0 ] || h_fail "drained worker exited $rc, expected 0"
grep -q "draining" "$H_DIR/logs/worker-slow.log" || h_fail "no drain in the worker log"
h_worker_start fast
h_wait_finished "$id2" >/dev/null
h_check_exactly_once "$id2" 40
late=$(jq -r 'select(.attempt != 1) | .index' "$H_DIR/results-$id2.jsonl" | wc -l)
[ "$late" -eq 0 ] || h_fail "$late jobs used another attempt after a drain (handed-back jobs should not)"
h_done
