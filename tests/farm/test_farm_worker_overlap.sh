#!/usr/bin/env bash
# test_farm_worker_overlap.sh - the worker writes batch k (PNGs, manifest lines) while batch k+1
# renders. A test-only hook (STRIKE_TEST_WRITE_DELAY_MS) makes every write slow; the worker's debug
# log must then show a batch k+1 that began rendering before batch k was written, and its exit line
# must count such batches. Every job is still done exactly once with a valid PNG (results are
# reported only after their files exist). A SIGTERM while one batch is written and the next renders
# drains both, and --no-write still works with the two stages.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init worker-overlap
h_redis_start
h_coord_start --heartbeat-ms 100 --heartbeat-misses 3 --shard-jobs 8
export STRIKE_TEST_WRITE_DELAY_MS=300
h_worker_start ov --engine-options delay_ms=20 --batch 4 --credit 16 --log-level debug
h_wait_workers 1
h_prompts "$H_DIR/p.txt" 24 overlap
id=$(h_strike submit "$H_DIR/p.txt") || h_fail "submit failed"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 24
late=$(jq -r 'select(.attempt != 1) | .index' "$H_DIR/results-$id.jsonl" | wc -l)
[ "$late" -eq 0 ] || h_fail "$late jobs needed more than one attempt"

# Drain: SIGTERM while batches are in flight (one being written, the next rendering).
h_prompts "$H_DIR/q.txt" 40 drain
id2=$(h_strike submit "$H_DIR/q.txt") || h_fail "submit 2 failed"
h_until "overlap worker writing" bash -c "ls $H_OUT/$id2/manifest-ov.jsonl"
h_worker_kill ov TERM
rc=$?
[ $rc -eq 0 ] || h_fail "drained worker exited $rc, expected 0"
log=$H_DIR/logs/worker-ov.log
grep -q "draining" "$log" || h_fail "no drain in the worker log"
# The order in the log: some batch k+1 began rendering before batch k was written.
ahead=$(awk '
  match($0, /batch [0-9]+: rendering/) { split(substr($0, RSTART + 6), a, ":"); r[a[1]] = NR }
  match($0, /batch [0-9]+: written/) { split(substr($0, RSTART + 6), a, ":"); wr[a[1]] = NR }
  END { n = 0; for (k in wr) if ((k + 1) in r && r[k + 1] < wr[k]) n++; print n }' "$log")
[ "${ahead:-0}" -gt 0 ] || h_fail "no batch began rendering before the one before it was written: $(grep -E 'batch [0-9]+:' "$log" | head -12)"
ov=$(sed -n 's/.* \([0-9][0-9]*\) of [0-9]* batches began rendering while an earlier one was being written.*/\1/p' "$log" | tail -1)
[ "${ov:-0}" -gt 0 ] || h_fail "the worker counted no overlapping batches: $(grep 'done:' "$log")"
h_log "batches rendered ahead of the previous write: log order $ahead, counter ${ov:-none}"
unset STRIKE_TEST_WRITE_DELAY_MS
h_worker_start fast
h_wait_finished "$id2" >/dev/null
h_check_exactly_once "$id2" 40
late=$(jq -r 'select(.attempt != 1) | .index' "$H_DIR/results-$id2.jsonl" | wc -l)
[ "$late" -eq 0 ] || h_fail "$late jobs used another attempt after a drain (handed-back jobs should not)"
h_worker_kill fast TERM

# --no-write: the write stage passes batches straight through.
STRIKE_TEST_WRITE_DELAY_MS=300 h_worker_start nw --no-write --batch 4 --credit 16
h_prompts "$H_DIR/r.txt" 16 nowrite
id3=$(h_strike submit "$H_DIR/r.txt") || h_fail "submit 3 failed"
h_wait_finished "$id3" >/dev/null
NOPNG=1 h_check_exactly_once "$id3" 16
[ ! -e "$H_OUT/$id3/manifest-nw.jsonl" ] || h_fail "--no-write wrote a manifest"
h_done
