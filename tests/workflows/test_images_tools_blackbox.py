"""Black-box tests of issue 15 (images and tools), written from the issue, README.md and
docs/architecture.md only, without reading images.py, tools.py, sandbox/* or notebook/*.

Truths used: the issue's text; the README (10 MB per image, "images are sent as they are", tools go
over the streaming action, `--run-tools [N]` default 5, a tool that raises becomes an error message,
an unknown name is refused); the official SDK's ChatWithDesensitizeSSERequest (Tools/ToolChoice
are strings sent as query parameters as given; Messages is JSON in the form body); OpenAI's
function-calling conventions (a function spec `{"type": "function", "function": {name, description,
parameters: JSON schema}}`, tool_choice "auto" | "none" | {"type": "function", "function": {name}}).

Servers: the shared in-process sandbox (tests/conftest.py) and, where the model's behaviour must be
scripted (a call to an unknown name, bad JSON arguments, two calls at once, a loop that never
ends), the hand-built ReplyServer of test_sdk_reply_shapes.py.
"""
from __future__ import annotations

import base64
import enum
import io
import json
import math
import time
import urllib.parse
from typing import Literal, Optional

import pytest
from IPython.utils.capture import capture_output

import dms_magic
from helpers.sdk_replies import AK, SK, Reply, ReplyServer, Stream, request_params, sdk_client

from alibabacloud_dms_enterprise20181101 import models as sdk_models
from darabonba.runtime import RuntimeOptions

pytestmark = [pytest.mark.blackbox, pytest.mark.usefixtures("to_sandbox")]  # blackbox: written without reading dms_magic/

LIMIT = 10_000_000  # README: 10 MB per image; architecture: bytes of the data: URL, decimal


# ------------------------------------------------------------------ helpers


def png_bytes(w=64, h=48, color=(200, 30, 30)) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def image_bytes(fmt: str, w=40, h=30) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 120, 200)).save(buf, fmt)
    return buf.getvalue()


def image_parts_of(messages) -> list[dict]:
    out = []
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            out += [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    return out


def url_of(part) -> str:
    iu = part["image_url"]
    return iu if isinstance(iu, str) else iu["url"]


def decode(url: str) -> tuple[str, bytes]:
    head, _, payload = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head[:60]
    return head[5:-7], base64.b64decode(payload)


def sent_messages(entry) -> list:
    return json.loads(entry["form"]["Messages"])


def run(ip, cell: str):
    """Run a cell; return (result, captured output with stdout/stderr and rich outputs)."""
    with capture_output() as cap:
        res = ip.run_cell(cell)
    return res, cap


def shown(cap) -> str:
    """Everything the cell showed: stdout, stderr and every rich output's text/html."""
    parts = [cap.stdout, cap.stderr]
    for o in cap.outputs:
        parts += [str(v) for v in o.data.values()]
    return "\n".join(parts)


def assert_short_error(res, cap, *needles):
    assert res.error_in_exec is not None, "the cell should have failed"
    text = cap.stdout + cap.stderr
    assert "Traceback (most recent call last)" not in text, text[-2000:]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert 0 < len(lines) <= 8, text
    low = text.lower()
    for n in needles:
        assert n.lower() in low, (n, text)


@pytest.fixture
def imgdir(tmp_path):
    return tmp_path


# ================================================================== images


def test_image_from_path_bytes_pil_and_url_arrive_as_data_urls_or_as_is(sandbox, arrivals, imgdir):
    from PIL import Image
    p = imgdir / "form.png"
    raw_png = png_bytes()
    p.write_bytes(raw_png)
    raw_jpg = image_bytes("JPEG")
    pil = Image.new("RGB", (33, 22), (1, 2, 3))
    url = "https://example.com/scan.jpg"
    a = arrivals(sandbox)
    r = dms_magic.chat("What is in these images?", images=[str(p), raw_jpg, pil, url])
    (entry,) = a.entries()
    parts = image_parts_of(sent_messages(entry))
    assert len(parts) == 4
    assert decode(url_of(parts[0])) == ("image/png", raw_png)
    assert decode(url_of(parts[1])) == ("image/jpeg", raw_jpg)
    mime, data = decode(url_of(parts[2]))
    assert mime == "image/png" and Image.open(io.BytesIO(data)).size == (33, 22)
    assert url_of(parts[3]) == url
    # the text part first, in the one user message
    first = sent_messages(entry)[-1]["content"][0]
    assert first == {"type": "text", "text": "What is in these images?"}
    # the sandbox states what it received, and counts image tokens
    assert "PNG" in r.text and "JPEG" in r.text


@pytest.mark.parametrize("fmt, mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                       ("WEBP", "image/webp"), ("BMP", "image/bmp")])
def test_each_supported_format_from_a_file_keeps_its_bytes_and_mime(sandbox, arrivals, imgdir, fmt, mime):
    raw = image_bytes(fmt)
    p = imgdir / f"x.{fmt.lower()}"
    p.write_bytes(raw)
    a = arrivals(sandbox)
    r = dms_magic.chat("describe", images=[p])
    (entry,) = a.entries()
    (part,) = image_parts_of(sent_messages(entry))
    assert decode(url_of(part)) == (mime, raw)
    assert "40" in r.text and "30" in r.text, r.text  # size stated by the sandbox


def _bad_files(d):
    png = png_bytes()
    (d / "trunc.png").write_bytes(png[:40])
    (d / "text.png").write_text("this is not an image at all\n")
    (d / "pic.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    (d / "empty.png").write_bytes(b"")
    (d / "adir.png").mkdir()
    return {"truncated-png": d / "trunc.png", "text-renamed-png": d / "text.png", "svg": d / "pic.svg",
            "zero-bytes": d / "empty.png", "missing": d / "nope.png", "directory": d / "adir.png"}


@pytest.mark.parametrize("case", ["text-renamed-png", "svg", "zero-bytes", "missing", "directory"])
def test_bad_image_files_are_refused_before_traffic_with_a_short_error(ip, sandbox, arrivals, imgdir, case):
    path = _bad_files(imgdir)[case]
    a = arrivals(sandbox)
    with pytest.raises(ValueError) as ei:
        dms_magic.chat("look", images=[str(path)])
    msg = str(ei.value)
    assert path.name in msg, msg
    assert len(msg) < 400 and "\n" not in msg.strip(), msg
    # the magic: a short error naming the file, no traceback
    res, cap = run(ip, f"%%dmschat --image {path}\nlook\n")
    assert_short_error(res, cap, path.name)
    assert a.count == 0


def test_truncated_png_is_refused_or_sent_unchanged(sandbox, arrivals, imgdir):
    """The docs do not say whether a PNG cut after its header is checked; it must not be altered."""
    path = _bad_files(imgdir)["truncated-png"]
    a = arrivals(sandbox)
    try:
        dms_magic.chat("look", images=[path])
    except ValueError as e:
        assert path.name in str(e)
        assert a.count == 0
        return
    (entry,) = a.entries()
    (part,) = image_parts_of(sent_messages(entry))
    assert decode(url_of(part))[1] == path.read_bytes()


def _png_of_size(n: int) -> bytes:
    base = png_bytes(8, 8)
    return base + b"\0" * (n - len(base))  # trailing bytes after IEND: a PNG by its magic number


def _data_url_len(n: int) -> int:
    return len("data:image/png;base64,") + 4 * math.ceil(n / 3)


def test_image_just_above_the_limit_is_refused_before_any_traffic(ip, sandbox, arrivals, imgdir):
    n = (LIMIT - 22) // 4 * 3 + 3
    assert _data_url_len(n) > LIMIT
    p = imgdir / "big.png"
    p.write_bytes(_png_of_size(n))
    a = arrivals(sandbox)
    with pytest.raises(ValueError) as ei:
        dms_magic.chat("big", images=[p])
    assert "10" in str(ei.value) and "big.png" in str(ei.value), str(ei.value)
    res, cap = run(ip, f"%%dmschat --image {p}\nbig\n")
    assert_short_error(res, cap, "big.png")
    ip.user_ns["bigbytes"] = p.read_bytes()
    res, cap = run(ip, "%%dmschat --image $bigbytes\nbig\n")
    assert res.error_in_exec is not None
    assert a.count == 0


def test_image_just_below_the_limit_is_sent(sandbox, arrivals, imgdir):
    n = (LIMIT - 22) // 4 * 3
    assert _data_url_len(n) <= LIMIT
    p = imgdir / "almost.png"
    raw = _png_of_size(n)
    p.write_bytes(raw)
    a = arrivals(sandbox)
    dms_magic.chat("big", images=[p])
    (entry,) = a.entries()
    (part,) = image_parts_of(sent_messages(entry))
    assert decode(url_of(part))[1] == raw


def test_magic_var_and_repeated_image_card_thumbnails_and_not_masked_notice(ip, sandbox, arrivals, imgdir):
    from PIL import Image
    p = imgdir / "a.png"
    p.write_bytes(png_bytes())
    ip.user_ns["pic"] = Image.new("RGB", (20, 10), (0, 255, 0))
    a = arrivals(sandbox)
    res, cap = run(ip, f"%%dmschat --mask --rule UserInfo --image {p} --image $pic -o r\nWhat are these?\n")
    assert res.error_in_exec is None, shown(cap)
    (entry,) = a.entries()
    parts = image_parts_of(sent_messages(entry))
    assert len(parts) == 2
    assert decode(url_of(parts[0]))[1] == p.read_bytes()
    html = shown(cap)
    assert html.count("<img") >= 2, "the card should show a thumbnail per image"
    assert "sent as they are" in html.lower() or "not masked" in html.lower(), html[:3000]


def test_dry_run_says_images_are_not_masked_and_sends_nothing(ip, sandbox, arrivals, imgdir):
    p = imgdir / "a.png"
    p.write_bytes(png_bytes())
    a = arrivals(sandbox)
    res, cap = run(ip, f"%%dmschat --dry-run --mask --rule UserInfo --image {p}\n我叫张伟，手机号13812345678\n")
    assert res.error_in_exec is None, shown(cap)
    text = shown(cap).lower()
    assert "sent as they are" in text or "not masked" in text, text[:3000]
    assert a.count == 0


def test_usage_counts_image_tokens(sandbox):
    plain = dms_magic.chat("describe", seed=1)
    big = dms_magic.chat("describe", images=[png_bytes(560, 560)], seed=1)
    small = dms_magic.chat("describe", images=[png_bytes(56, 56)], seed=1)
    p0, p_small, p_big = (int(r.usage_dict["prompt_tokens"]) for r in (plain, small, big))
    assert p0 < p_small < p_big, (p0, p_small, p_big)
    # Qwen-VL: 560x560 = 20x20 patches of 28 px -> 400 tokens (+2 markers); 56x56 -> 4 (+2)
    assert p_big - p0 >= 400


def test_mask_masks_text_while_image_bytes_arrive_unchanged(sandbox, arrivals, imgdir):
    raw = png_bytes(30, 30)
    a = arrivals(sandbox)
    r = dms_magic.chat("我叫张伟，手机号13812345678，请看图", images=[raw], need_desensitization=True,
                       desensitization_rule="UserInfo")
    (entry,) = a.entries()
    model_saw = json.dumps(entry["model_input"], ensure_ascii=False)
    assert "13812345678" not in model_saw
    saw_parts = image_parts_of(entry["model_input"])
    assert len(saw_parts) == 1 and decode(url_of(saw_parts[0]))[1] == raw
    assert decode(url_of(image_parts_of(sent_messages(entry))[0]))[1] == raw
    assert r.masked


def test_stream_with_images(sandbox, arrivals):
    raw = png_bytes(28, 28)
    a = arrivals(sandbox)
    with dms_magic.stream("describe", images=[raw]) as s:
        list(s)
        r = s.result
    (entry,) = a.entries()
    assert entry["action"] == "ChatWithDesensitizeSSE"
    assert decode(url_of(image_parts_of(sent_messages(entry))[0]))[1] == raw
    assert "PNG" in r.text


# ================================================================== tool schemas


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def rich_tool(city: str, days: int = 3, unit: Literal["c", "f"] = "c", tags: list[int] | None = None,
              limit: Optional[int] = None, color: Color = Color.RED, extra: dict = None, *, verbose: bool = False):
    """Get the weather forecast.

    Args:
        city: The city name.
        days: How many days.
    """
    return {"city": city, "days": days}


def no_doc(a: int, b: float):
    return a + b


class Thing:
    def method(self, x: int) -> int:
        """Double x."""
        return 2 * x


def _sent_tools(sandbox, arrivals, ip, tools_value, prompt="hello"):
    ip.user_ns["tl"] = tools_value
    a = arrivals(sandbox)
    res, cap = run(ip, f"%%dmschat --tools $tl -o r\n{prompt}\n")
    return res, cap, a


def test_schema_from_a_callable_with_defaults_and_type_hints(ip, sandbox, arrivals):
    res, cap, a = _sent_tools(sandbox, arrivals, ip, [rich_tool])
    assert res.error_in_exec is None, shown(cap)
    (entry,) = a.entries()
    assert entry["action"] == "ChatWithDesensitizeSSE"  # the magic switched to streaming
    (spec,) = json.loads(entry["form"].get("Tools") or entry["query"]["Tools"])
    assert spec["type"] == "function"
    fn = spec["function"]
    assert fn["name"] == "rich_tool"
    assert fn["description"].startswith("Get the weather forecast")
    params = fn["parameters"]
    assert params["type"] == "object"
    props = params["properties"]
    assert set(params["required"]) == {"city"}
    assert props["city"]["type"] == "string" and "city name" in props["city"].get("description", "")
    assert props["days"]["type"] == "integer" and props["days"].get("default") == 3
    assert props["unit"].get("enum") == ["c", "f"]
    assert props["color"].get("enum") == ["red", "blue"]
    tags = json.dumps(props["tags"])
    assert "array" in tags and "integer" in tags
    assert "integer" in json.dumps(props["limit"])
    assert "object" in json.dumps(props["extra"])
    assert props["verbose"]["type"] == "boolean"  # keyword-only parameters are parameters too


def test_callable_without_docstring_and_bound_method(ip, sandbox, arrivals):
    res, cap, a = _sent_tools(sandbox, arrivals, ip, [no_doc, Thing().method])
    assert res.error_in_exec is None, shown(cap)
    (entry,) = a.entries()
    specs = json.loads(entry["query"]["Tools"])
    by = {s["function"]["name"]: s["function"] for s in specs}
    assert set(by) == {"no_doc", "method"}
    assert by["no_doc"]["parameters"]["properties"]["b"]["type"] == "number"
    assert set(by["no_doc"]["parameters"]["required"]) == {"a", "b"}
    assert "self" not in by["method"]["parameters"]["properties"]


def varargs(a: int, *args, **kwargs):
    """Takes extras."""
    return a


@pytest.mark.parametrize("case", ["varargs", "lambda", "builtin"])
def test_awkward_callables_are_built_or_refused_clearly(ip, sandbox, arrivals, case):
    obj = {"varargs": varargs, "lambda": (lambda x: x), "builtin": len}[case]
    res, cap, a = _sent_tools(sandbox, arrivals, ip, [obj])
    if res.error_in_exec is not None:
        assert_short_error(res, cap)
        assert a.count == 0
        return
    (entry,) = a.entries()
    (spec,) = json.loads(entry["query"]["Tools"])
    name = spec["function"]["name"]
    import re
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name), name  # OpenAI's name rule
    props = spec["function"]["parameters"].get("properties", {})
    assert "args" not in props and "kwargs" not in props


GOOD_SPEC = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_a_good_spec_dict_is_sent_unchanged(ip, sandbox, arrivals):
    res, cap, a = _sent_tools(sandbox, arrivals, ip, [GOOD_SPEC])
    assert res.error_in_exec is None, shown(cap)
    (entry,) = a.entries()
    assert json.loads(entry["query"]["Tools"]) == [GOOD_SPEC]


@pytest.mark.parametrize("bad", [
    {"type": "function", "function": {"parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "has space", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}},
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {},
                                                                  "required": ["ghost"]}}},
    "not a spec",
], ids=["no-name", "bad-name", "params-not-object", "required-not-a-property", "a-string"])
def test_malformed_spec_dicts_are_refused_before_traffic(ip, sandbox, arrivals, bad):
    res, cap, a = _sent_tools(sandbox, arrivals, ip, [bad])
    assert_short_error(res, cap, "tool")
    assert a.count == 0


def test_tool_choice_words_names_and_unknown(ip, sandbox, arrivals):
    ip.user_ns["tl"] = [GOOD_SPEC]
    seen = {}
    for choice in ("auto", "none", "get_weather"):
        a = arrivals(sandbox)
        res, cap = run(ip, f"%%dmschat --tools $tl --tool-choice {choice}\nhello\n")
        assert res.error_in_exec is None, shown(cap)
        (entry,) = a.entries()
        seen[choice] = entry["query"]["ToolChoice"]
    assert seen["auto"] == "auto" and seen["none"] == "none"
    assert json.loads(seen["get_weather"]) == {"type": "function", "function": {"name": "get_weather"}}
    a = arrivals(sandbox)
    res, cap = run(ip, "%%dmschat --tools $tl --tool-choice nosuchtool\nhello\n")
    assert_short_error(res, cap, "nosuchtool", "get_weather")
    assert a.count == 0


# ================================================================== tool loops on the sandbox


CALLS: list = []


def lookup_order(order_id: str) -> dict:
    """Find an order by id."""
    CALLS.append(("lookup_order", order_id))
    return {"order": order_id, "status": "shipped"}


def notify(phone: str) -> str:
    """Send a text message to a phone number."""
    CALLS.append(("notify", phone))
    return "sent"


def boom(x: str) -> str:
    """Always fails."""
    raise RuntimeError("tool exploded on purpose")


class Opaque:
    pass


def odd(x: str):
    """Returns an object JSON cannot encode."""
    return Opaque()


def sleepy(x: str) -> str:
    """Sleeps a little."""
    time.sleep(0.3)
    return "rested"


def asker(x: str) -> str:
    """Asks the user."""
    return input("your answer? ")


@pytest.fixture
def tool_ns(ip):
    CALLS.clear()
    ip.user_ns.update(lookup_order=lookup_order, notify=notify, boom=boom, odd=odd, sleepy=sleepy, asker=asker)
    yield ip.user_ns


def test_two_round_run_tools_loop(ip, sandbox, arrivals, tool_ns):
    ip.user_ns["tl"] = [lookup_order, notify]
    a = arrivals(sandbox)
    res, cap = run(ip, '%%dmschat --tools $tl --run-tools -o r\n'
                       'Use lookup_order for order_id "A-1001", then notify phone "555-0100".\n')
    assert res.error_in_exec is None, shown(cap)
    assert [c[0] for c in CALLS] == ["lookup_order", "notify"], CALLS
    assert a.count == 3  # call, call, answer
    last = sent_messages(a.entries()[-1])
    tool_msgs = [m for m in last if m.get("role") == "tool"]
    assert len(tool_msgs) == 2 and all(m.get("tool_call_id") for m in tool_msgs)
    assert "shipped" in ip.user_ns["r"].text
    card = shown(cap)
    assert "lookup_order" in card and "notify" in card and "shipped" in card


@pytest.mark.parametrize("n, expect_calls, expect_requests", [(0, 0, 1), (1, 1, 2), (5, 2, 3)])
def test_run_tools_round_cap(ip, sandbox, arrivals, tool_ns, n, expect_calls, expect_requests):
    ip.user_ns["tl"] = [lookup_order, notify]
    a = arrivals(sandbox)
    res, cap = run(ip, f'%%dmschat --tools $tl --run-tools {n} -o r\n'
                       'Use lookup_order for order_id "A-1001", then notify phone "555-0100".\n')
    if n == 0 and res.error_in_exec is not None:  # refusing 0 rounds is a fair reading too
        assert_short_error(res, cap, "--run-tools")
        assert a.count == 0 and CALLS == []
        return
    assert res.error_in_exec is None, shown(cap)
    assert len(CALLS) == expect_calls, CALLS
    assert a.count == expect_requests
    if n < 2:  # stopped by the cap with calls pending: the card must say so
        text = shown(cap).lower()
        assert "round" in text and ("not run" in text or "limit" in text or "max" in text), text[:3000]


@pytest.mark.parametrize("tool, needle", [("boom", "tool exploded on purpose"), ("odd", "Opaque"),
                                          ("sleepy", "rested"), ("asker", "")])
def test_misbehaving_tools_never_crash_the_cell(ip, sandbox, arrivals, tool_ns, tool, needle):
    ip.user_ns["tl"] = [tool_ns[tool]]
    a = arrivals(sandbox)
    res, cap = run(ip, f'%%dmschat --tools $tl --run-tools -o r\nPlease call {tool} with x "hi".\n')
    assert res.error_in_exec is None, shown(cap)
    assert a.count == 2
    last = sent_messages(a.entries()[-1])
    (tool_msg,) = [m for m in last if m.get("role") == "tool"]
    assert needle in tool_msg["content"], tool_msg
    if tool in ("boom", "asker"):
        assert "error" in tool_msg["content"].lower()
        assert "Traceback (most recent call last)" not in shown(cap)


def test_masking_on_flags_tool_arguments_with_masked_values(ip, sandbox, arrivals, tool_ns):
    ip.user_ns["tl"] = [notify]
    res, cap = run(ip, '%%dmschat --mask --rule UserInfo --tools $tl --run-tools -o r\n'
                       '请用 notify 通知 phone: "13812345678"，我叫张伟\n')
    assert res.error_in_exec is None, shown(cap)
    assert CALLS and "13812345678" not in CALLS[0][1], CALLS  # the model saw masked text only
    masked_phone = CALLS[0][1]
    card = shown(cap)
    low = card.lower()
    assert "phone" in card and masked_phone in card
    assert "sensitive" in low or "masked value" in low, card[:4000]
    # the issue: "show the local preview of what the model saw" (README: "and shows what it saw")
    assert "saw" in low, card[:4000]
    assert "张*" in card or "张伟" not in card


# ================================================================== scripted model (a local server)


def tool_call_event(calls, *, finish="tool_calls", content=""):
    data = {"Created": "1763710100", "Model": "qwen-plus", "Choices": [{
        "FinishReason": finish, "Message": {"Role": "assistant", "Content": content, "ToolCalls": calls}}],
        "Usage": {"PromptTokens": "5", "CompletionTokens": "3", "TotalTokens": "8"}}
    return {"RequestId": "RID-1", "Success": True, "Data": json.dumps(data, ensure_ascii=False)}


def call(name, arguments, i=0, cid=None):
    return {"Index": i, "Id": cid or f"call_{name}_{i}", "Type": "function",
            "Function": {"Name": name, "Arguments": arguments}}


def text_event(text="done"):
    data = {"Created": "1763710100", "Model": "qwen-plus", "Choices": [{
        "FinishReason": "stop", "Message": {"Role": "assistant", "Content": text}}],
        "Usage": {"PromptTokens": "5", "CompletionTokens": "1", "TotalTokens": "6"}}
    return {"RequestId": "RID-2", "Success": True, "Data": json.dumps(data)}


@pytest.fixture
def scripted(ip, monkeypatch, tool_ns):
    srv = ReplyServer()
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", srv.url)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SK)
    from dms_magic import session
    session.reset()
    yield srv
    srv.close()
    session.reset()


def tool_messages(arrival):
    return [m for m in json.loads(arrival.form["Messages"]) if m.get("role") == "tool"]


def test_a_call_to_a_name_not_in_the_tools_is_refused(ip, scripted, tool_ns):
    ip.user_ns["tl"] = [lookup_order]
    ip.user_ns["evil"] = lambda **kw: CALLS.append(("evil", kw))
    scripted.set(Stream([tool_call_event([call("evil", '{"x": 1}')])]), Stream([text_event()]))
    res, cap = run(ip, "%%dmschat --tools $tl --run-tools -o r\ngo\n")
    assert res.error_in_exec is None, shown(cap)
    assert CALLS == []  # `evil` is in the namespace but not among the tools: never called
    if len(scripted.arrivals) > 1:
        (msg,) = tool_messages(scripted.arrivals[1])
        assert "evil" in msg["content"] and ("not" in msg["content"].lower())
    assert "evil" in shown(cap)


@pytest.mark.parametrize("args, needle", [('{"order_id": ', "json"), ('{}', "order_id"), ('[1, 2]', "object")],
                         ids=["invalid-json", "missing-required", "not-an-object"])
def test_bad_arguments_become_an_error_message_not_a_call(ip, scripted, tool_ns, args, needle):
    ip.user_ns["tl"] = [lookup_order]
    scripted.set(Stream([tool_call_event([call("lookup_order", args)])]), Stream([text_event()]))
    res, cap = run(ip, "%%dmschat --tools $tl --run-tools -o r\ngo\n")
    assert res.error_in_exec is None, shown(cap)
    assert CALLS == []
    assert len(scripted.arrivals) == 2
    (msg,) = tool_messages(scripted.arrivals[1])
    assert "error" in msg["content"].lower() and needle in msg["content"].lower(), msg


def test_two_tool_calls_in_one_round_both_run_and_both_answer(ip, scripted, tool_ns):
    ip.user_ns["tl"] = [lookup_order, notify]
    scripted.set(Stream([tool_call_event([call("lookup_order", '{"order_id": "A1"}', 0),
                                          call("notify", '{"phone": "555"}', 1)])]),
                 Stream([text_event("all done")]))
    res, cap = run(ip, "%%dmschat --tools $tl --run-tools -o r\ngo\n")
    assert res.error_in_exec is None, shown(cap)
    assert CALLS == [("lookup_order", "A1"), ("notify", "555")]
    msgs = json.loads(scripted.arrivals[1].form["Messages"])
    assistant = [m for m in msgs if m.get("role") == "assistant"][-1]
    assert [tc["id"] for tc in assistant["tool_calls"]] == ["call_lookup_order_0", "call_notify_1"]
    assert {m["tool_call_id"] for m in tool_messages(scripted.arrivals[1])} == {"call_lookup_order_0",
                                                                                "call_notify_1"}
    assert ip.user_ns["r"].text == "all done"


def test_a_loop_that_never_ends_is_capped_and_reported(ip, scripted, tool_ns):
    ip.user_ns["tl"] = [lookup_order]
    scripted.set(Stream([tool_call_event([call("lookup_order", '{"order_id": "again"}')])]))
    res, cap = run(ip, "%%dmschat --tools $tl --run-tools 3 -o r\ngo\n")
    assert res.error_in_exec is None, shown(cap)
    assert len(CALLS) == 3
    assert len(scripted.arrivals) == 4
    text = shown(cap).lower()
    assert "3" in text and "round" in text, text[:3000]


def test_default_round_cap_is_five(ip, scripted, tool_ns):
    ip.user_ns["tl"] = [lookup_order]
    scripted.set(Stream([tool_call_event([call("lookup_order", '{"order_id": "again"}')])]))
    res, cap = run(ip, "%%dmschat --tools $tl --run-tools\ngo\n")
    assert res.error_in_exec is None, shown(cap)
    assert len(CALLS) == 5 and len(scripted.arrivals) == 6


def test_tool_calls_from_plain_and_streamed_answers(scripted):
    from helpers.sdk_replies import data_obj, ok_body
    c = call("get_weather", '{"city": "杭州", "days": 2}', 0, "call_w")
    scripted.set(Reply(body=ok_body(data_obj("", reasoning=None, logprobs=None, finish="tool_calls",
                                             tool_calls=[c]))))
    plain = dms_magic.chat("weather?")
    scripted.set(Stream([tool_call_event([c])]))
    with dms_magic.stream("weather?", tools=[GOOD_SPEC]) as s:
        list(s)
        streamed = s.result
    for r in (plain, streamed):
        (tc,) = r.tool_calls
        assert (tc.id, tc.name, tc.arguments) == ("call_w", "get_weather", {"city": "杭州", "days": 2})
        assert json.loads(tc.arguments_json) == {"city": "杭州", "days": 2}
        df = r.tool_calls_frame()
        assert list(df["name"]) == ["get_weather"] and list(df["id"]) == ["call_w"]
        assert json.loads(df["arguments_raw"].iloc[0]) == {"city": "杭州", "days": 2}


def test_streamed_tool_call_fragments_are_joined(scripted):
    frags = [tool_call_event([call("get_weather", '{"ci', 0, "call_x")], finish=None),
             tool_call_event([{"Index": 0, "Function": {"Arguments": 'ty": "Paris"}'}}])]
    scripted.set(Stream(frags))
    with dms_magic.stream("weather?", tools=[GOOD_SPEC]) as s:
        list(s)
        r = s.result
    (tc,) = r.tool_calls
    assert tc.name == "get_weather" and tc.arguments == {"city": "Paris"} and tc.id == "call_x"


# ================================================================== wire vs the official SDK


def test_tools_tool_choice_and_image_messages_equal_the_sdk(scripted, imgdir):
    scripted.set(Stream([text_event()]))
    raw = png_bytes(16, 16)
    with dms_magic.stream("what is this? 张伟", images=[raw], tools=[rich_tool, GOOD_SPEC],
                          tool_choice="get_weather") as s:
        list(s)
    ours = scripted.arrivals[0]
    messages = json.loads(ours.form["Messages"])
    assert decode(url_of(image_parts_of(messages)[0]))[1] == raw
    tools_value = ours.query["Tools"]
    choice_value = ours.query["ToolChoice"]
    assert json.loads(choice_value) == {"type": "function", "function": {"name": "get_weather"}}
    # the SDK takes Tools/ToolChoice as strings: give it the compact JSON of the same specs
    specs = json.loads(tools_value)
    compact = json.dumps(specs, ensure_ascii=False, separators=(",", ":"))
    assert tools_value == compact
    list(sdk_client(scripted).chat_with_desensitize_ssewith_sse(
        sdk_models.ChatWithDesensitizeSSERequest(instance_id=1, messages=messages, tools=compact,
                                                 tool_choice=choice_value, stream=True),
        RuntimeOptions()))
    theirs = scripted.arrivals[1]
    assert ours.form["Messages"] == theirs.form["Messages"]
    assert ours.body == theirs.body
    assert request_params(ours) == request_params(theirs)


def test_the_sandbox_answers_the_sdk_sse_call_with_tools(sandbox):
    from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
    from alibabacloud_tea_openapi.models import Config
    cfg = Config(access_key_id=sandbox.access_key_id, access_key_secret=sandbox.access_key_secret,
                 endpoint=f"127.0.0.1:{sandbox.port}", protocol="HTTP")
    tools = json.dumps([GOOD_SPEC], separators=(",", ":"))
    events = list(sdk_client_mod.Client(cfg).chat_with_desensitize_ssewith_sse(
        sdk_models.ChatWithDesensitizeSSERequest(
            instance_id=1, messages=[{"role": "user", "content": 'Call get_weather for city "Paris"'}],
            tools=tools, stream=True), RuntimeOptions()))
    datas = [json.loads(e.body.to_map()["Data"]) for e in events]
    calls = [tc for d in datas for tc in (d["Choices"][0]["Message"].get("ToolCalls") or [])]
    assert datas[-1]["Choices"][0]["FinishReason"] == "tool_calls"
    assert calls[0]["Function"]["Name"] == "get_weather"
    args = "".join(tc["Function"].get("Arguments") or "" for tc in calls)
    assert json.loads(args) == {"city": "Paris"}


# ================================================================== misc errors


def test_run_tools_without_tools_is_a_short_error(ip, sandbox, arrivals):
    a = arrivals(sandbox)
    res, cap = run(ip, "%%dmschat --run-tools\nhello\n")
    assert_short_error(res, cap, "--tools")
    assert a.count == 0


def test_tools_var_that_does_not_exist_is_a_short_error(ip, sandbox, arrivals):
    a = arrivals(sandbox)
    res, cap = run(ip, "%%dmschat --tools $nosuchvar_xyz\nhello\n")
    assert_short_error(res, cap, "nosuchvar_xyz")
    assert a.count == 0


def test_image_var_of_the_wrong_type_is_a_short_error(ip, sandbox, arrivals):
    ip.user_ns["notimg"] = 12345
    a = arrivals(sandbox)
    res, cap = run(ip, "%%dmschat --image $notimg\nhello\n")
    assert_short_error(res, cap, "notimg")
    assert a.count == 0


# ================================================================== more probes


@pytest.mark.parametrize("bad", [
    {"type": "function", "function": {"name": "has space", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}},
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {},
                                                                  "required": ["ghost"]}}},
], ids=["bad-name", "params-not-object", "required-not-a-property"])
def test_malformed_spec_dicts_are_refused_by_the_python_api(sandbox, arrivals, bad):
    a = arrivals(sandbox)
    with pytest.raises(ValueError) as ei:
        with dms_magic.stream("hello", tools=[bad]) as s:
            list(s)
    assert "tools[0]" in str(ei.value), str(ei.value)
    assert a.count == 0


def test_duplicate_tool_names_are_refused(ip, sandbox, arrivals):
    res, cap, a = _sent_tools(sandbox, arrivals, ip, [GOOD_SPEC, GOOD_SPEC])
    assert_short_error(res, cap, "get_weather")
    assert a.count == 0


def test_plain_chat_with_tools_streams_or_says_to_stream(sandbox, arrivals):
    a = arrivals(sandbox)
    try:
        r = dms_magic.chat('Call get_weather for city "Paris"', tools=[GOOD_SPEC])
    except ValueError as e:
        assert "stream" in str(e).lower(), str(e)
        assert a.count == 0
        return
    (entry,) = a.entries()
    assert entry["action"] == "ChatWithDesensitizeSSE"
    assert r.tool_calls and r.tool_calls[0].name == "get_weather"


def test_image_message_on_the_plain_action_equals_the_sdk(scripted):
    from helpers.sdk_replies import ok_body
    scripted.set(Reply(body=ok_body()))
    raw = image_bytes("JPEG")
    dms_magic.chat("看图：张伟 13812345678", images=[raw, "https://example.com/a.png"], model="qwen-vl-plus",
                   vl_high_resolution_images=True)
    ours = scripted.arrivals[0]
    messages = json.loads(ours.form["Messages"])
    assert messages == [{"role": "user", "content": [
        {"type": "text", "text": "看图：张伟 13812345678"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(raw).decode()}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]
    sdk_client(scripted).chat_with_desensitize_with_options(
        sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=messages, model="qwen-vl-plus",
                                              vl_high_resolution_images=True), RuntimeOptions())
    theirs = scripted.arrivals[1]
    assert ours.body == theirs.body
    assert request_params(ours) == request_params(theirs)


def test_url_image_through_the_magic_is_sent_as_is(ip, sandbox, arrivals):
    a = arrivals(sandbox)
    res, cap = run(ip, "%%dmschat --image https://example.com/scan.jpg\nwhat is it?\n")
    assert res.error_in_exec is None, shown(cap)
    (entry,) = a.entries()
    assert [url_of(p) for p in image_parts_of(sent_messages(entry))] == ["https://example.com/scan.jpg"]


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "javascript:alert(1)"])
def test_non_http_urls_are_not_sent(sandbox, arrivals, url):
    a = arrivals(sandbox)
    with pytest.raises(ValueError):
        dms_magic.chat("look", images=[url])
    assert a.count == 0


def test_images_on_a_conversation_ending_with_the_assistant_are_refused(sandbox, arrivals):
    a = arrivals(sandbox)
    with pytest.raises(ValueError) as ei:
        dms_magic.chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                       images=[png_bytes()])
    assert "user" in str(ei.value).lower()
    assert a.count == 0


def test_a_tool_error_does_not_leak_the_secret(ip, sandbox, tool_ns):
    # the shared sandbox's own secret (tests/conftest.py's sentinel): a module named "conftest"
    # is ambiguous once tests/browser/conftest.py is loaded too, so read it from the fixture
    secret = sandbox.access_key_secret

    def leaky(x: str) -> str:
        """Fails."""
        raise ValueError("bad x")
    ip.user_ns.update(tl=[leaky], leaky=leaky)
    res, cap = run(ip, '%%dmschat --tools $tl --run-tools -o r\nPlease call leaky with x "hi".\n')
    assert res.error_in_exec is None
    assert secret not in shown(cap)
    assert "bad x" in shown(cap)


def test_dry_run_with_tools_sends_nothing_and_shows_the_tools(ip, sandbox, arrivals, tool_ns):
    ip.user_ns["tl"] = [lookup_order]
    a = arrivals(sandbox)
    res, cap = run(ip, '%%dmschat --dry-run --tools $tl --run-tools\nUse lookup_order for order_id "A-1"\n')
    assert res.error_in_exec is None, shown(cap)
    assert a.count == 0 and CALLS == []
    assert "lookup_order" in shown(cap)


def test_magic_without_run_tools_reports_the_call_and_exposes_it(ip, sandbox, arrivals, tool_ns):
    ip.user_ns["tl"] = [lookup_order]
    a = arrivals(sandbox)
    res, cap = run(ip, '%%dmschat --tools $tl -o r\nUse lookup_order for order_id "A-1001"\n')
    assert res.error_in_exec is None, shown(cap)
    assert a.count == 1 and CALLS == []  # not run without --run-tools
    r = ip.user_ns["r"]
    (tc,) = r.tool_calls
    assert tc.name == "lookup_order" and tc.arguments == {"order_id": "A-1001"}
    assert r.finish_reason == "tool_calls"
    df = r.tool_calls_frame()
    assert list(df["name"]) == ["lookup_order"]
    assert "lookup_order" in shown(cap)


def test_high_resolution_raises_the_image_token_cap(sandbox):
    big = png_bytes(2000, 2000)
    low = dms_magic.chat("describe", images=[big], seed=1)
    high = dms_magic.chat("describe", images=[big], seed=1, vl_high_resolution_images=True)
    assert int(high.usage_dict["prompt_tokens"]) > int(low.usage_dict["prompt_tokens"])
