#!/usr/bin/env bash
# test_farm_bad_frames.sh - a raw ZeroMQ peer sends malformed, truncated, wrong-version, empty,
# multi-part and oversized frames to both coordinator endpoints. Each is counted and dropped; the
# coordinator keeps serving clients and workers (a submission completes afterwards).
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init bad-frames
h_redis_start
h_coord_start --max-frame-bytes 1048576
h_worker_start w1
h_wait_workers 1
"$STRIKE_RAW_PEER" "$H_CEP" 2097152 || h_fail "raw peer (clients) failed"
"$STRIKE_RAW_PEER" "$H_WEP" 2097152 || h_fail "raw peer (workers) failed"
h_until "frames counted" bash -c "\"$H_CLI\" workers --coordinator \"$H_CEP\" --json | jq -e '.frames_malformed > 0'"
w=$(h_strike workers --json) || h_fail "coordinator stopped answering"
h_log "counters: $(echo "$w" | jq -c '{frames_malformed, frames_oversized, results_stale}')"
[ "$(echo "$w" | jq .frames_malformed)" -ge 10 ] || h_fail "malformed frames not counted: $w"
h_prompts "$H_DIR/p.txt" 200 frames
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit after bad frames failed"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 200
kill -0 "$H_COORD_PID" || h_fail "coordinator died"
h_done
