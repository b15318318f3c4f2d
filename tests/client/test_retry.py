"""Retries, as the user sees them: what is sent again, what the error then says, what a status line
is told. The table "reply kind -> retried?" is checked row by row in test_retry_table.py; transport
cases over real sockets and proxies in test_transport_blackbox.py (black-box). Here: the issue-20
gaps against scripted servers, the budget and the server's wait through the policy's injected
clock and sleep (no real waiting), fresh signatures per attempt, progress events, and the settings.
"""
from __future__ import annotations

import re
import json
import socket

import pytest

from dms_magic import errors, session
from dms_magic.client import ClientSettings, DmsChatClient, MockResponse, MockTransport, ProgressEvent, RetryPolicy

from helpers.scripted import AK, OK_BODY, SK, gateway, make_client, sse_body, sse_event, verify_signature

MODEL_504 = {"RequestId": "REQ-M504", "Success": True,
             "Data": {"StatusCode": "504", "Message": "upstream timeout", "Type": "server_error"}}


class FakeClock:
    """The policy's clock and sleep: sleeping advances the clock, nothing really waits."""

    def __init__(self):
        self.now, self.sleeps = 100.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _mock_client(replies, clock=None, **settings):
    replies = iter(replies)
    transport = MockTransport(lambda request: next(replies))
    clock = clock or FakeClock()
    config = ClientSettings(**settings)
    policy = RetryPolicy(config, sleep=clock.sleep, clock=clock.clock, uniform=lambda low, high: high)
    client = DmsChatClient("http://127.0.0.1:9", access_key_id=AK, access_key_secret=SK, instance_id=1,
                           settings=config, transport=transport, retry_policy=policy)
    return client, transport, clock


# -- issue 20 item 1: a model failure inside Data is never resent unless opted in -------------------
@pytest.mark.parametrize("status", ["502", "504", "500"])
def test_a_model_5xx_inside_a_200_is_sent_once_and_is_outcome_unknown(scripted, status):
    body = {**MODEL_504, "Data": {**MODEL_504["Data"], "StatusCode": status}}
    server = scripted((200, body), (200, OK_BODY))
    with make_client(server.url) as client, pytest.raises(errors.OutcomeUnknownError) as info:
        client.chat("hi")
    assert len(server.requests) == 1  # the model may have run (and billed): not sent again
    err = info.value
    assert (err.model_status, err.request_id, err.http_status) == (int(status), "REQ-M504", 200)
    assert "upstream timeout" in str(err) and "retry_unknown_outcome=True opts in" in err.hint


def test_a_model_5xx_inside_a_200_is_resent_when_opted_in(scripted):
    server = scripted((200, MODEL_504), (200, OK_BODY))
    with make_client(server.url, retry_unknown_outcome=True) as client:
        assert client.chat("hi").text == "你好"
    assert len(server.requests) == 2


def test_a_stream_whose_first_event_is_a_model_5xx_is_sent_once(scripted):
    server = scripted(sse_body("data: " + json.dumps(MODEL_504) + "\n\n"),
                      sse_body("data: " + json.dumps(sse_event("ok", finish="stop")) + "\n\n"))
    with make_client(server.url) as client, pytest.raises(errors.OutcomeUnknownError) as info:
        client.stream("hi")
    assert len(server.requests) == 1 and info.value.model_status == 504


# -- item 2: Success true with a real ErrorCode and no Data is not an empty success -----------------
def test_success_true_with_a_real_error_code_and_no_data_raises_the_code(scripted):
    body = {"RequestId": "REQ-T", "Success": True, "ErrorCode": "InvalidParameter", "ErrorMessage": "bad rule"}
    server = scripted((200, body), (200, OK_BODY))
    with make_client(server.url) as client, pytest.raises(errors.ParameterError) as info:
        client.chat("hi")
    assert (info.value.code, info.value.message, info.value.request_id) == ("InvalidParameter", "bad rule", "REQ-T")
    assert len(server.requests) == 1


def test_success_true_with_throttling_and_no_data_is_retried_as_throttling(scripted):
    body = {"RequestId": "REQ-T", "Success": True, "ErrorCode": "Throttling.User", "ErrorMessage": "slow"}
    server = scripted((200, body))
    with make_client(server.url, max_retries=1) as client, pytest.raises(errors.ThrottlingError) as info:
        client.chat("hi")
    assert info.value.code == "Throttling.User" and len(server.requests) == 2


def test_placeholder_codes_next_to_an_answer_stay_a_success(scripted):
    body = {**OK_BODY, "ErrorCode": "UnknownError", "ErrorMessage": "UnknownError"}
    server = scripted((200, body))
    with make_client(server.url) as client:
        assert client.chat("hi").text == "你好"


@pytest.mark.parametrize("first", [
    gateway(400, "SignatureDoesNotMatch"), gateway(403, "Forbidden.RAM"), gateway(404, "InvalidAccessKeyId.NotFound"),
    gateway(400, "InvalidTimeStamp.Expired"), gateway(400, "MissingParameter"),
    (200, {"RequestId": "B1", "Success": False, "ErrorCode": "InvalidParameter", "ErrorMessage": "bad rule"})],
    ids=lambda e: f"{e[0]}-{e[1].get('Code') or e[1].get('ErrorCode')}")
def test_client_errors_are_never_retried_even_when_opted_in(scripted, first):
    server = scripted(first, (200, OK_BODY))
    with make_client(server.url, retry_unknown_outcome=True) as client, pytest.raises(errors.DmsError) as info:
        client.chat("hi")
    assert len(server.requests) == 1
    assert info.value.code == (first[1].get("Code") or first[1].get("ErrorCode"))
    assert "Not retried" in info.value.hint


# -- item 3: hints say what happened ----------------------------------------------------------------
def test_an_html_502_is_not_said_to_be_retried(scripted):
    server = scripted((502, b"<html>bad gateway</html>"), (200, OK_BODY))
    with make_client(server.url) as client, pytest.raises(errors.DmsError) as info:
        client.chat("hi")
    assert len(server.requests) == 1
    hint = info.value.hint
    assert "retried automatically" not in hint and hint.count("Not retried") == 1
    assert "1 attempt" in hint and "retry_unknown_outcome=True opts in" in hint
    assert "Not retried" in str(info.value)  # the one line a notebook shows


def test_a_503_whose_wait_exceeds_the_budget_says_it_was_given_up_at_once(scripted):
    server = scripted(gateway(503, "ServiceUnavailable") + ({"x-acs-retry-after": "60000"},), (200, OK_BODY))
    with make_client(server.url, max_retry_time=5) as client, pytest.raises(errors.ServiceError) as info:
        client.chat("hi")
    assert len(server.requests) == 1
    assert info.value.retry_after == 60.0
    assert "asked to wait 60 s" in info.value.hint and "max_retry_time=5 s" in info.value.hint
    assert "retried automatically" not in info.value.hint


def test_attempts_are_bounded_and_the_hint_counts_them():
    client, transport, clock = _mock_client([MockResponse(503, json={"Code": "ServiceUnavailable"})] * 5,
                                            max_retries=2, backoff_base=0.5, backoff_cap=8)
    with client, pytest.raises(errors.ServiceError) as info:
        client.chat("hi")
    assert len(transport.requests) == 3
    assert clock.sleeps == [0.5, 1.0]  # full jitter's ceiling (uniform -> high): 0.5, then doubled
    assert "Gave up after 3 attempts over 1.5 s: max_retries=2 reached" in info.value.hint


def test_the_budget_is_not_overrun_by_a_backoff():
    client, transport, clock = _mock_client([MockResponse(503, json={"Code": "ServiceUnavailable"})] * 5,
                                            max_retries=10, max_retry_time=0.5, backoff_base=5, backoff_cap=5)
    with client, pytest.raises(errors.ServiceError) as info:
        client.chat("hi")
    assert len(transport.requests) == 1 and clock.sleeps == []
    assert "max_retry_time=0.5 s" in info.value.hint


@pytest.mark.parametrize("header,value,wait", [("x-acs-retry-after", "1500", 1.5), ("Retry-After", "2", 2.0)])
def test_the_servers_wait_is_a_floor_and_is_on_the_error(header, value, wait):
    throttled = MockResponse(429, json={"Code": "Throttling.User"}, headers={header: value})
    client, transport, clock = _mock_client([throttled, MockResponse(200, json=OK_BODY)],
                                            backoff_base=0.01, backoff_cap=0.01)
    with client:
        assert client.chat("hi").text == "你好"
    assert sum(clock.sleeps) == pytest.approx(wait)
    client, _, _ = _mock_client([throttled], max_retries=0)
    with client, pytest.raises(errors.ThrottlingError) as info:
        client.chat("hi")
    assert info.value.retry_after == pytest.approx(wait)


def test_each_retry_is_signed_afresh_with_a_new_nonce(scripted):
    server = scripted(gateway(503, "ServiceUnavailable"), gateway(400, "Throttling.User"), (200, OK_BODY))
    with make_client(server.url) as client:
        client.chat("hi")
    nonces = [r["headers"]["x-acs-signature-nonce"] for r in server.requests]
    assert len(server.requests) == 3 and len(set(nonces)) == 3
    assert all(verify_signature(r) for r in server.requests)


# -- a refused connection says how long it tried, and what to start ---------------------------------
def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_loopback_endpoint_says_how_long_it_tried_and_that_a_sandbox_may_not_run():
    port = _free_port()
    with make_client(f"http://127.0.0.1:{port}", max_retries=2) as client, \
            pytest.raises(errors.TransportError) as info:
        client.chat("hi")
    message = str(info.value)
    assert info.value.code == "ConnectionError"
    assert re.search(r"Gave up after 3 attempts over \d+\.\d s", message)  # how long it tried, said once
    assert "VPC" not in message  # the likely cause, not the network checklist
    assert "python -m dms_magic.sandbox" in message and "%dmschat config endpoint=sandbox" in message
    assert f"127.0.0.1:{port}" in message


# -- progress events ------------------------------------------------------------------------------
def test_progress_reports_connecting_first_then_retries_with_their_reason_and_delay(scripted):
    server = scripted(gateway(503, "ServiceUnavailable"), (200, OK_BODY))
    events: list[ProgressEvent] = []
    with make_client(server.url, max_retries=3) as client:
        client.chat("hi", progress=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] == "connecting" and events[0].attempt == 1 and events[0].max_attempts == 4
    assert kinds[-1] == "done" and events[-1].attempt == 2
    retry = next(e for e in events if e.kind == "retry")
    assert retry.reason == "HTTP 503 ServiceUnavailable" and retry.delay_s > 0 and retry.attempt == 1
    assert kinds.index("sent") < kinds.index("retry") < kinds.index("waiting") < len(kinds) - 1
    assert [e.attempt for e in events if e.kind == "connecting"] == [1, 2]
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(events, events[1:]))


def test_progress_reports_failure_and_a_failing_callback_never_breaks_the_call(scripted):
    server = scripted(gateway(400, "InvalidParameter"), (200, OK_BODY))
    seen = []

    def broken(event):
        seen.append(event.kind)
        raise RuntimeError("view went away")

    with make_client(server.url) as client:
        with pytest.raises(errors.ParameterError):
            client.chat("hi", progress=broken)
        assert seen[0] == "connecting" and seen[-1] == "failed"
        assert client.chat("hi", progress=broken).text == "你好"


def test_a_stream_reports_done_when_it_ends(scripted):
    server = scripted(sse_body("data: " + json.dumps(sse_event("a")) + "\n\n",
                               "data: " + json.dumps(sse_event("b", finish="stop")) + "\n\n"))
    events = []
    with make_client(server.url) as client:
        stream = client.stream("hi", progress=events.append)
        assert "done" not in [e.kind for e in events]
        assert stream.result.text == "ab"
    assert [e.kind for e in events][-1] == "done"


# -- settings -------------------------------------------------------------------------------------
def test_transport_settings_reach_the_client_through_session_configure(sandbox, monkeypatch):
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", sandbox.url)
    session.reset()
    try:
        settings = session.resolve(instance_id=1)
        monkeypatch.setattr(session, "_have_credentials", lambda: True)
        session.configure(timeout="7.5", max_retries="2", max_retry_time=12, retry_unknown_outcome="true")
        s = session.client_for(settings).settings
        assert (s.timeout, s.max_retries, s.max_retry_time, s.retry_unknown_outcome) == (7.5, 2, 12.0, True)
        session.configure(timeout=None, retry_unknown_outcome=None)
        assert session.client_for(settings).settings.retry_unknown_outcome is False  # a new client
        for bad in ({"timeout": "nan"}, {"max_retries": "-1"}, {"retry_unknown_outcome": "maybe"},
                    {"max_retry_time": "1e308"}):
            with pytest.raises(ValueError, match=next(iter(bad))):
                session.configure(**bad)
        assert session.configured()["max_retries"] == 2  # a bad value stores nothing
    finally:
        session.reset()


def test_dmschat_config_sets_the_retry_settings(ip):
    from IPython.core.error import UsageError

    session.reset()
    try:
        ip.run_line_magic("dmschat", "config retry_unknown_outcome=true max_retry_time=45 timeout=20")
        assert session.transport_settings() == {"retry_unknown_outcome": True, "max_retry_time": 45.0,
                                                "timeout": 20.0}
        with pytest.raises(UsageError, match="timeout"):
            ip.run_line_magic("dmschat", "config timeout=0")
    finally:
        session.reset()


def test_a_business_error_in_an_http_200_is_not_reported_as_http_200():
    from dms_magic.client._client import _reason_of

    err = errors.from_response(200, {"Success": False, "Code": "InstanceNotExist", "Message": "no such instance"})
    assert _reason_of(err) == "InstanceNotExist"  # the status line read "failed after 3 ms: HTTP 200 InstanceNotExist"
    assert _reason_of(errors.from_response(503, b"busy")).startswith("HTTP 503")
