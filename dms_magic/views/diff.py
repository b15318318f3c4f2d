"""The word diff every view shows (the compare view side by side, the card inline).

One walk (:func:`diff_runs`) over one kind of unit (:func:`diff_units`): words, spaces and
punctuation, CJK runs split per character (CJK has no spaces between words, so a changed name
does not mark the whole sentence).
"""
from __future__ import annotations

import difflib
import re

from dms_magic.views.styles import ANSWER_STYLE, DEL_STYLE, INS_STYLE, esc

_WORDS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def diff_units(text: str) -> list[str]:
    """The units both diff views compare (:func:`diff_html`, :func:`diff_sides`).
    Lossless: ``"".join(diff_units(t)) == t``."""
    units: list[str] = []
    for piece in _WORDS.findall(text):
        units.extend(piece if _CJK.search(piece) else [piece])
    return units


def diff_runs(before: str | None, after: str | None) -> list[tuple[bool, str, str]]:
    """The word diff of two texts as runs ``(same, old, new)``: ``same`` runs have ``old == new``;
    the others hold what only ``before`` has (``old``) and what only ``after`` has (``new``),
    either possibly empty. The one diff walk every view is built from."""
    a, b = diff_units(before or ""), diff_units(after or "")
    return [(op == "equal", "".join(a[i1:i2]), "".join(b[j1:j2]))
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()]


def _removed(text: str) -> str:
    return f'<del style="{DEL_STYLE}">{esc(text)}</del>' if text else ""


def _added(text: str) -> str:
    return f'<ins style="{INS_STYLE}">{esc(text)}</ins>' if text else ""


def diff_html(before: str | None, after: str | None) -> str:
    """Word-level differences of two texts inline: removals struck red, additions green."""
    out = [esc(old) if same else _removed(old) + _added(new) for same, old, new in diff_runs(before, after)]
    return f'<div style="{ANSWER_STYLE}">{"".join(out)}</div>'


def diff_sides(before: str | None, after: str | None) -> tuple[str, str]:
    """The same diff as escaped HTML for a side-by-side view: words only ``before`` has are marked
    removed on the left, words only ``after`` has are marked added on the right."""
    left, right = [], []
    for same, old, new in diff_runs(before, after):
        left.append(esc(old) if same else _removed(old))
        right.append(esc(new) if same else _added(new))
    return "".join(left), "".join(right)
