#!/usr/bin/env bash
# test_farm_delete.sh - `strike delete`: a finished submission's Redis keys (every key with its
# hash tag, its token and its entry in P:subs) are removed and Redis memory drops; status says
# "no such submission"; the same submit (same token) makes a new submission; images stay on disk.
# A running submission is refused without --force; with --force it is cancelled and deleted while
# workers are still rendering it (they keep running, later submissions complete, no key comes
# back; a client watching it exits 6). A coordinator restarted afterwards does not bring deleted submissions back. Unknown ids
# give "not found" (exit 6).
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init delete
PEER=${STRIKE_HTTP_PEER:?set STRIKE_HTTP_PEER to tests/farm http_peer}
h_redis_start
h_coord_start --shard-jobs 20 --heartbeat-ms 200 --metrics-listen 127.0.0.1:0
port=$(sed -n 's|.*metrics and dashboard on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$H_DIR/logs/coordinator.log" | head -1)
[ -n "$port" ] || { h_fail "no metrics address in the coordinator log"; h_done; }
scrape() { "$PEER" get "127.0.0.1:$port" /metrics >"$1"; }
h_worker_start w1 --engine-options delay_ms=2 --credit 40 --batch 4
h_worker_start w2 --engine-options delay_ms=2 --credit 40 --batch 4
h_wait_workers 2

rc() { redis-cli -s "$H_REDIS_SOCK" "$@"; }
# Number of keys with submission sN's hash tag.
nkeys() { rc --scan --pattern "strike:{s:${1#s}}:*" | wc -l; }
used() { rc INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }

# 1. A finished submission, with long prompts so that its chunks weigh in Redis memory.
n=1500
seq 1 $n | sed 's/$/ a lighthouse on a cliff at dusk, oil painting, dramatic clouds, warm light, waves crashing on the rocks below, seagulls, highly detailed brushwork, muted palette/' >"$H_DIR/a.txt"
tok=delete-test-token-a
a=$(h_strike submit "$H_DIR/a.txt" --token $tok --chunk-jobs 100) || h_fail "submit a failed"
h_wait_finished "$a" >/dev/null
NOPNG=1 h_check_exactly_once "$a" $n
keys_before=$(nkeys "$a")
[ "$keys_before" -ge 15 ] || h_fail "$a has $keys_before keys in Redis before delete, expected at least 15 chunks + meta"
[ -n "$(rc HGET strike:tokens $tok)" ] || h_fail "token of $a not in strike:tokens before delete"
pngs_before=$(find "$H_OUT" -name '*.png' | wc -l)
h_until "scrape before delete" scrape "$H_DIR/m-before.txt"
grep -q "^strike_submission_info{submission=\"$a\"" "$H_DIR/m-before.txt" || h_fail "/metrics lacks $a before delete"
mem_before=$(used)
h_strike delete "$a" >"$H_DIR/del-a.out" 2>&1 || h_fail "delete of finished $a failed: $(cat "$H_DIR/del-a.out")"
h_log "delete $a: $(cat "$H_DIR/del-a.out")"
grep -q "not deleted" "$H_DIR/del-a.out" || h_fail "delete output does not say the images stay: $(cat "$H_DIR/del-a.out")"
[ "$(nkeys "$a")" -eq 0 ] || h_fail "keys of $a left after delete: $(rc --scan --pattern "strike:{s:${a#s}}:*" | head)"
[ -z "$(rc HGET strike:tokens $tok)" ] || h_fail "token of $a still in strike:tokens"
[ -z "$(rc ZSCORE strike:subs "${a#s}")" ] || h_fail "$a still in strike:subs"
prompt_bytes=$(wc -c <"$H_DIR/a.txt")
# Memory must drop by at least half the prompt bytes (lazy free may take a moment).
h_until "redis memory drops after delete" bash -c "[ \$(redis-cli -s '$H_REDIS_SOCK' INFO memory | tr -d '\r' | sed -n 's/^used_memory://p') -lt $((mem_before - prompt_bytes / 2)) ]"
h_log "used_memory $mem_before -> $(used) (prompts: $prompt_bytes bytes)"
h_until "scrape after delete" scrape "$H_DIR/m-after.txt"
grep -q "submission=\"$a\"" "$H_DIR/m-after.txt" && h_fail "/metrics still has series of deleted $a: $(grep "submission=\"$a\"" "$H_DIR/m-after.txt" | head -3)"
"$PEER" check-prom "$H_DIR/m-after.txt" >/dev/null || h_fail "/metrics after delete does not parse"
[ "$(find "$H_OUT" -name '*.png' | wc -l)" -eq "$pngs_before" ] || h_fail "images were removed by delete"
[ "$pngs_before" -eq $n ] || h_fail "$pngs_before images on disk, expected $n"
h_strike status "$a" --timeout-ms 5000 >"$H_DIR/st-a.out" 2>&1
r=$?
[ $r -eq 6 ] || h_fail "status of deleted $a exited $r, expected 6"
grep -q "no such submission" "$H_DIR/st-a.out" || h_fail "status of deleted $a says: $(cat "$H_DIR/st-a.out")"
h_strike results "$a" --timeout-ms 5000 >/dev/null 2>&1
r=$?
[ $r -eq 6 ] || h_fail "results of deleted $a exited $r, expected 6"
h_strike delete "$a" --timeout-ms 5000 >/dev/null 2>&1
r=$?
[ $r -eq 6 ] || h_fail "second delete of $a exited $r, expected 6"
h_strike delete s-no-such --timeout-ms 5000 >"$H_DIR/del-x.out" 2>&1
r=$?
[ $r -eq 6 ] || h_fail "delete of an unknown id exited $r, expected 6"
grep -q "no such submission" "$H_DIR/del-x.out" || h_fail "delete of an unknown id says: $(cat "$H_DIR/del-x.out")"

# 2. The same submit command (same token) creates a new submission, which runs to the end.
a2=$(h_strike submit "$H_DIR/a.txt" --token $tok --chunk-jobs 100 2>"$H_DIR/a2.err") || h_fail "resubmit failed: $(cat "$H_DIR/a2.err")"
[ "$a2" != "$a" ] || h_fail "resubmit with the token of deleted $a got the same id $a2"
grep -q resuming "$H_DIR/a2.err" && h_fail "resubmit resumed something: $(cat "$H_DIR/a2.err")"
h_wait_finished "$a2" >/dev/null
NOPNG=1 h_check_exactly_once "$a2" $n
[ "$(rc HGET strike:tokens $tok)" = "${a2#s}" ] || h_fail "token maps to $(rc HGET strike:tokens $tok), expected ${a2#s}"

# 3. A running submission: refused without --force, cancelled and deleted with it.
h_prompts "$H_DIR/b.txt" 20000 delete-b
b=$(h_strike submit "$H_DIR/b.txt") || h_fail "submit b failed"
h_until "$b under way" bash -c "\"$H_CLI\" status $b --coordinator \"$H_CEP\" --json | jq -e '.done >= 100'"
h_strike delete "$b" >"$H_DIR/del-b1.out" 2>&1
r=$?
[ $r -eq 5 ] || h_fail "delete of running $b exited $r, expected 5 (refused)"
grep -q "queued or leased: cancel it first" "$H_DIR/del-b1.out" || h_fail "refusal says: $(cat "$H_DIR/del-b1.out")"
[ "$(h_status "$b" | jq -r .state)" = active ] || h_fail "$b is not active after a refused delete: $(h_status "$b")"
[ "$(nkeys "$b")" -gt 0 ] || h_fail "refused delete removed keys of $b"
# A client watching b is told it is gone (exit 6), it does not hang.
h_strike watch "$b" --json --timeout-ms 20000 >"$H_DIR/watch-b.out" 2>"$H_DIR/watch-b.err" &
watch_pid=$!
H_PIDS+=("$watch_pid")
h_until "watch of $b shows progress" test -s "$H_DIR/watch-b.out"
h_strike delete "$b" --force --json >"$H_DIR/del-b2.out" 2>&1 || h_fail "delete --force of $b failed: $(cat "$H_DIR/del-b2.out")"
h_log "delete --force $b: $(cat "$H_DIR/del-b2.out")"
jq -e '.deleted == true and .cancelled > 0 and .images_kept == true' "$H_DIR/del-b2.out" >/dev/null ||
  h_fail "delete --force --json: $(cat "$H_DIR/del-b2.out")"
wait $watch_pid
r=$?
[ $r -eq 6 ] || h_fail "watch of force-deleted $b exited $r, expected 6: $(cat "$H_DIR/watch-b.err")"
grep -q "no longer exists (deleted)" "$H_DIR/watch-b.err" || h_fail "watch of deleted $b says: $(cat "$H_DIR/watch-b.err")"
[ "$(nkeys "$b")" -eq 0 ] || h_fail "keys of $b left after delete --force: $(rc --scan --pattern "strike:{s:${b#s}}:*" | head)"
h_strike status "$b" --timeout-ms 5000 >/dev/null 2>&1
[ $? -eq 6 ] || h_fail "status of force-deleted $b is not 'not found'"

# Workers still hold (and return results for) jobs of b; the next submission must complete and
# nothing of b may come back.
h_prompts "$H_DIR/c.txt" 500 delete-c
c=$(h_strike submit "$H_DIR/c.txt") || h_fail "submit c failed"
h_wait_finished "$c" >/dev/null
NOPNG=1 h_check_exactly_once "$c" 500
for w in w1 w2; do kill -0 "${H_WORKER_PID[$w]}" 2>/dev/null || h_fail "worker $w died"; done
kill -0 "$H_COORD_PID" 2>/dev/null || h_fail "coordinator died"
[ "$(h_strike workers --json --timeout-ms 5000 | jq '[.workers[] | select(.state == "ready")] | length')" -eq 2 ] ||
  h_fail "workers not both ready: $(h_strike workers --json --timeout-ms 5000)"
h_log "results counted stale: $(h_strike workers --json --timeout-ms 5000 | jq .results_stale)"
[ "$(nkeys "$b")" -eq 0 ] || h_fail "keys of $b came back: $(rc --scan --pattern "strike:{s:${b#s}}:*" | head)"
[ -z "$(rc ZSCORE strike:subs "${b#s}")" ] || h_fail "$b came back in strike:subs"

# 4. A restarted coordinator does not see deleted submissions; the others are there.
h_coord_kill KILL
h_coord_start --shard-jobs 20 --heartbeat-ms 200
# It answers at once but loads the state only once the killed one's lock expired.
h_until "restarted coordinator loaded $a2" h_finished "$a2"
h_wait_workers 2
for id in "$a" "$b"; do
  h_strike status "$id" --timeout-ms 5000 >/dev/null 2>&1
  r=$?
  [ $r -eq 6 ] || h_fail "status of deleted $id after a coordinator restart exited $r, expected 6"
done
list=$(h_strike status --json --timeout-ms 5000)
echo "$list" | jq -e --arg a "$a" --arg b "$b" '[.[] | .submission_id] | (index($a) == null and index($b) == null)' >/dev/null ||
  h_fail "deleted submissions listed after restart: $list"
[ "$(h_status "$a2" | jq -r .state)" = finished ] || h_fail "$a2 not finished after restart"
[ "$(h_status "$c" | jq -r .state)" = finished ] || h_fail "$c not finished after restart"
# The recovered coordinator still deletes and still runs new work.
h_strike delete "$c" >/dev/null || h_fail "delete of $c after restart failed"
[ "$(nkeys "$c")" -eq 0 ] || h_fail "keys of $c left after delete"
d=$(h_strike submit "$H_DIR/c.txt") || h_fail "submit d failed"
h_wait_finished "$d" >/dev/null
NOPNG=1 h_check_exactly_once "$d" 500
[ "$(nkeys "$b")" -eq 0 ] || h_fail "keys of $b came back after restart"
h_done
