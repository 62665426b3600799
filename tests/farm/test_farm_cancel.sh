#!/usr/bin/env bash
# test_farm_cancel.sh - `strike cancel` stops dispatch: after the cancel, no job beyond those
# already leased at that moment gets done; the rest are cancelled; watch exits 7; retry and status
# of an unknown id give "not found" (exit 6).
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init cancel
h_redis_start
h_coord_start --shard-jobs 20
h_worker_start w1 --engine-options delay_ms=5 --credit 40 --batch 4
h_worker_start w2 --engine-options delay_ms=5 --credit 40 --batch 4
h_wait_workers 2
h_prompts "$H_DIR/p.txt" 5000 cancel
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
h_until "some done" bash -c "\"$H_CLI\" status $id --coordinator \"$H_CEP\" --json | jq -e '.done >= 100'"
before=$(h_status "$id")
h_strike cancel "$id" >"$H_DIR/cancel.out" || h_fail "cancel failed"
h_log "cancel: $(cat "$H_DIR/cancel.out")"
st=$(h_wait_finished "$id")
done_b=$(echo "$before" | jq '.done + .leased')
# Jobs the workers held (in flight) when the cancel arrived may still finish; nothing else may.
limit=$((done_b + 2 * 40))
done_a=$(echo "$st" | jq .done)
canc=$(echo "$st" | jq .cancelled)
[ "$(echo "$st" | jq -r .state)" = cancelled ] || h_fail "state is not cancelled: $st"
[ "$done_a" -le "$limit" ] || h_fail "done went from $done_b to $done_a after cancel (limit $limit)"
[ $((done_a + canc + $(echo "$st" | jq '.dead + .queued + .leased'))) -eq 5000 ] || h_fail "counts do not add up: $st"
[ "$canc" -gt 0 ] || h_fail "nothing cancelled: $st"
h_strike watch "$id" --timeout-ms 5000 >/dev/null
rc=$?
[ $rc -eq 7 ] || h_fail "watch of a cancelled submission exited $rc, expected 7"
h_strike status s-no-such --timeout-ms 5000 >/dev/null 2>&1
rc=$?
[ $rc -eq 6 ] || h_fail "status of an unknown id exited $rc, expected 6"
h_strike cancel s-no-such >/dev/null 2>&1
rc=$?
[ $rc -eq 6 ] || h_fail "cancel of an unknown id exited $rc, expected 6"
h_done
