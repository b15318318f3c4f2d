"""The retry table (client/_retry.py KINDS) against behaviour, and against the docs.

For every row, one reply of that kind is played through MockTransport with and without the opt-in
(``retry_unknown_outcome``): a "retried" kind is sent again, an "opt-in" kind only when opted in, a
"never" kind never. The failed attempt is classified into exactly that row. docs/architecture.md
shows the table as generated from KINDS.
"""
from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path

import pytest
from urllib3 import exceptions as u3

from dms_magic import errors
from dms_magic.client import ClientSettings, DmsChatClient, MockResponse, MockTransport, NotSent, RetryPolicy
from dms_magic.client import _retry

from helpers.scripted import AK, OK_BODY, SK, sse_event

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _gateway(status, code):
    return MockResponse(status, json={"RequestId": "R", "Code": code, "Message": f"{code} here"})


def _raise(exc):
    def play():
        raise exc
    return play


def _cert_error():
    err = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    err.verify_code, err.verify_message = 18, "self-signed certificate"
    return err


# One example per row: (first reply, streamed call?). The reply after it is a normal answer.
EXAMPLES = {
    "throttling": (lambda: _gateway(400, "Throttling.User"), False),
    "service-unavailable": (lambda: MockResponse(503, content=b"<html>busy</html>",
                                                 headers={"Content-Type": "text/html"}), False),
    "connection-refused": (_raise(ConnectionRefusedError(111, "Connection refused")), False),
    "connect-timeout": (_raise(u3.ConnectTimeoutError(None, "timed out")), False),
    "proxy-tunnel-refused": (_raise(OSError("Tunnel connection failed: 403 Forbidden")), False),
    "failed-before-sent": (_raise(NotSent(ConnectionResetError(104, "reset"))), False),
    "gateway-error": (lambda: MockResponse(502, content=b"<html>bad gateway</html>",
                                           headers={"Content-Type": "text/html"}), False),
    "model-failure": (lambda: MockResponse(200, json={"RequestId": "M", "Success": True, "Data": {
        "StatusCode": "504", "Message": "upstream timeout", "Type": "server_error"}}), False),
    "failed-after-sent": (_raise(TimeoutError("timed out")), False),
    "stream-ended-early": (lambda: MockResponse(200, content=b"", headers={"Content-Type": "text/event-stream"}),
                           True),
    "tls": (_raise(_cert_error()), False),
    "name-resolution": (_raise(socket.gaierror(-2, "Name or service not known")), False),
    "proxy-auth": (lambda: MockResponse(407, content=b""), False),
    "redirect": (lambda: MockResponse(302, content=b"", headers={"Location": "https://elsewhere.example/"}), False),
    "empty-answer": (lambda: MockResponse(200, json={"RequestId": "E", "Success": True}), False),
    "client-error": (lambda: _gateway(400, "InvalidParameter"), False),
}


def _answer(streamed):
    if streamed:
        return MockResponse(200, content="data: " + json.dumps(sse_event("ok", finish="stop")) + "\n\n",
                            headers={"Content-Type": "text/event-stream"})
    return MockResponse(200, json=OK_BODY)


def _play(kind, opted_in):
    first, streamed = EXAMPLES[kind]
    replies = iter([first, lambda: _answer(streamed)])
    transport = MockTransport(lambda request: next(replies)())
    settings = ClientSettings(max_retries=3, retry_unknown_outcome=opted_in)
    policy = RetryPolicy(settings, sleep=lambda s: None)
    client = DmsChatClient("http://127.0.0.1:9", access_key_id=AK, access_key_secret=SK, instance_id=1,
                           settings=settings, transport=transport, retry_policy=policy)
    try:
        (client.stream("hi").result if streamed else client.chat("hi"))
        return len(transport.requests), None
    except errors.DmsError as exc:
        return len(transport.requests), exc


def test_every_row_has_an_example():
    assert set(EXAMPLES) == {k.name for k in _retry.KINDS}


@pytest.mark.parametrize("kind", [k.name for k in _retry.KINDS])
def test_each_reply_kind_is_retried_as_the_table_says(kind):
    row = _retry.BY_NAME[kind]
    sent, err = _play(kind, opted_in=False)
    if row.verdict is _retry.Verdict.RETRY:
        assert (sent, err) == (2, None)
        return
    assert sent == 1 and err is not None
    assert _retry.classify(err).name == kind or isinstance(err, errors.OutcomeUnknownError)
    assert "retried" not in err.hint.replace("Not retried", "") or "retry_unknown_outcome" in err.hint
    sent_opted, err_opted = _play(kind, opted_in=True)
    if row.verdict is _retry.Verdict.OPT_IN:
        assert (sent_opted, err_opted) == (2, None)
        assert "retry_unknown_outcome=True opts in" in err.hint  # the hint names the opt-in
    else:
        assert sent_opted == 1 and err_opted is not None and err.hint.split(". ")[-1].startswith("Not retried")


def test_the_docs_show_the_table_generated_from_the_policy():
    assert _retry.table_markdown() in ARCHITECTURE.read_text(encoding="utf-8"), (
        "docs/architecture.md's retry table differs from client/_retry.py KINDS: paste "
        "`python -c 'from dms_magic.client import _retry; print(_retry.table_markdown())'`")


@pytest.mark.parametrize("err, kind", [
    (errors.from_response(429, {"Code": "Throttling"}), "throttling"),
    (errors.from_response(400, {"Code": "Throttling.User"}), "throttling"),
    (errors.from_response(200, {"Success": True, "Data": {"StatusCode": "429"}}), "throttling"),
    (errors.from_response(503, {"Code": "ServiceUnavailable"}), "service-unavailable"),
    (errors.from_response(503, b"<html>busy</html>"), "service-unavailable"),
    (errors.from_response(500, {"Code": "InternalError"}), "gateway-error"),
    (errors.from_response(502, b"<html>bad gateway</html>"), "gateway-error"),
    (errors.from_response(504, {"Code": "GatewayTimeout"}), "gateway-error"),
    (errors.ParameterError("x", code="InvalidParameter", http_status=500), "gateway-error"),  # any 5xx
    (errors.from_response(200, {"Success": True, "Data": {"StatusCode": "503"}}), "model-failure"),
    (errors.from_response(200, {"Success": True, "Data": {"StatusCode": "400"}}), "client-error"),
    (errors.from_response(400, {"Code": "SignatureNonceUsed"}), "client-error"),
    (errors.from_response(403, {"Code": "Forbidden.RAM"}), "client-error"),
    (errors.DmsError("x", code="SomethingNew", http_status=400), "client-error"),
    (errors.OutcomeUnknownError("x"), "stream-ended-early"),
])
def test_errors_however_built_fall_in_one_row(err, kind):
    assert _retry.classify(err).name == kind
