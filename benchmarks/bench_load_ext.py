"""`%load_ext dms_magic` vs JupySQL's `%load_ext sql`, each in fresh IPython processes, same run.

What is timed: only the `%load_ext` line, inside a fresh process that has already started an
InteractiveShell (so interpreter and IPython start-up are excluded and the two extensions are
compared on their own import + registration cost). Each extension is loaded in ROUNDS fresh
processes, alternating, and the median is reported. Target: dms_magic <= 0.3x JupySQL.

Run: .venv/bin/python benchmarks/bench_load_ext.py  (needs `pip install jupysql`, bench-only).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

ROUNDS = 7
TARGET = 0.3
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in the child: start a shell, time one %load_ext, report seconds and what got imported.
_CHILD = r"""
import sys, time, json
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
t0 = time.perf_counter()
ip.run_line_magic("load_ext", sys.argv[1])
elapsed = time.perf_counter() - t0
heavy = sorted(m for m in ("pandas", "ipywidgets", "jieba", "alibabacloud_credentials", "sqlalchemy", "numpy")
               if m in sys.modules and m not in before)
print(json.dumps({"seconds": elapsed, "heavy": heavy}))
"""


def load_once(extension: str) -> dict:
    # PYTHONPATH: the checkout under test; PLOOMBER_*: keep JupySQL from phoning home mid-measurement
    env = dict(os.environ, PLOOMBER_STATS_ENABLED="false", PLOOMBER_VERSION_CHECK_DISABLED="true",
               PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    import json
    import time

    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, extension], capture_output=True, text=True, env=env,
                         check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    report["process_seconds"] = time.perf_counter() - started  # interpreter + IPython start + load
    return report


def measure() -> dict:
    """Median seconds per extension over ROUNDS alternating fresh processes."""
    import importlib.util

    if importlib.util.find_spec("sql") is None:  # the named peer is part of the [bench] extra
        raise RuntimeError("JupySQL is not installed: pip install -e '.[bench]'")
    runs: dict[str, list[float]] = {"dms_magic": [], "sql": []}
    process: dict[str, list[float]] = {"dms_magic": [], "sql": []}
    heavy: dict[str, list[str]] = {}
    for _ in range(ROUNDS):
        for extension in runs:  # alternate so machine noise hits both alike
            report = load_once(extension)
            runs[extension].append(report["seconds"])
            process[extension].append(report["process_seconds"])
            heavy[extension] = report["heavy"]
    return {"runs": runs, "process": process, "heavy": heavy}


def run() -> list[dict]:
    """Rows for benchmarks/run.py."""
    measured = measure()
    ours, peer = (statistics.median(measured["runs"][k]) for k in ("dms_magic", "sql"))
    whole_ours, whole_peer = (statistics.median(measured["process"][k]) for k in ("dms_magic", "sql"))
    return [{"variant": "%load_ext dms_magic vs %load_ext sql (JupySQL)", "ratio": ours / peer, "target": TARGET,
             "dms_magic_ms": ours * 1000, "jupysql_ms": peer * 1000,
             "note": f"median of {ROUNDS} fresh IPython processes each, only the %load_ext line timed"},
            {"variant": "whole process: start IPython + %load_ext", "ratio": whole_ours / whole_peer,
             "dms_magic_ms": whole_ours * 1000, "jupysql_ms": whole_peer * 1000,
             "note": "context only: includes interpreter and IPython start-up, the same for both"}]


def main() -> dict:
    measured = measure()
    runs, heavy = measured["runs"], measured["heavy"]
    ours, peer = statistics.median(runs["dms_magic"]), statistics.median(runs["sql"])
    ratio = ours / peer
    print(f"\n%load_ext in a fresh IPython process, median of {ROUNDS} processes each")
    print(f"{'extension':<22}{'median ms':>10}{'min ms':>9}{'max ms':>9}  heavy modules imported")
    for name, label in (("dms_magic", "dms_magic"), ("sql", "JupySQL (sql)")):
        times = runs[name]
        print(f"{label:<22}{statistics.median(times) * 1000:>10.1f}{min(times) * 1000:>9.1f}"
              f"{max(times) * 1000:>9.1f}  {', '.join(heavy[name]) or '-'}")
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"ratio dms_magic / JupySQL = {ratio:.3f}x  ({verdict} target <= {TARGET}x)")
    whole = {k: statistics.median(v) for k, v in measured["process"].items()}
    print(f"whole process (interpreter + IPython start + %load_ext): dms_magic {whole['dms_magic'] * 1000:.0f} ms, "
          f"JupySQL {whole['sql'] * 1000:.0f} ms, ratio {whole['dms_magic'] / whole['sql']:.3f}x")
    return {"dms_magic_ms": ours * 1000, "jupysql_ms": peer * 1000, "ratio": ratio}


if __name__ == "__main__":
    main()
