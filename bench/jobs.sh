#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# ListSpeakerEnrollmentJobs at depth: a domain with a million jobs, the
# first page against page 10,000 (MaxResults 100), measured with wrk on
# loopback beside nginx serving the same response bytes as static files
# in the same run.
#
#   bash bench/jobs.sh [-o FILE]
#
# Steps: build build/timbre and build/bench/seed-jobs; start Timbre on a
# free loopback port with a fresh data folder; create one domain with
# boto3; add BENCH_JOBS jobs to it with seed-jobs, which writes through
# Timbre's own storage code into the running server's database (SQLite's
# WAL lets a second writer process in safely); page through the listing
# from the first page to the last with signed requests, one after the
# other, to get the NextToken of the last page and to time the whole walk;
# sign the first and the last page's request (bench/jobs.py, on top of
# bench/sign.py) and keep their answers, which nginx then serves; run wrk
# against the four targets in alternating rounds and report the medians.
#
# The deep page is the last one: BENCH_JOBS / 100, so page 10,000 of a
# million jobs, which skips 999,900 of them. Being the last, it carries no
# NextToken, so its answer is a little shorter than the first page's.
#
# Knobs (environment): BENCH_JOBS (1000000, a multiple of 100),
# BENCH_DURATION_S (10, per run), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32),
# BENCH_WRK_THREADS (2), BENCH_SERVER_THREADS (the core count),
# BENCH_KEEP=1 keeps the temporary folder. Results: a table on stdout and
# in build/bench/jobs-results.md, raw outputs in build/bench/jobs/; with
# -o, a copy of the table in FILE.
#
# Everything started here (timbre, nginx, wrk, seed-jobs, the walk) is
# stopped by its PID on exit, failure or interruption; every wait is
# bounded; traffic goes only to 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
py=/usr/bin/python3

jobs=${BENCH_JOBS:-1000000}
duration_s=${BENCH_DURATION_S:-10}
rounds=${BENCH_ROUNDS:-3}
connections=${BENCH_CONNECTIONS:-32}
wrk_threads=${BENCH_WRK_THREADS:-2}
server_threads=${BENCH_SERVER_THREADS:-$(nproc)}
page_size=100
warmup_s=2
raw_dir=$repo/build/bench/jobs
out_md=""

# shellcheck source=bench/lib.sh
. "$here/lib.sh"


# Signs the request of page $1 (first|deep) and checks its answer.
sign_page()
{
    local name=$1

    "$py" "$here/jobs.py" sign "$timbre_port" "${body[$name]}" \
        "${first_seed[$name]}" "$work/$name.req" "$work/$name.body" \
        >/dev/null || die "signing the $name page failed"
}


# One wrk run of page $1 (first|deep) against $2 (timbre|nginx).
run_page()
{
    local name=$1 target=$2 round=$3 secs=$4

    if [ "$target" = timbre ]; then
        sign_page "$name"
        run_wrk "$name" timbre "$round" "$secs" \
            "http://127.0.0.1:$timbre_port/" -- "$work/$name.req"
    else
        run_wrk "$name" nginx "$round" "$secs" \
            "http://127.0.0.1:$nginx_port/$name" -- "$work/$name.req" GET
    fi
}


# The four runs of a round; even rounds go in the reverse order, so that
# each target is as often early as late.
run_round()
{
    local round=$1 secs=$2 i
    local -a order=("first timbre" "deep timbre" "first nginx" "deep nginx")

    if [ $((round % 2)) -eq 0 ]; then
        order=("deep nginx" "first nginx" "deep timbre" "first timbre")
    fi
    for i in "${order[@]}"; do
        # The word splitting of "page target" is wanted.
        # shellcheck disable=SC2086
        run_page $i "$round" "$secs"
    done
}


# Size in bytes of a file, 0 when it does not exist.
file_size()
{
    stat -c %s "$1" 2>/dev/null || echo 0
}


main()
{
    local r domain_id rss_start rss_seeded rss_walked rss_end seed_out
    local t0 t1 seed_s seed_wall_s ticks walk_cpu_us deep_page db_b wal_b
    local hz
    declare -gA body first_seed

    if [ "${1:-}" = -o ] && [ -n "${2:-}" ]; then
        out_md=$2
    elif [ $# -gt 0 ]; then
        die "usage: bash bench/jobs.sh [-o FILE]"
    fi
    check_range BENCH_JOBS "$jobs" 200 10000000
    [ $((jobs % page_size)) -eq 0 ] ||
        die "BENCH_JOBS must be a multiple of $page_size"
    check_setup
    deep_page=$((jobs / page_size))
    hz=$(getconf CLK_TCK)
    bench_begin timbre-jobs-bench

    echo "bench: building build/timbre and build/bench/seed-jobs" >&2
    make -s -C "$repo" build/timbre build/bench/seed-jobs >&2 ||
        die "build failed"

    start_timbre
    sleep 1
    rss_start=$(memory_kb "$timbre_pid")
    echo "bench: timbre pid $timbre_pid on port $timbre_port," \
        "--threads $server_threads; VmRSS/VmHWM after start-up:" \
        "$rss_start kB" >&2

    domain_id=$("$py" "$here/jobs.py" domain "$timbre_port") ||
        die "creating the domain failed"

    echo "bench: seeding $jobs jobs into domain $domain_id" \
        "(Timbre keeps running)" >&2
    t0=$(date +%s.%N)
    run_step "$work/seed.json" timeout 600 "$repo/build/bench/seed-jobs" \
        --data-dir "$work/data" --domain "$domain_id" --count "$jobs" ||
        die "seed-jobs failed"
    seed_out=$(cat "$work/seed.json")
    seed_s=$("$py" -c 'import json, sys
print(json.load(sys.stdin)["seconds"])' <"$work/seed.json") ||
        die "seed-jobs printed '$seed_out'"
    t1=$(date +%s.%N)
    seed_wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    db_b=$(file_size "$work/data/timbre.db")
    wal_b=$(file_size "$work/data/timbre.db-wal")
    rss_seeded=$(memory_kb "$timbre_pid")
    echo "bench: seed-jobs: $seed_out; ${seed_wall_s}s wall;" \
        "timbre.db $db_b B, WAL $wal_b B" >&2

    echo "bench: walking pages 1 to $((deep_page - 1))" >&2
    ticks=$(cpu_ticks "$timbre_pid")
    run_step "$work/walk.json" timeout 900 "$py" "$here/jobs.py" walk \
        "$timbre_port" "$domain_id" "$jobs" "$deep_page" \
        "$work/deep.token" || die "the walk through the pages failed"
    ticks=$(($(cpu_ticks "$timbre_pid") - ticks))
    walk_cpu_us=$(awk -v t="$ticks" -v hz="$hz" -v n="$((deep_page - 1))" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    rss_walked=$(memory_kb "$timbre_pid")
    echo "bench: walk: $(cat "$work/walk.json");" \
        "Timbre CPU ${walk_cpu_us} us/page" >&2

    body[first]="{\"DomainId\": \"$domain_id\", \"MaxResults\": $page_size}"
    body[deep]="{\"DomainId\": \"$domain_id\", \"MaxResults\": $page_size,"
    body[deep]+=" \"NextToken\": \"$(cat "$work/deep.token")\"}"
    first_seed[first]=$((jobs - 1))
    first_seed[deep]=$((page_size - 1))
    sign_page first
    sign_page deep
    echo "bench: response bodies: page 1 $(file_size "$work/first.body") B," \
        "page $deep_page $(file_size "$work/deep.body") B" >&2

    start_nginx first deep
    echo "bench: nginx pid $nginx_pid on port $nginx_port," \
        "$server_threads workers" >&2

    echo "bench: warm-up, ${warmup_s}s per target" >&2
    run_round 0 "$warmup_s"
    echo "bench: $rounds rounds of ${duration_s}s runs:" \
        "wrk -t$wrk_threads -c$connections" >&2
    for ((r = 1; r <= rounds; r++)); do
        run_round "$r" "$duration_s"
    done

    sleep 2
    rss_end=$(memory_kb "$timbre_pid")

    {
        machine_lines
        printf 'Jobs in the domain\t%s (seed-jobs, chunks of 10,000' \
            "$jobs"
        printf ' per transaction, while Timbre ran)\n'
        printf 'Seeding time\t%s s as timed by seed-jobs, %s s wall\n' \
            "$seed_s" \
            "$seed_wall_s"
        printf 'Database after seeding\ttimbre.db %s MB, WAL %s MB\n' \
            "$(awk -v b="$db_b" 'BEGIN { printf "%.1f", b / 1e6 }')" \
            "$(awk -v b="$wal_b" 'BEGIN { printf "%.1f", b / 1e6 }')"
        "$py" -c 'import json, sys
w = json.load(open(sys.argv[1]))
print("Walk, pages 1 to %d one after the other\t%.1f s, %.0f pages/s, "
      "median %.2f ms, p99 %.2f ms per page; client CPU %.1f s, "
      "Timbre CPU %s us/page" % (
          w["pages"], w["seconds"], w["pages"] / w["seconds"],
          w["median_ms"], w["p99_ms"], w["client_cpu_s"], sys.argv[2]))' \
            "$work/walk.json" "$walk_cpu_us"
        printf 'Response bodies\tpage 1 %s B, page %s %s B\n' \
            "$(file_size "$work/first.body")" "$deep_page" \
            "$(file_size "$work/deep.body")"
        printf 'Timbre VmRSS after start-up\t%s kB\n' "${rss_start% *}"
        printf 'Timbre VmRSS after seeding\t%s kB\n' "${rss_seeded% *}"
        printf 'Timbre VmRSS after the walk\t%s kB\n' "${rss_walked% *}"
        printf 'Timbre VmRSS idle after the load\t%s kB\n' "${rss_end% *}"
        printf 'Timbre VmHWM (peak RSS) over the run\t%s kB\n' \
            "${rss_end#* }"
    } >"$work/machine.tsv"

    mkdir -p "$raw_dir"
    "$py" "$here/jobs.py" report "$work/results.tsv" "$work/machine.tsv" \
        "$work/walk.json" "$deep_page" >"$repo/build/bench/jobs-results.md" ||
        die "report failed"
    cp "$work/results.tsv" "$work/machine.tsv" "$work/walk.json" \
        "$work"/wrk-*.txt "$work/timbre.log" "$raw_dir/"
    if [ -n "$out_md" ]; then
        mkdir -p "$(dirname "$out_md")"
        cp "$repo/build/bench/jobs-results.md" "$out_md"
    fi
    echo >&2
    cat "$repo/build/bench/jobs-results.md"

    check_non2xx
}


main "$@"
