"""Issue 24 item 14 and "Pictures for many answers": a batch's wide form, its styled table, the
figure in one call and the self-contained HTML report, against the sandbox over HTTP."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import dms_magic.summaries
from dms_magic.batch import chat_many, summarize
from dms_magic.comparison import similarity

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"
PROMPTS = ["我叫张伟，手机号13812345678，请写一封投诉信。",
           f"My name is John Smith, phone 13912345678. Repeat this: {HOSTILE}",
           "把这句话翻译成英文：今天天气很好。"]


@pytest.fixture(scope="module")
def both(client):
    frame = chat_many(pd.DataFrame({"ticket": ["T-1", "T-2", "T-3"], "question": PROMPTS}).set_index("ticket"),
                      column="question", client=client, compare=True, seed=3, progress=False, max_tokens=60)
    assert frame["error_code"].isna().all()
    return frame


@pytest.fixture(scope="module")
def plain(client):
    return chat_many(PROMPTS, client=client, progress=False, max_tokens=20)


def test_wide_form_is_one_row_per_prompt_with_masked_and_unmasked_columns(both):
    wide = both.dms.wide()
    assert list(wide.index) == ["T-1", "T-2", "T-3"] and wide.index.name == "ticket"
    assert list(wide["prompt"]) == PROMPTS
    for variant in ("unmasked", "masked"):
        part = both[both["variant"] == variant]
        assert list(wide[f"{variant}_answer"]) == list(part["text"])
        assert list(wide[f"{variant}_leaks"]) == [len(v) for v in part["leaks"]]
        assert list(wide[f"{variant}_completion_tokens"]) == list(part["completion_tokens"])
        assert wide[f"{variant}_latency_ms"].tolist() == pytest.approx((part["latency"] * 1000).tolist())
    assert wide.loc["T-1", "unmasked_leaks"] >= 1 and wide["masked_leaks"].sum() == 0
    assert wide.loc["T-3", "similarity"] == pytest.approx(similarity(*both.loc["T-3", "text"]))
    # pandas' NA convention throughout: nullable dtypes, one missing value (<NA>)
    assert {str(t) for t in wide.dtypes} <= {"string", "Int64", "Float64"}
    assert wide["masked_error"].isna().all() and wide["masked_error"].dtype == "string"


def test_wide_form_of_an_interrupted_or_failed_run_keeps_na_for_what_is_missing(both):
    half = both.iloc[:-1]  # the last prompt's masked variant never came back
    wide = half.dms.wide()
    assert len(wide) == 3 and pd.isna(wide.loc["T-3", "masked_answer"]) and pd.isna(wide.loc["T-3", "similarity"])
    assert wide.loc["T-3", "unmasked_answer"] == both.loc["T-3", "text"].iloc[0]


def test_plain_frame_wide_form_has_latency_in_ms_and_no_leak_columns(plain):
    wide = plain.dms.wide()
    assert list(wide.columns) == ["prompt", "answer", "prompt_tokens", "completion_tokens", "latency_ms", "error",
                                  "request_id"]
    assert wide["latency_ms"].tolist() == pytest.approx((plain["latency"] * 1000).tolist())


def test_styled_table_wraps_answers_escapes_model_text_and_hides_ids_and_empty_errors(both):
    page = both.dms.styled().to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img" not in page
    assert both["request_id"].iloc[0] not in page  # hidden (kept in the data)
    assert ">masked_error<" not in page and ">unmasked_answer<" in page
    assert "pre-wrap" in page and re.search(r"\d ms<", page)  # wrapped answers, latency with its unit


def test_plot_is_one_call_with_prompts_as_labels_and_the_legend_off_the_bars(both, plain):
    figure = both.dms.plot()
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert titles == ["leaked values", "answer similarity", "completion tokens", "latency"]
    assert figure.axes[3].get_xlabel() == "ms" and figure.axes[2].get_xlabel() == "tokens"
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert any("John Smith" in label for label in labels) and all(len(label) <= 40 for label in labels)
    assert not any(ax.get_legend() for ax in figure.axes) and figure.legends  # one legend, for the figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    legend = figure.legends[0].get_window_extent(renderer)
    for ax in figure.axes:  # nor over any panel (its bars, title or labels)
        assert not legend.overlaps(ax.get_tightbbox(renderer))
    assert [ax.get_title(loc="left") for ax in plain.dms.plot().axes] == ["completion tokens", "latency"]


class _Cells(HTMLParser):
    """Text of every <td data-col=...> per table row, and every URL-bearing attribute."""

    def __init__(self):
        super().__init__()
        self.rows, self.urls, self._col, self._row, self.tags = [], [], None, None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.urls += [v for k, v in attrs.items() if k in ("src", "href", "action", "data") and v]
        if tag == "tr":
            self._row = {"_variant": attrs.get("data-variant")}
            self.rows.append(self._row)
        if tag == "td" and "data-col" in attrs:
            self._col = attrs["data-col"]
            self._row[self._col] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._col = None

    def handle_data(self, data):
        if self._col:
            self._row[self._col] += data


def test_report_is_self_contained_escaped_secret_free_and_true_to_the_frame(both, tmp_path, sandbox):
    path = both.dms.report(tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    cells = _Cells()
    cells.feed(text)
    # offline: no script, no stylesheet or font to fetch, every image inline
    assert "script" not in cells.tags and "link" not in cells.tags
    assert all(url.startswith("data:image/png;base64,") for url in cells.urls) and cells.urls
    assert not re.search(r"url\(|@import|https?://", text)
    # the model's text is shown, escaped
    assert "<script>" not in text and "<img src=x" not in text and "&lt;script&gt;" in text
    assert sandbox.access_key_secret not in text and sandbox.access_key_id not in text
    assert "sandbox" in text and "UserInfo" in text and dms_magic_version() in text  # provenance
    # numbers: the summary and every per-prompt value are the frame's
    summary = summarize(both)
    shown = {row["_variant"]: row for row in cells.rows if row.get("_variant")}
    for variant in ("unmasked", "masked"):
        for column in ("answered", "prompt_tokens", "completion_tokens", "leaks", "rows_with_leaks"):
            assert int(shown[variant][column]) == summary.loc[variant, column], (variant, column)
    rows = [row for row in cells.rows if "prompt" in row]
    wide = both.dms.wide()
    assert [row["prompt"] for row in rows] == PROMPTS
    for row, (_, expected) in zip(rows, wide.iterrows()):
        for variant in ("unmasked", "masked"):
            assert int(row[f"{variant}_leaks"]) == expected[f"{variant}_leaks"]
            assert int(row[f"{variant}_completion_tokens"]) == expected[f"{variant}_completion_tokens"]
            assert row[f"{variant}_answer"] == expected[f"{variant}_answer"]  # whole, unescaped by the parser
            assert float(row[f"{variant}_latency_ms"]) == pytest.approx(expected[f"{variant}_latency_ms"], abs=0.5)
    leaked = wide.loc["T-1", "unmasked_leaked"].split(", ")[0]
    assert f"<mark>{leaked}</mark>" in text  # the leaked value is highlighted in the answer


def dms_magic_version() -> str:
    from dms_magic import __version__

    return __version__


def test_report_of_a_wide_frame_is_a_clear_error(both, tmp_path):
    with pytest.raises(ValueError, match="long form"):
        dms_magic.summaries.report(both.dms.wide(), tmp_path / "r.html")


import dms_magic
