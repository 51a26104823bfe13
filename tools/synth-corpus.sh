#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Makes the synthetic telephone speech corpus that Timbre's default speaker
# model is trained (train) and evaluated (eval) on:
#
#   tools/synth-corpus.sh OUT_DIR train|eval [--speakers N]
#                         [--utts-per-speaker M] [--jobs J]
#
# Writes OUT_DIR/<speaker>/<utt>.wav (8 kHz mono mu-law) and
# OUT_DIR/manifest.tsv. The same arguments give byte-identical files.
# This wrapper only checks that the Debian TTS packages are there and runs
# tools/synth_corpus.py; tools/corpus/README.md explains the corpus.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

# Every package the generator uses; all are in Debian main.
pkgs=(espeak-ng espeak-ng-data flite festival festlex-cmu festlex-poslex
      festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox)

missing=()
if command -v dpkg-query >/dev/null; then
    for pkg in "${pkgs[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$pkg")
    done
else
    for cmd in espeak-ng flite festival sox; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
fi
if [ ${#missing[@]} -ne 0 ]; then
    echo "synth-corpus: missing Debian packages; as root run:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

# Debian's python3 has everything the script needs (standard library only).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" "$here/synth_corpus.py" "$@"
