"""Fuzzing the sandbox's request surface: whatever arrives, the answer is JSON and never a 5xx.

Random bodies, random and huge parameter values, wrong types, random JSON as Messages, missing or
garbage headers — each properly signed where signing is not what is being fuzzed, so the request
reaches the parameter checks.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dms_magic import defaults as D
from dms_magic.wire.params import BY_WIRE
from dms_magic.wire import signing

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
huge = st.one_of(st.integers(min_value=-10**30, max_value=10**30).map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(repr))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=12)
wire_names = st.sampled_from(sorted(BY_WIRE)) | text.filter(bool)
values = st.one_of(text, huge, st.sampled_from(["true", "True", "false", "0", "1", "-1", "", "[]", "{}", "null"]),
                   json_values.map(json.dumps))


def send(sandbox, query, body, *, action=D.ACTION, content_type=signing.FORM_CONTENT_TYPE, drop=(), extra=None):
    headers = signing.sign_headers("POST", "/", query, body, f"127.0.0.1:{sandbox.port}", action, D.API_VERSION,
                                   sandbox.access_key_id, sandbox.access_key_secret, content_type=content_type)
    for name in drop:
        headers.pop(name, None)
    headers.update(extra or {})
    return requests.post(f"{sandbox.url}/?{urlencode(query)}", data=body, headers=headers, timeout=30)


def assert_clean_reply(response):
    assert response.status_code < 500, response.text[:500]
    body = response.json() if "json" in response.headers.get("Content-Type", "") else None
    if response.status_code >= 400:
        assert body is not None and body["Code"] and body["Message"]
    elif body is not None:
        assert "Success" in body
    else:  # a streamed answer: every data line is JSON
        lines = [line for line in response.text.splitlines() if line.startswith("data:")]
        assert lines and all(json.loads(line[5:]) for line in lines)
        assert "[DONE]" not in response.text


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from(
    [signing.FORM_CONTENT_TYPE, "application/json", "text/plain", "multipart/form-data; boundary=x"]))
def test_random_bodies(sandbox, body, content_type):
    assert_clean_reply(send(sandbox, {"InstanceId": "1"}, body, content_type=content_type))


@FUZZ
@given(query=st.dictionaries(wire_names, values, max_size=6), messages=json_values | text,
       action=st.sampled_from([D.ACTION, D.SSE_ACTION]))
def test_random_parameters_and_messages(sandbox, query, messages, action):
    query = {"InstanceId": "1", **query}
    body = urlencode({"Messages": messages if isinstance(messages, str) else json.dumps(messages)}).encode()
    assert_clean_reply(send(sandbox, query, body, action=action))


@FUZZ
@given(query=st.dictionaries(st.sampled_from(sorted(BY_WIRE)), values, max_size=8),
       content=st.text(max_size=200), action=st.sampled_from([D.ACTION, D.SSE_ACTION]))
def test_valid_messages_with_random_parameters(sandbox, query, content, action):
    query = {"InstanceId": "1", **query}
    body = urlencode({"Messages": json.dumps([{"role": "user", "content": content}])}).encode()
    assert_clean_reply(send(sandbox, query, body, action=action))


@FUZZ
@given(drop=st.sets(st.sampled_from(["Authorization", "x-acs-action", "x-acs-version", "x-acs-date",
                                     "x-acs-signature-nonce", "x-acs-content-sha256", "content-type"]), min_size=1),
       garbage=st.dictionaries(st.sampled_from(["Authorization", "x-acs-date", "x-acs-signature-nonce",
                                                "x-acs-security-token", "x-acs-content-sha256"]),
                               # stripped: requests itself refuses header values with outer whitespace
                               st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip),
                               max_size=2))
def test_missing_and_garbage_headers(sandbox, drop, garbage):
    # (host is not dropped: requests would add the same Host back)
    body = urlencode({"Messages": json.dumps([{"role": "user", "content": "hi"}])}).encode()
    response = send(sandbox, {"InstanceId": "1"}, body, drop=drop, extra=garbage)
    assert_clean_reply(response)
    assert response.status_code >= 400  # something the signature relied on is gone or wrong


@FUZZ
@given(content=st.text(st.characters(), max_size=20), where=st.sampled_from(["Messages", "Stop", "SearchOptions"]))
def test_lone_surrogate_escapes_are_invalid_parameters_not_crashes(sandbox, content, where):
    broken = json.dumps(content + "\ud800")  # ensure_ascii: the surrogate travels as a \\ud800 escape
    query = {"InstanceId": "1", "Logprobs": "true", "TopLogprobs": "2"}
    messages = [{"role": "user", "content": "hi"}]
    if where == "Messages":
        messages_text = f'[{{"role": "user", "content": {broken}}}]'
    else:
        messages_text = json.dumps(messages)
        query[where] = f"[{broken}]" if where == "Stop" else f'{{"k": {broken}}}'
    response = send(sandbox, query, urlencode({"Messages": messages_text}).encode())
    assert_clean_reply(response)
    assert response.status_code == 400 and where in response.json()["Message"]


pii_like = st.lists(st.one_of(
    text, st.from_regex(r"1[3-9]\d{9}", fullmatch=True), st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.com", fullmatch=True),
    st.from_regex(r"\d{17}[\dX]", fullmatch=True), st.sampled_from(["张伟", "王芳", "我叫", "，", "。", " ", "\n"])),
    max_size=12).map("".join)


@FUZZ
@given(contents=st.lists(pii_like, min_size=1, max_size=3), rule=st.sampled_from(["UserInfo", "All", "Contact"]),
       action=st.sampled_from([D.ACTION, D.SSE_ACTION]))
def test_masking_on_random_text(sandbox, contents, rule, action):
    query = {"InstanceId": "1", "NeedDesensitization": "true", "DesensitizationRule": rule, "Logprobs": "true"}
    messages = [{"role": "user", "content": c} for c in contents]
    response = send(sandbox, query, urlencode({"Messages": json.dumps(messages)}).encode(), action=action)
    assert_clean_reply(response)
    assert response.status_code == 200
