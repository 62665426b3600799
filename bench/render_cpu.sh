#!/usr/bin/env bash
# render_cpu.sh - one 4-step image end to end on the CPU with strike-render: the tiny random
# model and the full SDXL configuration (random weights), both at 512x512, fp32.
#
# "End to end" is the strike-render process from start to PNG written: model load (safetensors
# -> fp32 weights), both text encoders, 4 UNet steps, VAE decode, PNG. Both models are generated
# by strike-render --make-tiny-model (no download): the tiny one in a temp folder, the full-size
# one (fp16 files, ~6 GB; generating needs ~11 GB of RAM) cached in $STRIKE_BENCH_MODELS. The
# full-size render needs ~15 GB of RAM and takes minutes on a few cores. Builds strike-render
# (Release, no sanitizers, no CUDA) in build-bench-render/ (ignored).
#
# Environment: THREADS (default 0 = all cores), SIZE (512), STEPS (4), SKIP_SDXL=1 (tiny only),
#              STRIKE_RENDER (use this strike-render binary instead of building one),
#              STRIKE_BENCH_MODELS (default ~/.cache/strike/bench-models).
# Last line:   render_cpu_s_tiny=<x> render_cpu_s_sdxl512=<x> peak_rss_mb=<x>
# (peak_rss_mb: the SDXL render process, or the tiny one with SKIP_SDXL=1; the sdxl value is
# "skipped" with SKIP_SDXL=1.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${THREADS:-0}
size=${SIZE:-512}
steps=${STEPS:-4}
models=${STRIKE_BENCH_MODELS:-$HOME/.cache/strike/bench-models}

if [ -n "${STRIKE_RENDER:-}" ]; then
  tool=$STRIKE_RENDER
else
  build=$root/build-bench-render
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIKE_SANITIZE=OFF \
    -DSTRIKE_WERROR=OFF -DSTRIKE_FARM=ON -DSTRIKE_CUDA=OFF >/dev/null
  cmake --build "$build" --target strike-render >/dev/null
  tool=$build/render/strike-render
fi
tmp=$(mktemp -d /tmp/strike-render-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

get() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -n1; }

# one render; prints the summary line of strike-render
render() {
  local model=$1 out=$2
  "$tool" --model "$model" --prompt "a photo of a red cat on the blue sky" --seed 42 \
    --steps "$steps" --width "$size" --height "$size" --threads "$threads" --quiet -o "$out" 2>&1 \
    | grep 'total_s=' | tail -n1
}

"$tool" --make-tiny-model "$tmp/tiny" 2>/dev/null
line=$(render "$tmp/tiny" "$tmp/tiny.png")
echo "tiny: $line" >&2
tiny_s=$(get "$line" total_s)
rss=$(get "$line" peak_rss_mb)

sdxl_s=skipped
if [ "${SKIP_SDXL:-0}" != 1 ]; then
  if ! [ -f "$models/sdxl/STRIKE_RANDOM_MODEL.txt" ]; then   # written last
    echo "generating the full-size random SDXL model in $models/sdxl (once)" >&2
    mkdir -p "$models"
    "$tool" --make-tiny-model "$models/sdxl" --preset sdxl >&2
  fi
  line=$(render "$models/sdxl" "$tmp/sdxl.png")
  echo "sdxl: $line" >&2
  sdxl_s=$(get "$line" total_s)
  rss=$(get "$line" peak_rss_mb)
fi
echo "render_cpu_s_tiny=$tiny_s render_cpu_s_sdxl512=$sdxl_s peak_rss_mb=$rss"
