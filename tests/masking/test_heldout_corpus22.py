"""The issue-22 part of the held-out corpus (benchmarks/heldout/corpus22.py) is sound.

This grades the corpus, not the engine: each family the issue names is present, the values are
what their labels say (checked with python-stdnum and libphonenumber, oracles the generator does
not use), the distractors are not personal data, and generation is deterministic.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

import phonenumbers
import pytest
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.heldout import corpus22 as C

REGION_OF_FORM = {"dotted": ("US", "CA"), "dashed": ("US", "CA")}


@pytest.fixture(scope="module")
def samples():
    return C.generate()


def labels(samples, entity=None):
    return [(s, lab) for s in samples for lab in s["labels"] if entity is None or lab["entity"] == entity]


def test_spans_point_at_their_values_and_do_not_overlap(samples):
    for s in samples:
        spans = []
        for item in s["labels"] + s["distractors"]:
            assert s["text"][item["start"]:item["end"]] == item["value"], (s["id"], item)
            assert item["value"] == item["value"].strip()
            spans.append((item["start"], item["end"]))
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), s["id"]


def test_every_mention_is_labelled(samples):
    """A name that appears twice is labelled twice; an English first/last name alone is labelled
    and is a word of a full name labelled in the same text."""
    contexts = Counter(lab["context"] for _, lab in labels(samples) if lab["entity"].endswith("_NAME"))
    assert contexts["repeat"] >= 300 and contexts["first_name"] >= 300 and contexts["last_name"] >= 150
    for s in samples:
        names = [lab for lab in s["labels"] if lab["entity"].endswith("_NAME")]
        fulls = {lab["value"].lower() for lab in names if lab["context"] not in ("first_name", "last_name")}
        for lab in names:
            if lab["context"] in ("first_name", "last_name"):
                assert any(lab["value"].lower() in full.split() for full in fulls), (s["id"], lab)
        # every occurrence of a labelled name in the text is labelled
        for value in {lab["value"] for lab in names if len(lab["value"]) >= 2}:
            pattern = re.compile(r"(?<![A-Za-z])" + re.escape(value) + r"(?![A-Za-z])")
            found = {m.start() for m in pattern.finditer(s["text"])}
            labelled = {lab["start"] for lab in names if lab["value"] == value}
            inside_other = {i for i in found for lab in s["labels"]
                            if lab["value"] != value and lab["start"] <= i < lab["end"]}
            assert found - inside_other <= labelled, (s["id"], value)


def test_names_without_cue_families(samples):
    forms = Counter((lab["entity"], lab["context"], lab["form"]) for _, lab in labels(samples))
    assert sum(v for (e, c, _), v in forms.items() if c == "sentence_start") >= 300
    assert sum(v for (e, c, _), v in forms.items() if c in ("role_before", "role_after")) >= 500
    assert sum(v for (e, _, f), v in forms.items() if f == "transliterated") >= 100
    for form in ("upper", "inverted", "lower"):
        assert sum(v for (e, _, f), v in forms.items() if f == form) >= 30, form
    for _, lab in labels(samples, "CHINESE_NAME"):
        if lab["form"] == "transliterated":
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,5}·[\u4e00-\u9fff]{2,5}", lab["value"]), lab


def test_id_numbers_have_a_birth_date_and_fail_what_their_form_says(samples):
    kinds = Counter()
    for _, lab in labels(samples, "ID_CARD"):
        value = lab["value"]
        assert re.fullmatch(r"\d{17}[\dX]", value), lab
        ric.get_birth_date(value)  # positions 7-14 are a real date
        check_ok = ric.calc_check_digit(value) == value[-1]
        kinds[lab["form"]] += 1
        if lab["form"] == "valid":
            assert check_ok, lab
        elif lab["form"] == "bad_check":
            assert not check_ok and lab["context"].startswith("cue"), lab
        else:
            assert lab["form"] == "bad_region" and check_ok and lab["context"].startswith("cue"), lab
            with pytest.raises(ValidationError):
                ric.get_birth_place(value)  # GB/T 2260, as stdnum knows it, has no such region
    assert min(kinds.values()) >= 100, kinds


def test_national_phones_are_valid_in_their_region_without_a_country_code(samples):
    forms = Counter()
    for _, lab in labels(samples, "PHONE_NUMBER"):
        assert not lab["value"].startswith(("+", "00")), lab
        regions = REGION_OF_FORM.get(lab["form"]) or (lab["form"].removeprefix("national_"),)
        assert any(phonenumbers.is_valid_number(phonenumbers.parse(lab["value"], r)) for r in regions), lab
        assert lab["context"].startswith("cue"), lab
        forms[lab["form"]] += 1
    assert len(forms) >= 10 and forms["dotted"] >= 20, forms


def test_english_addresses_have_a_numbered_street(samples):
    values = [lab for _, lab in labels(samples, "ENGLISH_ADDRESS")]
    assert len(values) >= 200
    for lab in values:
        street = lab["value"][lab["street_start"] - lab["start"]:lab["street_end"] - lab["start"]]
        assert re.fullmatch(r"\d+ [A-Za-z0-9 ]+ [A-Z][a-z]+", street), lab


def test_distractors_are_not_personal_data(samples):
    kinds = defaultdict(list)
    for s in samples:
        for d in s["distractors"]:
            kinds[d["kind"]].append(d["value"])
    assert set(kinds) >= {"version", "order_no", "tracking_no", "amount", "date", "company", "place", "common_word"}
    assert min(len(v) for v in kinds.values()) >= 150
    for value in kinds["order_no"]:
        assert len(value) == 18 and value.isdigit() and not ric.is_valid(value) and not luhn.is_valid(value)
        with pytest.raises(ValidationError):
            ric.get_birth_date(value)  # no date in positions 7-14: not ID-shaped
    assert sum(v.count(".") == 3 for v in kinds["version"]) >= 100  # 4-part, IPv4-shaped, after "version"


def test_generation_is_deterministic_across_processes(samples):
    code = ("import hashlib, json, sys; from benchmarks.heldout.corpus22 import generate; "
            "sys.stdout.write(hashlib.sha256(json.dumps(generate(300)).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=ROOT),
                              cwd=ROOT, check=True, capture_output=True, text=True).stdout for seed in ("1", "2")}
    assert digests == {hashlib.sha256(json.dumps(samples[:300]).encode()).hexdigest()}
    assert C.generate(300, seed=C.SEED + 1) != samples[:300]
