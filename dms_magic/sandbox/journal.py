"""What arrived: the recent accepted requests, for tests and for users checking the wire.

Each entry holds the parsed ChatRequest, the raw query/form values, and ``model_input``: the
messages the generator was given, after masking. Headers are never recorded (they carry the
signature and STS tokens).

The journal is bounded twice: at most ``maxlen`` entries and at most ``max_bytes`` of text (the
strings an entry holds, counted once each, as ``sys.getsizeof`` sizes them). The oldest entries go
first; the newest one is always kept, however large, so "the request just sent" can be read. A
long-running sandbox (or a notebook's in-process one) therefore holds a few tens of MB at most,
whatever its clients send. ``accepted`` counts every request ever added and is never reset (not by
``clear`` either), so "did anything arrive since then?" stays answerable however full the journal is.

``page()`` is the inspection endpoint's view (``GET /_sandbox/received``, inspection.py): entries
after a sequence number, up to a count and a byte budget, long texts cut with their length and
SHA-256 so a reader can still tell which text arrived.
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 1000
MAX_BYTES = 16 * 1024 * 1024  # text held by the journal, all entries together (RSS: about 3x this)
PAGE_ENTRIES = 100  # entries per inspection page by default
MAX_PAGE_ENTRIES = 1000
PAGE_BYTES = 4 * 1024 * 1024  # an inspection reply stays under this (the bound: 5 MB)
TEXT_LIMIT = 16 * 1024  # characters of one text shown by the inspection endpoint


def entry_size(entry: dict[str, Any]) -> int:
    """Bytes of the strings an entry holds (each object counted once: model_input shares the
    request's strings when nothing was masked)."""
    seen: set[int] = set()
    total = 0
    request = entry.get("request")
    stack: list[Any] = [entry.get("query"), entry.get("form"), entry.get("model_input"),
                        getattr(request, "values", None)]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (str, bytes)):
            total += sys.getsizeof(item)
        elif isinstance(item, dict):
            total += sys.getsizeof(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            total += sys.getsizeof(item)
            stack.extend(item)
    return total


class Journal:
    def __init__(self, maxlen: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.maxlen, self.max_bytes = maxlen, max_bytes
        self._entries: deque[tuple[dict[str, Any], int]] = deque()  # (entry, its size)
        self._bytes = 0
        self._lock = threading.Lock()
        self._accepted = 0

    def add(self, entry: dict[str, Any]) -> None:
        size = entry_size(entry)  # outside the lock: walking a large request takes a while
        with self._lock:
            self._accepted += 1
            entry["seq"] = self._accepted  # what the inspection endpoint pages by
            self._entries.append((entry, size))
            self._bytes += size
            while len(self._entries) > 1 and (len(self._entries) > self.maxlen or self._bytes > self.max_bytes):
                _, dropped = self._entries.popleft()
                self._bytes -= dropped

    @property
    def accepted(self) -> int:
        """How many entries were ever added: not bounded by ``maxlen``, not reset by ``clear``."""
        with self._lock:
            return self._accepted

    @property
    def bytes(self) -> int:
        """The text the kept entries hold (what ``max_bytes`` bounds)."""
        with self._lock:
            return self._bytes

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e, _ in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def page(self, after: int = 0, limit: int = PAGE_ENTRIES, max_bytes: int = PAGE_BYTES) -> dict[str, Any]:
        """Kept entries with ``seq > after``, oldest first, at most ``limit`` of them and ``max_bytes``
        of JSON, each as ``as_json`` shows it. ``next_after`` is the ``after`` of the next page (None
        when this page reached the newest entry)."""
        with self._lock:
            pending = [dict(e) for e, _ in self._entries if e["seq"] > after]
            accepted = self._accepted
        shown: list[dict[str, Any]] = []
        used = 0
        for entry in pending[:limit]:
            view = as_json(entry)
            size = len(json.dumps(view, ensure_ascii=False).encode("utf-8"))
            if size > max_bytes // 2:  # one huge entry must not crowd out the page: its summary instead
                view = summary(entry, size)
                size = len(json.dumps(view, ensure_ascii=False).encode("utf-8"))
            if shown and used + size > max_bytes:
                break
            shown.append(view)
            used += size
        more = len(shown) < len(pending)
        return {"entries": shown, "next_after": shown[-1]["seq"] if (more and shown) else None,
                "accepted": accepted}


def _cut(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{text[:TEXT_LIMIT]}...[cut: {len(text)} characters, sha256 {digest}]"


def _shown(value: Any) -> Any:
    """A JSON-ready copy with long texts cut (``_cut``)."""
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, dict):
        return {str(k): _shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _cut(str(value))


def as_json(entry: dict[str, Any]) -> dict[str, Any]:
    """One entry as plain JSON values: the ChatRequest as a dict, texts over TEXT_LIMIT cut."""
    entry = dict(entry)
    request = entry.get("request")
    if request is not None and hasattr(request, "to_dict"):
        entry["request"] = request.to_dict()
    return _shown(entry)


def summary(entry: dict[str, Any], size: int) -> dict[str, Any]:
    """An entry too large for a page: what it was and digests of what arrived, without the texts."""
    def digest(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    keep = ("seq", "request_id", "action", "time", "access_key_id", "masked", "rule", "seed", "finish_reason")
    view = {key: entry.get(key) for key in keep}
    view.update(omitted=f"this entry is {size} bytes as JSON, over the page's share; read it in-process "
                        "(Sandbox.received)",
                query_keys=sorted(entry.get("query") or {}), form_sha256=digest(entry.get("form")),
                model_input_sha256=digest(entry.get("model_input")))
    return view
