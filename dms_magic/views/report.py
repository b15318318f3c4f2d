"""The HTML report of a batch: one self-contained file that opens offline in any browser.

No external CSS, script, font or image: the style is inline in the page, the figure is a PNG in a
``data:`` URL, and there is no script at all. Every text that comes from the model or the input
(answers, prompts, leaked values, error messages, carried columns) goes through ``esc``; leaked
values are highlighted by splitting the raw text on them and escaping each piece, never by
pattern-replacing inside escaped HTML. The provenance lists backend, model, rule, times and the
package version: it is built from a fixed list of keys, so a credential cannot slip in.
"""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from typing import Any

from dms_magic.views.styles import esc

PROVENANCE_KEYS = (("backend", "backend"), ("model", "model"), ("rule", "masking rule"),
                   ("started", "started (UTC)"), ("finished", "finished (UTC)"), ("dms_magic", "dms_magic version"))
CSS = """
:root { color-scheme: light dark; --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --head:#f6f8fa;
        --leak:rgba(207,34,46,0.22); --clean:rgba(26,127,55,0.16); }
@media (prefers-color-scheme: dark) { :root { --ink:#e6edf3; --muted:#9198a1; --line:#3d444d; --bg:#0d1117;
        --head:#151b23; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg);
       margin: 24px auto; max-width: 1400px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.muted { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--head); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { white-space: pre-wrap; min-width: 18em; max-width: 36em; }
td.leak { background: var(--leak); } td.clean { background: var(--clean); }
mark { background: var(--leak); color: inherit; padding: 0 2px; border-radius: 2px; }
img { max-width: 100%; height: auto; background: #fff; }
"""
_NUMBER_FIELDS = {"leaks", "prompt_tokens", "completion_tokens", "latency_ms", "similarity", "seed"}


def build(table, summary, figure_png: bytes, provenance: Mapping[str, Any], *, compare: bool,
          attrs: Mapping[str, Any], title: str | None = None) -> str:
    title = title or ("Masked vs unmasked: batch report" if compare else "Batch report")
    image = base64.b64encode(figure_png).decode("ascii")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>{_provenance(provenance, attrs)}"
        f"<h2>Summary</h2>{_summary(summary)}"
        f"<h2>Charts</h2><img alt=\"the batch figure: leaks, similarity, tokens and latency per prompt\" "
        f"src=\"data:image/png;base64,{image}\">"
        f"<h2>Per prompt</h2>{_rows(table, compare)}"
        "</body></html>\n")


def _provenance(provenance: Mapping[str, Any], attrs: Mapping[str, Any]) -> str:
    parts = [f"{esc(label)}: <b>{esc(provenance.get(key) or ('not masked' if key == 'rule' else 'default' if key == 'model' else '?'))}</b>"
             for key, label in PROVENANCE_KEYS if key in provenance or key in ("model", "rule")]
    if attrs.get("interrupted"):
        parts.append(f"<b>stopped by Ctrl-C</b>: {esc(attrs.get('not_sent', 0))} prompts not sent")
    if attrs.get("outcome_unknown"):
        parts.append(f"{esc(attrs['outcome_unknown'])} rows outcome unknown")
    if attrs.get("reused"):
        parts.append(f"{esc(attrs['reused'])} rows kept from an earlier run")
    return f"<p class=\"muted\">{' · '.join(parts)}</p>"


def _summary(summary) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in ["variant", *summary.columns])
    body = []
    for name, row in summary.iterrows():
        cells = "".join(f"<td class=\"num\" data-col=\"{esc(c)}\">{esc(_number(row[c], c))}</td>"
                        for c in summary.columns)
        body.append(f"<tr data-variant=\"{esc(name)}\"><th>{esc(name)}</th>{cells}</tr>")
    return f"<table class=\"summary\"><tr>{head}</tr>{''.join(body)}</table>"


def _number(value: Any, column: str) -> str:
    if _na(value):
        return "—"
    if isinstance(value, float) and not float(value).is_integer():
        return f"{value:.3f}" if column == "error_rate" else f"{value:.1f}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _rows(table, compare: bool) -> str:
    prefixes = ("unmasked_", "masked_") if compare else ("",)
    fields = ["answer", "leaks", "prompt_tokens", "completion_tokens", "latency_ms", "error"]
    columns = [c for c in table.columns if c not in {f"{p}{f}" for p in prefixes
                                                      for f in ("request_id", "leaked", *fields)}]
    columns = [c for c in columns if c not in ("seed",)]
    # error columns with no error take no width (as in the notebook's styled table)
    fields = [f for f in fields if f != "error" or any(table[f"{p}error"].notna().any() for p in prefixes)]
    head = ["#"] + columns + [f"{p}{f}" for f in fields for p in prefixes]
    out = [f"<table class=\"rows\"><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr>"]
    for label, row in table.iterrows():
        cells = [f"<td>{esc(label)}</td>"]
        cells += [_cell(c, row[c]) for c in columns]
        for field in fields:
            for p in prefixes:
                column = f"{p}{field}"
                if field == "answer":
                    leaked = row.get(f"{p}leaked")
                    values = [] if _na(leaked) or not leaked else str(leaked).split(", ")
                    cells.append(f"<td class=\"text\" data-col=\"{esc(column)}\">{highlight(row[column], values)}</td>")
                elif field == "leaks" and compare:
                    count = row[column]
                    tint = "" if _na(count) else (" leak" if count > 0 else " clean")
                    cells.append(f"<td class=\"num{tint}\" data-col=\"{esc(column)}\">{esc(_shown(count, column))}</td>")
                else:
                    cells.append(_cell(column, row[column]))
        out.append(f"<tr>{''.join(cells)}</tr>")
    return "".join(out) + "</table>"


def _na(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or another container: a value
        return False


def _shown(value: Any, column: str) -> str:
    if _na(value):
        return "—"
    if column.endswith("latency_ms"):
        return f"{float(value):.0f}"
    if column == "similarity":
        return f"{float(value):.2f}"
    return str(value)


def _cell(column: str, value: Any) -> str:
    number = column.split("_", 1)[-1] in _NUMBER_FIELDS or column in _NUMBER_FIELDS
    kind = "num" if number else "text" if column in ("prompt",) or column.endswith("error") else ""
    return f"<td class=\"{kind}\" data-col=\"{esc(column)}\">{esc(_shown(value, column))}</td>"


def highlight(text: Any, values: list[str]) -> str:
    """``text`` escaped, with each of ``values`` wrapped in <mark> (split first, escape each piece)."""
    if _na(text):
        return "—"
    text = str(text)
    values = sorted({v for v in values if v}, key=len, reverse=True)
    if not values:
        return html.escape(text)
    pieces = re.split("(" + "|".join(re.escape(v) for v in values) + ")", text)
    return "".join(f"<mark>{html.escape(p)}</mark>" if i % 2 else html.escape(p) for i, p in enumerate(pieces))
