"""The one mask view: what masking changes, highlighted (the card, the preview, the dry run).

- :func:`mask_preview_html`: a MaskResult (``%dmschat preview``, the dry run, a ``MaskResult`` in a
  cell): the original with each detected value marked (hover: entity, replacement, validator),
  the masked text, and how many values were masked;
- :func:`model_saw_html`: the card's section when masking is on: the prompt as the model saw it,
  each replacement highlighted in its entity's colour (no original value on this side, not even in
  a tooltip: it is what was sent);
- :func:`summary_text` / :func:`summary_line`: how many values per entity; zero is a warning naming
  the rule and the suggested one.

Rendering only: this module does not run the masking engine (``MaskResult._repr_html_`` imports
it, so it must not import the engine back); views.prediction computes what the card shows.
Theme-safe by styles.py's rules: highlights are light chips with INK text, the rest takes the
theme's colours (masking/preview.py's fixed greys, which failed Dark contrast, are gone).
"""
from __future__ import annotations

from typing import Any, Mapping

from dms_magic.views.styles import MUTED_STYLE, THEME_BORDER, VIEW_CLASS, WARN_STYLE, entity_mark, esc

MAX_PREVIEW_CHARS = 20_000  # long inputs: show the start only; notebooks freeze on megabytes of HTML
MAX_CARD_CHARS = 2_000  # the card shows the start of a long prompt (the preview shows more)
BOX = f"white-space:pre-wrap;font-family:monospace;{THEME_BORDER};padding:6px;margin:4px 0;text-align:left"



def summary_text(counts: Mapping[str, int], rule: str, suggestion: tuple[str, int] | None = None, *,
                 looked: bool = False) -> str:
    """``suggestion``: a rule that would mask something; ``looked``: the other rules were tried (so
    without a suggestion, none masks anything)."""
    total = sum(counts.values())
    if total:
        detail = ", ".join(f"{entity} {n}" for entity, n in sorted(counts.items()))
        return f"local prediction: {total} value{'s' if total != 1 else ''} masked ({detail})"
    hint = (f"; rule {suggestion[0]} would mask {suggestion[1]} value{'s' if suggestion[1] != 1 else ''} "
            f"(--rule {suggestion[0]})" if suggestion
            else "; no rule finds a sensitive value in this text" if looked else "")
    return f"local prediction: nothing masked by rule {rule}{hint}"


def summary_line(counts: Mapping[str, int], rule: str, suggestion: tuple[str, int] | None = None,
                 warn: bool = True, *, looked: bool = False) -> str:
    line = esc(summary_text(counts, rule, suggestion, looked=looked))
    # Zero is a warning only when another rule would have masked something: a prompt with nothing
    # sensitive in it is fine, not orange (issue 24, item 13).
    if sum(counts.values()) or not warn or (looked and not suggestion):
        return f'<span style="{MUTED_STYLE}">{line}</span>'
    return f'<span class="dms-masking-warning" style="{WARN_STYLE}">⚠ {line}</span>'


def marked(result: Any, limit: int) -> tuple[str, str, int]:
    """(original with its values marked, masked text with its replacements marked, characters shown)."""
    original = result.original
    limit = min(len(original), limit)
    before, after, last = [], [], 0
    for span in result.entities:
        if span.start >= limit:
            break
        between = esc(original[last:span.start])
        before += [between, entity_mark(span.original, span.entity,
                                        f"{span.entity} → {span.masked} ({span.validated_by})", tag="mark"),
                   f'<sup style="font-size:0.7em">{esc(span.entity)}</sup>']
        after += [between, entity_mark(span.masked, span.entity, f"{span.entity}, masked")]
        last = span.end
    tail = esc(original[last:max(last, limit)])
    return "".join(before) + tail, "".join(after) + tail, limit


def mask_preview_html(result: Any, *, warn: bool = True, suggestion: tuple[str, int] | None = None,
                      looked: bool = False) -> str:
    """A MaskResult: the original with each detected value marked, the masked text, the count
    (``warn=False``: zero is a plain remark, for a dry run with masking off; ``suggestion``: the
    rule to name when this one masks nothing)."""
    before, after, limit = marked(result, MAX_PREVIEW_CHARS)
    original = result.original
    more = (f'<div style="{MUTED_STYLE}">… showing the first {limit:,} of {len(original):,} characters</div>'
            if limit < len(original) else "")
    summary = summary_line(result.counts(), result.rule, suggestion, warn, looked=looked)
    return (f'<div class="dms-magic-mask-preview {VIEW_CLASS}" style="text-align:left">'
            f'<div><b>Masking preview</b> — rule <code>{esc(result.rule)}</code>: {summary}</div>'
            f'<div style="{MUTED_STYLE}">Original (hover a highlight for its replacement)</div>'
            f'<div style="{BOX}">{before}</div>{more}'
            f'<div style="{MUTED_STYLE}">Masked (what would be sent)</div>'
            f'<div style="{BOX}">{after}</div>{more}</div>')


def mask_preview_text(result: Any, *, suggestion: tuple[str, int] | None = None, looked: bool = False) -> str:
    """The count (or the zero warning), then the MaskResult's own repr (rule, counts, masked text)."""
    return f"{summary_text(result.counts(), result.rule, suggestion, looked=looked)}\n{result!r}"


def model_saw_html(result: Any, rule: str, earlier: int = 0) -> str:
    """The card's "what the model saw": ``result`` (the MaskResult of the last prompt) as masked,
    replacements highlighted; ``earlier``: how many earlier messages were masked too."""
    _, after, limit = marked(result, MAX_CARD_CHARS)
    cut = (f'<span style="{MUTED_STYLE}"> … ({len(result.original) - limit:,} more characters; '
           f'%dmschat preview shows them)</span>' if limit < len(result.original) else "")
    note = f" and {earlier} earlier message{'s' if earlier != 1 else ''}, masked the same way" if earlier else ""
    return (f'<details class="dms-model-saw" open style="margin:4px 0"><summary style="{MUTED_STYLE};cursor:pointer">'
            f'what the model saw (local prediction, rule {esc(rule)}{note}): each highlight is a masked value'
            f'</summary><div style="{BOX};font-size:12px">{after}{cut}</div></details>')
