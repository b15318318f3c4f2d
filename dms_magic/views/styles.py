"""The views' shared look: inline styles, colours, badges and escaping (no IPython, no pandas).

Colours are inline styles (or classes with inline fallbacks): JupyterLab sanitises untrusted
outputs, dropping ``<style>`` blocks, ``var()`` and ``hsl()``, keeping inline hex colours and the
``class``/``style``/``title`` attributes. Two rules keep every text readable in the Light and Dark
themes, trusted or not:

- a text on the theme's own background takes the theme's colours through JupyterLab's ``--jp-*``
  variables with ``currentColor`` (the inherited text colour) as the fallback: when the sanitiser
  drops ``var()`` the text inherits the theme's colour, readable either way;
- wherever we set a background, we set the text colour too, both as hex: light "chips" with dark
  text (INK), the same in every theme.
"""
from __future__ import annotations

import colorsys
import html
from typing import Any

VIEW_CLASS = "dms-magic-view"  # on the root element of every view (the browser tests find them by it)
INK = "#1f2328"  # text on our light chip backgrounds
CHIP_BG = "#f6f8fa"  # a neutral light chip (code blocks, popovers)
THEME_BORDER = "border:1px solid #8c959f;border-color:var(--jp-border-color1,#8c959f)"
FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',sans-serif"
# max-width keeps prose readable; min-width:0 and overflow-wrap let a long word or URL wrap
# instead of pushing the card past its border; wide parts (tables) scroll inside their own box.
CARD_STYLE = (f"{THEME_BORDER};border-radius:6px;padding:8px 12px;margin:4px 0;text-align:left;{FONT};"
              "font-size:13px;max-width:60em;box-sizing:border-box;overflow-wrap:anywhere;min-width:0")
MUTED_STYLE = "color:var(--jp-content-font-color2,currentColor);font-size:11px"
ANSWER_STYLE = "white-space:pre-wrap;margin:6px 0;line-height:1.45;text-align:left"
TABLE_STYLE = "border-collapse:collapse;font-size:11px;margin-top:4px"
# JupyterLab right-aligns table cells: every cell of ours says left, explicitly.
CELL_STYLE = "padding:1px 6px;text-align:left;vertical-align:top"
SIDE_CELL_STYLE = f"vertical-align:top;width:50%;padding:6px 8px;{THEME_BORDER};text-align:left"  # compare view
SCROLL_BOX = "overflow-x:auto;max-width:100%"  # a wide table scrolls inside the card, never past it
DEL_STYLE = "background-color:#ffebe9;color:#82071e"  # words only the first text has
INS_STYLE = "background-color:#dafbe1;color:#116329;text-decoration:none"  # words only the second has
CHIP = "padding:0 4px;border-radius:3px"
ERROR_STYLE = f"background-color:#ffebe9;color:#82071e;{CHIP}"  # a problem: a light red chip, any theme
WARN_BG, WARN_FG = "#fff1e5", "#953800"  # a warning chip: 6.7:1, the same in Light and Dark
WARN_STYLE = f"background-color:{WARN_BG};color:{WARN_FG};{CHIP}"  # a warning (e.g. nothing was masked)
OK_STYLE = f"background-color:#dafbe1;color:#116329;{CHIP}"  # good news (no leak)
CODE_BOX = (f"background-color:{CHIP_BG};color:{INK};{THEME_BORDER};border-radius:4px;padding:6px 8px;"
            "margin:4px 0;overflow-x:auto;white-space:pre;font-size:12px;line-height:1.4;text-align:left;"
            "overflow-wrap:normal;word-break:normal")  # code lines scroll, never break mid-identifier
INLINE_CODE = f"background-color:{CHIP_BG};color:{INK};{CHIP};font-size:0.92em"
_BADGE = "display:inline-block;padding:0 6px;margin-right:4px;border-radius:10px;font-size:11px;"
CELL = f"{THEME_BORDER};{CELL_STYLE}"  # a bordered table cell

# Entity highlights of the mask view: light backgrounds; the text on them is INK in every theme.
ENTITY_COLOURS = {
    "CHINESE_NAME": "#ffd6a5", "ENGLISH_NAME": "#ffd6a5", "MOBILE_PHONE": "#caffbf", "LANDLINE": "#caffbf",
    "PHONE_NUMBER": "#caffbf", "ID_CARD": "#ffadad", "PASSPORT": "#ffadad", "EMAIL": "#9bf6ff",
    "CHINESE_ADDRESS": "#fdffb6", "ENGLISH_ADDRESS": "#fdffb6", "BANK_CARD": "#bdb2ff", "LICENSE_PLATE": "#ffc6ff", "IPV4": "#a0c4ff",
    "IPV6": "#a0c4ff", "MAC_ADDRESS": "#a0c4ff", "USCC": "#bdb2ff",
}
OTHER_ENTITY = "#e0e0e0"


def esc(value: Any) -> str:
    """HTML-escape anything (quotes too: values also land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def badge(text: str, colour: str = "#ddf4ff", fg: str = "#0a3069", title: str | None = None,
          cls: str | None = None) -> str:
    tip = f' title="{esc(title)}"' if title else ""
    klass = f' class="{esc(cls)}"' if cls else ""
    return f'<span{klass} style="{_BADGE}background-color:{colour};color:{fg}"{tip}>{esc(text)}</span>'


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


def probability_colour(prob: float) -> str:
    """Red (unlikely) through yellow to green (certain), light enough to read dark text (INK) on.
    Hex, not hsl(): JupyterLab's sanitiser drops hsl() from untrusted outputs."""
    prob = min(max(prob, 0.0), 1.0)
    red, green, blue = colorsys.hls_to_rgb(prob / 3, 0.82, 0.75)  # hue 0 (red) .. 120° (green)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (red, green, blue))


def entity_mark(text: str, entity: str, title: str | None = None, tag: str = "span") -> str:
    """A masked or maskable value, highlighted in its entity's colour (INK text on it)."""
    tip = f' title="{esc(title)}"' if title else ""
    colour = ENTITY_COLOURS.get(entity, OTHER_ENTITY)
    return f'<{tag} style="background-color:{colour};color:{INK};{CHIP}"{tip}>{esc(text)}</{tag}>'

