"""views.diff is the one place the word diff lives, views.styles the shared styles.

What a user relies on: the inline diff (result card) and the side-by-side diff (compare view) mark
exactly the same words, in the same colours, from the same units; everything is escaped; the
latency reads the same in every view.
"""
from __future__ import annotations

import html
import re

from dms_magic.comparison import compare, diff_sides, word_tokens
from dms_magic.views import card, diff, styles

PAIRS = [
    ("我叫张伟，电话13812345678", "我叫张*，电话138****5678"),
    ("same text", "same text"),
    ("", "all new <b>bold</b>"),
    ("gone & <i>away</i>", ""),
    ("a b c d", "a x c y"),
]


def _marked(markup: str, tag: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf"<{tag} [^>]*>(.*?)</{tag}>", markup)]


def _text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_inline_and_side_by_side_diffs_mark_the_same_words():
    for before, after in PAIRS:
        inline = diff.diff_html(before, after)
        left, right = diff_sides(before, after)
        assert _marked(inline, "del") == _marked(left, "del")
        assert _marked(inline, "ins") == _marked(right, "ins")
        assert _text(left) == before and _text(right) == after  # lossless, escaped
        assert "<b>" not in inline + left + right and "<i>" not in inline + left + right
        for markup in (inline, left + right):
            assert all(f'style="{styles.DEL_STYLE}"' in m for m in re.findall(r"<del [^>]*>", markup))
            assert all(f'style="{styles.INS_STYLE}"' in m for m in re.findall(r"<ins [^>]*>", markup))


def test_diff_runs_are_the_one_walk():
    runs = diff.diff_runs("我叫张伟", "我叫[NAME]")
    assert runs[0] == (True, "我叫", "我叫")
    assert (False, "张伟", "[NAME]") in runs
    assert word_tokens("我叫 hi") == diff.diff_units("我叫 hi") == ["我", "叫", " ", "hi"]
    assert not hasattr(diff, "_diff_units")


def test_latency_reads_the_same_everywhere():
    assert card.latency_text(0.8404) == "840 ms"
    assert card.latency_text(12.34) == "12.3 s"
    assert card.latency_text(None) is None


def test_comparison_view_uses_the_shared_styles(client):
    comparison = compare("我叫张伟，手机号13812345678", client=client, max_tokens=30)
    page = comparison._repr_html_()
    assert styles.ANSWER_STYLE in page and styles.MUTED_STYLE in page
    for result in (comparison.masked, comparison.unmasked):
        assert card.latency_text(result.latency) in page


def test_token_strip_reads_an_item_in_another_key_case():
    # ChatResult passes a middle item in another key case on uncopied; the strip must still show it.
    from dms_magic.views.logprobs import token_strip_html

    tokens = [{"token": "a", "logprob": -0.1, "top_logprobs": [{"token": "a", "logprob": -0.1}]},
              {"Token": "b", "Logprob": "-0.2", "TopLogprobs": [{"Token": "b", "Logprob": -0.2}, {"Token": "x"}]},
              {"token": "c", "logprob": -0.1, "top_logprobs": []}]
    html = token_strip_html(tokens)
    assert ">b</summary>" in html and "p=0.819" in html and "?</span> &#x27;x&#x27;" in html
