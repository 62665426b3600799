#!/bin/sh
# test_render.sh - strike-render end to end with the tiny random model it generates: --help
# documents every flag, usage and model errors exit 2, a job error exits 1 and names the problem,
# one image to a file, a prompts file with --count and --batch to a folder (PNG signatures).
# Usage: test_render.sh /path/to/strike-render
set -u
R="$1"
T=$(mktemp -d /tmp/strike-render-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

"$R" --help > "$T/help" 2>&1 && ok "--help exits 0" || bad "--help exit status"
for f in --model --models --checkpoint --lora --lora-strength --unet --vae --prediction --name --prompt --prompts --count --seed --steps \
         --width --height --noise --batch --backend --threads --device --dtype --output \
         --compression --quiet --make-tiny-model --preset --version --help; do
  grep -q -- "$f" "$T/help" || bad "--help does not document $f"
done
"$R" > /dev/null 2>&1; [ $? -eq 2 ] && ok "no arguments: exit 2" || bad "no arguments: exit status"
"$R" --bogus 1 > /dev/null 2>&1; [ $? -eq 2 ] && ok "unknown flag: exit 2" || bad "unknown flag"
"$R" --model "$T/none" --prompt x -o "$T/x.png" 2> "$T/err"; [ $? -eq 2 ] && grep -q "$T/none" "$T/err" \
  && ok "missing model named" || bad "missing model"
"$R" --make-tiny-model "$T/tiny" 2> /dev/null && [ -f "$T/tiny/unet/config.json" ] \
  && ok "tiny model generated" || bad "tiny model generation"
"$R" --model "$T/tiny" --prompt "a red cat" --width 64 --height 64 --seed 3 --quiet -o "$T/cat.png" 2> "$T/err" \
  && [ "$(head -c 4 "$T/cat.png" | od -An -c | tr -d ' ')" = "211PNG" ] && ok "one image" \
  || { bad "one image"; cat "$T/err"; }
printf 'a red cat\n# a comment\n\nthe blue sky\n' > "$T/prompts.txt"
"$R" --model "$T/tiny" --prompts "$T/prompts.txt" --count 2 --batch 3 --width 64 --height 64 \
  --noise philox --quiet -o "$T/out" 2> "$T/err" && [ "$(ls "$T/out" | wc -l)" -eq 4 ] \
  && [ -f "$T/out/00003-3.png" ] && ok "prompts file, count 2, batch 3" || { bad "prompts file"; cat "$T/err"; }
"$R" --model "$T/tiny" --prompt x --width 72 --height 64 --quiet -o "$T/bad.png" 2> "$T/err"
[ $? -eq 1 ] && grep -q "72x64" "$T/err" && [ ! -f "$T/bad.png" ] && ok "bad size: exit 1, named" \
  || { bad "bad size"; cat "$T/err"; }
"$R" --model "$T/tiny" --prompt x --steps 0 -o "$T/y.png" > /dev/null 2>&1; [ $? -eq 2 ] \
  && ok "steps 0 refused" || bad "steps 0"
# named models from a models config: steps default from the model, other steps refused
printf '{"models": [{"name": "tiny2", "base": "tiny", "steps": [2, 4], "default_steps": 2}]}\n' > "$T/models.json"
"$R" --models "$T/models.json" --model tiny2 --prompt "a red cat" --width 64 --height 64 --quiet \
  -o "$T/named.png" 2> "$T/err" && grep -aq "Steps: 2" "$T/named.png" && grep -aq "tiny2" "$T/named.png" \
  && grep -aq "strike:model_hash" "$T/named.png" && ok "named model, default steps, model hash" || { bad "named model"; cat "$T/err"; }
STRIKE_MODELS="$T/models.json" "$R" --model tiny2 --prompt x --steps 8 --width 64 --height 64 --quiet \
  -o "$T/n8.png" 2> "$T/err"
[ $? -eq 2 ] && grep -q "tiny2" "$T/err" && grep -q "8" "$T/err" && [ ! -f "$T/n8.png" ] \
  && ok "STRIKE_MODELS; unsupported steps refused, named" || { bad "unsupported steps"; cat "$T/err"; }
"$R" --models "$T/models.json" --model nope --prompt x -o "$T/n.png" 2> "$T/err"
[ $? -eq 2 ] && grep -q "no such model" "$T/err" && grep -q "tiny2" "$T/err" \
  && ok "unknown model name: exit 2, lists the models" || { bad "unknown model name"; cat "$T/err"; }
exit $fail
