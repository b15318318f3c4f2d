"""Tool calling: function specs, the calls a model asks for, running them, the loop.

- ``tool_spec(obj)``: an OpenAI-style ``{"type": "function", "function": {name, description,
  parameters}}`` from a spec dict (checked) or from a Python callable (JSON schema from its
  signature, type hints and docstring). ``tool_specs(tools)`` for a list (names must be unique).
- tool_choice and the ``Tools``/``ToolChoice`` query text are the parameter table's
  (``wire/params.py``: one vocabulary, ``TOOL_CHOICE_WORDS``).
- ``ToolCall``: one call the model asked for (id, name, parsed arguments, the raw string kept);
  ``ToolCall.from_wire`` reads the OpenAI shape in any key case; ``assemble_tool_calls`` joins
  streamed deltas.
- ``run_tool_calls(calls, functions)``: runs each call, never raises; ``tool_loop(send, messages,
  functions)``: rounds of answer -> run tools -> answer, with a transcript for the card.
- ``sensitive_arguments(calls, rule)``: which arguments look sensitive to the local masking engine.

Only the standard library and ``dms_magic.masking`` are used: no client, no session, no IPython.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import inspect
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from dms_magic.defaults import DEFAULT_TOOL_ROUNDS, MAX_TOOL_RESULT_CHARS
from dms_magic.errors import ToolSpecError
from dms_magic.wire.values import grows_by_extension, pick, shorten

__all__ = [
    "ToolSpecError", "ToolCall", "ToolRun", "ToolLoopResult", "SensitiveArgument", "tool_spec", "tool_specs",
    "tool_names", "tool_functions", "assemble_tool_calls",
    "tool_calls_of", "tool_call_fragments", "run_tool_call", "run_tool_calls", "tool_loop", "sensitive_arguments", "compact_json",
]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names; DashScope follows it
MAX_RESULT_CHARS = MAX_TOOL_RESULT_CHARS  # a tool's answer beyond this is cut: it goes back into the prompt


def compact_json(value: Any) -> str:
    """JSON as the official SDK writes its JSON parameters: UTF-8 kept, no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- specs ---------------------------------------------------------------------------------------

def tool_spec(obj: Any) -> dict:
    """An OpenAI-style function spec from a spec dict or a Python callable.

    A dict may be the full ``{"type": "function", "function": {...}}`` or the inner
    ``{"name", "description", "parameters"}``; it is checked (a valid name, ``parameters`` a JSON
    schema object) and returned in the full form. A callable gives: name = ``__name__``,
    description = the docstring's first paragraph, ``parameters`` from the signature (type hints:
    str, int, float, bool, None, list[X], tuple, set, dict[str, X], Optional/Union, Literal, Enum,
    date/datetime, Any; descriptions from a Google ``Args:`` / NumPy ``Parameters`` / Sphinx
    ``:param x:`` section). Parameters without a default are ``required``.
    """
    if isinstance(obj, Mapping):
        return _spec_from_dict(obj)
    if callable(obj):
        return _spec_from_callable(obj)
    raise ToolSpecError(f"a tool must be a function spec dict or a Python callable, not {type(obj).__name__}.")


def tool_specs(tools: Any) -> list[dict]:
    """``tool_spec`` for each tool (one tool alone is accepted too); refuses an empty list and duplicate names."""
    items = _as_list(tools)
    if not items:
        raise ToolSpecError("tools is empty: give at least one function spec or callable.")
    specs = [tool_spec(t) for t in items]
    seen: set[str] = set()
    for spec in specs:
        name = spec["function"]["name"]
        if name in seen:
            raise ToolSpecError(f"two tools are named {name!r}: tool names must be unique.")
        seen.add(name)
    return specs


def tool_names(tools: Any) -> list[str]:
    """The names of the tools, in order."""
    return [spec["function"]["name"] for spec in tool_specs(tools)]


def tool_functions(tools: Any) -> dict[str, Callable]:
    """name -> callable for the callables among ``tools`` (a mapping name -> callable is taken as is)."""
    if isinstance(tools, Mapping) and not _looks_like_spec(tools):
        return {str(name): fn for name, fn in tools.items() if callable(fn)}
    return {spec["function"]["name"]: item for item, spec in ((t, tool_spec(t)) for t in _as_list(tools))
            if callable(item) and not isinstance(item, Mapping)}


def _as_list(tools: Any) -> list:
    if tools is None:
        return []
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            raise ToolSpecError(f"tools {shorten(tools)!r} is not JSON: give a list of function specs or callables.") \
                from None
    if isinstance(tools, Mapping) and not _looks_like_spec(tools):
        return list(tools.values())
    if isinstance(tools, (list, tuple)):
        return list(tools)
    return [tools]


def _looks_like_spec(obj: Mapping) -> bool:
    return "function" in obj or "name" in obj or "type" in obj


def _spec_from_dict(obj: Mapping) -> dict:
    if obj.get("type", "function") != "function":
        raise ToolSpecError(f"tool {shorten(compact_json_safe(obj))}: type must be 'function', not {obj.get('type')!r}.")
    inner = obj.get("function", obj)
    if not isinstance(inner, Mapping):
        raise ToolSpecError(f"tool {shorten(compact_json_safe(obj))}: 'function' must be an object.")
    name = inner.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolSpecError(f"tool name {name!r} is invalid: use 1-64 letters, digits, '_' or '-'.")
    description = inner.get("description")
    if description is not None and not isinstance(description, str):
        raise ToolSpecError(f"tool {name!r}: description must be a string.")
    parameters = inner.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise ToolSpecError(f"tool {name!r}: parameters must be a JSON schema object "
                            '({"type": "object", "properties": {...}}).')
    properties = parameters.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ToolSpecError(f"tool {name!r}: parameters.properties must be an object.")
    required = parameters.get("required", [])
    if not isinstance(required, list) or any(r not in properties for r in required):
        raise ToolSpecError(f"tool {name!r}: parameters.required must list names from parameters.properties.")
    try:
        compact_json(dict(obj))
    except (TypeError, ValueError):
        raise ToolSpecError(f"tool {name!r}: the spec must be plain JSON (str, numbers, lists, dicts).") from None
    function = {k: v for k, v in inner.items()}
    function["parameters"] = dict(parameters)
    function["parameters"].setdefault("type", "object")
    return {"type": "function", "function": function}


def compact_json_safe(obj: Any) -> str:
    try:
        return compact_json(obj)
    except (TypeError, ValueError):
        return repr(obj)


def _spec_from_callable(fn: Callable) -> dict:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    if not _NAME.match(name):
        raise ToolSpecError(f"callable {name!r} cannot be a tool: its name must be 1-64 letters, digits, '_' or '-' "
                            "(a lambda has none: use def, or give a spec dict).")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise ToolSpecError(f"tool {name!r}: its signature cannot be read; give a spec dict instead.") from None
    try:
        hints = typing.get_type_hints(fn if inspect.isroutine(fn) or isinstance(fn, type) else type(fn).__call__)
    except Exception as exc:  # an annotation that does not resolve (NameError, TypeError, ...)
        raise ToolSpecError(f"tool {name!r}: its type hints cannot be resolved ({exc}).") from None
    summary, param_docs = parse_docstring(inspect.getdoc(fn) or "")
    properties: dict[str, dict] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolSpecError(f"tool {name!r}: parameter {param.name!r} is positional-only; tools are called "
                                "with keyword arguments.")
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue  # *args/**kwargs have no names to describe
        hint = hints.get(param.name, inspect.Parameter.empty)
        if hint is inspect.Parameter.empty and param.default is not param.empty and param.default is not None:
            hint = type(param.default)
        try:
            schema = schema_for(hint)
        except ToolSpecError as exc:
            raise ToolSpecError(f"tool {name!r}, parameter {param.name!r}: {exc}") from None
        if param.name in param_docs:
            schema = {**schema, "description": param_docs[param.name]}
        if param.default is param.empty:
            required.append(param.name)
        else:
            default = param.default.value if isinstance(param.default, enum.Enum) else param.default
            try:
                compact_json(default)
                schema["default"] = default
            except (TypeError, ValueError):
                pass  # a default the model cannot read is left out; the parameter stays optional
        properties[param.name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    function: dict[str, Any] = {"name": name}
    if summary:
        function["description"] = summary
    function["parameters"] = parameters
    return {"type": "function", "function": function}


_NONE_TYPE = type(None)


def schema_for(hint: Any) -> dict:
    """The JSON schema of one type hint (ToolSpecError for a type JSON cannot carry)."""
    if hint is inspect.Parameter.empty or hint is Any:
        return {}
    if hint is _NONE_TYPE or hint is None:
        return {"type": "null"}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if hint in simple:
        return {"type": simple[hint]}
    if hint is _dt.datetime:
        return {"type": "string", "format": "date-time"}
    if hint is _dt.date:
        return {"type": "string", "format": "date"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        return {**_enum_type(values), "enum": values}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return schema_for(args[0])
    if origin is typing.Literal:
        return {**_enum_type(list(args)), "enum": list(args)}
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(hint, types.UnionType)):
        members = [a for a in args if a is not _NONE_TYPE]
        nullable = len(members) < len(args)
        if len(members) == 1:
            inner = schema_for(members[0])
            if nullable:
                if isinstance(inner.get("type"), str):
                    return {**inner, "type": [inner["type"], "null"]}
                return {"anyOf": [inner, {"type": "null"}]}
            return inner
        options = [schema_for(a) for a in members] + ([{"type": "null"}] if nullable else [])
        return {"anyOf": options}
    if hint in (list, set, frozenset) or origin in (list, set, frozenset, typing.List, typing.Set,
                                                     _abc("Sequence"), _abc("Iterable"), _abc("Set")):
        return {"type": "array", "items": schema_for(args[0])} if args else {"type": "array"}
    if hint is tuple or origin is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", "items": schema_for(args[0])} if args else {"type": "array"}
        return {"type": "array", "prefixItems": [schema_for(a) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if hint is dict or origin in (dict, _abc("Mapping")):
        if args and args[0] is not str:
            raise ToolSpecError(f"{_type_name(hint)}: JSON object keys are strings, use dict[str, ...].")
        return {"type": "object", "additionalProperties": schema_for(args[1])} if args else {"type": "object"}
    raise ToolSpecError(f"type {_type_name(hint)} has no JSON schema here; use str, int, float, bool, list[...], "
                        "dict[str, ...], Optional[...], Literal[...] or an Enum (or give a spec dict).")


def _abc(name: str) -> Any:
    import collections.abc
    return getattr(collections.abc, name)


def _enum_type(values: list) -> dict:
    kinds = {type(v) for v in values}
    for py, js in ((str, "string"), (bool, "boolean"), (int, "integer"), (float, "number")):
        if kinds == {py}:
            return {"type": js}
    return {}


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Returns?|Yields?|Raises|"
                      r"Examples?|Notes?|See Also|Attributes|Warnings?|References)\s*:?\s*$", re.IGNORECASE)
_PARAM_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(summary, {parameter: description}) from a cleaned docstring.

    The summary is the first paragraph, lines joined with spaces. Parameter descriptions come from
    a Google ``Args:`` section (``name (type): text``, continuation lines indented), a NumPy
    ``Parameters`` section (``name : type`` then indented text) or Sphinx ``:param name: text``.
    """
    lines = doc.expandtabs().splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()) or line.strip().startswith(":"):
            break
        summary_lines.append(line.strip())
    params: dict[str, str] = {}
    for match in re.finditer(r"^\s*:param\s+(?:[^:]*\s)?(\w+):\s*(.*(?:\n(?!\s*:)\s+\S.*)*)", doc, re.MULTILINE):
        params[match.group(1)] = " ".join(match.group(2).split())
    i = 0
    while i < len(lines):
        header = lines[i].strip()
        underline = i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip() or "x")
        if _SECTION.match(header) and header.rstrip(":").strip().lower() in _PARAM_SECTIONS:
            start = i + (2 if underline else 1)
            params.update(_section_params(lines, start, numpy=bool(underline)))
            i = start
            continue
        i += 1
    return " ".join(summary_lines), params


def _section_params(lines: list[str], start: int, *, numpy: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    base: int | None = None
    current: str | None = None
    for line in lines[start:]:
        if not line.strip():
            if numpy:
                continue
            if current is None:
                continue
            break
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if base is None:
            base = indent
        if indent < base or (indent == base and _SECTION.match(stripped)) or (numpy and re.fullmatch(r"-{3,}", stripped)):
            break
        if indent == base:
            if numpy:
                match = re.match(r"^\*{0,2}(\w+)\s*(?::.*)?$", stripped)
                text = ""
            else:
                match = re.match(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
                text = match.group(2) if match else ""
            if not match:
                if numpy and current is not None and out.get(current) == "" and stripped.startswith("-"):
                    break
                continue
            current = match.group(1)
            out[current] = text
        elif current is not None:
            out[current] = (out[current] + " " + stripped).strip()
    return {k: v for k, v in out.items() if v}


# --- calls ---------------------------------------------------------------------------------------

def _get(obj: Any, name: str) -> Any:
    """A key in any case (id, Id, ID; toolCalls/ToolCalls/tool_calls) or an attribute."""
    return pick(obj, name, attributes=True)


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for — the package's one tool-call type (``ChatResult.tool_calls``,
    ``StreamChunk.tool_calls``, the tool loop).

    ``arguments`` is the parsed JSON (a dict for a well-formed call; None when ``arguments_raw``
    is not valid JSON — ``arguments_error`` then says why); ``arguments_raw`` (also
    ``arguments_json``) is the string as received; ``index`` its position among the answer's calls.
    ``id`` is None only on a streamed fragment that does not carry it (a whole call without one
    gets ``call_<index>``, so its tool message can answer it).
    """

    id: str | None
    name: str
    arguments: Any
    arguments_raw: str
    index: int = 0
    type: str = "function"

    @classmethod
    def from_wire(cls, obj: Any, index: int | None = None, *, default_index: int = 0,
                  fragment: bool = False) -> "ToolCall":
        """Read ``{"id", "type": "function", "function": {"name", "arguments": "<json>"}}`` in any key case
        (PascalCase as DMS writes its own keys), a flat ``{"id", "name", "arguments"}``, or a ToolCall.

        ``index`` forces the position; otherwise the call's own ``index`` is used, else
        ``default_index``. ``fragment``: a streamed piece (a missing id or name stays missing)."""
        if isinstance(obj, ToolCall):
            return obj if index is None or index == obj.index else dataclasses.replace(obj, index=index)
        function = _get(obj, "function")
        source = function if isinstance(function, Mapping) else obj
        name = _get(source, "name")
        raw = _get(source, "arguments")
        if raw is None:
            raw = ""
        elif not isinstance(raw, str):  # a service that sends the arguments already parsed
            raw = compact_json_safe(raw)
        position = index
        if position is None:
            try:
                position = int(_get(obj, "index"))
            except (TypeError, ValueError):
                position = default_index
        call_id = _get(obj, "id")
        if call_id in (None, ""):
            call_id = None if fragment else f"call_{position}"
        kind = _get(obj, "type")
        return cls(id=str(call_id) if call_id is not None else None,
                   name=str(name) if name is not None else "", arguments=_parse_arguments(raw)[0],
                   arguments_raw=raw, index=position, type=str(kind) if kind else "function")

    @property
    def arguments_json(self) -> str:
        """The arguments as the model wrote them (the JSON text; same as ``arguments_raw``)."""
        return self.arguments_raw

    @property
    def arguments_error(self) -> str | None:
        """Why ``arguments_raw`` could not be read as a JSON object, or None when it could."""
        return _parse_arguments(self.arguments_raw)[1]

    def to_wire(self) -> dict:
        """The OpenAI/DashScope shape, ready to send back in the assistant message of the next turn:
        ``{"role": "assistant", "content": None, "tool_calls": [c.to_wire() for c in calls]}``."""
        return {"id": self.id, "type": self.type or "function",
                "function": {"name": self.name, "arguments": self.arguments_raw}}

    to_dict = to_wire

    def to_record(self) -> dict:
        """One flat row (``ChatResult.tool_calls_frame()``, the card)."""
        return {"index": self.index, "id": self.id, "name": self.name, "arguments": self.arguments,
                "arguments_raw": self.arguments_raw, "arguments_error": self.arguments_error}

    def __repr__(self) -> str:
        return f"ToolCall(id={self.id!r}, name={self.name!r}, arguments={self.arguments_raw!r})"


def _parse_arguments(raw: str) -> tuple[Any, str | None]:
    if not raw.strip():
        return {}, None  # some services send "" for a call without arguments
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(value, dict):
        return value, f"a JSON {type(value).__name__} instead of an object"
    return value, None


def assemble_tool_calls(deltas: Iterable[Any], *, cumulative: bool | None = None) -> list[ToolCall]:
    """Join streamed tool-call fragments (wire dicts in any key case, or ToolCall fragments) into
    whole calls, by ``index``, OpenAI-style: id, type and name from whichever fragment has them
    (a name sent in pieces is joined), the arguments' pieces appended. ``cumulative``: each
    fragment carries the arguments so far and the last one wins; None (default) decides it per
    call from what arrived (every piece extends the one before and one grew: the text so far)."""
    merged: dict[int, dict] = {}
    for position, delta in enumerate(deltas):
        piece = ToolCall.from_wire(delta, default_index=position, fragment=True)
        slot = merged.setdefault(piece.index, {"id": None, "type": None, "name": "", "pieces": []})
        slot["id"] = piece.id or slot["id"]
        if isinstance(delta, ToolCall) or _get(delta, "type"):
            slot["type"] = slot["type"] or piece.type
        if piece.name:
            old = slot["name"]
            slot["name"] = piece.name if not old or piece.name.startswith(old) else old + piece.name
        if piece.arguments_raw:
            slot["pieces"].append(piece.arguments_raw)
    out = []
    for index in sorted(merged):
        slot = merged[index]
        pieces = slot["pieces"]
        so_far = grows_by_extension(pieces) if cumulative is None else cumulative
        text = (pieces[-1] if pieces else "") if so_far else "".join(pieces)
        out.append(ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=_parse_arguments(text)[0],
                            arguments_raw=text, index=index, type=slot["type"] or "function"))
    return out


def tool_calls_of(result: Any) -> list[ToolCall]:
    """The tool calls of a result object (``.tool_calls``), a message dict (``tool_calls`` in any
    key case, ``ToolCalls`` as DMS writes it) or a list; junk entries are skipped."""
    calls = result if isinstance(result, (list, tuple)) else _get(result, "tool_calls")
    if not isinstance(calls, (list, tuple)):
        return []
    return [ToolCall.from_wire(c, default_index=i) for i, c in enumerate(calls)
            if isinstance(c, (Mapping, ToolCall))]


def tool_call_fragments(message: Any) -> list[ToolCall]:
    """The tool-call fragments one streamed event carries (ids and names may be missing)."""
    calls = _get(message, "tool_calls")
    if not isinstance(calls, list):
        return []
    return [ToolCall.from_wire(c, default_index=i, fragment=True) for i, c in enumerate(calls)
            if isinstance(c, Mapping)]


@dataclass(frozen=True)
class ToolRun:
    """What running one call did: ``ok`` False with ``error`` set when the tool was not called
    (unknown name, bad arguments) or raised; ``message`` is the ``tool`` message sent back."""

    call: ToolCall
    ok: bool
    result: Any
    error: str | None
    message: dict
    round: int = 1

    def to_dict(self) -> dict:
        return {"round": self.round, "id": self.call.id, "name": self.call.name, "arguments": self.call.arguments,
                "arguments_raw": self.call.arguments_raw, "ok": self.ok, "content": self.message["content"],
                "error": self.error}


def run_tool_call(call: Any, functions: Any, *, round: int = 1) -> ToolRun:
    """Run one call with its parsed arguments as keywords. Never raises (except KeyboardInterrupt
    and other BaseExceptions that are not Exceptions): every failure becomes the tool message."""
    call = ToolCall.from_wire(call)
    table = tool_functions(functions)
    if call.name not in table:
        declared = _declared_names(functions)
        if call.name in declared:
            return _failed(call, f"'{call.name}' is declared as a spec without a Python function to run; "
                                 "it was not called.", round)
        known = ", ".join(sorted(declared | set(table))) or "none"
        return _failed(call, f"'{call.name}' is not one of the tools given ({known}); it was not called.", round)
    if call.arguments_error:
        return _failed(call, f"the arguments for '{call.name}' are {call.arguments_error}; the tool was not called.",
                       round)
    fn = table[call.name]
    arguments = dict(call.arguments)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(**arguments)
        except TypeError as exc:
            return _failed(call, f"the arguments do not fit {call.name}{signature}: {exc}; the tool was not called.",
                           round)
        arguments = _restore_enums(fn, arguments)
    try:
        value = fn(**arguments)
    except Exception as exc:  # a tool's failure is reported to the model, never a crash of the cell
        return _failed(call, f"{call.name} raised {type(exc).__name__}: {exc}", round)
    if inspect.isawaitable(value):  # an async def: a notebook's loop is already running, so it cannot be awaited here
        getattr(value, "close", lambda: None)()
        return _failed(call, f"{call.name} is async; tools are run synchronously: give a plain function.", round)
    return ToolRun(call=call, ok=True, result=value, error=None,
                   message=_tool_message(call, _result_text(value)), round=round)


def run_tool_calls(tool_calls: Any, functions: Any, *, round: int = 1) -> list[dict]:
    """The ``tool`` messages answering each call (in order); see ``run_tool_call``."""
    return [run.message for run in _run_all(tool_calls, functions, round)]


def _run_all(tool_calls: Any, functions: Any, round: int) -> list[ToolRun]:
    return [run_tool_call(call, functions, round=round) for call in tool_calls_of(tool_calls)]


def _declared_names(functions: Any) -> set[str]:
    """Names of every tool given, specs without a function included."""
    if isinstance(functions, Mapping) and not _looks_like_spec(functions):
        return {str(name) for name in functions}
    names = set()
    for item in _as_list(functions):
        try:
            names.add(tool_spec(item)["function"]["name"])
        except ToolSpecError:
            continue
    return names


def _failed(call: ToolCall, error: str, round: int) -> ToolRun:
    return ToolRun(call=call, ok=False, result=None, error=error, message=_tool_message(call, "Error: " + error),
                   round=round)


def _tool_message(call: ToolCall, content: str) -> dict:
    return {"role": "tool", "tool_call_id": call.id, "content": content}


def _result_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = compact_json(value)
        except (TypeError, ValueError):
            text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS - 3] + "..."


def _restore_enums(fn: Callable, arguments: dict) -> dict:
    """Values of Enum-typed parameters back to their members (the schema sent their values)."""
    try:
        hints = typing.get_type_hints(fn if inspect.isroutine(fn) or isinstance(fn, type) else type(fn).__call__)
    except Exception:
        return arguments
    out = dict(arguments)
    for name, value in arguments.items():
        hint = hints.get(name)
        members = [a for a in typing.get_args(hint)] if typing.get_origin(hint) is typing.Union else [hint]
        for member in members:
            if isinstance(member, type) and issubclass(member, enum.Enum):
                try:
                    out[name] = member(value)
                    break
                except ValueError:
                    continue
    return out


# --- the loop ------------------------------------------------------------------------------------

@dataclass
class ToolLoopResult:
    """``result``: the last answer; ``transcript``: every call and its outcome, in order;
    ``messages``: the whole conversation (assistant calls and tool messages included);
    ``rounds``: how many times tools were run; ``stopped``: "answer" (no more calls) or
    "max_rounds" (the last answer still asked for tools, which were not run)."""

    result: Any
    transcript: list[ToolRun] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    rounds: int = 0
    stopped: str = "answer"

    def transcript_records(self) -> list[dict]:
        return [run.to_dict() for run in self.transcript]


def tool_loop(send: Callable[[list[dict]], Any], messages: Sequence[Mapping], functions: Any, *,
              max_rounds: int = DEFAULT_TOOL_ROUNDS) -> ToolLoopResult:
    """Send, run the tools the answer asks for, send again with their results; repeat until an
    answer without tool calls or ``max_rounds`` rounds of tools (so at most ``max_rounds + 1``
    requests). ``send(messages) -> result`` with ``result.tool_calls`` and ``result.text``; its
    errors propagate (a failed request fails the cell), a tool's never do."""
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
        raise ValueError(f"max_rounds={max_rounds!r} is invalid: expected an integer >= 1.")
    tool_functions(functions)  # a bad tool list fails here, before any request
    conversation = [dict(m) for m in messages]
    transcript: list[ToolRun] = []
    rounds = 0
    while True:
        result = send(list(conversation))
        calls = tool_calls_of(result)
        if not calls:
            return ToolLoopResult(result, transcript, conversation, rounds, "answer")
        if rounds >= max_rounds:
            return ToolLoopResult(result, transcript, conversation, rounds, "max_rounds")
        rounds += 1
        text = _get(result, "text")
        conversation.append({"role": "assistant", "content": text if isinstance(text, str) else "",
                             "tool_calls": [c.to_wire() for c in calls]})
        runs = [run_tool_call(call, functions, round=rounds) for call in calls]
        transcript.extend(runs)
        conversation.extend(run.message for run in runs)


# --- masking -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SensitiveArgument:
    """An argument value that the local masking engine finds sensitive (``entities``: what it
    found, e.g. ("MOBILE_PHONE",)), or that looks already masked (``looks_masked``: ``*`` runs as
    the default cover operator writes them): with masking on, the model only saw masked text, so
    such an argument may carry a masked value rather than the user's real one."""

    call_id: str
    tool: str
    path: str
    value: str
    entities: tuple[str, ...]
    looks_masked: bool


_MASKED_LIKE = re.compile(r"\*{2,}|\w\*|\*\w")


def sensitive_arguments(tool_calls: Any, rule: str | None = None, *, config: Any = None) -> list[SensitiveArgument]:
    """Every string (or number) inside the calls' arguments that ``masking.detect`` flags under
    ``rule`` (default: the masking default rule), or that looks masked. Paths are like
    ``address.city`` and ``phones[0]``."""
    from dms_magic.masking import DEFAULT_RULE, detect

    rule = rule or DEFAULT_RULE
    calls = tool_calls_of(tool_calls)
    found: list[SensitiveArgument] = []
    for call in calls:
        values = call.arguments if call.arguments is not None else call.arguments_raw
        for path, text in _leaves(values, ""):
            detections = detect(text, rule, config=config)
            looks_masked = bool(_MASKED_LIKE.search(text))
            if detections or looks_masked:
                entities = tuple(dict.fromkeys(d.entity for d in detections))
                found.append(SensitiveArgument(call.id, call.name, path or "(arguments)", text, entities,
                                               looks_masked))
    return found


def _leaves(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, str):
        if value.strip():
            yield path, value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, str(value)  # a phone or card number the model wrote as a number


# --- small helpers -------------------------------------------------------------------------------



def call_id_for(name: str, arguments_raw: str, salt: str = "") -> str:
    """A stable call id (the sandbox names its calls with it, so replays agree)."""
    return "call_" + hashlib.sha1(f"{salt}\0{name}\0{arguments_raw}".encode("utf-8")).hexdigest()[:24]
