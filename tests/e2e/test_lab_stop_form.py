"""Stopping, the form's first screen and Tab by kind of value, in JupyterLab in Chromium (Light, Dark).

- Ctrl-C in a streaming cell (the toolbar's interrupt: SIGINT to the kernel, as a person does):
  the cell ends with one line, the card says "stopped", and ``-o r`` holds the partial answer.
- The form in a 900-px-tall window: the prompt and Send are on the first screen, the answer right
  under them, the rest folded.
- ``--messages conv<Tab>`` completes to the notebook's ``conversation``.

Screenshots (Light and Dark) of the form and of a stopped stream go to the e2e
screenshots folder ($DMS_MAGIC_E2E_SCREENSHOTS).
"""
from __future__ import annotations


import pytest

pytestmark = pytest.mark.browser

# The sandbox restates the prompt at a model's pace: a long prompt streams for seconds.
LONG_PROMPT = "请把下面这段话逐句复述并扩写成一篇长文：" + "数据脱敏保护个人信息，模型只看到脱敏后的文本。" * 12
VIEWPORT = {"width": 1400, "height": 900}


def _dump(page, lab, shot) -> None:
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}\ncell outputs: {page.locator('.jp-OutputArea').all_inner_texts()}\n"
          f"server log tail:\n{lab.log.read_text()[-2000:]}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_ctrl_c_in_a_streaming_cell_ends_in_one_line_stopped_with_the_partial_answer(lab, page, screenshots, theme):
    name = f"stop-{theme}.ipynb"
    lab.write_notebook(name, ["%load_ext dms_magic", f"%%dmschat --stream -o r\n{LONG_PROMPT}",
                              "print('partial:', r.partial, r.stop_reason, len(r.partial_text))"])
    shot = screenshots / f"stopped-stream-{theme}.png"
    try:
        lab.open(page, name, theme)
        cells = page.locator(".jp-NotebookPanel .jp-Cell")
        cells.nth(0).click()
        page.keyboard.press("Shift+Enter")  # %load_ext
        page.keyboard.press("Shift+Enter")  # the streaming cell
        card = cells.nth(1).locator(".dms-chat-result")
        card.wait_for(state="visible")
        page.wait_for_function("""() => { const c = document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[1]
            .querySelector('.dms-chat-result'); return c && /streaming…/.test(c.innerText)
            && c.querySelector('.dms-answer') && c.querySelector('.dms-answer').innerText.length > 20; }""")
        page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']").click()
        page.wait_for_function("""() => { const c = document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[1];
            return /stopped/.test(c.querySelector('.dms-chat-result, .dms-finish').parentElement.innerText)
                && !/\\*/.test(c.querySelector('.jp-InputArea-prompt').innerText); }""")
        output = cells.nth(1).locator(".jp-OutputArea").inner_text()
        lines = [line for line in output.splitlines() if line.strip()]
        error_lines = [line for line in lines if "stopped (Ctrl-C)" in line]
        assert len(error_lines) == 1 and "KeyboardInterrupt" not in output and "Traceback" not in output, output
        assert "streaming…" not in cells.nth(1).inner_text()
        cells.nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=False)
        cells.nth(2).click()
        page.keyboard.press("Shift+Enter")
        printed = cells.nth(2).locator(".jp-OutputArea-output", has_text="partial:")
        printed.wait_for(state="visible")
        words = printed.inner_text().split()
        assert words[1:3] == ["True", "stopped"] and int(words[3]) > 0, words
    except Exception:
        _dump(page, lab, shot)
        raise


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_form_shows_prompt_and_send_on_the_first_screen_of_a_900_px_window(lab, page, screenshots, theme):
    name = f"form-{theme}.ipynb"
    lab.write_notebook(name, ["%load_ext dms_magic", "%dmschat form"])
    shot = screenshots / f"form-{theme}.png"
    try:
        page.set_viewport_size(VIEWPORT)
        lab.open(page, name, theme)
        lab.run_all(page)
        form = page.locator(".dms-chat-form")
        form.wait_for(state="visible")
        form.evaluate("(el) => el.scrollIntoView({block: 'start'})")
        box = form.evaluate("""(el) => { const r = (s) => el.querySelector(s).getBoundingClientRect();
            return {top: el.getBoundingClientRect().top, prompt: r('.dms-prompt').bottom, send: r('.dms-button-send').bottom,
                    output: r('.dms-form-output').top, folded: r('.dms-form-folded').top}; }""")
        print("form geometry (px):", box)
        assert box["send"] - box["top"] < VIEWPORT["height"] * 0.8, box  # one screen, with room for the answer
        assert box["prompt"] < box["send"] < box["output"] < box["folded"], box  # the answer right under
        form.locator(".dms-prompt textarea").fill("我叫张伟，手机号13812345678，请帮我写一封投诉信。")
        form.locator(".dms-param-need-desensitization button", has_text="on").click()
        form.locator(".dms-param-desensitization-rule input").fill("UserInfo")
        form.locator(".dms-button-send").click()
        form.locator(".dms-form-output .dms-chat-result").wait_for(state="visible")
        labels = form.locator(".dms-param-need-desensitization, .dms-param-desensitization-rule").all_inner_texts()
        assert any("--mask" in t for t in labels) and any("--rule" in t for t in labels), labels
        page.screenshot(path=str(shot), full_page=False)
        # Copy as cell from %dmschat form (no variable to call it on): the cell uses the magic's words.
        form.locator(".dms-button-copy-as-cell").click()
        cell = form.locator(".dms-form-cell pre")
        cell.wait_for(state="visible")
        assert cell.inner_text().startswith("%%dmschat --mask --rule UserInfo"), cell.inner_text()
    except Exception:
        _dump(page, lab, shot)
        raise


def test_tab_after_messages_offers_the_notebooks_conversation(lab, page, screenshots):
    name = "tab.ipynb"
    lab.write_notebook(name, ["%load_ext dms_magic\nconversation = [{'role': 'user', 'content': 'hi'}]",
                              "%%dmschat --messages conv"])
    try:
        lab.open(page, name)
        lab.run_all(page)  # the second cell fails (no prompt); the names exist
        editor = page.locator(".jp-NotebookPanel .jp-Cell").nth(1).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+End")
        page.keyboard.press("Tab")
        offered = page.locator(".jp-Completer-item", has_text="conversation")
        offered.first.wait_for(state="visible")  # JupyterLab lists even a single match
        assert page.locator(".jp-Completer-item").count() == 1  # only what --messages takes
        page.keyboard.press("Enter")
        page.wait_for_function("""() => /--messages conversation/.test(
            document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[1].querySelector('.cm-content').innerText)""")
    except Exception:
        _dump(page, lab, screenshots / "tab-completion.png")
        raise
