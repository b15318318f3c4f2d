"""Fault and load knobs, applied before a request is authenticated (as a gateway or network would).

``latency_ms`` adds a fixed delay to every API request (a streamed answer spreads it over its
events); ``error_rate`` answers that fraction with
503 ServiceUnavailable; ``throttle_qps`` answers requests beyond N in any one-second window with
400 Throttling.User; ``drop_rate`` closes that fraction of connections without any answer. With a
sandbox ``seed`` the random choices are reproducible.
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

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:  # (NaN fails every comparison: it is refused too)
                raise ValueError(f"{name}={value!r} is invalid: expected a fraction in [0, 1]")
        if not 0 <= self.latency_ms < float("inf"):
            raise ValueError(f"latency_ms={self.latency_ms!r} is invalid: expected milliseconds >= 0")
        if self.throttle_qps is not None and not 0 < self.throttle_qps < float("inf"):
            raise ValueError(f"throttle_qps={self.throttle_qps!r} is invalid: expected requests/s > 0 (or None)")


class Faults:
    """Decides, per request, what goes wrong: None, "drop", "error" or "throttle"."""

    def __init__(self, config: FaultConfig, seed: int | None = None):
        self.config = config
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()  # arrival times within the last second

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
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)

    def paced(self, chunks: list[bytes]):
        """Yield streamed events with the request's latency spread evenly before them."""
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
