"""Messages as the API takes them (tool calls, tool results, text + image parts) go out exactly as
the official SDK sends them, and reach the sandbox unchanged.

The wire comparison follows tests/test_wire.py: both clients post to one ScriptedServer, and what
arrived is compared (the form body byte for byte, the query with booleans lower-cased).
"""
from __future__ import annotations

import json

import pytest
from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from dms_magic.wire.params import BY_WIRE

from helpers.scripted import AK, OK_BODY, SK, ScriptedServer, make_client, sse_body, sse_event, verify_signature

TOOL_CONVERSATION = [
    {"role": "system", "content": "You can look orders up."},
    {"role": "user", "content": "我叫张伟，手机号13812345678。Where is order 42?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "index": 0,
         "function": {"name": "lookup_order", "arguments": "{\"order\": 42, \"note\": \"急\"}"}}]},
    {"role": "tool", "content": "{\"status\": \"shipped\"}", "tool_call_id": "call_1"},
    {"role": "user", "content": [
        {"type": "text", "text": "And what is in this photo of the parcel?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/parcel.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
]
TOOLS = ('[{"type":"function","function":{"name":"lookup_order","description":"Find an order",'
         '"parameters":{"type":"object","properties":{"order":{"type":"integer"}},"required":["order"]}}}]')


def sdk_for(url: str):
    return sdk_client_mod.Client(Config(access_key_id=AK, access_key_secret=SK, endpoint=url.split("://", 1)[1],
                                        protocol="HTTP"))


def lowered(query: dict) -> dict:
    return {k: (v.lower() if k in BY_WIRE and BY_WIRE[k].kind == "bool" else v) for k, v in query.items()}


def test_a_tool_conversation_with_image_parts_is_sent_as_the_sdk_sends_it():
    server = ScriptedServer([(200, OK_BODY)])
    try:
        sdk_for(server.url).chat_with_desensitize_with_options(
            sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=TOOL_CONVERSATION), RuntimeOptions())
        with make_client(server.url) as client:
            client.chat(TOOL_CONVERSATION)
    finally:
        server.close()
    theirs, ours = server.requests
    assert ours["body"] == theirs["body"]  # byte for byte, null content included
    assert json.loads(ours["form"]["Messages"]) == TOOL_CONVERSATION
    assert lowered(ours["query"]) == lowered(theirs["query"])
    assert verify_signature(ours)


def test_tools_and_tool_choice_stream_as_the_sdk_sends_them():
    server = ScriptedServer([sse_body("data: " + json.dumps(sse_event("ok", finish="stop")) + "\n\n")])
    params = dict(tools=TOOLS, tool_choice='{"type":"function","function":{"name":"lookup_order"}}',
                  include_usage=True)
    try:
        for _ in sdk_for(server.url).chat_with_desensitize_ssewith_sse(sdk_models.ChatWithDesensitizeSSERequest(
                instance_id=1, messages=TOOL_CONVERSATION, stream=True, **params), RuntimeOptions()):
            pass
        with make_client(server.url) as client:
            assert client.stream(TOOL_CONVERSATION, **params).result.text == "ok"
    finally:
        server.close()
    theirs, ours = server.requests
    assert ours["body"] == theirs["body"]
    assert lowered(ours["query"]) == lowered(theirs["query"])
    assert ours["query"]["Tools"] == TOOLS and ours["headers"]["x-acs-action"] == "ChatWithDesensitizeSSE"


@pytest.mark.parametrize("masked", [False, True])
def test_the_conversation_reaches_the_sandbox_unchanged(sandbox, client, received_entry, masked):
    options = dict(need_desensitization=True, desensitization_rule="UserInfo") if masked else {}
    result = client.chat(TOOL_CONVERSATION, seed=1, **options)
    entry = received_entry(sandbox, result.request_id)
    assert json.loads(entry["form"]["Messages"]) == TOOL_CONVERSATION  # the wire, as sent
    assert entry["request"].messages == TOOL_CONVERSATION  # as the sandbox parsed it
    seen = entry["model_input"]  # after masking: the text parts masked, everything else as sent
    assert [m["role"] for m in seen] == [m["role"] for m in TOOL_CONVERSATION]
    assert seen[2]["tool_calls"] == TOOL_CONVERSATION[2]["tool_calls"] and seen[3]["tool_call_id"] == "call_1"
    assert seen[4]["content"][1:] == TOOL_CONVERSATION[4]["content"][1:]  # the images untouched
    assert ("13812345678" in seen[1]["content"]) is not masked
    assert result.finish_reason == "stop" and result.text


def test_the_sdk_itself_can_send_the_conversation_to_the_sandbox(sandbox):
    config = Config(access_key_id=sandbox.access_key_id, access_key_secret=sandbox.access_key_secret,
                    endpoint=f"127.0.0.1:{sandbox.port}", protocol="http")
    response = sdk_client_mod.Client(config).chat_with_desensitize_with_options(
        sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=TOOL_CONVERSATION), RuntimeOptions())
    assert response.body.success is True and response.body.data.choices[0].message.content
