"""Streaming you can see: the sandbox spaces streamed tokens like a model, and nothing else.

The pauses are observed by replacing the pacing's sleep with a recorder (no timed assertions):
the in-process sandbox a notebook gets streams at a model's pace (20-40 tokens/s), plain calls
and the test suite's sandbox are not paced at all, and pacing never changes what is streamed.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from dms_magic.sandbox import sse, start

PROMPT = "请用一段话解释什么是数据脱敏。"


@pytest.fixture
def pauses(monkeypatch):
    recorded: list[float] = []
    monkeypatch.setattr(sse, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def default_backend(monkeypatch, tmp_path):
    """A notebook user's setup: no endpoint, no credentials, so the in-process sandbox answers."""
    from dms_magic import session

    for name in ("DMS_MAGIC_ENDPOINT", "DMS_MAGIC_INSTANCE_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID",
                 "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    session.reset()
    yield
    session.reset()


def test_the_notebook_sandbox_streams_at_a_models_pace_and_answers_plain_calls_at_once(default_backend, pauses):
    import dms_magic

    plain = dms_magic.chat(PROMPT, seed=3)
    assert plain.backend == "sandbox" and pauses == []  # a plain call (and so a batch) is not paced
    stream = dms_magic.stream(PROMPT, seed=3, logprobs=True)
    assert len(list(stream)) > 20
    assert stream.result.text == plain.text
    assert len(pauses) == len(stream.result.token_logprobs)  # between every two events (tokens, then the end)
    assert len(set(pauses)) == 1 and 20 <= 1 / pauses[0] <= 40  # tokens per second


def test_the_suites_sandbox_streams_at_once(client, pauses):
    assert len(list(client.stream(PROMPT, seed=3))) > 20
    assert pauses == []


def test_pacing_changes_when_not_what(client, pauses):
    with start(stream_token_interval_ms=5) as paced_sandbox:
        from dms_magic.client import DmsChatClient

        with DmsChatClient(paced_sandbox.url, access_key_id=paced_sandbox.access_key_id,
                           access_key_secret=paced_sandbox.access_key_secret, instance_id=1) as paced_client:
            stream = paced_client.stream(PROMPT, seed=8, logprobs=True, include_usage=True)
            chunks = list(stream)
    # one event per token and a closing one: a pause between every two of them
    assert chunks and pauses == [0.005] * len(stream.result.token_logprobs)
    unpaced = client.stream(PROMPT, seed=8, logprobs=True, include_usage=True)
    list(unpaced)
    assert stream.result.text == unpaced.result.text
    assert stream.result.token_logprobs == unpaced.result.token_logprobs
    assert stream.result.usage_dict == unpaced.result.usage_dict


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_a_bad_interval_is_refused_naming_the_knob(bad):
    with pytest.raises(ValueError, match="stream_token_interval_ms=.* is invalid: expected milliseconds >= 0"):
        start(stream_token_interval_ms=bad)


def test_the_command_line_names_its_flag():
    result = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--port", "0",
                             "--stream-token-interval-ms", "-5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot start the sandbox: --stream-token-interval-ms -5.0 is invalid" in result.stderr
