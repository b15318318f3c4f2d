"""A private JupyterLab in Debian's headless Chromium, driven by Playwright, shared by the browser tests.

``lab``: a JupyterLab server on 127.0.0.1 with fresh config, data, runtime, settings and workspace
directories and a random token; tests write their notebooks into its notebook directory.
``browser``: one headless Chromium for the whole session. ``page``: a fresh page in a fresh browser
context of it; the kernels the test started are shut down after it. ``Lab`` helpers open a notebook in a
theme, run all its cells as a user would (Run menu), switch the theme of an open page, and measure what
the page shows (contrast, alignment) with the script in ``measure.js``.
``shown_notebook(name)``: a page where the notebook was run in JupyterLab once for the whole session
(``executed=True``: the nbconvert-executed copy, opened untrusted); tests that only *look* at a notebook
share it and switch its theme instead of running it again. One server, one Chromium, each notebook
executed once: the browser tier's time is spent on what the tests assert, not on start-ups.

Playwright's own browser download is not reachable here: Chromium is Debian's (/usr/bin/chromium,
installed by .ci/run). The tests skip only when that binary is missing.
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
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
MEASURE_JS = (Path(__file__).with_name("measure.js")).read_text(encoding="utf-8")
# As root Chromium needs --no-sandbox; the network is closed, so nothing may phone home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
# The root element of every dms_magic view (render.VIEW_CLASS) and the form; the older roots too,
# so the same measurement runs on code from before the shared class existed.
VIEW_SELECTOR = (".dms-magic-view, .dms-chat-result, .dms-dry-run, .dms-magic-comparison, "
                 ".dms-magic-mask-preview, .dms-chat-form")

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

# With Chromium present, a missing Playwright is a broken install (it is in the test extras), not a skip.
from playwright import sync_api  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    base: str
    token: str
    notebooks: Path
    settings: Path
    log: Path
    env: dict
    kept: set = field(default_factory=set)  # kernels of the shared pages (shown_notebook): not shut down per test

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        nb = {
            "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
                       "outputs": [], "source": src} for i, src in enumerate(cells)],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                        "name": "python3"}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5,
        }
        path = self.notebooks / name
        path.write_text(json.dumps(nb), encoding="utf-8")
        return path

    def copy_notebook(self, name: str) -> Path:
        """A notebook of notebooks/ without outputs, to be run in the page (trusted outputs)."""
        nb = json.loads((REPO / "notebooks" / name).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        path = self.notebooks / name
        path.write_text(json.dumps(nb), encoding="utf-8")
        return path

    def executed_notebook(self, name: str) -> Path:
        """The README's flow: `jupyter nbconvert --execute` writes a notebook JupyterLab does not trust."""
        out = name.replace(".ipynb", ".out.ipynb")
        if not (self.notebooks / out).exists():
            subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                            str(REPO / "notebooks" / name), "--output-dir", str(self.notebooks), "--output", out,
                            "--ExecutePreprocessor.timeout=300"],
                           env={**self.env, "DMS_MAGIC_ENDPOINT": "sandbox"}, check=True,
                           cwd=str(REPO / "notebooks"), capture_output=True)
        return self.notebooks / out

    def set_theme(self, theme: str) -> None:
        """The theme JupyterLab loads with (read from the settings directory when a page opens)."""
        path = self.settings / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"theme": THEMES[theme]}), encoding="utf-8")

    def open(self, page, name: str, theme: str = "light") -> None:
        self.set_theme(theme)
        page.goto(f"{self.base}/lab/tree/{name}?token={self.token}&reset")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
        page.wait_for_function("(t) => document.body.dataset.jpThemeName === t", arg=THEMES[theme])
        self.wait_for_kernel(page)

    def switch_theme(self, page, theme: str) -> None:
        """Switch an open page to ``theme`` ("light"/"dark" or a theme's full name) as the Settings menu
        does, and wait until the page is painted with it: outputs stay, nothing runs again."""
        name = THEMES.get(theme, theme)
        if page.evaluate("() => document.body.dataset.jpThemeName") != name:
            page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", name)
        light = "true" if name == THEMES["light"] else "false"
        # The theme's stylesheet is applied once the notebook's own background follows the theme.
        page.wait_for_function(r"""([name, light]) => {
            if (document.body.dataset.jpThemeName !== name || document.body.dataset.jpThemeLight !== light) return false;
            const nb = document.querySelector('.jp-NotebookPanel-notebook');
            const m = nb && /rgba?\(([^)]+)\)/.exec(getComputedStyle(nb).backgroundColor);
            if (!m) return false;
            const [r, g, b] = m[1].split(/[\s,\/]+/).map(Number);
            return ((r + g + b) / 3 > 128) === (light === 'true');
        }""", arg=[name, light])
        page.wait_for_timeout(300)  # the theme's transitions settle

    def kernel_ids(self) -> set:
        return {k["id"] for k in json.loads(urllib.request.urlopen(f"{self.base}/api/kernels?token={self.token}",
                                                                   timeout=5).read())}

    def run_all(self, page) -> None:
        """Run menu > Run All Cells, then wait until no cell is queued or running."""
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        started = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell .jp-InputArea-prompt')]
            .some(p => /\\[(\\d+|\\*)\\]/.test(p.innerText))"""
        try:  # a Run All sent before the kernel took it is dropped: ask once more, as a person would
            page.wait_for_function(started, timeout=60_000)
        except Exception:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        page.wait_for_function("""() => {
            const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell .jp-InputArea-prompt')];
            return prompts.length && prompts.every(p => !p.innerText.includes('*'))
                && prompts.some(p => /\\[\\d+\\]/.test(p.innerText));
        }""", timeout=240_000)
        page.wait_for_timeout(500)  # the last display updates reach the page

    def wait_for_kernel(self, page) -> None:
        """Until the page's kernel is connected (the server counts its websocket) and idle. The page's
        own indicator says "idle" briefly before any kernel exists, so the server is asked too."""
        deadline = time.monotonic() + 120
        while True:
            try:
                kernels = json.loads(urllib.request.urlopen(f"{self.base}/api/kernels?token={self.token}",
                                                            timeout=5).read())
            except OSError:  # jupyter_server answers 500 while a kernel is half-started: ask again
                kernels = []
            # a kernel of this page: the shared pages' kernels (kept) are connected and idle already
            if any(k.get("connections", 0) >= 1 and k.get("execution_state") == "idle"
                   for k in kernels if k.get("id") not in self.kept):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the notebook's kernel did not connect within 120 s: {kernels}")
            time.sleep(0.25)
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=120_000)

    def shutdown_kernels(self) -> None:
        """Every kernel but those of the shared pages (``kept``)."""
        kernels = json.loads(urllib.request.urlopen(f"{self.base}/api/kernels?token={self.token}", timeout=5).read())
        for k in kernels:
            if k["id"] in self.kept:
                continue
            req = urllib.request.Request(f"{self.base}/api/kernels/{k['id']}?token={self.token}", method="DELETE")
            try:
                urllib.request.urlopen(req, timeout=10).read()
            except OSError:
                pass


def _measure(page, selector: str = VIEW_SELECTOR) -> dict:
    """Every visible text node under the views: its contrast against its effective background,
    plus the alignment of every table cell (see measure.js)."""
    return page.evaluate(MEASURE_JS, selector)


@pytest.fixture(scope="session")
def measure():
    """measure(page) -> {roots, texts: [{text, ratio, fg, bg, root}], cells: [{text, align, root}]}."""
    return _measure


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A private JupyterLab server (see Lab). Stopped at the end."""
    root = tmp_path_factory.mktemp("lab")
    dirs = {name: root / name for name in ("config", "data", "runtime", "settings", "workspaces", "notebooks", "home")}
    for d in dirs.values():
        d.mkdir()
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
    # Every cell rendered (no virtual scrolling), so every output is measured, on screen or not.
    tracker = dirs["settings"] / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ALIBABA_CLOUD_", "ALICLOUD_", "DMS_MAGIC_", "JUPYTER", "IPYTHON"))}
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["home"] / ".ipython"),
               HOME=str(dirs["home"]),  # no ~/.alibabacloud credentials: the kernel uses the sandbox
               MPLCONFIGDIR=str(dirs["home"] / "mpl"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={dirs['notebooks']}", f"--LabApp.user_settings_dir={dirs['settings']}",
           f"--LabApp.workspaces_dir={dirs['workspaces']}", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: switch_theme runs the theme command
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
        yield Lab(base, token, dirs["notebooks"], dirs["settings"], root / "lab.log", env)
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


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (a launch costs seconds on a loaded machine)."""
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _new_page(browser):
    """A page in a context of its own: no storage, cookies or JupyterLab state shared with other pages."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(90_000)
    return page


@pytest.fixture()
def page(lab, browser):
    page = _new_page(browser)
    try:
        yield page
    finally:
        page.context.close()
        lab.shutdown_kernels()  # each test starts from a fresh kernel


def _dump_cells(page, lab, name: str) -> None:
    """For whoever reads the CI log: each cell's prompt and the start of its source and output, the
    server log's tail, and a screenshot ($DMS_MAGIC_E2E_SCREENSHOTS)."""
    try:
        cells = page.evaluate("""() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell')].map(c => [
            (c.querySelector('.jp-InputArea-prompt') || {}).innerText, (c.querySelector('.cm-content') || {}).innerText,
            (c.querySelector('.jp-OutputArea') || {}).innerText].map(t => (t || '').slice(0, 120)))""")
        print(f"{name}: cells (prompt, source, output):", *cells, sep="\n  ")
        shots = Path(os.environ.get("DMS_MAGIC_E2E_SCREENSHOTS") or "/tmp/dms_magic-screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"failed-{name}.png"), full_page=True)
    except Exception as exc:  # noqa: BLE001 -- the page itself may be gone: the log below still helps
        print(f"{name}: the page could not be read: {exc!r}")
    print(f"server log tail:\n{lab.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def shown_notebook(lab, browser):
    """shown_notebook(name, executed=False, cells=None) -> a page showing the notebook, made once per session.

    By default the notebook (``cells`` written with Lab.write_notebook, else notebooks/<name> without
    outputs) was run in the page with Run All, as a user does: trusted outputs, widgets live, its kernel
    kept until the session ends. ``executed=True``: the README's flow, the nbconvert-executed copy
    (Lab.executed_notebook) opened as it is, untrusted. Callers only look, and may switch the theme
    (Lab.switch_theme) or scroll; whoever changes the page's size or content restores it."""
    pages: dict = {}

    def shown(name: str, executed: bool = False, cells: list[str] | None = None):
        key = (name, executed)
        if key not in pages:
            before = lab.kernel_ids()
            page = _new_page(browser)
            if executed:
                lab.open(page, lab.executed_notebook(name).name)
            else:
                (lab.write_notebook(name, cells) if cells is not None else lab.copy_notebook(name))
                try:
                    lab.open(page, name)
                    lab.run_all(page)
                except BaseException:  # pytest-timeout's Failed too: the dump says which cell hangs
                    _dump_cells(page, lab, name)
                    page.context.close()
                    raise
            lab.kept |= lab.kernel_ids() - before
            pages[key] = page
        return pages[key]

    yield shown
    for page in pages.values():
        page.context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where every browser test's screenshots go ($DMS_MAGIC_E2E_SCREENSHOTS, default
    /tmp/dms_magic-screenshots): one folder to look at after a run."""
    path = Path(os.environ.get("DMS_MAGIC_E2E_SCREENSHOTS") or "/tmp/dms_magic-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
