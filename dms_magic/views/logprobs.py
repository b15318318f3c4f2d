"""The token strip: the answer one token at a time, coloured by probability, each token opening a
small styled popover with the alternatives the model weighed.

The popover is a ``<details>`` element styled inline: a click, a tap or Enter on a focused token
opens it, another closes it. That needs no script and no stylesheet, so it works the same in a
trusted notebook, an untrusted one (JupyterLab's sanitiser keeps ``details``/``summary`` and inline
styles) and an exported HTML file. On top, one small ``<style>`` rule opens it on hover and on
keyboard focus (``::details-content``, Chromium 131+); the sanitiser drops ``<style>`` from untrusted
outputs, which then open on click/Enter as above. No ``title`` attribute: the browser's native
tooltip would cover the popover.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from dms_magic.views.styles import ANSWER_STYLE, CHIP, INK, MUTED_STYLE, esc, probability_colour
from dms_magic.wire.values import _canon_token, to_float

_TOKEN = "display:inline-block;position:relative"
_SUMMARY = f"display:inline;list-style:none;cursor:pointer;color:{INK}"
_POPOVER = ("position:absolute;left:0;top:1.5em;z-index:20;display:block;min-width:9em;max-width:28em;"
            f"background-color:#ffffff;color:{INK};border:1px solid #8c959f;border-radius:4px;"
            "box-shadow:0 2px 8px rgba(0,0,0,0.3);padding:4px 6px;font-size:11px;line-height:1.5;"
            "white-space:pre;font-family:monospace;text-align:left")
_ROW = "display:block"
# Hover and focus open a token's popover where stylesheets are allowed (trusted outputs).
HOVER_RULE = ("<style>details.dms-token:hover::details-content,details.dms-token:focus-within::details-content"
              "{content-visibility:visible}</style>")


def _prob(logprob: Any) -> float | None:
    value = to_float(logprob)
    if value is None:
        return None
    return math.exp(value) if math.isfinite(value) else 0.0


def _shown(token: str) -> str:
    """A token as the popover names it: quotes make spaces visible, escapes make breaks visible."""
    return repr(token)


def _popover(token: str, prob: float | None, alternatives: Iterable[Mapping[str, Any]]) -> str:
    head = f"{_shown(token)}  p={prob:.3f}" if prob is not None else _shown(token)
    rows = [f'<span style="{_ROW};font-weight:600">{esc(head)}</span>']
    alts = list(alternatives or ())
    if alts:
        rows.append(f'<span style="{_ROW};color:#57606a">alternatives</span>')
    for alt in alts:
        alt_prob = _prob(alt.get("logprob"))
        colour = probability_colour(alt_prob) if alt_prob is not None else "#eaeef2"
        shown = f"{alt_prob:.3f}" if alt_prob is not None else "?"
        rows.append(f'<span style="{_ROW}"><span style="background-color:{colour};color:{INK};{CHIP}">'
                    f'{esc(shown)}</span> {esc(_shown(str(alt.get("token", ""))))}</span>')
    return f'<span class="dms-token-popover" style="{_POPOVER}">{"".join(rows)}</span>'


def _token(token: str, prob: float | None, alternatives: Any) -> str:
    """One token: its coloured face (the summary, an inline block) and its popover. A line break
    follows the token's box (a break-only token shows a small coloured mark, so it keeps a place to
    click); an empty token shows as a mark."""
    colour = probability_colour(prob) if prob is not None else "#eaeef2"
    style = f"{_SUMMARY};background-color:{colour}"
    if "\n" in token:  # the break goes after the token's box, so the strip keeps the answer's lines
        face, after = esc(token.replace("\n", "")) if token.strip() else "↵", "\n" * token.count("\n")
    else:
        face, after = (esc(token) if token else "∅"), ""
    return (f'<details class="dms-token" style="{_TOKEN}"><summary style="{style}">{face}</summary>'
            f'{_popover(token, prob, alternatives)}</details>{after}')


def token_strip_html(tokens: Iterable[Mapping[str, Any]], *, limit: int = 2000, text: str | None = None) -> str:
    """The answer, one element per generated token, coloured by its probability; each opens its
    alternatives. Past ``limit`` tokens the rest of ``text`` (the whole answer, when given) follows
    uncoloured, so the strip always holds the whole answer.

    ``tokens`` is the DashScope logprobs ``content`` list: ``{token, logprob, top_logprobs}``.
    """
    items, shown = [], []
    tokens = list(tokens or ())
    # _canon_token: an item in another key case (which ChatResult passes on uncopied when the
    # response's first and last items are DashScope's) still shows its token and alternatives.
    for item in map(_canon_token, tokens[:limit]):
        token = str(item.get("token", ""))
        items.append(_token(token, _prob(item.get("logprob")), item.get("top_logprobs")))
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
              f'<span style="background-color:{probability_colour(1)};{chip}">high</span> — point at or click '
              f'a token (or Tab to it) for the alternatives</div>')
    return (f'{HOVER_RULE}<div class="dms-token-strip" style="{ANSWER_STYLE};line-height:1.9">'
            f'{"".join(items)}{tail}</div>' + legend)
