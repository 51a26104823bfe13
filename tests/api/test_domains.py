# SPDX-License-Identifier: Apache-2.0
"""Domains through boto3: create, describe, list, update, delete, quotas,
idempotency and account isolation, as the server contract states them."""

import datetime
import re
import time

import pytest

from harness import (ALPHA, BRAVO, DEFAULT_ACCOUNT, create_domain,
                     expect_error, list_all_domains, strip_meta,
                     unique_name)

ID22 = re.compile(r"^[a-zA-Z0-9]{22}$")
MANY = ("--max-domains", "1000")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def assert_recent(ts, slack_s=60):
    assert isinstance(ts, datetime.datetime), ts
    assert abs((now_utc() - ts).total_seconds()) < slack_s, ts


def ids(summaries):
    return [d["DomainId"] for d in summaries]


# Create and describe -------------------------------------------------------


def test_create_domain_returns_every_field(client):
    name = unique_name("full")
    resp = client.create_domain(
        Name=name, Description="Main contact centre: EU/2024 +test",
        ServerSideEncryptionConfiguration={"KmsKeyId": "alias/voice-key"},
        ClientToken=unique_name("tok"),
        Tags=[{"Key": "team", "Value": "fraud"}])
    d = resp["Domain"]

    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ID22.match(d["DomainId"]), d
    assert d["Arn"] == "arn:aws:voiceid:us-east-1:%s:domain/%s" % (
        DEFAULT_ACCOUNT, d["DomainId"])
    assert d["Name"] == name
    assert d["Description"] == "Main contact centre: EU/2024 +test"
    assert d["DomainStatus"] == "ACTIVE"
    assert d["ServerSideEncryptionConfiguration"] == {
        "KmsKeyId": "alias/voice-key"}
    assert ID22.match(d["WatchlistDetails"]["DefaultWatchlistId"]), d
    assert d["WatchlistDetails"]["DefaultWatchlistId"] != d["DomainId"]
    assert "ServerSideEncryptionUpdateDetails" not in d
    assert_recent(d["CreatedAt"])
    assert_recent(d["UpdatedAt"])
    assert d["UpdatedAt"] >= d["CreatedAt"]


def test_create_domain_without_description_omits_it(client):
    d = create_domain(client)

    assert "Description" not in d
    assert "Description" not in client.describe_domain(
        DomainId=d["DomainId"])["Domain"]


def test_domain_and_watchlist_ids_are_unique(client):
    domains = [create_domain(client) for _ in range(5)]

    all_ids = ids(domains) + [
        d["WatchlistDetails"]["DefaultWatchlistId"] for d in domains]
    assert len(set(all_ids)) == 10


def test_arn_carries_region_of_credential_scope(server):
    client = server.client(region="eu-west-1")

    d = create_domain(client)

    assert d["Arn"] == "arn:aws:voiceid:eu-west-1:%s:domain/%s" % (
        DEFAULT_ACCOUNT, d["DomainId"])


def test_describe_domain_equals_created_domain(client):
    created = create_domain(client, Description="described")

    described = client.describe_domain(DomainId=created["DomainId"])

    assert described["Domain"] == created


def test_describe_unknown_domain_is_resource_not_found(client):
    err = expect_error("ResourceNotFoundException", client.describe_domain,
                       DomainId="A" * 22)

    assert err["ResourceType"] == "DOMAIN"
    assert err["Error"]["Message"]


# List ----------------------------------------------------------------------


def test_list_domains_default_page_is_ten(server_factory):
    client = server_factory(*MANY).client()
    created = [create_domain(client) for _ in range(12)]

    page = client.list_domains()

    assert ids(page["DomainSummaries"]) == ids(created[:10])
    assert page["NextToken"]


@pytest.mark.parametrize("max_results", list(range(1, 11)))
def test_list_domains_pages_in_creation_order(server_factory, max_results):
    client = server_factory(*MANY).client()
    created = [create_domain(client) for _ in range(12)]
    expected_pages = -(-12 // max_results)

    pages, token = [], None
    while True:
        args = {"MaxResults": max_results}
        if token:
            args["NextToken"] = token
        page = client.list_domains(**args)
        pages.append(page["DomainSummaries"])
        token = page.get("NextToken")
        if not token:
            break
        assert len(pages) <= expected_pages, "NextToken on the last page"

    assert len(pages) == expected_pages
    assert all(len(p) == max_results for p in pages[:-1])
    assert ids([d for p in pages for d in p]) == ids(created)


def test_list_domains_summaries_match_describe(server_factory):
    client = server_factory(*MANY).client()
    d = create_domain(client, Description="summary check")

    (summary,) = client.list_domains()["DomainSummaries"]

    assert summary == d


def test_list_domains_with_no_domains_is_empty(server_factory):
    client = server_factory(*MANY).client()

    page = client.list_domains()

    assert page["DomainSummaries"] == []
    assert "NextToken" not in page


def test_paginator_collects_every_domain_once(server_factory):
    client = server_factory(*MANY).client()
    created = [create_domain(client) for _ in range(23)]

    pager = client.get_paginator("list_domains")
    got = [d for page in pager.paginate(PaginationConfig={"PageSize": 4})
           for d in page["DomainSummaries"]]
    got_default = [d for page in pager.paginate()
                   for d in page["DomainSummaries"]]

    assert ids(got) == ids(created)
    assert ids(got_default) == ids(created)
    assert len(set(ids(got))) == 23


def test_paging_while_domains_are_created_neither_skips_nor_repeats(
        server_factory):
    client = server_factory(*MANY).client()
    before = [create_domain(client) for _ in range(7)]

    seen, token, added = [], None, []
    while True:
        args = {"MaxResults": 3}
        if token:
            args["NextToken"] = token
        page = client.list_domains(**args)
        seen.extend(ids(page["DomainSummaries"]))
        token = page.get("NextToken")
        if not token:
            break
        added.append(create_domain(client))

    assert len(seen) == len(set(seen)), "a domain was listed twice"
    assert seen[:7] == ids(before), "an existing domain was skipped"
    assert set(seen) <= set(ids(before + added))
    assert ids(list_all_domains(client)) == ids(before + added)


def test_list_domains_omits_deleted_domains(server_factory):
    client = server_factory(*MANY).client()
    a, b, c = (create_domain(client) for _ in range(3))

    client.delete_domain(DomainId=b["DomainId"])

    assert ids(list_all_domains(client, MaxResults=1)) == [
        a["DomainId"], c["DomainId"]]


@pytest.mark.parametrize("deleted", ["last-listed", "first-listed",
                                     "next-unlisted"])
def test_paging_after_a_delete_skips_no_remaining_domain(server_factory,
                                                         deleted):
    client = server_factory(*MANY).client()
    created = ids([create_domain(client) for _ in range(6)])
    page = client.list_domains(MaxResults=2)
    assert ids(page["DomainSummaries"]) == created[:2]
    victim = {"last-listed": created[1], "first-listed": created[0],
              "next-unlisted": created[2]}[deleted]

    client.delete_domain(DomainId=victim)
    rest = list_all_domains(client, MaxResults=2,
                            NextToken=page["NextToken"])

    assert ids(rest) == [i for i in created[2:] if i != victim]


def test_unicode_description_round_trips(client):
    text = "Größe: Zürich ünd 東京 = 2/3 + 50% @ 10:30"

    d = create_domain(client, Description=text)

    assert d["Description"] == text
    assert client.describe_domain(
        DomainId=d["DomainId"])["Domain"]["Description"] == text


# Update --------------------------------------------------------------------


def test_update_domain_replaces_all_attributes(client):
    d = create_domain(client, Description="old text", kms="key-a")
    time.sleep(0.05)
    new_name = unique_name("renamed")

    u = client.update_domain(
        DomainId=d["DomainId"], Name=new_name, Description="new text",
        ServerSideEncryptionConfiguration={"KmsKeyId": "key-a"})["Domain"]

    assert u["DomainId"] == d["DomainId"]
    assert u["Arn"] == d["Arn"]
    assert u["Name"] == new_name
    assert u["Description"] == "new text"
    assert u["ServerSideEncryptionConfiguration"] == {"KmsKeyId": "key-a"}
    assert u["WatchlistDetails"] == d["WatchlistDetails"]
    assert u["DomainStatus"] == "ACTIVE"
    assert u["CreatedAt"] == d["CreatedAt"]
    assert u["UpdatedAt"] > d["UpdatedAt"]
    assert "ServerSideEncryptionUpdateDetails" not in u
    assert client.describe_domain(DomainId=d["DomainId"])["Domain"] == u


def test_update_domain_without_description_removes_it(client):
    d = create_domain(client, Description="to be removed")

    u = client.update_domain(
        DomainId=d["DomainId"], Name=d["Name"],
        ServerSideEncryptionConfiguration={"KmsKeyId": "timbre-key-1"})

    assert "Description" not in u["Domain"]
    assert "Description" not in client.describe_domain(
        DomainId=d["DomainId"])["Domain"]


def test_update_domain_kms_change_reports_old_key(client):
    d = create_domain(client, kms="key-old")

    u = client.update_domain(
        DomainId=d["DomainId"], Name=d["Name"],
        ServerSideEncryptionConfiguration={"KmsKeyId": "key-new"})["Domain"]

    assert u["ServerSideEncryptionConfiguration"] == {"KmsKeyId": "key-new"}
    details = u["ServerSideEncryptionUpdateDetails"]
    assert details["OldKmsKeyId"] == "key-old"
    assert details["UpdateStatus"] == "COMPLETED"
    described = client.describe_domain(DomainId=d["DomainId"])["Domain"]
    assert described["ServerSideEncryptionUpdateDetails"] == details


def test_update_unknown_domain_is_resource_not_found(client):
    err = expect_error(
        "ResourceNotFoundException", client.update_domain,
        DomainId="B" * 22, Name="x",
        ServerSideEncryptionConfiguration={"KmsKeyId": "k"})

    assert err["ResourceType"] == "DOMAIN"


# Delete --------------------------------------------------------------------


def test_delete_domain_returns_empty_output(client):
    d = create_domain(client)

    resp = client.delete_domain(DomainId=d["DomainId"])

    assert strip_meta(resp) == {}
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_every_operation_on_deleted_domain_is_resource_not_found(client):
    d = create_domain(client, Tags=[{"Key": "k", "Value": "v"}])
    client.delete_domain(DomainId=d["DomainId"])
    dom, arn = d["DomainId"], d["Arn"]
    calls = [
        (client.describe_domain, {"DomainId": dom}),
        (client.update_domain, {
            "DomainId": dom, "Name": "again",
            "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}}),
        (client.delete_domain, {"DomainId": dom}),
        (client.tag_resource, {
            "ResourceArn": arn, "Tags": [{"Key": "a", "Value": "b"}]}),
        (client.untag_resource, {"ResourceArn": arn, "TagKeys": ["k"]}),
        (client.list_tags_for_resource, {"ResourceArn": arn}),
    ]

    for fn, args in calls:
        err = expect_error("ResourceNotFoundException", fn, **args)
        assert err["ResourceType"] == "DOMAIN", (fn, err)
    assert dom not in ids(list_all_domains(client))


# Idempotency ---------------------------------------------------------------


def test_same_client_token_returns_the_same_domain(client):
    token, name = unique_name("tok"), unique_name("idem")
    args = {"Name": name, "ClientToken": token,
            "ServerSideEncryptionConfiguration": {"KmsKeyId": "k1"}}

    first = client.create_domain(**args)["Domain"]
    second = client.create_domain(**args)["Domain"]

    assert second["DomainId"] == first["DomainId"]
    assert second == first
    listed = [d for d in list_all_domains(client) if d["Name"] == name]
    assert ids(listed) == [first["DomainId"]]


def test_same_client_token_with_other_input_is_conflict(client):
    token, name = unique_name("tok"), unique_name("idem")
    client.create_domain(
        Name=name, ClientToken=token,
        ServerSideEncryptionConfiguration={"KmsKeyId": "k1"})

    err = expect_error(
        "ConflictException", client.create_domain,
        Name=unique_name("other"), ClientToken=token,
        ServerSideEncryptionConfiguration={"KmsKeyId": "k1"})

    assert err["Error"]["Message"]
    assert [d["Name"] for d in list_all_domains(client)].count(name) == 1


def test_a_client_token_is_forgotten_after_its_ttl(server_factory):
    client = server_factory("--client-token-ttl", "1").client()
    token = unique_name("tok")
    first = client.create_domain(
        Name=unique_name("first"), ClientToken=token,
        ServerSideEncryptionConfiguration={"KmsKeyId": "k1"})["Domain"]

    # The sweep runs every second here; give it a few chances.
    deadline = time.time() + 10
    while True:
        time.sleep(0.5)
        try:
            second = client.create_domain(
                Name=unique_name("second"), ClientToken=token,
                ServerSideEncryptionConfiguration={"KmsKeyId": "k1"}
            )["Domain"]
            break
        except client.exceptions.ConflictException:
            assert time.time() < deadline, "the token was never forgotten"

    assert second["DomainId"] != first["DomainId"]
    assert len(list_all_domains(client)) == 2


def test_distinct_client_tokens_make_distinct_domains(client):
    name = unique_name("same")
    a = create_domain(client, name=name, ClientToken=unique_name("t"))
    b = create_domain(client, name=name, ClientToken=unique_name("t"))

    assert a["DomainId"] != b["DomainId"]


# Quota ---------------------------------------------------------------------


def test_domain_quota_is_enforced_and_freed_by_delete(server_factory):
    client = server_factory("--max-domains", "2").client()
    first = create_domain(client)
    create_domain(client)

    err = expect_error("ServiceQuotaExceededException", client.create_domain,
                       Name=unique_name("third"),
                       ServerSideEncryptionConfiguration={"KmsKeyId": "k"})
    assert err["Error"]["Message"]
    assert len(list_all_domains(client)) == 2

    client.delete_domain(DomainId=first["DomainId"])
    third = create_domain(client)

    assert third["DomainStatus"] == "ACTIVE"
    assert len(list_all_domains(client)) == 2


def test_idempotent_replay_at_quota_returns_the_domain(server_factory):
    client = server_factory("--max-domains", "1").client()
    args = {"Name": unique_name("q"), "ClientToken": unique_name("tok"),
            "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}}
    first = client.create_domain(**args)["Domain"]

    again = client.create_domain(**args)["Domain"]

    assert again == first


def test_quota_is_per_account(server_factory, credentials_file):
    server = server_factory("--max-domains", "1",
                            "--credentials", credentials_file)
    alpha = server.client(ALPHA[0], ALPHA[1])
    bravo = server.client(BRAVO[0], BRAVO[1])
    create_domain(alpha)
    expect_error("ServiceQuotaExceededException", create_domain, alpha)

    d = create_domain(bravo)

    assert d["Arn"].split(":")[4] == BRAVO[2]


def test_default_quota_is_ten_domains(server_factory):
    client = server_factory().client()
    for _ in range(10):
        create_domain(client)

    expect_error("ServiceQuotaExceededException", create_domain, client)


# Accounts ------------------------------------------------------------------


def test_accounts_cannot_see_each_others_domains(server_factory,
                                                 credentials_file):
    server = server_factory(*MANY, "--credentials", credentials_file)
    alpha = server.client(ALPHA[0], ALPHA[1])
    bravo = server.client(BRAVO[0], BRAVO[1])
    mine = create_domain(alpha, Tags=[{"Key": "owner", "Value": "alpha"}])
    theirs = create_domain(bravo)
    dom, arn = mine["DomainId"], mine["Arn"]

    assert arn == "arn:aws:voiceid:us-east-1:%s:domain/%s" % (ALPHA[2], dom)
    assert theirs["Arn"].split(":")[4] == BRAVO[2]
    assert ids(list_all_domains(bravo)) == [theirs["DomainId"]]
    assert ids(list_all_domains(alpha)) == [dom]
    for fn, args in [
            (bravo.describe_domain, {"DomainId": dom}),
            (bravo.update_domain, {
                "DomainId": dom, "Name": "stolen",
                "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}}),
            (bravo.delete_domain, {"DomainId": dom}),
            (bravo.tag_resource, {
                "ResourceArn": arn, "Tags": [{"Key": "x", "Value": "y"}]}),
            (bravo.untag_resource, {"ResourceArn": arn,
                                    "TagKeys": ["owner"]}),
            (bravo.list_tags_for_resource, {"ResourceArn": arn})]:
        err = expect_error("ResourceNotFoundException", fn, **args)
        assert err["ResourceType"] == "DOMAIN", (fn, err)

    assert alpha.describe_domain(DomainId=dom)["Domain"] == mine
    assert alpha.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "alpha"}]


def test_credentials_file_disables_the_test_key(server_factory,
                                                credentials_file):
    server = server_factory("--credentials", credentials_file)

    err = expect_error("UnrecognizedClientException",
                       server.client().list_domains, status=403)

    assert err["Error"]["Message"]


# Servers sharing one database ----------------------------------------------


def test_servers_on_one_database_see_each_others_changes_at_once(
        server_factory):
    """Each server keeps recently read domains in memory; a change made
    through another server on the same data folder must still show on the
    very next request, for every kind of change."""
    first = server_factory(*MANY)
    second = server_factory(*MANY, data_dir=first.data_dir)
    writer, reader = first.client(), second.client()

    def seen():
        listed = list_all_domains(reader)
        return {d["DomainId"]: d for d in listed}

    kept = create_domain(writer, Description="kept")
    assert list(seen()) == [kept["DomainId"]]
    for _ in range(3):          # read repeatedly: now from memory
        assert reader.describe_domain(DomainId=kept["DomainId"])[
            "Domain"]["Description"] == "kept"

    added = create_domain(writer, Description="added")
    assert list(seen()) == [kept["DomainId"], added["DomainId"]]
    assert reader.describe_domain(DomainId=added["DomainId"])[
        "Domain"]["Description"] == "added"

    writer.update_domain(DomainId=kept["DomainId"], Name="renamed",
                         Description="changed",
                         ServerSideEncryptionConfiguration={
                             "KmsKeyId": "another-key"})
    described = reader.describe_domain(DomainId=kept["DomainId"])["Domain"]
    assert described["Name"] == "renamed"
    assert described["Description"] == "changed"
    assert described["ServerSideEncryptionConfiguration"] == {
        "KmsKeyId": "another-key"}
    assert described["ServerSideEncryptionUpdateDetails"][
        "OldKmsKeyId"] == "timbre-key-1"
    assert seen()[kept["DomainId"]]["Name"] == "renamed"

    writer.delete_domain(DomainId=added["DomainId"])
    expect_error("ResourceNotFoundException", reader.describe_domain,
                 DomainId=added["DomainId"])
    assert list(seen()) == [kept["DomainId"]]

    # And the other way round.
    reader.delete_domain(DomainId=kept["DomainId"])
    expect_error("ResourceNotFoundException", writer.describe_domain,
                 DomainId=kept["DomainId"])
    assert list_all_domains(writer) == []
