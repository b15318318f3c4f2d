"""Usage and logprobs as pandas DataFrames, built column-wise.

pandas (and numpy) are imported inside the functions: ``import dms_magic`` must stay cheap.

Why column-wise: a DataFrame built from a dict of ready columns is one allocation per column,
while ``pandas.json_normalize`` / a list of row dicts walks every record in Python and then
infers types. For an 8192-token answer with 5 alternatives each, that difference is what
benchmarks/bench_frames.py measures.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dms_magic.result import normalize_token_logprobs, normalize_usage

USAGE_COLUMNS = ("prompt_tokens", "completion_tokens", "total_tokens")


def usage_frame(usage: Mapping[str, Any] | None):
    """1-row DataFrame: ``prompt_tokens``, ``completion_tokens``, ``total_tokens`` (nullable
    integers, always present) then any other counters, and detail sub-counters flattened as
    ``<details>.<name>`` (e.g. ``prompt_tokens_details.cached_tokens``).

    Accepts the wire's PascalCase/string form or ``ChatResult.usage_dict``.
    """
    import pandas as pd

    flat: dict[str, Any] = {name: None for name in USAGE_COLUMNS}
    for key, value in normalize_usage(usage or {}).items():
        if isinstance(value, Mapping):
            for sub, number in value.items():
                flat[f"{key}.{sub}"] = number
        else:
            flat[key] = value
    frame = pd.DataFrame({k: [v] for k, v in flat.items()})
    for column in frame.columns:
        values = frame[column]
        if values.isna().all() or pd.api.types.is_integer_dtype(values) or _all_int(values):
            frame[column] = values.astype("Int64")
    return frame


def _all_int(values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values if v is not None)


def logprobs_frame(content: Any):
    """One row per generated token.

    Columns:

    ``position``  int, 0-based index of the token in the answer
    ``token``     str, the generated token's text
    ``logprob``   float, its natural-log probability
    ``prob``      float, ``exp(logprob)``
    ``bytes``     list[int] | None, the token's UTF-8 bytes (tokens may split a character)
    ``top_tokens``    list[str], the top alternatives at this position, most likely first
    ``top_logprobs``  list[float], their logprobs, aligned with ``top_tokens``

    The alternatives stay on the token's row as two aligned lists (one row per token keeps the
    frame joinable with the text); for one row per alternative use ``alternatives_frame`` (the
    tidy long form: position, rank, token, logprob, prob) or
    ``df.explode(["top_tokens", "top_logprobs"])``.

    ``content`` is DashScope's ``{"content": [...]}`` in any key case, or the list itself.
    """
    import numpy as np
    import pandas as pd

    tokens = normalize_token_logprobs(content)
    n = len(tokens)
    logprob = _floats([t.get("logprob") for t in tokens])
    top = [t.get("top_logprobs") or () for t in tokens]
    columns = {
        "position": np.arange(n, dtype=np.int64),
        "token": [t.get("token", "") for t in tokens],
        "logprob": logprob,
        "prob": np.exp(logprob),
        "bytes": [t.get("bytes") for t in tokens],
        "top_tokens": [[a.get("token", "") for a in alts] for alts in top],
        "top_logprobs": [_float_list(alts) for alts in top],
    }
    return pd.DataFrame(columns)


def alternatives_frame(content: Any):
    """The top alternatives in tidy long form: one row per (position, rank).

    Columns: ``position`` (of the generated token), ``rank`` (0 = most likely), ``token``,
    ``logprob``, ``prob``, ``chosen`` (this alternative is the token that was generated).
    """
    import numpy as np
    import pandas as pd

    tokens = normalize_token_logprobs(content)
    counts = [len(t.get("top_logprobs") or ()) for t in tokens]
    alts = [a for t in tokens for a in (t.get("top_logprobs") or ())]
    position = np.repeat(np.arange(len(tokens), dtype=np.int64), counts)
    rank = np.concatenate([np.arange(c, dtype=np.int64) for c in counts]) if alts else np.zeros(0, np.int64)
    alt_tokens = [a.get("token", "") for a in alts]
    logprob = _floats([a.get("logprob") for a in alts])
    chosen_text = np.repeat(np.array([t.get("token", "") for t in tokens], dtype=object), counts)
    return pd.DataFrame({
        "position": position,
        "rank": rank,
        "token": alt_tokens,
        "logprob": logprob,
        "prob": np.exp(logprob),
        "chosen": np.asarray(alt_tokens, dtype=object) == chosen_text if alts else np.zeros(0, bool),
    })


def _floats(values: list):
    """float64 array; numbers given as strings are parsed, missing/junk become NaN."""
    import numpy as np

    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                out[i] = np.nan
        return out


def _float_list(alts) -> list[float]:
    out = []
    for a in alts:
        v = a.get("logprob")
        if type(v) is not float:  # noqa: E721 - strings/ints/None from a tolerant reader
            try:
                v = float(v)
            except (TypeError, ValueError):
                v = float("nan")
        out.append(v)
    return out
