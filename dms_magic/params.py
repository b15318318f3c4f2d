"""The ChatWithDesensitize request parameters, declared once.

Every other layer reads this table: client-side validation, ``ChatRequest.to_wire`` (client),
``ChatRequest.from_wire`` (sandbox), the ``%%dmschat`` options and the widget form's controls.
Adding a parameter is adding one ``Param`` row.

Wire facts (from the official SDK, alibabacloud-dms-enterprise20181101): ``Messages`` travels in the
form body as a compact JSON string; every other parameter travels in the query string; ``Stop``,
``SearchOptions`` and ``ModalitiesList`` are JSON strings in the query. The Python SDK stringifies
booleans with ``str()`` (``True``); we send the documented ``true``/``false`` and accept both.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ROLES = ("system", "user", "assistant")
ACTION = "ChatWithDesensitize"
SSE_ACTION = "ChatWithDesensitizeSSE"
API_VERSION = "2018-11-01"


class InvalidParameterError(ValueError):
    """One request parameter is wrong: names it, the value given and what is valid."""

    def __init__(self, param: str, value: Any, expected: str):
        self.param, self.value, self.expected = param, value, expected
        super().__init__(f"{param}={shorten(repr(value))} is invalid: expected {expected}")


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` when cut (error messages)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


# What a value holding a lone UTF-16 surrogate is told: such text cannot be encoded as UTF-8, so it
# cannot be sent (the client would fail encoding the request, the sandbox answering it).
NOT_UTF8 = ("valid Unicode text: it contains a lone UTF-16 surrogate such as \\ud800 (often from a broken "
            "JSON escape or bytes decoded with errors='surrogateescape'); remove or replace it, e.g. "
            "text.encode('utf-8', 'replace').decode('utf-8')")


def _utf8_ok(value: Any) -> bool:
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
        return all(map(_utf8_ok, value)) and all(map(_utf8_ok, value.values()))
    if isinstance(value, (list, tuple)):
        return all(map(_utf8_ok, value))
    return True


@dataclass(frozen=True)
class Param:
    """One API parameter.

    kind: ``int``, ``float``, ``bool``, ``str``, ``choice``, ``str_list`` (JSON array of strings),
    ``json_object`` (JSON object sent as a JSON string), ``json_text`` (a string that holds JSON;
    a dict is serialised for you) or ``messages``.
    """

    name: str  # Python name: snake_case of the wire name
    wire: str  # API name
    kind: str
    help: str
    group: str = "basic"  # where the form shows it: basic, sampling, masking, output, advanced
    location: str = "query"  # "query" or "form" (the request body)
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    choices: tuple[str, ...] = ()
    sse_only: bool = False
    aliases: tuple[str, ...] = ()  # extra %%dmschat option strings, e.g. "--mask"
    example: Any = None

    @property
    def option(self) -> str:
        """The %%dmschat long option: kebab-case of the Python name."""
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """What is valid, in words, for error messages and help."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind in ("str_list",):
            return "a list of strings (JSON array) or one string"
        if self.kind in ("json_object",):
            return "a JSON object"
        if self.kind == "json_text":
            return "a JSON string or a dict"
        if self.kind == "messages":
            return "a non-empty list of {role, content} messages"
        if self.minimum is None and self.maximum is None:
            return "a string" if self.kind == "str" else f"a{'n' if self.kind == 'int' else ''} {self.kind}"
        low = "" if self.minimum is None else ("[" if self.min_inclusive else "(") + _num(self.minimum)
        high = "" if self.maximum is None else _num(self.maximum) + ("]" if self.max_inclusive else ")")
        noun = "an integer" if self.kind == "int" else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} in {low}, {high}"
        if self.minimum is not None:
            return f"{noun} {'>=' if self.min_inclusive else '>'} {_num(self.minimum)}"
        return f"{noun} {'<=' if self.max_inclusive else '<'} {_num(self.maximum)}"

    # -- values -------------------------------------------------------------------------------
    def coerce(self, value: Any) -> Any:
        """Check one Python value and return it normalised; raise InvalidParameterError."""
        original = value
        # Built only on failure: coerce runs for every parameter of every request (client and
        # sandbox), and formatting the message eagerly dominated its cost.
        bad = lambda: InvalidParameterError(self.name, original, self.range_text())  # noqa: E731
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.strip().lower()]
            raise bad()
        if kind == "int":
            if isinstance(value, bool):
                raise bad()
            if isinstance(value, str):
                try:
                    value = int(value.strip())
                except ValueError:
                    raise bad() from None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise bad()
            self._check_range(value, bad)
            return value
        if kind == "float":
            if isinstance(value, bool):
                raise bad()
            if isinstance(value, str):
                try:
                    value = float(value.strip())
                except ValueError:
                    raise bad() from None
            if not isinstance(value, (int, float)):
                raise bad()
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an int too large for a float (10**400)
                finite = False
            if not finite:
                raise bad()
            self._check_range(value, bad)
            return value
        unicode_bad = lambda: InvalidParameterError(self.name, original, NOT_UTF8)  # noqa: E731
        if kind == "str":
            if not isinstance(value, str):
                raise bad()
            if not _utf8_ok(value):
                raise unicode_bad()
            return value
        if kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise bad()
            return value
        if kind == "str_list":
            if isinstance(value, str):
                value = _maybe_json(value, list) or [value]
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad()
            if not _utf8_ok(value):
                raise unicode_bad()
            return value
        if kind == "json_object":
            if isinstance(value, str):
                parsed = _maybe_json(value, dict)
                if parsed is None:
                    raise bad()
                value = parsed
            if not isinstance(value, Mapping):
                raise bad()
            if not _utf8_ok(value):
                raise unicode_bad()
            return dict(value)
        if kind == "json_text":
            if isinstance(value, Mapping):
                value = _compact_json(dict(value))
            if not isinstance(value, str):
                raise bad()
            if not _utf8_ok(value):
                raise unicode_bad()
            return value
        if kind == "messages":
            return _coerce_messages(value)
        raise AssertionError(f"unknown kind {kind!r}")  # a table bug, not a user error

    def _check_range(self, value: float, bad: Callable[[], InvalidParameterError]) -> None:
        if self.minimum is not None:
            if value < self.minimum or (not self.min_inclusive and value == self.minimum):
                raise bad()
        if self.maximum is not None:
            if value > self.maximum or (not self.max_inclusive and value == self.maximum):
                raise bad()

    def to_text(self, value: Any) -> str:
        """The wire string of an already-coerced value."""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind in ("str_list", "json_object", "messages"):
            return _compact_json(value)
        return str(value)

    def from_text(self, text: str) -> Any:
        """Parse a wire (or typed) string back to a checked Python value."""
        if self.kind in ("messages",):
            try:
                parsed = json.loads(text)
            except (TypeError, ValueError):
                raise InvalidParameterError(self.name, text, "a JSON array of messages") from None
            return self.coerce(parsed)
        if self.kind == "str_list" and isinstance(text, str):
            stripped = text.strip()
            if stripped.startswith("["):
                try:
                    parsed = json.loads(stripped)
                except ValueError:
                    raise InvalidParameterError(self.name, text, "a JSON array of strings") from None
                return self.coerce(parsed)  # its own error (not a list of strings, not UTF-8)
        if self.kind == "json_object" and isinstance(text, str):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise InvalidParameterError(self.name, text, "a JSON object") from None
            return self.coerce(parsed)
        return self.coerce(text)


_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "on": True, "off": False}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _compact_json(value: Any) -> str:
    # Same serialisation as the official SDK: UTF-8 kept, no spaces.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _maybe_json(text: str, want: type) -> Any:
    stripped = text.strip()
    if not stripped.startswith("[" if want is list else "{"):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, want) else None


def _coerce_messages(value: Any) -> list[dict]:
    expected = "a non-empty list of {role, content} messages with role system, user or assistant"
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidParameterError("messages", value, expected)
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, Mapping):
            raise InvalidParameterError(f"messages[{i}]", message, "a {role, content} object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InvalidParameterError(f"messages[{i}].role", role, "one of " + ", ".join(ROLES))
        if not isinstance(content, str):
            raise InvalidParameterError(f"messages[{i}].content", content, "a string")
        if not _utf8_ok(message):
            for key, item in message.items():
                if not _utf8_ok(item):
                    raise InvalidParameterError(f"messages[{i}].{key}", item, NOT_UTF8)
            raise InvalidParameterError(f"messages[{i}]", message, NOT_UTF8)  # in a key
        out.append(dict(message))
    return out


# The table. Order is the order of the form and of `%%dmschat?`.
PARAMS: tuple[Param, ...] = (
    Param("instance_id", "InstanceId", "int", "DMS instance whose masking rules apply (ListInstances / GetInstance).",
          required=True, minimum=0, example=1),
    Param("messages", "Messages", "messages", "The conversation: a list of {role, content}, oldest first.",
          location="form", required=True),
    Param("model", "Model", "str", "Qwen text model id, e.g. qwen-plus, qwen-max, qwen-turbo, qwen3-max.",
          aliases=("-m",), example="qwen-plus"),
    Param("need_desensitization", "NeedDesensitization", "bool",
          "Mask sensitive data in the messages before the model sees them.", group="masking",
          aliases=("--mask",), example=True),
    Param("desensitization_rule", "DesensitizationRule", "str",
          "Masking rule category (required with masking), e.g. UserInfo.", group="masking",
          aliases=("--rule",), example="UserInfo"),
    Param("max_tokens", "MaxTokens", "int", "Most tokens to generate; the answer is cut with finish_reason 'length'.",
          group="output", minimum=1, example=256),
    Param("temperature", "Temperature", "float", "Sampling temperature: 0 is greedy, higher is more diverse.",
          group="sampling", minimum=0, maximum=2, max_inclusive=False, aliases=("-t",), example=0.7),
    Param("top_p", "TopP", "float", "Nucleus sampling: keep the most likely tokens whose mass reaches top_p.",
          group="sampling", minimum=0, maximum=1, min_inclusive=False, example=0.8),
    Param("top_k", "TopK", "int", "Sample among the k most likely tokens (0, or more than 100, disables it).",
          group="sampling", minimum=0, example=20),
    Param("presence_penalty", "PresencePenalty", "float", "Penalise tokens already present: positive repeats less.",
          group="sampling", minimum=-2, maximum=2, example=0.0),
    Param("seed", "Seed", "int", "Random seed: same seed, input and parameters give the same answer.",
          group="sampling", minimum=0, maximum=2**31 - 1, example=1),
    Param("stop", "Stop", "str_list", "Stop words: generation ends when the model outputs one of them.",
          group="output", example=["\n"]),
    Param("response_format", "ResponseFormat", "choice", "Answer format: text, or json_object for valid JSON.",
          group="output", choices=("text", "json_object"), example="text"),
    Param("logprobs", "Logprobs", "bool", "Return the log probability of each output token.", group="output",
          example=True),
    Param("top_logprobs", "TopLogprobs", "int", "How many alternatives per token to return with logprobs (0..5).",
          group="output", minimum=0, maximum=5, example=3),
    Param("enable_thinking", "EnableThinking", "bool", "Thinking mode for hybrid thinking models.",
          group="output", example=True),
    Param("thinking_budget", "ThinkingBudget", "int", "Most tokens for the thinking process.", group="output",
          minimum=1, example=256),
    Param("enable_search", "EnableSearch", "bool", "Let the model search the web.", group="advanced", example=False),
    Param("search_options", "SearchOptions", "json_object", "Web search strategy, a JSON object.",
          group="advanced", example={"forced_search": "true"}),
    Param("enable_code_interpreter", "EnableCodeInterpreter", "bool",
          "Code interpreter (qwen3-max-preview with thinking on).", group="advanced", example=False),
    Param("xdash_scope_data_inspection", "XDashScopeDataInspection", "json_text",
          "Extra content-safety inspection of input and output, a JSON string.", group="advanced", example="{}"),
    Param("modalities_list", "ModalitiesList", "str_list", "Output modalities (Qwen-Omni only), e.g. [\"text\"].",
          group="advanced", example=["text"]),
    Param("audio_json", "AudioJson", "json_text", "Audio voice and format (Qwen-Omni with audio output).",
          group="advanced", example="{}"),
    Param("vl_high_resolution_images", "VlHighResolutionImages", "bool",
          "Raise the input image pixel limit (vision models).", group="advanced", example=False),
    Param("stream", "Stream", "bool", "Stream the answer (ChatWithDesensitizeSSE only).", group="output",
          sse_only=True, example=True),
    Param("include_usage", "IncludeUsage", "bool", "Send token usage in the last streamed event (SSE only).",
          group="output", sse_only=True, example=True),
)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
BY_WIRE: dict[str, Param] = {p.wire: p for p in PARAMS}


def find(name: str) -> Param:
    """The Param for a Python name, wire name or option spelling; a helpful error otherwise."""
    key = name.lstrip("-").replace("-", "_")
    if key in BY_NAME:
        return BY_NAME[key]
    if name in BY_WIRE:
        return BY_WIRE[name]
    for p in PARAMS:
        if name in p.aliases or key.lower() == p.wire.lower():
            return p
    import difflib

    close = difflib.get_close_matches(key, list(BY_NAME), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise InvalidParameterError(name, name, "a ChatWithDesensitize parameter name." + hint)


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
                "instance_id", None, "the DMS instance id (set instance_id, or DMS_MAGIC_INSTANCE_ID)")
        if out.get("need_desensitization") and not out.get("desensitization_rule"):
            raise InvalidParameterError(
                "desensitization_rule", None, "a rule category such as 'UserInfo' when need_desensitization is true")
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


def option_params(*, include_sse: bool = True) -> Iterable[Param]:
    """The rows that become %%dmschat options / form controls (messages come from the cell)."""
    return [p for p in PARAMS if p.name != "messages" and (include_sse or not p.sse_only)]
