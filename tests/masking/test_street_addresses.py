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
