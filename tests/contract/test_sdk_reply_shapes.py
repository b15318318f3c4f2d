"""Black-box: every reply shape the official SDK models and the API reference document, read by
dms_magic at least as well as by the SDK (issue 13).

Written from outside the implementation: the truth here is the reference page
(``ChatWithDesensitize-reference.txt``), the official SDK's models
(``alibabacloud_dms_enterprise20181101`` 3.0.0: ``ChatWithDesensitizeResponseBody`` types ``Data`` as
an object, ``ChatWithDesensitizeSSEResponseBody`` as a *string*) and the public names in README.md /
docs/architecture.md. Each reply body is built by hand and served by a small HTTP server on
127.0.0.1 owned by this module (``ReplyServer``), never by the project's sandbox. The same body is
also parsed with the SDK's model (``Model().from_map(body)``) -- or, for errors and the wire, the
official SDK client is pointed at the same server -- and dms_magic must expose at least what the SDK
exposes: text, reasoning, finish reason, usage, logprobs, tool calls, error code/message/request id,
and ``.http_status`` = the HTTP status received, with the right exception class.

The retry side of issue 13 is checked from the server's side: how many requests arrive, and when.
"""
from __future__ import annotations

import copy
import json
import re

import pytest
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from darabonba.runtime import RuntimeOptions

import dms_magic
from dms_magic import errors

pytestmark = pytest.mark.blackbox  # written without reading dms_magic/

from helpers.sdk_replies import (  # noqa: F401  (the builders and the SDK's view)
    SIGNING_KEYS, request_params,
    AK, SK, RID, HEADER_RID, Reply, Stream,
    Hold, HeadersThenStall, Drop, Arrival, ReplyServer, our_client,
    sdk_client, lp, LOGPROBS, USAGE, data_obj, ok_body,
    REFERENCE_EXAMPLE, MODEL_FAILURE_MESSAGE, model_failure_data, model_failure_body, gateway_body, SdkView,
    sdk_data, view_of_data, sdk_view_plain, sdk_view_stream, assert_exposes_at_least)


@pytest.fixture
def server():
    srv = ReplyServer()
    yield srv
    srv.close()

# --------------------------------------------------------------------------------------------
# Plain replies (ChatWithDesensitize)
# --------------------------------------------------------------------------------------------

PLAIN_SUCCESSES = {
    "data-object-full": ok_body(),
    "data-json-string": ok_body(data_as_string=True),
    "finish-length": ok_body(data_obj("你好", finish="length", reasoning=None, logprobs=LOGPROBS[:1])),
    "usage-as-numbers": ok_body(data_obj(usage={"CompletionTokens": 10, "PromptTokens": 9, "TotalTokens": 19})),
    "no-logprobs-no-reasoning": ok_body(data_obj(reasoning=None, logprobs=None)),
    "placeholder-codes-on-success": ok_body(ErrorCode="UnknownError", ErrorMessage="UnknownError"),
}


@pytest.mark.parametrize("shape", list(PLAIN_SUCCESSES))
def test_plain_success_exposes_what_the_sdk_exposes(server, shape):
    body = PLAIN_SUCCESSES[shape]
    server.set(Reply(body=body))
    with our_client(server) as client:
        result = client.chat("你好")
    assert_exposes_at_least(result, sdk_view_plain(body))
    assert result.role == sdk_view_plain(body).role
    assert len(server.arrivals) == 1


def test_the_reference_example_is_a_success_with_its_text(server):
    """The reference's own success example carries ErrorCode/ErrorMessage "UnknownError", a Data
    StatusCode "200" and a stray Data.Message/Type: StatusCode 200 says the model answered."""
    server.set(Reply(body=REFERENCE_EXAMPLE))
    sdk = sdk_models.ChatWithDesensitizeResponseBody().from_map(copy.deepcopy(REFERENCE_EXAMPLE))
    with our_client(server) as client:
        result = client.chat("你好")
    choice = sdk.data.choices[0]
    assert result.text == choice.message.content == "你好呀!"
    assert result.reasoning == choice.message.reasoning_content
    assert result.role == choice.message.role
    assert result.finish_reason == choice.finish_reason == "stop"
    assert result.request_id == sdk.request_id
    assert result.created == int(sdk.data.created)
    assert result.usage_dict["prompt_tokens"] == int(sdk.data.usage.prompt_tokens) == 9
    assert result.usage_dict["completion_tokens"] == 10 and result.usage_dict["total_tokens"] == 19
    # Logprobs {"key": "{}"} is not DashScope's shape: no token rows, no crash, kept in .raw
    assert len(result.logprobs) == 0
    raw_data = result.raw["Data"] if isinstance(result.raw.get("Data"), dict) else json.loads(result.raw["Data"])
    assert raw_data["Choices"][0]["Logprobs"] == choice.logprobs == {"key": "{}"}
    # the SDK exposes the (non-numeric) detail maps as they are: so must we
    assert set(result.usage_dict.get("prompt_tokens_details") or {}) >= set(sdk.data.usage.prompt_tokens_details)


@pytest.mark.parametrize("tool_key, call", [
    ("ToolCalls", {"Index": 0, "Id": "call_abc", "Type": "function",
                   "Function": {"Name": "get_weather", "Arguments": "{\"city\": \"杭州\", \"days\": 2}"}}),
    ("tool_calls", {"index": 0, "id": "call_abc", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\": \"杭州\", \"days\": 2}"}}),
], ids=["dms-key-case", "dashscope-key-case"])
def test_plain_tool_call_reply(server, tool_key, call):
    body = ok_body(data_obj("", reasoning=None, logprobs=None, finish="tool_calls", tool_calls=[call],
                            tool_key=tool_key))
    server.set(Reply(body=body))
    sdk = sdk_view_plain(body)
    with our_client(server) as client:
        result = client.chat("杭州天气")
    assert result.finish_reason == sdk.finish_reason == "tool_calls"
    assert result.text == ""
    # The SDK's Message model has no tool calls at all (they survive only in its raw map): dms_magic
    # must expose them, parsed.
    assert len(result.tool_calls) == 1
    tc = result.tool_calls[0]
    assert tc.id == "call_abc" and tc.name == "get_weather" and tc.type == "function"
    assert tc.arguments == {"city": "杭州", "days": 2}
    assert json.loads(tc.arguments_json) == {"city": "杭州", "days": 2}
    sent_back = tc.to_dict()
    assert sent_back["id"] == "call_abc" and sent_back["type"] == "function"
    assert sent_back["function"]["name"] == "get_weather"
    assert json.loads(sent_back["function"]["arguments"]) == {"city": "杭州", "days": 2}


def test_plain_request_id_falls_back_to_the_header(server):
    body = ok_body(request_id=None)
    server.set(Reply(body=body, headers={"x-acs-request-id": HEADER_RID}))
    with our_client(server) as client:
        result = client.chat("你好")
    assert_exposes_at_least(result, sdk_view_plain(body), request_id=HEADER_RID)


# --------------------------------------------------------------------------------------------
# Streams (ChatWithDesensitizeSSE)
# --------------------------------------------------------------------------------------------

REASONING_PIECES = ["嗯，", "用户在打招呼。"]
CONTENT_PIECES = ["你好", "呀", "!"]


def stream_events(*, data_as_string=True, text_so_far=False, null_finish="none", request_id=RID,
                  with_logprobs=True) -> list:
    """A thinking model's stream: two reasoning events, three content events (the last with
    FinishReason and Usage), each either the new piece or everything so far."""
    events = []
    pieces = [("reasoning", p, None) for p in REASONING_PIECES] + \
             [("content", p, lp_item) for p, lp_item in zip(CONTENT_PIECES, LOGPROBS)]
    text = think = ""
    lps: list = []
    for i, (kind, piece, item) in enumerate(pieces):
        last = i == len(pieces) - 1
        if kind == "reasoning":
            think += piece
        else:
            text += piece
            lps.append(item)
        if text_so_far:
            content, reasoning, event_lps = text, think, list(lps)
        else:
            content = piece if kind == "content" else ""
            reasoning = piece if kind == "reasoning" else ""
            event_lps = [item] if item else []
        data = {"Created": "1763710100", "Model": "qwen-plus", "Choices": [{
            "FinishReason": "stop" if last else (None if null_finish == "none" else "null"),
            "Message": {"Role": "assistant", "Content": content, "ReasoningContent": reasoning},
            "Logprobs": {"content": event_lps} if (with_logprobs and event_lps) else None}]}
        if last:
            data["Usage"] = USAGE
        event = {"Success": True, "Data": json.dumps(data, ensure_ascii=False) if data_as_string else data}
        if request_id:
            event["RequestId"] = request_id
        events.append(event)
    return events


def read_stream(client, prompt="你好", **params):
    with client.stream(prompt, **params) as s:
        chunks = list(s)
        result = s.result
    return chunks, result


STREAM_SHAPES = {
    "data-string-increments": dict(data_as_string=True, text_so_far=False),
    "data-object-increments": dict(data_as_string=False, text_so_far=False),
    "data-string-text-so-far": dict(data_as_string=True, text_so_far=True),
    "data-object-text-so-far": dict(data_as_string=False, text_so_far=True),
    "data-string-increments-finish-null-text": dict(data_as_string=True, text_so_far=False, null_finish="text"),
}


@pytest.mark.parametrize("shape", list(STREAM_SHAPES))
def test_stream_exposes_what_the_sdk_exposes(server, shape):
    events = stream_events(**STREAM_SHAPES[shape])
    server.set(Stream(events))
    sdk = sdk_view_stream(events, text_so_far=STREAM_SHAPES[shape]["text_so_far"])
    assert sdk.text == "你好呀!" and sdk.reasoning == "嗯，用户在打招呼。"  # the oracle reads it right
    # A text-so-far stream is asked for as DashScope's users ask: Parameters incremental_output false
    # (undeclared, chained events are ambiguous until evidence arrives; see the next test).
    so_far = STREAM_SHAPES[shape]["text_so_far"]
    declared = {"parameters": '{"incremental_output": false}'} if so_far else {}
    with our_client(server) as client:
        chunks, result = read_stream(client, **declared)
    assert_exposes_at_least(result, sdk)
    assert result.role == sdk.role
    # What a user prints as it streams: each chunk's new text, never the text again.
    assert "".join(c.text or "" for c in chunks) == sdk.text
    assert "".join(c.reasoning or "" for c in chunks) == sdk.reasoning
    assert server.arrivals[0].action == "ChatWithDesensitizeSSE"


def test_an_undeclared_text_so_far_stream_is_read_right_once_its_logprobs_show_it(server):
    events = stream_events(text_so_far=True)
    server.set(Stream(events))
    with our_client(server) as client:
        chunks, result = read_stream(client)
    assert_exposes_at_least(result, sdk_view_stream(events, text_so_far=True))
    assert result.stream_text == "text_so_far"


STREAM_FRAMINGS = {
    "crlf-lines": dict(newline="\r\n"),
    "cut-into-5-byte-pieces": dict(piece=5),
    "comments-and-retry-fields": dict(comments=True),
}


@pytest.mark.parametrize("framing", list(STREAM_FRAMINGS))
def test_stream_framing_allowed_by_the_sse_spec(server, framing):
    """CRLF line ends, bodies cut mid-line and mid-character, comment and retry lines: all SSE."""
    events = stream_events()
    server.set(Stream(events, **STREAM_FRAMINGS[framing]))
    with our_client(server) as client:
        chunks, result = read_stream(client)
    assert_exposes_at_least(result, sdk_view_stream(events, text_so_far=False))


def test_stream_with_a_usage_only_last_event(server):
    """OpenAI/DashScope's include_usage shape: the finish reason on one event, then an event with
    empty Choices and the Usage."""
    events = stream_events(with_logprobs=False)
    last = json.loads(events[-1]["Data"])
    usage = last.pop("Usage")
    events[-1]["Data"] = json.dumps(last, ensure_ascii=False)
    events.append({"RequestId": RID, "Success": True, "Data": json.dumps(
        {"Created": "1763710100", "Model": "qwen-plus", "Choices": [], "Usage": usage})})
    server.set(Stream(events))
    sdk = sdk_view_stream(events, text_so_far=False)
    assert sdk.usage["total_tokens"] == "19"
    with our_client(server) as client:
        chunks, result = read_stream(client)
    assert_exposes_at_least(result, sdk)


def test_a_model_failure_after_some_text_raises(server):
    """A failure reported inside Data mid-stream is an error, not a short answer."""
    events = stream_events()[:3]  # reasoning, reasoning, first content piece; no finish reason yet
    events.append(model_failure_body(data_as_string=True, status="500", message="Model output interrupted",
                                     type_="internal_error"))
    server.set(Stream(events))
    err = raised_by_stream(server)
    assert "Model output interrupted" in err.message and err.code != "UnknownError"
    assert str(err.model_status) == "500" and err.http_status == 200
    assert len(server.arrivals) == 1


def test_a_json_business_error_answering_a_stream_call(server):
    """The service may answer the SSE action with a plain JSON body (no event stream) when it refuses."""
    body = {"RequestId": RID, "Success": False, "ErrorCode": "InvalidParameter",
            "ErrorMessage": "The Tools is invalid."}
    server.set(Reply(body=body))
    err = raised_by_stream(server)
    assert isinstance(err, errors.ParameterError), type(err)
    assert (err.code, err.message, err.request_id, err.http_status) == \
           ("InvalidParameter", "The Tools is invalid.", RID, 200)


def test_a_stream_that_stalls_after_its_first_events_is_not_retried(server):
    server.set(Stream(stream_events(), stall_after=3, stall_seconds=3.0))
    with our_client(server, timeout=1, retry_unknown_outcome=True) as client:
        with pytest.raises(errors.DmsError) as info:
            read_stream(client)
    assert len(server.arrivals) == 1  # never retried once an event has arrived, even when opted in
    assert isinstance(info.value, outcome_unknown_class()), type(info.value)
    # the model ran (events came): the error says so, and keeps what arrived
    assert re.search(r"processed|incomplete", str(info.value)), str(info.value)
    assert info.value.partial_text == "你好"
    assert info.value.request_id == RID


def test_error_code_without_success_in_a_stream_event(server):
    event = {"RequestId": RID, "ErrorCode": "InvalidParameter", "ErrorMessage": "The TopK is invalid."}
    server.set(Stream([event]))
    err = raised_by_stream(server)
    assert isinstance(err, errors.ParameterError), type(err)
    assert (err.code, err.message, err.request_id) == ("InvalidParameter", "The TopK is invalid.", RID)


def test_stream_of_repeated_increments_is_not_mistaken_for_text_so_far(server):
    """'ha' three times as increments is 'hahaha': equal pieces do not make a text-so-far stream."""
    events = []
    for i, piece in enumerate(["ha", "ha", "ha"]):
        data = {"Created": "1763710100", "Model": "qwen-plus", "Choices": [{
            "FinishReason": "stop" if i == 2 else None,
            "Message": {"Role": "assistant", "Content": piece}}]}
        events.append({"RequestId": RID, "Success": True, "Data": json.dumps(data)})
    server.set(Stream(events))
    with our_client(server) as client:
        chunks, result = read_stream(client)
    assert result.text == sdk_view_stream(events, text_so_far=False).text == "hahaha"


def test_stream_request_id_falls_back_to_the_header(server):
    events = stream_events(request_id=None)
    server.set(Stream(events, headers={"x-acs-request-id": HEADER_RID}))
    with our_client(server) as client:
        _, result = read_stream(client)
    assert_exposes_at_least(result, sdk_view_stream(events, text_so_far=False), request_id=HEADER_RID)


def tool_call_stream(key_case: str, *, data_as_string=True) -> list:
    """OpenAI-style tool-call fragments: id/name first, argument pieces after, FinishReason tool_calls."""
    def call(index, id_=None, name=None, args=""):
        if key_case == "dms":
            c = {"Index": index, "Function": {"Arguments": args}}
            if id_:
                c.update(Id=id_, Type="function")
                c["Function"]["Name"] = name
            return c
        c = {"index": index, "function": {"arguments": args}}
        if id_:
            c.update(id=id_, type="function")
            c["function"]["name"] = name
        return c

    key = "ToolCalls" if key_case == "dms" else "tool_calls"
    steps = [call(0, "call_abc", "get_weather"), call(0, args="{\"city\": "), call(0, args="\"杭州\"}")]
    events = []
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        data = {"Created": "1763710100", "Model": "qwen-plus", "Choices": [{
            "FinishReason": "tool_calls" if last else None,
            "Message": {"Role": "assistant", "Content": "", key: [step]}}]}
        if last:
            data["Usage"] = {"PromptTokens": "30", "CompletionTokens": "12", "TotalTokens": "42"}
        events.append({"RequestId": RID, "Success": True,
                       "Data": json.dumps(data, ensure_ascii=False) if data_as_string else data})
    return events


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


@pytest.mark.parametrize("key_case", ["dms", "dashscope"])
def test_streamed_tool_call_is_merged_from_its_fragments(server, key_case):
    events = tool_call_stream(key_case)
    server.set(Stream(events))
    with our_client(server) as client:
        _, result = read_stream(client, "杭州天气", tools=TOOLS, tool_choice="auto")
    assert result.finish_reason == "tool_calls"
    assert result.text == ""
    assert [(tc.id, tc.name) for tc in result.tool_calls] == [("call_abc", "get_weather")]
    assert result.tool_calls[0].arguments == {"city": "杭州"}
    assert result.usage_dict["total_tokens"] == 42


# --------------------------------------------------------------------------------------------
# Failures: business errors, the model failure inside Data, gateway errors, XML bodies
# --------------------------------------------------------------------------------------------

def raised_by_chat(srv, **client_kw):
    with our_client(srv, **client_kw) as client:
        with pytest.raises(errors.DmsError) as info:
            client.chat("你好")
    return info.value


def raised_by_stream(srv, **client_kw):
    with our_client(srv, **client_kw) as client:
        with pytest.raises(errors.DmsError) as info:
            read_stream(client)
    return info.value


def sdk_plain_call(srv):
    """The official SDK client's outcome for the same reply: its response body, or its exception."""
    request = sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=[{"role": "user", "content": "你好"}])
    try:
        return sdk_client(srv).chat_with_desensitize_with_options(request, RuntimeOptions()).body
    except Exception as exc:  # the SDK's ClientException/ServerException/ThrottlingException
        return exc


BUSINESS_ERRORS = [
    ("NoPermission", "You have no permission to ChatWithDesensitize on instance 1.", "PermissionError_"),
    ("InvalidParameter", "The Messages is invalid.", "ParameterError"),
    ("InstanceNotExist", "The instance does not exist.", "DmsError"),
]


@pytest.mark.parametrize("code, message, cls", BUSINESS_ERRORS, ids=[c for c, _, _ in BUSINESS_ERRORS])
def test_business_error_success_false(server, code, message, cls):
    body = {"RequestId": RID, "Success": False, "ErrorCode": code, "ErrorMessage": message}
    server.set(Reply(body=body))
    err = raised_by_chat(server)
    sdk = sdk_plain_call(server)
    assert isinstance(sdk, sdk_models.ChatWithDesensitizeResponseBody) and sdk.success is False
    assert isinstance(err, getattr(errors, cls))
    assert err.code == sdk.error_code
    assert err.message == sdk.error_message
    assert err.request_id == sdk.request_id
    assert err.http_status == 200


def test_error_code_without_success_is_an_error(server):
    body = {"RequestId": RID, "ErrorCode": "InvalidParameter", "ErrorMessage": "The Messages is invalid."}
    server.set(Reply(body=body))
    sdk = sdk_models.ChatWithDesensitizeResponseBody().from_map(body)
    err = raised_by_chat(server)
    assert isinstance(err, errors.ParameterError)
    assert (err.code, err.message, err.request_id) == (sdk.error_code, sdk.error_message, sdk.request_id)
    assert err.http_status == 200


@pytest.mark.parametrize("data_as_string", [False, True], ids=["data-object", "data-json-string"])
def test_model_failure_inside_data_beats_the_placeholder_code(server, data_as_string):
    body = model_failure_body(data_as_string=data_as_string)
    server.set(Reply(body=body))
    err = raised_by_chat(server)
    d = sdk_data(body["Data"])
    assert d.status_code == "400" and d.message == MODEL_FAILURE_MESSAGE  # what the SDK exposes
    assert isinstance(err, errors.ParameterError), type(err)
    assert err.code != "UnknownError"
    assert MODEL_FAILURE_MESSAGE in err.message
    assert err.request_id == RID
    assert err.http_status == 200  # the HTTP status received, not Data.StatusCode
    assert str(err.model_status) == d.status_code
    assert err.error_type == d.type
    assert len(server.arrivals) == 1


def test_model_failure_500_inside_data_is_an_unknown_outcome_and_not_retried(server):
    # The model ran and may have billed: an unknown outcome, never resent by default (issue 20 item 1).
    body = model_failure_body(status="500", message="Model service internal error", type_="internal_error")
    server.set(Reply(body=body))
    err = raised_by_chat(server)
    assert isinstance(err, errors.OutcomeUnknownError), type(err)
    assert "Model service internal error" in err.message and err.code != "UnknownError"
    assert err.http_status == 200 and str(err.model_status) == "500"
    assert len(server.arrivals) == 1  # the model may have run: one attempt by default


def test_model_failure_inside_a_streamed_string_data(server):
    event = model_failure_body(data_as_string=True)
    server.set(Stream([event]))
    err = raised_by_stream(server)
    d = sdk_data(sdk_models.ChatWithDesensitizeSSEResponseBody().from_map(event).data)
    assert isinstance(err, errors.ParameterError), type(err)
    assert d.message in err.message and err.code != "UnknownError"
    assert err.http_status == 200 and str(err.model_status) == d.status_code
    assert err.request_id == RID


def test_business_error_as_the_one_stream_event_names_the_sse_action(server):
    event = {"RequestId": RID, "Success": False, "ErrorCode": "NoPermission",
             "ErrorMessage": "You have no permission to ChatWithDesensitizeSSE."}
    server.set(Stream([event]))
    err = raised_by_stream(server)
    sdk = sdk_models.ChatWithDesensitizeSSEResponseBody().from_map(event)
    assert isinstance(err, errors.PermissionError_)
    assert (err.code, err.message, err.request_id) == (sdk.error_code, sdk.error_message, sdk.request_id)
    assert err.http_status == 200
    assert "dms:ChatWithDesensitizeSSE" in str(err)


def test_permission_hint_names_the_plain_action(server):
    server.set(Reply(status=403, body=gateway_body("Forbidden.RAM", "User not authorized to operate on the specified resource.")))
    err = raised_by_chat(server, max_retries=0)
    assert re.search(r"dms:ChatWithDesensitize(?!SSE)", str(err)), str(err)
    assert "dms:ChatWithDesensitizeSSE" not in str(err)


def test_permission_hint_names_the_sse_action_for_a_stream(server):
    server.set(Reply(status=403, body=gateway_body("Forbidden.RAM", "User not authorized to operate on the specified resource.")))
    err = raised_by_stream(server, max_retries=0)
    assert "dms:ChatWithDesensitizeSSE" in str(err), str(err)
    assert err.http_status == 403


GATEWAY_ERRORS = [
    (400, "InvalidParameter", "The specified parameter \"Temperature\" is not valid.", "ParameterError"),
    (400, "MissingParameter", "The input parameter \"InstanceId\" that is mandatory for processing this request is not supplied.", "ParameterError"),
    (400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", "AuthError"),
    (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.", "AuthError"),
    (403, "Forbidden.RAM", "User not authorized to operate on the specified resource.", "PermissionError_"),
    (429, "Throttling.User", "Request was denied due to user flow control.", "ThrottlingError"),
    (500, "InternalError", "The request processing has failed due to some unknown error.", "ServiceError"),
    (503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.", "ServiceError"),
]


@pytest.mark.parametrize("status, code, message, cls", GATEWAY_ERRORS, ids=[g[1] for g in GATEWAY_ERRORS])
def test_gateway_error_matches_the_sdk_exception(server, status, code, message, cls):
    body = gateway_body(code, message)
    server.set(Reply(status=status, body=body))
    err = raised_by_chat(server, max_retries=0)
    sdk_exc = sdk_plain_call(server)
    assert isinstance(err, getattr(errors, cls)), type(err)
    assert err.code == sdk_exc.code == code
    assert err.http_status == sdk_exc.status_code == status
    assert err.request_id == sdk_exc.request_id == RID
    assert err.message == message and message in sdk_exc.message
    assert err.recommend == body["Recommend"]
    assert err.host_id == body["HostId"]


def test_gateway_error_request_id_falls_back_to_the_header(server):
    server.set(Reply(status=400, body=gateway_body("InvalidParameter", "bad", request_id=None),
                     headers={"x-acs-request-id": HEADER_RID}))
    err = raised_by_chat(server, max_retries=0)
    assert err.request_id == HEADER_RID
    assert err.code == "InvalidParameter" and err.http_status == 400


XML_ERROR = """<?xml version='1.0' encoding='UTF-8'?>
<Error>
  <RequestId>{rid}</RequestId>
  <HostId>dms-enterprise.aliyuncs.com</HostId>
  <Code>InvalidAccessKeyId.NotFound</Code>
  <Message>Specified access key is not found.</Message>
  <Recommend>https://api.aliyun.com/troubleshoot?q=InvalidAccessKeyId.NotFound</Recommend>
</Error>"""


def test_xml_error_body_keeps_its_code(server):
    server.set(Reply(status=404, body=XML_ERROR.format(rid=RID), content_type="text/xml;charset=utf-8"))
    err = raised_by_chat(server, max_retries=0)
    assert isinstance(err, errors.AuthError), type(err)
    assert err.code == "InvalidAccessKeyId.NotFound"
    assert err.message == "Specified access key is not found."
    assert err.request_id == RID and err.http_status == 404


def test_gateway_error_on_the_stream_action(server):
    body = gateway_body("InvalidParameter", "The specified parameter \"TopK\" is not valid.")
    server.set(Reply(status=400, body=body))
    err = raised_by_stream(server, max_retries=0)
    assert isinstance(err, errors.ParameterError)
    assert (err.code, err.message, err.request_id, err.http_status) == \
           ("InvalidParameter", body["Message"], RID, 400)


# --------------------------------------------------------------------------------------------
# Retries seen from the server: never twice once the request may have reached the model
# --------------------------------------------------------------------------------------------

def outcome_unknown_class():
    cls = getattr(errors, "OutcomeUnknownError", None)
    assert cls is not None, "dms_magic.errors.OutcomeUnknownError is missing"
    return cls


SAYS_UNKNOWN = re.compile(r"may have (been )?processed|outcome (is )?unknown|unknown outcome", re.I)


def test_read_timeout_after_the_request_is_sent_once_and_says_the_outcome_is_unknown(server):
    server.set(Hold(3.0))
    with our_client(server, timeout=1) as client:
        with pytest.raises(errors.DmsError) as info:
            client.chat("你好")
    assert len(server.arrivals) == 1
    assert isinstance(info.value, outcome_unknown_class()), type(info.value)
    assert SAYS_UNKNOWN.search(str(info.value)), str(info.value)


def test_a_stalled_reply_reports_the_request_id_from_its_headers(server):
    server.set(HeadersThenStall(3.0))
    with our_client(server, timeout=1) as client:
        with pytest.raises(errors.DmsError) as info:
            client.chat("你好")
    assert len(server.arrivals) == 1
    assert isinstance(info.value, outcome_unknown_class()), type(info.value)
    assert SAYS_UNKNOWN.search(str(info.value)), str(info.value)
    assert info.value.request_id == HEADER_RID


def test_a_stream_stalled_before_its_first_event_reports_the_header_request_id(server):
    server.set(Stream(stream_events(), headers={"x-acs-request-id": HEADER_RID}, stall_after=0, stall_seconds=3.0))
    with our_client(server, timeout=1) as client:
        with pytest.raises(errors.DmsError) as info:
            read_stream(client)
    assert len(server.arrivals) == 1
    assert isinstance(info.value, outcome_unknown_class()), type(info.value)
    assert info.value.request_id == HEADER_RID


def test_a_dropped_connection_after_the_request_is_sent_once(server):
    server.set(Drop())
    with our_client(server, timeout=5) as client:
        with pytest.raises(errors.DmsError) as info:
            client.chat("你好")
    assert len(server.arrivals) == 1
    assert isinstance(info.value, outcome_unknown_class()), type(info.value)
    assert SAYS_UNKNOWN.search(str(info.value)), str(info.value)


def test_a_stream_that_times_out_before_its_first_event_is_sent_once(server):
    server.set(Hold(3.0))
    with our_client(server, timeout=1) as client:
        with pytest.raises(errors.DmsError) as info:
            read_stream(client)
    assert len(server.arrivals) == 1
    assert isinstance(info.value, outcome_unknown_class()), type(info.value)


def test_batch_records_a_timed_out_row_as_outcome_unknown_and_sends_it_once(server):
    server.set(Hold(3.0))
    with our_client(server, timeout=1) as client:
        frame = dms_magic.chat_many(["你好"], client=client, progress=False)
    assert len(server.arrivals) == 1
    row = frame.iloc[0]
    assert "OutcomeUnknown" in str(row["error_code"]) or SAYS_UNKNOWN.search(str(row["error_message"])), \
        dict(row)


@pytest.mark.slow
def test_retry_unknown_outcome_opts_in_to_retries(server):
    server.set(Hold(2.5), Reply(body=ok_body()))
    with our_client(server, timeout=1, retry_unknown_outcome=True) as client:
        result = client.chat("你好")
    assert len(server.arrivals) == 2
    assert result.text == "你好呀!"
    # every attempt is signed afresh
    nonces = {a.headers.get("x-acs-signature-nonce") for a in server.arrivals}
    assert len(nonces) == 2


@pytest.mark.slow
def test_retry_unknown_outcome_retries_until_the_budget_ends(server):
    server.set(Hold(2.0))
    with our_client(server, timeout=0.5, retry_unknown_outcome=True, max_retries=2) as client:
        with pytest.raises(errors.DmsError):
            client.chat("你好")
    assert len(server.arrivals) == 3  # the first attempt and two retries


def test_retry_unknown_outcome_retries_a_dropped_connection(server):
    server.set(Drop(), Reply(body=ok_body()))
    with our_client(server, timeout=5, retry_unknown_outcome=True) as client:
        result = client.chat("你好")
    assert len(server.arrivals) == 2 and result.text == "你好呀!"


def test_internal_error_500_is_not_retried_by_default(server):
    server.set(Reply(status=500, body=gateway_body("InternalError", "unknown error")), Reply(body=ok_body()))
    err = raised_by_chat(server)
    assert isinstance(err, errors.ServiceError) and err.http_status == 500
    assert len(server.arrivals) == 1


def test_throttling_as_a_business_error_is_retried(server):
    """Throttled requests never reached the model, whichever way the refusal is written."""
    server.set(Reply(body={"RequestId": RID, "Success": False, "ErrorCode": "Throttling.User",
                           "ErrorMessage": "Request was denied due to user flow control."}),
               Reply(body=ok_body()))
    with our_client(server) as client:
        result = client.chat("你好")
    assert len(server.arrivals) == 2 and result.text == "你好呀!"


def test_a_model_rate_limit_inside_data_is_a_throttling_error(server):
    server.set(Reply(body=model_failure_body(status="429", message="Requests rate limit exceeded, please try again later.",
                                             type_="rate_limit_error")))
    err = raised_by_chat(server, max_retries=0)
    assert isinstance(err, errors.ThrottlingError), type(err)
    assert "rate limit exceeded" in err.message and err.http_status == 200 and str(err.model_status) == "429"


def test_throttled_stream_is_retried_before_its_first_event(server):
    server.set(Reply(status=429, body=gateway_body("Throttling.User", "Request was denied due to user flow control."),
                     headers={"x-acs-retry-after": "300"}),
               Stream(stream_events()))
    with our_client(server) as client:
        _, result = read_stream(client)
    assert len(server.arrivals) == 2 and result.text == "你好呀!"


def test_service_unavailable_503_is_retried(server):
    server.set(Reply(status=503, body=gateway_body("ServiceUnavailable", "try later")), Reply(body=ok_body()))
    with our_client(server) as client:
        result = client.chat("你好")
    assert len(server.arrivals) == 2 and result.text == "你好呀!"


def gap_before_second_attempt(srv) -> float:
    assert len(srv.arrivals) >= 2, len(srv.arrivals)
    return srv.arrivals[1].received_at - srv.arrivals[0].replied_at


@pytest.mark.slow
def test_throttling_honours_x_acs_retry_after_in_milliseconds(server):
    server.set(Reply(status=429, body=gateway_body("Throttling.User", "Request was denied due to user flow control."),
                     headers={"x-acs-retry-after": "2000"}),
               Reply(body=ok_body()))
    with our_client(server) as client:
        result = client.chat("你好")
    assert result.text == "你好呀!" and len(server.arrivals) == 2
    gap = gap_before_second_attempt(server)
    # "about 2 s": at least what the server asked (a little clock slack), not wildly more
    assert 1.9 <= gap <= 4.5, gap


@pytest.mark.slow
def test_service_unavailable_honours_retry_after_in_seconds(server):
    server.set(Reply(status=503, body=gateway_body("ServiceUnavailable", "try later"),
                     headers={"Retry-After": "2"}),
               Reply(body=ok_body()))
    with our_client(server) as client:
        client.chat("你好")
    gap = gap_before_second_attempt(server)
    assert 1.9 <= gap <= 4.5, gap


# --------------------------------------------------------------------------------------------
# Messages as the API takes them reach the server unchanged, equal to the SDK's wire
# --------------------------------------------------------------------------------------------

TOOL_CONVERSATION = [
    {"role": "system", "content": "You are a weather assistant."},
    {"role": "user", "content": "杭州今天天气怎么样？"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"杭州\"}"}}]},
    {"role": "tool", "tool_call_id": "call_abc", "content": "{\"temp\": 21, \"sky\": \"晴\"}"},
]

IMAGE_MESSAGE = [{"role": "user", "content": [
    {"type": "text", "text": "这张图里有什么？"},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
]}]




@pytest.mark.parametrize("messages, params, sdk_params", [
    (TOOL_CONVERSATION, {}, {}),
    (IMAGE_MESSAGE, {"model": "qwen-vl-plus", "vl_high_resolution_images": True},
     {"model": "qwen-vl-plus", "vl_high_resolution_images": True}),
], ids=["tool-conversation", "text-and-image-parts"])
def test_messages_reach_the_server_unchanged_and_equal_to_the_sdk(server, messages, params, sdk_params):
    server.set(Reply(body=ok_body()))
    with our_client(server) as client:
        client.chat(copy.deepcopy(messages), **params)
    sdk_client(server).chat_with_desensitize_with_options(
        sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=copy.deepcopy(messages), **sdk_params),
        RuntimeOptions())
    ours, theirs = server.arrivals
    assert json.loads(ours.form["Messages"]) == messages
    assert ours.form["Messages"] == theirs.form["Messages"]
    assert ours.body == theirs.body
    assert request_params(ours) == request_params(theirs)
    assert ours.action == theirs.action == "ChatWithDesensitize"


def test_tool_conversation_with_tools_on_the_stream_equals_the_sdk(server):
    events = stream_events()
    server.set(Stream(events))
    tools_json = json.dumps(TOOLS, ensure_ascii=False, separators=(",", ":"))
    with our_client(server) as client:
        read_stream(client, copy.deepcopy(TOOL_CONVERSATION), tools=tools_json, tool_choice="auto")
    sdk_events = list(sdk_client(server).chat_with_desensitize_ssewith_sse(
        sdk_models.ChatWithDesensitizeSSERequest(instance_id=1, messages=copy.deepcopy(TOOL_CONVERSATION),
                                                 tools=tools_json, tool_choice="auto"),
        RuntimeOptions()))
    assert len(sdk_events) == len(events)  # the fixture's stream is one the SDK reads
    ours, theirs = server.arrivals
    assert ours.action == theirs.action == "ChatWithDesensitizeSSE"
    assert json.loads(ours.form["Messages"]) == TOOL_CONVERSATION
    assert ours.body == theirs.body
    ours_q, theirs_q = request_params(ours), request_params(theirs)
    assert json.loads(ours_q["Tools"]) == TOOLS and ours_q["ToolChoice"] == "auto"
    assert {k: v for k, v in ours_q.items() if k not in ("Stream", "IncludeUsage")} == \
           {k: v for k, v in theirs_q.items() if k not in ("Stream", "IncludeUsage")}


def test_tools_given_as_a_list_reach_the_server_as_the_same_json(server):
    server.set(Stream(stream_events()))
    with our_client(server) as client:
        read_stream(client, copy.deepcopy(TOOL_CONVERSATION), tools=copy.deepcopy(TOOLS))
    assert json.loads(server.arrivals[0].query["Tools"]) == TOOLS


def test_a_tool_call_result_sent_back_reaches_the_server(server):
    """The next turn a user builds from r.tool_calls[i].to_dict() is a valid assistant message."""
    server.set(Reply(body=ok_body(data_obj("", reasoning=None, logprobs=None, finish="tool_calls",
                                           tool_calls=[{"Index": 0, "Id": "call_abc", "Type": "function",
                                                        "Function": {"Name": "get_weather",
                                                                     "Arguments": "{\"city\":\"杭州\"}"}}]))),
               Reply(body=ok_body()))
    with our_client(server) as client:
        first = client.chat("杭州天气")
        turn = [{"role": "user", "content": "杭州天气"},
                {"role": "assistant", "content": None, "tool_calls": [tc.to_dict() for tc in first.tool_calls]},
                {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "{\"temp\": 21}"}]
        client.chat(copy.deepcopy(turn))
    assert json.loads(server.arrivals[1].form["Messages"]) == turn
