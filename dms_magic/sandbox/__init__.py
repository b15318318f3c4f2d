"""A local, faithful ChatWithDesensitize service: signature checks, masking, a built-in generator.

``start(...)`` runs one on a background thread (the notebook's default backend, the tests'
fixture); ``python -m dms_magic.sandbox`` runs one in the foreground. See docs/architecture.md.
"""
from __future__ import annotations

from typing import Any

__all__ = ["start", "Sandbox", "KeyPair", "FaultConfig", "ReplyShape", "received", "received_all", "Upstream"]

# public name -> the module defining it (werkzeug is imported only when a sandbox is wanted)
_LAZY = {"start": "server", "Sandbox": "server", "KeyPair": "auth", "FaultConfig": "faults",
         "ReplyShape": "replies", "received": "inspection", "received_all": "inspection",
         "Upstream": "upstream"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return __all__
