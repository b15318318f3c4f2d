"""Masking a conversation as the service masks it: the text of every message, images and tool-call
turns passed on as they are.

Beside ``engine.mask_messages`` (which takes text-only messages) rather than in images.py: what is
masked, and how a value keeps one pseudonym across messages, is the masking engine's decision; the
image module only builds and reads image parts.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dms_magic.masking.engine import mask_messages
from dms_magic.masking.result import MaskedMessages


def mask_text_parts(messages: Any, rule: str, *, config: Any = None, session: Any = None) -> MaskedMessages:
    """The conversation masked as the service masks it: text only. A string content and every
    ``text`` part are masked in one masking session (a value gets the same pseudonym everywhere);
    image parts, a tool-call turn's ``None`` content, ``tool_calls`` and ids are passed on as they
    are (``IMAGES_NOT_MASKED``). Returns ``masking.MaskedMessages``: copies of the messages (the
    input is not changed), ``.results`` one MaskResult per text masked, in order."""
    texts: list[dict[str, Any]] = []  # every text to mask
    places: list[tuple[int, int | None]] = []  # and where it goes back
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            texts.append({"role": message.get("role"), "content": content})
            places.append((i, None))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    texts.append({"role": message.get("role"), "content": part["text"]})
                    places.append((i, j))
    masked = mask_messages(texts, rule, config=config, session=session)
    out = [dict(m) if isinstance(m, Mapping) else m for m in messages]
    for (at, part_at), text in zip(places, (m["content"] for m in masked)):
        if part_at is None:
            out[at]["content"] = text
        else:
            if out[at]["content"] is messages[at]["content"]:
                out[at]["content"] = [dict(p) if isinstance(p, Mapping) else p for p in messages[at]["content"]]
            out[at]["content"][part_at]["text"] = text
    return MaskedMessages(out, list(masked.results))
