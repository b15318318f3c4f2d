"""Images and tools end to end: ``dms_magic.chat/stream(images=..., tools=...)`` over real HTTP to the
sandbox, and the official SDK's own SSE call with Tools answered by the sandbox.

Outside truths: Pillow writes the images (and reads their sizes), the SDK's response models parse
the sandbox's events, and ``sandbox.multimodal.image_tokens`` is held to published Qwen-VL examples in
test_sandbox_multimodal.py (here only the sum is checked: prompt tokens = text tokens + images').
"""
from __future__ import annotations

import io
import json

import pytest
from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions
from PIL import Image

import dms_magic
from dms_magic.images import ImageError, ImageTooLargeError, MAX_DATA_URL_BYTES, with_images
from dms_magic import InvalidParameterError
from dms_magic.sandbox.multimodal import image_tokens
from dms_magic.tools import tool_loop
from helpers.toolwire import encode_tools

pytestmark = pytest.mark.usefixtures("to_sandbox")


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (250, 250, 250)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_image(width: int, height: int) -> Image.Image:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 200)).save(buffer, format="JPEG")
    buffer.seek(0)
    return Image.open(buffer)


def get_weather(city: str, days: int = 1, unit: str = "celsius") -> dict:
    """Weather forecast for a city.

    Args:
        city: The city's name.
        days: How many days ahead.
    """
    return {"city": city, "days": days, "temperature_c": 21}


def book_table(restaurant: str, people: int = 2) -> str:
    """Book a table at a restaurant."""
    return f"booked {restaurant} for {people}"


def explode(reason: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(f"the database is down ({reason})")


# --- images ------------------------------------------------------------------------------------------

def test_images_from_a_path_bytes_a_pil_image_and_a_url_reach_the_sandbox(tmp_path, sandbox, received_entry):
    path = tmp_path / "form.png"
    path.write_bytes(png(640, 480))
    images = [str(path), png(56, 56), jpeg_image(100, 50), "https://example.com/scan.webp"]
    result = dms_magic.chat("What is in these images?", images=images, seed=3)
    parts = received_entry(sandbox, result.request_id)["request"].messages[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url", "image_url", "image_url"]
    urls = [p["image_url"]["url"] for p in parts[1:]]
    assert urls[0].startswith("data:image/png;base64,") and urls[1].startswith("data:image/png;base64,")
    assert urls[2].startswith("data:image/jpeg;base64,")  # a JPEG read from a file stays JPEG
    assert urls[3] == "https://example.com/scan.webp"  # a URL goes as it is
    # the answer states the number, format and size of what arrived
    assert "I received 4 images: PNG 640x480 pixels" in result.text
    assert "PNG 56x56 pixels" in result.text and "JPEG 100x50 pixels" in result.text
    assert "a WEBP image at a URL" in result.text
    # usage: the images' tokens (Qwen-VL's rule) on top of the text's
    text_only = dms_magic.chat("What is in these images?", seed=3)
    assert result.usage_dict["prompt_tokens"] == text_only.usage_dict["prompt_tokens"] + sum(
        image_tokens(p) for p in parts[1:])


def test_high_resolution_images_cost_more_prompt_tokens():
    big = png(1400, 1400)
    low = dms_magic.chat("describe", images=[big], seed=1)
    high = dms_magic.chat("describe", images=[big], seed=1, vl_high_resolution_images=True)
    assert high.usage_dict["prompt_tokens"] > low.usage_dict["prompt_tokens"]


def test_images_are_added_to_the_last_user_message_of_a_conversation():
    conversation = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "and this one?"}]
    out = with_images(conversation, [png(8, 8)])
    assert conversation[-1]["content"] == "and this one?"  # not changed in place
    assert out[-1]["content"][0] == {"type": "text", "text": "and this one?"}
    assert out[-1]["content"][1]["type"] == "image_url"
    with pytest.raises(ImageError, match="ends with a 'assistant' message"):
        with_images([*conversation, {"role": "assistant", "content": "ok"}], [png(8, 8)])


def test_an_oversize_image_is_refused_before_any_traffic(sandbox, arrivals, tmp_path):
    # a PNG header then noise: over the limit once base64-encoded
    path = tmp_path / "huge.png"
    path.write_bytes(png(4, 4)[:33] + b"\0" * (MAX_DATA_URL_BYTES * 3 // 4 + 10))
    seen = arrivals(sandbox)
    with pytest.raises(ImageTooLargeError) as info:
        dms_magic.chat("look", images=[str(path)])
    assert "huge.png" in str(info.value) and "10.00 MB" in str(info.value)
    with pytest.raises(ImageError, match="not a supported image"):
        dms_magic.stream("look", images=[b"plain text, not an image"])
    assert seen.count == 0


def test_a_streamed_answer_states_the_images_too():
    stream = dms_magic.stream("what is this?", images=png(28, 28), include_usage=True)
    text = "".join(chunk.text for chunk in stream)
    assert text == stream.result.text and "I received 1 image: PNG 28x28 pixels" in text


# --- tools -------------------------------------------------------------------------------------------

def test_callables_become_tools_on_the_wire(sandbox, received_entry):
    stream = dms_magic.stream("get_weather for Hangzhou, days=3", tools=[get_weather, book_table])
    result = stream.result
    entry = received_entry(sandbox, result.request_id)
    assert entry["query"]["Tools"] == encode_tools([get_weather, book_table])
    spec = json.loads(entry["query"]["Tools"])[0]["function"]
    assert spec["parameters"]["properties"]["days"] == {"type": "integer", "description": "How many days ahead.",
                                                        "default": 1}
    assert spec["parameters"]["required"] == ["city"]
    [call] = result.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Hangzhou", "days": 3})
    assert result.finish_reason == "tool_calls"
    frame = result.tool_calls_frame()
    assert list(frame["name"]) == ["get_weather"] and frame["arguments"][0] == {"city": "Hangzhou", "days": 3}
    assert frame["arguments_raw"][0] == call.arguments_raw and frame["arguments_error"][0] is None


def test_tool_choice_by_name_forces_that_tool_and_must_be_a_tool():
    result = dms_magic.stream("tell me something", tools=[get_weather, book_table], tool_choice="book_table").result
    assert [c.name for c in result.tool_calls] == ["book_table"]
    query = result.request.to_wire(stream=True)[0]
    assert query["ToolChoice"] == '{"type":"function","function":{"name":"book_table"}}'
    with pytest.raises(InvalidParameterError, match="get_weather, book_table") as info:
        dms_magic.stream("hi", tools=[get_weather, book_table], tool_choice="send_sms")
    assert info.value.param == "tool_choice"


def test_tools_need_the_streaming_action():
    # The SDK's plain request has no Tools field: refused before sending, naming the streaming action.
    with pytest.raises(InvalidParameterError, match="only with streaming"):
        dms_magic.chat("get_weather for Oslo", tools=[get_weather])


def test_a_callable_that_cannot_be_a_tool_is_named():
    def takes_a_set(values: set[bytes]) -> None:
        """Nope."""

    with pytest.raises(InvalidParameterError, match=r"tools\[1\]") as info:
        dms_magic.stream("hi", tools=[get_weather, takes_a_set])
    assert "bytes" in str(info.value)


def send_streamed(tools, **params):
    return lambda messages: dms_magic.stream(messages, tools=tools, **params).result


def test_a_two_round_tool_loop_with_the_sandbox():
    tools = [get_weather, book_table]
    out = tool_loop(send_streamed(tools), [{"role": "user", "content": 'get_weather for Oslo, then book_table '
                                             'restaurant="Lost Heaven" people=4'}], tools)
    assert out.rounds == 2 and out.stopped == "answer"
    assert [run.call.name for run in out.transcript] == ["get_weather", "book_table"]
    assert out.transcript[1].result == "booked Lost Heaven for 4"
    assert "The tool get_weather returned:" in out.result.text and "booked Lost Heaven for 4" in out.result.text
    assert [m["role"] for m in out.messages] == ["user", "assistant", "tool", "assistant", "tool"]


def test_a_tool_that_raises_becomes_its_error_message():
    out = tool_loop(send_streamed([explode]), [{"role": "user", "content": 'explode reason="disk"'}], [explode])
    [run] = out.transcript
    assert not run.ok and run.message["content"] == "Error: explode raised RuntimeError: the database is down (disk)"
    assert "The tool explode failed" in out.result.text  # the model got the error, the loop went on


def test_a_call_to_a_name_that_is_not_among_the_tools_is_refused():
    # The model (here: a scripted answer) asks for a tool the user did not give: it is not run.
    called = []

    def delete_everything() -> str:
        called.append(True)
        return "gone"

    answers = iter([{"tool_calls": [{"id": "c1", "function": {"name": "delete_everything", "arguments": "{}"}}],
                     "text": ""}, {"tool_calls": [], "text": "done"}])
    out = tool_loop(lambda messages: next(answers), [{"role": "user", "content": "hi"}], [get_weather])
    [run] = out.transcript
    assert not run.ok and "'delete_everything' is not one of the tools given (get_weather)" in run.error
    assert not called


def test_the_sdk_streaming_call_with_tools_is_answered_with_a_tool_call(sandbox):
    config = Config(access_key_id=sandbox.access_key_id, access_key_secret=sandbox.access_key_secret,
                    endpoint=f"127.0.0.1:{sandbox.port}", protocol="http")
    request = sdk_models.ChatWithDesensitizeSSERequest(
        instance_id=1, stream=True, messages=[{"role": "user", "content": "get_weather for Paris, days=2"}],
        tools=encode_tools([get_weather]), tool_choice="auto")
    events = list(sdk_client_mod.Client(config).chat_with_desensitize_ssewith_sse(request, RuntimeOptions()))
    datas = [json.loads(e.body.data) for e in events]  # the SDK types Data as a JSON string
    assert all(e.body.success for e in events)
    pieces = [d["Choices"][0]["Message"].get("ToolCalls") for d in datas]
    head = next(p for p in pieces if p)[0]
    assert head["Function"]["Name"] == "get_weather" and head["Id"].startswith("call_")
    arguments = "".join(p[0]["Function"]["Arguments"] for p in pieces if p)
    assert json.loads(arguments) == {"city": "Paris", "days": 2}
    assert datas[-1]["Choices"][0]["FinishReason"] == "tool_calls"


def test_masking_applies_to_text_parts_and_leaves_images_and_tool_turns_as_they_are():
    from dms_magic.images import image_part
    from dms_magic.masking import mask_text_parts

    picture = image_part(png(8, 8))
    conversation = [
        {"role": "user", "content": [{"type": "text", "text": "我的手机号13812345678"}, picture]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"p": "13812345678"}'}}]},
        {"role": "tool", "content": "call 13812345678", "tool_call_id": "c1"},
    ]
    masked = mask_text_parts(conversation, "UserInfo")
    assert "13812345678" not in masked[0]["content"][0]["text"] and masked[0]["content"][1] == picture
    assert masked[1] == conversation[1]  # the model wrote those arguments itself: nothing to mask
    assert "13812345678" not in masked[2]["content"]
    assert conversation[0]["content"][0]["text"] == "我的手机号13812345678"  # the input is not changed
    assert [span.original for _, span in masked.entities] == ["13812345678", "13812345678"]


def test_the_plain_action_answers_a_tool_conversation_with_the_results():
    # The plain request has no Tools, but a conversation with tool turns is any message list: the
    # answer uses the tool's result.
    conversation = [
        {"role": "user", "content": "get_weather for Oslo"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature_c": 3}'},
    ]
    result = dms_magic.chat(conversation)
    assert result.finish_reason == "stop" and result.tool_calls == []
    assert 'Based on the tool results: The tool get_weather returned: {"temperature_c": 3}.' in result.text


def test_the_loop_goes_on_with_the_sandbox_after_unrunnable_arguments_and_unsendable_results():
    """Issue 23 items 5/13: lone surrogates or NaN in the model's arguments, or a result that cannot
    become text, used to abort the loop (after the tool ran); now each is a tool message the
    sandbox receives over HTTP, and the conversation goes on."""
    ran = []

    def echo(x: str) -> str:
        ran.append(x)
        return x

    def cyclic() -> dict:
        value: dict = {}
        value["self"] = value
        return value

    first = iter([{"text": "", "tool_calls": [
        {"id": "c1", "function": {"name": "echo", "arguments": '{"x": "a\ud800"}'}},
        {"id": "c2", "function": {"name": "echo", "arguments": '{"x": NaN}'}},
        {"id": "c3", "function": {"name": "cyclic", "arguments": "{}"}}]}])
    to_sandbox = send_streamed([echo, cyclic])
    out = tool_loop(lambda messages: next(first, None) or to_sandbox(messages),
                    [{"role": "user", "content": "use the tools"}], [echo, cyclic])
    assert out.stopped == "answer" and out.result.text  # the sandbox answered the second round
    assert not ran and [run.ok for run in out.transcript] == [False, False, False]
    assert [m["role"] for m in out.messages] == ["user", "assistant", "tool", "tool", "tool"]
