"""The ChatWithDesensitize request parameters, declared once: the table (``PARAMS``) and its rows.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dms_magic.errors import InvalidParameterError, UnknownParameterError
from dms_magic.wire._json import INT32_MAX, NOT_UTF8, compact_json, json_ready, maybe_json, string_map, utf8_ok
from dms_magic.wire._messages import coerce_messages
from dms_magic.wire._toolshapes import check_tool_choice, check_tools, prepare_tools

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
        assert self.maximum is not None  # a range_text without any bound returned above
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
            return self._text(value, bad, unicode_bad)
        if kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise bad()
            return value
        if kind == "str_list":
            if isinstance(value, str):
                value = maybe_json(value, list) or [value]
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad()
            if not utf8_ok(value):
                raise unicode_bad()
            return value
        if kind == "json_object":
            if isinstance(value, str):
                parsed = maybe_json(value, dict)
                if parsed is None:
                    raise bad()
                value = parsed
            if not isinstance(value, Mapping):
                raise bad()
            value = string_map(self.name, value)  # flat: a nested value is refused before any walk
            if not utf8_ok(value):
                raise unicode_bad()
            return value
        if kind == "json_text":
            if self.prepare is not None and not isinstance(value, str):
                value = self.prepare(self.name, value)
            if isinstance(value, (Mapping, list, tuple)):
                value = compact_json(json_ready(value, self.name))
            return self._text(value, bad, unicode_bad)
        if kind == "messages":
            return coerce_messages(value)
        raise AssertionError(f"unknown kind {kind!r}")  # a table bug, not a user error

    def _text(self, value: Any, bad: Callable[[], InvalidParameterError],
              unicode_bad: Callable[[], InvalidParameterError]) -> str:
        """The end of every text kind (str, json_text): a str, valid UTF-8, and its row's content check."""
        if not isinstance(value, str):
            raise bad()
        if not utf8_ok(value):
            raise unicode_bad()
        if self.shape is not None:
            self.shape(self.name, value)
        return value

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


def option_params(*, include_sse: bool = True) -> Iterable[Param]:
    """The rows that become %%dmschat options / form controls (messages come from the cell)."""
    return [p for p in PARAMS if p.name != "messages" and (include_sse or not p.sse_only)]
