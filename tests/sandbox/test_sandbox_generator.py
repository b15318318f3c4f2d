"""The built-in generator's promises, checked through our client over HTTP.

Each test states a property a user of the sandbox relies on: coherent answers made of whole
sentences at any temperature, reproducibility, what each sampling parameter does, the logprobs
being the probabilities the generator sampled from, usage consistent with the text, and masking
happening before the generator sees anything.
"""
from __future__ import annotations

import json
import math

import pytest

from dms_magic.sandbox import scripts
from dms_magic.sandbox.generator import expansions
from dms_magic.wire.tokens import count_tokens, is_cjk_heavy, tokenise

EN = "Please draft a short note to the facilities team about the broken heater on floor 3."
ZH = "请帮我给物业写一封关于三楼暖气坏了的简短通知。"


def repeat_fraction(tokens):
    return 1 - len(set(tokens)) / len(tokens)


def body_sentences(text, chinese):
    """The body of an answer (after the acknowledgement and the copied values) as a list of
    whole sentences the generator's phrase sets can produce; fails on anything else."""
    label = scripts.LABEL_ZH if chinese else scripts.LABEL_EN
    assert text.startswith(label), text
    rest = text[len(label):]
    sets = ((scripts.ACK_HEAD_ZH, scripts.ACK_TAIL_ZH, scripts.DETAILS_ZH, scripts.BODY_ZH) if chinese else
            (scripts.ACK_HEAD_EN, scripts.ACK_TAIL_EN, scripts.DETAILS_EN, scripts.BODY_EN))
    head, tail, details, body = ({e for phrase in phrases for e, _ in expansions(phrase)} for phrases in sets)
    opener = [e for e in head if rest.startswith(e)]
    assert len(opener) == 1, rest
    closer = min((rest.find(e), e) for e in tail if e in rest)  # after the copied instruction clause
    assert closer[0] > len(opener[0]), rest
    rest = rest[closer[0] + len(closer[1]):]
    intro = [e for e in details if rest.startswith(e)]
    if intro:  # the copied values end at the first sentence end
        rest = rest[len(intro[0]):]
        rest = rest[rest.index("。" if chinese else ".") + 1:]
    said = []
    while rest:
        matches = [e for e in body if rest.startswith(e)]
        assert matches, f"not a whole sentence of the phrase set: {rest!r} (after {said})"
        said.append(matches[0])
        rest = rest[len(matches[0]):]
    return said


def test_answer_is_labelled_acknowledges_and_does_not_echo_the_prompt(client):
    for seed in range(5):
        for prompt, chinese in ((EN, False), (ZH, True)):
            result = client.chat(prompt, seed=seed, logprobs=True)
            assert result.backend == "sandbox"
            assert result.finish_reason == "stop"
            label = scripts.LABEL_ZH if chinese else scripts.LABEL_EN
            assert result.text.startswith(label) and ("沙箱" in label if chinese else "sandbox" in label)
            assert prompt not in result.text  # acknowledged, not restated
            assert prompt[:12] in result.text  # its instruction clause is quoted (cut short)
            assert is_cjk_heavy(result.text) == chinese  # the prompt's language
            assert len(body_sentences(result.text, chinese)) >= 1  # it goes on after acknowledging
            # Not flat for half its width (as an echoed prompt at p~1 was): choices are made early.
            probs = [math.exp(t["logprob"]) for t in result.token_logprobs]
            first_half = probs[:len(probs) // 2]
            assert sum(p < 0.9 for p in first_half) >= 3 and min(probs[:12]) < 0.9


def test_answers_are_whole_phrases_at_every_temperature(client):
    for temperature in (0, 0.9, 1.5, 1.9):
        for seed in range(8):
            for prompt, chinese in ((EN, False), (ZH, True)):
                result = client.chat(prompt, seed=seed, temperature=temperature, top_p=1.0)
                assert result.finish_reason == "stop"
                said = body_sentences(result.text, chinese)
                assert len(said) == len(set(said))  # no sentence twice


def test_prompt_values_are_carried_over_as_the_model_saw_them(client, sandbox, received_entry):
    prompt = "我叫张伟，手机号13812345678，身份证110101199003074514，请帮我写一封投诉信。"
    plain = client.chat(prompt, seed=2)
    assert "13812345678" in plain.text and "110101199003074514" in plain.text
    masked = client.chat(prompt, seed=2, need_desensitization=True, desensitization_rule="UserInfo")
    seen = received_entry(sandbox, masked.request_id)["model_input"][0]["content"]
    assert "138****5678" in seen and "138****5678" in masked.text and "13812345678" not in masked.text
    # Masked values are fewer tokens (a run of * is one token, as in Qwen's BPE), so usage differs.
    assert masked.usage_dict["prompt_tokens"] < plain.usage_dict["prompt_tokens"]
    assert masked.usage_dict["prompt_tokens"] == count_tokens(seen)


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
    stop = max(tokenise(full)[len(tokenise(full)) // 2:], key=len).strip()  # a word from its second half
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
    for n in (0, 1, 3, 5):  # as many as asked at every position, copied text included
        result = client.chat(EN, seed=2, logprobs=True, top_logprobs=n) if n else client.chat(EN, seed=2, logprobs=True)
        assert all(len(t["top_logprobs"]) == n for t in result.token_logprobs)
    assert client.chat(EN, seed=2).token_logprobs == []


def test_reported_probabilities_are_the_ones_sampled_from(client):
    # At temperature 1 with TopP 1 and no TopK, sampling uses the reported distribution itself:
    # over many seeds, how often each opener is chosen matches exp(logprob), and every choice
    # made is one of the reported alternatives.
    position = len(tokenise(scripts.LABEL_EN))  # the first token after the label: the opener
    chosen, reported = [], None
    for seed in range(400):
        entry = client.chat(EN, seed=seed, temperature=1.0, top_p=1.0, max_tokens=position + 1, logprobs=True,
                            top_logprobs=5).token_logprobs[position]
        distribution = {a["token"]: math.exp(a["logprob"]) for a in entry["top_logprobs"]}
        assert reported is None or distribution == reported  # the model is fixed, the sampling varies
        reported = distribution
        assert math.exp(entry["logprob"]) == pytest.approx(distribution[entry["token"]])
        chosen.append(entry["token"])
    assert len(reported) >= 3 and sum(reported.values()) == pytest.approx(1)
    for token, p in reported.items():
        assert chosen.count(token) / len(chosen) == pytest.approx(p, abs=0.08), token


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
        assert parsed["request"].rstrip("…") in prompt  # the instruction clause, copied
        chinese = is_cjk_heavy(prompt)
        acknowledgement = "【沙箱，非大模型】好的，关于“x”，下面是一段简短的回复。" if chinese else \
            "[sandbox, not an LLM] Sure. About “x”: here is a short reply."
        assert body_sentences(acknowledgement + parsed["reply"], chinese)  # whole sentences
        assert "sandbox" in parsed["generator"] or "沙箱" in parsed["generator"]


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
    assert "13812345678" in plain.text  # without masking the same value is carried over


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


PHRASE_SETS = {name: getattr(scripts, name) for name in dir(scripts)
               if name.startswith(("ACK_", "DETAILS_", "BODY_"))}
PHRASE_SETS.update({f"REASONING_{lang}[{i}]": phrases for lang in ("EN", "ZH")
                    for i, phrases in enumerate(getattr(scripts, f"REASONING_{lang}"))})


@pytest.mark.parametrize("name", sorted(PHRASE_SETS))
def test_phrase_sets_only_hold_whole_sentences(name):
    """What makes every sampled path a whole, well-tokenised sentence: parts end on token
    boundaries (so the trie's tokens are the answer's tokens), no expansion is a token prefix of
    another (each path ends in exactly one sentence), and no quote or backslash (JSON-mode replies)."""
    import itertools

    expanded = []
    for phrase in PHRASE_SETS[name]:
        slots = [(part,) if isinstance(part, str) else part for part in phrase]
        for combo in itertools.product(*slots):
            text = "".join(combo)
            assert tokenise(text) == [t for part in combo for t in tokenise(part)], combo
            assert '"' not in text and "\\" not in text, text
            expanded.append(tuple(tokenise(text)))
    ordered = sorted(set(expanded))  # a prefix sorts right before the sequences it begins
    for a, b in zip(ordered, ordered[1:]):
        assert b[:len(a)] != a, (a, b)


@pytest.mark.parametrize("prompt", [
    EN, ZH, "我叫张伟，手机号13812345678，邮箱zhangwei@example.com，订单1234，请帮我写一封投诉信。",
    "客户李娜的邮箱是lina@example.com，电话13998765432。", "hello", "What did I say my order number was?",
    'Quote "this" and a back\\slash\nand a newline... wait -- really?', "Please keep this backslash\\"])
def test_answers_tokenise_back_to_their_own_tokens(client, prompt):
    for params in ({"seed": 1}, {"seed": 2, "temperature": 1.5, "response_format": "json_object"},
                   {"seed": 3, "need_desensitization": True, "desensitization_rule": "UserInfo"}):
        result = client.chat(prompt, logprobs=True, **params)
        assert [t["token"] for t in result.token_logprobs] == tokenise(result.text)
        assert result.usage_dict["completion_tokens"] == count_tokens(result.text)
