"""Every notebooks/*.ipynb runs top to bottom in a fresh kernel (this venv's ipykernel), against the
in-process sandbox: no endpoint and no credentials in the kernel's environment, so each notebook
exercises the default backend exactly as a new user sees it.

Cells that demonstrate an error carry the ``raises-exception`` tag: those must fail (and show it),
every other cell must succeed. ``DEMONSTRATES`` adds checks that each notebook shows what its
headings say (failures listed and resumed, masking changing usage and leaks, ...).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 180

# What a notebook's headings claim, checked in its own kernel after its last cell (appended to the
# copy that runs, never saved): a notebook that runs but demonstrates nothing fails here.
DEMONSTRATES = {
    "batch.ipynb": [
        'assert len(failed) > 0, "the failed-rows table is empty"',
        'assert len(unknown) > 0, "no row with an unknown outcome: the drops did not show"',
        'assert sorted(resent) == sorted(set(failed.index) - set(unknown)), "resume did not send exactly the failed rows"',
        'assert (again.loc[unknown, "error_code"] == "OutcomeUnknown").all() and again.attrs["reused"] == len(tickets) - len(failed) + len(unknown)',
        'assert sorted(final.index[final["request_id"].fillna("") != again["request_id"].fillna("")]) == sorted(unknown)',
        'assert final["error_code"].isna().all()',
    ],
    "compare.ipynb": [
        'assert cmp.leaks["unmasked"] and cmp.leaks["masked"] == [], cmp.leaks',
        'assert cmp.frame["prompt_tokens"].iloc[1] < cmp.frame["prompt_tokens"].iloc[0], "masking left usage alone"',
    ],
    "logprobs.ipynb": [
        'assert usage.loc["masked", "prompt_tokens"] < usage.loc["unmasked", "prompt_tokens"], usage',
        'assert summary["prob_at_choices"].is_monotonic_decreasing, summary',
        'assert summary["completion_tokens"].is_monotonic_increasing, summary',
        'assert spans["text"].str.len().min() > 5 and spans["min_prob"].max() < 0.9, spans',
    ],
    "quickstart.ipynb": ['assert streamed.text == plain.text'],
}

# The cell drawing the batch figure in one call shows it exactly once (not also as a text repr,
# not twice through pyplot's own display at the end of the cell).
PICTURES = {"batch.ipynb": "both.dms.plot()", "compare.ipynb": "frame.dms.plot()"}


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec for this interpreter, so the notebooks run with the packages under test
    (a machine-wide "python3" kernelspec may point at another Python)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "dms-magic-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dms_magic tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "dms-magic-test"


def _kernel_env(home: Path, jupyter_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "DMS_MAGIC_")) and k not in ("HOME",)}
    env["HOME"] = str(home)  # no ~/.aliyun or ~/.alibabacloud: the sandbox is the backend
    env["JUPYTER_PATH"] = str(jupyter_path)
    # the kernel imports the working tree under test, installed or not
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # keep matplotlib's font cache where it was: rebuilding it per notebook costs seconds
    env["MPLCONFIGDIR"] = os.environ.get("MPLCONFIGDIR") or str(Path.home() / ".config" / "matplotlib")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
@pytest.mark.slow
def test_notebook_runs_top_to_bottom(path, tmp_path, venv_kernel):
    nb = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
        f"{path.name} was committed with outputs; clear them (outputs can hold data and secrets)"
    nb.cells += [nbformat.v4.new_code_cell(check) for check in DEMONSTRATES.get(path.name, [])]
    status: dict[int, str] = {}  # cell index -> the kernel's execute_reply status ("ok" / "error")

    def executed(cell, cell_index, execute_reply):
        status[cell_index] = execute_reply["content"]["status"]

    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=venv_kernel,
                            resources={"metadata": {"path": str(path.parent)}}, on_cell_executed=executed)
    home = tmp_path / "home"
    home.mkdir()
    client.execute(env=_kernel_env(home, tmp_path / "jupyter"), cwd=str(path.parent))
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():  # nbclient does not run empty cells
            continue
        where = f"{path.name} cell {index}: {cell.source[:60]!r}"
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            # A demonstrated error must really happen, and be shown: a traceback (error output) or,
            # for a UsageError, IPython's one-line "UsageError: ..." on stderr.
            assert status.get(index) == "error", f"{where} is tagged raises-exception but ran without error"
            shown = errors or [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"
                               and "Error" in o.get("text", "")]
            assert shown, f"{where} failed but showed no error"
        else:
            assert status.get(index) == "ok" and not errors, \
                f"{where} failed: {(errors[0].get('ename'), errors[0].get('evalue')) if errors else status.get(index)}"
    if path.name in PICTURES:
        cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.strip() == PICTURES[path.name])
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, f"{path.name}: {PICTURES[path.name]} showed {len(images)} figures"
