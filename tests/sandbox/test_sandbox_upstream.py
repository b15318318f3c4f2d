"""The optional upstream: the sandbox as a local masking gateway in front of an OpenAI-compatible
model. The upstream here is a small stand-in server that records what reached it and answers
like an OpenAI-compatible endpoint (with logprobs and usage)."""
from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from dms_magic.client import ClientSettings, DmsChatClient
from dms_magic.errors import DmsError
from dms_magic.sandbox import Upstream, start


PROMPT = "我叫张伟，手机号13812345678，请帮我写一封投诉信。"
ANSWER = ["您好", "，", "这是", "投诉信", "。"]


class FakeModel:
    """An OpenAI-compatible /chat/completions that records requests."""

    def __init__(self, status=200):
        self.seen, self.status = [], status
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def app(self, environ, start_response):
        request = Request(environ)
        body = json.loads(request.get_data())
        self.seen.append({"path": request.path, "auth": request.headers.get("Authorization"), "body": body})
        if self.status != 200:
            return Response(json.dumps({"error": {"message": "model overloaded"}}), status=self.status,
                            content_type="application/json")(environ, start_response)
        content = [{"token": t, "bytes": list(t.encode()), "logprob": -0.1 * i,
                    "top_logprobs": [{"token": t, "bytes": list(t.encode()), "logprob": -0.1 * i}]}
                   for i, t in enumerate(ANSWER)]
        answer = {"id": "x", "model": "qwen2.5:0.5b", "choices": [{
            "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "".join(ANSWER)},
            "logprobs": {"content": content} if body.get("logprobs") else None}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}}
        return Response(json.dumps(answer), content_type="application/json")(environ, start_response)

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def gateway():
    model = FakeModel()
    with start(upstream=Upstream(model.url, model="qwen2.5:0.5b", api_key="SENTINEL-upstream-key")) as sb:
        with DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                           instance_id=1) as client:
            yield model, sb, client
    model.stop()


def test_only_masked_messages_reach_the_upstream_and_its_answer_comes_back(gateway):
    model, sandbox, client = gateway
    result = client.chat(PROMPT, need_desensitization=True, desensitization_rule="UserInfo", logprobs=True,
                         top_logprobs=1, temperature=0.3, seed=5)
    sent = model.seen[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer SENTINEL-upstream-key"
    assert "13812345678" not in json.dumps(sent["body"], ensure_ascii=False)
    assert sent["body"]["messages"] == sandbox.received[-1]["model_input"]
    assert sent["body"]["model"] == "qwen2.5:0.5b"
    assert (sent["body"]["temperature"], sent["body"]["seed"], sent["body"]["top_logprobs"]) == (0.3, 5, 1)
    assert result.text == "".join(ANSWER)
    assert result.model == "qwen2.5:0.5b"
    assert [t["token"] for t in result.token_logprobs] == ANSWER
    assert result.usage_dict["completion_tokens"] == 5 and result.usage_dict["total_tokens"] == 26
    assert result.backend == "sandbox"
    assert "SENTINEL-upstream-key" not in json.dumps(sandbox.received[-1], default=str)


def test_upstream_answer_streams_in_pieces(gateway):
    _, _, client = gateway
    stream = client.stream(PROMPT, include_usage=True)
    chunks = list(stream)
    assert len(chunks) > 2
    assert stream.result.text == "".join(ANSWER)
    assert stream.result.usage_dict["completion_tokens"] == 5


def test_upstream_failures_become_gateway_errors():
    for status, code in ((503, "ServiceUnavailable"), (400, "InvalidParameter")):
        model = FakeModel(status=status)
        with start(upstream=model.url) as sb:
            client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                                   instance_id=1, settings=ClientSettings(max_retries=0))
            with pytest.raises(DmsError) as info:
                client.chat("hi")
            assert info.value.code == code
            assert "overloaded" in info.value.message
        model.stop()
    with start(upstream="http://127.0.0.1:9/v1") as sb:  # nothing listens on the discard port
        client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                               instance_id=1, settings=ClientSettings(max_retries=0))
        with pytest.raises(DmsError) as info:
            client.chat("hi")
        assert info.value.code == "ServiceUnavailable"


def test_a_refusing_model_is_reported_inside_data_like_dms_does():
    model = FakeModel(status=400)
    with start(upstream=model.url) as sb:
        post = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                             instance_id=1, settings=ClientSettings(max_retries=0))
        with pytest.raises(DmsError) as info:
            post.chat("hi")
        assert info.value.code == "InvalidParameter" and (info.value.http_status, info.value.model_status) == (200, 400)
        raw = info.value.raw
        assert raw["Success"] is True and raw["Data"]["StatusCode"] == "400"
        assert raw["Data"]["Type"] == "invalid_request_error"
    model.stop()


class OddModel(FakeModel):
    """Answers HTTP 200 with a fixed body, shaped however the test says."""

    def __init__(self, answer):
        self.answer = answer
        super().__init__()

    def app(self, environ, start_response):
        return Response(json.dumps(self.answer), content_type="application/json")(environ, start_response)


GOOD_CHOICE = {"finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}


@pytest.mark.parametrize("answer", [
    {"choices": [{**GOOD_CHOICE, "logprobs": {"content": [{"token": "ok", "logprob": None, "top_logprobs": []}]}}]},
    {"choices": [{**GOOD_CHOICE, "logprobs": {"content": [{"token": "ok", "logprob": -1,
                                                             "top_logprobs": [{"token": "x", "logprob": "low"}]}]}}]},
    {"choices": [{**GOOD_CHOICE, "logprobs": {"content": ["ok"]}}]},
    {"choices": [GOOD_CHOICE], "usage": {"prompt_tokens": "many"}},
    {"choices": [GOOD_CHOICE], "usage": {"completion_tokens": [5]}},
    {"choices": [GOOD_CHOICE], "usage": {"completion_tokens": 10**400}},
    {"choices": [GOOD_CHOICE], "usage": "none"},
    {"choices": {"0": GOOD_CHOICE}},
    {"choices": 5},
    {"choices": ["ok"]},
    {"choices": [{"message": "ok"}]},
    {"choices": [{"message": {"content": ["ok"]}}]},
])
@pytest.mark.slow
def test_an_oddly_shaped_upstream_answer_is_service_unavailable_not_a_500(answer):
    model = OddModel(answer)
    try:
        with start(upstream=model.url) as sb:
            client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                                   instance_id=1, settings=ClientSettings(max_retries=0))
            for stream in (False, True):
                with pytest.raises(DmsError) as info:
                    client.stream("hi").result if stream else client.chat("hi")
                assert info.value.code == "ServiceUnavailable" and info.value.http_status == 503
                assert "OpenAI" in info.value.message and model.url in info.value.message
    finally:
        model.stop()


def test_numbers_as_strings_in_usage_are_still_read():
    model = OddModel({"choices": [GOOD_CHOICE], "usage": {"prompt_tokens": "7", "completion_tokens": "2",
                                                           "total_tokens": "9"}})
    try:
        with start(upstream=model.url) as sb:
            client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                                   instance_id=1, settings=ClientSettings(max_retries=0))
            result = client.chat("hi")
            assert result.text == "ok" and result.usage_dict["total_tokens"] == 9
    finally:
        model.stop()


@pytest.mark.parametrize("alternative", [{"token": "x"}, {"token": "x", "logprob": float("-inf")},
                                         {"token": "x", "logprob": "-inf"}, {"token": "x", "logprob": float("nan")}])
def test_an_alternative_without_a_finite_logprob_is_dropped_and_the_reply_is_strict_json(alternative):
    # json.dumps writes float("-inf") as -Infinity, which the stand-in model sends like a lenient server would
    model = OddModel({"choices": [{**GOOD_CHOICE, "logprobs": {"content": [
        {"token": "ok", "logprob": -0.5, "top_logprobs": [{"token": "ok", "logprob": -0.5}, alternative,
                                                          {"token": "no", "logprob": -3}]}]}}]})
    try:
        with start(upstream=model.url) as sb:
            client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                                   instance_id=1, settings=ClientSettings(max_retries=0))
            result = client.chat("hi", logprobs=True, top_logprobs=3)
            json.dumps(result.raw, allow_nan=False)  # ValueError for -Infinity / NaN
            [entry] = result.raw["Data"]["Choices"][0]["Logprobs"]["content"]
            assert entry["logprob"] == -0.5
            assert [(a["token"], a["logprob"]) for a in entry["top_logprobs"]] == [("ok", -0.5), ("no", -3)]
            stream = client.stream("hi", logprobs=True, top_logprobs=3)
            for chunk in stream:
                json.dumps(chunk.raw, allow_nan=False)
            assert stream.result.text == "ok"
    finally:
        model.stop()


@pytest.mark.parametrize("logprob", [float("-inf"), "nan"])
def test_a_chosen_token_without_a_finite_logprob_is_treated_like_a_missing_one(logprob):
    # a missing logprob on the chosen token means "no logprobs" (Logprobs null); a non-finite one too
    model = OddModel({"choices": [{**GOOD_CHOICE, "logprobs": {"content": [
        {"token": "ok", "logprob": logprob, "top_logprobs": [{"token": "ok", "logprob": -0.5}]}]}}]})
    try:
        with start(upstream=model.url) as sb:
            client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                                   instance_id=1, settings=ClientSettings(max_retries=0))
            result = client.chat("hi", logprobs=True, top_logprobs=1)
            json.dumps(result.raw, allow_nan=False)
            assert result.text == "ok" and result.raw["Data"]["Choices"][0]["Logprobs"] is None
    finally:
        model.stop()
