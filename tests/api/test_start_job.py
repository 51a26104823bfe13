# SPDX-License-Identifier: Apache-2.0
"""StartSpeakerEnrollmentJob's contract without audio: what it checks
before a job exists, what it stores, and how the jobs it made are listed.

The servers here run with --workers 0 where a job must stay SUBMITTED,
so nothing depends on how fast a runner is; test_enrollment.py runs real
jobs on real audio."""

import os
import time

import pytest

from harness import (ALPHA, BRAVO, create_domain, expect_error,
                     write_credentials)

ROLE = "arn:aws:iam::000000000000:role/voiceid"
TERMINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}


def args(domain_id, **extra):
    a = {"DomainId": domain_id, "DataAccessRoleArn": ROLE,
         "InputDataConfig": {"S3Uri": "s3://calls/manifest.json"},
         "OutputDataConfig": {"S3Uri": "s3://calls/output"}}
    a.update(extra)
    return a


@pytest.fixture
def idle(server_factory):
    """A server that accepts jobs and never runs them."""
    return server_factory("--workers", "0", "--max-active-jobs", "1000")


def test_a_new_job_is_submitted_with_its_settings_and_defaults(idle):
    client = idle.client()
    d = create_domain(client)
    before = time.time()

    job = client.start_speaker_enrollment_job(**args(
        d["DomainId"], JobName="batch-1",
        OutputDataConfig={"S3Uri": "s3://calls/output",
                          "KmsKeyId": "out-key"}))["Job"]

    assert len(job["JobId"]) == 22 and job["JobId"].isalnum()
    assert job["JobStatus"] == "SUBMITTED"
    assert job["JobName"] == "batch-1"
    assert job["DomainId"] == d["DomainId"]
    assert job["DataAccessRoleArn"] == ROLE
    assert job["InputDataConfig"] == {"S3Uri": "s3://calls/manifest.json"}
    assert job["OutputDataConfig"] == {"S3Uri": "s3://calls/output",
                                       "KmsKeyId": "out-key"}
    assert job["EnrollmentConfig"] == {
        "ExistingEnrollmentAction": "SKIP",
        "FraudDetectionConfig": {
            "FraudDetectionAction": "FAIL",
            "WatchlistIds": [d["WatchlistDetails"]["DefaultWatchlistId"]]}}
    assert before - 1 <= job["CreatedAt"].timestamp() <= time.time() + 1
    assert "EndedAt" not in job and "FailureDetails" not in job

    again = client.describe_speaker_enrollment_job(
        DomainId=d["DomainId"], JobId=job["JobId"])["Job"]
    assert again == job


def test_given_settings_are_kept_as_given(idle):
    client = idle.client()
    d = create_domain(client)
    config = {"ExistingEnrollmentAction": "OVERWRITE",
              "FraudDetectionConfig": {
                  "FraudDetectionAction": "IGNORE", "RiskThreshold": 80,
                  "WatchlistIds": [
                      d["WatchlistDetails"]["DefaultWatchlistId"]]}}

    job = client.start_speaker_enrollment_job(
        **args(d["DomainId"], EnrollmentConfig=config))["Job"]

    assert job["EnrollmentConfig"] == config


def test_a_submitted_job_is_listed_and_survives_restart(idle):
    client = idle.client()
    d = create_domain(client)
    ids = [client.start_speaker_enrollment_job(**args(
        d["DomainId"], JobName="j%d" % i))["Job"]["JobId"]
        for i in range(3)]

    idle.restart()
    client = idle.client()
    listed = client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"], JobStatus="SUBMITTED")["JobSummaries"]

    assert [j["JobId"] for j in listed] == ids[::-1]
    assert [j["JobName"] for j in listed] == ["j2", "j1", "j0"]
    assert {j["JobStatus"] for j in listed} == {"SUBMITTED"}
    assert client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"], JobStatus="COMPLETED")["JobSummaries"] == []


@pytest.mark.parametrize("change, member", [
    ({"DataAccessRoleArn": None}, "DataAccessRoleArn"),
    ({"DataAccessRoleArn": "arn:aws:iam::12:role/x"}, "DataAccessRoleArn"),
    ({"InputDataConfig": {}}, "InputDataConfig.S3Uri"),
    ({"InputDataConfig": {"S3Uri": "https://calls/m.json"}},
     "InputDataConfig.S3Uri"),
    ({"OutputDataConfig": None}, "OutputDataConfig"),
    ({"OutputDataConfig": {"S3Uri": "s3://Calls/out"}},
     "OutputDataConfig.S3Uri"),
    ({"OutputDataConfig": {"S3Uri": "s3://calls/out", "KmsKeyId": ""}},
     "OutputDataConfig.KmsKeyId"),
    ({"JobName": "-starts-with-a-dash"}, "JobName"),
    ({"JobName": "x" * 257}, "JobName"),
    ({"ClientToken": "has space"}, "ClientToken"),
    ({"EnrollmentConfig": {"ExistingEnrollmentAction": "REPLACE"}},
     "EnrollmentConfig.ExistingEnrollmentAction"),
    ({"EnrollmentConfig": {"FraudDetectionConfig": {"RiskThreshold": 101}}},
     "EnrollmentConfig.FraudDetectionConfig.RiskThreshold"),
    ({"EnrollmentConfig": {"FraudDetectionConfig": {"WatchlistIds": []}}},
     "EnrollmentConfig.FraudDetectionConfig.WatchlistIds"),
    ({"DomainId": "short"}, "DomainId"),
])
def test_invalid_input_is_refused_naming_the_member(idle, change, member):
    raw = idle.client(validate=False)
    d = create_domain(idle.client())
    a = args(d["DomainId"])
    for k, v in change.items():
        if v is None:
            del a[k]
        else:
            a[k] = v

    err = expect_error("ValidationException",
                       raw.start_speaker_enrollment_job, **a)

    assert member in err["Error"]["Message"]
    assert idle.client().list_speaker_enrollment_jobs(
        DomainId=d["DomainId"])["JobSummaries"] == []


def test_unknown_or_deleted_domain_and_unknown_watchlist_are_not_found(idle):
    client = idle.client()
    err = expect_error("ResourceNotFoundException",
                       client.start_speaker_enrollment_job,
                       **args("Z" * 22))
    assert err["ResourceType"] == "DOMAIN"

    d = create_domain(client)
    err = expect_error("ResourceNotFoundException",
                       client.start_speaker_enrollment_job,
                       **args(d["DomainId"], EnrollmentConfig={
                           "FraudDetectionConfig": {
                               "WatchlistIds": ["W" * 22]}}))
    assert err["ResourceType"] == "WATCHLIST"

    client.delete_domain(DomainId=d["DomainId"])
    err = expect_error("ResourceNotFoundException",
                       client.start_speaker_enrollment_job,
                       **args(d["DomainId"]))
    assert err["ResourceType"] == "DOMAIN"


def test_another_account_cannot_start_or_see_jobs(server_factory, tmp_path):
    creds = write_credentials(str(tmp_path))
    server = server_factory("--credentials", creds, "--workers", "0")
    alpha = server.client(key=ALPHA[0], secret=ALPHA[1])
    bravo = server.client(key=BRAVO[0], secret=BRAVO[1])
    d = create_domain(alpha)
    job = alpha.start_speaker_enrollment_job(**args(d["DomainId"]))["Job"]

    expect_error("ResourceNotFoundException",
                 bravo.start_speaker_enrollment_job, **args(d["DomainId"]))
    expect_error("ResourceNotFoundException",
                 bravo.describe_speaker_enrollment_job,
                 DomainId=d["DomainId"], JobId=job["JobId"])
    assert len(alpha.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"])["JobSummaries"]) == 1


def test_active_jobs_are_counted_per_domain(server_factory):
    server = server_factory("--workers", "0", "--max-active-jobs", "2")
    client = server.client()
    d = create_domain(client)
    other = create_domain(client)

    for _ in range(2):
        client.start_speaker_enrollment_job(**args(d["DomainId"]))
    err = expect_error("ServiceQuotaExceededException",
                       client.start_speaker_enrollment_job,
                       **args(d["DomainId"]))
    assert "--max-active-jobs" in err["Error"]["Message"]

    client.start_speaker_enrollment_job(**args(other["DomainId"]))


def test_a_job_that_cannot_run_fails_and_frees_its_place(server_factory):
    # One active job at a time: the second may start only once the first
    # (whose manifest does not exist) has ended.
    server = server_factory("--workers", "1", "--max-active-jobs", "1")
    client = server.client()
    d = create_domain(client)
    first = client.start_speaker_enrollment_job(**args(d["DomainId"]))

    deadline = time.time() + 30
    while True:
        job = client.describe_speaker_enrollment_job(
            DomainId=d["DomainId"], JobId=first["Job"]["JobId"])["Job"]
        if job["JobStatus"] in TERMINAL or time.time() > deadline:
            break
        time.sleep(0.1)

    assert job["JobStatus"] == "FAILED"
    assert job["FailureDetails"] == {
        "StatusCode": 404,
        "Message": "manifest s3://calls/manifest.json not found"}
    assert job["EndedAt"] >= job["CreatedAt"]
    client.start_speaker_enrollment_job(**args(d["DomainId"]))
    failed = client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"], JobStatus="FAILED")["JobSummaries"]
    # The second job may have failed already too; the first is the oldest.
    assert failed[-1]["JobId"] == job["JobId"]
    assert failed[-1]["FailureDetails"]["StatusCode"] == 404


def test_an_expired_job_token_is_a_validation_error(server_factory):
    server = server_factory("--workers", "0", "--max-active-jobs", "10",
                            "--page-token-ttl", "1")
    client = server.client()
    d = create_domain(client)
    for _ in range(3):
        client.start_speaker_enrollment_job(**args(d["DomainId"]))
    token = client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"], MaxResults=1)["NextToken"]

    assert len(client.list_speaker_enrollment_jobs(
        DomainId=d["DomainId"], MaxResults=1,
        NextToken=token)["JobSummaries"]) == 1
    time.sleep(2.2)
    err = expect_error("ValidationException",
                       client.list_speaker_enrollment_jobs,
                       DomainId=d["DomainId"], NextToken=token)
    assert "expired" in err["Error"]["Message"]


def test_a_job_token_from_another_operation_or_made_up_is_refused(idle):
    client = idle.client()
    d = create_domain(client)
    for _ in range(2):
        create_domain(client)
        client.start_speaker_enrollment_job(**args(d["DomainId"]))
    domains_token = client.list_domains(MaxResults=1)["NextToken"]

    for bad in (domains_token, "x", "A" * 8192, domains_token[:-4]):
        expect_error("ValidationException",
                     client.list_speaker_enrollment_jobs,
                     DomainId=d["DomainId"], NextToken=bad)


def test_a_manifest_over_the_per_job_limit_fails_with_402(server_factory):
    server = server_factory("--workers", "1", "--max-job-requests", "1")
    client = server.client()
    d = create_domain(client)
    folder = os.path.join(server.data_dir, "objects", "calls")
    os.makedirs(folder)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        f.write('{"Version": "1.0", "SpeakerEnrollmentRequests": ['
                '{"RequestId": "a", "SpeakerId": "s1", "AudioSpecifications":'
                ' [{"S3Uri": "s3://calls/a.wav", "ChannelId": 0}]},'
                '{"RequestId": "b", "SpeakerId": "s2", "AudioSpecifications":'
                ' [{"S3Uri": "s3://calls/b.wav", "ChannelId": 0}]}]}')
    job_id = client.start_speaker_enrollment_job(
        **args(d["DomainId"]))["Job"]["JobId"]

    deadline = time.time() + 30
    while True:
        job = client.describe_speaker_enrollment_job(
            DomainId=d["DomainId"], JobId=job_id)["Job"]
        if job["JobStatus"] in TERMINAL or time.time() > deadline:
            break
        time.sleep(0.1)

    assert job["JobStatus"] == "FAILED"
    assert job["FailureDetails"]["StatusCode"] == 402
    assert "at most 1" in job["FailureDetails"]["Message"]
