"""JSON as the wire carries it: the SDK's compact serialiser, and the strict checks every JSON value
passes before it is sent (plain JSON types only, finite numbers, valid Unicode, bounded nesting).

Every JSON parameter (Messages, Tools, ToolChoice, SearchOptions, Stop...) and every tool-call
argument goes through here: the client, the sandbox and the tools share one spelling of JSON.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from dms_magic.errors import InvalidParameterError


def compact_json(value: Any) -> str:
    """JSON as the official SDK writes its JSON parameters: UTF-8 kept, no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def compact_json_safe(obj: Any) -> str:
    """``compact_json``, or the repr when the value is not JSON (for error messages)."""
    try:
        return compact_json(obj)
    except (TypeError, ValueError):
        return repr(obj)


def parse_json_text(name: str, text: str, expected: str) -> Any:
    """The strict reader of a JSON-text parameter: its value, or InvalidParameterError naming it."""
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidParameterError(name, text, expected) from None


def maybe_json(text: str, want: type) -> Any:
    """``text`` parsed when it is JSON of type ``want`` (a list or a dict), else None."""
    stripped = text.strip()
    if not stripped.startswith("[" if want is list else "{"):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, want) else None



# The API's integers are 32-bit (the SDKs type them Integer/int32; Seed's documented range is
# [0, 2^31 - 1]): a larger int cannot be what the service accepts, and a huge one (10**5000)
# would fail later, in str(), with "Exceeds the limit (4300 digits)".
INT32_MAX = 2**31 - 1


# What a value holding a lone UTF-16 surrogate is told: such text cannot be encoded as UTF-8, so it
# cannot be sent (the client would fail encoding the request, the sandbox answering it).
NOT_UTF8 = ("valid Unicode text: it contains a lone UTF-16 surrogate such as \\ud800 (often from a broken "
            "JSON escape or bytes decoded with errors='surrogateescape'); remove or replace it, e.g. "
            "text.encode('utf-8', 'replace').decode('utf-8')")


def utf8_ok(value: Any) -> bool:
    """False when a string in ``value`` (dict keys and values, list items, recursively) cannot be UTF-8."""
    if isinstance(value, str):
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, Mapping):  # map, not a generator: this runs on every message of every call
        return all(map(utf8_ok, value)) and all(map(utf8_ok, value.values()))
    if isinstance(value, (list, tuple)):
        return all(map(utf8_ok, value))
    return True



# -- JSON values ----------------------------------------------------------------------------------
# How deep a value inside a message or a JSON parameter may nest. The API's own shapes need 5
# levels (messages[i].tool_calls[j].function.arguments); 32 leaves room for any extra keys while
# keeping a hostile 900-deep value from reaching json.dumps/json.loads' recursion limit.
MAX_JSON_DEPTH = 32
_JSON_TYPES = "JSON data: a string, a finite number, true/false, None, a list or a dict with string keys"


def json_ready(value: Any, path: str, depth: int = 0) -> Any:
    """``value`` checked to be strict JSON and returned as plain dicts/lists (tuples become lists).

    Raises InvalidParameterError naming the exact place (``messages[1].content[0].image_url``):
    a set, bytes or any object would otherwise fail later as a raw TypeError in the JSON encoder,
    NaN and infinity would go out as non-standard JSON (``NaN``) that the service cannot parse,
    a lone surrogate cannot be UTF-8 and an absurd integer cannot be written at all.
    """
    if isinstance(value, str):
        if not utf8_ok(value):
            raise InvalidParameterError(path, value, NOT_UTF8)
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > 64:
            raise InvalidParameterError(path, value, "an integer that fits in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameterError(path, value, "a finite number (NaN and infinity are not JSON)")
        return value
    if depth >= MAX_JSON_DEPTH:
        raise InvalidParameterError(path, value, f"at most {MAX_JSON_DEPTH} levels of nesting")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidParameterError(f"{path}[{key!r}]" if not isinstance(key, (bytes, bytearray)) else path,
                                            key, "string keys (JSON objects have string keys)")
            if not utf8_ok(key):
                raise InvalidParameterError(path, key, NOT_UTF8)
            out[key] = json_ready(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [json_ready(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, (bytes, bytearray)):
        raise InvalidParameterError(path, value, "text, not bytes: decode it (an image goes as a URL or a "
                                    "data: URL with base64)")
    raise InvalidParameterError(path, value, f"{_JSON_TYPES}; got a {type(value).__name__}")


def string_map(name: str, value: Mapping) -> dict[str, str]:
    """A JSON object whose values travel as strings: the SDK types SearchOptions ``Dict[str, str]``.
    Booleans become ``"true"``/``"false"`` (JSON's spelling), numbers their decimal text."""
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidParameterError(name, dict(value), "a JSON object with string keys")
        if isinstance(item, str):
            out[key] = item
        elif isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int) and item.bit_length() <= 64:
            out[key] = str(item)
        elif isinstance(item, float) and math.isfinite(item):
            out[key] = repr(item)
        else:
            raise InvalidParameterError(f"{name}.{key}", item, "a string (or a number or true/false, sent as "
                                        "text): the API takes a map of strings")
    return out
