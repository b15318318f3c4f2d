"""Checksums and plausibility checks that turn a pattern match into a detection.

Each validator takes the matched text and returns True when the value is real enough to mask.
They are pure functions (no regexes of their own beyond stripping separators), so recognizers can
share them and tests can check them one by one.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from functools import lru_cache

# -- mainland resident ID (GB 11643-1999) ------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits: province-level codes in use (GB/T 2260). Checking only the province, not the
# full birthplace table: real IDs carry retired county codes that the table no longer lists.
_ID_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83 91".split())


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def real_date(year: int, month: int, day: int, *, earliest: int = 1900) -> bool:
    """A calendar date that exists and is not in the future (birth dates, dates in IDs)."""
    if year < earliest:
        return False
    try:
        d = _dt.date(year, month, day)
    except ValueError:
        return False
    return d <= _dt.date.today()


def china_id(value: str) -> bool:
    """18-character resident ID: province code, a real birth date, and the GB 11643 checksum."""
    s = value.replace(" ", "").upper()
    if len(s) != 18 or not s[:17].isdigit() or s[:2] not in _ID_PROVINCES:
        return False
    if not real_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    return id_check_char(s[:17]) == s[17]


def id_checksum(value: str) -> bool:
    """18 characters whose GB 11643 check character is right and whose positions 7-14 are a real
    birth date, whatever the region code: a number that passes both is an ID wherever it stands
    (a random 18-digit number does so about once in 11 x 2,000)."""
    s = value.replace(" ", "").upper()
    return id_shape(s) and id_check_char(s[:17]) == s[17]


def id_shape(value: str) -> bool:
    """17 digits + a digit or X with a plausible birth date (1900 to today) in positions 7-14: how a
    resident ID is written, even with a mistyped check character or an unknown region code. The
    recognizer using it wants an ID context word (身份证, ID card) nearby."""
    s = value.replace(" ", "").upper()
    if len(s) != 18 or not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        return False
    return real_date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def china_id_15(value: str) -> bool:
    """First-generation 15-digit ID (before 1999): province code and a real 19YYMMDD birth date.
    It has no checksum, so the recognizer also wants a context word such as 身份证."""
    s = value.replace(" ", "")
    return (len(s) == 15 and s.isdigit() and s[:2] in _ID_PROVINCES
            and real_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12])))


# -- payment cards ------------------------------------------------------------------------------

def luhn(digits: str) -> bool:
    """Luhn mod-10 (ISO/IEC 7812) via python-stdnum."""
    from stdnum import luhn as _luhn  # cheap module; imported here to keep the top of the file pure

    return digits.isdigit() and _luhn.is_valid(digits)


def card_brand(digits: str) -> str | None:
    """The card scheme by IIN prefix and length, or None when no scheme issues such a number."""
    n = len(digits)
    if digits.startswith("62") and 16 <= n <= 19:
        return "unionpay"
    if digits.startswith("4") and n in (13, 16, 19):
        return "visa"
    if n == 16 and (51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720):
        return "mastercard"
    if n == 15 and digits[:2] in ("34", "37"):
        return "amex"
    if 16 <= n <= 19 and digits.startswith("35"):
        return "jcb"  # 3528-3589 issued; the rest of 35 is reserved for JCB (test generators use it)
    if n == 15 and digits[:4] in ("2131", "1800"):
        return "jcb"
    if 13 <= n <= 19 and (digits[:4] in ("5018", "5020", "5038", "6304", "6759", "6761", "6762", "6763")
                          or digits[:2] in ("56", "57", "58")):
        return "maestro"
    if 16 <= n <= 19 and (digits.startswith("6011") or digits.startswith("65")):
        return "discover"
    if n == 14 and digits[:2] in ("36", "38", "30"):
        return "diners"
    if 16 <= n <= 19 and digits[:2] in ("60", "68", "69", "90", "94", "95", "98", "99"):
        # Mainland domestic debit BINs outside 62 (e.g. 9558 ICBC, 6013 BOC, 6896 ...).
        return "cn-debit"
    return None


def looks_like_id(digits: str) -> bool:
    """An 18-digit number shaped like a resident ID (province, 19xx/20xx year, month 00-19), even
    with an impossible date: 62/65 IDs (Gansu, Xinjiang) share the UnionPay/Discover prefixes."""
    return (len(digits) == 18 and digits[:2] in _ID_PROVINCES and digits[6:8] in ("19", "20")
            and digits[10] in "01")


def bank_card(value: str) -> bool:
    """13-19 digits (separators allowed), a known IIN range for that length, and a valid Luhn sum.
    An unseparated 18-digit number shaped like a resident ID is not taken for a card."""
    digits = re.sub(r"[ -]", "", value)
    if not (13 <= len(digits) <= 19 and card_brand(digits) is not None and luhn(digits)):
        return False
    return not _is_id(digits, value)


def _is_id(digits: str, value: str) -> bool:
    """An 18-digit resident ID is never a card, even when it passes Luhn (one in ten does)."""
    return len(digits) == 18 and (china_id(digits) or (digits == value and looks_like_id(digits)))


_DATE_PREFIX = re.compile(r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])")


def card_with_cue(value: str) -> bool:
    """12-19 digits (Maestro issues 12) with a valid Luhn sum, for a number next to a card cue (卡号, card, 账号) whose
    scheme is missing from card_brand; order numbers that start with a date are not taken."""
    digits = re.sub(r"[ -]", "", value)
    return (12 <= len(digits) <= 19 and luhn(digits) and not _DATE_PREFIX.match(digits)
            and not _is_id(digits, value))


# -- phones -------------------------------------------------------------------------------------

# Mainland mobile number segments (MIIT allocations incl. data-only 14x and virtual 16x/17x).
_MOBILE_PREFIXES = frozenset(
    [str(p) for p in range(130, 140)] + ["145", "146", "147", "148", "149"]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + ["162", "165", "166", "167"] + [str(p) for p in range(170, 179)]
    + [str(p) for p in range(180, 190)]
    + ["190", "191", "192", "193", "195", "196", "197", "198", "199"])


def cn_mobile(value: str) -> bool:
    """11-digit mainland mobile (optionally after +86/0086) in an allocated number segment."""
    digits = re.sub(r"\D", "", value)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    return len(digits) == 11 and digits[:3] in _MOBILE_PREFIXES


@lru_cache(maxsize=1024)  # the landline and the national-phone recognizers both ask about a candidate
def cn_landline(value: str) -> bool:
    """Fixed-line number whose area code and length phonenumbers accepts for region CN."""
    import phonenumbers  # loads its metadata lazily; only reached for landline candidates

    whole = value.strip()
    # 010-1234-5678 is one number; 010-12345678-123 ends with an extension, not part of the number
    for main in (whole, re.split(r"[-转]\d{1,4}$", whole)[0]):
        try:
            num = phonenumbers.parse(main, "CN")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num) and phonenumbers.number_type(num) in (
                phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return True
    return False


def _strip_cn_prefix(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if value.lstrip().startswith(("+86", "0086", "(+86)", "（+86）")) or (digits.startswith("86") and "+" in value):
        digits = digits[4:] if digits.startswith("0086") else digits[2:]
        if not digits.startswith("0"):
            digits = "0" + digits
    return digits


@lru_cache(maxsize=512)
def cn_area_code(area: str) -> bool:
    """``area`` (0 + 2-3 digits) is a mainland area code: phonenumbers accepts a local number after it."""
    import phonenumbers

    for local in ("62345678", "82345678", "2345678", "8234567", "52345678"):
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(area + local, "CN")):
                return True
        except phonenumbers.NumberParseException:
            return False
    return False


def cn_landline_shape(value: str) -> bool:
    """A real area code and 5-9 more digits: a landline as written, even when the local number does
    not fit the area code (a typo is still a person's number). Used only next to a phone cue."""
    digits = _strip_cn_prefix(value.strip())
    if not digits.startswith("0") or digits.startswith("00"):
        return False
    for n in (3, 4):
        if 5 <= len(digits) - n <= 9 and cn_area_code(digits[:n]):
            return True
    return False


def intl_phone(value: str) -> bool:
    """A number written with a +country code outside mainland China (Hong Kong, Taiwan, US ...):
    a known country code and a possible length for it (phonenumbers). Not ``is_valid_number``: a
    number in a block not yet allocated is still someone's number to mask, and the + is rare else."""
    import phonenumbers

    if value.startswith("00"):
        value = "+" + value[2:]  # 00 is the international prefix dialled from the mainland
    try:
        num = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return (num.country_code != 86 and phonenumbers.region_code_for_country_code(num.country_code or 0) != "ZZ"
            and phonenumbers.is_possible_number(num))


def intl_phone_shape(value: str) -> bool:
    """A known country code (not 86) and 6-12 more digits, 15 at most in all (E.164): an
    international number as written, even when its length does not fit the country's plan (a
    typo is still a person's number). Used only next to a phone cue."""
    import phonenumbers

    digits = re.sub(r"\D", "", value[2:] if value.startswith("00") else value)
    if len(digits) > 15:
        return False
    for n in (1, 2, 3):
        cc = int(digits[:n] or 0)
        if cc != 86 and phonenumbers.region_code_for_country_code(cc) != "ZZ":
            return 6 <= len(digits) - n <= 12
    return False


# -- organisations ------------------------------------------------------------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code(value: str) -> bool:
    """Organisation code (GB 11714-1997): 8 characters + check digit (mod 11, 10 -> X)."""
    if len(value) != 9 or not value[:8].isalnum() or not value[:8].isascii():
        return False
    total = sum(int(c, 36) * w for c, w in zip(value[:8], _ORG_WEIGHTS))
    return value[8] == "0123456789X0"[11 - total % 11]


# GB 32100 registration authority -> the organisation types it may issue (character 1 -> 2).
_USCC_TYPES = {"1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129", "7": "129", "8": "19",
               "9": "123", "A": "19", "N": "1239", "Y": "1"}


def uscc(value: str) -> bool:
    """Unified social credit code (GB 32100-2015): its mod-31 check character (python-stdnum) and
    the GB 11714 check digit of the organisation code inside it (characters 9-17), which
    python-stdnum does not check and which keeps random 18-digit numbers from passing."""
    from stdnum.cn import uscc as _uscc

    v = value.upper()
    if v[1:2] not in _USCC_TYPES.get(v[:1], "") or v[2:4] not in _ID_PROVINCES:
        return False  # authority/type pair or region (a province code) that GB 32100 does not issue
    return _uscc.is_valid(v) and org_code(v[8:17])


# -- network ------------------------------------------------------------------------------------

def ipv4(value: str) -> bool:
    """Dotted quad, each part 0-255, no leading zeros (010.1.1.1 is more likely not an address)."""
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts)


def ipv6(value: str) -> bool:
    """Any IPv6 text form the standard library accepts, with at least two groups written out."""
    if value.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return sum(1 for g in value.split(":") if g) >= 2 or value == "::1"


def mac(value: str) -> bool:
    """48-bit MAC: six hex octets with one consistent separator, or Cisco's dotted 4-4-4."""
    v = value.lower()
    if re.fullmatch(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}", v):
        return True
    octets = re.split(r"[:-]", v)
    seps = set(re.findall(r"[:-]", v))
    return len(octets) == 6 and len(seps) == 1 and all(len(o) == 2 for o in octets)


# -- documents ----------------------------------------------------------------------------------

def plate(value: str) -> bool:
    """Mainland plate: province + issuing letter + 5 characters (6 for new-energy), at most 2 letters
    among the serial characters of an ordinary plate (an all-letter tail is a word, not a plate)."""
    serial = re.sub(r"[·・.\- ]", "", value)[2:]
    if len(serial) == 6:  # new-energy: D/F first (small car) or last (large vehicle)
        return serial[0] in "DF" or serial[-1] in "DF"
    if len(serial) != 5:
        return False
    if serial[-1] in "学警港澳挂领试超":
        return True
    return sum(c.isalpha() for c in serial) <= 3 and any(c.isdigit() for c in serial)
