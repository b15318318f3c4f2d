"""How a turn is going and how it ended: the status line and the state badge of a card.

A card is in one of these states:

- ``streaming``: text is arriving (a status line may say what the client is doing meanwhile:
  "connecting to sandbox…", "retry 2 of 10 after HTTP 503 (waiting 1.2 s)…");
- ``finished``: the answer is complete (a finish reason other than "stop" still shows);
- ``stopped``: the user stopped it (Ctrl-C); the text so far is kept, marked partial;
- ``interrupted``: the stream broke off (server gone, connection reset); the text so far is kept;
- ``failed``: it ended in an error before an answer.

A card is never left on "streaming…": the turn ends every view in one of the last four.
:func:`progress_text` turns the client's progress events (``dms_magic.client.ProgressEvent``:
kind, attempt, max_attempts, reason, delay_s, elapsed_s) into a status line; it reads them with
``getattr`` so that any object with some of those fields works.
"""
from __future__ import annotations

from typing import Any

from dms_magic.views.styles import INK, badge, esc

STREAMING, FINISHED, STOPPED, INTERRUPTED, FAILED = "streaming", "finished", "stopped", "interrupted", "failed"
STATES = (STREAMING, FINISHED, STOPPED, INTERRUPTED, FAILED)
ENDED = (FINISHED, STOPPED, INTERRUPTED, FAILED)

# (badge text, background, text colour, tooltip); INK-class dark text on light chips, any theme
_BADGES = {
    STREAMING: ("streaming…", "#fbefff", "#6639ba", "the answer is arriving"),
    STOPPED: ("■ stopped", "#fff1e5", "#953800", "you stopped it (Ctrl-C); the text so far is kept"),
    INTERRUPTED: ("⚡ interrupted", "#fff1e5", "#953800", "the stream broke off; the text so far is kept"),
    FAILED: ("✗ failed", "#ffebe9", "#82071e", "the request failed"),
}
STATUS_STYLE = f"background-color:#ddf4ff;color:{INK};padding:1px 6px;border-radius:3px;font-size:11px"
NOTE_STYLE = "margin:4px 0;font-size:12px"


def state_of(result: Any, state: str | None = None) -> str:
    """The card's state: the one given, else what the result says (a partial result is stopped or
    interrupted, as its ``stop_reason`` says), else finished."""
    if state:
        if state not in STATES:
            raise ValueError(f"state={state!r} is invalid: expected one of {', '.join(STATES)}")
        return state
    if getattr(result, "partial", False):
        reason = getattr(result, "stop_reason", None)
        return reason if reason in (STOPPED, INTERRUPTED, FAILED) else INTERRUPTED
    return FINISHED


def state_badge(state: str) -> str:
    """The badge of a state ("" for finished: the card's finish reason speaks then)."""
    if state not in _BADGES:
        return ""
    text, background, colour, tip = _BADGES[state]
    return badge(text, background, colour, tip, cls=f"dms-state dms-state-{state}")


def state_note(state: str, result: Any, note: str | None = None) -> str:
    """One line under a stopped, interrupted or failed card: what happened and what is kept."""
    if state in (STREAMING, FINISHED):
        return ""
    return note or default_note(state, result)


def default_note(state: str, result: Any) -> str:
    chars = len(getattr(result, "text", "") or "")
    kept = (f"the {chars:,} characters received are kept (partial=True)" if chars
            else "nothing had arrived yet")
    if state == STOPPED:
        return f"Stopped with Ctrl-C: {kept}."
    if state == INTERRUPTED:
        return f"The stream broke off before the answer ended: {kept}."
    return "The request failed before an answer arrived."


def state_note_html(state: str, result: Any, note: str | None = None) -> str:
    line = state_note(state, result, note)
    if not line:
        return ""
    return f'<div class="dms-state-note" style="{NOTE_STYLE}">{esc(line)}</div>'


def status_html(text: str | None) -> str:
    """The status line of a card in progress ("" when there is nothing to say)."""
    if not text:
        return ""
    return (f'<div class="dms-status-line" style="margin:4px 0" role="status">'
            f'<span style="{STATUS_STYLE}">{esc(text)}</span></div>')


# -- the client's progress events ------------------------------------------------------------------
def _seconds(value: Any) -> str | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative: say nothing rather than nonsense
        return None
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def progress_text(event: Any, *, where: str | None = None) -> str | None:
    """A status line for one progress event (None for an event that needs none, e.g. "done").

    ``where``: what is being reached ("sandbox", a host), when the event does not say."""
    kind = getattr(event, "kind", None)
    attempt, most = getattr(event, "attempt", None), getattr(event, "max_attempts", None)
    reason = getattr(event, "reason", None)
    delay, elapsed = _seconds(getattr(event, "delay_s", None)), _seconds(getattr(event, "elapsed_s", None))
    where = getattr(event, "endpoint", None) or getattr(event, "where", None) or where
    of = f" {attempt} of {most}" if attempt and most else (f" {attempt}" if attempt else "")
    if kind == "connecting":
        text = f"connecting to {where}…" if where else "connecting…"
        return text if not attempt or attempt == 1 else text[:-1] + f" (attempt{of})…"
    if kind == "sent":
        return "request sent, waiting for the answer…"
    if kind in ("retry", "waiting"):  # "waiting": the ticks of a retry's delay, still saying why it retries
        why = f" after {reason}" if reason else ""
        if kind == "retry":
            return f"retry{of}{why}{f' (waiting {delay})' if delay else ''}…"
        so_far = f", {elapsed} so far" if elapsed else ""
        return f"retry{of}{why} (next attempt in {delay or 'a moment'}{so_far})…"
    if kind == "receiving":
        return "receiving…"
    if kind == "failed":
        why = f": {reason}" if reason else ""
        after = f" after {elapsed}" if elapsed else ""
        return f"failed{after}{why}"
    if kind == "done":
        return None
    return str(reason) if reason else None
