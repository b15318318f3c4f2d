"""Pattern + validator recognizers, in the spirit of Presidio's PatternRecognizer.

A recognizer finds candidates with one compiled regex and keeps those its validator accepts.
Boundaries are ASCII lookarounds, never ``\\b``: in Python ``\\b`` treats CJK characters as word
characters, so ``手机13812345678`` has no ``\\b`` before the 1 and Presidio-style patterns miss it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from dms_magic.masking import fields, validators as v

# A value may touch anything except more digits (or, for each pattern, its own separators). An
# ASCII letter right before it is checked in Python (fields.left_ok): only a known cue word glued
# to the value (``mobile138...``) lets it start there; ``SF`` + 12 digits stays an identifier.
B = r"(?<![0-9])"
# After a value: no more digits or letters, except the Latin label of the next field or an
# extension mark glued to it as a whole word (``15821346790Email:``, ``415-555-0142ext``): text
# copied out of a form loses the space, and the word is no part of the value.
GLUED_AFTER = (r"(?i:e-?mail|mail|tel|phone|mobile|cell|fax|qq|wechat|weixin|wx|ext|extn|addr|address|name|web|url|"
               r"skype|whatsapp)(?![A-Za-z])")
E = rf"(?:(?![0-9A-Za-z])|(?={GLUED_AFTER}))"

# Chinese input methods often type full-width digits and letters (１３８１２３４５６７８). Recognizers
# run on a copy where those (and ＠ ＋ － ．) are ASCII: one character for one, so every offset
# still points into the original text. CJK punctuation (，：（）) stays as it is: cues rely on it.
HALF_WIDTH = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B),
                                       0xFF20, 0xFF0B, 0xFF0D, 0xFF0E]})


@dataclass(frozen=True, slots=True)
class Detection:
    """One finding in the original text: ``text[start:end]`` is an ``entity``."""

    start: int
    end: int
    entity: str
    score: float
    validated_by: str
    recognizer: str = ""


def _ends_with_word(text: str, words: tuple[str, ...]) -> bool:
    """``text`` ends with one of ``words`` as a whole word (``server`` does not end with ``ver``)."""
    for w in words:
        if text.endswith(w):
            if not w.isascii() or len(text) == len(w) or not text[-len(w) - 1].isalpha():
                return True
    return False


# Latin cue words that may be glued right before a value (``tel010-...``, ``IPv6fe80::1``), per
# kind of value; compared with the last word of the glued run (``id_card`` -> ``card``, ``CardNo``
# -> ``cardno``).
PHONE_GLUE = frozenset("tel telephone phone mobile mob cell cellphone call contact fax hotline number num no "
                       "landline office whatsapp sms tele".split())
GLUE = {
    "ID_CARD": frozenset("id idcard idno idnumber card number num no ssn identity sfz cert".split()),
    "PHONE": PHONE_GLUE,
    "BANK_CARD": frozenset("card cardno cardnumber bankcard account acct acc number num no debit credit visa "
                           "unionpay mastercard amex".split()),
    "IP": frozenset("ip ipv ipv4 ipv6 ip4 ip6 inet inet6 ipaddr addr address host src dst source dest destination "
                    "client server remote peer from gateway gw dns proxy clientip serverip remoteaddr".split()),
    "MAC": frozenset("mac macaddr hwaddr hw ether bssid addr address wifi eth".split()),
    "PASSPORT": frozenset("passport passportno pp number num no".split()),
    "USCC": frozenset("uscc code creditcode taxid tax id tin vat number num no".split()),
}


# Digit groups of a card or account number as people space them (4, or 6 + 13 for some CN cards).
_GROUP_BEFORE = re.compile(r"(?<![0-9A-Za-z:.])[0-9]{1,6}[ -]$")
_GROUP_AFTER = re.compile(r"[ -][0-9]{1,6}(?![0-9A-Za-z:]|\.[0-9])")


def _inside_number(text: str, start: int, end: int) -> bool:
    """Short digit groups continue on either side (``6232 0957 1606 0784``): the span is a piece of
    a longer number. A long number before (an order number, then a space, then a landline), a group
    that runs on into ``:`` or a letter (``2001:db8``, ``12ab``) or a value starting with ``+`` (its
    own boundary) is a neighbour, not a piece of one number."""
    left = text[start] != "+" and bool(_GROUP_BEFORE.search(text, max(0, start - 8), start))
    return left or bool(_GROUP_AFTER.match(text, end))


# A number written with mainland China's country code is a phone number by its own writing: the
# +86 is the cue (``+86 755 2688372`` keeps its shape even when the local part is mistyped).
_CN_DIAL = ("+86", "0086", "(+86)", "（+86）")


class PatternRecognizer:
    """Regex candidates -> left boundary -> validator -> optional context rules -> Detections.

    ``glue``: Latin cue words allowed right before a value (fields.left_ok). ``context`` words in
    the ``window`` characters before the match, or in a label naming it (``key: value``, a table
    header, a JSON key: fields.labels), raise confidence; with ``context_required`` a match without
    them is dropped. ``veto`` words right before drop the match (``版本 2.3.1.0`` is a version).
    ``own_cue`` (with ``context_required``): the cue must name this value (fields.names_value).
    ``trigger``: a cheap regex that every match contains (a text without it is skipped).
    ``cue_rescue``: a validator failure is forgiven when a context word is there (a mistyped
    landline next to 座机 is still someone's number), with ``rescue_score``.
    """

    def __init__(self, name: str, entity: str, pattern: str, *, validator: Callable[[str], bool] | None = None,
                 validated_by: str = "pattern", score: float = 0.85, group: int | str = 0,
                 context: Iterable[str] = (), context_required: bool = False, veto: Iterable[str] = (),
                 window: int = 12, flags: int = 0, glue: frozenset[str] = frozenset(), colon: bool = False,
                 cue_rescue: Callable[[str], bool] | None = None, rescue_score: float = 0.6,
                 standalone: bool = False, own_cue: bool = False, trigger: str | None = None) -> None:
        self.name = name
        self.entity = entity
        self.regex = re.compile(pattern, flags)
        self.validator = validator
        self.validated_by = validated_by
        self.score = score
        self.group = group
        self.context = tuple(w.lower() for w in context)
        self.context_required = context_required
        self.veto = tuple(w.lower() for w in veto)
        self.window = window
        self.glue = glue
        self.colon = colon
        self.cue_rescue = cue_rescue
        self.rescue_score = rescue_score
        self.standalone = standalone
        self.own_cue = own_cue
        # ``trigger``: a regex every match must contain, led by a literal or a character class so
        # that re scans for it fast; a text without it is skipped. The patterns themselves start
        # with a lookbehind, which makes re try them at every position (half the time of a short
        # prompt went there).
        self.trigger = re.compile(trigger) if trigger else None

    def _before(self, text: str, start: int) -> str:
        return text[max(0, start - self.window):start].lower()

    def _span(self, m: re.Match) -> tuple[int, int]:
        return m.span(self.group)

    def triggered(self, text: str) -> bool:
        return self.trigger is None or self.trigger.search(text) is not None

    def find(self, text: str) -> Iterator[Detection]:
        if not self.triggered(text):
            return
        for m in self.regex.finditer(text):
            start, end = self._span(m)
            if start < 0:
                continue
            # a ``+`` is its own boundary (``intl+44 20 ...``): a country code never continues a word
            if start and text[start].isascii() and text[start] != "+" \
                    and not fields.left_ok(text, start, self.glue, colon=self.colon):
                continue
            if self.standalone and _inside_number(text, start, end):
                continue  # 6232 0571 1606 0784: a piece of a card-like run of digit groups
            value = m.group(self.group)  # what is validated (a landline without its extension)
            score, validated_by = self.score, self.validated_by
            if self.validator is not None and not self.validator(value):
                if self.cue_rescue is None or not self.cue_rescue(value) \
                        or not (value.startswith(_CN_DIAL) or fields.has_cue(text, start, end, self.context,
                                                                              self.window)):
                    continue
                score, validated_by = self.rescue_score, f"{self.validated_by} failed; kept by a context word"
            if self.context or self.veto:
                before = self._before(text, start)
                # a veto word must end right before the value (``版本 2.3.1.0``), not just be nearby
                if self.veto and _ends_with_word(before.rstrip(" :：#-“”\"'（(「『【[="), self.veto):
                    continue
                if self.own_cue and self.context_required:
                    if not fields.names_value(text, start, end, self.context, self.window):
                        continue
                    score = min(1.0, score + 0.1)
                elif self.context and fields.has_cue(text, start, end, self.context, self.window):
                    score = min(1.0, score + 0.1)
                elif self.context_required:
                    continue
            yield Detection(start, end, self.entity, score, validated_by, self.name)


class CardRecognizer(PatternRecognizer):
    """Bank cards: a run of digit groups may hold the card plus neighbours (``卡号6222 ... 1234 100元``);
    try every contiguous run of groups and keep the longest that passes IIN + Luhn (or Luhn alone
    next to a card cue: a card scheme missing from the IIN table is still a card)."""

    def find(self, text: str) -> Iterator[Detection]:
        if not self.triggered(text):
            return
        for m in self.regex.finditer(text):
            run = m.group(0)
            groups = [(g.start(), g.end()) for g in re.finditer(r"[0-9]+", run)]
            first = 0
            if m.start() and not fields.left_ok(text, m.start(), self.glue):
                first = 1  # the first group belongs to a word before it (SF1234 5678 ...)
            best = None
            cued = None
            for i in range(first, len(groups)):
                for j in range(len(groups) - 1, i - 1, -1):
                    a, b = groups[i][0], groups[j][1]
                    if best is not None and b - a <= best[1] - best[0]:
                        break
                    if v.bank_card(run[a:b]):
                        best = (a, b, self.score, self.validated_by)
                        break
                    if i == first and j == len(groups) - 1 and v.card_with_cue(run[a:b]):  # the whole run only
                        if cued is None:
                            before = self._before(text, m.start() + a).rstrip(" :：#-“”\"'（(「『【[=")
                            cued = not _ends_with_word(before, self.veto) and \
                                fields.has_cue(text, m.start() + a, m.start() + b, self.context, self.window)
                        if cued:
                            best = (a, b, self.rescue_score, "Luhn + card context word")
                            break
            if best is not None:
                s = m.start() + best[0]
                yield Detection(s, m.start() + best[1], self.entity, best[2], best[3], self.name)


class LandlineRecognizer(PatternRecognizer):
    """The span covers the number and its extension; the validator sees the number alone."""

    def _span(self, m: re.Match) -> tuple[int, int]:
        return m.start(), m.end()


class Ipv6Recognizer(PatternRecognizer):
    """IPv6 also where it is glued to a Latin word (``addr6fe80::1``, ``v6:2001:db8::1``,
    ``hostdead:beef::1``). An address validates itself (several colon groups that ``ipaddress``
    parses), so any word may stand before it; what needs care is where the value starts, since a
    word may end in hex letters or in the 6 of ``v6``. The value starts at a group boundary: right
    after the ``6`` of a v6 label (``v6``, ``ipv6``, ``inet6``, ``addr6``), else with the last
    four hex characters glued to the word when there are four (a whole group), else after the
    word's ``:`` (``src:fe80::1`` is a label, not the group ``c``)."""

    _GLUED = re.compile(r"(?<![0-9A-Za-z_])([0-9A-Za-z_]*[G-Zg-z_])([0-9A-Fa-f]*)(?=:[0-9A-Fa-f]*:)")
    _VALUE = re.compile(r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|(?:[0-9]{1,3}\.){3}[0-9]{1,3})"
                        r"(?![0-9A-Za-z:])")
    _V6_LABELS = ("v", "ip", "inet", "addr")

    def find(self, text: str) -> Iterator[Detection]:
        if not self.triggered(text):
            return
        spans: list = []
        for m in self._GLUED.finditer(text):
            word, hexes = m.group(1).lower(), m.group(2)
            starts = []
            if hexes.startswith("6") and word.endswith(self._V6_LABELS):
                starts.append(m.start(2) + 1)
            elif len(hexes) >= 4:
                starts.append(m.end(2) - 4)
            starts.append(m.end(2) + 1)  # after the label's colon
            for s in starts:
                if text.startswith(":", s) and not text.startswith("::", s):
                    continue
                value = self._VALUE.match(text, s)
                if value is None or any(a < value.end() and s < b for a, b in spans):
                    continue
                if v.ipv6(value.group(0)):
                    spans.append((s, value.end()))
                    yield Detection(s, value.end(), self.entity, self.score, "ipaddress (glued to a word)",
                                    self.name)
                    break
        # the plain pattern, where no glued reading claimed the text (it would start addr6:2001:... at the 6)
        for d in super().find(text):
            if not any(a < d.end and d.start < b for a, b in spans):
                yield d


# Words that name an ID number, in the text before it or in its label (a JSON key, a column header).
ID_CUES = ("身份证", "证件号", "证件号码", "身份号码", "公民身份", "证件", "id card", "id number", "id no", "id #", "id#",
           "identification", "identity card", "identity number", "national id", "citizen id", "resident id",
           "id_card", "idcard", "id_no", "idno", "id_number", "idnumber")

class Ipv4Recognizer(PatternRecognizer):
    """A dotted quad is a version string (``5.1.8.90``), not an address, when a version word
    (version, ver, v, build, 版本) stands in the text before it on its line with no address word
    (ip, host, server, 地址) after that version word, or when its label names a version."""

    _VERSION = re.compile(r"(?<![a-z])(?:version|ver|build|release|firmware)(?![a-z])|(?<![0-9a-z])v(?=[0-9 .:：]|$)"
                          r"|版本|固件")
    _ADDRESS = re.compile(r"(?<![a-z])(?:ip|ipv4|inet|host|hostname|server|addr|address|gateway|dns|proxy|"
                          r"client|src|dst)(?![a-z])|地址|服务器|网关")
    VERSION_WINDOW = 32

    def find(self, text: str) -> Iterator[Detection]:
        for d in super().find(text):
            if not self._version(text, d.start, d.end):
                yield d

    def _version(self, text: str, start: int, end: int) -> bool:
        found = fields.labels(text, start, end)
        if found or fields.in_cell(text, start, end):  # a label (key, column header) decides alone
            return any(self._VERSION.search(label) and not self._ADDRESS.search(label) for label in found)
        lo = max(0, start - self.VERSION_WINDOW)
        before = text[max(lo, text.rfind("\n", lo, start) + 1):start].lower()
        last_version = max((m.end() for m in self._VERSION.finditer(before)), default=-1)
        if last_version < 0:
            return False
        # an address word after the version word, or another number between (版本 11.24.17 <ip>):
        # the version word is not about this value
        return not (any(m.start() >= last_version for m in self._ADDRESS.finditer(before))
                    or re.search(r"[0-9]", before[last_version:].strip(" :：=v")))


# An extension after a phone number: x123, ext. 123, #123 (phonenumbers reads it as one).
EXT = r"(?:[ ]?(?:x|ext\.?|#)[ ]?[0-9]{1,5})?"


def structured_recognizers() -> list[PatternRecognizer]:
    """Every recognizer for values with a fixed shape (all but names and addresses)."""
    passport_cues = ("护照", "passport", "證件", "证件", "通行证", "旅行证")
    phone_cues = ("座机", "电话", "固话", "办公", "传真", "分机", "总机", "热线", "手机", "联系方式", "号码", "tel",
                  "phone", "office", "landline", "fax", "contact", "call", "mobile")
    card_cues = ("卡号", "银行卡", "信用卡", "借记卡", "储蓄卡", "账号", "帐号", "账户", "转账", "转到", "汇款", "打款",
                 "收款", "付款", "开户", "card", "account", "acct", "pay", "transfer", "visa", "maestro")
    area = r"(?:[(（]0[1-9][0-9]{1,2}[)）]|0[1-9][0-9]{1,2})"
    return [
        PatternRecognizer(
            # the checksum and the birth date are the evidence; the region code is not checked (a
            # retired or mistyped one is still someone's ID number)
            "cn_id_card", "ID_CARD",
            B + r"[0-9]{6} ?(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]) ?[0-9]{3}[0-9Xx]" + E,
            validator=v.id_checksum, validated_by="GB 11643 checksum + real birth date", score=0.95,
            glue=GLUE["ID_CARD"], trigger=r"[0-9]{6} ?[0-9]{8}"),
        PatternRecognizer(
            # written or generated numbers often break the checksum: the ID shape with a plausible
            # birth date is enough next to an ID cue (scored above a card without a card cue)
            "id_shape_with_cue", "ID_CARD", B + r"[0-9]{6} ?[0-9]{8} ?[0-9]{3}[0-9Xx]" + E,
            validator=v.id_shape, validated_by="ID shape + birth date + ID context word", score=0.85,
            context=ID_CUES, context_required=True, own_cue=True, window=48, glue=GLUE["ID_CARD"],
            trigger=r"[0-9]{6} ?[0-9]{8}"),
        PatternRecognizer(
            "cn_id_card_15", "ID_CARD", B + r"[1-9][0-9]{14}" + E,
            validator=v.china_id_15, validated_by="15-digit ID: province + real date + context word", score=0.8,
            context=("身份证", "证件", "证号", "id card", "id no", "id_card", "idcard"), context_required=True,
            window=12, glue=GLUE["ID_CARD"], trigger=r"[0-9]{15}"),
        PatternRecognizer(
            "cn_mobile", "MOBILE_PHONE",
            r"(?<![0-9+])(?:(?:\+|00)86[ -]?|[(（]\+?86[)）][ -]?|86-)?1[3-9][0-9]"
            r"(?:([ .-]?)[0-9]{4}\1[0-9]{4}|[ -][0-9]{8})" + E,
            validator=v.cn_mobile, validated_by="mobile number segment", score=0.9, glue=GLUE["PHONE"],
            trigger=r"1[3-9][0-9]"),
        LandlineRecognizer(
            "cn_landline", "LANDLINE",
            r"(?<![0-9+])(?P<number>(?:(?:\+|00)86[ -]?(?:\(0?[1-9][0-9]{1,2}\)|0?[1-9][0-9]{1,2})|" + area + r")"
            r"[ -]?(?:[0-9]{3,4}[ -][0-9]{4}|[0-9]{5,9}))(?:(?:-|转)[0-9]{1,5})?" + E,
            validator=v.cn_landline, validated_by="phonenumbers (CN area code)", score=0.85, group="number",
            glue=GLUE["PHONE"], context=phone_cues, window=12, cue_rescue=v.cn_landline_shape, rescue_score=0.7,
            standalone=True, trigger=r"0[1-9]|86"),
        PatternRecognizer(
            "intl_phone", "PHONE_NUMBER",
            r"(?<![0-9+])(?:\+(?!86)[1-9][0-9]{0,2}|00(?!86)[1-9][0-9]{0,2}(?=[ -]))(?:[ .-]?\(?[0-9]{1,5}\)?){2,5}"
            + EXT + E,
            validator=v.intl_phone, validated_by="phonenumbers (+country code)", score=0.85, glue=GLUE["PHONE"],
            standalone=True, context=(*phone_cues, "intl", "国际"), window=12, cue_rescue=v.intl_phone_shape,
            rescue_score=0.7, trigger=r"\+|00"),
        PatternRecognizer(
            # North American numbers as Americans write them: (415)555-0100, 415-555-0100, 415.555.0100,
            # 001-415-555-0100, with an extension (x123). The 3-3-4 grouping is the evidence.
            "nanp_phone", "PHONE_NUMBER",
            r"(?<![0-9+.-])(?:(?:\+1|001)[ .-]?)?(?:\([0-9]{3}\)[ ]?[0-9]{3}-|[0-9]{3}-[0-9]{3}-|[0-9]{3}\.[0-9]{3}\.)"
            r"[0-9]{4}" + EXT + rf"(?:(?![0-9A-Za-z]|[.-][0-9])|(?={GLUED_AFTER}))",
            validated_by="North American 3-3-4 grouping", score=0.75, glue=GLUE["PHONE"], standalone=True,
            trigger=r"[0-9]{3}[-.)]"),
        PatternRecognizer(
            "phone_digits_with_cue", "PHONE_NUMBER", B + r"(?:\+?1[ -]?)?[2-9][0-9]{9}" + E,
            validated_by="10 digits + phone context word", score=0.6, context=("phone", "tel", "cell", "mobile", "call",
                                                                              "fax", "contact", "desk", "landline",
                                                                              "whatsapp", "answering", "电话", "手机"),
            context_required=True, window=12, glue=GLUE["PHONE"], trigger=r"[0-9]{10}"),
        CardRecognizer(
            "bank_card", "BANK_CARD", B + r"[0-9](?:[0-9]|(?:[ -]| {2})(?=[0-9])){10,40}" + E,
            validated_by="Luhn + IIN range", score=0.9, glue=GLUE["BANK_CARD"], context=card_cues, window=10,
            rescue_score=0.75, veto=("单号", "订单", "编号", "流水号", "运单", "快递", "物流", "工号", "交易号", "批次",
                                     "发票", "order", "tracking", "invoice", "ref", "no.", "id")),
        PatternRecognizer(
            "email", "EMAIL",
            # a dot right after CJK text is a full stop typed in ASCII (商务合作.lily@...), not the local part
            r"(?:(?<![A-Za-z0-9._%+-])|(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]\.))[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
            validated_by="pattern", score=0.9, trigger="@"),
        Ipv4Recognizer(
            "ipv4", "IPV4", r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9A-Za-z]|\.[0-9])",
            validator=v.ipv4, validated_by="octets 0-255", score=0.85, glue=GLUE["IP"], trigger=r"[0-9]\.[0-9]{1,3}\.[0-9]",
            veto=("版本", "版本号", "version", "ver", "build", "python", "release", "升级到", "更新到", "固件", "v")),
        Ipv6Recognizer(
            "ipv6", "IPV6",
            r"(?<![0-9A-Fa-f:])(?!:(?!:))(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|(?:[0-9]{1,3}\.){3}[0-9]{1,3})"
            r"(?![0-9A-Za-z:])|(?<=[VvTtPp]6)(?!:(?!:))(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?![0-9A-Za-z:])"
            r"|(?<=[0-9A-Za-z\u4e00-\u9fff]:)(?!:)(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?![0-9A-Za-z:])",
            validator=v.ipv6, validated_by="ipaddress", score=0.85, glue=GLUE["IP"], colon=True,
            trigger=r":[0-9A-Fa-f]{0,4}:"),
        PatternRecognizer(
            "mac", "MAC_ADDRESS",
            r"(?<![0-9-])(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
            r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![0-9A-Za-z:-])",
            validator=v.mac, validated_by="six octets", score=0.85, glue=GLUE["MAC"], colon=True,
            trigger=r"[:-][0-9A-Fa-f]{2}[:-]|\.[0-9A-Fa-f]{4}\."),
        PatternRecognizer(
            "cn_plate", "LICENSE_PLATE",
            # any letter after the province (O and I are issued to a few services, and typed anyway)
            r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][·・.\- ]?"
            r"[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9学警港澳挂领试超]" + E,
            validator=v.plate, validated_by="province + serial shape", score=0.85),
        PatternRecognizer(
            "cn_passport", "PASSPORT",
            B + r"(?:E[0-9A-HJ-NP-Z][0-9]{7}|[EG][0-9]{8})" + E,
            validated_by="PRC passport format", score=0.8, context=passport_cues, window=16, glue=GLUE["PASSPORT"],
            trigger=r"[EG][0-9A-Z][0-9]"),
        PatternRecognizer(
            "passport_with_cue", "PASSPORT",
            B + r"(?:[A-Z]{1,2}[0-9]{6,8}|[0-9]{9})" + E,
            validated_by="passport format + context word", score=0.7, context=passport_cues,
            context_required=True, window=16, glue=GLUE["PASSPORT"], trigger=r"[0-9]{6}"),
        PatternRecognizer(
            "cn_uscc", "USCC",
            B + r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}" + E,
            validator=v.uscc, validated_by="GB 32100 checksum", score=0.9, glue=GLUE["USCC"], trigger=r"[0-9]{6}"),
    ]
