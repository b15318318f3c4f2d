"""The result card's pieces (dms_magic.views): what a reader of the card relies on."""
from __future__ import annotations

import html as htmllib
import math
import re

from dms_magic.views import card as render_card
from dms_magic.views import diff, logprobs, prediction, styles


class render:  # the views' functions these tests read, by the names a reader of the card knows
    token_strip_html = staticmethod(logprobs.token_strip_html)
    usage_table_html = staticmethod(render_card.usage_table_html)
    diff_html = staticmethod(diff.diff_html)
    chat_result_text = staticmethod(render_card.chat_result_text)
    chat_result_html = staticmethod(render_card.chat_result_html)
    mask_preview_html = staticmethod(prediction.preview_html)
    masking_summary_html = staticmethod(prediction.masking_summary_html)
    masking_summary_text = staticmethod(prediction.masking_summary_text)
    WARN_BG, WARN_FG = styles.WARN_BG, styles.WARN_FG


def _spans(html: str) -> list[tuple[str, str, str]]:
    """(colour, popover text, face) of each token of a strip: the face is the <summary>, the
    alternatives are in the popover that follows it."""
    found = re.findall(r'<summary style="[^"]*background-color:([^;"]+)">([^<]*)</summary>'
                       r'<span class="dms-token-popover"[^>]*>(.*?)</span></details>', html)
    return [(colour, htmllib.unescape(re.sub(r"<[^>]+>", " ", popover)), face) for colour, face, popover in found]


def test_token_strip_colours_by_probability_and_lists_alternatives_in_a_popover():
    tokens = [
        {"token": "sure", "logprob": math.log(0.95), "top_logprobs": [
            {"token": "sure", "logprob": math.log(0.95)}, {"token": "maybe", "logprob": math.log(0.03)}]},
        {"token": "guess", "logprob": math.log(0.05), "top_logprobs": [
            {"token": "know", "logprob": math.log(0.6)}, {"token": "guess", "logprob": math.log(0.05)}]},
    ]
    spans = _spans(render.token_strip_html(tokens))
    assert [s[2] for s in spans] == ["sure", "guess"]
    # Hex colours (JupyterLab's sanitizer keeps hex, drops hsl()): green for 0.95, red for 0.05.
    rgb = [tuple(int(s[0][i:i + 2], 16) for i in (1, 3, 5)) for s in spans]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", s[0]) for s in spans)
    assert rgb[0][1] > rgb[0][0] and rgb[1][0] > rgb[1][1]
    assert "p=0.050" in spans[1][1] and "know" in spans[1][1] and "0.600" in spans[1][1]


def test_token_strip_escapes_tokens_in_text_and_in_the_popover():
    tokens = [{"token": '"><script>', "logprob": -1.0,
               "top_logprobs": [{"token": "<b onmouseover=x>", "logprob": -2.0}]}]
    html = render.token_strip_html(tokens)
    assert "<script" not in html and "<b " not in html
    spans = _spans(html)
    assert len(spans) == 1
    assert spans[0][2] == "&quot;&gt;&lt;script&gt;" and "<b onmouseover=x>" in spans[0][1]


def test_token_alternatives_are_a_styled_popover_not_a_native_tooltip():
    tokens = [{"token": "sure", "logprob": -0.05, "top_logprobs": [{"token": "maybe", "logprob": -3.0}]}]
    html = render.token_strip_html(tokens)
    strip = html.split('<div style="color:var')[0]  # the strip, without its legend
    assert " title=" not in strip  # the browser's own tooltip would cover the popover
    # <details>/<summary> with inline styles: opens on click or Enter, needs no script; the one
    # <style> rule (hover, focus) is an extra the sanitiser may drop
    assert strip.count('<details class="dms-token"') == 1 and "position:absolute" in strip
    assert "<script" not in html and html.count("<style>") == 1
    assert "<style" not in html.replace(logprobs.HOVER_RULE, "")


def test_whitespace_tokens_stay_visible():
    spans = _spans(render.token_strip_html([{"token": "\n", "logprob": 0.0}, {"token": " ", "logprob": 0.0}]))
    assert spans[0][2] == "↵" and spans[1][2] != ""


def test_long_answers_are_capped_with_a_count():
    tokens = [{"token": "x", "logprob": 0.0}] * 30
    html = render.token_strip_html(tokens, limit=10)
    assert len(_spans(html)) == 10 and "20 more tokens" in html


def test_usage_table_flattens_details_and_leaves_out_a_detail_that_is_zero():
    html = render.usage_table_html({"prompt_tokens": 9, "completion_tokens": 10, "total_tokens": 19,
                                    "prompt_tokens_details": {"cached_tokens": 4}})
    assert "prompt_tokens_details.cached_tokens" in html and ">4<" in html and ">19<" in html
    html = render.usage_table_html({"prompt_tokens": 9, "completion_tokens": 10, "total_tokens": 19,
                                    "prompt_tokens_details": {"cached_tokens": 0}})
    assert "cached_tokens" not in html and ">19<" in html


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


def test_past_the_cap_the_strip_still_holds_the_whole_answer():
    tokens = [{"token": f"w{i} ", "logprob": 0.0} for i in range(30)]
    answer = "".join(t["token"] for t in tokens)
    html = render.token_strip_html(tokens, limit=10, text=answer)
    assert len(_spans(html)) == 10 and "w29" in html and "last 20 tokens uncoloured" in html


def test_with_logprobs_the_answer_is_shown_once_and_plain_text_keeps_it():
    from dms_magic.wire.result import ChatResult

    tokens = [{"token": t, "logprob": -0.1} for t in ("Privacy ", "matters", ".")]
    result = ChatResult(text="Privacy matters.", backend="sandbox", logprobs={"content": tokens})
    html = render.chat_result_html(result)
    # Logprobs were asked for: the token strip is the answer, shown once; the Markdown rendering is
    # folded under it (a closed <details>), so the visible text holds the answer once.
    folded = re.search(r'<details class="dms-markdown-view"[^>]*>.*</details>', html, re.S).group(0)
    assert "<details class=\"dms-markdown-view\" open" not in html and 'class="dms-token-strip"' not in folded
    shown = html.replace(folded, "")
    assert 'class="dms-token-strip"' in shown
    tokens_shown = re.findall(r'<summary style="display:inline[^>]*>([^<]*)</summary>', shown)
    assert "".join(tokens_shown) == "Privacy matters."  # each token once, in order (alternatives fold in popovers)
    assert "Privacy matters." in render.chat_result_text(result) and result.text == "Privacy matters."
    # without the strip the answer is one plain block
    assert render.chat_result_html(result, show_logprobs=False).count("Privacy matters.") == 1


def test_every_coloured_background_sets_its_text_colour_in_a_colour_the_sanitizer_keeps():
    """JupyterLab's sanitizer keeps hex/rgb()/names and drops hsl() and var(); a background without
    a text colour shows the theme's (white in Dark) on our light colours."""
    from dms_magic.masking import mask
    from dms_magic.notebook.display import dry_run_html, status_html
    from dms_magic.wire.result import ChatResult

    tokens = [{"token": "a", "logprob": -0.1}, {"token": "\n", "logprob": -3.0}]
    result = ChatResult(text="a\n", backend="sandbox", logprobs={"content": tokens}, finish_reason="length")
    pages = [render.chat_result_html(result), render.mask_preview_html(mask("我叫张伟，手机13812345678")),
             render.chat_result_html(ChatResult(text="# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```",
                                                backend="sandbox", partial=True, stop_reason="stopped")),
             render.diff_html("a b", "a c"),
             dry_run_html(action="A", endpoint="e", query={"k": "v"}, form={}, previews=[mask("张伟")],
                          prompt_tokens=3),
             status_html({"backend": "sandbox", "sources": {}})]
    for page in pages:
        assert "hsl(" not in page
        for style in re.findall(r'style="([^"]*)"', page):
            if "background" in style:
                assert re.search(r"(^|;)background-color:#[0-9a-f]{6}(;|$)", style), style
                assert re.search(r"(^|;)color:#[0-9a-f]{6}(;|$)", style), style
        for cell in re.findall(r"<t[dh] [^>]*>", page):  # JupyterLab right-aligns table cells
            assert "text-align:left" in cell, cell


def test_the_masking_count_warns_when_the_rule_finds_nothing_and_suggests_one():
    messages = [{"role": "user", "content": "我叫张伟，手机号13812345678，身份证110101199003074514"}]
    warned = render.masking_summary_html(messages, "Finance")
    assert "dms-masking-warning" in warned and "nothing masked by rule Finance" in warned
    # how many, counted as masking would (the engine's rule_counts), not "some"
    from dms_magic.masking import rule_counts

    assert rule_counts(messages)["UserInfo"] == 3
    assert "rule UserInfo would mask 3 values (--rule UserInfo)" in warned
    counted = render.masking_summary_text(messages, "UserInfo")
    assert counted.startswith("local prediction: 3 values masked") and "MOBILE_PHONE 1" in counted


def test_the_dry_run_and_the_preview_count_what_the_rule_masks(ip, to_sandbox):
    from IPython.utils.capture import capture_output

    text = "我叫张伟，手机号13812345678"
    with capture_output() as shown:
        ip.run_cell_magic("dmschat", "--dry-run --mask --rule Finance", text)
    html = shown.outputs[0].data["text/html"]
    assert "dms-masking-warning" in html and "nothing masked by rule Finance" in html and "UserInfo" in html
    with capture_output() as shown:
        ip.run_cell_magic("dmschat", "--dry-run --mask --rule UserInfo", text)
    assert "2 values masked" in shown.outputs[0].data["text/html"]
    assert "2 values masked" in shown.outputs[0].data["text/plain"]
    with capture_output() as shown:  # masking off: what it would change, no warning
        ip.run_cell_magic("dmschat", "--dry-run", "no sensitive value here")
    assert "dms-masking-warning" not in shown.outputs[0].data["text/html"]
    with capture_output() as shown:
        ip.run_line_magic("dmschat", "preview --rule Finance " + text)
    assert "dms-masking-warning" in shown.outputs[0].data["text/html"]


def test_a_streamed_card_has_its_final_badges_from_the_first_frame(ip, to_sandbox):
    from IPython.utils.capture import capture_output

    ip.run_line_magic("config", "DmsChatMagics.stream_update_interval = 0")
    try:
        with capture_output() as shown:
            ip.run_cell_magic("dmschat", "--stream --mask --rule UserInfo -o streamed",
                              "我叫张伟，手机号13812345678，请写一段话。")
    finally:
        ip.run_line_magic("config", "DmsChatMagics.stream_update_interval = 0.05")
    cards = [o.data["text/html"] for o in shown.outputs if "dms-chat-result" in o.data.get("text/html", "")]
    assert len(cards) >= 3  # first frame, updates, final card
    badges = [re.search(r'<div class="dms-card-badges">.*?</div>', card).group(0).replace(
        re.search(r"<span[^>]*>streaming…</span>", card).group(0) if "streaming…" in card else "", "")
        for card in cards]
    assert "streaming…" not in cards[-1]  # the last card has ended
    model = ip.user_ns["streamed"].model
    assert model and all(b == badges[-1] for b in badges), badges  # never "default model" then the name
    assert model in badges[0] and "masking on (UserInfo)" in badges[0]
    assert all("2 values masked" in card for card in cards)


def _masking_badge(card: str) -> str:
    return next(span for span in re.findall(r"<span [^>]*>[^<]*</span>", card) if "masking on" in span)


def test_the_masking_badge_is_a_warning_when_the_rule_masks_nothing(ip, to_sandbox):
    from IPython.utils.capture import capture_output

    text = "我叫张伟，手机号13812345678"
    cards = {}
    for rule in ("Finance", "UserInfo"):
        with capture_output() as shown:
            ip.run_cell_magic("dmschat", f"--mask --rule {rule}", text)
        cards[rule] = shown.outputs[-1].data["text/html"]  # the final card (a status line comes first)
    warned, fine = _masking_badge(cards["Finance"]), _masking_badge(cards["UserInfo"])
    # nothing masked: the badge is not the green "all good" one, but the views' warning colours
    assert f"background-color:{render.WARN_BG};color:{render.WARN_FG}" in warned and "#dafbe1" not in warned
    assert "masking on (Finance)" in warned
    assert "#dafbe1" in fine and render.WARN_BG not in fine


def test_the_compare_view_warns_too_when_the_rule_masks_nothing(ip, to_sandbox):
    from IPython.utils.capture import capture_output

    for rule, warns in (("Finance", True), ("UserInfo", False)):
        with capture_output():
            ip.run_cell_magic("dmschat", f"--compare --rule {rule} -o compared", "我叫张伟，手机号13812345678")
        badge = _masking_badge(ip.user_ns["compared"]._repr_html_())
        assert (render.WARN_BG in badge) is warns and ("#dafbe1" in badge) is not warns
