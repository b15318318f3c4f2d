"""Progress events: what a call is doing now, for a status line (the notebook's view reads them).

A call reports ``connecting`` before its first connection attempt (so a view can show something
within a second), ``sent`` once the request is written, ``receiving`` when the reply's headers
arrive, ``retry`` when an attempt failed and another follows after ``delay_s``, ``waiting`` while
that delay runs down (at most a second apart), then ``done`` or ``failed``. A callback that raises
is logged and ignored: reporting never breaks the call.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("dms_magic.client")

KINDS = ("connecting", "sent", "retry", "waiting", "receiving", "done", "failed")


@dataclass(frozen=True)
class ProgressEvent:
    kind: str  # one of KINDS
    attempt: int  # 1-based
    max_attempts: int
    reason: str = ""  # "" or e.g. "HTTP 503 ServiceUnavailable", "connection refused"
    delay_s: float = 0.0  # retry / waiting: seconds until the next attempt
    elapsed_s: float = 0.0  # since the call began


Progress = Callable[[ProgressEvent], None]


def report(progress: Progress | None, event: ProgressEvent) -> None:
    if progress is None:
        return
    try:
        progress(event)
    except Exception:  # noqa: BLE001 - a status line must not break the call it reports on
        log.warning("progress callback failed on %s (ignored)", event.kind, exc_info=True)
