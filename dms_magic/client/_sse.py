"""Server-Sent Events parsing (WHATWG rules), independent of any transport: bytes in, events out."""
from __future__ import annotations

import codecs
from typing import Iterable, Iterator


class SSEEvent:
    """One dispatched event. ``complete`` is False for a last event the body ended inside of
    (no blank line after it): it may have been cut off."""

    __slots__ = ("event", "data", "id", "retry", "complete")

    def __init__(self, event: str, data: str, id: str | None, retry: int | None, complete: bool = True):
        self.event, self.data, self.id, self.retry, self.complete = event, data, id, retry, complete

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"


def _lines(chunks: Iterable[bytes | str]) -> Iterator[str]:
    """Lines from a byte stream, ending in \\r\\n, \\n or \\r — even when a chunk boundary falls
    between \\r and \\n (requests' iter_lines would yield a spurious empty line there, which in SSE
    ends an event early)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    buffer = ""
    for chunk in chunks:
        buffer += decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        start = 0
        n = len(buffer)
        while True:
            i_n = buffer.find("\n", start)
            i_r = buffer.find("\r", start)
            if i_r != -1 and (i_n == -1 or i_r < i_n):
                if i_r == n - 1:
                    break  # a lone trailing \r: wait, it may be the first half of \r\n
                yield buffer[start:i_r]
                start = i_r + 2 if buffer[i_r + 1] == "\n" else i_r + 1
            elif i_n != -1:
                yield buffer[start:i_n]
                start = i_n + 1
            else:
                break
        buffer = buffer[start:]
    buffer += decoder.decode(b"", final=True)
    if buffer.endswith("\r"):
        buffer = buffer[:-1]
        yield buffer
        buffer = ""
    if buffer:
        yield buffer


def parse_sse(chunks: Iterable[bytes | str]) -> Iterator[SSEEvent]:
    """Events per the WHATWG SSE rules: ``data:`` lines joined with \\n, ``:`` comments (keep-alives)
    skipped, ``event``/``id``/``retry`` fields kept, a blank line dispatches. Events without data are
    not dispatched. A final event not followed by a blank line is still delivered (some proxies cut
    the last one short). Never waits for a ``[DONE]`` marker: the stream ends when the body does.
    """
    data: list[str] = []
    event, last_id, retry = "", None, None
    for line in _lines(chunks):
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data), last_id, retry)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry":
            if value.isdigit():
                retry = int(value)
    if data:
        yield SSEEvent(event or "message", "\n".join(data), last_id, retry, complete=False)
