"""What arrived: the recent accepted requests, for tests and for users checking the wire.

Each entry holds the parsed ChatRequest, the raw query/form values, and ``model_input``: the
messages the generator was given, after masking. Headers are never recorded (they carry the
signature and STS tokens).
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 1000


class Journal:
    def __init__(self, maxlen: int = MAX_ENTRIES):
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def as_json(self) -> list[dict[str, Any]]:
        """Entries with the ChatRequest as a plain dict (JSON-serialisable)."""
        out = []
        for entry in self.entries():
            entry["request"] = entry["request"].to_dict()
            out.append(entry)
        return out
