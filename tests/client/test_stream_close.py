"""ChatStream.close() and .result: closing mid-way drops the connection; a failed stream's .result
re-raises its error instead of returning None."""
from __future__ import annotations

import json
import socket
import threading

import pytest

from dms_magic import errors
from dms_magic.client import ClientSettings, DmsChatClient


def _event(text: str) -> bytes:
    body = {"RequestId": "REQ-S", "Success": True,
            "Data": {"Choices": [{"Message": {"Content": text, "Role": "assistant"}}], "Model": "qwen-plus"}}
    data = f"data: {json.dumps(body)}\n\n".encode("utf-8")
    return b"%x\r\n%s\r\n" % (len(data), data)


class EndlessStreamServer:
    """Answers one request with a chunked SSE stream that never ends on its own, and records whether
    (and when) the client dropped the connection."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.first_sent = threading.Event()
        self.client_gone = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")][0])
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + _event("a"))
            self.first_sent.set()
            try:
                # The client reads one event and closes; a dropped connection reads as EOF here.
                if conn.recv(1) == b"":
                    self.client_gone.set()
            except OSError:
                self.client_gone.set()

    def close(self):
        self.listener.close()


@pytest.fixture
def endless():
    server = EndlessStreamServer()
    yield server
    server.close()


def test_close_mid_stream_drops_the_connection_and_stops_iteration(endless):
    with DmsChatClient(endless.url, access_key_id="LTAItestkey0001", access_key_secret="test-secret-value",
                       instance_id=1, settings=ClientSettings(max_retries=0)) as client:
        stream = client.stream("hi")
        assert next(stream).text == "a"
        stream.close()
        assert endless.client_gone.wait(5), "the server still holds an open connection after close()"
        assert list(stream) == []  # nothing more after close
        with pytest.raises(RuntimeError, match="closed"):
            stream.result  # a partial answer is not passed off as the result
        assert [c.text for c in stream.chunks] == ["a"]


def test_close_mid_stream_over_the_sandbox(client):
    stream = client.stream("hello", max_tokens=80)
    assert next(stream).text
    stream.close()
    assert list(stream) == []
    stream.close()  # idempotent
    assert client.chat("hello", max_tokens=3).text  # the client still works afterwards


def test_close_after_the_end_keeps_the_result(client):
    with client.stream("hello", max_tokens=5, seed=5) as stream:
        text = "".join(chunk.text for chunk in stream)
    assert stream.result.text == text


def test_an_error_in_the_first_event_is_raised_by_stream_itself(client):
    # The first event is read before stream() returns (until then the call may be retried), so an
    # error the service reports there is raised at once, like chat() raises it.
    with pytest.raises(errors.DmsError) as info:
        client.stream("hello", max_tokens=5, instance_id=987654)
    assert info.value.code == "InstanceNotExist"


def _mid_stream_error_server():
    from helpers.scripted import ScriptedServer, sse_body, sse_event

    failure = {"RequestId": "REQ-S", "Success": False, "ErrorCode": "InternalError", "ErrorMessage": "model crashed"}
    return ScriptedServer([sse_body("data: " + json.dumps(sse_event("a")) + "\n\n",
                                    "data: " + json.dumps(failure) + "\n\n")])


def test_result_reraises_the_error_that_ended_the_stream():
    server = _mid_stream_error_server()
    try:
        with DmsChatClient(server.url, access_key_id="LTAItestkey0001", access_key_secret="test-secret-value",
                           instance_id=1) as client:
            stream = client.stream("hi")
            with pytest.raises(errors.DmsError) as first:
                list(stream)
            assert first.value.code == "InternalError"
            with pytest.raises(errors.DmsError) as again:
                stream.result  # not a silent None
            assert again.value is first.value
            assert [c.text for c in stream.chunks] == ["a"]
    finally:
        server.close()


def test_result_raises_when_read_first_on_a_failing_stream():
    server = _mid_stream_error_server()
    try:
        with DmsChatClient(server.url, access_key_id="LTAItestkey0001", access_key_secret="test-secret-value",
                           instance_id=1) as client:
            stream = client.stream("hi")
            for _ in range(2):
                with pytest.raises(errors.DmsError, match="model crashed"):
                    stream.result
    finally:
        server.close()
