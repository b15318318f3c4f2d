"""Fixtures shared by the reliability tests."""
import pytest

from _scripted import ScriptedServer


@pytest.fixture
def scripted():
    """make(*script) -> a ScriptedServer answering request i with script[i]; all closed after the test."""
    servers = []

    def make(*script):
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for server in servers:
        server.close()
