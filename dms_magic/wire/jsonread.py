"""The one JSON reader for what arrives from outside: reply bodies, stream events, tool-call arguments.

Why not plain ``json.loads``: its C scanner recurses once per nesting level, so ~1,000 levels (2 KB
of ``[[[[...``) raise a bare ``RecursionError``, which is not a ValueError and so escapes every
``except ValueError`` around a parse; and a value a little shallower parses, then breaks whatever
walks it next (a repr, a view, a tool). Here a value nested deeper than ``MAX_DEPTH`` is a
``JSONDepthError`` (a ValueError naming the limit), whichever of the two finds it first.

``finite=True`` (tool-call arguments) also refuses ``NaN`` and ``Infinity``: Python's json reads
them, strict JSON has no such tokens, and the rest of the package refuses them on the way out.

Cost: the depth check walks the parsed value without recursion, and only when the text holds
more brackets than the limit (an ordinary reply or stream event does not, so it pays one
``str.count`` pass); a 2.7 MB logprobs reply pays a walk of about a quarter of its parse time.
"""
from __future__ import annotations

import json
from typing import Any


# The reader's own ValueErrors, like json.JSONDecodeError: every caller turns them into the error it
# raises (an unreadable reply is a DmsError, a bad tool argument a tool message), so they never reach
# a user as such. They stay here, not in errors.py, because errors reads replies through this module.
class _TooDeep(ValueError):
    """A JSON value nested deeper than the limit."""


class _NotFinite(ValueError):
    """NaN or Infinity where strict JSON is required."""


JSONDepthError = _TooDeep
NonFiniteNumberError = _NotFinite

__all__ = ["MAX_DEPTH", "JSONDepthError", "NonFiniteNumberError", "loads", "depth_exceeds"]

# Deeper than any reply, schema or argument the API produces (a reply needs about 8 levels,
# logprobs 6 more); far below the interpreter's recursion limit, so what is read can be walked.
MAX_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumberError(f"{name} is not a JSON number (strict JSON has no NaN or Infinity)")


def loads(text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, finite: bool = False) -> Any:
    """``json.loads(text)``, refusing values nested deeper than ``max_depth`` (JSONDepthError) and,
    with ``finite``, NaN/Infinity (NonFiniteNumberError). Both are ValueErrors, as a syntax error is."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant) if finite else json.loads(text)
    except RecursionError:
        raise JSONDepthError(f"JSON nested deeper than {max_depth} levels (too deep to read)") from None
    if _bracket_count(text) > max_depth and depth_exceeds(value, max_depth):
        raise JSONDepthError(f"JSON nested deeper than {max_depth} levels")
    return value


def _bracket_count(text: str | bytes | bytearray) -> int:
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether lists/dicts inside ``value`` nest deeper than ``max_depth`` (a scalar is level 0, the
    outermost container level 1). Iterative: safe on values of any depth."""
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, level = pop()
        kind = type(item)
        if kind is dict:
            children = item.values()
        elif kind is list:
            children = item
        else:
            continue
        if level > max_depth:
            return True
        for child in children:
            child_kind = type(child)
            if child_kind is dict or child_kind is list:
                push((child, level + 1))
    return False
