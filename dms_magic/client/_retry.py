"""The retry policy: the one place that decides whether a failed attempt is sent again, how long to
wait first, and what the error finally raised says about it.

A generation is not idempotent: a request the model ran is billed, so an attempt is repeated only
when the failure proves the request never reached the model. ``KINDS`` is the table
"reply kind -> retried?" (docs/architecture.md shows it, checked by tests/client/test_retry_table.py);
``classify`` reads a failure's kind from the HTTP status, the error code, the model's own status
inside ``Data`` (a ``StatusCode`` 5xx inside an HTTP 200 is a model failure that may have been
billed) and the transport's failure kind (whether the request was written). ``RetryPolicy``
applies the table with a budget (``max_retries``, ``max_retry_time``), full-jitter exponential
backoff and the server's requested wait as a floor (``x-acs-retry-after`` in milliseconds, as the
official SDK reads it; ``Retry-After`` in seconds). Its sleep, clock and random source are
injectable (as botocore's ``RetryHandler(sleep=...)``), so tests need no real waiting.

The hint of the error finally raised is written here from the same decision (``explain``), so
"retried" never appears on an error that was not retried, and the attempts and time are the real ones.
"""
from __future__ import annotations

import random as _random
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

from dms_magic import errors
from dms_magic.client import _transport as T
from dms_magic.client._settings import ClientSettings


class Verdict(Enum):
    RETRY = "retried"  # the request provably did not reach the model
    OPT_IN = "retried only with retry_unknown_outcome=True"  # the model may have run (and billed)
    NEVER = "never retried"  # asking again gets the same answer


@dataclass(frozen=True)
class ReplyKind:
    name: str
    what: str  # the reply or failure, as a person would recognise it
    verdict: Verdict
    why: str


# The table. Order matters only for reading; ``classify`` picks exactly one row.
KINDS: tuple[ReplyKind, ...] = (
    ReplyKind("throttling", "`Throttling*` code (HTTP 429, or a business error in a 200), or model status 429 "
              "inside `Data`", Verdict.RETRY, "a refusal before the model ran"),
    ReplyKind("service-unavailable", "HTTP 503 or `ServiceUnavailable` from the gateway", Verdict.RETRY,
              "the gateway refused before the model ran"),
    ReplyKind(T.REFUSED, "connection refused / host unreachable", Verdict.RETRY, "nothing was sent"),
    ReplyKind(T.CONNECT_TIMEOUT, "no connection within the connect timeout", Verdict.RETRY, "nothing was sent"),
    ReplyKind(T.TUNNEL_REFUSED, "the proxy refused the CONNECT tunnel (not 407)", Verdict.RETRY,
              "nothing reached the service"),
    ReplyKind(T.NOT_SENT, "connection reset or closed before the request was fully written", Verdict.RETRY,
              "the service cannot have read a partial request"),
    ReplyKind("gateway-error", "HTTP 500, 502 or 504 (any body, an HTML page too), `InternalError`",
              Verdict.OPT_IN, "the model may have run before the failure"),
    ReplyKind("model-failure", "HTTP 200 with a model status 5xx inside `Data` (e.g. `StatusCode` 504)",
              Verdict.OPT_IN, "the model ran and may have been billed (raised as an unknown outcome)"),
    ReplyKind(T.AFTER_SEND, "read timeout, or connection dropped after the request was written",
              Verdict.OPT_IN, "the service may have processed (and billed) it"),
    ReplyKind("stream-ended-early", "a stream that ended or broke before its first event", Verdict.OPT_IN,
              "the service may have processed (and billed) it"),
    ReplyKind(T.TLS, "certificate not trusted, for another host, or a failed TLS handshake", Verdict.NEVER,
              "a certificate does not change by asking again"),
    ReplyKind(T.DNS, "the endpoint's (or proxy's) host name does not resolve", Verdict.NEVER,
              "a wrong name stays wrong"),
    ReplyKind(T.PROXY_AUTH, "HTTP 407 from a proxy", Verdict.NEVER, "the proxy's credentials must be fixed"),
    ReplyKind("redirect", "HTTP 3xx", Verdict.NEVER, "redirects are not followed (signed for one host)"),
    ReplyKind("empty-answer", "HTTP 200 that is no usable answer: `Success: true` with `Data` missing, empty or "
              "unreadable, or an unreadable stream event", Verdict.NEVER,
              "the service took the request, so the model may have run (and billed); sending again could bill twice"),
    ReplyKind("client-error", "any other 4xx or business error, a model status 4xx inside `Data`",
              Verdict.NEVER, "a bad signature, parameter or permission stays bad"),
)
BY_NAME: dict[str, ReplyKind] = {kind.name: kind for kind in KINDS}


def table_markdown() -> str:
    """KINDS as the Markdown table docs/architecture.md shows (a test keeps the two equal)."""
    rows = ["| reply kind | what arrived | retried? | why |", "|---|---|---|---|"]
    rows += [f"| `{k.name}` | {k.what} | {k.verdict.value} | {k.why} |" for k in KINDS]
    return "\n".join(rows)


def classify(err: errors.DmsError) -> ReplyKind:
    """The row of KINDS a failed attempt falls in."""
    failure = getattr(err, T.FAILURE_ATTR, None)
    if failure is not None:
        return BY_NAME[failure]
    if isinstance(err, errors.OutcomeUnknownError):
        return BY_NAME["stream-ended-early"]
    if err.code == "Redirect":
        return BY_NAME["redirect"]
    if err.code == "InvalidResponse" and (err.http_status or 200) < 300:
        return BY_NAME["empty-answer"]
    if err.code == "ProxyAuthenticationRequired" or err.http_status == 407:
        return BY_NAME[T.PROXY_AUTH]
    http = err.http_status or 0
    if err.model_status is not None and http < 400:  # the model's own failure inside a 200
        if err.model_status == 429:
            return BY_NAME["throttling"]
        return BY_NAME["model-failure" if err.model_status >= 500 else "client-error"]
    if err.code.startswith("Throttling") or http == 429:
        return BY_NAME["throttling"]
    if http == 503 or (err.code == "ServiceUnavailable" and http < 500):  # a 502/504 says more than its code
        return BY_NAME["service-unavailable"]
    if http >= 500 or err.code == "InternalError":
        return BY_NAME["gateway-error"]
    return BY_NAME["client-error"]


def is_model_failure(err: errors.DmsError) -> bool:
    """A model's own 5xx inside a successful reply (or stream event): it may have run and billed."""
    return classify(err).name == "model-failure"


def model_failure_error(err: errors.DmsError, *, partial_text: str | None = None) -> errors.OutcomeUnknownError:
    """The OutcomeUnknownError a model failure inside a reply is raised as: the model status,
    request id and type kept; for a stream that failed after some text, ``partial_text``."""
    detail = f" ({err.message})" if err.message and err.message != err.code else ""
    where = "in a stream event after the answer had begun" if partial_text is not None else "inside a successful reply"
    final = errors.OutcomeUnknownError(
        f"the model call failed with status {err.model_status}{detail} {where}: the model ran and the request "
        "may have been billed, so it was not resent", request_id=err.request_id, http_status=err.http_status,
        model_status=err.model_status, error_type=err.error_type, action=err.action, raw=err.raw,
        retry_after=err.retry_after, hint=errors.MODEL_FAILURE_HINT)
    if partial_text is not None:
        final.partial_text = partial_text
    return final


@dataclass
class Attempts:
    """One call's retry state: attempts made so far and when the call began (policy clock)."""

    started: float
    made: int = 0
    waited: float = 0.0
    history: list = field(default_factory=list)  # the failure kind of each attempt


@dataclass(frozen=True)
class Decision:
    retry: bool
    kind: ReplyKind
    delay: float = 0.0
    why_not: str = ""  # when not retried: why, in words for the hint


class RetryPolicy:
    """Applies KINDS within the budget of ``settings``. ``sleep(seconds)``, ``clock()`` and
    ``uniform(low, high)`` are injectable; ``cancel`` (a threading.Event) ends a wait at once."""

    def __init__(self, settings: ClientSettings, *, sleep: Callable[[float], Any] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 uniform: Callable[[float, float], float] = _random.uniform):
        self.settings = settings
        self.sleep, self.clock, self.uniform = sleep, clock, uniform

    def start(self) -> Attempts:
        return Attempts(started=self.clock())

    def allows(self, kind: ReplyKind) -> bool:
        return kind.verdict is Verdict.RETRY or (kind.verdict is Verdict.OPT_IN
                                                 and self.settings.retry_unknown_outcome)

    def backoff(self, retry_number: int) -> float:
        """Full jitter on an exponential ceiling (spreads out a crowd of notebooks retrying at once)."""
        s = self.settings
        return self.uniform(s.backoff_base, min(s.backoff_cap, s.backoff_base * 2.0 ** retry_number))

    def decide(self, err: errors.DmsError, state: Attempts) -> Decision:
        """Whether attempt ``state.made`` (just failed with ``err``) is followed by another, and after
        how long. The server's wait (``err.retry_after``) is a floor on the delay."""
        kind = classify(err)
        state.made += 1
        state.history.append(kind.name)
        s = self.settings
        if not self.allows(kind):
            return Decision(False, kind)
        if state.made > s.max_retries:
            return Decision(False, kind, why_not=f"max_retries={s.max_retries} reached")
        server_wait = err.retry_after or 0.0
        delay = max(self.backoff(state.made - 1), server_wait)
        left = s.max_retry_time - (self.clock() - state.started)
        if delay > left:
            if server_wait and server_wait > left:
                return Decision(False, kind, delay, why_not=(
                    f"the service asked to wait {server_wait:g} s, more than the {max(left, 0):.1f} s left of "
                    f"the retry budget (max_retry_time={s.max_retry_time:g} s)"))
            return Decision(False, kind, delay, why_not=f"the retry budget (max_retry_time={s.max_retry_time:g} s) "
                                                        "was spent")
        return Decision(True, kind, delay)

    def wait(self, delay: float, *, cancel: threading.Event | None = None,
             tick: Callable[[float], None] | None = None, state: Attempts | None = None) -> None:
        """Wait ``delay`` seconds (in slices of at most a second, calling ``tick(remaining)`` for a
        status line); a set ``cancel`` ends the wait at once."""
        remaining = delay
        while remaining > 0:
            if cancel is not None and cancel.is_set():
                break
            if tick is not None:
                tick(remaining)
            step = min(1.0, remaining)
            if cancel is not None:
                cancel.wait(step)
            else:
                self.sleep(step)
            remaining -= step
        if state is not None:
            state.waited += delay

    def explain(self, decision: Decision, state: Attempts) -> str:
        """What happened, for the hint of the error raised: derived from the decision, so it
        cannot contradict it."""
        kind = decision.kind
        spent = self.clock() - state.started
        tried = (f"{state.made} attempts over {spent:.1f} s" if state.made > 1
                 else f"1 attempt, {spent:.1f} s")
        if kind.verdict is Verdict.NEVER:
            return f"Not retried ({kind.why})."
        if not self.allows(kind):  # OPT_IN, not opted in
            return (f"Not retried: {kind.why}; retry_unknown_outcome=True opts in to retrying such failures"
                    f" ({tried}).")
        if state.made <= 1:
            return f"Not retried: {decision.why_not} ({tried})."
        return f"Gave up after {tried}: {decision.why_not}."

    def final_error(self, err: errors.DmsError, decision: Decision, state: Attempts) -> errors.DmsError:
        """The error to raise: a model failure that may have been billed becomes an
        OutcomeUnknownError (keeping the model status and request id); every error gets the
        sentence saying what the policy did."""
        if decision.kind.name == "model-failure" and not isinstance(err, errors.OutcomeUnknownError):
            err = model_failure_error(err)
        note = self.explain(decision, state)  # says how many attempts over how long
        err.set_hint(" ".join(p for p in (err.hint, note) if p))
        return err
