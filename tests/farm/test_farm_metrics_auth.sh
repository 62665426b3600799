#!/usr/bin/env bash
# test_farm_metrics_auth.sh - /metrics counts CURVE refusals: a CURVE coordinator with a worker
# allow-list and --metrics-listen; a listed worker registers, a worker with an unlisted key and a
# plaintext worker do not. strike_auth_refused_total{socket="worker"} must count the unlisted
# key's refusals (the coordinator logs the same key), strike_auth_failed_total{socket="worker"}
# the plaintext worker's failed handshakes, and the client socket counters stay 0 for our own
# (allowed) CLI. Skipped (77) on a libzmq without CURVE.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init metrics-auth
PEER=${STRIKE_HTTP_PEER:?set STRIKE_HTTP_PEER to tests/farm http_peer}
K=$H_DIR/keys
mkdir -p "$K"
if ! "$H_CLI" keygen --out "$K/probe" >"$H_DIR/probe.out" 2>&1 && grep -q "no CURVE support" "$H_DIR/probe.out"; then
  echo "this libzmq has no CURVE: skipped"; trap - EXIT; h_cleanup; exit 77
fi
for n in coord w1 wbad cl; do "$H_CLI" keygen --out "$K/$n" >/dev/null || h_fail "keygen $n"; done
cp "$K/w1.pub" "$H_DIR/allow-workers"
cp "$K/cl.pub" "$H_DIR/allow-clients"
h_redis_start
export STRIKE_CURVE_SERVER_KEY=$K/coord.pub STRIKE_CURVE_KEY=$K/cl.key
h_coord_start --curve-secret-key "$K/coord.key" --curve-allow-workers "$H_DIR/allow-workers" \
  --curve-allow-clients "$H_DIR/allow-clients" --metrics-listen 127.0.0.1:0
port=$(sed -n 's|.*metrics and dashboard on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$H_DIR/logs/coordinator.log" | head -1)
[ -n "$port" ] || { h_fail "no metrics address in the coordinator log"; h_done; }
ADDR=127.0.0.1:$port

m_val() { local k v; while read -r k v; do [ "$k" = "$2" ] && { echo "$v"; return 0; }; done <"$1"; echo missing; }
scrape() { "$PEER" get "$ADDR" /metrics >"$H_DIR/m.txt"; }
h_until "first scrape" scrape
for s in worker client; do
  for m in refused failed; do
    v=$(m_val "$H_DIR/m.txt" "strike_auth_${m}_total{socket=\"$s\"}")
    [ "$v" = 0 ] || h_fail "strike_auth_${m}_total{socket=\"$s\"} = $v before any refusal, expected 0"
  done
done

h_worker_start w1 --curve-server-key "$K/coord.pub" --curve-key "$K/w1.key"
h_worker_start wbad --curve-server-key "$K/coord.pub" --curve-key "$K/wbad.key" --connect-timeout-ms 500
h_worker_start wplain --connect-timeout-ms 500
h_wait_workers 1
wbadpub=$(grep -v '^#' "$K/wbad.pub")
h_until "the coordinator logs the refused key" grep -qF -- "refused CURVE key $wbadpub" "$H_DIR/logs/coordinator.log"
refused_ge1() { scrape && v=$(m_val "$H_DIR/m.txt" 'strike_auth_refused_total{socket="worker"}') && [ "$v" != missing ] && [ "$v" -ge 1 ]; }
failed_ge1() { scrape && v=$(m_val "$H_DIR/m.txt" 'strike_auth_failed_total{socket="worker"}') && [ "$v" != missing ] && [ "$v" -ge 1 ]; }
h_until "strike_auth_refused_total counts the unlisted worker" refused_ge1
h_until "strike_auth_failed_total counts the plaintext worker" failed_ge1
scrape
h_check "/metrics parses" "$PEER" check-prom "$H_DIR/m.txt"
[ "$(m_val "$H_DIR/m.txt" 'strike_auth_refused_total{socket="client"}')" = 0 ] || h_fail "client refusals counted for an allowed CLI"
[ "$(m_val "$H_DIR/m.txt" 'strike_workers{state="ready"}')" = 1 ] || h_fail "ready workers: $(m_val "$H_DIR/m.txt" 'strike_workers{state="ready"}'), expected 1 (only w1)"
h_done
