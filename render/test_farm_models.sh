#!/usr/bin/env bash
# test_farm_models.sh - a job's model and steps through the whole farm (real redis-server,
# coordinator, `strike-worker --engine cpu`, CLI) with the tiny random model strike-render makes:
#  1. coordinator with `--models FILE`: a submission with no --steps gets the model's
#     default_steps (status, manifest and PNG say so, and the pixels equal strike-render's at
#     those steps); steps the model does not list (template or one JSONL line) and an unknown
#     model are refused at submit (CLI exit 5, message naming job/steps/what the model supports);
#     a model listing counts other than 1/2/4/8 gets them (the CLI bounds steps to 1..1000 only);
#  2. every farm PNG carries strike:model_hash, equal to what strike-render writes for the model
#     (named from the models config, and a bare folder);
#  3. a malformed models config stops the coordinator at start (exit 1, file/model/key named);
#  4. coordinator without a models config: steps 0 travel to the worker, which resolves them
#     (a spec's default_steps; a bare model=PATH from its folder's "_Nstep" name); a seed over
#     2^63-1 is a string in the manifest; explicit steps any 1..1000 pass the coordinator (a
#     bare model renders them, a spec not listing them fails the job at the worker), and the
#     same command resumes the same submission (client token unchanged);
#  5. the worker's start-up check (se_model_check): a model folder with a tensor removed from a
#     safetensors header, one whose config implies other shapes, a missing tokenizer file, and
#     a models config with one broken model among good ones: the worker exits 2 naming the
#     model, the file and the tensor; with --models naming only the good one it starts.
# Environment: as tests/farm/harness.sh, plus STRIKE_RENDER_BIN and STRIKE_PNG_DIFF.
set -uo pipefail
. "$(dirname "$0")/../tests/farm/harness.sh"
h_init models
h_redis_start
"$STRIKE_RENDER_BIN" --make-tiny-model "$H_DIR/tiny" 2>/dev/null || h_fail "tiny model"
ln -s tiny "$H_DIR/tiny_2step" # a bare folder whose name says 2 steps
cat >"$H_DIR/models.json" <<'EOF'
{"_comment": "test models",
 "models": [{"name": "tiny-2step", "base": "tiny", "steps": [2]},
            {"name": "tiny-multi", "base": "tiny", "steps": [1, 2], "default_steps": 1},
            {"name": "tiny-odd", "base": "tiny", "steps": [3, 5], "default_steps": 5}]}
EOF

# ---- 3. malformed models configs: the coordinator refuses to start, naming what is wrong
bad_config() { # bad_config NAME JSON EXPECTED-TEXT...
  local name=$1 json=$2; shift 2
  printf '%s\n' "$json" >"$H_DIR/bad-$name.json"
  local out rc
  out=$("$H_COORD" --worker-endpoint "ipc://$H_DIR/bw.ipc" --client-endpoint "ipc://$H_DIR/bc.ipc" \
    --redis "$H_REDIS_SOCK" --models "$H_DIR/bad-$name.json" 2>&1)
  rc=$?
  [ "$rc" -eq 1 ] || { h_fail "bad models config $name: coordinator exit $rc, expected 1"; return; }
  local t
  for t in "bad-$name.json" "$@"; do
    grep -qF -- "$t" <<<"$out" || h_fail "bad models config $name: message lacks \"$t\": $out"
  done
  h_log "bad models config $name refused: $out"
}
bad_config unknown-key '{"models": [{"name": "m1", "base": "b", "steps": [4], "stepz": 3}]}' "model m1" '"stepz"'
bad_config steps-range '{"models": [{"name": "m1", "base": "b", "steps": [4, 0]}]}' "model m1" '"steps"[1]'
bad_config default '{"models": [{"name": "m1", "base": "b", "steps": [4], "default_steps": 8}]}' "model m1" '"default_steps"'
bad_config name '{"models": [{"name": "a b", "base": "b", "steps": [4]}]}' "models[0]" '"name"'
bad_config twice '{"models": [{"name": "m1", "base": "b", "steps": [4]}, {"name": "m1", "base": "b", "steps": [2]}]}' "m1" "twice"
bad_config no-models '{"model": []}' '"model"'
bad_config json '{"models": [' "line"
bad_config long-name "{\"models\": [{\"name\": \"$(printf 'n%.0s' $(seq 64))\", \"base\": \"b\", \"steps\": [4]}]}" "models[0]" '"name"'
bad_config many-steps '{"models": [{"name": "m1", "base": "b", "steps": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}]}' "model m1" '"steps"'
bad_config big "{\"_pad\": \"$(head -c 1100000 /dev/zero | tr '\0' x)\", \"models\": []}" "at most 1048576"
bad_config many-models "{\"models\": [$(for i in $(seq 257); do printf '{"name": "m%d", "base": "b", "steps": [4]},' "$i"; done | sed 's/,$//')]}" "1..256 models"
"$H_COORD" --redis "$H_REDIS_SOCK" --models "$H_DIR/missing.json" >/dev/null 2>"$H_DIR/missing.err"
[ $? -eq 1 ] && grep -q "missing.json" "$H_DIR/missing.err" || h_fail "a missing models config is not refused"

# ---- 1. coordinator with the models config
h_coord_start --models "$H_DIR/models.json"
"$H_WORKER" --engine cpu --engine-options "models=$H_DIR/models.json,model=bare:$H_DIR/tiny_2step,threads=2,max_batch=4" \
  --coordinator "$H_WEP" --output-root "$H_OUT" --worker-id wm --backoff-max-ms 500 --batch 8 \
  >>"$H_DIR/logs/worker-wm.log" 2>&1 &
H_PIDS+=("$!")
h_wait_workers 1
echo "a red cat" >"$H_DIR/one.txt"

# the model's default steps, resolved at submit
id=$(h_strike submit "$H_DIR/one.txt" --model tiny-multi --width 64 --height 64 --seed 11) || h_fail "submit (default steps)"
h_wait_finished "$id" >/dev/null
h_status "$id" | jq -e '.steps == 1 and .done == 1' >/dev/null || h_fail "status of $id: $(h_status "$id")"
line=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -c 'select(.path != null)')
[ "$(jq .steps <<<"$line")" = 1 ] || h_fail "manifest steps: $line"
p=$(jq -r .path <<<"$line")
"$STRIKE_PNG_CHECK" --text parameters "$p" | grep -q "Steps: 1," || h_fail "PNG parameters do not say Steps: 1"
"$STRIKE_RENDER_BIN" --models "$H_DIR/models.json" --model tiny-multi --prompt "a red cat" --seed 11 --steps 1 \
  --width 64 --height 64 --threads 2 --quiet -o "$H_DIR/ref-multi.png" 2>>"$H_DIR/logs/render.log" || h_fail "strike-render tiny-multi"
out=$("$STRIKE_PNG_DIFF" "$p" "$H_DIR/ref-multi.png" 1) || h_fail "default-steps job differs from strike-render --steps 1: $out"

# ---- 2. the model hash: present, 16 hex digits, equal to strike-render's for the same model
fh=$("$STRIKE_PNG_CHECK" --text strike:model_hash "$p" | head -1)
rh=$("$STRIKE_PNG_CHECK" --text strike:model_hash "$H_DIR/ref-multi.png" | head -1)
[[ "$fh" =~ ^[0-9a-f]{16}$ ]] || h_fail "farm PNG strike:model_hash is \"$fh\""
[ "$fh" = "$rh" ] || h_fail "farm model hash $fh, strike-render's $rh"
[ "$(jq -r .model_hash <<<"$line")" = "$fh" ] || h_fail "manifest model_hash: $line"
h_log "model hash $fh (farm) = $rh (strike-render)"

# refusals at submit: template steps, one JSONL line's steps, an unknown model
out=$(h_strike submit "$H_DIR/one.txt" --model tiny-2step --steps 4 --width 64 --height 64 2>&1)
rc=$?
[ "$rc" -eq 5 ] || h_fail "unsupported template steps: exit $rc, expected 5 ($out)"
grep -q "template: steps 4: model tiny-2step supports steps {2} (default 2)" <<<"$out" || h_fail "template steps message: $out"
printf '%s\n' '{"prompt":"ok"}' '{"prompt":"too many","steps":8}' >"$H_DIR/bad.jsonl"
out=$(h_strike submit "$H_DIR/bad.jsonl" --model tiny-multi --width 64 --height 64 2>&1)
rc=$?
[ "$rc" -eq 5 ] || h_fail "unsupported job steps: exit $rc, expected 5 ($out)"
grep -q "job 1: steps 8: model tiny-multi supports steps {1, 2} (default 1)" <<<"$out" || h_fail "job steps message: $out"
out=$(h_strike submit "$H_DIR/one.txt" --model no-such-model --width 64 --height 64 2>&1)
rc=$?
[ "$rc" -eq 5 ] || h_fail "unknown model: exit $rc, expected 5 ($out)"
grep -q 'unknown model "no-such-model"' <<<"$out" && grep -q "tiny-2step, tiny-multi" <<<"$out" ||
  h_fail "unknown model message: $out"
# an explicit supported value still works (and "bare" is not in the coordinator's config)
id=$(h_strike submit "$H_DIR/one.txt" --model tiny-multi --steps 2 --width 64 --height 64 --seed 12) || h_fail "submit steps 2"
h_wait_finished "$id" | jq -e '.steps == 2 and .done == 1' >/dev/null || h_fail "explicit steps 2"
# a model listing 3 and 5: --steps 3 passes the CLI and the coordinator, renders 3 steps
id=$(h_strike submit "$H_DIR/one.txt" --model tiny-odd --steps 3 --width 64 --height 64 --seed 15) || h_fail "submit tiny-odd --steps 3"
h_wait_finished "$id" | jq -e '.steps == 3 and .done == 1' >/dev/null || h_fail "tiny-odd steps 3: $(h_status "$id")"
line=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -c 'select(.path != null)')
[ "$(jq .steps <<<"$line")" = 3 ] || h_fail "tiny-odd manifest steps: $line"
p=$(jq -r .path <<<"$line")
"$STRIKE_PNG_CHECK" --text parameters "$p" | grep -q "Steps: 3," || h_fail "tiny-odd PNG parameters do not say Steps: 3"
"$STRIKE_RENDER_BIN" --models "$H_DIR/models.json" --model tiny-odd --prompt "a red cat" --seed 15 --steps 3 \
  --width 64 --height 64 --threads 2 --quiet -o "$H_DIR/ref-odd.png" 2>>"$H_DIR/logs/render.log" || h_fail "strike-render tiny-odd"
out=$("$STRIKE_PNG_DIFF" "$p" "$H_DIR/ref-odd.png" 1) || h_fail "steps-3 job differs from strike-render --steps 3: $out"
# ... its default (5) without --steps, and 4 (not listed) refused by the coordinator, not the CLI
id=$(h_strike submit "$H_DIR/one.txt" --model tiny-odd --width 64 --height 64 --seed 16) || h_fail "submit tiny-odd default"
h_wait_finished "$id" | jq -e '.steps == 5 and .done == 1' >/dev/null || h_fail "tiny-odd default steps 5: $(h_status "$id")"
out=$(h_strike submit "$H_DIR/one.txt" --model tiny-odd --steps 4 --width 64 --height 64 2>&1)
rc=$?
[ "$rc" -eq 5 ] && grep -q "template: steps 4: model tiny-odd supports steps {3, 5} (default 5)" <<<"$out" ||
  h_fail "tiny-odd --steps 4: exit $rc, expected 5 and the coordinator's message: $out"
printf '%s\n' '{"prompt":"ok","steps":5}' '{"prompt":"odd","steps":999}' >"$H_DIR/odd.jsonl"
out=$(h_strike submit "$H_DIR/odd.jsonl" --model tiny-odd --width 64 --height 64 2>&1)
rc=$?
[ "$rc" -eq 5 ] && grep -q "job 1: steps 999: model tiny-odd supports steps {3, 5}" <<<"$out" ||
  h_fail "tiny-odd JSONL steps 999: exit $rc, expected 5 and the coordinator's message: $out"

# ---- 4. no models config at the coordinator: steps 0 travel, the worker resolves them
h_coord_kill TERM
h_coord_start
h_wait_workers 1
id=$(h_strike submit "$H_DIR/one.txt" --model bare --width 64 --height 64 --seed 13) || h_fail "submit bare"
st=$(h_wait_finished "$id")
jq -e '.steps == 0 and .done == 1' <<<"$st" >/dev/null || h_fail "bare model job: $st"
line=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -c 'select(.path != null)')
[ "$(jq .steps <<<"$line")" = 2 ] || h_fail "bare model: the worker did not resolve steps 0 to 2: $line"
p=$(jq -r .path <<<"$line")
"$STRIKE_PNG_CHECK" --text parameters "$p" | grep -q "Steps: 2," || h_fail "bare model PNG parameters do not say Steps: 2"
[[ "$("$STRIKE_PNG_CHECK" --text strike:model_hash "$p" | head -1)" =~ ^[0-9a-f]{16}$ ]] || h_fail "bare model PNG has no model hash"
"$STRIKE_RENDER_BIN" --model "$H_DIR/tiny" --prompt "a red cat" --seed 13 --steps 2 --width 64 --height 64 \
  --threads 2 --quiet -o "$H_DIR/ref-bare.png" 2>>"$H_DIR/logs/render.log" || h_fail "strike-render bare"
out=$("$STRIKE_PNG_DIFF" "$p" "$H_DIR/ref-bare.png" 1) || h_fail "bare model job differs from strike-render --steps 2: $out"
fh=$("$STRIKE_PNG_CHECK" --text strike:model_hash "$p" | head -1)
rh=$("$STRIKE_PNG_CHECK" --text strike:model_hash "$H_DIR/ref-bare.png" | head -1)
[ "$fh" = "$rh" ] || h_fail "bare model: farm model hash $fh, strike-render --model FOLDER's $rh"
# a seed over 2^63-1 is written into the manifest as a string (as strike results writes it)
echo '{"prompt":"big seed","seed":"18446744073709551615"}' >"$H_DIR/big.jsonl"
id=$(h_strike submit "$H_DIR/big.jsonl" --model bare --width 64 --height 64) || h_fail "submit big seed"
h_wait_finished "$id" >/dev/null
line=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -c 'select(.path != null)')
[ "$(jq -c .seed <<<"$line")" = '"18446744073709551615"' ] || h_fail "manifest big seed: $line"
[ "$(h_strike results "$id" | jq -c 'select(.status == 0) | .seed')" = '"18446744073709551615"' ] ||
  h_fail "strike results big seed: $(h_strike results "$id")"
id=$(h_strike submit "$H_DIR/one.txt" --model tiny-2step --width 64 --height 64 --seed 14) || h_fail "submit spec, no coordinator config"
h_wait_finished "$id" >/dev/null
line=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -c 'select(.path != null)')
[ "$(jq .steps <<<"$line")" = 2 ] || h_fail "spec model: the worker did not resolve steps 0 to its default 2: $line"
# explicit steps without a models config: the coordinator passes 1..1000 (3 here), a bare model
# renders them, and the same command resumes the same submission (the client token is stable)
id=$(h_strike submit "$H_DIR/one.txt" --model bare --steps 3 --width 64 --height 64 --seed 17) || h_fail "submit bare --steps 3"
h_wait_finished "$id" | jq -e '.steps == 3 and .done == 1' >/dev/null || h_fail "bare --steps 3: $(h_status "$id")"
line=$(cat "$H_OUT/$id"/manifest-*.jsonl | jq -c 'select(.path != null)')
[ "$(jq .steps <<<"$line")" = 3 ] || h_fail "bare --steps 3: manifest $line"
id2=$(h_strike submit "$H_DIR/one.txt" --model bare --steps 3 --width 64 --height 64 --seed 17 2>"$H_DIR/resume.err") ||
  h_fail "re-running submit bare --steps 3: $(cat "$H_DIR/resume.err")"
[ "$id2" = "$id" ] || h_fail "the same submit command made a new submission $id2 (expected to resume $id)"
grep -q "submission $id was already sent completely" "$H_DIR/resume.err" || h_fail "no resume message: $(cat "$H_DIR/resume.err")"
# ... a spec that does not list them fails the job at the worker, with the spec's message
id=$(h_strike submit "$H_DIR/one.txt" --model tiny-2step --steps 3 --width 64 --height 64 --seed 18) || h_fail "submit tiny-2step --steps 3"
h_wait_finished "$id" | jq -e '.done == 0' >/dev/null || h_fail "tiny-2step --steps 3 rendered: $(h_status "$id")"
h_strike results "$id" | jq -r 'select(.status != 0) | .error' | grep -q "model tiny-2step supports 2 steps only, the job asks for 3" ||
  h_fail "tiny-2step --steps 3: results lack the worker's message: $(h_strike results "$id")"
# ... and over 1000 is refused by the CLI before anything is sent
out=$(h_strike submit "$H_DIR/one.txt" --model bare --steps 1001 --width 64 --height 64 2>&1)
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--steps 1001 is not in 1..1000" <<<"$out" || h_fail "--steps 1001: exit $rc: $out"

# ---- 5. the worker's start-up check
st_drop() { # st_drop FILE TENSOR: remove TENSOR from FILE's safetensors header (same header size)
  local f=$1 name=$2 n hdr
  n=$(od -An -tu8 -N8 "$f" | tr -d ' ')
  hdr=$(dd if="$f" bs=1 skip=8 count="$n" 2>/dev/null | jq -c --arg k "$name" 'del(.[$k])')
  printf '%-*s' "$n" "$hdr" | dd of="$f" bs=1 seek=8 conv=notrunc 2>/dev/null
}
worker_refuses() { # worker_refuses WHAT ENGINE-OPTIONS EXPECTED-TEXT...
  local what=$1 opts=$2; shift 2
  local out rc t
  out=$("$H_WORKER" --engine cpu --engine-options "$opts,threads=1" --coordinator "$H_WEP" \
    --output-root "$H_OUT" --worker-id wchk --exit-after-idle-ms 100 2>&1)
  rc=$?
  [ "$rc" -eq 2 ] || { h_fail "start-up check, $what: worker exit $rc, expected 2: $(tail -2 <<<"$out")"; return; }
  for t in "$@"; do
    grep -qF -- "$t" <<<"$out" || h_fail "start-up check, $what: message lacks \"$t\": $(tail -2 <<<"$out")"
  done
  h_log "start-up check, $what: $(grep "start-up check" <<<"$out" | head -1)"
}
cp -r "$H_DIR/tiny" "$H_DIR/no-tensor"
uf=$H_DIR/no-tensor/unet/diffusion_pytorch_model.safetensors
n=$(od -An -tu8 -N8 "$uf" | tr -d ' ')
victim=$(dd if="$uf" bs=1 skip=8 count="$n" 2>/dev/null | jq -r 'keys[]' | grep 'attn2.to_k.weight$' | head -1)
[ -n "$victim" ] || h_fail "no attn2.to_k tensor in the tiny UNet"
st_drop "$uf" "$victim"
worker_refuses "a tensor removed" "model=broken:$H_DIR/no-tensor" "model broken" "missing tensor $victim" "$uf"
cp -r "$H_DIR/tiny" "$H_DIR/bad-shape"
jq '.cross_attention_dim += 16' "$H_DIR/tiny/unet/config.json" >"$H_DIR/bad-shape/unet/config.json"
worker_refuses "a mismatched shape" "model=bent:$H_DIR/bad-shape" "model bent" "unet: tensor" "attn2.to_k.weight: expected" \
  "$H_DIR/bad-shape/unet/diffusion_pytorch_model.safetensors"
cp -r "$H_DIR/tiny" "$H_DIR/deep-te"
jq '.num_hidden_layers += 1' "$H_DIR/tiny/text_encoder/config.json" >"$H_DIR/deep-te/text_encoder/config.json"
worker_refuses "a text encoder layer missing" "model=deep:$H_DIR/deep-te" "model deep" "missing tensor" \
  "encoder.layers.3." "$H_DIR/deep-te/text_encoder/model.safetensors"
cp -r "$H_DIR/tiny" "$H_DIR/no-merges"
rm "$H_DIR/no-merges/tokenizer_2/merges.txt"
worker_refuses "a tokenizer file missing" "model=nm:$H_DIR/no-merges" "model nm" "tokenizer_2/merges.txt"
cat >"$H_DIR/models-broken.json" <<'EOF'
{"models": [{"name": "good", "base": "tiny", "steps": [4]},
            {"name": "typo", "base": "tiny", "unet": "tiny/unet/diffusion_pytorch_model.safetensorz", "steps": [4]}]}
EOF
worker_refuses "one broken model in a models config" "models=$H_DIR/models-broken.json" "model typo" "safetensorz"
# a worker that serves only the good model (--models good) checks only that one and starts
"$H_WORKER" --engine cpu --engine-options "models=$H_DIR/models-broken.json,threads=1" --models good \
  --coordinator "$H_WEP" --output-root "$H_OUT" --worker-id wgood --exit-after-idle-ms 300 \
  >"$H_DIR/logs/worker-wgood.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || h_fail "a worker serving only the good model exited $rc: $(tail -2 "$H_DIR/logs/worker-wgood.log")"
grep -q "registered with" "$H_DIR/logs/worker-wgood.log" || h_fail "the worker serving only the good model did not register"
"$H_WORKER" --engine cpu --engine-options "models=$H_DIR/models-broken.json,threads=1" --models good,nosuch \
  --coordinator "$H_WEP" --output-root "$H_OUT" --worker-id wns >"$H_DIR/wns.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--models names nosuch" "$H_DIR/wns.out" ||
  h_fail "--models naming a model the engine does not serve: exit $rc: $(tail -1 "$H_DIR/wns.out")"
h_done
