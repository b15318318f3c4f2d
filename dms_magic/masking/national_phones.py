"""Phone numbers written in a national format, without a country code, next to a phone cue.

``(21) 98765-4321`` (Rio), ``0301 2345678`` (Pakistan), ``020 7946 0018`` (London), ``(415)
555-0142``: nothing in the digits says which country they belong to, so the evidence is a phone
cue before the number (``phone``, ``call``, ``电话``) or a label naming it (a ``"phone"`` key, a
``Tel`` column). A candidate is then handed to phonenumbers' PhoneNumberMatcher for the regions
the text suggests (a country or city it names) and a list of common ones; the first region that
finds the whole candidate a valid number wins. A candidate valid nowhere but of a possible length
in one of them is kept at a lower score: generated and fictional numbers (555-01xx, Ofcom's drama
ranges) are still written as someone's number.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

from dms_magic.masking import fields
from dms_magic.masking import validators as v
from dms_magic.masking.recognizers import GLUE, GLUED_AFTER, Detection, PatternRecognizer, _ends_with_word

# Cue words before a number (lower case; labels are matched the same way).
PHONE_CUES = ("phone", "tel", "call", "contact", "mobile", "cell", "fax", "whatsapp", "dial", "reach", "hotline",
              "landline", "desk", "answering", "messages to", "registered", "sms", "text me", "ring me",
              "电话", "联系", "手机", "座机", "致电", "拨打", "热线", "传真")
# A phone's kind written after it (``082 490 1693-Office``, ``416 60 039 office``, ``… (mobile)``).
_AFTER_CUE = re.compile(r"[ \t]?[-–(,/]?[ \t]?(?i:office|fax|mobile|cell|landline|desk|direct)"
                        r"(?![A-Za-z0-9])")
_AFTER_WORDS = ("office", "fax", "mobile", "cell", "landline", "desk", "direct")
_AFTER_CUE_GATE = re.compile(r"[0-9][ \t]?[-–(,/]?[ \t]?(?i:office|fax|mobile|cell|landline|desk|direct)"
                             r"(?![A-Za-z0-9])")
# Words right before a number that make it something else (an order, an invoice, an amount).
VETO = ("order", "tracking", "invoice", "ref", "reference", "no.", "account", "acct", "case", "ticket", "id",
        "sn", "s/n", "serial", "sku", "model", "part", "isbn", "batch", "lot", "code", "pin", "otp", "room",
        "订单", "单号", "编号", "运单", "流水号", "账号", "序列号", "型号", "批次", "验证码",
        "$", "¥", "￥", "€", "£", "usd", "rmb", "cny")

# Regions tried for every candidate, most written first; then those the text names come first.
COMMON_REGIONS = ("US", "GB", "IN", "BR", "PK", "DE", "FR", "AU", "CA", "MX", "ES", "IT", "JP", "SG", "HK", "CN",
                  "NG", "PH")
_HINTS = {
    "US": "usa|united states|america|american|california|new york|texas|chicago|seattle|boston|san francisco",
    "GB": "uk|united kingdom|britain|british|england|london|manchester|scotland|edinburgh",
    "BR": "brazil|brasil|rio|são paulo|sao paulo",
    "PK": "pakistan|karachi|lahore|islamabad",
    "IN": "india|indian|mumbai|delhi|bangalore|bengaluru|chennai",
    "DE": "germany|german|deutschland|berlin|munich|hamburg",
    "FR": "france|french|paris|lyon",
    "AU": "australia|sydney|melbourne",
    "CA": "canada|toronto|vancouver|montreal",
    "MX": "mexico|méxico",
    "JP": "japan|tokyo|osaka|日本",
    "CN": "china|beijing|shanghai|中国|北京|上海",
}

# Digit groups as nations write them: an optional bracketed area code, then 1-5 digit groups
# joined by one space, dot or dash (or one run of digits; five pairs in France: 01 42 68 53 00,
# which four groups would cut into a valid Italian number). 7-13 digits in all (checked in code).
CANDIDATE = (r"(?<![0-9A-Za-z+.,\-/])(?:\(0?[0-9]{1,4}\)[ .-]?)?[0-9]{2,8}(?:[ .-][0-9]{2,8}){0,4}"
             rf"(?:(?![.\-/:,]?[0-9A-Za-z])|(?={GLUED_AFTER})|(?=-(?i:office|fax|mobile|cell)(?![A-Za-z])))")
# After a number: a currency or a unit makes it an amount or a measure (消费1151884元, 1 250 000 USD).
_UNIT_AFTER = re.compile(r" ?(?:元|块|万|亿|円|%|‰|美元|人民币|dollars?|usd|rmb|cny|eur|yuan|kg|km|mb|gb|pcs)(?![a-z])",
                         re.IGNORECASE)
# A country code right before (+86 755 ..., 0044 20 ...): the international recognizers read it whole.
_COUNTRY_CODE_BEFORE = re.compile(r"(?:\+|(?<![0-9])00)[0-9]{1,3}[ .-]?[(（]?$")
# Mainland mobiles and landlines (valid for CN, validators.cn_landline) have recognizers of
# their own, scored higher: not retried here, where each region costs a parse.
_MAINLAND = re.compile(r"1[3-9][0-9](?:[ .-]?[0-9]{4}){2}")
_CN_LANDLINE = re.compile(r"[(（]?0[1-9][0-9]{1,2}[)）]?[ -]?(?:[0-9]{3,4}[ -][0-9]{4}|[0-9]{5,9})")  # as cn_landline reads
# One dot is a decimal point (41.5955), four dotted groups an IP or a version, not a phone.
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_DOTTED_QUAD = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_DATE = re.compile(r"[0-9]{4}[-./ ][0-9]{1,2}[-./ ][0-9]{1,2}|[0-9]{1,2}[-./ ][0-9]{1,2}[-./ ][0-9]{2,4}")


@lru_cache(maxsize=1)
def _hint_pattern() -> re.Pattern:
    return re.compile("|".join(f"(?P<{r}>(?<![a-z])(?:{words})(?![a-z]))" for r, words in _HINTS.items()))


def regions_for(text: str) -> tuple[str, ...]:
    """The regions to try: those the text names (in order of first mention), then the common list."""
    named: list[str] = []
    for m in _hint_pattern().finditer(text.lower()):
        assert m.lastgroup is not None  # every alternative of the pattern is a named group
        if m.lastgroup not in named:
            named.append(m.lastgroup)
    return tuple(named) + tuple(r for r in COMMON_REGIONS if r not in named)


def national_number(value: str, regions: tuple[str, ...]) -> tuple[str, bool] | None:
    """(region, valid) for the first region where ``value`` is a valid number, else the first where
    it is a possible one (valid=False); else None. The region is then confirmed by phonenumbers'
    PhoneNumberMatcher reading all of ``value`` as one number (it also rejects what it takes for
    dates and times). ``parse`` + ``is_valid_number`` screens the regions: a matcher per region
    costs ten times as much."""
    import phonenumbers

    digits = sum(c.isdigit() for c in value)
    if not 7 <= digits <= 13 or _DATE.fullmatch(value):
        return None
    parsed = []
    for region in regions:
        try:
            num = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num) and _whole_match(value, region, True):
            return region, True
        parsed.append((region, num))
    for region, num in parsed:
        if phonenumbers.is_possible_number(num) and _whole_match(value, region, False):
            return region, False
    return None


def _whole_match(value: str, region: str, valid: bool) -> bool:
    from phonenumbers import Leniency, PhoneNumberMatcher

    leniency = Leniency.VALID if valid else Leniency.POSSIBLE
    return any(m.start == 0 and m.end == len(value) for m in PhoneNumberMatcher(value, region, leniency=leniency))


class NationalPhoneRecognizer(PatternRecognizer):
    """Cue-backed candidates (PatternRecognizer with ``context_required``), then the regions."""

    def _after_cued(self, text: str) -> Iterator[Detection]:
        """Candidates without a cue before them but with the phone's kind right after them."""
        for m in self.regex.finditer(text):
            start, end = m.span()
            if not _AFTER_CUE.match(text, end) or self.validator is not None and not self.validator(m.group(0)):
                continue
            if start and not fields.left_ok(text, start, self.glue, colon=self.colon):
                continue
            if self.veto and _ends_with_word(text[max(0, start - self.window):start].lower().rstrip(" :：#-“”\"'（(「『【[="),
                                             self.veto):
                continue
            yield Detection(start, end, self.entity, self.score, self.validated_by, self.name)

    def find(self, text: str) -> Iterator[Detection]:
        regions = None
        cued = list(super().find(text))
        seen = {(d.start, d.end) for d in cued}
        low = text.lower()
        if any(w in low for w in _AFTER_WORDS) and _AFTER_CUE_GATE.search(text):
            cued.extend(d for d in self._after_cued(text) if (d.start, d.end) not in seen)
        for d in cued:
            value = text[d.start:d.end]
            if _UNIT_AFTER.match(text, d.end) or _COUNTRY_CODE_BEFORE.search(text, max(0, d.start - 7), d.start) \
                    or _DECIMAL.fullmatch(value) or _DOTTED_QUAD.fullmatch(value):
                continue
            if regions is None:
                regions = regions_for(text)  # once per text, and only when a cued candidate exists
            found = national_number(value, regions)
            if found is None:
                continue
            region, valid = found
            if valid:
                yield Detection(d.start, d.end, self.entity, d.score, f"phonenumbers ({region}) + phone context word",
                                self.name)
            else:
                yield Detection(d.start, d.end, self.entity, self.rescue_score,
                                f"possible {region} number + phone context word", self.name)



def _phone_length(value: str) -> bool:
    """7-13 digits, not a date, not a mainland number (those have recognizers of their own):
    checked before the cue, which costs more."""
    return (7 <= sum(c.isdigit() for c in value) <= 13 and not _DATE.fullmatch(value)
            and not _MAINLAND.fullmatch(value) and not (_CN_LANDLINE.fullmatch(value) and v.cn_landline(value)))


def national_phone_recognizer() -> NationalPhoneRecognizer:
    return NationalPhoneRecognizer(
        "national_phone_with_cue", "PHONE_NUMBER", CANDIDATE, validator=_phone_length,
        validated_by="phonenumbers + phone context word",
        # 0.69, not 0.7: on a tie with a Chinese landline (same span, same cue bonus) the landline wins
        score=0.69, context=PHONE_CUES, context_required=True, own_cue=True, window=32, glue=GLUE["PHONE"], veto=VETO,
        rescue_score=0.6)
