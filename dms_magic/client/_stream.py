"""The stream reader: a ChatWithDesensitizeSSE reply as StreamChunks, then one ChatResult.

The first event is read inside the client's send loop (until then an attempt may be retried, see
_retry.py); ``ChatStream`` reads the rest and is never retried. A stream must end with its final
event (a finish reason or an end marker): one that ends or breaks off before raises
TruncatedStreamError with the text so far. ``close()`` works from any thread.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generator, Iterator

from dms_magic import errors
from dms_magic.wire import jsonread
from dms_magic.client._retry import is_model_failure, model_failure_error
from dms_magic.client._sse import parse_sse
from dms_magic.client._transport import Response
from dms_magic.defaults import SSE_ACTION
from dms_magic.wire.request import ChatRequest
from dms_magic.wire.result import ChatResult, StreamChunk, StreamState, assemble, declared_stream_text

_END = "[DONE]"  # OpenAI's end marker: DMS does not send it, a proxy might


def event_data(response: Response) -> Iterator[tuple[str, bool]]:
    """(data, complete) per SSE event with data, keep-alives skipped. ``complete`` is False for a
    last event that the body ended in the middle of. A plain JSON reply is one event."""
    if "json" in response.headers.get("Content-Type", "").lower():
        yield response.read().decode("utf-8", "replace"), True
        return
    for event in parse_sse(response.iter_bytes()):
        if event.data.strip():
            yield event.data, event.complete


class _CutOff(Exception):
    """The body ended inside an event (raised by _decode_event; the caller builds the error)."""


def _decode_event(data: str, complete: bool) -> Any:
    try:
        return jsonread.loads(data)  # depth-limited
    except ValueError:
        if not complete:  # the body ended inside this event: a cut-off stream, not a bad event
            raise _CutOff from None
        raise errors.DmsError(f"unreadable stream event: {data[:200]!r}", code="InvalidResponse") from None


def first_event(response: Response) -> Any:
    """(first event's body, the remaining events) of a stream that started well, or the DmsError
    that its first event carries (an error event, or the body ending before any event). A
    transport error while reading is raised (mapped: the request was sent)."""
    events = event_data(response)
    for data, complete in events:
        if data.strip() == _END:
            return None, iter([(_END, True)])
        try:
            body = _decode_event(data, complete)
        except _CutOff:
            return _ended_early("in the middle of its first event", response)
        except errors.DmsError as exc:
            return exc
        if errors.is_failure(200, body):
            return errors.from_response(response.status, body, headers=response.headers, action=SSE_ACTION)
        return body, events
    return _ended_early("before its first event", response)


def _ended_early(where: str, response: Response) -> errors.OutcomeUnknownError:
    return errors.OutcomeUnknownError(
        f"the stream ended {where}: the service may have processed (and billed) the request",
        request_id=response.headers.get("x-acs-request-id"))


def _truncated(what: str, partial_text: str, request_id: str | None) -> errors.TruncatedStreamError:
    err = errors.TruncatedStreamError(
        f"{what}: the answer is incomplete ({len(partial_text)} characters received, kept on .partial_text); "
        "the service processed the request, so it was not retried", request_id=request_id)
    err.partial_text = partial_text
    return err


def _is_final(finish_reason: Any) -> bool:
    return finish_reason not in (None, "", "null")  # DashScope sends "null" on events before the last


class ChatStream:
    """Iterate for StreamChunks; ``.result`` (the assembled ChatResult) once the stream has ended
    (reading ``.result`` early consumes the rest of the stream).

    A stream that ends without its final event (no finish reason, no end marker) or breaks off
    raises ``errors.TruncatedStreamError`` (code TruncatedStream, ``.partial_text``). ``close()``
    may be called from any thread: a reader blocked on the network returns at once and the
    iteration ends quietly; ``.result`` then raises RuntimeError (the answer is partial).
    """

    def __init__(self, response: Response, *, request: ChatRequest, started: float, backend: str,
                 first: Any = None, events: Iterator[tuple[str, bool]] | None = None,
                 on_end: Callable[[Exception | None], None] | None = None):
        self._response = response
        self.request = request
        self.backend = backend
        self._started = started
        self._first = first  # the first event's body, read while the call could still be retried
        self._events = events if events is not None else event_data(response)
        self._chunks: list[StreamChunk] = []
        # increments or text so far: the request's own word when it gave one, else the events'
        self._state = StreamState(declared=declared_stream_text(request))
        self._iterator = self._run()
        self._reading = threading.Lock()  # held by whichever thread is stepping the iterator
        self._result: ChatResult | None = None
        self._error: Exception | None = None  # why the stream failed, re-raised by .result
        self._closed = False
        self._ended = False  # an explicit end marker arrived
        self._on_end = on_end

    def __iter__(self) -> Iterator[StreamChunk]:
        return self

    def __next__(self) -> StreamChunk:
        with self._reading:
            return next(self._iterator)

    @property
    def chunks(self) -> list[StreamChunk]:
        return list(self._chunks)

    @property
    def result(self) -> ChatResult:
        """The assembled answer; raises the stream's error if it failed (never a silent None)."""
        if self._result is None and self._error is None:
            for _ in self:
                pass
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError("the stream was closed or interrupted before it ended, so it has no result; "
                               "the chunks received so far are in .chunks")
        return self._result

    def close(self) -> None:
        """Stop reading and drop the connection; iterating afterwards yields nothing more. Safe from
        another thread while one is reading."""
        self._closed = True
        if self._reading.acquire(blocking=False):
            try:
                self._iterator.close()  # not being read: end it here (its finally drops the connection)
            finally:
                self._reading.release()
            return
        # Another thread is inside a read: shut the socket's reading side so that read returns now;
        # that thread then sees _closed, ends the iteration and drops the connection itself.
        try:
            self._response.shutdown()
        except (ValueError, RuntimeError, OSError):
            pass  # already released or closed: the reader is finishing anyway

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _request_id(self) -> str | None:
        for chunk in self._chunks:
            if chunk.request_id:
                return chunk.request_id
        return self._response.headers.get("x-acs-request-id")

    def _end(self, error: Exception | None) -> None:
        if self._on_end is not None:
            on_end, self._on_end = self._on_end, None
            on_end(error)

    def _run(self) -> Generator[StreamChunk, None, None]:
        response = self._response
        error: Exception | None = None
        try:
            pending = [self._first] if self._first is not None else []
            while True:
                if pending:
                    body = pending.pop()
                else:
                    if self._closed:
                        return
                    item = next(self._events, None)
                    if item is None:
                        break
                    data, complete = item
                    if data.strip() == _END:
                        self._ended = True
                        break
                    body = _decode_event(data, complete)
                if errors.is_failure(200, body):
                    failure = errors.from_response(response.status, body, headers=response.headers,
                                                   action=SSE_ACTION)
                    if is_model_failure(failure):  # the model ran (and may have billed): not a refusal
                        # raised below, outside the try: it is a TransportError, which the except
                        # clause for a broken connection would otherwise take for one
                        error = model_failure_error(failure, partial_text=self._partial_text())
                        break
                    raise failure
                chunk = StreamChunk.from_event(body, index=len(self._chunks), state=self._state)
                self._chunks.append(chunk)
                yield chunk
        except errors.TransportError as exc:  # the connection broke (mapped by the transport)
            if self._closed:  # our own close() cut the read short: a quiet end
                return
            error = _truncated(f"the stream broke off after {len(self._chunks)} events "
                               f"({getattr(exc, 'reason', exc.code)})", self._partial_text(), self._request_id())
        except _CutOff:
            error = _truncated(f"the stream ended in the middle of event {len(self._chunks) + 1}",
                               self._partial_text(), self._request_id())
        except Exception as exc:
            if self._closed and isinstance(exc, ValueError):  # a read on a connection close() just shut
                return
            self._error = exc
            self._end(exc)
            raise
        finally:
            response.close()
        if error is not None:
            self._error = error
            self._end(error)
            raise error  # outside the except block: no chain into urllib3's frames
        if self._closed:  # closed from another thread: the body ended early, the answer is partial
            return
        result = assemble(self._chunks, request=self.request, latency=time.perf_counter() - self._started,
                          backend=self.backend, headers=response.headers, state=self._state)
        if not (self._ended or _is_final(result.finish_reason)):
            self._error = _truncated(f"the stream ended after {len(self._chunks)} events without its final one "
                                     "(no finish reason)", result.text, result.request_id or self._request_id())
            self._end(self._error)
            raise self._error
        self._result = result
        self._end(None)

    def _partial_text(self) -> str:
        return assemble(self._chunks, request=self.request, state=self._state).text
