# harness.sh - bring a whole farm up and down for integration tests, benchmarks and the demo.
#
# Source it from bash, then:
#   h_init NAME                  temp dir $H_DIR, endpoints, cleanup trap (kills what it started)
#   h_redis_start [redis args]   redis-server on a unix socket in $H_DIR (AOF everysec by default)
#   h_redis_kill [SIG]           stop Redis (default KILL); h_redis_start again restarts it on
#                                the same data (AOF)
#   h_coord_start [flags]        strike-coordinator on ipc:// endpoints in $H_DIR; waits until it
#                                answers `strike workers`
#   h_coord_kill [SIG]           stop it (default KILL)
#   h_worker_start NAME [flags]  a null-engine strike-worker writing under $H_DIR/out
#   h_worker_kill NAME [SIG]     stop one worker (default KILL)
#   h_wait_workers N             until N workers are "ready"
#   h_strike ARGS...             the CLI, pointed at this farm
#   h_wait_finished ID           until the submission is finished or cancelled (prints status JSON)
#   h_fail MSG / h_check CMD...  report a failure (the test exits 1 at the end) / check a command
#   h_done                       print the verdict and exit 0 or 1
#
# Binaries come from the environment (ctest sets them): STRIKE_BIN_DIR (build dir holding
# coordinator/, worker/, cli/) or STRIKE_COORDINATOR_BIN, STRIKE_WORKER_BIN, STRIKE_CLI_BIN;
# REDIS_SERVER (default: redis-server on PATH). H_KEEP=1 keeps $H_DIR for a post-mortem.
# Waits are bounded (H_WAIT_S, default 120 s) so a broken farm fails instead of hanging; no test
# asserts on time.

H_FAILS=0
H_PIDS=()
H_WAIT_S=${H_WAIT_S:-120}

h_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
h_fail() { h_log "FAIL: $*"; H_FAILS=$((H_FAILS + 1)); }
h_check() { # h_check "what" cmd args...
  local what=$1; shift
  if "$@"; then h_log "ok: $what"; else h_fail "$what"; fi
}

h_init() {
  H_NAME=${1:-farm}
  H_DIR=$(mktemp -d "${TMPDIR:-/tmp}/strike-$H_NAME-XXXXXX")
  H_REDIS_SOCK=$H_DIR/redis.sock
  H_WEP=ipc://$H_DIR/workers.ipc
  H_CEP=ipc://$H_DIR/clients.ipc
  H_OUT=$H_DIR/out
  mkdir -p "$H_OUT" "$H_DIR/logs"
  local bin=${STRIKE_BIN_DIR:-}
  H_COORD=${STRIKE_COORDINATOR_BIN:-$bin/coordinator/strike-coordinator}
  H_WORKER=${STRIKE_WORKER_BIN:-$bin/worker/strike-worker}
  H_CLI=${STRIKE_CLI_BIN:-$bin/cli/strike}
  H_REDIS=${REDIS_SERVER:-redis-server}
  for b in "$H_COORD" "$H_WORKER" "$H_CLI"; do
    [ -x "$b" ] || { echo "harness: missing binary $b (set STRIKE_BIN_DIR)" >&2; exit 1; }
  done
  # The sanitizers' leak check would fail a killed process's output noise; keep the rest.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  trap h_cleanup EXIT
  h_log "farm dir $H_DIR"
}

# Kill every process we started (by pid, never by name) and remove the temp dir.
h_cleanup() {
  local p
  for p in "${H_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${H_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${H_KEEP:-0}" = 1 ] || [ "$H_FAILS" -gt 0 ]; then
    h_log "kept $H_DIR"
    if [ "$H_FAILS" -gt 0 ]; then
      for f in "$H_DIR"/logs/*.log; do echo "---- $f (tail)" >&2; tail -n 30 "$f" >&2; done
    fi
  else
    rm -rf "$H_DIR"
  fi
}

# Wait until "$@" succeeds, polling; fails after $H_WAIT_S seconds.
h_until() {
  local what=$1; shift
  local end=$((SECONDS + H_WAIT_S))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      h_fail "timed out waiting for: $what"
      { echo "status:"; "$H_CLI" status --coordinator "$H_CEP" --json --timeout-ms 2000
        echo "workers:"; "$H_CLI" workers --coordinator "$H_CEP" --json --timeout-ms 2000; } >&2 2>&1 | head -c 4000 >&2
      return 1
    fi
    sleep 0.1
  done
}

h_redis_start() {
  "$H_REDIS" --port 0 --unixsocket "$H_REDIS_SOCK" --unixsocketperm 700 --dir "$H_DIR" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no "$@" \
    >>"$H_DIR/logs/redis.log" 2>&1 &
  H_REDIS_PID=$!
  H_PIDS+=("$H_REDIS_PID")
  h_until "redis up" redis-cli -s "$H_REDIS_SOCK" ping
}

h_redis_kill() {
  kill -"${1:-KILL}" "$H_REDIS_PID" 2>/dev/null || true
  wait "$H_REDIS_PID" 2>/dev/null || true
}

h_coord_start() {
  "$H_COORD" --worker-endpoint "$H_WEP" --client-endpoint "$H_CEP" --redis "$H_REDIS_SOCK" \
    --default-output-root "$H_OUT" "$@" >>"$H_DIR/logs/coordinator.log" 2>&1 &
  H_COORD_PID=$!
  H_PIDS+=("$H_COORD_PID")
  h_until "coordinator answers" h_strike workers --timeout-ms 500
}

h_coord_kill() {
  kill -"${1:-KILL}" "$H_COORD_PID" 2>/dev/null || true
  wait "$H_COORD_PID" 2>/dev/null || true
}

declare -A H_WORKER_PID
h_worker_start() {
  local name=$1; shift
  "$H_WORKER" --engine null --coordinator "$H_WEP" --output-root "$H_OUT" --worker-id "$name" \
    --backoff-max-ms 500 "$@" >>"$H_DIR/logs/worker-$name.log" 2>&1 &
  H_WORKER_PID[$name]=$!
  H_PIDS+=("$!")
}

h_worker_kill() {
  local pid=${H_WORKER_PID[$1]}
  kill -"${2:-KILL}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null
}

h_strike() { "$H_CLI" "$1" --coordinator "$H_CEP" "${@:2}"; }

h_ready_workers() {
  h_strike workers --json --timeout-ms 2000 | jq '[.workers[] | select(.state == "ready")] | length'
}
h_wait_workers() {
  h_until "$1 workers ready" bash -c "[ \"\$(\"$H_CLI\" workers --coordinator \"$H_CEP\" --json --timeout-ms 2000 | jq '[.workers[] | select(.state == \"ready\")] | length')\" -ge $1 ]"
}

# Status JSON of one submission.
h_status() { h_strike status "$1" --json --timeout-ms 5000; }

h_finished() {
  local s
  s=$(h_status "$1") || return 1
  [ "$(echo "$s" | jq -r '.state')" = finished ] || [ "$(echo "$s" | jq -r '.state')" = cancelled ]
}
h_wait_finished() {
  h_until "submission $1 finished" h_finished "$1" || return 1
  h_status "$1"
}

h_done() {
  trap - EXIT
  h_cleanup
  if [ "$H_FAILS" -gt 0 ]; then
    echo "$H_NAME: $H_FAILS failure(s)"
    exit 1
  fi
  echo "$H_NAME: passed"
  exit 0
}

# Write N text prompts ("<tag> prompt <i>", i = 1..N) to FILE.
h_prompts() { seq 1 "$2" | sed "s/^/${3:-farm} prompt /" >"$1"; }

# Check that submission ID has exactly N jobs, each recorded exactly once and done, and (unless
# NOPNG=1) that every output exists and is a valid PNG. Uses `strike results` (the coordinator's
# record) and tests/farm png_check (STRIKE_PNG_CHECK).
h_check_exactly_once() {
  local id=$1 n=$2 res=$H_DIR/results-$1.jsonl
  h_strike results "$id" --timeout-ms 10000 >"$res" || { h_fail "strike results $id failed"; return; }
  # A job may have a failed record (dead) before a retry succeeded; it must have exactly one
  # done record (status 0), and nothing may be recorded twice for the same outcome.
  local lines uniq dups notdone
  lines=$(jq -r 'select(.status == 0) | .index' "$res" | wc -l)
  uniq=$(jq -r 'select(.status == 0) | .index' "$res" | sort -n | uniq | wc -l)
  dups=$(jq -r 'select(.status == 0) | .index' "$res" | sort -n | uniq -d | wc -l)
  notdone=$((n - uniq))
  [ "$lines" -eq "$n" ] || h_fail "$id: $lines done results recorded, expected $n"
  [ "$uniq" -eq "$n" ] || h_fail "$id: $uniq distinct jobs done, expected $n"
  [ "$dups" -eq 0 ] || h_fail "$id: $dups jobs recorded done twice"
  [ "$notdone" -eq 0 ] || h_fail "$id: $notdone jobs not done"
  local st; st=$(h_status "$id")
  [ "$(echo "$st" | jq .done)" -eq "$n" ] || h_fail "$id: status says done=$(echo "$st" | jq .done), expected $n"
  [ "$(echo "$st" | jq .total)" -eq "$n" ] || h_fail "$id: status says total=$(echo "$st" | jq .total), expected $n"
  if [ "${NOPNG:-0}" != 1 ]; then
    local out
    out=$(jq -r 'select(.status == 0) | .path' "$res" | "$STRIKE_PNG_CHECK" -) || h_fail "$id: bad PNGs: $(echo "$out" | tail -3)"
    echo "$out" | grep -q "checked=$n bad=0" || h_fail "$id: png check: $(echo "$out" | tail -1)"
  fi
  h_log "checked $id: $lines results, $uniq distinct, $dups duplicated, $notdone not done"
}
