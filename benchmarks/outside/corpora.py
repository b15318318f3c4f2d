"""Loaders for labelled PII corpora written by others, in one shape the grader reads.

A sample is ``{"id", "text", "labels", "negatives", "neutral"}``; each item is
``{"start", "end", "kind", "value"}`` with ``text[start:end] == value`` (end exclusive). ``labels``
are the values a masker must hide; each also has ``group`` (PERSON, PHONE, EMAIL, ID, ADDRESS,
CARD, IP, ...) and may have ``grade_start``/``grade_end``: the part recall and leaks are graded on
(an address's street part). ``negatives`` are labelled spans that are not personal data (company,
organisation and place names, dates, job titles, ...): touching one is a false positive.
``neutral`` are labelled spans that are neither graded nor wrong to mask (coarse place names that
a corpus files under "address", zip codes, ages).

Where each corpus comes from (none is fetched at run time; see benchmarks/outside/README.md):

- ``presidio_synth``: microsoft/presidio-research ``data/synth_dataset_v2.json`` (MIT), English
  template sentences with Faker values, read from the fetch tool's mirror (nothing fetched is committed).
- ``cluener``: CLUENER2020 dev set (1,343 Chinese news sentences; names, addresses, companies,
  ...). Not redistributed here (no licence given): point ``DMS_OUTSIDE_CLUENER`` at ``dev.json``
  (CLUEbenchmark's download; hemingkx/CLUENER2020 keeps it as ``BERT-CRF/data/clue/test.json``).
- ``ccf_privacy``: CCF BDCI 2020 "privacy information in unstructured business text" training
  set (2,515 Chinese texts; names, mobile/landline numbers, emails, QQ and WeChat ids, plus the
  CLUENER classes), as JSON lines in LOUHOIN/PuHua_DataMining
  ``PrivacyDataIdentification/data.json``. Not redistributed (competition data, no licence):
  ``DMS_OUTSIDE_CCF``.
- ``heldout16`` / ``heldout22``: this project's blind corpora (benchmarks/heldout), generated.

A path may also be ``git:<git dir>:<rev>:<path in repo>``: read with ``git show`` from a bare
mirror, as the fetch tool leaves them under /work/.mirror.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
MIRROR = os.environ.get("DMS_OUTSIDE_MIRROR", "/work/.mirror")

# name -> (environment variable, default locations tried in order)
SOURCES = {
    "presidio_synth": ("DMS_OUTSIDE_PRESIDIO", (
        f"git:{MIRROR}/microsoft+presidio-research/repo:HEAD:data/synth_dataset_v2.json",)),
    "cluener": ("DMS_OUTSIDE_CLUENER", (
        f"git:{MIRROR}/hemingkx+CLUENER2020/repo/.git:HEAD:BERT-CRF/data/clue/test.json",)),
    "ccf_privacy": ("DMS_OUTSIDE_CCF", (
        f"git:{MIRROR}/LOUHOIN+PuHua_DataMining/repo:HEAD:PrivacyDataIdentification/data.json",)),
    # three files (train, dev, test); each location names the directory, the loader adds the file
    "resume_ner": ("DMS_OUTSIDE_RESUME", (
        f"git:{MIRROR}/jiesutd+LatticeLSTM/repo:HEAD:ResumeNER",)),
}


class CorpusMissing(RuntimeError):
    pass


def _read(location: str) -> str | None:
    if location.startswith("git:"):
        _, gitdir, rev, path = location.split(":", 3)
        if not os.path.isdir(gitdir):
            return None
        done = subprocess.run(["git", "--git-dir", gitdir, "show", f"{rev}:{path}"], capture_output=True, check=False)
        return done.stdout.decode("utf-8") if done.returncode == 0 else None
    if not os.path.isfile(location):
        return None
    opener = gzip.open if location.endswith(".gz") else open
    with opener(location, "rt", encoding="utf-8") as f:
        return f.read()


def read_source(name: str, path: str | None = None) -> tuple[str, str]:
    """(raw text, where it was read from) for a corpus: ``path``, then its environment variable,
    then the default locations."""
    env, defaults = SOURCES[name]
    tried = [p for p in (path, os.environ.get(env)) if p] + list(defaults)
    for location in tried:
        raw = _read(location)
        if raw is not None:
            return raw, location
    raise CorpusMissing(f"corpus {name!r} not found; tried {tried}. Set {env} to its file "
                        f"(see benchmarks/outside/README.md for where to get it).")


# --- groups -----------------------------------------------------------------------------------

def group_of(entity: str) -> str:
    """The grading group of an entity type, from any system or corpus (name-based, so new
    entity types of an engine under test land in the right group without a table update)."""
    e = entity.upper()
    if e in ("PERSON", "PER", "NAME", "NAME_STUDENT") or e.endswith("_NAME") and "DOMAIN" not in e and "USER" not in e:
        return "PERSON"
    if "PHONE" in e or "LANDLINE" in e or "MOBILE" in e:
        return "PHONE"
    if "EMAIL" in e:
        return "EMAIL"
    if "IBAN" in e:
        return "IBAN"
    if e in ("IP_ADDRESS", "IPV4", "IPV6") or e.startswith("IPV"):
        return "IP"
    if "MAC" in e:
        return "MAC"
    if "ADDRESS" in e:
        return "ADDRESS"
    if "CREDIT" in e or "BANK_CARD" in e:
        return "CARD"
    if "SSN" in e or "ID_CARD" in e or "PASSPORT" in e or "DRIVER" in e or e in ("ID", "ID_NUM"):
        return "ID"
    if e in ("QQ", "VX", "WECHAT", "ACCOUNT"):
        return "ACCOUNT"
    if "PLATE" in e:
        return "PLATE"
    return e


def _item(text: str, start: int, end: int, kind: str, **extra) -> dict:
    return {"start": start, "end": end, "kind": kind, "value": text[start:end], **extra}


def _sample(i, text, labels, negatives, neutral) -> dict:
    for lab in labels:
        lab.setdefault("group", group_of(lab["kind"]))
    return {"id": i, "text": text, "labels": labels, "negatives": negatives, "neutral": neutral}


# --- microsoft/presidio-research synth_dataset_v2 ------------------------------------------------

# Presidio entity -> role here. Negatives: the kinds issue 22 lists as distractors (company and
# place names, dates) plus job titles and nationalities. Neutral: zip codes, ages, domain names
# (parts of an address or contact, masking them is no error, but nobody is named by them).
PRESIDIO_GRADED = {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS", "CREDIT_CARD", "US_SSN",
                   "US_DRIVER_LICENSE", "IP_ADDRESS", "IBAN_CODE"}
PRESIDIO_NEGATIVE = {"ORGANIZATION", "GPE", "DATE_TIME", "TITLE", "NRP"}
PRESIDIO_NEUTRAL = {"ZIP_CODE", "AGE", "DOMAIN_NAME"}


def presidio_synth(path: str | None = None) -> list[dict]:
    raw, _ = read_source("presidio_synth", path)
    out = []
    for i, rec in enumerate(json.loads(raw)):
        text = rec["full_text"]
        labels, negatives, neutral = [], [], []
        for span in rec["spans"]:
            s, e, kind = span["start_position"], span["end_position"], span["entity_type"]
            assert text[s:e] == span["entity_value"], (i, span)
            if kind in PRESIDIO_GRADED:
                item = _item(text, s, e, kind)
                if kind == "STREET_ADDRESS":  # graded on the street line: up to the first newline or comma
                    cut = re.search(r"[\n,]", text[s:e])
                    if cut:
                        item["grade_start"], item["grade_end"] = s, s + cut.start()
                labels.append(item)
            elif kind in PRESIDIO_NEGATIVE:
                negatives.append(_item(text, s, e, kind))
            else:
                neutral.append(_item(text, s, e, kind))
        out.append(_sample(i, text, labels, negatives, neutral))
    return out


# --- CLUENER2020 and CCF BDCI 2020 privacy (the same label scheme, end offsets inclusive) ------------

# A CLUENER "address" is anything from a country or a landmark to a room number. Only the ones
# with a house, building or room number are personal-address-like and graded; the rest are neutral.
STREET_LEVEL = re.compile(r"[0-9０-９一二三四五六七八九十百]+\s*(号(?!线)|室|栋|幢|单元|弄)")
CLUE_NEGATIVE = {"company", "organization", "government", "game", "book", "movie", "scene", "position"}
CLUE_GRADED = {"name": "PERSON", "mobile": "PHONE", "email": "EMAIL", "QQ": "ACCOUNT", "vx": "ACCOUNT"}


def _clue_item(i, text, kind, s, e_incl, labels, negatives, neutral):
    e = e_incl + 1
    if kind in CLUE_GRADED:
        labels.append(_item(text, s, e, kind, group=CLUE_GRADED[kind]))
    elif kind == "address":
        if STREET_LEVEL.search(text[s:e]):
            labels.append(_item(text, s, e, "address", group="ADDRESS"))
        else:
            neutral.append(_item(text, s, e, "place"))
    elif kind in CLUE_NEGATIVE:
        negatives.append(_item(text, s, e, kind))
    else:
        neutral.append(_item(text, s, e, kind))


def cluener(path: str | None = None) -> list[dict]:
    raw, _ = read_source("cluener", path)
    out = []
    for i, line in enumerate(raw.splitlines()):
        if not line.strip():
            continue
        rec = json.loads(line)
        text = rec["text"]
        labels, negatives, neutral = [], [], []
        for kind, values in rec.get("label", {}).items():
            for value, spans in values.items():
                for s, e in spans:
                    assert text[s:e + 1] == value, (i, value)
                    _clue_item(i, text, kind, s, e, labels, negatives, neutral)
        out.append(_sample(i, text, labels, negatives, neutral))
    return out


def ccf_privacy(path: str | None = None) -> list[dict]:
    raw, _ = read_source("ccf_privacy", path)
    out = []
    skipped = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        text = rec["text"]
        labels, negatives, neutral = [], [], []
        for ent in rec["entities"]:
            s, e = ent["pos_b"], ent["pos_e"]
            if text[s:e + 1] != ent["privacy"]:  # a handful of offsets in the release are off; drop those labels
                skipped += 1
                continue
            _clue_item(rec["id"], text, ent["category"], s, e, labels, negatives, neutral)
        out.append(_sample(rec["id"], text, labels, negatives, neutral))
    return out


# --- ResumeNER (Zhang & Yang, ACL 2018; jiesutd/LatticeLSTM ResumeNER/*.char.bmes) -----------------

# Resumes of senior executives of listed Chinese companies (Sina Finance), one character per line
# with a BMES tag, sentences separated by blank lines. Only NAME is personal data here; the rest
# are the distractors issue 22 names (companies, places) plus job titles, degrees, majors,
# nationalities and ethnicities: masking any of them is a false positive.
RESUME_NEGATIVE = {"ORG", "TITLE", "EDU", "PRO", "CONT", "RACE", "LOC"}
RESUME_SPLITS = ("train", "dev", "test")


def _resume_sentences(raw: str):
    chars, tags = [], []
    for line in raw.splitlines() + [""]:
        parts = line.split()
        if len(parts) >= 2:
            chars.append(parts[0])
            tags.append(parts[-1])
        elif chars:
            yield "".join(chars), tags
            chars, tags = [], []


def _bmes_spans(tags: list[str]):
    start = None
    for i, tag in enumerate(tags):
        head, _, kind = tag.partition("-")
        if head == "S":
            yield i, i + 1, kind
        elif head == "B":
            start = i
        elif head == "E" and start is not None:
            yield start, i + 1, kind
            start = None
        elif head == "O":
            start = None


def resume_ner(path: str | None = None) -> list[dict]:
    """All three splits (4,761 sentences): graded as outside text, nothing here trains anything."""
    env, defaults = SOURCES["resume_ner"]
    base = next((p for p in (path, os.environ.get(env)) if p), defaults[0])
    out = []
    for split in RESUME_SPLITS:
        raw = _read(f"{base}/{split}.char.bmes")
        if raw is None:
            raise CorpusMissing(f"corpus 'resume_ner' not found at {base}/{split}.char.bmes. Set {env} to the "
                                f"ResumeNER directory of jiesutd/LatticeLSTM (see benchmarks/outside/README.md).")
        for n, (text, tags) in enumerate(_resume_sentences(raw)):
            labels, negatives, neutral = [], [], []
            for s, e, kind in _bmes_spans(tags):
                if kind == "NAME":
                    labels.append(_item(text, s, e, "name", group="PERSON"))
                elif kind in RESUME_NEGATIVE:
                    negatives.append(_item(text, s, e, kind.lower()))
                else:
                    neutral.append(_item(text, s, e, kind.lower()))
            out.append(_sample(f"{split}-{n}", text, labels, negatives, neutral))
    return out


# --- this project's blind corpora ---------------------------------------------------------------

def _heldout(samples: list[dict]) -> list[dict]:
    out = []
    for s in samples:
        labels = []
        for lab in s["labels"]:
            item = _item(s["text"], lab["start"], lab["end"], lab["entity"],
                         context=lab.get("context"), form=lab.get("form"))
            if "street_start" in lab:
                item["grade_start"], item["grade_end"] = lab["street_start"], lab["street_end"]
            labels.append(item)
        negatives = [_item(s["text"], d["start"], d["end"], d["kind"]) for d in s["distractors"]]
        out.append(_sample(s["id"], s["text"], labels, negatives, []))
    return out


def heldout16(path: str | None = None) -> list[dict]:
    from benchmarks.heldout import corpus
    return _heldout(corpus.generate())


def heldout22(path: str | None = None) -> list[dict]:
    from benchmarks.heldout import corpus22
    return _heldout(corpus22.generate())


LOADERS = {"presidio_synth": presidio_synth, "cluener": cluener, "ccf_privacy": ccf_privacy,
           "heldout16": heldout16, "heldout22": heldout22, "resume_ner": resume_ner}
LANGUAGE = {"presidio_synth": "en", "cluener": "zh", "ccf_privacy": "zh", "heldout16": "zh+en", "heldout22": "zh+en",
            "resume_ner": "zh"}


def load(name: str, path: str | None = None, limit: int | None = None, seed: int = 22) -> list[dict]:
    samples = LOADERS[name](path)
    if limit and limit < len(samples):
        samples = random.Random(seed).sample(samples, limit)
    return samples
