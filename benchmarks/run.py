"""Run every benchmarks/bench_*.py module's ``run()`` and print one table.

    python benchmarks/run.py              # all of them
    python benchmarks/run.py client frames  # only bench_client.py and bench_frames.py

Each ``run()`` returns a list of dict rows. Recognised keys: ``variant`` / ``case`` / ``name`` (the
row's label), ``ratio`` (ours / named peer, or x ideal: the module says which in ``note``),
``target`` (the ratio the project aims for; a row meets it when ratio <= target, or >= target when
``higher_is_better`` is true) and ``note``. Every other key is shown as ``key=value``. Each
module runs in a fresh interpreter of its own (``run_isolated``); its peers run beside it there.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LABEL_KEYS = ("variant", "case", "name")
SHOWN_KEYS = set(LABEL_KEYS) | {"ratio", "target", "note", "higher_is_better"}


def modules(selected: list[str]) -> list[str]:
    names = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))
    if selected:
        names = [n for n in names if any(n == f"bench_{s}" or n == s or n.startswith(f"bench_{s}") for s in selected)]
    return names


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def verdict(row: dict) -> str:
    ratio, target = row.get("ratio"), row.get("target")
    if ratio is None or target is None:
        return ""
    ok = ratio >= target if row.get("higher_is_better") else ratio <= target
    return "meets" if ok else "MISSES"


def print_table(results: list[tuple[str, dict]]) -> None:
    header = f"{'module':16} {'row':48} {'ratio':>8} {'target':>8} {'':6}  details"
    print(header)
    print("-" * len(header))
    for module, row in results:
        label = next((str(row[k]) for k in LABEL_KEYS if k in row), "")
        ratio = f"{row['ratio']:8.3f}" if isinstance(row.get("ratio"), (int, float)) else f"{'':8}"
        target = row.get("target")
        target_text = (("≥" if row.get("higher_is_better") else "≤") + f"{target:g}") if target is not None else ""
        details = "  ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k not in SHOWN_KEYS)
        note = f"  [{row['note']}]" if row.get("note") else ""
        print(f"{module.removeprefix('bench_'):16} {label[:48]:48} {ratio} {target_text:>8} {verdict(row):6}  "
              f"{details}{note}")


def run_isolated(name: str) -> list[dict]:
    """One module's rows, measured in a fresh interpreter.

    Each module runs alone so that none inherits another's state: after bench_batch (pandas, tqdm,
    tens of thousands of live objects) both clients of bench_client spent 25-45% more CPU per
    call, and not in the same proportion, which moved their ratio by up to 0.1.
    """
    import json
    import subprocess

    child = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", name],
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if child.returncode != 0:
        raise RuntimeError(f"{name} exited with {child.returncode} (its traceback is above)")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:  # the child side of run_isolated: one module, rows as JSON
        sys.path.insert(0, ROOT)  # the package, when run from a checkout
        import json

        print(json.dumps(load(argv[1]).run(), default=str))
        return 0
    results: list[tuple[str, dict]] = []
    failed = []
    for name in modules(argv):
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows = run_isolated(name)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        results.extend((name, row) for row in rows)
    print_table(results)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
