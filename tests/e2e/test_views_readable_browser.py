"""External check of issue 17 (written without reading the views' code): the README's own flow, in JupyterLab
Light and Dark, read as a new user reads it.

The nbconvert-executed quickstart is opened *untrusted* (as the README opens it) and, separately, the quickstart is
run inside JupyterLab. Every visible text node in the output areas is measured against its composited background
(WCAG 2.x relative luminance, normal text needs >= 4.5:1); prose table cells (not pandas frames) must be left-aligned;
in the untrusted copy the token strip keeps >= 3 distinct background colours and its answer appears once.

Plumbing (issue 21): the JupyterLab server, Chromium and both quickstart pages come from tests/e2e/conftest.py
(``lab``, ``shown_notebook``), shared with test_lab_views.py: each page is made once per session and read here
in each theme; the assertions are the black-box ones.
"""
import json

import pytest

pytestmark = [pytest.mark.blackbox, pytest.mark.browser]  # blackbox: written without reading dms_magic/

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


def _answer_of_logprobs_cell(executed):
    nb = json.loads(executed.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "--top-logprobs" in "".join(cell["source"]) and "%%dmschat" in "".join(cell["source"]):
            plain = "".join(cell["outputs"][0]["data"]["text/plain"]).splitlines()
            return plain[1]  # line 0: badges; line 1: the answer
    pytest.fail("no logprobs cell in the quickstart")


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_quickstart_readable_untrusted_and_run(lab, shown_notebook, theme):
    page = shown_notebook("quickstart.ipynb", executed=True)
    lab.switch_theme(page, theme)
    assert page.evaluate("() => document.body.dataset.jpThemeName") == theme
    untrusted = page.evaluate(CONTRAST_JS, ".jp-OutputArea-output")
    untrusted_align = page.evaluate(ALIGN_JS, ".jp-OutputArea-output")
    strip = page.evaluate(STRIP_JS, _answer_of_logprobs_cell(lab.executed_notebook("quickstart.ipynb")))

    run = shown_notebook("quickstart.ipynb")
    lab.switch_theme(run, theme)
    ran = run.evaluate(CONTRAST_JS, ".jp-OutputArea-output")
    ran_align = run.evaluate(ALIGN_JS, ".jp-OutputArea-output")
    assert untrusted["checked"] > 100 and ran["checked"] > 100, "the outputs did not render"
    assert untrusted["low"] == [], f"{theme}, untrusted: text under 4.5:1: {untrusted['low'][:10]}"
    assert ran["low"] == [], f"{theme}, run in JupyterLab: text under 4.5:1: {ran['low'][:10]}"
    for cells in (untrusted_align, ran_align):
        assert cells, "no prose table cells found"
        assert [c for c in cells if c[1] not in ("left", "start")] == []
    assert strip is not None, "the logprobs answer is not in the untrusted notebook"
    assert len(strip["backgrounds"]) >= 3, f"token strip backgrounds: {strip['backgrounds']}"
    assert strip["occurrences"] == 1, f"the answer appears {strip['occurrences']} times"
