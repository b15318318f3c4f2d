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

Ctrl-C never loses an answered row, whatever the run is doing when it comes (sending, waiting
inside a lock, finding leaks, building the frame): while the run lasts, SIGINT puts a stop event
on the run's queue instead of raising KeyboardInterrupt in the middle of library code (a
KeyboardInterrupt inside ``threading.Condition.wait`` can leave a lock half released: "release
unlocked lock"). The run then stops sending, keeps what came back, and returns the frame.

The summaries, the wide form, the plots and the report live in summaries.py (re-exported here).
"""
from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from queue import Empty, SimpleQueue
from typing import Any

from dms_magic import session
from dms_magic.comparison import (DEFAULT_RULE, MASKED, RESULT_COLUMNS, VARIANTS, as_messages, error_row, find_leaks,
                                  pick_seed, result_row, sensitive_values, variant_params)
from dms_magic.summaries import answer_similarity, leak_counts, summarize, token_deltas  # noqa: F401 (re-exported)

THROTTLE_REQUEUES = 3  # extra tries for a row still throttled after the client's own retries
THROTTLE_PAUSE = 0.5  # seconds the run pauses after a throttled row, doubled while it persists
THROTTLE_PAUSE_MAX = 8.0
MIN_RATE = 1 / 86400  # one request a day: below it the waits overflow time.sleep (rate=1e-300)
OUTCOME_UNKNOWN = "OutcomeUnknown"  # errors.OutcomeUnknownError's code
WAKE_UP = 0.25  # seconds: the longest the dispatching thread waits without looking for Ctrl-C


def _check_rate(rate: Any) -> None:
    if rate is None:
        return
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < MIN_RATE:
        raise ValueError(f"rate={rate!r} is invalid: expected a finite number of requests per second >= "
                         f"{MIN_RATE:.3g} (one a day), or None for no cap")


# -- rate cap -----------------------------------------------------------------------------------
class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts up to ``burst``.

    Used by the one thread that dispatches a run, so it holds no lock (a lock taken by the thread
    that receives Ctrl-C is one more place an interrupt could leave half released)."""

    def __init__(self, rate: float, burst: float = 1.0):
        if rate is None:
            raise ValueError("rate=None is invalid here: expected requests per second > 0")
        _check_rate(rate)
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._tokens = self.burst
        self._stamp = time.monotonic()

    def take(self) -> float:
        """Take a token if one is there (returns 0.0), else the seconds until one will be."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def acquire(self) -> None:
        while (wait_for := self.take()) > 0:
            time.sleep(wait_for)


# -- work items ---------------------------------------------------------------------------------
@dataclass
class _Task:
    position: int  # row position in the output frame
    messages: list
    params: dict
    throttled: int = 0  # times re-queued after Throttling
    sent_at: float = 0.0  # monotonic time it last went out (groups Throttling replies into bursts)
    row: dict | None = None  # set by the worker (thread pools) the moment the answer is a row


def _send_task(client: Any, task: _Task) -> dict[str, Any]:
    """A thread pool's call: the row is on the task as soon as it exists, so a stop that comes
    before the future completes still finds the answer (and never calls it outcome-unknown)."""
    task.row = _send(client, task.messages, task.params)
    return task.row


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
    Columns added: prompt, text, finish_reason, prompt_tokens, completion_tokens, latency (seconds),
    request_id, error_code, error_message; with ``compare=True`` also variant, seed and leaks (the
    prompt's sensitive values found in the answer). ``frame.dms`` offers the other shapes: ``wide()``
    (one row per prompt, masked_* and unmasked_* columns), ``styled()``, ``plot()``, ``report(path)``.
    concurrency: requests in flight at once. rate: requests per second cap (None: no cap).
    executor: any concurrent.futures.Executor to run the calls (default: a thread pool of
    ``concurrency`` threads; a caller's executor is left running). With a process or distributed
    executor (e.g. Dask's ``client.get_executor()``) leave ``client=None``: each worker then uses
    its own default client, configured by its environment.
    resume: a frame from an earlier run; its answered rows are kept as they are and only the rest
    are sent. Rows whose outcome is unknown (error_code ``OutcomeUnknown``: sent, then interrupted,
    timed out or dropped, so the service may have answered and billed them) are kept too, unless
    ``resend_unknown=True``. Ctrl-C stops the run whenever it comes: queued prompts are not sent,
    prompts in flight become outcome-unknown rows, the frame holds those and every row answered so
    far, ``frame.attrs`` says what was not finished (interrupted, not_sent, outcome_unknown) and
    one line on stderr says how to finish it.
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
    rule = params.get("desensitization_rule") or DEFAULT_RULE
    started = datetime.now(timezone.utc)

    events: SimpleQueue = SimpleQueue()  # finished futures and Ctrl-C presses, in arrival order
    with _CtrlC(events) as ctrl_c:  # from here on Ctrl-C stops the run; it never unwinds it
        run = _Run(index, prompt_list, compare, rule)
        interrupted = run.plan(params, previous, seeds, events)
        if not interrupted:
            interrupted = _dispatch(client, run, events, concurrency=concurrency, bucket=bucket, executor=executor,
                                    progress=progress)
        frame = run.frame(carried)
        late = ctrl_c.pressed and not interrupted  # pressed only after every row was in
    unknown = int((frame["error_code"] == OUTCOME_UNKNOWN).sum())
    frame.attrs.update(interrupted=interrupted, reused=run.reused, outcome_unknown=unknown,
                       not_sent=len(run.rows) - len(frame),
                       provenance=_provenance(run.client if run.client is not None else client, params, compare,
                                              rule, started))
    if interrupted:
        _notice(f"chat_many stopped (Ctrl-C): {len(frame)} of {len(run.rows)} rows in the frame, "
                f"{unknown} of them outcome unknown (sent, maybe answered); {len(run.rows) - len(frame)} not sent. "
                "Pass the frame as resume= to send the rest (resend_unknown=True also resends the unknown ones).")
    elif late:
        _notice(f"chat_many: Ctrl-C came after every row was in; the frame is complete ({len(frame)} rows).")
    return frame


def _notice(line: str) -> None:
    """One line on stderr for the person who pressed Ctrl-C. Not warnings.warn: in a notebook that
    prints the kernel's temporary file name and the cell's source line around it, shows each
    location once only, and the frame's attrs are already the record a program reads."""
    print(line, file=sys.stderr, flush=True)


def _provenance(client: Any, params: dict, compare: bool, rule: str, started: datetime) -> dict[str, Any]:
    """Where the frame's answers come from, for the report: never a credential or an endpoint's path."""
    from dms_magic.defaults import __version__

    masked = compare or bool(params.get("need_desensitization"))
    backend = getattr(client, "backend", None) or (
        "each worker's default client" if client is None else type(client).__name__)
    return {"backend": backend, "model": params.get("model"),
            "rule": rule if masked else None, "compare": compare,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "dms_magic": __version__}


_STOP = object()  # what a Ctrl-C press puts on a run's event queue


class _CtrlC:
    """While a run lasts, SIGINT puts ``_STOP`` on the run's queue instead of raising.

    Only the main thread receives SIGINT, and only the default handler (KeyboardInterrupt) is
    replaced: a program that installed its own keeps it, and then the run catches KeyboardInterrupt
    where it waits (the older, weaker guarantee). ``SimpleQueue.put`` is reentrant, safe to call
    from a signal handler."""

    def __init__(self, events: SimpleQueue):
        self.events = events
        self.pressed = 0
        self.installed = False
        self._previous: Any = None

    def _press(self, signum: int, frame: Any) -> None:
        self.pressed += 1
        self.events.put(_STOP)

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._press)
            self.installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self._previous)


class _Run:
    """The rows of one run: planned from the input and resume=, filled as answers come in."""

    def __init__(self, index, prompt_list: list, compare: bool, rule: str):
        self.index, self.prompt_list, self.compare, self.rule = index, prompt_list, compare, rule
        self.sources: list[int] = []  # per output row: the input row it answers
        self.extra: list[dict[str, Any]] = []  # per output row: variant and seed (compare only)
        self.rows: list[dict[str, Any] | None] = []  # per output row: its result, None until it is in
        self.leaks: list[list | None] = []  # per output row (compare): leaked values, None until found
        self.tasks: deque[_Task] = deque()
        self.reused = 0
        self.client: Any = None  # the client the run used (its backend is known once it answered)
        self._values: dict[str, list] = {}  # prompt key -> its sensitive values, found once per prompt

    def plan(self, params: dict, previous: dict, seeds: dict, events: SimpleQueue) -> bool:
        """Rows and tasks for every prompt; True when Ctrl-C came meanwhile (then nothing is sent)."""
        variants = VARIANTS if self.compare else (None,)
        for i, (label, prompt) in enumerate(zip(self.index, self.prompt_list)):
            key = _prompt_key(prompt)
            seed = None
            if self.compare:  # one seed per prompt, shared by both variants, kept across resumes
                seed = seeds.get((label, key))
                if seed is None:
                    seed = params["seed"] if params.get("seed") is not None else pick_seed()
            try:
                messages = as_messages(prompt)
            except ValueError as exc:  # a malformed prompt is that row's error, not the run's
                messages, malformed = None, error_row(exc, code="InvalidParameter")
            for variant in variants:
                self.sources.append(i)
                self.extra.append({"variant": variant, "seed": seed} if self.compare else {})
                self.leaks.append(None)
                done = previous.get((label, variant, key))
                if done is not None:
                    self.rows.append({c: done.get(c) for c in RESULT_COLUMNS})
                    if isinstance(done.get("leaks"), list):
                        self.leaks[-1] = list(done["leaks"])
                    self.reused += 1
                elif messages is None:
                    self.rows.append(dict(malformed))
                else:
                    self.rows.append(None)
                    call = variant_params(params, seed)[variant] if variant is not None else params
                    self.tasks.append(_Task(len(self.rows) - 1, messages, call))
        return _pressed(events)

    def done(self, position: int, row: dict[str, Any]) -> None:
        """A row is in: record it first (it is never lost after this line), then find its leaks."""
        self.rows[position] = row
        if self.compare:
            self._find_leaks(position)

    def _find_leaks(self, position: int) -> None:
        prompt = self.prompt_list[self.sources[position]]
        key = _prompt_key(prompt)
        if key not in self._values:
            try:
                self._values[key] = sensitive_values(as_messages(prompt), self.rule)
            except ValueError:  # a malformed prompt has an error row and nothing to leak
                self._values[key] = []
        row = self.rows[position]
        text = row.get("text") if row is not None else None
        self.leaks[position] = find_leaks(text if isinstance(text, str) else None, self._values[key])

    def frame(self, carried):
        """The frame of every row that is in (leaks found for those still without)."""
        keep = [n for n, row in enumerate(self.rows) if row is not None]
        frame = _assemble(self.index, self.prompt_list, carried, [self.sources[n] for n in keep],
                          [{**self.extra[n], **self.rows[n]} for n in keep], self.compare)
        if self.compare:
            for n in keep:
                if self.leaks[n] is None:  # reused rows of an older frame, the rows taken in at a stop
                    self._find_leaks(n)
            frame["leaks"] = [self.leaks[n] for n in keep]
        return frame

    @property
    def count(self) -> int:
        return sum(row is not None for row in self.rows)


def _pressed(events: SimpleQueue) -> bool:
    """True if a Ctrl-C press is waiting on the queue (finished futures are left there)."""
    kept, stop = [], False
    while True:
        try:
            item = events.get_nowait()
        except Empty:
            break
        if item is _STOP:
            stop = True
        else:
            kept.append(item)
    for item in kept:
        events.put(item)
    return stop


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
    return error_row(RuntimeError(reason), code=OUTCOME_UNKNOWN)


def _dispatch(client, run: _Run, events: SimpleQueue, *, concurrency: int, bucket: TokenBucket | None,
              executor: Executor | None, progress: bool) -> bool:
    """Send ``run.tasks``, filling ``run.rows``; True when stopped by Ctrl-C.

    Every wait is ``events.get`` (a C-level queue: a signal cannot leave it half done): finished
    futures arrive there through their done callbacks, Ctrl-C through ``_CtrlC``, and the rate cap
    and the throttling pause are its timeouts."""
    from tqdm.auto import tqdm

    stopped = threading.Event()
    threads = executor is None or isinstance(executor, ThreadPoolExecutor)
    if threads:
        client = _gated(client, stopped)
    run.client = client
    tasks = run.tasks
    own = executor is None
    pool: Executor = executor if executor is not None else ThreadPoolExecutor(max_workers=concurrency,
                                                                             thread_name_prefix="dms-batch")
    # smoothing=0: the rate is rows/elapsed; the default moving average keeps the first burst's rate
    # when the rest finish within one refresh interval (a 1 s run of 24 rows read "1.14s/row").
    bar = tqdm(total=len(run.rows), initial=run.count, disable=not progress, desc="chat_many", unit="row",
               smoothing=0)
    inflight: dict = {}
    pacer = _Pacer(concurrency)
    interrupted = False
    try:
        while tasks or inflight:
            delay = None  # seconds until the next task may go out; None: not before a row comes in
            if tasks and len(inflight) < pacer.limit:
                delay = pacer.wait() or (bucket.take() if bucket is not None else 0.0)
                if not delay:
                    task = tasks.popleft()
                    task.sent_at = time.monotonic()
                    future = pool.submit(_send_task, client, task) if threads else \
                        pool.submit(_send, client, task.messages, task.params)
                    inflight[future] = task
                    future.add_done_callback(events.put)
                    continue
            # A finite wait even with nothing to send: a SIGINT the OS hands to another thread
            # wakes no one, and the handler's event is then seen at the next timeout.
            item = _next_event(events, WAKE_UP if delay is None else min(delay, WAKE_UP))
            if item is None:  # the delay is over (or a wake-up): go round
                continue
            if item is _STOP:
                interrupted = True
                break
            task = inflight[item]  # left in flight until its row is kept: an interrupt finds it there
            row = _outcome(item, task)
            if str(row["error_code"]).startswith("Throttling") and task.throttled < THROTTLE_REQUEUES:
                # Still throttled after the client's own retries: the service wants fewer
                # requests. Slow the whole run down and send this row again later.
                task.throttled += 1
                task.row = None
                tasks.appendleft(task)
                del inflight[item]
                pacer.throttled(task.sent_at)
                continue
            if row["error_code"] is None:
                pacer.answered()
            run.done(task.position, row)
            del inflight[item]
            bar.update(1)
    except KeyboardInterrupt:  # a program's own SIGINT handler raised it (ours never does)
        interrupted = True
    finally:
        if interrupted:
            _stop(run, tasks, inflight, stopped)
            bar.n = run.count  # the bar says what the frame holds
            bar.set_description("chat_many stopped", refresh=False)
        _finish(bar, pool, own)
    return interrupted


def _next_event(events: SimpleQueue, timeout: float | None) -> Any:
    """The next finished future or Ctrl-C press; None when ``timeout`` seconds pass first."""
    try:
        return events.get(timeout=timeout)
    except Empty:
        return None


def _outcome(future: Any, task: _Task) -> dict[str, Any]:
    try:
        return future.result()
    except BaseException as exc:  # noqa: BLE001 - the executor failed (a worker died, ...):
        return error_row(exc)  # the row records it and the run goes on


def _stop(run: _Run, tasks: deque, inflight: dict, stopped: threading.Event) -> None:
    """After Ctrl-C: send nothing more and keep every row that came back."""
    stopped.set()  # workers inside a call make no further attempt
    tasks.clear()  # queued prompts are not sent
    for future, task in inflight.items():
        if task.row is not None:  # answered, its future not yet marked done
            run.done(task.position, task.row)
        elif future.cancel():  # never started: as if still queued
            continue
        elif future.done():  # finished while we were stopping
            run.done(task.position, _outcome(future, task))
        else:  # sent (or being sent) and not answered: it may have run the model
            run.done(task.position, _unknown_row(
                "interrupted (Ctrl-C) while this request was in flight: the service may have answered, "
                "and billed, it; resume= keeps this row unless resend_unknown=True"))
    inflight.clear()


def _finish(bar: Any, pool: Executor, own: bool) -> None:
    bar.close()
    if own:
        pool.shutdown(wait=False, cancel_futures=True)
