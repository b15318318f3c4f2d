"""Issue 22's families 3-6 (IDs that fail a check, national phones, English street addresses,
precision on distractors) on generated person descriptions: see benchmarks/families22.py.

Rows: leaked share per family (target <= 1% for IDs and phones, <= 3% for addresses), precision
of the family's detections (>= 0.98), and the share of distractors touched (<= 1%).
"""
from __future__ import annotations

import os
import sys

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import families22  # noqa: E402

LEAK_TARGETS = {"ID": 0.01, "PHONE": 0.01, "ADDRESS": 0.03}


def run() -> list[dict]:
    res = families22.evaluate()
    rows = []
    for family, target in LEAK_TARGETS.items():
        r = res[family]
        rows.append({"case": f"issue 22 {family} leaked", "ratio": round(r["leak_rate"], 4), "target": target,
                     "n": r["n"], "precision": round(r["precision"], 4),
                     "note": "share of values still verbatim in mask(text).text (rule UserInfo)"})
    d = res["distractors"]
    rows.append({"case": "issue 22 distractors touched", "ratio": round(d["rate"], 4), "target": 0.01, "n": d["n"]})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
