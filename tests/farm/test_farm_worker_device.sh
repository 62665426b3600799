#!/usr/bin/env bash
# test_farm_worker_device.sh - the device a worker reports at Register, shown by `strike workers`:
# null and cpu workers report "cpu"; `--engine cuda` either reports a GPU (name and memory, on a
# machine with one) or fails at start with a clear message ("no CUDA device" / "built without
# CUDA"), exit 2. `--gpu N` is refused for other engines, a --gpu that names no device fails
# clearly, and --gpu disagreeing with the engine option device= is refused.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init worker-device
h_redis_start
h_coord_start --heartbeat-ms 200
# The Lightning engine checks its models at start (headers only) and loads them at the first job:
# none runs here, so the tiny random model strike-render makes is enough.
nomodel=$H_DIR/tiny-model
"${STRIKE_RENDER_BIN:-$STRIKE_BIN_DIR/render/strike-render}" --make-tiny-model "$nomodel" 2>/dev/null ||
  h_fail "strike-render --make-tiny-model"

# Start-up failures: exit code 2 and the message.
expect_fail() { # what pattern args...
  local what=$1 pat=$2; shift 2
  "$H_WORKER" --coordinator "$H_WEP" --output-root "$H_OUT" "$@" >"$H_DIR/fail.out" 2>&1
  local rc=$?
  if [ $rc -ne 2 ]; then
    h_fail "$what: exit $rc, expected 2: $(tail -2 "$H_DIR/fail.out")"
  elif ! grep -Eq -e "$pat" "$H_DIR/fail.out"; then
    h_fail "$what: message lacks /$pat/: $(tail -2 "$H_DIR/fail.out")"
  else
    h_log "ok: $what: $(grep -E -e "$pat" "$H_DIR/fail.out" | head -1)"
  fi
}
expect_fail "--gpu with the null engine" "--gpu 0 needs --engine cuda" --engine null --gpu 0
expect_fail "--gpu with the cpu engine" "--gpu 1 needs --engine cuda" --engine cpu --gpu 1 --engine-options "model=$nomodel"
expect_fail "--gpu out of range" "--gpu -1..1024" --engine cuda --gpu 5000 --engine-options "model=$nomodel"
expect_fail "--gpu against device=" "--gpu 0 and device=1 disagree" --engine cuda --gpu 0 --engine-options "model=$nomodel,device=1"
expect_fail "a GPU that does not exist" "no CUDA device|built without CUDA" --engine cuda --gpu 1000 --engine-options "model=$nomodel"

h_worker_start wnull
"$H_WORKER" --engine cpu --engine-options "model=$nomodel,threads=1" --coordinator "$H_WEP" --output-root "$H_OUT" \
  --worker-id wcpu --backoff-max-ms 500 >>"$H_DIR/logs/worker-wcpu.log" 2>&1 &
H_PIDS+=("$!")
# --engine cuda with the default device: a GPU if there is one, else a clear failure.
"$H_WORKER" --engine cuda --engine-options "model=$nomodel" --coordinator "$H_WEP" --output-root "$H_OUT" \
  --worker-id wgpu --backoff-max-ms 500 >>"$H_DIR/logs/worker-wgpu.log" 2>&1 &
gpid=$!
H_PIDS+=("$gpid")
# it either exits or registers
h_until "cuda worker started or failed" bash -c "! kill -0 $gpid 2>/dev/null || grep -q 'registered with' '$H_DIR/logs/worker-wgpu.log'"
want=2
if kill -0 $gpid 2>/dev/null; then
  want=3
fi
if [ $want -eq 2 ]; then
  wait $gpid
  rc=$?
  [ $rc -eq 2 ] || h_fail "--engine cuda without a GPU exited $rc, expected 2"
  grep -Eq "no CUDA device|built without CUDA" "$H_DIR/logs/worker-wgpu.log" ||
    h_fail "--engine cuda without a GPU: unclear message: $(tail -2 "$H_DIR/logs/worker-wgpu.log")"
  h_log "ok: --engine cuda here: $(grep -E "no CUDA device|built without CUDA" "$H_DIR/logs/worker-wgpu.log" | head -1)"
fi
h_wait_workers $want
w=$(h_strike workers --json) || h_fail "strike workers failed"
for id in wnull wcpu; do
  d=$(echo "$w" | jq -c --arg id $id '.workers[] | select(.worker_id == $id) | .devices')
  [ "$d" = '[{"name":"cpu","memory_bytes":0}]' ] || h_fail "$id reports devices $d, expected cpu"
done
if [ $want -eq 3 ]; then
  d=$(echo "$w" | jq -c '.workers[] | select(.worker_id == "wgpu") | .devices[0]')
  h_log "GPU worker reports $d"
  echo "$d" | jq -e '.name != "cpu" and (.name | length) > 0 and .memory_bytes > 0' >/dev/null ||
    h_fail "cuda worker reports $d, expected a GPU name and memory"
fi
# The table shows the device column.
h_strike workers | grep -E "^wcpu +[^ ]+ +cpu +cpu " >/dev/null || h_fail "device column missing: $(h_strike workers)"
h_done
