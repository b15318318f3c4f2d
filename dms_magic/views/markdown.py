"""An answer's Markdown as safe HTML: markdown-it-py (CommonMark, tables, strikethrough), raw HTML
off, code highlighted by Pygments.

Safety: with ``html=False`` a model's ``<script>`` or ``<img onerror=…>`` is text, escaped like
any other; markdown-it refuses ``javascript:``/``vbscript:``/``file:`` links. Images in an answer are
shown as links, not loaded: rendering a card makes no request (a model cannot plant a tracking
pixel). The page is the same in trusted and untrusted notebooks because every style is inline
(the sanitiser keeps inline styles, drops ``<style>``): headings sized for a card, tables
left-aligned and scrolling inside their own box, code on a light chip with dark text (Pygments'
``xcode`` colours: every one >= 4.76:1 on it, so code reads the same in Light and Dark).
"""
from __future__ import annotations

import functools
import re
from typing import Iterable
from dms_magic.views.styles import CHIP_BG, CODE_BOX, INK, INLINE_CODE, SCROLL_BOX, THEME_BORDER, esc

_CODE_STYLE = "xcode"
_HEADING = {"h1": "1.25em", "h2": "1.15em", "h3": "1.05em", "h4": "1em", "h5": "1em", "h6": "1em"}
_TAG_STYLES = {
    "p": "margin:4px 0",
    "ul": "margin:4px 0;padding-left:1.6em", "ol": "margin:4px 0;padding-left:1.6em", "li": "margin:1px 0",
    "blockquote": "margin:4px 0;padding:0 8px;border-left:3px solid #8c959f;"
                  "border-left-color:var(--jp-border-color1,#8c959f)",
    # JupyterLab lays rendered tables out fixed and the card lets words break anywhere: together they cut
    # "1,204,332" into "1,20 4,33 2" at 900 px. Words stay whole; a wide table scrolls in its box.
    "table": "border-collapse:collapse;font-size:12px;margin:4px 0;table-layout:auto;"
             "overflow-wrap:normal;word-break:normal",
    "hr": "border:0;border-top:1px solid #8c959f;margin:6px 0",
}


@functools.lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    rules = md.renderer.rules
    rules["table_open"] = lambda tokens, i, options, env: (
        f'<div class="dms-md-table" style="{SCROLL_BOX}">' + md.renderer.renderToken(tokens, i, options, env))
    rules["table_close"] = lambda tokens, i, options, env: md.renderer.renderToken(tokens, i, options, env) + "</div>"
    rules["image"] = _image_as_link
    rules["code_inline"] = lambda tokens, i, options, env: (
        f'<code style="{INLINE_CODE}">{esc(tokens[i].content)}</code>')
    rules["fence"] = lambda tokens, i, options, env: _code_block(tokens[i].content, tokens[i].info)
    rules["code_block"] = lambda tokens, i, options, env: _code_block(tokens[i].content, "")
    return md


def _image_as_link(tokens, i, options, env) -> str:
    token = tokens[i]
    src = token.attrGet("src") or ""
    alt = "".join(child.content for child in token.children or ()) or "image"
    return f'<a href="{esc(src)}" target="_blank" rel="noopener noreferrer">🖼 {esc(alt)}</a>'


def _code_block(code: str, info: str) -> str:
    language = (info or "").split()[0] if info and info.split() else ""
    body = _pygments(code, language) if language else None
    label = (f'<span style="display:block;font-size:10px;color:#57606a;margin-bottom:2px">{esc(language)}</span>'
             if language else "")
    # the inner <code> sets its colours too: JupyterLab paints every `code` with the theme's background
    return (f'<pre class="dms-md-code" style="{CODE_BOX}">{label}<code style="background-color:{CHIP_BG};'
            f'color:{INK};padding:0;font-family:monospace;white-space:pre;word-break:normal">'
            f'{body if body is not None else esc(code)}</code></pre>')


@functools.lru_cache(maxsize=512)  # a streamed answer re-renders its earlier blocks on every update
def _pygments(code: str, language: str) -> str | None:
    """Highlighted HTML with inline colours, or None for a language Pygments does not know."""
    from pygments import highlight

    lexer = _lexer(language)
    return None if lexer is None else highlight(code, lexer, _formatter()).rstrip("\n")


@functools.lru_cache(maxsize=64)
def _lexer(language: str):
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=1)
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(noclasses=True, nowrap=True, style=_CODE_STYLE)


def _style_tokens(tokens: list) -> None:
    """Inline styles on the block tags (no stylesheet reaches an untrusted output)."""
    for token in tokens:
        if token.nesting == -1:
            continue
        tag = token.tag
        style = None
        if tag in _HEADING:
            style = f"font-size:{_HEADING[tag]};margin:8px 0 4px;line-height:1.3;font-weight:600"
        elif tag in ("th", "td"):
            align = (token.attrGet("style") or "").replace("text-align:", "").strip() or "left"
            style = (f"{THEME_BORDER};padding:2px 8px;vertical-align:top;text-align:{align}"
                     + (";font-weight:600" if tag == "th" else ""))
        elif tag in _TAG_STYLES:
            style = _TAG_STYLES[tag]
        if style:
            token.attrSet("style", style)
        if token.children:
            _style_tokens(token.children)


_MASK_STARS = re.compile(r"(?<=\d)\*+(?=\d)")  # 138****5678, 1101**********4514: masking, not emphasis
_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>])")


def _literal(text: str, values: Iterable[str]) -> str:
    """``text`` with masked values kept as they are: their ``*`` must not become emphasis (two
    masked names "张*" … "李*" would otherwise make bold of what lies between them)."""
    for value in sorted({v for v in values if v and any(c in v for c in "*_~`")}, key=len, reverse=True):
        text = text.replace(value, _PUNCT.sub(r"\\\1", value))
    return _MASK_STARS.sub(lambda m: "\\*" * len(m.group(0)), text)


def markdown_html(text: str, *, literal: Iterable[str] = ()) -> str:
    """``text`` (an answer, possibly half-streamed) as HTML; raw HTML in it is shown as text.
    ``literal``: values to show exactly as they are (masked values, e.g. ``张*``); runs of ``*``
    between digits (masked numbers) are always literal."""
    md = _parser()
    tokens = md.parse(_literal(text or "", literal))
    _style_tokens(tokens)
    return md.renderer.render(tokens, md.options, {})
