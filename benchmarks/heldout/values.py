"""Checksum-valid value generators for the held-out corpus, written from the public standards.

Nothing here is taken from dms_magic: the corpus must not share assumptions with the engine it
grades. Each generator takes a ``random.Random`` so the corpus is reproducible from one seed.
The validators at the bottom (``id_card_valid``, ``luhn_valid``, ``uscc_valid``) are what the
corpus test checks against, next to python-stdnum as an independent oracle.
"""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import phonenumbers

# --- GB 11643-1999: resident ID card -------------------------------------------------------

# Real county-level division codes (GB/T 2260), a spread over the country.
ID_AREAS = (
    "110101", "110105", "110108", "120101", "130102", "140105", "150102", "210102", "220102",
    "230103", "310101", "310104", "310115", "320102", "320506", "330106", "330212", "340104",
    "350102", "350203", "360103", "370102", "370202", "410105", "420106", "430104", "440103",
    "440305", "440606", "450103", "460105", "500103", "510107", "520102", "530102", "540102",
    "610113", "620102", "630104", "640104", "650102", "441302", "371002", "421003", "130602",
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def id_card_valid(value: str) -> bool:
    return (len(value) == 18 and value[:17].isdigit() and value[17] in "0123456789Xx"
            and id_check_char(value[:17]) == value[17].upper())


def id_card(rng: random.Random, *, luhn: bool | None = None) -> str:
    """An 18-character ID number; ``luhn=True`` forces one that also passes Luhn (issue family 5),
    ``luhn=False`` one that does not, ``None`` whatever comes."""
    while True:
        year = rng.randint(1950, 2006)
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        first17 = f"{rng.choice(ID_AREAS)}{year:04d}{month:02d}{day:02d}{rng.randint(1, 999):03d}"
        value = first17 + id_check_char(first17)
        if luhn is None or luhn_valid(value) == luhn:
            return value


# --- ISO/IEC 7812 Luhn: bank cards ----------------------------------------------------------

def luhn_valid(value: str) -> bool:
    if not value.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(value)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    for last in "0123456789":
        if luhn_valid(prefix + last):
            return prefix + last
    raise AssertionError("unreachable")


# Real Chinese BIN prefixes (6 digits) with the card length their issuer uses.
CARD_BINS = (
    ("622202", 19), ("622208", 19), ("622848", 19), ("621700", 19), ("621661", 19),
    ("621226", 19), ("622588", 16), ("622575", 16), ("436742", 16), ("518710", 16),
    ("625906", 16), ("622609", 16), ("622700", 19), ("621483", 16), ("623058", 19),
    ("628288", 16), ("622262", 19), ("621799", 19),
)


def bank_card(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_BINS)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


# --- GB 32100-2015: unified social credit code ---------------------------------------------

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, inside the USCC


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(first8, ORG_WEIGHTS))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def uscc_valid(value: str) -> bool:
    return (len(value) == 18 and all(c in USCC_CHARS for c in value)
            and uscc_check_char(value[:17]) == value[17])


def uscc(rng: random.Random) -> str:
    """Registration authority + type (91 company, 92 individual business, 12 public institution,
    52 social organisation, 93 cooperative), division code, organisation code with its own GB
    11714 check, then the GB 32100 check character."""
    head = rng.choice(("91", "91", "91", "92", "12", "52", "93"))
    area = rng.choice(ID_AREAS)
    org8 = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    org = org8 + org_check_char(org8)
    first17 = head + area + org
    return first17 + uscc_check_char(first17)


# --- phones ---------------------------------------------------------------------------------

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150",
    "151", "152", "153", "155", "156", "157", "158", "159", "162", "165", "166", "167", "170",
    "171", "172", "173", "175", "176", "177", "178", "180", "181", "182", "183", "184", "185",
    "186", "187", "188", "189", "190", "191", "192", "193", "195", "196", "197", "198", "199",
)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


# Area code -> digits of the local number (MIIT numbering plan). 3-digit codes are the big
# cities with 8-digit numbers; the 4-digit ones are a mix of 8-digit and 7-digit cities.
AREA_CODES = {
    "010": 8, "020": 8, "021": 8, "022": 8, "023": 8, "024": 8, "025": 8, "027": 8, "028": 8,
    "029": 8, "0755": 8, "0571": 8, "0512": 8, "0574": 8, "0757": 8, "0769": 8, "0591": 8,
    "0592": 8, "0531": 8, "0532": 8, "0371": 8, "0731": 8, "0551": 8, "0311": 8, "0351": 8,
    "0431": 8, "0451": 8, "0771": 8, "0871": 8, "0851": 8, "0898": 8,
    "0931": 7, "0971": 7, "0951": 7, "0891": 7, "0937": 7, "0943": 7, "0902": 7, "0979": 7,
}


def landline_parts(rng: random.Random, *, mismatched: bool = False) -> tuple[str, str]:
    """(area code, local number). ``mismatched``: the local number has one digit more or less
    than the area code's plan says (issue family 3: a mistyped number is still a number)."""
    area = rng.choice(tuple(AREA_CODES))
    length = AREA_CODES[area]
    if mismatched:
        length = length + 1 if length == 7 else length - 1
    local = rng.choice("2345678") + "".join(rng.choice("0123456789") for _ in range(length - 1))
    return area, local


def landline_plan_fits(area: str, local: str) -> bool:
    return AREA_CODES.get(area) == len(local)


INTL_REGIONS = ("HK", "HK", "MO", "TW", "US", "GB", "SG", "JP", "AU", "DE", "CA", "KR", "FR")


def intl_phone(rng: random.Random) -> phonenumbers.PhoneNumber:
    """A valid mobile number outside the mainland (checked with libphonenumber's metadata)."""
    while True:
        region = rng.choice(INTL_REGIONS)
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        national = str(example.national_number)
        keep = max(3, len(national) - 6)
        national = national[:keep] + "".join(rng.choice("0123456789") for _ in range(len(national) - keep))
        number = phonenumbers.parse("+" + str(example.country_code) + national)
        if phonenumbers.is_valid_number(number) and "555" not in national[:6]:
            return number


# --- passports, plates, network --------------------------------------------------------------

PASSPORT_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O


def passport(rng: random.Random) -> str:
    """China passports: E + 8 digits (2012 e-passport), E + letter + 7 digits (after the E
    series ran out: EA, EB, ...), G + 8 digits (older)."""
    form = rng.random()
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if form < 0.45:
        return "E" + digits(8)
    if form < 0.8:
        return "E" + rng.choice(PASSPORT_LETTERS) + digits(7)
    return "G" + digits(8)


PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def plate(rng: random.Random) -> tuple[str, str]:
    """(plate, kind): a 7-character fuel-car plate (GA 36: up to 2 letters in the 5 serial
    characters) or an 8-character new-energy plate (small: D/F + 5 digits or D/F + letter + 4
    digits; large: 5 digits + D/F)."""
    head = rng.choice(PLATE_PROVINCES) + rng.choice("ABCDEFGHJKLMN")
    kind = rng.random()
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if kind < 0.6:
        serial = list(d(5))
        for i in rng.sample(range(5), rng.choice((0, 1, 1, 2))):
            serial[i] = rng.choice(PLATE_LETTERS)
        return head + "".join(serial), "fuel"
    if kind < 0.85:
        second = rng.choice(PLATE_LETTERS) if rng.random() < 0.4 else d(1)
        return head + rng.choice("DF") + second + d(4), "new_energy"
    return head + d(5) + rng.choice("DF"), "new_energy_large"


def ipv4(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind < 0.6:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind < 0.7:
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"{rng.choice((39, 47, 58, 101, 114, 116, 120, 121, 182, 203, 223))}.{rng.randint(0, 255)}." \
           f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    """Full (every group, zero-padded), compressed (``::``), link-local, or mixed-case forms."""
    kind = rng.random()
    if kind < 0.3:
        prefix = rng.choice((0x20010DB8, 0x24098000, 0x240E0000, 0x2408_8000, 0x2001_0470))
        value = (prefix << 96) | (rng.getrandbits(16) << 80) | rng.getrandbits(64)
        return ipaddress.IPv6Address(value).exploded
    if kind < 0.75:
        prefix = rng.choice((0x20010DB8, 0x240E0388, 0x24098A00, 0x2408_8207))
        groups = [rng.getrandbits(16) for _ in range(6)]
        zero_from = rng.randint(0, 4)
        for i in range(zero_from, zero_from + rng.randint(2, 3)):
            if i < 6:
                groups[i] = 0
        value = prefix << 96
        for i, g in enumerate(groups):
            value |= g << (16 * (5 - i))
        return ipaddress.IPv6Address(value).compressed
    if kind < 0.9:
        return ipaddress.IPv6Address((0xFE80 << 112) | rng.getrandbits(64)).compressed
    return ipaddress.IPv6Address((0x2001_0DB8 << 96) | rng.getrandbits(96)).compressed.upper()


def mac(rng: random.Random) -> str:
    octets = [rng.getrandbits(8) for _ in range(6)]
    octets[0] &= 0xFE  # unicast
    sep = rng.choice((":", ":", "-"))
    text = sep.join(f"{o:02x}" for o in octets)
    return text.upper() if rng.random() < 0.5 else text


@dataclass(frozen=True)
class Address:
    text: str
    street_start: int  # offsets of the street part (road + house number) inside ``text``
    street_end: int


def address(rng: random.Random, fake_zh) -> Address:
    """Province, city, district, road and number, then often a compound/building/room part."""
    province = fake_zh.province()
    head = province
    if province not in ("北京市", "上海市", "天津市", "重庆市"):
        head += fake_zh.city_name() + "市"
    head += fake_zh.district() + rng.choice(("区", "区", "县"))
    street = fake_zh.street_name() + f"{rng.randint(1, 999)}号"
    tail = ""
    roll = rng.random()
    if roll < 0.35:
        tail = f"{rng.choice(('阳光', '幸福', '锦绣', '华府', '金地', '碧桂园', '万科'))}" \
               f"{rng.choice(('小区', '花园', '公寓', '家园'))}{rng.randint(1, 30)}栋" \
               f"{rng.randint(1, 6)}单元{rng.randint(1, 32)}0{rng.randint(1, 4)}室"
    elif roll < 0.55:
        tail = f"{rng.randint(1, 40)}楼{rng.randint(1, 40)}0{rng.randint(1, 9)}室"
    text = head + street + tail
    return Address(text, len(head), len(head) + len(street))
