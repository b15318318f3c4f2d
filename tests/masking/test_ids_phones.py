"""ID numbers that fail a check, phones in national formats, version strings (issue 22, families 3, 4, 6).

Examples written for these tests from the issue's description, with distractors of the same shape.
"""
from __future__ import annotations

import pytest

from dms_magic.masking import detect, mask
from dms_magic.masking import validators as v


def kinds(text: str, value: str, rule: str = "UserInfo") -> set[str]:
    """Entities of the detections overlapping ``value`` in ``text``."""
    start = text.index(value)
    end = start + len(value)
    return {d.entity for d in detect(text, rule) if d.start < end and start < d.end}


def with_check(first17: str) -> str:
    return first17 + v.id_check_char(first17)


def broken(first17: str) -> str:
    """The 18-character number with a wrong check character."""
    right = v.id_check_char(first17)
    return first17 + ("0" if right != "0" else "1")


# -- family 3: ID-shaped numbers ---------------------------------------------------------------

CUED_IDS = [
    ("Her ID card number is {}.", broken("11010519900307123")),
    ("ID number: {}", broken("44030419880229123")),  # 29 Feb of a leap year
    ("身份证号码 {}，请核对", broken("99010519851224001")),  # no such region, wrong checksum
    ("证件号：{}", "990105198512240017"),  # unknown region; the checksum fails too
    ("His identification number on file at the clinic is {}.", broken("32010219751205001")),
    ('{{"id_number": "{}", "name": "x"}}', broken("51010720010101002")),
    ("national ID {}", broken("63010219700101123")[:17] + "X"),
]


@pytest.mark.parametrize("template, number", CUED_IDS)
def test_an_id_shaped_number_next_to_an_id_cue_is_masked_even_when_a_check_fails(template, number):
    text = template.format(number)
    assert not v.china_id(number)
    assert kinds(text, number) == {"ID_CARD"}
    assert number not in mask(text).text


@pytest.mark.parametrize("template, first17", [
    ("Record 7 was filed with {} attached", "99010519851224001"),  # region 99 does not exist
    ("客户资料 {} 已归档", "44030419880229123"),
    ("ref {} in the export", "63010219700101123"),
])
def test_a_checksum_valid_id_is_masked_without_any_cue(template, first17):
    number = with_check(first17)
    text = template.format(number)
    assert kinds(text, number) == {"ID_CARD"}
    assert number not in mask(text).text


@pytest.mark.parametrize("text, value", [
    ("ID number: 110105199013401234", "110105199013401234"),  # month 13: no birth date
    ("ID card number is 110105180003071234", "110105180003071234"),  # born in 1800
    ("Order 202405171234567890 shipped", "202405171234567890"),  # no cue, positions 7-14 no date
    ("tracking 1Z999AA10123456784 on its way", "1Z999AA10123456784"),
    (f"证件号 {with_check('11010519900307123')} 参考号 {broken('33010619921007426')}",
     broken("33010619921007426")),  # the cue named the first number
    (f"身份证 {with_check('11010519900307123')}，流水号：{broken('41010519730112598')}",
     broken("41010519730112598")),  # its own label says what it is
    ("The invoice total is 1,250,000.00 and the ID card fee 20 元", "1,250,000.00"),
])
def test_id_distractors_stay(text, value):
    assert "ID_CARD" not in kinds(text, value, "All")


# -- family 4: national phone formats next to a phone cue ----------------------------------------

NATIONAL_PHONES = [
    ("Her phone: {}.", "(21) 98765-4321"),  # Rio de Janeiro mobile
    ("Call {} after six", "0301 2345678"),  # Pakistan mobile
    ("office tel {}", "020 7946 0018"),  # London
    ("mobile {} (leave a message)", "(415) 555-0142"),
    ("contact: {}", "415.555.0142"),
    ("cell {}", "07700 900123"),  # UK mobile, Ofcom's drama range
    ("手机 {}（悉尼）", "0412 345 678"),  # Australian mobile
    ("联系电话：{}", "(11) 3456-7890"),  # São Paulo landline
    ('{{"name": "Ana", "phone": "{}"}}', "0301 2345678"),  # the JSON key is the cue
    ("You can reach her at {} in Toronto", "(416) 555-0199"),
    ("Tel. {}", "06 12 34 56 78"),  # French mobile
]


@pytest.mark.parametrize("template, number", NATIONAL_PHONES)
def test_a_national_number_next_to_a_phone_cue_is_masked(template, number):
    text = template.format(number)
    assert kinds(text, number) & {"PHONE_NUMBER", "LANDLINE", "MOBILE_PHONE"}
    assert number not in mask(text).text
    digits = [c for c in number if c.isdigit()]
    assert "".join(digits[-4:]) in "".join(c for c in mask(text).text if c.isdigit())  # last four kept


@pytest.mark.parametrize("text, value", [
    ("Call me on 2024-05-01 about it", "2024-05-01"),
    ("Contact us about invoice 20245678", "20245678"),
    ("phone bill this month: 1151884 元", "1151884"),
    ("call at 10:30 or 11:45", "10:30"),
    ("the phone tower stands at 41.5955,120.6023", "41.5955,120.6023"),
    ("mobile app version 5.1.8.90", "5.1.8.90"),
    ('{"phone": "0412 345 678", "total": "2734324"}', "2734324"),  # its own key says amount
    ("Reference 0301 2345678 (no cue, no phone)", "0301 2345678"),
    ("contact order 40012345678 for details", "40012345678"),
    ("callback uuid=18750503-f22f-4873-9d0b-7a1c2e3f4a5b", "18750503"),
    ("Chapter 12 Section 3, call it a day", "12"),
    ("Call me about SN 4829 1034 77 today", "4829 1034 77"),  # a serial number after a phone cue
    ("电话联系 关于 ISBN 978-0-306-40615-7", "978-0-306-40615-7"),
    ("tel 13812345678abc is a login, not a number", "13812345678abc"),  # glued word is no field label
    ("call 415-555-0142extra slowly", "415-555-0142"),  # 'ext' only as a whole word
])
def test_phone_distractors_stay(text, value):
    assert not kinds(text, value) & {"PHONE_NUMBER", "LANDLINE", "MOBILE_PHONE"}


def test_a_number_after_a_country_code_is_left_to_the_international_recognizer():
    text = "联系 +86 755 2688372 谢谢"
    assert [(d.entity, text[d.start:d.end]) for d in detect(text)] == [("LANDLINE", "+86 755 2688372")]


# -- family 6: version strings are not addresses -------------------------------------------------

@pytest.mark.parametrize("text", [
    "version 5.1.8.90",
    "Upgraded the agent to version 5.1.8.90 yesterday",
    "the installed version is 5.1.8.90",
    "v 5.1.8.90 released",
    "ver. 5.1.8.90",
    "App build: 5.1.8.90",
    '{"app_version": "5.1.8.90", "ok": true}',
    "版本 5.1.8.90",
    "固件版本号为 5.1.8.90",
    "build,ip\n5.1.8.90,10.0.0.1",
])
def test_a_four_part_version_is_left_alone(text):
    assert "5.1.8.90" in mask(text, "All").text


@pytest.mark.parametrize("text, ip", [
    ("server 10.2.3.4 runs version 2", "10.2.3.4"),
    ("version 2 of the service listens on host 10.2.3.4", "10.2.3.4"),
    ("客户端版本：11.24.17 192.168.4.124", "192.168.4.124"),
    ("build;ip\nv10.5.80.22;192.168.169.198", "192.168.169.198"),
    ("plate 吉E65V7A host:172.25.24.92", "172.25.24.92"),
])
def test_an_address_near_a_version_word_is_still_masked(text, ip):
    assert kinds(text, ip) == {"IPV4"}


# -- outside corpus (issue 22): the cue on the line above, after the number, or in a phrase ---------

@pytest.mark.parametrize("text, number", [
    ("Contact details\nTelephone:\n(03) 9654 2210\n\nEmail:\nm@example.org", "(03) 9654 2210"),
    ("Desk: 6175550148\nRoom: 4B", "6175550148"),
    ("Nobody is answering at 612 345 678 today", "612 345 678"),
    ("Please stop sending messages to 0612 44 87 21", "0612 44 87 21"),
    ("I never got a code on my registered 0171 2345678.", "0171 2345678"),
    ("Oskar Lind\nLindenweg 4\n030 2296 1187 office\n+44 20 7946 0958 fax", "030 2296 1187"),
    ("0161 496 0734-Office, 07700 900461-Mobile", "0161 496 0734"),
])
def test_a_national_number_with_its_cue_above_after_or_in_a_phrase_is_masked(text, number):
    assert "PHONE_NUMBER" in kinds(text, number)
    assert number not in mask(text).text


@pytest.mark.parametrize("text, value", [
    ("Total:\n4417 2290\n", "4417 2290"),  # a label above that names no phone
    ("invoice_id=78783190 office supplies", "78783190"),
    ("Order 4412 9921 office chairs", "4412 9921"),
    ("Ticket 5512 3390 work item", "5512 3390"),
    ("We are answering 4 tickets at 10 30 today", "10 30"),
])
def test_numbers_near_those_cues_that_are_not_phones_stay(text, value):
    assert "PHONE_NUMBER" not in kinds(text, value)
