#!/usr/bin/env bash
# test_farm_retention.sh - finished-retention (coordinator/retention.c): with the default 0 a
# finished submission is kept; a coordinator restarted with --finished-retention 2 deletes it (its
# finished time comes from Redis) as `strike delete` does (keys, token and P:subs entry gone);
# a submission still running is not deleted while a finished one next to it is; a cancelled one
# is deleted once its retention has passed. Bad values are refused at start-up. Times are only
# waited for with h_until (polling with a timeout), never asserted.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init retention

rc() { redis-cli -s "$H_REDIS_SOCK" "$@"; }
# Number of keys with submission sN's hash tag.
nkeys() { rc --scan --pattern "strike:{s:${1#s}}:*" | wc -l; }
gone() { [ "$(nkeys "$1")" -eq 0 ] && [ -z "$(rc ZSCORE strike:subs "${1#s}")" ]; }

# 0. Bad values: a clear error, exit 1.
"$H_COORD" --finished-retention 315360001 >"$H_DIR/bad1.out" 2>&1
r=$?
[ $r -eq 1 ] || h_fail "--finished-retention 315360001 exited $r, expected 1"
grep -q "finished-retention" "$H_DIR/bad1.out" || h_fail "error for a too large retention: $(cat "$H_DIR/bad1.out")"
"$H_COORD" --finished-retention -5 >"$H_DIR/bad2.out" 2>&1
r=$?
[ $r -eq 1 ] || h_fail "--finished-retention -5 exited $r, expected 1"
grep -q "finished-retention" "$H_DIR/bad2.out" || h_fail "error for a negative retention: $(cat "$H_DIR/bad2.out")"

h_redis_start
# 1. Retention 0 (default): a finished submission stays.
h_coord_start --heartbeat-ms 200
h_worker_start w1 --credit 2 --batch 1 --engine-options delay_ms=100
h_wait_workers 1
h_prompts "$H_DIR/a.txt" 5 retention-a
tok=retention-token-a
a=$(h_strike submit "$H_DIR/a.txt" --token $tok) || h_fail "submit a failed"
h_wait_finished "$a" >/dev/null
[ -n "$(rc HGET strike:tokens $tok)" ] || h_fail "token of $a not in strike:tokens"
keys_a=$(nkeys "$a")
[ "$keys_a" -ge 2 ] || h_fail "$a has $keys_a keys, expected meta and chunks"
# Longer than the retention used below: nothing may go with retention 0.
sleep 4
[ "$(nkeys "$a")" -eq "$keys_a" ] || h_fail "retention 0: keys of $a changed from $keys_a to $(nkeys "$a")"
[ "$(h_status "$a" | jq -r .state)" = finished ] || h_fail "retention 0: $a is not there: $(h_status "$a")"
grep -q "retention:" "$H_DIR/logs/coordinator.log" && h_fail "retention 0 logged a retention line"

# 2. Restart with retention 2: a (finished before the restart) is deleted, as by strike delete.
h_coord_kill TERM
h_coord_start --heartbeat-ms 200 --finished-retention 2
h_until "$a deleted by retention after the restart" gone "$a"
[ -z "$(rc HGET strike:tokens $tok)" ] || h_fail "token of $a still in strike:tokens after retention"
h_until "retention log line of $a" grep -q "retention: submission $a deleted, finished [0-9]* s ago" "$H_DIR/logs/coordinator.log"
h_wait_workers 1

# 3. A running submission is kept while a finished one beside it is deleted.
h_prompts "$H_DIR/b.txt" 400 retention-b
b=$(h_strike submit "$H_DIR/b.txt") || h_fail "submit b failed"
h_until "$b under way" bash -c "\"$H_CLI\" status $b --coordinator \"$H_CEP\" --json | jq -e '.done >= 2'"
h_prompts "$H_DIR/c.txt" 3 retention-c
c=$(h_strike submit "$H_DIR/c.txt" --priority 100) || h_fail "submit c failed"
h_wait_finished "$c" >/dev/null
h_until "$c deleted by retention" gone "$c"
st=$(h_status "$b")
[ "$(echo "$st" | jq -r .state)" = active ] || h_fail "$b is not active (test too slow or $b gone): $st"
[ "$(nkeys "$b")" -gt 0 ] || h_fail "keys of running $b were deleted"
# 4. Once cancelled (final), b goes too.
h_strike cancel "$b" >/dev/null || h_fail "cancel $b failed"
h_until "cancelled $b deleted by retention" gone "$b"
h_strike status "$b" --timeout-ms 5000 >/dev/null 2>&1
r=$?
[ $r -eq 6 ] || h_fail "status of $b after retention exited $r, expected 6"
kill -0 "$H_COORD_PID" 2>/dev/null || h_fail "coordinator died"
kill -0 "${H_WORKER_PID[w1]}" 2>/dev/null || h_fail "worker died"
# The farm still runs new work.
d=$(h_strike submit "$H_DIR/c.txt") || h_fail "submit d failed"
h_wait_finished "$d" >/dev/null
h_done
