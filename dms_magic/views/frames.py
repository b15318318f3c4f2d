"""Usage and logprobs as pandas DataFrames, built column-wise.

pandas (and numpy) are imported inside the functions: ``import dms_magic`` must stay cheap.

Why column-wise: a DataFrame built from a dict of ready columns is one allocation per column,
while ``pandas.json_normalize`` / a list of row dicts walks every record in Python and then
infers types. For an 8192-token answer with 5 alternatives each, that difference is what
benchmarks/bench_frames.py measures.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from operator import itemgetter
from typing import Any

from dms_magic.wire.values import _canon_token, flat_usage, normalize_token_logprobs, normalize_usage, to_float

_TOKEN = itemgetter("token")
_LOGPROB = itemgetter("logprob")
_BYTES = itemgetter("bytes")
_TOP = itemgetter("top_logprobs")

USAGE_COLUMNS = ("prompt_tokens", "completion_tokens", "total_tokens")


def usage_frame(usage: Mapping[str, Any] | None):
    """1-row DataFrame: ``prompt_tokens``, ``completion_tokens``, ``total_tokens`` (nullable
    integers, always present) then any other counters, and detail sub-counters flattened as
    ``<details>.<name>`` (e.g. ``prompt_tokens_details.cached_tokens``).

    Accepts the wire's PascalCase/string form or ``ChatResult.usage_dict``.
    """
    import pandas as pd

    flat: dict[str, Any] = {name: None for name in USAGE_COLUMNS}
    flat.update(flat_usage(normalize_usage(usage or {})))
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

    ``position``      int, 0-based index of the token in the answer
    ``token``         str, the generated token's text
    ``logprob``       float, its natural-log probability (NaN when missing)
    ``prob``          float, ``exp(logprob)``
    ``bytes``         list[int] | None, the token's UTF-8 bytes (tokens may split a character)
    ``top_logprobs``  list[dict], the top alternatives at this position, the service's own list
                      uncopied (DashScope sends ``{"token", "logprob", "bytes"}``), most likely
                      first; ``[]`` when none. Nothing in it is converted (see
                      ``values.normalize_token_logprobs`` for when key case is): ``alternatives_frame``
                      reads them in any key case and gives them typed (float logprobs).

    The alternatives are left unopened here: for one row per alternative (the tidy form, joinable
    on ``position``) use ``alternatives_frame`` / ``ChatResult.alternatives``. Why: an 8k-token
    answer with 5 alternatives holds 40,960 alternative dicts, and reading them costs several times
    what the rest of this frame does (benchmarks/bench_frames.py); an analysis that wants them pays
    for them once, in the long form, where pandas can work on them column-wise.

    ``content`` is DashScope's ``{"content": [...]}`` in any key case, or the list itself.
    """
    tokens = normalize_token_logprobs(content)
    try:
        return _logprobs_frame(tokens)
    except (KeyError, TypeError, ValueError, AttributeError):
        # An item shaped unlike the first (missing keys, other key case, not a dict, a logprob
        # given as a string, junk in place of the alternatives): normalise every item, then read
        # each one tolerantly.
        return _logprobs_frame([_canon_token(t) for t in tokens if isinstance(t, Mapping)], tolerant=True)


def _logprobs_frame(tokens: list[dict], tolerant: bool = False):
    import numpy as np
    import pandas as pd

    n = len(tokens)
    if tolerant:
        token_text = [t.get("token", "") for t in tokens]
        logprob = _floats([t.get("logprob") for t in tokens])
        byte_values = [t.get("bytes") for t in tokens]
    else:  # strict C-level lookups: KeyError/TypeError/ValueError sends the caller to the tolerant path
        token_text = list(map(_TOKEN, tokens))
        logprob = np.fromiter(map(_LOGPROB, tokens), dtype=np.float64, count=n)
        byte_values = list(map(_BYTES, tokens))
    alternatives = _rows_of(tokens, tolerant)
    if not tolerant and n and set(map(type, alternatives)) != {list}:
        raise TypeError("junk in place of an alternatives list")  # the tolerant path drops it
    return pd.DataFrame({
        "position": np.arange(n, dtype=np.int64),
        "token": _objects(token_text),
        "logprob": logprob,
        "prob": np.exp(logprob),
        "bytes": _objects(byte_values),
        "top_logprobs": _objects(alternatives),
    }, copy=False)  # every column is a fresh array made here: nothing to protect by copying


def _rows_of(tokens: list[dict], tolerant: bool) -> list:
    """Each token's list of alternatives (strict lookups unless ``tolerant``, which reads junk in
    place of the list as none, and drops entries that are not dicts)."""
    if tolerant:
        return [_alternatives_of(t.get("top_logprobs")) for t in tokens]
    return list(map(_TOP, tokens))


def _alternatives_of(alternatives: Any) -> list:
    if not isinstance(alternatives, list):
        return []
    return [a for a in alternatives if isinstance(a, Mapping)]


def _flat_alternatives(rows: list, tolerant: bool) -> tuple[list[int], list, list]:
    """(count per row, every alternative's token, every alternative's logprob), flattened.

    40k alternatives for an 8k-token answer: each step is one C-level pass (chain, itemgetter)
    over the flat list; reading that many dicts is most of the alternatives frame's cost.
    """
    counts = list(map(len, rows))
    flat = list(chain.from_iterable(rows))
    alt_tokens = [a.get("token", "") for a in flat] if tolerant else list(map(_TOKEN, flat))
    alt_logprobs = [a.get("logprob") for a in flat] if tolerant else list(map(_LOGPROB, flat))
    try:
        sum(alt_logprobs)  # a cheap C-level check that every logprob is a number
    except TypeError:  # strings or None from a tolerant reader
        alt_logprobs = _floats(alt_logprobs).tolist()
    return counts, alt_tokens, alt_logprobs


def alternatives_frame(content: Any):
    """The top alternatives in tidy long form: one row per (position, rank).

    Columns: ``position`` (of the generated token), ``rank`` (0 = most likely), ``token``,
    ``logprob``, ``prob``, ``chosen`` (this alternative is the token that was generated).
    """
    tokens = normalize_token_logprobs(content)
    try:
        return _alternatives_frame(tokens)
    except (KeyError, TypeError, AttributeError):  # items shaped unlike the first: see logprobs_frame
        return _alternatives_frame([_canon_token(t) for t in tokens if isinstance(t, Mapping)], tolerant=True)


def _alternatives_frame(tokens: list[dict], tolerant: bool = False):
    import numpy as np
    import pandas as pd

    counts, alt_tokens, alt_logprobs = _flat_alternatives(_rows_of(tokens, tolerant), tolerant)
    chosen_tokens = [t.get("token", "") for t in tokens] if tolerant else list(map(_TOKEN, tokens))
    counts_array = np.asarray(counts, dtype=np.int64)
    total = int(counts_array.sum())
    position = np.repeat(np.arange(len(tokens), dtype=np.int64), counts_array)
    starts = np.cumsum(counts_array) - counts_array
    rank = np.arange(total, dtype=np.int64) - np.repeat(starts, counts_array)
    logprob = np.asarray(alt_logprobs, dtype=np.float64)
    chosen = (np.asarray(alt_tokens, dtype=object) == np.repeat(np.asarray(chosen_tokens, dtype=object),
                                                                 counts_array)) if total else np.zeros(0, bool)
    return pd.DataFrame({
        "position": position,
        "rank": rank,
        "token": _objects(alt_tokens),
        "logprob": logprob,
        "prob": np.exp(logprob),
        "chosen": chosen,
    }, copy=False)


def _objects(values: list):
    """An object ndarray holding ``values`` one per cell (tuples and lists stay whole).

    pandas takes an ndarray column as is, but walks a list column element by element to infer
    its type: for the three object columns of an 8k-token ``.logprobs`` that walk costs 0.60 ms,
    the ndarrays 0.47 ms.
    """
    import numpy as np

    return np.fromiter(values, dtype=object, count=len(values))


def _floats(values: list):
    """float64 array; numbers given as strings are parsed, missing/junk become NaN."""
    import numpy as np

    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        parsed = (to_float(v) for v in values)
        return np.fromiter((np.nan if v is None else v for v in parsed), dtype=np.float64, count=len(values))
