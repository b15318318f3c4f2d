"""What arrived: the recent accepted requests, for tests and for users checking the wire.

Each entry holds the parsed ChatRequest, the raw query/form values, and ``model_input``: the
messages the generator was given, after masking. Headers are never recorded (they carry the
signature and STS tokens).

Only the last ``MAX_ENTRIES`` are kept, so the number of entries stops growing at the cap;
``accepted`` counts every request ever added and is never reset (not by ``clear`` either), so
"did anything arrive since then?" stays answerable however full the journal is.
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
        self._accepted = 0

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            self._accepted += 1

    @property
    def accepted(self) -> int:
        """How many entries were ever added: not bounded by ``maxlen``, not reset by ``clear``."""
        with self._lock:
            return self._accepted

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
