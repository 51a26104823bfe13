# SPDX-License-Identifier: Apache-2.0
"""Start the real build/timbre binary and talk to it the way clients do.

The end-to-end tests never reach into the server: they start the binary as
a subprocess on a free loopback port with its own data folder, wait for
GET /healthz, and drive it with boto3 or with raw HTTP requests signed
by botocore's SigV4 signer. A server is stopped with SIGTERM, then SIGKILL
after five seconds, always by its own PID.

boto3 is pointed at the repository's reduced service model through
AWS_DATA_PATH (see aws_data_path()), because Debian's botocore carries an
older Voice ID model.

Run as a script, this module serves the AWS CLI suite (cli.sh):
  python3 harness.py data-path DIR      lays out an AWS_DATA_PATH in DIR
"""

import contextlib
import datetime
import http.client
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.request
import uuid
from unittest import mock

import boto3
import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("TIMBRE_BIN", os.path.join(REPO, "build", "timbre"))
MODEL = os.environ.get(
    "TIMBRE_API_MODEL", os.path.join(REPO, "model", "voiceid-2021-09-27.json"))
PAGINATORS = os.path.join(
    HERE, "model", "voice-id", "2021-09-27", "paginators-1.json")

JSON_CT = "application/x-amz-json-1.0"
DEFAULT_ACCOUNT = "000000000000"
REGION = "us-east-1"

# Two accounts for the tests that need a --credentials file.
ALPHA = ("AKIAALPHA00000000001", "alpha-secret-key", "111111111111")
BRAVO = ("AKIABRAVO00000000002", "bravo-secret-key", "222222222222")

NO_RETRIES = {"total_max_attempts": 1}
HEALTH_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0


def aws_data_path(folder):
    """Lay out voice-id/2021-09-27/{service-2,paginators-1}.json in folder."""
    target = os.path.join(folder, "voice-id", "2021-09-27")
    os.makedirs(target, exist_ok=True)
    if not os.path.exists(MODEL):
        raise RuntimeError("service model %s is missing" % MODEL)
    shutil.copyfile(MODEL, os.path.join(target, "service-2.json"))
    shutil.copyfile(PAGINATORS, os.path.join(target, "paginators-1.json"))
    return folder


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One build/timbre process; restartable on the same data folder."""

    def __init__(self, workdir, flags=None, data_dir=None, env=None):
        self.workdir = workdir
        self.data_dir = data_dir or os.path.join(workdir, "data")
        self.flags = [str(f) for f in (flags or [])]
        self.env = env
        self.proc = None
        self.port = None
        self.starts = 0
        self.log_path = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, port=None):
        """Start the binary and wait until /healthz answers 200."""
        if not os.path.exists(BINARY):
            raise RuntimeError("%s is missing; run make" % BINARY)
        self.port = port or free_port()
        self.starts += 1
        self.log_path = os.path.join(
            self.workdir, "server-%d.log" % self.starts)
        argv = [BINARY, "serve", "--listen", "127.0.0.1:%d" % self.port,
                "--data-dir", self.data_dir] + self.flags
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=env)
        self.wait_healthy()
        return self

    def wait_healthy(self):
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "timbre exited with %s during start-up:\n%s"
                    % (self.proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen(
                        self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception as e:  # not listening yet
                last = e
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("timbre not healthy after %.0f s (%s):\n%s"
                           % (HEALTH_TIMEOUT_S, last, self.log_tail()))

    def stop(self, sig=signal.SIGTERM):
        """Stop by PID; returns the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        """SIGKILL: a crash, as far as the data folder can tell."""
        return self.stop(signal.SIGKILL)

    def restart(self, new_port=True):
        self.stop()
        return self.start(None if new_port else self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=40):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no log)"
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def client(self, key="test", secret="test", region=REGION,
               validate=True):
        """A boto3 voice-id client for this server that never retries.

        (In botocore's legacy retry mode "max_attempts" counts retries,
        so one attempt in total is spelled total_max_attempts.)
        """
        return boto3.client(
            "voice-id", endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=Config(retries=NO_RETRIES,
                          parameter_validation=validate))

    def unsigned_client(self):
        """A boto3 client that sends no Authorization header."""
        return boto3.client(
            "voice-id", endpoint_url=self.endpoint, region_name=REGION,
            config=Config(signature_version=botocore.UNSIGNED,
                          retries=NO_RETRIES))

    def raw(self, target, body=None, **kw):
        """A raw signed AWS JSON request; see raw_request()."""
        return raw_request(self, target, body, **kw)


def write_credentials(folder, accounts=(ALPHA, BRAVO)):
    path = os.path.join(folder, "credentials")
    with open(path, "w") as f:
        f.write("# access-key secret account\n")
        for key, secret, account in accounts:
            f.write("%s %s %s\n" % (key, secret, account))
    return path


# boto3 helpers ------------------------------------------------------------


def unique_name(prefix="d"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def create_domain(client, name=None, kms="timbre-key-1", **extra):
    """CreateDomain with a fresh name; returns the Domain dict."""
    args = {"Name": name or unique_name(),
            "ServerSideEncryptionConfiguration": {"KmsKeyId": kms}}
    args.update(extra)
    return client.create_domain(**args)["Domain"]


def expect_error(code, fn, *args, status=400, **kwargs):
    """Call fn, which must fail with error `code` and HTTP `status`.

    Returns the parsed error response (Error, ResponseMetadata and the
    error shape's extra members such as ResourceType).
    """
    try:
        result = fn(*args, **kwargs)
    except ClientError as e:
        err = e.response
    else:
        raise AssertionError("expected %s, got success: %r" % (code, result))
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    return err


def strip_meta(response):
    """A boto3 response without ResponseMetadata, for comparisons."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def list_all_domains(client, **kw):
    """Every DomainSummary by following NextToken by hand."""
    out, token = [], None
    while True:
        args = dict(kw)
        if token:
            args["NextToken"] = token
        page = client.list_domains(**args)
        out.extend(page["DomainSummaries"])
        token = page.get("NextToken")
        if not token:
            return out


# Raw HTTP -----------------------------------------------------------------


class Response:
    """Status, lower-cased headers and body of one raw exchange."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def error_type(self):
        return self.json.get("__type")

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.headers, self.body[:300])


def sign(url, body, headers, key="test", secret="test", region=REGION,
         when=None, method="POST"):
    """Headers with SigV4 (service voiceid) added, signed at `when`.

    `when` is a naive UTC datetime; None signs with the current time.
    """
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = botocore.auth.SigV4Auth(
        Credentials(key, secret), "voiceid", region)
    with signing_clock(when):
        signer.add_auth(req)
    return dict(req.headers.items())


@contextlib.contextmanager
def signing_clock(when):
    """Make botocore's SigV4 signers believe it is `when` (naive UTC).

    Works for raw requests and for boto3 calls made inside the block
    (botocore signs with awscrt when that is installed, so both signer
    modules get the frozen clock); None leaves the clock alone.
    """
    if when is None:
        yield
        return

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

        @classmethod
        def now(cls, tz=None):
            aware = when.replace(tzinfo=datetime.timezone.utc)
            return aware.astimezone(tz) if tz else aware.replace(tzinfo=None)

    clock = types.SimpleNamespace(datetime=Frozen,
                                  timezone=datetime.timezone,
                                  timedelta=datetime.timedelta)
    modules = [botocore.auth]
    try:
        modules.append(importlib.import_module("botocore.crt.auth"))
    except ImportError:
        pass
    with contextlib.ExitStack() as stack:
        for m in modules:
            stack.enter_context(mock.patch.object(m, "datetime", clock))
        yield


def utc_now_naive():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def request_headers(target, content_type=JSON_CT):
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = (
            target if target.startswith("VoiceID.") or target == ""
            else "VoiceID." + target)
    return headers


def encode_body(body):
    if body is None:
        return b"{}"
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def raw_request(server, target, body=None, signed=True, key="test",
                secret="test", region=REGION, when=None,
                content_type=JSON_CT, method="POST", path="/",
                extra_headers=None, mutate=None, conn=None, timeout=10):
    """Send one request with http.client; returns a Response.

    target is the operation name ("ListDomains" or "VoiceID.ListDomains")
    or None for no X-Amz-Target; body a dict (JSON-encoded), str or bytes.
    mutate(headers) may change the headers after signing. Pass conn to
    reuse a keep-alive connection.
    """
    data = encode_body(body) if method == "POST" else b""
    headers = request_headers(target, content_type)
    headers.update(extra_headers or {})
    if signed:
        headers = sign(server.endpoint + path, data, headers, key, secret,
                       region, when, method)
    if mutate:
        mutate(headers)
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                          timeout=timeout)
    try:
        conn.request(method, path, body=data if method == "POST" else None,
                     headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, resp.getheaders(), resp.read())
    finally:
        if own:
            conn.close()


def main(argv):
    if len(argv) == 3 and argv[1] == "data-path":
        print(aws_data_path(argv[2]))
        return 0
    sys.stderr.write("usage: harness.py data-path DIR\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
