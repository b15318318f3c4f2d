"""Issue 12, item 4: Ctrl-C during chat_many stops sending (queued prompts and retries alike), rows
in flight are "outcome unknown", and resume= does not send them a second time unless asked."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from helpers.scripted import ScriptedServer, gateway, make_client
from dms_magic.batch import chat_many
from dms_magic.errors import OutcomeUnknownError


def _interrupt_when(condition, timeout=30.0):
    """Press Ctrl-C (SIGINT to this process) as soon as ``condition()`` holds."""
    def watch():
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True).start()


def _batch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("dms-batch")]


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_from_sending_again(capsys):
    # Every request takes 0.2 s and fails with a retryable 503: the client would retry 10 times.
    server = ScriptedServer([("sleep", 0.2, gateway(503, "ServiceUnavailable"))])
    try:
        with make_client(server.url, max_retries=10) as client:
            _interrupt_when(lambda: len(server.requests) >= 4)
            frame = chat_many([f"prompt {i}" for i in range(20)], client=client, concurrency=4, progress=False)
            notice = capsys.readouterr().err.strip()
            assert "\n" not in notice and notice.startswith("chat_many stopped (Ctrl-C)")  # one line, no traceback
            for thread in _batch_threads():  # the workers end: they are not left retrying
                thread.join(timeout=10)
            assert not _batch_threads()
            sent = len(server.requests)
            time.sleep(0.5)  # ample time for a retry (backoff is at most 10 ms here)
            assert len(server.requests) == sent, "a request was sent after chat_many returned"
        assert frame.attrs["interrupted"] is True
        assert 1 <= len(frame) <= 4  # the queued prompts were not sent; those in flight are rows
        assert set(frame["error_code"]) == {"OutcomeUnknown"}
        assert frame.attrs["outcome_unknown"] == len(frame)
        assert frame["error_message"].str.contains("may have answered").all()
    finally:
        server.close()


class UnknownOutcomeClient:
    """A client whose calls for prompts containing "lost" time out after sending."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def chat(self, messages, **params):
        prompt = messages[-1]["content"]
        with self.lock:
            self.calls.append(prompt)
        if "lost" in prompt:
            raise OutcomeUnknownError("no answer within 60 s after the request was sent")
        from dms_magic.wire.result import ChatResult

        return ChatResult.from_response({"RequestId": "R", "Success": True, "Data": {"Choices": [
            {"FinishReason": "stop", "Message": {"Content": "ok", "Role": "assistant"}}]}})


def test_outcome_unknown_rows_are_recorded_and_not_resent_unless_asked():
    prompts = ["a", "lost b", "c", "lost d"]
    client = UnknownOutcomeClient()
    first = chat_many(prompts, client=client, progress=False)
    assert list(first["error_code"].fillna("")) == ["", "OutcomeUnknown", "", "OutcomeUnknown"]
    assert first.attrs["outcome_unknown"] == 2

    client.calls.clear()
    second = chat_many(prompts, client=client, progress=False, resume=first)
    assert client.calls == []  # nothing resent: the answered rows and the outcome-unknown ones are kept
    assert second.attrs["reused"] == 4

    third = chat_many(prompts, client=client, progress=False, resume=first, resend_unknown=True)
    assert sorted(client.calls) == ["lost b", "lost d"]  # asked to: only those
    assert third.attrs["reused"] == 2
