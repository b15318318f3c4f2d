"""Messages as the API takes them: the text of a message.

``content_text`` is the package's one answer to "what text does this message hold": the sandbox
generates from it and counts its prompt tokens with it, the dry run estimates with it, the masking
preview shows it. One function, so that the dry run's token estimate is the sandbox's count
(tests/unit/test_message_text.py holds them together).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
