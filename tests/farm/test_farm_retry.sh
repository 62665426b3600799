#!/usr/bin/env bash
# test_farm_retry.sh - jobs that fail on every attempt end dead with their last error (the others
# are done); watch exits 7; `strike retry` puts the dead jobs back in the queue, and healthy
# workers then finish them: every job done exactly once in the end.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init retry
h_redis_start
h_coord_start --max-attempts 2
h_worker_start sick --engine-options fail=FAILME
h_wait_workers 1
{ seq 1 50 | sed 's/^/fine /'; seq 1 5 | sed 's/^/FAILME /'; } >"$H_DIR/p.txt"
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
st=$(h_wait_finished "$id")
[ "$(echo "$st" | jq .dead)" -eq 5 ] || h_fail "expected 5 dead jobs: $st"
[ "$(echo "$st" | jq .done)" -eq 50 ] || h_fail "expected 50 done jobs: $st"
h_strike results "$id" | jq -r 'select(.status != 0) | .error' | grep -q "fail marker" || h_fail "dead jobs lack their error"
h_strike watch "$id" --timeout-ms 5000 >/dev/null
[ $? -eq 7 ] || h_fail "watch with dead jobs should exit 7"
h_worker_kill sick TERM
h_worker_start healthy
h_wait_workers 1
h_strike retry "$id" | grep -q "5 jobs queued again" || h_fail "retry did not requeue 5 jobs"
h_until "retried jobs done" bash -c "\"$H_CLI\" status $id --coordinator \"$H_CEP\" --json | jq -e '.done == 55'"
h_check_exactly_once "$id" 55
h_done
