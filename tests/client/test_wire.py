"""What we put on the wire equals what the official SDK puts there for the same request.

Both clients talk to the same local HTTP server; we compare what arrived: the query, the form body
(byte for byte), the action/version headers, the set of signed headers, and that both signatures
verify. The request values come from the parameter table's examples, so a new parameter is covered
the day it is added.

One deliberate difference: the SDK stringifies booleans with ``str()`` (``True``) while we send the
documented ``true``/``false`` (servers accept both). The comparison lower-cases boolean parameters'
values only — nothing else is normalised.
"""
from __future__ import annotations

import json

import pytest
# The official SDK is a declared test dependency (the "test" extra): imported, not importorskip'd,
# so a broken install fails here instead of silently skipping the comparison.
from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from dms_magic.wire import signing
from dms_magic.wire.params import BY_WIRE, PARAMS

from helpers.scripted import AK, SK, OK_BODY, ScriptedServer, make_client, sse_body, sse_event, verify_signature

MESSAGES = [
    {"role": "system", "content": "You are terse. 用中文回答。"},
    {"role": "user", "content": "我叫张伟，手机号13812345678 — a+b=c & d/e*f~g %20 \"quoted\"\n"},
    {"role": "assistant", "content": ""},
    {"role": "user", "content": "😀 again?"},
]


def example_params(*, stream: bool) -> dict:
    """Every parameter's example value from the table (messages aside)."""
    out = {p.name: p.example for p in PARAMS if p.name != "messages" and (stream or not p.sse_only)}
    out["stop"] = ["\n", "结束", "a b"]
    out["search_options"] = {"forced_search": "true", "search_strategy": "pro"}
    out["xdash_scope_data_inspection"] = '{"input":"cip","output":"cip"}'
    out["audio_json"] = '{"voice":"Chelsie","format":"wav"}'
    return out


@pytest.fixture
def server():
    srv = ScriptedServer([(200, OK_BODY)])
    yield srv
    srv.close()


@pytest.fixture
def sse_server():
    srv = ScriptedServer([sse_body("data: " + json.dumps(sse_event("ok", finish="stop")) + "\n\n")])
    yield srv
    srv.close()


def sdk_for(url: str, security_token: str | None = None):
    host = url.split("://", 1)[1]
    config = Config(access_key_id="STS.key" if security_token else AK, access_key_secret=SK,
                    security_token=security_token, endpoint=host, protocol="HTTP")
    if security_token:
        config.type = "sts"
    return sdk_client_mod.Client(config)


def normalised_query(query: dict) -> dict:
    # Only booleans differ by design (True vs true); see the module docstring.
    return {k: (v.lower() if k in BY_WIRE and BY_WIRE[k].kind == "bool" else v) for k, v in query.items()}


def assert_same_wire(ours: dict, theirs: dict, action: str):
    assert normalised_query(ours["query"]) == normalised_query(theirs["query"])
    assert ours["body"] == theirs["body"]  # form body byte for byte (Messages as compact JSON)
    assert json.loads(ours["form"]["Messages"]) == MESSAGES
    for name in ("x-acs-action", "x-acs-version", "content-type", "x-acs-content-sha256", "host", "accept"):
        if name == "accept" and action.endswith("SSE"):
            continue  # we ask for text/event-stream on the SSE twin; the SDK sends application/json
        assert ours["headers"][name] == theirs["headers"][name], name
    assert ours["headers"]["x-acs-action"] == action
    ours_signed = set(signing.parse_authorization(ours["headers"]["authorization"])[2])
    theirs_signed = set(signing.parse_authorization(theirs["headers"]["authorization"])[2])
    # The SDK also signs its x-acs-credentials-provider header, which we do not send.
    assert ours_signed == theirs_signed - {"x-acs-credentials-provider"}
    assert verify_signature(ours) and verify_signature(theirs)


def test_chat_minimal_request_matches_sdk(server):
    sdk_for(server.url).chat_with_desensitize_with_options(
        sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=MESSAGES), RuntimeOptions())
    with make_client(server.url) as client:
        client.chat(MESSAGES)
    theirs, ours = server.requests
    assert_same_wire(ours, theirs, "ChatWithDesensitize")
    assert ours["query"] == {"InstanceId": "1"}


def test_chat_with_every_parameter_matches_sdk(server):
    params = example_params(stream=False)
    sdk_for(server.url).chat_with_desensitize_with_options(
        sdk_models.ChatWithDesensitizeRequest(messages=MESSAGES, **params), RuntimeOptions())
    with make_client(server.url) as client:
        client.chat(MESSAGES, **params)
    theirs, ours = server.requests
    assert_same_wire(ours, theirs, "ChatWithDesensitize")
    sent = {BY_WIRE[k].name for k in ours["query"]} | {"messages"}
    assert sent == {p.name for p in PARAMS if not p.sse_only}  # nothing silently dropped


def test_sse_with_every_parameter_matches_sdk(sse_server):
    params = example_params(stream=True)
    for _ in sdk_for(sse_server.url).chat_with_desensitize_ssewith_sse(
            sdk_models.ChatWithDesensitizeSSERequest(messages=MESSAGES, **params), RuntimeOptions()):
        pass
    with make_client(sse_server.url) as client:
        assert client.stream(MESSAGES, **params).result.text == "ok"
    theirs, ours = sse_server.requests
    assert_same_wire(ours, theirs, "ChatWithDesensitizeSSE")
    assert ours["query"]["Stream"] == "true"


def test_sts_request_matches_sdk(server):
    sdk_for(server.url, security_token="CAIS-sts-token").chat_with_desensitize_with_options(
        sdk_models.ChatWithDesensitizeRequest(instance_id=1, messages=MESSAGES, temperature=0.5), RuntimeOptions())
    from dms_magic.client import DmsChatClient

    with DmsChatClient(server.url, access_key_id="STS.key", access_key_secret=SK, security_token="CAIS-sts-token",
                       instance_id=1) as client:
        client.chat(MESSAGES, temperature=0.5)
    theirs, ours = server.requests
    assert_same_wire(ours, theirs, "ChatWithDesensitize")
    for name in ("x-acs-security-token", "x-acs-accesskey-id"):
        assert ours["headers"][name] == theirs["headers"][name]
