"""HTML and plain-text views of results, with no IPython import.

``ChatResult._repr_html_`` calls :func:`chat_result_html`; the notebook layer
(``dms_magic.notebook.display``), the compare view and the widget form reuse the pieces
(:func:`token_strip_html`, :func:`usage_table_html`, :func:`diff_html`). Everything that came from
the user, the model or the server is HTML-escaped here, in one place.

Results are read through ``getattr`` with defaults so that a partial result (a stream in progress,
an error reply) renders too.
"""
from __future__ import annotations

import difflib
import html
import math
import re
from typing import Any, Iterable, Mapping

from dms_magic.values import _canon_token, flat_usage, to_float

# Colours are inline styles: notebook frontends strip <style> blocks from untrusted outputs.
# The public *_STYLE constants are shared by every view (display.py, the compare view).
CARD_STYLE = ("border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:4px 0;"
              "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',sans-serif;font-size:13px;max-width:60em")
MUTED_STYLE = "color:#57606a;font-size:11px"
ANSWER_STYLE = "white-space:pre-wrap;margin:6px 0;line-height:1.45"
TABLE_STYLE = "border-collapse:collapse;font-size:11px;margin-top:4px"
DEL_STYLE = "background:#ffebe9;color:#82071e"  # words only the first text has
INS_STYLE = "background:#dafbe1;color:#116329;text-decoration:none"  # words only the second has
_BADGE = "display:inline-block;padding:0 6px;margin-right:4px;border-radius:10px;font-size:11px;"
_CELL = "border:1px solid #d0d7de;padding:1px 6px;text-align:right"


def esc(value: Any) -> str:
    """HTML-escape anything (quotes too: values also land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


# -- small pieces -------------------------------------------------------------------------------
def badge(text: str, colour: str = "#ddf4ff", fg: str = "#0a3069", title: str | None = None) -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span style="{_BADGE}background:{colour};color:{fg}"{tip}>{esc(text)}</span>'


def backend_badge(backend: str | None) -> str:
    if backend == "sandbox":
        return badge("sandbox", "#fff8c5", "#7d4e00", "answered by the local sandbox, not Alibaba Cloud")
    return badge(backend or "unknown backend", "#ddf4ff", "#0a3069", "answered by this endpoint")


def masking_badge(masked: bool | None, rule: str | None = None) -> str:
    if masked:
        return badge(f"masking on{f' ({rule})' if rule else ''}", "#dafbe1", "#116329",
                     "sensitive data was masked before the model saw it")
    return badge("masking off", "#f6f8fa", "#57606a", "the model saw the prompt as typed")


def probability_colour(prob: float) -> str:
    """Red (unlikely) through yellow to green (certain), light enough to read black text on."""
    prob = min(max(prob, 0.0), 1.0)
    return f"hsl({round(120 * prob)},75%,82%)"


def _prob(logprob: Any) -> float | None:
    value = to_float(logprob)
    if value is None:
        return None
    return math.exp(value) if math.isfinite(value) else 0.0


def _visible(token: str) -> str:
    # Whitespace-only tokens would vanish in the strip; show them as visible marks.
    return token.replace("\n", "↵").replace("\t", "⇥") if token.strip() else (token.replace("\n", "↵") or "∅")


def token_strip_html(tokens: Iterable[Mapping[str, Any]], *, limit: int = 2000) -> str:
    """One span per generated token, coloured by its probability; hover shows the alternatives.

    ``tokens`` is the DashScope logprobs ``content`` list: ``{token, logprob, top_logprobs}``.
    """
    spans = []
    tokens = list(tokens or ())
    # _canon_token: an item in another key case (which ChatResult passes on uncopied when the
    # response's first and last items are DashScope's) still shows its token and alternatives.
    for item in map(_canon_token, tokens[:limit]):
        token = str(item.get("token", ""))
        prob = _prob(item.get("logprob"))
        lines = [f"{token!r}: p={prob:.3f}" if prob is not None else repr(token)]
        for alt in item.get("top_logprobs") or ():
            alt_prob = _prob(alt.get("logprob"))
            shown = f"{alt_prob:.3f}" if alt_prob is not None else "?"
            lines.append(f"  {str(alt.get('token', ''))!r}: {shown}")
        colour = probability_colour(prob) if prob is not None else "#eaeef2"
        # Only the colour per span (long answers have thousands): the rest is inherited from the strip.
        spans.append(f'<span style="background:{colour}" title="{esc(chr(10).join(lines))}">'
                     f'{esc(_visible(token))}</span>')
    more = len(tokens) - limit
    tail = f' <span style="{MUTED_STYLE}">… {more} more tokens</span>' if more > 0 else ""
    legend = (f'<div style="{MUTED_STYLE}">token probability: '
              f'<span style="background:{probability_colour(0)}">&nbsp;low&nbsp;</span> '
              f'<span style="background:{probability_colour(0.5)}">&nbsp;0.5&nbsp;</span> '
              f'<span style="background:{probability_colour(1)}">&nbsp;high&nbsp;</span> — hover a token for the '
              f'alternatives</div>')
    return (f'<div class="dms-token-strip" style="line-height:1.9;margin:4px 0;white-space:pre-wrap">'
            f'{"".join(spans)}{tail}</div>'
            + legend)


def usage_table_html(usage: Mapping[str, Any] | None) -> str:
    """Token usage as a one-row table (nested details flattened: ``prompt_tokens_details.cached``)."""
    flat = flat_usage(usage or {})
    if not flat:
        return f'<div style="{MUTED_STYLE}">no usage reported</div>'
    head = "".join(f'<th style="{_CELL}">{esc(k)}</th>' for k in flat)
    row = "".join(f'<td style="{_CELL}">{esc(v)}</td>' for v in flat.values())
    return f'<table style="{TABLE_STYLE}"><tr>{head}</tr><tr>{row}</tr></table>'


def latency_text(latency: Any) -> str | None:
    """A latency in seconds as people read it ("840 ms", "12.3 s"); None when unknown."""
    seconds = to_float(latency)
    if seconds is None:
        return None
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


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


# -- the result card ----------------------------------------------------------------------------
def chat_result_html(result: Any, *, streaming: bool = False, show_logprobs: bool = True,
                     show_usage: bool = True) -> str:
    """The card for a ChatResult: badges, answer, folded reasoning, token strip, usage, ids."""
    backend = getattr(result, "backend", None)
    model = _model_of(result)
    masked = _masked_of(result)
    rule = _request_value(result, "desensitization_rule") if masked else None
    finish = getattr(result, "finish_reason", None)
    header = [backend_badge(backend), badge(model or "default model", "#f6f8fa", "#24292f", "model"),
              masking_badge(masked, rule)]
    if streaming:
        header.append(badge("streaming…", "#fbefff", "#6639ba"))
    elif finish and finish != "stop":
        header.append(badge(f"finish: {finish}", "#fff1e5", "#953800", "why generation ended"))
    parts = [f'<div class="dms-chat-result" style="{CARD_STYLE}">', f"<div>{''.join(header)}</div>"]
    reasoning = getattr(result, "reasoning", None)
    if reasoning:
        parts.append(f'<details style="margin:4px 0"><summary style="{MUTED_STYLE}">reasoning '
                     f'({len(reasoning)} chars)</summary><div style="{ANSWER_STYLE};color:#57606a">{esc(reasoning)}'
                     f"</div></details>")
    parts.append(f'<div class="dms-answer" style="{ANSWER_STYLE}">{esc(getattr(result, "text", "") or "")}</div>')
    tokens = getattr(result, "token_logprobs", None)
    if show_logprobs and tokens:
        parts.append(token_strip_html(tokens))
    usage = getattr(result, "usage_dict", None)
    if show_usage and usage:
        parts.append(usage_table_html(usage))
    footer = []
    request_id = getattr(result, "request_id", None)
    if request_id:
        footer.append(f"request id {esc(request_id)}")
    latency = latency_text(getattr(result, "latency", None))
    if latency:
        footer.append(esc(latency))
    if footer:
        parts.append(f'<div style="{MUTED_STYLE};margin-top:4px">{" · ".join(footer)}</div>')
    parts.append("</div>")
    return "".join(parts)


def chat_result_text(result: Any) -> str:
    """A readable plain-text view: a header line, the answer, usage and ids."""
    backend = getattr(result, "backend", None) or "unknown backend"
    model = _model_of(result) or "default model"
    head = [f"[{backend}]", model, "masking on" if _masked_of(result) else "masking off"]
    finish = getattr(result, "finish_reason", None)
    if finish and finish != "stop":
        head.append(f"finish: {finish}")
    lines = [" · ".join(head)]
    reasoning = getattr(result, "reasoning", None)
    if reasoning:
        lines.append(f"(reasoning: {len(reasoning)} chars, see .reasoning)")
    lines.append(getattr(result, "text", "") or "")
    usage = flat_usage(getattr(result, "usage_dict", None) or {})
    if usage:
        lines.append("usage: " + ", ".join(f"{k}={v}" for k, v in usage.items()))
    tail = []
    if getattr(result, "request_id", None):
        tail.append(f"request id {result.request_id}")
    latency = latency_text(getattr(result, "latency", None))
    if latency:
        tail.append(latency)
    if tail:
        lines.append(" · ".join(tail))
    return "\n".join(lines)


def display_metadata(result: Any) -> dict[str, Any]:
    """What a notebook stores beside the output: model, request id, usage (plain values only)."""
    return {"dms_magic": {
        "backend": getattr(result, "backend", None),
        "model": _model_of(result),
        "request_id": getattr(result, "request_id", None),
        "usage": dict(getattr(result, "usage_dict", None) or {}),
    }}


# -- differences (compare view) -----------------------------------------------------------------
_WORDS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def diff_units(text: str) -> list[str]:
    """The units both diff views compare (:func:`diff_html`, :func:`diff_sides`): words, spaces
    and punctuation; CJK runs split per character (CJK has no spaces between words, so a changed
    name does not mark the whole sentence). Lossless: ``"".join(diff_units(t)) == t``."""
    units: list[str] = []
    for piece in _WORDS.findall(text):
        units.extend(piece if _CJK.search(piece) else [piece])
    return units


def diff_runs(before: str | None, after: str | None) -> list[tuple[bool, str, str]]:
    """The word diff of two texts as runs ``(same, old, new)``: ``same`` runs have ``old == new``;
    the others hold what only ``before`` has (``old``) and what only ``after`` has (``new``),
    either possibly empty. The one diff walk every view is built from."""
    a, b = diff_units(before or ""), diff_units(after or "")
    return [(op == "equal", "".join(a[i1:i2]), "".join(b[j1:j2]))
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()]


def _removed(text: str) -> str:
    return f'<del style="{DEL_STYLE}">{esc(text)}</del>' if text else ""


def _added(text: str) -> str:
    return f'<ins style="{INS_STYLE}">{esc(text)}</ins>' if text else ""


def diff_html(before: str | None, after: str | None) -> str:
    """Word-level differences of two texts inline: removals struck red, additions green."""
    out = [esc(old) if same else _removed(old) + _added(new) for same, old, new in diff_runs(before, after)]
    return f'<div style="{ANSWER_STYLE}">{"".join(out)}</div>'


def diff_sides(before: str | None, after: str | None) -> tuple[str, str]:
    """The same diff as escaped HTML for a side-by-side view: words only ``before`` has are marked
    removed on the left, words only ``after`` has are marked added on the right."""
    left, right = [], []
    for same, old, new in diff_runs(before, after):
        left.append(esc(old) if same else _removed(old))
        right.append(esc(new) if same else _added(new))
    return "".join(left), "".join(right)
