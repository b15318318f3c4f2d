"""HTML preview of a MaskResult: the original with each detected value highlighted (hover shows the
entity, the replacement and how it was validated), then the masked text, then counts per entity."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only: result.py imports this module to show itself
    from dms_magic.masking.result import MaskResult

# Long inputs: show the start only; notebooks freeze on megabytes of HTML.
MAX_PREVIEW_CHARS = 20_000

_COLOURS = {
    "CHINESE_NAME": "#ffd6a5", "ENGLISH_NAME": "#ffd6a5", "MOBILE_PHONE": "#caffbf", "LANDLINE": "#caffbf", "PHONE_NUMBER": "#caffbf",
    "ID_CARD": "#ffadad", "PASSPORT": "#ffadad", "EMAIL": "#9bf6ff", "CHINESE_ADDRESS": "#fdffb6", "ENGLISH_ADDRESS": "#fdffb6",
    "BANK_CARD": "#bdb2ff", "LICENSE_PLATE": "#ffc6ff", "IPV4": "#a0c4ff", "IPV6": "#a0c4ff",
    "MAC_ADDRESS": "#a0c4ff", "USCC": "#bdb2ff",
}


def _highlight(result: MaskResult, limit: int) -> tuple[str, str]:
    src, out, masked_out = result.original, [], []
    last = 0
    for s in result.entities:
        if s.start >= limit:
            break
        colour = _COLOURS.get(s.entity, "#e0e0e0")
        tip = html.escape(f"{s.entity} → {s.masked} ({s.validated_by})", quote=True)
        out.append(html.escape(src[last:s.start]))
        out.append(f'<mark style="background:{colour};padding:0 2px;border-radius:3px" title="{tip}">'
                   f'{html.escape(s.original)}<sup style="font-size:0.6em;opacity:.7">{s.entity}</sup></mark>')
        masked_out.append(html.escape(src[last:s.start]))
        masked_out.append(f'<span style="background:{colour};padding:0 2px;border-radius:3px">'
                          f'{html.escape(s.masked)}</span>')
        last = s.end
    tail = html.escape(src[last:max(last, limit)])
    return "".join(out) + tail, "".join(masked_out) + tail


def render_html(result: MaskResult) -> str:
    limit = min(len(result.original), MAX_PREVIEW_CHARS)
    original, masked = _highlight(result, limit)
    more = (f'<div style="color:#888">… showing the first {limit:,} of {len(result.original):,} characters</div>'
            if limit < len(result.original) else "")
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(result.counts().items())) or "nothing detected"
    box = "white-space:pre-wrap;font-family:monospace;border:1px solid #ddd;padding:6px;margin:4px 0"
    return (f'<div class="dms-magic-mask-preview"><div><b>Masking preview</b> — rule '
            f'<code>{html.escape(result.rule)}</code>: {html.escape(counts)}</div>'
            f'<div style="color:#666">Original (hover a highlight for its replacement)</div>'
            f'<div style="{box}">{original}</div>{more}'
            f'<div style="color:#666">Masked (what would be sent)</div><div style="{box}">{masked}</div>{more}</div>')
