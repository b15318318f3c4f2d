"""Shared fixtures: one real sandbox over HTTP for the whole session, and our client bound to it.

``sandbox`` is a running ``dms_magic.sandbox.start()`` on 127.0.0.1 (a free port), with a sentinel
secret so tests can check that secrets never leak into outputs. ``client`` is a
``DmsChatClient`` signed with the sandbox's key pair, instance 1.
"""
from __future__ import annotations

import pytest

SENTINEL_SECRET = "SENTINEL-sandbox-secret-do-not-print-3f9a"


@pytest.fixture(scope="session")
def sandbox():
    from dms_magic.sandbox import start

    with start(access_key_id="LTAItestsandbox00000001", access_key_secret=SENTINEL_SECRET, seed=1234) as sb:
        yield sb


@pytest.fixture(scope="session")
def client(sandbox):
    from dms_magic.client import DmsChatClient

    with DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id,
                       access_key_secret=sandbox.access_key_secret, instance_id=1) as c:
        yield c


@pytest.fixture(scope="module")
def ip():
    """A real IPython InteractiveShell with ``%load_ext dms_magic`` done (unloaded after the module)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dms_magic")
    yield shell
    shell.run_line_magic("unload_ext", "dms_magic")
