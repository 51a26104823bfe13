#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs the Debian packages Timbre needs, and only those missing.
#   tools/deps.sh run    what building and serving need
#   tools/deps.sh test   that, plus what the tests and benchmarks need
# As root it runs apt-get; otherwise it prints the apt-get line to run.
set -euo pipefail

build_pkgs=(build-essential pkg-config python3 libmicrohttpd-dev
            libjansson-dev libsqlite3-dev libssl-dev libpcre2-dev
            libsndfile1-dev libsoxr-dev libkissfft-dev
            liblapacke-dev libopenblas-dev
            espeak-ng espeak-ng-data flite festival festlex-cmu
            festlex-poslex festvox-kallpc16k festvox-kdlpc16k
            festvox-us-slt-hts sox)
test_pkgs=(libcmocka-dev python3-boto3 python3-pytest awscli jq curl
           wrk nginx-light clang libclang-rt-14-dev)

wanted=("${build_pkgs[@]}")
if [ "${1:-run}" = test ]; then
    wanted+=("${test_pkgs[@]}")
    # Node.js may come from elsewhere (a newer build); only add Debian's
    # when there is none at all.
    command -v node >/dev/null || wanted+=(nodejs)
    command -v npm >/dev/null || wanted+=(npm)
fi

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "timbre needs these Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
