#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Entry point of `make api-test`: the end-to-end suites against the real
# build/timbre, one after another, each starting its own servers:
#   1. pytest with boto3 and raw HTTP (tests/api/test_*.py)
#   2. the AWS CLI v2 suite (tests/api/cli.sh)
#   3. the AWS SDK for JavaScript v3 suite (tests/api/js, node --test)
# Every suite runs even if an earlier one failed; the exit status is
# non-zero if any failed. The last line adds up the three summaries.
#
# Needs /usr/bin/python3 with Debian's python3-boto3 and python3-pytest,
# Debian's awscli (v2), jq, curl, node 20 and npm (for `npm ci` when
# tests/api/js/node_modules is missing).

set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${TIMBRE_E2E_PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1

# Bounds per suite, so a hung server cannot hold CI; timeout signals the
# whole process group, servers included.
PYTEST_LIMIT_S=${PYTEST_LIMIT_S:-480}
CLI_LIMIT_S=${CLI_LIMIT_S:-300}
JS_LIMIT_S=${JS_LIMIT_S:-300}

if [[ ! -x "${TIMBRE_BIN:-$repo/build/timbre}" ]]; then
    echo "api-test: ${TIMBRE_BIN:-$repo/build/timbre} is missing; run make" >&2
    exit 2
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/timbre-api-XXXXXX")
trap 'rm -rf "$logs"' EXIT

total_passed=0
total_failed=0
total_skipped=0
results=()

# count LOG REGEX: the first number captured by REGEX in LOG's last
# matching line, or 0.
count() {
    local n
    n=$(grep -Eo "$2" "$1" | tail -1 | grep -Eo '[0-9]+' | head -1)
    echo "${n:-0}"
}

# record NAME STATUS PASSED FAILED SKIPPED
record() {
    local name=$1 status=$2 passed=$3 failed=$4 skipped=$5
    # A runner that died before its summary still counts as a failure.
    if [[ $status != 0 && $failed == 0 ]]; then
        failed=1
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
    if [[ $status == 0 ]]; then
        results+=("$name ok")
    else
        results+=("$name FAILED (exit $status)")
    fi
}

echo "== pytest (boto3, raw HTTP)"
(cd "$here" && timeout "$PYTEST_LIMIT_S" "$py" -m pytest -q \
    -p no:cacheprovider -o console_output_style=classic \
    test_*.py) 2>&1 | tee "$logs/pytest.log"
status=${PIPESTATUS[0]}
record pytest "$status" \
    "$(count "$logs/pytest.log" '[0-9]+ passed')" \
    "$(( $(count "$logs/pytest.log" '[0-9]+ failed') \
        + $(count "$logs/pytest.log" '[0-9]+ errors?') ))" \
    "$(count "$logs/pytest.log" '[0-9]+ skipped')"

echo
echo "== AWS CLI"
timeout "$CLI_LIMIT_S" bash "$here/cli.sh" 2>&1 | tee "$logs/cli.log"
status=${PIPESTATUS[0]}
record cli "$status" \
    "$(count "$logs/cli.log" '^cli: [0-9]+ passed')" \
    "$(count "$logs/cli.log" '[0-9]+ failed$')" 0

echo
echo "== AWS SDK for JavaScript"
status=0
if [[ ! -d "$here/js/node_modules" ]]; then
    (cd "$here/js" && npm ci --silent --no-audit --no-fund) || status=$?
fi
if [[ $status == 0 ]]; then
    (cd "$here/js" && timeout "$JS_LIMIT_S" node --test) 2>&1 \
        | tee "$logs/js.log"
    status=${PIPESTATUS[0]}
else
    echo "npm ci failed with status $status" | tee "$logs/js.log"
fi
record js "$status" \
    "$(count "$logs/js.log" '^# pass [0-9]+')" \
    "$(count "$logs/js.log" '^# fail [0-9]+')" \
    "$(count "$logs/js.log" '^# skipped [0-9]+')"

echo
(IFS=","; echo "== summary: ${results[*]}")
echo "api-test: $total_passed passed, $total_failed failed," \
    "$total_skipped skipped"
[[ $total_failed == 0 ]]
