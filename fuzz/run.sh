#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the audio decoder fuzz target (fuzz/fuzz_audio.c) with clang's
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, and runs it
# for SECONDS (default 30) from a seed corpus of tiny recordings made with
# sox. Exits non-zero when the build fails or the fuzzer finds a crash,
# leak, timeout or contract violation; the input that caused it is kept in
# build/fuzz/artifacts/.
#
# Usage: fuzz/run.sh [SECONDS]
# Needs Debian's clang and libclang-rt-14-dev (libFuzzer), and sox for
# the seeds (without sox the fuzzer starts from nothing).
set -euo pipefail

seconds=${1:-30}
case $seconds in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/fuzz
pkgs="sndfile soxr kissfft-float"
mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"

clang -std=c11 -D_GNU_SOURCE -g -O1 \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$root/include" -I"$root/src" $(pkg-config --cflags $pkgs) \
    "$root/fuzz/fuzz_audio.c" "$root/src/voice/audio.c" \
    "$root/src/voice/vad.c" "$root/src/voice/features.c" \
    "$root/src/util/err.c" \
    -o "$out/fuzz_audio" $(pkg-config --libs $pkgs) -lm -lpthread

# A few hundredths of a second in each supported layout, so that the
# fuzzer starts inside the WAV and FLAC parsers rather than at the magic.
if command -v sox >/dev/null; then
    seed() {
        local name=$1
        shift
        [ -s "$out/seeds/$name" ] ||
            sox -n "$@" "$out/seeds/$name" synth 0.03 sine 440 2>/dev/null ||
            true
    }
    seed pcm16_8k.wav -r 8000 -b 16 -e signed-integer
    seed pcm8_8k.wav -r 8000 -b 8 -e unsigned-integer
    seed pcm24_16k.wav -r 16000 -b 24 -e signed-integer
    seed pcm32_11k.wav -r 11025 -b 32 -e signed-integer
    seed float_22k.wav -r 22050 -b 32 -e floating-point
    seed mulaw_8k.wav -r 8000 -e mu-law
    seed alaw_8k.wav -r 8000 -e a-law
    seed stereo_44k.wav -r 44100 -c 2 -b 16 -e signed-integer
    seed stereo_48k.wav -r 48000 -c 2 -b 16 -e signed-integer
    seed mono_24k.flac -r 24000 -b 16
    seed stereo_32k.flac -r 32000 -c 2 -b 16
    seed adpcm_8k.wav -r 8000 -e ima-adpcm
fi

"$out/fuzz_audio" -max_total_time="$seconds" -timeout=20 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" \
    "$out/corpus" "$out/seeds"
