#!/usr/bin/env bash
# test_farm_e2e.sh - the whole farm on one box: real redis-server, coordinator, three null workers
# and the CLI. A text submission and a JSONL submission (per-job seeds and sizes) must each have
# every job done exactly once, every image a valid PNG with the A1111 parameters chunk, manifests
# next to the images, watch exiting 0, and workers listed.
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init e2e
h_redis_start
h_coord_start
for w in w1 w2 w3; do h_worker_start $w; done
h_wait_workers 3

h_prompts "$H_DIR/p.txt" 1500 e2e
id=$(h_strike submit "$H_DIR/p.txt" --seed 1000 --width 512 --height 512) || h_fail "submit failed"
h_log "submitted $id"
h_strike watch "$id" --timeout-ms 20000 >/dev/null
rc=$?
[ $rc -eq 0 ] || h_fail "watch exited $rc"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 1500

# Seeds follow the rule (base + index) and the PNG carries the A1111 parameters.
res=$H_DIR/results-$id.jsonl
bad_seed=$(jq -r 'select(.seed != 1000 + .index) | .index' "$res" | wc -l)
[ "$bad_seed" -eq 0 ] || h_fail "$bad_seed jobs have a seed other than base + index"
p=$(jq -r 'select(.index == 7) | .path' "$res")
params=$("$STRIKE_PNG_CHECK" --text parameters "$p" | head -2)
echo "$params" | grep -q "^e2e prompt 8$" || h_fail "parameters chunk lacks the prompt: $params"
echo "$params" | grep -q "Steps: 4, Sampler: Euler, Seed: 1007, Size: .*, Model: sdxl-lightning" ||
  h_fail "parameters line wrong: $params"
# Path rule: <root>/<id>/<index/1000, 6 digits>/<index, 9 digits>.png
case "$p" in */$id/000000/000000007.png) ;; *) h_fail "unexpected path $p" ;; esac
# Manifests: one per worker that worked, together covering every job.
nman=$(ls "$H_OUT/$id"/manifest-*.jsonl 2>/dev/null | wc -l)
[ "$nman" -ge 1 ] || h_fail "no manifest files"
mjobs=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -r .index | sort -n | uniq | wc -l)
[ "$mjobs" -eq 1500 ] || h_fail "manifests cover $mjobs jobs, expected 1500"

# JSONL with per-job overrides.
{
  echo '{"prompt":"jsonl one","seed":5}'
  echo '{"prompt":"jsonl two","width":256,"height":128,"steps":2}'
  echo '{"prompt":"jsonl three \"quoted\" \u00e9"}'
} >"$H_DIR/p.jsonl"
id2=$(h_strike submit "$H_DIR/p.jsonl" --seed 77) || h_fail "jsonl submit failed"
h_wait_finished "$id2" >/dev/null
h_check_exactly_once "$id2" 3
r2=$H_DIR/results-$id2.jsonl
[ "$(jq -r 'select(.index == 0) | .seed' "$r2")" = 5 ] || h_fail "explicit seed not used"
[ "$(jq -r 'select(.index == 2) | .seed' "$r2")" = 79 ] || h_fail "derived seed not base + index"
p2=$(jq -r 'select(.index == 1) | .path' "$r2")
"$STRIKE_PNG_CHECK" --text parameters "$p2" | grep -q "Steps: 2, .*Size: 16x8" || h_fail "per-job steps/size not applied"

# Status of all, workers listing, resubmitting the same file is a no-op resume.
h_strike status --json | jq -e 'length >= 2' >/dev/null || h_fail "status list"
# ... newest first, every submission, --limit, and the table
ids=$(h_strike status --json | jq -r '.[].submission_id' | tr '\n' ' ')
[ "$ids" = "$id2 $id " ] || h_fail "status without an id lists \"$ids\", expected \"$id2 $id \""
[ "$(h_strike status --json --limit 1 | jq -r '.[].submission_id')" = "$id2" ] || h_fail "status --limit 1"
h_strike status | grep -Eq "^$id +finished +1500 " || h_fail "status table lacks $id: $(h_strike status)"
h_strike status | grep -Eq "^$id2 +finished +3 " || h_fail "status table lacks $id2: $(h_strike status)"
h_strike workers | grep -q w2 || h_fail "workers list lacks w2"
again=$(h_strike submit "$H_DIR/p.txt" --seed 1000 --width 512 --height 512 2>"$H_DIR/again.err")
[ "$again" = "$id" ] || h_fail "re-running the same submit made $again, expected $id"
[ "$(h_status "$id" | jq .total)" -eq 1500 ] || h_fail "re-run added jobs"
h_done
