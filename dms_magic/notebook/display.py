"""Putting dms_magic things on the notebook page: result cards, live streams, dry runs, status.

The HTML itself is built in :mod:`dms_magic.views.render` (no IPython there, so ``ChatResult._repr_html_``
can use it); this module adds what needs IPython: display calls with metadata and display handles
that update while tokens stream in.
"""
from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any, Iterable, Mapping, Sequence

from dms_magic.defaults import STREAM_REFRESH_SECONDS
from dms_magic.views import render
from dms_magic.views.render import chat_result_html, chat_result_text, esc


def redact(text: str) -> str:
    """Last line of defence for every message the magic and the form show: no secret from the
    environment (a variable named like *SECRET*, *TOKEN*, *PASSWORD*) ever reaches the page."""
    for key, value in os.environ.items():
        upper = key.upper()
        if value and len(value) >= 8 and ("SECRET" in upper or "TOKEN" in upper or "PASSWORD" in upper):
            text = text.replace(value, "****")
    return text


def bundle(result: Any, **options: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """(data, metadata) mime bundle for a ChatResult: HTML card, plain text, stored metadata."""
    data = {"text/plain": chat_result_text(result), "text/html": chat_result_html(result, **options)}
    return data, render.display_metadata(result)


def show_result(result: Any, *, display_id: str | None = None, update: bool = False, **options: Any) -> None:
    """Display a ChatResult (or update the display ``display_id``) with its metadata."""
    from IPython.display import display, update_display

    data, metadata = bundle(result, **options)
    if update and display_id:
        update_display(data, raw=True, metadata=metadata, display_id=display_id)
    else:
        display(data, raw=True, metadata=metadata, display_id=display_id)


class StreamView:
    """A card that grows as streamed chunks arrive, then becomes the final result's card.

    The card first appears with the first streamed event, so its badges (backend, model, masking)
    are settled from the first frame and do not change when the stream ends. Updates are throttled (``every`` seconds) because re-rendering per token costs the frontend
    more than the model costs us; the final card replaces whatever partial state was last shown.
    """

    def __init__(self, *, backend: str | None, model: str | None, masked: bool, display: bool = True,
                 every: float = STREAM_REFRESH_SECONDS, request: Any = None, **options: Any):
        import uuid

        # ``request``: the ChatRequest being streamed, so the masking badge names its rule and the
        # card counts what the local prediction masks from the first frame, as the final card does.
        self.partial = SimpleNamespace(text="", reasoning="", backend=backend, model=model, masked=masked,
                                       request=request, messages=getattr(request, "messages", None),
                                       request_id=None, latency=None, usage_dict=None,
                                       token_logprobs=None, finish_reason=None)
        self.options = options
        self.enabled = display
        self.every = every
        self.display_id = uuid.uuid4().hex
        self.updates = 0
        self._last = 0.0
        self._shown = False

    def _show(self) -> None:
        from IPython.display import display as ipy_display

        self._shown = True
        ipy_display({"text/plain": self.partial.text, "text/html": self._html()}, raw=True,
                    display_id=self.display_id)

    def _html(self) -> str:
        return chat_result_html(self.partial, streaming=True, **self.options)

    def add(self, chunk: Any) -> None:
        """Append one StreamChunk's text/reasoning delta and refresh (throttled)."""
        self.partial.text += _delta(chunk, "text")
        self.partial.reasoning += _delta(chunk, "reasoning")
        for field in ("request_id", "model"):  # the model that answers, from the first frame on
            value = getattr(chunk, field, None)
            if value:
                setattr(self.partial, field, value)
        now = time.monotonic()
        if self.enabled and not self._shown:
            self._last = now
            self._show()
        elif self.enabled and now - self._last >= self.every:
            self._last = now
            self._refresh()

    def _refresh(self) -> None:
        from IPython.display import update_display

        self.updates += 1
        update_display({"text/plain": self.partial.text, "text/html": self._html()}, raw=True,
                       display_id=self.display_id)

    def finish(self, result: Any) -> None:
        """Replace the growing card by the final result's card."""
        if self.enabled:
            self.updates += 1
            show_result(result, display_id=self.display_id, update=self._shown, **self.options)


def _delta(chunk: Any, field: str) -> str:
    value = getattr(chunk, field, None)  # StreamChunk.text / .reasoning: this event's increment
    return value if isinstance(value, str) else ""


# -- dry run ------------------------------------------------------------------------------------
def dry_run_html(*, action: str, endpoint: str, query: Mapping[str, str], form: Mapping[str, str],
                 previews: Iterable[Any], prompt_tokens: int, signer: str = "", masked: bool = True) -> str:
    """What would be sent (redacted: who signs, never the signature or a secret), the local masking
    preview (with how many values it masks), a prompt-token estimate."""
    cell = render.CELL_STYLE
    rows = "".join(f'<tr><td style="{cell}"><code>{esc(k)}</code></td>'
                   f'<td style="{cell};white-space:pre-wrap"><code>{esc(v)}</code></td></tr>'
                   for k, v in {**query, **{f"(body) {k}": v for k, v in form.items()}}.items())
    parts = [f'<div class="dms-dry-run {render.VIEW_CLASS}" style="{render.CARD_STYLE}">',
             render.badge("dry run: nothing sent", "#fff8c5", "#7d4e00"),
             f'<div style="{render.MUTED_STYLE};margin:4px 0">POST {esc(endpoint)} · action {esc(action)}</div>',
             f'<div style="{render.MUTED_STYLE};margin:4px 0">Authorization: ACS3-HMAC-SHA256, signed by '
             f'{esc(signer or "the resolved credentials")}; the signature is computed when sent and never shown</div>',
             f'<table style="{render.TABLE_STYLE}">{rows}</table>',
             f'<div style="margin-top:6px">≈ <b>{prompt_tokens}</b> prompt tokens (local estimate)</div>']
    for preview in previews:
        html = render.mask_preview_html(preview, warn=masked) if hasattr(preview, "entities") else esc(preview)
        title = "local masking preview" if masked else "masking is off; what masking would change"
        parts.append(f'<div style="margin-top:6px"><div style="{render.MUTED_STYLE}">{title}'
                     f'</div>{html}</div>')
    parts.append("</div>")
    return "".join(parts)


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens as the sandbox counts them (its tokeniser: one token per CJK character, digit
    or punctuation mark, one per ASCII word), so a dry run predicts the sandbox's usage exactly and a
    real Qwen count to within the few chat-template tokens per message."""
    from dms_magic.wire.tokens import count_message_tokens  # the sandbox's own count

    return count_message_tokens(messages)


# -- status and history -------------------------------------------------------------------------
def _status_rows(info: Mapping[str, Any]) -> list[tuple[str, Any, str | None]]:
    """(setting, value, where it came from) for ``%dmschat status``; the HTML and text views share it.
    ``info`` comes from ``session.status``, which only holds the credential kind and masked id."""
    sources = info.get("sources") or {}
    rows = []
    for key in ("backend", "endpoint", "instance_id", "profile", "credentials", "access_key_id"):
        value = info.get(key)
        if value is None and key in ("profile", "access_key_id"):
            continue
        rows.append((key, value, sources.get(key)))
    rows.extend((key, value, "config") for key, value in (info.get("defaults") or {}).items())
    return rows


def status_html(info: Mapping[str, Any]) -> str:
    """``%dmschat status``: the resolved backend and where each setting came from. No secrets."""
    # The theme's own text colour in the cells: JupyterLab shades every other row, and the muted
    # colour on that shade is right at the 4.5:1 limit.
    cell = render.CELL_STYLE
    rows = "".join(f'<tr><td style="{cell}">{esc(key)}</td><td style="{cell}">'
                   f'<code>{esc(value)}</code></td><td style="{cell};font-style:italic">'
                   f'{esc(where or "")}</td></tr>' for key, value, where in _status_rows(info))
    return (f'<div class="dms-status {render.VIEW_CLASS}" style="{render.CARD_STYLE}"><b>dms_magic status</b>'
            f'<table style="{render.TABLE_STYLE}">{rows}</table></div>')


def status_text(info: Mapping[str, Any]) -> str:
    return "\n".join(f"{key:13} {value}" + (f"  [from {where}]" if where else "")
                     for key, value, where in _status_rows(info))


def history_html(name: str, messages: Sequence[Mapping[str, Any]]) -> str:
    cell = render.CELL_STYLE
    rows = "".join(f'<tr><td style="{cell}"><b>{esc(m.get("role"))}</b></td>'
                   f'<td style="{cell};white-space:pre-wrap">{esc(m.get("content"))}</td></tr>'
                   for m in messages)
    empty = f'<div style="{render.MUTED_STYLE}">(empty)</div>' if not messages else ""
    return (f'<div class="dms-history {render.VIEW_CLASS}" style="{render.CARD_STYLE}"><b>session {esc(name)}</b> · {len(messages)} messages'
            f'<table style="{render.TABLE_STYLE}">{rows}</table>{empty}</div>')


def history_text(name: str, messages: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"session {name}: {len(messages)} messages"]
    lines += [f"{m.get('role')}: {m.get('content')}" for m in messages]
    return "\n".join(lines)


def show_mask_preview(result: Any) -> None:
    """``%dmschat preview``: the masking preview with its count (and the warning when it is zero)."""
    show_html(render.mask_preview_html(result), render.mask_preview_text(result))


def show_html(html: str, text: str) -> None:
    from IPython.display import display

    display({"text/html": html, "text/plain": text}, raw=True)
