# SPDX-License-Identifier: Apache-2.0
"""Speaker enrollment jobs end to end: StartSpeakerEnrollmentJob, the job
runner enrolling real speakers from real audio, the output file, and a
server killed with SIGKILL in the middle of a job.

Audio comes from the synthetic evaluation corpus that `make` builds
(build/corpus/eval): each eval speaker has four enrollment recordings of
9 s or more of net speech and two test recordings of 12 s or more."""

import json
import os
import shutil
import signal
import time

import pytest

from harness import REPO, create_domain, expect_error

CORPUS = os.path.join(REPO, "build", "corpus", "eval")
ROLE = "arn:aws:iam::000000000000:role/voiceid"
TERMINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(CORPUS, "manifest.tsv")),
    reason="the eval corpus is built by `make`")


def bucket(server, name="calls"):
    path = os.path.join(server.data_dir, "objects", name)
    os.makedirs(path, exist_ok=True)
    return path


def put_audio(server, speaker, files):
    """Copies corpus recordings into the calls bucket; returns S3 URIs."""
    folder = os.path.join(bucket(server), speaker)
    os.makedirs(folder, exist_ok=True)
    uris = []
    for f in files:
        shutil.copy(os.path.join(CORPUS, speaker, f), folder)
        uris.append("s3://calls/%s/%s" % (speaker, f))
    return uris


def enroll_files(speaker):
    return ["%s-enroll0%d.wav" % (speaker, i) for i in range(1, 5)]


def request(request_id, speaker_id, uris):
    return {"RequestId": request_id, "SpeakerId": speaker_id,
            "AudioSpecifications": [{"S3Uri": u, "ChannelId": 0}
                                    for u in uris]}


def put_manifest(server, requests, name="manifest.json"):
    with open(os.path.join(bucket(server), name), "w") as f:
        json.dump({"Version": "1.0", "SpeakerEnrollmentRequests": requests},
                  f)
    return "s3://calls/" + name


def start(client, domain_id, manifest_uri, **extra):
    return client.start_speaker_enrollment_job(
        DomainId=domain_id, DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": manifest_uri},
        OutputDataConfig={"S3Uri": "s3://calls/output"}, **extra)["Job"]


def wait_for_end(client, domain_id, job_id, timeout_s=120):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        job = client.describe_speaker_enrollment_job(
            DomainId=domain_id, JobId=job_id)["Job"]
        if job["JobStatus"] in TERMINAL:
            return job
        time.sleep(0.2)
    raise AssertionError("job %s did not end: %r" % (job_id, job))


def output_of(server, job, manifest_name="manifest.json"):
    path = os.path.join(server.data_dir, "objects", "calls", "output",
                        job["JobId"], manifest_name + ".out")
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def jobs_server(server_factory):
    return server_factory("--workers", "1", "--max-active-jobs", "10",
                          "--max-domains", "100")


def test_a_job_enrolls_real_speakers_and_reports_every_request(jobs_server):
    client = jobs_server.client()
    d = create_domain(client)
    a = put_audio(jobs_server, "ev0001", enroll_files("ev0001"))
    b = put_audio(jobs_server, "ev0002", enroll_files("ev0002"))
    short = put_audio(jobs_server, "ev0003", ["ev0003-test01.wav"])
    manifest = put_manifest(jobs_server, [
        request("r1", "caller-a", a),
        request("r2", "caller-b", b),
        request("r3", "caller-short", short),
        request("r4", "caller-lost", ["s3://calls/nowhere.wav"]),
    ])

    job = start(client, d["DomainId"], manifest, JobName="first-batch")
    assert job["JobStatus"] in ("SUBMITTED", "IN_PROGRESS")
    assert job["EnrollmentConfig"] == {
        "ExistingEnrollmentAction": "SKIP",
        "FraudDetectionConfig": {
            "FraudDetectionAction": "FAIL",
            "WatchlistIds": [d["WatchlistDetails"]["DefaultWatchlistId"]]}}
    done = wait_for_end(client, d["DomainId"], job["JobId"])

    assert done["JobStatus"] == "COMPLETED_WITH_ERRORS"
    assert done["JobProgress"] == {"PercentComplete": 100}
    assert done["EndedAt"] >= done["CreatedAt"]
    out = output_of(jobs_server, done)
    assert out["Version"] == "1.0"
    ok = {s["RequestId"]: s for s in out["SuccessfulEnrollments"]}
    assert set(ok) == {"r1", "r2"}
    assert ok["r1"]["CustomerSpeakerId"] == "caller-a"
    assert ok["r1"]["EnrollmentStatus"] == "NEW_ENROLLMENT"
    assert ok["r1"]["GeneratedSpeakerId"].startswith("id#")
    errors = {e["RequestId"]: e for e in out["Errors"]}
    assert set(errors) == {"r3", "r4"}
    assert errors["r3"]["ErrorCode"] == 400
    assert "speech" in errors["r3"]["ErrorMessage"]
    assert errors["r4"]["ErrorCode"] == 400
    assert "nowhere.wav" in errors["r4"]["ErrorMessage"]

    listed = client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"])["JobSummaries"]
    assert [j["JobId"] for j in listed] == [done["JobId"]]
    assert listed[0]["JobStatus"] == "COMPLETED_WITH_ERRORS"

    speaker = client.describe_speaker(DomainId=d["DomainId"],
                                      SpeakerId="caller-a")["Speaker"]
    assert speaker["Status"] == "ENROLLED"
    assert speaker["GeneratedSpeakerId"] == ok["r1"]["GeneratedSpeakerId"]


def test_existing_speakers_are_skipped_or_overwritten(jobs_server):
    client = jobs_server.client()
    d = create_domain(client)
    manifest = put_manifest(jobs_server, [
        request("r1", "caller-a", put_audio(jobs_server, "ev0004",
                                            enroll_files("ev0004")))])

    first = wait_for_end(client, d["DomainId"],
                         start(client, d["DomainId"], manifest)["JobId"])
    again = wait_for_end(client, d["DomainId"],
                         start(client, d["DomainId"], manifest)["JobId"])
    over = wait_for_end(client, d["DomainId"], start(
        client, d["DomainId"], manifest,
        EnrollmentConfig={"ExistingEnrollmentAction": "OVERWRITE"})["JobId"])

    statuses = [output_of(jobs_server, j)["SuccessfulEnrollments"][0]
                ["EnrollmentStatus"] for j in (first, again, over)]
    assert statuses == ["NEW_ENROLLMENT", "DUPLICATE_SKIPPED",
                        "ENROLLMENT_OVERWRITE"]
    assert {j["JobStatus"] for j in (first, again, over)} == {"COMPLETED"}


def test_an_opted_out_speaker_is_refused_with_409(jobs_server):
    client = jobs_server.client()
    d = create_domain(client)
    client.opt_out_speaker(DomainId=d["DomainId"], SpeakerId="caller-no")
    manifest = put_manifest(jobs_server, [
        request("r1", "caller-no", put_audio(jobs_server, "ev0005",
                                             enroll_files("ev0005")))])

    job = wait_for_end(client, d["DomainId"],
                       start(client, d["DomainId"], manifest)["JobId"])

    assert job["JobStatus"] == "COMPLETED_WITH_ERRORS"
    assert output_of(jobs_server, job)["Errors"][0]["ErrorCode"] == 409


@pytest.mark.parametrize("content, code", [
    (None, 404),
    ("{not json", 400),
    (json.dumps({"Version": "2.0", "SpeakerEnrollmentRequests": []}), 400),
])
def test_a_bad_manifest_fails_the_whole_job(jobs_server, content, code):
    client = jobs_server.client()
    d = create_domain(client)
    uri = "s3://calls/missing.json"
    if content is not None:
        with open(os.path.join(bucket(jobs_server), "bad.json"), "w") as f:
            f.write(content)
        uri = "s3://calls/bad.json"

    job = wait_for_end(client, d["DomainId"],
                       start(client, d["DomainId"], uri)["JobId"])

    assert job["JobStatus"] == "FAILED"
    assert job["FailureDetails"]["StatusCode"] == code
    assert job["FailureDetails"]["Message"]
    assert "EndedAt" in job


def test_a_missing_output_bucket_fails_before_any_speaker_is_enrolled(
        jobs_server):
    client = jobs_server.client()
    d = create_domain(client)
    uris = put_audio(jobs_server, "ev0001", enroll_files("ev0001"))
    manifest = put_manifest(jobs_server, [request("r1", "caller-1", uris)])

    job = client.start_speaker_enrollment_job(
        DomainId=d["DomainId"], DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": manifest},
        OutputDataConfig={"S3Uri": "s3://no-such-bucket/out/"})["Job"]
    job = wait_for_end(client, d["DomainId"], job["JobId"])

    assert job["JobStatus"] == "FAILED"
    assert job["FailureDetails"] == {
        "StatusCode": 404,
        "Message": "OutputDataConfig.S3Uri s3://no-such-bucket/out/ cannot "
                   "be used: no such bucket 'no-such-bucket'"}
    assert client.list_speakers(DomainId=d["DomainId"])["SpeakerSummaries"] \
        == []


def test_active_job_quota_and_client_token(server_factory):
    server = server_factory("--workers", "0", "--max-active-jobs", "1")
    client = server.client()
    d = create_domain(client)
    manifest = put_manifest(server, [])

    first = start(client, d["DomainId"], manifest, ClientToken="t-1")
    again = start(client, d["DomainId"], manifest, ClientToken="t-1")
    assert again["JobId"] == first["JobId"]
    assert again["JobStatus"] == "SUBMITTED"

    expect_error("ServiceQuotaExceededException",
                 client.start_speaker_enrollment_job, DomainId=d["DomainId"],
                 DataAccessRoleArn=ROLE,
                 InputDataConfig={"S3Uri": manifest},
                 OutputDataConfig={"S3Uri": "s3://calls/output"})
    expect_error("ConflictException", start, client, d["DomainId"],
                 manifest, ClientToken="t-1", JobName="changed")


def test_sigkill_mid_job_then_restart_finishes_without_duplicates(
        server_factory):
    server = server_factory("--workers", "1", "--job-lease", "2")
    client = server.client()
    d = create_domain(client)
    files = {s: put_audio(server, s, enroll_files(s))
             for s in ("ev0006", "ev0007", "ev0008", "ev0009")}
    n = 160
    manifest = put_manifest(server, [
        request("r%03d" % i, "caller-%03d" % i,
                files["ev%04d" % (6 + i % 4)]) for i in range(n)])
    job = start(client, d["DomainId"], manifest)

    # Kill the server as soon as the job is under way but not done.
    deadline = time.time() + 60
    while time.time() < deadline:
        now = client.describe_speaker_enrollment_job(
            DomainId=d["DomainId"], JobId=job["JobId"])["Job"]
        if now["JobProgress"]["PercentComplete"] >= 5:
            break
        time.sleep(0.02)
    assert now["JobStatus"] == "IN_PROGRESS", now
    assert now["JobProgress"]["PercentComplete"] < 100
    server.stop(sig=signal.SIGKILL)

    server.restart()
    client = server.client()
    done = wait_for_end(client, d["DomainId"], job["JobId"])

    assert done["JobStatus"] == "COMPLETED"
    out = output_of(server, done)
    assert out["Errors"] == []
    ids = sorted(s["RequestId"] for s in out["SuccessfulEnrollments"])
    assert ids == ["r%03d" % i for i in range(n)]
    assert {s["EnrollmentStatus"] for s in out["SuccessfulEnrollments"]} \
        == {"NEW_ENROLLMENT"}
    speakers = [s for p in client.get_paginator("list_speakers").paginate(
        DomainId=d["DomainId"]) for s in p["SpeakerSummaries"]]
    assert len(speakers) == n
    assert len({s["CustomerSpeakerId"] for s in speakers}) == n


def test_two_servers_on_one_database_run_each_job_once(server_factory):
    first = server_factory("--workers", "1", "--max-active-jobs", "20")
    second = server_factory("--workers", "1", "--max-active-jobs", "20",
                            data_dir=first.data_dir)
    client = first.client()
    d = create_domain(client)
    files = {s: put_audio(first, s, enroll_files(s))
             for s in ("ev0013", "ev0014")}
    jobs = []
    for j in range(8):
        manifest = put_manifest(first, [
            request("r%d" % i, "caller-%d-%d" % (j, i), files[s])
            for i, s in enumerate(sorted(files))], "m%d.json" % j)
        # Half the jobs go in through each server; either may run any.
        via = (first if j % 2 else second).client()
        jobs.append(start(via, d["DomainId"], manifest)["JobId"])

    done = [wait_for_end(client, d["DomainId"], job) for job in jobs]

    assert {j["JobStatus"] for j in done} == {"COMPLETED"}
    claims = {}
    for s in (first, second):
        with open(s.log_path) as f:
            for line in f:
                if "runner: job claimed by" in line:
                    job = line.split("job=")[1].split()[0]
                    claims.setdefault(job, []).append(s.log_path)
    assert sorted(claims) == sorted(jobs)
    assert all(len(by) == 1 for by in claims.values()), claims
    for j, job in enumerate(done):
        out = output_of(first, job, "m%d.json" % j)
        assert [s["CustomerSpeakerId"] for s in
                out["SuccessfulEnrollments"]] == \
            ["caller-%d-0" % j, "caller-%d-1" % j]
    speakers = [s for p in client.get_paginator("list_speakers").paginate(
        DomainId=d["DomainId"]) for s in p["SpeakerSummaries"]]
    assert len(speakers) == 16
