# shellcheck shell=bash disable=SC2154
# SPDX-License-Identifier: Apache-2.0
#
# Shell helpers shared by the benchmarks (bench/run.sh, bench/jobs.sh,
# bench/enroll.sh), sourced, never run. They start Timbre, nginx and wrk
# on free loopback ports, stop each by its PID on exit (cleanup,
# installed as the EXIT trap by bench_begin), bound every wait, and
# append one tab-separated line per wrk run to $work/results.tsv.
#
# The sourcing script sets, before calling anything here (hence SC2154):
#   here, repo     the bench/ folder and the repository
#   py             /usr/bin/python3 (boto3 lives there)
#   server_threads Timbre --threads and nginx worker_processes
#   duration_s, rounds, wrk_threads, connections (the wrk benchmarks)
# and may set timbre_opts, more options for Timbre; the helpers set work,
# timbre_pid/port, nginx_pid/port, nginx_workers, wrk_pid and step_pid.

timbre_pid=""
timbre_port=""
timbre_opts=()
nginx_pid=""
nginx_port=""
nginx_workers=""
wrk_pid=""
step_pid=""
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


# Checks that the tools given and $py are installed.
need_tools()
{
    local tool

    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            die "$tool is missing (tools/deps.sh test installs it)"
    done
    [ -x "$py" ] || die "$py is missing"
}


# Checks the load knobs of the wrk benchmarks and their tools.
check_setup()
{
    check_range BENCH_DURATION_S "$duration_s" 1 60
    check_range BENCH_ROUNDS "$rounds" 1 9
    check_range BENCH_CONNECTIONS "$connections" 1 1024
    check_range BENCH_WRK_THREADS "$wrk_threads" 1 64
    check_range BENCH_SERVER_THREADS "$server_threads" 1 64
    need_tools wrk nginx curl make
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
    stop_pid "$step_pid"
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


# Installs the traps, makes the temporary folder $work (named after $1)
# with the header of results.tsv, and points boto3 at the repository's
# service model (Debian's botocore has an older Voice ID model).
bench_begin()
{
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    printf 'op\ttarget\tround\trps\tp50_us\tp99_us\tbytes_per_resp\t' \
        >"$work/results.tsv"
    printf 'non2xx\tsocket_errors\tcpu_us_per_req\n' >>"$work/results.tsv"

    mkdir -p "$work/model/voice-id/2021-09-27"
    cp "$repo/model/voiceid-2021-09-27.json" \
        "$work/model/voice-id/2021-09-27/service-2.json"
    export AWS_DATA_PATH=$work/model
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}


# Runs a long step (the command given) with its output in file $1 and
# waits for it; the step runs in the background so that a signal to the
# script ends the wait at once, and cleanup stops the step by its PID.
# Returns the step's status.
run_step()
{
    local out=$1 rc=0
    shift

    "$@" </dev/null >"$out" &
    step_pid=$!
    wait "$step_pid" || rc=$?
    step_pid=""
    return "$rc"
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


# Starts build/timbre on a free port with the data folder $work/data,
# and the options in the array timbre_opts.
start_timbre()
{
    timbre_port=$(free_port)
    "$repo/build/timbre" serve --listen "127.0.0.1:$timbre_port" \
        --data-dir "$work/data" --log-level warn \
        --threads "$server_threads" "${timbre_opts[@]}" \
        </dev/null >"$work/timbre.log" 2>&1 &
    timbre_pid=$!
    wait_ready "http://127.0.0.1:$timbre_port/healthz" "" "$timbre_pid" || {
        tail -n 20 "$work/timbre.log" >&2
        die "timbre did not become healthy"
    }
}


# Starts nginx serving each $work/NAME.body of the names given as the
# static file /NAME, and checks that it serves exactly those bytes.
start_nginx()
{
    local name i

    nginx_port=$(free_port)
    mkdir -p "$work/nginx/www" "$work/nginx/tmp"
    # Workers run as an unprivileged user when we are root: let them read.
    chmod 755 "$work" "$work/nginx" "$work/nginx/www"
    for name in "$@"; do
        cp "$work/$name.body" "$work/nginx/www/$name"
        chmod 644 "$work/nginx/www/$name"
    done
    sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" \
        -e "s|@WORKERS@|$server_threads|g" \
        "$here/nginx.conf.in" >"$work/nginx/nginx.conf"

    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/err" \
        -g 'daemon off;' </dev/null >"$work/nginx/stdout" 2>&1 &
    nginx_pid=$!
    for name in "$@"; do
        wait_ready "http://127.0.0.1:$nginx_port/$name" \
            "$work/$name.body" "$nginx_pid" || {
            cat "$work/nginx/stdout" "$work/nginx/error.log" >&2 || true
            die "nginx did not serve the body of $name"
        }
    done
    for ((i = 0; i < 20; i++)); do
        nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ' || true)
        [ -n "$nginx_workers" ] && break
        sleep 0.1
    done
}


# One wrk run: $1 op, $2 target (timbre|nginx), $3 round (0 = warm-up),
# $4 seconds, then the URL and the script's arguments. Appends a line to
# $work/results.tsv (not for warm-ups) and prints a summary on stderr.
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


# Fails when any measured run saw a response with a status over 399.
check_non2xx()
{
    if awk -F'\t' 'NR > 1 && $8 > 0 { bad = 1 } END { exit !bad }' \
        "$work/results.tsv"; then
        die "some responses were not 2xx: the numbers are not valid"
    fi
}


# The date, build and machine lines every results table starts with, as
# "name<TAB>value" lines.
host_lines()
{
    printf 'Date (UTC)\t%s\n' "$(date -u '+%Y-%m-%d %H:%M')"
    printf 'Timbre build (git HEAD, working tree)\t%s\n' \
        "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo ?)"
    printf 'CPU\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' \
        /proc/cpuinfo)"
    printf 'Cores (nproc)\t%s\n' "$(nproc)"
    printf 'Kernel\t%s\n' "$(uname -r)"
}


# host_lines, then the load lines of the wrk benchmarks.
machine_lines()
{
    host_lines
    printf 'nginx\t%s, %s workers\n' \
        "$(nginx -v 2>&1 | sed 's|.*/||')" "$server_threads"
    printf 'wrk\t%s, -t%s -c%s, %s rounds of %ss per target\n' \
        "$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')" "$wrk_threads" \
        "$connections" "$rounds" "$duration_s"
    printf 'Timbre\t--threads %s --log-level warn\n' "$server_threads"
}
