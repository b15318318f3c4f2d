"""The held-out masking corpus (benchmarks/heldout) is sound: its labels can be trusted.

This grades the corpus, not the engine (the engine's recall on it is a benchmark: bench_heldout).
Values are checked against oracles the corpus does not use itself: python-stdnum for the ID card,
Luhn and USCC checks, libphonenumber for numbers outside the mainland, ``ipaddress`` for IPs.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys

import phonenumbers
import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.heldout import corpus as C  # noqa: E402

# Bank identification numbers of Chinese issuers (ICBC 6222, ABC 6228, CCB 6217/4367, UnionPay
# 62xx, Mastercard 5187), written here independently of the generator's table.
CARD_PREFIXES = ("6222", "6228", "6217", "6216", "6212", "6225", "6226", "4367", "5187", "6259",
                 "6227", "6214", "6230", "6282", "6221", "6236")
MOBILE = re.compile(r"1(3\d|4[57]|5[0-35-9]|6[25-7]|7[0-35-8]|8\d|9[0-35-9])\d{8}")


@pytest.fixture(scope="module")
def samples():
    return C.generate()


def labels_of(samples, entity=None):
    return [(s, lab) for s in samples for lab in s["labels"] if entity is None or lab["entity"] == entity]


def digits(value: str) -> str:
    return re.sub(r"[\s\-()]", "", value)


def test_size_styles_and_entities(samples):
    assert len(samples) >= 3000
    assert len({s["style"] for s in samples}) >= 8
    counts = {e: len(labels_of(samples, e)) for e in C.ENTITY_WEIGHTS}
    assert min(counts.values()) >= 150, counts  # every entity graded on enough values
    assert sum(len(s["distractors"]) for s in samples) >= 3000


def test_spans_point_at_their_values_and_do_not_overlap(samples):
    for s in samples:
        spans = []
        for item in s["labels"] + s["distractors"]:
            assert s["text"][item["start"]:item["end"]] == item["value"], (s["id"], item)
            assert item["value"] == item["value"].strip()
            spans.append((item["start"], item["end"]))
        for lab in s["labels"]:
            if "street_start" in lab:
                assert lab["start"] <= lab["street_start"] < lab["street_end"] <= lab["end"]
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), s["id"]


def test_id_cards_pass_gb11643_and_some_also_pass_luhn(samples):
    values = [lab for _, lab in labels_of(samples, "ID_CARD")]
    for lab in values:
        number = digits(lab["value"]).upper()
        assert len(number) == 18 and ric.calc_check_digit(number) == number[-1], lab
        ric.get_birth_date(number)  # a real date
        assert luhn.is_valid(number) == (lab["form"] == "luhn"), lab
    assert sum(lab["form"] == "luhn" for lab in values) >= 50  # issue family 5


def test_bank_cards_pass_luhn_with_real_chinese_prefixes(samples):
    for _, lab in labels_of(samples, "BANK_CARD"):
        number = digits(lab["value"])
        assert luhn.is_valid(number) and len(number) in (16, 19), lab
        assert number.startswith(CARD_PREFIXES), lab


def test_uscc_codes_pass_gb32100(samples):
    for _, lab in labels_of(samples, "USCC"):
        assert uscc.is_valid(lab["value"]), lab


def test_phones(samples):
    for _, lab in labels_of(samples, "MOBILE_PHONE"):
        assert MOBILE.fullmatch(digits(lab["value"])), lab
    mismatched = 0
    for s, lab in labels_of(samples, "LANDLINE"):
        number = digits(lab["value"])
        if lab["form"].endswith("+86"):
            number = "0" + number
        area = next(a for a in sorted(C.V.AREA_CODES, key=len, reverse=True) if number.startswith(a))
        fits = C.V.AREA_CODES[area] == len(number) - len(area)
        assert fits != lab["form"].startswith("mismatched"), lab
        if not fits:  # issue family 3: a number that does not fit its plan sits next to a phone cue
            mismatched += 1
            assert lab["context"] not in ("no_cue",), lab
    assert mismatched >= 50
    for _, lab in labels_of(samples, "PHONE_NUMBER"):
        text = lab["value"]
        text = "+" + text[2:] if text.startswith("00") else text
        number = phonenumbers.parse(text)
        assert phonenumbers.is_valid_number(number) and number.country_code != 86, lab


def test_network_and_other_shapes(samples):
    for _, lab in labels_of(samples):
        v, e = lab["value"], lab["entity"]
        if e == "IPV4":
            assert isinstance(ipaddress.ip_address(v), ipaddress.IPv4Address), lab
        elif e == "IPV6":
            assert isinstance(ipaddress.ip_address(v), ipaddress.IPv6Address), lab
        elif e == "MAC_ADDRESS":
            assert re.fullmatch(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}", v), lab
        elif e == "PASSPORT":
            assert re.fullmatch(r"E\d{8}|E[A-HJ-NP-Z]\d{7}|G\d{8}", v), lab
        elif e == "LICENSE_PLATE":
            assert re.fullmatch(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][· ]?"
                                r"([A-HJ-NP-Z0-9]{5}|[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF])", v), lab
        elif e == "EMAIL":
            assert re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", v), lab
        elif e == "CHINESE_NAME":
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", v), lab
        elif e == "ENGLISH_NAME":
            assert re.fullmatch(r"[A-Z][a-z'-]+( [A-Z][a-z'-]+)+", v), lab
        elif e == "CHINESE_ADDRESS":
            street = v[lab["street_start"] - lab["start"]:lab["street_end"] - lab["start"]]
            assert re.search(r"[路街道]\d+号$", street), lab


def test_distractors_fail_the_checksums(samples):
    kinds = {d["kind"] for s in samples for d in s["distractors"]}
    assert {"order_no", "tracking_no", "invoice_no", "version", "timestamp", "price", "amount", "product_code",
            "hex_hash", "uuid", "bad_checksum_digits", "date"} <= kinds
    for s in samples:
        for d in s["distractors"]:
            run = re.sub(r"^[A-Z]+", "", d["value"])
            if run.isdigit() and len(run) >= 16:
                assert not luhn.is_valid(run), d
                assert not (len(run) == 18 and ric.calc_check_digit(run) == run[-1]), d
            if d["kind"] == "tracking_no" and d["value"].startswith("SF"):
                assert re.fullmatch(r"SF\d{12}", d["value"])


def test_issue_miss_families_are_present(samples):
    contexts = {(lab["entity"], lab["context"]) for _, lab in labels_of(samples)}
    for entity in ("MOBILE_PHONE", "IPV4", "BANK_CARD", "PASSPORT", "ID_CARD"):
        assert (entity, "en_glued") in contexts  # family 1: mobile13812345678, IP10.1.2.3, ...
    assert ("IPV6", "zh_colon") in contexts  # family 2: 备注:2001:db8::1
    for context in ("table_header", "table_row_header", "csv_header", "json_key", "kv", "latin_label"):
        assert ("CHINESE_NAME", context) in contexts  # family 4
    assert ("ENGLISH_NAME", "no_honorific") in contexts


def _digest(count: int, env_seed: str) -> str:
    code = ("import hashlib, json, sys; from benchmarks.heldout.corpus import generate; "
            f"sys.stdout.write(hashlib.sha256(json.dumps(generate({count})).encode()).hexdigest())")
    env = dict(os.environ, PYTHONHASHSEED=env_seed, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def test_generation_is_deterministic_across_processes(samples):
    here = hashlib.sha256(json.dumps(samples[:400]).encode()).hexdigest()
    assert _digest(400, "1") == _digest(400, "2") == here
    assert C.generate(400, seed=C.SEED + 1) != samples[:400]
