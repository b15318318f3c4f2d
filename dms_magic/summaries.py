"""What a chat_many frame says: summaries, the tidy wide form, plots and the HTML report.

``frame.dms`` (a pandas accessor, registered when this module is imported; chat_many imports it)
offers them on the frame a user already holds, the way ``frame.plot`` and ``frame.style`` do:
``wide()``, ``styled()``, ``plot()``, ``report(path)``. The same functions are importable here for
code that prefers plain calls. pandas is imported with this module (chat_many needs it anyway);
matplotlib only when a plot or a report is drawn.

The wide form follows pandas' missing-value convention for nullable dtypes: every column is
``string``, ``Int64`` or ``Float64``, so a missing value is ``<NA>`` everywhere (no ``None`` here and
``NaN`` there); latency is in milliseconds and says so in its name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dms_magic.comparison import MASKED, RESULT_COLUMNS, UNMASKED, VARIANTS, similarity

# Per variant, in this order, the wide form's columns (field -> dtype); side by side per field.
WIDE_FIELDS = {"answer": "string", "leaks": "Int64", "leaked": "string", "prompt_tokens": "Int64",
               "completion_tokens": "Int64", "latency_ms": "Float64", "error": "string", "request_id": "string"}
PLAIN_FIELDS = {k: v for k, v in WIDE_FIELDS.items() if k not in ("leaks", "leaked")}  # no leaks without compare
_LONG_ONLY = set(RESULT_COLUMNS) | {"prompt", "variant", "seed", "leaks"}  # the rest were carried from the input


def summarize(frame):
    """Per variant (one row "all" without compare): rows, answered, errors, error_rate, token totals,
    mean completion tokens, mean latency in ms; with compare also rows_with_leaks and leaks (total)."""
    import pandas as pd

    if "variant" in frame.columns:
        groups = [(v, frame[frame["variant"] == v]) for v in VARIANTS]
    else:
        groups = [("all", frame)]
    out = []
    for name, part in groups:
        answered = part["error_code"].isna()
        row = {"variant": name, "rows": len(part), "answered": int(answered.sum()),
               "errors": int((~answered).sum()),
               "error_rate": float((~answered).mean()) if len(part) else float("nan"),
               "prompt_tokens": int(part["prompt_tokens"].sum()),
               "completion_tokens": int(part["completion_tokens"].sum()),
               "mean_completion_tokens": float(part["completion_tokens"].astype("float64").mean()),
               "mean_latency_ms": float(part["latency"].mean()) * 1000.0}
        if "leaks" in part.columns:
            counts = part["leaks"].map(lambda v: len(v) if isinstance(v, list) else 0)
            row.update(rows_with_leaks=int((counts > 0).sum()), leaks=int(counts.sum()))
        out.append(row)
    return pd.DataFrame(out).set_index("variant")


def _paired(frame, column: str):
    """One column of a compare frame as one row per prompt, columns unmasked and masked."""
    import pandas as pd

    if "variant" not in frame.columns:
        raise ValueError("this summary needs a chat_many(..., compare=True) frame (with a variant column)")
    if column not in frame.columns:
        raise ValueError(f"this summary needs the {column!r} column of a chat_many(..., compare=True) frame")
    return pd.concat({v: frame.loc[frame["variant"] == v, column] for v in VARIANTS}, axis=1)


def token_deltas(frame):
    """Per prompt: each variant's prompt and completion tokens and the masked - unmasked deltas."""
    import pandas as pd

    prompt, completion = _paired(frame, "prompt_tokens"), _paired(frame, "completion_tokens")
    return pd.DataFrame({
        "prompt_tokens_unmasked": prompt[UNMASKED], "prompt_tokens_masked": prompt[MASKED],
        "prompt_delta": prompt[MASKED] - prompt[UNMASKED],
        "completion_tokens_unmasked": completion[UNMASKED], "completion_tokens_masked": completion[MASKED],
        "completion_delta": completion[MASKED] - completion[UNMASKED],
    })


def leak_counts(frame):
    """Per prompt: how many of the prompt's sensitive values each variant's answer contains."""
    return _paired(frame, "leaks").apply(lambda col: col.map(lambda v: len(v) if isinstance(v, list) else 0))


def answer_similarity(frame):
    """Per prompt: word-level similarity of the unmasked and masked answers (NaN if one failed)."""
    texts = _paired(frame, "text")
    return texts.apply(lambda row: similarity(row[UNMASKED], row[MASKED])
                       if isinstance(row[UNMASKED], str) and isinstance(row[MASKED], str) else float("nan"),
                       axis=1).rename("similarity")


# -- the wide form ------------------------------------------------------------------------------
def is_compare(frame) -> bool:
    return "variant" in frame.columns


def _check_long(frame) -> None:
    if not isinstance(frame, pd.DataFrame) or not {"prompt", "text", "error_code"} <= set(frame.columns):
        raise ValueError("expected a frame returned by dms_magic.chat_many (with prompt, text and error_code "
                         "columns)")


def _fields(row: dict) -> dict[str, Any]:
    """One long row's wide fields (plain values; NA where missing)."""
    error = row.get("error_code")
    answered = _missing(error)
    leaks = row.get("leaks")
    found = list(leaks) if isinstance(leaks, list) else None
    latency = row.get("latency")
    return {
        "answer": row.get("text") if isinstance(row.get("text"), str) else None,
        "leaks": len(found) if (found is not None and answered) else None,
        "leaked": ", ".join(found) if (found is not None and answered) else None,
        "prompt_tokens": None if _missing(row.get("prompt_tokens")) else int(row["prompt_tokens"]),
        "completion_tokens": None if _missing(row.get("completion_tokens")) else int(row["completion_tokens"]),
        "latency_ms": None if latency is None or _missing(latency) else float(latency) * 1000.0,
        "error": None if answered else f"{error}: {row.get('error_message') or ''}".rstrip(": "),
        "request_id": None if _missing(row.get("request_id")) else str(row["request_id"]),
    }


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, tuple, dict, str)) and bool(pd.isna(value)))


def wide(frame):
    """One row per prompt, indexed like the input prompts.

    Compare frames: carried input columns, ``prompt``, ``seed``, ``similarity`` (word similarity of
    the two answers), then per field the ``unmasked_*`` and ``masked_*`` columns side by side:
    answer, leaks (how many of the prompt's sensitive values the answer holds), leaked (those
    values), prompt_tokens, completion_tokens, latency_ms, error ("Code: message"), request_id.
    Plain frames: the same fields without a prefix. A variant an interrupted run never got is NA.
    """
    _check_long(frame)
    carried = [c for c in frame.columns if c not in _LONG_ONLY]
    records = frame.to_dict("records")
    groups: list[tuple[Any, dict, dict]] = []  # (index label, first long row, {variant: row})
    for label, row in zip(frame.index, records):
        variant = row.get("variant") if is_compare(frame) else None
        last = groups[-1] if groups else None
        if last is None or last[0] != label or last[1]["prompt"] != row["prompt"] or variant in last[2]:
            groups.append((label, row, {}))
        groups[-1][2][variant] = row
    variants = VARIANTS if is_compare(frame) else (None,)
    out = []
    for label, first, by_variant in groups:
        record = {c: first[c] for c in carried}
        record["prompt"] = first["prompt"]
        fields = {v: _fields(by_variant[v]) if v in by_variant else dict.fromkeys(WIDE_FIELDS) for v in variants}
        if is_compare(frame):
            record["seed"] = first.get("seed")
            texts = [fields[v]["answer"] for v in VARIANTS]
            record["similarity"] = similarity(*texts) if all(isinstance(t, str) for t in texts) else None
        for field in (WIDE_FIELDS if is_compare(frame) else PLAIN_FIELDS):
            for v in variants:
                record[f"{v}_{field}" if v else field] = fields[v][field]
        out.append(record)
    labels = [g[0] for g in groups]
    result = pd.DataFrame.from_records(out, columns=_wide_columns(carried, is_compare(frame)))
    result.index = pd.Index(labels, name=frame.index.name)
    types = {c: t for c, t in _wide_types(is_compare(frame)).items()}
    for c in carried:  # carried columns keep their dtype
        result[c] = result[c].astype(frame[c].dtype)
    result = result.astype(types)
    result.attrs = dict(frame.attrs)
    return result


def _wide_columns(carried: list, compare: bool) -> list[str]:
    head = list(carried) + ["prompt"] + (["seed", "similarity"] if compare else [])
    if not compare:
        return head + list(PLAIN_FIELDS)
    return head + [f"{v}_{field}" for field in WIDE_FIELDS for v in VARIANTS]


def _wide_types(compare: bool) -> dict[str, str]:
    types = {"prompt": "string"}
    if compare:
        types.update(seed="Int64", similarity="Float64")
        types.update({f"{v}_{field}": t for field, t in WIDE_FIELDS.items() for v in VARIANTS})
    else:
        types.update(PLAIN_FIELDS)
    return types


def _as_wide(frame):
    """A chat_many frame (long) or its wide form, as the wide form."""
    if isinstance(frame, pd.DataFrame) and "prompt" in frame.columns and "text" not in frame.columns \
            and ("answer" in frame.columns or f"{MASKED}_answer" in frame.columns):
        return frame
    return wide(frame)


def _wide_is_compare(table) -> bool:
    return f"{MASKED}_answer" in table.columns


def styled(frame):
    """The wide form as a pandas Styler for reading: answers wrapped and wide, model text escaped,
    latency in ms, similarity to 2 places, leaks highlighted, missing values as "—"; request ids
    and error columns with no error hidden (they stay in the data)."""
    from dms_magic.views.tables import style_wide

    table = _as_wide(frame)
    return style_wide(table, compare=_wide_is_compare(table))


# -- pictures -----------------------------------------------------------------------------------
def plot(frame, *, max_prompts: int = 30):
    """The run in one figure (a matplotlib Figure, shown by Jupyter, ``.savefig`` elsewhere).

    Compare frames: leaked values per prompt (unmasked vs masked), answer similarity, completion
    tokens and latency (ms) per prompt and variant. Plain frames: completion tokens and latency.
    Prompts are the labels (shortened); beyond ``max_prompts`` the first ones are drawn and the
    title says how many there are."""
    from dms_magic.views.plots import draw

    table = _as_wide(frame)
    return draw(table, compare=_wide_is_compare(table), max_prompts=max_prompts)


def report(frame, path: str | Path = "dms_magic-report.html", *, title: str | None = None) -> Path:
    """Write a self-contained HTML report of the run to ``path`` and return the path.

    Summary, the figure (PNG inline), the per-prompt table with leaked values highlighted, and
    provenance (backend, model, rule, time, dms_magic version; never a credential). It loads
    nothing from the network and every text from the model is escaped: it opens offline in any
    browser and can be mailed as one file."""
    from dms_magic.views.report import build

    if not isinstance(frame, pd.DataFrame) or "text" not in frame.columns:
        raise ValueError("report() needs the frame chat_many returned (long form, with its attrs), not its "
                         "wide form")
    table = wide(frame)
    compare = is_compare(frame)
    html = build(table, summarize(frame), _figure_png(table, compare), frame.attrs.get("provenance") or {},
                 compare=compare, attrs=frame.attrs, title=title)
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path


def _figure_png(table, compare: bool) -> bytes:
    import io

    from dms_magic.views.plots import draw

    figure = draw(table, compare=compare, max_prompts=30)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


@pd.api.extensions.register_dataframe_accessor("dms")
class DmsAccessor:
    """``frame.dms``: the other shapes of a chat_many frame (see the module's docstring)."""

    def __init__(self, frame):
        self._frame = frame

    def wide(self):
        return wide(self._frame)

    def styled(self):
        return styled(self._frame)

    def plot(self, *, max_prompts: int = 30):
        return plot(self._frame, max_prompts=max_prompts)

    def report(self, path: str | Path = "dms_magic-report.html", *, title: str | None = None) -> Path:
        return report(self._frame, path, title=title)

    def summary(self):
        return summarize(self._frame)


for _method in ("wide", "styled", "plot", "report"):  # one docstring, where Tab + ? finds it
    getattr(DmsAccessor, _method).__doc__ = globals()[_method].__doc__
