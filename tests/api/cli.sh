#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The AWS CLI suite: drives a real build/timbre with Debian's AWS CLI v2,
# the way an operator's scripts do. It starts its own server on a free
# loopback port with a fresh data folder, runs each test function in a
# subshell with `set -e` (one failed check ends that test only), and
# closes with "cli: N passed, M failed". Exit status 0 only if all pass.
#
# Needs: build/timbre, aws (v2), jq, curl, /usr/bin/python3 with boto3
# (for harness.py, which lays out AWS_DATA_PATH and picks a free port).

set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${TIMBRE_BIN:-$repo/build/timbre}
py=${TIMBRE_E2E_PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1

# Debian's awscli is v2; a pip-installed v1 may come first on PATH.
find_aws() {
    local c
    for c in "${AWS_CLI:-}" /usr/bin/aws "$(command -v aws || true)"; do
        if [[ -n "$c" && -x "$c" ]] && "$c" --version 2>&1 \
                | grep -q '^aws-cli/2\.'; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

aws_bin=$(find_aws) || { echo "cli: AWS CLI v2 not found" >&2; exit 2; }
command -v jq >/dev/null || { echo "cli: jq not found" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "cli: $bin missing; run make" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/timbre-cli-XXXXXX")
server_pid=

stop_server() {
    local i
    [[ -n "$server_pid" ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

cleanup() {
    stop_server
    if [[ -z "${TIMBRE_KEEP_TMP:-}" ]]; then
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

export AWS_DATA_PATH
AWS_DATA_PATH=$("$py" "$here/harness.py" data-path "$tmp/aws-data")
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_PAGER='' AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
    AWS_DEFAULT_OUTPUT AWS_CLI_AUTO_PROMPT || true

port=$("$py" -c "import sys; sys.path.insert(0, '$here'); \
import harness; print(harness.free_port())")
endpoint="http://127.0.0.1:$port"

"$bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" \
    --max-domains 1000 2>"$tmp/server.log" &
server_pid=$!
for i in $(seq 100); do
    if curl -fsS "$endpoint/healthz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null || [[ $i == 100 ]]; then
        echo "cli: timbre did not become healthy:" >&2
        tail -20 "$tmp/server.log" >&2
        exit 2
    fi
    sleep 0.1
done

# Helpers -------------------------------------------------------------------

vid() {
    "$aws_bin" voice-id "$@" --endpoint-url "$endpoint" \
        --region us-east-1 --output json
}

fail() {
    echo "  check failed: $*" >&2
    return 1
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
    [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

# assert_match ACTUAL REGEX WHAT
assert_match() {
    [[ "$1" =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
    [[ "$1" == *"$2"* ]] || fail "$3: '$2' not in: $1"
}

n=0
new_name() {
    n=$((n + 1))
    echo "cli-$$-$n-$RANDOM"
}

# create_domain NAME [more create-domain args]; prints the response.
create_domain() {
    local name=$1
    shift
    vid create-domain --name "$name" \
        --server-side-encryption-configuration KmsKeyId=cli-key-1 "$@"
}

# expect_failure EXIT_CODE TEXT CMD...: CMD must exit with EXIT_CODE and
# print TEXT on stderr.
expect_failure() {
    local code=$1 text=$2 rc=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    assert_eq "$rc" "$code" "exit status of $*"
    assert_contains "$(cat "$tmp/err")" "$text" "stderr of $*"
}

# Tests ---------------------------------------------------------------------

test_create_domain_returns_full_domain() {
    local name out id
    name=$(new_name)

    out=$(create_domain "$name" --description "made by the cli" \
        --tags Key=team,Value=fraud)
    id=$(jq -r .Domain.DomainId <<<"$out")

    assert_match "$id" '^[a-zA-Z0-9]{22}$' DomainId
    assert_eq "$(jq -r .Domain.Arn <<<"$out")" \
        "arn:aws:voiceid:us-east-1:000000000000:domain/$id" Arn
    assert_eq "$(jq -r .Domain.Name <<<"$out")" "$name" Name
    assert_eq "$(jq -r .Domain.Description <<<"$out")" "made by the cli" \
        Description
    assert_eq "$(jq -r .Domain.DomainStatus <<<"$out")" ACTIVE DomainStatus
    assert_eq "$(jq -r .Domain.ServerSideEncryptionConfiguration.KmsKeyId \
        <<<"$out")" cli-key-1 KmsKeyId
    assert_match "$(jq -r .Domain.WatchlistDetails.DefaultWatchlistId \
        <<<"$out")" '^[a-zA-Z0-9]{22}$' DefaultWatchlistId
    assert_match "$(jq -r .Domain.CreatedAt <<<"$out")" '^20[0-9]{2}-' \
        CreatedAt
}

test_describe_domain_matches_create() {
    local created described id
    created=$(create_domain "$(new_name)" --description described)
    id=$(jq -r .Domain.DomainId <<<"$created")

    described=$(vid describe-domain --domain-id "$id")

    assert_eq "$(jq -S .Domain <<<"$described")" \
        "$(jq -S .Domain <<<"$created")" "describe-domain output"
}

test_list_domains_auto_paginates_and_resumes() {
    local mine=() i out all first rest token joined
    for i in $(seq 12); do
        mine+=("$(create_domain "$(new_name)" | jq -r .Domain.DomainId)")
    done

    all=$(vid list-domains | jq -c '[.DomainSummaries[].DomainId]')

    assert_eq "$(jq 'length > 10' <<<"$all")" true "more than one page"
    assert_eq "$(jq 'length == (unique | length)' <<<"$all")" true \
        "no domain repeated"
    for i in "${mine[@]}"; do
        assert_eq "$(jq --arg id "$i" 'index($id) != null' <<<"$all")" \
            true "domain $i listed"
    done
    assert_eq "$(vid list-domains --page-size 3 \
        | jq -c '[.DomainSummaries[].DomainId]')" "$all" \
        "auto-pagination with --page-size 3"

    first=$(vid list-domains --max-items 3)
    assert_eq "$(jq '.DomainSummaries | length' <<<"$first")" 3 \
        "items with --max-items 3"
    token=$(jq -r .NextToken <<<"$first")
    [[ -n "$token" && "$token" != null ]] || fail "no NextToken"
    joined=$(jq -c '[.DomainSummaries[].DomainId]' <<<"$first")
    while [[ -n "$token" && "$token" != null ]]; do
        rest=$(vid list-domains --max-items 4 --starting-token "$token")
        joined=$(jq -c --argjson more \
            "$(jq -c '[.DomainSummaries[].DomainId]' <<<"$rest")" \
            '. + $more' <<<"$joined")
        token=$(jq -r '.NextToken // empty' <<<"$rest")
    done
    assert_eq "$joined" "$all" "pages joined with --starting-token"
}

test_list_enrollment_jobs_paginates_newest_first() {
    local id all first token joined rest failed
    id=$(create_domain "$(new_name)" | jq -r .Domain.DomainId)
    "$repo/build/bench/seed-jobs" --data-dir "$tmp/data" --domain "$id" \
        --count 230 >/dev/null || fail "seeding jobs"

    all=$(vid list-speaker-enrollment-jobs --domain-id "$id" \
          | jq -c '[.JobSummaries[].JobName]')
    assert_eq "$(jq 'length' <<<"$all")" 230 "every job, auto-paginated"
    assert_eq "$(jq -r '.[0], .[229]' <<<"$all" | tr '\n' ' ')" \
        "seed-229 seed-0 " "newest first"

    first=$(vid list-speaker-enrollment-jobs --domain-id "$id" \
            --max-items 25)
    assert_eq "$(jq '.JobSummaries | length' <<<"$first")" 25 \
        "items with --max-items 25"
    token=$(jq -r .NextToken <<<"$first")
    joined=$(jq -c '[.JobSummaries[].JobName]' <<<"$first")
    while [[ -n "$token" && "$token" != null ]]; do
        rest=$(vid list-speaker-enrollment-jobs --domain-id "$id" \
               --max-items 60 --starting-token "$token")
        joined=$(jq -c --argjson more \
            "$(jq -c '[.JobSummaries[].JobName]' <<<"$rest")" \
            '. + $more' <<<"$joined")
        token=$(jq -r '.NextToken // empty' <<<"$rest")
    done
    assert_eq "$joined" "$all" "pages joined with --starting-token"

    failed=$(vid list-speaker-enrollment-jobs --domain-id "$id" \
             --job-status FAILED | jq '[.JobSummaries[].JobStatus] | unique')
    assert_eq "$(jq -c . <<<"$failed")" '["FAILED"]' "status filter"
}

# No workers, so that the seeded SUBMITTED and IN_PROGRESS jobs stay so.
test_every_status_filter() {
    local id status got
    own_server status-data --workers 0
    id=$(create_domain "$(new_name)" | jq -r .Domain.DomainId)
    for status in SUBMITTED IN_PROGRESS COMPLETED COMPLETED_WITH_ERRORS \
                  FAILED; do
        "$repo/build/bench/seed-jobs" --data-dir "$tmp/status-data" \
            --domain "$id" --count 3 --status "$status" >/dev/null \
            || fail "seeding $status jobs"
    done
    for status in SUBMITTED IN_PROGRESS COMPLETED COMPLETED_WITH_ERRORS \
                  FAILED; do
        got=$(vid list-speaker-enrollment-jobs --domain-id "$id" \
              --job-status "$status" --page-size 2 \
              | jq -c '[.JobSummaries[].JobStatus]')
        assert_eq "$got" "[\"$status\",\"$status\",\"$status\"]" \
            "--job-status $status"
    done
}

# A real job on real audio, the way a migration script runs one: put the
# recordings and the manifest where s3:// URIs resolve, start the job, poll
# it to its end, read the output file and find the speaker.
test_enrollment_job_enrolls_a_caller() {
    local id speaker corpus calls job status out gen
    corpus=$repo/build/corpus/eval
    [[ -f "$corpus/manifest.tsv" ]] || fail "eval corpus missing; run make"
    id=$(create_domain "$(new_name)" | jq -r .Domain.DomainId)
    speaker=ev0010
    calls=$tmp/data/objects/cli-calls
    mkdir -p "$calls/$id"
    cp "$corpus/$speaker/$speaker"-enroll0[1-4].wav "$calls/$id/"
    jq -n --arg id "$id" --arg s "$speaker" '{Version: "1.0",
        SpeakerEnrollmentRequests: [{RequestId: "req-1",
          SpeakerId: "cli-caller-1",
          AudioSpecifications: [range(1; 5) | {
            S3Uri: "s3://cli-calls/\($id)/\($s)-enroll0\(.).wav",
            ChannelId: 0}]}]}' >"$calls/$id/manifest.json"

    job=$(vid start-speaker-enrollment-job --domain-id "$id" \
          --job-name cli-batch \
          --data-access-role-arn arn:aws:iam::000000000000:role/voiceid \
          --input-data-config "S3Uri=s3://cli-calls/$id/manifest.json" \
          --output-data-config "S3Uri=s3://cli-calls/$id/out" \
          | jq -r .Job.JobId)
    assert_match "$job" '^[a-zA-Z0-9]{22}$' JobId
    for _ in $(seq 600); do
        status=$(vid describe-speaker-enrollment-job --domain-id "$id" \
                 --job-id "$job" | jq -r .Job.JobStatus)
        [[ "$status" == SUBMITTED || "$status" == IN_PROGRESS ]] || break
        sleep 0.2
    done
    assert_eq "$status" COMPLETED "job status"

    out=$calls/$id/out/$job/manifest.json.out
    [[ -f "$out" ]] || fail "no output file at $out"
    assert_eq "$(jq -c '[(.Errors | length),
        .SuccessfulEnrollments[0].EnrollmentStatus,
        .SuccessfulEnrollments[0].CustomerSpeakerId]' "$out")" \
        '[0,"NEW_ENROLLMENT","cli-caller-1"]' "output file"
    gen=$(jq -r .SuccessfulEnrollments[0].GeneratedSpeakerId "$out")
    assert_eq "$(vid describe-speaker --domain-id "$id" \
        --speaker-id "$gen" | jq -r '.Speaker.CustomerSpeakerId + " " +
        .Speaker.Status')" "cli-caller-1 ENROLLED" "describe-speaker"
    assert_eq "$(vid list-speaker-enrollment-jobs --domain-id "$id" \
        --job-status COMPLETED | jq -r '.JobSummaries[0].JobName + " " +
        (.JobSummaries[0].JobProgress.PercentComplete | tostring)')" \
        "cli-batch 100" "listed as completed"
}

test_speakers_opt_out_list_and_delete() {
    local id listed
    id=$(create_domain "$(new_name)" | jq -r .Domain.DomainId)

    assert_eq "$(vid opt-out-speaker --domain-id "$id" \
        --speaker-id cli-no-1 | jq -r .Speaker.Status)" OPTED_OUT \
        "opted out"
    vid opt-out-speaker --domain-id "$id" --speaker-id cli-no-2 >/dev/null
    listed=$(vid list-speakers --domain-id "$id" --max-items 1 \
             | jq -r '.SpeakerSummaries | length')
    assert_eq "$listed" 1 "one item with --max-items 1"
    assert_eq "$(vid list-speakers --domain-id "$id" \
        | jq -c '[.SpeakerSummaries[].CustomerSpeakerId]')" \
        '["cli-no-1","cli-no-2"]' "every speaker, auto-paginated"

    vid delete-speaker --domain-id "$id" --speaker-id cli-no-1
    expect_failure 254 ResourceNotFoundException \
        vid describe-speaker --domain-id "$id" --speaker-id cli-no-1
}

test_update_domain_replaces_attributes() {
    local created id out name
    created=$(create_domain "$(new_name)" --description "to be dropped")
    id=$(jq -r .Domain.DomainId <<<"$created")
    name=$(new_name)

    out=$(vid update-domain --domain-id "$id" --name "$name" \
        --server-side-encryption-configuration KmsKeyId=cli-key-2)

    assert_eq "$(jq -r .Domain.Name <<<"$out")" "$name" Name
    assert_eq "$(jq '.Domain | has("Description")' <<<"$out")" false \
        "Description removed"
    assert_eq "$(jq -r .Domain.ServerSideEncryptionConfiguration.KmsKeyId \
        <<<"$out")" cli-key-2 KmsKeyId
    assert_eq "$(jq -r \
        .Domain.ServerSideEncryptionUpdateDetails.OldKmsKeyId <<<"$out")" \
        cli-key-1 OldKmsKeyId
    assert_eq "$(jq -r \
        .Domain.ServerSideEncryptionUpdateDetails.UpdateStatus <<<"$out")" \
        COMPLETED UpdateStatus
    assert_eq "$(jq -r .Domain.CreatedAt <<<"$out")" \
        "$(jq -r .Domain.CreatedAt <<<"$created")" CreatedAt
    assert_eq "$(vid describe-domain --domain-id "$id" | jq -S .Domain)" \
        "$(jq -S .Domain <<<"$out")" "describe after update"
}

test_tags_round_trip() {
    local arn out
    arn=$(create_domain "$(new_name)" --tags Key=team,Value=fraud \
        | jq -r .Domain.Arn)

    out=$(vid tag-resource --resource-arn "$arn" \
        --tags Key=b,Value=2 Key=a,Value=1 Key=team,Value=risk)
    [[ -z "$out" || "$(jq -c . <<<"$out")" == "{}" ]] \
        || fail "tag-resource printed $out"
    assert_eq "$(vid list-tags-for-resource --resource-arn "$arn" \
        | jq -c '[.Tags[] | "\(.Key)=\(.Value)"]')" \
        '["a=1","b=2","team=risk"]' "tags after tag-resource"

    vid untag-resource --resource-arn "$arn" --tag-keys b not-there \
        >/dev/null
    assert_eq "$(vid list-tags-for-resource --resource-arn "$arn" \
        | jq -c '[.Tags[].Key]')" '["a","team"]' "tags after untag-resource"
}

test_delete_domain_then_not_found() {
    local id arn
    id=$(create_domain "$(new_name)" | jq -r .Domain.DomainId)
    arn="arn:aws:voiceid:us-east-1:000000000000:domain/$id"

    vid delete-domain --domain-id "$id" >/dev/null

    expect_failure 254 "ResourceNotFoundException" \
        vid describe-domain --domain-id "$id"
    expect_failure 254 "ResourceNotFoundException" \
        vid delete-domain --domain-id "$id"
    expect_failure 254 "ResourceNotFoundException" \
        vid list-tags-for-resource --resource-arn "$arn"
    assert_eq "$(vid list-domains \
        | jq --arg id "$id" '[.DomainSummaries[].DomainId] | index($id)')" \
        null "deleted domain not listed"
}

test_describe_unknown_domain_fails_with_254() {
    local text="An error occurred (ResourceNotFoundException) when calling"
    text+=" the DescribeDomain operation"

    expect_failure 254 "$text" \
        vid describe-domain --domain-id AAAAAAAAAAAAAAAAAAAAAA
}

test_server_side_validation_error() {
    expect_failure 254 "ValidationException" \
        vid describe-domain --domain-id 'abcdefghijklmnopqrstu!'
    assert_contains "$(cat "$tmp/err")" "'DomainId'" "member named"
}

test_client_token_makes_create_idempotent() {
    local name token a b
    name=$(new_name)
    token="tok-$name"

    a=$(create_domain "$name" --client-token "$token" \
        | jq -r .Domain.DomainId)
    b=$(create_domain "$name" --client-token "$token" \
        | jq -r .Domain.DomainId)

    assert_eq "$b" "$a" "DomainId of the repeated create"
    expect_failure 254 "ConflictException" \
        create_domain "$(new_name)" --client-token "$token"
}

test_wrong_secret_is_refused() {
    AWS_SECRET_ACCESS_KEY=wrong expect_failure 254 \
        "InvalidSignatureException" vid list-domains
}

test_unknown_access_key_is_unrecognized_client() {
    AWS_ACCESS_KEY_ID=AKIANOBODY0000000000 expect_failure 254 \
        "UnrecognizedClientException" vid list-domains
}

test_unsigned_request_is_missing_authentication_token() {
    expect_failure 254 "MissingAuthenticationTokenException" \
        vid list-domains --no-sign-request
}

# own_server NAME FLAGS...: starts a server of the calling test's own, with
# its data in $tmp/NAME, and points `vid` at it. Call it from a test only:
# the test's subshell stops the server when it exits (own_pid is global
# because that trap runs after the test function has returned).
own_server() {
    local name=$1 own_port i
    shift
    own_port=$("$py" -c "import sys; sys.path.insert(0, '$here'); \
import harness; print(harness.free_port())")
    "$bin" serve --listen "127.0.0.1:$own_port" --data-dir "$tmp/$name" \
        "$@" 2>"$tmp/$name.log" &
    own_pid=$!
    trap 'kill -TERM $own_pid 2>/dev/null; wait $own_pid 2>/dev/null' EXIT
    endpoint="http://127.0.0.1:$own_port"
    for i in $(seq 100); do
        curl -fsS "$endpoint/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "the server in $tmp/$name did not start"
}

# One domain allowed and a slow request rate: the quota and the rate
# limit, as scripts meet them.
test_domain_quota_and_rate_limit() {
    own_server quota-data --max-domains 1 --rate-limit 0.01 --rate-burst 4

    create_domain "$(new_name)" >/dev/null
    expect_failure 254 "ServiceQuotaExceededException" \
        create_domain "$(new_name)"
    vid list-domains >/dev/null
    vid list-domains >/dev/null
    expect_failure 254 "ThrottlingException" vid list-domains
}

test_unbuilt_operation_names_itself() {
    local id
    id=$(create_domain "$(new_name)" | jq -r .Domain.DomainId)

    expect_failure 254 \
        "ListWatchlists is not available in this version of Timbre" \
        vid list-watchlists --domain-id "$id"
    assert_contains "$(cat "$tmp/err")" NotImplementedException "error code"
}

# Runner --------------------------------------------------------------------

passed=0
failed=0
failures=()
for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
    set +e
    (set -e; "$t") >"$tmp/test.out" 2>&1
    rc=$?
    set -e
    if [[ $rc == 0 ]]; then
        passed=$((passed + 1))
        echo "ok   $t"
    else
        failed=$((failed + 1))
        failures+=("$t")
        echo "FAIL $t"
        sed 's/^/    /' "$tmp/test.out" | tail -30
    fi
done

if ((failed > 0)); then
    echo "--- server log tail ---"
    tail -30 "$tmp/server.log"
fi
echo "cli: $passed passed, $failed failed"
((failed == 0))
