#!/usr/bin/env bash
# test.sh - the README's test command: set up, build everything (CUDA included when nvcc is
# present) with AddressSanitizer + UBSan and warnings as errors, and run every test with ctest.
#
# Environment:
#   STRIKE_BUILD_DIR   build folder (default: build-test)
#   STRIKE_CUDA_ARCHS  CUDA architectures for this build (default: 90-real, one arch to keep CI fast)
#   STRIKE_JOBS        parallel build jobs (default: nproc)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/bootstrap.sh

build=${STRIKE_BUILD_DIR:-build-test}
jobs=${STRIKE_JOBS:-$(nproc)}
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"

cmake -S . -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTRIKE_SANITIZE=ON -DSTRIKE_WERROR=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${STRIKE_CUDA_ARCHS:-90-real}"
cmake --build "$build" -j "$jobs"

# ASan: CUDA's runtime needs the shadow gap unprotected; leaks in system libraries are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-protect_shadow_gap=0:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure --timeout 1200 -j "$jobs"
