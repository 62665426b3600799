#!/usr/bin/env bash
# test_farm_curve.sh - CurveZMQ security end to end: real redis-server, a CURVE coordinator with
# allow-lists, null workers and the CLI, with keys from `strike keygen`.
#   - keygen writes a 0600 key pair file and a public file, and refuses to overwrite them;
#   - a malformed allow-list stops the coordinator with the file and the line;
#   - a listed worker renders a whole submission (every job exactly once, valid PNGs);
#   - a worker whose key is not listed gets no jobs, its log says the coordinator refused it, the
#     coordinator logs and counts the refusal; after the key is added and SIGHUP, it joins;
#   - a plaintext worker gets no jobs and logs that the coordinator requires CURVE;
#   - a CLI with an unlisted key, a plaintext CLI and a CLI with the wrong server key fail with a
#     clear message (exit 5);
#   - a CLI with only one of the two key files set is a settings error.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init curve
K=$H_DIR/keys
mkdir -p "$K"

# ---- keygen
if ! "$H_CLI" keygen --out "$K/probe" >"$H_DIR/probe.out" 2>&1 && grep -q "no CURVE support" "$H_DIR/probe.out"; then
  echo "this libzmq has no CURVE: skipped"; trap - EXIT; h_cleanup; exit 77
fi
for n in coord w1 wbad cl clbad; do
  "$H_CLI" keygen --out "$K/$n" >"$H_DIR/keygen-$n.out" || h_fail "keygen $n failed"
done
[ "$(stat -c %a "$K/coord.key")" = 600 ] || h_fail "coord.key mode $(stat -c %a "$K/coord.key"), expected 600"
grep -q "^secret-key " "$K/coord.key" || h_fail "coord.key lacks its secret-key line"
pub=$(grep -v '^#' "$K/coord.pub")
[ ${#pub} -eq 40 ] || h_fail "coord.pub holds \"$pub\", expected a 40-character key"
grep -qF -- "$pub" "$H_DIR/keygen-coord.out" || h_fail "keygen did not print the public key"
if grep -qF -- "$(grep '^secret-key' "$K/coord.key" | cut -d' ' -f2)" "$H_DIR/keygen-coord.out"; then
  h_fail "keygen printed the secret key"
fi
sum=$(cat "$K/coord.key" "$K/coord.pub" | md5sum)
"$H_CLI" keygen --out "$K/coord" >/dev/null 2>"$H_DIR/keygen-again.err"
rc=$?
[ $rc -ne 0 ] || h_fail "keygen over an existing key pair exited 0"
grep -q "not overwriting" "$H_DIR/keygen-again.err" || h_fail "keygen refusal says: $(cat "$H_DIR/keygen-again.err")"
[ "$(cat "$K/coord.key" "$K/coord.pub" | md5sum)" = "$sum" ] || h_fail "keygen changed an existing key pair"
"$H_CLI" keygen --out "$K/scratch" >/dev/null && cp "$K/scratch.pub" "$H_DIR/scratch.pub.old"
"$H_CLI" keygen --out "$K/scratch" --force >/dev/null || h_fail "keygen --force failed"
cmp -s "$K/scratch.pub" "$H_DIR/scratch.pub.old" && h_fail "keygen --force kept the old key"

# Allow-lists: workers w1 (a .pub file is a list), clients cl (with comments).
cp "$K/w1.pub" "$H_DIR/allow-workers"
{ echo "# clients allowed"; echo; echo "$(grep -v '^#' "$K/cl.pub")   # the test client"; } >"$H_DIR/allow-clients"

h_redis_start

# ---- a malformed allow-list stops the coordinator, naming the file and line
{ cat "$K/w1.pub"; echo "this-is-not-a-key"; } >"$H_DIR/allow-bad"
timeout 60 "$H_COORD" --worker-endpoint "$H_WEP" --client-endpoint "$H_CEP" --redis "$H_REDIS_SOCK" \
  --curve-secret-key "$K/coord.key" --curve-allow-workers "$H_DIR/allow-bad" >"$H_DIR/logs/coord-bad.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || h_fail "coordinator with a malformed allow-list exited $rc"
grep -q "allow-bad line 3" "$H_DIR/logs/coord-bad.log" ||
  h_fail "malformed allow-list error lacks file and line: $(tail -2 "$H_DIR/logs/coord-bad.log")"
# ... and a world-readable secret key file
cp "$K/coord.key" "$H_DIR/open.key" && chmod 644 "$H_DIR/open.key"
timeout 60 "$H_COORD" --worker-endpoint "$H_WEP" --client-endpoint "$H_CEP" --redis "$H_REDIS_SOCK" \
  --curve-secret-key "$H_DIR/open.key" >"$H_DIR/logs/coord-open.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || h_fail "coordinator with a mode 644 secret key exited $rc"
grep -q "chmod 600" "$H_DIR/logs/coord-open.log" || h_fail "open key file error: $(tail -1 "$H_DIR/logs/coord-open.log")"

# ---- the secured farm
export STRIKE_CURVE_SERVER_KEY=$K/coord.pub STRIKE_CURVE_KEY=$K/cl.key
h_coord_start --curve-secret-key "$K/coord.key" --curve-allow-workers "$H_DIR/allow-workers" \
  --curve-allow-clients "$H_DIR/allow-clients" --heartbeat-ms 200
grep -qF -- "CURVE security on: coordinator public key $pub" "$H_DIR/logs/coordinator.log" ||
  h_fail "coordinator log lacks the CURVE line"
if grep -qF -- "$(grep '^secret-key' "$K/coord.key" | cut -d' ' -f2)" "$H_DIR/logs/coordinator.log"; then
  h_fail "the coordinator logged its secret key"
fi
h_worker_start w1 --curve-server-key "$K/coord.pub" --curve-key "$K/w1.key"
h_worker_start wbad --curve-server-key "$K/coord.pub" --curve-key "$K/wbad.key" --connect-timeout-ms 500
h_worker_start wplain --connect-timeout-ms 500
h_wait_workers 1

h_prompts "$H_DIR/p.txt" 300 curve
id=$(h_strike submit "$H_DIR/p.txt" --seed 5) || h_fail "submit over CURVE failed"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 300
[ -e "$H_OUT/$id/manifest-wbad.jsonl" ] && h_fail "the refused worker wrote a manifest"
h_strike workers --json | jq -e '[.workers[] | select(.worker_id == "wbad")] | length == 0' >/dev/null ||
  h_fail "the refused worker is listed: $(h_strike workers)"

# The refused worker says so (and keeps retrying), the coordinator logs the refused key.
wbadpub=$(grep -v '^#' "$K/wbad.pub")
h_until "wbad logs its refusal" grep -qF -- "refused this worker (CURVE public key $wbadpub)" "$H_DIR/logs/worker-wbad.log"
grep -qF -- "its public key is not on the coordinator's allow-list" "$H_DIR/logs/worker-wbad.log" ||
  h_fail "wbad's log does not say why: $(tail -1 "$H_DIR/logs/worker-wbad.log")"
h_until "the coordinator logs the refused key" grep -qF -- "refused CURVE key $wbadpub from" "$H_DIR/logs/coordinator.log"
kill -0 "${H_WORKER_PID[wbad]}" 2>/dev/null || h_fail "the refused worker exited instead of retrying"
h_until "the plaintext worker logs the mismatch" grep -qF -- "requires CURVE encryption and this side is plaintext" \
  "$H_DIR/logs/worker-wplain.log"
[ -e "$H_OUT/$id/manifest-wplain.jsonl" ] && h_fail "the plaintext worker wrote a manifest"
h_until "the coordinator logs the plaintext worker" grep -qF -- "failed handshake on the worker socket: a plaintext peer" \
  "$H_DIR/logs/coordinator.log"

# ---- CLIs: an unlisted key, plaintext, half the settings
STRIKE_CURVE_KEY=$K/clbad.key "$H_CLI" workers --coordinator "$H_CEP" --timeout-ms 20000 >/dev/null 2>"$H_DIR/clbad.err"
rc=$?
[ $rc -eq 5 ] || h_fail "CLI with an unlisted key exited $rc, expected 5"
grep -q "refused this side's CURVE key" "$H_DIR/clbad.err" || h_fail "CLI refusal message: $(cat "$H_DIR/clbad.err")"
env -u STRIKE_CURVE_KEY -u STRIKE_CURVE_SERVER_KEY "$H_CLI" workers --coordinator "$H_CEP" --timeout-ms 20000 \
  >/dev/null 2>"$H_DIR/plain.err"
rc=$?
[ $rc -eq 5 ] || h_fail "plaintext CLI exited $rc, expected 5"
grep -q "security mismatch" "$H_DIR/plain.err" || h_fail "plaintext CLI message: $(cat "$H_DIR/plain.err")"
h_until "the coordinator logs the plaintext client" grep -qF -- "failed handshake on the client socket" \
  "$H_DIR/logs/coordinator.log"
env -u STRIKE_CURVE_KEY "$H_CLI" workers --coordinator "$H_CEP" --curve-key "$K/cl.key" >/dev/null ||
  h_fail "--curve-key as a flag did not work"
STRIKE_CURVE_SERVER_KEY=$K/w1.pub "$H_CLI" workers --coordinator "$H_CEP" --timeout-ms 20000 >/dev/null 2>"$H_DIR/wrongsrv.err"
rc=$?
[ $rc -eq 5 ] || h_fail "CLI with a wrong curve-server-key exited $rc, expected 5"
grep -q "is curve-server-key the coordinator's public key" "$H_DIR/wrongsrv.err" ||
  h_fail "wrong server key message: $(cat "$H_DIR/wrongsrv.err")"
env -u STRIKE_CURVE_KEY "$H_CLI" workers --coordinator "$H_CEP" >/dev/null 2>"$H_DIR/half.err"
rc=$?
[ $rc -ne 0 ] || h_fail "CLI with curve-server-key but no curve-key exited 0"
grep -q "needs both" "$H_DIR/half.err" || h_fail "half-configured CLI message: $(cat "$H_DIR/half.err")"

# ---- SIGHUP reloads the allow-lists: the refused worker is let in
cat "$K/wbad.pub" >>"$H_DIR/allow-workers"
kill -HUP "$H_COORD_PID"
h_until "allow-lists reloaded" grep -q "allow-lists reloaded: 2 worker keys, 1 client keys" "$H_DIR/logs/coordinator.log"
h_wait_workers 2
h_done
