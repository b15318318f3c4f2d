"""Tools: specs from callables, tool_choice, tool calls from the wire, running them, the loop.

The JSON schemas we build are checked by ``jsonschema`` (an outside validator, installed with
nbformat): each is a valid schema, accepts the arguments the function accepts and rejects the ones
it does not.
"""
from __future__ import annotations

import datetime
import enum
import json
from typing import Any, Literal, Optional, Union

import jsonschema
import pytest

from helpers.toolwire import encode_tool_choice, encode_tools
from dms_magic.tools import (
    ToolCall, ToolSpecError, assemble_tool_calls, run_tool_call, run_tool_calls,
    sensitive_arguments, tool_functions, tool_loop, tool_spec, tool_specs,
)


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


def get_weather(city: str, days: int = 1, unit: Unit = Unit.CELSIUS, hourly: bool = False,
                tags: Optional[list[str]] = None, detail: Literal["short", "long"] = "short") -> dict:
    """Get the weather forecast for a city.

    The forecast comes from a table, not a service.

    Args:
        city (str): The city, in English
            or Chinese.
        days: How many days to forecast.
        unit: Temperature unit.

    Returns:
        A dict.
    """
    return {"city": city, "days": days, "unit": unit.value, "hourly": hourly, "tags": tags, "detail": detail}


def schema_of(fn) -> dict:
    return tool_spec(fn)["function"]["parameters"]


def test_schema_from_a_callable_with_defaults_and_type_hints():
    spec = tool_spec(get_weather)
    function = spec["function"]
    assert spec["type"] == "function" and function["name"] == "get_weather"
    assert function["description"] == "Get the weather forecast for a city."
    params = function["parameters"]
    assert params["required"] == ["city"]  # only the parameter without a default
    props = params["properties"]
    assert props["city"] == {"type": "string", "description": "The city, in English or Chinese."}
    assert props["days"] == {"type": "integer", "description": "How many days to forecast.", "default": 1}
    assert props["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit.",
                             "default": "celsius"}
    assert props["hourly"] == {"type": "boolean", "default": False}
    assert props["tags"] == {"type": ["array", "null"], "items": {"type": "string"}, "default": None}
    assert props["detail"] == {"type": "string", "enum": ["short", "long"], "default": "short"}
    jsonschema.Draft202012Validator.check_schema(params)


@pytest.mark.parametrize("arguments, valid", [
    ({"city": "Hangzhou"}, True),
    ({"city": "杭州", "days": 3, "unit": "fahrenheit", "hourly": True, "tags": ["rain"], "detail": "long"}, True),
    ({"city": "Hangzhou", "tags": None}, True),
    ({}, False),                                   # city is required
    ({"city": 3}, False),
    ({"city": "x", "days": "3"}, False),
    ({"city": "x", "unit": "kelvin"}, False),
    ({"city": "x", "tags": "rain"}, False),
    ({"city": "x", "detail": "medium"}, False),
])
def test_the_schema_accepts_what_the_function_takes(arguments, valid):
    validator = jsonschema.Draft202012Validator(schema_of(get_weather))
    assert validator.is_valid(arguments) is valid


def test_more_types():
    def f(a: float, b: dict[str, int], c: tuple[int, str], d: Union[int, str], e: set[int], f: datetime.date,
          g: Any, h: list, i: "int | None" = None, j=3, **rest):
        pass

    props = schema_of(f)["properties"]
    assert props["a"] == {"type": "number"}
    assert props["b"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["c"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert props["d"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["e"] == {"type": "array", "items": {"type": "integer"}}
    assert props["f"] == {"type": "string", "format": "date"}
    assert props["g"] == {} and props["h"] == {"type": "array"}
    assert props["i"] == {"type": ["integer", "null"], "default": None}
    assert props["j"] == {"type": "integer", "default": 3}  # unannotated: the default's type
    assert "rest" not in props
    jsonschema.Draft202012Validator.check_schema(schema_of(f))


def test_numpy_and_sphinx_docstrings():
    def numpy_style(city: str, days: int = 1):
        """Forecast.

        Parameters
        ----------
        city : str
            The city name.
        days : int, optional
            How many days,
            at most 7.

        Returns
        -------
        dict
        """

    def sphinx_style(city: str):
        """Forecast.

        :param str city: The city name.
        :returns: a dict
        """

    numpy_props = schema_of(numpy_style)["properties"]
    assert numpy_props["city"]["description"] == "The city name."
    assert numpy_props["days"]["description"] == "How many days, at most 7."
    assert schema_of(sphinx_style)["properties"]["city"]["description"] == "The city name."


def test_a_callable_without_docstring_has_no_description():
    def ping():
        pass

    assert tool_spec(ping)["function"] == {"name": "ping", "parameters": {"type": "object", "properties": {}}}


@pytest.mark.parametrize("fn, words", [
    (lambda x: x, "lambda has none"),
    (len, "positional-only"),
])
def test_callables_that_cannot_be_tools(fn, words):
    with pytest.raises(ToolSpecError, match=words):
        tool_spec(fn)


class Point:
    pass


def test_an_unsupported_type_names_the_tool_and_parameter():
    def move(to: Point):
        pass

    with pytest.raises(ToolSpecError, match=r"tool 'move', parameter 'to': type Point has no JSON schema"):
        tool_spec(move)

    def jump(to: "Nowhere"):  # noqa: F821 - a hint that names nothing
        pass

    with pytest.raises(ToolSpecError, match=r"tool 'jump': its type hints cannot be resolved"):
        tool_spec(jump)


def test_spec_dicts_are_checked_and_completed():
    inner = {"name": "lookup", "description": "Find a row.",
             "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}}
    assert tool_spec(inner) == {"type": "function", "function": inner}
    assert tool_spec({"type": "function", "function": inner}) == tool_spec(inner)
    assert tool_spec({"name": "noargs"})["function"]["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize("spec, words", [
    ({"name": "has space"}, "tool name 'has space' is invalid"),
    ({"name": ""}, "is invalid"),
    ({"type": "retrieval", "function": {"name": "x"}}, "type must be 'function'"),
    ({"name": "x", "parameters": {"type": "array"}}, "JSON schema object"),
    ({"name": "x", "parameters": {"type": "object", "properties": {}, "required": ["y"]}}, "required must list"),
    ({"name": "x", "description": 3}, "description must be a string"),
])
def test_bad_spec_dicts(spec, words):
    with pytest.raises(ToolSpecError, match=words):
        tool_spec(spec)


def test_tool_lists_need_unique_names():
    with pytest.raises(ToolSpecError, match="two tools are named 'get_weather'"):
        tool_specs([get_weather, {"name": "get_weather"}])
    with pytest.raises(ToolSpecError, match="tools is empty"):
        tool_specs([])


def test_tool_choice_values():
    # One vocabulary (the parameter table's): the words go as they are, a tool name as a function choice.
    from dms_magic import ChatRequest
    from dms_magic.wire._toolshapes import TOOL_CHOICE_WORDS

    tools = [get_weather, tool_spec({"name": "lookup"})]

    def sent(choice):
        request = ChatRequest([{"role": "user", "content": "hi"}], instance_id=1, tools=tools, tool_choice=choice)
        return request.to_wire(stream=True)[0]["ToolChoice"]

    assert TOOL_CHOICE_WORDS == ("auto", "none", "required")
    assert [sent(word) for word in TOOL_CHOICE_WORDS] == ["auto", "none", "required"]
    assert json.loads(sent("lookup")) == {"type": "function", "function": {"name": "lookup"}}
    assert json.loads(sent({"type": "function", "function": {"name": "get_weather"}}))["function"] == {
        "name": "get_weather"}
    with pytest.raises(ValueError, match="one of auto, none, required, or the name of one of the tools "
                                         r"\(get_weather, lookup\)"):
        sent("delete_all")


def test_wire_text_of_tools_and_tool_choice():
    # The exact bytes are held to the official SDK in test_multimodal_wire.py; here: a round trip,
    # and Chinese kept as written (not \\u escapes, which would triple the query's length).
    spec = {"name": "weather", "description": "查询天气 & 返回"}
    text = encode_tools([get_weather, spec])
    assert json.loads(text) == [tool_spec(get_weather), tool_spec(spec)]
    assert "查询天气" in text and "\\u" not in text
    assert encode_tool_choice("auto") == "auto"
    assert json.loads(encode_tool_choice({"type": "function", "function": {"name": "f"}})) == {
        "type": "function", "function": {"name": "f"}}


# --- ToolCall -------------------------------------------------------------------------------------

def test_tool_call_from_the_openai_shape_and_from_pascal_case():
    openai = {"id": "call_1", "type": "function", "index": 0,
              "function": {"name": "get_weather", "arguments": '{"city": "杭州", "days": 2}'}}
    pascal = {"Id": "call_1", "Type": "function", "Index": "0",
              "Function": {"Name": "get_weather", "Arguments": '{"city": "杭州", "days": 2}'}}
    for wire in (openai, pascal):
        call = ToolCall.from_wire(wire)
        assert call == ToolCall("call_1", "get_weather", {"city": "杭州", "days": 2}, '{"city": "杭州", "days": 2}', 0)
        assert call.arguments_error is None
    assert ToolCall.from_wire(openai).to_wire() == {k: v for k, v in openai.items() if k != "index"}


def test_tool_call_arguments_kept_raw_when_not_json():
    call = ToolCall.from_wire({"id": "c", "function": {"name": "f", "arguments": '{"city": '}})
    assert call.arguments is None and call.arguments_raw == '{"city": '
    assert "not valid JSON" in call.arguments_error
    assert ToolCall.from_wire({"function": {"name": "f", "arguments": ""}}).arguments == {}
    parsed = ToolCall.from_wire({"id": "c", "name": "f", "arguments": {"a": 1}})  # flat, already parsed
    assert parsed.arguments == {"a": 1} and parsed.arguments_raw == '{"a":1}'
    assert ToolCall.from_wire({"function": {"name": "f", "arguments": "[1]"}}).arguments_error.startswith("a JSON list")


def test_streamed_deltas_are_assembled_by_index():
    deltas = [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        {"index": 1, "id": "call_b", "function": {"name": "lookup", "arguments": '{"id"'}},
        {"index": 0, "function": {"arguments": '{"city":'}},
        {"index": 0, "function": {"arguments": ' "Hangzhou"}'}},
        {"index": 1, "function": {"arguments": ": 7}"}},
    ]
    calls = assemble_tool_calls(deltas)
    assert [(c.id, c.name, c.arguments, c.index) for c in calls] == [
        ("call_a", "get_weather", {"city": "Hangzhou"}, 0), ("call_b", "lookup", {"id": 7}, 1)]
    so_far = [{"Index": 0, "Id": "x", "Function": {"Name": "f", "Arguments": '{"a"'}},
              {"Index": 0, "Function": {"Arguments": '{"a": 1}'}}]
    assert assemble_tool_calls(so_far, cumulative=True)[0].arguments == {"a": 1}


# --- running ----------------------------------------------------------------------------------------

def call(name: str, arguments: Any, id: str = "call_1") -> dict:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id, "type": "function", "function": {"name": name, "arguments": raw}}


def test_a_call_runs_with_parsed_arguments_and_enums_restored():
    [message] = run_tool_calls([call("get_weather", {"city": "Hangzhou", "unit": "fahrenheit"})], [get_weather])
    assert message["role"] == "tool" and message["tool_call_id"] == "call_1"
    assert json.loads(message["content"]) == {"city": "Hangzhou", "days": 1, "unit": "fahrenheit", "hourly": False,
                                              "tags": None, "detail": "short"}


def test_a_tool_that_raises_becomes_an_error_message():
    def divide(a: int, b: int) -> float:
        return a / b

    run = run_tool_call(call("divide", {"a": 1, "b": 0}), [divide])
    assert not run.ok and run.message["content"] == "Error: divide raised ZeroDivisionError: division by zero"


def test_an_unknown_tool_is_refused_and_never_called():
    called = []

    def delete_everything():
        called.append(True)

    [message] = run_tool_calls([call("delete_everything", {})], [get_weather])
    assert message["content"].startswith("Error: 'delete_everything' is not one of the tools given (get_weather)")
    run = run_tool_call(call("lookup", {}), [get_weather, {"name": "lookup"}])
    assert "declared as a spec without a Python function" in run.message["content"]
    assert called == []


@pytest.mark.parametrize("arguments, words", [
    ('{"city": ', "not valid JSON"),
    ("[1, 2]", "a JSON list instead of an object"),
    ('{"town": "x"}', "do not fit get_weather"),
    ("{}", "missing a required argument: 'city'"),
])
def test_arguments_that_do_not_fit_are_refused_without_calling(arguments, words):
    calls = []

    def get_weather(city: str):  # noqa: F811 - same name, records calls
        calls.append(city)

    run = run_tool_call(call("get_weather", arguments), {"get_weather": get_weather})
    assert not run.ok and words in run.message["content"] and calls == []


def test_results_are_sent_as_text():
    def as_text():
        return "晴 25°C"

    def as_json():
        return {"温度": 25, "when": datetime.date(2026, 1, 2)}

    functions = {"as_text": as_text, "as_json": as_json}
    text, data = run_tool_calls([call("as_text", {}, "a"), call("as_json", {}, "b")], functions)
    assert text["content"] == "晴 25°C"
    assert json.loads(data["content"]) == {"温度": 25, "when": "2026-01-02"}


def test_mapping_of_functions_uses_its_own_names():
    assert tool_functions({"weather": get_weather}) == {"weather": get_weather}
    assert tool_functions([get_weather, {"name": "lookup"}]) == {"get_weather": get_weather}


# --- the loop ----------------------------------------------------------------------------------------

class Answer:
    def __init__(self, text="", tool_calls=()):
        self.text = text
        self.tool_calls = [ToolCall.from_wire(c) for c in tool_calls]


class ScriptedModel:
    """Answers with the next scripted answer and records every conversation it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[list[dict]] = []

    def __call__(self, messages):
        self.sent.append(messages)
        return self.answers[len(self.sent) - 1]


def test_a_two_round_loop_runs_both_tools_and_returns_the_final_answer():
    def add(a: int, b: int) -> int:
        return a + b

    model = ScriptedModel(
        Answer(tool_calls=[call("get_weather", {"city": "Hangzhou"}, "c1")]),
        Answer(tool_calls=[call("add", {"a": 20, "b": 5}, "c2")]),
        Answer(text="It is 25 degrees in Hangzhou."),
    )
    out = tool_loop(model, [{"role": "user", "content": "weather?"}], [get_weather, add])
    assert out.result.text == "It is 25 degrees in Hangzhou."
    assert (out.rounds, out.stopped) == (2, "answer")
    assert [(r.round, r.call.name, r.ok) for r in out.transcript] == [(1, "get_weather", True), (2, "add", True)]
    assert out.transcript[1].message["content"] == "25"
    last = model.sent[-1]
    assert [m["role"] for m in last] == ["user", "assistant", "tool", "assistant", "tool"]
    assert last[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert last[2]["tool_call_id"] == "c1" and last[4] == {"role": "tool", "tool_call_id": "c2", "content": "25"}
    assert out.messages == last
    records = out.transcript_records()
    assert records[0]["arguments"] == {"city": "Hangzhou"} and records[0]["ok"] is True


def test_the_loop_stops_after_max_rounds_without_running_the_last_calls():
    keeps_calling = Answer(tool_calls=[call("get_weather", {"city": "x"})])
    model = ScriptedModel(*[keeps_calling] * 10)
    out = tool_loop(model, [{"role": "user", "content": "loop"}], [get_weather], max_rounds=2)
    assert (out.rounds, out.stopped, len(model.sent), len(out.transcript)) == (2, "max_rounds", 3, 2)
    with pytest.raises(ValueError, match="max_rounds=0"):
        tool_loop(model, [], [get_weather], max_rounds=0)


def test_the_loop_survives_a_raising_tool_and_an_unknown_name():
    def broken(city: str):
        raise RuntimeError("table missing")

    model = ScriptedModel(
        Answer(tool_calls=[call("broken", {"city": "x"}, "c1"), call("rm_rf", {}, "c2")]),
        Answer(text="Sorry."),
    )
    out = tool_loop(model, [{"role": "user", "content": "go"}], [broken])
    assert out.result.text == "Sorry."
    assert [r.ok for r in out.transcript] == [False, False]
    contents = [m["content"] for m in model.sent[1][-2:]]
    assert contents[0] == "Error: broken raised RuntimeError: table missing"
    assert "'rm_rf' is not one of the tools given" in contents[1]


def test_a_failing_request_fails_the_loop():
    def send(messages):
        raise ConnectionError("service down")

    with pytest.raises(ConnectionError):
        tool_loop(send, [{"role": "user", "content": "x"}], [get_weather])


# --- masking ------------------------------------------------------------------------------------------

def test_sensitive_arguments_are_flagged_with_their_path():
    calls = [
        call("send_sms", {"to": {"phone": "13812345678", "name": "x"}, "body": "hello"}, "c1"),
        call("lookup", {"ids": [1, 13912345678], "owner": "138****5678"}, "c2"),
    ]
    found = sensitive_arguments(calls)
    by_path = {(f.call_id, f.path): f for f in found}
    assert by_path[("c1", "to.phone")].entities == ("MOBILE_PHONE",)
    assert by_path[("c2", "ids[1]")].entities == ("MOBILE_PHONE",)  # a number counts too
    masked = by_path[("c2", "owner")]
    assert masked.looks_masked and masked.tool == "lookup"
    assert ("c1", "body") not in by_path and ("c2", "ids[0]") not in by_path


def test_sensitive_arguments_follow_the_rule():
    calls = [call("f", {"email": "zhang.wei@example.com"})]
    assert [f.entities for f in sensitive_arguments(calls, "UserInfo")] == [("EMAIL",)]
    assert sensitive_arguments(calls, "Vehicle") == []


def test_an_async_tool_is_reported_not_left_unawaited():
    async def fetch(city: str) -> str:
        return city

    run = run_tool_call(call("fetch", {"city": "x"}), [fetch])
    assert not run.ok and "is async" in run.message["content"]


def test_a_callable_object_is_described_by_its_call_method():
    class Lookup:
        __name__ = "lookup"

        def __call__(self, key: str, limit: int = 3) -> list:
            """Look a key up."""
            return [key] * limit

    tool = Lookup()
    params = schema_of(tool)
    assert params["properties"] == {"key": {"type": "string"}, "limit": {"type": "integer", "default": 3}}
    [message] = run_tool_calls([call("lookup", {"key": "k", "limit": 2})], {"lookup": tool})
    assert json.loads(message["content"]) == ["k", "k"]


# -- issue 23 items 4, 5, 13: the runner never raises; strict, depth-limited arguments ------------
class _StrRaises:
    def __str__(self):
        raise RuntimeError("__str__ failed")


class _ErrorWithBadStr(Exception):
    def __str__(self):
        raise RuntimeError("__str__ failed")


def _cyclic() -> dict:
    value: dict = {}
    value["self"] = value
    return value


def _deep(levels: int = 100_000) -> list:
    outer = inner = []
    for _ in range(levels):
        inner.append([])
        inner = inner[0]
    return outer


def _raise_bad_error() -> str:
    raise _ErrorWithBadStr()


@pytest.mark.parametrize("tool, words", [
    (_cyclic, "Circular reference"), (_deep, "RecursionError"), (lambda: _StrRaises(), "RuntimeError"),
    (lambda: [1, _StrRaises()], "RuntimeError"), (_raise_bad_error, "its message cannot be shown"),
], ids=["cyclic", "100k deep", "__str__ raises", "__str__ raises inside a list", "exception's __str__ raises"])
def test_a_result_that_cannot_become_text_is_an_error_message_not_a_crash(tool, words):
    run = run_tool_call({"id": "c1", "function": {"name": "t", "arguments": "{}"}}, {"t": tool})
    assert not run.ok and words in run.error
    assert run.message == {"role": "tool", "tool_call_id": "c1", "content": "Error: " + run.error}
    json.dumps(run.message, ensure_ascii=False).encode("utf-8")  # sendable


@pytest.mark.parametrize("arguments, words", [
    ('{"x": NaN}', "NaN"), ('{"x": Infinity}', "Infinity"), ('{"x": -Infinity}', "Infinity"),
    ('{"x": ' + "[" * 1000 + "]" * 1000 + "}", "deeper than"),
    ('{"x": ' + "[" * 100 + "]" * 100 + "}", "deeper than"),
    ('{"x": "\\ud800"}', "lone surrogate"), ('{"x": "a\ud800b"}', "lone surrogate"),
])
def test_arguments_that_are_not_strict_json_never_reach_the_tool(arguments, words):
    called = []
    run = run_tool_call({"id": "c1", "function": {"name": "t", "arguments": arguments}},
                        {"t": lambda x: called.append(x)})
    assert not called and not run.ok and words in run.error and "the tool was not called" in run.error
    json.dumps(run.message, ensure_ascii=False).encode("utf-8")


def test_a_valid_surrogate_pair_is_an_ordinary_character():
    run = run_tool_call({"id": "c1", "function": {"name": "t", "arguments": '{"x": "\\ud83d\\ude00"}'}},
                        {"t": lambda x: x})
    assert run.ok and run.result == "\U0001F600"


def test_lone_surrogates_in_arguments_go_back_to_the_service_as_valid_text():
    from dms_magic.tools import ToolCall

    call = ToolCall.from_wire({"id": "c1", "function": {"name": "t", "arguments": '{"x": "a\ud800"}'}})
    json.dumps(call.to_wire(), ensure_ascii=False).encode("utf-8")
    assert call.arguments_raw == '{"x": "a\ud800"}'  # the result object keeps what arrived
