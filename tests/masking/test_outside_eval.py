"""benchmarks/outside grades what it says it grades (its scoring rules on hand-made samples, and
the Presidio corpus, where present, loads with every label pointing at its value)."""
from __future__ import annotations

import pytest

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.outside import corpora as C
from benchmarks.outside import evaluate as E

TEXT = "Dana Whitfield lives at 97 Larkspur Street, Springfield. Recently, Dana called 415.555.0142 from Acme Corp."


def sample():
    def item(value, kind, nth=0, **extra):
        start = -1
        for _ in range(nth + 1):
            start = TEXT.index(value, start + 1)
        return {"start": start, "end": start + len(value), "kind": kind, "value": value, **extra}
    labels = [item("Dana Whitfield", "PERSON"), item("Dana", "PERSON", 1),
              item("97 Larkspur Street", "STREET_ADDRESS"), item("415.555.0142", "PHONE_NUMBER")]
    for lab in labels:
        lab["group"] = C.group_of(lab["kind"])
    return {"id": 0, "text": TEXT, "labels": labels, "negatives": [item("Acme Corp", "ORGANIZATION")],
            "neutral": [item("Springfield", "GPE")]}


def fake_masker(text):
    """Masks the full name and the phone, once each, plus 'Springfield' and 'Acme' (a false hit)."""
    spans = []
    for value, entity in (("Dana Whitfield", "ENGLISH_NAME"), ("415.555.0142", "PHONE_NUMBER"),
                          ("Springfield", "LOCATION"), ("Acme", "ORG_GUESS")):
        s = text.index(value)
        spans.append((s, s + len(value), entity))
    masked = text
    for s, e, entity in sorted(spans, reverse=True):
        masked = masked[:s] + f"<{entity}>" + masked[e:]
    return spans, masked


def test_grading_rules_on_a_hand_made_sample():
    out = E.summarize(E.grade([sample()], fake_masker))
    person = out["entities"]["PERSON"]
    # the full name is covered, the later first name alone is not and stays in the text
    assert person["n"] == 2 and person["recall"] == 0.5 and person["leaked"] == 0.5
    # words (Dana, Whitfield) + (Dana): "Dana" is still in the text, so both of its counts are left
    assert person["name_words_left"] == 2 / 3
    assert out["entities"]["PHONE"] == {"n": 1, "recall": 1.0, "leaked": 0.0, "partial": 0, "masked_spans": 1,
                                        "precision": 1.0}
    assert out["entities"]["ADDRESS"]["recall"] == 0.0 and out["entities"]["ADDRESS"]["leaked"] == 1.0
    # 2 spans on labels, 'Springfield' on a neutral label (left out), 'Acme' on a distractor
    assert out["spans"]["on_label"] == 2 and out["spans"]["on_neutral"] == 1 and out["spans"]["on_negative"] == 1
    assert out["precision_overall"] == 2 / 3
    assert out["distractors"]["touched"] == 1 and out["distractors"]["rate"] == 1.0


def test_leak_check_counts_whole_words_only():
    assert E.present("Dana", "Recently, Dana called")
    assert not E.present("Dana", "Recently, Danalyn called")
    assert E.present("林晓雯", "林晓雯近期出现")
    assert not E.present("Dana", "Recently, D*** called")


def test_group_of_maps_both_engines_types():
    assert {C.group_of(t) for t in ("CHINESE_NAME", "ENGLISH_NAME", "PERSON")} == {"PERSON"}
    assert {C.group_of(t) for t in ("MOBILE_PHONE", "LANDLINE", "PHONE_NUMBER")} == {"PHONE"}
    assert C.group_of("EMAIL_ADDRESS") == "EMAIL" and C.group_of("IP_ADDRESS") == "IP"
    assert C.group_of("MAC_ADDRESS") == "MAC" and C.group_of("CHINESE_ADDRESS") == "ADDRESS"
    assert C.group_of("US_SSN") == "ID" and C.group_of("ID_CARD") == "ID" and C.group_of("DOMAIN_NAME") != "PERSON"


def test_presidio_corpus_loads_with_every_label_on_its_value():
    try:  # read from where the fetch tool left it (nothing fetched is committed), or $DMS_OUTSIDE_PRESIDIO
        samples = C.load("presidio_synth")
    except C.CorpusMissing as exc:
        pytest.skip(f"the Presidio corpus is not on this machine: {exc}")
    assert len(samples) == 1500
    for s in samples:
        for item in s["labels"] + s["negatives"] + s["neutral"]:
            assert s["text"][item["start"]:item["end"]] == item["value"]
    groups = {lab["group"] for s in samples for lab in s["labels"]}
    assert {"PERSON", "PHONE", "EMAIL", "ADDRESS", "ID", "CARD"} <= groups


def test_resume_ner_loader_reads_bmes(tmp_path):
    """ResumeNER's one-character-a-line BMES files become samples: names graded, companies and
    titles distractors, a single-character S- tag and a sentence without a trailing blank kept."""
    bmes = "高 B-NAME\n勇 E-NAME\n， O\n任 O\n华 B-ORG\n为 E-ORG\n总 B-TITLE\n裁 E-TITLE\n\n刘 S-NAME\n先 O\n生 O"
    for split in C.RESUME_SPLITS:
        (tmp_path / f"{split}.char.bmes").write_text(bmes if split == "test" else "", encoding="utf-8")
    samples = C.resume_ner(str(tmp_path))
    assert [s["text"] for s in samples] == ["高勇，任华为总裁", "刘先生"]
    first, second = samples
    assert [(lab["value"], lab["group"]) for lab in first["labels"]] == [("高勇", "PERSON")]
    assert sorted(n["value"] for n in first["negatives"]) == ["华为", "总裁"]
    assert [lab["value"] for lab in second["labels"]] == ["刘"]
