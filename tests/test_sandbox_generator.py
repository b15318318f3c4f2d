"""The built-in generator's promises, checked through our client over HTTP.

Each test states a property a user of the sandbox relies on: reproducibility, what each sampling
parameter does, the logprobs and usage being consistent with the text, and masking happening
before the generator sees anything.
"""
from __future__ import annotations

import json
import math

import pytest

from dms_magic.sandbox.tokens import count_tokens, tokenise

EN = "Please draft a short note to the facilities team about the broken heater on floor 3."
ZH = "请帮我给物业写一封关于三楼暖气坏了的简短通知。"


def repeat_fraction(tokens):
    return 1 - len(set(tokens)) / len(tokens)


def test_answer_says_it_is_the_sandbox_and_restates_the_prompt(client):
    for seed in range(5):  # the restatement survives sampling at the default temperature
        for prompt in (EN, ZH):
            result = client.chat(prompt, seed=seed)
            assert result.backend == "sandbox"
            assert prompt in result.text
            assert "sandbox" in result.text or "沙箱" in result.text
            assert result.finish_reason == "stop"
            assert len(result.text) > len(prompt) + 40  # it goes on after restating


def test_same_seed_same_answer_other_seeds_differ(client):
    first = client.chat(EN, seed=42, temperature=1.2, logprobs=True)
    again = client.chat(EN, seed=42, temperature=1.2, logprobs=True)
    assert first.text == again.text
    assert first.token_logprobs == again.token_logprobs
    others = {client.chat(EN, seed=s, temperature=1.2).text for s in range(6)}
    assert len(others) > 1


def test_temperature_zero_is_greedy(client):
    answers = [client.chat(EN, seed=s, temperature=0, logprobs=True, top_logprobs=5) for s in range(3)]
    assert len({a.text for a in answers}) == 1
    for entry in answers[0].token_logprobs:  # every chosen token is the most likely one
        assert entry["logprob"] == pytest.approx(entry["top_logprobs"][0]["logprob"])


def test_higher_temperature_samples_more_unlikely_tokens(client):
    def mean_logprob(temperature):
        values = [t["logprob"] for s in range(4)
                  for t in client.chat(EN, seed=s, temperature=temperature, top_p=0.99, logprobs=True).token_logprobs]
        return sum(values) / len(values)

    assert mean_logprob(1.9) < mean_logprob(0.3)


def test_top_k_one_and_tiny_top_p_reduce_to_greedy(client):
    greedy = client.chat(EN, temperature=0).text
    for seed in range(3):
        assert client.chat(EN, seed=seed, temperature=1.9, top_k=1).text == greedy
        assert client.chat(EN, seed=seed, temperature=1.9, top_p=0.01).text == greedy


def test_top_k_limits_choices_to_the_k_most_likely(client):
    result = client.chat(EN, seed=3, temperature=1.9, top_p=0.999, top_k=2, logprobs=True, top_logprobs=5)
    for entry in result.token_logprobs:
        ranks = [alt["token"] for alt in entry["top_logprobs"]]
        assert entry["token"] in ranks[:2]


def test_top_p_samples_only_inside_the_nucleus(client):
    # At temperature 1 the sampling distribution is the reported one, so the nucleus is computable:
    # the most likely tokens whose probabilities first add up to top_p.
    checked = 0
    for seed in range(6):
        result = client.chat(EN, seed=seed, temperature=1.0, top_p=0.9, logprobs=True, top_logprobs=5)
        for entry in result.token_logprobs:
            mass, nucleus = 0.0, None
            for rank, alt in enumerate(entry["top_logprobs"]):
                mass += math.exp(alt["logprob"])
                if mass >= 0.9:
                    nucleus = [a["token"] for a in entry["top_logprobs"][:rank + 1]]
                    break
            if nucleus is not None:
                assert entry["token"] in nucleus
                checked += 1
    assert checked > 100


def test_presence_penalty_reduces_repetition(client):
    def repeats(penalty):
        tokens = [t["token"] for t in client.chat(EN, temperature=0, presence_penalty=penalty,
                                                  logprobs=True).token_logprobs]
        return repeat_fraction(tokens)

    assert repeats(2.0) < repeats(0.0) <= repeats(-2.0)


def test_max_tokens_truncates_with_finish_reason_length(client):
    result = client.chat(EN, seed=1, max_tokens=7, logprobs=True)
    assert result.finish_reason == "length"
    assert len(result.token_logprobs) == 7
    assert result.usage_dict["completion_tokens"] == 7
    assert client.chat(EN, seed=1).text.startswith(result.text)


def test_stop_string_ends_the_answer_before_it(client):
    full = client.chat(EN, seed=5).text
    stop = "heater"
    result = client.chat(EN, seed=5, stop=[stop, "never-appears"])
    assert result.finish_reason == "stop"
    assert stop not in result.text
    assert full.startswith(result.text) and len(result.text) < full.index(stop) + 1


def test_logprobs_are_consistent(client):
    result = client.chat(ZH, seed=9, temperature=1.5, logprobs=True, top_logprobs=5)
    tokens = result.token_logprobs
    assert "".join(t["token"] for t in tokens) == result.text
    for entry in tokens:
        assert bytes(entry["bytes"]) == entry["token"].encode("utf-8")
        alternatives = entry["top_logprobs"]
        assert 1 <= len(alternatives) <= 5
        values = [a["logprob"] for a in alternatives]
        assert values == sorted(values, reverse=True)
        assert sum(math.exp(v) for v in values) <= 1 + 1e-9
        assert all(v <= 0 for v in values)
        same = [a for a in alternatives if a["token"] == entry["token"]]
        if same:
            assert same[0]["logprob"] == pytest.approx(entry["logprob"])
        else:  # not among the top 5: then less likely than all of them
            assert entry["logprob"] <= values[-1]


def test_top_logprobs_count_is_respected(client):
    for n in (0, 1, 3):
        result = client.chat(EN, seed=2, logprobs=True, top_logprobs=n) if n else client.chat(EN, seed=2, logprobs=True)
        assert all(len(t["top_logprobs"]) == n for t in result.token_logprobs)
    assert client.chat(EN, seed=2).token_logprobs == []


def test_usage_counts_real_tokens(client, sandbox, received_entry):
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": EN}]
    result = client.chat(messages, seed=4, logprobs=True)
    usage = result.usage_dict
    entry = received_entry(sandbox, result.request_id)
    assert usage["prompt_tokens"] == sum(count_tokens(m["content"]) for m in entry["model_input"])
    assert usage["completion_tokens"] == len(result.token_logprobs) == len(tokenise(result.text))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_thinking_adds_reasoning_bounded_by_budget(client):
    free = client.chat(EN, seed=1, enable_thinking=True, logprobs=True)
    assert free.reasoning and "sandbox" in free.reasoning
    assert free.usage_dict["completion_tokens_details"]["reasoning_tokens"] == len(tokenise(free.reasoning))
    assert free.usage_dict["completion_tokens"] == len(tokenise(free.reasoning)) + len(free.token_logprobs)
    bounded = client.chat(EN, seed=1, enable_thinking=True, thinking_budget=5)
    assert len(tokenise(bounded.reasoning)) == 5
    assert bounded.usage_dict["completion_tokens_details"]["reasoning_tokens"] == 5
    assert not client.chat(EN, seed=1).reasoning


@pytest.mark.parametrize("prompt", [EN, ZH, 'Quote "this" and a back\\slash\nand a newline'])
def test_json_object_is_valid_json(client, prompt):
    for seed in range(4):
        result = client.chat(prompt, seed=seed, temperature=1.5, response_format="json_object")
        parsed = json.loads(result.text)
        assert parsed["received"].startswith(prompt[:5])
        assert isinstance(parsed["reply"], str)


def test_cloud_only_parameters_are_accepted_and_noted(client, sandbox, received_entry):
    result = client.chat(EN, seed=1, enable_search=True, search_options={"forced_search": True},
                         modalities_list=["text", "audio"], enable_code_interpreter=True)
    for wire in ("EnableSearch", "SearchOptions", "ModalitiesList", "EnableCodeInterpreter"):
        assert wire in result.text
    assert received_entry(sandbox, result.request_id)["request"].enable_search is True
    assert "EnableSearch" not in client.chat(EN, seed=1, enable_search=False).text


def test_masking_happens_before_the_generator_sees_anything(client, sandbox, received_entry):
    from dms_magic import masking

    messages = [
        {"role": "system", "content": "客服助手。上一位客户王芳的电话是13912345678。"},
        {"role": "user", "content": "我叫张伟，手机号13812345678，邮箱zhangwei@example.com，请帮我写一封投诉信。"},
    ]
    detected = {span.original for m in messages for span in masking.mask(m["content"], "UserInfo").entities}
    assert {"13812345678", "13912345678"} <= detected
    for seed in range(3):
        result = client.chat(messages, seed=seed, need_desensitization=True, desensitization_rule="UserInfo",
                             temperature=1.5)
        entry = received_entry(sandbox, result.request_id)
        assert entry["masked"] and entry["rule"] == "UserInfo"
        seen = json.dumps(entry["model_input"], ensure_ascii=False)
        assert not [value for value in detected if value in seen]
        assert not [value for value in detected if value in result.text]
    plain = client.chat(messages, seed=0)
    assert "13812345678" in plain.text  # without masking the same value is restated


def test_streamed_deltas_equal_the_plain_answer(client):
    for params in ({"seed": 3}, {"seed": 8, "temperature": 1.4, "logprobs": True, "top_logprobs": 2},
                   {"seed": 1, "enable_thinking": True, "max_tokens": 20}):
        plain = client.chat(ZH, **params)
        stream = client.stream(ZH, include_usage=True, **params)
        chunks = list(stream)
        assert len(chunks) > 5
        result = stream.result
        assert result.text == plain.text
        assert result.finish_reason == plain.finish_reason
        assert (result.reasoning or None) == (plain.reasoning or None)
        assert result.usage_dict == plain.usage_dict
        assert result.token_logprobs == plain.token_logprobs
