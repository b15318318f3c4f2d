"""The parameter table: every API parameter once, validated, and round-tripped through the wire."""
import json

import pytest

from dms_magic.params import BY_NAME, PARAMS, ChatRequest, InvalidParameterError, find

# The parameters on the reference page plus the SSE-only Stream and IncludeUsage.
REFERENCE_WIRE_NAMES = {
    "InstanceId", "Messages", "Model", "Stop", "NeedDesensitization", "DesensitizationRule", "MaxTokens",
    "PresencePenalty", "ResponseFormat", "Seed", "EnableThinking", "ThinkingBudget", "Temperature", "TopLogprobs",
    "TopK", "TopP", "XDashScopeDataInspection", "SearchOptions", "ModalitiesList", "AudioJson",
    "EnableCodeInterpreter", "Logprobs", "VlHighResolutionImages", "EnableSearch", "Stream", "IncludeUsage",
}


def test_table_covers_every_reference_parameter_once():
    wires = [p.wire for p in PARAMS]
    assert sorted(wires) == sorted(REFERENCE_WIRE_NAMES)
    assert len(set(p.name for p in PARAMS)) == len(PARAMS)


def test_python_names_are_snake_case_of_wire_names():
    assert BY_NAME["xdash_scope_data_inspection"].wire == "XDashScopeDataInspection"
    assert BY_NAME["top_logprobs"].option == "--top-logprobs"
    for p in PARAMS:
        assert p.name == p.name.lower() and " " not in p.name
        assert p.name.replace("_", "") == p.wire.lower()


def test_find_accepts_option_spellings_and_aliases():
    assert find("--max-tokens").name == "max_tokens"
    assert find("--mask").name == "need_desensitization"
    assert find("--rule").name == "desensitization_rule"
    assert find("-t").name == "temperature"
    assert find("TopP").name == "top_p"
    with pytest.raises(InvalidParameterError, match="temperature"):
        find("temprature")


def full_request():
    return ChatRequest(
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "你好, 手机 13812345678"}],
        instance_id=7, model="qwen-plus", need_desensitization=True, desensitization_rule="UserInfo",
        max_tokens=64, temperature=0.5, top_p=0.9, top_k=20, presence_penalty=-1.5, seed=42,
        stop=["\n", "END"], response_format="json_object", logprobs=True, top_logprobs=5, enable_thinking=True,
        thinking_budget=32, enable_search=True, search_options={"forced_search": "true"},
        enable_code_interpreter=False, xdash_scope_data_inspection={"input": "cip"},
        modalities_list=["text"], audio_json="{}", vl_high_resolution_images=False,
    )


def test_to_wire_puts_messages_in_form_and_everything_else_in_query():
    query, form = full_request().to_wire()
    assert set(form) == {"Messages"}
    assert json.loads(form["Messages"])[1]["content"] == "你好, 手机 13812345678"
    assert "你好" in form["Messages"], "UTF-8 is kept, not \\u-escaped, like the SDK"
    assert query["Stop"] == '["\\n","END"]'
    assert query["SearchOptions"] == '{"forced_search":"true"}'
    assert query["ModalitiesList"] == '["text"]'
    assert query["XDashScopeDataInspection"] == '{"input":"cip"}'
    assert query["NeedDesensitization"] == "true" and query["VlHighResolutionImages"] == "false"
    assert all(isinstance(v, str) for v in query.values())


def test_from_wire_round_trips_and_accepts_python_booleans():
    request = full_request()
    query, form = request.to_wire()
    assert ChatRequest.from_wire(query, form) == request.validate()
    query["NeedDesensitization"] = "True"
    query["Logprobs"] = "True"
    assert ChatRequest.from_wire(query, form).need_desensitization is True


def test_sse_only_parameters_need_streaming():
    with pytest.raises(InvalidParameterError, match="include_usage"):
        ChatRequest("hi", instance_id=1, include_usage=True).validate()
    query, _ = ChatRequest("hi", instance_id=1, include_usage=True, stream=True).to_wire(stream=True)
    assert query["IncludeUsage"] == "true"


@pytest.mark.parametrize("bad, named", [
    (dict(temperature=2), "temperature"),
    (dict(temperature=-0.1), "temperature"),
    (dict(temperature="warm"), "temperature"),
    (dict(top_p=0), "top_p"),
    (dict(top_p=1.01), "top_p"),
    (dict(presence_penalty=2.5), "presence_penalty"),
    (dict(logprobs=True, top_logprobs=6), "top_logprobs"),
    (dict(top_logprobs=2), "top_logprobs"),
    (dict(seed=2**31), "seed"),
    (dict(seed=-1), "seed"),
    (dict(top_k=-1), "top_k"),
    (dict(max_tokens=0), "max_tokens"),
    (dict(thinking_budget=0), "thinking_budget"),
    (dict(response_format="xml"), "response_format"),
    (dict(need_desensitization=True), "desensitization_rule"),
    (dict(search_options="not json"), "search_options"),
    (dict(stop=[1, 2]), "stop"),
    (dict(logprobs="maybe"), "logprobs"),
])
def test_each_violation_names_the_parameter_value_and_range(bad, named):
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest("hi", instance_id=1, **bad).validate()
    assert info.value.param == named
    assert str(info.value).startswith(named)
    assert "expected" in str(info.value)


@pytest.mark.parametrize("messages, named", [
    ([], "messages"),
    ([{"role": "robot", "content": "x"}], "messages[0].role"),
    ([{"role": "user", "content": 5}], "messages[0].content"),
    (["just a string in a list"], "messages[0]"),
])
def test_bad_messages_are_named(messages, named):
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest(messages, instance_id=1).validate()
    assert info.value.param == named


def test_instance_id_is_required():
    with pytest.raises(InvalidParameterError, match="instance_id"):
        ChatRequest("hi").validate()


def test_a_bare_prompt_is_one_user_message():
    assert ChatRequest("hello").messages == [{"role": "user", "content": "hello"}]
    assert repr(ChatRequest("hello", instance_id=1)) == "ChatRequest(1 message, instance_id=1)"


@pytest.mark.parametrize("params, named", [
    ({"messages": "a\ud800b"}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi", "name": "\udc80"}]}, "messages[0].name"),
    ({"model": "qwen\ud800"}, "model"),
    ({"desensitization_rule": "\ud800"}, "desensitization_rule"),
    ({"stop": ["ok", "x\ud800"]}, "stop"),
    ({"search_options": {"k\ud800": "v"}}, "search_options"),
    ({"audio_json": {"voice": "\ud800"}}, "audio_json"),
    ({"xdash_scope_data_inspection": "{\"a\": \"\ud800\"}"}, "xdash_scope_data_inspection"),
])
def test_text_that_cannot_be_utf8_is_an_invalid_parameter_not_an_encode_error(params, named):
    request = ChatRequest(**{"messages": "hi", "instance_id": 1, **params})
    for call in (request.validate, request.to_wire):
        with pytest.raises(InvalidParameterError, match="lone UTF-16 surrogate") as info:
            call()
        assert info.value.param == named
        assert str(info.value).startswith(f"{named}=")
        str(info.value).encode("utf-8")  # the message itself can be printed anywhere


def test_a_float_parameter_too_large_for_a_float_is_invalid_not_an_overflow():
    for value in (10**400, -(10**400), "1e400"):
        with pytest.raises(InvalidParameterError, match=r"temperature=.* expected a number in \[0, 2\)"):
            BY_NAME["temperature"].coerce(value)
    assert BY_NAME["temperature"].coerce(1) == 1


def test_long_values_are_shortened_in_messages():
    from dms_magic.params import shorten

    assert shorten("x" * 10, 10) == "x" * 10 and shorten("x" * 11, 10) == "xxxxxxx..."
    err = InvalidParameterError("model", "m" * 200, "a string")
    assert str(err) == f"model='{'m' * 76}... is invalid: expected a string"


def test_parameter_names_other_modules_list_are_names_in_the_table():
    # The sandbox keeps two lists of its own (what it cannot run; what maps 1:1 onto an OpenAI
    # upstream). A parameter renamed in the table must not silently drop out of them.
    from dms_magic.sandbox.scripts import CLOUD_ONLY
    from dms_magic.sandbox.upstream import _SAME_NAME

    assert set(CLOUD_ONLY) <= set(BY_NAME) and set(_SAME_NAME) <= set(BY_NAME)
