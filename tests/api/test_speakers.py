# SPDX-License-Identifier: Apache-2.0
"""DescribeSpeaker, ListSpeakers, DeleteSpeaker and OptOutSpeaker.

The speakers these tests look at are made with OptOutSpeaker, which
creates an opted-out speaker for an unknown CustomerSpeakerId; that way
the tests depend on no enrollment job."""

import re

from harness import (ALPHA, BRAVO, create_domain, expect_error,
                     strip_meta, write_credentials)

GENERATED_ID = re.compile(r"^id#[a-zA-Z0-9]{22}$")
SPEAKER_MEMBERS = {"CreatedAt", "CustomerSpeakerId", "DomainId",
                   "GeneratedSpeakerId", "Status", "UpdatedAt"}
UNKNOWN_GENERATED = "id#" + "Q" * 22


def opt_out(client, domain_id, speaker_id):
    return client.opt_out_speaker(DomainId=domain_id,
                                  SpeakerId=speaker_id)["Speaker"]


def list_all(client, **kw):
    pages = client.get_paginator("list_speakers")
    return [s for p in pages.paginate(**kw) for s in p["SpeakerSummaries"]]


def test_opting_out_an_unknown_caller_creates_an_opted_out_speaker(client):
    d = create_domain(client)

    sp = opt_out(client, d["DomainId"], "caller-1")

    assert set(sp) == SPEAKER_MEMBERS
    assert sp["Status"] == "OPTED_OUT"
    assert sp["CustomerSpeakerId"] == "caller-1"
    assert sp["DomainId"] == d["DomainId"]
    assert GENERATED_ID.match(sp["GeneratedSpeakerId"])
    assert sp["CreatedAt"] == sp["UpdatedAt"]
    assert sp["CreatedAt"] >= d["CreatedAt"]


def test_describe_finds_the_speaker_by_either_id(client):
    d = create_domain(client)
    made = opt_out(client, d["DomainId"], "caller-1")

    by_customer = client.describe_speaker(
        DomainId=d["DomainId"], SpeakerId="caller-1")
    by_generated = client.describe_speaker(
        DomainId=d["DomainId"], SpeakerId=made["GeneratedSpeakerId"])

    assert strip_meta(by_customer) == {"Speaker": made}
    assert strip_meta(by_generated) == {"Speaker": made}


def test_the_wire_form_has_exactly_the_model_members(server, client):
    d = create_domain(client)
    opt_out(client, d["DomainId"], "caller-1")

    described = server.raw("DescribeSpeaker", {"DomainId": d["DomainId"],
                                               "SpeakerId": "caller-1"})
    listed = server.raw("ListSpeakers", {"DomainId": d["DomainId"]})

    # boto3 drops members the model lacks, so only the raw body shows that
    # nothing else (a voiceprint above all) is sent.
    assert described.status == 200
    assert set(described.json) == {"Speaker"}
    assert set(described.json["Speaker"]) == SPEAKER_MEMBERS
    assert listed.status == 200
    assert set(listed.json) == {"SpeakerSummaries"}
    assert set(listed.json["SpeakerSummaries"][0]) == SPEAKER_MEMBERS


def test_opting_out_again_keeps_the_speaker(client):
    d = create_domain(client)
    first = opt_out(client, d["DomainId"], "caller-1")

    again = opt_out(client, d["DomainId"], "caller-1")
    by_generated = opt_out(client, d["DomainId"],
                           first["GeneratedSpeakerId"])

    for sp in (again, by_generated):
        assert sp["GeneratedSpeakerId"] == first["GeneratedSpeakerId"]
        assert sp["CreatedAt"] == first["CreatedAt"]
        assert sp["UpdatedAt"] >= first["UpdatedAt"]
        assert sp["Status"] == "OPTED_OUT"
    assert len(list_all(client, DomainId=d["DomainId"])) == 1


def test_opting_out_an_unknown_generated_id_is_not_found(client):
    d = create_domain(client)

    err = expect_error("ResourceNotFoundException", client.opt_out_speaker,
                       DomainId=d["DomainId"], SpeakerId=UNKNOWN_GENERATED)

    assert err["ResourceType"] == "SPEAKER"
    assert list_all(client, DomainId=d["DomainId"]) == []


def test_a_new_domain_has_no_speakers(client):
    d = create_domain(client)

    page = client.list_speakers(DomainId=d["DomainId"])

    assert page["SpeakerSummaries"] == []
    assert "NextToken" not in page


def test_paging_returns_every_speaker_once_in_creation_order(client):
    d = create_domain(client)
    made = [opt_out(client, d["DomainId"], "caller-%d" % i)
            for i in range(7)]

    first = client.list_speakers(DomainId=d["DomainId"], MaxResults=3)
    pages = list(client.get_paginator("list_speakers").paginate(
        DomainId=d["DomainId"], PaginationConfig={"PageSize": 3}))

    assert len(first["SpeakerSummaries"]) == 3
    assert first["NextToken"]
    assert [len(p["SpeakerSummaries"]) for p in pages] == [3, 3, 1]
    assert "NextToken" not in pages[-1]
    listed = [s for p in pages for s in p["SpeakerSummaries"]]
    assert listed == made


def test_default_page_holds_all_of_a_small_domain(client):
    d = create_domain(client)
    for i in range(5):
        opt_out(client, d["DomainId"], "caller-%d" % i)

    page = client.list_speakers(DomainId=d["DomainId"])

    assert [s["CustomerSpeakerId"] for s in page["SpeakerSummaries"]] == [
        "caller-%d" % i for i in range(5)]
    assert "NextToken" not in page


def test_a_token_is_bound_to_its_domain(client):
    d = create_domain(client)
    other = create_domain(client)
    for i in range(3):
        opt_out(client, d["DomainId"], "caller-%d" % i)
    token = client.list_speakers(DomainId=d["DomainId"],
                                 MaxResults=1)["NextToken"]

    expect_error("ValidationException", client.list_speakers,
                 DomainId=other["DomainId"], NextToken=token)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    expect_error("ValidationException", client.list_speakers,
                 DomainId=d["DomainId"], NextToken=flipped)


def test_delete_removes_the_speaker(client):
    d = create_domain(client)
    kept = opt_out(client, d["DomainId"], "caller-1")
    gone = opt_out(client, d["DomainId"], "caller-2")
    by_generated = opt_out(client, d["DomainId"], "caller-3")

    reply = client.delete_speaker(DomainId=d["DomainId"],
                                  SpeakerId="caller-2")
    client.delete_speaker(DomainId=d["DomainId"],
                          SpeakerId=by_generated["GeneratedSpeakerId"])

    assert strip_meta(reply) == {}
    for sp in (gone, by_generated):
        for key in ("CustomerSpeakerId", "GeneratedSpeakerId"):
            err = expect_error("ResourceNotFoundException",
                               client.describe_speaker,
                               DomainId=d["DomainId"], SpeakerId=sp[key])
            assert err["ResourceType"] == "SPEAKER"
    assert list_all(client, DomainId=d["DomainId"]) == [kept]


def test_deleting_twice_is_not_found(client):
    d = create_domain(client)
    opt_out(client, d["DomainId"], "caller-1")
    client.delete_speaker(DomainId=d["DomainId"], SpeakerId="caller-1")

    err = expect_error("ResourceNotFoundException", client.delete_speaker,
                       DomainId=d["DomainId"], SpeakerId="caller-1")

    assert err["ResourceType"] == "SPEAKER"


def test_a_deleted_speaker_can_be_opted_out_anew(client):
    d = create_domain(client)
    old = opt_out(client, d["DomainId"], "caller-1")
    client.delete_speaker(DomainId=d["DomainId"], SpeakerId="caller-1")

    new = opt_out(client, d["DomainId"], "caller-1")

    assert new["GeneratedSpeakerId"] != old["GeneratedSpeakerId"]
    expect_error("ResourceNotFoundException", client.describe_speaker,
                 DomainId=d["DomainId"], SpeakerId=old["GeneratedSpeakerId"])


def test_unknown_speakers_are_not_found(client):
    d = create_domain(client)
    opt_out(client, d["DomainId"], "caller-1")

    for speaker_id in ("nobody", UNKNOWN_GENERATED):
        for call in (client.describe_speaker, client.delete_speaker):
            err = expect_error("ResourceNotFoundException", call,
                               DomainId=d["DomainId"], SpeakerId=speaker_id)
            assert err["ResourceType"] == "SPEAKER"
            assert speaker_id not in err["Error"]["Message"]


def test_a_speaker_belongs_to_its_domain_only(client):
    d = create_domain(client)
    other = create_domain(client)
    sp = opt_out(client, d["DomainId"], "caller-1")

    for speaker_id in ("caller-1", sp["GeneratedSpeakerId"]):
        err = expect_error("ResourceNotFoundException",
                           client.describe_speaker,
                           DomainId=other["DomainId"], SpeakerId=speaker_id)
        assert err["ResourceType"] == "SPEAKER"
    assert list_all(client, DomainId=other["DomainId"]) == []


def test_unknown_and_deleted_domains_are_not_found(client):
    deleted = create_domain(client)
    opt_out(client, deleted["DomainId"], "caller-1")
    client.delete_domain(DomainId=deleted["DomainId"])

    for domain_id in ("Z" * 22, deleted["DomainId"]):
        calls = [
            (client.describe_speaker, {"SpeakerId": "caller-1"}),
            (client.delete_speaker, {"SpeakerId": "caller-1"}),
            (client.opt_out_speaker, {"SpeakerId": "caller-1"}),
            (client.opt_out_speaker, {"SpeakerId": UNKNOWN_GENERATED}),
            (client.list_speakers, {}),
        ]
        for call, args in calls:
            err = expect_error("ResourceNotFoundException", call,
                               DomainId=domain_id, **args)
            assert err["ResourceType"] == "DOMAIN", (call, err)


def test_another_accounts_speakers_are_invisible(server_factory, tmp_path):
    creds = write_credentials(str(tmp_path))
    server = server_factory("--credentials", creds)
    alpha = server.client(key=ALPHA[0], secret=ALPHA[1])
    bravo = server.client(key=BRAVO[0], secret=BRAVO[1])
    d = create_domain(alpha)
    sp = opt_out(alpha, d["DomainId"], "caller-1")

    calls = [
        (bravo.describe_speaker, {"SpeakerId": "caller-1"}),
        (bravo.describe_speaker, {"SpeakerId": sp["GeneratedSpeakerId"]}),
        (bravo.delete_speaker, {"SpeakerId": "caller-1"}),
        (bravo.opt_out_speaker, {"SpeakerId": "caller-2"}),
        (bravo.list_speakers, {}),
    ]
    for call, args in calls:
        err = expect_error("ResourceNotFoundException", call,
                           DomainId=d["DomainId"], **args)
        assert err["ResourceType"] == "DOMAIN"

    assert list_all(alpha, DomainId=d["DomainId"]) == [sp]


def test_out_of_range_max_results_is_a_validation_error(raw_client, client):
    d = create_domain(client)

    for bad in (0, 101):
        err = expect_error("ValidationException", raw_client.list_speakers,
                           DomainId=d["DomainId"], MaxResults=bad)
        assert "MaxResults" in err["Error"]["Message"]


def test_malformed_speaker_ids_are_validation_errors(raw_client, client):
    d = create_domain(client)

    for bad in ("-caller", "id#short", "caller 1", "", "x" * 257):
        for call in (raw_client.describe_speaker, raw_client.delete_speaker,
                     raw_client.opt_out_speaker):
            err = expect_error("ValidationException", call,
                               DomainId=d["DomainId"], SpeakerId=bad)
            assert "SpeakerId" in err["Error"]["Message"]
    assert list_all(client, DomainId=d["DomainId"]) == []
