"""Tool specs: an OpenAI-style function spec from a spec dict (checked) or from a Python callable
(JSON schema from its signature, type hints and docstring).

In wire/ because the parameter table needs it: ``Tools`` given as callables are turned into
specs, and every spec is checked here, before any traffic (the one spec check).
"""
from __future__ import annotations

import datetime as _dt
import enum
import inspect
import json
import re
import types
import typing
from typing import Any, Callable, Mapping

from dms_magic.errors import ToolSpecError
from dms_magic.wire._json import compact_json, compact_json_safe
from dms_magic.wire.values import shorten

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names; DashScope follows it


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
    items = as_list(tools)
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
    if isinstance(tools, Mapping) and not looks_like_spec(tools):
        return {str(name): fn for name, fn in tools.items() if callable(fn)}
    return {spec["function"]["name"]: item for item, spec in ((t, tool_spec(t)) for t in as_list(tools))
            if callable(item) and not isinstance(item, Mapping)}


def as_list(tools: Any) -> list:
    if tools is None:
        return []
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            raise ToolSpecError(f"tools {shorten(tools)!r} is not JSON: give a list of function specs or callables.") \
                from None
    if isinstance(tools, Mapping) and not looks_like_spec(tools):
        return list(tools.values())
    if isinstance(tools, (list, tuple)):
        return list(tools)
    return [tools]


def looks_like_spec(obj: Mapping) -> bool:
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


