"""Reading a request's query and JSON values the way the gateway does, before the parameter checks.

- A query key that appears twice: the gateway signs and reads every pair, so a key appended after
  signing (``&Temperature=1.9``) no longer matches the signature. ``canonical_pairs`` gives the
  verifier every pair; a request signed with a repeated key is then refused as an InvalidParameter
  (which value would be meant is a guess the sandbox does not make).
- JSON nested deeper than MAX_JSON_DEPTH (``Messages=[[[[...``, SearchOptions 900 levels deep) is an
  InvalidParameter before anything parses it: parsing and walking such values recurses once per
  level, and Python's recursion limit would turn them into a 500.
"""
from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, Mapping

from ..wire import signing

MAX_JSON_DEPTH = 64  # deeper than any real message list, tool schema or SearchOptions needs

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: a run of plain characters per step
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def canonical_pairs(pairs: list[tuple[str, str]]) -> str:
    """The canonical query over every pair, repeated keys included (as ``signing.canonical_query``
    orders and encodes a mapping's pairs)."""
    return "&".join(signing.canonical_query({key: value}) for key, value in sorted(pairs))


def repeated_keys(pairs: list[tuple[str, str]]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key, _ in pairs:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def json_depth(text: str) -> int:
    """How deeply brackets nest in ``text`` (brackets inside JSON strings do not count); a cheap scan
    that never recurses, so it is safe on any input."""
    stripped = text
    if '"' in text:
        stripped = _JSON_STRING.sub("", text)
    steps = [_STEP[b] for b in _BRACKETS.findall(stripped)]
    return max(accumulate(steps), default=0) if steps else 0


def too_deep(values: Mapping[str, Any]) -> tuple[str, int] | None:
    """(name, depth) of the first value nested deeper than MAX_JSON_DEPTH, else None."""
    for name, value in values.items():
        if isinstance(value, str) and ("[" in value or "{" in value):
            depth = json_depth(value)
            if depth > MAX_JSON_DEPTH:
                return name, depth
    return None
