#!/usr/bin/env bash
# test_farm_lightning.sh - a small submission rendered through the whole farm (real redis-server,
# coordinator, one `strike-worker --engine cpu` with the tiny random model that strike-render
# generates) must have every job done exactly once, and each PNG's pixels must equal what
# strike-render renders for the same job (max abs diff <= 1; metadata aside). Also: the PNG's
# strike:noise_mode is the engine's, and a job naming a model the worker does not serve fails.
# The worker also serves a named model from a models config (models=FILE, steps [2]): its job
# equals strike-render --models FILE --model NAME, and a job asking for 4 steps is refused.
# Environment: as tests/farm/harness.sh, plus STRIKE_RENDER_BIN and STRIKE_PNG_DIFF.
set -uo pipefail
. "$(dirname "$0")/../tests/farm/harness.sh"
h_init lightning
h_redis_start
h_coord_start
"$STRIKE_RENDER_BIN" --make-tiny-model "$H_DIR/tiny" 2>/dev/null || h_fail "tiny model"
echo '{"models": [{"name": "tiny-2step", "base": "tiny", "steps": [2]}]}' >"$H_DIR/models.json"
"$H_WORKER" --engine cpu --engine-options "model=sdxl-lightning:$H_DIR/tiny,unet.sdxl-lightning=$H_DIR/tiny/unet/diffusion_pytorch_model.safetensors,prediction.sdxl-lightning=epsilon,models=$H_DIR/models.json,threads=2,max_batch=3" \
  --coordinator "$H_WEP" --output-root "$H_OUT" --worker-id wl --backoff-max-ms 500 --batch 8 \
  >>"$H_DIR/logs/worker-wl.log" 2>&1 &
H_PIDS+=("$!")
h_wait_workers 1

{
  echo '{"prompt":"a red cat","seed":42}'
  echo '{"prompt":"the blue sky","seed":7,"steps":2}'
  echo '{"prompt":"a photo of a dog","seed":3,"width":128,"height":64}'
  echo '{"prompt":"a red cat","seed":43}'
  echo '{"prompt":"strike render farm \u00e9","seed":5,"steps":1}'
} >"$H_DIR/p.jsonl"
id=$(h_strike submit "$H_DIR/p.jsonl" --width 64 --height 64) || h_fail "submit failed"
h_log "submitted $id"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 5
res=$H_DIR/manifest-$id.jsonl   # the workers' manifests: path, prompt, seed, steps, size
cat "$H_OUT/$id"/manifest-*.jsonl >"$res" 2>/dev/null || h_fail "no manifests"
n=0
while IFS= read -r line; do
  path=$(jq -r .path <<<"$line"); prompt=$(jq -r .prompt <<<"$line")
  seed=$(jq -r .seed <<<"$line"); steps=$(jq -r .steps <<<"$line")
  w=$(jq -r .width <<<"$line"); h=$(jq -r .height <<<"$line"); idx=$(jq -r .index <<<"$line")
  "$STRIKE_RENDER_BIN" --model "$H_DIR/tiny" --prompt "$prompt" --seed "$seed" --steps "$steps" \
    --width "$w" --height "$h" --threads 2 --quiet -o "$H_DIR/ref-$idx.png" 2>>"$H_DIR/logs/render.log" ||
    h_fail "strike-render job $idx"
  out=$("$STRIKE_PNG_DIFF" "$path" "$H_DIR/ref-$idx.png" 1) || h_fail "job $idx differs from strike-render: $out"
  h_log "job $idx ($w x $h, $steps steps): $out"
  n=$((n + 1))
done < <(jq -c 'select(.path != null)' "$res")
[ "$n" -eq 5 ] || h_fail "compared $n images, expected 5"
p=$(jq -r 'select(.index == 0) | .path' "$res")
"$STRIKE_PNG_CHECK" --text strike:noise_mode "$p" | grep -q "^cpu$" || h_fail "noise mode not recorded"

# a model this worker does not serve: the job fails instead of rendering with another model
echo "x" >"$H_DIR/q.txt"
id2=$(h_strike submit "$H_DIR/q.txt" --width 64 --height 64 --model other-model --seed 1) || h_fail "submit 2"
h_wait_finished "$id2" >/dev/null
h_status "$id2" | jq -e '.done == 0' >/dev/null || h_fail "a job for an unserved model was rendered"

# a named model from the models config: rendered from its spec; unsupported steps refused
id3=$(h_strike submit "$H_DIR/q.txt" --width 64 --height 64 --model tiny-2step --steps 2 --seed 9) || h_fail "submit 3"
h_wait_finished "$id3" >/dev/null
h_status "$id3" | jq -e '.done == 1' >/dev/null || h_fail "the named model's job was not rendered"
p3=$(cat "$H_OUT/$id3"/manifest-*.jsonl | jq -r 'select(.path != null) | .path')
"$STRIKE_RENDER_BIN" --models "$H_DIR/models.json" --model tiny-2step --prompt x --seed 9 --width 64 \
  --height 64 --threads 2 --quiet -o "$H_DIR/ref-named.png" 2>>"$H_DIR/logs/render.log" || h_fail "strike-render named"
out=$("$STRIKE_PNG_DIFF" "$p3" "$H_DIR/ref-named.png" 1) || h_fail "named model job differs from strike-render: $out"
h_log "named model job: $out"
id4=$(h_strike submit "$H_DIR/q.txt" --width 64 --height 64 --model tiny-2step --steps 4 --seed 9) || h_fail "submit 4"
h_wait_finished "$id4" >/dev/null
h_status "$id4" | jq -e '.done == 0' >/dev/null || h_fail "a job with steps its model does not support was rendered"
grep -q "supports" "$H_DIR"/logs/worker-wl.log "$H_OUT/$id4"/* 2>/dev/null || h_log "(refusal message not found in the logs)"
h_done
