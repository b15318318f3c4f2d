"""MaskResult: the masked text plus what was masked, where, and why. pandas only inside ``.spans``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MaskedSpan:
    """``original[start:end]`` (offsets into the ORIGINAL text) was an ``entity``, replaced by ``masked``."""

    start: int
    end: int
    entity: str
    original: str
    masked: str
    validated_by: str


SPAN_COLUMNS = ("start", "end", "entity", "original", "masked", "validated_by")


class MaskResult:
    """What ``mask()`` returns: ``.text`` (masked), ``.original``, ``.entities`` (MaskedSpans),
    ``.spans`` (DataFrame), and an HTML preview in notebooks."""

    __slots__ = ("text", "original", "entities", "rule", "_spans")

    def __init__(self, text: str, original: str, entities: list[MaskedSpan], rule: str = "UserInfo") -> None:
        self.text = text
        self.original = original
        self.entities = entities
        self.rule = rule
        self._spans = None

    @property
    def spans(self) -> Any:
        """One row per masked value: start, end, entity, original, masked, validated_by."""
        if self._spans is None:
            import pandas as pd

            spans = pd.DataFrame([[getattr(s, c) for c in SPAN_COLUMNS] for s in self.entities],
                                 columns=list(SPAN_COLUMNS))
            self._spans = spans.astype({"start": "int64", "end": "int64"})
        return self._spans

    @property
    def masked_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each replacement in ``.text`` (offsets shift when lengths differ)."""
        out, shift = [], 0
        for s in self.entities:
            start = s.start + shift
            out.append((start, start + len(s.masked)))
            shift += len(s.masked) - (s.end - s.start)
        return out

    def counts(self) -> dict[str, int]:
        """entity -> how many values were masked."""
        out: dict[str, int] = {}
        for s in self.entities:
            out[s.entity] = out.get(s.entity, 0) + 1
        return out

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items())) or "nothing"
        preview = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"MaskResult(rule={self.rule!r}, masked {counts}: {preview!r})"

    def _repr_html_(self) -> str:
        from dms_magic.views.mask_view import mask_preview_html  # the one mask view (theme-safe)

        return mask_preview_html(self)


class MaskedMessages(list):
    """What ``mask_messages()`` returns: the masked messages (a list of message dicts, each a copy
    with only ``content`` changed) plus ``.results``, the MaskResult of each message, in order."""

    def __init__(self, messages: list[dict], results: list[MaskResult]) -> None:
        super().__init__(messages)
        self.results = results

    @property
    def entities(self) -> list[tuple[int, MaskedSpan]]:
        """(message index, span) of every masked value, in message then text order."""
        return [(i, span) for i, r in enumerate(self.results) for span in r.entities]

    def counts(self) -> dict[str, int]:
        """entity -> how many values were masked across all the messages."""
        out: dict[str, int] = {}
        for r in self.results:
            for entity, n in r.counts().items():
                out[entity] = out.get(entity, 0) + n
        return out
