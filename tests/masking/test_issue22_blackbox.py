"""Issue 22's six families, tried from the outside: 60 short sentences written for this file from the
issue's text and the README, through the public API only (``dms_magic.mask``, ``mask_messages``,
``MaskResult.text``), without reading dms_magic/masking/.

A value "leaks" when it is still in the masked text (whole word for Latin letters and digits), the
issue's own definition; for single texts every letter and digit of it must also lie inside a masked
span (``MaskResult.entities``), so a span that stops short of the value is caught too (the operator may
still show a few characters inside the span; that is its business, not the detector's). A distractor must come back verbatim. Cases the engine fails today are
``xfail(strict=True)`` with the finding as the reason, so a fix turns them into a visible XPASS.
"""
from __future__ import annotations

import re

import pytest

import dms_magic

pytestmark = pytest.mark.blackbox


# --- helpers (independent of the engine) ---------------------------------------------------------

def _check_char(first17: str) -> str:
    """GB 11643 check character, written here from the standard, not taken from dms_magic."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


def _id(first17: str, valid: bool = True) -> str:
    good = _check_char(first17)
    if valid:
        return first17 + good
    return first17 + ("3" if good != "3" else "5")


def present(value: str, masked: str) -> bool:
    left = r"(?<![A-Za-z0-9])" if value[:1].isascii() and value[:1].isalnum() else ""
    right = r"(?![A-Za-z0-9])" if value[-1:].isascii() and value[-1:].isalnum() else ""
    return re.search(left + re.escape(value) + right, masked) is not None


def masked_text(text: str) -> str:
    return dms_magic.mask(text, "UserInfo").text


def masked_messages(contents: list[str]) -> str:
    out = dms_magic.mask_messages([{"role": "user", "content": c} for c in contents], "UserInfo")
    return "\n".join(m["content"] for m in out)


BAD_ID_1 = _id("11010519870315123", valid=False)
BAD_ID_2 = _id("31011519920611402", valid=False)
BAD_ID_3 = _id("44030519790228871", valid=False)
BAD_ID_4 = _id("51010719850917236", valid=False)
UNKNOWN_REGION = _id("99010119820315432")  # checksum right, region 99 does not exist
BAD_X = "32058319910704215X" if _check_char("32058319910704215") != "X" else "320583199107042153"
BAD_ID_7 = _id("42010619780101561", valid=False)
VALID_ID_1 = _id("33010619880512441")
VALID_ID_2 = _id("65010219750823118")
BAD_ID_10 = _id("21020219660430773", valid=False)
assert _check_char("32058319910704215") != "X" or BAD_X.endswith("3")


def _case(family, cid, payload, secrets, finding=None):
    marks = [pytest.mark.xfail(strict=True, reason=f"finding: {finding}")] if finding else []
    return pytest.param(payload, secrets, id=f"{family}-{cid}", marks=marks)


# --- 1. every mention, across two messages (mask_messages) --------------------------------------

MENTIONS = [
    _case("mention", "zh-name-again", ["患者郑若溪今天复诊，电话13911112222。", "郑若溪说头痛减轻了。"], ["郑若溪"]),
    _case("mention", "en-first-name", ["My neighbour Priya Raman left a note.", "Priya said she would call back."],
          ["Priya Raman", "Priya"]),
    _case("mention", "en-last-name", ["Contact: Tobias Lindqvist, tobias.l@example.org",
                                      "Please forward the file to Lindqvist before Friday."], ["Lindqvist"]),
    _case("mention", "zh-compound-surname", [f"客户：欧阳嘉禾，身份证号 {VALID_ID_1}", "欧阳嘉禾已签字确认。"],
          ["欧阳嘉禾", VALID_ID_1]),
    _case("mention", "bad-id-again", [f"身份证号：{BAD_ID_2}", f"刚才发的 {BAD_ID_2} 对吗？"], [BAD_ID_2]),
    _case("mention", "en-first-name-later", ["Customer name: Harriet Okonkwo",
                                             "Harriet confirmed the delivery window."], ["Harriet"]),
    _case("mention", "zh-full-name", ["联系人：司马静怡，电话 021-65432198", "司马静怡明天到岗。"],
          ["司马静怡", "021-65432198"]),
    _case("mention", "en-possessive", ["Patient: Mateo Alvarez, age 34", "The nurse updated Mateo's chart."],
          ["Mateo Alvarez", "Mateo"]),
    _case("mention", "en-title-last", ["Email from Sunita Varma <sunita.varma@corp.example>",
                                       "Ms. Varma asked for the invoice."], ["Varma", "sunita.varma@corp.example"]),
    _case("mention", "zh-three-times", ["王志远的手机是13566667777。", "王志远的邮箱是 wzy@example.com，王志远下周出差。"],
          ["王志远", "13566667777", "wzy@example.com"]),
]


@pytest.mark.parametrize("messages, secrets", MENTIONS)
def test_every_mention_across_messages_is_masked(messages, secrets):
    out = masked_messages(messages)
    assert [s for s in secrets if present(s, out)] == [], out


# --- 2..5: single texts whose secrets must all go ----------------------------------------------

LEAKS = [
    # 2. names without a cue
    _case("name", "zh-sentence-start", "韩梦琪年收入为二十八万元，名下无房产。", ["韩梦琪"]),
    _case("name", "en-sentence-start", "Oliver Brandt is a 37-year-old engineer living alone.", ["Oliver Brandt"]),
    _case("name", "zh-role-before", "主治医师邓卫国为其开具了降压药。", ["邓卫国"]),
    _case("name", "zh-role-after", "经孙丽娟医生诊断，患者为急性胃炎。", ["孙丽娟"]),
    _case("name", "en-dr", "She was referred to her physician, Dr. Naomi Feld, in March.", ["Naomi Feld"]),
    _case("name", "zh-transliterated-doctor", "玛丽亚·费尔南德斯医生建议住院观察。", ["玛丽亚·费尔南德斯"]),
    _case("name", "en-inverted-caps", "Signed: gRETA hOLM, account holder.", ["gRETA hOLM"]),
    _case("name", "en-upper", "BENEDICT ORUMA is the applicant on this lease.", ["BENEDICT ORUMA"]),
    _case("name", "zh-transliterated-start", "亚历山大·伊万诺夫今年四十五岁，是一名卡车司机。", ["亚历山大·伊万诺夫"]),
    _case("name", "en-mid-sentence", "Yesterday Camila Restrepo met the landlord about the deposit.", ["Camila Restrepo"]),
    # 3. ID-shaped numbers that fail a check, near a cue; valid ones anywhere
    _case("id", "zh-cue-bad-check", f"身份证号：{BAD_ID_1}", [BAD_ID_1]),
    _case("id", "zh-cue2-bad-check", f"证件号 {BAD_ID_3}，请核对。", [BAD_ID_3]),
    _case("id", "en-id-card-bad-check", f"ID card number: {BAD_ID_4}", [BAD_ID_4]),
    _case("id", "en-identification-bad", f"Her identification number is {BAD_ID_7}.", [BAD_ID_7]),
    _case("id", "zh-unknown-region", f"身份证 {UNKNOWN_REGION}", [UNKNOWN_REGION]),
    _case("id", "zh-wrong-x", f"身份证号码为{BAD_X}。", [BAD_X]),
    _case("id", "en-id-number-bad", f"ID number {BAD_ID_10} on file.", [BAD_ID_10]),
    _case("id", "valid-no-cue-zh", f"参考 {VALID_ID_2} 已登记。", [VALID_ID_2]),
    _case("id", "valid-no-cue-en", f"Record {VALID_ID_1} was merged.", [VALID_ID_1]),
    _case("id", "zh-cue-farther", f"身份证号码（请勿外传）：{BAD_ID_2}", [BAD_ID_2]),
    # 4. national phone formats without a country code, next to a cue
    _case("phone", "br", "Tel: (11) 91234-5678, São Paulo office.", ["(11) 91234-5678"]),
    _case("phone", "pk", "Call the Karachi desk on 0321 4567890.", ["0321 4567890"]),
    _case("phone", "gb", "UK office tel 020 7123 4567.", ["020 7123 4567"]),
    _case("phone", "us-parens", "Please call (312) 555-0198 after 5pm.", ["(312) 555-0198"]),
    _case("phone", "us-dots", "Contact: 646.555.0123", ["646.555.0123"]),
    _case("phone", "jp", "电话：03-1234-5678（东京）", ["03-1234-5678"]),
    _case("phone", "de", "Tel. 030 12345678", ["030 12345678"]),
    _case("phone", "in", "phone: 098765 43210", ["098765 43210"]),
    _case("phone", "au", "call 02 9876 5432 for bookings", ["02 9876 5432"]),
    _case("phone", "fr", "Phone: 01 42 68 53 00", ["01 42 68 53 00"]),
    # 5. English street addresses
    _case("address", "road", "Ship it to 4821 Maple Grove Road.", ["4821 Maple Grove Road"]),
    _case("address", "lane-apt-city", "She lives at 17 Birchwood Lane, Apt 3C, Portland, OR 97205.",
          ["17 Birchwood Lane"]),
    _case("address", "ordinal-street", "Office: 250 West 57th Street, Suite 1200", ["250 West 57th Street"]),
    _case("address", "court-abbrev", "Return address: 9 Quarry Ct, Dayton, OH 45402", ["9 Quarry Ct"]),
    _case("address", "directional-avenue", "He moved to 1450 Southeast 12th Avenue last year.",
          ["1450 Southeast 12th Avenue"]),
    _case("address", "drive", "Mail the form to 36 Harbour View Drive.", ["36 Harbour View Drive"]),
    _case("address", "blvd-abbrev", "Our depot is at 700 N Lakeshore Blvd.", ["700 N Lakeshore Blvd"]),
    _case("address", "lettered-number", "Address: 12B Kingfisher Way", ["12B Kingfisher Way"]),
    _case("address", "pkwy", "Visit 88 Old Mill Pkwy for pickup.", ["88 Old Mill Pkwy"]),
    _case("address", "unit-zip", "Delivered to 3030 Ridge Rd, Unit 7, Boulder, CO 80301 on Monday.",
          ["3030 Ridge Rd"]),
]


def uncovered(text: str, value: str) -> str:
    """The letters and digits of ``value`` (first occurrence in ``text``) outside every masked span."""
    covered = set()
    for span in dms_magic.mask(text, "UserInfo").entities:
        covered.update(range(span.start, span.end))
    start = text.index(value)
    return "".join(c for i, c in enumerate(value, start) if c.isalnum() and i not in covered)


@pytest.mark.parametrize("text, secrets", LEAKS)
def test_value_is_masked(text, secrets):
    out = masked_text(text)
    assert [s for s in secrets if present(s, out)] == [], out
    assert {s: uncovered(text, s) for s in secrets} == {s: "" for s in secrets}, out


# --- 6. distractors: must come back untouched --------------------------------------------------

DISTRACTORS = [
    _case("distractor", "version-4-part", "Upgrade firmware to version 4.1.7.200 before Friday.", ["4.1.7.200"]),
    _case("distractor", "order-number", "Order number 20240817-55321 has shipped.", ["20240817-55321"]),
    _case("distractor", "ups-tracking", "Tracking: 1Z999AA10123456784", ["1Z999AA10123456784"]),
    _case("distractor", "cny-amount", "合计金额 ¥12,860.50 已到账。", ["12,860.50"]),
    _case("distractor", "iso-date-time", "The meeting is on 2025-03-14 at 10:30.", ["2025-03-14", "10:30"]),
    _case("distractor", "company-city-en", "She works at Goldman Sachs in Frankfurt.", ["Goldman Sachs", "Frankfurt"]),
    _case("distractor", "18-digit-order", "订单号 202408171234567890 已发货。", ["202408171234567890"]),
    _case("distractor", "company-place-zh", "阿里巴巴集团位于杭州市余杭区。", ["阿里巴巴集团", "杭州市余杭区"]),
    _case("distractor", "invoice-amount-date", "Invoice total: $4,312.00 due 15 April 2025.", ["4,312.00", "15 April 2025"]),
    _case("distractor", "surname-char-place", "张家界和黄山风景区的门票都是225元。", ["张家界", "黄山风景区"]),
]


@pytest.mark.parametrize("text, keep", DISTRACTORS)
def test_distractor_is_untouched(text, keep):
    out = masked_text(text)
    assert [k for k in keep if k not in out] == [], out


# --- beyond the 60: shapes the outside corpora showed (ResumeNER, CCF privacy), rewritten here -----

FROM_CORPORA_LEAKS = [
    _case("corpus", "zh-name-after-bracket-header", "【复诊记录】付悦因咳嗽就诊。", ["付悦"]),
    _case("corpus", "zh-name-after-jianyi", "医生查体后建议高岚服用止咳药。", ["高岚"]),
    _case("corpus", "mobile-glued-to-latin", "合作请联系经纪人：15821346790Email:abc@example.com", ["15821346790"]),
    _case("corpus", "email-after-cjk-dot", "商务合作.lily.wu@example.com，谢谢", ["lily.wu@example.com"]),
    _case("corpus", "us-phone-glued-ext", "Call me at 415-555-0142ext", ["415-555-0142"]),
    _case("corpus", "en-lower-name-start", "mia torres is the tenant.", ["mia torres"]),
    _case("corpus", "en-lower-name-after-dr", "Dr. ivy chen will call.", ["ivy chen"]),
]


@pytest.mark.parametrize("text, secrets", FROM_CORPORA_LEAKS)
def test_value_is_masked_corpus_shapes(text, secrets):
    test_value_is_masked(text, secrets)


FROM_CORPORA_DISTRACTORS = [
    _case("corpus", "juliuquan", "中国国籍，无境外永久居留权，硕士学历。", ["居留权"]),
    _case("corpus", "cengren", "2015年至今任本公司副总经理，曾任销售部经理。", ["曾任"]),
    _case("corpus", "baojiaozi", "周末大家一起包饺子、看春晚。", ["包饺子"]),
    _case("corpus", "chati", "医生查体后建议复查。", ["查体"]),
    _case("corpus", "en-company", "Please ask Northwind Traders for the quote.", ["Northwind Traders"]),
]


@pytest.mark.parametrize("text, keep", FROM_CORPORA_DISTRACTORS)
def test_distractor_is_untouched_corpus_shapes(text, keep):
    test_distractor_is_untouched(text, keep)


MORE_MENTIONS = [
    _case("corpus", "en-last-name-lower-case", ["Customer: Harriet Okonkwo", "okonkwo called twice."], ["okonkwo"]),
    _case("corpus", "phone-again-other-format", ["Phone: (415) 555-0142", "I repeat 415 555 0142."], ["415 555 0142"]),
]


@pytest.mark.parametrize("messages, secrets", MORE_MENTIONS)
def test_every_mention_corpus_shapes(messages, secrets):
    test_every_mention_across_messages_is_masked(messages, secrets)
