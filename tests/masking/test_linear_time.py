"""Masking stays linear in the text whatever its line structure (issue 22, build 3).

A 1.4 MB single-line JSON export (40,000 values) took 120 s against 5.4 s indented: for every
value the engine read its whole line (to find where the line starts, to count the separators of a
table row). These tests count that work instead of timing it: the characters the line look-ups
of ``fields`` (labels, cells, cues) read, through a ``str`` subclass that tallies them. Linear
means the work per value does not grow with the length of the line.
"""
from __future__ import annotations

import json

import pytest

from dms_magic.masking import fields, mask


class CountingStr(str):
    """A str that tallies how many characters its searches and slices read."""

    work = 0

    def _bounds(self, start, end) -> tuple[int, int]:
        start, end = slice(start, end).indices(len(self))[:2]
        return start, max(start, end)

    def find(self, sub, start=None, end=None):
        found = str.find(self, sub, start, end)  # reads from start up to the match
        lo, hi = self._bounds(start, end)
        CountingStr.work += (found + len(sub) - lo) if found >= 0 else hi - lo
        return found

    def rfind(self, sub, start=None, end=None):
        found = str.rfind(self, sub, start, end)  # reads back from end down to the match
        lo, hi = self._bounds(start, end)
        CountingStr.work += (hi - found) if found >= 0 else hi - lo
        return found

    def count(self, sub, start=None, end=None):
        lo, hi = self._bounds(start, end)
        CountingStr.work += hi - lo
        return str.count(self, sub, start, end)

    def __contains__(self, sub):
        CountingStr.work += len(self)
        return str.__contains__(self, sub)

    def __getitem__(self, key):
        out = str.__getitem__(self, key)
        CountingStr.work += len(out) if isinstance(key, slice) else 1
        return out


@pytest.fixture
def counted(monkeypatch):
    """Route every text that reaches the fields helpers through CountingStr (one copy per text)."""
    copies: dict[int, CountingStr] = {}

    def wrap(fn):
        def inner(text, *args, **kwargs):
            if not isinstance(text, CountingStr):
                text = copies.setdefault(id(text), CountingStr(text))
            return fn(text, *args, **kwargs)
        return inner

    for name in ("labels", "in_cell", "has_cue", "names_value", "left_ok", "glued_cue"):
        monkeypatch.setattr(fields, name, wrap(getattr(fields, name)))
    CountingStr.work = 0

    def measure(text: str) -> tuple[int, int]:
        copies.clear()
        CountingStr.work = 0
        result = mask(text, "All")
        return CountingStr.work, len(result.entities)

    return measure


def _records(n: int) -> list[dict]:
    return [{"id": i, "name": "张伟", "phone": "138%08d" % (i * 7919 % 10 ** 8), "email": f"u{i}@example.com",
             "ip": f"10.0.{i % 250}.{i % 200 + 1}", "note": "call back"} for i in range(n)]


def _csv(n: int) -> str:
    return "id,name,phone,email,ip\n" + "\n".join(
        f"{r['id']},{r['name']},{r['phone']},{r['email']},{r['ip']}" for r in _records(n))


def _paragraph(n: int) -> str:  # one line of prose, no newline at all
    return "".join(f"客户张伟的手机是{r['phone']}，邮箱{r['email']}，服务器{r['ip']}。" for r in _records(n))


LAYOUTS = {
    "single-line JSON": lambda n: json.dumps(_records(n), ensure_ascii=False),
    "indented JSON": lambda n: json.dumps(_records(n), ensure_ascii=False, indent=2),
    "CSV": _csv,
    "one-line paragraph": _paragraph,
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.slow
def test_work_per_value_does_not_grow_with_the_text(counted, layout):
    small_work, small_values = counted(LAYOUTS[layout](300))
    big_work, big_values = counted(LAYOUTS[layout](1200))
    assert big_values == 4 * small_values > 0
    # the quadratic look-ups made this ratio ~16 on one line (4x the values, each reading a 4x longer line)
    assert big_work / small_work < 5, (small_work, big_work)


def test_a_long_single_line_still_gives_values_their_json_key():
    filler = json.dumps([{"k": "v" * 40}] * 3000)  # ~150 kB before the value, on the same line
    text = filler[:-1] + ', {"phone": "0301 2345678"}]'
    start = text.index("0301")
    assert "phone" in fields.labels(text, start, start + len("0301 2345678"))
    assert "0301 2345678" not in mask(text).text  # a national number named by its key alone


def test_a_csv_row_longer_than_the_row_limit_is_not_read_as_a_table():
    row = ",".join(["x"] * (fields.MAX_ROW_CHARS // 2 + 10))
    text = "a,b\n" + row + ",13812345678"
    start = text.index("138")
    assert not fields.in_cell(text, start, start + 11)
    assert "13812345678" not in mask(text).text
