"""Every reply shape the official SDKs and the reference page allow, read by dms_magic and by the SDK.

Each shape is produced by the sandbox (its reply-shape knobs) or, where the sandbox cannot produce
it, by tests/helpers/scripted.py's ScriptedServer; it travels over real HTTP to ``DmsChatClient``. The
very bodies dms_magic received are then parsed by the official SDK's models (``from_map``), and
the test asserts that dms_magic exposes at least what the SDK exposes: text, reasoning, finish
reason, usage, logprobs, tool calls, error code/message/request id. The SDK is the outside truth
here: it types the streamed ``Data`` as a string and the plain reply's as an object.
"""
from __future__ import annotations

import json

import pytest
from alibabacloud_dms_enterprise20181101 import models as sdk

from dms_magic import errors
from dms_magic.sandbox import ReplyShape, start

from helpers.scripted import OK_BODY, ScriptedServer, make_client, sse_body, with_settings

THINKING = dict(seed=3, logprobs=True, top_logprobs=2, enable_thinking=True, max_tokens=12)
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                   "required": ["query", "limit"]}}}]


@pytest.fixture(scope="module")
def shaped():
    """shaped(**knobs) -> a sandbox started with those reply-shape knobs (one per distinct set)."""
    running: dict = {}

    def get(**knobs):
        key = tuple(sorted(knobs.items()))
        if key not in running:
            running[key] = start(seed=7, shape=ReplyShape(**knobs))
        return running[key]

    yield get
    for sb in running.values():
        sb.stop()


def client_of(sb, **kw):
    from dms_magic.client import DmsChatClient

    kw.setdefault("max_retries", 0)  # a model failure must arrive as it is, not after retries
    kw.setdefault("instance_id", 1)
    return DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                         **with_settings(kw))


# -- what the SDK exposes, read from the bodies dms_magic received -----------------------------------
def sdk_plain(body: dict) -> dict:
    """What an SDK user reads from a plain reply (ChatWithDesensitizeResponseBody)."""
    model = sdk.ChatWithDesensitizeResponseBody().from_map(body)
    data = model.data
    choice = data.choices[0] if data and data.choices else None
    return {"text": choice.message.content if choice and choice.message else None,
            "reasoning": choice.message.reasoning_content if choice and choice.message else None,
            "finish_reason": choice.finish_reason if choice else None,
            "usage": data.usage.to_map() if data and data.usage else None,
            "logprobs": (choice.logprobs or {}).get("content") if choice else None,
            "created": data.created if data else None,
            "request_id": model.request_id, "error_code": model.error_code, "error_message": model.error_message,
            "status_code": data.status_code if data else None, "message": data.message if data else None,
            "type": data.type if data else None}


def sdk_events(bodies: list[dict]) -> list[dict]:
    """Each streamed event as an SDK user gets it (ChatWithDesensitizeSSEResponseBody) with its
    Data decoded as that user must: the SDK types it ``str``; an object is taken as it is."""
    out = []
    for body in bodies:
        model = sdk.ChatWithDesensitizeSSEResponseBody().from_map(body)
        data = json.loads(model.data) if isinstance(model.data, str) else model.data
        out.append({"model": model, "data": data})
    return out


def sdk_stream_text(events: list[dict], field: str, so_far: bool) -> str:
    values = [e["data"]["Choices"][0]["Message"].get(field) or "" for e in events if e["data"]["Choices"]]
    values = [v for v in values if v]
    return (values[-1] if values else "") if so_far else "".join(values)


def assert_usage_equal(ours: dict, theirs: dict) -> None:
    assert ours["prompt_tokens"] == int(theirs["PromptTokens"])
    assert ours["completion_tokens"] == int(theirs["CompletionTokens"])
    assert ours["total_tokens"] == int(theirs["TotalTokens"])


# -- successes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("placeholders", [False, True], ids=["plain", "reference-placeholders"])
def test_plain_answer_exposes_what_the_sdk_model_exposes(shaped, placeholders):
    sb = shaped(placeholder_codes=placeholders)
    with client_of(sb) as client:
        result = client.chat("Summarise order 42 for me.", **THINKING)
    theirs = sdk_plain(result.raw)
    if placeholders:  # the reference's success example: placeholders next to Success: true
        assert (theirs["error_code"], theirs["error_message"]) == ("UnknownError", "UnknownError")
    assert result.text == theirs["text"] and result.text
    assert result.reasoning == theirs["reasoning"] and result.reasoning
    assert result.finish_reason == theirs["finish_reason"] == "length"
    assert_usage_equal(result.usage_dict, theirs["usage"])
    assert [t["token"] for t in result.token_logprobs] == [t["token"] for t in theirs["logprobs"]]
    assert [t["logprob"] for t in result.token_logprobs] == [t["logprob"] for t in theirs["logprobs"]]
    assert result.request_id == theirs["request_id"] and result.created == int(theirs["created"])
    assert result.tool_calls == []


@pytest.mark.parametrize("stream_data", ["string", "object"])
@pytest.mark.parametrize("stream_text", ["increments", "text_so_far"])
def test_streams_of_every_shape_assemble_to_the_plain_answer(shaped, stream_data, stream_text):
    # text so far also carries the reference example's placeholder codes on every (successful) event
    sb = shaped(stream_data=stream_data, stream_text=stream_text, placeholder_codes=stream_text == "text_so_far")
    with client_of(sb) as client:
        plain = client.chat("Summarise order 42 for me.", **THINKING)
        # text so far is declared as DashScope does (incremental_output false): chained events alone
        # are ambiguous (StreamState), and an ambiguous stream keeps every event's text
        declared = {"parameters": '{"incremental_output": false}'} if stream_text == "text_so_far" else {}
        stream = client.stream("Summarise order 42 for me.", include_usage=True, **THINKING, **declared)
        deltas = [(chunk.reasoning, chunk.text) for chunk in stream]
        result = stream.result
    bodies = result.raw["events"]
    assert all(isinstance(b["Data"], str if stream_data == "string" else dict) for b in bodies)  # the shape sent
    events = sdk_events(bodies)
    so_far = stream_text == "text_so_far"
    assert all(e["model"].error_code == ("UnknownError" if so_far else None) for e in events)
    # dms_magic's result equals both the plain answer and what the SDK's events amount to
    assert result.text == plain.text == sdk_stream_text(events, "Content", so_far)
    assert result.reasoning == plain.reasoning == sdk_stream_text(events, "ReasoningContent", so_far)
    assert "".join(d[1] for d in deltas) == result.text  # the chunks are increments in either shape
    assert "".join(d[0] for d in deltas) == result.reasoning
    last = events[-1]["data"]
    assert result.finish_reason == last["Choices"][0]["FinishReason"] == plain.finish_reason
    assert_usage_equal(result.usage_dict, last["Usage"])
    assert result.request_id == events[0]["model"].request_id
    assert result.created == int(events[0]["data"]["Created"])
    sdk_tokens = ([t for e in events for t in (e["data"]["Choices"][0]["Logprobs"] or {}).get("content", [])]
                  if not so_far else last["Choices"][0]["Logprobs"]["content"])
    assert [t["token"] for t in result.token_logprobs] == [t["token"] for t in sdk_tokens]
    assert [t["token"] for t in result.token_logprobs] == [t["token"] for t in plain.token_logprobs]


@pytest.mark.parametrize("stream_text", ["increments", "text_so_far"])
def test_a_streamed_tool_call_is_merged_by_index(shaped, stream_text):
    sb = shaped(stream_text=stream_text)
    conversation = [{"role": "user", "content": 'lookup_order query="order 42 for 13812345678" limit=1'}]
    with client_of(sb) as client:
        stream = client.stream(conversation, tools=TOOLS, need_desensitization=True, desensitization_rule="UserInfo")
        chunks = list(stream)
        result = stream.result
    events = sdk_events(result.raw["events"])
    fragments = [e["data"]["Choices"][0]["Message"].get("ToolCalls") for e in events]
    assert sum(1 for f in fragments if f) >= 3  # the arguments really came in pieces
    assert result.finish_reason == events[-1]["data"]["Choices"][0]["FinishReason"] == "tool_calls"
    [call] = result.tool_calls
    assert call.name == "lookup_order" and call.type == "function" and call.id.startswith("call_")
    # what an SDK user would rebuild from the Data strings: the last text so far, or the joined pieces
    pieces = [f[0]["Function"]["Arguments"] for f in fragments if f]
    expected = pieces[-1] if stream_text == "text_so_far" else "".join(pieces)
    assert call.arguments_json == expected and json.loads(expected) == call.arguments
    assert call.arguments["limit"] == 1 and call.arguments["query"].startswith("order 42 for ")
    assert "13812345678" not in call.arguments["query"]  # masked first: the arguments come from what the model saw
    assert call.to_dict() == {"id": call.id, "type": "function",
                              "function": {"name": "lookup_order", "arguments": call.arguments_json}}
    assert all(c.text == "" for c in chunks) and result.text == ""
    # the tool's answer goes back; the sandbox then answers in text
    follow_up = [*conversation, {"role": "assistant", "content": None, "tool_calls": [call.to_dict()]},
                 {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": call.id}]
    with client_of(sb) as client:
        answer = client.stream(follow_up, tools=TOOLS).result
    assert answer.finish_reason == "stop" and answer.tool_calls == []
    assert 'The tool lookup_order returned: {"status": "shipped"}' in answer.text  # its answer uses the result


def test_a_plain_answer_with_tool_calls_exposes_them_where_the_sdk_model_drops_them():
    body = {"RequestId": "T-1", "Success": True, "Data": {
        "Created": "1763710100", "Model": "qwen-plus",
        "Choices": [{"FinishReason": "tool_calls", "Message": {
            "Role": "assistant", "Content": "",
            "ToolCalls": [{"Id": "call_a", "Type": "function", "Index": 0,
                           "Function": {"Name": "get_weather", "Arguments": "{\"city\": \"杭州\"}"}},
                          {"id": "call_b", "type": "function",  # another key case: read all the same
                           "function": {"name": "get_time", "arguments": "not json"}}]}}]}}
    server = ScriptedServer([(200, body)])
    try:
        with make_client(server.url) as client:
            result = client.chat("weather?")
    finally:
        server.close()
    theirs = sdk.ChatWithDesensitizeResponseBody().from_map(result.raw).data.choices[0]
    assert theirs.finish_reason == result.finish_reason == "tool_calls"
    assert not hasattr(theirs.message, "tool_calls")  # the SDK's model has no field for them
    a, b = result.tool_calls
    assert (a.id, a.name, a.arguments, a.index) == ("call_a", "get_weather", {"city": "杭州"}, 0)
    assert (b.id, b.name, b.arguments, b.arguments_json, b.index) == ("call_b", "get_time", None, "not json", 1)


def test_a_plain_reply_whose_data_is_a_json_string_is_read():
    body = {**OK_BODY, "Data": json.dumps(OK_BODY["Data"], ensure_ascii=False)}
    server = ScriptedServer([(200, body)])
    try:
        with make_client(server.url) as client:
            result = client.chat("hi")
    finally:
        server.close()
    assert (result.text, result.finish_reason, result.created, result.usage_dict["total_tokens"]) == (
        "你好", "stop", 1763710100, 11)
    with pytest.raises(AttributeError):  # the SDK's plain model cannot read Data as a string
        sdk.ChatWithDesensitizeResponseBody().from_map(body)


# -- failures -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status, cls, code", [
    (400, errors.ParameterError, "InvalidParameter"),
    (429, errors.ThrottlingError, "Throttling"),
    # a model 5xx inside a 200: the model ran and may have billed; not resent (issue 20 item 1)
    (500, errors.OutcomeUnknownError, "OutcomeUnknown"),
])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "sse"])
def test_a_model_failure_under_a_placeholder_code_is_the_error_raised(shaped, status, cls, code, streamed):
    sb = shaped(model_failure=status)
    with client_of(sb) as client, pytest.raises(errors.DmsError) as info:
        if streamed:
            list(client.stream("hi"))
        else:
            client.chat("hi")
    err = info.value
    body = err.raw
    if streamed:  # the SDK's view of the event: Data a string, the placeholders at the top
        model = sdk.ChatWithDesensitizeSSEResponseBody().from_map(body)
        data = json.loads(model.data)
        theirs = {"status_code": data["StatusCode"], "message": data["Message"], "type": data["Type"],
                  "request_id": model.request_id, "error_code": model.error_code}
    else:
        theirs = sdk_plain(body)
    assert theirs["error_code"] == "UnknownError"  # all the SDK's top level says
    assert type(err) is cls and err.code == code
    assert theirs["message"] in err.message and err.model_status == int(theirs["status_code"]) == status
    assert err.error_type == theirs["type"] and err.request_id == theirs["request_id"]
    assert err.http_status == 200  # what was received; the model's status has its own attribute
    assert "UnknownError" not in str(err)
    if streamed:
        assert "dms:ChatWithDesensitizeSSE" in errors.hint_for("Forbidden.RAM", err.action)


def test_business_errors_on_both_actions_keep_the_sdk_fields(shaped):
    sb = shaped()
    with client_of(sb, instance_id=99) as client:
        for call in (lambda: client.chat("hi"), lambda: list(client.stream("hi"))):
            with pytest.raises(errors.DmsError) as info:
                call()
            theirs = sdk.ChatWithDesensitizeSSEResponseBody().from_map(info.value.raw)
            assert theirs.success is False
            assert (info.value.code, info.value.message, info.value.request_id) == (
                theirs.error_code, theirs.error_message, theirs.request_id)


@pytest.mark.parametrize("entry, code, request_id", [
    ((200, {"RequestId": "E-1", "ErrorCode": "InstanceNotExist", "ErrorMessage": "no instance 1"}),
     "InstanceNotExist", "E-1"),  # an error code and no Success at all
    ((400, {"Code": "InvalidParameter", "Message": "bad"}, {"x-acs-request-id": "HDR-7"}),
     "InvalidParameter", "HDR-7"),  # no RequestId in the body: the header's
    ((400, b"<?xml version='1.0'?><Error><RequestId>X-9</RequestId><Code>InvalidParameter</Code>"
           b"<Message>bad value</Message></Error>", {"Content-Type": "text/xml"}),
     "InvalidParameter", "X-9"),  # a gateway answering in XML
], ids=["errorcode-without-success", "request-id-header", "xml-body"])
def test_error_shapes_the_sandbox_does_not_send(entry, code, request_id):
    server = ScriptedServer([entry])
    try:
        with make_client(server.url, max_retries=0) as client, pytest.raises(errors.DmsError) as info:
            client.chat("hi")
    finally:
        server.close()
    assert (info.value.code, info.value.request_id, info.value.http_status) == (code, request_id, entry[0])
    if isinstance(entry[1], dict) and "ErrorCode" in entry[1]:
        theirs = sdk.ChatWithDesensitizeResponseBody().from_map(entry[1])
        assert (theirs.error_code, theirs.error_message, theirs.success) == (code, info.value.message, None)


def test_a_streamed_result_has_created_and_the_header_request_id_when_events_lack_one():
    events = [{"Success": True, "Data": json.dumps({"Created": "1763710100", "Choices": [
        {"Message": {"Content": text}, "FinishReason": finish}]})} for text, finish in (("He", None),
                                                                                        ("llo", "stop"))]
    body = sse_body(*("data: " + json.dumps(e) + "\n\n" for e in events))
    server = ScriptedServer([(*body[:2], {**body[2], "x-acs-request-id": "HDR-S"})])
    try:
        with make_client(server.url) as client:
            result = client.stream("hi").result
    finally:
        server.close()
    assert (result.text, result.created, result.request_id, result.finish_reason) == (
        "Hello", 1763710100, "HDR-S", "stop")


def test_bad_reply_shape_knobs_are_refused_at_start_and_on_the_command_line(capsys):
    from dms_magic.sandbox.__main__ import main

    for knobs in (dict(stream_data="xml"), dict(stream_text="deltas"), dict(model_failure=200),
                  dict(model_failure=True)):
        with pytest.raises(ValueError, match=f"{next(iter(knobs))}=.* is invalid: expected"):
            ReplyShape(**knobs)
    assert main(["--port", "0", "--stream-data", "xml"]) == 2
    assert "--stream-data 'xml' is invalid: expected one of string, object" in capsys.readouterr().err
