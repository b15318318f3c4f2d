"""English street addresses, a new entity ENGLISH_ADDRESS (issue 22, family 5).

Examples written for these tests from the issue's description, with distractors that carry a
number next to capitalised words (chapters, highways, routes, rooms, years).
"""
from __future__ import annotations

import re

import pytest

from dms_magic.masking import ENTITIES, default_config, detect, mask


def addresses(text: str, rule: str = "UserInfo") -> list[str]:
    return [text[d.start:d.end] for d in detect(text, rule) if d.entity == "ENGLISH_ADDRESS"]


ADDRESSES = [
    ("Maria lives at {} with her two dogs.", "97 Larkspur Street"),
    ("Home address: {}", "1200 Northwest 54th Terrace"),
    ("Ship it to {} before Friday.", "3 Elm Ct, Apt 4B, Springfield, IL 62704"),
    ("He moved to {} last spring", "221B Baker Street"),
    ("Our office is at {}.", "455 Market St. Suite 200, San Francisco, CA 94105"),
    ("{} is where they met", "742 Evergreen Terrace"),
    ("Send the forms to {}", "1600 Pennsylvania Avenue NW, Washington, DC 20500"),
    ("她的美国地址是 {}，邮编已附", "18 Willow Crescent"),
    ("Address: {}", "12-14 Old Mill Road"),
    ("Patient resides at {} since 2019.", "8 Harbor View Drive"),
    ("{}", "60 West 23rd Street, New York, NY 10010"),
    ("Deliver to {}, Portland", "418 Juniper Lane Suite 12 Apt. 3"),
]


@pytest.mark.parametrize("template, address", ADDRESSES)
def test_a_street_address_is_found_whole_and_masked(template, address):
    text = template.format(address)
    assert addresses(text) == [address]
    masked = mask(text).text
    assert address not in masked
    for word in re.findall(r"[A-Za-z0-9]{4,}", address):  # no part of it is left verbatim
        assert word not in masked or word in template


@pytest.mark.parametrize("text", [
    "Read Chapter 12 Section 3 before class",
    "Take Highway 101 north to the exit",
    "Get your kicks on Route 66",
    "The meeting moved to Room 512 on Floor 3",
    "In 2019 Park Avenue opened a new branch",
    "Interstate 95 was closed for 3 Hours",
    "We walked 5 miles down Main Street",
    "The order 784512 Street Fighter bundle shipped",
    "Page 42 Main Street Journal column",
    "He scored 3 Goals in the match",
    "Version 2 Avenue release notes",
    "Top 10 Data Center operators in 2024",
    "Tracking 1Z999AA10123456784 arrived at the depot",
    "The total was $1,200 on 12/05/2024 at 10:30",
])
def test_distractors_are_not_addresses(text):
    assert addresses(text, "All") == []
    assert mask(text, "All").text == text


def test_the_entity_is_in_userinfo_contact_and_all():
    cfg = default_config()
    assert "ENGLISH_ADDRESS" in ENTITIES
    for rule in ("UserInfo", "Contact", "All"):
        assert "ENGLISH_ADDRESS" in cfg.entities(rule)
    text = "Deliver to 97 Larkspur Street"
    assert "97 Larkspur Street" in mask(text, "Finance").text  # a rule without it leaves it


def test_chinese_text_without_a_street_address_is_unchanged_by_the_new_entity():
    text = "请把包裹寄到北京市朝阳区建国路88号，收件人张伟"
    assert addresses(text) == []


# -- issue 22 (outside corpus): street name first, military mail, the lines of an address block --------

CONTINENTAL = [
    ("Ship the parcel to {}, Lisboa", "Rua das Flores 214"),
    ("She moved to {} last year", "Via Garibaldi 9"),
    ("Adres: {}", "ul. Kwiatowa 17"),
    ("Lieferadresse: {}", "Lindenweg 42"),
    ("Osoite on {}, Tampere", "Hämeenkatu 31"),
    ("We stayed at {}.", "4410 Brouwersgracht 88"),
    ("Please return it to {} in case of an issue.", "7731 Meadowlark 12 Suite 5"),
    ("Levering: {}", "Vestergade 3B"),
    ("Mail it to {}", "PSC 4021, Box 7719\nAPO AE 09012"),
    ("Mail it to {}", "Unit 3310 Box 552"),
    ("Write to {} for the forms", "PO Box 7781"),
    ("Elle habite au {}, Lyon", "14 rue de la Charité"),
    ("Our shop: {}.", "220 Via dei Mille 14"),
    ("Apartment at {}, Tallinn", "812 Kalda tee 6"),
]


@pytest.mark.parametrize("template, address", CONTINENTAL)
def test_street_name_first_and_military_addresses_are_found(template, address):
    text = template.format(address)
    assert addresses(text) == [address]
    assert address not in mask(text).text


@pytest.mark.parametrize("text, address", [
    ("She lives at 41 Birch Boulevard. See Route 12 for the bus.", "41 Birch Boulevard"),
    ("Office: 7 Quarry Avenue. Read Chapter 4 first.", "7 Quarry Avenue"),
])
def test_an_address_stops_at_the_end_of_its_sentence(text, address):
    assert addresses(text) == [address]


@pytest.mark.parametrize("text, address", [
    ("meet me at 3310 rantakatu 7, oulu", "3310 rantakatu 7"),  # a text typed in lower case
    ("Meet Me At 118 Kirkegade 4 Tomorrow", "118 Kirkegade 4"),  # the name starts after capitalised words
    ("Ship to 77 12 Rue Verte Apt. 5\nLille", "77 12 Rue Verte Apt. 5"),
    ("Ms. Ada Brook Suite 20 551 Fjordveien 8\nBergen", "Suite 20 551 Fjordveien 8"),  # the unit written first
])
def test_lower_case_late_starting_and_unit_first_addresses(text, address):
    assert address in addresses(text)
    assert address not in mask(text).text


def test_lower_case_prose_with_numbers_is_no_address():
    for text in ("i moved to the city in 2019 and live at number 5 now", "see you at gate 12 of the station",
                 "we need 3 apples and 2 pears by friday 4 pm"):
        assert addresses(text) == []


def test_unit_lines_and_the_postal_code_of_an_address_block_are_masked_not_the_city():
    text = "Karin Olsen\n\n2291 Kirkevej 14\n Apt. 32\n Roskilde\n Denmark 40127\n\nSee you soon"
    found = addresses(text)
    assert found == ["2291 Kirkevej 14", "Apt. 32", "40127"]
    masked = mask(text).text
    assert "Roskilde" in masked and "Denmark" in masked and "See you soon" in masked


@pytest.mark.parametrize("text", [
    "Boarding starts at Gate 5 in ten minutes",
    "The update was sent via 3 channels",
    "Pick a String 5 set for the guitar",
    "Windows 10 and Office 365 are installed",
    "Section 4 of Chapter 12 explains it",
    "Unit 7 covers fractions",
    "He served in the 3rd Brigade 12 years ago",
    "Python 3 replaced Python 2 in 2020",
    "Suite 16 is a piece by Bach\nWe played it twice",
])
def test_distractors_with_a_number_after_capitalised_words_are_not_addresses(text):
    assert addresses(text, "All") == []
