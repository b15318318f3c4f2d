"""The official SDK (alibabacloud-dms-enterprise20181101) against the sandbox over HTTP.

The SDK is the oracle for the wire: if it can call the sandbox, parse the answer into its models
and get the right error codes, the sandbox speaks ChatWithDesensitize closely enough.
"""
from __future__ import annotations

import json
import time

import pytest
# The SDK is a declared test dependency (the "test" extra): imported, not importorskip'd, so a
# broken install fails here instead of silently skipping the oracle.
from alibabacloud_dms_enterprise20181101 import client as sdk_client
from alibabacloud_dms_enterprise20181101 import models
from alibabacloud_tea_openapi import models as openapi_models
from darabonba.runtime import ExtendsParameters, RuntimeOptions

PROMPT = "我叫张伟，手机号13812345678，请帮我写一封投诉信。"


def make_client(sandbox, *, key_id=None, secret=None, token=None):
    config = openapi_models.Config(access_key_id=key_id or sandbox.access_key_id,
                                   access_key_secret=secret or sandbox.access_key_secret,
                                   security_token=token, endpoint=f"127.0.0.1:{sandbox.port}", protocol="http")
    return sdk_client.Client(config)


def sdk_error(call):
    """Run a call that must fail; return (code, http status) as the SDK reports them."""
    with pytest.raises(Exception) as info:
        result = call()
        if hasattr(result, "__next__"):  # SSE: the request happens on iteration
            list(result)
    error = info.value
    inner = getattr(error, "inner_exception", None) or error
    return getattr(inner, "code", None), getattr(inner, "statusCode", None)


def event_data(event) -> dict:
    """An SSE event's Data as the SDK hands it over: a JSON string (``data: str`` in every SDK)."""
    assert isinstance(event.body.data, str), "the SDK types the streamed Data as a string"
    return json.loads(event.body.data)


def runtime(**headers):
    return RuntimeOptions(extends_parameters=ExtendsParameters(headers=headers)) if headers else RuntimeOptions()


def test_chat_with_desensitize_parses_into_the_sdk_models(sandbox):
    request = models.ChatWithDesensitizeRequest(
        instance_id=1, messages=[{"role": "user", "content": PROMPT}], need_desensitization=True,
        desensitization_rule="UserInfo", logprobs=True, top_logprobs=3, seed=7, model="qwen-plus")
    response = make_client(sandbox).chat_with_desensitize_with_options(request, runtime())

    assert response.status_code == 200
    assert response.headers.get("x-dms-magic-backend") == "sandbox"
    body = response.body
    assert isinstance(body, models.ChatWithDesensitizeResponseBody)
    assert body.success is True and body.request_id
    data = body.data
    assert isinstance(data, models.ChatWithDesensitizeResponseBodyData)
    assert data.model == "qwen-plus" and int(data.created) > 0
    choice = data.choices[0]
    assert isinstance(choice, models.ChatWithDesensitizeResponseBodyDataChoices)
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "13812345678" not in choice.message.content  # masked before the generator saw it
    tokens = choice.logprobs["content"]
    assert "".join(t["token"] for t in tokens) == choice.message.content
    assert isinstance(data.usage, models.ChatWithDesensitizeResponseBodyDataUsage)
    assert int(data.usage.completion_tokens) == len(tokens)
    assert int(data.usage.total_tokens) == int(data.usage.prompt_tokens) + int(data.usage.completion_tokens)


def test_sse_events_parse_and_concatenate_to_the_plain_answer(sandbox):
    client = make_client(sandbox)
    messages = [{"role": "user", "content": "Summarise the refund policy for order 42."}]
    plain = client.chat_with_desensitize_with_options(
        models.ChatWithDesensitizeRequest(instance_id=1, messages=messages, seed=11), runtime())
    events = list(client.chat_with_desensitize_ssewith_sse(
        models.ChatWithDesensitizeSSERequest(instance_id=1, messages=messages, seed=11, include_usage=True),
        runtime()))

    assert len(events) > 3  # incremental, not one blob
    assert all(isinstance(e, models.ChatWithDesensitizeSSEResponse) for e in events)
    assert all(e.body.success is True for e in events)
    text = "".join(event_data(e)["Choices"][0]["Message"]["Content"] for e in events)
    assert text == plain.body.data.choices[0].message.content
    last = event_data(events[-1])
    assert last["Choices"][0]["FinishReason"] == "stop"
    assert last["Usage"] == plain.body.data.usage.to_map()
    assert all("Usage" not in event_data(e) for e in events[:-1])


def test_wrong_secret_is_signature_does_not_match(sandbox):
    client = make_client(sandbox, secret="not-the-secret")
    request = models.ChatWithDesensitizeRequest(instance_id=1, messages=[{"role": "user", "content": "hi"}])
    assert sdk_error(lambda: client.chat_with_desensitize_with_options(request, runtime())) == (
        "SignatureDoesNotMatch", 400)


def test_unknown_key_is_invalid_access_key_id(sandbox):
    client = make_client(sandbox, key_id="LTAIunknownkey000000000")
    request = models.ChatWithDesensitizeRequest(instance_id=1, messages=[{"role": "user", "content": "hi"}])
    assert sdk_error(lambda: client.chat_with_desensitize_with_options(request, runtime())) == (
        "InvalidAccessKeyId.NotFound", 404)


def test_stale_date_is_expired(sandbox):
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 16 * 60))
    request = models.ChatWithDesensitizeRequest(instance_id=1, messages=[{"role": "user", "content": "hi"}])
    code = sdk_error(lambda: make_client(sandbox).chat_with_desensitize_with_options(
        request, runtime(**{"x-acs-date": stale})))
    assert code == ("InvalidTimeStamp.Expired", 400)


def test_replayed_nonce_is_rejected_and_the_first_use_succeeds(sandbox):
    client = make_client(sandbox)
    request = models.ChatWithDesensitizeRequest(instance_id=1, messages=[{"role": "user", "content": "hi"}])
    nonce = f"replay-{time.time_ns()}"
    first = client.chat_with_desensitize_with_options(request, runtime(**{"x-acs-signature-nonce": nonce}))
    assert first.body.success is True
    assert sdk_error(lambda: client.chat_with_desensitize_with_options(
        request, runtime(**{"x-acs-signature-nonce": nonce}))) == ("SignatureNonceUsed", 400)


def test_sse_errors_reach_the_sdk_as_gateway_errors(sandbox):
    client = make_client(sandbox, secret="not-the-secret")
    request = models.ChatWithDesensitizeSSERequest(instance_id=1, messages=[{"role": "user", "content": "hi"}])
    assert sdk_error(lambda: client.chat_with_desensitize_ssewith_sse(request, runtime()))[0] == (
        "SignatureDoesNotMatch")


def test_sts_token_is_checked(sandbox):
    from dms_magic.sandbox import KeyPair, start

    pair = KeyPair("STS.sandboxtemporary0001", "sts-secret", "sts-token-abc")
    with start(extra_keys=[pair]) as sts_sandbox:
        request = models.ChatWithDesensitizeRequest(instance_id=1, messages=[{"role": "user", "content": "hi"}])
        good = make_client(sts_sandbox, key_id=pair.access_key_id, secret="sts-secret", token="sts-token-abc")
        assert good.chat_with_desensitize_with_options(request, runtime()).body.success is True
        bad = make_client(sts_sandbox, key_id=pair.access_key_id, secret="sts-secret", token="another-token")
        assert sdk_error(lambda: bad.chat_with_desensitize_with_options(request, runtime()))[0] == (
            "InvalidSecurityToken.MismatchWithAccessKey")


def test_long_chinese_streams_survive_the_sdk_reading_8k_at_a_time(sandbox):
    # Many CJK events with logprobs, well over the SDK's 8 KiB read size, arrive intact.
    client = make_client(sandbox)
    messages = [{"role": "user", "content": "请把下面的段落改写得更正式一些：" + "我们的服务今天出现了故障，" * 40}]
    plain = client.chat_with_desensitize_with_options(models.ChatWithDesensitizeRequest(
        instance_id=1, messages=messages, seed=2, logprobs=True, top_logprobs=5), runtime())
    events = list(client.chat_with_desensitize_ssewith_sse(models.ChatWithDesensitizeSSERequest(
        instance_id=1, messages=messages, seed=2, logprobs=True, top_logprobs=5), runtime()))
    assert sum(len(e.body.to_map().__repr__()) for e in events) > 5 * 8192
    text = "".join(event_data(e)["Choices"][0]["Message"]["Content"] for e in events)
    assert text == plain.body.data.choices[0].message.content
