"""ChatResult reads the real response tolerantly: string numbers, missing fields, any key case."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])  # so a fresh interpreter finds the package

from dms_magic import ChatRequest
from dms_magic.wire.result import ChatResult, StreamChunk, assemble
from dms_magic.wire.values import normalize_token_logprobs

REFERENCE_EXAMPLE = {  # the reference page's success example, verbatim in shape
    "RequestId": "0C1CB646-1DE4-4AD0-B4A4-7D47DD52E931", "ErrorCode": "UnknownError", "ErrorMessage": "UnknownError",
    "Success": True,
    "Data": {"Created": "1763710100", "Model": "qwen-plus",
             "Choices": [{"FinishReason": "stop",
                          "Message": {"Content": "你好呀!", "ReasoningContent": "嗯,用户发了个“你好”", "Role": "assistant"},
                          "Logprobs": {"key": "{}"}}],
             "Usage": {"CompletionTokens": "10", "PromptTokens": "9", "TotalTokens": "19",
                       "PromptTokensDetails": {"CachedTokens": "0"}, "CompletionTokensDetails": {}}},
}


def test_reference_example_is_read_with_numbers_as_ints():
    request = ChatRequest("你好", instance_id=1, need_desensitization=True, desensitization_rule="UserInfo")
    r = ChatResult.from_response(REFERENCE_EXAMPLE, request=request, latency=0.25, backend="sandbox")
    assert (r.text, r.reasoning, r.role, r.finish_reason, r.model) == (
        "你好呀!", "嗯,用户发了个“你好”", "assistant", "stop", "qwen-plus")
    assert r.created == 1763710100 and r.request_id == "0C1CB646-1DE4-4AD0-B4A4-7D47DD52E931"
    assert r.usage_dict == {"completion_tokens": 10, "prompt_tokens": 9, "total_tokens": 19,
                            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {}}
    assert r.token_logprobs == []  # a Logprobs object without content is no tokens, not a crash
    assert r.masked and r.request.messages == [{"role": "user", "content": "你好"}]
    assert r.raw is REFERENCE_EXAMPLE and str(r) == "你好呀!" and "sandbox" in repr(r)


@pytest.mark.parametrize("body", [{}, {"Data": None}, {"Data": {"Choices": []}}, {"Data": {"Choices": [None]}},
                                  {"Data": {"Choices": [{"Message": None}], "Usage": "n/a", "Created": "soon"}}])
def test_missing_or_odd_fields_read_as_empty(body):
    r = ChatResult.from_response(body)
    assert r.text == "" and r.reasoning is None and r.finish_reason is None and r.created is None
    assert r.usage_dict == {} and r.token_logprobs == []


SPELLINGS = [
    {"content": [{"token": "a", "logprob": -0.5, "bytes": [97], "top_logprobs": [{"token": "a", "logprob": -0.5}]}]},
    {"Content": [{"Token": "a", "Logprob": "-0.5", "Bytes": [97], "TopLogprobs": [{"Token": "a", "Logprob": "-0.5"}]}]},
    {"content": [{"token": "a", "logprob": -0.5, "bytes": [97], "topLogprobs": [{"TOKEN": "a", "logprob": -0.5}]}]},
    '{"content": [{"token": "a", "logprob": -0.5, "bytes": [97], "top_logprobs": [{"token": "a", "logprob": -0.5}]}]}',
]


@pytest.mark.parametrize("logprobs", SPELLINGS, ids=["dashscope", "pascal", "camel", "json-string"])
def test_logprobs_pass_through_in_any_key_case(logprobs):
    body = {"Data": {"Choices": [{"Message": {"Content": "a"}, "Logprobs": logprobs}]}}
    tokens = ChatResult.from_response(body).token_logprobs
    assert len(tokens) == 1 and tokens[0]["token"] == "a" and float(tokens[0]["logprob"]) == -0.5
    assert tokens[0]["bytes"] == [97]
    assert [(t["token"], float(t["logprob"])) for t in tokens[0]["top_logprobs"]] == [("a", -0.5)]
    frame = ChatResult.from_response(body).logprobs
    assert frame.loc[0, "logprob"] == -0.5 and [a["token"] for a in frame.loc[0, "top_logprobs"]] == ["a"]


def test_canonical_logprobs_are_passed_through_without_copying():
    content = [{"token": "x", "logprob": -1.0, "bytes": [120], "top_logprobs": []}]
    assert normalize_token_logprobs({"content": content}) is content


def test_stream_chunks_assemble_into_a_result():
    events = [
        {"RequestId": "S", "Data": {"Model": "qwen-plus", "Choices": [{"Delta": {"Content": "你", "ReasoningContent": "r"}}]}},
        {"RequestId": "S", "Data": {"Choices": [{"Message": {"Content": "好"}, "FinishReason": "stop"}],
                                    "Usage": {"TotalTokens": "5"}}},
    ]
    chunks = [StreamChunk.from_event(e, i) for i, e in enumerate(events)]
    assert [c.text for c in chunks] == ["你", "好"] and chunks[0].delta == "你"
    result = assemble(chunks, backend="sandbox", latency=0.1)
    assert (result.text, result.reasoning, result.finish_reason, result.model, result.request_id) == (
        "你好", "r", "stop", "qwen-plus", "S")
    assert result.usage_dict == {"total_tokens": 5} and result.backend == "sandbox"


def test_importing_result_does_not_import_pandas():
    code = ("import sys, dms_magic, dms_magic.wire.result, dms_magic.client, dms_magic.views.frames;"
            "from dms_magic.wire.result import ChatResult; r = ChatResult.from_response({});"
            "r.usage_dict; r.token_logprobs;"
            "print(sorted(m for m in ('pandas', 'alibabacloud_credentials', 'ipywidgets', 'jieba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


# -- streams: increments or the text so far, decided per stream --------------------------------------
def _events(*contents, data_as_string=False):
    import json

    out = []
    for i, content in enumerate(contents):
        data = {"Created": "1763710100", "Choices": [{"Message": {"Content": content},
                                                      "FinishReason": "stop" if i == len(contents) - 1 else None}]}
        out.append({"RequestId": "S", "Data": json.dumps(data) if data_as_string else data})
    return out


def _read(events):
    from dms_magic.wire.result import StreamState

    state = StreamState()
    chunks = [StreamChunk.from_event(e, i, state) for i, e in enumerate(events)]
    return [c.text for c in chunks], assemble(chunks)


@pytest.mark.parametrize("as_string", [False, True], ids=["data-object", "data-string"])
@pytest.mark.parametrize("contents, deltas, text, mode", [
    (("Hel", "lo", " wor", "ld", ""), ["Hel", "lo", " wor", "ld", ""], "Hello world", "increments"),
    # every event extends the one before and nothing says which: ambiguous, nothing dropped
    (("ab", "abc"), ["ab", "abc"], "ababc", "ambiguous"),
    (("哈", "哈哈", "哈哈哈"), ["哈", "哈哈", "哈哈哈"], "哈哈哈哈哈哈", "ambiguous"),
    # equal repeats: increments 'ha' x3, or a text-so-far 'ha' that did not grow; kept whole, said so
    (("ha", "ha", "ha"), ["ha", "ha", "ha"], "hahaha", "ambiguous"),
    (("a", "ab", "x"), ["a", "ab", "x"], "aabx", "increments"),  # a chain that breaks: every chunk agrees
])
def test_streams_are_read_as_increments_or_text_so_far(contents, deltas, text, mode, as_string):
    got, result = _read(_events(*contents, data_as_string=as_string))
    assert got == deltas and result.text == text == "".join(got)  # what was printed is the answer
    assert result.stream_text == mode
    assert result.finish_reason == "stop" and result.created == 1763710100 and result.request_id == "S"


@pytest.mark.parametrize("parameters, text, mode", [
    ('{"incremental_output": false}', "Hello world", "text_so_far"),
    ('{"incremental_output": true}', "HelHelloHello worHello worldHello world", "increments"),
    (None, "HelHelloHello worHello worldHello world", "ambiguous"),
])
def test_the_requests_own_incremental_output_decides_a_chained_stream(parameters, text, mode):
    from dms_magic.wire.request import ChatRequest
    from dms_magic.wire.result import StreamState, declared_stream_text

    request = ChatRequest("hi", parameters=parameters)
    state = StreamState(declared=declared_stream_text(request))
    events = _events("Hel", "Hello", "Hello wor", "Hello world", "Hello world")
    chunks = [StreamChunk.from_event(e, i, state) for i, e in enumerate(events)]
    result = assemble(chunks, request=request)
    assert (result.text, result.stream_text) == (text, mode) and "".join(c.text for c in chunks) == text


def test_a_declared_text_so_far_stream_that_rewrites_itself_is_increments_after_all():
    from dms_magic.wire.result import StreamState

    state = StreamState(declared="text_so_far")
    chunks = [StreamChunk.from_event(e, i, state) for i, e in enumerate(_events("a", "ab", "x"))]
    assert assemble(chunks, state=state).text == "aabx"


def test_without_a_state_chunks_keep_what_they_carried_and_assemble_still_decides():
    chunks = [StreamChunk.from_event(e, i) for i, e in enumerate(_events("Hel", "Hello", "Hello!"))]
    assert [c.text for c in chunks] == ["Hel", "Hello", "Hello!"]
    result = assemble(chunks)
    assert (result.text, result.stream_text) == ("HelHelloHello!", "ambiguous")


def test_text_so_far_logprobs_are_taken_once():
    def tok(t):  # each position its own logprob, as a model gives (a constant decides nothing)
        return {"token": t, "logprob": -0.1 * (ord(t) - 96), "bytes": [], "top_logprobs": []}

    events = [{"Data": {"Choices": [{"Message": {"Content": c}, "Logprobs": {"content": [tok(t) for t in toks]}}]}}
              for c, toks in (("a", "a"), ("ab", "ab"), ("abc", "abc"))]
    _, result = _read(events)
    assert result.text == "abc" and [t["token"] for t in result.token_logprobs] == ["a", "b", "c"]
    assert result.stream_text == "text_so_far"  # varied logprobs repeated exactly: decisive


def test_constant_logprobs_repeated_decide_nothing():
    # greedy decoding: certain tokens all have logprob 0.0, so increments '哈', '哈哈' repeat them too
    def tok(t):
        return {"token": t, "logprob": 0.0, "bytes": [], "top_logprobs": []}

    events = [{"Data": {"Choices": [{"Message": {"Content": c}, "Logprobs": {"content": [tok(t) for t in c]}}]}}
              for c in ("哈", "哈哈")]
    _, result = _read(events)
    assert (result.text, result.stream_text) == ("哈哈哈", "ambiguous")


@pytest.mark.parametrize("pieces", [['{"ci', 'ty": "', 'x"}'], ['{"ci', '{"city": "', '{"city": "x"}']],
                         ids=["increments", "text-so-far"])
def test_streamed_tool_call_fragments_merge_by_index(pieces):
    from dms_magic.tools import assemble_tool_calls, tool_call_fragments

    fragments = [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather",
                                                                              "arguments": ""}},
                 {"index": 1, "id": "call_2", "function": {"name": "get_time", "arguments": "{}"}}]
    fragments += [{"index": 0, "function": {"arguments": p}} for p in pieces]
    calls = assemble_tool_calls(c for f in fragments for c in tool_call_fragments({"tool_calls": [f]}))
    assert [(c.index, c.id, c.name, c.arguments) for c in calls] == [
        (0, "call_1", "get_weather", {"city": "x"}), (1, "call_2", "get_time", {})]
    assert calls[0].to_dict() == {"id": "call_1", "type": "function",
                                  "function": {"name": "get_weather", "arguments": '{"city": "x"}'}}
