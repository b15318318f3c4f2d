"""The sandbox's HTTP surface with hand-made requests: every rejection has the real code, status
and JSON shape; inspection, instances, rules, fault knobs and the command line work."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
import requests

from dms_magic import defaults as D
from dms_magic.wire import signing
from dms_magic.sandbox import FaultConfig, ReplyShape, start
from dms_magic.sandbox.inspection import received, received_all

GATEWAY_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


def post(sandbox, query=None, form=None, *, action=D.ACTION, version=D.API_VERSION, secret=None, key_id=None,
         drop=(), headers=None, body=None, sign=True, timeout=10):
    """POST / signed like the SDK (optionally tampered with); returns the requests.Response."""
    query = {k: v for k, v in {"InstanceId": "1", **(query or {})}.items() if v is not None}  # None: leave out
    if body is None:
        body = urlencode(form if form is not None else {
            "Messages": json.dumps([{"role": "user", "content": "hi"}])}).encode()
    host = f"127.0.0.1:{sandbox.port}"
    sent = {}
    if sign:
        sent = signing.sign_headers("POST", "/", query, body, host, action, version, key_id or sandbox.access_key_id,
                                    secret or sandbox.access_key_secret)
    sent.update(headers or {})
    for name in drop:
        sent.pop(name, None)
    return requests.post(f"{sandbox.url}/?{urlencode(query)}", data=body, headers=sent, timeout=timeout)


def gateway_error(response, code, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == GATEWAY_KEYS
    assert body["Code"] == code
    assert body["HostId"] and body["RequestId"] and code in body["Recommend"]
    assert response.headers["X-Dms-Magic-Backend"] == "sandbox"
    return body


def test_a_signed_request_succeeds_and_says_it_is_the_sandbox(sandbox):
    response = post(sandbox)
    assert response.status_code == 200
    assert response.headers["X-Dms-Magic-Backend"] == "sandbox"
    assert response.json()["Success"] is True


def test_missing_or_malformed_authorization_is_incomplete_signature(sandbox):
    gateway_error(post(sandbox, drop=["Authorization"]), "IncompleteSignature", 400)
    gateway_error(post(sandbox, headers={"Authorization": "ACS3-HMAC-SHA256 Credential=x"}), "IncompleteSignature", 400)
    auth = signing.sign_headers("POST", "/", {"InstanceId": "1"}, b"", "h", D.ACTION, D.API_VERSION, "k", "s")
    unsigned_date = auth["Authorization"].replace("x-acs-date;", "")
    gateway_error(post(sandbox, headers={"Authorization": unsigned_date}), "IncompleteSignature", 400)


def test_signature_covers_query_body_and_headers(sandbox):
    good = signing.sign_headers("POST", "/", {"InstanceId": "1"}, b"Messages=x", f"127.0.0.1:{sandbox.port}",
                                D.ACTION, D.API_VERSION, sandbox.access_key_id, sandbox.access_key_secret)
    tampered_query = requests.post(f"{sandbox.url}/?InstanceId=2", data=b"Messages=x", headers=good, timeout=10)
    gateway_error(tampered_query, "SignatureDoesNotMatch", 400)
    good = dict(good, **{"x-acs-signature-nonce": "other"})  # a signed header changed after signing
    gateway_error(requests.post(f"{sandbox.url}/?InstanceId=1", data=b"Messages=x", headers=good, timeout=10),
                  "SignatureDoesNotMatch", 400)
    body = gateway_error(post(sandbox, secret="wrong"), "SignatureDoesNotMatch", 400)
    assert "wrong" not in json.dumps(body) and sandbox.access_key_secret not in json.dumps(body)


def test_body_not_matching_its_hash_is_rejected(sandbox):
    good = signing.sign_headers("POST", "/", {"InstanceId": "1"}, b"Messages=x", f"127.0.0.1:{sandbox.port}",
                                D.ACTION, D.API_VERSION, sandbox.access_key_id, sandbox.access_key_secret)
    response = requests.post(f"{sandbox.url}/?InstanceId=1", data=b"Messages=y", headers=good, timeout=10)
    gateway_error(response, "SignatureDoesNotMatch", 400)


def test_time_window_is_fifteen_minutes(sandbox):
    fresh = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 14 * 60))
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 16 * 60))
    host = f"127.0.0.1:{sandbox.port}"
    for date, status in ((fresh, 200), (stale, 400)):
        body = urlencode({"Messages": json.dumps([{"role": "user", "content": "hi"}])}).encode()
        headers = signing.sign_headers("POST", "/", {"InstanceId": "1"}, body, host, D.ACTION, D.API_VERSION,
                                       sandbox.access_key_id, sandbox.access_key_secret, date=date)
        response = requests.post(f"{sandbox.url}/?InstanceId=1", data=body, headers=headers, timeout=10)
        assert response.status_code == status
    assert response.json()["Code"] == "InvalidTimeStamp.Expired"


def test_unknown_key_and_replayed_nonce(sandbox):
    gateway_error(post(sandbox, key_id="LTAInobody"), "InvalidAccessKeyId.NotFound", 404)
    host = f"127.0.0.1:{sandbox.port}"
    headers = signing.sign_headers("POST", "/", {"InstanceId": "1"}, b"", host, D.ACTION, D.API_VERSION,
                                   sandbox.access_key_id, sandbox.access_key_secret)
    first = requests.post(f"{sandbox.url}/?InstanceId=1", headers=headers, timeout=10)
    assert first.json()["Code"] == "MissingParameter"  # authenticated, then the parameters are checked
    gateway_error(requests.post(f"{sandbox.url}/?InstanceId=1", headers=headers, timeout=10), "SignatureNonceUsed",
                  400)


def test_unsupported_action_and_version(sandbox):
    body = gateway_error(post(sandbox, action="DeleteInstance"), "InvalidAction.NotFound", 404)
    assert "DeleteInstance" in body["Message"]
    gateway_error(post(sandbox, version="2015-01-01"), "InvalidVersion", 400)


@pytest.mark.parametrize("query, form, code, named", [
    ({"InstanceId": None}, None, "MissingParameter", "InstanceId"),
    ({}, {}, "MissingParameter", "Messages"),
    ({}, {"Messages": "[not json"}, "InvalidParameter", "Messages"),
    ({}, {"Messages": json.dumps([{"role": "robot", "content": "x"}])}, "InvalidParameter", "Messages[0].role"),
    ({"Temperature": "2"}, None, "InvalidParameter", "Temperature"),
    ({"TopLogprobs": "9", "Logprobs": "true"}, None, "InvalidParameter", "TopLogprobs"),
    ({"MaxTokens": "ten"}, None, "InvalidParameter", "MaxTokens"),
    ({"Stop": "[1, 2]"}, None, "InvalidParameter", "Stop"),
    ({"NeedDesensitization": "true"}, None, "MissingParameter", "DesensitizationRule"),
    ({"Stream": "true"}, None, "InvalidParameter", "Stream"),
])
def test_parameter_errors_name_the_parameter(sandbox, query, form, code, named):
    response = post(sandbox, query, form)
    body = gateway_error(response, code, 400)
    assert named in body["Message"]


def test_python_sdk_boolean_spelling_is_accepted(sandbox):
    response = post(sandbox, {"Logprobs": "True", "TopLogprobs": "2"})
    assert response.json()["Data"]["Choices"][0]["Logprobs"]["content"]


def test_unknown_instance_and_rule_are_business_errors(sandbox):
    response = post(sandbox, {"InstanceId": "7"})
    body = response.json()
    assert response.status_code == 200 and body["Success"] is False
    assert body["ErrorCode"] == "InstanceNotExist" and "7" in body["ErrorMessage"]
    body = post(sandbox, {"NeedDesensitization": "true", "DesensitizationRule": "NoSuchRule"}).json()
    assert body["Success"] is False and "UserInfo" in body["ErrorMessage"]


def test_unknown_rule_lists_the_rules_and_only_an_unknown_rule_is_reported_so(sandbox, monkeypatch):
    body = post(sandbox, {"NeedDesensitization": "true", "DesensitizationRule": "NoSuchRule"}).json()
    assert body["ErrorCode"] == "DesensitizationRuleNotExist"
    assert "'NoSuchRule'" in body["ErrorMessage"] and "Use one of: UserInfo, " in body["ErrorMessage"]
    import dms_magic.masking.messages

    def broken(*args, **kwargs):
        raise KeyError("no such group")  # a masking bug is a 500, not "the rule does not exist"

    monkeypatch.setattr(dms_magic.masking.messages, "mask_messages", broken)  # what mask_text_parts calls
    response = post(sandbox, {"NeedDesensitization": "true", "DesensitizationRule": "UserInfo"})
    gateway_error(response, "InternalError", 500)


def test_one_masking_session_per_request_as_mask_messages():
    from dms_magic.masking import MaskingSession, mask_messages

    config = {"operators": {"MOBILE_PHONE": {"type": "pseudonym"}}}
    messages = [{"role": "user", "content": "我的手机13812345678"}, {"role": "assistant", "content": "好的"},
                {"role": "user", "content": "另一个13900001111，还是13812345678"}]
    with start(masking_config=config) as sb:
        query = {"NeedDesensitization": "true", "DesensitizationRule": "UserInfo", "Seed": "5"}
        post(sb, query, {"Messages": json.dumps(messages, ensure_ascii=False)})
        seen = sb.received[-1]["model_input"]
    assert [m["content"] for m in seen] == ["我的手机<MOBILE_PHONE_1>", "好的", "另一个<MOBILE_PHONE_2>，还是<MOBILE_PHONE_1>"]
    assert seen == list(mask_messages(messages, "UserInfo", config=config, session=MaskingSession(seed=5)))


@pytest.mark.parametrize("query, messages, where", [
    ({}, '[{"role": "user", "content": "a\\ud800b"}]', "Messages[0].content"),
    ({"Stop": '["\\udc80"]'}, '[{"role": "user", "content": "hi"}]', "Stop"),
    ({"SearchOptions": '{"k": "\\ud800"}'}, '[{"role": "user", "content": "hi"}]', "SearchOptions"),
])
def test_lone_surrogates_are_invalid_parameter(sandbox, query, messages, where):
    # JSON escapes are how a lone surrogate reaches the sandbox: the parameter table rejects it
    body = gateway_error(post(sandbox, query, {"Messages": messages}), "InvalidParameter", 400)
    assert where in body["Message"] and "surrogate" in body["Message"]


def test_other_instances_by_config():
    with start(instances=(1, 7)) as sb:
        assert post(sb, {"InstanceId": "7"}).json()["Success"] is True


def test_body_too_large_is_413(sandbox):
    from dms_magic.sandbox.app import MAX_BODY_BYTES

    huge = urlencode({"Messages": json.dumps([{"role": "user", "content": "x" * (MAX_BODY_BYTES + 10)}])}).encode()
    gateway_error(post(sandbox, body=huge), "RequestBodyTooLarge", 413)


def test_non_form_body_is_invalid_parameter(sandbox):
    body = json.dumps({"Messages": [{"role": "user", "content": "hi"}]}).encode()
    gateway_error(_json_post(sandbox, body), "InvalidParameter", 400)


def _json_post(sandbox, body):
    host = f"127.0.0.1:{sandbox.port}"
    headers = signing.sign_headers("POST", "/", {"InstanceId": "1"}, body, host, D.ACTION, D.API_VERSION,
                                   sandbox.access_key_id, sandbox.access_key_secret, content_type="application/json")
    return requests.post(f"{sandbox.url}/?InstanceId=1", data=body, headers=headers, timeout=10)


def test_received_shows_the_masked_input_over_http(sandbox):
    form = {"Messages": json.dumps([{"role": "user", "content": "我的手机号是13812345678"}], ensure_ascii=False)}
    response = post(sandbox, {"NeedDesensitization": "true", "DesensitizationRule": "UserInfo"}, form)
    request_id = response.json()["RequestId"]
    entries = received_all(sandbox.url, sandbox.access_key_id, sandbox.access_key_secret)
    entry = next(e for e in entries if e["request_id"] == request_id)
    assert entry["request"]["messages"][0]["content"] == "我的手机号是13812345678"  # as sent
    assert "13812345678" not in entry["model_input"][0]["content"]  # as the generator saw it
    assert entry["masked"] is True
    assert sandbox.access_key_secret not in json.dumps(entries)


def test_unknown_path_is_a_json_404(sandbox):
    response = requests.get(f"{sandbox.url}/nothing", timeout=10)
    gateway_error(response, "NotFound", 404)


def test_fault_knobs():
    with start(faults=FaultConfig(error_rate=1.0)) as sb:
        gateway_error(post(sb), "ServiceUnavailable", 503)
    with start(faults=FaultConfig(throttle_qps=2)) as sb:
        responses = [post(sb) for _ in range(6)]  # back to back: far more than 2 within one second
        assert responses[0].status_code == 200
        throttled = [r for r in responses if r.status_code != 200]
        assert throttled
        for response in throttled:
            gateway_error(response, "Throttling.User", 400)
    with start(faults=FaultConfig(drop_rate=1.0)) as sb:
        with pytest.raises(requests.ConnectionError):
            post(sb)
    with start(faults=FaultConfig(latency_ms=50)) as sb:  # latency only delays; the answer is unchanged
        assert post(sb).json()["Success"] is True


def test_start_validates_knobs():
    with pytest.raises(ValueError, match="error_rate"):
        start(faults=FaultConfig(error_rate=2))


def test_sandbox_repr_hides_the_secret(sandbox):
    assert sandbox.access_key_secret not in repr(sandbox)
    assert sandbox.url in repr(sandbox)


def test_command_line_prints_url_and_key_id_never_the_secret():
    secret = "SENTINEL-cli-secret-91c2"
    process = subprocess.Popen(
        [sys.executable, "-m", "dms_magic.sandbox", "--port", "0", "--access-key-id", "LTAIcli",
         "--access-key-secret", secret], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        url = lines[0].split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert "LTAIcli" in lines[1]
        assert secret not in "".join(lines)

        class Remote:
            port = int(url.rsplit(":", 1)[1])
            access_key_id, access_key_secret = "LTAIcli", secret

        Remote.url = url
        assert post(Remote).json()["Success"] is True
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert secret not in output


def test_oversized_request_line_and_headers_get_json_too(sandbox):
    for response in (requests.post(f"{sandbox.url}/?Messages={'x' * 70000}", timeout=10),
                     requests.post(f"{sandbox.url}/", headers={"X-Big": "y" * 70000}, timeout=10)):
        assert 400 <= response.status_code < 500
        assert response.json()["Code"] == "InvalidRequest"
        assert response.headers["X-Dms-Magic-Backend"] == "sandbox"
        body = response.json()  # the same shape as every other gateway error
        assert set(body) == GATEWAY_KEYS and "InvalidRequest" in body["Recommend"] and body["RequestId"] in body["Recommend"]


def test_old_rpc_signature_style_is_told_what_to_use(sandbox):
    response = requests.post(f"{sandbox.url}/?Action=ChatWithDesensitize&Version=2018-11-01&Signature=x", timeout=10)
    body = gateway_error(response, "IncompleteSignature", 400)
    assert "ACS3-HMAC-SHA256" in body["Message"]


def test_a_broken_masking_config_fails_at_start_not_on_a_request(tmp_path):
    from dms_magic.masking import MaskingConfigError

    with pytest.raises(MaskingConfigError, match="does not exist"):
        start(masking_config=tmp_path / "missing.toml")
    result = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--port", "0", "--masking-config",
                             str(tmp_path / "missing.toml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "missing.toml" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flag, value, expected", [
    ("--error-rate", "2", "--error-rate 2.0 is invalid: expected a fraction in [0, 1]"),
    ("--latency-ms", "nan", "--latency-ms nan is invalid: expected milliseconds >= 0"),
])
def test_a_bad_flag_is_one_line_naming_it(flag, value, expected):
    result = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--port", "0", flag, value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"cannot start the sandbox: {expected}\n"


def test_business_errors_on_the_streaming_action_come_as_one_event(sandbox):
    response = post(sandbox, {"InstanceId": "7"}, action=D.SSE_ACTION)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    assert len(events) == 1 and events[0]["Success"] is False and events[0]["ErrorCode"] == "InstanceNotExist"


def test_received_can_be_cleared():
    with start() as sb:
        post(sb)
        assert len(received(sb.url, sb.access_key_id, sb.access_key_secret)["entries"]) == 1
        received(sb.url, sb.access_key_id, sb.access_key_secret, clear=True)
        assert sb.received == []


def test_sixteen_concurrent_clients_are_all_answered(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    from dms_magic.client import ClientSettings, DmsChatClient

    with DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id, access_key_secret=sandbox.access_key_secret,
                       instance_id=1, settings=ClientSettings(max_retries=0)) as client:
        prompts = [f"客户{i}的手机号是1391234{i:04d}" for i in range(64)]
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda p: client.chat(p, need_desensitization=True,
                                                          desensitization_rule="UserInfo", max_tokens=40), prompts))
    assert len({r.request_id for r in results}) == 64
    recorded = {e["request_id"]: e for e in sandbox.received}
    for prompt, result in zip(prompts, results):
        entry = recorded[result.request_id]
        assert entry["request"].messages[0]["content"] == prompt  # each answer belongs to its own request
        assert prompt[-11:] not in entry["model_input"][0]["content"]


def test_a_stopped_sandbox_answers_nothing_even_on_kept_alive_connections():
    from dms_magic.client import ClientSettings, DmsChatClient

    sb = start()
    client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                           instance_id=1, settings=ClientSettings(max_retries=0))
    assert client.chat("hi").backend == "sandbox"  # the connection is now pooled and kept alive
    sb.stop()
    from dms_magic.errors import TransportError

    with pytest.raises(TransportError):
        client.chat("hi")


@pytest.mark.slow
def test_a_stream_arrives_event_by_event():
    import socket

    # Data as an object, so FinishReason is plain in the bytes (the default, a JSON string, escapes it)
    # the latency is spread between the events
    with start(faults=FaultConfig(latency_ms=3000), shape=ReplyShape(stream_data="object")) as sb:
        query = {"InstanceId": "1", "MaxTokens": "30"}
        body = urlencode({"Messages": json.dumps([{"role": "user", "content": "hello there"}])}).encode()
        headers = signing.sign_headers("POST", "/", query, body, f"127.0.0.1:{sb.port}", D.SSE_ACTION,
                                       D.API_VERSION, sb.access_key_id, sb.access_key_secret)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        with socket.create_connection((sb.host, sb.port), timeout=30) as conn:
            conn.sendall(f"POST /?{urlencode(query)} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
                         .encode() + body)
            first = b""
            while b"data:" not in first or not first.endswith(b"\r\n"):
                first += conn.recv(65536)
            assert b'"FinishReason":null' in first  # the first event came alone ...
            assert b'"FinishReason":"' not in first  # ... before the last one was written
            rest = b""
            while b'"FinishReason":"' not in rest:
                chunk = conn.recv(65536)
                assert chunk
                rest += chunk
