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
        rf"(?P<unit>(?:{unit}){{1,2}})?"
        rf"(?:,? (?:{city}),? (?:{state})(?:,? {zip_code})?|,? (?:{city}),? {zip_code})?")


def _house_number_ok(text: str, start: int, number: str) -> bool:
    """The number is not a year, chapter or room number: no such word right before it."""
    before = text[max(0, start - 16):start].rstrip().rsplit(None, 1)
    word = before[-1].lower() if before else ""
    return word not in NOT_HOUSE


# Every address holds a house number, a space and a capitalised word: texts without one (most
# Chinese text) never compile the full pattern, which costs ~50 ms (the first mask() of a process).
_SHAPE = re.compile(r"[0-9][A-Za-z]?(?:-[0-9]+[A-Za-z]?)? [A-Z0-9]")


# -- the street name first, the house number after it (most of Europe and Latin America) ----------
# ``Rua do Arenque 1634``, ``Via Franscini 71``, ``ul. Narewska 94``, ``Wingertweg 126``,
# ``Snellmaninkatu 55``, ``Erzsébet tér 19.``: a street word opens the name (Rua, Via, ul.) or ends
# one of its words (-weg, -katu, -straat), then a house number closes it. Without a street word,
# ``28245 Allika 46`` (a number, one to three capitalised words, a number, then the end of the line
# or a unit) still has the shape of nothing else.
STREET_WORDS = frozenset(
    "rua avenida avda via viale vicolo piazza piazzetta corso largo calle carrer paseo camino travessa praça "
    "praca rue avenue boulevard chemin allée impasse quai ul ulica aleja plac strada calea str straße strasse "
    "gasse weg laan straat plein kade steeg vej gade stræde allé vägen gatan gränd väg veien gata tér utca u út "
    "körút köz katu tie kuja polku tori tee põik tänav".split())
STREET_ENDINGS = ("straße", "strasse", "gasse", "weg", "laan", "straat", "gracht", "plein", "singel", "kade", "dijk",
                  "steeg", "vej", "gade", "stræde", "vägen", "gatan", "gränd", "veien", "gata", "gate", "gaten", "katu",
                  "tie", "kuja", "polku", "tori", "allee", "platz", "damm", "ufer", "maantee", "tänav")
# Words of those endings that are no street (a brigade, a necktie, a tailgate).
NOT_STREET = frozenset("brigade necktie tailgate aggregate delegate navigate investigate".split())
# Words between two numbers that make a date, a quantity or a model, not a street (15 April 2025).
NOT_STREET_NAME = frozenset("January February March April May June July August September October November December "
                            "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Monday Tuesday Wednesday Thursday Friday "
                            "Saturday Sunday Mon Tue Wed Thu Fri Sat Sun Week Weeks Day Days Year Years Hours Minutes "
                            "Version Release Build Level Chapter Section Page Part Room Floor Gate Platform Track "
                            "Season Episode Round Stage Phase Grade Class Team Group Table Item Step Box Route Exit Highway Interstate "
                            "Hwy Rte See Figure Fig Verse Psalm Act Scene Line Lines Slide Question Rule Article".split())
_PARTICLE = r"(?:de|do|da|dos|das|del|della|delle|dello|degli|dei|di|dal|dalla|des|du|la|le|las|los|van|der|den|von|am|an|im|al|el)"
# Street words that open a street name after the house number (63 Rue de Kairouan, 76 Boulevard de
# Normandie, 33 avenue de Provence): French, Italian, Spanish, Portuguese.
NUMBER_FIRST_WORDS = ("Rue", "rue", "Avenue", "avenue", "Boulevard", "boulevard", "Bd", "Chemin", "chemin", "Allée",
                      "Impasse", "Quai", "Place", "Rua", "Via", "Viale", "Calle", "Avenida", "Avda.", "Paseo", "Plaza")
_LETTERS = r"[^\W\d_]"
_UPPER = "A-ZÀ-ÖØ-ÞĀ-ſΆ-ΫА-Я"


@lru_cache(maxsize=1)
def _continental_pattern() -> re.Pattern:
    cap = rf"(?:(?!(?:{trie_pattern(UNITS)})\b)[{_UPPER}][^\W\d_'’.-]*(?:[-'’]{_LETTERS}+)*\.?)"
    street = rf"(?i:{trie_pattern(sorted(STREET_WORDS))})\.?(?![^\W\d_])"
    word = rf"(?:{cap}|{street})"
    return re.compile(
        rf"(?<![0-9A-Za-z#.,/-])(?:(?P<pre>[0-9]{{1,6}}) )?(?P<name>{word}(?: (?:{_PARTICLE}|{word})){{0,4}}) "
        rf"(?P<num>[0-9]{{1,4}}[A-Za-z]?)(?:\.(?![0-9]))?(?![0-9A-Za-z,.:/-]*[0-9A-Za-z])"
        rf"(?P<unit>(?: (?:{trie_pattern(UNITS)})\.? ?#?[0-9A-Za-z]{{1,6}})*)")


def _street_word(word: str) -> bool:
    w = word.rstrip(".").lower()
    return w in STREET_WORDS or len(w) > 5 and w.endswith(STREET_ENDINGS) and w not in NOT_STREET


_NUMBER_WORDS_NUMBER = re.compile(r"[0-9] [A-ZÀ-ÖØ-Þ][^\W\d_]+(?: [A-ZÀ-ÖØ-Þ][^\W\d_]+){0,2} [0-9]")
_SPACE_NUMBER = re.compile(r" [0-9]")
STREET_ABBREVIATIONS = frozenset(f"{w[-1]}." for w in STREET_WORDS)  # "u. 12", "Str. 4": the dot before the number


def _street_word_before_number(text: str) -> bool:
    """A street word among the five words before a number: the gate before the continental
    pattern (a text without one never runs or compiles it)."""
    for m in _SPACE_NUMBER.finditer(text):
        j = m.start()
        if not text[j - 1:j].isalpha() and text[j - 2:j] not in STREET_ABBREVIATIONS:
            continue
        if any(_street_word(w) for w in text[max(0, j - 60):j].split()[-5:]):
            return True
    return False


def _continental(text: str) -> Iterator[Detection]:
    """Street-name-first addresses. A rejected match is retried from its next word (``Meet Me At
    2407 Tawastintie 6``: the name may start later than the first capitalised word)."""
    pattern, pos = _continental_pattern(), 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return
        found = _continental_match(text, m)
        if found is not None:
            yield found
            pos = m.end()
        else:
            nxt = text.find(" ", m.start() + 1, m.end())
            pos = nxt + 1 if nxt > 0 else m.end()


def _continental_match(text: str, m: re.Match) -> Detection | None:
    words = m.group("name").split(" ")
    if not words[0][0].isupper() and words[0].rstrip(".").lower() not in STREET_WORDS:
        return None
    if any(w.rstrip(".") in NOT_HOUSE or w.lower().rstrip(".") in NOT_HOUSE and w[0].isupper() and
           not _street_word(w) for w in words[:1]):
        return None  # Chapter 12, Room 5, Version 2
    if any(w.endswith(".") and len(w) > 5 for w in words) or any(w in NOT_STREET_NAME for w in words):
        return None  # "Elm Boulevard. See Route 64": a sentence ended inside; Route, Chapter are no street
    start = m.start("pre") if m.group("pre") else m.start("name")
    if any(_street_word(w) for w in words) and (len(words) > 1 or len(words[0]) > 6) and \
            any(w[0].isupper() for w in words):
        ok, score = True, 0.7  # Via Franscini 71, ul. Narewska 94, Wingertweg 126; not "Gate 5", "via 3"
    else:  # no street word: a number before, title-case words, the line (or a unit) after
        rest, score = text[m.end():m.end() + 2], 0.65
        ok = bool(m.group("pre")) and len(words) <= 3 and all(w[0].isupper() and w[1:2].islower() and
                                                              w.rstrip(".") not in NOT_STREET_NAME for w in words) \
            and (not rest.strip(" ") or rest[:1] in "\n," or bool(m.group("unit")))
    if ok and _house_number_ok(text, start, ""):
        end = m.end()
        while end > start and text[end - 1] in " ,.":
            end -= 1
        return Detection(start, end, ENTITY, score, "street name + house number (street word or number shape)",
                         "street_address")
    return None


@lru_cache(maxsize=1)
def _number_first_pattern() -> re.Pattern:
    cap = rf"(?!(?:{trie_pattern(UNITS)})\b)[{_UPPER}][^\W\d_'’.-]*(?:[-'’][^\W\d_]+)*"
    return re.compile(
        rf"(?<![0-9A-Za-z#.,/-])(?:[0-9]{{1,6}} )?[0-9]{{1,5}}[A-Za-z]? (?:{'|'.join(map(re.escape, NUMBER_FIRST_WORDS))}) "
        rf"(?:(?:{_PARTICLE}|d['’]|l['’])[ ]?)*{cap}(?: (?:(?:{_PARTICLE}|d['’]|l['’])[ ]?)*{cap}){{0,3}}(?![^\W\d_])"
        rf"(?: (?:{trie_pattern(UNITS)})\.? ?#?[0-9][0-9A-Za-z-]{{0,5}}(?![0-9A-Za-z])){{0,2}}")


# US military mail (USPS Pub. 28, chapter 2): ``PSC 0413, Box 8144``, ``Unit 4719 Box 7394``,
# ``USNS Comfort``, each optionally with ``APO AA 42323`` on the same or the next line.
_MILITARY = re.compile(
    r"(?<![0-9A-Za-z])(?:(?i:psc|cmr|unit) [0-9]{3,5},? (?i:box) [0-9]{3,5}|(?:USNS|USS|USNV|USCGC) [A-Z][^\W\d_]+|"
    r"(?i:p\.? ?o\.? box|post office box) [0-9]{1,6})"
    r"(?:,?\s{1,4}(?i:apo|fpo|dpo) (?i:aa|ae|ap) [0-9]{5})?(?![0-9])")
# After an address, within its block of lines: a unit line (``Suite 282``, ``Apt. 905``) and the
# postal code at the end of a city or country line (``Denmark 29587``, ``Lyss, nan 50662``).
_UNIT_LINE = re.compile(rf"(?:^|(?<=\n))[ \t>?*-]*(?P<unit>(?i:{trie_pattern(UNITS)})\.? ?#?[0-9][0-9A-Za-z-]{{0,5}})[ \t]*$", re.M)
_POSTAL_END = re.compile(r"(?:(?<=[^\W\d_][ ,])|(?<=\) )|(?<=\n)[ \t>]*)(?P<code>[0-9]{4,6}|[0-9]{3} [0-9]{2})[ \t]*$", re.M)
BLOCK_LINES = 5


def _block_tail(text: str, end: int) -> Iterator[Detection]:
    """Unit lines and a final postal code in the lines right after an address ending at ``end``."""
    if text[end:end + 1] not in ("\n", "") and text[end:text.find("\n", end) if "\n" in text[end:] else len(text)].strip():
        pos = text.find("\n", end)
    else:
        pos = text.find("\n", end)
    for _ in range(BLOCK_LINES):
        if pos < 0:
            return
        nxt = text.find("\n", pos + 1)
        line_end = nxt if nxt >= 0 else len(text)
        line = text[pos:line_end]
        u = _UNIT_LINE.match(text, pos + 1, line_end) if line.strip() else None
        if u:
            yield Detection(u.start("unit"), u.end("unit"), ENTITY, 0.65, "unit line of an address block",
                            "street_address")
        else:
            z = _POSTAL_END.search(text, pos + 1, line_end)
            if z:
                yield Detection(z.start("code"), z.end("code"), ENTITY, 0.6, "postal code closing an address block",
                                "street_address")
                return
        pos = nxt


_UNIT_BEFORE = re.compile(rf"(?:^|(?<=[ \t]))(?i:{'|'.join(UNITS)})\.? ?#?[0-9][0-9A-Za-z-]{{0,5}}[ ]$")
_NUMBER_LOWER_WORD = re.compile(r"[0-9] (?:rue|avenue|boulevard|chemin|via|rua|calle) ")
_UPPER_RE = re.compile(f"[{_UPPER}]")
_LOWER_WORD_START = re.compile(r"(?<![^\W_])[^\W\d_]")


def find_street_addresses(text: str) -> Iterator[Detection]:
    found = list(_find(text))
    if not _UPPER_RE.search(text) and _street_word_before_number(text):
        # a text typed in lower case: the street-name-first forms read it with words capitalised
        titled = _LOWER_WORD_START.sub(lambda m: m.group(0).upper(), text)
        if len(titled) == len(text):
            found.extend(d for d in _find(titled) if d.recognizer == "street_address" and "street word" in d.validated_by
                         or "Rue/Via" in d.validated_by)
    for i, d in enumerate(found):
        u = _UNIT_BEFORE.search(text, max(0, d.start - 16), d.start)
        if u:  # Suite 541 6343 Skogstien 106: the unit written before the street
            found[i] = Detection(u.start(), d.end, d.entity, d.score, d.validated_by, d.recognizer)
    yield from found


def _find(text: str) -> Iterator[Detection]:
    found: list[Detection] = []
    for m in _MILITARY.finditer(text) if "ox " in text or "OX " in text or "US" in text else ():
        found.append(Detection(m.start(), m.end(), ENTITY, 0.7, "US military address or post office box",
                               "street_address"))
    us = _SHAPE.search(text)
    if (us or _NUMBER_LOWER_WORD.search(text)) and any(w in text for w in NUMBER_FIRST_WORDS):
        for m in _number_first_pattern().finditer(text):
            found.append(Detection(m.start(), m.end(), ENTITY, 0.7, "house number + Rue/Via/Calle + street name",
                                   "street_address"))
    if us and _NUMBER_WORDS_NUMBER.search(text) or _street_word_before_number(text):
        found.extend(_continental(text))
    for m in _pattern().finditer(text) if us else ():
        if not _house_number_ok(text, m.start(), m.group("number")):
            continue
        end = m.end()
        while end > m.start() and text[end - 1] in " ,.":
            end -= 1
        start = m.start()
        lead = re.search(r"(?<![0-9A-Za-z.,-])[0-9]{1,6} $", text[max(0, start - 8):start])
        if lead and _house_number_ok(text, start - len(lead.group(0)), ""):
            start -= len(lead.group(0))  # 1987 74 Diakou Street: a building number before the house number
        found.append(Detection(start, end, ENTITY, 0.7, "house number + street name + USPS street suffix",
                               "street_address"))
    for d in list(found):
        found.extend(_block_tail(text, d.end))
    yield from found
