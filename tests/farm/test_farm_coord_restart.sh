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
h_worker_start w1 --engine-options delay_ms=2 --credit 100 --batch 8
h_worker_start w2 --engine-options delay_ms=2 --credit 100 --batch 8
h_wait_workers 2

n=30000
h_prompts "$H_DIR/p.txt" $n restart
# Small chunks, one in flight: the submit takes a while, so the kill lands in the middle of it.
h_strike submit "$H_DIR/p.txt" --chunk-jobs 100 --window 1 --timeout-ms 3000 >"$H_DIR/sub1.out" 2>"$H_DIR/sub1.err" &
sub=$!
h_until "some chunks stored" bash -c "\"$H_CLI\" status --coordinator \"$H_CEP\" --json | jq -e '.[0].total >= 1000'"
h_coord_kill KILL
wait $sub
rc=$?
[ $rc -ne 0 ] || h_log "note: submit finished before the kill"
h_log "first submit exited $rc: $(tail -2 "$H_DIR/sub1.err" | tr '\n' ' ')"
h_coord_start --heartbeat-ms 200
id=$(h_strike submit "$H_DIR/p.txt" --chunk-jobs 100 --window 1 2>"$H_DIR/sub2.err") || h_fail "resumed submit failed: $(cat "$H_DIR/sub2.err")"
h_log "resumed: $(tail -2 "$H_DIR/sub2.err" | tr '\n' ' ')"
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
