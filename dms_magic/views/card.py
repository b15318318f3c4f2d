"""The result card: one answer as a person reads it, as HTML and as plain text.

``ChatResult._repr_html_`` calls :func:`chat_result_html`; the notebook's stream view and the form
call it with a ``state`` and a ``status`` line while an answer arrives. From the top:

1. badges: who answered (sandbox or endpoint), the model, masking on/off (a warning when the rule
   masks nothing), the state (streaming…, stopped, interrupted, failed) or an unusual finish reason;
2. the status line while connecting or retrying (views.status);
3. with masking on: how many values the local prediction masks, and the prompt as the model saw
   it with each replacement highlighted (views.prediction, drawn by views.mask_view);
4. the reasoning, folded;
5. the answer, rendered as Markdown with raw HTML shown as text (views.markdown); when logprobs
   were asked for, the token strip is the answer (views.logprobs) and the Markdown rendering is
   folded under it, so the answer is shown once;
6. for a stopped, interrupted or failed turn: one line saying what happened and what is kept;
7. a footer: ``27 → 113 tokens`` (the usage table folded under it), latency with its unit,
   request id.

Results are read through ``getattr`` with defaults so that anything result-like renders: a stream
in progress, a partial result, an error reply. Everything that came from the user, the model or
the server is escaped (or rendered by markdown-it with HTML off).
"""
from __future__ import annotations

from typing import Any, Mapping

from dms_magic.views import status as st
from dms_magic.views.prediction import (masking_summary_html, masking_summary_text, model_saw_html, model_saw_text,
                                        nothing_masked)
from dms_magic.views.styles import (CARD_STYLE, CELL, MUTED_STYLE, TABLE_STYLE, VIEW_CLASS, WARN_BG, WARN_FG,
                                    backend_badge, badge, esc, masking_badge)
from dms_magic.wire.values import flat_usage, to_float


# -- small readers ------------------------------------------------------------------------------
def _request_value(result: Any, name: str) -> Any:
    request = getattr(result, "request", None)
    values = getattr(request, "values", None) or {}
    return values.get(name)


def _model_of(result: Any) -> str | None:
    """The model that answered, else the one asked for (a partial streamed result has neither yet)."""
    return getattr(result, "model", None) or _request_value(result, "model")


def _masked_of(result: Any) -> bool:
    """Whether masking was on: the result says, else the request it was made from."""
    masked = getattr(result, "masked", None)
    return bool(_request_value(result, "need_desensitization")) if masked is None else masked


def _messages_of(result: Any) -> Any:
    return getattr(result, "messages", None) or _request_value(result, "messages")


def latency_text(latency: Any) -> str | None:
    """A latency in seconds as people read it ("840 ms", "12.3 s"); None when unknown."""
    seconds = to_float(latency)
    if seconds is None:
        return None
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


# -- usage --------------------------------------------------------------------------------------
def usage_counters(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """The usage counters worth a column: nested details flattened (``prompt_tokens_details.cached``),
    a detail counter that is 0 or missing left out (``cached_tokens`` is 0 on almost every call)."""
    return {key: value for key, value in flat_usage(usage or {}).items()
            if "." not in key or (value not in (0, "0", None))}


def usage_line(usage: Mapping[str, Any] | None) -> str | None:
    """``27 → 113 tokens`` (prompt → completion); None when the service reported nothing."""
    flat = flat_usage(usage or {})
    prompt, completion = flat.get("prompt_tokens"), flat.get("completion_tokens")
    if prompt is None and completion is None:
        total = flat.get("total_tokens")
        return f"{total} tokens" if total is not None else None
    return f"{'?' if prompt is None else prompt} → {'?' if completion is None else completion} tokens"


def usage_table_html(usage: Mapping[str, Any] | None) -> str:
    """Token usage as a one-row table (see :func:`usage_counters` for the columns)."""
    flat = usage_counters(usage)
    if not flat:
        return f'<div style="{MUTED_STYLE}">no usage reported</div>'
    head = "".join(f'<th style="{CELL};font-weight:600">{esc(k)}</th>' for k in flat)
    row = "".join(f'<td style="{CELL}">{esc(v)}</td>' for v in flat.values())
    return f'<table class="dms-usage" style="{TABLE_STYLE}"><tr>{head}</tr><tr>{row}</tr></table>'


def _usage_html(usage: Mapping[str, Any] | None) -> str:
    line = usage_line(usage)
    if not line:
        return ""
    return (f'<details class="dms-usage-line" style="display:inline-block;vertical-align:top">'
            f'<summary style="{MUTED_STYLE};cursor:pointer">{esc(line)}</summary>{usage_table_html(usage)}</details>')


# -- the card -----------------------------------------------------------------------------------
def _header(result: Any, state: str) -> str:
    masked = _masked_of(result)
    rule = _request_value(result, "desensitization_rule") if masked else None
    messages = _messages_of(result) if masked else None
    parts = [backend_badge(getattr(result, "backend", None)),
             badge(_model_of(result) or "default model", "#f6f8fa", "#24292f", "model"),
             masking_badge(masked, rule, nothing_masked=bool(masked) and nothing_masked(messages, rule)),
             st.state_badge(state)]
    finish = getattr(result, "finish_reason", None)
    if state == st.FINISHED and finish and finish != "stop":
        parts.append(badge(f"finish: {finish}", WARN_BG, WARN_FG, "why generation ended"))
    if getattr(result, "partial", False):
        parts.append(badge("partial", WARN_BG, WARN_FG, "the answer is incomplete: .partial is True",
                           cls="dms-partial"))
    return f'<div class="dms-card-badges">{"".join(parts)}</div>'


def _markdown(result: Any, text: str) -> str:
    """The answer rendered as Markdown (raw HTML shown as text); masked values stay literal."""
    from dms_magic.views.markdown import markdown_html
    from dms_magic.views.prediction import masked_values

    literal = (masked_values(_messages_of(result), _request_value(result, "desensitization_rule"))
               if _masked_of(result) else ())
    return (f'<div class="dms-answer dms-markdown" style="margin:6px 0;line-height:1.45">'
            f'{markdown_html(text, literal=literal)}</div>')


def _answer_html(result: Any, state: str, show_logprobs: bool) -> str:
    text = getattr(result, "text", "") or ""
    tokens = getattr(result, "token_logprobs", None)
    if show_logprobs and tokens:
        # Logprobs were asked for: the token strip is the answer (each token tinted by its probability,
        # its alternatives in a popover), shown once; the Markdown rendering is folded under it.
        from dms_magic.views.logprobs import token_strip_html

        answer = (f'<div class="dms-answer dms-logprobs" style="margin:6px 0">'
                  f'{token_strip_html(tokens, text=text)}</div>')
        if text:
            answer += (f'<details class="dms-markdown-view" style="margin:4px 0"><summary style="{MUTED_STYLE};'
                       f'cursor:pointer">rendered as Markdown</summary>{_markdown(result, text)}</details>')
        return answer
    if text:
        answer = _markdown(result, text)
    elif state == st.STREAMING:
        answer = f'<div class="dms-answer" style="{MUTED_STYLE};margin:6px 0">…</div>'
    else:
        answer = '<div class="dms-answer"></div>'
    return answer


def chat_result_html(result: Any, *, streaming: bool = False, state: str | None = None, status: str | None = None,
                     note: str | None = None, show_logprobs: bool = True, show_usage: bool = True) -> str:
    """The card for a ChatResult (or anything result-like).

    ``state``: one of views.status.STATES (default: streaming when ``streaming``, else from the
    result: a partial result is stopped or interrupted, as its ``stop_reason`` says, else finished);
    ``status``: the status line while in progress; ``note``: the one line under a stopped,
    interrupted or failed card (default: what is kept)."""
    state = st.state_of(result, st.STREAMING if streaming and not state else state)
    # the state as a class too: untrusted outputs lose data-* attributes, never classes
    parts = [f'<div class="dms-chat-result {VIEW_CLASS} dms-card-{state}" data-state="{state}" style="{CARD_STYLE}">',
             _header(result, state)]
    if state == st.STREAMING:
        parts.append(st.status_html(status))
    if _masked_of(result):
        rule = _request_value(result, "desensitization_rule")
        messages = _messages_of(result)
        parts.append(masking_summary_html(messages, rule))
        parts.append(model_saw_html(messages, rule))
    reasoning = getattr(result, "reasoning", None)
    if reasoning:
        parts.append(f'<details class="dms-reasoning" style="margin:4px 0"><summary style="{MUTED_STYLE};'
                     f'cursor:pointer">reasoning ({len(reasoning):,} characters)</summary>'
                     f'<div style="white-space:pre-wrap;margin:4px 0;{MUTED_STYLE}">{esc(reasoning)}</div></details>')
    parts.append(_answer_html(result, state, show_logprobs))
    parts.append(st.state_note_html(state, result, note))
    footer = []
    if show_usage:
        usage = _usage_html(getattr(result, "usage_dict", None))
        if usage:
            footer.append(usage)
    latency = latency_text(getattr(result, "latency", None))
    if latency:
        footer.append(f'<span style="{MUTED_STYLE}">{esc(latency)}</span>')
    request_id = getattr(result, "request_id", None)
    if request_id:
        footer.append(f'<span style="{MUTED_STYLE}">request id {esc(request_id)}</span>')
    if footer:
        dot = f'<span style="{MUTED_STYLE}"> · </span>'
        parts.append(f'<div class="dms-card-footer" style="margin-top:4px">{dot.join(footer)}</div>')
    parts.append("</div>")
    return "".join(parts)


def chat_result_text(result: Any, *, state: str | None = None, note: str | None = None) -> str:
    """A readable plain-text view: a header line, the masking count, the answer, usage and ids."""
    state = st.state_of(result, state)
    masked = _masked_of(result)
    rule = _request_value(result, "desensitization_rule")
    head = [f"[{getattr(result, 'backend', None) or 'unknown backend'}]", _model_of(result) or "default model",
            (f"masking on ({rule})" if rule else "masking on") if masked else "masking off"]
    if state not in (st.FINISHED,):
        head.append(state + (" (partial)" if getattr(result, "partial", False) else ""))
    finish = getattr(result, "finish_reason", None)
    if state == st.FINISHED and finish and finish != "stop":
        head.append(f"finish: {finish}")
    lines = [" · ".join(head)]
    if masked:
        for extra in (masking_summary_text(_messages_of(result), rule), model_saw_text(_messages_of(result), rule)):
            if extra:
                lines.append(extra)
    reasoning = getattr(result, "reasoning", None)
    if reasoning:
        lines.append(f"(reasoning: {len(reasoning)} chars, see .reasoning)")
    lines.append(getattr(result, "text", "") or "")
    ending = st.state_note(state, result, note)
    if ending:
        lines.append(ending)
    tail = []
    usage = usage_line(getattr(result, "usage_dict", None))
    if usage:
        tail.append(usage)
    latency = latency_text(getattr(result, "latency", None))
    if latency:
        tail.append(latency)
    if getattr(result, "request_id", None):
        tail.append(f"request id {result.request_id}")
    if tail:
        lines.append(" · ".join(tail))
    return "\n".join(lines)


def display_metadata(result: Any) -> dict[str, Any]:
    """What a notebook stores beside the output: model, request id, usage, whether it is partial."""
    return {"dms_magic": {
        "backend": getattr(result, "backend", None),
        "model": _model_of(result),
        "request_id": getattr(result, "request_id", None),
        "usage": dict(getattr(result, "usage_dict", None) or {}),
        "partial": bool(getattr(result, "partial", False)),
        "stop_reason": getattr(result, "stop_reason", None),
    }}
