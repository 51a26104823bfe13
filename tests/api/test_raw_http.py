# SPDX-License-Identifier: Apache-2.0
"""The wire, byte by byte: malformed bodies, wrong headers and methods,
oversized and slow requests, keep-alive and concurrency. Requests are
built with http.client and signed with botocore's SigV4 signer, so
nothing in a client library hides what the server answers."""

import concurrent.futures
import http.client
import json
import socket
import threading
import time

import pytest

from harness import (create_domain, raw_request, sign, unique_name,
                     JSON_CT)

MANY = ("--max-domains", "1000")
NEW_DOMAIN = {"Name": "raw", "ServerSideEncryptionConfiguration": {
    "KmsKeyId": "k"}}


def assert_error(r, status, error_type):
    """r is an error response of the given status and type."""
    assert r.status == status, r
    assert r.headers.get("x-amzn-errortype") == error_type, r
    assert r.json["__type"] == error_type, r
    assert isinstance(r.json.get("Message"), str) and r.json["Message"], r
    assert r.headers.get("x-amzn-requestid"), r


@pytest.fixture(scope="module", autouse=True)
def witness(server):
    """A domain made before any bad input; the last test compares it."""
    client = server.client()
    d = create_domain(client, Description="witness",
                      Tags=[{"Key": "w", "Value": "1"}])
    return {"domain": d,
            "tags": client.list_tags_for_resource(
                ResourceArn=d["Arn"])["Tags"]}


# Bodies --------------------------------------------------------------------


def test_valid_request_answers_json_with_protocol_headers(server):
    r = server.raw("ListDomains", {"MaxResults": 1})

    assert r.status == 200, r
    assert r.headers["content-type"].startswith(JSON_CT)
    assert r.headers.get("x-amzn-requestid")
    assert isinstance(r.json["DomainSummaries"], list)


def test_domain_json_has_epoch_timestamps_and_no_nulls(server):
    before = time.time()

    r = server.raw("CreateDomain", {
        "Name": unique_name("wire"),
        "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}})

    assert r.status == 200, r
    d = r.json["Domain"]
    for field in ("CreatedAt", "UpdatedAt"):
        assert isinstance(d[field], (int, float)), d
        assert not isinstance(d[field], bool), d
        assert before - 5 <= d[field] <= time.time() + 5, d
    assert "Description" not in d
    assert "ServerSideEncryptionUpdateDetails" not in d
    assert None not in d.values(), d
    assert set(d) == {"Arn", "CreatedAt", "DomainId", "DomainStatus",
                      "Name", "ServerSideEncryptionConfiguration",
                      "UpdatedAt", "WatchlistDetails"}


def test_empty_outputs_are_empty_json_objects(server):
    d = server.client().create_domain(
        Name=unique_name("out"),
        ServerSideEncryptionConfiguration={"KmsKeyId": "k"})["Domain"]

    tagged = server.raw("TagResource", {
        "ResourceArn": d["Arn"], "Tags": [{"Key": "a", "Value": "b"}]})
    untagged = server.raw("UntagResource", {
        "ResourceArn": d["Arn"], "TagKeys": ["a"]})
    deleted = server.raw("DeleteDomain", {"DomainId": d["DomainId"]})

    for r in (tagged, untagged, deleted):
        assert r.status == 200, r
        assert r.json == {}, r


@pytest.mark.parametrize("body", [
    b'{"MaxResults": 2', b'{"MaxResults": }', b"{", b"not json",
    b'{"a":1}}'], ids=["truncated", "missing-value", "open-brace",
                       "text", "trailing-garbage"])
def test_malformed_json_is_serialization_error(server, body):
    r = server.raw("ListDomains", body)

    assert_error(r, 400, "SerializationException")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"5", b"null", b"true"])
def test_body_that_is_not_an_object_is_serialization_error(server, body):
    r = server.raw("ListDomains", body)

    assert_error(r, 400, "SerializationException")


@pytest.mark.parametrize("target, body, member", [
    ("ListDomains", {"MaxResults": "5"}, "MaxResults"),
    ("ListDomains", {"MaxResults": 2.5}, "MaxResults"),
    ("ListDomains", {"NextToken": 7}, "NextToken"),
    ("CreateDomain", {"Name": 5, "ServerSideEncryptionConfiguration": {
        "KmsKeyId": "k"}}, "Name"),
    ("CreateDomain", {"Name": "ok", "ServerSideEncryptionConfiguration":
                      "k"}, "ServerSideEncryptionConfiguration"),
    ("CreateDomain", {"Name": "ok", "ServerSideEncryptionConfiguration": {
        "KmsKeyId": "k"}, "Tags": {"Key": "a", "Value": "b"}}, "Tags"),
    ("DescribeDomain", {"DomainId": None}, "DomainId"),
    ("DescribeDomain", {"DomainId": ["A" * 22]}, "DomainId"),
], ids=["int-as-string", "int-as-float", "string-as-int", "name-as-int",
        "struct-as-string", "list-as-object", "null", "list-for-string"])
def test_wrong_json_type_is_validation_error(server, target, body, member):
    r = server.raw(target, body)

    assert_error(r, 400, "ValidationException")
    assert member in r.json["Message"], r


def test_invalid_utf8_is_refused_without_harm(server):
    r = server.raw("CreateDomain", b'{"Name": "\xff\xfe", '
                   b'"ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}}')

    assert r.status == 400, r
    assert r.json["__type"] in ("SerializationException",
                                "ValidationException"), r


@pytest.mark.parametrize("body", [
    b'{"Name": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    b'{"MaxResults": 1e400}',
    b'{"MaxResults": 99999999999999999999999999}',
    b'{"Name": "a\\u0000b", "ServerSideEncryptionConfiguration": '
    b'{"KmsKeyId": "k"}}'],
    ids=["deep-nesting", "huge-float", "huge-int", "nul-in-string"])
def test_hostile_json_is_a_clean_400(server, body):
    r = server.raw("CreateDomain" if b"Name" in body else "ListDomains", body)

    assert r.status == 400, r
    assert r.json["__type"] in ("SerializationException",
                                "ValidationException"), r


# Headers, methods and paths -------------------------------------------------


@pytest.mark.parametrize("ctype", [
    "application/json", "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(server, ctype):
    r = server.raw("ListDomains", {}, content_type=ctype)

    assert_error(r, 415, "UnsupportedMediaTypeException")


@pytest.mark.parametrize("target", [
    "VoiceID.NoSuchOperation", "Other.ListDomains", "ListDomains",
    "VoiceID."])
def test_unknown_target_is_unknown_operation(server, target):
    r = raw_request(server, None, {}, extra_headers={"X-Amz-Target": target})

    assert_error(r, 400, "UnknownOperationException")


def test_missing_target_is_unknown_operation(server):
    r = server.raw(None, {})

    assert_error(r, 400, "UnknownOperationException")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_on_root_are_405(server, method):
    r = server.raw("ListDomains", method=method)

    assert_error(r, 405, "MethodNotAllowedException")


@pytest.mark.parametrize("method, path", [
    ("GET", "/nope"), ("POST", "/nope"), ("POST", "/2021-09-27/domains")])
def test_other_paths_are_404(server, method, path):
    r = server.raw("ListDomains", {}, method=method, path=path)

    assert_error(r, 404, "NotFoundException")


def test_healthz_answers_ok(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/healthz")
    r = conn.getresponse()

    assert r.status == 200
    assert json.loads(r.read()) == {"status": "ok"}
    conn.close()


# Signatures on the wire ----------------------------------------------------


@pytest.mark.parametrize("value", [
    "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=test",
    "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
    "Bearer abc", "garbage"])
def test_malformed_authorization_is_incomplete_signature(server, value):
    def replace(headers):
        headers["Authorization"] = value

    r = server.raw("ListDomains", {}, mutate=replace)

    # AWS's common errors list IncompleteSignature as HTTP 400, unlike the
    # other authentication failures (403).
    assert_error(r, 400, "IncompleteSignatureException")


def test_body_changed_after_signing_is_invalid_signature(server):
    signed_body = b'{"MaxResults": 1}'
    sent_body = b'{"MaxResults": 2}'
    headers = sign(server.endpoint + "/", signed_body, {
        "Content-Type": JSON_CT, "X-Amz-Target": "VoiceID.ListDomains"})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    conn.request("POST", "/", body=sent_body, headers=headers)
    resp = conn.getresponse()
    r_status, r_type = resp.status, resp.getheader("x-amzn-ErrorType")
    resp.read()
    conn.close()

    assert (r_status, r_type) == (403, "InvalidSignatureException")


def test_signed_target_header_cannot_be_swapped(server):
    def swap(headers):
        headers["X-Amz-Target"] = "VoiceID.CreateDomain"

    r = server.raw("ListDomains", NEW_DOMAIN, mutate=swap)

    assert_error(r, 403, "InvalidSignatureException")


def test_signature_scoped_to_another_service_is_refused(server):
    def rescope(headers):
        headers["Authorization"] = headers["Authorization"].replace(
            "/voiceid/aws4_request", "/s3/aws4_request")

    r = server.raw("ListDomains", {}, mutate=rescope)

    assert r.status == 403, r
    assert r.json["__type"] in ("InvalidSignatureException",
                                "IncompleteSignatureException"), r


def test_any_region_in_the_scope_is_accepted(server):
    r = server.raw("ListDomains", {"MaxResults": 1}, region="ap-south-1")

    assert r.status == 200, r


# Sizes ---------------------------------------------------------------------


def send_with_body(server, body, content_length=None, chunked=False,
                   timeout=15):
    """POST a signed ListDomains over a raw socket, body sent by a helper
    thread while the response is read; returns (status, headers, body).

    The body goes out with a Content-Length (content_length overrides the
    true one) or, when chunked, in 1000-byte chunks. The server may
    answer before it has read the whole body, so the sender's errors are
    ignored.
    """
    headers = sign(server.endpoint + "/", body, {
        "Content-Type": JSON_CT, "X-Amz-Target": "VoiceID.ListDomains"})
    head = "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port
    head += "".join("%s: %s\r\n" % kv for kv in headers.items())
    if chunked:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        wire = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]),
                                             body[i:i + 1000])
                        for i in range(0, len(body), 1000)) + b"0\r\n\r\n"
    else:
        head += "Content-Length: %d\r\n\r\n" % (
            len(body) if content_length is None else content_length)
        wire = body
    sock = socket.create_connection(("127.0.0.1", server.port),
                                    timeout=timeout)

    def pump():
        try:
            sock.sendall(wire)
        except OSError:
            pass

    sock.sendall(head.encode("ascii"))
    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    try:
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        sender.join(timeout)


def padded_list_domains(size):
    """A valid ListDomains body of exactly `size` bytes."""
    core = b'{"MaxResults": 1}'
    return core[:-1] + b" " * (size - len(core)) + b"}"


def test_ten_megabyte_body_is_413_and_server_keeps_serving(server):
    status, headers, data = send_with_body(
        server, padded_list_domains(10 * 1024 * 1024))

    assert status == 413
    assert json.loads(data)["__type"] == "RequestEntityTooLargeException"
    assert headers.get("x-amzn-errortype") == "RequestEntityTooLargeException"
    assert server.raw("ListDomains", {"MaxResults": 1}).status == 200


def test_max_body_bytes_is_the_exact_limit(server_factory):
    server = server_factory("--max-body-bytes", "2048")

    at_limit = send_with_body(server, padded_list_domains(2048))
    over = send_with_body(server, padded_list_domains(2049))

    assert at_limit[0] == 200, at_limit
    assert over[0] == 413, over
    assert json.loads(over[2])["__type"] == "RequestEntityTooLargeException"
    assert server.raw("ListDomains", {}).status == 200


def test_declared_length_over_limit_is_413_before_the_body(server_factory):
    server = server_factory("--max-body-bytes", "2048")

    # Announce 5 MB but send only a little: the answer must not wait for
    # the rest.
    status, _, data = send_with_body(server, b"{" + b" " * 100,
                                     content_length=5 * 1024 * 1024,
                                     timeout=5)

    assert status == 413
    assert json.loads(data)["__type"] == "RequestEntityTooLargeException"


def test_chunked_body_is_accepted(server):
    status, _, data = send_with_body(server, padded_list_domains(3500),
                                     chunked=True)

    assert status == 200, data
    assert "DomainSummaries" in json.loads(data)


def test_chunked_body_over_limit_is_413(server_factory):
    server = server_factory("--max-body-bytes", "2048")

    status, _, data = send_with_body(server, padded_list_domains(6000),
                                     chunked=True)

    assert status == 413, data
    assert json.loads(data)["__type"] == "RequestEntityTooLargeException"
    assert server.raw("ListDomains", {}).status == 200


# Connections ---------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        first = raw_request(server, "ListDomains", {"MaxResults": 1},
                            conn=conn)
        sock = conn.sock
        results = [first] + [
            raw_request(server, "ListDomains", {"MaxResults": 1}, conn=conn)
            for _ in range(9)]
        # An error answer keeps the connection too.
        results.append(raw_request(server, "DescribeDomain",
                                   {"DomainId": "Q" * 22}, conn=conn))
        results.append(raw_request(server, "ListDomains", {}, conn=conn))

        assert sock is not None and conn.sock is sock, \
            "the connection was reopened"
    finally:
        conn.close()
    assert [r.status for r in results] == [200] * 10 + [400, 200]


def read_until_closed(sock, limit_s):
    """Bytes read until the peer closes; raises if it stays open."""
    sock.settimeout(limit_s)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data


@pytest.mark.parametrize("part", ["half-headers", "half-body"])
def test_stalled_client_is_dropped_while_others_are_served(server_factory,
                                                           part):
    server = server_factory(*MANY, "--idle-timeout", "2")
    body = b'{"MaxResults": 1}'
    partial = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: " + JSON_CT.encode() + b"\r\n")
    if part == "half-body":
        partial += (b"X-Amz-Target: VoiceID.ListDomains\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body[:5]
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    slow.sendall(partial)
    started = time.monotonic()

    served = []
    while time.monotonic() - started < 1.5:
        served.append(server.raw("ListDomains", {"MaxResults": 1}).status)
        time.sleep(0.1)
    try:
        read_until_closed(slow, 10)
    except socket.timeout:
        pytest.fail("a stalled connection was still open after 10 s")
    finally:
        slow.close()
    waited = time.monotonic() - started

    assert served and all(s == 200 for s in served), served
    assert waited < 8, waited


def test_single_thread_server_serves_others_while_a_client_stalls(
        server_factory):
    server = server_factory(*MANY, "--threads", "1", "--idle-timeout", "5")
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    slow.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    try:
        statuses = [server.raw("ListDomains", {}, timeout=3).status
                    for _ in range(5)]
    finally:
        slow.close()

    assert statuses == [200] * 5


def test_idle_keep_alive_connection_is_closed(server_factory):
    server = server_factory(*MANY, "--idle-timeout", "2")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    r = raw_request(server, "ListDomains", {}, conn=conn)
    assert r.status == 200
    sock = conn.sock
    started = time.monotonic()

    try:
        read_until_closed(sock, 10)
    except socket.timeout:
        pytest.fail("an idle connection was still open after 10 s")
    finally:
        conn.close()

    assert 1 < time.monotonic() - started < 8


def test_hundred_concurrent_requests_all_succeed(server_factory):
    server = server_factory(*MANY)
    client = server.client()
    known = create_domain(client)
    names = [unique_name("c") for _ in range(50)]
    start = threading.Barrier(100, timeout=30)

    def create(name):
        start.wait()
        return raw_request(server, "CreateDomain", {
            "Name": name, "ClientToken": name,
            "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}},
            timeout=30)

    def describe(_):
        start.wait()
        return raw_request(server, "DescribeDomain",
                           {"DomainId": known["DomainId"]}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        creates = [pool.submit(create, n) for n in names]
        describes = [pool.submit(describe, i) for i in range(50)]
        created = [f.result() for f in creates]
        described = [f.result() for f in describes]

    assert [r.status for r in created] == [200] * 50, [
        r for r in created if r.status != 200][:3]
    assert [r.status for r in described] == [200] * 50, [
        r for r in described if r.status != 200][:3]
    assert all(r.json["Domain"]["DomainId"] == known["DomainId"]
               for r in described)
    listed = [d["Name"] for page in client.get_paginator(
        "list_domains").paginate() for d in page["DomainSummaries"]]
    assert sorted(listed) == sorted(names + [known["Name"]])
    assert len({r.json["Domain"]["DomainId"] for r in created}) == 50


# Last: nothing above may have harmed what was there before. ---------------


def test_domains_created_before_bad_inputs_are_unchanged(server, witness):
    client = server.client()
    d = witness["domain"]

    assert client.describe_domain(DomainId=d["DomainId"])["Domain"] == d
    assert client.list_tags_for_resource(
        ResourceArn=d["Arn"])["Tags"] == witness["tags"]
    assert server.alive()
