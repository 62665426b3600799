#!/usr/bin/env bash
# test_farm_bad_frames.sh - a raw ZeroMQ peer sends malformed, truncated, wrong-version, empty,
# multi-part and oversized frames to both coordinator endpoints. Each is counted and dropped; the
# coordinator keeps serving clients and workers (a submission completes afterwards). The frame
# limit is 1 MiB, so the transport limit (ZMQ_MAXMSGSIZE) is 2 MiB: the 1.5 MB frame reaches the
# coordinator and is counted in frames_oversized (one per endpoint); the 3 MB frame sent last is
# dropped by ZeroMQ together with the raw peer's connection.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init bad-frames
h_redis_start
h_coord_start --max-frame-bytes 1048576
h_worker_start w1
h_wait_workers 1
"$STRIKE_RAW_PEER" "$H_CEP" 1500000 3000000 || h_fail "raw peer (clients) failed"
"$STRIKE_RAW_PEER" "$H_WEP" 1500000 3000000 || h_fail "raw peer (workers) failed"
h_until "frames counted" bash -c "\"$H_CLI\" workers --coordinator \"$H_CEP\" --json | jq -e '.frames_malformed > 0 and .frames_oversized >= 2'"
w=$(h_strike workers --json) || h_fail "coordinator stopped answering"
h_log "counters: $(echo "$w" | jq -c '{frames_malformed, frames_oversized, results_stale}')"
[ "$(echo "$w" | jq .frames_malformed)" -ge 10 ] || h_fail "malformed frames not counted: $w"
[ "$(echo "$w" | jq .frames_oversized)" -eq 2 ] || h_fail "expected 2 oversized frames counted (one per endpoint): $w"
grep -q "1500000 bytes exceeds limit 1048576" "$H_DIR/logs/coordinator.log" || h_fail "oversized frame not logged"
h_prompts "$H_DIR/p.txt" 200 frames
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit after bad frames failed"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 200
kill -0 "$H_COORD_PID" || h_fail "coordinator died"
h_done
