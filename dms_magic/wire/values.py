"""Tolerant readers for reply values: any key case, numbers as strings, ``Data`` as an object or a
JSON string, DashScope's logprobs in whatever key case arrives.

The bottom layer's value normalisers: errors.py, result.py, frames.py and render.py all read replies
with them, so they live below all four (none of those imports another to reach them).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dms_magic.wire import jsonread

_SNAKE_1 = re.compile(r"(.)([A-Z][a-z]+)")
_SNAKE_2 = re.compile(r"([a-z0-9])([A-Z])")
_snake_cache: dict[str, str] = {}


def snake(key: str) -> str:
    """PromptTokensDetails -> prompt_tokens_details (cached: the same few keys recur)."""
    out = _snake_cache.get(key)
    if out is None:
        out = _SNAKE_2.sub(r"\1_\2", _SNAKE_1.sub(r"\1_\2", key)).lower()
        _snake_cache[key] = out
    return out


def _fold(key: str) -> str:
    # Key-case-insensitive match: "top_logprobs" == "TopLogprobs" == "topLogprobs".
    return key.replace("_", "").lower()


def pick(obj: Any, *names: str, default: Any = None, filled: bool = False, attributes: bool = False) -> Any:
    """obj[name] for the first of ``names`` present, in any key case (``RequestId``, ``requestId``,
    ``request_id``); ``default`` otherwise. The package's one case-insensitive key reader.

    ``filled``: skip a name whose value is None or "" (the gateway's empty fields say nothing).
    ``attributes``: an object that is not a mapping is read by attribute (an SDK model, a dataclass)."""
    if not isinstance(obj, Mapping):
        if attributes and obj is not None:
            for name in names:
                value = getattr(obj, name, None)
                if value is not None and not (filled and value == ""):
                    return value
        return default
    for name in names:
        value = _pick_one(obj, name)
        if value is not _MISSING and not (filled and value in (None, "")):
            return value
    return default


_MISSING = object()


def _pick_one(obj: Mapping, name: str) -> Any:
    if name in obj:
        return obj[name]
    wanted = _fold(name)
    for key, value in obj.items():
        if isinstance(key, str) and _fold(key) == wanted:
            return value
    return _MISSING


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` when cut (error messages, cards)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def safe_repr(value: Any) -> str:
    """repr() for error messages that cannot itself fail: an int past Python's 4300-digit
    str() limit (``10**5000``) is described instead of converted, and a repr that raises is named."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4000:
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        return repr(value)
    except Exception:  # a user object whose __repr__ fails must not hide the real error
        return f"<{type(value).__name__} object>"


def to_int(value: Any) -> int | None:
    """"19" -> 19, 19.0 -> 19, junk -> None (a tolerant reader must not crash on a display field)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # "1e400" and inf/nan are junk too, not a crash
        return None


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _count(value: Any) -> Any:
    number = to_int(value)
    return value if number is None else number


_last_data: tuple[Any, Any] = (None, None)  # (the last Data string parsed, its value): see data_of


def data_of(body: Any) -> Any:
    """The reply's ``Data``: the object itself, or parsed from the JSON string the SDKs type it as
    on the streaming action. Anything else (absent, unparseable text) reads as ``{}``.

    The last string parsed is remembered: a stream's event is read twice (error check, then the
    chunk), and parsing a long event twice would double the client's work for it."""
    global _last_data
    data = pick(body, "Data")
    if isinstance(data, Mapping):
        return data
    if isinstance(data, (str, bytes, bytearray)):
        cached_text, cached = _last_data
        if cached_text is data:
            return cached
        try:
            parsed = jsonread.loads(data)
        except ValueError:
            return {}
        parsed = parsed if isinstance(parsed, Mapping) else {}
        _last_data = (data, parsed)
        return parsed
    return {}


# -- usage ----------------------------------------------------------------------------------------
def normalize_usage(usage: Any) -> dict[str, Any]:
    """Usage with snake_case keys and integer counts; nested details kept as nested dicts."""
    if not isinstance(usage, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in usage.items():
        name = snake(str(key))
        if isinstance(value, Mapping):
            out[name] = {snake(str(k)): _count(v) for k, v in value.items()}
        else:
            out[name] = _count(value)
    return out


def flat_usage(usage: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Usage counters in one level, nested details as ``<details>.<name>``
    (``prompt_tokens_details.cached_tokens``): the usage frame's columns and the card's table."""
    flat: dict[str, Any] = {}
    for key, value in (usage or {}).items():
        if isinstance(value, Mapping):
            flat.update(flat_usage(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# -- logprobs -------------------------------------------------------------------------------------
_TOKEN_KEYS = frozenset(("token", "logprob", "bytes", "top_logprobs"))
_ALT_KEYS = frozenset(("token", "logprob", "bytes"))


def _is_canonical(item: Any) -> bool:
    """Already DashScope's lower-case shape (the usual case): then it is used as is, uncopied."""
    if type(item) is not dict or "token" not in item or not item.keys() <= _TOKEN_KEYS:  # noqa: E721
        return False
    tops = item.get("top_logprobs")
    if not tops:
        return True
    first = tops[0] if type(tops) is list else None  # noqa: E721
    return type(first) is dict and "token" in first and first.keys() <= _ALT_KEYS  # noqa: E721


def _canon_alt(alt: Any) -> dict[str, Any]:
    if type(alt) is dict and "token" in alt and alt.keys() <= _ALT_KEYS:  # noqa: E721
        return alt
    return {"token": pick(alt, "token", default=""), "logprob": pick(alt, "logprob"),
            "bytes": pick(alt, "bytes")}


def _canon_token(item: Any) -> dict[str, Any]:
    if _is_canonical(item):
        return item
    tops = pick(item, "top_logprobs")
    tops = tops if isinstance(tops, list) else []  # junk in place of the list: no alternatives
    return {"token": pick(item, "token", default=""), "logprob": pick(item, "logprob"),
            "bytes": pick(item, "bytes"), "top_logprobs": [_canon_alt(a) for a in tops if isinstance(a, Mapping)]}


def normalize_token_logprobs(logprobs: Any) -> list[dict[str, Any]]:
    """The per-token list (``{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}``)
    from a Logprobs value: ``{"content": [...]}`` in any key case (or as a JSON string), or the list.

    When the first and last items already have DashScope's keys the list is returned untouched
    (no copy): this runs on every result, and 8k-token answers are common in logprob studies.
    One serializer writes a response, so its items share one shape; checking every item instead
    would cost about 6 ms for 8192 tokens, twice building ``.logprobs``. A middle item in another
    key case therefore keeps it here; ``frames`` re-reads any item its strict lookups reject, so
    the frames' own columns (and every column of ``.alternatives``) are right regardless.
    """
    if isinstance(logprobs, str):
        try:
            logprobs = jsonread.loads(logprobs)
        except ValueError:
            return []
    if isinstance(logprobs, Mapping):
        logprobs = pick(logprobs, "content", default=None)
    if not isinstance(logprobs, list) or not logprobs:
        return []
    if _is_canonical(logprobs[0]) and _is_canonical(logprobs[-1]):
        return logprobs
    return [_canon_token(t) for t in logprobs if isinstance(t, Mapping)]


def grows_by_extension(values: list) -> bool:
    """True when each value extends the one before and at least one grew: a stream whose events
    carry the text so far (result.py's answer text, tools.py's tool-call arguments)."""
    grew = False
    for before, after in zip(values, values[1:]):
        if not after.startswith(before):
            return False
        grew = grew or len(after) > len(before)
    return grew
