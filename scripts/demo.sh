#!/usr/bin/env bash
# demo.sh - the README's main job: install what is needed, build (Release), bring up Redis, a
# coordinator and two workers on this machine, render the sample submission
# (deploy/sample-prompts.txt) end to end, show progress, and say where the images are.
#
# The workers run the NULL engine: a test engine that renders small deterministic patterns, not
# pictures. Real images come from the Lightning engine (--engine cpu|cuda, docs/pipeline.md),
# which needs SDXL-Lightning weights that this demo does not download.
#
# Environment:
#   STRIKE_DEMO_BUILD  build folder (default: build-demo)
#   STRIKE_DEMO_OUT    where the images go (default: <build folder>/images)
#   STRIKE_DEMO_PROMPTS prompts file (default: deploy/sample-prompts.txt)
#   STRIKE_JOBS        parallel build jobs (default: nproc)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/bootstrap.sh

build=${STRIKE_DEMO_BUILD:-build-demo}
case "$build" in /*) ;; *) build=$root/$build ;; esac
out=$(realpath -m "${STRIKE_DEMO_OUT:-$build/images}")
prompts=${STRIKE_DEMO_PROMPTS:-$root/deploy/sample-prompts.txt}
echo "demo: building (Release) in $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIKE_CUDA=OFF >/dev/null
cmake --build "$build" --target strike-coordinator strike-worker strike -j "${STRIKE_JOBS:-$(nproc)}" >/dev/null
bin=$(cd "$build" && pwd)

run=$(mktemp -d "${TMPDIR:-/tmp}/strike-demo-XXXXXX")
pids=()
cleanup() {
  local p
  echo "demo: stopping workers, coordinator and Redis"
  # Workers first (SIGTERM: they drain and say goodbye), then the coordinator, then Redis.
  for p in "${pids[@]:2}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:2}"; do wait "$p" 2>/dev/null || true; done
  [ ${#pids[@]} -ge 2 ] && { kill -TERM "${pids[1]}" 2>/dev/null || true; wait "${pids[1]}" 2>/dev/null || true; }
  [ ${#pids[@]} -ge 1 ] && { kill -TERM "${pids[0]}" 2>/dev/null || true; wait "${pids[0]}" 2>/dev/null || true; }
  echo "demo: logs were in $run (removed); images stay in $out"
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$out"
wep="ipc://$run/workers.ipc"
cep="ipc://$run/clients.ipc"
echo "demo: starting redis-server (unix socket $run/redis.sock, AOF everysec)"
redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 700 --dir "$run" --appendonly yes \
  --appendfsync everysec --save "" >"$run/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -s "$run/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "demo: starting strike-coordinator"
"$bin/coordinator/strike-coordinator" --worker-endpoint "$wep" --client-endpoint "$cep" --redis "$run/redis.sock" \
  --default-output-root "$out" >"$run/coordinator.log" 2>&1 &
pids+=($!)
export STRIKE_COORDINATOR=$cep
for _ in $(seq 100); do "$bin/cli/strike" workers --timeout-ms 300 >/dev/null 2>&1 && break; sleep 0.1; done

echo "demo: starting 2 workers with the NULL engine: it renders test patterns, not real images"
echo "      (real images: strike-worker --engine cpu|cuda with SDXL-Lightning weights, see docs/pipeline.md)"
for i in 1 2; do
  "$bin/worker/strike-worker" --engine null --coordinator "$wep" --output-root "$out" --worker-id "demo-worker-$i" \
    >"$run/worker-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  n=$("$bin/cli/strike" workers --json 2>/dev/null | jq '[.workers[] | select(.state == "ready")] | length' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.1
done
"$bin/cli/strike" workers

echo "demo: submitting $(wc -l <"$prompts") prompts from $prompts"
id=$("$bin/cli/strike" submit "$prompts" --out "$out" --new --width 1024 --height 1024 --steps 4)
echo "demo: submission $id; watching until it is done"
"$bin/cli/strike" watch "$id" --progress=false
"$bin/cli/strike" status "$id"
first=$("$bin/cli/strike" results "$id" | head -1 | jq -r .path)
echo
echo "demo: done. Images (null-engine test patterns, PNG with A1111 'parameters' text) are under:"
echo "  $out/$id/"
echo "  e.g. $first"
echo "  manifests: $(ls "$out/$id"/manifest-*.jsonl | tr '\n' ' ')"
echo "  all results as JSONL: strike results $id (with the coordinator running)"
