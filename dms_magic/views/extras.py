"""The card's sections beyond the answer: the images sent and the tool calls (issues 15 and 24).

- images: a thumbnail per image with its name (file name, ``$var`` or URL) and format/size; with
  masking on, the warning that images go as they are (masking applies to text only). A remote
  image is linked, not loaded: rendering the card makes no request.
- tool calls: round, tool, arguments, result in a table that wraps inside the card (fixed layout,
  long words broken, the table in its own horizontally scrolling box as a last resort); long
  arguments and results are shortened here, the whole values stay on the result object
  (``.tool_calls``, the loop's ``.transcript``). With masking on, the arguments that look
  sensitive and what the model saw in the loop (user and tool messages, masked).

Placement, the same for a send, a stream, the form and a dry run: these sections come *before*
the answer card (what was sent, then what came back).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence, cast

from dms_magic.views.styles import CARD_STYLE, MUTED_STYLE, SCROLL_BOX, TABLE_STYLE, THEME_BORDER, VIEW_CLASS, esc
from dms_magic.wire.values import shorten

THUMBNAIL_PX = 96  # the height of a thumbnail in the card
ARGUMENT_CHARS = 200  # a tool call's arguments in the table (the whole text: .tool_calls[i].arguments_raw)
RESULT_CHARS = 300  # a tool's result in the table (the whole text: the loop's .transcript)
_CELL = (f"padding:2px 6px;text-align:left;vertical-align:top;{THEME_BORDER};"
         "overflow-wrap:anywhere;word-break:break-word;white-space:pre-wrap")
_CODE = "font-family:monospace;font-size:11px"


def image_rows(parts: Iterable[Mapping], names: Sequence[str | None] = ()) -> list[dict]:
    """``images.image_summary`` of each part, with its ``name`` and the URL to show as a thumbnail
    (data: URLs only: a remote image is linked, not loaded). The thumbnail is a small JPEG
    (``images.thumbnail_url``), never the image itself: the card is saved in the notebook."""
    from dms_magic.images import image_summary, thumbnail_url

    rows = []
    for i, part in enumerate(parts):
        info = image_summary(part)
        url = part["image_url"]["url"] if isinstance(part.get("image_url"), Mapping) else part.get("image_url")
        name = names[i] if i < len(names) and names[i] else (info["url"] if info["source"] == "url"
                                                               else f"image {i + 1}")
        # source "data": image_summary read this same url as a data: URL string
        rows.append({**info, "name": str(name), "src": thumbnail_url(cast(str, url)) if info["source"] == "data"
                     else None,
                     "link": url if info["source"] == "url" else None})
    return rows


def image_label(info: Mapping[str, Any]) -> str:
    if info["source"] == "url":
        return f"{info['format'] or 'image'} at {info['url']}"
    size = f"{info['width']}x{info['height']}" if info["width"] else "unknown size"
    return f"{info['format']} {size}, {info['bytes']:,} bytes"


def _images_html(rows: list[dict], masked: bool, dry_run: bool) -> str:
    from dms_magic.images import IMAGES_NOT_MASKED

    thumbs = "".join(
        '<figure style="display:inline-block;margin:2px 8px 2px 0;text-align:center;vertical-align:top;'
        f'max-width:{THUMBNAIL_PX * 2}px">'
        + (f'<img src="{esc(r["src"])}" alt="{esc(r["name"])}" '
           f'style="max-height:{THUMBNAIL_PX}px;max-width:{THUMBNAIL_PX * 2}px;border:1px solid #8c959f"/>'
           if r["src"] else f'<a href="{esc(r["link"])}" target="_blank" rel="noopener noreferrer">🖼 link</a>'
           if r["link"] else f'<span style="{MUTED_STYLE}">(no preview)</span>')
        + f'<figcaption style="font-size:11px;overflow-wrap:anywhere"><b>{esc(shorten(r["name"], 60))}</b>'
          f'<br><span style="{MUTED_STYLE}">{esc(image_label(r))}</span></figcaption></figure>'
        for r in rows)
    verb = "would be sent" if dry_run else "sent"
    note = (f'<div class="dms-images-not-masked" style="margin:2px 0"><b>⚠ {esc(IMAGES_NOT_MASKED)}</b></div>'
            if masked else "")
    return (f'<div class="dms-images"><div style="{MUTED_STYLE}">{len(rows)} image'
            f'{"s" if len(rows) != 1 else ""} {verb}</div>{thumbs}{note}</div>')


def _call_row(round_: str, name: str, arguments: str, outcome: str) -> str:
    cut = len(arguments) > ARGUMENT_CHARS
    shown = esc(shorten(arguments, ARGUMENT_CHARS))
    more = (f' <span style="{MUTED_STYLE}">({len(arguments):,} characters; the whole text is on '
            f'.tool_calls)</span>' if cut else "")
    return (f'<tr><td style="{_CELL}">{round_}</td><td style="{_CELL}"><code style="{_CODE}">{esc(name)}</code></td>'
            f'<td style="{_CELL}"><code style="{_CODE}">{shown}</code>{more}</td><td style="{_CELL}">{outcome}</td></tr>')


def _mark(ok: Any) -> str:
    """✓ ran, ✗ failed, ⋯ running (a row shown while the loop goes on)."""
    return "⋯" if ok is None else "✓" if ok else "✗"


def _tools_html(transcript: list, pending: list, loop: Any) -> str:
    body = "".join(
        _call_row(str(run.round), run.call.name, run.call.arguments_raw or "",
                  f'{_mark(run.ok)} <code style="{_CODE}">'
                  f'{esc(shorten(str(run.message["content"]), RESULT_CHARS))}</code>')
        for run in transcript)
    body += "".join(_call_row("–", call.name, call.arguments_raw or "",
                              f'not run{" (round limit)" if loop is not None else ""}') for call in pending)
    title = "tool calls"
    if loop is not None:
        title += f" · {loop.rounds} round{'s' if loop.rounds != 1 else ''}"
        if loop.stopped == "max_rounds":
            title += " · stopped at the round limit (--run-tools N)"
    head = "".join(f'<th style="{_CELL};font-weight:600;width:{w}">{h}</th>'
                   for h, w in (("round", "3.5em"), ("tool", "18%"), ("arguments", "38%"), ("result", "auto")))
    return (f'<div class="dms-tool-calls"><div style="{MUTED_STYLE}">{esc(title)}</div>'
            f'<div style="{SCROLL_BOX}"><table style="{TABLE_STYLE};table-layout:fixed;width:100%;min-width:24em">'
            f'<tr>{head}</tr>{body}</table></div></div>')


def extras_html(*, images: Iterable[Mapping] = (), image_names: Sequence[str | None] = (),
                calls: Iterable[Any] = (), loop: Any = None, masked: bool = False, rule: str | None = None,
                messages: list[dict] | None = None, dry_run: bool = False) -> str:
    """The images sent (thumbnails) and the tool calls and results, as one block ("" if none)."""
    sections = []
    rows = image_rows(images, image_names)
    if rows:
        sections.append(_images_html(rows, masked, dry_run))
    transcript = list(loop.transcript) if loop is not None else []
    pending = list(calls)
    if transcript or pending:
        sections.append(_tools_html(transcript, pending, loop))
    if masked and (transcript or pending):
        sections.append(_sensitive_html([r.call for r in transcript] + pending, rule, messages or []))
    if not sections:
        return ""
    return f'<div class="dms-card-extras {VIEW_CLASS}" style="{CARD_STYLE}">' + "".join(sections) + "</div>"


def model_saw(messages: list[dict], rule: str) -> list[tuple[str, str]]:
    """(role, text) of each user and tool text the model saw, as the local masking engine predicts it."""
    from dms_magic.masking import mask_text_parts

    out: list[tuple[str, str]] = []
    for message in mask_text_parts(messages, rule):
        role = message.get("role")
        if role not in ("user", "tool"):
            continue
        content = message.get("content")
        texts = [content] if isinstance(content, str) else [
            p.get("text") for p in content or [] if isinstance(p, Mapping) and p.get("type") == "text"]
        out.extend((role, t) for t in texts if t)
    return out


def _sensitive_html(calls: list[Any], rule: str | None, messages: list[dict]) -> str:
    from dms_magic.masking import DEFAULT_RULE
    from dms_magic.tools import sensitive_arguments

    rule = rule or DEFAULT_RULE
    found = sensitive_arguments(calls, rule)
    note = ("Masking was on: the model saw masked text only, so arguments it built from that text may "
            "carry masked values, not your real ones.")
    if found:
        items = "".join(f"<li><code>{esc(a.tool)}.{esc(a.path)}</code> = <code>{esc(shorten(str(a.value), 120))}"
                        f"</code> ({esc(', '.join(a.entities) or 'looks masked')})</li>" for a in found)
        flagged = f'<div>arguments that look sensitive:</div><ul style="margin:2px 0">{items}</ul>'
    else:
        flagged = "<div>no argument looks sensitive to the local engine.</div>"
    saw = "".join(f'<div style="overflow-wrap:anywhere"><b>{esc(role)}</b>: <span style="white-space:pre-wrap">'
                  f'{esc(shorten(text, 2000))}</span></div>' for role, text in model_saw(messages, rule))
    return (f'<div class="dms-tool-masking" style="margin-top:6px"><div>{esc(note)}</div>{flagged}'
            f'<details style="margin-top:2px"><summary style="{MUTED_STYLE}">what the model saw in the tool loop '
            f'(user and tool messages, local masking preview, rule {esc(rule)})</summary>{saw}</details></div>')


def extras_text(*, images: Iterable[Mapping] = (), image_names: Sequence[str | None] = (),
                calls: Iterable[Any] = (), loop: Any = None, masked: bool = False, rule: str | None = None,
                messages: list[dict] | None = None, dry_run: bool = False) -> str:
    """The plain-text view of ``extras_html`` (text/plain, logs)."""
    from dms_magic.images import IMAGES_NOT_MASKED

    calls = list(calls)
    lines = []
    rows = image_rows(images, image_names)
    if rows:
        lines.append(f"{len(rows)} image{'s' if len(rows) != 1 else ''} {'would be sent' if dry_run else 'sent'}: "
                     + "; ".join(f"{r['name']} ({image_label(r)})" for r in rows))
        if masked:
            lines.append(IMAGES_NOT_MASKED)
    for run in (loop.transcript if loop is not None else []):
        lines.append(f"round {run.round}: {run.call.name}({shorten(run.call.arguments_raw or '', ARGUMENT_CHARS)})"
                     f" -> {'' if run.ok else '[failed] '}{shorten(str(run.message['content']), RESULT_CHARS)}")
    for call in calls:
        lines.append(f"tool call (not run): {call.name}({shorten(call.arguments_raw or '', ARGUMENT_CHARS)})")
    if masked and ((loop is not None and loop.transcript) or calls):
        from dms_magic.masking import DEFAULT_RULE
        from dms_magic.tools import sensitive_arguments

        all_calls = [r.call for r in (loop.transcript if loop is not None else [])] + calls
        for a in sensitive_arguments(all_calls, rule or DEFAULT_RULE):
            lines.append(f"sensitive-looking argument {a.tool}.{a.path} = {a.value} "
                         f"({', '.join(a.entities) or 'looks masked'})")
    return "\n".join(lines)
