# SPDX-License-Identifier: Apache-2.0
"""ListDomains page tokens: opaque, tamper-evident, bound to the operation
and the account, expiring, and valid across a restart."""

import time

import pytest
from botocore.exceptions import ClientError

from harness import ALPHA, BRAVO, create_domain, expect_error

MANY = ("--max-domains", "1000")


def ids(page):
    return [d["DomainId"] for d in page["DomainSummaries"]]


def first_token(client, n_domains=3):
    created = [create_domain(client) for _ in range(n_domains)]
    page = client.list_domains(MaxResults=1)
    assert ids(page) == [created[0]["DomainId"]]
    return page["NextToken"], created


def flip(token, at):
    """The token with the character at index `at` replaced by another."""
    c = token[at]
    other = "A" if c != "A" else "B"
    return token[:at] + other + token[at + 1:]


def test_token_resumes_after_the_last_item(server_factory):
    client = server_factory(*MANY).client()
    token, created = first_token(client)

    page = client.list_domains(MaxResults=1, NextToken=token)

    assert ids(page) == [created[1]["DomainId"]]


def test_token_can_be_used_twice(server_factory):
    client = server_factory(*MANY).client()
    token, created = first_token(client)

    a = client.list_domains(MaxResults=1, NextToken=token)
    b = client.list_domains(MaxResults=1, NextToken=token)

    assert ids(a) == ids(b) == [created[1]["DomainId"]]


def test_token_is_opaque(server_factory):
    client = server_factory(*MANY).client()
    token, created = first_token(client)

    assert created[0]["DomainId"] not in token
    assert created[1]["DomainId"] not in token
    assert token.isascii()
    assert len(token) <= 8192


@pytest.mark.parametrize("where", ["start", "middle", "end-1"])
def test_tampered_token_is_validation_error(server_factory, where):
    client = server_factory(*MANY).client()
    token, _ = first_token(client)
    at = {"start": 0, "middle": len(token) // 2,
          "end-1": len(token) - 2}[where]

    err = expect_error("ValidationException", client.list_domains,
                       MaxResults=1, NextToken=flip(token, at))

    assert err["Error"]["Message"]


@pytest.mark.parametrize("bad", [
    "garbage", "x" * 100, "", "!!!!", "A" * 8192])
def test_made_up_token_is_validation_error(server_factory, bad):
    client = server_factory(*MANY).client()
    first_token(client)
    if bad == "":
        # An empty NextToken means "first page" to some clients; the
        # contract only requires that it does not break the server.
        try:
            page = client.list_domains(MaxResults=1, NextToken=bad)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ValidationException"
        else:
            assert len(page["DomainSummaries"]) == 1
        return

    expect_error("ValidationException", client.list_domains,
                 MaxResults=1, NextToken=bad)


def test_truncated_and_extended_tokens_are_validation_errors(
        server_factory):
    client = server_factory(*MANY).client()
    token, _ = first_token(client)

    for bad in [token[:-1], token[:len(token) // 2], token + "A",
                token + token]:
        expect_error("ValidationException", client.list_domains,
                     MaxResults=1, NextToken=bad)


def test_token_of_another_account_is_validation_error(server_factory,
                                                      credentials_file):
    server = server_factory(*MANY, "--credentials", credentials_file)
    alpha = server.client(ALPHA[0], ALPHA[1])
    bravo = server.client(BRAVO[0], BRAVO[1])
    token, _ = first_token(alpha)
    for _ in range(3):
        create_domain(bravo)

    err = expect_error("ValidationException", bravo.list_domains,
                       MaxResults=1, NextToken=token)

    assert err["Error"]["Message"]


def test_token_of_another_operation_is_validation_error(server_factory):
    server = server_factory(*MANY)
    client = server.client()
    token, created = first_token(client)

    try:
        client.list_speaker_enrollment_jobs(
            DomainId=created[0]["DomainId"], NextToken=token)
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code == "NotImplementedException":
            pytest.skip("no other paginated operation is built yet")
        assert code == "ValidationException", e.response
    else:
        pytest.fail("a ListDomains token was accepted by "
                    "ListSpeakerEnrollmentJobs")


def test_expired_token_is_validation_error(server_factory):
    client = server_factory(*MANY, "--page-token-ttl", "1").client()
    token, created = first_token(client)
    fresh = client.list_domains(MaxResults=1, NextToken=token)
    assert ids(fresh) == [created[1]["DomainId"]]

    time.sleep(2.5)

    err = expect_error("ValidationException", client.list_domains,
                       MaxResults=1, NextToken=token)
    assert "expired" in err["Error"]["Message"].lower()


def test_page_token_ttl_env_var_is_honoured(server_factory):
    client = server_factory(
        *MANY, env={"TIMBRE_PAGE_TOKEN_TTL": "1"}).client()
    token, _ = first_token(client)

    time.sleep(2.5)

    expect_error("ValidationException", client.list_domains,
                 MaxResults=1, NextToken=token)


def test_token_survives_restart(server_factory):
    server = server_factory(*MANY)
    token, created = first_token(server.client())

    server.restart()
    page = server.client().list_domains(MaxResults=1, NextToken=token)

    assert ids(page) == [created[1]["DomainId"]]


def test_token_of_another_data_dir_is_validation_error(server_factory):
    one = server_factory(*MANY)
    two = server_factory(*MANY)
    token, _ = first_token(one.client())
    first_token(two.client())

    expect_error("ValidationException", two.client().list_domains,
                 MaxResults=1, NextToken=token)
