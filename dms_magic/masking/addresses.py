"""Chinese postal addresses: province / city / district / town / street + number / building / room.

An address must start at something that can only begin an address — a province or a known city
(from ``data/places.txt``) or a district/street right after an address cue (``住在``, ``地址：``) —
otherwise a lazy CJK run would swallow the words before it (``我住在北京市`` is not a city name).
It must then carry at least two more levels, so a bare ``北京`` in a sentence is left alone.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterator

from dms_magic.masking.recognizers import Detection
from dms_magic.masking.wordtrie import trie_pattern

H = "\u4e00-\u9fff"
CUES = ("住在 住址 地址 家住 位于 寄到 寄往 寄至 送到 送至 送往 发往 发到 搬到 搬至 来自 户籍 籍贯 现居 居住在 居住于 "
        "注册地 注册地址 办公地点 办公地址 公司地址 家庭住址 通讯地址 联系地址 详细地址 收货地址 发货地 地点 导航到 "
        "前往 住 在 于 到 至 往").split()
# (Longer cues are listed too: the leftmost cue wins, so 注册地址为 must not end up as 注册地 + 址为.)

# Components after the anchor, each optional; counted afterwards to demand some structure.
CITY = rf"(?P<city>[{H}]{{2,5}}?(?:市|自治州|地区|盟))"
DISTRICT = rf"(?P<district>[{H}]{{1,5}}?(?:区|县|旗|市))"
TOWN = rf"(?P<town>[{H}]{{1,6}}?(?:镇|乡|街道)(?!路|街|大道|道|巷))"  # 北镇路 is a street
# A second street level covers 中关村 + 大街 and 某某村 + 某某路 (no digits: 南京路100号和淮海路 is two).
STREET = (rf"(?P<street>[{H}0-9]{{1,10}}?(?:大道|大街|路|街|巷|胡同|弄|里|村|道)"
          rf"(?:[{H}]{{0,8}}?(?:大道|大街|路|街|巷|胡同|弄|道))?)")
NUMBER = r"(?P<number>[0-9]{1,5}(?:-[0-9]{1,4})?(?:号院|号|弄)|[A-Za-z0-9]{1,2}座)"  # 中山路100号, 南京街X座
BUILDING = (r"(?P<building>[ ]?(?:[0-9A-Za-z]{1,4}(?:号楼|栋|幢|座|楼|号))?(?:[0-9]{1,3}单元)?"
            r"(?:[0-9]{1,5}(?:室|房|号房))?)")
COMMUNITY = rf"(?P<community>[{H}]{{2,8}}?(?:小区|花园|公寓|大厦|广场|家园|苑|园|城|中心))"


@lru_cache(maxsize=1)
def _places() -> tuple[list[str], list[str], list[str]]:
    text = resources.files("dms_magic.masking").joinpath("data/places.txt").read_text("utf-8")
    lines = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[0], lines[1], lines[2]


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern, re.Pattern]:
    provinces, short, cities = _places()
    tail = rf"(?:{CITY})?(?:{DISTRICT})?(?:{TOWN})?(?:{STREET}(?:{NUMBER})?)?(?:{COMMUNITY})?(?:{BUILDING})?"
    anchors = set(provinces) | {place + suffix for place in short + cities for suffix in ("", "市", "省")}
    anchored = re.compile(rf"(?P<anchor>{trie_pattern(anchors)}){tail}")
    # Without a place name the address must show a numbered street right after the cue.
    below_district = rf"(?:{TOWN})?{STREET}{NUMBER}(?:{COMMUNITY})?(?:{BUILDING})?"
    body = rf"(?:{DISTRICT})?{below_district}"
    cued = re.compile(rf"{trie_pattern(CUES)}(?:为|是|了)?[:：]?[ ]?[“「（(]?(?P<body>{body})")
    # A city missing from the list (县级市 such as 大冶市) still starts an address where a word must
    # start anyway: at the beginning, or after punctuation, a space or a quote.
    unlisted = re.compile(rf"(?<![{H}])(?!{trie_pattern(CUES)})(?P<body>[{H}]{{2,4}}市{DISTRICT}{below_district})")
    # A district that starts a word (a field, a cell, after a Latin label such as Address:) with a
    # numbered street below it: 南湖区姚路345号.
    district_first = re.compile(rf"(?<![{H}])(?!{trie_pattern(CUES)})(?P<body>[{H}]{{1,5}}?(?:区|县|旗){below_district})")
    return anchored, cued, unlisted, district_first


_LEVELS = ("city", "district", "town", "street", "number", "community")


def _trim(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] == " ":
        end -= 1
    return end


def find_addresses(text: str) -> Iterator[Detection]:
    anchored, cued, unlisted, district_first = _patterns()
    for m in anchored.finditer(text):
        levels = sum(1 for g in _LEVELS if m.group(g))
        has_street = bool(m.group("street") and (m.group("number") or m.group("community")))
        if levels < 2 and not has_street:
            continue  # 北京 or 北京市朝阳 alone is a mention of a place, not someone's address
        yield Detection(m.start(), _trim(text, m.start(), m.end()), "CHINESE_ADDRESS", 0.75,
                        "place name + address levels", "cn_address")
    for m in cued.finditer(text):
        start = m.start("body")
        yield Detection(start, _trim(text, start, m.end()), "CHINESE_ADDRESS", 0.7,
                        "address cue + numbered street", "cn_address")
    for m in district_first.finditer(text):
        start = m.start("body")
        yield Detection(start, _trim(text, start, m.end()), "CHINESE_ADDRESS", 0.65,
                        "district + numbered street", "cn_address")
    for m in unlisted.finditer(text):
        start = m.start("body")
        yield Detection(start, _trim(text, start, m.end()), "CHINESE_ADDRESS", 0.7,
                        "city + district + numbered street", "cn_address")
