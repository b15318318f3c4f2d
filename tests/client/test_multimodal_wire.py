"""Images and tools on the wire: our encoding equals what the official SDK sends, byte for byte.

The SDK's streaming request (``ChatWithDesensitizeSSERequest``) carries ``Messages`` (any JSON, in
the form body), ``Tools`` and ``ToolChoice`` (both typed ``str``: query parameters the caller must
give as text). We capture what the SDK puts on a local server for a user message with text + image
parts and a tools request, and hold our encoders to it:

- ``Messages``: the SDK writes ``json.dumps(messages, ensure_ascii=False, separators=(",", ":"))``
  (darabonba ``to_json_string``), then form-encodes the body with quote_plus (space ``+``, ``/``
  ``%2F``, ``+`` ``%2B``). ``wire._json.compact_json`` is that serialiser; the client's body encoder
  (``urlencode(sorted(form.items()))``) gives the same bytes.
- ``Tools``: the SDK does not serialise it; given JSON text it sends that text unchanged. Given a
  Python list, it flattens it into ``Tools.1.type=function&Tools.1.function.name=...`` (checked
  below), which no server reads as tools — so the text must be JSON, and the JSON we choose is the
  SDK's own style for its JSON parameters (Messages, Stop, SearchOptions): compact, UTF-8 kept.
- ``ToolChoice``: sent as given: ``auto``/``none`` as words, a function choice as compact JSON.
- The query string: the SDK form-encodes it sorted by name (quote_plus, so spaces are ``+``).
"""
from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils
from darabonba.runtime import RuntimeOptions
from PIL import Image

from dms_magic.images import user_message
from dms_magic.tools import tool_spec
from dms_magic.wire._json import compact_json
from helpers.toolwire import encode_tool_choice, encode_tools, tool_choice_value

from helpers.scripted import AK, SK, ScriptedServer, sse_body, sse_event, verify_signature


def lookup_customer(phone: str, fields: list[str] | None = None, limit: int = 10) -> dict:
    """Find a customer by phone number (查询客户).

    Args:
        phone: The customer's mobile number, e.g. "138 1234 5678".
        fields: Columns to return: name / city & status.
    """
    return {}


def form_image() -> bytes:
    image = Image.new("RGB", (96, 64), "white")
    image.paste((30, 60, 200), (8, 8, 88, 20))  # a "field" bar, so the PNG is not trivially uniform
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


MESSAGES = [
    {"role": "system", "content": "Answer in 中文; be brief."},
    user_message("这张表单里的手机号是多少? a+b=c & 100% \"quoted\"\n", [form_image(), "https://example.com/scan.jpg?x=1&y=2"]),
]
TOOLS = [tool_spec(lookup_customer),
         {"type": "function", "function": {"name": "send_sms", "description": "发短信 / send an SMS",
                                           "parameters": {"type": "object",
                                                          "properties": {"to": {"type": "string"},
                                                                         "text": {"type": "string"}},
                                                          "required": ["to", "text"]}}}]


@pytest.fixture
def sse_server():
    srv = ScriptedServer([sse_body("data: " + json.dumps(sse_event("ok", finish="stop")) + "\n\n")])
    yield srv
    srv.close()


def sdk_send(url: str, **fields) -> None:
    config = Config(access_key_id=AK, access_key_secret=SK, endpoint=url.split("://", 1)[1], protocol="HTTP")
    request = sdk_models.ChatWithDesensitizeSSERequest(instance_id=1, **fields)
    for _ in sdk_client_mod.Client(config).chat_with_desensitize_ssewith_sse(request, RuntimeOptions()):
        pass


def sdk_json(value) -> str:
    """The SDK's own JSON serialiser for its JSON parameters (what it does to Messages)."""
    return Utils.array_to_string_with_specified_style(value, "Tools", "json")


@pytest.mark.parametrize("choice", ["auto", "none", "lookup_customer"])
def test_image_message_and_tools_equal_the_sdks_bytes(sse_server, choice):
    wire_choice = tool_choice_value(choice, TOOLS)
    sdk_send(sse_server.url, messages=MESSAGES, tools=sdk_json(TOOLS), tool_choice=sdk_json(wire_choice)
             if isinstance(wire_choice, dict) else wire_choice, stream=True)
    [theirs] = sse_server.requests
    assert verify_signature(theirs)
    assert theirs["headers"]["x-acs-action"] == "ChatWithDesensitizeSSE"

    # Messages: the form body, byte for byte, as our client's form encoder writes it.
    assert theirs["form"]["Messages"] == compact_json(MESSAGES)
    assert theirs["body"] == urlencode(sorted({"Messages": compact_json(MESSAGES)}.items())).encode("utf-8")
    sent = json.loads(theirs["form"]["Messages"])
    assert sent == MESSAGES  # the image's data: URL arrives whole
    assert sent[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")

    # Tools / ToolChoice: the query values, byte for byte.
    assert theirs["query"]["Tools"] == encode_tools(TOOLS)
    assert theirs["query"]["ToolChoice"] == encode_tool_choice(wire_choice)
    expected_query = {"InstanceId": "1", "Stream": "True", "Tools": encode_tools(TOOLS),
                      "ToolChoice": encode_tool_choice(wire_choice)}
    assert theirs["query"] == expected_query
    assert theirs["raw_query"] == urlencode(sorted(expected_query.items()))  # the SDK's query encoding


def test_tools_built_from_a_callable_encode_like_the_sdk_serialises_them():
    # Non-ASCII, '&', '/', quotes and defaults inside the schema: one serialiser for both.
    assert encode_tools([lookup_customer, TOOLS[1]]) == sdk_json(TOOLS)


def test_the_sdk_does_not_serialise_a_tools_list(sse_server):
    # Why Tools must be JSON text: the SDK flattens a Python list into repeat-list keys.
    sdk_send(sse_server.url, messages=MESSAGES[1:], tools=TOOLS[1:], tool_choice="auto")
    [theirs] = sse_server.requests
    assert "Tools" not in theirs["query"]
    assert theirs["query"]["Tools.1.function.name"] == "send_sms"


def test_our_client_sends_the_sdks_bytes_for_images_and_callable_tools():
    # The same request both ways: the SDK given the JSON texts, our client given Python objects
    # (images=, a callable among the tools, a tool's name as the choice).
    from helpers.scripted import make_client

    event = sse_body("data: " + json.dumps(sse_event("ok", finish="stop")) + "\n\n")
    server = ScriptedServer([event, event])
    choice = {"type": "function", "function": {"name": "lookup_customer"}}
    try:
        sdk_send(server.url, messages=MESSAGES, tools=sdk_json(TOOLS), tool_choice=sdk_json(choice), stream=True)
        text = MESSAGES[1]["content"][0]["text"]
        with make_client(server.url) as client:
            client.stream([MESSAGES[0], {"role": "user", "content": text}],
                          images=[form_image(), "https://example.com/scan.jpg?x=1&y=2"],
                          tools=[lookup_customer, TOOLS[1]], tool_choice="lookup_customer").result
    finally:
        server.close()
    theirs, ours = server.requests
    assert verify_signature(ours)
    assert ours["body"] == theirs["body"]  # Messages with the image parts, byte for byte
    assert ours["query"]["Tools"] == theirs["query"]["Tools"] and ours["query"]["ToolChoice"] == theirs["query"][
        "ToolChoice"]
    # the rest of the query equal too; the SDK writes the boolean Stream as Python's "True"
    assert {**ours["query"], "Stream": "True"} == theirs["query"] and ours["query"]["Stream"] == "true"
