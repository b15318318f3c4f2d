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
import functools
import html
import math
import re
from typing import Any, Iterable, Mapping

from dms_magic.wire.values import _canon_token, flat_usage, to_float

# Colours are inline styles: notebook frontends strip <style> blocks from untrusted outputs.
# The public *_STYLE constants are shared by every view (display.py, the compare view, the form).
#
# Two rules keep every text readable in JupyterLab's Light and Dark themes, trusted or not:
# - a text that sits on the theme's own background takes the theme's colours through JupyterLab's
#   --jp-* variables, with `currentColor` (the inherited text colour) as the fallback elsewhere.
#   JupyterLab's sanitizer drops var() from an untrusted output, which then inherits the theme's
#   text colour: readable either way;
# - wherever we set a background, we set the text colour too, both as hex (which the sanitizer
#   keeps, unlike hsl()): light "chips" with dark text, the same in every theme.
VIEW_CLASS = "dms-magic-view"  # on the root element of every view (the browser test finds them by it)
INK = "#1f2328"  # text on our light chip backgrounds
THEME_BORDER = "border:1px solid #8c959f;border-color:var(--jp-border-color1,#8c959f)"
CARD_STYLE = (f"{THEME_BORDER};border-radius:6px;padding:8px 12px;margin:4px 0;text-align:left;"
              "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',sans-serif;font-size:13px;max-width:60em")
MUTED_STYLE = "color:var(--jp-content-font-color2,currentColor);font-size:11px"
ANSWER_STYLE = "white-space:pre-wrap;margin:6px 0;line-height:1.45;text-align:left"
TABLE_STYLE = "border-collapse:collapse;font-size:11px;margin-top:4px"
# JupyterLab right-aligns table cells: every cell of ours says left, explicitly.
CELL_STYLE = "padding:1px 6px;text-align:left;vertical-align:top"
SIDE_CELL_STYLE = f"vertical-align:top;width:50%;padding:6px 8px;{THEME_BORDER};text-align:left"  # compare view
DEL_STYLE = "background-color:#ffebe9;color:#82071e"  # words only the first text has
INS_STYLE = "background-color:#dafbe1;color:#116329;text-decoration:none"  # words only the second has
CHIP = "padding:0 4px;border-radius:3px"
ERROR_STYLE = f"background-color:#ffebe9;color:#82071e;{CHIP}"  # a problem: a light red chip, any theme
WARN_BG, WARN_FG = "#fff1e5", "#953800"  # a warning chip: 6.7:1, the same in Light and Dark
WARN_STYLE = f"background-color:{WARN_BG};color:{WARN_FG};{CHIP}"  # a warning (e.g. nothing was masked)
OK_STYLE = f"background-color:#dafbe1;color:#116329;{CHIP}"  # good news (no leak)
_BADGE = "display:inline-block;padding:0 6px;margin-right:4px;border-radius:10px;font-size:11px;"
_CELL = f"{THEME_BORDER};{CELL_STYLE}"


def esc(value: Any) -> str:
    """HTML-escape anything (quotes too: values also land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


# -- small pieces -------------------------------------------------------------------------------
def badge(text: str, colour: str = "#ddf4ff", fg: str = "#0a3069", title: str | None = None) -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span style="{_BADGE}background-color:{colour};color:{fg}"{tip}>{esc(text)}</span>'


def backend_badge(backend: str | None) -> str:
    if backend == "sandbox":
        return badge("sandbox", "#fff8c5", "#7d4e00", "answered by the local sandbox, not Alibaba Cloud")
    return badge(backend or "unknown backend", "#ddf4ff", "#0a3069", "answered by this endpoint")


def masking_badge(masked: bool | None, rule: str | None = None, *, nothing_masked: bool = False) -> str:
    """``nothing_masked``: masking is on but the local prediction masks nothing with this rule, so
    the badge is a warning (the summary line under it says which rule would mask what)."""
    if masked and nothing_masked:
        return badge(f"⚠ masking on{f' ({rule})' if rule else ''}", WARN_BG, WARN_FG,
                     "masking is on, but this rule masks nothing in the prompt (local prediction)")
    if masked:
        return badge(f"masking on{f' ({rule})' if rule else ''}", "#dafbe1", "#116329",
                     "sensitive data was masked before the model saw it")
    return badge("masking off", "#f6f8fa", "#57606a", "the model saw the prompt as typed")


# -- how much the local prediction masks --------------------------------------------------------
def _contents(messages: Any) -> tuple[str, ...]:
    """The texts masking applies to: user and system messages (a bare string is one user message)."""
    if isinstance(messages, str):
        return (messages,)
    from dms_magic.wire._messages import content_text  # a message with images: its text parts (images are not masked)

    return tuple(content_text(m.get("content")) for m in messages or ()
                 if isinstance(m, Mapping) and m.get("role") in ("user", "system")
                 and isinstance(m.get("content"), (str, list)))


def masked_counts(messages: Any, rule: str) -> dict[str, int]:
    """entity -> how many values the local engine masks in these messages with ``rule``
    (the service masks on its side; this is our prediction). Raises UnknownRuleError."""
    return dict(_masked_counts(_contents(messages), rule))


@functools.lru_cache(maxsize=256)  # a card re-renders (every repr, every stream update): mask once
def _masked_counts(contents: tuple[str, ...], rule: str) -> tuple[tuple[str, int], ...]:
    from dms_magic.masking import mask_messages

    found = mask_messages([{"role": "user", "content": c} for c in contents], rule).counts()
    return tuple(sorted(found.items()))


def suggest_rule(messages: Any, exclude: str | None = None) -> str | None:
    """A rule category that would have masked something in these messages (None if none would):
    the engine's ``masking.suggest_rule`` over the messages' text."""
    better = _suggestion(_contents(messages), exclude)
    return better[0] if better else None


@functools.lru_cache(maxsize=256)
def _suggestion(contents: tuple[str, ...], exclude: str | None) -> tuple[str, int] | None:
    """(rule, how many values it masks) for the engine's suggested rule, counted per message as
    masking applies (``masking.rule_counts``); None when no other rule masks anything."""
    from dms_magic.masking import rule_counts, suggest_rule as engine_suggestion

    messages = [{"role": "user", "content": c} for c in contents]
    better = engine_suggestion(messages, exclude=exclude)
    return (better, rule_counts(messages)[better]) if better else None


def nothing_masked(messages: Any, rule: str | None) -> bool:
    """Whether masking with ``rule`` finds nothing to mask in these messages (local prediction);
    False when there is no text, or the rule is unknown (that has its own message)."""
    if not rule or not _contents(messages):
        return False
    try:
        return not sum(masked_counts(messages, rule).values())
    except ValueError:
        return False


def masking_summary_html(messages: Any, rule: str | None) -> str:
    """One line under the badges: how many values the local prediction masks, per entity; zero is
    a warning that names the rule and suggests one that would have matched."""
    if not rule or not _contents(messages):
        return ""
    try:
        counts = masked_counts(messages, rule)
    except ValueError as err:  # an unknown rule: the service refuses it too; say so, do not fail the card
        return f'<div style="margin:2px 0"><span style="{ERROR_STYLE}">rule {esc(rule)}: {esc(err)}</span></div>'
    return f'<div class="dms-masking-summary" style="margin:2px 0">{_summary_line(counts, rule, messages)}</div>'


def masking_summary_text(messages: Any, rule: str | None) -> str | None:
    """The plain-text twin of :func:`masking_summary_html` (None when there is nothing to say)."""
    if not rule or not _contents(messages):
        return None
    try:
        counts = masked_counts(messages, rule)
    except ValueError as err:
        return f"rule {rule}: {err}"
    return _summary_text(counts, rule, messages)


def _summary_text(counts: Mapping[str, int], rule: str, messages: Any) -> str:
    total = sum(counts.values())
    if total:
        detail = ", ".join(f"{entity} {n}" for entity, n in sorted(counts.items()))
        return f"local prediction: {total} value{'s' if total != 1 else ''} masked ({detail})"
    better = _suggestion(_contents(messages), rule)
    hint = (f"; rule {better[0]} would mask {better[1]} value{'s' if better[1] != 1 else ''} (--rule {better[0]})"
            if better else "; no rule finds a sensitive value in this text")
    return f"local prediction: nothing masked by rule {rule}{hint}"


def _summary_line(counts: Mapping[str, int], rule: str, messages: Any, warn: bool = True) -> str:
    line = esc(_summary_text(counts, rule, messages))
    if sum(counts.values()) or not warn:
        return f'<span style="{MUTED_STYLE}">{line}</span>'
    return f'<span class="dms-masking-warning" style="{WARN_STYLE}">⚠ {line}</span>'


def probability_colour(prob: float) -> str:
    """Red (unlikely) through yellow to green (certain), light enough to read dark text (INK) on.
    Hex, not hsl(): JupyterLab's sanitizer drops hsl() from untrusted outputs."""
    import colorsys

    prob = min(max(prob, 0.0), 1.0)
    red, green, blue = colorsys.hls_to_rgb(prob / 3, 0.82, 0.75)  # hue 0 (red) .. 120° (green)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (red, green, blue))


def _prob(logprob: Any) -> float | None:
    value = to_float(logprob)
    if value is None:
        return None
    return math.exp(value) if math.isfinite(value) else 0.0


def _token_span(token: str, colour: str, title: str) -> str:
    """One token of the strip. The strip is the answer, so the text reads as written: a line break
    is itself (after a small coloured mark, so the token keeps a place to hover); an empty token
    shows as a mark."""
    style = f"background-color:{colour};color:{INK}"  # text colour too: the theme's may be white
    if "\n" in token and not token.strip():
        return f'<span style="{style}" title="{title}">↵</span>{esc(token)}'
    return f'<span style="{style}" title="{title}">{esc(token) if token else "∅"}</span>'


def token_strip_html(tokens: Iterable[Mapping[str, Any]], *, limit: int = 2000, text: str | None = None) -> str:
    """The answer, one span per generated token, coloured by its probability; hover shows the
    alternatives. Past ``limit`` tokens the rest of ``text`` (the whole answer, when given) follows
    uncoloured, so the strip always holds the whole answer.

    ``tokens`` is the DashScope logprobs ``content`` list: ``{token, logprob, top_logprobs}``.
    """
    spans = []
    shown = []
    tokens = list(tokens or ())
    # _canon_token: an item in another key case (which ChatResult passes on uncopied when the
    # response's first and last items are DashScope's) still shows its token and alternatives.
    for item in map(_canon_token, tokens[:limit]):
        token = str(item.get("token", ""))
        prob = _prob(item.get("logprob"))
        lines = [f"{token!r}: p={prob:.3f}" if prob is not None else repr(token)]
        for alt in item.get("top_logprobs") or ():
            alt_prob = _prob(alt.get("logprob"))
            alt_shown = f"{alt_prob:.3f}" if alt_prob is not None else "?"
            lines.append(f"  {str(alt.get('token', ''))!r}: {alt_shown}")
        colour = probability_colour(prob) if prob is not None else "#eaeef2"
        spans.append(_token_span(token, colour, esc(chr(10).join(lines))))
        shown.append(token)
    more = len(tokens) - limit
    tail = ""
    if more > 0:
        joined = "".join(shown)
        rest = text[len(joined):] if text and text.startswith(joined) else ""
        tail = (esc(rest) + f' <span style="{MUTED_STYLE}">(the last {more} tokens uncoloured)</span>' if rest
                else f' <span style="{MUTED_STYLE}">… {more} more tokens</span>')
    chip = f"color:{INK};{CHIP}"
    legend = (f'<div style="{MUTED_STYLE}">token probability: '
              f'<span style="background-color:{probability_colour(0)};{chip}">low</span> '
              f'<span style="background-color:{probability_colour(0.5)};{chip}">0.5</span> '
              f'<span style="background-color:{probability_colour(1)};{chip}">high</span> — hover a token for the '
              f'alternatives</div>')
    return (f'<div class="dms-answer dms-token-strip" style="{ANSWER_STYLE};line-height:1.9">'
            f'{"".join(spans)}{tail}</div>'
            + legend)


def usage_table_html(usage: Mapping[str, Any] | None) -> str:
    """Token usage as a one-row table (nested details flattened: ``prompt_tokens_details.cached``)."""
    flat = flat_usage(usage or {})
    if not flat:
        return f'<div style="{MUTED_STYLE}">no usage reported</div>'
    head = "".join(f'<th style="{_CELL};font-weight:600">{esc(k)}</th>' for k in flat)
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


def _masked_of(result: Any) -> bool:  # noqa: E302
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
    messages = (getattr(result, "messages", None) or _request_value(result, "messages")) if masked else None
    finish = getattr(result, "finish_reason", None)
    header = [backend_badge(backend), badge(model or "default model", "#f6f8fa", "#24292f", "model"),
              masking_badge(masked, rule, nothing_masked=bool(masked) and nothing_masked(messages, rule))]
    if streaming:
        header.append(badge("streaming…", "#fbefff", "#6639ba"))
    elif finish and finish != "stop":
        header.append(badge(f"finish: {finish}", WARN_BG, WARN_FG, "why generation ended"))
    parts = [f'<div class="dms-chat-result {VIEW_CLASS}" style="{CARD_STYLE}">', f"<div>{''.join(header)}</div>"]
    if masked:
        parts.append(masking_summary_html(messages, rule))
    reasoning = getattr(result, "reasoning", None)
    if reasoning:
        parts.append(f'<details style="margin:4px 0"><summary style="{MUTED_STYLE}">reasoning '
                     f'({len(reasoning)} chars)</summary><div style="{ANSWER_STYLE};{MUTED_STYLE}">{esc(reasoning)}'
                     f"</div></details>")
    text = getattr(result, "text", "") or ""
    tokens = getattr(result, "token_logprobs", None)
    if show_logprobs and tokens:  # the strip is the answer: shown once (text/plain keeps the text)
        parts.append(token_strip_html(tokens, text=text))
    else:
        parts.append(f'<div class="dms-answer" style="{ANSWER_STYLE}">{esc(text)}</div>')
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
    rule = _request_value(result, "desensitization_rule")
    head = [f"[{backend}]", model, (f"masking on ({rule})" if rule else "masking on") if _masked_of(result)
            else "masking off"]
    finish = getattr(result, "finish_reason", None)
    if finish and finish != "stop":
        head.append(f"finish: {finish}")
    lines = [" · ".join(head)]
    if _masked_of(result):
        summary = masking_summary_text(getattr(result, "messages", None) or _request_value(result, "messages"),
                                       _request_value(result, "desensitization_rule"))
        if summary:
            lines.append(summary)
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


# -- masking preview (`%dmschat preview`, the dry run) ------------------------------------------
MAX_PREVIEW_CHARS = 20_000  # long inputs: show the start only; notebooks freeze on megabytes of HTML
_ENTITY_COLOURS = {  # light backgrounds; the text on them is INK in every theme
    "CHINESE_NAME": "#ffd6a5", "ENGLISH_NAME": "#ffd6a5", "MOBILE_PHONE": "#caffbf", "LANDLINE": "#caffbf",
    "PHONE_NUMBER": "#caffbf", "ID_CARD": "#ffadad", "PASSPORT": "#ffadad", "EMAIL": "#9bf6ff",
    "CHINESE_ADDRESS": "#fdffb6", "BANK_CARD": "#bdb2ff", "LICENSE_PLATE": "#ffc6ff", "IPV4": "#a0c4ff",
    "IPV6": "#a0c4ff", "MAC_ADDRESS": "#a0c4ff", "USCC": "#bdb2ff",
}


def _entity_mark(text: str, entity: str, title: str | None = None, tag: str = "span") -> str:
    tip = f' title="{esc(title)}"' if title else ""
    colour = _ENTITY_COLOURS.get(entity, "#e0e0e0")
    return f'<{tag} style="background-color:{colour};color:{INK};{CHIP}"{tip}>{esc(text)}</{tag}>'


def mask_preview_html(result: Any, *, warn: bool = True) -> str:
    """A MaskResult: the original with each detected value marked (hover: entity, replacement,
    validator), the masked text, and how many values were masked; zero is a warning that names
    the rule and suggests one that would have matched (``warn=False``: a plain remark, for a dry
    run with masking off)."""
    original = result.original
    limit = min(len(original), MAX_PREVIEW_CHARS)
    before, after, last = [], [], 0
    for span in result.entities:
        if span.start >= limit:
            break
        between = esc(original[last:span.start])
        before += [between, _entity_mark(span.original, span.entity,
                                         f"{span.entity} → {span.masked} ({span.validated_by})", tag="mark"),
                   f'<sup style="font-size:0.7em">{esc(span.entity)}</sup>']
        after += [between, _entity_mark(span.masked, span.entity, span.entity)]
        last = span.end
    tail = esc(original[last:max(last, limit)])
    more = (f'<div style="{MUTED_STYLE}">… showing the first {limit:,} of {len(original):,} characters</div>'
            if limit < len(original) else "")
    box = f"white-space:pre-wrap;font-family:monospace;{THEME_BORDER};padding:6px;margin:4px 0;text-align:left"
    summary = _summary_line(result.counts(), result.rule, original, warn)
    return (f'<div class="dms-magic-mask-preview {VIEW_CLASS}" style="text-align:left">'
            f'<div><b>Masking preview</b> — rule <code>{esc(result.rule)}</code>: {summary}</div>'
            f'<div style="{MUTED_STYLE}">Original (hover a highlight for its replacement)</div>'
            f'<div style="{box}">{"".join(before)}{tail}</div>{more}'
            f'<div style="{MUTED_STYLE}">Masked (what would be sent)</div>'
            f'<div style="{box}">{"".join(after)}{tail}</div>{more}</div>')


def mask_preview_text(result: Any) -> str:
    """The count (or the zero warning), then the MaskResult's own repr (rule, counts, masked text)."""
    return f"{_summary_text(result.counts(), result.rule, result.original)}\n{result!r}"
