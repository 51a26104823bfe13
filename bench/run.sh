#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Throughput and latency of DescribeDomain and ListDomains, measured with
# wrk on loopback, beside nginx serving the same response bytes as static
# files in the same run.
#
#   bash bench/run.sh [-o FILE]
#
# Steps: build build/timbre; start it on a free loopback port with a fresh
# data folder; read its idle RSS; create 10 domains with boto3; sign one
# DescribeDomain and one ListDomains (MaxResults 10, one full page) with
# bench/sign.py and check that each answers 200; write the two response
# bodies as files that nginx serves; then run wrk against Timbre and nginx
# in alternating rounds, so that noise on the machine hits both, and report
# the medians. Requests are signed again before every Timbre run, so the
# replayed signature is always minutes away from expiring.
#
# What is compared: Timbre gets the signed POST (signature check, JSON
# parse, validation, a store read, JSON output); nginx gets a GET of a
# static file of exactly the same bytes, carrying the same headers without
# the body, because nginx's static module answers 405 to POST.
#
# Knobs (environment): BENCH_DURATION_S (10, per run), BENCH_ROUNDS (3),
# BENCH_CONNECTIONS (32), BENCH_WRK_THREADS (2), BENCH_SERVER_THREADS
# (Timbre --threads and nginx worker_processes; default: the core count).
# Results: a table on stdout; the same markdown fragment, the raw wrk
# outputs and Timbre's log in build/bench/; with -o, a copy of the
# fragment in FILE.
#
# Everything started here (timbre, nginx, wrk) is stopped by its PID on
# exit, failure or interruption; every wait is bounded; traffic goes only
# to 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
py=/usr/bin/python3

duration_s=${BENCH_DURATION_S:-10}
rounds=${BENCH_ROUNDS:-3}
connections=${BENCH_CONNECTIONS:-32}
wrk_threads=${BENCH_WRK_THREADS:-2}
cores=$(nproc)
server_threads=${BENCH_SERVER_THREADS:-$cores}
domains=10
warmup_s=2
raw_dir=$repo/build/bench
out_md=""

# shellcheck source=bench/lib.sh
. "$here/lib.sh"


# Signs operation $2 with body $3 into request file $1.req and checks that
# Timbre answers it with the bytes saved earlier in $1.body (when present).
sign_request()
{
    local name=$1 op=$2 body=$3

    "$py" "$here/sign.py" sign "$timbre_port" "$op" "$body" \
        "$work/$name.req" "$work/$name.fresh" >/dev/null ||
        die "signing $op failed"
    if [ -f "$work/$name.body" ] &&
        ! cmp -s "$work/$name.fresh" "$work/$name.body"; then
        die "$op answers other bytes than at the start"
    fi
    mv "$work/$name.fresh" "$work/$name.body"
}


# One wrk run: $1 op, $2 target (timbre|nginx), $3 round (0 = warm-up),
# $4 seconds, then the URL and the script's arguments.
run_wrk()
{
    local op=$1 target=$2 round=$3 secs=$4 log line ticks
    local -a pids
    shift 4

    log=$work/wrk-$op-$target-$round.txt
    pids=("$timbre_pid")
    # The word splitting of the worker list is wanted.
    # shellcheck disable=SC2206
    [ "$target" = nginx ] && pids=("$nginx_pid" $nginx_workers)
    ticks=$(cpu_ticks "${pids[@]}")
    timeout -k 5 $((secs + 30)) wrk -t"$wrk_threads" -c"$connections" \
        -d"${secs}s" --latency -s "$here/signed.lua" "$@" \
        </dev/null >"$log" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { cat "$log" >&2; die "wrk failed on $target"; }
    wrk_pid=""
    ticks=$(($(cpu_ticks "${pids[@]}") - ticks))

    line=$(grep '^wrk-result ' "$log") || die "no wrk-result in $log"
    [ "$round" -eq 0 ] && return 0
    awk -v op="$op" -v target="$target" -v round="$round" \
        -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" '
        {
            for (i = 2; i <= NF; i++) {
                split($i, kv, "=")
                v[kv[1]] = kv[2]
            }
            printf "%s\t%s\t%d\t%.1f\t%d\t%d\t%.1f\t%d\t%d\t%.1f\n",
                op, target,
                round, v["requests"] / (v["duration_us"] / 1e6),
                v["p50_us"], v["p99_us"],
                v["requests"] ? v["bytes"] / v["requests"] : 0,
                v["non2xx"], v["connect"] + v["read"] + v["write"] + \
                v["timeout"],
                v["requests"] ? ticks / hz * 1e6 / v["requests"] : 0
        }' <<<"$line" >>"$work/results.tsv"
    tail -n 1 "$work/results.tsv" | awk -F'\t' '{
        printf "  %-14s %-6s round %d: %8.0f req/s  p50 %6.2f ms  " \
            "p99 %6.2f ms  server CPU %5.1f us/req  non-2xx %d  " \
            "socket errors %d\n",
            $1, $2, $3, $4, $5 / 1000, $6 / 1000, $10, $8, $9 }' >&2
}


# Both targets for one operation; the order alternates with the round.
run_pair()
{
    local name=$1 op=$2 body=$3 round=$4 secs=$5

    sign_request "$name" "$op" "$body"
    if [ $((round % 2)) -eq 1 ]; then
        run_wrk "$op" timbre "$round" "$secs" \
            "http://127.0.0.1:$timbre_port/" -- "$work/$name.req"
        run_wrk "$op" nginx "$round" "$secs" \
            "http://127.0.0.1:$nginx_port/$name" -- "$work/$name.req" GET
    else
        run_wrk "$op" nginx "$round" "$secs" \
            "http://127.0.0.1:$nginx_port/$name" -- "$work/$name.req" GET
        run_wrk "$op" timbre "$round" "$secs" \
            "http://127.0.0.1:$timbre_port/" -- "$work/$name.req"
    fi
}


main()
{
    local r describe_body rss_start rss_setup rss_end hwm_end

    if [ "${1:-}" = -o ] && [ -n "${2:-}" ]; then
        out_md=$2
    elif [ $# -gt 0 ]; then
        die "usage: bash bench/run.sh [-o FILE]"
    fi
    check_setup
    bench_begin timbre-bench

    echo "bench: building build/timbre" >&2
    make -s -C "$repo" build/timbre >&2 || die "build failed"

    start_timbre
    sleep 1
    rss_start=$(memory_kb "$timbre_pid")
    echo "bench: timbre pid $timbre_pid on port $timbre_port," \
        "--threads $server_threads; VmRSS/VmHWM after start-up:" \
        "$rss_start kB" >&2

    describe_body=$("$py" "$here/sign.py" setup "$timbre_port" \
        "$domains") || die "creating domains failed"
    describe_body="{\"DomainId\": \"$describe_body\"}"
    sign_request describe DescribeDomain "$describe_body"
    sign_request list ListDomains '{"MaxResults": 10}'
    rss_setup=$(memory_kb "$timbre_pid")
    echo "bench: response bodies: DescribeDomain" \
        "$(stat -c %s "$work/describe.body") B, ListDomains" \
        "$(stat -c %s "$work/list.body") B" >&2

    start_nginx describe list
    echo "bench: nginx pid $nginx_pid on port $nginx_port," \
        "$server_threads workers" >&2

    echo "bench: warm-up, ${warmup_s}s per target" >&2
    run_pair describe DescribeDomain "$describe_body" 0 "$warmup_s"
    run_pair list ListDomains '{"MaxResults": 10}' 0 "$warmup_s"

    echo "bench: $rounds rounds of ${duration_s}s runs:" \
        "wrk -t$wrk_threads -c$connections" >&2
    for ((r = 1; r <= rounds; r++)); do
        run_pair describe DescribeDomain "$describe_body" "$r" \
            "$duration_s"
        run_pair list ListDomains '{"MaxResults": 10}' "$r" "$duration_s"
    done

    sleep 2
    rss_end=$(memory_kb "$timbre_pid")
    hwm_end=${rss_end#* }

    {
        machine_lines
        printf 'Response bodies\tDescribeDomain %s B, ListDomains %s B\n' \
            "$(stat -c %s "$work/describe.body")" \
            "$(stat -c %s "$work/list.body")"
        printf 'Timbre VmRSS idle after start-up\t%s kB\n' \
            "${rss_start% *}"
        printf 'Timbre VmRSS idle after creating 10 domains\t%s kB\n' \
            "${rss_setup% *}"
        printf 'Timbre VmRSS idle after the load\t%s kB\n' "${rss_end% *}"
        printf 'Timbre VmHWM (peak RSS) over the run\t%s kB\n' "$hwm_end"
    } >"$work/machine.tsv"

    mkdir -p "$raw_dir"
    "$py" "$here/sign.py" report "$work/results.tsv" "$work/machine.tsv" \
        >"$raw_dir/results.md" || die "report failed"
    cp "$work/results.tsv" "$work/machine.tsv" "$work"/wrk-*.txt \
        "$work/timbre.log" "$raw_dir/"
    if [ -n "$out_md" ]; then
        mkdir -p "$(dirname "$out_md")"
        cp "$raw_dir/results.md" "$out_md"
    fi
    echo >&2
    cat "$raw_dir/results.md"

    check_non2xx
}


main "$@"
