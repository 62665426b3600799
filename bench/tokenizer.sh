#!/usr/bin/env bash
# tokenizer.sh - CLIP tokenizer throughput on one core (20-word prompts, SDXL tokenizer_2 rules).
# Builds the engine in Release (no sanitizers) in $BUILD_DIR (default build-bench-tokenizer/ in the
# tree, ignored by git), then prints key=value lines:
#   tokenize_prompts_per_s=<x>  tokenize_ns_per_prompt=<x>  prompts=<n>  words_per_prompt=20
# Usage: bench/tokenizer.sh [prompts]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench-tokenizer}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIKE_FARM=OFF -DSTRIKE_CUDA=OFF \
  -DSTRIKE_SANITIZE=OFF >/dev/null
ninja -C "$build" strike_engine >/dev/null
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$root/engine/include" -I"$root/engine/src" \
  -I"$root/tests/engine" "$root/bench/tokenizer_bench.c" "$build/engine/libstrike_engine.a" \
  $(pkg-config --libs jansson) -lz -lm -lpthread -o "$build/tokenizer_bench"
echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
taskset -c 0 "$build/tokenizer_bench" "$root/tests/fixtures/tokenizer" "${1:-400000}" 2>/dev/null ||
  "$build/tokenizer_bench" "$root/tests/fixtures/tokenizer" "${1:-400000}"
