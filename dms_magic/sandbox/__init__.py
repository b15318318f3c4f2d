"""A local, faithful ChatWithDesensitize service: signature checks, masking, a built-in generator.

``start(...)`` runs one on a background thread (the notebook's default backend, the tests'
fixture); ``python -m dms_magic.sandbox`` runs one in the foreground. See docs/architecture.md.
"""
from __future__ import annotations

from typing import Any

__all__ = ["start", "Sandbox", "KeyPair"]


def __getattr__(name: str) -> Any:  # werkzeug is imported only when a sandbox is wanted
    if name in ("start", "Sandbox"):
        from . import server

        return getattr(server, name)
    if name == "KeyPair":
        from .auth import KeyPair

        return KeyPair
    raise AttributeError(name)
