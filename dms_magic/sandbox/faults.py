"""Fault and load knobs, applied before a request is authenticated (as a gateway or network would).

``latency_ms`` adds a fixed delay to every API request (a streamed answer spreads it over its
events); ``error_rate`` answers that fraction with
503 ServiceUnavailable; ``throttle_qps`` answers requests beyond N in any one-second window with
400 Throttling.User; ``drop_rate`` closes that fraction of connections without any answer. With a
sandbox ``seed`` the random choices are reproducible.

Two knobs test how a client waits and retries:

- ``slow_reply_ms`` holds the answer that long *after* the request was read and recorded (the
  journal already shows it), before the first byte of the reply, streamed or not: a client whose
  timeout is shorter sees a read timeout on a request the service did process. ``slow_replies``
  limits it to the first N answers (None: every one), so a retry can then succeed.
- ``throttle_retry_after_ms`` adds ``x-acs-retry-after`` (milliseconds, the header the official
  SDK reads) to Throttling replies.
"""
from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: float = 0
    error_rate: float = 0
    throttle_qps: float | None = None
    drop_rate: float = 0
    slow_reply_ms: float = 0
    slow_replies: int | None = None
    throttle_retry_after_ms: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:  # (NaN fails every comparison: it is refused too)
                raise ValueError(f"{name}={value!r} is invalid: expected a fraction in [0, 1]")
        if not 0 <= self.latency_ms < float("inf"):
            raise ValueError(f"latency_ms={self.latency_ms!r} is invalid: expected milliseconds >= 0")
        if not 0 <= self.slow_reply_ms < float("inf"):
            raise ValueError(f"slow_reply_ms={self.slow_reply_ms!r} is invalid: expected milliseconds >= 0")
        if self.slow_replies is not None and not (isinstance(self.slow_replies, int) and self.slow_replies >= 0):
            raise ValueError(f"slow_replies={self.slow_replies!r} is invalid: expected a count >= 0 (or None: all)")
        if self.throttle_retry_after_ms is not None and not (
                isinstance(self.throttle_retry_after_ms, int) and self.throttle_retry_after_ms >= 0):
            raise ValueError(f"throttle_retry_after_ms={self.throttle_retry_after_ms!r} is invalid: expected "
                             "milliseconds >= 0 (or None: no header)")
        if self.throttle_qps is not None and not 0 < self.throttle_qps < float("inf"):
            raise ValueError(f"throttle_qps={self.throttle_qps!r} is invalid: expected requests/s > 0 (or None)")


class Faults:
    """Decides, per request, what goes wrong: None, "drop", "error" or "throttle"."""

    def __init__(self, config: FaultConfig, seed: int | None = None):
        self.config = config
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()  # arrival times within the last second
        self._slow_left = config.slow_replies  # answers still to hold (None: every one)

    def decide(self, now: float | None = None) -> str | None:
        cfg = self.config
        now = time.monotonic() if now is None else now
        with self._lock:
            if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                return "drop"
            if cfg.throttle_qps is not None:
                while self._recent and self._recent[0] <= now - 1.0:
                    self._recent.popleft()
                if len(self._recent) >= cfg.throttle_qps:
                    return "throttle"
                self._recent.append(now)
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                return "error"
        return None

    def delay(self) -> None:
        """Before a plain (not streamed) answer: the slow-reply hold, then the latency."""
        self._hold()
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)

    def _hold(self) -> None:
        if not self.config.slow_reply_ms:
            return
        with self._lock:
            if self._slow_left is not None:
                if self._slow_left <= 0:
                    return
                self._slow_left -= 1
        time.sleep(self.config.slow_reply_ms / 1000)

    def throttled(self, response):
        """A Throttling reply, with ``x-acs-retry-after`` when the knob asks for it."""
        if self.config.throttle_retry_after_ms is not None:
            response.headers["x-acs-retry-after"] = str(self.config.throttle_retry_after_ms)
        return response

    def paced(self, chunks: list[bytes]):
        """Yield streamed events with the request's latency spread evenly before them (after the
        slow-reply hold: the headers go out with the first event, so they wait too)."""
        self._hold()
        pause = self.config.latency_ms / 1000 / max(len(chunks), 1)
        for chunk in chunks:
            if pause:
                time.sleep(pause)
            yield chunk


def drop_connection(environ: dict) -> None:
    """Close the client's socket so it sees the connection end with no response at all."""
    import socket

    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
