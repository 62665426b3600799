#!/usr/bin/env bash
# gpu.sh - one command on a GPU machine (no network): unpack the Debian packages fetched by
# bench/gpu-prep.sh into a local prefix, build the engine with CUDA (-DSTRIKE_FARM=OFF), run the
# GPU tests (engine_backend_ops, which compares every CUDA op with the CPU reference, and every
# test labelled cuda), then the GPU benchmark. Prints key=value lines; the last line is
#   gpu=<name> ms_per_image_b1=<x> images_per_s_b8=<x> unet_step_ms=<x> vae_decode_ms=<x> tflops_b8=<x> peak_mem_gb=<x>
# with `na` for what cannot be measured yet (see docs/cuda.md). Exit status: 0 when the build,
# the tests and the benchmark all succeeded.
#
# After the tests: the philox noise mode against real torch CUDA randn (bench/gpu_philox.py +
# engine_cuda_philox_selftest DIR; philox_vs_torch=match|differ|na, na when python/torch/a device
# is missing, never a failure of the script). After the benchmark: compute-sanitizer memcheck and
# racecheck on tiny-fixture CUDA tests when the toolkit has it (sanitizer_memcheck=ok|fail|
# timeout|na ...), each run bounded with `timeout` and the stage by a whole-script deadline, so
# the script stays well under 10 minutes; then the benchmark's summary line again, last.
#
# Environment:
#   STRIKE_GPU_DIR      work folder (default: build-gpu in the tree; ignored by git)
#   STRIKE_CUDA_ARCHS   CMAKE_CUDA_ARCHITECTURES (default: native, the GPUs of this machine)
#   STRIKE_JOBS         build jobs (default: nproc)
#   STRIKE_GPU_STAGE    all (default) | build (unpack + build only) | test (build + tests)
#   STRIKE_GPU_DEADLINE_S  seconds since the start after which no sanitizer run starts, and by
#                       which each run is cut (default 500)
#   STRIKE_PYTHON       the Python with torch for the philox check (default python3)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${STRIKE_GPU_DIR:-$root/build-gpu}
prefix="$work/prefix"
build="$work/build"
stage=${STRIKE_GPU_STAGE:-all}
jobs=${STRIKE_JOBS:-$(nproc)}
t_start=$(date +%s)
say() { echo "gpu.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- 1. unpack bench/.gpu-deps/*.deb into $prefix (dpkg-deb -x, or ar + tar without dpkg) ----
debs=("$root"/bench/.gpu-deps/*.deb)
mkdir -p "$prefix"
if [ -e "${debs[0]}" ]; then
  for d in "${debs[@]}"; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$d" "$prefix" || die "dpkg-deb -x $d failed"
    else
      member=$(ar t "$d" | grep '^data\.tar') || die "$d: no data.tar member"
      ar p "$d" "$member" | tar -xa -C "$prefix" -f - 2>/dev/null ||
        ar p "$d" "$member" | tar -xJ -C "$prefix" -f - || die "cannot unpack $d"
    fi
  done
  # Absolute symlinks (e.g. libz.so -> /lib/...) must point into the prefix.
  while IFS= read -r l; do
    t=$(readlink "$l")
    case "$t" in /*) [ -e "$prefix$t" ] && ln -sfn "$prefix$t" "$l" ;; esac
  done < <(find "$prefix" -type l)
  # .pc files name /usr; point them at the prefix.
  find "$prefix" -name '*.pc' -exec sed -E -i \
    "s#^(prefix|exec_prefix|libdir|includedir)=/usr#\\1=$prefix/usr#" {} +
  say "unpacked ${#debs[@]} packages into $prefix"
else
  say "no bench/.gpu-deps/*.deb (run bench/gpu-prep.sh on a dev machine first); using system libraries"
fi
multi=x86_64-linux-gnu
pcdirs="$prefix/usr/lib/$multi/pkgconfig:$prefix/usr/lib/$multi/openblas-pthread/pkgconfig:$prefix/usr/share/pkgconfig"
libdirs="$prefix/usr/lib/$multi:$prefix/usr/lib/$multi/openblas-pthread:$prefix/lib/$multi"
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
pkgconf_args=()
if [ -x "$prefix/usr/bin/pkgconf" ] && "$prefix/usr/bin/pkgconf" --version >/dev/null 2>&1; then
  # Only the prefix: the packages we ship are the ones the build uses.
  export PKG_CONFIG_LIBDIR="$pcdirs"
  export PKG_CONFIG_PATH="$pcdirs"
  pkgconf_args=(-DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf")
else
  export PKG_CONFIG_PATH="$pcdirs${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

# ---- 2. build ----
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
command -v nvcc >/dev/null || die "nvcc not found (CUDA toolkit needed)"
gen=(-G Ninja)
command -v ninja >/dev/null || gen=(-G "Unix Makefiles")
archs=${STRIKE_CUDA_ARCHS:-native}
t0=$(date +%s)
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSTRIKE_FARM=OFF \
  -DSTRIKE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" "${pkgconf_args[@]}" >"$work/cmake.log" 2>&1 ||
  { tail -40 "$work/cmake.log"; die "cmake configure failed (log: $work/cmake.log)"; }
grep -E "Strike|OpenBLAS|jansson|JANSSON" "$work/cmake.log" >&2 || true
cmake --build "$build" -j "$jobs" >"$work/build.log" 2>&1 ||
  { tail -60 "$work/build.log"; die "build failed (log: $work/build.log)"; }
echo "build_s=$(( $(date +%s) - t0 )) cuda_archs=$archs"
[ "$stage" = build ] && exit 0

# ---- 3. GPU tests ----
fail=0
t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/nvidia-smi: /' >&2
( cd "$build" && ctest --output-on-failure --timeout 300 -R '^engine_backend_ops$' ) > "$work/ctest.log" 2>&1 || fail=1
( cd "$build" && ctest --output-on-failure --timeout 300 -L cuda ) >> "$work/ctest.log" 2>&1 || fail=1
grep -E "cases:|SKIPPED|passed|FAIL|Test +#|tests passed|device " "$work/ctest.log" | head -80 >&2
echo "tests_s=$(( $(date +%s) - t0 )) tests_ok=$([ $fail = 0 ] && echo 1 || echo 0)"

# ---- 3b. philox noise vs real torch CUDA randn (never fails the script) ----
philox=na
ph="$work/philox"
rm -rf "$ph"
py=${STRIKE_PYTHON:-python3}
cmp="$build/tests/engine_cuda_philox_selftest"
if ! command -v "$py" >/dev/null; then
  say "philox: no $py; philox_vs_torch=na"
elif ! timeout 180 "$py" "$root/bench/gpu_philox.py" "$ph" 2>"$work/philox_py.log"; then
  sed 's/^/philox: /' "$work/philox_py.log" | tail -5 >&2
  say "philox: no torch CUDA noise (torch or device missing); philox_vs_torch=na"
elif [ -x "$cmp" ]; then
  timeout 120 "$cmp" "$ph" > "$work/philox.log" 2>&1
  grep -E '^philox_' "$work/philox.log" | grep -v '^philox_vs_torch='
  r=$(grep '^philox_vs_torch=' "$work/philox.log" | tail -1 | cut -d= -f2)
  philox=${r:-na}
fi
echo "philox_vs_torch=$philox"
[ "$stage" = test ] && exit $fail

# ---- 4. benchmark (its last line is the summary) ----
bench="$build/tests/strike_gpu_bench"
[ -x "$bench" ] || die "no $bench (engine built without CUDA?)"
say "build and tests took $(( $(date +%s) - t_start )) s; benchmark next"
"$bench" | tee "$work/bench.log" || fail=1
[ "${PIPESTATUS[0]}" = 0 ] || fail=1
# The summary must be the last line even if the benchmark died before printing it.
summary=$(tail -1 "$work/bench.log")
if ! printf '%s\n' "$summary" | grep -q '^gpu='; then
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' =' '__')
  summary="gpu=${name:-unknown} ms_per_image_b1=na images_per_s_b8=na unet_step_ms=na vae_decode_ms=na tflops_b8=na peak_mem_gb=na"
  fail=1
fi

# ---- 5. compute-sanitizer on tiny-fixture CUDA tests, bounded by the deadline ----
# A tool's result: ok (every run clean), fail (errors reported, or a test failed under it),
# timeout (a run was cut or skipped for time, none failed), na (no compute-sanitizer, or every
# run skipped for lack of a device).
deadline=${STRIKE_GPU_DEADLINE_S:-500}
san=$(command -v compute-sanitizer || true)
[ -z "$san" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] && san=/usr/local/cuda/bin/compute-sanitizer
models="$build/tests/engine_cuda_models"
# memcheck: the UNet, CLIP, VAE (bf16) and the pipeline (bf16); racecheck (shared-memory
# hazards: norms, softmax, both attention kernels): the UNet, the VAE and the flash path.
# Then both on engine_cuda_device (every op family, three dtypes, graphs), last, so it runs
# only when there is time left.
san_runs_memcheck=("unet tiny f32" "clip" "vae" "pipeline e4 bf16")
san_runs_racecheck=("unet tiny bf16" "vae" "flash:unet tiny bf16")
declare -A san_res=([memcheck]=ok [racecheck]=ok) san_ran=([memcheck]=0 [racecheck]=0) \
  san_total=([memcheck]=0 [racecheck]=0)
san_run() {  # tool, then the runs; updates san_res / san_ran / san_total
  local tool=$1; shift
  local run
  for run in "$@"; do
    san_total[$tool]=$(( san_total[$tool] + 1 ))
    local i=${san_total[$tool]}
    local envs=() args=$run prog=$models
    case "$run" in flash:*) envs=(STRIKE_CUDA_ATTENTION=flash); args=${run#flash:} ;; esac
    if [ "$run" = device ]; then prog="$build/tests/engine_cuda_device"; args=; fi
    if [ ! -x "$prog" ]; then
      say "sanitizer $tool: no $prog"
      san_res[$tool]=fail
      continue
    fi
    local left=$(( deadline - ($(date +%s) - t_start) - 5 ))
    if [ "$left" -lt 20 ]; then
      say "sanitizer $tool: no time left for '$run'"
      [ "${san_res[$tool]}" = ok ] && san_res[$tool]=timeout
      continue
    fi
    [ "$left" -gt 120 ] && left=120
    local log="$work/sanitizer_${tool}_$i.log"
    # shellcheck disable=SC2086
    env "${envs[@]}" timeout "$left" "$san" --tool "$tool" --error-exitcode 99 "$prog" $args \
      > "$log" 2>&1
    local rc=$?
    local errs
    # memcheck: "ERROR SUMMARY: N errors"; racecheck: "RACECHECK SUMMARY: ... (N errors, ...)"
    errs=$(grep -Eo 'ERROR SUMMARY: [0-9]+|\([0-9]+ errors' "$log" | tail -1 | grep -Eo '[0-9]+')
    say "sanitizer $tool '$run': rc=$rc errors=${errs:-?} ($(grep -E 'passed|SKIPPED' "$log" | tail -1))"
    case $rc in
      0) san_ran[$tool]=$(( san_ran[$tool] + 1 )); [ "${errs:-0}" = 0 ] || san_res[$tool]=fail ;;
      77) ;;  # skipped (no device): says nothing
      99) san_ran[$tool]=$(( san_ran[$tool] + 1 )); san_res[$tool]=fail
          grep -E '^=========' "$log" | head -20 >&2 ;;
      124|137) [ "${san_res[$tool]}" = ok ] && san_res[$tool]=timeout ;;
      *) san_ran[$tool]=$(( san_ran[$tool] + 1 )); san_res[$tool]=fail
         grep -E '=========|FAIL' "$log" | head -20 >&2 ;;
    esac
  done
}
if [ -z "$san" ]; then
  say "no compute-sanitizer (looked in PATH and /usr/local/cuda/bin)"
  echo "sanitizer_memcheck=na sanitizer_racecheck=na"
else
  t0=$(date +%s)
  # The small runs of both tools first, engine_cuda_device (the longest) last.
  san_run memcheck "${san_runs_memcheck[@]}"
  san_run racecheck "${san_runs_racecheck[@]}"
  san_run memcheck device
  san_run racecheck device
  for tool in memcheck racecheck; do
    # Nothing ran (every run skipped for lack of a device): na.
    [ "${san_ran[$tool]}" = 0 ] && [ "${san_res[$tool]}" = ok ] && san_res[$tool]=na
  done
  echo "sanitizer_memcheck=${san_res[memcheck]} sanitizer_racecheck=${san_res[racecheck]}" \
    "sanitizer_runs=$(( san_ran[memcheck] + san_ran[racecheck] ))/$(( san_total[memcheck] + san_total[racecheck] ))" \
    "sanitizer_s=$(( $(date +%s) - t0 ))"
  [ "${san_res[memcheck]}" = fail ] || [ "${san_res[racecheck]}" = fail ] && fail=1
fi
echo "total_s=$(( $(date +%s) - t_start ))"
echo "$summary"
exit $fail
