"""Retries that never double-bill (issue 13 build 3, issue 12 item 13), over real local servers.

A request is repeated only when it provably did not reach the model (throttling, 503, a connection
that failed before the request was fully written). A read timeout or a dropped connection after the
request was sent raises OutcomeUnknownError, and the service's own journal shows one request; only
``retry_on_timeout=True`` repeats it. The server's requested wait (``x-acs-retry-after`` in ms,
``Retry-After`` in s) is honoured, as the server's own arrival times show. Streams follow the same
rule until their first event. The retry budget outlasts a service restart.
"""
from __future__ import annotations

import json
import socket
import struct
import threading

import pytest

from dms_magic import errors, session
from dms_magic.client import DEFAULT_MAX_RETRY_TIME, DmsChatClient
from dms_magic.sandbox import start
from dms_magic.sandbox import FaultConfig

from helpers.scripted import OK_BODY, ScriptedServer, gateway, make_client, sse_body, sse_event


@pytest.fixture
def slow_sandbox():
    """A sandbox whose faults each test sets (``set_faults``)."""
    with start(seed=7) as sb:
        yield sb


def _client(sb, **kw):
    return DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                         instance_id=1, backoff_base=0.01, backoff_cap=0.05, **kw)


# -- timeouts after the request was read ------------------------------------------------------------
@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
def test_a_reply_held_past_the_timeout_is_sent_once_and_reported_as_outcome_unknown(slow_sandbox, arrivals,
                                                                                     streamed):
    slow_sandbox.set_faults(FaultConfig(slow_reply_ms=1500))
    sent = arrivals(slow_sandbox)
    with _client(slow_sandbox, timeout=0.3) as client, pytest.raises(errors.OutcomeUnknownError) as info:
        if streamed:
            list(client.stream("hello", max_tokens=5))
        else:
            client.chat("hello", max_tokens=5)
    assert sent.count == 1  # the service did get (and ran) it; nothing was sent again
    assert info.value.code == "OutcomeUnknown" and "may have processed" in str(info.value)
    assert not errors.is_retryable(info.value)


def test_retry_on_timeout_repeats_a_held_reply(slow_sandbox, arrivals):
    slow_sandbox.set_faults(FaultConfig(slow_reply_ms=1500, slow_replies=1))  # only the first answer is held
    sent = arrivals(slow_sandbox)
    with _client(slow_sandbox, timeout=0.3, retry_on_timeout=True) as client:
        result = client.chat("hello", max_tokens=5)
    assert sent.count == 2 and result.text
    assert sent.entries()[-1]["request_id"] == result.request_id


def test_retry_on_timeout_is_bounded_by_max_retries(slow_sandbox, arrivals):
    slow_sandbox.set_faults(FaultConfig(slow_reply_ms=800))
    sent = arrivals(slow_sandbox)
    with _client(slow_sandbox, timeout=0.2, retry_on_timeout=True, max_retries=2) as client, \
            pytest.raises(errors.OutcomeUnknownError):
        client.chat("hello", max_tokens=5)
    assert sent.count == 3


# -- the server's requested wait ---------------------------------------------------------------------
@pytest.mark.parametrize("header", [("x-acs-retry-after", "2000"), ("Retry-After", "2")],
                         ids=["x-acs-retry-after-ms", "Retry-After-s"])
def test_throttling_waits_as_long_as_the_server_asks(header):
    server = ScriptedServer([(429, gateway(429, "Throttling")[1], dict([header])), (200, OK_BODY)])
    try:
        with make_client(server.url) as client:  # its own backoff is ~1 ms: the server's wait must win
            assert client.chat("hi").text == "你好"
        first, second = server.requests
        assert second["time"] - first["time"] >= 1.8
    finally:
        server.close()


def test_the_sandbox_sends_x_acs_retry_after_on_throttling(slow_sandbox, arrivals):
    slow_sandbox.set_faults(FaultConfig(throttle_qps=1, throttle_retry_after_ms=1500))
    sent = arrivals(slow_sandbox)
    with _client(slow_sandbox) as client:
        client.chat("one", max_tokens=2)
        client.chat("two", max_tokens=2)  # throttled (2nd in the same second), waits 1.5 s, then answered
    first, second = sent.entries()
    assert second["time"] - first["time"] >= 1.3


# -- connections that failed before the request was written --------------------------------------
class ResetWhileSendingServer:
    """Resets the first connection after reading a little of the request (the body still being
    sent), then answers the next connection normally."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client's send must block
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.complete_requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # RST: the client's write fails mid-body
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            while len(body) < length:
                body += conn.recv(65536)
            self.complete_requests += 1
            payload = json.dumps(OK_BODY).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(payload), payload))

    def close(self):
        self.listener.close()


def test_a_connection_reset_before_the_request_was_written_is_retried():
    from urllib3.connection import HTTPConnection

    server = ResetWhileSendingServer()
    try:
        with make_client(server.url) as client:  # retry_on_timeout stays False: this retry is safe
            # A small, fixed send buffer (loopback's autotuning would otherwise take the whole body
            # in at once), so the body is still being written when the server resets.
            client._http.pool.conn_kw["socket_options"] = [
                *HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)]
            assert client.chat("你好" * 3000).text == "你好"
        assert server.complete_requests == 1
    finally:
        server.close()


def test_a_service_restart_within_the_retry_budget_is_ridden_out():
    # Killed, back on the same port 6 s later. With the retry settings' defaults (only the backoff
    # start is shortened), the call outlasts it: 4 retries in ~5 s ran out before the fix.
    first = ScriptedServer(["close-after"])  # answers, then closes the kept-alive connection
    port = int(first.url.rsplit(":", 1)[1])
    with make_client(first.url, backoff_base=0.5, backoff_cap=8.0) as client:
        assert client.chat("before").text == "你好"
        first.close()
        restarted: list[ScriptedServer] = []
        timer = threading.Timer(6.0, lambda: restarted.append(ScriptedServer([(200, OK_BODY)], port=port)))
        timer.start()
        try:
            assert client.chat("during the restart").text == "你好"
            assert len(restarted[0].requests) == 1
        finally:
            timer.join()
            for server in restarted:
                server.close()
    assert 30 <= DEFAULT_MAX_RETRY_TIME <= 60


# -- streams: retried until the first event, never after ----------------------------------------------
def test_a_stream_refused_in_its_first_event_is_retried():
    throttled = {"RequestId": "T1", "Success": False, "ErrorCode": "Throttling.User", "ErrorMessage": "slow down"}
    ok = sse_body("data: " + json.dumps(sse_event("a")) + "\n\n",
                  "data: " + json.dumps(sse_event("b", finish="stop")) + "\n\n")
    server = ScriptedServer([sse_body("data: " + json.dumps(throttled) + "\n\n"), ok])
    try:
        with make_client(server.url) as client:
            assert client.stream("hi").result.text == "ab"
        assert len(server.requests) == 2
    finally:
        server.close()


def test_a_stream_that_breaks_after_its_first_event_is_never_retried():
    events = "data: " + json.dumps(sse_event("Hel")) + "\n\n" + "data: " + json.dumps(sse_event("lo"))
    # Content-Length promises more than is sent: the body is cut in the middle of the second event.
    server = ScriptedServer([("short", events.encode())])
    try:
        with make_client(server.url, retry_on_timeout=True) as client:
            stream = client.stream("hi")
            with pytest.raises(errors.TransportError) as info:
                list(stream)
        assert len(server.requests) == 1
        assert isinstance(info.value, errors.TruncatedStreamError) and info.value.partial_text == "Hel"
    finally:
        server.close()


# -- configuration ----------------------------------------------------------------------------------
def test_transport_settings_reach_the_client_through_session_configure(slow_sandbox, monkeypatch):
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", slow_sandbox.url)
    session.reset()
    try:
        settings = session.resolve(instance_id=1)
        monkeypatch.setattr(session, "_have_credentials", lambda: True)
        session.configure(timeout="7.5", max_retries="2", max_retry_time=12, retry_on_timeout="true")
        client = session.client_for(settings)
        assert (client.timeout[1], client.max_retries, client.max_retry_time, client.retry_on_timeout) == (
            7.5, 2, 12.0, True)
        session.configure(timeout=None, retry_on_timeout=None)
        assert session.client_for(settings).retry_on_timeout is False  # a new client for new settings
        for bad in ({"timeout": "nan"}, {"max_retries": "-1"}, {"retry_on_timeout": "maybe"},
                    {"max_retry_time": "1e308"}):
            with pytest.raises(ValueError, match=next(iter(bad))):
                session.configure(**bad)
        assert session.configured()["max_retries"] == 2  # a bad value stores nothing
    finally:
        session.reset()


def test_dmschat_config_sets_the_retry_settings():
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dms_magic")
    session.reset()
    try:
        shell.run_line_magic("dmschat", "config retry_on_timeout=true max_retry_time=45 timeout=20")
        assert session.transport_settings() == {"retry_on_timeout": True, "max_retry_time": 45.0, "timeout": 20.0}
        with pytest.raises(UsageError, match="timeout"):
            shell.run_line_magic("dmschat", "config timeout=0")
    finally:
        session.reset()
        shell.run_line_magic("unload_ext", "dms_magic")
