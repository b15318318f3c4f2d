"""Putting dms_magic things on the notebook page: result cards, live streams, dry runs, status.

The HTML itself is built in :mod:`dms_magic.views` (no IPython there, so ``ChatResult._repr_html_``
can use it); this module adds what needs IPython: display calls with metadata and display handles
that update while tokens stream in (``StreamView``: status line, stop states).
"""
from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any, Iterable, Mapping, Sequence

from dms_magic.defaults import STREAM_REFRESH_SECONDS
from dms_magic.views import prediction, styles
from dms_magic.views import status as states
from dms_magic.views.card import chat_result_html, chat_result_text, display_metadata
from dms_magic.views.styles import esc


def redact(text: str) -> str:
    """Last line of defence for every message the magic and the form show: no secret from the
    environment (a variable named like *SECRET*, *TOKEN*, *PASSWORD*) ever reaches the page."""
    for key, value in os.environ.items():
        upper = key.upper()
        if value and len(value) >= 8 and ("SECRET" in upper or "TOKEN" in upper or "PASSWORD" in upper):
            text = text.replace(value, "****")
    return text


def bundle(result: Any, *, state: str | None = None, note: str | None = None,
           **options: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """(data, metadata) mime bundle for a ChatResult: HTML card, plain text, stored metadata.
    ``state``/``note``: how the turn ended, when not from the result (views.status)."""
    data = {"text/plain": chat_result_text(result, state=state, note=note),
            "text/html": chat_result_html(result, state=state, note=note, **options)}
    return data, display_metadata(result)


def show_result(result: Any, *, display_id: str | None = None, update: bool = False, **options: Any) -> None:
    """Display a ChatResult (or update the display ``display_id``) with its metadata."""
    from IPython.display import display, update_display

    data, metadata = bundle(result, **options)
    if update and display_id:
        update_display(data, raw=True, metadata=metadata, display_id=display_id)
    else:
        display(data, raw=True, metadata=metadata, display_id=display_id)


class StreamView:
    """A card that grows as streamed chunks arrive, then ends in one of the ended states.

    The card appears with the first streamed event, or earlier with :meth:`set_status` ("connecting
    to sandbox…"), so its badges (backend, model, masking) are settled from the first frame. Updates
    are throttled (``every`` seconds) because re-rendering per token costs the frontend more than
    the model costs us; a status change is shown at once.

    The turn ends every view, so no card stays on "streaming…": :meth:`finish` with the final
    result, or :meth:`stop` with ``"stopped"`` (Ctrl-C), ``"interrupted"`` (the stream broke off) or
    ``"failed"``, which shows the text so far under that badge with one line of explanation and
    returns it as a ChatResult with ``partial=True`` (for ``-o``).
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
        self.status: str | None = None
        self.state = states.STREAMING
        self._started = time.monotonic()
        self._last = 0.0
        self._gap = every  # seconds until the next refresh (grows with the time a render takes)
        self._shown = False

    def html(self) -> str:
        """The card as it stands (the form puts it in its own output area)."""
        return chat_result_html(self.partial, state=self.state, status=self.status, **self.options)

    _html = html

    def _data(self) -> dict[str, str]:
        text = self.partial.text if not self.status else f"{self.status}\n{self.partial.text}"
        began = time.monotonic()
        page = self.html()
        # A long Markdown answer takes a while to render: wait at least 3x that long before the next
        # refresh, so rendering never takes more than a quarter of the stream's time.
        self._gap = max(self.every, 3 * (time.monotonic() - began))
        return {"text/plain": text, "text/html": page}

    def _show(self) -> None:
        from IPython.display import display as ipy_display

        self._shown = True
        self._last = time.monotonic()
        ipy_display(self._data(), raw=True, display_id=self.display_id)

    def _refresh(self) -> None:
        from IPython.display import update_display

        self.updates += 1
        self._last = time.monotonic()
        update_display(self._data(), raw=True, display_id=self.display_id)

    def _render(self, *, now: bool = False) -> None:
        if not self.enabled:
            return
        if not self._shown:
            self._show()
        elif now or time.monotonic() - self._last >= self._gap:
            self._refresh()

    def set_status(self, text: str | None) -> None:
        """Say what is happening while no text arrives ("retry 2 of 10 after HTTP 503 (waiting
        1.2 s)…"); None clears it. Shown at once (the card appears if it was not yet shown)."""
        text = redact(text) if text else None
        if text == self.status:
            return
        self.status = text
        self._render(now=True)

    def progress(self, event: Any, *, where: str | None = None) -> None:
        """:meth:`set_status` from a ``dms_magic.client.ProgressEvent`` (views.status.progress_text)."""
        self.set_status(states.progress_text(event, where=where))

    def add(self, chunk: Any) -> None:
        """Append one StreamChunk's text/reasoning delta and refresh (throttled)."""
        self.partial.text += _delta(chunk, "text")
        self.partial.reasoning += _delta(chunk, "reasoning")
        for field in ("request_id", "model"):  # the model that answers, from the first frame on
            value = getattr(chunk, field, None)
            if value:
                setattr(self.partial, field, value)
        now = bool(self.status)  # the first text replaces a status line at once
        self.status = None
        self._render(now=now)

    def finish(self, result: Any, *, state: str | None = None, note: str | None = None) -> None:
        """Replace the growing card by the final result's card (``state``: default from the result)."""
        self.status = None
        self.state = states.state_of(result, state)
        if self.enabled:
            self.updates += 1
            show_result(result, display_id=self.display_id, update=self._shown, state=self.state, note=note,
                        **self.options)
            self._shown = True

    def stop(self, state: str = states.STOPPED, note: str | None = None) -> Any:
        """End the card as ``stopped``, ``interrupted`` or ``failed`` with the text so far, and return
        that text as a ChatResult with ``partial=True`` and ``stop_reason=state``. ``note``: the one
        line under it (default: what happened and what is kept), e.g. the error's first line."""
        from dms_magic.wire.result import ChatResult

        if state not in (states.STOPPED, states.INTERRUPTED, states.FAILED):
            raise ValueError(f"state={state!r} is invalid: expected stopped, interrupted or failed")
        p = self.partial
        result = ChatResult(text=p.text, reasoning=p.reasoning or None, model=p.model, request_id=p.request_id,
                            latency=time.monotonic() - self._started, backend=p.backend, request=p.request,
                            partial=True, stop_reason=state)
        self.finish(result, state=state, note=redact(note) if note else None)
        return result


def _delta(chunk: Any, field: str) -> str:
    value = getattr(chunk, field, None)  # StreamChunk.text / .reasoning: this event's increment
    return value if isinstance(value, str) else ""


# -- dry run ------------------------------------------------------------------------------------
def dry_run_html(*, action: str, endpoint: str, query: Mapping[str, str], form: Mapping[str, str],
                 previews: Iterable[Any], prompt_tokens: int, signer: str = "", masked: bool = True) -> str:
    """What would be sent (redacted: who signs, never the signature or a secret), the local masking
    preview (with how many values it masks), a prompt-token estimate."""
    cell = styles.CELL_STYLE
    rows = "".join(f'<tr><td style="{cell}"><code>{esc(k)}</code></td>'
                   f'<td style="{cell};white-space:pre-wrap"><code>{esc(v)}</code></td></tr>'
                   for k, v in {**query, **{f"(body) {k}": v for k, v in form.items()}}.items())
    parts = [f'<div class="dms-dry-run {styles.VIEW_CLASS}" style="{styles.CARD_STYLE}">',
             styles.badge("dry run: nothing sent", "#fff8c5", "#7d4e00"),
             f'<div style="{styles.MUTED_STYLE};margin:4px 0">POST {esc(endpoint)} · action {esc(action)}</div>',
             f'<div style="{styles.MUTED_STYLE};margin:4px 0">Authorization: ACS3-HMAC-SHA256, signed by '
             f'{esc(signer or "the resolved credentials")}; the signature is computed when sent and never shown</div>',
             f'<table style="{styles.TABLE_STYLE}">{rows}</table>',
             f'<div style="margin-top:6px">≈ <b>{prompt_tokens}</b> prompt tokens (local estimate)</div>']
    for preview in previews:
        html = prediction.preview_html(preview, warn=masked) if hasattr(preview, "entities") else esc(preview)
        title = "local masking preview" if masked else "masking is off; what masking would change"
        parts.append(f'<div style="margin-top:6px"><div style="{styles.MUTED_STYLE}">{title}'
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
    cell = styles.CELL_STYLE
    rows = "".join(f'<tr><td style="{cell}">{esc(key)}</td><td style="{cell}">'
                   f'<code>{esc(value)}</code></td><td style="{cell};font-style:italic">'
                   f'{esc(where or "")}</td></tr>' for key, value, where in _status_rows(info))
    return (f'<div class="dms-status {styles.VIEW_CLASS}" style="{styles.CARD_STYLE}"><b>dms_magic status</b>'
            f'<table style="{styles.TABLE_STYLE}">{rows}</table></div>')


def status_text(info: Mapping[str, Any]) -> str:
    return "\n".join(f"{key:13} {value}" + (f"  [from {where}]" if where else "")
                     for key, value, where in _status_rows(info))


def history_html(name: str, messages: Sequence[Mapping[str, Any]]) -> str:
    cell = styles.CELL_STYLE
    rows = "".join(f'<tr><td style="{cell}"><b>{esc(m.get("role"))}</b></td>'
                   f'<td style="{cell};white-space:pre-wrap">{esc(m.get("content"))}</td></tr>'
                   for m in messages)
    empty = f'<div style="{styles.MUTED_STYLE}">(empty)</div>' if not messages else ""
    return (f'<div class="dms-history {styles.VIEW_CLASS}" style="{styles.CARD_STYLE}"><b>session {esc(name)}</b> · {len(messages)} messages'
            f'<table style="{styles.TABLE_STYLE}">{rows}</table>{empty}</div>')


def history_text(name: str, messages: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"session {name}: {len(messages)} messages"]
    lines += [f"{m.get('role')}: {m.get('content')}" for m in messages]
    return "\n".join(lines)


def show_mask_preview(result: Any) -> None:
    """``%dmschat preview``: the masking preview with its count (and the warning when it is zero)."""
    show_html(prediction.preview_html(result), prediction.preview_text(result))


def show_html(html: str, text: str) -> None:
    from IPython.display import display

    display({"text/html": html, "text/plain": text}, raw=True)
