#!/usr/bin/env bash
# demo.sh - the README's main job: install what is needed, build (Release), bring up Redis, a
# coordinator and workers on this machine, render the sample submission
# (deploy/sample-prompts.txt) end to end with the Lightning engine, show progress live, say where
# the images are, and stop everything again.
#
# Weights: real SDXL-Lightning weights when pointed at them (--model-dir / STRIKE_MODEL_DIR,
# optionally --unet / STRIKE_LIGHTNING_UNET), otherwise a tiny RANDOM model that strike-render
# generates in C (its images are noise; it proves the whole path, not the picture quality).
# `--null` runs the old farm-only demo with the null test engine. `bash scripts/demo.sh --help`
# lists every flag and environment variable.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() {
  cat <<'EOF'
usage: bash scripts/demo.sh [options]

Installs the Debian packages Strike needs (scripts/bootstrap.sh), builds the farm and
strike-render (Release, its own build folder), starts redis-server (temporary folder, AOF
everysec), a coordinator and workers on this machine, submits the sample prompts, watches
them render, prints where the images are and a few results, then stops everything.

Weights (the first that applies):
  --model-dir DIR    a diffusers SDXL folder (unet/ text_encoder/ text_encoder_2/ vae/
                     tokenizer/ tokenizer_2/), e.g. stabilityai/stable-diffusion-xl-base-1.0.
                     Env: STRIKE_MODEL_DIR.
  --unet FILE        a Lightning UNet file over that folder
                     (sdxl_lightning_4step_unet.safetensors); needed when DIR has no unet
                     weights. Env: STRIKE_LIGHTNING_UNET.
  (neither)          a tiny RANDOM model generated once by `strike-render --make-tiny-model`
                     into the cache folder. ITS IMAGES ARE NOISE: it shows the farm and the
                     engine working end to end, not pictures.
  --null             no engine at all: the null TEST engine (small patterns, no model);
                     the farm-only demo.
  How to get real weights: README.md "Rendering with real SDXL-Lightning weights" and
  docs/quickstart.md.

Jobs:
  --prompts FILE     prompts, one per line, or JSONL with per-job seed/steps/width/height
                     (deploy/sample-prompts.jsonl; docs/cli.md) (default deploy/sample-prompts.txt).
                     Env: STRIKE_DEMO_PROMPTS.
  --steps N          1, 2, 4 or 8 (default: from the UNet file name
                     sdxl_lightning_Nstep_*, else 4). Must match the Lightning UNet file.
  --prediction P     epsilon or sample (default: sample for the *_x0 1-step file, else
                     the model folder's scheduler config).
  --size WxH         image size, multiples of 64 (default 512x512 for the tiny model,
                     1024x1024 for real weights and --null).
  --seed N           base seed (default 42: the same command gives the same images).
  --limit N          submit only the first N prompts (default: all; 2 with real weights on
                     the CPU engine, which takes minutes per 1024x1024 image).

Farm:
  --engine E         cpu (default) or cuda (builds the CUDA backend; needs nvcc and a GPU).
  --workers N        workers to start (default 2; 1 with real weights, whose CPU engine
                     needs about 15 GB of RAM per worker).
  --threads N        CPU threads per worker (default: cores / workers, at least 1).
  --out DIR          where the images go: DIR/run-<UTC time>/<submission id>/ (default
                     DIR = <build folder>/images). Env: STRIKE_DEMO_OUT.
  --build DIR        build folder (default build-demo in the clone). Env: STRIKE_DEMO_BUILD.
  --keep-logs        keep the temporary folder with the logs (default: removed).
  -h, --help         this text.

Other environment:
  STRIKE_DEMO_CACHE  where the tiny model is generated (default
                     ${XDG_CACHE_HOME:-$HOME/.cache}/strike/demo-models).
  STRIKE_JOBS        parallel build jobs (default: nproc).
EOF
}

die() { echo "demo: error: $*" >&2; exit 2; }

# --- options -------------------------------------------------------------------------------------
model_dir=${STRIKE_MODEL_DIR:-}
unet=${STRIKE_LIGHTNING_UNET:-}
prompts=${STRIKE_DEMO_PROMPTS:-$root/deploy/sample-prompts.txt}
build=${STRIKE_DEMO_BUILD:-build-demo}
out_opt=${STRIKE_DEMO_OUT:-}
cache=${STRIKE_DEMO_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/strike/demo-models}
null=0 steps="" prediction="" size="" seed=42 engine=cpu workers="" threads="" keep_logs=0 limit=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --null) null=1 ;;
    --keep-logs) keep_logs=1 ;;
    --model-dir|--unet|--prompts|--steps|--prediction|--size|--seed|--limit|--engine|--workers|--threads|--out|--build)
      [ $# -ge 2 ] || die "$1 needs a value (see --help)"
      case "$1" in
        --model-dir) model_dir=$2 ;; --unet) unet=$2 ;; --prompts) prompts=$2 ;;
        --steps) steps=$2 ;; --prediction) prediction=$2 ;; --size) size=$2 ;; --seed) seed=$2 ;;
        --limit) limit=$2 ;; --engine) engine=$2 ;; --workers) workers=$2 ;; --threads) threads=$2 ;;
        --out) out_opt=$2 ;; --build) build=$2 ;;
      esac
      shift ;;
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

case "$engine" in cpu|cuda) ;; *) die "--engine must be cpu or cuda, not '$engine'" ;; esac
case "$steps" in ""|1|2|4|8) ;; *) die "--steps must be 1, 2, 4 or 8, not '$steps'" ;; esac
case "$prediction" in ""|epsilon|sample) ;; *) die "--prediction must be epsilon or sample" ;; esac
case "$seed" in *[!0-9]*|"") die "--seed must be a number" ;; esac
for v in "$workers" "$threads" "$limit"; do
  case "$v" in "") ;; *[!0-9]*|0) die "--workers, --threads and --limit must be positive numbers" ;; esac
done
[ -f "$prompts" ] || die "prompts file '$prompts' not found"
prompts=$(realpath "$prompts")
if [ "$null" = 1 ] && [ -n "$model_dir$unet" ]; then
  die "--null renders no model: drop it, or drop --model-dir/--unet (and STRIKE_MODEL_DIR/STRIKE_LIGHTNING_UNET)"
fi
[ -z "$unet" ] || [ -n "$model_dir" ] ||
  die "--unet needs --model-dir: the SDXL base folder holding the text encoders, tokenizers, VAE and configs"

# --- which weights -------------------------------------------------------------------------------
# mode: null | tiny | real
mode=tiny
[ "$null" = 1 ] && mode=null
if [ -n "$model_dir" ]; then
  mode=real
  [ -d "$model_dir" ] || die "--model-dir '$model_dir' is not a folder"
  model_dir=$(realpath "$model_dir")
  for part in text_encoder text_encoder_2 vae tokenizer tokenizer_2 unet; do
    [ -d "$model_dir/$part" ] || die "$model_dir has no $part/ folder: not a diffusers SDXL folder (see docs/quickstart.md)"
  done
  [ -f "$model_dir/unet/config.json" ] || die "$model_dir/unet/config.json is missing"
  if [ -n "$unet" ]; then
    [ -f "$unet" ] || die "--unet '$unet' is not a file"
    unet=$(realpath "$unet")
  elif ! ls "$model_dir"/unet/*.safetensors >/dev/null 2>&1; then
    die "$model_dir/unet/ has no weights: give the Lightning UNet file with --unet FILE (e.g. sdxl_lightning_4step_unet.safetensors)"
  fi
  # The Lightning UNet files are per step count; the 1-step one predicts x0.
  if [ -n "$unet" ]; then
    base=$(basename "$unet")
    if [[ "$base" =~ _([1248])step ]]; then
      file_steps=${BASH_REMATCH[1]}
      [ -n "$steps" ] || steps=$file_steps
      [ "$steps" = "$file_steps" ] ||
        echo "demo: warning: --steps $steps but $base is made for $file_steps steps: expect poor images" >&2
    fi
    [[ "$base" == *x0* ]] && [ -z "$prediction" ] && prediction=sample
  fi
fi
[ -n "$steps" ] || steps=4
if [ -z "$size" ]; then
  if [ "$mode" = tiny ]; then size=512x512; else size=1024x1024; fi
fi
[[ "$size" =~ ^([0-9]+)x([0-9]+)$ ]] || die "--size must be WxH, e.g. 512x512, not '$size'"
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]}
if [ -z "$limit" ] && [ "$mode" = real ] && [ "$engine" = cpu ]; then limit=2; fi
if [ -z "$workers" ]; then
  if [ "$mode" = real ]; then workers=1; else workers=2; fi
fi
cores=$(nproc)
[ -n "$threads" ] || threads=$(( cores / workers > 0 ? cores / workers : 1 ))

tiny_banner() {
  echo "demo: ======================================================================================"
  echo "demo:  NO REAL WEIGHTS GIVEN: the workers render with a tiny RANDOM model (~2 MB, generated"
  echo "demo:  in C by 'strike-render --make-tiny-model'). ITS IMAGES ARE NOISE, not pictures. The"
  echo "demo:  engine, the farm and the PNGs are the real ones; only the weights are random."
  echo "demo:  For real images, download SDXL base + an SDXL-Lightning UNet (README.md, 'Rendering with"
  echo "demo:  real SDXL-Lightning weights'; docs/quickstart.md) and run:"
  echo "demo:    bash scripts/demo.sh --model-dir models/sdxl-base \\"
  echo "demo:      --unet models/sdxl_lightning_4step_unet.safetensors"
  echo "demo: ======================================================================================"
}

# --- install and build ---------------------------------------------------------------------------
bash scripts/bootstrap.sh

case "$build" in /*) ;; *) build=$root/$build ;; esac
# Each run gets its own folder: Redis starts empty every time, so submission ids repeat (s1).
out=$(realpath -m "${out_opt:-$build/images}")/run-$(date -u +%Y%m%dT%H%M%SZ)
cuda_opt=OFF
[ "$engine" = cuda ] && [ "$mode" != null ] && cuda_opt=ON
echo "demo: building (Release) in $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIKE_CUDA=$cuda_opt >"$build.cmake.log" 2>&1 ||
  { cat "$build.cmake.log" >&2; die "cmake failed"; }
rm -f "$build.cmake.log"
targets=(strike-coordinator strike-worker strike)
[ "$mode" != null ] && targets+=(strike-render)
if ! cmake --build "$build" --target "${targets[@]}" -j "${STRIKE_JOBS:-$cores}" >"$build/demo-build.log" 2>&1; then
  tail -40 "$build/demo-build.log" >&2
  die "build failed (log: $build/demo-build.log)"
fi
bin=$(cd "$build" && pwd)
strike=$bin/cli/strike

# --- the model -----------------------------------------------------------------------------------
engine_kind=$engine engine_opts="" model_name=sdxl-lightning batch=2 credit=2
case "$mode" in
  null)
    engine_kind=null ;;
  tiny)
    model_name=tiny-random
    tiny=$cache/tiny
    if [ ! -f "$tiny/STRIKE_RANDOM_MODEL.txt" ] || [ ! -f "$tiny/model_index.json" ]; then
      echo "demo: generating the tiny random model into $tiny (once)"
      rm -rf "$tiny.tmp"
      mkdir -p "$cache"
      "$bin/render/strike-render" --make-tiny-model "$tiny.tmp" >/dev/null 2>&1 ||
        die "strike-render --make-tiny-model $tiny.tmp failed"
      rm -rf "$tiny" && mv "$tiny.tmp" "$tiny"
    else
      echo "demo: using the tiny random model in $tiny"
    fi
    tiny_banner
    engine_opts="model=$model_name:$tiny" ;;
  real)
    model_name=sdxl-lightning
    if [ -f "$model_dir/STRIKE_RANDOM_MODEL.txt" ]; then
      echo "demo: note: $model_dir is a RANDOM model made by strike-render --make-tiny-model: its images are noise"
    fi
    engine_opts="model=$model_name:$model_dir"
    [ -n "$unet" ] && engine_opts+=",unet.$model_name=$unet"
    echo "demo: real weights: $model_dir${unet:+ with UNet $unet}, $steps steps, ${width}x$height"
    batch=1 credit=1
    if [ "$engine" = cpu ]; then
      avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
      need_kb=$(( workers * 15 * 1024 * 1024 ))
      echo "demo: the CPU engine computes in fp32: about 15 GB of RAM per worker and minutes per image"
      echo "demo: (submitting ${limit:-all} prompt(s); --limit N and --size WxH change that)"
      [ "${avail_kb:-0}" -ge "$need_kb" ] ||
        echo "demo: warning: only $(( ${avail_kb:-0} / 1024 / 1024 )) GB available for $workers worker(s)" >&2
    fi ;;
esac
[ -n "$prediction" ] && [ "$mode" != null ] && engine_opts+=",prediction.$model_name=$prediction"
[ "$mode" != null ] && [ "$engine" = cpu ] && engine_opts+=",threads=$threads"
[ "$mode" != null ] && engine_opts+=",max_batch=$batch"

# --- bring the farm up ---------------------------------------------------------------------------
run=$(mktemp -d "${TMPDIR:-/tmp}/strike-demo-XXXXXX")
redis_pid="" coord_pid="" worker_pids=()
cleaned=0
# Stop everything this script started, workers first (SIGTERM: they finish the running batch,
# hand back what they hold and say goodbye), then the coordinator, then Redis. Idempotent.
cleanup() {
  local rc=$? p
  [ "$cleaned" = 1 ] && return
  cleaned=1
  trap '' INT TERM
  echo "demo: stopping ${#worker_pids[@]} worker(s), the coordinator and Redis"
  for p in "${worker_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${worker_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in $coord_pid $redis_pid; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] && [ "$keep_logs" = 0 ]; then keep_logs=1; fi
  if [ "$keep_logs" = 1 ]; then
    echo "demo: logs kept in $run"
  else
    rm -rf "$run"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

mkdir -p "$out"
wep="ipc://$run/workers.ipc"
cep="ipc://$run/clients.ipc"
echo "demo: starting redis-server (unix socket $run/redis.sock, AOF everysec)"
redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 700 --dir "$run" --appendonly yes \
  --appendfsync everysec --save "" >"$run/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do redis-cli -s "$run/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -s "$run/redis.sock" ping >/dev/null 2>&1 || die "redis-server did not start (log: $run/redis.log)"

echo "demo: starting strike-coordinator"
"$bin/coordinator/strike-coordinator" --worker-endpoint "$wep" --client-endpoint "$cep" --redis "$run/redis.sock" \
  --default-output-root "$out" >"$run/coordinator.log" 2>&1 &
coord_pid=$!
export STRIKE_COORDINATOR=$cep
for _ in $(seq 100); do "$strike" workers --timeout-ms 300 >/dev/null 2>&1 && break; sleep 0.1; done

case "$mode" in
  null) echo "demo: starting $workers workers with the NULL engine: it renders test patterns, not real images" ;;
  tiny) echo "demo: starting $workers workers: --engine $engine, $threads thread(s) each, tiny RANDOM model (noise)" ;;
  real) echo "demo: starting $workers worker(s): --engine $engine, model $model_name" ;;
esac
for i in $(seq "$workers"); do
  args=(--engine "$engine_kind" --coordinator "$wep" --output-root "$out" --worker-id "demo-worker-$i")
  if [ "$mode" != null ]; then
    # Small credit and batch: the sample's jobs spread over all workers instead of the first one
    # taking them all.
    args+=(--engine-options "$engine_opts" --models "$model_name" --credit "$credit" --batch "$batch")
  fi
  "$bin/worker/strike-worker" "${args[@]}" >"$run/worker-$i.log" 2>&1 &
  worker_pids+=($!)
done
for _ in $(seq 200); do
  n=$("$strike" workers --json 2>/dev/null | jq '[.workers[] | select(.state == "ready")] | length' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge "$workers" ] && break
  for p in "${worker_pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { tail -5 "$run"/worker-*.log >&2; die "a worker exited at start (logs: $run)"; }
  done
  sleep 0.1
done
"$strike" workers

# --- render --------------------------------------------------------------------------------------
if [ -n "$limit" ]; then
  # Only the first N prompts (non-empty lines): a temporary copy in the run folder.
  grep . "$prompts" | head -n "$limit" >"$run/prompts.txt" || true
  prompts=$run/prompts.txt
fi
njobs=$(grep -c . "$prompts" || true)
submit_args=(--out "$out" --new --width "$width" --height "$height" --steps "$steps" --seed "$seed")
[ "$mode" != null ] && submit_args+=(--model "$model_name")
echo "demo: submitting $njobs prompts from $prompts (${width}x$height, $steps steps, seed $seed)"
t0=$(date +%s.%N)
id=$("$strike" submit "$prompts" "${submit_args[@]}")
echo "demo: submission $id; watching until it is done"
watch_rc=0
"$strike" watch "$id" --timeout-ms 60000 || watch_rc=$?
t1=$(date +%s.%N)
"$strike" status "$id"

# --- what came out -------------------------------------------------------------------------------
nimg=$( (find "$out/$id" -name '*.png' 2>/dev/null || true) | wc -l)
first=$("$strike" results "$id" | jq -r 'select(.status == 0) | .path' | head -1)
echo
echo "demo: $nimg PNG images in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s (submit to done), under:"
echo "  $out/$id/"
[ -n "$first" ] && echo "  e.g. $first"
manifests=$(ls "$out/$id"/manifest-*.jsonl 2>/dev/null | tr '\n' ' ' || true)
[ -z "$manifests" ] || echo "  manifests (one per worker): $manifests"
echo "demo: jobs 0 and 1 as the coordinator recorded them (strike results $id):"
"$strike" results "$id" | jq -c 'select(.index < 2)' | sort | sed 's/^/  /'
case "$mode" in
  null) echo "demo: these are null-engine TEST PATTERNS ((w/16)x(h/16) px), not renders; drop --null for the Lightning engine" ;;
  tiny) tiny_banner ;;
  real) echo "demo: rendered with $model_dir${unet:+ + $(basename "$unet")}" ;;
esac
if [ "$watch_rc" -ne 0 ]; then
  echo "demo: jobs that failed (their last error, at most 3):" >&2
  "$strike" results "$id" | jq -r 'select(.status != 0) | "  job \(.index): \(.error)"' | head -3 >&2 || true
fi
[ "$watch_rc" -eq 0 ] || { echo "demo: some jobs did not finish (strike watch exit $watch_rc); logs: $run" >&2; keep_logs=1; exit 1; }
