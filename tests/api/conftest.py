# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures for the end-to-end suite.

Each test module gets its own server (so a crash caused by one module's
inputs cannot fail the others), and every test creates the domains it
looks at. Tests that need special flags ask server_factory for a server
of their own. When a test fails, the tail of the log of every server it
used is added to the report.
"""

import os
import shutil
import signal
import tempfile

import pytest

import harness

# A generous bound for one test; the slowest tests sleep a few seconds.
TEST_TIMEOUT_S = int(os.environ.get("TIMBRE_TEST_TIMEOUT", "120"))
# The default --max-domains (10) is too small for a module's tests.
MANY_DOMAINS = ["--max-domains", "1000"]

_session_dir = None


def pytest_configure(config):
    global _session_dir
    _session_dir = tempfile.mkdtemp(prefix="timbre-e2e-")
    os.environ["AWS_DATA_PATH"] = harness.aws_data_path(
        os.path.join(_session_dir, "aws-data"))
    # Keep the developer's own AWS settings out of the tests.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_RETRY_MODE",
                "AWS_MAX_ATTEMPTS", "AWS_ENDPOINT_URL"):
        os.environ.pop(var, None)


def pytest_unconfigure(config):
    if _session_dir and not os.environ.get("TIMBRE_KEEP_TMP"):
        shutil.rmtree(_session_dir, ignore_errors=True)


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout("test ran longer than %d s" % TEST_TIMEOUT_S)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(TEST_TIMEOUT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _servers_of(item):
    found = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, harness.Server):
            found.append(value)
        elif isinstance(value, ServerFactory):
            found.extend(value.servers)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seen = set()
        for s in _servers_of(item):
            if id(s) in seen:
                continue
            seen.add(id(s))
            state = "running" if s.alive() else "exited %s" % (
                s.proc.returncode if s.proc else "-")
            report.sections.append(
                ("timbre log %s (%s)" % (s.log_path, state), s.log_tail()))


def _workdir(name):
    return tempfile.mkdtemp(prefix=name + "-", dir=_session_dir)


class ServerFactory:
    """Starts servers with custom flags; stops them all at teardown."""

    def __init__(self, name):
        self.name = name
        self.servers = []

    def __call__(self, *flags, data_dir=None, env=None, start=True):
        s = harness.Server(_workdir(self.name), list(flags),
                           data_dir=data_dir, env=env)
        self.servers.append(s)
        return s.start() if start else s

    def stop_all(self):
        for s in self.servers:
            s.stop()


@pytest.fixture(scope="module")
def server(request):
    """The module's default server (account 000000000000 via key test)."""
    s = harness.Server(_workdir(request.module.__name__), MANY_DOMAINS)
    s.start()
    yield s
    crashed = not s.alive()
    s.stop()
    assert not crashed, "timbre died during %s:\n%s" % (
        request.module.__name__, s.log_tail())


@pytest.fixture
def server_factory(request):
    f = ServerFactory(request.node.name[:40].replace("/", "_"))
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


@pytest.fixture(scope="module")
def raw_client(server):
    """A boto3 client that skips client-side validation."""
    return server.client(validate=False)


@pytest.fixture
def credentials_file(tmp_path):
    return harness.write_credentials(str(tmp_path))


@pytest.fixture
def new_domain(client):
    """harness.create_domain on the module's client."""
    def make(**kw):
        return harness.create_domain(client, **kw)
    return make
