"""Where a value sits in structured text, and the label that names it.

People rarely put the cue word right before a value in forms, tables, logs and JSON: the cue is
the key of ``key: value`` (``key：value``, ``key=value``, ``"key": "value"``), the header of a
markdown table or CSV column, or the cell before (``| 客户 | 张伟 |``). ``labels(text, start, end)``
returns those labels for the value ``text[start:end]`` so that every recognizer can use them the
way it uses words right before a value. ``glued_cue`` accepts a known Latin cue typed right
before a value with no space (``mobile13812345678``, ``IP10.1.2.3``, ``id_card1101...``), which
the letter boundary of a pattern would otherwise refuse, while any other Latin prefix (``SF`` +
12 digits, ``ORD2024...``, ``INV...``) keeps the value a part of a larger identifier.
"""
from __future__ import annotations

import re

# How far back a table or CSV header is looked for (lines, and characters in all).
MAX_TABLE_LINES = 60
MAX_TABLE_CHARS = 8000
# A key of ``key: value``: a short run of label characters (CJK, letters, digits, _ . - space).
_KEY = re.compile(r"([\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9_.\- /]{0,24})$")
_KV_SEPARATORS = ":：="
_VALUE_OPENERS = " \t\"'“「『（([<"
_CAMEL = re.compile(r"[_\-]+|(?<=[a-z])(?=[A-Z])")


# Every look around a value is bounded, so that masking stays linear in the text whatever its line
# structure: a 1.4 MB single-line JSON export has 40,000 values on one line, and reading that
# whole line for each of them (to count its separators, to find its start) was quadratic. A line
# longer than MAX_ROW_CHARS is not taken for a table or CSV row; its key:value labels still count.
MAX_ROW_CHARS = 4096


def _line_start(text: str, pos: int, limit: int = MAX_ROW_CHARS) -> int | None:
    """Start of the line holding ``pos``, or None when it starts more than ``limit`` characters back."""
    lo = max(0, pos - limit)
    i = text.rfind("\n", lo, pos)
    if i >= 0:
        return i + 1
    return 0 if lo == 0 else None


def _line_end(text: str, pos: int, limit: int = MAX_ROW_CHARS) -> int | None:
    """End of the line holding ``pos``, or None when it ends more than ``limit`` characters on."""
    hi = min(len(text), pos + limit)
    i = text.find("\n", pos, hi)
    if i >= 0:
        return i
    return len(text) if hi == len(text) else None


def _line(text: str, start: int, end: int) -> tuple[int, int, bool]:
    """(start, end, whole) of the value's line, clipped to MAX_ROW_CHARS on each side; ``whole``
    is False when it was clipped (then the line is too long to be a table row)."""
    ls, le = _line_start(text, start), _line_end(text, end)
    whole = ls is not None and le is not None
    if ls is None:
        ls = max(0, start - MAX_ROW_CHARS)
    if le is None:
        le = min(len(text), end + MAX_ROW_CHARS)
    return ls, le, whole


def _key_before(text: str, ls: int, start: int) -> str | None:
    """The key of ``key: value`` / ``key=value`` / ``"key": "value"`` / ``key<TAB>value`` ending right before ``start``."""
    i = start
    while i > ls and text[i - 1] in _VALUE_OPENERS:
        i -= 1
    tab = i < start and "\t" in text[i:start]
    bracket = i < start and text[start - 1] in "[(（"  # customer[张伟], name(John Smith)
    if i > ls and text[i - 1] in _KV_SEPARATORS:
        i -= 1
        while i > ls and text[i - 1] in " \t\"'":
            i -= 1
    elif not (tab or bracket):
        return None
    m = _KEY.search(text, max(ls, i - 25), i)
    return m.group(1).strip().lower() if m else None


# A label alone on its line, the value opening the next one (``Phone:\n(08) 8747 6301``).
_KEY_LINE = re.compile(r"[ \t>]*([^\W\d_][\w .'/&-]{0,30}?)[ \t]*[:：][ \t]*")


def _key_line_above(text: str, ls: int) -> str | None:
    """The key of a ``key:`` line right above the line starting at ``ls``."""
    above = text.rfind("\n", max(0, ls - 48), ls - 1) + 1
    if above == 0 and ls - 1 > 48:
        return None
    m = _KEY_LINE.fullmatch(text, above, ls - 1)
    return m.group(1).strip().lower() if m else None


def _cells(line: str, sep: str) -> list[str]:
    parts = line.split(sep)
    if sep == "|":
        if parts and not parts[0].strip():
            parts = parts[1:]
        if parts and not parts[-1].strip():
            parts = parts[:-1]
    return [p.strip() for p in parts]


def _table_labels(text: str, ls: int, le: int, start: int, end: int) -> list[str]:
    """Header cell of the value's column and the cell before it, for markdown tables and CSV."""
    line = text[ls:le]
    rel_s, rel_e = start - ls, end - ls
    if "|" in line:
        sep = "|"
    elif any(c in line for c in _CSV_SEPS):
        sep = _csv_sep(text, ls, line)
    else:
        return _column_header(text, ls, le, start, end)
    if sep in line[rel_s:rel_e]:
        return []  # the separator is inside the value: not a cell
    before, after = line[:rel_s], line[rel_e:]
    if before.strip(" \"'")[-1:] not in (sep, "") or after.strip(" \"'")[:1] not in (sep, ""):
        return []  # the value is not a whole cell
    idx = before.count(sep) - (1 if sep == "|" and before.lstrip().startswith("|") else 0)
    cells = _cells(line, sep)
    out = []
    if sep == "|":
        nxt_end = _line_end(text, le + 1)
        nxt = text[le + 1:nxt_end] if nxt_end is not None else "x"  # a long next line is no separator row
        if le < len(text) and re.fullmatch(r"[\s|:\-]+", nxt or "x") and "-" in nxt:
            return []  # this row is the header itself
        if idx == 1 and len(cells) == 2:
            out.append(cells[0].lower())  # a two-column key/value table: | 客户 | 张伟 |
    # The header: the first line of the block of lines shaped like this one.
    want = line.count(sep)
    header = None
    pos, seen = ls, 0
    while pos > 0 and seen < MAX_TABLE_LINES and ls - pos < MAX_TABLE_CHARS:
        prev_s = _line_start(text, pos - 1)
        if prev_s is None:
            break  # a line this long is not a header
        prev = text[prev_s:pos - 1]
        if sep == "|":
            if "|" not in prev:
                break
        elif prev.count(sep) != want and not (sep != "|" and want >= 2 and prev.count(sep) >= 2):
            break  # (a CSV row may hold more separators than its header: 9,110,074.32 unquoted)
        header = prev
        pos, seen = prev_s, seen + 1
    if header is not None:
        if sep == "|" and re.fullmatch(r"[\s|:\-]+", header):
            header = None
        if header is not None:
            head = _cells(header, sep)
            if sep == "|" and idx < len(head) and not re.fullmatch(r"[\s:\-]+", head[idx] or "x"):
                out.append(head[idx].lower())
            elif sep != "|":
                if idx < len(head):
                    out.append(head[idx].strip("\"'").lower())
                ridx = len(head) - 1 - after.count(sep)
                if len(head) != len(cells) and 0 <= ridx < len(head) and ridx != idx:
                    # an unquoted cell holding the separator shifts the cells after it: count from the end too
                    out.append(head[ridx].strip("\"'").lower())
    return out


_CSV_SEPS = ",\t;"


def _csv_sep(text: str, ls: int, line: str) -> str:
    """The separator of a CSV row: the one the line above uses as often (its header or a sibling
    row), else the most frequent (``9,434.58;0571-...;x`` is a ``;`` row holding a number with commas)."""
    prev_s = _line_start(text, ls - 1) if ls else None
    prev = text[prev_s:ls - 1] if prev_s is not None else ""
    seps = [c for c in _CSV_SEPS if c in line]
    for c in seps:
        if prev.count(c) == line.count(c):
            return c
    return max(seps, key=line.count)


_SINGLE_CELL = re.compile(r"[^\s,|，。；;:：]{1,30}")


def _column_header(text: str, ls: int, le: int, start: int, end: int) -> list[str]:
    """A one-column CSV (a header line, then one value per line): the value is its whole line and
    the lines above it up to the header are single cells too."""
    if text[ls:le].strip() != text[start:end] or not _SINGLE_CELL.fullmatch(text[start:end]):
        return []
    header = None
    pos, seen = ls, 0
    while pos > 0 and seen < MAX_TABLE_LINES and ls - pos < MAX_TABLE_CHARS:
        prev_s = _line_start(text, pos - 1, 64)
        if prev_s is None:
            break
        prev = text[prev_s:pos - 1].strip()
        if not _SINGLE_CELL.fullmatch(prev):
            break
        header = prev
        pos, seen = prev_s, seen + 1
    return [header.lower()] if header else []


def labels(text: str, start: int, end: int) -> list[str]:
    """Lower-case labels naming the value ``text[start:end]``: its key, its column header, the cell before."""
    ls, le, whole = _line(text, start, end)
    out = []
    key = _key_before(text, ls, start)
    if key:
        out.append(key)
    elif ls > 0 and not text[ls:start].strip(" \t>"):
        key = _key_line_above(text, ls)
        if key:
            out.append(key)
    if whole:
        out.extend(_table_labels(text, ls, le, start, end))
    return out


def in_cell(text: str, start: int, end: int) -> bool:
    """The value is a whole cell of a markdown table or CSV row (its neighbours are other columns)."""
    ls, le, whole = _line(text, start, end)
    if not whole:
        return False
    line = text[ls:le]
    sep = "|" if "|" in line else (_csv_sep(text, ls, line) if any(c in line for c in _CSV_SEPS) else None)
    if sep is None:
        return False
    before, after = line[:start - ls].rstrip(" \"'"), line[end - ls:].lstrip(" \"'")
    return (before.endswith(sep) or not before) and (after.startswith(sep) or not after) and sep in line


def glued_cue(text: str, pos: int, cues: frozenset[str]) -> bool:
    """The ASCII word glued right before ``pos`` (``mobile`` in ``mobile138...``, ``card`` in
    ``id_card``, ``No`` in ``CardNo``) is one of ``cues``: a label, so the value may start here."""
    if not cues:
        return False
    i = pos
    while i > 0 and pos - i < 32:
        c = text[i - 1]
        if not (c.isascii() and (c.isalnum() or c in "_-")):
            break
        i -= 1
    if i > 0 and text[i - 1].isascii() and text[i - 1].isalnum():
        return False  # a long token: part of an identifier
    run = text[i:pos]
    parts = [p.lower() for p in _CAMEL.split(run) if p]
    if not parts:
        return False
    return parts[-1] in cues or "".join(parts[-2:]) in cues or "".join(parts) in cues


def left_ok(text: str, start: int, cues: frozenset[str], *, colon: bool = False) -> bool:
    """May a value start at ``start``? Not inside an ASCII word or number, unless that word is a
    known cue; with ``colon`` (IPv6, MAC, whose own separator is ``:``) a ``:`` before the value is
    a ``key:value`` separator when a non-word character or a cue stands before it."""
    if start == 0:
        return True
    c = text[start - 1]
    if c.isascii() and c.isalnum():
        return glued_cue(text, start, cues)
    if colon and c == ":":
        if start == 1:
            return True
        c2 = text[start - 2]
        if c2 == ":":
            return False
        if c2.isascii() and c2.isalnum():
            return glued_cue(text, start - 1, cues)
    return True


def has_cue(text: str, start: int, end: int, words: tuple[str, ...], window: int) -> bool:
    """One of ``words`` (lower case) is in the ``window`` characters before the value or in a label
    naming it; inside a table cell only the labels count (the text before belongs to other columns)."""
    found = labels(text, start, end)
    if any(w in lab for lab in found for w in words):
        return True
    if in_cell(text, start, end):
        return False
    lo = max(0, start - window)
    ls = text.rfind("\n", lo, start) + 1  # a cue on the line above belongs to another field or row
    before = text[max(ls, lo):start].lower()
    return any(w in before for w in words)


_DIGIT_RUN = re.compile(r"[0-9]{4}")


def names_value(text: str, start: int, end: int, words: tuple[str, ...], window: int) -> bool:
    """Stricter ``has_cue`` for values whose only evidence is the cue: the cue must name *this*
    value. A value with a label of its own is named by that label alone (``合计: 2734324`` after
    ``电话: ...`` is an amount); a cue in the window counts only when no other number (4+ digits)
    stands between it and the value (``证件号 <ID> 参考号 <number>``: the cue named the first)."""
    found = labels(text, start, end)
    if found:
        return any(w in lab for lab in found for w in words)
    if in_cell(text, start, end):
        return False
    lo = max(0, start - window)
    ls = text.rfind("\n", lo, start) + 1
    before = text[max(ls, lo):start].lower()
    last = max((before.rfind(w) + len(w) for w in words if w in before), default=-1)
    return last >= 0 and not _DIGIT_RUN.search(before, last)
