"""Which tool-call arguments look sensitive to the local masking engine (the card flags them: the
service masks the prompt, not what the model writes into a call)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from dms_magic.wire._toolcalls import tool_calls_of


@dataclass(frozen=True)
class SensitiveArgument:
    """An argument value that the local masking engine finds sensitive (``entities``: what it
    found, e.g. ("MOBILE_PHONE",)), or that looks already masked (``looks_masked``: ``*`` runs as
    the default cover operator writes them): with masking on, the model only saw masked text, so
    such an argument may carry a masked value rather than the user's real one."""

    call_id: str | None
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


