"""The batch figure: what a notebook drew by hand in 10-15 lines, in one call (summaries.plot).

Horizontal bars, one row per prompt, so the prompts themselves are the labels (shortened) and a
long list reads downwards; one legend for the figure, above the panels, never over a bar.
matplotlib is imported here only, on first use. The figure is made by pyplot and closed at once:
returned, Jupyter shows it once (an open pyplot figure would be shown a second time at the end
of the cell); ``savefig`` works as usual.

Prompts in a script the installed fonts cannot draw (CJK on a machine without a CJK font) are
labelled by their row instead of as empty boxes, with a note saying so.
"""
from __future__ import annotations

import warnings
from typing import Any

COLOURS = {"unmasked": "#cf222e", "masked": "#1a7f37", None: "#0969da"}  # red: values sent; green: masked
LABEL_CHARS = 28
# Fonts with CJK glyphs on common systems (macOS, Windows, Linux), tried after the default one.
CJK_FONTS = ("PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "SimHei", "Noto Sans CJK SC", "Noto Sans SC",
             "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback")


def short_label(prompt: Any, limit: int = LABEL_CHARS) -> str:
    """A prompt as one short line: first line, spaces squeezed, cut with an ellipsis."""
    text = prompt if isinstance(prompt, str) else str(prompt)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _fonts() -> tuple[list[str], set[int]]:
    """(font family list, the code points those fonts can draw)."""
    from matplotlib import font_manager, ft2font, rcParams

    names = {f.name for f in font_manager.fontManager.ttflist}
    families = list(rcParams["font.sans-serif"][:1]) + [name for name in CJK_FONTS if name in names]
    drawable: set[int] = set()
    for family in families:
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=True)
        try:
            drawable |= set(ft2font.FT2Font(path).get_charmap())
        except (OSError, RuntimeError):  # an unreadable font file: it draws nothing for us
            continue
    return families, drawable


def labels_for(table, drawable: set[int]) -> tuple[list[str], bool]:
    """(one label per row, whether rows were numbered for lack of a font)."""
    numbered = str(table.index.dtype).startswith("int") and list(table.index) == list(range(len(table)))
    labels, replaced = [], False
    for label, prompt in zip(table.index, table["prompt"]):
        text = short_label(prompt)
        if any(ord(ch) not in drawable for ch in text if not ch.isspace()):
            text, replaced = f"prompt {label}" if numbered else str(label), True
        elif not numbered:
            text = f"{label} · {text}"
        labels.append(text)
    return labels, replaced


def draw(table, *, compare: bool, max_prompts: int = 30):
    import matplotlib.pyplot as plt

    total = len(table)
    shown = table.iloc[:max_prompts]
    families, drawable = _fonts()
    labels, replaced = labels_for(shown, drawable)
    n = max(len(shown), 1)
    panels = _panels(compare)
    rows, columns = (2, 2) if compare else (1, 2)
    panel_height = 0.3 * n + 1.0  # inches: bars, title and axis label
    height = rows * panel_height + 0.3  # and the heading line
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": families, "axes.titlesize": 11,
                         "axes.titlelocation": "left", "axes.spines.top": False, "axes.spines.right": False}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        figure, axes = plt.subplots(rows, columns, figsize=(11, height), sharey=True, squeeze=False)
        for ax, (title, field, unit) in zip(axes.flat, panels):
            _bars(ax, shown, field, compare, labels, title, unit)
        axes[0][0].invert_yaxis()  # the first prompt on top, as in the table
        heading = f"{len(shown)} of {total} prompts" if total > len(shown) else f"{total} prompts"
        if replaced:
            heading += " · numbered as in the frame (no font here for their script)"
        figure.suptitle(heading, x=0.01, y=1 - 0.08 / height, ha="left", va="top", fontsize=10)
        if compare:  # one legend, in the heading line, never over a bar
            handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[v]) for v in ("unmasked", "masked")]
            figure.legend(handles, ["unmasked", "masked"], loc="upper right", bbox_to_anchor=(0.99, 1), ncol=2,
                          frameon=False, fontsize=9)
        figure.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height), h_pad=1.2)
    plt.close(figure)
    return figure


def _panels(compare: bool) -> list[tuple[str, str, str]]:
    """(title, wide field, axis label) per panel."""
    if compare:
        return [("leaked values", "leaks", "values of the prompt in the answer"),
                ("answer similarity", "similarity", "masked vs unmasked (0-1)"),
                ("completion tokens", "completion_tokens", "tokens"),
                ("latency", "latency_ms", "ms")]
    return [("completion tokens", "completion_tokens", "tokens"), ("latency", "latency_ms", "ms")]


def _values(table, column: str) -> list[float]:
    return [float("nan") if _na(v) else float(v) for v in table[column]]


def _na(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _bars(ax, table, field: str, compare: bool, labels: list[str], title: str, unit: str) -> None:
    positions = list(range(len(table)))
    if field == "similarity":
        ax.barh(positions, _values(table, "similarity"), color="#8250df", height=0.6)
        ax.set_xlim(0, 1)
    elif compare:
        height = 0.38
        for offset, variant in ((-height / 2, "unmasked"), (height / 2, "masked")):
            ax.barh([p + offset for p in positions], _values(table, f"{variant}_{field}"), height=height,
                    color=COLOURS[variant])
    else:
        ax.barh(positions, _values(table, field), color=COLOURS[None], height=0.6)
    if field == "leaks":
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_yticks(positions, labels)
    ax.set_title(title)
    ax.set_xlabel(unit)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
