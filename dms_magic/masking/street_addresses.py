"""English street addresses: a house number, a street name and a street suffix (USPS Pub. 28).

``97 Larkspur Street``, ``1200 Northwest 54th Terrace``, ``3 Elm Ct, Apt 4B, Springfield, IL
62704``. One regex: a number (``97``, ``221B``, ``12-14``), an optional direction, one to four
capitalised or ordinal name words, a suffix from ``data/street_suffixes.txt``, then optionally a
direction, a unit (``Apt 4B``, ``Suite 200``, ``#5``) and ``, City, ST 12345``.

usaddress (a CRF parser) was evaluated first: it labels the tokens of a string that *is* an
address, but on free text it labels every token as something (``Chapter 12 Section 3`` as a
subaddress, ``order 12345 shipped on May 3`` as a PO box, state and ZIP), so it cannot say where
an address starts; the suffix lexicon can, at regex speed, and needs no model.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterator

from dms_magic.masking.recognizers import Detection
from dms_magic.masking.wordtrie import trie_pattern

ENTITY = "ENGLISH_ADDRESS"
DIRECTIONS = ("North South East West Northeast Northwest Southeast Southwest N S E W NE NW SE SW").split()
STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
          "OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR").split()
STATE_NAMES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho "
               "Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota "
               "Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah "
               "Vermont Virginia Washington Wisconsin Wyoming").split() + [
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Rhode Island",
    "South Carolina", "South Dakota", "West Virginia"]
UNITS = "Apt Apartment Suite Ste Unit Fl Floor Rm Room Bldg Building Lot Dept Flat".split()
# A number after one of these words is a chapter, a room, a year, not a house number.
NOT_HOUSE = frozenset("chapter section page room no no. number figure fig table exit gate version in since by from "
                      "until of year before after during around circa step part item level grade route highway "
                      "interstate rule article clause volume vol episode season".split())


@lru_cache(maxsize=1)
def suffixes() -> tuple[str, ...]:
    text = resources.files("dms_magic.masking").joinpath("data/street_suffixes.txt").read_text("utf-8")
    return tuple(w for ln in text.splitlines() if ln.strip() and not ln.startswith("#") for w in ln.split())


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern:
    suffix = trie_pattern(suffixes())
    direction = trie_pattern(DIRECTIONS)
    # (no abbreviation with a dot among the name words: "94 Kingsley Ln. See Highway" would run on
    # into the next sentence; "St." and "Mt." may only open the name: 12 St. Mary Rd)
    word = r"(?:[A-Z][a-z'’-]+|[A-Z]{2,}|[0-9]{1,3}(?:st|nd|rd|th)|[A-Z]\.?)"
    state = rf"(?:{trie_pattern(STATES)}|{trie_pattern(STATE_NAMES)})(?![A-Za-z])"
    city = r"[A-Z][A-Za-z.'’-]+(?: [A-Z][A-Za-z.'’-]+){0,2}"
    zip_code = r"[0-9]{5}(?:-[0-9]{4})?(?![0-9])"
    unit = rf"(?:,? (?:{trie_pattern(UNITS)})\.? ?#?|,? #) ?[0-9A-Za-z][0-9A-Za-z-]{{0,5}}(?![0-9A-Za-z])"
    return re.compile(
        r"(?<![0-9A-Za-z#.,-])(?P<number>[0-9]{1,6}[A-Za-z]?(?:-[0-9]{1,5}[A-Za-z]?)?) "
        rf"(?:(?:{direction})\.? )?(?P<name>(?:(?:St|Mt|Ft)\. )?(?:{word} ){{0,3}}{word}) (?P<suffix>{suffix})\.?(?![A-Za-z0-9])"
        rf"(?: (?:{direction})\.?(?![A-Za-z]))?"
        rf"(?P<unit>{unit})?"
        rf"(?:,? (?:{city}),? (?:{state})(?:,? {zip_code})?|,? (?:{city}),? {zip_code})?")


def _house_number_ok(text: str, start: int, number: str) -> bool:
    """The number is not a year, chapter or room number: no such word right before it."""
    before = text[max(0, start - 16):start].rstrip().rsplit(None, 1)
    word = before[-1].lower() if before else ""
    return word not in NOT_HOUSE


# Every address holds a house number, a space and a capitalised word: texts without one (most
# Chinese text) never compile the full pattern, which costs ~50 ms (the first mask() of a process).
_SHAPE = re.compile(r"[0-9][A-Za-z]?(?:-[0-9]+[A-Za-z]?)? [A-Z0-9]")


def find_street_addresses(text: str) -> Iterator[Detection]:
    if not _SHAPE.search(text):
        return
    for m in _pattern().finditer(text):
        if not _house_number_ok(text, m.start(), m.group("number")):
            continue
        end = m.end()
        while end > m.start() and text[end - 1] in " ,.":
            end -= 1
        yield Detection(m.start(), end, ENTITY, 0.7, "house number + street name + USPS street suffix",
                        "street_address")
