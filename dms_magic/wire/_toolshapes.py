"""The shapes of the tool parameters (the SDK types Tools and ToolChoice as JSON strings), and the
one tool-choice vocabulary (``TOOL_CHOICE_WORDS``) the table, the magic, the form and the sandbox read.

A function spec itself is checked by ``tools.tool_spec`` (the one spec check): this module only
says where in the request a wrong one is.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from dms_magic.errors import InvalidParameterError, ToolSpecError
from dms_magic.wire._json import compact_json, parse_json_text

TOOL_CHOICE_WORDS = ("auto", "none", "required")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names (tools.py checks specs)


def check_tools(name: str, text: str) -> None:
    """Tools: a JSON array of ``{"type": "function", "function": {"name", "description",
    "parameters": <JSON Schema>}}`` (OpenAI's and Qwen's shape)."""
    expected = ("a JSON array of tools [{\"type\": \"function\", \"function\": {\"name\": ..., "
                "\"parameters\": {...}}}] (a Python list is serialised for you)")
    from dms_magic.wire._toolspecs import tool_spec

    tools = parse_json_text(name, text, expected)
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
    from dms_magic.wire._toolspecs import tool_spec

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
    choice = parse_json_text(name, text, expected)
    function = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise InvalidParameterError(name, text, expected)
