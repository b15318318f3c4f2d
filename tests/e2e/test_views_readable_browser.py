"""External check of issue 17 (written without reading the views' code): the README's own flow, in JupyterLab
Light and Dark, read as a new user reads it.

The nbconvert-executed quickstart is opened *untrusted* (as the README opens it) and, separately, the quickstart is
run inside JupyterLab. Every visible text node in the output areas is measured against its composited background
(WCAG 2.x relative luminance, normal text needs >= 4.5:1); prose table cells (not pandas frames) must be left-aligned;
in the untrusted copy the token strip keeps >= 3 distinct background colours and its answer appears once.
"""
import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.blackbox, pytest.mark.browser]  # blackbox: written without reading dms_magic/
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    pytest.skip("needs Debian's chromium", allow_module_level=True)

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]

# Contrast of every visible text node (and filled input) under `scope` against its composited ancestors' backgrounds.
CONTRAST_JS = r"""(scope) => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (t, b) => [0, 1, 2].map(i => t[i] * t[3] + b[i] * (1 - t[3])).concat([1]);
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bgOf = el => { const layers = []; for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1]; for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg); return bg; };
  const opacity = el => { let o = 1; for (let e = el; e && e.nodeType === 1; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const items = []; let checked = 0;
  document.querySelectorAll(scope).forEach(area => {
    const w = document.createTreeWalker(area, NodeFilter.SHOW_TEXT); let t;
    while ((t = w.nextNode())) if (t.nodeValue.trim()) items.push([t.parentElement, t.nodeValue.trim()]);
    area.querySelectorAll('input[type=text], textarea, select').forEach(i => { if ((i.value || '').trim()) items.push([i, i.value]); });
  });
  const low = [];
  for (const [el, text] of items) {
    if (!el || el.closest('svg')) continue;
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || cs.visibility !== 'visible') continue;
    const bg = bgOf(el), c = parse(cs.color), fg = over([c[0], c[1], c[2], c[3] * opacity(el)], bg);
    const cr = ratio(fg, bg); checked++;
    if (cr < 4.5) low.push({text: text.slice(0, 50), ratio: Math.round(cr * 100) / 100, color: cs.color,
                            background: 'rgb(' + bg.slice(0, 3).map(Math.round).join(',') + ')'});
  }
  return {checked, low};
}"""

ALIGN_JS = r"""(scope) => [...document.querySelectorAll(scope + ' td, ' + scope + ' th')]
  .filter(c => !c.closest('table.dataframe'))
  .map(c => [c.innerText.trim(), getComputedStyle(c).textAlign])
  .filter(([t]) => t.length >= 8 && !/^[-+\d.,:%eE\s]+$/.test(t))"""

# The smallest element holding the whole answer: distinct backgrounds inside it, and how often the answer appears.
STRIP_JS = r"""(answer) => {
  const norm = s => s.replace(/\s+/g, '');
  const want = norm(answer), head = want.slice(0, 40);
  const outs = [...document.querySelectorAll('.jp-OutputArea-output')].filter(o => norm(o.innerText).includes(head));
  if (!outs.length) return null;
  const out = outs[0];
  let holder = null;
  out.querySelectorAll('*').forEach(e => { if (norm(e.innerText || '').includes(want) && (!holder || holder.contains(e))) holder = e; });
  const bgs = new Set();
  if (holder) holder.querySelectorAll('*').forEach(e => { const b = getComputedStyle(e).backgroundColor;
    if (b && b !== 'transparent' && !/rgba\([^)]*,\s*0\)$/.test(b)) bgs.add(b); });
  const text = norm(out.innerText); let n = 0, i = -1; while ((i = text.indexOf(head, i + 1)) >= 0) n++;
  return {backgrounds: [...bgs], occurrences: n, outputs_with_answer: outs.length};
}"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the notebooks with the README's nbconvert step run on the quickstart."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    env = dict(os.environ, PYTHONPATH=str(REPO), DMS_MAGIC_ENDPOINT="sandbox")
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "notebooks/quickstart.ipynb",
                    "--output", "quickstart.out.ipynb"], cwd=root, env=env, check=True, capture_output=True, timeout=240)
    return root


def _start_lab(root, theme, tmp):
    settings = tmp / "settings"
    for ext, name, body in [("apputils-extension", "themes", {"theme": theme}),
                            ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
                            ("notebook-extension", "tracker", {"windowingMode": "none"})]:
        d = settings / "@jupyterlab" / ext
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.jupyterlab-settings").write_text(json.dumps(body))
    env = dict(os.environ, PYTHONPATH=str(REPO), DMS_MAGIC_ENDPOINT="sandbox", JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "ws"), JUPYTER_RUNTIME_DIR=str(tmp / "rt"))
    port, token = _free_port(), secrets.token_hex(8)
    proc = subprocess.Popen([str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True", "--allow-root",
                             "--LabApp.extension_manager=readonly", f"--ServerApp.root_dir={root}"],
                            env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return proc, url, token
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("JupyterLab did not start")


def _open(page, url, token, path):
    page.goto(f"{url}/lab/tree/{path}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                           " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
                           " return k && k.status === 'idle'; }", timeout=120_000)


def _run_all(page):
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    calm, deadline = 0, time.monotonic() + 280
    while calm < 6 and time.monotonic() < deadline:
        busy = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status !== 'idle'"
                             " || [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))")
        calm = 0 if busy else calm + 1
        time.sleep(0.5)


def _answer_of_logprobs_cell(root):
    nb = json.loads((root / "notebooks" / "quickstart.out.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "--top-logprobs" in "".join(cell["source"]) and "%%dmschat" in "".join(cell["source"]):
            plain = "".join(cell["outputs"][0]["data"]["text/plain"]).splitlines()
            return plain[1]  # line 0: badges; line 1: the answer
    pytest.fail("no logprobs cell in the quickstart")


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_quickstart_readable_untrusted_and_run(workdir, theme, tmp_path):
    proc, url, token = _start_lab(workdir, theme, tmp_path)
    try:
        with playwright.sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                        headless=True, args=ARGS, viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            _open(page, url, token, "notebooks/quickstart.out.ipynb")
            assert page.evaluate("() => document.body.dataset.jpThemeName") == theme
            time.sleep(2)
            untrusted = page.evaluate(CONTRAST_JS, ".jp-OutputArea-output")
            untrusted_align = page.evaluate(ALIGN_JS, ".jp-OutputArea-output")
            strip = page.evaluate(STRIP_JS, _answer_of_logprobs_cell(workdir))
            page.screenshot(path=str(tmp_path / "untrusted.png"))

            run = ctx.new_page()
            _open(run, url, token, "notebooks/quickstart.ipynb")
            _run_all(run)
            time.sleep(2)
            ran = run.evaluate(CONTRAST_JS, ".jp-OutputArea-output")
            ran_align = run.evaluate(ALIGN_JS, ".jp-OutputArea-output")
            ctx.close()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert untrusted["checked"] > 100 and ran["checked"] > 100, "the outputs did not render"
    assert untrusted["low"] == [], f"{theme}, untrusted: text under 4.5:1: {untrusted['low'][:10]}"
    assert ran["low"] == [], f"{theme}, run in JupyterLab: text under 4.5:1: {ran['low'][:10]}"
    for cells in (untrusted_align, ran_align):
        assert cells, "no prose table cells found"
        assert [c for c in cells if c[1] not in ("left", "start")] == []
    assert strip is not None, "the logprobs answer is not in the untrusted notebook"
    assert len(strip["backgrounds"]) >= 3, f"token strip backgrounds: {strip['backgrounds']}"
    assert strip["occurrences"] == 1, f"the answer appears {strip['occurrences']} times"
