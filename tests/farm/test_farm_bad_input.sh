#!/usr/bin/env bash
# test_farm_bad_input.sh - every kind of bad input gets a clear message naming what is wrong and
# loses nothing already accepted: invalid UTF-8, empty and over-long prompts, bad JSONL with its
# line number, unknown keys, bad width/height/steps (per line and as flags), --skip-invalid, a
# stopped submit resumed after the file is fixed, and an unreachable coordinator (a timeout).
set -uo pipefail
. "$(dirname "$0")/harness.sh"
h_init bad-input
h_redis_start
h_coord_start
h_worker_start w1
h_wait_workers 1

# expect_bad FILE RC PATTERN [flags]: submit must exit RC with PATTERN on stderr.
expect_bad() {
  local f=$1 want=$2 pat=$3; shift 3
  h_strike submit "$f" "$@" >"$H_DIR/o" 2>"$H_DIR/e"
  local rc=$?
  [ $rc -eq "$want" ] || h_fail "$(basename "$f") $*: exit $rc, expected $want ($(cat "$H_DIR/e"))"
  grep -q -- "$pat" "$H_DIR/e" || h_fail "$(basename "$f") $*: stderr lacks '$pat': $(cat "$H_DIR/e")"
}

# Invalid UTF-8 on line 3 of 6: the first two jobs are stored and kept.
printf 'one\ntwo\nbad \xc3\x28 utf8\nfour\nfive\nsix\n' >"$H_DIR/utf8.txt"
expect_bad "$H_DIR/utf8.txt" 3 "line 3: invalid UTF-8"
id=$(cat "$H_DIR/o")
[ -n "$id" ] || h_fail "a stopped submit printed no id"
[ "$(h_status "$id" | jq .total)" -eq 2 ] || h_fail "accepted jobs before the bad line: $(h_status "$id" | jq .total), expected 2"
# Fix the line, run the same command: the submission resumes with the rest and nothing twice.
printf 'one\ntwo\nthree fixed\nfour\nfive\nsix\n' >"$H_DIR/utf8.txt"
id2=$(h_strike submit "$H_DIR/utf8.txt" 2>"$H_DIR/e") || h_fail "resume after fix failed: $(cat "$H_DIR/e")"
[ "$id2" = "$id" ] || h_fail "resume made a new submission $id2 instead of $id"
grep -q "resuming submission $id: 2 jobs" "$H_DIR/e" || h_fail "no resume message: $(cat "$H_DIR/e")"
h_wait_finished "$id" >/dev/null
h_check_exactly_once "$id" 6
h_strike results "$id" | jq -r 'select(.index == 2) | .prompt' | grep -qx "three fixed" || h_fail "job 2 is not the fixed line"

printf 'a\n\nc\n' >"$H_DIR/empty.txt"
expect_bad "$H_DIR/empty.txt" 3 "line 2: empty prompt"
{ echo ok; head -c 5000 /dev/zero | tr '\0' x; echo; } >"$H_DIR/long.txt"
expect_bad "$H_DIR/long.txt" 3 "line 2: prompt of 5000 bytes is over the limit of 4096 bytes"
printf '{"prompt":"a"}\n{"prompt":"b"\n' >"$H_DIR/badjson.jsonl"
expect_bad "$H_DIR/badjson.jsonl" 3 "line 2: bad JSON"
printf '{"prompt":"a"}\n{"prompt":"b"}\n{"prompt":"c","sampler":"x"}\n' >"$H_DIR/key.jsonl"
expect_bad "$H_DIR/key.jsonl" 3 'line 3: unknown key "sampler"'
printf '{"prompt":"a","width":1000}\n' >"$H_DIR/w.jsonl"
expect_bad "$H_DIR/w.jsonl" 3 'line 1: "width" 1000 is not a multiple of 64'
printf '{"prompt":"a","height":8192}\n' >"$H_DIR/h.jsonl"
expect_bad "$H_DIR/h.jsonl" 3 'line 1: "height" 8192 is out of range'
printf '{"prompt":"a","steps":3}\n{"prompt":"b","steps":1001}\n' >"$H_DIR/s.jsonl"
expect_bad "$H_DIR/s.jsonl" 3 'line 2: "steps" 1001 is not in 1..1000'
# Template flags are checked before anything is sent.
h_prompts "$H_DIR/ok.txt" 5 flags
expect_bad "$H_DIR/ok.txt" 2 "--width/--height" --width 100
expect_bad "$H_DIR/ok.txt" 2 "--steps 1001 is not in 1..1000" --steps 1001
expect_bad "$H_DIR/ok.txt" 2 "--steps -2 is not in 1..1000" --steps -2
expect_bad "$H_DIR/ok.txt" 2 "unknown flag --colour" --colour red
expect_bad "$H_DIR/ok.txt" 2 "--seed must be a number" --seed -5
# --skip-invalid: bad lines are reported and skipped.
printf 'a\n\nb\nbad \xff\nc\n' >"$H_DIR/skip.txt"
sid=$(h_strike submit "$H_DIR/skip.txt" --skip-invalid 2>"$H_DIR/e") || h_fail "--skip-invalid failed: $(cat "$H_DIR/e")"
grep -q "skipped line 2: empty prompt" "$H_DIR/e" || h_fail "skip report lacks line 2: $(cat "$H_DIR/e")"
grep -q "skipped line 4: invalid UTF-8" "$H_DIR/e" || h_fail "skip report lacks line 4: $(cat "$H_DIR/e")"
h_wait_finished "$sid" >/dev/null
h_check_exactly_once "$sid" 3
# Standard input.
pid=$(printf 'from\nstdin\n' | h_strike submit - 2>/dev/null) || h_fail "stdin submit failed"
h_wait_finished "$pid" >/dev/null
h_check_exactly_once "$pid" 2
# Unreachable coordinator: a timeout with a clear message, exit 4 (not a hang).
"$H_CLI" submit "$H_DIR/ok.txt" --coordinator "ipc://$H_DIR/nobody.ipc" --timeout-ms 1000 2>"$H_DIR/e"
rc=$?
[ $rc -eq 4 ] || h_fail "unreachable coordinator: exit $rc, expected 4"
grep -q "no answer from the coordinator" "$H_DIR/e" || h_fail "unreachable message: $(cat "$H_DIR/e")"
STRIKE_COORDINATOR="ipc://$H_DIR/nobody.ipc" "$H_CLI" status --timeout-ms 500 2>/dev/null
[ $? -eq 4 ] || h_fail "STRIKE_COORDINATOR not used or no timeout"
# The worker refuses to start without --engine (there is no default engine) or with an unknown one.
"$H_WORKER" --coordinator "$H_WEP" 2>"$H_DIR/e"
[ $? -eq 2 ] && grep -q "no engine given" "$H_DIR/e" || h_fail "worker without --engine: $(cat "$H_DIR/e")"
"$H_WORKER" --engine magic --coordinator "$H_WEP" 2>"$H_DIR/e"
[ $? -eq 2 ] && grep -q 'unknown engine "magic"' "$H_DIR/e" || h_fail "worker --engine magic: $(cat "$H_DIR/e")"
h_done
