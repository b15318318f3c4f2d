"""Every mention of a detected value: once a value is found somewhere in a request, its other
occurrences are masked too, in the same text and in the other messages.

Recognizers need evidence (a cue, a position, a checksum); a value's second mention often has none
(``林晓雯的身份证号为…。林晓雯近期出现…``, ``Recently, Dana has …``). So after detection, one pass looks
for the detected values themselves:

- the exact value anywhere (an English name also in other capitalisations: MARCUS HALE);
- an English name's given name or surname alone, as a whole word, in title case or capitals;
- a Chinese name's two-character given name alone (林晓雯 -> 晓雯) when that is no everyday word.

A mention fills only gaps between detections, and carries the value it mentions (``canonical``) so
that it gets the replacement the operator gave that value.
"""
from __future__ import annotations

import bisect
import re
from typing import Callable, Iterable

from dms_magic.masking.recognizers import Detection
from dms_magic.masking.wordtrie import trie_pattern

MENTION = "mention"
# Distinct strings searched at most: the pattern compiles in time proportional to them, so bulk
# exports (thousands of values, each found by its recognizer anyway) stay linear. Names go first.
MAX_KEYS = 1000
FIND_BUDGET = 2_000_000  # keys x characters below which str.find is used instead of a pattern
_NAMES = ("CHINESE_NAME", "ENGLISH_NAME")


def _english_keys(value: str) -> Iterable[str]:
    from dms_magic.masking.lexicon import COMMON_WORD_NAMES
    from dms_magic.masking.names import _EN_STOP, _EN_THING, _shape

    words = value.split(" ")
    title = " ".join(_shape(w)[1] for w in words)
    yield from (title, title.upper(), title.swapcase(), title.lower())
    for w in title.split(" "):
        if len(w) < 2 or w.endswith(".") or w in _EN_STOP and w not in COMMON_WORD_NAMES or w in _EN_THING:
            continue
        yield w
        yield w.upper()
        yield w.lower()  # a mention only with a person's doing after it (okonkwo called): see add_mentions


def _ambiguous(word: str) -> bool:
    """Will, May, Virginia alone are words or places before they are the person: such a part is a
    mention only with a person's context (Virginia's phone, Will said, Ms. May)."""
    from dms_magic.masking.lexicon import COMMON_WORD_NAMES

    return word[:1] + word[1:].lower() in COMMON_WORD_NAMES


_PERSON_AFTER = re.compile(r"(?:'s|’s)\b|[ ](?:has|had|is|was|said|says|reported|will|would|can|could|did|does|"
                           r"prefers|agrees|agreed|visited|called|asked|told|felt|feels|went|started|works|lives)\b")
_TITLE_BEFORE = re.compile(r"(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?[ ]$")
# After a name part typed in lower case, where ``is``/``has`` would follow words as often (brown is):
# a possessive or what people do.
_PERSON_DOES_AFTER = re.compile(r"(?:'s|’s)\b|[ ](?:said|says|called|asked|told|replied|wrote|emailed|texted|phoned|"
                                r"confirmed|agreed|visited|signed|paid|complained|mentioned)\b")
_TITLE_BEFORE_ANY_CASE = re.compile(r"(?i:mr|mrs|ms|miss|dr|prof)\.?[ ]$")
# A determiner before makes a lower-case word a noun (the brown said, a young ...), never a person.
_DETERMINER_BEFORE = re.compile(r"(?<![A-Za-z])(?i:the|a|an|this|that|these|those|my|your|his|her|our|their|its|"
                                r"some|any|no|every|each)[ ]$")


def _chinese_given_name(value: str) -> str | None:
    from dms_magic.masking import names

    single, compound = names.surnames()
    if "·" in value or len(value) != 3 or value[:2] in compound or value[0] not in single:
        return None
    given = value[1:]
    tokenizer, _ = names._jieba()
    if tokenizer.word_freq(given) >= names.COMMON_WORD_FREQ_WEAK_CUE or given[0] == given[1]:
        return None  # 建国, 平安 are words; 丽丽 is a nickname shared by many
    return given


def _keys(texts: list[str], found: list[list[Detection]]) -> dict[str, tuple[str, str]]:
    """string to look for -> (entity, the detected value it mentions)."""
    exact: dict[str, tuple[str, str]] = {}
    derived: dict[str, tuple[str, str]] = {}
    ordered = sorted(((d.entity not in _NAMES, i, d) for i, ds in enumerate(found) for d in ds),
                     key=lambda t: (t[0], t[1], t[2].start))
    for _, i, d in ordered:
        value = texts[i][d.start:d.end]
        if len(value.strip()) < 2:
            continue
        exact.setdefault(value, (d.entity, value))
        if d.entity == "ENGLISH_NAME":
            for key in _english_keys(value):
                derived.setdefault(key, (d.entity, value))
        elif d.entity == "CHINESE_NAME":
            given = _chinese_given_name(value)
            if given:
                derived.setdefault(given, (d.entity, value))
        if len(exact) + len(derived) >= MAX_KEYS:
            break
    if any(d.entity == "CHINESE_NAME" for ds in found for d in ds):
        # a detected name that is also a common word (高明) is a name where it was found, not everywhere
        from dms_magic.masking import names

        tokenizer, _ = names._jieba()
        for value, (entity, _v) in list(exact.items()):
            if entity == "CHINESE_NAME" and tokenizer.word_freq(value) >= names.COMMON_WORD_FREQ_WEAK_CUE:
                del exact[value]
    # a part detected on its own (Ms. Whitfield) stands for the whole name found elsewhere
    return {**exact, **{k: v for k, v in derived.items() if k not in exact or exact[k][0] == v[0]}}


def _occurrences(text: str, keys: dict) -> list[tuple[int, int]]:
    """Where the keys occur, longest first at each position, not overlapping (as the trie pattern)."""
    found = []
    for key in keys:
        i = text.find(key)
        while i >= 0:
            found.append((i, i + len(key)))
            i = text.find(key, i + 1)
    found.sort(key=lambda se: (se[0], -se[1]))
    out, reach = [], 0
    for start, end in found:
        if start >= reach:
            out.append((start, end))
            reach = end
    return out


def _latin(c: str) -> bool:
    """A letter or digit of an alphabetic script (not CJK, where words have no spaces to bound them)."""
    return c.isalnum() and not "\u3400" <= c <= "\u9fff"


def _bounded(text: str, start: int, end: int) -> bool:
    """A Latin or digit edge of a mention may not continue a word or number (Hale in Haley,
    Rubén in Rubénez, 10.0.0.1 in 10.0.0.10)."""
    if start > 0 and _latin(text[start]) and _latin(text[start - 1]):
        return False
    return not (end < len(text) and _latin(text[end - 1]) and _latin(text[end]))


def add_mentions(texts: list[str], found: list[list[Detection]]) -> tuple[list[list[Detection]], dict]:
    """``found``: each text's detections (no overlaps, by start). Returns them with every mention
    added, and ``canonical``: (text index, start) -> the detected value a mention stands for."""
    canonical: dict[tuple[int, int], str] = {}
    keys = _keys(texts, found)
    if not keys:
        return found, canonical
    phones = _phone_keys(texts, found)
    total = sum(len(t) for t in texts)
    # A few keys over a prompt: str.find per key beats compiling a pattern; many keys over a long
    # text: one trie-shaped pattern, linear in the text (its compile time bounded by MAX_KEYS).
    pattern = re.compile(trie_pattern(keys)) if len(keys) * total > FIND_BUDGET else None
    out = []
    for i, (text, dets) in enumerate(zip(texts, found)):
        for d in dets:
            entity, value = keys.get(text[d.start:d.end], (d.entity, ""))
            if entity == d.entity and value and value != text[d.start:d.end]:
                canonical[(i, d.start)] = value
        starts = [d.start for d in dets]
        added: list[Detection] = []
        spans = [(start, end, *keys[text[start:end]]) for start, end in
                 ((m.span() for m in pattern.finditer(text)) if pattern else _occurrences(text, keys))]
        if phones:
            more = list(_phone_mentions(text, phones, starts, [d.end for d in dets]))
            if more:
                spans = sorted(spans + more, key=lambda t: (t[0], -t[1]))
        reach = 0
        for start, end, entity, value in spans:
            if start < reach:
                continue  # the same value, found as a key and as a phone written otherwise
            k = bisect.bisect_right(starts, start)
            if k > 0 and dets[k - 1].end > start or k < len(dets) and dets[k].start < end:
                continue  # a detection is there already (the value itself, or something longer)
            if not _bounded(text, start, end):
                continue
            mention = text[start:end]
            if entity == "ENGLISH_NAME" and " " not in mention and (_ambiguous(mention) and not (
                    _PERSON_AFTER.match(text, end) or _TITLE_BEFORE.search(text, max(0, start - 6), start))
                    or mention.islower() and (
                        _ambiguous(mention) or _DETERMINER_BEFORE.search(text, max(0, start - 8), start) or not (
                            _PERSON_DOES_AFTER.match(text, end)
                            or _TITLE_BEFORE_ANY_CASE.search(text, max(0, start - 6), start)))):
                continue
            added.append(Detection(start, end, entity, 0.5, f"another mention of a detected {entity}", MENTION))
            canonical[(i, start)] = value
            reach = end
        out.append(sorted(dets + added, key=lambda d: d.start) if added else dets)
    return out, canonical


# -- a phone number written again in another layout ----------------------------------------------
# ``(415) 555-0142`` found by its recognizer, then ``415 555 0142`` or ``+1 415.555.0142`` with no cue:
# the digits are the value. A number's key is its digits without leading zeros (the trunk 0 of
# 010-...); one written with a country code (+44 20 ..., 0044 20 ...) also has the key of what follows
# that code. Digit groups in the text, from a group start to a group end, whose digits (leading zeros
# dropped) are a key are that number; digits glued to them (94155550142) make another number.
_PHONES = ("MOBILE_PHONE", "LANDLINE", "PHONE_NUMBER")
MIN_PHONE_DIGITS = 7
_DIGIT_RUN = re.compile(r"[0-9]+(?:(?:[ .\-]|\)[ .\-]?|[ .\-]?\()[0-9]+)*")
# A stretch of digits and separators long enough to hold a number: found in one C-level scan, so a
# prompt whose only long stretches are the detected values costs a look-up each.
_NOT_DIGITS = str.maketrans("", "", " .-()")
_STRETCH = re.compile(r"[0-9][0-9 .\-()]{%d,}[0-9]" % (MIN_PHONE_DIGITS - 2))
_GROUP = re.compile(r"[0-9]+")


def _phone_keys(texts: list[str], found: list[list[Detection]]) -> dict[str, tuple[str, str]]:
    """digits without leading zeros -> (entity, detected value), for every phone detected."""
    out: dict[str, tuple[str, str]] = {}
    for text, dets in zip(texts, found):
        for d in dets:
            if d.entity in _PHONES:
                value = text[d.start:d.end]
                groups = _GROUP.findall(value)
                keys = ["".join(groups).lstrip("0")]
                if value.lstrip("(（").startswith(("+", "00")) and len(groups) > 1:
                    keys.append("".join(groups[1:]).lstrip("0"))  # the national number after the code
                for key in keys:
                    if len(key) >= MIN_PHONE_DIGITS:
                        out.setdefault(key, (d.entity, value))
    return out


def _phone_mentions(text: str, phones: dict[str, tuple[str, str]], starts: list[int],
                    ends: list[int]) -> Iterable[tuple[int, int, str, str]]:
    """``starts``/``ends``: the text's detections, whose own digits are not looked at again."""
    def detected(start: int, end: int) -> bool:  # inside one detection (the phone itself)
        k = bisect.bisect_right(starts, start) - 1
        return k >= 0 and ends[k] >= end

    longest = 0
    few = len(phones) <= 16
    for stretch in _STRETCH.finditer(text):
        if detected(*stretch.span()):
            continue  # the value found already
        if few:  # a prompt: its stretch must hold one of the numbers' digits (C-level substring look-ups)
            digits = stretch.group().translate(_NOT_DIGITS)
            if not any(k in digits for k in phones):
                continue
        longest = longest or max(len(k) for k in phones)
        yield from _phone_runs(text, stretch.start(), stretch.end(), phones, longest, detected)


def _phone_runs(text: str, lo: int, hi: int, phones: dict[str, tuple[str, str]], longest: int,
                detected: Callable[[int, int], bool]) -> Iterable[tuple[int, int, str, str]]:
    for run in _DIGIT_RUN.finditer(text, lo, hi):
        if run.end() - run.start() < MIN_PHONE_DIGITS or detected(run.start(), run.end()):
            continue  # years, counts, amounts: too short to be a number; or found already
        if run.group().isdigit():  # one group: a dictionary look-up
            if run.group().lstrip("0") in phones:
                yield run.start(), run.end(), *phones[run.group().lstrip("0")]
            continue
        groups = [m.span() for m in _GROUP.finditer(text, run.start(), run.end())]
        i = 0
        while i < len(groups):
            hit = None
            digits = ""
            for j in range(i, len(groups)):  # groups i..j, growing until a key or too many digits
                digits = (digits + text[groups[j][0]:groups[j][1]]).lstrip("0")
                if len(digits) > longest:
                    break
                if digits in phones:
                    hit = (j, digits)
            if hit is None:
                i += 1
                continue
            j, key = hit
            start, end = groups[i][0], groups[j][1]
            if start and text[start - 1] in "+(" and (text[start - 1] == "+" or ")" in text[start:end]):
                start -= 1  # +1 415 ..., (415) 555-0142
            yield start, end, *phones[key]
            i = j + 1
