"""compare(): masked vs unmasked against the sandbox over HTTP.

What a user relies on: only the masking switch differs between the two requests; the masked
request's model input holds none of the prompt's sensitive values while the unmasked one holds
them all; the local prediction of the masked prompt matches what the model saw; leaks and the
side-by-side view report what each answer contains, escaped.
"""
from __future__ import annotations

import pytest

from dms_magic.comparison import MASKED, UNMASKED, Comparison, compare, diff_sides, find_leaks, word_tokens
from dms_magic.masking import detect, mask
from dms_magic import InvalidParameterError

PROMPT = "我叫张伟，手机号13812345678，邮箱zhang.wei@example.com，请帮我写一封投诉信。"


def _model_input_text(entry) -> str:
    """All message contents the sandbox's generator was given for one received request."""
    return "\n".join(m["content"] for m in entry["model_input"])


def _received_for(sandbox, comparison: Comparison) -> dict:
    """{variant: received entry} for the two requests of a comparison (matched by request id)."""
    wanted = {comparison.results[v].request_id: v for v in (UNMASKED, MASKED)}
    found = {}
    for entry in sandbox.received:
        if entry["request_id"] in wanted:
            found[wanted[entry["request_id"]]] = entry
    assert set(found) == {UNMASKED, MASKED}, "both variants must have reached the sandbox"
    return found


def _request_values(entry) -> dict:
    return dict(entry["request"].values)


@pytest.fixture(scope="module")
def comparison(client):
    return compare(PROMPT, client=client, max_tokens=120, logprobs=True, top_logprobs=2)


def test_masked_model_input_holds_no_detected_entity_and_unmasked_holds_all(sandbox, comparison):
    values = [PROMPT[d.start:d.end] for d in detect(PROMPT, "UserInfo")]
    assert len(values) >= 2, "the prompt must contain entities the engine detects"
    seen = {v: _model_input_text(e) for v, e in _received_for(sandbox, comparison).items()}
    for value in values:
        assert value in seen[UNMASKED]
        assert value not in seen[MASKED]


def test_local_masked_prompt_is_what_the_model_saw(sandbox, comparison):
    seen = _model_input_text(_received_for(sandbox, comparison)[MASKED])
    assert comparison.masked_prompt == mask(PROMPT, "UserInfo").text
    assert comparison.masked_prompt in seen


def test_only_the_masking_switch_differs_on_the_wire(sandbox, comparison):
    received = _received_for(sandbox, comparison)
    unmasked, masked = (_request_values(received[v]) for v in (UNMASKED, MASKED))
    assert unmasked.pop("need_desensitization") is False
    assert masked.pop("need_desensitization") is True
    assert unmasked == masked
    assert masked["seed"] == comparison.seed
    assert masked["desensitization_rule"] == "UserInfo"


def test_given_seed_and_rule_are_used_for_both(client, sandbox):
    cmp = compare("手机13900001111", client=client, seed=42, desensitization_rule="UserInfo", max_tokens=20)
    received = _received_for(sandbox, cmp)
    assert {_request_values(received[v])["seed"] for v in (UNMASKED, MASKED)} == {42}
    assert cmp.unmasked.masked is False and cmp.masked.masked is True


def test_leaks_report_the_prompts_values_in_each_answer(comparison):
    # The sandbox generator restates what it received: the unmasked answer repeats the values,
    # the masked one cannot (the model never saw them).
    assert "13812345678" in comparison.leaks[UNMASKED]
    assert comparison.leaks[MASKED] == []
    for variant, found in comparison.leaks.items():
        for value in found:
            assert value in comparison.results[variant].text


def test_frame_has_one_row_per_variant(comparison):
    frame = comparison.frame
    assert list(frame["variant"]) == [UNMASKED, MASKED]
    assert {"text", "finish_reason", "prompt_tokens", "completion_tokens", "latency", "leaks"} <= set(frame.columns)
    assert list(frame["text"]) == [comparison.unmasked.text, comparison.masked.text]
    assert (frame["completion_tokens"] > 0).all()
    assert frame.loc[0, "leaks"] == comparison.leaks[UNMASKED]


def test_logprobs_of_both_variants_with_a_variant_column(comparison):
    lp = comparison.logprobs
    assert lp.columns[0] == "variant"
    counts = lp["variant"].value_counts()
    assert counts[UNMASKED] == len(comparison.unmasked.logprobs)
    assert counts[MASKED] == len(comparison.masked.logprobs)
    assert {"token", "logprob"} <= set(lp.columns)


def test_html_is_side_by_side_escaped_and_lists_leaks(client):
    cmp = compare("<script>alert(1)</script> 我的手机号13812345678", client=client, max_tokens=60)
    page = cmp._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert page.count("<td") == 2
    assert "<del" in page and "<ins" in page  # the answers differ where the number was masked
    assert "13812345678" in page  # listed as the unmasked answer's leak


def test_bad_parameter_is_one_clear_error(client):
    with pytest.raises(InvalidParameterError, match="temperature"):
        compare("hi", client=client, temperature=5)


def test_diff_tokenises_cjk_per_character_and_ascii_per_word():
    assert word_tokens("我叫张伟 hello world") == ["我", "叫", "张", "伟", " ", "hello", " ", "world"]
    left, right = diff_sides("我叫张伟，你好", "我叫[NAME]，你好")
    assert "<del" in left and "张伟" in left and "你好" in left
    assert "[NAME]" in right and "<ins" in right


def test_a_reformatted_value_still_counts_as_a_leak():
    values = [("phone", "13812345678"), ("email", "a@b.cn")]
    assert find_leaks("call 138 1234 5678 now", values) == ["13812345678"]
    assert find_leaks("nothing here", values) == []


def test_seed_and_streaming_rows_come_from_the_parameter_table():
    from dms_magic.comparison import pick_seed, variant_params
    from dms_magic.wire.params import BY_NAME, PARAMS

    seed = BY_NAME["seed"]
    assert all(seed.minimum <= pick_seed() <= seed.maximum for _ in range(200))
    sse = {p.name: p.example for p in PARAMS if p.sse_only}
    assert sse  # stream, include_usage
    by_variant = variant_params({"model": "qwen-plus", **sse}, seed=3)
    for params in by_variant.values():
        assert not set(sse) & set(params) and params["seed"] == 3 and params["model"] == "qwen-plus"


def test_configured_streaming_defaults_do_not_reach_a_comparison(client):
    from dms_magic import session

    session.configure(include_usage=True, stream=True)
    try:
        comparison = compare("hi", client=client, max_tokens=20)
    finally:
        session.reset()
    assert all(not {"stream", "include_usage"} & set(p) for p in comparison.params.values())
