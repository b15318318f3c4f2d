"""The result card's pieces (dms_magic.render): what a reader of the card relies on."""
from __future__ import annotations

import math
import re

from dms_magic import render


def _spans(html: str) -> list[tuple[str, str, str]]:
    """(colour, title, text) of each token span in a strip."""
    return re.findall(r'<span style="background:([^"]+)" title="([^"]*)">([^<]*)</span>', html)


def test_token_strip_colours_by_probability_and_lists_alternatives_on_hover():
    tokens = [
        {"token": "sure", "logprob": math.log(0.95), "top_logprobs": [
            {"token": "sure", "logprob": math.log(0.95)}, {"token": "maybe", "logprob": math.log(0.03)}]},
        {"token": "guess", "logprob": math.log(0.05), "top_logprobs": [
            {"token": "know", "logprob": math.log(0.6)}, {"token": "guess", "logprob": math.log(0.05)}]},
    ]
    spans = _spans(render.token_strip_html(tokens))
    assert [s[2] for s in spans] == ["sure", "guess"]
    hue = [int(re.match(r"hsl\((\d+)", s[0]).group(1)) for s in spans]
    assert hue[0] > 100 and hue[1] < 20  # green for 0.95, red for 0.05
    assert "p=0.050" in spans[1][1] and "know" in spans[1][1] and "0.600" in spans[1][1]


def test_token_strip_escapes_tokens_in_text_and_in_the_title():
    tokens = [{"token": '"><script>', "logprob": -1.0,
               "top_logprobs": [{"token": "<b onmouseover=x>", "logprob": -2.0}]}]
    html = render.token_strip_html(tokens)
    assert "<script" not in html and "<b " not in html
    spans = _spans(html)
    assert len(spans) == 1  # the quote did not close the title attribute early
    assert spans[0][2] == "&quot;&gt;&lt;script&gt;" and "&lt;b onmouseover=x&gt;" in spans[0][1]


def test_whitespace_tokens_stay_visible():
    spans = _spans(render.token_strip_html([{"token": "\n", "logprob": 0.0}, {"token": " ", "logprob": 0.0}]))
    assert spans[0][2] == "↵" and spans[1][2] != ""


def test_long_answers_are_capped_with_a_count():
    tokens = [{"token": "x", "logprob": 0.0}] * 30
    html = render.token_strip_html(tokens, limit=10)
    assert len(_spans(html)) == 10 and "20 more tokens" in html


def test_usage_table_flattens_details():
    html = render.usage_table_html({"prompt_tokens": 9, "completion_tokens": 10, "total_tokens": 19,
                                    "prompt_tokens_details": {"cached_tokens": 4}})
    assert "prompt_tokens_details.cached_tokens" in html and ">4<" in html and ">19<" in html


def test_diff_marks_only_what_changed_even_without_spaces():
    html = render.diff_html("我叫张伟，电话13812345678", "我叫张*，电话138****5678")
    deleted = "".join(re.findall(r"<del[^>]*>([^<]*)</del>", html))
    inserted = "".join(re.findall(r"<ins[^>]*>([^<]*)</ins>", html))
    assert "伟" in deleted and "我叫" not in deleted
    assert "*" in inserted and "电话" not in inserted


def test_plain_text_view_of_a_partial_result():
    from types import SimpleNamespace

    partial = SimpleNamespace(text="half an answer", backend="sandbox", model=None, masked=None, request=None)
    text = render.chat_result_text(partial)
    assert text.splitlines()[0] == "[sandbox] · default model · masking off"
    assert "half an answer" in text
