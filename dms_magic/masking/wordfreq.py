"""jieba's word dictionary, compact and loaded lazily, so that the first name candidate costs ~0.05 s, not ~1 s.

jieba builds one Python dict of ~500,000 words and prefixes at start (``marshal.load`` of its cache,
~0.6-0.8 s) and ``jieba.posseg`` parses its dictionary again for part-of-speech tags (~0.5 s). The
names recognizer only ever segments windows of a few characters, so it needs the entries of a
handful of first characters. ``data/words.txt.gz`` (built from jieba's ``dict.txt`` by
``python -m dms_magic.masking.wordfreq``) holds every word of up to ``MAX_WORD`` characters with its
frequency and tag, grouped by first character, each group compressed on its own behind an index:
a group is decompressed and parsed the first time a text to segment holds its character. Segmentation of a window of at most
``MAX_WORD`` characters is the same as with jieba's full dictionary (longer words can never match
inside it), and the probabilities use jieba's original total.
"""
from __future__ import annotations

import sys
import zlib
from functools import lru_cache
from importlib import resources
from typing import Iterator

DATA = "data/words.bin"
MAX_WORD = 8
_MISSING = object()


class LazyTables:
    """jieba's ``FREQ`` (word -> frequency, every prefix of a word at 0) and the tag table as plain
    dicts, filled one first character at a time: ``load(text)`` adds the groups of the characters
    of ``text`` not loaded yet. Plain dicts keep jieba's inner loops at full speed."""

    def __init__(self, groups: "Groups") -> None:
        self._groups = groups
        self._loaded: set[str] = set()
        self.freq: dict[str, int] = {}
        self.tags: dict[str, str] = {}

    def load(self, text: str) -> None:
        loaded = self._loaded
        for first in text:
            if first in loaded:
                continue
            loaded.add(first)
            freq, tags = self.freq, self.tags
            for line in self._groups.get(first).splitlines():
                word, count, tag = line.split(" ")
                for i in range(1, len(word)):
                    freq.setdefault(word[:i], 0)
                freq[word] = int(count)
                tags[word] = tag


class Groups:
    """The compressed groups of ``data/words.bin`` by first character (``get`` decompresses one)."""

    def __init__(self, raw: bytes) -> None:
        newline = raw.index(b"\n")
        fields = raw[:newline].decode("utf-8").split(" ")
        self.total = int(fields[0])
        self._body = raw
        self._where: dict[str, tuple[int, int]] = {}
        pos = newline + 1
        for i in range(1, len(fields), 2):  # first character, compressed length of its group
            size = int(fields[i + 1])
            self._where[fields[i]] = (pos, pos + size)
            pos += size

    def get(self, first: str) -> str:
        where = self._where.get(first)
        return zlib.decompress(self._body[where[0]:where[1]]).decode("utf-8") if where else ""


@lru_cache(maxsize=1)
def _groups() -> Groups:
    return Groups(resources.files("dms_magic.masking").joinpath(DATA).read_bytes())


@lru_cache(maxsize=1)
def tokenizer_and_tags():
    """A jieba Tokenizer on the compact dictionary (HMM for unknown words as usual) and the tag table."""
    import logging

    # jieba._compat imports pkg_resources (~0.1 s) only to find its own dictionary, which is not
    # used here: make that import fail for the duration, and jieba falls back to plain paths.
    saved = sys.modules.get("pkg_resources", _MISSING)
    if saved is _MISSING:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
    try:
        import jieba
    finally:
        if saved is _MISSING and sys.modules.get("pkg_resources", _MISSING) is None:
            del sys.modules["pkg_resources"]
    jieba.setLogLevel(logging.WARNING)
    groups = _groups()
    tables = LazyTables(groups)

    class CompactTokenizer(jieba.Tokenizer):
        """jieba's Tokenizer whose dictionary grows with the characters it is asked to cut."""

        def cut(self, sentence, *args, **kwargs):
            tables.load(sentence)
            return super().cut(sentence, *args, **kwargs)

        def word_freq(self, word: str) -> int:
            tables.load(word[:1])
            return self.FREQ.get(word) or 0

        def word_tag(self, word: str) -> str | None:
            tables.load(word[:1])
            return tables.tags.get(word)

    tokenizer = CompactTokenizer()
    tokenizer.FREQ = tables.freq
    tokenizer.total = groups.total
    tokenizer.initialized = True  # the dictionary is in place: never load jieba's own
    return tokenizer, tables.tags


def _entries(source: str) -> Iterator[tuple[str, int, str]]:
    with open(source, encoding="utf-8") as f:
        for line in f:
            word, freq, tag = (line.rstrip("\n").split(" ") + ["", ""])[:3]
            if word:
                yield word, int(freq), tag or "x"


def build(source: str, target: str) -> None:
    """Write the compact dictionary from jieba's ``dict.txt`` (run again when jieba's changes)."""
    total = 0
    latest: dict[str, tuple[int, str]] = {}
    for word, freq, tag in _entries(source):
        total += freq  # jieba's total counts every line, long words included
        if len(word) <= MAX_WORD and " " not in word and "\n" not in word:
            latest[word] = (freq, tag)
    by_first: dict[str, list[str]] = {}
    for word in sorted(latest):
        freq, tag = latest[word]
        by_first.setdefault(word[0], []).append(f"{word} {freq} {tag}\n")
    index, blobs = [str(total)], []
    for first, lines in by_first.items():
        blob = zlib.compress("".join(lines).encode("utf-8"), 9)
        index += [first, str(len(blob))]
        blobs.append(blob)
    with open(target, "wb") as f:
        f.write(" ".join(index).encode("utf-8") + b"\n" + b"".join(blobs))


if __name__ == "__main__":
    import os

    import jieba

    here = os.path.dirname(os.path.abspath(__file__))
    build(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), os.path.join(here, DATA))
    print("wrote", os.path.join(here, DATA))
