"""The result card in JupyterLab (Chromium), Light and Dark, trusted and untrusted: a Markdown
answer is rendered (heading, bold, list, table, highlighted code); a model's ``<script>`` and
``<img onerror>`` are shown as text and never run; a tool-call table with long arguments stays
inside its card at 900 px; the token alternatives open in a styled popover (click everywhere, hover
where stylesheets survive); every text is readable.

The answers come from a real request path: the notebook starts the sandbox with an *upstream*
(its optional OpenAI-compatible model backend), here a small stand-in server in the kernel that
answers with a fixed Markdown or hostile text, so the text travels sandbox -> client -> card as a
model's would. The tool loop uses the in-process sandbox's own generator; the last cell drives the
live card (StreamView) over a real stream and stops it, as the turn does on Ctrl-C. Screenshots go to
$DMS_MAGIC_E2E_SCREENSHOTS (default /tmp/dms_magic-screenshots).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.browser

MARKDOWN = ("## Quarterly summary\n\n**Revenue** grew by *12%*.\n\n- costs fell\n- margins rose\n\n"
            "| quarter | revenue |\n|---|---|\n| Q2 | 10 |\n| Q3 | 12 |\n\n"
            "```python\ndef total(xs):\n    return sum(xs)\n"
            "rows = sorted(parse_dates(records_with_a_long_name), key=lambda r: r.created_at, reverse=True)\n```\n\n"
            # wider than the card at 900 px: it must scroll in its box, not cut its numbers into pieces
            "| " + " | ".join(f"region_{i}" for i in range(9)) + " |\n|" + "---|" * 9 + "\n| "
            + " | ".join("1,204,332" for _ in range(9)) + " |\n")
CODE_LINES = 3
HOSTILE = ('Here: <script>window.__dms_pwned = 1</script> and <img src=x onerror="window.__dms_pwned = 2"> '
           'and <b>bold?</b>')
LONG = "a-very-long-search-phrase-without-any-spaces-" * 12

SETUP = f'''%load_ext dms_magic
import json, logging, os, threading
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response
import dms_magic.sandbox, dms_magic.session

ANSWERS = {{"MARKDOWN": {MARKDOWN!r}, "HOSTILE": {HOSTILE!r}}}

def model(environ, start_response):  # an OpenAI-compatible stand-in: a fixed answer per keyword
    body = json.loads(Request(environ).get_data())
    prompt = body["messages"][-1]["content"]
    text = next((a for k, a in ANSWERS.items() if k in str(prompt)), "plain answer")
    reply = {{"id": "x", "model": "stand-in", "choices": [{{"index": 0, "finish_reason": "stop",
             "message": {{"role": "assistant", "content": text}}}}],
             "usage": {{"prompt_tokens": 27, "completion_tokens": 113, "total_tokens": 140}}}}
    return Response(json.dumps(reply), content_type="application/json")(environ, start_response)

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log under the cell
server = make_server("127.0.0.1", 0, model, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
gateway = dms_magic.sandbox.start(upstream=f"http://127.0.0.1:{{server.server_port}}/v1")
os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"] = gateway.access_key_id
os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = gateway.access_key_secret
dms_magic.session.configure(endpoint=gateway.url, instance_id=1)

def lookup(query: str) -> str:
    """Look a phrase up."""
    return "found: " + query
tools = [lookup]'''

CELLS = [SETUP,
         "%%dmschat\nMARKDOWN please",
         "%%dmschat\nHOSTILE please",
         f'%%dmschat --endpoint sandbox --tools $tools --run-tools\nlookup query="{LONG}"',
         "%%dmschat --endpoint sandbox --mask --rule UserInfo --logprobs --top-logprobs 3\n"
         "My name is Zhang Wei, my phone is 13812345678. Please write a complaint letter.",  # (no CJK font here)
         # the live card as the notebook's turn drives it, stopped after a few events (as Ctrl-C would)
         "from dms_magic.notebook.display import StreamView\n"
         "with dms_magic.session.default_client('sandbox').stream('Please write a long letter.') as s:\n"
         "    view = StreamView(backend='sandbox', model='qwen-plus', masked=False, request=s.request)\n"
         "    view.set_status('connecting to sandbox…')\n"
         "    for i, chunk in enumerate(s):\n"
         "        view.add(chunk)\n"
         "        if i == 12:\n"
         "            break\n"
         "    stopped = view.stop('stopped')"]


def _cards(page):
    return page.locator(".jp-OutputArea-output .dms-chat-result")


def _check_markdown_and_hostile(page) -> None:
    markdown = _cards(page).nth(0).locator(".dms-markdown")
    assert markdown.locator("h2", has_text="Quarterly summary").count() == 1
    assert markdown.locator("strong", has_text="Revenue").count() == 1
    assert markdown.locator("li").count() == 2
    assert markdown.locator("table td", has_text="Q3").count() == 1
    code = markdown.locator("pre.dms-md-code")
    assert "def total(xs):" in code.inner_text()
    colours = code.evaluate("c => [...new Set([...c.querySelectorAll('span')].map(s => getComputedStyle(s).color))]")
    assert len(colours) >= 2, colours  # highlighted, not one colour
    shown = markdown.inner_text()
    assert "##" not in shown and "**" not in shown and "|---" not in shown

    stopped = _cards(page).nth(4)
    assert "dms-card-stopped" in stopped.get_attribute("class") and "■ stopped" in stopped.inner_text()
    assert "streaming…" not in stopped.inner_text() and "characters received are kept" in stopped.inner_text()

    hostile = _cards(page).nth(1).locator(".dms-markdown")
    text = hostile.inner_text()
    assert "<script>window.__dms_pwned = 1</script>" in text and 'onerror="window.__dms_pwned = 2"' in text
    assert hostile.locator("script, img, b").count() == 0
    assert page.evaluate("() => window.__dms_pwned === undefined")


def _check_no_overflow(page) -> dict:
    """At 900 px: no view is wider than its output area, nothing scrolls sideways but the tables'
    own boxes, and the tool-call table ends inside its card."""
    page.set_viewport_size({"width": 900, "height": 1000})
    page.wait_for_timeout(400)
    found = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output .dms-magic-view')].map(v => {
        const out = v.closest('.jp-OutputArea-output').getBoundingClientRect();
        const box = v.getBoundingClientRect();
        const table = v.querySelector('.dms-tool-calls table');
        const t = table && table.getBoundingClientRect();
        return {cls: v.className, over: Math.round(box.right - out.right), scroll: v.scrollWidth - v.clientWidth,
                table_over: t ? Math.round(t.right - box.right) : null};
    })""")
    assert found and any(f["table_over"] is not None for f in found), found
    for view in found:
        assert view["over"] <= 0 and view["scroll"] <= 0, view
        assert view["table_over"] is None or view["table_over"] <= 0, view
    # words stay whole: each one-word table cell is one line; code lines scroll, never wrap
    lines = page.evaluate("""() => {
        const lineCount = el => { const r = document.createRange(); r.selectNodeContents(el);
            return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; };
        const cells = [...document.querySelectorAll('.dms-md-table td, .dms-md-table th')]
            .filter(c => c.innerText.trim() && !/\\s/.test(c.innerText.trim())).map(lineCount);
        const code = [...document.querySelectorAll('pre.dms-md-code code')].map(lineCount);
        return {cells, code};
    }""")
    assert lines["cells"] and max(lines["cells"]) == 1, lines
    assert lines["code"] and max(lines["code"]) == CODE_LINES, lines
    return {"views": len(found)}


def _open_a_token_popover(page, path: str, *, hover: bool) -> None:
    """Click a token: its popover opens (trusted or not). ``hover``: pointing at a token opens it
    too (trusted: the strip's one <style> rule; untrusted outputs lose it and open on click)."""
    strip_card = _cards(page).filter(has=page.locator(".dms-token-strip")).first
    # logprobs asked for: the strip is the answer, in view (no click to unfold it)
    token = strip_card.locator("details.dms-token").nth(2)
    popover = token.locator(".dms-token-popover")
    if hover:
        token.locator("summary").hover()
        popover.wait_for(state="visible")
        page.mouse.move(1, 1)
        popover.wait_for(state="hidden")
    token.locator("summary").click()
    popover.wait_for(state="visible")
    box = popover.bounding_box()
    assert box and box["width"] > 40 and box["height"] > 20, box
    assert "alternatives" in popover.inner_text()
    strip_card.screenshot(path=path)
    # closed again, not focused, not hovered: the page is shared with the other theme's test
    token.evaluate("d => { d.open = false; document.activeElement.blur(); }")
    token.page.mouse.move(1, 1)
    popover.wait_for(state="hidden")


def _shoot(page, shots, theme: str, trust: str) -> list[str]:
    names = []
    for i, kind in enumerate(("markdown", "hostile", "tools", "masked", "stopped")):
        card = page.locator(".jp-OutputArea-output").filter(has=page.locator(".dms-magic-view")).nth(i)
        name = f"{shots}/card-{kind}-{trust}-{theme}.png"
        card.screenshot(path=name)
        names.append(name)
    return names


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_card_renders_markdown_shows_html_as_text_and_fits_at_900px(lab, shown_notebook, measure, screenshots,
                                                                       theme):
    shots = screenshots
    page = shown_notebook("card.ipynb", cells=CELLS)  # run once (Run All), read in both themes
    lab.switch_theme(page, theme)
    _cards(page).nth(4).wait_for(state="visible")
    _check_markdown_and_hostile(page)
    _open_a_token_popover(page, f"{shots}/card-popover-trusted-{theme}.png", hover=True)
    found = measure(page)
    low = [t for t in found["texts"] if t["ratio"] < 4.5]
    assert found["texts"] and not low, low[:8]
    _shoot(page, shots, theme, "trusted")
    print(json.dumps({"theme": theme, "texts": len(found["texts"]),
                      "min_contrast": min(t["ratio"] for t in found["texts"]), **_check_no_overflow(page)}))
    page.set_viewport_size({"width": 1400, "height": 1600})  # the shared page's size, restored


def test_untrusted_the_card_reads_the_same_and_no_html_runs(lab, page, measure, screenshots):
    shots = screenshots
    """nbconvert-executed, then opened: JupyterLab sanitises the outputs (no <style>, no var())."""
    source = lab.write_notebook("card-run.ipynb", CELLS)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(source),
                    "--output", "card-untrusted.ipynb", "--ExecutePreprocessor.timeout=300"],
                   env=lab.env, cwd=str(lab.notebooks), check=True, capture_output=True)
    for theme in ("dark", "light"):
        lab.open(page, "card-untrusted.ipynb", theme)
        _cards(page).nth(4).wait_for(state="visible")
        _check_markdown_and_hostile(page)
        _open_a_token_popover(page, f"{shots}/card-popover-untrusted-{theme}.png", hover=False)
        found = measure(page)
        low = [t for t in found["texts"] if t["ratio"] < 4.5]
        assert found["texts"] and not low, (theme, low[:8])
        _shoot(page, shots, theme, "untrusted")
        _check_no_overflow(page)
        page.set_viewport_size({"width": 1400, "height": 1600})
