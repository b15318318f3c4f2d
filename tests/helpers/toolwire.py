"""What tests compare the wire's Tools/ToolChoice text with: the specs as compact JSON (the SDK's
JSON style) and a tool choice as the parameter table sends it. Test-only: the package's own path is
``ChatRequest(tools=..., tool_choice=...).to_wire()``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dms_magic.errors import ToolSpecError
from dms_magic.tools import tool_names, tool_specs
from dms_magic.wire._json import compact_json
from dms_magic.wire._toolshapes import TOOL_CHOICE_WORDS


def encode_tools(tools: Any) -> str:
    """The ``Tools`` query value: the specs as compact JSON."""
    return compact_json(tool_specs(tools))


def encode_tool_choice(value: str | Mapping) -> str:
    """The ``ToolChoice`` query value: a word as it is, a function choice as compact JSON."""
    return value if isinstance(value, str) else compact_json(value)


def tool_choice_value(choice: Any, tools: Any) -> str | dict:
    """A word of ``TOOL_CHOICE_WORDS`` as it is, a tool NAME (or its dict form) as
    ``{"type": "function", "function": {"name": NAME}}``; a NAME must be among ``tools``."""
    names = tool_names(tools) if tools else []
    if isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if choice.get("type") != "function" or not isinstance(name, str):
            raise ToolSpecError(f"tool_choice {choice!r} is invalid")
        choice = name
    if not isinstance(choice, str) or not choice.strip():
        raise ToolSpecError(f"tool_choice {choice!r} is invalid")
    choice = choice.strip()
    if not names:
        raise ToolSpecError(f"tool_choice={choice!r} needs tools")
    if choice in TOOL_CHOICE_WORDS:
        return choice
    if choice in names:
        return {"type": "function", "function": {"name": choice}}
    raise ToolSpecError(f"tool_choice={choice!r} is not a tool")
