#!/usr/bin/env bash
# engine_cpu.sh - one full-size SDXL UNet forward on the CPU: our engine vs diffusers/PyTorch.
#
# Both sides use the SDXL base 1.0 UNet configuration with random weights generated in process
# (no download), fp32, a 64x64 latent (512 px), batch 1, the same thread count; they run one
# after the other (each needs ~10 GB of RAM). Builds the engine (Release, no sanitizers) in
# build-bench-engine/ (ignored) and creates once, outside the tree, a cached Python venv with pinned
# torch + diffusers from PyPI (or reuses /work/venv-ref when it has them).
#
# Environment: THREADS (default: nproc), SIZE (64), BATCH (1), WARMUP (1), RUNS (1),
#              PROFILE=1 (one extra torch run under torch.profiler, prints its top ops),
#              STRIKE_BENCH_BUILD (build folder), STRIKE_BENCH_VENV (venv folder).
# Last line:   engine_unet_s=<x> torch_unet_s=<x> ratio=<engine/torch> threads=<n> peak_rss_mb=<x>
# (peak_rss_mb is the engine process: weights + activations + runtime.) Per-op-kind engine
# times are printed above it as op_<kind>_s / op_<kind>_pct.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${THREADS:-$(nproc)}
size=${SIZE:-64}
batch=${BATCH:-1}
warmup=${WARMUP:-1}
runs=${RUNS:-1}
build=${STRIKE_BENCH_BUILD:-$root/build-bench-engine}
venv=${STRIKE_BENCH_VENV:-$HOME/.cache/strike/bench-venv}

# 1. The engine, Release, CPU only.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIKE_SANITIZE=OFF \
  -DSTRIKE_WERROR=OFF -DSTRIKE_FARM=OFF -DSTRIKE_CUDA=OFF >/dev/null
cmake --build "$build" --target bench_engine_unet >/dev/null
tool=$(find "$build" -name bench_engine_unet -type f -perm -u+x | head -n1)

# 2. The Python side: reuse the reference venv if it has torch and diffusers, else a cached one.
py=""
if [ -x /work/venv-ref/bin/python ] && /work/venv-ref/bin/python -c "import torch, diffusers" 2>/dev/null; then
  py=/work/venv-ref/bin/python
else
  if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, diffusers" 2>/dev/null; then
    echo "creating $venv (once)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "torch==2.15.0" "diffusers==0.42.1" "safetensors==0.8.0" numpy
  fi
  py=$venv/bin/python
fi

# 3. Engine, then torch, one after the other. The 1-minute load average before each side is
# printed too: on a shared machine other processes can easily distort one side's time.
load1() { cut -d' ' -f1 /proc/loadavg; }
echo "engine: $tool --threads $threads --size $size --batch $batch" >&2
eng_load=$(load1)
eng_out=$(nice "$tool" --threads "$threads" --size "$size" --batch "$batch" --warmup "$warmup" --runs "$runs")
echo "$eng_out"
echo "torch: $py bench/unet_torch.py --threads $threads" >&2
torch_load=$(load1)
torch_out=$(OMP_NUM_THREADS=$threads nice "$py" "$root/bench/unet_torch.py" --threads "$threads" \
  --size "$size" --batch "$batch" --warmup "$warmup" --runs "$runs" ${PROFILE:+--profile})
echo "$torch_out"

get() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -n1; }
e=$(get "$eng_out" engine_unet_s)
t=$(get "$torch_out" torch_unet_s)
rss=$(get "$eng_out" peak_rss_mb)
ratio=$(awk -v e="$e" -v t="$t" 'BEGIN { printf "%.3f", e / t }')
echo "engine_load1=$eng_load torch_load1=$torch_load cpus=$(nproc)"
echo "engine_unet_s=$e torch_unet_s=$t ratio=$ratio threads=$threads peak_rss_mb=$rss"
