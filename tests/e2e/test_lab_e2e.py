"""The widget form in a real browser: JupyterLab + Debian's headless Chromium, driven by Playwright.

The test (fixtures in conftest.py: a private JupyterLab on 127.0.0.1) opens a notebook that loads
dms_magic and shows the form, and uses the page as a person would: an invalid value is refused next
to its control; then a typed prompt with masking on is sent and the answer card (masked
restatement, usage table) appears; Stream ends in a final card with usage; "Copy as cell" shows the
cell, and ``f.copy_as_cell()`` run in a cell inserts it below. A second test drives what used to
surprise: a value typed into a slider's readout out of range is refused inline and nothing is sent;
ticking top_logprobs turns logprobs on; a double click on Send sends once (the sandbox journal
counts); a refused send leaves no earlier answer on screen. No credentials are given: the kernel's
default client is the in-process sandbox. Screenshots go to $DMS_MAGIC_E2E_SCREENSHOTS (default
/tmp/dms_magic-screenshots).
"""
from __future__ import annotations

import re

import pytest

from dms_magic.notebook.form import DOUBLE_CLICK_SECONDS

pytestmark = pytest.mark.browser

PHONE = "13812345678"
PROMPT = f"My name is Zhang Wei, my phone is {PHONE}. Please write a complaint letter."
FORM_CELLS = ["%load_ext dms_magic\nimport dms_magic",
              "f = dms_magic.form(model='qwen-plus', logprobs=True, top_logprobs=2)\nf"]


def test_type_a_prompt_click_send_and_see_the_answer_with_usage(lab, page, screenshots):
    lab.write_notebook("form.ipynb", FORM_CELLS)
    shot = screenshots / "lab-form.png"
    try:
        _drive(page, lab, shot)
    except Exception:
        _dump(page, lab, shot)
        raise
    assert shot.stat().st_size > 10_000


def _dump(page, lab, shot) -> None:
    """What the page showed, for whoever reads the CI log."""
    page.screenshot(path=str(shot), full_page=True)
    outputs = page.locator(".jp-OutputArea").all_inner_texts()
    print(f"screenshot: {shot}\ncell outputs: {outputs}\nserver log tail:\n{lab.log.read_text()[-2000:]}")


def _drive(page, lab, shot) -> None:
    lab.open(page, "form.ipynb")
    lab.run_all(page)

    form = page.locator(".dms-chat-form")
    form.wait_for(state="visible")
    form.locator(".dms-prompt textarea").fill(PROMPT)
    # An invalid value: the message appears next to its control and nothing is sent.
    _unfold(form, "output")  # the rarer options are folded by group
    max_tokens = form.locator(".dms-param-max-tokens input")
    max_tokens.fill("0")
    form.locator(".dms-button-send").click()
    refused = "max_tokens='0' is invalid: expected an integer >= 1"
    form.locator(".dms-param-max-tokens .dms-form-error", has_text=refused).wait_for(state="visible")
    form.locator(".dms-form-status", has_text="Not sent: " + refused).wait_for(state="visible")
    assert form.locator(".dms-form-output .dms-chat-result").count() == 0
    max_tokens.fill("")
    # Masking on, rule typed into its combobox: the page's own controls, no Python.
    form.locator(".dms-param-need-desensitization button", has_text="on").click()
    form.locator(".dms-param-desensitization-rule input").fill("UserInfo")
    # A second Send within DOUBLE_CLICK_SECONDS of the first is the second half of a double click
    # (ignored by design); Playwright gets here in ~0.46 s, faster than a person re-clicks.
    page.wait_for_timeout(DOUBLE_CLICK_SECONDS * 1000 + 200)
    form.locator(".dms-button-send").click()

    card = form.locator(".dms-form-output .dms-chat-result")
    card.wait_for(state="visible")
    answer = card.locator(".dms-answer").first.inner_text()  # the strip when logprobs are on
    # The sandbox's generator restates what the model was given: the typed prompt, masked.
    assert "complaint letter" in answer and PHONE[:3] + "****" + PHONE[-4:] in answer, answer
    assert PHONE not in answer, answer
    assert "masking on (UserInfo)" in card.inner_text()
    card.locator("details.dms-usage-line > summary").click()  # "9 → 42 tokens": the table is folded under it
    usage = card.locator("table").last
    headers = usage.locator("th").all_inner_texts()
    assert "prompt_tokens" in headers and "completion_tokens" in headers, headers
    counts = usage.locator("td").all_inner_texts()
    assert all(c.strip().isdigit() for c in counts) and int(counts[headers.index("completion_tokens")]) > 0, counts
    assert "sandbox" in card.inner_text()  # every output says which backend answered
    status = form.locator(".dms-form-status").inner_text()
    assert "answered by sandbox" in status, status

    page.screenshot(path=str(shot), full_page=True)

    # Stream: the card is rebuilt from streamed events and ends as a final card with usage.
    first_request = card.inner_text().rsplit("request id", 1)[-1]
    form.locator(".dms-param-include-usage button", has_text="on").click()
    form.locator(".dms-button-stream").click()
    page.wait_for_function(
        """(previous) => {
            const card = document.querySelector('.dms-chat-form .dms-form-output .dms-chat-result');
            return card && /request id/.test(card.innerText) && !card.innerText.endsWith(previous)
                   && !/streaming…/.test(card.innerText);
        }""", arg=first_request)
    streamed = form.locator(".dms-form-output .dms-chat-result")
    assert PHONE[:3] + "****" in streamed.locator(".dms-answer").first.inner_text()
    streamed.locator("details.dms-usage-line > summary").click()
    assert "prompt_tokens" in streamed.locator("table").last.locator("th").all_inner_texts()

    # "Copy as cell" button: JupyterLab gives a click no way to add a cell, so the text is shown,
    # beside the result (which stays).
    form.locator(".dms-button-copy-as-cell").click()
    shown = form.locator(".dms-form-cell pre")
    shown.wait_for(state="visible")
    assert shown.inner_text().startswith("%%dmschat --model qwen-plus --mask --rule UserInfo"), shown.inner_text()
    assert card.is_visible()

    # "Copy as cell" from code: the %%dmschat cell is inserted below (IPython's set_next_input).
    _run_in_a_new_cell(page, "f.copy_as_cell()")
    inserted = page.locator(".jp-Cell .jp-InputArea .cm-content",
                            has_text="%%dmschat --model qwen-plus --mask --rule UserInfo")
    inserted.first.wait_for(state="visible")
    source = inserted.first.inner_text()
    assert "--mask --rule UserInfo --logprobs --top-logprobs 2" in source and PHONE in source, source
    page.screenshot(path=str(shot.with_name(shot.stem + "-copied-cell.png")), full_page=True)

    # The cell shown under the form is for the form as it was: typing in the prompt takes it away,
    # so nothing stale is left to copy.
    shown.wait_for(state="visible")
    form.locator(".dms-prompt textarea").press("End")
    form.locator(".dms-prompt textarea").type(" 谢谢")
    shown.wait_for(state="hidden")


def _unfold(form, title: str) -> None:
    """Open one folded group of the form (the Accordion shows one at a time)."""
    header = form.locator(".jupyter-widget-Collapse-header", has_text=title).first
    header.click()
    header.locator("xpath=..").locator(".jupyter-widget-Collapse-contents").wait_for(state="visible")


def _run_in_a_new_cell(page, code: str) -> None:
    """Add a cell with the toolbar's "Insert a cell below" button, type ``code`` into it and run it
    with Shift+Enter. Each step waits for the page to show its effect: keyboard shortcuts alone
    raced JupyterLab's focus handling on a cold start (the keys reached the widget, not the notebook)."""
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    before = cells.count()
    page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:insert-cell-below']").click()
    page.wait_for_function("(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length > n",
                           arg=before)
    editor = page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content")
    editor.click()
    page.keyboard.type(code)
    page.wait_for_function("(code) => { const e = document.querySelector("
                           "'.jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content');"
                           " return e && e.innerText.trim() === code; }", arg=code)
    page.keyboard.press("Shift+Enter")


_probes = iter(range(1, 1000))


def _accepted(page) -> int:
    """How many requests the kernel's in-process sandbox has accepted (its journal's counter)."""
    probe = next(_probes)
    _run_in_a_new_cell(page, "from dms_magic.session import current_sandbox as _sb; "
                             f"print('accepted-{probe}:', _sb().accepted if _sb() else 0)")
    out = page.locator(".jp-OutputArea-output", has_text=f"accepted-{probe}:")
    out.first.wait_for(state="visible")
    return int(re.search(rf"accepted-{probe}: (\d+)", out.first.inner_text()).group(1))


def test_the_form_refuses_inline_turns_logprobs_on_sends_once_and_clears_stale_answers(lab, page, screenshots):
    lab.write_notebook("form-surprises.ipynb", ["%load_ext dms_magic\nimport dms_magic",
                                                "f = dms_magic.form(model='qwen-plus')\nf"])
    shot = screenshots / "lab-form-surprises.png"
    try:
        _surprises(page, lab, shot)
    except Exception:
        _dump(page, lab, shot)
        raise


def _surprises(page, lab, shot) -> None:
    lab.open(page, "form-surprises.ipynb")
    lab.run_all(page)
    form = page.locator(".dms-chat-form")
    form.wait_for(state="visible")
    form.locator(".dms-prompt textarea").fill("Tell me about data masking.")
    status = form.locator(".dms-form-status")
    output_cards = form.locator(".dms-form-output .dms-chat-result")

    # Unticked sliders say "default" and show no number.
    _unfold(form, "sampling")
    readout = form.locator(".dms-param-temperature .dms-readout input")
    assert readout.input_value() == "" and readout.get_attribute("placeholder") == "default"

    # A value typed into the slider's readout out of range: refused next to it, never clamped,
    # and Send sends nothing.
    before = _accepted(page)
    readout.fill("5")
    readout.press("Enter")
    form.locator(".dms-param-temperature .dms-form-error", has_text="temperature").wait_for(state="visible")
    assert readout.input_value() == "5"  # not silently 1.99
    form.locator(".dms-button-send").click()
    status.locator("text=Not sent").wait_for(state="visible")
    assert _accepted(page) == before
    readout.fill("")
    readout.press("Enter")
    form.locator(".dms-param-temperature .dms-form-error").filter(has_text="temperature").wait_for(state="detached")

    # Ticking top_logprobs turns logprobs on at once: the form is sendable, and says why.
    _unfold(form, "output")
    form.locator(".dms-param-top-logprobs input[type=checkbox]").check()
    form.locator(".dms-param-logprobs", has_text="turned on").wait_for(state="visible")

    # A double click on Send sends once.
    before = _accepted(page)
    form.locator(".dms-button-send").dblclick()
    output_cards.first.wait_for(state="visible")
    status.locator("text=answered by").wait_for(state="visible")
    lab.wait_for_kernel(page)
    page.wait_for_timeout(1000)  # a second request, if any, would have arrived by now
    assert _accepted(page) == before + 1
    assert form.locator(".dms-form-output .dms-token-strip").count() == 1  # logprobs were sent
    page.screenshot(path=str(shot), full_page=True)

    # A refused send leaves no earlier answer on screen.
    max_tokens = form.locator(".dms-param-max-tokens input")
    max_tokens.fill("0")
    form.locator(".dms-button-send").click()
    status.locator("text=Not sent").wait_for(state="visible")
    assert output_cards.count() == 0
    page.screenshot(path=str(shot.with_name(shot.stem + "-refused.png")), full_page=True)
