#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The voice engine's command-line tools on real audio: the synthetic
# evaluation corpus (build/corpus/eval, made by `make`) and files made here
# with sox. Checks the JSON that `timbre compare` and `timbre embed` print,
# that a caller scores above the default threshold against their own
# enrollment and an impostor below it, and that bad audio gives an error
# object naming the problem. Prints "voice: N passed, M failed".
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/build/timbre"
model="$top/build/voice/default.model"
eval_dir="$top/build/corpus/eval"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0

check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $name" >&2
    fi
}

# jq -e exits non-zero when the expression is false or null.
json_is() {
    jq -e "$2" >/dev/null <<<"$1"
}

spk=$eval_dir/ev0001
other=$eval_dir/ev0002
enroll=(--enroll "$spk/ev0001-enroll01.wav" --enroll "$spk/ev0001-enroll02.wav"
        --enroll "$spk/ev0001-enroll03.wav" --enroll "$spk/ev0001-enroll04.wav")

# A silent file, random bytes posing as WAV, and a short clip.
sox -n -r 8000 -c 1 -b 16 "$work/silence.wav" trim 0 20
head -c 50000 /dev/urandom > "$work/noise-bytes.wav"
sox "$other/ev0002-test01.wav" "$work/short.wav" trim 0 3
sox "$other/ev0002-test01.wav" -e signed -b 16 "$work/clipped.wav" gain 40 \
    2>/dev/null

out=$("$bin" compare --model "$model" "${enroll[@]}" \
      --test "$spk/ev0001-test01.wav" --test "$other/ev0002-test01.wav" \
      --test "$work/silence.wav" --test "$work/noise-bytes.wav" \
      --test "$work/short.wav" --test "$work/missing.wav" \
      --test "$work/clipped.wav")
mapfile -t lines <<<"$out"
summary=$("$bin" embed --model "$model" "$spk/ev0001-test02.wav")
threshold=$(jq -r '.threshold' <<<"$summary")

check "compare prints one line per test, in order" \
    [ "${#lines[@]}" -eq 7 ]
check "the caller's own test has the exact keys" \
    json_is "${lines[0]}" '(keys == ["net_speech","score","test"])
                           and (.test | endswith("ev0001-test01.wav"))'
check "each line reads as the README shows it" \
    grep -Eq '^\{"test": "[^"]+", "score": [0-9]+, "net_speech": [0-9.]+\}$' \
    <<<"${lines[0]}"
check "the caller scores at or above the default threshold" \
    json_is "${lines[0]}" ".score >= $threshold and .score <= 100"
check "net speech is reported in seconds" \
    json_is "${lines[0]}" '.net_speech > 10 and .net_speech < 30'
check "an impostor scores below it" \
    json_is "${lines[1]}" ".score < $threshold and .score >= 0"
check "silence is too little speech, not a low score" \
    json_is "${lines[2]}" '(.error | test("net speech")) and (.score == null)'
check "random bytes are refused as not audio" \
    json_is "${lines[3]}" '.error | test("noise-bytes.wav")'
check "a 3 s clip is too little speech for a test" \
    json_is "${lines[4]}" '(.error | test("10.0 s needed"))
                           and .net_speech > 0'
check "a missing file is named" \
    json_is "${lines[5]}" '.error | test("missing.wav")'
check "a clipped recording is refused as clipped" \
    json_is "${lines[6]}" '.error | test("clipped.wav: the recording is clipped")'

short_enroll=$("$bin" compare --model "$model" \
               --enroll "$spk/ev0001-enroll01.wav" \
               --test "$spk/ev0001-test01.wav")
rc=$?
check "one 9 s file is too little speech to enroll" \
    json_is "$short_enroll" '(.error | test("30.0 s needed"))
                             and .net_speech > 5'
check "a failed enrollment exits 1" [ "$rc" -eq 1 ]

check "embed summarises the voiceprint without its values" \
    json_is "$summary" '(.model | startswith("timbre-ivector-1/"))
                        and .dim > 0 and (.norm > 0.999 and .norm < 1.001)
                        and .threshold > 0
                        and (has("values") | not)'

"$bin" compare --model "$model" "${enroll[@]}" --channel 1 \
    --test "$spk/ev0001-test01.wav" > "$work/ch1.json"
check "channel 1 of a mono file is an error naming the channel" \
    json_is "$(cat "$work/ch1.json")" '.error | test("channel")'

"$bin" compare --model "$work/none.model" "${enroll[@]}" \
    --test "$spk/ev0001-test01.wav" 2> "$work/err.txt" >/dev/null
rc=$?
check "a missing model is a clear error" \
    grep -q "none.model" "$work/err.txt"
check "and exits 1" [ "$rc" -eq 1 ]

echo "voice: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
