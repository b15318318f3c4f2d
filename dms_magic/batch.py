"""chat_many: many prompts through ChatWithDesensitize, as a DataFrame.

The run never loses a row: every prompt comes back either answered or as an error row with the
error's code and message. Requests are dispatched from the calling thread into an executor with at
most ``concurrency`` in flight; dispatching here (not in the workers) is what lets one token bucket
cap the request rate, lets Throttling pause the whole run, works with any
``concurrent.futures.Executor`` (a process pool or Dask's executor included), and lets Ctrl-C
return the rows finished so far.

A request that was sent but never answered (Ctrl-C while it was in flight, or the client's
OutcomeUnknownError after a timeout or a dropped connection) may still have run the model, and a
generation is billed and not idempotent: its row says so (error_code ``OutcomeUnknown``), and
``resume=`` keeps it as it is instead of sending the prompt a second time, unless
``resend_unknown=True``. After Ctrl-C, queued prompts are not sent and workers still inside a call
make no further attempt (the run's client is ``DmsChatClient.cancellable``).

The summary helpers at the end turn a result frame into small frames ready to plot.
"""
from __future__ import annotations

import json
import math
import threading
import time
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Mapping

from dms_magic import session
from dms_magic.comparison import (DEFAULT_RULE, MASKED, RESULT_COLUMNS, UNMASKED, VARIANTS, as_messages, error_row,
                               find_leaks, pick_seed, result_row, sensitive_values, similarity, variant_params)

THROTTLE_REQUEUES = 3  # extra tries for a row still throttled after the client's own retries
THROTTLE_PAUSE = 0.5  # seconds the run pauses after a throttled row, doubled while it persists
THROTTLE_PAUSE_MAX = 8.0
MIN_RATE = 1 / 86400  # one request a day: below it the waits overflow time.sleep (rate=1e-300)
OUTCOME_UNKNOWN = "OutcomeUnknown"  # errors.OutcomeUnknownError's code


def _check_rate(rate: Any) -> None:
    if rate is None:
        return
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < MIN_RATE:
        raise ValueError(f"rate={rate!r} is invalid: expected a finite number of requests per second >= "
                         f"{MIN_RATE:.3g} (one a day), or None for no cap")


# -- rate cap -----------------------------------------------------------------------------------
class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float = 1.0):
        if rate is None:
            raise ValueError("rate=None is invalid here: expected requests per second > 0")
        _check_rate(rate)
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait_for = (1 - self._tokens) / self.rate
            time.sleep(wait_for)


# -- work items ---------------------------------------------------------------------------------
@dataclass
class _Task:
    position: int  # row position in the output frame
    messages: list
    params: dict
    throttled: int = 0  # times re-queued after Throttling
    sent_at: float = 0.0  # monotonic time it last went out (groups Throttling replies into bursts)


def _send(client: Any, messages: list, params: dict) -> dict[str, Any]:
    """One call as a plain row; runs in the executor, so it takes and returns picklable values.

    ``client=None`` means "this worker's default client": a process or distributed executor's
    workers resolve their own endpoint and credentials (clients hold connections and credential
    providers, which do not travel between processes)."""
    try:
        if client is None:
            from dms_magic.session import default_client

            client = default_client()
        return result_row(client.chat(messages, **params))
    except Exception as exc:  # noqa: BLE001 - any failure becomes this row's error, the run goes on
        return error_row(exc)


# -- input shapes -------------------------------------------------------------------------------
def _prompt_table(prompts: Any, column: str | None):
    """(index, prompts list, carried DataFrame or None) from a list, a Series or a DataFrame."""
    import pandas as pd

    if isinstance(prompts, pd.DataFrame):
        if column is None:
            if "prompt" not in prompts.columns:
                raise ValueError("chat_many got a DataFrame without column=: say which column holds the prompts, "
                                 f"e.g. column={str(prompts.columns[0])!r} (columns: {list(prompts.columns)})")
            column = "prompt"
        if column not in prompts.columns:
            raise ValueError(f"column={column!r} is not a column of the DataFrame (columns: {list(prompts.columns)})")
        carried = prompts.drop(columns=[column])
        return prompts.index, list(prompts[column]), carried
    if column is not None:
        raise ValueError("column= only applies when prompts is a DataFrame")
    if isinstance(prompts, pd.Series):
        return prompts.index, list(prompts), None
    if isinstance(prompts, (str, bytes, Mapping)):
        raise ValueError("chat_many takes many prompts: a list of strings (or of message lists), a Series, "
                         "or a DataFrame with column=; for one prompt use dms_magic.chat")
    if not hasattr(prompts, "__iter__"):
        raise TypeError(f"prompts={_shown(prompts)} is not a collection of prompts: pass a list of strings (or of "
                        "message lists), a Series, or a DataFrame with column=")
    items = list(prompts)
    return pd.RangeIndex(len(items)), items, None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_client(client: Any) -> None:
    """A client is anything with a callable ``chat`` (a DmsChatClient, or a stand-in of the caller's)."""
    if client is not None and not callable(getattr(client, "chat", None)):
        raise TypeError(f"client={_shown(client)} is not a client: pass a DmsChatClient (or an object with its "
                        "chat() method), or leave client=None for the default client")


def _prompt_key(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False, sort_keys=True,
                                                             default=str)


def _answered(resume: Any, compare: bool, resend_unknown: bool = False) -> dict[tuple, dict]:
    """Rows of a previous frame not to send again, keyed by (index label, variant, prompt): the
    answered ones, and the outcome-unknown ones (sent, maybe answered and billed) unless
    ``resend_unknown``."""
    if resume is None:
        return {}
    import pandas as pd

    if not isinstance(resume, pd.DataFrame) or not {"prompt", "error_code", "text"} <= set(resume.columns):
        raise ValueError("resume= expects a frame returned by chat_many (with prompt, text and error_code columns)")
    has_variant = "variant" in resume.columns
    if has_variant != compare:
        made = "with compare=True" if has_variant else "without compare"
        raise ValueError(f"resume= holds a frame made {made}: run with compare={has_variant} to resume it")
    out = {}
    for label, row in zip(resume.index, resume.to_dict("records")):
        variant = row.get("variant") if (compare and has_variant) else None
        if row.get("error_code") == OUTCOME_UNKNOWN and not resend_unknown:
            out[(label, variant, _prompt_key(row["prompt"]))] = row
            continue
        if row.get("error_code") is not None and not pd.isna(row.get("error_code")):
            continue
        if row.get("text") is None or (isinstance(row.get("text"), float) and pd.isna(row["text"])):
            continue
        out[(label, variant, _prompt_key(row["prompt"]))] = row
    return out


def _seeds(resume: Any) -> dict[tuple, int]:
    """The seed each prompt of a previous compare run used, answered or not: a resumed pair must
    share its seed with the variant already answered."""
    import pandas as pd

    if resume is None or "seed" not in getattr(resume, "columns", ()):
        return {}
    return {(label, _prompt_key(prompt)): int(seed)
            for label, prompt, seed in zip(resume.index, resume["prompt"], resume["seed"]) if not pd.isna(seed)}


# -- the run ------------------------------------------------------------------------------------
def chat_many(prompts: Any, *, client: Any = None, compare: bool = False, concurrency: int = 8,
              rate: float | None = None, progress: bool = True, executor: Executor | None = None,
              column: str | None = None, resume: Any = None, resend_unknown: bool = False, **params: Any):
    """Send many prompts; one row per prompt (two, masked and unmasked, with ``compare=True``).

    prompts: a list of prompt strings (or message lists), a Series, or a DataFrame with the prompts
    in ``column`` (default "prompt"); the DataFrame's other columns and the index are carried through.
    Columns added: prompt, text, finish_reason, prompt_tokens, completion_tokens, latency,
    request_id, error_code, error_message; with ``compare=True`` also variant, seed and leaks (the
    prompt's sensitive values found in the answer).
    concurrency: requests in flight at once. rate: requests per second cap (None: no cap).
    executor: any concurrent.futures.Executor to run the calls (default: a thread pool of
    ``concurrency`` threads; a caller's executor is left running). With a process or distributed
    executor (e.g. Dask's ``client.get_executor()``) leave ``client=None``: each worker then uses
    its own default client, configured by its environment.
    resume: a frame from an earlier run; its answered rows are kept as they are and only the rest
    are sent. Rows whose outcome is unknown (error_code ``OutcomeUnknown``: sent, then interrupted,
    timed out or dropped, so the service may have answered and billed them) are kept too, unless
    ``resend_unknown=True``. Ctrl-C stops the run: queued prompts are not sent, prompts in flight
    become outcome-unknown rows, and the frame holds those and the rows finished so far.
    ``params`` are request parameters by Python name, the same for every prompt.
    """
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValueError(f"concurrency={concurrency!r} is invalid: expected an integer >= 1")
    _check_rate(rate)
    _check_client(client)
    bucket = TokenBucket(rate) if rate is not None else None
    index, prompt_list, carried = _prompt_table(prompts, column)
    params = session.request_params(None, params, stream=False)  # configured defaults under these
    _check_params(params, compare)
    clashes = set(carried.columns) & (set(RESULT_COLUMNS) | {"prompt", "variant", "seed", "leaks"}) \
        if carried is not None else set()
    if clashes:
        raise ValueError(f"column(s) {sorted(clashes)} of the input clash with chat_many's result columns: "
                         "rename them before the run")
    if executor is not None and not isinstance(executor, ThreadPoolExecutor):
        _check_travels(client)
    elif client is None:
        from dms_magic.session import default_client

        client = default_client()

    previous = _answered(resume, compare, resend_unknown)
    seeds = _seeds(resume) if compare else {}
    variants = VARIANTS if compare else (None,)
    sources: list[int] = []  # per output row: the input row it answers
    extra: list[dict[str, Any]] = []  # per output row: variant and seed (compare only)
    rows: list[dict[str, Any] | None] = []  # per output row: its result, None until answered
    tasks: deque[_Task] = deque()
    reused = 0
    for i, (label, prompt) in enumerate(zip(index, prompt_list)):
        key = _prompt_key(prompt)
        seed = None
        if compare:  # one seed per prompt, shared by both variants, kept across resumes
            seed = seeds.get((label, key))
            if seed is None:
                seed = params["seed"] if params.get("seed") is not None else pick_seed()
        try:
            messages = as_messages(prompt)
        except ValueError as exc:  # a malformed prompt is that row's error, not the run's
            messages, malformed = None, error_row(exc, code="InvalidParameter")
        for variant in variants:
            sources.append(i)
            extra.append({"variant": variant, "seed": seed} if compare else {})
            done = previous.get((label, variant, key))
            if done is not None:
                rows.append({c: done.get(c) for c in RESULT_COLUMNS})
                reused += 1
            elif messages is None:
                rows.append(dict(malformed))
            else:
                rows.append(None)
                call = variant_params(params, seed)[variant or ""] if compare else params
                tasks.append(_Task(len(rows) - 1, messages, call))

    interrupted = _dispatch(client, tasks, rows, concurrency=concurrency, bucket=bucket, executor=executor,
                            progress=progress, total=len(rows), already=len(rows) - len(tasks))

    keep = [n for n, row in enumerate(rows) if row is not None]
    frame = _assemble(index, prompt_list, carried, [sources[n] for n in keep],
                      [{**extra[n], **(rows[n] or {})} for n in keep], compare)
    if compare:
        _add_leaks(frame, params.get("desensitization_rule") or DEFAULT_RULE)
    unknown = int((frame["error_code"] == OUTCOME_UNKNOWN).sum())
    frame.attrs["interrupted"] = interrupted
    frame.attrs["reused"] = reused  # rows kept from resume= without sending them again
    frame.attrs["outcome_unknown"] = unknown
    if interrupted:
        warnings.warn(f"chat_many interrupted: {len(keep)} of {len(rows)} rows in this frame ({unknown} of them "
                      "outcome unknown: sent, maybe answered); pass this frame as resume= to send the rest "
                      "(resend_unknown=True sends the outcome-unknown ones again too)", stacklevel=2)
    return frame


def _assemble(index, prompt_list: list, carried, sources: list[int], results: list[dict], compare: bool):
    """The output frame: carried columns (dtypes kept), prompt, (variant, seed), result columns;
    indexed like the input rows the output rows answer."""
    import pandas as pd

    data = pd.DataFrame.from_records(results, columns=(["variant", "seed"] if compare else []) + list(RESULT_COLUMNS))
    data.insert(0, "prompt", [prompt_list[i] for i in sources])
    if carried is not None:
        data = pd.concat([carried.iloc[sources].reset_index(drop=True), data], axis=1)
    data.index = index[sources]
    types = {"prompt_tokens": "Int64", "completion_tokens": "Int64", "latency": "float64"}
    if compare:
        types["seed"] = "Int64"
    return data.astype(types)


def _check_travels(client: Any) -> None:
    """A client given for a process or distributed executor must survive pickling."""
    if client is None:
        return
    import pickle

    try:
        pickle.dumps(client)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing here
        raise ValueError(
            f"client= cannot be sent to this executor's workers ({type(exc).__name__}): with a process or "
            "distributed executor leave client=None, and each worker uses its default client (endpoint and "
            "credentials from its environment: DMS_MAGIC_ENDPOINT, DMS_MAGIC_INSTANCE_ID, the Alibaba Cloud "
            "credential chain)") from None


def _check_params(params: dict[str, Any], compare: bool) -> None:
    """Bad parameters are the run's error (the same for every row): raise once, before sending."""
    from dms_magic.wire.request import ChatRequest

    checked = variant_params(params, seed=0)[MASKED] if compare else params
    ChatRequest("probe", **checked).validate(require_instance=False)


class _Pacer:
    """Backs off when the service throttles: halves the requests in flight and pauses the run, once
    per burst of Throttling replies (those sent before the back-off started); then grows the
    in-flight limit back by one per ``limit`` answered rows, as TCP's congestion window does."""

    def __init__(self, concurrency: int):
        self.ceiling = self.limit = concurrency
        self.pause = THROTTLE_PAUSE
        self.until = 0.0  # no request goes out before this monotonic time
        self.since = 0.0  # when the current back-off started
        self._answered = 0

    def throttled(self, sent_at: float) -> None:
        if sent_at < self.since:  # part of the burst we already backed off for
            return
        now = time.monotonic()
        self.limit = max(1, self.limit // 2)
        self.since, self.until = now, now + self.pause
        self.pause = min(self.pause * 2, THROTTLE_PAUSE_MAX)
        self._answered = 0

    def answered(self) -> None:
        self._answered += 1
        if self._answered >= self.limit:
            self._answered = 0
            self.pause = THROTTLE_PAUSE
            self.limit = min(self.ceiling, self.limit + 1)

    def wait(self) -> float:
        return max(0.0, self.until - time.monotonic())


def _gated(client: Any, stopped: threading.Event) -> Any:
    """For this run, a copy of a DmsChatClient that sends no attempt once ``stopped`` is set (same
    pool, same credentials); any other client is used as given."""
    from dms_magic.client import DmsChatClient

    return client.cancellable(stopped) if isinstance(client, DmsChatClient) else client


def _unknown_row(reason: str) -> dict[str, Any]:
    from dms_magic.comparison import error_row

    return error_row(RuntimeError(reason), code=OUTCOME_UNKNOWN)


def _dispatch(client, tasks: deque, rows: list, *, concurrency: int, bucket: TokenBucket | None,
              executor: Executor | None, progress: bool, total: int, already: int) -> bool:
    """Run the tasks, filling ``rows``; True when interrupted by Ctrl-C."""
    from tqdm.auto import tqdm

    stopped = threading.Event()
    if executor is None or isinstance(executor, ThreadPoolExecutor):
        client = _gated(client, stopped)

    own = executor is None
    pool: Any = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dms-batch") if own else executor
    # smoothing=0: the rate is rows/elapsed; the default moving average keeps the first burst's rate
    # when the rest finish within one refresh interval (a 1 s run of 24 rows read "1.14s/row").
    bar = tqdm(total=total, initial=already, disable=not progress, desc="chat_many", unit="row", smoothing=0)
    inflight: dict = {}
    pacer = _Pacer(concurrency)
    try:
        while tasks or inflight:
            while tasks and len(inflight) < pacer.limit:
                delay = pacer.wait()
                if delay > 0:
                    if inflight:  # collect finished rows while the pause runs out
                        break
                    time.sleep(delay)
                if bucket is not None:
                    bucket.acquire()
                task = tasks.popleft()
                task.sent_at = time.monotonic()
                inflight[pool.submit(_send, client, task.messages, task.params)] = task
            if not inflight:
                continue
            # While paused with room to send, wake up when the pause ends even if nothing finishes.
            paused = tasks and len(inflight) < pacer.limit
            done, _ = wait(inflight, timeout=max(pacer.wait(), 0.001) if paused else None,
                           return_when=FIRST_COMPLETED)
            for future in done:
                task = inflight.pop(future)
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - the executor failed (a worker died, ...):
                    row = error_row(exc)  # the row records it and the run goes on
                if str(row["error_code"]).startswith("Throttling") and task.throttled < THROTTLE_REQUEUES:
                    # Still throttled after the client's own retries: the service wants fewer
                    # requests. Slow the whole run down and send this row again later.
                    task.throttled += 1
                    tasks.appendleft(task)
                    pacer.throttled(task.sent_at)
                    continue
                if row["error_code"] is None:
                    pacer.answered()
                rows[task.position] = row
                bar.update(1)
        return False
    except KeyboardInterrupt:
        stopped.set()  # workers inside a call make no further attempt
        tasks.clear()  # queued prompts are not sent
        for future, task in inflight.items():
            if future.cancel():  # never started: as if still queued
                continue
            if future.done() and future.exception() is None:  # finished while we were interrupted
                rows[task.position] = future.result()
            else:  # sent (or being sent) and not answered: it may have run the model
                rows[task.position] = _unknown_row(
                    "interrupted (Ctrl-C) while this request was in flight: the service may have answered, "
                    "and billed, it; resume= keeps this row unless resend_unknown=True")
        return True
    finally:
        bar.close()
        if own:
            pool.shutdown(wait=False, cancel_futures=True)


def _add_leaks(frame, rule: str) -> None:
    """leaks column: the prompt's sensitive values (masking engine) found in each answer."""
    values: dict[str, list] = {}  # prompt -> its sensitive values, detected once for both variants
    leaks = []
    for prompt, text in zip(frame["prompt"], frame["text"]):
        key = _prompt_key(prompt)
        if key not in values:
            try:
                values[key] = sensitive_values(as_messages(prompt), rule)
            except ValueError:  # a malformed prompt has an error row and nothing to leak
                values[key] = []
        leaks.append(find_leaks(text if isinstance(text, str) else None, values[key]))
    frame["leaks"] = leaks


# -- summaries ----------------------------------------------------------------------------------
def summarize(frame):
    """Per variant (one row "all" without compare): rows, answered, errors, error_rate, token totals,
    mean completion tokens, mean latency; with compare also rows_with_leaks and leaks (total)."""
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
               "mean_latency": float(part["latency"].mean())}
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
