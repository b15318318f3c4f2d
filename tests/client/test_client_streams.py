"""Streams that end early or are closed from another thread (issue 12 items 2 and 6).

A stream that ends without its final event (no finish reason, no end marker) is not an answer: it
raises TruncatedStreamError (a TransportError) that keeps the partial text. A body cut in the
middle of an event is a transport error too, never "unreadable stream event". ``close()`` from
another thread ends a blocked reader cleanly, and ``.result`` then raises the documented
RuntimeError.
"""
from __future__ import annotations

import json
import socket
import threading

import pytest

from dms_magic import errors
from dms_magic.client import ClientSettings, DmsChatClient

from helpers.scripted import make_client, sse_body, sse_event


def _data(event: dict) -> str:
    return "data: " + json.dumps(event) + "\n\n"


# -- item 2: a cut-off stream is not an answer -------------------------------------------------------
def test_a_complete_body_without_a_final_event_raises_with_the_partial_text(scripted):
    server = scripted(sse_body(_data(sse_event("Hello", request_id="R-T")), _data(sse_event(" wor", request_id="R-T"))))
    with make_client(server.url) as client:
        stream = client.stream("hi")
        with pytest.raises(errors.TransportError) as info:
            list(stream)
        err = info.value
        assert isinstance(err, errors.TruncatedStreamError) and err.code == "TruncatedStream"
        assert err.partial_text == "Hello wor" and err.request_id == "R-T"
        with pytest.raises(errors.TruncatedStreamError) as again:
            stream.result  # never passed off as the answer
        assert again.value is err
    assert len(server.requests) == 1  # the model ran: not retried


def test_a_chunked_body_that_ends_between_events_raises(scripted):
    gate = threading.Event()
    gate.set()
    server = scripted(("chunked", [_data(sse_event("Hel")), _data(sse_event("lo"))], gate))
    with make_client(server.url) as client, pytest.raises(errors.TruncatedStreamError) as info:
        client.stream("hi").result
    assert info.value.partial_text == "Hello"


@pytest.mark.parametrize("cut", ["between events", "mid-event"])
def test_a_content_length_body_cut_short_is_a_transport_error(scripted, cut):
    body = _data(sse_event("Hel")) + (_data(sse_event("lo")) if cut == "between events" else 'data: {"Reque')
    server = scripted(("short", body.encode()))
    with make_client(server.url) as client, pytest.raises(errors.TransportError) as info:
        list(client.stream("hi"))
    assert info.value.code == "TruncatedStream"  # not InvalidResponse ("unreadable stream event")
    assert info.value.partial_text == ("Hello" if cut == "between events" else "Hel")


def test_a_close_delimited_body_cut_mid_event_is_truncated_not_unreadable():
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         + _data(sse_event("Hel")).encode() + b'data: {"RequestId": "R-')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with make_client(f"http://127.0.0.1:{listener.getsockname()[1]}", max_retries=0) as client, \
                pytest.raises(errors.TruncatedStreamError) as info:
            list(client.stream("hi"))
        assert info.value.partial_text == "Hel"
    finally:
        listener.close()


def test_a_stream_with_its_final_event_is_an_answer(scripted):
    server = scripted(sse_body(_data(sse_event("Hel")), _data(sse_event("lo", finish="stop"))))
    with make_client(server.url) as client:
        assert client.stream("hi").result.text == "Hello"


def test_the_sandbox_stream_is_complete(client):
    stream = client.stream("hello", max_tokens=6, include_usage=True)
    assert stream.result.finish_reason == "length"


# -- item 6: close() from another thread ------------------------------------------------------------
class HangingStreamServer:
    """Each connection gets one event, then nothing (the stream stays open) until the client leaves."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn):
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                while len(body) < length:
                    body += conn.recv(65536)
                event = _data(sse_event("a")).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                             b"\r\n%x\r\n%s\r\n" % (len(event), event))
                conn.recv(1)  # until the client goes away
            except OSError:
                pass

    def close(self):
        self.listener.close()


def test_close_from_another_thread_ends_a_blocked_reader_cleanly_every_time():
    server = HangingStreamServer()
    outcomes = []
    try:
        with DmsChatClient(server.url, access_key_id="LTAItestkey0001", access_key_secret="test-secret-value",
                           instance_id=1, settings=ClientSettings(max_retries=0, timeout=20)) as client:
            for _ in range(20):
                stream = client.stream("hi")
                got_first = threading.Event()
                seen: dict = {}

                def read(stream=stream, got_first=got_first, seen=seen):
                    try:
                        for chunk in stream:
                            seen.setdefault("texts", []).append(chunk.text)
                            got_first.set()  # then blocks in the next read: nothing more comes
                        seen["ended"] = "cleanly"
                    except BaseException as exc:  # noqa: BLE001 - the outcome under test
                        seen["ended"] = repr(exc)

                reader = threading.Thread(target=read)
                reader.start()
                assert got_first.wait(10)
                stream.close()
                reader.join(10)
                assert not reader.is_alive(), "close() did not wake the reader"
                try:
                    stream.result
                except RuntimeError as exc:
                    result = "RuntimeError" if "closed" in str(exc) else repr(exc)
                except BaseException as exc:  # noqa: BLE001
                    result = repr(exc)
                else:
                    result = "a result"
                outcomes.append((seen.get("ended"), seen.get("texts"), result))
    finally:
        server.close()
    assert outcomes == [("cleanly", ["a"], "RuntimeError")] * 20


@pytest.mark.parametrize("body", ["", 'data: {"RequestId": "R-E", "Succ'], ids=["empty", "cut-first-event"])
def test_a_stream_that_ends_before_its_first_event_is_outcome_unknown(scripted, body):
    cut = ("short", body.encode())
    server = scripted(cut, cut, sse_body(_data(sse_event("ok", finish="stop"))))
    with make_client(server.url) as client, pytest.raises(errors.OutcomeUnknownError) as info:
        client.stream("hi")
    assert "may have processed" in str(info.value) and len(server.requests) == 1
    with make_client(server.url, retry_unknown_outcome=True) as client:  # opted in: asked again
        assert client.stream("hi").result.text == "ok"
    assert len(server.requests) == 3


# -- issue 20 item 4: streamed tool calls without an index stay apart ---------------------------------
def _tool_event(calls, finish=None):
    event = sse_event("", finish=finish)
    event["Data"]["Choices"][0]["Message"]["ToolCalls"] = calls
    return event


def test_tool_calls_without_index_in_separate_events_are_two_calls(scripted):
    server = scripted(sse_body(
        _data(_tool_event([{"Id": "c0", "Type": "function", "Function": {"Name": "f", "Arguments": "{}"}}])),
        _data(_tool_event([{"Id": "c1", "Type": "function", "Function": {"Name": "g", "Arguments": '{"a":'}}])),
        _data(_tool_event([{"Function": {"Arguments": " 1}"}}], finish="tool_calls"))))
    with make_client(server.url) as client:
        calls = client.stream("hi").result.tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("c0", "f", {}), ("c1", "g", {"a": 1})]


# -- issue 20 item 5: increments that happen to extend each other lose no text --------------------------
@pytest.mark.parametrize("pieces", [["ab", "abc"], ["哈", "哈哈", "哈哈哈"]], ids=["ab-abc", "ha"])
def test_increments_that_extend_each_other_lose_no_text_and_say_it_is_ambiguous(scripted, pieces):
    events = [_data(sse_event(p, finish="stop" if i == len(pieces) - 1 else None)) for i, p in enumerate(pieces)]
    server = scripted(sse_body(*events))
    with make_client(server.url) as client:
        stream = client.stream("hi")
        printed = "".join(chunk.text for chunk in stream)
        result = stream.result
    assert result.text == printed == "".join(pieces)  # every character that came, once each
    assert result.stream_text == "ambiguous" and "ambiguous" in repr(result)


def test_a_stream_declared_text_so_far_is_read_as_text_so_far(scripted):
    pieces = ["哈", "哈哈", "哈哈哈"]
    events = [_data(sse_event(p, finish="stop" if i == 2 else None)) for i, p in enumerate(pieces)]
    server = scripted(sse_body(*events))
    with make_client(server.url) as client:
        stream = client.stream("hi", parameters='{"incremental_output": false}')
        assert [chunk.text for chunk in stream] == ["哈", "哈", "哈"]
        assert (stream.result.text, stream.result.stream_text) == ("哈哈哈", "text_so_far")
