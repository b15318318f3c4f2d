"""Grade maskers on labelled PII corpora written by others (and on the project's blind corpora).

    /work/venv/bin/python benchmarks/outside/evaluate.py --engine /path/to/checkout \
        [--corpus presidio_synth cluener ccf_privacy resume_ner heldout16 heldout22] \
        [--systems dms_magic:UserInfo dms_magic:All presidio presidio+spacy] \
        [--limit N] [--json out.json] [--misses K]

The engine graded is the ``dms_magic`` of ``--engine DIR`` (or ``DMS_OUTSIDE_ENGINE``, or the
first on PYTHONPATH, or this checkout's); the harness and the blind corpora always come from this
checkout, and only ``dms_magic.mask`` is read. The report's first line names the directory graded.

Scoring (the same for every system; see README.md next to this file):

- **recall**: a labelled value is recalled when every letter, digit and CJK character of its
  graded span (an address: its street part where the corpus lets us cut one) lies inside masked
  spans, of any type: what is masked is hidden, whatever the label. Partly covered = not recalled.
- **leaked**: the labelled value (graded span) still occurs anywhere in the masked text, as a
  whole word for values that begin/end with a Latin letter or digit. Every mention is a label, so
  a name masked once and left in place later counts; a value that appears twice counts leaked as
  long as one copy survives. For Latin-script person names also **name words left**: the share
  of the name's words (2+ letters) still present as words in the masked text.
- **precision** per entity group: masked spans of that group (the system's type mapped by
  ``corpora.group_of``) overlapping a labelled value of the same group, over all masked spans of
  that group. **precision overall**: masked spans overlapping any labelled value, over all masked
  spans, where spans overlapping only a *neutral* label (coarse place names filed as "address",
  zip codes, ages) are left out of both counts; spans on unlabelled text count as wrong (the
  corpora label every value of their types, but not every type: JSON gives the breakdown).
- **distractors touched**: labelled non-personal spans (companies, organisations, places, dates,
  titles, works; the blind corpora's order numbers, versions, ...) overlapped by any masked span.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _engine_arg(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--engine" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--engine="):
            return arg.split("=", 1)[1]
    return os.environ.get("DMS_OUTSIDE_ENGINE")


# The harness (benchmarks.*) always comes from this checkout; the engine graded (dms_magic) from
# --engine DIR, else from PYTHONPATH, else from this checkout too. The harness's modules are
# imported first, with this checkout first on the path, then the path is put back in that order.
sys.path.insert(0, ROOT)
import benchmarks.heldout.corpus
import benchmarks.heldout.corpus22  # noqa: F401
from benchmarks.outside import corpora as C
from benchmarks.outside import systems as S

sys.path.remove(ROOT)
sys.path.append(ROOT)
if __name__ == "__main__" and _engine_arg(sys.argv[1:]):
    sys.path.insert(0, os.path.abspath(_engine_arg(sys.argv[1:])))

DEFAULT_CORPORA = ("presidio_synth", "cluener", "ccf_privacy", "resume_ner", "heldout16", "heldout22")
DEFAULT_SYSTEMS = tuple(S.SYSTEMS)
# Seeded samples by default where Presidio + spaCy (2-7K chars/s) would take over ~3 minutes on a
# shared 2-core machine; ``--limit 0`` grades every text.
DEFAULT_LIMIT = {"heldout16": 1600}
GROUP_ORDER = ("PERSON", "PHONE", "ID", "EMAIL", "ADDRESS", "CARD", "IBAN", "IP", "MAC", "PLATE", "ACCOUNT", "USCC")
# issue 22's acceptance: leaks per group, precision, distractors
LEAK_TARGET = {"ID": 0.01, "PHONE": 0.01, "EMAIL": 0.01, "ADDRESS": 0.03, "PERSON": 0.05}
PRECISION_TARGET = 0.98
DISTRACTOR_TARGET = 0.01
WARM_UP = "我叫张伟，手机13812345678，住在杭州市西湖区文三路90号。Call Dana Whitfield at (415) 555-0142."
TITLE_WORDS = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "jr", "sr"}


def _graded(lab: dict) -> tuple[int, int]:
    return lab.get("grade_start", lab["start"]), lab.get("grade_end", lab["end"])


def _pattern(value: str) -> re.Pattern:
    left = r"(?<![A-Za-z0-9])" if value[:1].isascii() and value[:1].isalnum() else ""
    right = r"(?![A-Za-z0-9])" if value[-1:].isascii() and value[-1:].isalnum() else ""
    return re.compile(left + re.escape(value) + right)


def present(value: str, masked: str) -> bool:
    return bool(value) and _pattern(value).search(masked) is not None


def _overlaps(s: int, e: int, items) -> list[dict]:
    return [it for it in items if s < it["end"] and it["start"] < e]


def grade(samples: list[dict], run, *, misses: list | None = None, miss_limit: int = 0) -> dict:
    per = defaultdict(Counter)
    by_form = defaultdict(Counter)  # (entity, context, form) -> n, recalled, leaked
    det = defaultdict(Counter)  # group -> detections, correct
    overall = Counter()
    unlabelled_types = Counter()
    neg = Counter()
    neg_total = Counter()
    elapsed = chars = 0.0
    for sample in samples:
        text = sample["text"]
        t0 = time.perf_counter()
        spans, masked = run(text)
        elapsed += time.perf_counter() - t0
        chars += len(text)
        covered = set()
        for s, e, _ in spans:
            covered.update(range(s, e))
        for lab in sample["labels"]:
            g = lab["group"]
            gs, ge = _graded(lab)
            value = text[gs:ge].strip()
            need = {i for i in range(gs, ge) if text[i].isalnum()}
            c = per[g]
            c["n"] += 1
            ok = need <= covered
            c["recalled"] += ok
            if not ok and need & covered:
                c["partial"] += 1
            leaked = present(value, masked)
            c["leaked"] += leaked
            if lab.get("context") is not None:  # the blind corpora: recall by how the value sits and is written
                f = by_form[(lab["kind"], lab["context"], lab["form"])]
                f["n"] += 1
                f["recalled"] += ok
                f["leaked"] += leaked
            if g == "PERSON" and value.isascii():
                words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", value) if w.lower().strip(".") not in TITLE_WORDS]
                c["name_words"] += len(words)
                c["name_words_left"] += sum(present(w, masked) for w in words)
            if (not ok or leaked) and misses is not None and sum(1 for m in misses if m[0] == g) < miss_limit:
                misses.append((g, text[max(0, gs - 30):gs] + "⟦" + text[gs:ge] + "⟧" + text[ge:ge + 30]))
        for s, e, entity in spans:
            g = C.group_of(entity)
            hit_labels = _overlaps(s, e, sample["labels"])
            det[g]["n"] += 1
            det[g]["correct"] += any(lab["group"] == g for lab in hit_labels)
            if hit_labels:
                overall["on_label"] += 1
            elif _overlaps(s, e, sample["neutral"]):
                overall["on_neutral"] += 1
            elif _overlaps(s, e, sample["negatives"]):
                overall["on_negative"] += 1
            else:
                overall["unlabelled"] += 1
                unlabelled_types[entity] += 1
        for d in sample["negatives"]:
            neg_total[d["kind"]] += 1
            if any(s < d["end"] and d["start"] < e for s, e, _ in spans):
                neg[d["kind"]] += 1
    return {"per": per, "by_form": by_form, "det": det, "overall": overall, "unlabelled_types": unlabelled_types, "neg": neg, "neg_total": neg_total,
            "seconds": elapsed, "chars": chars}


def summarize(g: dict) -> dict:
    out = {"entities": {}, "seconds": round(g["seconds"], 2),
           "chars_per_s": int(g["chars"] / g["seconds"]) if g["seconds"] else None}
    for group, c in g["per"].items():
        n = c["n"]
        d = g["det"].get(group, Counter())
        row = {"n": n, "recall": c["recalled"] / n, "leaked": c["leaked"] / n, "partial": c["partial"],
               "masked_spans": d["n"], "precision": d["correct"] / d["n"] if d["n"] else None}
        if c["name_words"]:
            row["name_words_left"] = c["name_words_left"] / c["name_words"]
        out["entities"][group] = row
    if g["by_form"]:
        out["by_form"] = {"/".join(k): {"n": c["n"], "recall": c["recalled"] / c["n"], "leaked": c["leaked"] / c["n"]}
                          for k, c in sorted(g["by_form"].items())}
    other = {grp: dict(d) for grp, d in g["det"].items() if grp not in g["per"]}
    out["spans_of_unlabelled_types"] = other
    o = g["overall"]
    counted = o["on_label"] + o["on_negative"] + o["unlabelled"]
    out["precision_overall"] = o["on_label"] / counted if counted else None
    out["spans"] = {"on_label": o["on_label"], "on_neutral": o["on_neutral"], "on_negative": o["on_negative"],
                    "unlabelled": o["unlabelled"], "unlabelled_by_type": dict(g["unlabelled_types"].most_common())}
    total = sum(g["neg_total"].values())
    out["distractors"] = {"total": total, "touched": sum(g["neg"].values()),
                          "rate": sum(g["neg"].values()) / total if total else None,
                          "by_kind": {k: [g["neg"][k], v] for k, v in sorted(g["neg_total"].items())}}
    return out


def evaluate(corpora=DEFAULT_CORPORA, systems=DEFAULT_SYSTEMS, limit=None, paths=None, miss_limit=0, log=print) -> dict:
    paths = paths or {}
    runners = {}
    results = {"engine": _engine_version(), "corpora": {}}
    for name in corpora:
        try:
            samples = C.load(name, paths.get(name), limit=DEFAULT_LIMIT.get(name) if limit is None else limit)
        except C.CorpusMissing as exc:
            log(f"skipping {name}: {exc}")
            results["corpora"][name] = {"missing": str(exc)}
            continue
        entry = {"samples": len(samples), "chars": sum(len(s["text"]) for s in samples),
                 "language": C.LANGUAGE[name], "systems": {}, "misses": {}}
        for system in systems:
            if system not in runners:
                try:
                    runners[system] = S.SYSTEMS[system]()
                    runners[system](WARM_UP)  # compile patterns, load dictionaries and models outside the timing
                except Exception as exc:  # noqa: BLE001  (e.g. no spaCy model: say so in the table, grade the rest)
                    runners[system] = exc
            runner = runners[system]
            if isinstance(runner, Exception):
                entry["systems"][system] = {"error": f"{type(runner).__name__}: {runner}"}
                continue
            misses = [] if miss_limit and system.startswith("dms_magic") else None
            graded = grade(samples, runner, misses=misses, miss_limit=miss_limit)
            entry["systems"][system] = summarize(graded)
            if misses:
                entry["misses"][system] = misses
            log(f"  {name:15} {system:20} {graded['seconds']:6.1f} s")
        results["corpora"][name] = entry
    return results


def _engine_version() -> dict:
    import dms_magic
    return {"path": os.path.dirname(dms_magic.__file__), "version": getattr(dms_magic, "__version__", None)}


# --- report ---------------------------------------------------------------------------------------

def _pct(x):
    return "—" if x is None else f"{x * 100:.1f}%"


def _f(x):
    return "—" if x is None else f"{x:.3f}"


def report(results: dict, families: bool = False) -> str:
    lines = [f"engine: {results['engine']['path']} (version {results['engine']['version']})", ""]
    for name, entry in results["corpora"].items():
        if "missing" in entry:
            lines += [f"### {name}: not run ({entry['missing']})", ""]
            continue
        systems = list(entry["systems"])
        lines.append(f"### {name} ({entry['language']}; {entry['samples']} texts, {entry['chars']:,} chars)")
        lines.append("")
        lines.append("cells: recall / leaked / precision")
        lines.append("")
        lines.append("| entity | n | " + " | ".join(systems) + " |")
        lines.append("|---|---:|" + "---|" * len(systems))
        groups = set()
        for s in systems:
            groups |= set(entry["systems"][s].get("entities", {}))
        for g in sorted(groups, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g)):
            n = next(entry["systems"][s]["entities"][g]["n"] for s in systems if g in entry["systems"][s].get("entities", {}))
            cells = []
            for s in systems:
                r = entry["systems"][s].get("entities", {}).get(g)
                if r is None:
                    cells.append(entry["systems"][s].get("error", "—")[:40])
                    continue
                cells.append(f"{_f(r['recall'])} / {_pct(r['leaked'])} / {_f(r['precision'])}")
            lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
        def row(label, fn, systems=systems, entry=entry, lines=lines):
            cells = []
            for s in systems:
                r = entry["systems"][s]
                cells.append(fn(r) if "error" not in r else "—")
            lines.append(f"| {label} | | " + " | ".join(cells) + " |")
        if any("name_words_left" in entry["systems"][s].get("entities", {}).get("PERSON", {}) for s in systems):
            row("name words left (Latin)", lambda r: _pct(r["entities"].get("PERSON", {}).get("name_words_left")))
        row("precision, all masked spans", lambda r: _f(r["precision_overall"]))
        row("spans on label / negative / unlabelled",
            lambda r: f"{r['spans']['on_label']} / {r['spans']['on_negative']} / {r['spans']['unlabelled']}")
        row("distractors touched", lambda r: f"{_pct(r['distractors']['rate'])} of {r['distractors']['total']}")
        row("seconds (chars/s)", lambda r: f"{r['seconds']} ({r['chars_per_s']:,})")
        lines.append("")
        with_forms = [s for s in systems if entry["systems"][s].get("by_form")]
        if with_forms and families:
            lines += [f"recall / leaked by entity / context / form ({name})", "",
                      "| entity / context / form | n | " + " | ".join(with_forms) + " |",
                      "|---|---:|" + "---|" * len(with_forms)]
            for key, r0 in entry["systems"][with_forms[0]]["by_form"].items():
                cells = [f"{_f(entry['systems'][s]['by_form'][key]['recall'])} / "
                         f"{_pct(entry['systems'][s]['by_form'][key]['leaked'])}" for s in with_forms]
                lines.append(f"| {key} | {r0['n']} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="+", default=list(DEFAULT_CORPORA), choices=list(C.LOADERS))
    parser.add_argument("--systems", nargs="+", default=list(DEFAULT_SYSTEMS), choices=list(S.SYSTEMS))
    parser.add_argument("--limit", type=int, default=None,
                        help=f"grade a seeded sample of N texts per corpus (0: all; default: all, except {DEFAULT_LIMIT})")
    parser.add_argument("--path", action="append", default=[], metavar="CORPUS=FILE",
                        help="where a corpus file is (also: DMS_OUTSIDE_PRESIDIO / _CLUENER / _CCF / _RESUME)")
    parser.add_argument("--engine", metavar="DIR", help="the checkout whose dms_magic is graded (default: PYTHONPATH, "
                        "then this one; also DMS_OUTSIDE_ENGINE)")
    parser.add_argument("--json", metavar="FILE", help="write the full results (with breakdowns) here")
    parser.add_argument("--families", action="store_true", help="also print the blind corpora's recall by context/form")
    parser.add_argument("--misses", type=int, default=0, metavar="K", help="list K missed/leaked values per entity (dms_magic)")
    args = parser.parse_args(argv)
    paths = dict(p.split("=", 1) for p in args.path)
    results = evaluate(args.corpus, args.systems, args.limit, paths, args.misses,
                       log=lambda m: print(m, file=sys.stderr))
    print(report(results, args.families))
    if args.misses:
        for name, entry in results["corpora"].items():
            for system, misses in entry.get("misses", {}).items():
                print(f"\n{name} / {system}: misses and leaks (value in ⟦⟧)")
                for g, ctx in misses:
                    print(f"  {g:8} {ctx!r}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=1)
        print(f"\nJSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
