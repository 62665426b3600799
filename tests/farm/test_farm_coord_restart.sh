#!/usr/bin/env bash
# test_farm_coord_restart.sh - the coordinator is killed (-9) and restarted twice: once while a
# `strike submit` is streaming (the submit fails with a timeout; re-running it resumes without
# duplicates) and once while workers are rendering. The submission completes with nothing lost or
# duplicated, from what Redis held.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init coord-restart
h_redis_start --appendfsync always
h_coord_start --heartbeat-ms 200
h_worker_start w1 --engine-options delay_ms=1 --no-fsync --credit 100 --batch 8
h_worker_start w2 --engine-options delay_ms=1 --no-fsync --credit 100 --batch 8
h_wait_workers 2

n=12000
h_prompts "$H_DIR/p.txt" $n restart
# The first submit reads through a gate: 3010 prompts (60 full chunks of 50 are sent, 10 wait for
# more input), then it waits until the coordinator is dead, then the rest, which it cannot deliver
# (a timeout, exit 4).
tok=coord-restart-test-token-0001
mkfifo "$H_DIR/gate"
( head -n 3010 "$H_DIR/p.txt"; cat "$H_DIR/gate" >/dev/null; tail -n +3011 "$H_DIR/p.txt" ) |
  h_strike submit - --token $tok --chunk-jobs 50 --timeout-ms 3000 >"$H_DIR/sub1.out" 2>"$H_DIR/sub1.err" &
sub=$!
h_until "first 3000 jobs stored" bash -c "\"$H_CLI\" status --coordinator \"$H_CEP\" --json | jq -e '.[0].total >= 3000'"
h_coord_kill KILL
echo go >"$H_DIR/gate"
wait $sub
rc=$?
[ $rc -eq 4 ] || h_fail "submit to a killed coordinator exited $rc, expected 4: $(cat "$H_DIR/sub1.err")"
h_log "first submit exited $rc: $(tail -1 "$H_DIR/sub1.err")"
h_coord_start --heartbeat-ms 200
# Same token, the whole file: it resumes after the 3000 stored jobs.
id=$(h_strike submit "$H_DIR/p.txt" --token $tok --chunk-jobs 50 2>"$H_DIR/sub2.err") || h_fail "resumed submit failed: $(cat "$H_DIR/sub2.err")"
grep -q "resuming submission $id: 3000 jobs already stored" "$H_DIR/sub2.err" || h_fail "no resume from 3000: $(cat "$H_DIR/sub2.err")"
[ "$(h_status "$id" | jq .total)" -eq $n ] || h_fail "total after resume is $(h_status "$id" | jq .total), expected $n"

# Second kill while rendering.
h_until "rendering under way" bash -c "\"$H_CLI\" status $id --coordinator \"$H_CEP\" --json | jq -e '.done >= 500'"
h_coord_kill KILL
h_log "coordinator killed while rendering"
h_coord_start --heartbeat-ms 200
h_wait_finished "$id" >/dev/null
NOPNG=1 h_check_exactly_once "$id" $n
# PNGs of a sample (the full check is in the e2e test).
h_strike results "$id" | head -300 | jq -r .path | "$STRIKE_PNG_CHECK" - | tail -1 | grep -q "bad=0" || h_fail "bad PNGs"
h_done
