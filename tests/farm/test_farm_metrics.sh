#!/usr/bin/env bash
# test_farm_metrics.sh - the coordinator's HTTP server (--metrics-listen): a real farm (redis-server,
# coordinator, two null workers, CLI). Checks:
#   - a malformed address and a port in use stop the coordinator at start (exit 2, clear message);
#   - while 100 idle connections are held open (32 kept, the rest refused, the kept ones closed by
#     the read timeout) a 3000-job submission still finishes: the loop never stalls;
#   - /metrics parses as Prometheus text format 0.0.4 (http_peer check-prom) and its counters
#     equal the submission's numbers (done, submitted, per submission, per worker, workers);
#   - /status.json is valid JSON with the same numbers; / is the dashboard (< 10 KB, self-contained);
#   - a 20 KB request head is 431, a POST 405, an unknown path 404, and they are counted;
#   - a worker id with a quote and a backslash is escaped (labels and JSON stay parseable);
#   - every metric family served is listed in docs/metrics.md.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init metrics
PEER=${STRIKE_HTTP_PEER:?set STRIKE_HTTP_PEER to tests/farm http_peer}
h_redis_start

# --- the format checker itself must reject what is not the format
printf '# TYPE strike_x gauge\nstrike_x{a="b\\"c"} 1\n' >"$H_DIR/good.txt"
h_check "checker accepts a valid file" "$PEER" check-prom "$H_DIR/good.txt"
i=0
for badf in 'strike_x 1\n' '# TYPE strike_x gauge\nstrike_x{a="b} 1\n' '# TYPE strike_x gauge\nstrike_x one\n' \
  '# TYPE strike_x gauge\nstrike_x{a="\\q"} 1\n' '# TYPE strike_x gauge\nstrike_x{0a="b"} 1\n' \
  '# TYPE strike_x gauge\n# TYPE strike_x counter\nstrike_x 1\n' '# TYPE strike_x gauge\nstrike_x 1'; do
  i=$((i + 1))
  printf "$badf" >"$H_DIR/bad$i.txt"
  "$PEER" check-prom "$H_DIR/bad$i.txt" >/dev/null 2>&1 && h_fail "checker accepts bad file $i: $(cat "$H_DIR/bad$i.txt")"
done

# --- bad addresses: exit 2 with a message naming the setting
for bad in "nonsense" "127.0.0.1:99999" "127.0.0.1:" ":9100" "127.0.0.1:12x"; do
  "$H_COORD" --worker-endpoint "ipc://$H_DIR/bw.ipc" --client-endpoint "ipc://$H_DIR/bc.ipc" \
    --redis "$H_REDIS_SOCK" --redis-prefix bad --metrics-listen "$bad" >"$H_DIR/bad.log" 2>&1
  rc=$?
  [ $rc -eq 2 ] || h_fail "--metrics-listen \"$bad\": exit $rc, expected 2"
  grep -q "bad metrics-listen \"$bad\"" "$H_DIR/bad.log" || h_fail "--metrics-listen \"$bad\": no clear message: $(tail -2 "$H_DIR/bad.log")"
done

# --- the farm, metrics on a free port (logged)
h_coord_start --metrics-listen 127.0.0.1:0
port=$(sed -n 's|.*metrics and dashboard on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$H_DIR/logs/coordinator.log" | head -1)
[ -n "$port" ] || { h_fail "no metrics address in the coordinator log"; h_done; }
ADDR=127.0.0.1:$port
h_log "metrics on $ADDR"

# a second coordinator on the same port: refused at start
"$H_COORD" --worker-endpoint "ipc://$H_DIR/bw.ipc" --client-endpoint "ipc://$H_DIR/bc.ipc" \
  --redis "$H_REDIS_SOCK" --redis-prefix other --metrics-listen "$ADDR" >"$H_DIR/inuse.log" 2>&1
rc=$?
[ $rc -eq 2 ] || h_fail "port in use: exit $rc, expected 2"
grep -q "cannot listen for metrics on $ADDR" "$H_DIR/inuse.log" || h_fail "port in use: no clear message: $(tail -2 "$H_DIR/inuse.log")"

h_worker_start w1
h_worker_start w2
h_wait_workers 2

# value of one series (exact name and labels) in a scraped file
m_val() { local k v; while read -r k v; do [ "$k" = "$2" ] && { echo "$v"; return 0; }; done <"$1"; echo missing; }
scrape() { "$PEER" get "$ADDR" /metrics >"$1"; }

h_until "first scrape" scrape "$H_DIR/m0.txt"
h_check "/metrics parses (idle farm)" "$PEER" check-prom "$H_DIR/m0.txt"
[ "$(m_val "$H_DIR/m0.txt" 'strike_workers{state="ready"}')" = 2 ] || h_fail "strike_workers ready is $(m_val "$H_DIR/m0.txt" 'strike_workers{state="ready"}'), expected 2"

# --- 100 idle connections held while the farm works
"$PEER" idle "$ADDR" 100 >"$H_DIR/idle.out" 2>&1 &
idle_pid=$!
H_PIDS+=("$idle_pid")
h_until "100 idle connections opened" grep -q "^opened=100$" "$H_DIR/idle.out"

N=3000
h_prompts "$H_DIR/p.txt" $N metrics
id=$(h_strike submit "$H_DIR/p.txt" --seed 1) || h_fail "submit failed"
h_log "submitted $id with 100 idle HTTP connections open"
h_wait_finished "$id" >/dev/null || h_fail "$id did not finish while HTTP connections were idle"
# the server closes every idle connection: the ones it kept by the read timeout, the rest at once
h_until "idle connections closed by the server" grep -q "^closed_by_server=100$" "$H_DIR/idle.out"
kill "$idle_pid" 2>/dev/null; wait "$idle_pid" 2>/dev/null

# --- counters equal the submission's numbers
st=$(h_status "$id")
done_cli=$(echo "$st" | jq .done)
[ "$done_cli" = $N ] || h_fail "CLI status says done=$done_cli"
h_until "scrape after the submission" scrape "$H_DIR/m1.txt"
m=$H_DIR/m1.txt
h_check "/metrics parses (after the submission)" "$PEER" check-prom "$m"
expect() { # expect SERIES VALUE
  local v; v=$(m_val "$m" "$1")
  [ "$v" = "$2" ] || h_fail "$1 = $v, expected $2"
}
expect 'strike_jobs_submitted' $N
expect 'strike_jobs{state="done"}' "$done_cli"
expect 'strike_jobs{state="queued"}' 0
expect 'strike_jobs{state="leased"}' 0
expect 'strike_jobs{state="dead"}' 0
expect 'strike_jobs_completed_total' $N
disp=$(m_val "$m" strike_jobs_dispatched_total) # a re-queued shard is dispatched again
[ "$disp" != missing ] && [ "$disp" -ge $N ] || h_fail "strike_jobs_dispatched_total = $disp, expected >= $N"
expect "strike_submission_jobs_submitted{submission=\"$id\"}" $N
expect "strike_submission_jobs{submission=\"$id\",state=\"done\"}" $N
expect 'strike_submissions{state="finished"}' 1
expect 'strike_workers{state="ready"}' 2
expect 'strike_leases_in_flight' 0
expect 'strike_redis_up' 1
sum=0
for w in w1 w2; do
  v=$(m_val "$m" "strike_worker_jobs_done_total{worker=\"$w\"}")
  [ "$v" != missing ] || h_fail "no per-worker series for $w"
  [ "$v" != missing ] && sum=$((sum + v))
done
[ $sum -eq $N ] || h_fail "per-worker jobs done sum to $sum, expected $N"
refused=$(m_val "$m" strike_http_refused_total)
timeouts=$(m_val "$m" strike_http_timeouts_total)
[ "$refused" != missing ] && [ "$refused" -ge 68 ] || h_fail "strike_http_refused_total = $refused, expected >= 68"
[ "$timeouts" != missing ] && [ "$timeouts" -ge 32 ] || h_fail "strike_http_timeouts_total = $timeouts, expected >= 32"
commits=$(m_val "$m" strike_redis_commit_seconds_count)
inf=$(m_val "$m" 'strike_redis_commit_seconds_bucket{le="+Inf"}')
[ "$commits" != missing ] && [ "$commits" -gt 0 ] && [ "$commits" = "$inf" ] ||
  h_fail "commit histogram: count $commits, +Inf bucket $inf"
grep -q '^strike_build_info{version="[^"]*",protocol="1"} 1$' "$m" || h_fail "no strike_build_info"
grep -q '^strike_process_start_time_seconds [0-9]' "$m" || h_fail "no strike_process_start_time_seconds"

# every metric family is documented in docs/metrics.md
docs=$(dirname "$0")/../../docs/metrics.md
for fam in $(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$m"); do
  grep -qF "\`$fam\`" "$docs" || h_fail "docs/metrics.md does not list $fam"
done

# --- /status.json: valid JSON, same numbers
"$PEER" get "$ADDR" /status.json >"$H_DIR/s.json" || h_fail "GET /status.json failed"
jq -e . "$H_DIR/s.json" >/dev/null || h_fail "/status.json is not valid JSON"
jq -e --arg id "$id" --argjson n $N '.jobs.done == $n and .jobs.submitted == $n and .workers_ready == 2
  and ([.submissions[] | select(.id == $id)][0] | .done == $n and .total == $n and .state == "finished")
  and ([.workers[].jobs_done] | add) == $n and (.workers | length) == 2' "$H_DIR/s.json" >/dev/null ||
  h_fail "/status.json numbers differ: $(head -c 600 "$H_DIR/s.json")"

# --- the dashboard
"$PEER" get "$ADDR" / >"$H_DIR/index.html" || h_fail "GET / failed"
size=$(wc -c <"$H_DIR/index.html")
[ "$size" -gt 200 ] && [ "$size" -lt 10240 ] || h_fail "dashboard is $size bytes"
grep -q "status.json" "$H_DIR/index.html" || h_fail "dashboard does not poll status.json"
grep -Eq "(src|href)=\"?https?:" "$H_DIR/index.html" && h_fail "dashboard loads external assets"

# --- error paths
[ "$("$PEER" status "$ADDR" GET /metrics 20000)" = 431 ] || h_fail "a 20 KB request head is not 431"
[ "$("$PEER" status "$ADDR" POST /metrics)" = 405 ] || h_fail "POST is not 405"
[ "$("$PEER" status "$ADDR" GET /nope)" = 404 ] || h_fail "an unknown path is not 404"
[ "$("$PEER" status "$ADDR" GET '/metrics?x=1')" = 200 ] || h_fail "a query string is not ignored"
scrape "$H_DIR/m2.txt"
bad=$(m_val "$H_DIR/m2.txt" strike_http_bad_requests_total)
[ "$bad" != missing ] && [ "$bad" -ge 2 ] || h_fail "strike_http_bad_requests_total = $bad, expected >= 2"

# --- escaping: a worker id with a quote and a backslash
h_worker_start 'w"3\x'
h_wait_workers 3
h_until "scrape with 3 workers" scrape "$H_DIR/m3.txt"
h_check "/metrics parses with an escaped worker id" "$PEER" check-prom "$H_DIR/m3.txt"
grep -qF 'strike_worker_jobs_done_total{worker="w\"3\\x"} 0' "$H_DIR/m3.txt" || h_fail "worker id not escaped: $(grep worker_jobs_done "$H_DIR/m3.txt")"
"$PEER" get "$ADDR" /status.json | jq -e '[.workers[].id] | index("w\"3\\x") != null' >/dev/null ||
  h_fail "/status.json lacks the escaped worker id"
h_done
