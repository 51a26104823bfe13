#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs each cmocka unit test binary given as an argument, prints one line
# per binary and a closing tally; exits non-zero if any failed.
set -u

passed=0
failed=0
for bin in "$@"; do
    if "$bin"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $bin" >&2
        failed=$((failed + 1))
    fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
