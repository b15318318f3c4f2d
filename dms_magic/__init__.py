"""dms_magic: Alibaba Cloud DMS ChatWithDesensitize (LLM chat with data masking) as a notebook tool.

``%load_ext dms_magic`` registers ``%%dmschat`` and ``%dmschat``. The Python API (``chat``,
``compare``, ``chat_many``, ``mask``, ``form``, ``DmsChatClient``) is imported lazily so that
``import dms_magic`` stays cheap: no pandas, ipywidgets, jieba or alibabacloud_credentials.
"""
from __future__ import annotations

import importlib
from typing import Any

from dms_magic.defaults import __version__  # noqa: F401  (one home: the client's User-Agent reads it too)

# public name -> module that defines it
_LAZY = {
    "DmsChatClient": "dms_magic.client",
    "ClientSettings": "dms_magic.client",
    "ChatStream": "dms_magic.client",
    "ProgressEvent": "dms_magic.client",
    "ChatRequest": "dms_magic.wire.params",
    "ChatResult": "dms_magic.wire.result",
    "DmsError": "dms_magic.errors",
    "mask": "dms_magic.masking",
    "MaskResult": "dms_magic.masking",
    "chat": "dms_magic.session",
    "stream": "dms_magic.session",
    "default_client": "dms_magic.session",
    "compare": "dms_magic.comparison",
    "Comparison": "dms_magic.comparison",
    "chat_many": "dms_magic.batch",
    "form": "dms_magic.notebook.form",
}

__all__ = sorted(_LAZY) + ["load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dms_magic' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    from dms_magic.notebook.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from dms_magic.notebook.magics import unload_ipython_extension as _unload

    _unload(ipython)
