"""ChatRequest: one validated request, and the size limits checked before any traffic.

Built on the parameter table (params.py): every value is coerced by its row, then encoded as the
official SDK encodes it (``to_wire``); the sandbox reads what arrives with ``from_wire``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dms_magic.defaults import ENV_INSTANCE_ID
from dms_magic.errors import InvalidParameterError
from dms_magic.wire._toolshapes import tool_choice_for
from dms_magic.wire.params import BY_NAME, BY_WIRE, find

# -- Size limits, checked before any traffic --------------------------------------------------------
# Neither the reference page nor the SDK documents a size limit for this API, so these are our
# choice. Alibaba Cloud's API Gateway documents 8 KB for URL plus headers and 8 MB (serverless) /
# 32 MB (dedicated) for a body; HTTP servers commonly refuse request lines over 8-64 KiB with 414
# (the sandbox's server: 64 KiB). A refused request is better told apart before sending, clearly,
# than as a dropped connection mid-upload (a 10 MB Model value used to read "could not connect
# (BrokenPipeError)" and was retried). Limits that are too tight would refuse what the service
# takes, so we take the generous end: the query string (every parameter but Messages, which the
# SDK puts in the URL; Tools can be long) up to 64 KiB, the form body (Messages) up to 16 MiB, which
# is also past the longest Qwen context (1M tokens, about 3-4 MB of text). Sizes are the
# percent-encoded bytes on the wire. The body limit is 16 MiB (not 8) since images travel in Messages
# as data: URLs: one image at images.MAX_DATA_URL_BYTES (10 MB, Model Studio's per-image limit) grows
# about 6% more when form-encoded ('+', '/', '=' become %XX) and must still fit with its conversation.
MAX_QUERY_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def _encoded_size(text: str, *, plus: bool = False) -> int:
    """Bytes of ``text`` percent-encoded (RFC 3986; ``plus``: a space is one ``+``, as in a form)."""
    data = text.encode("utf-8")
    if data.isascii() and data.isalnum():
        return len(data)
    # bytes.translate deletes the unreserved bytes at C speed (an image's 10 MB data: URL: ~10 ms,
    # where counting them one by one in Python took 1.5 s)
    kept = len(data) - len(data.translate(None, _UNRESERVED)) + (data.count(b" ") if plus else 0)
    return kept + 3 * (len(data) - kept)


def _size_text(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n:,} bytes"


def check_sizes(query: Mapping[str, str], form: Mapping[str, str]) -> None:
    """Raise InvalidParameterError (naming the largest parameter) when the query string or the
    form body is over MAX_QUERY_BYTES / MAX_BODY_BYTES once encoded. Cheap for ordinary requests:
    exact sizes are computed only when a value's worst case (3 bytes per byte) could reach a limit."""
    for values, limit, plus, where in ((query, MAX_QUERY_BYTES, False, "the query string"),
                                       (form, MAX_BODY_BYTES, True, "the request body")):
        # Worst case 12 bytes per character (4 UTF-8 bytes, each %XX), 64 per key and separator:
        # C-level sums, so an ordinary request pays about a microsecond here.
        if 12 * sum(map(len, values.values())) + 64 * len(values) <= limit:
            continue
        sizes = {k: len(k) + 1 + _encoded_size(v, plus=plus) for k, v in values.items()}
        total = sum(sizes.values()) + max(len(sizes) - 1, 0)
        if total <= limit:
            continue
        wire = max(sizes, key=lambda name: sizes[name])
        param = BY_WIRE[wire]
        raise InvalidParameterError(
            param.name, values[wire], f"{where} within {_size_text(limit)} (this request needs "
            f"{_size_text(total)}, {param.name} alone {_size_text(sizes[wire])}); send a shorter "
            f"{'conversation' if param.name == 'messages' else 'value'}")


class ChatRequest:
    """One validated ChatWithDesensitize request: messages plus parameters (Python names).

    Parameters left at None are not sent, exactly as the SDK omits unset fields.
    """

    # _checked_for: the stream mode this instance was made by validate() for (None: not checked);
    # to_wire trusts such an instance instead of checking every value a second time per call.
    __slots__ = ("values", "_checked_for")

    def __init__(self, messages: Any = None, **params: Any):
        values: dict[str, Any] = {}
        if isinstance(messages, str):  # a bare prompt is one user message
            messages = [{"role": "user", "content": messages}]
        if messages is not None:
            values["messages"] = messages
        for key, value in params.items():
            if value is None:
                continue
            values[find(key).name] = value
        self.values = values
        self._checked_for: bool | None = None

    # attribute access by Python name: req.temperature, req.messages
    def __getattr__(self, name: str) -> Any:
        if name in BY_NAME:
            return self.values.get(name)
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatRequest) and self.values == other.values

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values.items() if k != "messages")
        n = len(self.values.get("messages") or [])
        return f"ChatRequest({n} message{'s' if n != 1 else ''}{', ' if shown else ''}{shown})"

    def replace(self, **changes: Any) -> "ChatRequest":
        """A copy with some parameters changed (None removes one)."""
        merged = dict(self.values)
        for key, value in changes.items():
            name = find(key).name
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return ChatRequest(**merged)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def validate(self, *, stream: bool = False, require_instance: bool = True) -> "ChatRequest":
        """Check every value (type, range, cross-field rules); return a normalised copy."""
        out: dict[str, Any] = {}
        for name, value in self.values.items():
            param = BY_NAME[name]
            if param.sse_only and not stream:
                raise InvalidParameterError(name, value, "only with streaming (ChatWithDesensitizeSSE)")
            out[name] = param.coerce(value)
        if "messages" not in out:
            raise InvalidParameterError("messages", None, BY_NAME["messages"].range_text())
        if require_instance and "instance_id" not in out:
            raise InvalidParameterError(
                "instance_id", None, f"the DMS instance id (set instance_id, or {ENV_INSTANCE_ID})")
        if out.get("need_desensitization") and not out.get("desensitization_rule"):
            raise InvalidParameterError(
                "desensitization_rule", None, "a rule category such as 'UserInfo' when need_desensitization is true")
        if "tool_choice" in out:
            out["tool_choice"] = tool_choice_for(out["tool_choice"], out.get("tools"))
        if "top_logprobs" in out and not out.get("logprobs"):
            raise InvalidParameterError("top_logprobs", out["top_logprobs"], "to be used together with logprobs=True")
        req = ChatRequest.__new__(ChatRequest)
        req.values = out
        req._checked_for = bool(stream) if require_instance else None
        return req

    def to_wire(self, *, stream: bool = False) -> tuple[dict[str, str], dict[str, str]]:
        """(query, form) exactly as the official SDK sends them, after validation."""
        checked = self if self._checked_for is bool(stream) else self.validate(stream=stream)
        query: dict[str, str] = {}
        form: dict[str, str] = {}
        for name, value in checked.values.items():
            param = BY_NAME[name]
            (form if param.location == "form" else query)[param.wire] = param.to_text(value)
        check_sizes(query, form)
        return query, form

    @classmethod
    def from_wire(cls, query: Mapping[str, str], form: Mapping[str, str] | None = None, *,
                  stream: bool = False) -> "ChatRequest":
        """Parse what arrived on the wire (the sandbox's side). Unknown keys are ignored, as the
        gateway ignores them; a malformed value raises InvalidParameterError."""
        values: dict[str, Any] = {}
        for source in (query, form or {}):
            for key, text in source.items():
                param = BY_WIRE.get(key)
                if param is None:
                    continue
                values[param.name] = param.from_text(text)
        req = cls.__new__(cls)
        req.values = values
        req._checked_for = None
        return req.validate(stream=stream)
