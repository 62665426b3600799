#!/usr/bin/env bash
# farm_bench.sh - end-to-end benchmark of the farm with the null (test) engine.
#
#   bench/farm_bench.sh --jobs N --workers W [--write-images [--no-fsync]] [--prompt-bytes B] [--keep]
#
# Builds strike-coordinator, strike-worker and strike (Release, no sanitizers) in
# $STRIKE_BENCH_BUILD (default: build-bench-farm), brings up redis-server (AOF, appendfsync everysec) on a
# unix socket in a temp dir, and a coordinator. Then:
#   1. generates N prompts (about B bytes each, default 48) into a file;
#   2. `strike submit` sends them (submit_prompts_per_s: prompts / seconds the client spent from the
#      first read to the last chunk acknowledged);
#   3. samples Redis used_memory with the whole submission queued and no worker started:
#      redis_bytes_per_job = (used_memory after - before) / N, next to prompt_bytes_per_job;
#   4. starts W null workers (--no-write, tiny images: they neither encode nor write PNGs, unless
#      --write-images; --no-fsync skips the fsync before each rename) and waits until the
#      submission is finished;
#   5. verifies from the coordinator's records (`strike results`): lost = jobs without a done
#      record, duplicated = done records beyond one per job.
# farm_jobs_per_s = N / (submit seconds + seconds from starting the workers to finished), i.e. from
# the first prompt read to the last result recorded, with the Redis sample taken out.
# The LAST line is:
#   farm_jobs_per_s=.. submit_prompts_per_s=.. redis_bytes_per_job=.. lost=.. duplicated=.. jobs=N workers=W
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=1000000 workers=4 write=0 pbytes=48 keep=0 fsync=1
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --write-images) write=1; shift ;;
    --no-fsync) fsync=0; shift ;;
    --prompt-bytes) pbytes=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "farm_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done

build=${STRIKE_BENCH_BUILD:-$root/build-bench-farm}
echo "farm_bench: building (Release) in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIKE_SANITIZE=OFF -DSTRIKE_WERROR=OFF -DSTRIKE_FARM=ON \
  -DSTRIKE_CUDA=OFF >/dev/null
nice cmake --build "$build" --target strike-coordinator strike-worker strike -j "${STRIKE_JOBS:-2}" >/dev/null

export STRIKE_BIN_DIR=$build
export H_WAIT_S=${H_WAIT_S:-1800}
. "$root/tests/farm/harness.sh"
h_init bench
[ $keep = 1 ] && H_KEEP=1
h_redis_start --appendfsync everysec
h_coord_start --log-level warn

# Prompts: "bench <i> " padded with words to about pbytes bytes.
pad=$(head -c "$pbytes" /dev/zero | tr '\0' 'x')
awk -v n="$jobs" -v pad="$pad" -v pb="$pbytes" 'BEGIN {
  for (i = 0; i < n; i++) { s = "bench prompt " i " a lighthouse at dusk "; if (length(s) < pb) s = s substr(pad, 1, pb - length(s)); print s } }' \
  >"$H_DIR/prompts.txt"
size=$(stat -c %s "$H_DIR/prompts.txt")
prompt_bytes_per_job=$(awk -v s="$size" -v n="$jobs" 'BEGIN { printf "%.1f", (s - n) / n }')

mem() { redis-cli -s "$H_REDIS_SOCK" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }
mem0=$(mem)
t0=$(date +%s.%N)
sub=$(h_strike submit "$H_DIR/prompts.txt" --json --timeout-ms 60000 --progress=false)
t1=$(date +%s.%N)
id=$(echo "$sub" | jq -r .submission_id)
submit_s=$(echo "$sub" | jq -r .seconds)
submit_pps=$(echo "$sub" | jq -r '.prompts_per_s | floor')
sleep 1 # let the coordinator's last write-behind transaction land
mem1=$(mem)
redis_bytes_per_job=$(awk -v a="$mem0" -v b="$mem1" -v n="$jobs" 'BEGIN { printf "%.1f", (b - a) / n }')
echo "submit_seconds=$submit_s submit_wall_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}') prompt_bytes_per_job=$prompt_bytes_per_job redis_used_memory_before=$mem0 redis_used_memory_queued=$mem1"

wopts=(--credit 16384 --batch 256)
if [ $write = 1 ]; then
  wopts+=(--compression 1)
  [ $fsync = 1 ] || wopts+=(--no-fsync)
else
  wopts+=(--no-write --engine-options scale=64)
fi
t2=$(date +%s.%N)
for i in $(seq 1 "$workers"); do h_worker_start "bw$i" --log-level warn "${wopts[@]}"; done
h_strike watch "$id" --json --interval-ms 50 --timeout-ms 60000 --progress=false >"$H_DIR/watch.jsonl" || true
t3=$(date +%s.%N)
run_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.3f", b - a }')

h_strike results "$id" --timeout-ms 60000 >"$H_DIR/results.jsonl"
jq -r 'select(.status == 0) | .index' "$H_DIR/results.jsonl" >"$H_DIR/done.idx"
recs=$(wc -l <"$H_DIR/done.idx")
done_uniq=$(sort -n -u "$H_DIR/done.idx" | wc -l)
lost=$((jobs - done_uniq))
duplicated=$((recs - done_uniq))
st=$(h_status "$id")
echo "dispatch_seconds=$run_s dispatch_jobs_per_s=$(awk -v n="$jobs" -v s="$run_s" 'BEGIN{printf "%.0f", n/s}') status_done=$(echo "$st" | jq .done) status_dead=$(echo "$st" | jq .dead) write_images=$write fsync=$fsync"
h_strike workers --json | jq -c '{frames_malformed, frames_oversized, results_stale, results_duplicate}' | tr -d '{}"' | tr ',:' ' =' | sed 's/^/coordinator_/; s/ / coordinator_/g'
farm=$(awk -v n="$jobs" -v a="$submit_s" -v b="$run_s" 'BEGIN { printf "%.0f", n / (a + b) }')
echo "farm_jobs_per_s=$farm submit_prompts_per_s=$submit_pps redis_bytes_per_job=$redis_bytes_per_job lost=$lost duplicated=$duplicated jobs=$jobs workers=$workers"
