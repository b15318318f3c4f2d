"""The result card as a reader relies on it: Markdown answers rendered and model HTML shown as text,
usage in one line, the states of a turn (never left on "streaming…"), the status line from the
client's progress events, what the model saw when masking is on, a tool-call table that fits."""
from __future__ import annotations

import html as htmllib
import re
from types import SimpleNamespace

import pytest

from dms_magic.views import card, status
from dms_magic.views.extras import extras_html
from dms_magic.views.markdown import markdown_html
from dms_magic.wire.result import ChatResult

MARKDOWN = """## Summary

**Revenue** grew in *Q3*:

| quarter | revenue |
|---------|---------|
| Q2 | 10 |
| Q3 | 12 |

- first point
- second point

```python
def total(xs):
    return sum(xs)
```
"""
HOSTILE = ('<script>alert("x")</script> <img src=x onerror="alert(1)"> <a href="javascript:alert(2)">a</a> '
           '[click](javascript:alert(3)) ![pixel](http://tracker.example/p.png) <style>body{display:none}</style>')


def _text(markup: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", "", markup))


def test_a_markdown_answer_is_rendered_with_headings_lists_tables_and_highlighted_code():
    page = card.chat_result_html(ChatResult(text=MARKDOWN, backend="sandbox"))
    assert re.search(r"<h2 [^>]*>Summary</h2>", page) and "<strong>Revenue</strong>" in page
    assert "<em>Q3</em>" in page and page.count("<li ") == 2
    assert re.search(r"<table [^>]*>", page) and re.search(r"<td [^>]*>Q3</td>", page)
    assert "##" not in _text(page) and "**" not in _text(page) and "|---" not in _text(page)
    code = re.search(r'<pre class="dms-md-code".*?</pre>', page, re.S).group(0)
    assert re.search(r'<span style="color: #[0-9A-Fa-f]{3,6}">def</span>', code)  # Pygments colours, inline
    assert "def total(xs):\n    return sum(xs)" in _text(code).replace("python", "", 1)


def test_html_from_the_model_is_shown_as_text_never_run():
    page = card.chat_result_html(ChatResult(text=HOSTILE, backend="sandbox"))
    for raw in ("<script", "<img", "<style", 'href="javascript'):
        assert raw not in page.lower(), raw
    assert not re.search(r"<[^>]*\son\w+=", page)  # no event handler attribute in any tag
    shown = _text(page)
    assert '<script>alert("x")</script>' in shown and '<img src=x onerror="alert(1)">' in shown
    # a Markdown image is a link (no request when the card renders); a javascript: link stays text
    assert '<a href="http://tracker.example/p.png"' in page and "[click](javascript:alert(3))" in shown


def test_every_markdown_style_is_inline_and_tables_scroll_inside_their_box():
    rendered = markdown_html(MARKDOWN)
    assert "<style" not in rendered and "class=\"dms-md-table\" style=\"overflow-x:auto" in rendered
    for cell in re.findall(r"<t[dh] [^>]*>", rendered):
        assert "text-align:left" in cell, cell


def test_usage_is_one_line_and_the_table_is_folded():
    result = ChatResult(text="ok", usage={"prompt_tokens": 27, "completion_tokens": 113, "total_tokens": 140,
                                         "prompt_tokens_details": {"cached_tokens": 0}}, latency=0.8404)
    page = card.chat_result_html(result)
    line = re.search(r'<details class="dms-usage-line"[^>]*><summary[^>]*>([^<]*)</summary>', page)
    assert line and htmllib.unescape(line.group(1)) == "27 → 113 tokens"
    assert "cached_tokens" not in page  # always 0 here: no column for it
    assert "840 ms" in page
    assert "27 → 113 tokens · 840 ms" in card.chat_result_text(result)


@pytest.mark.parametrize("state, words", [
    (status.STOPPED, "Stopped with Ctrl-C: the 12 characters received are kept (partial=True)."),
    (status.INTERRUPTED, "The stream broke off before the answer ended: the 12 characters received are kept"),
])
def test_a_partial_result_says_so_with_a_badge_and_one_line(state, words):
    result = ChatResult(text="half an ans.", backend="sandbox", partial=True, stop_reason=state)
    page = card.chat_result_html(result)
    assert f'data-state="{state}"' in page and f"dms-state-{state}" in page and "dms-partial" in page
    assert "streaming…" not in page and words in _text(page)
    text = card.chat_result_text(result)
    assert f"{state} (partial)" in text.splitlines()[0] and words in text
    assert "partial=True" in repr(result) and card.display_metadata(result)["dms_magic"]["partial"] is True


def test_a_streaming_card_shows_its_status_line_and_an_ended_one_does_not():
    partial = SimpleNamespace(text="", backend="sandbox", model="qwen-plus", masked=False, request=None)
    page = card.chat_result_html(partial, streaming=True, status="connecting to sandbox…")
    assert "streaming…" in page and "connecting to sandbox…" in page and 'role="status"' in page
    ended = card.chat_result_html(ChatResult(text="done"), status="connecting to sandbox…")
    assert "connecting" not in ended and "streaming…" not in ended
    with pytest.raises(ValueError, match="state='paused' is invalid"):
        card.chat_result_html(partial, state="paused")


def test_progress_events_become_status_lines():
    event = SimpleNamespace  # any object with some of ProgressEvent's fields
    assert status.progress_text(event(kind="connecting"), where="sandbox") == "connecting to sandbox…"
    assert (status.progress_text(event(kind="retry", attempt=2, max_attempts=10, reason="HTTP 503", delay_s=1.2))
            == "retry 2 of 10 after HTTP 503 (waiting 1.2 s)…")
    # the ticks while a retry waits say why and when, never that the request was sent and is slow
    assert (status.progress_text(event(kind="waiting", attempt=2, max_attempts=10, reason="connection refused",
                                       delay_s=0.8, elapsed_s=3.04))
            == "retry 2 of 10 after connection refused (next attempt in 800 ms, 3.0 s so far)…")
    assert (status.progress_text(event(kind="failed", elapsed_s=27.0, reason="connection refused"))
            == "failed after 27.0 s: connection refused")
    assert status.progress_text(event(kind="done")) is None
    assert status.progress_text(event(kind="retry", delay_s=float("nan"))) == "retry…"


def test_with_masking_on_the_card_shows_what_the_model_saw_and_no_original_value():
    from dms_magic.wire.request import ChatRequest

    prompt = "我叫张伟，手机号13812345678，请写一封投诉信。"
    request = ChatRequest([{"role": "user", "content": prompt}], need_desensitization=True,
                          desensitization_rule="UserInfo")
    page = card.chat_result_html(ChatResult(text="好的", backend="sandbox", request=request))
    saw = re.search(r'<details class="dms-model-saw".*?</details>', page, re.S).group(0)
    assert "138****5678" in _text(saw) and "请写一封投诉信" in _text(saw)
    assert "13812345678" not in saw and "张伟" not in saw  # not even in a tooltip
    assert "what the model saw" in saw and "2 values masked" in _text(page)
    unmasked = card.chat_result_html(ChatResult(text="好的", request=ChatRequest(
        [{"role": "user", "content": prompt}])))
    assert "dms-model-saw" not in unmasked


def test_the_tool_call_table_wraps_inside_the_card_and_shortens_long_arguments():
    from dms_magic.tools import ToolCall

    long_value = "x" * 5000
    call = ToolCall(index=0, id="call_1", name="lookup", arguments={"query": long_value},
                    arguments_raw='{"query": "%s"}' % long_value)
    page = extras_html(calls=[call])
    table = re.search(r"<table [^>]*>", page).group(0)
    assert "table-layout:fixed" in table and "width:100%" in table
    assert re.search(r'<div style="overflow-x:auto;max-width:100%"><table', page)
    assert long_value not in page and f"{len(call.arguments_raw):,} characters; the whole text is on .tool_calls" in page
    for cell in re.findall(r"<t[dh] [^>]*>", page):
        assert "overflow-wrap:anywhere" in cell and "text-align:left" in cell


def test_masked_values_in_an_answer_stay_as_they_are_not_emphasis():
    from dms_magic.wire.request import ChatRequest

    request = ChatRequest([{"role": "user", "content": "我叫张伟，同事李娜，手机号13812345678。"}],
                          need_desensitization=True, desensitization_rule="UserInfo")
    answer = "好的，张*先生，李*女士，电话138****5678。这是**重点**。"
    page = card.chat_result_html(ChatResult(text=answer, backend="sandbox", request=request))
    shown = _text(re.search(r'<div class="dms-answer dms-markdown".*?</div>', page, re.S).group(0))
    assert "张*先生，李*女士，电话138****5678" in shown  # not "张<em>先生，李</em>女士"
    assert "<strong>重点</strong>" in page  # real Markdown still works


def test_a_prompt_with_nothing_sensitive_is_not_a_warning_but_a_wrong_rule_is():
    from dms_magic.views import prediction

    plain = [{"role": "user", "content": "Summarise the quarterly revenue table, please."}]
    assert not prediction.nothing_masked(plain, "UserInfo")
    line = prediction.masking_summary_html(plain, "UserInfo")
    assert "dms-masking-warning" not in line and "no rule finds a sensitive value" in line
    sensitive = [{"role": "user", "content": "我叫张伟，手机号13812345678"}]
    assert prediction.nothing_masked(sensitive, "Finance")
    assert "dms-masking-warning" in prediction.masking_summary_html(sensitive, "Finance")
