# SPDX-License-Identifier: Apache-2.0
"""TagResource, UntagResource and ListTagsForResource on domains."""

from harness import (DEFAULT_ACCOUNT, create_domain, expect_error,
                     strip_meta)


def tags(client, arn):
    return client.list_tags_for_resource(ResourceArn=arn)["Tags"]


def tag_list(pairs):
    return [{"Key": k, "Value": v} for k, v in pairs]


def test_tags_given_at_create_are_listed_sorted_by_key(client):
    d = create_domain(client, Tags=tag_list(
        [("team", "fraud"), ("Env", "prod"), ("app", "ivr")]))

    assert tags(client, d["Arn"]) == tag_list(
        [("Env", "prod"), ("app", "ivr"), ("team", "fraud")])


def test_domain_without_tags_lists_none(client):
    d = create_domain(client)

    assert tags(client, d["Arn"]) == []


def test_tag_resource_adds_and_replaces_by_key(client):
    d = create_domain(client, Tags=tag_list([("a", "1"), ("b", "2")]))

    resp = client.tag_resource(ResourceArn=d["Arn"], Tags=tag_list(
        [("b", "20"), ("c", "3")]))

    assert strip_meta(resp) == {}
    assert tags(client, d["Arn"]) == tag_list(
        [("a", "1"), ("b", "20"), ("c", "3")])


def test_untag_resource_removes_keys_and_ignores_absent_ones(client):
    d = create_domain(client, Tags=tag_list(
        [("a", "1"), ("b", "2"), ("c", "3")]))

    resp = client.untag_resource(ResourceArn=d["Arn"],
                                 TagKeys=["b", "never-there"])

    assert strip_meta(resp) == {}
    assert tags(client, d["Arn"]) == tag_list([("a", "1"), ("c", "3")])


def test_untag_of_only_absent_keys_changes_nothing(client):
    d = create_domain(client, Tags=tag_list([("keep", "me")]))

    client.untag_resource(ResourceArn=d["Arn"], TagKeys=["x", "y"])

    assert tags(client, d["Arn"]) == tag_list([("keep", "me")])


def test_tags_are_sorted_by_key_code_point(client):
    d = create_domain(client)
    keys = ["zeta", "Alpha", "beta", "Größe", "10", "2", "_x", "alpha"]

    client.tag_resource(ResourceArn=d["Arn"],
                        Tags=tag_list((k, "v") for k in keys))

    assert [t["Key"] for t in tags(client, d["Arn"])] == sorted(keys)


def test_unicode_keys_and_values_round_trip(client):
    pairs = [("Größe", "groß"), ("名前", "値"), ("space key", "a b c"),
             ("empty", "")]
    d = create_domain(client)

    client.tag_resource(ResourceArn=d["Arn"], Tags=tag_list(pairs))

    assert tags(client, d["Arn"]) == tag_list(sorted(pairs))


def test_two_hundred_tags_is_the_limit(client, raw_client):
    d = create_domain(client)
    two_hundred = tag_list(("k%03d" % i, "v") for i in range(200))
    client.tag_resource(ResourceArn=d["Arn"], Tags=two_hundred)

    err = expect_error("ValidationException", client.tag_resource,
                       ResourceArn=d["Arn"],
                       Tags=tag_list([("one-more", "v")]))
    assert err["Error"]["Message"]
    assert tags(client, d["Arn"]) == two_hundred

    client.tag_resource(ResourceArn=d["Arn"],
                        Tags=tag_list([("k000", "replaced")]))
    after = tags(client, d["Arn"])
    assert len(after) == 200
    assert after[0] == {"Key": "k000", "Value": "replaced"}


def test_adding_past_the_limit_in_one_call_adds_nothing(client):
    d = create_domain(client, Tags=tag_list(
        ("old%03d" % i, "v") for i in range(150)))

    expect_error("ValidationException", client.tag_resource,
                 ResourceArn=d["Arn"],
                 Tags=tag_list(("new%03d" % i, "v") for i in range(60)))

    assert len(tags(client, d["Arn"])) == 150


def test_more_than_200_tags_in_one_request_is_invalid(client, raw_client):
    d = create_domain(client)
    too_many = tag_list(("k%03d" % i, "v") for i in range(201))

    err = expect_error("ValidationException", raw_client.tag_resource,
                       ResourceArn=d["Arn"], Tags=too_many)

    assert "'Tags'" in err["Error"]["Message"]
    expect_error("ValidationException", raw_client.create_domain,
                 Name="too-many-tags", Tags=too_many,
                 ServerSideEncryptionConfiguration={"KmsKeyId": "k"})
    assert tags(client, d["Arn"]) == []


def test_invalid_tag_key_names_the_list_element(client, raw_client):
    d = create_domain(client)

    err = expect_error("ValidationException", raw_client.tag_resource,
                       ResourceArn=d["Arn"],
                       Tags=tag_list([("good", "v"), ("bad*key", "v")]))

    assert "'Tags.1.Key'" in err["Error"]["Message"]
    assert tags(client, d["Arn"]) == []


def test_empty_tag_key_names_the_list_element(client, raw_client):
    d = create_domain(client)

    err = expect_error("ValidationException", raw_client.tag_resource,
                       ResourceArn=d["Arn"], Tags=tag_list([("", "v")]))

    assert "'Tags.0.Key'" in err["Error"]["Message"]


def test_malformed_arn_is_validation_error(client, raw_client):
    for arn in ["not-an-arn",
                "arn:aws:voiceid:us-east-1:%s:domain/short" % DEFAULT_ACCOUNT,
                "arn:aws:s3:::bucket/key"]:
        err = expect_error("ValidationException",
                           raw_client.list_tags_for_resource,
                           ResourceArn=arn)
        assert "'ResourceArn'" in err["Error"]["Message"], err

    err = expect_error("ValidationException", raw_client.tag_resource,
                       ResourceArn="nope",
                       Tags=tag_list([("a", "b")]))
    assert "'ResourceArn'" in err["Error"]["Message"]


def test_arn_of_unknown_domain_is_resource_not_found(client):
    arn = "arn:aws:voiceid:us-east-1:%s:domain/%s" % (
        DEFAULT_ACCOUNT, "Z" * 22)

    for fn, args in [
            (client.list_tags_for_resource, {}),
            (client.tag_resource, {"Tags": tag_list([("a", "b")])}),
            (client.untag_resource, {"TagKeys": ["a"]})]:
        err = expect_error("ResourceNotFoundException", fn,
                           ResourceArn=arn, **args)
        assert err["ResourceType"] == "DOMAIN", (fn, err)


def test_arn_naming_another_account_is_resource_not_found(client):
    d = create_domain(client)
    foreign = d["Arn"].replace(":%s:" % DEFAULT_ACCOUNT, ":123456789012:")

    err = expect_error("ResourceNotFoundException",
                       client.list_tags_for_resource, ResourceArn=foreign)

    assert err["ResourceType"] == "DOMAIN"
