"""Shared fixtures: one real sandbox over HTTP for the whole session, and our client bound to it.

``sandbox`` is a running ``dms_magic.sandbox.start()`` on 127.0.0.1 (a free port), with a sentinel
secret so tests can check that secrets never leak into outputs. ``client`` is a
``DmsChatClient`` signed with the sandbox's key pair, instance 1.

Helpers shared by the test modules, as fixtures:

- ``to_sandbox``: the environment a notebook user has, pointed at the shared sandbox (modules that
  drive the magic or the form apply it with ``pytestmark = pytest.mark.usefixtures("to_sandbox")``).
- ``client_for(sandbox, **overrides)``: a ``DmsChatClient`` signed with that sandbox's keys
  (ClientSettings fields may be given flat: ``timeout=1``).
- ``received_entry(sandbox, request_id)``: the journal entry of one request (fails if absent).
- ``arrivals(sandbox)``: what the sandbox accepts from now on. Counted with ``sandbox.accepted``
  (never reset), not ``len(sandbox.received)``: the journal keeps the recent requests only (1000 at
  most, and 16 MB of text at most), so at the cap its length stays put whatever arrives.
"""
from __future__ import annotations

import signal

import pytest

SENTINEL_SECRET = "SENTINEL-sandbox-secret-do-not-print-3f9a"


@pytest.fixture(scope="session", autouse=True)
def _ctrl_c_raises():
    """The Ctrl-C tests send SIGINT to their own process (and to sandboxes they start). A shell that
    starts the run in the background sets SIGINT to ignored, Python then raises no
    KeyboardInterrupt, and ten tests failed for no fault of the code: restore Python's handler
    (processes started from here then get the default disposition, not "ignored")."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def sandbox():
    from dms_magic.sandbox import start

    with start(access_key_id="LTAItestsandbox00000001", access_key_secret=SENTINEL_SECRET, seed=1234,
               stream_token_interval_ms=0) as sb:  # streams at once: the suite's speed matters
        yield sb


def _client_for(sandbox, **overrides):
    """A DmsChatClient for ``sandbox``, signed with its key pair, instance 1 (any keyword overrides)."""
    from dms_magic.client import DmsChatClient
    from helpers.scripted import with_settings

    kw = {"access_key_id": sandbox.access_key_id, "access_key_secret": sandbox.access_key_secret,
          "instance_id": 1, **overrides}
    return DmsChatClient(sandbox.url, **with_settings(kw))


@pytest.fixture(scope="session", name="client_for")
def client_for_fixture():
    return _client_for


@pytest.fixture(scope="session")
def client(sandbox):
    with _client_for(sandbox) as c:
        yield c


def _received_entry(sandbox, request_id: str) -> dict:
    """The journal entry of the request with this id (newest first); fails if it was not recorded."""
    assert request_id, "no request id to look for"
    for entry in reversed(sandbox.received):
        if entry["request_id"] == request_id:
            return entry
    raise AssertionError(f"request {request_id} was not recorded by the sandbox")


@pytest.fixture(scope="session", name="received_entry")
def received_entry_fixture():
    return _received_entry


class Arrivals:
    """The requests a sandbox accepts from the moment this is made."""

    def __init__(self, sandbox):
        self._sandbox = sandbox
        self._mark = sandbox.accepted

    @property
    def count(self) -> int:
        """How many arrived since: right even when the bounded journal is full."""
        return self._sandbox.accepted - self._mark

    def entries(self) -> list[dict]:
        """Their journal entries, oldest first (fails if the journal no longer holds them all)."""
        while True:
            total, kept = self._sandbox.accepted, self._sandbox.received
            if self._sandbox.accepted == total:  # nothing arrived while reading
                break
        n = total - self._mark
        assert n <= len(kept), f"{n} requests arrived but the journal keeps only {len(kept)}"
        return kept[len(kept) - n:]


@pytest.fixture(scope="session", name="arrivals")
def arrivals_fixture():
    return Arrivals


@pytest.fixture
def to_sandbox(ip, sandbox, monkeypatch, tmp_path):
    """A clean configuration pointed at the shared sandbox, as a notebook user's would be: the
    endpoint and instance in DMS_MAGIC_*, the sandbox's AccessKey in the standard variables (its
    secret is the sentinel secret), no ~/.aliyun or ~/.alibabacloud from the machine, and the
    extension reloaded (fresh traits and histories) with a fresh session."""
    from dms_magic import session

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", sandbox.url)
    monkeypatch.setenv("DMS_MAGIC_INSTANCE_ID", "1")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", sandbox.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sandbox.access_key_secret)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    # `%config DmsChatMagics.x = v` lives on in the shell's config and would seed the reloaded
    # magic's traits; a trait already at v then never pushes v to the fresh session below.
    ip.config.pop("DmsChatMagics", None)
    ip.run_line_magic("reload_ext", "dms_magic")
    session.reset()
    yield
    session.reset()


@pytest.fixture(scope="module")
def ip():
    """A real IPython InteractiveShell with ``%load_ext dms_magic`` done (unloaded after the module)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dms_magic")
    yield shell
    shell.run_line_magic("unload_ext", "dms_magic")


@pytest.fixture
def scripted():
    """make(*script) -> a ScriptedServer answering request i with script[i]; all closed after the test."""
    from helpers.scripted import ScriptedServer

    servers = []

    def make(*script):
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


# Tiers: `soak` and `e2e` by folder; `slow` on the tests that wait on real time by design (Ctrl-C,
# restarts, retry waits, stalls, notebooks in kernels). `pytest -m "not slow and not soak and not e2e"`
# is the daily run; the whole suite runs every tier.
_TIER_BY_FOLDER = {"soak": "soak", "e2e": "e2e"}


def pytest_itemcollected(item):
    # The tier by folder, as each test is collected (-m selects by it). Under pytest-xdist the README runs
    # `--dist loadfile`: each file on one worker, in order — a browser file's tests share one notebook
    # page and build on each other. (`--dist loadgroup` with an xdist_group mark did nothing: pytest 9.2
    # reads a node id from `_id`, xdist 3.8 writes its group suffix to `_nodeid`; the tests were spread.)
    folder = item.path.parent.name
    if folder in _TIER_BY_FOLDER:
        item.add_marker(getattr(pytest.mark, _TIER_BY_FOLDER[folder]))
