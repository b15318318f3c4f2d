"""``%%dmschat --image/--tools/--tool-choice/--run-tools`` in a real InteractiveShell, against the
sandbox over HTTP: what reaches the wire, what the card shows, and the tool loop.
"""
from __future__ import annotations

import html
import io
import json
import re

import pytest
from IPython.utils.capture import capture_output
from PIL import Image

from dms_magic.images import IMAGES_NOT_MASKED, MAX_DATA_URL_BYTES

pytestmark = pytest.mark.usefixtures("to_sandbox")


class Ran:
    def __init__(self, result, captured):
        self.success = result.success
        self.error = result.error_in_exec or result.error_before_exec
        self.outputs = [o.data for o in captured.outputs]
        self.stderr = captured.stderr

    @property
    def html(self) -> str:
        return "\n".join(d.get("text/html", "") for d in self.outputs)

    @property
    def plain(self) -> str:
        return "\n".join(str(d.get("text/plain", "")) for d in self.outputs)


def run(ip, source: str) -> Ran:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return Ran(result, captured)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(buffer, format="PNG")
    return buffer.getvalue()


TOOLS_SOURCE = '''
def get_weather(city: str, days: int = 1) -> dict:
    """Weather forecast for a city."""
    return {"city": city, "days": days, "temperature_c": 21}

def book_table(restaurant: str, people: int = 2) -> str:
    """Book a table at a restaurant."""
    return f"booked {restaurant} for {people}"

def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError("the database is down")

def send_sms(phone: str, text: str = "hi") -> str:
    """Send a text message."""
    return "sent"

tools = [get_weather, book_table]
'''


@pytest.fixture
def with_tools(ip):
    ip.run_cell(TOOLS_SOURCE)


# -- images -----------------------------------------------------------------------------------------
def test_images_from_a_path_and_a_variable_are_sent_and_shown_as_thumbnails(ip, sandbox, tmp_path):
    path = tmp_path / "form.png"
    path.write_bytes(png(120, 80))
    ip.user_ns["shot"] = png(30, 20)
    ran = run(ip, f"%%dmschat --image {path} --image $shot -o r\nWhat do these show?")
    assert ran.success, ran.error
    parts = sandbox.received[-1]["request"].messages[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert parts[1]["image_url"]["url"] == "data:image/png;base64," + __import__("base64").b64encode(
        path.read_bytes()).decode()
    # the card: a small JPEG thumbnail of each image sent, captioned with its name; masking is off, so
    # no sentence that images are not masked (issue 24, item 15)
    assert ran.html.count('<img src="data:image/jpeg;base64,') == 2
    assert IMAGES_NOT_MASKED not in ran.plain and html.escape(IMAGES_NOT_MASKED) not in ran.html
    assert "PNG 120x80" in ran.html and "PNG 30x20" in ran.html
    assert "form.png" in ran.html and "$shot" in ran.html and "form.png" in ran.plain
    # the image section comes before the answer card, as in a dry run
    assert ran.html.index("dms-images") < ran.html.index("dms-chat-result")
    assert "I received 2 images: PNG 120x80 pixels" in ip.user_ns["r"].text


def test_a_url_image_is_linked_not_loaded(ip, sandbox):
    ran = run(ip, "%%dmschat --image https://example.com/scan.jpg\nRead it")
    assert ran.success, ran.error
    assert sandbox.received[-1]["request"].messages[-1]["content"][1]["image_url"]["url"] == \
        "https://example.com/scan.jpg"
    assert '<a href="https://example.com/scan.jpg"' in ran.html and "<img" not in ran.html


def test_bad_images_fail_the_cell_in_one_line_before_any_traffic(ip, sandbox, arrivals, tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(png(4, 4)[:33] + b"\0" * (MAX_DATA_URL_BYTES * 3 // 4 + 10))
    seen = arrivals(sandbox)
    for option, words in ((f"--image {huge}", "too large to send"), ("--image /no/such.png", "does not exist"),
                          ("--image $undefined_image", "is not defined"),
                          ("--image $tools_text", "not a supported image")):
        ip.user_ns["tools_text"] = b"just text"
        ran = run(ip, f"%%dmschat {option}\nhello")
        assert not ran.success and type(ran.error).__name__ == "UsageError"
        assert words in str(ran.error) and str(ran.error).startswith("--image")
    assert seen.count == 0


def test_the_dry_run_shows_thumbnails_says_images_are_not_masked_and_counts_their_tokens(ip, sandbox, arrivals):
    ip.user_ns["shot"] = png(200, 100)
    seen = arrivals(sandbox)
    ran = run(ip, "%%dmschat --image $shot --dry-run --mask --rule UserInfo\n我的手机号13812345678")
    assert ran.success, ran.error and seen.count == 0
    assert '<img src="data:image/jpeg;base64,' in ran.html and html.escape(IMAGES_NOT_MASKED) in ran.html
    assert ran.html.index("dms-images") < ran.html.index("dms-dry-run")  # before the card, as on a send
    assert "would be sent" in ran.plain and "138****5678" in ran.plain  # the text part's masking preview
    assert len(ran.html) < 20_000  # the base64 is cut in the request table, not dumped on the page
    # the estimate counts the image as the sandbox does (unmasked text: masking changes the text's count)
    dry = run(ip, "%%dmschat --image $shot --dry-run\n我的手机号13812345678")
    estimate = int(dry.plain.split("~", 1)[1].split(" ", 1)[0])
    sent = run(ip, "%%dmschat --image $shot -o r\n我的手机号13812345678")
    assert sent.success and ip.user_ns["r"].usage_dict["prompt_tokens"] == estimate


# -- tools ------------------------------------------------------------------------------------------
def test_tools_switch_to_streaming_and_the_card_lists_the_calls(ip, sandbox, with_tools):
    ran = run(ip, "%%dmschat --tools $tools -o r\nget_weather for Paris, days=2")
    assert ran.success, ran.error
    entry = sandbox.received[-1]
    assert entry["action"] == "ChatWithDesensitizeSSE"
    assert [t["function"]["name"] for t in json.loads(entry["query"]["Tools"])] == ["get_weather", "book_table"]
    [call] = ip.user_ns["r"].tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris", "days": 2})
    assert "not run" in ran.html and "get_weather" in ran.html
    assert ip.user_ns["r"].tool_calls_frame()["name"].tolist() == ["get_weather"]


def test_tool_choice_names_a_tool(ip, sandbox, with_tools):
    ran = run(ip, "%%dmschat --tools $tools --tool-choice book_table -o r\nanything")
    assert ran.success, ran.error
    assert sandbox.received[-1]["query"]["ToolChoice"] == '{"type":"function","function":{"name":"book_table"}}'
    assert [c.name for c in ip.user_ns["r"].tool_calls] == ["book_table"]
    bad = run(ip, "%%dmschat --tools $tools --tool-choice send_email\nanything")
    assert not bad.success and "get_weather, book_table" in str(bad.error)


def test_run_tools_loops_two_rounds_and_shows_each_call_and_result(ip, sandbox, with_tools):
    ran = run(ip, "%%dmschat --tools $tools --run-tools --session trip -o r\n"
                  'get_weather city=Oslo, then book_table restaurant="Lost Heaven" people=4')
    assert ran.success, ran.error
    result = ip.user_ns["r"]
    assert result.finish_reason == "stop" and "booked Lost Heaven for 4" in result.text
    assert "The tool get_weather returned:" in result.text
    # the card: both rounds, each call with its arguments and result
    assert "2 rounds" in ran.html
    assert html.escape('{"city":"Oslo"}') in ran.html and "booked Lost Heaven for 4" in ran.html
    assert "round 1: get_weather" in ran.plain and "round 2: book_table" in ran.plain
    # the conversation the model saw: user, assistant call, tool result, assistant call, tool result
    sent = sandbox.received[-1]["request"].messages
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "tool"]
    history = ip.magics_manager.registry["DmsChatMagics"].histories["trip"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


def test_run_tools_stops_at_the_round_limit(ip, with_tools):
    ran = run(ip, "%%dmschat --tools $tools --run-tools 1 -o r\nget_weather city=Oslo, then book_table")
    assert ran.success, ran.error
    assert "stopped at the round limit" in ran.html and "not run (round limit)" in ran.html
    assert [c.name for c in ip.user_ns["r"].tool_calls] == ["book_table"]


def test_a_tool_that_raises_is_reported_and_the_cell_goes_on(ip, with_tools):
    ip.user_ns["only_explode"] = [ip.user_ns["explode"]]
    ran = run(ip, "%%dmschat --tools $only_explode --run-tools -o r\nexplode reason=disk")
    assert ran.success, ran.error
    assert "✗" in ran.html and "explode raised RuntimeError: the database is down" in ran.html
    assert "The tool explode failed" in ip.user_ns["r"].text


def test_a_spec_without_a_function_is_not_run(ip, with_tools):
    ip.user_ns["specs"] = [{"type": "function", "function": {"name": "delete_everything", "parameters": {
        "type": "object", "properties": {}}}}]
    ran = run(ip, "%%dmschat --tools $specs --run-tools -o r\ndelete_everything now")
    assert ran.success, ran.error
    assert "declared as a spec without a Python function" in ran.html


def test_spec_dicts_run_the_notebook_function_of_that_name(ip, with_tools):
    from dms_magic.tools import tool_spec

    ip.user_ns["specs"] = [tool_spec(ip.user_ns["get_weather"])]
    ran = run(ip, "%%dmschat --tools $specs --run-tools -o r\nget_weather city=Rome")
    assert ran.success, ran.error
    assert '"city":"Rome"' in ip.user_ns["r"].text


def test_run_tools_needs_tools_and_tools_do_not_compare(ip, with_tools, sandbox, arrivals):
    seen = arrivals(sandbox)
    ran = run(ip, "%%dmschat --run-tools\nhello")
    assert not ran.success and "--run-tools needs --tools" in str(ran.error)
    ran = run(ip, "%%dmschat --tools $tools --compare\nget_weather city=Oslo")
    assert not ran.success and "tools need the streaming action" in str(ran.error)
    assert seen.count == 0


def test_with_masking_the_card_flags_sensitive_arguments_and_shows_what_the_model_saw(ip, with_tools):
    ip.user_ns["sms"] = [ip.user_ns["send_sms"]]
    ran = run(ip, "%%dmschat --tools $sms --run-tools --mask --rule UserInfo -o r\n"
                  "send_sms phone=13812345678")
    assert ran.success, ran.error
    assert "the model saw masked text only" in ran.html
    assert "arguments that look sensitive" in ran.html and "send_sms.phone" in ran.html
    assert "138****5678" in ran.html  # the masked value the model put into the argument
    assert "what the model saw" in ran.html and "13812345678" not in ran.html.split("what the model saw")[1]


def test_a_call_to_a_tool_that_was_not_given_is_refused(ip, with_tools):
    # A model that asks for a function nobody offered (here: a scripted server): it is not called,
    # even though a function of that name exists in the notebook; the refusal goes back as its answer.
    from helpers.scripted import ScriptedServer, sse_body, sse_event

    called = []
    ip.user_ns["drop_tables"] = lambda: called.append(True)
    asked = sse_event(finish="tool_calls")
    asked["Data"]["Choices"][0]["Message"]["ToolCalls"] = [
        {"Index": 0, "Id": "call_x", "Type": "function", "Function": {"Name": "drop_tables", "Arguments": "{}"}}]
    server = ScriptedServer([sse_body("data: " + json.dumps(asked) + "\n\n"),
                             sse_body("data: " + json.dumps(sse_event("done", finish="stop")) + "\n\n")])
    try:
        ran = run(ip, f"%%dmschat --endpoint {server.url} --tools $tools --run-tools -o r\nclean up")
    finally:
        server.close()
    assert ran.success, ran.error
    assert not called and ip.user_ns["r"].text == "done"
    assert "'drop_tables' is not one of the tools given (book_table, get_weather)" in html.unescape(ran.html)
    sent_back = json.loads(server.requests[1]["form"]["Messages"])[-1]
    assert sent_back["role"] == "tool" and sent_back["content"].startswith("Error: 'drop_tables' is not one of")


# -- issue 23 item 11: outputs stay small -----------------------------------------------------------
def noisy_png(width: int, height: int, seed: int) -> bytes:
    import random

    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_card_shows_thumbnails_of_a_few_kb_not_the_images(ip, sandbox):
    ip.user_ns["shots"] = [noisy_png(1100, 800, seed) for seed in range(3)]  # 2.6 MB each
    sent = sum(len(shot) for shot in ip.user_ns["shots"])
    for line in ("--image $shots -o r", "--image $shots --stream", "--image $shots --dry-run"):
        ran = run(ip, f"%%dmschat {line}\nWhat do these show?")
        assert ran.success, ran.error
        final = ran.outputs[-1]  # what the notebook keeps: each update replaces the display before it
        output = len(json.dumps(final))
        assert final["text/html"].count('<img src="data:image/jpeg;base64,') == 3, line
        assert output < 100_000 < sent, (line, output)  # three thumbnails and the card, not 7.8 MB of images
    assert len(sandbox.received[-1]["request"].messages[-1]["content"]) == 4  # the images were sent whole


def test_long_tool_arguments_are_shortened_in_the_card_and_kept_whole_on_the_result(ip, sandbox):
    ip.run_cell("def echo(text: str) -> str:\n    'Say it back.'\n    return text[:10]\ntools_list = [echo]")
    long_text = "lorem ipsum " * 20_000  # 240 KB that the model writes into the call's arguments
    for line in ("--tools $tools_list -o r", "--tools $tools_list --run-tools 1"):
        ran = run(ip, f'%%dmschat {line}\necho text="{long_text}"')
        assert ran.success, ran.error
        final = ran.outputs[-1]  # what the notebook keeps: each update replaces the display before it
        output = len(json.dumps(final))
        assert output < 30_000, (line, output)  # was twice the arguments: once in HTML, once in text
        assert re.search(r"2\d\d,\d{3} characters; the whole text is on", final["text/html"])
        assert len(final["text/plain"]) < 5_000  # cut in the text view too (240 KB of arguments)
    [call] = ip.user_ns["r"].tool_calls
    assert json.loads(call.arguments_raw)["text"].strip() == long_text.strip()  # the result keeps it whole
