#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# One speaker enrollment job of 1,000 requests, each the four enrollment
# recordings of one speaker: wall time from StartSpeakerEnrollmentJob to
# the job's end, Timbre's CPU time over it, and the seconds of audio it
# turned into voiceprints per second and per CPU-second.
#
#   bash bench/enroll.sh [-o FILE]
#
# Steps: build build/timbre, the default voice model and the synthetic
# eval corpus; start Timbre on a free loopback port with a fresh data
# folder, --workers BENCH_WORKERS and --max-active-jobs 10; copy the four
# enrollment recordings of every eval speaker into the data folder's
# "calls" bucket, measure each with soxi and write a manifest of
# BENCH_REQUESTS requests taking the speakers in turn, each request a new
# SpeakerId (bench/enroll.py, on top of bench/sign.py); then, for each
# round, create a fresh domain, so that every job enrolls new speakers,
# start the job with boto3, poll DescribeSpeakerEnrollmentJob until it
# ends, check that its output file enrolls every request and lists no
# error, and read Timbre's CPU time from /proc before and after.
#
# The recordings are copied once and every request of a speaker names the
# same four objects, so after the first of them the files come from the
# page cache: the job measures decoding and voiceprints, not the disk.
#
# Knobs (environment): BENCH_REQUESTS (1000), BENCH_ROUNDS (1; medians
# when more), BENCH_WORKERS (1, Timbre --workers), BENCH_SERVER_THREADS
# (the core count, Timbre --threads), BENCH_JOB_TIMEOUT_S (1800, per
# job), BENCH_KEEP=1 keeps the temporary folder. Results: a table on
# stdout and in build/bench/enroll-results.md, raw outputs (each job's
# timings and output file, the recordings' durations, Timbre's log) in
# build/bench/enroll/; with -o, a copy of the table in FILE.
#
# Everything started here (timbre, the job's client) is stopped by its
# PID on exit, failure or interruption; every wait is bounded; traffic
# goes only to 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
py=/usr/bin/python3

requests=${BENCH_REQUESTS:-1000}
rounds=${BENCH_ROUNDS:-1}
workers=${BENCH_WORKERS:-1}
server_threads=${BENCH_SERVER_THREADS:-$(nproc)}
job_timeout_s=${BENCH_JOB_TIMEOUT_S:-1800}
max_active_jobs=10
corpus=$repo/build/corpus/eval
raw_dir=$repo/build/bench/enroll
results_md=$repo/build/bench/enroll-results.md
out_md=""

# shellcheck source=bench/lib.sh
. "$here/lib.sh"


main()
{
    local r bucket domain_id rss_start rss_end ticks cpu_s hz fstype

    if [ "${1:-}" = -o ] && [ -n "${2:-}" ]; then
        out_md=$2
    elif [ $# -gt 0 ]; then
        die "usage: bash bench/enroll.sh [-o FILE]"
    fi
    # Timbre's defaults: 10,000 requests a job, 10 domains an account.
    check_range BENCH_REQUESTS "$requests" 1 10000
    check_range BENCH_ROUNDS "$rounds" 1 9
    check_range BENCH_WORKERS "$workers" 1 64
    check_range BENCH_SERVER_THREADS "$server_threads" 1 64
    check_range BENCH_JOB_TIMEOUT_S "$job_timeout_s" 10 86400
    need_tools curl make soxi timeout
    hz=$(getconf CLK_TCK)
    bench_begin timbre-enroll-bench

    echo "bench: building build/timbre, the default voice model and the" \
        "eval corpus" >&2
    make -s -C "$repo" build/timbre build/voice/default.model \
        build/corpus/eval/manifest.tsv >&2 || die "build failed"

    timbre_opts=(--workers "$workers" --max-active-jobs "$max_active_jobs")
    start_timbre
    sleep 1
    rss_start=$(memory_kb "$timbre_pid")
    echo "bench: timbre pid $timbre_pid on port $timbre_port," \
        "--threads $server_threads ${timbre_opts[*]};" \
        "VmRSS/VmHWM after start-up: $rss_start kB" >&2

    bucket=$work/data/objects/calls
    mkdir -p "$bucket"
    "$py" "$here/enroll.py" prepare "$corpus" "$bucket" "$requests" \
        "$work/audio.tsv" >"$work/prepare.json" ||
        die "preparing the audio and the manifest failed"
    echo "bench: one job: $(cat "$work/prepare.json")" >&2

    : >"$work/rounds.tsv"
    for ((r = 1; r <= rounds; r++)); do
        domain_id=$("$py" "$here/enroll.py" domain "$timbre_port" \
            "bench-enroll-$r") || die "creating domain $r failed"
        echo "bench: round $r: job of $requests requests in domain" \
            "$domain_id" >&2
        ticks=$(cpu_ticks "$timbre_pid")
        run_step "$work/job-$r.json" timeout -k 5 $((job_timeout_s + 60)) \
            "$py" "$here/enroll.py" job "$timbre_port" "$domain_id" \
            "$requests" "$bucket" "$job_timeout_s" || {
            cat "$work/job-$r.json" >&2
            tail -n 20 "$work/timbre.log" >&2
            die "the job of round $r did not complete as expected"
        }
        ticks=$(($(cpu_ticks "$timbre_pid") - ticks))
        cpu_s=$(awk -v t="$ticks" -v hz="$hz" \
            'BEGIN { printf "%.2f", t / hz }')
        printf '%s\t%s\t%s\n' "$r" "$cpu_s" "$work/job-$r.json" \
            >>"$work/rounds.tsv"
        echo "bench: round $r: Timbre CPU ${cpu_s} s;" \
            "$(cut -c1-300 "$work/job-$r.json")" >&2
    done
    rss_end=$(memory_kb "$timbre_pid")
    fstype=$(df --output=fstype "$work" | tail -n 1)

    {
        host_lines
        printf 'Timbre\t--threads %s --workers %s --max-active-jobs %s' \
            "$server_threads" "$workers" "$max_active_jobs"
        printf ' --log-level warn, data folder on %s\n' "$fstype"
        "$py" -c 'import json, sys
p = json.load(open(sys.argv[1]))
print("Job\t%s requests of 4 recordings each (%s files, %d distinct), "
      "%d eval speakers in turn, each request a new SpeakerId; "
      "manifest %d B" % (format(p["requests"], ","),
                         format(p["files"], ","), p["distinct_files"],
                         p["speakers"], p["manifest_bytes"]))
print("Audio in one job\t%.1f s (%.1f h), 8 kHz mu-law WAV, "
      "%.1f to %.1f s per request (soxi -D)" % (
          p["audio_s"], p["audio_s"] / 3600, p["request_min_s"],
          p["request_max_s"]))' "$work/prepare.json"
        printf 'Rounds\t%s (a fresh domain each)\n' "$rounds"
        printf 'Timbre VmRSS after start-up\t%s kB\n' "${rss_start% *}"
        printf 'Timbre VmRSS after the jobs\t%s kB\n' "${rss_end% *}"
        printf 'Timbre VmHWM (peak RSS) over the run\t%s kB\n' \
            "${rss_end#* }"
        printf 'Timbre log lines (warn and above)\t%s\n' \
            "$(wc -l <"$work/timbre.log")"
    } >"$work/machine.tsv"

    mkdir -p "$(dirname "$results_md")"
    "$py" "$here/enroll.py" report "$work/machine.tsv" \
        "$work/prepare.json" "$work/rounds.tsv" >"$results_md" ||
        die "report failed"
    rm -rf "$raw_dir"
    mkdir -p "$raw_dir"
    cp "$work/machine.tsv" "$work/prepare.json" "$work/audio.tsv" \
        "$work"/job-*.json "$work/timbre.log" "$bucket/manifest.json" \
        "$raw_dir/"
    sed "s|$work/||" "$work/rounds.tsv" >"$raw_dir/rounds.tsv"
    for ((r = 1; r <= rounds; r++)); do
        cp "$("$py" -c 'import json, sys
print(json.load(open(sys.argv[1]))["output"])' "$work/job-$r.json")" \
            "$raw_dir/job-$r.manifest.json.out"
    done
    if [ -n "$out_md" ]; then
        mkdir -p "$(dirname "$out_md")"
        cp "$results_md" "$out_md"
    fi
    echo >&2
    cat "$results_md"
}


main "$@"
