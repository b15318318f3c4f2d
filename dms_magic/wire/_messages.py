"""Messages as the API takes them: their shape (checked, never rewritten) and their text.

``content_text`` is the package's one answer to "what text does this message hold": the sandbox
generates from it and counts its prompt tokens with it, the dry run estimates with it, the masking
preview shows it. One function, so that the dry run's token estimate is the sandbox's count
(tests/workflows/test_dry_run_tokens.py holds them together).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dms_magic.errors import InvalidParameterError
from dms_magic.wire._json import NOT_UTF8, json_ready, utf8_ok

ROLES = ("system", "user", "assistant", "tool")

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
        if not content.isascii() and not utf8_ok(content):
            raise InvalidParameterError(f"{path}.content", content, NOT_UTF8)
        return dict(message)
    return json_ready(message, path)


def coerce_messages(value: Any) -> list[dict]:
    expected = "a non-empty list of {role, content} messages with role " + ", ".join(ROLES)
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidParameterError("messages", value, expected)
    return [check_message(message, i) for i, message in enumerate(value)]



def content_text(content: Any) -> str:
    """The text of a message's content: a string as it is; a list of parts as its text parts joined
    by newlines, an image part adding nothing (images are counted apart, as Qwen-VL counts them) and
    any other part as ``[type]``; anything else (a tool-call turn's ``None``) as ""."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
        elif kind != "image_url":
            texts.append(f"[{kind or 'part'}]")
    return "\n".join(texts)


def message_text(message: Any) -> str:
    """``content_text`` of a message's ``content`` ("" for anything that is not a message)."""
    return content_text(message.get("content")) if isinstance(message, Mapping) else ""
