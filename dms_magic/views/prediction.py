"""What the local masking engine predicts for a card's messages: counts, a better rule, the masked
prompt. The service masks on its side; this is our prediction of it, computed once per (texts,
rule): a card re-renders on every repr and every stream update. The drawing is views.mask_view's.
"""
from __future__ import annotations

import functools
from typing import Any, Mapping

from dms_magic.views.mask_view import MAX_CARD_CHARS, mask_preview_html, mask_preview_text, summary_line, summary_text
from dms_magic.views.mask_view import model_saw_html as _model_saw_html
from dms_magic.views.styles import ERROR_STYLE, esc


def contents(messages: Any) -> tuple[str, ...]:
    """The texts masking applies to: user and system messages (a bare string is one user message)."""
    if isinstance(messages, str):
        return (messages,)
    from dms_magic.wire._messages import content_text  # a message with images: its text parts (images are not masked)

    return tuple(content_text(m.get("content")) for m in messages or ()
                 if isinstance(m, Mapping) and m.get("role") in ("user", "system")
                 and isinstance(m.get("content"), (str, list)))


@functools.lru_cache(maxsize=256)
def _masked(texts: tuple[str, ...], rule: str) -> Any:
    """masking.MaskedMessages of these texts (one masking session, as the service masks a request)."""
    from dms_magic.masking import mask_messages

    return mask_messages([{"role": "user", "content": c} for c in texts], rule)


def masked_counts(messages: Any, rule: str) -> dict[str, int]:
    """entity -> how many values the local engine masks in these messages with ``rule``.
    Raises UnknownRuleError (a ValueError)."""
    return dict(_masked(contents(messages), rule).counts())


def suggest_rule(messages: Any, exclude: str | None = None) -> str | None:
    """A rule category that would have masked something in these messages (None if none would)."""
    better = suggestion(messages, exclude)
    return better[0] if better else None


def suggestion(messages: Any, exclude: str | None = None) -> tuple[str, int] | None:
    """(rule, how many values it masks) for the engine's suggested rule other than ``exclude``."""
    return _suggestion(contents(messages), exclude)


@functools.lru_cache(maxsize=256)
def _suggestion(texts: tuple[str, ...], exclude: str | None) -> tuple[str, int] | None:
    from dms_magic.masking import rule_counts, suggest_rule as engine_suggestion

    messages = [{"role": "user", "content": c} for c in texts]
    better = engine_suggestion(messages, exclude=exclude)
    return (better, rule_counts(messages)[better]) if better else None


def nothing_masked(messages: Any, rule: str | None) -> bool:
    """Whether masking with ``rule`` masks nothing in these messages while another rule would
    (local prediction): the masking badge's warning. False when there is no text, nothing
    sensitive at all, or the rule is unknown (that has its own message)."""
    if not rule or not contents(messages):
        return False
    try:
        return not sum(masked_counts(messages, rule).values()) and suggestion(messages, rule) is not None
    except ValueError:
        return False


def _suggest_if_zero(counts: Mapping[str, int], messages: Any, rule: str) -> tuple[str, int] | None:
    return None if sum(counts.values()) else suggestion(messages, rule)


def masking_summary_html(messages: Any, rule: str | None) -> str:
    """One line: how many values the local prediction masks, per entity (zero: a warning)."""
    if not rule or not contents(messages):
        return ""
    try:
        counts = masked_counts(messages, rule)
    except ValueError as err:  # an unknown rule: the service refuses it too; say so, do not fail the card
        return f'<div style="margin:2px 0"><span style="{ERROR_STYLE}">rule {esc(rule)}: {esc(err)}</span></div>'
    line = summary_line(counts, rule, _suggest_if_zero(counts, messages, rule), looked=True)
    return f'<div class="dms-masking-summary" style="margin:2px 0">{line}</div>'


def masking_summary_text(messages: Any, rule: str | None) -> str | None:
    """The plain-text twin of :func:`masking_summary_html` (None when there is nothing to say)."""
    if not rule or not contents(messages):
        return None
    try:
        counts = masked_counts(messages, rule)
    except ValueError as err:
        return f"rule {rule}: {err}"
    return summary_text(counts, rule, _suggest_if_zero(counts, messages, rule), looked=True)


def _last_masked(messages: Any, rule: str | None) -> tuple[Any, int] | None:
    texts = contents(messages)
    if not rule or not texts:
        return None
    try:
        results = _masked(texts, rule).results
    except ValueError:
        return None
    return (results[-1], len(results) - 1) if results[-1].entities else None


def model_saw_html(messages: Any, rule: str | None) -> str:
    """The card's "what the model saw" for these messages ("" when masking changes nothing)."""
    found = _last_masked(messages, rule)
    return _model_saw_html(found[0], rule, found[1]) if found and rule else ""  # found implies a rule


def model_saw_text(messages: Any, rule: str | None) -> str | None:
    found = _last_masked(messages, rule)
    return f"the model saw: {found[0].text[:MAX_CARD_CHARS]}" if found else None


def preview_html(result: Any, *, warn: bool = True) -> str:
    """views.mask_view's preview of a MaskResult, naming a better rule when this one masks nothing."""
    return mask_preview_html(result, warn=warn, suggestion=_suggest_if_zero(result.counts(), result.original,
                                                                            result.rule), looked=True)


def preview_text(result: Any) -> str:
    return mask_preview_text(result, suggestion=_suggest_if_zero(result.counts(), result.original, result.rule),
                             looked=True)


def masked_values(messages: Any, rule: str | None) -> tuple[str, ...]:
    """The replacement values the local prediction puts into these messages (e.g. ``张*``): the card
    shows them in the answer exactly as they are, not as Markdown."""
    texts = contents(messages)
    if not rule or not texts:
        return ()
    try:
        return tuple({span.masked for result in _masked(texts, rule).results for span in result.entities})
    except ValueError:
        return ()
