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
import re
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dms_magic.tools import compact_json  # the SDK's JSON style: UTF-8 kept, no spaces
from dms_magic.errors import InvalidParameterError, UnknownParameterError
from dms_magic.wire.values import safe_repr, shorten

ROLES = ("system", "user", "assistant", "tool")
from dms_magic.defaults import ACTION, API_VERSION, SSE_ACTION  # noqa: E402,F401  (re-exported: client, sandbox)


# The API's integers are 32-bit (the SDKs type them Integer/int32; Seed's documented range is
# [0, 2^31 - 1]): a larger int cannot be what the service accepts, and a huge one (10**5000)
# would fail later, in str(), with "Exceeds the limit (4300 digits)".
INT32_MAX = 2**31 - 1


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
    # Content check beyond the kind (str and json_text kinds): shape(name, text) raises
    # InvalidParameterError naming the part that is wrong (tools[0].function.name, ...).
    shape: Callable[[str, str], None] | None = field(default=None, repr=False, compare=False)
    # json_text kind: prepare(name, value) turns a Python value into JSON data first (Tools: callables
    # become function specs); a string is taken as the JSON text itself.
    prepare: Callable[[str, Any], Any] | None = field(default=None, repr=False, compare=False)

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
            return "a JSON object of string values"
        if self.kind == "json_text":
            return "a JSON string (a dict or list is serialised for you)"
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
                except ValueError:  # also "Exceeds the limit (4300 digits)" for absurd digit strings
                    raise bad() from None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise bad()
            self._check_range(value, bad)
            if self.maximum is None and value > INT32_MAX:
                raise InvalidParameterError(self.name, original, f"{self.range_text()} and at most {INT32_MAX} "
                                            "(the API's integers are 32-bit)")
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
            if self.shape is not None:
                self.shape(self.name, value)
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
            value = _string_map(self.name, value)  # flat: a nested value is refused before any walk
            if not _utf8_ok(value):
                raise unicode_bad()
            return value
        if kind == "json_text":
            if self.prepare is not None and not isinstance(value, str):
                value = self.prepare(self.name, value)
            if isinstance(value, (Mapping, list, tuple)):
                value = compact_json(json_ready(value, self.name))
            if not isinstance(value, str):
                raise bad()
            if not _utf8_ok(value):
                raise unicode_bad()
            if self.shape is not None:
                self.shape(self.name, value)
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
            return compact_json(value)
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


def _maybe_json(text: str, want: type) -> Any:
    stripped = text.strip()
    if not stripped.startswith("[" if want is list else "{"):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, want) else None


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
        if not _utf8_ok(value):
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
            if not _utf8_ok(key):
                raise InvalidParameterError(path, key, NOT_UTF8)
            out[key] = json_ready(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [json_ready(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, (bytes, bytearray)):
        raise InvalidParameterError(path, value, "text, not bytes: decode it (an image goes as a URL or a "
                                    "data: URL with base64)")
    raise InvalidParameterError(path, value, f"{_JSON_TYPES}; got a {type(value).__name__}")


def _string_map(name: str, value: Mapping) -> dict[str, str]:
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


# -- Messages as the API takes them --------------------------------------------------------------
# The reference types each message as "any"; the service passes them to Qwen's OpenAI-compatible
# chat API. So a message is checked for the shape that API documents, and passed on unchanged
# (extra keys such as ``name`` included): nothing is narrowed or rewritten.
#
#   {"role": "system" | "user", "content": TEXT_OR_PARTS}
#   {"role": "assistant", "content": TEXT_OR_PARTS | None, "tool_calls": [TOOL_CALL, ...]}
#        (content may be None or absent only when tool_calls is given)
#   {"role": "tool", "content": TEXT_OR_PARTS, "tool_call_id": "call_..."}
#   TEXT_OR_PARTS: a string, or a non-empty list of parts:
#        {"type": "text", "text": "..."}
#        {"type": "image_url", "image_url": {"url": "https://... | data:image/png;base64,..."}}
#        any other {"type": "..."} part (video, input_audio, ...) is passed on for the service to judge
#   TOOL_CALL: {"id": "call_...", "type": "function", "function": {"name": "...", "arguments": "<JSON text>"}}
CONTENT_PART_TYPES = ("text", "image_url")  # the parts checked field by field; others pass unchanged
_MESSAGE_SHAPE = "a message object {role, content}"
_CONTENT_SHAPE = "a string or a non-empty list of content parts ({type: text, text} / {type: image_url, image_url})"


def _check_parts(parts: list, path: str) -> None:
    if not parts:
        raise InvalidParameterError(path, parts, _CONTENT_SHAPE)
    for j, part in enumerate(parts):
        where = f"{path}[{j}]"
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            raise InvalidParameterError(where, part, "a content part object with a string type, e.g. "
                                        "{\"type\": \"text\", \"text\": \"...\"}")
        kind = part["type"]
        if kind == "text" and not isinstance(part.get("text"), str):
            raise InvalidParameterError(f"{where}.text", part.get("text"), "a string (a text part's text)")
        if kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str) or not url:
                raise InvalidParameterError(f"{where}.image_url", image, "{\"url\": \"https://...\"} or a "
                                            "data: URL (data:image/png;base64,...)")


def _check_tool_calls(calls: Any, path: str) -> None:
    if not isinstance(calls, list) or not calls:
        raise InvalidParameterError(path, calls, "a non-empty list of tool calls {id, type, function: "
                                    "{name, arguments}}")
    for j, call in enumerate(calls):
        where = f"{path}[{j}]"
        if not isinstance(call, Mapping):
            raise InvalidParameterError(where, call, "a tool call object {id, type, function: {name, arguments}}")
        for key in ("id", "type"):
            if key in call and not isinstance(call[key], str):
                raise InvalidParameterError(f"{where}.{key}", call[key], "a string")
        function = call.get("function")
        if not isinstance(function, Mapping):
            raise InvalidParameterError(f"{where}.function", function, "an object {name, arguments}")
        if not isinstance(function.get("name"), str) or not function.get("name"):
            raise InvalidParameterError(f"{where}.function.name", function.get("name"), "the tool's name (a string)")
        if "arguments" in function and not isinstance(function["arguments"], str):
            raise InvalidParameterError(f"{where}.function.arguments", function["arguments"],
                                        "a JSON string (json.dumps the arguments), as the model sent it")


def check_message(message: Any, i: int) -> dict:
    """One message checked for the API's shape (see above); returns it as plain JSON data."""
    path = f"messages[{i}]"
    if not isinstance(message, Mapping):
        raise InvalidParameterError(path, message, _MESSAGE_SHAPE)
    role = message.get("role")
    if role not in ROLES:
        raise InvalidParameterError(f"{path}.role", role, "one of " + ", ".join(ROLES))
    content = message.get("content")
    calls = message.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            raise InvalidParameterError(f"{path}.tool_calls", calls, "tool calls only on an assistant message "
                                        "(the model's turn); answer them with role 'tool' messages")
        _check_tool_calls(calls, f"{path}.tool_calls")
    if isinstance(content, list):
        _check_parts(content, f"{path}.content")
    elif not isinstance(content, str) and not (content is None and calls is not None):
        expected = _CONTENT_SHAPE + (" (or None with tool_calls)" if role == "assistant" else "")
        raise InvalidParameterError(f"{path}.content", content, expected)
    if role == "tool" and "tool_call_id" in message and not isinstance(message["tool_call_id"], str):
        raise InvalidParameterError(f"{path}.tool_call_id", message["tool_call_id"],
                                    "the id (a string) of the assistant's tool call this message answers")
    if type(content) is str and len(message) == 2 and type(message) is dict:  # noqa: E721
        # The common {role, content} text message: only the text needs the UTF-8 check.
        if not content.isascii() and not _utf8_ok(content):
            raise InvalidParameterError(f"{path}.content", content, NOT_UTF8)
        return dict(message)
    return json_ready(message, path)


def _coerce_messages(value: Any) -> list[dict]:
    expected = "a non-empty list of {role, content} messages with role " + ", ".join(ROLES)
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidParameterError("messages", value, expected)
    return [check_message(message, i) for i, message in enumerate(value)]


# -- Shapes of the JSON-text parameters (the SDK types Tools and ToolChoice as strings) ------------
TOOL_CHOICE_WORDS = ("auto", "none", "required")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names (tools.py checks specs)


def _parse_json_text(name: str, text: str, expected: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidParameterError(name, text, expected) from None


def check_tools(name: str, text: str) -> None:
    """Tools: a JSON array of ``{"type": "function", "function": {"name", "description",
    "parameters": <JSON Schema>}}`` (OpenAI's and Qwen's shape)."""
    expected = ("a JSON array of tools [{\"type\": \"function\", \"function\": {\"name\": ..., "
                "\"parameters\": {...}}}] (a Python list is serialised for you)")
    from dms_magic.tools import ToolSpecError, tool_spec

    tools = _parse_json_text(name, text, expected)
    if not isinstance(tools, list) or not tools:
        raise InvalidParameterError(name, text, expected)
    for i, tool in enumerate(tools):
        where = f"{name}[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise InvalidParameterError(where, tool, "a tool object {type: function, function: {name, parameters}}")
        if tool["type"] == "function":  # the one spec check, tools.py's (name rule, object schema, required)
            try:
                tool_spec(tool)
            except ToolSpecError as exc:
                raise InvalidParameterError(where, tool, f"a valid function tool: {exc}") from None


def prepare_tools(name: str, value: Any) -> Any:
    """Tools given from Python: each callable becomes its function spec (``tools.tool_spec``: JSON
    schema from its signature, type hints and docstring); spec dicts stay as they are. One callable
    or one spec alone counts as a list of one."""
    from dms_magic.tools import ToolSpecError, tool_spec

    items = [value] if callable(value) or isinstance(value, Mapping) else value
    if not isinstance(items, (list, tuple)):
        return value  # not tools at all: the kind check names it
    out = []
    for i, item in enumerate(items):
        if callable(item) and not isinstance(item, Mapping):
            try:
                item = tool_spec(item)
            except ToolSpecError as exc:
                raise InvalidParameterError(f"{name}[{i}]", item, f"a callable that can be described as a "
                                            f"tool ({exc})") from None
        out.append(item)
    names = [t.get("function", {}).get("name") for t in out if isinstance(t, Mapping)
             and isinstance(t.get("function"), Mapping)]
    duplicated = sorted({n for n in names if n is not None and names.count(n) > 1})
    if duplicated:
        raise InvalidParameterError(name, value, f"tools with unique names ({duplicated[0]!r} is given twice)")
    return out


def tool_choice_for(choice: str, tools_text: str | None) -> str:
    """The ToolChoice to send: a word or a JSON object as it is, a bare tool name (``--tool-choice
    NAME``) as ``{"type": "function", "function": {"name": NAME}}``; a named function must be one of
    the tools."""
    names = []
    if tools_text:
        try:
            names = [t["function"]["name"] for t in json.loads(tools_text) if isinstance(t, dict)
                     and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str)]
        except ValueError:
            names = []
    if choice in TOOL_CHOICE_WORDS:
        return choice
    wanted = choice
    if choice.lstrip().startswith("{"):
        wanted = json.loads(choice)["function"]["name"]  # shape-checked already
    if wanted not in names:
        known = f"one of the tools ({', '.join(names)})" if names else "a tool (none given: set tools as well)"
        raise InvalidParameterError("tool_choice", choice, f"one of {', '.join(TOOL_CHOICE_WORDS)}, or the name "
                                    f"of {known}")
    return choice if choice.lstrip().startswith("{") else compact_json({"type": "function",
                                                                        "function": {"name": choice}})


def check_tool_choice(name: str, text: str) -> None:
    """ToolChoice: ``auto``, ``none``, ``required``, or a JSON object naming one function
    (``{"type": "function", "function": {"name": "get_weather"}}``)."""
    expected = (f"one of {', '.join(TOOL_CHOICE_WORDS)}, or {{\"type\": \"function\", \"function\": "
                "{\"name\": ...}} (a dict is serialised for you)")
    if text in TOOL_CHOICE_WORDS or _TOOL_NAME.match(text):  # a bare name: checked against the tools in validate
        return
    choice = _parse_json_text(name, text, expected)
    function = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise InvalidParameterError(name, text, expected)


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
    # The SDK's wording: "Set to null or a value greater than 100 to disable."
    Param("top_k", "TopK", "int", "Number of candidate tokens to sample from: higher is more random, lower more "
          "deterministic; unset (None) or a value greater than 100 disables it.",
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
    Param("search_options", "SearchOptions", "json_object",
          "Web search strategy, a JSON object of string values (true/numbers are sent as text).",
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
    # The SDK's ChatWithDesensitizeSSERequest has these too (not the plain request, nor the reference
    # page): Tools/ToolChoice/Parameters/Input are typed str, Dimensions int. Tools and ToolChoice
    # are Qwen's OpenAI-style function calling (the SDK documents finish reason tool_calls).
    Param("tools", "Tools", "json_text",
          "Tools the model may call: a JSON array of {type: function, function: {name, description, parameters}} "
          "(SSE only). From Python, callables too: their specs are built from signature, type hints and "
          "docstring.", group="advanced", sse_only=True, shape=check_tools, prepare=prepare_tools,
          example='[{"type":"function","function":{"name":"get_weather","description":"Weather of a city",'
                  '"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]'),
    Param("tool_choice", "ToolChoice", "json_text",
          "Whether and which tool to call: auto, none, required, a tool's name, or {type: function, function: "
          "{name}} (SSE only).",
          group="advanced", sse_only=True, shape=check_tool_choice, example="auto"),
    Param("parameters", "Parameters", "json_text", "Model configuration parameters, a JSON string (SSE only).",
          group="advanced", sse_only=True, example='{"incremental_output":true}'),
    Param("input", "Input", "str", "The input to an embedding model (SSE only).", group="advanced",
          sse_only=True, example="hello"),
    Param("dimensions", "Dimensions", "int", "The embedding dimensions (SSE only).", group="advanced",
          sse_only=True, minimum=1, example=1024),
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
    raise UnknownParameterError(name, f" Did you mean {close[0]!r}?" if close else "")


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
        wire = max(sizes, key=sizes.get)
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
                "instance_id", None, "the DMS instance id (set instance_id, or DMS_MAGIC_INSTANCE_ID)")
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


def option_params(*, include_sse: bool = True) -> Iterable[Param]:
    """The rows that become %%dmschat options / form controls (messages come from the cell)."""
    return [p for p in PARAMS if p.name != "messages" and (include_sse or not p.sse_only)]
