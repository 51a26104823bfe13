# SPDX-License-Identifier: Apache-2.0
"""Everything a client was told survives a restart on the same data
folder: domains, updates, deletions, tags, page tokens and idempotency
tokens; and SIGTERM stops the server cleanly."""

import signal

from harness import (create_domain, expect_error, list_all_domains,
                     unique_name)

MANY = ("--max-domains", "1000")


def snapshot(client):
    """Every domain with its tags, as a client sees them."""
    out = []
    for d in list_all_domains(client):
        tags = client.list_tags_for_resource(ResourceArn=d["Arn"])["Tags"]
        described = client.describe_domain(DomainId=d["DomainId"])["Domain"]
        out.append((described, tags))
    return out


def populate(client):
    """Domains in every state a restart must keep; returns the deleted."""
    a = create_domain(client, Description="plain",
                      Tags=[{"Key": "b", "Value": "2"},
                            {"Key": "a", "Value": "1"}])
    b = create_domain(client, kms="first-key")
    client.update_domain(DomainId=b["DomainId"], Name=unique_name("upd"),
                         Description="updated",
                         ServerSideEncryptionConfiguration={
                             "KmsKeyId": "second-key"})
    gone = create_domain(client)
    client.delete_domain(DomainId=gone["DomainId"])
    client.tag_resource(ResourceArn=a["Arn"],
                        Tags=[{"Key": "c", "Value": "3"}])
    client.untag_resource(ResourceArn=a["Arn"], TagKeys=["b"])
    for _ in range(3):
        create_domain(client)
    return gone


def test_domains_and_tags_survive_restart(server_factory):
    server = server_factory(*MANY)
    client = server.client()
    gone = populate(client)
    before = snapshot(client)

    server.restart()
    client = server.client()

    assert snapshot(client) == before
    assert len(before) == 5
    expect_error("ResourceNotFoundException", client.describe_domain,
                 DomainId=gone["DomainId"])


def test_data_survives_a_crash(server_factory):
    server = server_factory(*MANY)
    client = server.client()
    populate(client)
    before = snapshot(client)

    server.kill()
    server.start()

    assert snapshot(server.client()) == before


def test_page_token_and_paging_continue_after_restart(server_factory):
    server = server_factory(*MANY)
    client = server.client()
    created = [create_domain(client) for _ in range(5)]
    page = client.list_domains(MaxResults=2)

    server.restart()
    client = server.client()
    rest, token = [], page["NextToken"]
    while token:
        p = client.list_domains(MaxResults=2, NextToken=token)
        rest.extend(p["DomainSummaries"])
        token = p.get("NextToken")

    got = page["DomainSummaries"] + rest
    assert [d["DomainId"] for d in got] == [d["DomainId"] for d in created]


def test_client_token_still_recognised_after_restart(server_factory):
    server = server_factory(*MANY)
    args = {"Name": unique_name("idem"), "ClientToken": unique_name("tok"),
            "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}}
    first = server.client().create_domain(**args)["Domain"]

    server.restart()
    client = server.client()
    again = client.create_domain(**args)["Domain"]

    assert again == first
    assert len(list_all_domains(client)) == 1
    expect_error("ConflictException", client.create_domain,
                 **dict(args, Name=unique_name("other")))


def test_quota_counts_domains_from_before_restart(server_factory):
    server = server_factory("--max-domains", "2")
    create_domain(server.client())
    create_domain(server.client())

    server.restart()

    expect_error("ServiceQuotaExceededException", create_domain,
                 server.client())


def test_sigterm_stops_the_server_cleanly(server_factory):
    server = server_factory(*MANY)
    create_domain(server.client())

    status = server.stop(signal.SIGTERM)

    assert status == 0, server.log_tail()


def test_sigint_stops_the_server_cleanly(server_factory):
    server = server_factory(*MANY)

    status = server.stop(signal.SIGINT)

    assert status == 0, server.log_tail()
