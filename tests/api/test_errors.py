# SPDX-License-Identifier: Apache-2.0
"""Errors as boto3 sees them: exception classes, headers, validation
messages, unbuilt operations, throttling and authentication failures."""

import datetime
import re
import time

import pytest
from botocore import xform_name

from harness import (ALPHA, BRAVO, create_domain, expect_error,
                     list_all_domains, signing_clock, unique_name,
                     utc_now_naive)

UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
KMS = {"KmsKeyId": "k"}


def headers_of(err_or_resp):
    return err_or_resp["ResponseMetadata"]["HTTPHeaders"]


# Exception classes and headers ----------------------------------------------


def test_modelled_errors_raise_their_boto3_exception_classes(
        client, raw_client):
    d = create_domain(client)
    token = unique_name("tok")
    client.create_domain(Name=unique_name(), ClientToken=token,
                         ServerSideEncryptionConfiguration=KMS)

    with pytest.raises(client.exceptions.ValidationException):
        raw_client.describe_domain(DomainId="abc")
    with pytest.raises(client.exceptions.ResourceNotFoundException) as rnf:
        client.describe_domain(DomainId="N" * 22)
    with pytest.raises(client.exceptions.ConflictException):
        client.create_domain(Name=unique_name(), ClientToken=token,
                             ServerSideEncryptionConfiguration=KMS)

    assert rnf.value.response["ResourceType"] == "DOMAIN"
    assert rnf.value.response["Error"]["Message"]
    assert client.describe_domain(DomainId=d["DomainId"])["Domain"] == d


def test_quota_error_raises_its_exception_class(server_factory):
    client = server_factory("--max-domains", "1").client()
    create_domain(client)

    with pytest.raises(
            client.exceptions.ServiceQuotaExceededException) as e:
        create_domain(client)

    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_error_responses_carry_error_type_and_request_id(client):
    err = expect_error("ResourceNotFoundException", client.describe_domain,
                       DomainId="M" * 22)

    h = headers_of(err)
    assert h["x-amzn-errortype"] == "ResourceNotFoundException"
    assert UUID.match(h["x-amzn-requestid"]), h
    assert err["ResponseMetadata"]["RequestId"] == h["x-amzn-requestid"]


def test_successful_responses_carry_distinct_request_ids(client):
    a = client.list_domains(MaxResults=1)["ResponseMetadata"]["RequestId"]
    b = client.list_domains(MaxResults=1)["ResponseMetadata"]["RequestId"]

    assert UUID.match(a) and UUID.match(b)
    assert a != b


# Validation messages -------------------------------------------------------


def test_validation_message_follows_aws_format(raw_client):
    bad = "abcdefghijklmnopqrstu!"

    err = expect_error("ValidationException", raw_client.describe_domain,
                       DomainId=bad)

    assert err["Error"]["Message"] == (
        "1 validation error detected: Value '%s' at 'DomainId' failed to "
        "satisfy constraint: Member must satisfy regular expression "
        "pattern: ^[a-zA-Z0-9]{22}$" % bad)
    assert headers_of(err)["x-amzn-errortype"] == "ValidationException"


def test_every_violated_constraint_is_counted(raw_client):
    err = expect_error("ValidationException", raw_client.describe_domain,
                       DomainId="abc")

    msg = err["Error"]["Message"]
    assert re.match(r"^\d+ validation errors? detected: Value 'abc' at "
                    r"'DomainId' failed to satisfy constraint: Member must",
                    msg), msg


@pytest.mark.parametrize("args, member", [
    ({"Name": "n" * 257, "ServerSideEncryptionConfiguration": KMS}, "Name"),
    ({"Name": "", "ServerSideEncryptionConfiguration": KMS}, "Name"),
    ({"Name": "-starts-with-dash",
      "ServerSideEncryptionConfiguration": KMS}, "Name"),
    ({"Name": "ok", "Description": "d" * 1025,
      "ServerSideEncryptionConfiguration": KMS}, "Description"),
    ({"Name": "ok", "Description": "no <html> here",
      "ServerSideEncryptionConfiguration": KMS}, "Description"),
    ({"Name": "ok", "ServerSideEncryptionConfiguration": {"KmsKeyId": ""}},
     "ServerSideEncryptionConfiguration.KmsKeyId"),
    ({"Name": "ok", "ServerSideEncryptionConfiguration": {}},
     "ServerSideEncryptionConfiguration.KmsKeyId"),
    ({"ServerSideEncryptionConfiguration": KMS}, "Name"),
    ({"Name": "ok"}, "ServerSideEncryptionConfiguration"),
    ({"Name": "ok", "ServerSideEncryptionConfiguration": KMS,
      "ClientToken": "has spaces"}, "ClientToken"),
    ({"Name": "ok", "ServerSideEncryptionConfiguration": KMS,
      "Tags": [{"Key": "k"}]}, "Tags.0.Value"),
], ids=["name-too-long", "name-empty", "name-pattern", "description-long",
        "description-pattern", "kms-empty", "kms-missing", "name-missing",
        "sse-missing", "client-token-pattern", "tag-value-missing"])
def test_create_domain_validation_names_the_member(raw_client, args, member):
    before = len(list_all_domains(raw_client))

    err = expect_error("ValidationException", raw_client.create_domain,
                       **args)

    msg = err["Error"]["Message"]
    assert "'%s'" % member in msg, msg
    assert "validation error" in msg, msg
    assert len(list_all_domains(raw_client)) == before


@pytest.mark.parametrize("value", [0, 11, -1, 1000])
def test_list_domains_max_results_out_of_range(raw_client, value):
    err = expect_error("ValidationException", raw_client.list_domains,
                       MaxResults=value)

    assert "'MaxResults'" in err["Error"]["Message"]


def test_domain_id_of_wrong_length_names_domain_id(raw_client):
    for bad in ["A" * 21, "A" * 23, "A" * 21 + "!"]:
        err = expect_error("ValidationException",
                           raw_client.delete_domain, DomainId=bad)
        assert "'DomainId'" in err["Error"]["Message"], err


def test_unknown_member_is_rejected_by_name(server):
    r = server.raw("ListDomains", {"MaxResults": 2, "Bogus": 1})

    assert r.status == 400
    assert r.error_type == "ValidationException"
    assert "Bogus" in r.json["Message"]
    assert r.headers["x-amzn-errortype"] == "ValidationException"


def test_unknown_nested_member_is_rejected_by_name(server):
    r = server.raw("CreateDomain", {
        "Name": unique_name(),
        "ServerSideEncryptionConfiguration": {"KmsKeyId": "k",
                                              "Extra": "x"}})

    assert r.status == 400
    assert r.error_type == "ValidationException"
    assert "Extra" in r.json["Message"]


# Operations that are not built yet ------------------------------------------

NOT_BUILT = [
    "AssociateFraudster", "CreateWatchlist", "DeleteFraudster",
    "DeleteWatchlist", "DescribeFraudster",
    "DescribeFraudsterRegistrationJob",
    "DescribeWatchlist",
    "DisassociateFraudster", "EvaluateSession",
    "ListFraudsterRegistrationJobs", "ListFraudsters",
    "ListWatchlists", "StartFraudsterRegistrationJob",
    "UpdateWatchlist"]


def valid_input(op, domain):
    """Input for `op` that satisfies every constraint of the model."""
    dom = domain["DomainId"]
    watchlist = domain["WatchlistDetails"]["DefaultWatchlistId"]
    fraudster = "id#" + "f" * 22
    job = "J" * 22
    job_input = {
        "DomainId": dom, "JobName": "batch-1",
        "DataAccessRoleArn": "arn:aws:iam::000000000000:role/voice",
        "InputDataConfig": {"S3Uri": "s3://bucket/in.json"},
        "OutputDataConfig": {"S3Uri": "s3://bucket/out/"}}
    return {
        "AssociateFraudster": {"DomainId": dom, "FraudsterId": fraudster,
                               "WatchlistId": watchlist},
        "CreateWatchlist": {"DomainId": dom, "Name": "extra"},
        "DeleteFraudster": {"DomainId": dom, "FraudsterId": fraudster},
        "DeleteSpeaker": {"DomainId": dom, "SpeakerId": "caller-1"},
        "DeleteWatchlist": {"DomainId": dom, "WatchlistId": watchlist},
        "DescribeFraudster": {"DomainId": dom, "FraudsterId": fraudster},
        "DescribeFraudsterRegistrationJob": {"DomainId": dom, "JobId": job},
        "DescribeSpeaker": {"DomainId": dom, "SpeakerId": "caller-1"},
        "DescribeSpeakerEnrollmentJob": {"DomainId": dom, "JobId": job},
        "DescribeWatchlist": {"DomainId": dom, "WatchlistId": watchlist},
        "DisassociateFraudster": {"DomainId": dom, "FraudsterId": fraudster,
                                  "WatchlistId": watchlist},
        "EvaluateSession": {"DomainId": dom, "SessionNameOrId": "call-1"},
        "ListFraudsterRegistrationJobs": {"DomainId": dom},
        "ListFraudsters": {"DomainId": dom},
        "ListSpeakerEnrollmentJobs": {"DomainId": dom},
        "ListSpeakers": {"DomainId": dom},
        "ListWatchlists": {"DomainId": dom},
        "OptOutSpeaker": {"DomainId": dom, "SpeakerId": "caller-1"},
        "StartFraudsterRegistrationJob": job_input,
        "StartSpeakerEnrollmentJob": job_input,
        "UpdateWatchlist": {"DomainId": dom, "WatchlistId": watchlist,
                            "Name": "renamed"},
    }[op]


def test_model_has_29_operations_and_15_are_built(client):
    ops = set(client.meta.service_model.operation_names)

    assert len(ops) == 29
    assert ops - set(NOT_BUILT) == {
        "CreateDomain", "DescribeDomain", "ListDomains", "UpdateDomain",
        "DeleteDomain", "TagResource", "UntagResource",
        "ListTagsForResource", "ListSpeakerEnrollmentJobs",
        "DescribeSpeakerEnrollmentJob", "StartSpeakerEnrollmentJob",
        "DescribeSpeaker", "ListSpeakers", "DeleteSpeaker",
        "OptOutSpeaker"}


@pytest.mark.parametrize("op", NOT_BUILT)
def test_unbuilt_operation_is_501_naming_it(client, op):
    d = create_domain(client)
    call = getattr(client, xform_name(op))

    err = expect_error("NotImplementedException", call, status=501,
                       **valid_input(op, d))

    assert err["Error"]["Message"] == (
        "%s is not available in this version of Timbre" % op)
    assert headers_of(err)["x-amzn-errortype"] == "NotImplementedException"


# Throttling ----------------------------------------------------------------


def test_burst_over_rate_limit_is_throttled(server_factory):
    client = server_factory("--rate-limit", "2", "--rate-burst", "2").client()
    outcomes = []

    for _ in range(10):
        try:
            client.list_domains()
            outcomes.append("ok")
        except client.exceptions.ThrottlingException as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert headers_of(e.response)["x-amzn-errortype"] == (
                "ThrottlingException")
            outcomes.append("throttled")

    assert outcomes[:2] == ["ok", "ok"], outcomes
    assert outcomes.count("throttled") >= 5, outcomes

    time.sleep(1.2)
    client.list_domains()


def test_rate_limit_is_per_account(server_factory, credentials_file):
    server = server_factory("--rate-limit", "1", "--rate-burst", "1",
                            "--credentials", credentials_file)
    alpha = server.client(ALPHA[0], ALPHA[1])
    bravo = server.client(BRAVO[0], BRAVO[1])
    alpha.list_domains()

    expect_error("ThrottlingException", alpha.list_domains)
    bravo.list_domains()


# Authentication ------------------------------------------------------------


def test_unknown_access_key_is_unrecognized_client(server):
    err = expect_error("UnrecognizedClientException",
                       server.client("AKIANOBODY0000000000", "x").list_domains,
                       status=403)

    assert headers_of(err)["x-amzn-errortype"] == (
        "UnrecognizedClientException")


def test_wrong_secret_is_invalid_signature(server):
    err = expect_error("InvalidSignatureException",
                       server.client("test", "not-the-secret").list_domains,
                       status=403)

    assert err["Error"]["Message"]


def test_unsigned_request_is_missing_authentication_token(server):
    unsigned = server.unsigned_client()

    expect_error("MissingAuthenticationTokenException",
                 unsigned.list_domains, status=403)


def test_failed_authentication_touches_nothing(server, client):
    name = unique_name("nope")
    bad = server.client("test", "wrong")
    unsigned = server.unsigned_client()

    for c, code in [(bad, "InvalidSignatureException"),
                    (unsigned, "MissingAuthenticationTokenException")]:
        expect_error(code, c.create_domain, Name=name, status=403,
                     ServerSideEncryptionConfiguration=KMS)

    assert name not in [d["Name"] for d in list_all_domains(client)]


@pytest.mark.parametrize("minutes, text", [
    (-20, "Signature expired"), (20, "Signature not yet current")])
def test_signature_far_from_now_is_refused(client, minutes, text):
    when = utc_now_naive() + datetime.timedelta(minutes=minutes)

    with signing_clock(when):
        err = expect_error("InvalidSignatureException", client.list_domains,
                           status=403)

    assert text in err["Error"]["Message"], err


def test_signature_ten_minutes_old_is_accepted(client):
    when = utc_now_naive() - datetime.timedelta(minutes=10)

    with signing_clock(when):
        page = client.list_domains(MaxResults=1)

    assert page["ResponseMetadata"]["HTTPStatusCode"] == 200



def test_logs_never_contain_secrets(server_factory, credentials_file):
    server = server_factory("--credentials", credentials_file,
                            "--log-level", "debug")
    alpha = server.client(ALPHA[0], ALPHA[1])
    create_domain(alpha)
    alpha.list_domains()
    expect_error("InvalidSignatureException",
                 server.client(ALPHA[0], "guessed-secret").list_domains,
                 status=403)
    expect_error("UnrecognizedClientException",
                 server.client("AKIAUNKNOWN000000000", BRAVO[1]).list_domains,
                 status=403)

    server.stop()
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()

    assert log, "the server logged nothing"
    for secret in (ALPHA[1], BRAVO[1], "guessed-secret"):
        assert secret not in log
