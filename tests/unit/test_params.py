"""The parameter table: every API parameter once, validated, and round-tripped through the wire."""
import json

import pytest

from dms_magic import ChatRequest, InvalidParameterError
from dms_magic.wire.params import BY_NAME, PARAMS, find

# The parameters on the reference page plus the SSE-only Stream and IncludeUsage.
REFERENCE_WIRE_NAMES = {
    "InstanceId", "Messages", "Model", "Stop", "NeedDesensitization", "DesensitizationRule", "MaxTokens",
    "PresencePenalty", "ResponseFormat", "Seed", "EnableThinking", "ThinkingBudget", "Temperature", "TopLogprobs",
    "TopK", "TopP", "XDashScopeDataInspection", "SearchOptions", "ModalitiesList", "AudioJson",
    "EnableCodeInterpreter", "Logprobs", "VlHighResolutionImages", "EnableSearch", "Stream", "IncludeUsage",
}


def sdk_wire_names(model) -> set:
    """Every field of an SDK request model, by wire name (each set to a dummy, then to_map)."""
    import inspect

    fields = [n for n in inspect.signature(model.__init__).parameters if n != "self"]
    return set(model(**{n: 1 for n in fields}).to_map())


def test_table_covers_every_reference_and_sdk_parameter_once():
    from alibabacloud_dms_enterprise20181101 import models as sdk

    wires = [p.wire for p in PARAMS]
    assert len(set(wires)) == len(wires) and len(set(p.name for p in PARAMS)) == len(PARAMS)
    assert REFERENCE_WIRE_NAMES <= set(wires)
    # The oracle: the SDK's SSE request has every parameter; those its plain request lacks are SSE-only.
    assert set(wires) == sdk_wire_names(sdk.ChatWithDesensitizeSSERequest)
    plain = sdk_wire_names(sdk.ChatWithDesensitizeRequest)
    assert {p.wire for p in PARAMS if not p.sse_only} == plain
    assert {p.wire for p in PARAMS if p.sse_only} >= {"Tools", "ToolChoice", "Parameters", "Input", "Dimensions"}


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
    ({"audio_json": {"voice": "\ud800"}}, "audio_json.voice"),
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
    from dms_magic.wire.values import shorten

    assert shorten("x" * 10, 10) == "x" * 10 and shorten("x" * 11, 10) == "xxxxxxx..."
    err = InvalidParameterError("model", "m" * 200, "a string")
    assert str(err) == f"model='{'m' * 76}... is invalid: expected a string"


def test_parameter_names_other_modules_list_are_names_in_the_table():
    # The sandbox keeps two lists of its own (what it cannot run; what maps 1:1 onto an OpenAI
    # upstream). A parameter renamed in the table must not silently drop out of them.
    from dms_magic.sandbox.scripts import CLOUD_ONLY
    from dms_magic.sandbox.upstream import _SAME_NAME

    assert set(CLOUD_ONLY) <= set(BY_NAME) and set(_SAME_NAME) <= set(BY_NAME)


# -- messages as the API takes them (roles, tool calls, content parts) ----------------------------
TOOL_CONVERSATION = [
    {"role": "system", "content": "Use the tools."},
    {"role": "user", "content": "Weather in Hangzhou?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "index": 0,
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Hangzhou\"}"}}]},
    {"role": "tool", "content": "{\"temp_c\": 21}", "tool_call_id": "call_1", "name": "get_weather"},
]
IMAGE_MESSAGE = {"role": "user", "content": [
    {"type": "text", "text": "What is in this picture?"},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
    {"type": "input_audio", "input_audio": {"data": "https://example.com/a.wav", "format": "wav"}},
]}


def test_tool_conversations_and_content_parts_pass_unchanged():
    query, form = ChatRequest([*TOOL_CONVERSATION, IMAGE_MESSAGE], instance_id=1).to_wire()
    assert json.loads(form["Messages"]) == [*TOOL_CONVERSATION, IMAGE_MESSAGE]  # nothing narrowed or dropped
    # an assistant tool-call turn may leave content out entirely, as OpenAI's API allows
    no_content = {"role": "assistant", "tool_calls": TOOL_CONVERSATION[2]["tool_calls"]}
    assert ChatRequest([no_content], instance_id=1).validate().messages == [no_content]


@pytest.mark.parametrize("message, named, words", [
    ({"role": "user", "content": None}, "messages[0].content", "a string or a non-empty list of content parts"),
    ({"role": "assistant", "content": None}, "messages[0].content", "or None with tool_calls"),
    ({"role": "user", "content": []}, "messages[0].content", "non-empty list"),
    ({"role": "user", "content": ["hi"]}, "messages[0].content[0]", "content part object"),
    ({"role": "user", "content": [{"type": "text", "text": 3}]}, "messages[0].content[0].text", "a string"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, "messages[0].content[0].image_url",
     "url"),
    ({"role": "user", "content": "x", "tool_calls": []}, "messages[0].tool_calls", "only on an assistant"),
    ({"role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]},
     "messages[0].tool_calls[0].function.name", "the tool's name"),
    ({"role": "assistant", "content": "", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}]},
     "messages[0].tool_calls[0].function.arguments", "a JSON string"),
    ({"role": "tool", "content": "21", "tool_call_id": 7}, "messages[0].tool_call_id", "the id"),
    # values JSON cannot carry: named where they are, instead of a TypeError from the encoder
    ({"role": "user", "content": "x", "meta": {"tags": {"a", "b"}}}, "messages[0].meta.tags", "got a set"),
    ({"role": "user", "content": "x", "blob": b"\x89PNG"}, "messages[0].blob", "not bytes"),
    ({"role": "user", "content": "x", "obj": object()}, "messages[0].obj", "got a object"),
    ({"role": "user", "content": "x", "score": float("nan")}, "messages[0].score", "finite number"),
    ({"role": "user", "content": "x", "score": float("inf")}, "messages[0].score", "finite number"),
    ({"role": "user", "content": "x", "n": 10**5000}, "messages[0].n", "fits in 64 bits"),
    ({"role": "user", "content": [{"type": "text", "text": "x", 1: "y"}]}, "messages[0].content[0][1]",
     "string keys"),
])
def test_message_shape_errors_name_the_index_and_field(message, named, words):
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest([{"role": "user", "content": "first"}, message], instance_id=1).validate()
    assert info.value.param == named.replace("messages[0]", "messages[1]")
    assert words in str(info.value)
    assert str(info.value).startswith(info.value.param + "=")


def test_nesting_is_bounded_instead_of_a_recursion_error():
    deep: object = "x"
    for _ in range(900):
        deep = {"k": deep}
    with pytest.raises(InvalidParameterError, match="levels of nesting"):
        ChatRequest([{"role": "user", "content": "x", "meta": deep}], instance_id=1).validate()
    with pytest.raises(InvalidParameterError):
        ChatRequest("x", instance_id=1, search_options=deep).validate()


def test_search_options_values_travel_as_strings_like_the_sdk_types_them():
    query, _ = ChatRequest("hi", instance_id=1, search_options={
        "forced_search": True, "search_strategy": "pro", "top_n": 3}).to_wire()
    assert json.loads(query["SearchOptions"]) == {"forced_search": "true", "search_strategy": "pro", "top_n": "3"}
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest("hi", instance_id=1, search_options={"nested": {"a": "b"}}).validate()
    assert info.value.param == "search_options.nested"


def test_sse_request_parameters_of_the_sdk_are_table_rows_marked_streaming_only():
    from alibabacloud_dms_enterprise20181101 import models as sdk

    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    request = ChatRequest("hi", instance_id=1, tools=tools, tool_choice="auto", parameters={"a": 1},
                          input="embed me", dimensions=512, stream=True)
    query, _ = request.to_wire(stream=True)
    assert json.loads(query["Tools"]) == tools and query["ToolChoice"] == "auto"
    assert query["Parameters"] == '{"a":1}' and query["Input"] == "embed me" and query["Dimensions"] == "512"
    for name in ("tools", "tool_choice", "parameters", "input", "dimensions"):
        with pytest.raises(InvalidParameterError, match="only with streaming"):
            ChatRequest("hi", instance_id=1, **{name: request.values[name]}).validate()
    # the kinds follow the SDK's types: Tools/ToolChoice/Parameters/Input str, Dimensions int
    fields = sdk.ChatWithDesensitizeSSERequest.__init__.__annotations__
    assert {n: fields[n] for n in ("tools", "tool_choice", "parameters", "input", "dimensions")} == {
        "tools": "str", "tool_choice": "str", "parameters": "str", "input": "str", "dimensions": "int"}
    assert {BY_NAME[n].kind for n in ("tools", "tool_choice", "parameters")} == {"json_text"}
    assert BY_NAME["input"].kind == "str" and BY_NAME["dimensions"].kind == "int"


@pytest.mark.parametrize("params, named, words", [
    (dict(tools="tools"), "tools", "a JSON array of tools"),
    (dict(tools=[{"type": "function", "function": {"description": "no name"}}]), "tools[0]",
     "tool name None is invalid"),
    (dict(tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]), "tools[0]",
     "parameters must be a JSON schema object"),
    (dict(tools=[{"function": {"name": "f"}}]), "tools[0]", "a tool object"),
    (dict(tool_choice="sometimes"), "tool_choice", "one of auto, none, required"),
    (dict(tool_choice={"type": "function"}), "tool_choice", "one of auto, none, required"),
])
def test_tool_parameters_are_checked_for_shape(params, named, words):
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest("hi", instance_id=1, stream=True, **params).validate(stream=True)
    assert info.value.param == named and words in str(info.value)


def test_unknown_parameter_names_read_clearly():
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest("hi", toolz=[])
    assert str(info.value) == ("unknown parameter 'toolz': expected a ChatWithDesensitize parameter name "
                               "(see dms_magic.PARAMS). Did you mean 'tools'?")


def test_top_k_help_says_what_the_sdk_says():
    assert "greater than 100" in BY_NAME["top_k"].help and "unset" in BY_NAME["top_k"].help


# -- numbers and sizes that cannot be sent: refused before any traffic ----------------------------
def test_absurd_integers_are_invalid_parameters_not_digit_limit_errors():
    for value in (10**5000, "9" * 5000, 2**31):
        with pytest.raises(InvalidParameterError) as info:
            ChatRequest("hi", instance_id=1, max_tokens=value).to_wire()
        assert info.value.param == "max_tokens" and "at most 2147483647" in str(info.value) or "integer" in str(
            info.value)
        assert len(str(info.value)) < 300
    assert ChatRequest("hi", instance_id=1, max_tokens=2**31 - 1).to_wire()[0]["MaxTokens"] == "2147483647"


def test_oversized_requests_are_refused_naming_the_parameter():
    from dms_magic.wire.request import MAX_BODY_BYTES, MAX_QUERY_BYTES

    with pytest.raises(InvalidParameterError) as info:
        ChatRequest("hi", instance_id=1, model="m" * (MAX_QUERY_BYTES + 1)).to_wire()
    assert info.value.param == "model" and "query string within 65,536 bytes" in str(info.value)
    # percent-encoding counts: 22,000 CJK characters are 66 KB of UTF-8 but 198 KB in the URL
    with pytest.raises(InvalidParameterError, match="query string"):
        ChatRequest("hi", instance_id=1, model="模" * 22_000).to_wire()
    with pytest.raises(InvalidParameterError) as info:
        ChatRequest("x" * MAX_BODY_BYTES, instance_id=1).to_wire()
    assert info.value.param == "messages" and "send a shorter conversation" in str(info.value)
    # just under the limits goes through
    assert ChatRequest("x" * (MAX_BODY_BYTES - 100), instance_id=1).to_wire()
    assert ChatRequest("hi", instance_id=1, model="m" * (MAX_QUERY_BYTES - 100)).to_wire()
