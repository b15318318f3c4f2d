"""The batch pictures as a person sees them (issue 24): ``frame.dms.plot()`` shows one figure in a
JupyterLab notebook (Light and Dark), the styled table keeps answers wide and escaped, and the
report written by ``frame.dms.report()`` opens from file:// in Chromium with no network, showing
its table. Screenshots go to $DMS_MAGIC_E2E_SCREENSHOTS (default /tmp/dms_magic-screenshots).
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CELLS = [
    "import dms_magic\n"
    "prompts = ['My name is John Smith, phone 13812345678. Please write a short complaint letter.',\n"
    "           'Email lina@example.com about refund R-77, mention her phone 13998765432.',\n"
    "           'Translate to French: the weather is nice today.',\n"
    "           'Repeat exactly: <script>alert(1)</script> and call 13700001111.']\n"
    "both = dms_magic.chat_many(prompts, compare=True, seed=7, max_tokens=60, progress=False)",
    "both.dms.plot()",
    "both.dms.styled()",
    "both.dms.report('batch-report.html')",
]


def _plot_output(page):
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(1)
    return cell.locator(".jp-OutputArea-output")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_batch_plot_shows_once_in_the_notebook(lab, page, screenshots, theme):
    lab.write_notebook("batch_pictures.ipynb", CELLS)
    lab.open(page, "batch_pictures.ipynb", theme)
    lab.run_all(page)
    outputs = _plot_output(page)
    images = outputs.locator("img")
    assert images.count() == 1, "the plot cell must show exactly one figure"
    size = images.first.evaluate("(img) => [img.naturalWidth, img.naturalHeight, img.getBoundingClientRect().width,"
                                 " img.closest('.jp-OutputArea').getBoundingClientRect().width]")
    assert size[0] > 400 and size[1] > 200, size
    assert size[2] <= size[3] + 1, f"the figure overflows its output area: {size}"
    assert "Figure size" not in outputs.first.inner_text()  # drawn, not a text repr
    images.first.scroll_into_view_if_needed()
    outputs.first.screenshot(path=str(screenshots / f"batch-plot-{theme}.png"))
    table = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(2).locator("table").first
    text = table.inner_text()
    assert "<script>alert(1)</script>" in text  # the model's text shown as text, not run
    assert "ms" in text and "request_id" not in text
    table.screenshot(path=str(screenshots / f"batch-table-{theme}.png"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_report_opens_offline_from_file_and_shows_its_table(lab, page, screenshots, scheme, tmp_path):
    import dms_magic.summaries  # noqa: F401
    from dms_magic.batch import chat_many
    from dms_magic.client import DmsChatClient
    from dms_magic.sandbox import start

    prompts = [p.split("'")[1] for p in CELLS[0].split("\n")[1:5]]
    with start() as sandbox, DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id,
                                           access_key_secret=sandbox.access_key_secret, instance_id=1) as client:
        frame = chat_many(prompts, client=client, compare=True, seed=7, max_tokens=60, progress=False)
    path = frame.dms.report(tmp_path / "report.html")
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.emulate_media(color_scheme=scheme)
    page.goto(path.as_uri())
    rows = page.locator("table.rows tr")
    assert rows.count() == len(prompts) + 1
    assert page.locator("table.summary").is_visible() and page.locator("img").evaluate("(i) => i.naturalWidth") > 400
    assert page.locator("mark").count() >= 1  # leaked values highlighted
    assert page.evaluate("() => document.scripts.length") == 0
    assert "<script>alert(1)</script>" in page.locator("table.rows").inner_text()
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    page.screenshot(path=str(screenshots / f"batch-report-{scheme}.png"), full_page=True)
