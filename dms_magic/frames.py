"""Usage and logprobs as pandas DataFrames, built column-wise.

pandas (and numpy) are imported inside the functions: ``import dms_magic`` must stay cheap.

Why column-wise: a DataFrame built from a dict of ready columns is one allocation per column,
while ``pandas.json_normalize`` / a list of row dicts walks every record in Python and then
infers types. For an 8192-token answer with 5 alternatives each, that difference is what
benchmarks/bench_frames.py measures.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from typing import Any

from dms_magic.result import _canon_token, flat_usage, normalize_token_logprobs, normalize_usage, to_float

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
    ``top_tokens``    tuple[str, ...], the top alternatives at this position, most likely first
    ``top_logprobs``  tuple[float, ...], their logprobs, aligned with ``top_tokens``

    The alternatives stay on the token's row as two aligned tuples (one row per token keeps the
    frame aligned with the text); for one row per alternative use ``alternatives_frame`` (the
    tidy long form: position, rank, token, logprob, prob, chosen) or
    ``df.explode(["top_tokens", "top_logprobs"])``.

    ``content`` is DashScope's ``{"content": [...]}`` in any key case, or the list itself.
    """
    tokens = normalize_token_logprobs(content)
    try:
        return _logprobs_frame(tokens)
    except (KeyError, TypeError, ValueError, AttributeError):
        # An item shaped unlike the first (missing keys, other key case, not a dict, a logprob
        # given as a string): normalise every item, then read each one tolerantly.
        return _logprobs_frame([_canon_token(t) for t in tokens if isinstance(t, Mapping)], tolerant=True)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a frame is built.

    A long answer's frame allocates tens of thousands of tuples and lists; each 700 allocations
    start a collection, and every tenth of those re-walks the response's own tens of thousands of
    dicts. None of what is built here can form a cycle, so those collections find nothing: pausing
    them took about a third off building ``.logprobs`` for 8192 tokens x 5 alternatives. The
    previous state is restored, also when building fails. Used as a decorator on the builders.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@_gc_paused()
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
    top_tokens, top_logprobs = _alternatives_by_row(_rows_of(tokens, tolerant), tolerant)
    return pd.DataFrame({
        "position": np.arange(n, dtype=np.int64),
        "token": _objects(token_text),
        "logprob": logprob,
        "prob": np.exp(logprob),
        "bytes": _objects(byte_values),
        "top_tokens": _objects(top_tokens),
        "top_logprobs": _objects(top_logprobs),
    }, copy=False)  # every column is a fresh array made here: nothing to protect by copying


def _rows_of(tokens: list[dict], tolerant: bool) -> list:
    """Each token's list of alternatives (strict lookups unless ``tolerant``)."""
    if tolerant:
        return [t.get("top_logprobs") or () for t in tokens]
    return list(map(_TOP, tokens))


def _flat_alternatives(rows: list, tolerant: bool) -> tuple[list[int], list, list]:
    """(count per row, every alternative's token, every alternative's logprob), flattened.

    40k alternatives for an 8k-token answer: each step is one C-level pass (chain, itemgetter)
    over the flat list; reading that many dicts is most of a logprobs frame's cost.
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


def _alternatives_by_row(rows: list, tolerant: bool = False) -> tuple[list[tuple], list[tuple]]:
    """Per-row tuples of alternative tokens and logprobs (regrouped with zip when every row has the
    same count, the usual case; a nested comprehension per row cost twice as much)."""
    counts, alt_tokens, alt_logprobs = _flat_alternatives(rows, tolerant)
    if not alt_tokens:
        return [()] * len(rows), [()] * len(rows)
    k = counts[0]
    if counts.count(k) == len(counts):
        return list(zip(*[iter(alt_tokens)] * k)), list(zip(*[iter(alt_logprobs)] * k))
    top_tokens, top_logprobs, start = [], [], 0
    for count in counts:
        top_tokens.append(tuple(alt_tokens[start:start + count]))
        top_logprobs.append(tuple(alt_logprobs[start:start + count]))
        start += count
    return top_tokens, top_logprobs


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


@_gc_paused()
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
    its type: for the seven columns of an 8k-token frame that walk cost 2.1 ms, the ndarrays 0.3 ms.
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
