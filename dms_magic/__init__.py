"""dms_magic: Alibaba Cloud DMS ChatWithDesensitize (LLM chat with data masking) as a notebook tool.

``%load_ext dms_magic`` registers ``%%dmschat`` and ``%dmschat``. The whole public Python API
(``chat``, ``compare``, ``chat_many``, ``mask``, ``form``, ``configure``, ``DmsChatClient``, the
exceptions...) is named here and imported lazily, so that ``import dms_magic`` stays cheap: no
pandas, ipywidgets, jieba or alibabacloud_credentials. Modules not named here are internals; the
local service is ``dms_magic.sandbox`` (``start``, ``received``).
"""
from __future__ import annotations

import importlib
from typing import Any

from dms_magic.defaults import __version__  # noqa: F401  (one home: the client's User-Agent reads it too)

# public name -> module that defines it. Everything a user needs is here: no user code has to name
# a module path (tests/unit/test_public_names.py checks that each name resolves and stays what it is).
_LAZY = {
    # chatting
    "chat": "dms_magic.session",
    "stream": "dms_magic.session",
    "compare": "dms_magic.comparison",
    "Comparison": "dms_magic.comparison",
    "chat_many": "dms_magic.batch",
    "summarize": "dms_magic.summaries",
    "token_deltas": "dms_magic.summaries",
    "leak_counts": "dms_magic.summaries",
    "answer_similarity": "dms_magic.summaries",
    "form": "dms_magic.notebook.form",
    # settings
    "configure": "dms_magic.session",
    "configured": "dms_magic.session",
    "status": "dms_magic.session",
    "reset": "dms_magic.session",
    "default_client": "dms_magic.session",
    # the client and what it returns
    "DmsChatClient": "dms_magic.client",
    "ClientSettings": "dms_magic.client",
    "ProgressEvent": "dms_magic.client",
    "ChatStream": "dms_magic.client",
    "ChatRequest": "dms_magic.wire.request",
    "PARAMS": "dms_magic.wire.params",
    "ChatResult": "dms_magic.wire.result",
    "StreamChunk": "dms_magic.wire.result",
    # masking
    "mask": "dms_magic.masking",
    "mask_messages": "dms_magic.masking",
    "suggest_rule": "dms_magic.masking",
    "MaskResult": "dms_magic.masking",
    # images and tools
    "image_part": "dms_magic.images",
    "user_message": "dms_magic.images",
    "with_images": "dms_magic.images",
    "ToolCall": "dms_magic.tools",
    "tool_spec": "dms_magic.tools",
    "run_tool_calls": "dms_magic.tools",
    "tool_loop": "dms_magic.tools",
    # errors: one root, DmsMagicError; DmsError for what the service (or the way to it) answered
    **{name: "dms_magic.errors" for name in (
        "DmsMagicError", "DmsError", "AuthError", "ThrottlingError", "ServiceError", "ParameterError",
        "PermissionError_", "TransportError", "RequestCancelledError", "OutcomeUnknownError",
        "TruncatedStreamError", "InvalidParameterError", "UnknownParameterError", "SettingsError",
        "CredentialError", "ImageError", "ImageTooLargeError", "ToolSpecError", "UnknownRuleError",
        "MaskingConfigError", "OperatorConfigError", "CustomRecognizerError", "NotSent", "TurnEnded")},
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
