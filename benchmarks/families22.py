"""Issue 22's families 3-6 on generated person descriptions: leaks and distractors touched.

Paragraphs in the style the issue describes (an LLM-written person description with an ID
number, a phone and a street address woven in, half English, half Chinese), written from the
issue's text: the value formats below come from the issue and from how people write them, not
from the recognizers. Each paragraph also carries distractors (order and tracking numbers,
amounts, dates, versions, ISBNs, timestamps, room numbers, chapters, highways, routes, years).

- leaked: the share of values still verbatim in ``mask(text).text`` (rule UserInfo).
- precision: detections of the family's entities that overlap a planted value of that family.
- distractors touched: the share of distractors any detection overlaps.

``python benchmarks/families22.py`` prints the table; bench_families22 turns it into rows.
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

STREET_NAMES = ["Larkspur", "Elm", "Maple", "Oak", "Willow", "Cedar", "Birchwood", "Harbor View", "Old Mill", "Magnolia",
                "Sunset", "Juniper", "Kingsley", "Pine Ridge", "Hawthorne", "Chestnut", "Lakeshore", "Bayview"]
SUFFIXES = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane", "Ln", "Court", "Ct", "Terrace",
            "Boulevard", "Blvd", "Place", "Way", "Parkway", "Circle", "Trail"]
CITIES = [("Springfield", "IL", "62704"), ("Portland", "OR", "97205"), ("Austin", "TX", "78701"),
          ("Columbus", "OH", "43215"), ("Madison", "WI", "53703"), ("Raleigh", "NC", "27601")]
EN_NAMES = ["Dana Whitfield", "Marcus Hale", "Ivy Chen", "Priya Raman", "Tom Okafor", "Lena Fischer"]
ZH_NAMES = ["林晓雯", "周明哲", "李秋云", "王建平", "陈思远", "赵雅琴"]
ID_CUES_EN = ["ID card number", "ID number", "identification number", "national ID"]
ID_CUES_ZH = ["身份证号", "身份证号码", "证件号", "证件号码"]
PHONE_CUES_EN = ["phone", "mobile", "cell", "Tel.", "contact number", "call her at", "can be reached at"]
PHONE_CUES_ZH = ["电话", "手机", "联系电话", "联系方式"]


def _check(first17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * k for d, k in zip(first17, w)) % 11]


def id_number(rng: random.Random) -> str:
    """Valid, wrong checksum, or unknown region (e.g. 99xxxx): one third each."""
    region = rng.choice(["110105", "440304", "320102", "510107", "330106"])
    kind = rng.randrange(3)
    if kind == 2:
        region = rng.choice(["99", "00", "77"]) + region[2:]
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first = region + birth + f"{rng.randrange(1000):03d}"
    check = _check(first)
    if kind == 1:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return first + check


def phone(rng: random.Random) -> str:
    """National formats without a country code, as the issue lists them and similar ones."""
    d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    return rng.choice([
        f"({rng.choice(['21', '11', '31'])}) 9{d(4)}-{d(4)}",  # Brazil mobile
        f"03{rng.randint(0, 4)}{rng.randint(0, 9)} {rng.randint(2, 9)}{d(6)}",  # Pakistan mobile
        f"020 7946 0{d(3)}",  # London (drama range)
        f"({rng.choice(['415', '212', '312', '617'])}) 555-01{d(2)}",
        f"{rng.choice(['415', '206', '503'])}.555.01{d(2)}",
        f"{rng.choice(['415', '206', '503'])}-{rng.randint(2, 9)}{d(2)}-{d(4)}",
        f"07700 900{d(3)}",  # UK mobile (drama range)
        f"04{d(2)} {d(3)} {d(3)}",  # Australian mobile
    ])


def address(rng: random.Random) -> str:
    number = str(rng.choice([rng.randint(1, 99), rng.randint(100, 9999)]))
    name = rng.choice(STREET_NAMES + [f"{rng.randint(1, 99)}th", f"Northwest {rng.randint(2, 80)}th"])
    base = f"{number} {name} {rng.choice(SUFFIXES)}"
    city, state, zip_code = rng.choice(CITIES)
    return rng.choice([base, base, f"{base}, Apt {rng.randint(1, 30)}{rng.choice('ABC')}, {city}, {state} {zip_code}",
                       f"{base}, {city}, {state} {zip_code}"])


def distractors(rng: random.Random) -> list[str]:
    d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    pool = [
        f"order {d(12)}", f"tracking 1Z{d(3)}AA1{d(10)}", f"${rng.randint(1, 99)},{d(3)}.{d(2)}",
        f"{rng.randint(2001, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(10, 99)}",
        f"ISBN 978-{d(1)}-{d(3)}-{d(5)}-{d(1)}", f"{rng.randint(2001, 2024)}-05-0{rng.randint(1, 9)}T10:3{d(1)}:00Z",
        f"Room {rng.randint(100, 999)}", f"Chapter {rng.randint(1, 30)} Section {rng.randint(1, 9)}",
        f"Highway {rng.randint(1, 400)}", f"Route {rng.randint(1, 99)}", f"in {rng.randint(1990, 2024)}",
        f"balance {rng.randint(1, 9)},{d(3)},{d(3)}.{d(2)} yuan", f"build {rng.randint(1, 9)}.{d(1)}.{d(1)}.{d(3)}",
    ]
    return rng.sample(pool, 3)


@dataclass
class Sample:
    text: str
    values: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, family)
    distractors: list[tuple[int, int]] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.sample = Sample("")
        self.pos = 0

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def value(self, s: str, family: str) -> None:
        self.sample.values.append((self.pos, self.pos + len(s), family))
        self.add(s)

    def distractor(self, s: str) -> None:
        self.sample.distractors.append((self.pos, self.pos + len(s)))
        self.add(s)

    def done(self) -> Sample:
        self.sample.text = "".join(self.parts)
        return self.sample


def english(rng: random.Random) -> Sample:
    b = _Builder()
    name = rng.choice(EN_NAMES)
    dist = distractors(rng)
    b.add(f"{name} is a {rng.randint(25, 80)}-year-old patient. Her {rng.choice(ID_CUES_EN)} is ")
    b.value(id_number(rng), "ID")
    b.add(f". Her last visit ({dist[0]}) was billed as ")
    b.distractor(dist[1])
    b.add(f". {name.split()[0]}'s {rng.choice(PHONE_CUES_EN)} ")
    b.value(phone(rng), "PHONE")
    b.add(" is on file, and she lives at ")
    b.value(address(rng), "ADDRESS")
    b.add(". See ")
    b.distractor(dist[2])
    b.add(".")
    return b.done()


def chinese(rng: random.Random) -> Sample:
    b = _Builder()
    name = rng.choice(ZH_NAMES)
    dist = distractors(rng)
    b.add(f"{name}的{rng.choice(ID_CUES_ZH)}为")
    b.value(id_number(rng), "ID")
    b.add(f"，{rng.choice(PHONE_CUES_ZH)}：")
    b.value(phone(rng), "PHONE")
    b.add("，美国住址 ")
    b.value(address(rng), "ADDRESS")
    b.add("。备注：")
    b.distractor(dist[1])
    b.add("；")
    b.distractor(dist[2])
    b.add("。")
    return b.done()


FAMILY_ENTITIES = {"ID": {"ID_CARD"}, "PHONE": {"PHONE_NUMBER", "LANDLINE", "MOBILE_PHONE"},
                   "ADDRESS": {"ENGLISH_ADDRESS", "CHINESE_ADDRESS"}}


def generate(count: int = 1000, seed: int = 22) -> list[Sample]:
    rng = random.Random(seed)
    return [(english if i % 2 == 0 else chinese)(rng) for i in range(count)]


def evaluate(samples: list[Sample] | None = None) -> dict:
    from dms_magic.masking import mask

    samples = samples if samples is not None else generate()
    out = {f: {"n": 0, "leaked": 0, "detections": 0, "correct": 0} for f in FAMILY_ENTITIES}
    touched = total = 0
    for s in samples:
        result = mask(s.text)
        for start, end, family in s.values:
            out[family]["n"] += 1
            out[family]["leaked"] += s.text[start:end] in result.text
        for span in result.entities:
            for family, ents in FAMILY_ENTITIES.items():
                if span.entity in ents:
                    out[family]["detections"] += 1
                    out[family]["correct"] += any(f == family and span.start < e and st < span.end
                                                  for st, e, f in s.values)
        for start, end in s.distractors:
            total += 1
            touched += any(span.start < end and start < span.end for span in result.entities)
    for f in out.values():
        f["leak_rate"] = f["leaked"] / f["n"]
        f["precision"] = f["correct"] / f["detections"] if f["detections"] else 1.0
    out["distractors"] = {"n": total, "touched": touched, "rate": touched / total}
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--misses":
        from dms_magic.masking import mask
        for s in generate():
            masked = mask(s.text).text
            for st, e, fam in s.values:
                if s.text[st:e] in masked:
                    print(fam, repr(s.text[max(0, st - 30):e + 5]))
            for st, e in s.distractors:
                if masked[st:e] != s.text[st:e] and len(masked) == len(s.text):
                    print("DISTRACTOR", repr(s.text[st:e]))
        sys.exit(0)
    res = evaluate()
    for fam in FAMILY_ENTITIES:
        r = res[fam]
        print(f"{fam:8} n={r['n']:5d} leaked={r['leak_rate']:.2%} precision={r['precision']:.3f}")
    d = res["distractors"]
    print(f"distractors touched {d['touched']}/{d['n']} = {d['rate']:.2%}")
