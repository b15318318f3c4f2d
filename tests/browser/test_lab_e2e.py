"""The widget form in a real browser: JupyterLab + Debian's headless Chromium, driven by Playwright.

The test starts its own JupyterLab on 127.0.0.1 (fresh config, data, runtime, settings and
workspace directories, a random token), opens a notebook that loads dms_magic and shows the form,
and uses the page as a person would: an invalid value is refused next to its control; then a typed
prompt with masking on is sent and the answer card (masked restatement, usage table) appears;
Stream ends in a final card with usage; "Copy as cell" shows the cell, and ``f.copy_as_cell()`` run
in a cell inserts it below. No credentials are given: the kernel's default client is the
in-process sandbox. A screenshot is kept ($DMS_MAGIC_E2E_SCREENSHOT or pytest's tmp dir).

Playwright's own browser download is not reachable here: Chromium is Debian's (/usr/bin/chromium,
installed by .ci/run). The test skips only when that binary is missing.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
# As root Chromium needs --no-sandbox; the network is closed, so nothing may phone home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
PHONE = "13812345678"
PROMPT = f"My name is Zhang Wei, my phone is {PHONE}. Please write a complaint letter."
SCREENSHOT_ENV = "DMS_MAGIC_E2E_SCREENSHOT"  # where to keep the screenshot (default: pytest's tmp dir)

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

# With Chromium present, a missing Playwright is a broken install (it is in the test extras), not a skip.
from playwright import sync_api  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _notebook(path: Path) -> None:
    cells = [
        "%load_ext dms_magic\nimport dms_magic",
        "f = dms_magic.form(model='qwen-plus', logprobs=True, top_logprobs=2)\nf",
    ]
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A private JupyterLab server: (base url, token, notebook dir). Stopped at the end."""
    root = tmp_path_factory.mktemp("lab")
    dirs = {name: root / name for name in ("config", "data", "runtime", "settings", "workspaces", "notebooks", "home")}
    for d in dirs.values():
        d.mkdir()
    _notebook(dirs["notebooks"] / "form.ipynb")
    # The notebook's "python3" kernel is this interpreter (a machine-wide kernelspec may point elsewhere).
    spec = dirs["data"] / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}), encoding="utf-8")
    # Do not ask about fetching Jupyter news (the network is closed; the toast would cover the page).
    notification = dirs["settings"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "ALICLOUD_", "DMS_MAGIC_", "JUPYTER", "IPYTHON"))}
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["home"] / ".ipython"),
               HOME=str(dirs["home"]),  # no ~/.alibabacloud credentials: the kernel uses the sandbox
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={dirs['notebooks']}", f"--LabApp.user_settings_dir={dirs['settings']}",
           f"--LabApp.workspaces_dir={dirs['workspaces']}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--ServerApp.allow_root=True"]  # CI runs as root
    log = open(root / "lab.log", "wb")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(root / 'lab.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 120 s:\n" + (root / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token, dirs["notebooks"], root / "lab.log"
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and its kernels (they share its process group, started for this test)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture()
def page(lab):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            page = context.new_page()
            page.set_default_timeout(90_000)
            yield page
        finally:
            browser.close()


def test_type_a_prompt_click_send_and_see_the_answer_with_usage(lab, page, tmp_path):
    base, token, _notebooks, log = lab
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "lab-form.png")
    try:
        _drive(page, base, token, shot)
    except Exception:
        # What the page showed, for whoever reads the CI log.
        page.screenshot(path=str(shot), full_page=True)
        outputs = page.locator(".jp-OutputArea").all_inner_texts()
        print(f"screenshot: {shot}\ncell outputs: {outputs}\nserver log tail:\n{log.read_text()[-2000:]}")
        raise
    assert shot.stat().st_size > 10_000


def _drive(page, base: str, token: str, shot: Path) -> None:
    page.goto(f"{base}/lab/tree/form.ipynb?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
    _wait_for_kernel(page, base, token)

    # Run the notebook as a user would: Run menu > Run All Cells.
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    form = page.locator(".dms-chat-form")
    form.wait_for(state="visible")
    form.locator(".dms-prompt textarea").fill(PROMPT)
    # An invalid value: the message appears next to its control and nothing is sent.
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
    form.locator(".dms-button-send").click()

    card = form.locator(".dms-form-output .dms-chat-result")
    card.wait_for(state="visible")
    answer = card.locator(".dms-answer").inner_text()
    # The sandbox's generator restates what the model was given: the typed prompt, masked.
    assert "complaint letter" in answer and PHONE[:3] + "****" + PHONE[-4:] in answer, answer
    assert PHONE not in answer, answer
    assert "masking on (UserInfo)" in card.inner_text()
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
    assert PHONE[:3] + "****" in streamed.locator(".dms-answer").inner_text()
    assert "prompt_tokens" in streamed.locator("table").last.locator("th").all_inner_texts()

    # "Copy as cell" button: JupyterLab gives a click no way to add a cell, so the text is shown,
    # beside the result (which stays).
    form.locator(".dms-button-copy-as-cell").click()
    shown = form.locator(".dms-form-cell pre")
    shown.wait_for(state="visible")
    assert shown.inner_text().startswith("%%dmschat --model qwen-plus --need-desensitization"), shown.inner_text()
    assert card.is_visible()

    # "Copy as cell" from code: the %%dmschat cell is inserted below (IPython's set_next_input).
    _run_in_a_new_cell(page, "f.copy_as_cell()")
    inserted = page.locator(".jp-Cell .jp-InputArea .cm-content",
                            has_text="%%dmschat --model qwen-plus --need-desensitization")
    inserted.first.wait_for(state="visible")
    source = inserted.first.inner_text()
    assert "--desensitization-rule UserInfo --logprobs --top-logprobs 2" in source and PHONE in source, source
    page.screenshot(path=str(shot.with_name(shot.stem + "-copied-cell.png")), full_page=True)


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


def _wait_for_kernel(page, base: str, token: str) -> None:
    """Until the page's kernel is connected (the server counts its websocket) and idle. The page's
    own indicator says "idle" briefly before any kernel exists, so the server is asked too."""
    deadline = time.monotonic() + 120
    while True:
        try:
            kernels = json.loads(urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=5).read())
        except OSError:  # jupyter_server answers 500 while a kernel is half-started: ask again
            kernels = []
        if any(k.get("connections", 0) >= 1 and k.get("execution_state") == "idle" for k in kernels):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook's kernel did not connect within 120 s: {kernels}")
        time.sleep(0.25)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=120_000)
