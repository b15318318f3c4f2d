"""The wide form of a batch as a pandas Styler: readable in a notebook, Light and Dark.

What the default DataFrame display gets wrong for a batch: answers squeezed to a sliver while
request ids and empty error columns take the width, ``0.018025`` for a latency. Here answers are
wrapped in a wide column, request ids and all-empty error columns are hidden (still in the data),
latency reads "18 ms", and a cell that leaked is tinted. Everything from the model is escaped
(``escape="html"``): a Styler does not escape unless asked. Colours are translucent so the
theme's text colour stays readable on them.
"""
from __future__ import annotations

from typing import Any

LEAK_CELL = "background-color:rgba(207,34,46,0.22)"  # a red tint, readable with light or dark text
CLEAN_CELL = "background-color:rgba(26,127,55,0.16)"
ANSWER_CELL = {"white-space": "pre-wrap", "min-width": "22em", "max-width": "38em", "text-align": "left",
               "vertical-align": "top"}
PROMPT_CELL = {"white-space": "pre-wrap", "min-width": "12em", "max-width": "22em", "text-align": "left",
               "vertical-align": "top"}
MISSING = "—"


def style_wide(table, *, compare: bool):
    prefixes = ("unmasked_", "masked_") if compare else ("",)
    answers = [f"{p}answer" for p in prefixes]
    hidden = [f"{p}request_id" for p in prefixes]
    hidden += [f"{p}error" for p in prefixes if table[f"{p}error"].isna().all()]
    formats: dict[str, Any] = {f"{p}latency_ms": _ms for p in prefixes}
    if compare:
        formats["similarity"] = "{:.2f}"
    # One call: a second format() call would drop the first one's escaping for every column.
    styler = table.style.format(formats, na_rep=MISSING, escape="html")
    styler = styler.set_properties(subset=answers, **ANSWER_CELL).set_properties(subset=["prompt"], **PROMPT_CELL)
    if compare:
        leaks = [f"{p}leaks" for p in prefixes] + [f"{p}leaked" for p in prefixes]
        styler = styler.map(_leak_tint, subset=[f"{p}leaks" for p in prefixes])
        styler = styler.map(lambda v: LEAK_CELL if isinstance(v, str) and v else "", subset=leaks[2:])
    styler = styler.hide(subset=hidden, axis="columns")
    return styler.set_table_styles([{"selector": "thead th", "props": "text-align:left;vertical-align:bottom"},
                                    {"selector": "tbody th, td", "props": "vertical-align:top"}])


def _ms(value: Any) -> str:
    return f"{value:,.0f} ms"


def _leak_tint(value: Any) -> str:
    try:
        count = int(value)
    except (TypeError, ValueError):  # NA: not answered
        return ""
    return LEAK_CELL if count > 0 else CLEAN_CELL
