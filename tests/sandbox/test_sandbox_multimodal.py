"""The sandbox's image and tool behaviour, as pure functions (the app wiring comes later).

Outside truths: the image token counts are held to worked examples published by someone else
(SiliconFlow's vision guide for Qwen2-VL: 28-pixel patches, 16,384-patch cap, no start/end
markers) plus the 2 vision markers of Alibaba Cloud's rule; a tool call's arguments must validate
against the tool's JSON schema with ``jsonschema``.
"""
from __future__ import annotations

import io
import json

import jsonschema
import pytest
from PIL import Image

from dms_magic.images import image_part, user_message
from dms_magic.sandbox.multimodal import (
    MAX_IMAGE_TOKENS, answer_after_tools, describe_images, image_tokens, tool_call_for, vl_patches,
)
from dms_magic.tools import ToolCall, tool_loop, tool_specs


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


# --- images ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size, patches", [((224, 448), 128), ((1024, 1024), 1369), ((3172, 4096), 16240)])
def test_patches_match_published_qwen_vl_examples(size, patches):
    # SiliconFlow "vision" guide, detail=high on Qwen2-VL (max 3584*3584 px = 16,384 patches of 28x28).
    assert vl_patches(*size, max_tokens=16384) == patches


def test_image_tokens_follow_the_default_cap_and_high_resolution():
    part = image_part(png(1024, 1024))
    # 1036x1036 (37x37 patches) is above the default 1280-patch cap: scaled to 980x980 = 35x35.
    assert image_tokens(part) == 35 * 35 + 2
    assert image_tokens(part, high_resolution=True) == 37 * 37 + 2
    assert image_tokens(image_part(png(224, 448))) == 128 + 2


def test_tiny_images_cost_the_minimum():
    assert image_tokens(image_part(png(3, 3))) == 4 + 2


def test_bigger_images_never_cost_less():
    costs = [image_tokens(image_part(png(side, side))) for side in (28, 100, 300, 600, 900, 2000, 4000)]
    assert costs == sorted(costs) and costs[-1] <= MAX_IMAGE_TOKENS + 2


def test_a_url_image_is_counted_at_the_cap():
    part = image_part("https://example.com/a.png")
    assert image_tokens(part) == MAX_IMAGE_TOKENS + 2
    assert image_tokens(part, high_resolution=True) == 16384 + 2


def test_describe_images_states_number_format_and_size():
    gif = io.BytesIO()
    Image.new("L", (20, 10)).save(gif, format="GIF")
    parts = [image_part(png(640, 480)), image_part(gif.getvalue()), image_part("https://example.com/x.webp")]
    text = describe_images(parts)
    assert text.startswith("I received 3 images: ")
    assert f"PNG 640x480 pixels, {len(png(640, 480)):,} bytes" in text
    assert f"GIF 20x10 pixels, {len(gif.getvalue()):,} bytes" in text
    assert "a WEBP image at a URL" in text
    assert describe_images([image_part(png(1, 1))]).startswith("I received 1 image: PNG 1x1")
    assert describe_images([]) == "I received no images."


# --- tools ----------------------------------------------------------------------------------------------

def get_weather(city: str, days: int = 1, unit: str = "celsius") -> dict:
    """Weather for a city."""
    return {"city": city, "days": days, "temperature": 25}


def book_table(restaurant: str, people: int, time: str, vip: bool = False) -> str:
    """Book a table."""
    return f"booked {restaurant} for {people} at {time}"


TOOLS = tool_specs([get_weather, book_table])


def args_of(call: dict) -> dict:
    return json.loads(call["function"]["arguments"])


def fits(call: dict) -> bool:
    spec = next(t for t in TOOLS if t["function"]["name"] == call["function"]["name"])
    return jsonschema.Draft202012Validator(spec["function"]["parameters"]).is_valid(args_of(call))


def ask(text: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_a_named_tool_is_called_with_values_from_the_prompt():
    call = tool_call_for(TOOLS, ask("Use get_weather for Hangzhou, days=3 please"))
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert args_of(call) == {"city": "Hangzhou", "days": 3}
    assert fits(call) and call["id"].startswith("call_")


def test_required_parameters_are_always_filled_by_type():
    call = tool_call_for(TOOLS, ask('book_table at "Lost Heaven" for 4 people at 19:30'))
    arguments = args_of(call)
    assert set(arguments) == {"restaurant", "people", "time"}  # required ones; vip is optional
    assert arguments == {"restaurant": "Lost Heaven", "people": 4, "time": "19:30"}
    assert fits(call)
    bare = tool_call_for(TOOLS, ask("book_table"))
    assert fits(bare) and set(args_of(bare)) == {"restaurant", "people", "time"}


@pytest.mark.parametrize("prompt, city", [
    ("get_weather for New York", "New York"),
    ("I want get_weather in paris", "paris"),
    ("请调用 get_weather 查询杭州的天气", "杭州的天气"),
])
def test_a_string_value_is_found_in_free_text(prompt, city):
    assert args_of(tool_call_for(TOOLS, ask(prompt))) == {"city": city}


def test_named_values_take_the_schema_type():
    call = tool_call_for(TOOLS, ask("book_table restaurant: 'Ye Shanghai', people=2, time=noon, vip=yes"))
    assert args_of(call) == {"restaurant": "Ye Shanghai", "people": 2, "time": "noon", "vip": True}
    assert fits(call)


def test_the_first_named_tool_wins_and_names_are_whole_words():
    call = tool_call_for(TOOLS, ask("first book_table, then get_weather"))
    assert call["function"]["name"] == "book_table"
    assert tool_call_for(TOOLS, ask("call get_weather_v2 or my_get_weather")) is None


def test_no_call_without_a_named_tool_or_after_tool_results():
    assert tool_call_for(TOOLS, ask("What is the weather like?")) is None
    assert tool_call_for([], ask("get_weather")) is None
    after = ask("get_weather Hangzhou") + [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                                                             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "25"}]
    assert tool_call_for(TOOLS, after) is None


def test_tool_choice_none_and_a_forced_tool():
    assert tool_call_for(TOOLS, ask("get_weather Paris"), tool_choice="none") is None
    forced = tool_call_for(TOOLS, ask("just chat about Paris"),
                           tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert forced["function"]["name"] == "get_weather" and args_of(forced) == {"city": "Paris"}
    as_text = tool_call_for(TOOLS, ask("chat"), tool_choice='{"type":"function","function":{"name":"book_table"}}')
    assert as_text["function"]["name"] == "book_table"


def test_tools_as_they_arrive_in_the_query_and_image_messages():
    message = user_message("get_weather city=上海", [png(8, 8)])
    call = tool_call_for(json.dumps(TOOLS), [message])
    assert args_of(call) == {"city": "上海"}


def test_the_call_is_deterministic():
    assert tool_call_for(TOOLS, ask("get_weather Rome")) == tool_call_for(TOOLS, ask("get_weather Rome"))


def test_an_enum_parameter_gets_one_of_its_values():
    spec = {"name": "convert", "parameters": {"type": "object", "required": ["unit"],
                                              "properties": {"unit": {"type": "string", "enum": ["C", "F"]}}}}
    assert args_of(tool_call_for([spec], ask("convert to F"))) == {"unit": "F"}
    assert args_of(tool_call_for([spec], ask("convert"))) == {"unit": "C"}


def test_the_answer_after_tools_uses_their_content():
    messages = ask("get_weather Hangzhou") + [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "book_table", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temperature": 25}'},
        {"role": "tool", "tool_call_id": "c2", "content": "Error: book_table raised KeyError: 'x'"}]
    answer = answer_after_tools(messages)
    assert 'The tool get_weather returned: {"temperature": 25}.' in answer
    assert "The tool book_table failed (book_table raised KeyError: 'x')" in answer
    assert answer_after_tools(ask("hi")) == ""


class Reply:
    def __init__(self, text="", tool_calls=()):
        self.text, self.tool_calls = text, [ToolCall.from_wire(c) for c in tool_calls]


def sandbox_model(messages):
    """tool_call_for + answer_after_tools, as the sandbox app will answer."""
    call = tool_call_for(TOOLS, messages)
    return Reply(tool_calls=[call]) if call else Reply(text=answer_after_tools(messages))


def test_the_sandbox_pieces_drive_a_whole_tool_loop():
    out = tool_loop(sandbox_model, ask("get_weather Hangzhou days=2"), [get_weather, book_table])
    assert out.rounds == 1 and out.stopped == "answer"
    assert out.transcript[0].call.arguments == {"city": "Hangzhou", "days": 2}
    assert '"temperature":25' in out.result.text and '"city":"Hangzhou"' in out.result.text


def test_two_named_tools_make_a_two_round_loop():
    prompt = 'get_weather city=Hangzhou, then book_table "Lost Heaven" for 2 people at 19:30'
    out = tool_loop(sandbox_model, ask(prompt), [get_weather, book_table])
    assert (out.rounds, out.stopped) == (2, "answer")
    assert [(r.round, r.call.name) for r in out.transcript] == [(1, "get_weather"), (2, "book_table")]
    assert out.transcript[1].call.arguments == {"restaurant": "Lost Heaven", "people": 2, "time": "19:30"}
    assert "booked Lost Heaven for 2 at 19:30" in out.result.text and "Hangzhou" in out.result.text
    # each tool is called once per user message: the conversation so far asks for nothing more
    assert tool_call_for(TOOLS, out.messages) is None


def test_a_forced_tool_is_called_once():
    forced = {"type": "function", "function": {"name": "get_weather"}}
    first = tool_call_for(TOOLS, ask("hello Oslo"), tool_choice=forced)
    after = ask("hello Oslo") + [{"role": "assistant", "content": "", "tool_calls": [first]},
                                 {"role": "tool", "tool_call_id": first["id"], "content": "cold"}]
    assert tool_call_for(TOOLS, after, tool_choice=forced) is None


# --- issue 23 item 7: one pass over the prompt, however many tools ------------------------------------
class _PromptScans:
    """Stands in for ``re`` inside multimodal.py and counts the regex calls that scan the prompt."""

    def __init__(self, real, marker: str):
        self._real, self._marker, self.count = real, marker, 0

    def __getattr__(self, name):
        return getattr(self._real, name)

    def _seen(self, string):
        if isinstance(string, str) and self._marker in string:
            self.count += 1

    def compile(self, pattern, flags=0):
        compiled, scans = self._real.compile(pattern, flags), self

        class Counted:
            def __getattr__(self, name):
                method = getattr(compiled, name)
                if not callable(method):
                    return method

                def counted(string=None, *args, **kwargs):
                    scans._seen(string)
                    return method(string, *args, **kwargs)

                return counted

        return Counted()

    def _scan(name):
        def scan(self, pattern, string, *args, **kwargs):
            self._seen(string)
            return getattr(self._real, name)(pattern, string, *args, **kwargs)

        return scan

    search, match, fullmatch = _scan("search"), _scan("match"), _scan("fullmatch")
    finditer, findall = _scan("finditer"), _scan("findall")


@pytest.mark.parametrize("tool_count", [300])
def test_the_sandbox_scans_the_prompt_once_for_all_tools(client, monkeypatch, tool_count):
    import re

    from dms_magic.sandbox import multimodal

    marker = "MARKER-PROMPT-7f2"
    prompt = f"{marker} " + "some words of a long prompt " * 2000 + "then call_tool_7 please"

    def scans_for(count: int) -> int:
        spy = _PromptScans(re, marker)
        monkeypatch.setattr(multimodal, "re", spy)
        tools = [{"type": "function", "function": {"name": f"call_tool_{i}", "parameters": {
            "type": "object", "properties": {}}}} for i in range(count)]
        with client.stream(prompt, tools=tools) as stream:
            result = stream.result
        monkeypatch.setattr(multimodal, "re", re)
        assert [call.name for call in result.tool_calls] == ["call_tool_7"]
        return spy.count

    few, many = scans_for(8), scans_for(tool_count)
    assert many == few <= 2, (few, many)  # the same pass(es), not one search per tool
