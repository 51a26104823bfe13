# SPDX-License-Identifier: Apache-2.0
"""ListSpeakerEnrollmentJobs and DescribeSpeakerEnrollmentJob.

The long job histories these tests page through, with every terminal
status, are written by build/bench/seed-jobs, which adds jobs through
Timbre's own storage code into the running server's database (SQLite in
WAL mode takes a second writer process safely): running thousands of real
jobs would take minutes. test_start_job.py and test_enrollment.py list
jobs that StartSpeakerEnrollmentJob made."""

import json
import os
import subprocess

from harness import (ALPHA, BRAVO, REPO, create_domain, expect_error,
                     write_credentials)

SEED = os.path.join(REPO, "build", "bench", "seed-jobs")
START = 1_800_000_000


def seed(server, domain_id, count, status=None, start=START):
    argv = [SEED, "--data-dir", server.data_dir, "--domain", domain_id,
            "--count", str(count), "--start-time", str(start)]
    if status:
        argv += ["--status", status]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    assert json.loads(out.stdout)["jobs"] == count


def names(page):
    return [j["JobName"] for j in page["JobSummaries"]]


def list_all(client, **kw):
    pages = client.get_paginator("list_speaker_enrollment_jobs")
    return [j for p in pages.paginate(**kw) for j in p["JobSummaries"]]


def test_a_new_domain_has_no_jobs(client):
    d = create_domain(client)

    page = client.list_speaker_enrollment_jobs(DomainId=d["DomainId"])

    assert page["JobSummaries"] == []
    assert "NextToken" not in page


def test_jobs_come_newest_first_with_every_summary_member(server, client):
    d = create_domain(client)
    seed(server, d["DomainId"], 10)

    page = client.list_speaker_enrollment_jobs(DomainId=d["DomainId"])
    jobs = page["JobSummaries"]

    assert names(page) == ["seed-%d" % i for i in range(9, -1, -1)]
    newest = jobs[0]
    assert set(newest) == {"CreatedAt", "DomainId", "EndedAt", "JobId",
                           "JobName", "JobProgress", "JobStatus",
                           "FailureDetails"}
    assert newest["JobStatus"] == "FAILED"
    assert newest["FailureDetails"] == {
        "StatusCode": 400, "Message": "the manifest is not valid JSON"}
    assert newest["CreatedAt"].timestamp() == START + 9
    assert newest["EndedAt"].timestamp() == START + 9 + 60
    completed = jobs[9]
    assert completed["JobStatus"] == "COMPLETED"
    assert completed["JobProgress"] == {"PercentComplete": 100}
    assert "FailureDetails" not in completed
    assert len(completed["JobId"]) == 22
    assert completed["DomainId"] == d["DomainId"]


def test_paging_covers_every_job_once(server, client):
    d = create_domain(client)
    seed(server, d["DomainId"], 250)

    jobs = list_all(client, DomainId=d["DomainId"],
                    PaginationConfig={"PageSize": 7})

    assert [j["JobName"] for j in jobs] == [
        "seed-%d" % i for i in range(249, -1, -1)]
    assert len({j["JobId"] for j in jobs}) == 250


def test_default_page_is_100_and_maximum_is_100(server, client, raw_client):
    d = create_domain(client)
    seed(server, d["DomainId"], 150)

    page = client.list_speaker_enrollment_jobs(DomainId=d["DomainId"])
    assert len(page["JobSummaries"]) == 100
    assert page["NextToken"]

    for bad in (0, 101):
        err = expect_error("ValidationException",
                           raw_client.list_speaker_enrollment_jobs,
                           DomainId=d["DomainId"], MaxResults=bad)
        assert "MaxResults" in err["Error"]["Message"]


def test_jobs_created_between_pages_are_neither_skipped_nor_repeated(
        server, client):
    d = create_domain(client)
    seed(server, d["DomainId"], 30)
    first = client.list_speaker_enrollment_jobs(DomainId=d["DomainId"],
                                                MaxResults=10)

    seed(server, d["DomainId"], 5, start=START + 1000)
    rest = list_all(client, DomainId=d["DomainId"],
                    PaginationConfig={"StartingToken": first["NextToken"],
                                      "PageSize": 10})

    seen = names(first) + [j["JobName"] for j in rest]
    assert seen == ["seed-%d" % i for i in range(29, -1, -1)]


def test_status_filter_returns_only_that_status(server, client):
    d = create_domain(client)
    seed(server, d["DomainId"], 40)

    failed = list_all(client, DomainId=d["DomainId"], JobStatus="FAILED")
    partial = list_all(client, DomainId=d["DomainId"],
                       JobStatus="COMPLETED_WITH_ERRORS",
                       PaginationConfig={"PageSize": 3})
    submitted = list_all(client, DomainId=d["DomainId"],
                         JobStatus="SUBMITTED")

    assert [j["JobName"] for j in failed] == [
        "seed-39", "seed-29", "seed-19", "seed-9"]
    assert len(partial) == 8
    assert {j["JobStatus"] for j in partial} == {"COMPLETED_WITH_ERRORS"}
    assert submitted == []


STATUSES = ["SUBMITTED", "IN_PROGRESS", "COMPLETED", "COMPLETED_WITH_ERRORS",
            "FAILED"]


def test_every_status_has_its_filter_and_its_members(server_factory):
    # No workers, so that the seeded SUBMITTED and IN_PROGRESS jobs stay so.
    server = server_factory("--workers", "0")
    client = server.client()
    d = create_domain(client)
    for k, status in enumerate(STATUSES):
        seed(server, d["DomainId"], 2, status=status, start=START + 100 * k)

    everything = list_all(client, DomainId=d["DomainId"])
    assert [j["JobStatus"] for j in everything] == [
        s for s in reversed(STATUSES) for _ in range(2)]

    for status in STATUSES:
        jobs = list_all(client, DomainId=d["DomainId"], JobStatus=status,
                        PaginationConfig={"PageSize": 1})
        assert [j["JobStatus"] for j in jobs] == [status, status]
        for j in jobs:
            ended = status not in ("SUBMITTED", "IN_PROGRESS")
            assert ("EndedAt" in j) == ended, j
            assert ("FailureDetails" in j) == (status == "FAILED"), j
            assert j["JobProgress"]["PercentComplete"] == {
                "SUBMITTED": 0, "IN_PROGRESS": 50,
                "FAILED": 0}.get(status, 100), j


def test_a_token_is_bound_to_its_filter_and_domain(server, client):
    d = create_domain(client)
    other = create_domain(client)
    seed(server, d["DomainId"], 20)
    token = client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"], MaxResults=2)["NextToken"]

    expect_error("ValidationException",
                 client.list_speaker_enrollment_jobs,
                 DomainId=d["DomainId"], JobStatus="FAILED",
                 NextToken=token)
    expect_error("ValidationException",
                 client.list_speaker_enrollment_jobs,
                 DomainId=other["DomainId"], NextToken=token)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    expect_error("ValidationException",
                 client.list_speaker_enrollment_jobs,
                 DomainId=d["DomainId"], NextToken=flipped)


def test_unknown_and_deleted_domains_are_not_found(client):
    err = expect_error("ResourceNotFoundException",
                       client.list_speaker_enrollment_jobs,
                       DomainId="Z" * 22)
    assert err["ResourceType"] == "DOMAIN"

    d = create_domain(client)
    client.delete_domain(DomainId=d["DomainId"])
    err = expect_error("ResourceNotFoundException",
                       client.list_speaker_enrollment_jobs,
                       DomainId=d["DomainId"])
    assert err["ResourceType"] == "DOMAIN"


def test_invalid_status_is_a_validation_error(raw_client, client):
    d = create_domain(client)

    err = expect_error("ValidationException",
                       raw_client.list_speaker_enrollment_jobs,
                       DomainId=d["DomainId"], JobStatus="DONE")

    assert "JobStatus" in err["Error"]["Message"]


def test_describe_returns_the_job_with_its_settings(server, client):
    d = create_domain(client)
    seed(server, d["DomainId"], 3)
    summary = client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"])["JobSummaries"][2]

    job = client.describe_speaker_enrollment_job(
        DomainId=d["DomainId"], JobId=summary["JobId"])["Job"]

    assert job["JobId"] == summary["JobId"]
    assert job["JobName"] == "seed-0"
    assert job["JobStatus"] == "COMPLETED"
    assert job["DataAccessRoleArn"] == \
        "arn:aws:iam::000000000000:role/voiceid"
    assert job["EnrollmentConfig"]["ExistingEnrollmentAction"] == "SKIP"
    assert job["InputDataConfig"] == {"S3Uri": "s3://calls/manifest.json"}
    assert job["OutputDataConfig"] == {"S3Uri": "s3://calls/output"}


def test_describe_unknown_job_or_domain_is_not_found(client):
    d = create_domain(client)

    err = expect_error("ResourceNotFoundException",
                       client.describe_speaker_enrollment_job,
                       DomainId=d["DomainId"], JobId="J" * 22)
    assert err["ResourceType"] == "BATCH_JOB"
    err = expect_error("ResourceNotFoundException",
                       client.describe_speaker_enrollment_job,
                       DomainId="Z" * 22, JobId="J" * 22)
    assert err["ResourceType"] == "DOMAIN"


def test_another_accounts_jobs_are_invisible(server_factory, tmp_path):
    creds = write_credentials(str(tmp_path))
    server = server_factory("--credentials", creds)
    alpha = server.client(key=ALPHA[0], secret=ALPHA[1])
    bravo = server.client(key=BRAVO[0], secret=BRAVO[1])
    d = create_domain(alpha)
    seed_argv = [SEED, "--data-dir", server.data_dir, "--account", ALPHA[2],
                 "--domain", d["DomainId"], "--count", "3"]
    subprocess.run(seed_argv, check=True, capture_output=True)

    assert len(alpha.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"])["JobSummaries"]) == 3
    expect_error("ResourceNotFoundException",
                 bravo.list_speaker_enrollment_jobs, DomainId=d["DomainId"])
