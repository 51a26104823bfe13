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

timbre_pid=""
nginx_pid=""
nginx_workers=""
wrk_pid=""
work=""

die()
{
    echo "bench: $*" >&2
    exit 1
}


# Checks that $2 is an integer within [$3, $4]; $1 names it.
check_range()
{
    if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]
    then
        die "$1 must be an integer from $3 to $4, not '$2'"
    fi
}


# Stops one process we started: SIGTERM, up to 5 s, then SIGKILL.
stop_pid()
{
    local pid=$1 i

    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}


cleanup()
{
    local pid

    trap - EXIT INT TERM
    stop_pid "$wrk_pid"
    stop_pid "$timbre_pid"
    stop_pid "$nginx_pid"
    # Workers outlive a master that had to be killed; they are ours too.
    for pid in $nginx_workers; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "$work" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    elif [ -n "$work" ]; then
        echo "bench: kept $work" >&2
    fi
}


free_port()
{
    "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}


# CPU time (user + system, all threads) of the given processes, in clock
# ticks.
cpu_ticks()
{
    local pid total=0 t

    for pid in "$@"; do
        t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || t=0
        total=$((total + t))
    done
    echo "$total"
}


# VmRSS and VmHWM of a process, in kB: "rss hwm".
memory_kb()
{
    awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 }
         END { print rss, hwm }' "/proc/$1/status"
}


# Waits up to 10 s for $1 to answer 200 with a body equal to file $2 (or
# any body when $2 is empty), while process $3 is alive.
wait_ready()
{
    local url=$1 expect=$2 pid=$3 i

    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if curl -sf --max-time 1 -o "$work/probe" "$url"; then
            [ -z "$expect" ] && return 0
            cmp -s "$work/probe" "$expect" && return 0
            echo "bench: $url serves other bytes than $expect" >&2
            return 1
        fi
        sleep 0.1
    done
    return 1
}


start_timbre()
{
    timbre_port=$(free_port)
    "$repo/build/timbre" serve --listen "127.0.0.1:$timbre_port" \
        --data-dir "$work/data" --log-level warn \
        --threads "$server_threads" \
        </dev/null >"$work/timbre.log" 2>&1 &
    timbre_pid=$!
    wait_ready "http://127.0.0.1:$timbre_port/healthz" "" "$timbre_pid" || {
        tail -n 20 "$work/timbre.log" >&2
        die "timbre did not become healthy"
    }
}


start_nginx()
{
    local i

    nginx_port=$(free_port)
    mkdir -p "$work/nginx/www" "$work/nginx/tmp"
    # Workers run as an unprivileged user when we are root: let them read.
    chmod 755 "$work" "$work/nginx" "$work/nginx/www"
    cp "$work/describe.body" "$work/nginx/www/describe"
    cp "$work/list.body" "$work/nginx/www/list"
    chmod 644 "$work/nginx/www/describe" "$work/nginx/www/list"
    sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" \
        -e "s|@WORKERS@|$server_threads|g" \
        "$here/nginx.conf.in" >"$work/nginx/nginx.conf"

    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/err" \
        -g 'daemon off;' </dev/null >"$work/nginx/stdout" 2>&1 &
    nginx_pid=$!
    wait_ready "http://127.0.0.1:$nginx_port/describe" \
        "$work/describe.body" "$nginx_pid" || {
        cat "$work/nginx/stdout" "$work/nginx/error.log" >&2 || true
        die "nginx did not serve the DescribeDomain body"
    }
    wait_ready "http://127.0.0.1:$nginx_port/list" "$work/list.body" \
        "$nginx_pid" || die "nginx did not serve the ListDomains body"
    for ((i = 0; i < 20; i++)); do
        nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ' || true)
        [ -n "$nginx_workers" ] && break
        sleep 0.1
    done
}


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
    check_range BENCH_DURATION_S "$duration_s" 1 60
    check_range BENCH_ROUNDS "$rounds" 1 9
    check_range BENCH_CONNECTIONS "$connections" 1 1024
    check_range BENCH_WRK_THREADS "$wrk_threads" 1 64
    check_range BENCH_SERVER_THREADS "$server_threads" 1 64
    for tool in wrk nginx curl make; do
        command -v "$tool" >/dev/null ||
            die "$tool is missing (tools/deps.sh test installs it)"
    done
    [ -x "$py" ] || die "$py is missing"

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    work=$(mktemp -d /tmp/timbre-bench.XXXXXX)
    printf 'op\ttarget\tround\trps\tp50_us\tp99_us\tbytes_per_resp\t' \
        >"$work/results.tsv"
    printf 'non2xx\tsocket_errors\tcpu_us_per_req\n' >>"$work/results.tsv"

    echo "bench: building build/timbre" >&2
    make -s -C "$repo" build/timbre >&2 || die "build failed"

    # AWS_DATA_PATH: boto3 must use the repository's model.
    mkdir -p "$work/model/voice-id/2021-09-27"
    cp "$repo/model/voiceid-2021-09-27.json" \
        "$work/model/voice-id/2021-09-27/service-2.json"
    export AWS_DATA_PATH=$work/model
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

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

    start_nginx
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
        printf 'Date (UTC)\t%s\n' "$(date -u '+%Y-%m-%d %H:%M')"
        printf 'Timbre build (git HEAD, working tree)\t%s\n' \
            "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo ?)"
        printf 'CPU\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' \
            /proc/cpuinfo)"
        printf 'Cores (nproc)\t%s\n' "$cores"
        printf 'Kernel\t%s\n' "$(uname -r)"
        printf 'nginx\t%s, %s workers\n' \
            "$(nginx -v 2>&1 | sed 's|.*/||')" "$server_threads"
        printf 'wrk\t%s, -t%s -c%s, %s rounds of %ss per target\n' \
            "$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')" "$wrk_threads" \
            "$connections" "$rounds" "$duration_s"
        printf 'Timbre\t--threads %s --log-level warn\n' "$server_threads"
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

    if awk -F'\t' 'NR > 1 && $8 > 0 { bad = 1 } END { exit !bad }' \
        "$work/results.tsv"; then
        die "some responses were not 2xx: the numbers are not valid"
    fi
}


main "$@"
