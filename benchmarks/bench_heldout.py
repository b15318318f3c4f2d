"""Masking on the held-out corpus (benchmarks/heldout): issue 16's acceptance figures as rows.

The corpus was written without reading the recognizers (see benchmarks/heldout/corpus.py); the
match rules are in benchmarks/heldout/evaluate.py. Unlike bench_masking's rows, a recall row's
``ratio`` here is dms_magic's absolute recall (rule UserInfo; USCC under rule All) against the
issue's target, with Presidio's recall on the same text beside it as ``presidio``; ``leaked`` is
the share of values still verbatim in the masked text. The last rows: the worst structured
entity's leaks, precision over every detection, and the share of distractors touched.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # benchmarks.heldout

from benchmarks.heldout import evaluate as E  # noqa: E402


def _r(x):
    return round(x, 4) if isinstance(x, float) else x


def run() -> list[dict]:
    out = E.evaluate()
    rows = []
    for entity in E.ENTITIES:
        d, p = out["dms_magic"][entity], out["presidio"][entity]
        row = {"case": f"heldout recall {entity}", "ratio": d["recall"], "target": E.RECALL_TARGET[entity],
               "higher_is_better": True, "n": d["n"], "leaked": _r(d["leaked"]), "precision": _r(d["precision"]),
               "presidio": _r(p["recall"]), "presidio_leaked": _r(p["leaked"])}
        if entity == "CHINESE_ADDRESS":
            row["note"] = f"street part; whole address covered {d['full']:.3f}"
        rows.append(row)
    worst = max(E.STRUCTURED, key=lambda e: out["dms_magic"][e]["leaked"])
    rows.append({"case": "heldout leaked values, worst structured entity", "ratio": out["dms_magic"][worst]["leaked"],
                 "target": E.LEAK_TARGET, "entity": worst,
                 "note": "share of labelled values still verbatim in the masked text"})
    rows.append({"case": "heldout precision, all detections (UserInfo)", "ratio": out["dms_magic_precision_overall"],
                 "target": E.PRECISION_TARGET, "higher_is_better": True,
                 "presidio": _r(out["presidio_precision_overall"])})
    dist = out["distractors"]
    rows.append({"case": "heldout distractors touched", "ratio": sum(dist["dms_magic"].values()) / dist["total"],
                 "target": E.DISTRACTOR_TARGET, "n": dist["total"],
                 "presidio": _r(sum(dist["presidio"].values()) / dist["total"]),
                 "note": "share of labelled non-PII look-alikes overlapped by any detection"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
