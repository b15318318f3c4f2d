"""Giving the memory of a large request back to the operating system (glibc only).

Why: a 0.9 MB request makes a few copies of its body (form decoding, JSON, masking, the reply).
glibc serves allocations that size from the worker thread's own malloc arena once its dynamic mmap
threshold has grown past them, and when they are freed it keeps the pages for reuse. With requests
arriving 8 at a time, each of the pool's workers grows an arena of its own, so the freed memory
is held once per worker: 300 such requests grew the service by +165..175 MB although the journal
keeps a bounded amount (with ``MALLOC_ARENA_MAX=2`` the same run grew +79 MB). The other half of
that growth was the generator building ~150k token strings per 0.9 MB prompt (tokens.py now counts
without them); together: +149 -> +69 MB peak at 8 at a time, +71 -> +28 MB with one sender.

What: after a request whose body is above ``LARGE_BODY_BYTES``, the worker calls glibc's
``malloc_trim(0)``, which returns the free pages of every arena to the system. Why this and not
``mallopt(M_ARENA_MAX, ...)``: the in-process sandbox runs inside the user's kernel, and capping
arenas would change how every thread of that process allocates for its whole life (more lock
contention for everyone); a trim only hands back memory that is already free, and only after the
requests that made it. It costs a few milliseconds, against the tens a 0.9 MB request takes, and
small requests never pay it. Elsewhere (macOS, Windows, musl) it is a no-op.
"""
from __future__ import annotations

import ctypes
import platform
import sys
from typing import Callable

LARGE_BODY_BYTES = 256 * 1024  # bodies above this are followed by a trim (the form limit is ~1 MB)


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def release_after(body_bytes: int | None) -> None:
    """Return freed heap memory to the system if a request with a body this large just finished."""
    if _malloc_trim is not None and body_bytes and body_bytes > LARGE_BODY_BYTES:
        _malloc_trim(0)
