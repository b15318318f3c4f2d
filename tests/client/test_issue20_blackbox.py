"""Black-box attack on issue 20 ("Never bill twice, never return an empty success").

Written from issue 20, README.md, docs/architecture.md and the official SDK's source (alibabacloud_tea_openapi,
alibabacloud_dms_enterprise20181101) only, never dms_magic/'s code. Every test talks over real HTTP to
tests/helpers/sdk_replies.py's ReplyServer on 127.0.0.1: what the server received (how many requests, which
User-Agent) is the evidence, with the SDK as the oracle where it reads the same bytes.

Tests that fail because of a defect stay here as ``xfail(strict=True, reason="finding: ...")``.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import socket
import time

import pytest
from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from alibabacloud_tea_openapi.models import Config
from helpers.sdk_replies import (
    AK,
    HEADER_RID,
    RID,
    SK,
    HeadersThenStall,
    Hold,
    Reply,
    ReplyServer,
    Stream,
    data_obj,
    gateway_body,
    lp,
    ok_body,
    our_client,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dms_magic
from dms_magic import errors

pytestmark = pytest.mark.blackbox  # written without reading dms_magic/

FAST = {"backoff_base": 0.001, "backoff_cap": 0.01}
HTML = "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center><hr>nginx</body></html>"


@pytest.fixture(scope="module")
def srv():
    server = ReplyServer()
    yield server
    server.close()


def client(srv, **kw):
    return our_client(srv, **{**FAST, **kw})


def fail_body(status, *, as_string=False, message="upstream timeout", request_id=RID):
    data = {"StatusCode": status, "Message": message, "Type": "server_error"}
    body = {"Success": True, "Data": json.dumps(data) if as_string else data}
    if request_id:
        body["RequestId"] = request_id
    return body


def attempt(fn):
    """(result, error): the call's outcome either way."""
    try:
        return fn(), None
    except errors.DmsError as e:
        return None, e


# ------------------------------------------------------------------ item 1: a model failure inside Data

STATUSES = ["500", "502", "503", "504", 500, 502, 503, 504]


@pytest.mark.parametrize("as_string", [False, True], ids=["data-object", "data-string"])
@pytest.mark.parametrize("status", STATUSES, ids=[repr(s) for s in STATUSES])
def test_plain_model_failure_sent_once_and_unknown_outcome(srv, status, as_string):
    srv.set(Reply(body=fail_body(status, as_string=as_string)), Reply(body=ok_body()))
    result, err = attempt(lambda: client(srv).chat("hi"))
    assert len(srv.arrivals) == 1, "a model failure inside Data must not be resent"
    assert isinstance(err, errors.OutcomeUnknownError), (result, err)
    assert err.model_status == int(status)
    assert err.request_id == RID
    assert "not resent" in str(err) or "Not retried" in str(err)


@pytest.mark.parametrize("as_string", [False, True], ids=["data-object", "data-string"])
@pytest.mark.parametrize("status", STATUSES, ids=[repr(s) for s in STATUSES])
def test_streamed_model_failure_first_event_sent_once_and_unknown_outcome(srv, status, as_string):
    srv.set(Stream(events=[fail_body(status, as_string=as_string)]), Stream(events=[ok_body(data_as_string=True)]))
    result, err = attempt(lambda: client(srv).stream("hi").result)
    assert len(srv.arrivals) == 1
    assert isinstance(err, errors.OutcomeUnknownError), (result, err)
    assert err.model_status == int(status)
    assert err.request_id == RID


def test_model_failure_request_id_from_header_when_body_has_none(srv):
    srv.set(Reply(body=fail_body("504", request_id=None), headers={"x-acs-request-id": HEADER_RID}),
            Reply(body=ok_body()))
    _, err = attempt(lambda: client(srv).chat("hi"))
    assert isinstance(err, errors.OutcomeUnknownError) and err.request_id == HEADER_RID
    assert len(srv.arrivals) == 1


@pytest.mark.parametrize("key", ["StatusCode", "statusCode", "status_code"])
@pytest.mark.parametrize("value", [" 504", "504.0", 504.0])
def test_model_failure_status_in_other_spellings_not_resent(srv, key, value):
    srv.set(Reply(body={"RequestId": RID, "Success": True, "Data": {key: value, "Message": "x"}}),
            Reply(body=ok_body()))
    _, err = attempt(lambda: client(srv).chat("hi"))
    assert len(srv.arrivals) == 1
    assert isinstance(err, errors.OutcomeUnknownError) and err.model_status == 504


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_model_failure_opt_in_resends(srv, stream):
    if stream:
        srv.set(Stream(events=[fail_body("504", as_string=True)]), Stream(events=[ok_body(data_as_string=True)]))
        result = client(srv, retry_unknown_outcome=True).stream("hi").result
    else:
        srv.set(Reply(body=fail_body("504")), Reply(body=ok_body()))
        result = client(srv, retry_unknown_outcome=True).chat("hi")
    assert len(srv.arrivals) == 2 and result.text == "你好呀!"


def test_stream_model_failure_after_first_event_is_outcome_unknown(srv):
    first = ok_body(data_obj(content="部分", reasoning=None, finish=None, usage=None, logprobs=None),
                    data_as_string=True)
    srv.set(Stream(events=[first, fail_body("504", as_string=True)]), Stream(events=[ok_body(data_as_string=True)]))
    _, err = attempt(lambda: client(srv).stream("hi").result)
    assert len(srv.arrivals) == 1  # held: never resent
    assert isinstance(err, errors.OutcomeUnknownError), repr(err)
    assert err.model_status == 504 and err.request_id == RID
    assert err.partial_text == "部分"  # what had arrived is kept


def test_model_failure_hint_matches_what_happened(srv):
    srv.set(Reply(body=fail_body("504")))
    _, err = attempt(lambda: client(srv).chat("hi"))
    assert isinstance(err, errors.OutcomeUnknownError)
    assert "no complete answer came back" not in str(err)


# ------------------------------------------------------------------ item 2: Success true, a real code, no Data

REAL_CODES = ["InvalidParameter", "MissingParameter", "Forbidden.RAM", "NoPermission", "InternalError",
              "SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound", "QuotaExceeded", "Some.New.Code"]
MISSING = object()
DATAS = [MISSING, None, {}, "", "{}", "null", []]
DATA_IDS = ["missing", "null", "empty-object", "empty-string", "string-{}", "string-null", "empty-list"]


@pytest.mark.parametrize("data", DATAS, ids=DATA_IDS)
@pytest.mark.parametrize("code", REAL_CODES)
def test_success_true_real_code_no_data_raises_the_code(srv, code, data):
    body = {"RequestId": RID, "Success": True, "ErrorCode": code, "ErrorMessage": "msg"}
    if data is not MISSING:
        body["Data"] = data
    srv.set(Reply(body=body), Reply(body=ok_body()))
    result, err = attempt(lambda: client(srv).chat("hi"))
    assert err is not None, f"empty success: {result.text!r}"
    assert err.code == code and err.request_id == RID
    assert len(srv.arrivals) == 1


@pytest.mark.parametrize("code", ["Throttling.User", "ServiceUnavailable"])
def test_success_true_refusal_code_no_data_is_retried(srv, code):
    srv.set(Reply(body={"RequestId": RID, "Success": True, "ErrorCode": code, "ErrorMessage": "m"}),
            Reply(body=ok_body()))
    assert client(srv).chat("hi").text == "你好呀!"
    assert len(srv.arrivals) == 2


@pytest.mark.parametrize("data", [MISSING, None, {}], ids=["missing", "null", "empty-object"])
@pytest.mark.parametrize("code", ["InvalidParameter", "Forbidden.RAM"])
def test_streamed_success_true_real_code_no_data_raises_the_code(srv, code, data):
    body = {"RequestId": RID, "Success": True, "ErrorCode": code, "ErrorMessage": "msg"}
    if data is not MISSING:
        body["Data"] = data
    srv.set(Stream(events=[body]))
    _, err = attempt(lambda: client(srv).stream("hi").result)
    assert err is not None and err.code == code


@pytest.mark.parametrize("code", [None, "", "UnknownError"])
@pytest.mark.parametrize("data", [MISSING, None, {}, "{}"], ids=["missing", "null", "empty-object", "string-{}"])
def test_success_true_nothing_at_all_is_not_an_empty_success(srv, code, data):
    body = {"RequestId": RID, "Success": True}
    if code is not None:
        body.update(ErrorCode=code, ErrorMessage=code)
    if data is not MISSING:
        body["Data"] = data
    srv.set(Reply(body=body))
    result, err = attempt(lambda: client(srv).chat("hi"))
    assert err is not None, f"empty success: text={result.text!r} finish_reason={result.finish_reason!r}"


@pytest.mark.parametrize("status", ["5xx", "", None])
def test_success_true_unreadable_status_and_no_answer_is_not_an_empty_success(srv, status):
    srv.set(Reply(body={"RequestId": RID, "Success": True, "Data": {"StatusCode": status, "Message": "x"}}),
            Reply(body=ok_body()))
    result, err = attempt(lambda: client(srv).chat("hi"))
    assert err is not None, f"empty success: text={result.text!r}"
    assert err.code == "InvalidResponse" and err.request_id == RID and "Data" in str(err)
    assert len(srv.arrivals) == 1  # the service took it: not resent


# ------------------------------------------------------------------ item 3: hints match what happened

@pytest.mark.parametrize("status,title", [(502, "502 Bad Gateway"), (504, "504 Gateway Time-out")])
def test_html_502_504_sent_once_and_says_so(srv, status, title):
    srv.set(Reply(status=status, body=HTML.format(title), content_type="text/html"), Reply(body=ok_body()))
    _, err = attempt(lambda: client(srv, max_retries=3).chat("hi"))
    assert len(srv.arrivals) == 1
    assert err.http_status == status
    text = str(err)
    assert "retried automatically" not in text and "Gave up" not in text
    assert "Not retried" in text and "1 attempt" in text


def test_html_503_retried_and_says_how_often(srv):
    srv.set(Reply(status=503, body=HTML.format("503 Service Temporarily Unavailable"), content_type="text/html"))
    _, err = attempt(lambda: client(srv, max_retries=3).chat("hi"))
    assert len(srv.arrivals) == 4
    assert "Gave up after 4 attempts" in str(err) and "max_retries=3" in str(err)


@pytest.mark.parametrize("headers", [{"x-acs-retry-after": "60000"}, {"Retry-After": "60"}])
def test_503_asking_to_wait_beyond_budget_given_up_at_once(srv, headers):
    srv.set(Reply(status=503, body=gateway_body("ServiceUnavailable", "busy"), headers=headers), Reply(body=ok_body()))
    _, err = attempt(lambda: client(srv, max_retry_time=5).chat("hi"))
    assert len(srv.arrivals) == 1
    text = str(err)
    assert "retried automatically" not in text and "Gave up after" not in text
    assert "60 s" in text and "1 attempt" in text
    assert err.retry_after == 60


def test_throttling_retry_after_in_ms_honoured_and_reported(srv):
    srv.set(Reply(status=429, body=gateway_body("Throttling.User", "slow"), headers={"x-acs-retry-after": "300"}))
    started = time.monotonic()
    _, err = attempt(lambda: client(srv, max_retries=2, max_retry_time=10).chat("hi"))
    assert len(srv.arrivals) == 3
    gaps = [b.received_at - a.received_at for a, b in zip(srv.arrivals, srv.arrivals[1:])]
    assert all(g >= 0.25 for g in gaps), gaps  # the 300 ms floor was waited (loosely)
    assert time.monotonic() - started < 5
    assert isinstance(err, errors.ThrottlingError) and err.retry_after == pytest.approx(0.3)
    assert "Gave up after 3 attempts" in str(err)


GAVE_UP = re.compile(r"Gave up after (\d+) attempts over ([\d.]+) s")


@pytest.mark.parametrize("reply,budget", [
    (Reply(status=503, body=gateway_body("ServiceUnavailable", "busy")), {"backoff_base": 0.2, "backoff_cap": 0.4}),
    (Reply(status=503, body="<html>503</html>", content_type="text/html"), {"backoff_base": 0.3, "backoff_cap": 0.3}),
    (Reply(status=429, body=gateway_body("Throttling", "x"), headers={"x-acs-retry-after": "400"}), {}),
], ids=["503-json", "503-html", "429-wait-400ms"])
@pytest.mark.slow
def test_given_up_on_time_budget_reports_attempts_and_time_spent(srv, reply, budget):
    srv.set(reply)
    started = time.monotonic()
    _, err = attempt(lambda: client(srv, max_retry_time=1.0, **budget).chat("hi"))
    elapsed = time.monotonic() - started
    found = GAVE_UP.search(str(err))
    assert found, str(err)
    assert int(found.group(1)) == len(srv.arrivals) > 1
    assert abs(float(found.group(2)) - elapsed) < 0.5  # loosely: the time it says is the time it took
    assert "max_retry_time=1" in str(err)


@pytest.mark.parametrize("last", [Reply(status=504, body="<html>504</html>", content_type="text/html"),
                                  Reply(body=fail_body("502")), Hold(3)], ids=["html-504", "model-502", "read-timeout"])
def test_unknown_outcome_after_refusals_counts_every_attempt(srv, last):
    refused = Reply(status=503, body=gateway_body("ServiceUnavailable", "busy"))
    srv.set(refused, refused, last, Reply(body=ok_body()))
    _, err = attempt(lambda: client(srv, timeout=1).chat("hi"))
    assert len(srv.arrivals) == 3
    assert "Not retried" in str(err) and "3 attempts" in str(err)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_connection_refused_on_loopback_mentions_a_stopped_sandbox(host):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = dms_magic.DmsChatClient(endpoint=f"http://{host}:{port}", access_key_id=AK, access_key_secret=SK,
                                instance_id=1, settings=dms_magic.ClientSettings(max_retries=2, max_retry_time=3,
                                                                                 **FAST))
    _, err = attempt(lambda: c.chat("hi"))
    assert isinstance(err, errors.TransportError)
    text = str(err)
    assert "sandbox" in text and str(port) in text
    assert "3 attempts" in text or "3 times" in text


# ------------------------------------------------------------------ item 4: streamed tool calls

TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
         for n in ("f", "g")]


def frag(id=None, name=None, args=None, index=None):
    d = {} if index is None else {"index": index}
    if id is not None:
        d.update(id=id, type="function")
    fn = {}
    if name is not None:
        fn["name"] = name
    if args is not None:
        fn["arguments"] = args
    d["function"] = fn
    return d


def tool_event(frags, finish=None):
    return ok_body(data_obj(content="", reasoning=None, finish=finish, logprobs=None, usage=None, tool_calls=frags),
                   data_as_string=True)


def calls_of(srv, events):
    srv.set(Stream(events=[*events, tool_event(None, finish="tool_calls")]))
    r = client(srv).stream("call f and g", tools=TOOLS).result
    return [(c.id, c.name, c.arguments_raw) for c in r.tool_calls]


TWO = [("c0", "f", '{"a":1}'), ("c1", "g", '{"b":2}')]

TOOL_STREAMS = {
    "issue-example-ids-every-event": [tool_event([frag("c0", "f", '{"a":1}')]), tool_event([frag("c1", "g", '{"b":2}')])],
    "ids-on-first-fragment-only": [tool_event([frag("c0", "f", "")]), tool_event([frag(args='{"a"')]),
                                   tool_event([frag(args=":1}")]), tool_event([frag("c1", "g", "")]),
                                   tool_event([frag(args='{"b"')]), tool_event([frag(args=":2}")])],
    "interleaved-by-id": [tool_event([frag("c0", "f", "")]), tool_event([frag("c1", "g", "")]),
                          tool_event([frag("c0", None, '{"a"')]), tool_event([frag("c1", None, '{"b"')]),
                          tool_event([frag("c0", None, ":1}")]), tool_event([frag("c1", None, ":2}")])],
    "two-in-one-event-then-by-id": [tool_event([frag("c0", "f", ""), frag("c1", "g", "")]),
                                    tool_event([frag("c1", None, '{"b":2}'), frag("c0", None, '{"a":1}')])],
    "openai-index-interleaved": [tool_event([frag("c0", "f", "", index=0)]), tool_event([frag(args='{"a"', index=0)]),
                                 tool_event([frag("c1", "g", "", index=1)]),
                                 tool_event([frag(args='{"b":2}', index=1)]), tool_event([frag(args=":1}", index=0)])],
    "index-as-string": [tool_event([frag("c0", "f", "", index="0")]), tool_event([frag(args='{"a":1}', index="0")]),
                        tool_event([frag("c1", "g", '{"b":2}', index="1")])],
}


@pytest.mark.parametrize("name", list(TOOL_STREAMS))
def test_streamed_tool_calls_two_calls(srv, name):
    assert calls_of(srv, TOOL_STREAMS[name]) == TWO


def test_streamed_tool_calls_same_index_distinct_ids_are_two_calls(srv):
    events = [tool_event([frag("c0", "f", '{"a":1}', index=0)]), tool_event([frag("c1", "g", '{"b":2}', index=0)])]
    assert calls_of(srv, events) == TWO


def test_streamed_tool_call_id_arriving_on_a_later_fragment(srv):
    events = [tool_event([frag(None, "f", '{"a"', index=0)]),
              tool_event([{"index": 0, "id": "c0", "function": {"arguments": ":1}"}}]),
              tool_event([frag("c1", "g", '{"b":2}', index=1)])]
    assert calls_of(srv, events) == TWO


def test_streamed_tool_calls_without_index_or_id_split_on_a_new_name(srv):
    events = [tool_event([{"function": {"name": "f", "arguments": '{"a":1}'}}]),
              tool_event([{"function": {"name": "g", "arguments": '{"b":2}'}}])]
    assert [(name, args) for _, name, args in calls_of(srv, events)] == [(n, a) for _, n, a in TWO]


# ------------------------------------------------------------------ item 5: stream modes never lose text

def text_event(content, *, finish=None, logprobs=None):
    return ok_body(data_obj(content=content, reasoning=None, finish=finish, logprobs=logprobs, usage=None),
                   data_as_string=True)


def stream_events(pieces, mode, with_logprobs):
    events, so_far, tokens = [], "", []
    for i, piece in enumerate(pieces):
        so_far += piece
        # each position its own logprob, as a real model gives (coinciding values: see the finding below)
        own = [lp(ch, -0.01 * (len(tokens) + k + 1)) for k, ch in enumerate(piece)]
        tokens += own
        content = piece if mode == "increments" else so_far
        lps = (own if mode == "increments" else list(tokens)) if with_logprobs else None
        events.append(text_event(content, finish="stop" if i == len(pieces) - 1 else None, logprobs=lps))
    return events


def read_stream(srv, events, declared=None):
    srv.set(Stream(events=events))
    kw = {} if declared is None else {"parameters": {"incremental_output": declared}}
    return client(srv).stream("hi", **kw).result


ALPHABET = st.sampled_from(list("ab哈你好呀") + ["😀", " ", "\n"])


@st.composite
def chunked_text(draw, allow_empty):
    text = draw(st.text(alphabet=ALPHABET, min_size=1, max_size=12))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=5)))
    bounds = [0, *cuts, len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    if not allow_empty:
        pieces = [p for p in pieces if p] or [text]
    return text, pieces


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=chunked_text(allow_empty=False), mode=st.sampled_from(["increments", "text_so_far"]),
       with_logprobs=st.booleans())
def test_fuzz_stream_mode_undeclared_never_loses_text(srv, case, mode, with_logprobs):
    truth, pieces = case
    events = stream_events(pieces, mode, with_logprobs)
    r = read_stream(srv, events)
    if r.text != truth:
        # allowed only when the result says it could not tell; then nothing of what arrived is dropped
        assert r.stream_text == "ambiguous", (pieces, mode, r.text, r.stream_text)
        assert truth in r.text
    if r.stream_text in ("increments", "text_so_far"):
        assert r.text == truth, (pieces, mode, r.text, r.stream_text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=chunked_text(allow_empty=True), mode=st.sampled_from(["increments", "text_so_far"]))
def test_fuzz_stream_mode_declared_is_exact(srv, case, mode):
    truth, pieces = case
    r = read_stream(srv, stream_events(pieces, mode, False), declared=(mode == "increments"))
    assert r.text == truth and r.stream_text == mode


@pytest.mark.parametrize("pieces,truth", [(["ab", "abc"], "ababc"), (["哈", "哈哈", "哈哈哈"], "哈" * 6)])
def test_issue_examples_increments_that_extend_each_other_keep_all_text(srv, pieces, truth):
    r = read_stream(srv, stream_events(pieces, "increments", False))
    assert r.text == truth and r.stream_text == "ambiguous"


def test_ambiguous_text_so_far_keeps_every_event_concatenated(srv):
    # What an undeclared text-so-far stream without logprobs keeps: the increments reading (recorded, not a claim)
    r = read_stream(srv, stream_events(["a", "b", "c"], "text_so_far", False))
    assert (r.text, r.stream_text) == ("aababc", "ambiguous")


@pytest.mark.parametrize("with_logprobs", [False, True], ids=["no-logprobs", "same-logprobs"])
@pytest.mark.parametrize("pieces", [["ab", "ab"], ["你好", "你好"], ["", "好", "好"]])
def test_repeated_event_is_not_claimed_increments(srv, pieces, with_logprobs):
    lps = [[lp(p, -0.5)] if p else [] for p in pieces] if with_logprobs else [None] * len(pieces)
    events = [text_event(p, finish="stop" if i == len(pieces) - 1 else None, logprobs=l)
              for i, (p, l) in enumerate(zip(pieces, lps))]
    r = read_stream(srv, events)
    assert r.stream_text == "ambiguous" or r.text == pieces[-1], (r.text, r.stream_text)


@pytest.mark.parametrize("pieces,tokens,logprob", [(["哈", "哈哈"], [["哈"], ["哈", "哈"]], 0.0),
                                                    (["ab", "abc"], [["ab"], ["ab", "c"]], 0.0),
                                                    (["ab", "abc"], [["ab"], ["ab", "c"]], -0.5)])
def test_increments_with_coinciding_logprobs_never_lose_text(srv, pieces, tokens, logprob):
    events = [text_event(p, finish="stop" if i == len(pieces) - 1 else None,
                         logprobs=[lp(t, logprob) for t in toks])
              for i, (p, toks) in enumerate(zip(pieces, tokens))]
    r = read_stream(srv, events)
    truth = "".join(pieces)
    assert r.text == truth or (r.stream_text == "ambiguous" and truth in r.text), (r.text, r.stream_text)


# ------------------------------------------------------------------ item 6: user agent vs the official SDK

def sdk_user_agent(srv, config_ua):
    srv.set(Reply(body=ok_body()))
    config = Config(access_key_id=AK, access_key_secret=SK, endpoint=f"127.0.0.1:{srv.port}", protocol="HTTP",
                    user_agent=config_ua)
    sdk_client_mod.Client(config).chat_with_desensitize(sdk_models.ChatWithDesensitizeRequest(
        instance_id=1, messages=[{"role": "user", "content": "hi"}], model="qwen-plus"))
    return srv.arrivals[-1].headers["user-agent"]


def our_user_agent(srv, suffix):
    srv.set(Reply(body=ok_body()))
    client(srv, **({} if suffix is MISSING else {"user_agent_suffix": suffix})).chat("hi")
    return srv.arrivals[-1].headers["user-agent"]


SDK_BASE = "AlibabaCloud "


@pytest.mark.parametrize("setting,env", [(MISSING, None), (MISSING, "MyTool/1.0"), ("Cfg/2", None),
                                         ("Cfg/2", "MyTool/1.0"), ("", "MyTool/1.0"), (MISSING, ""),
                                         ("a  b", None)])
def test_user_agent_suffix_follows_the_sdk_rule(srv, monkeypatch, setting, env):
    if env is None:
        monkeypatch.delenv("ALIBABA_CLOUD_USER_AGENT", raising=False)
    else:
        monkeypatch.setenv("ALIBABA_CLOUD_USER_AGENT", env)
    sdk = sdk_user_agent(srv, None if setting is MISSING else setting)
    ours = our_user_agent(srv, setting)
    assert sdk.startswith(SDK_BASE) and ours.startswith("dms-magic/")
    sdk_tail = sdk.split(" TeaDSL/2", 1)[1]   # what the SDK appended to its own base
    ours_tail = ours.split(" Python/", 1)[1].split(" ", 1)
    assert (" " + ours_tail[1] if len(ours_tail) > 1 else "") == sdk_tail


@pytest.mark.parametrize("bad", ["x\r\nX-Evil: 1", "x\nY"])
def test_user_agent_with_line_break_refused_before_sending(srv, monkeypatch, bad):
    monkeypatch.delenv("ALIBABA_CLOUD_USER_AGENT", raising=False)
    srv.set(Reply(body=ok_body()))
    with pytest.raises((ValueError, errors.DmsError)):
        client(srv, user_agent_suffix=bad).chat("hi")
    monkeypatch.setenv("ALIBABA_CLOUD_USER_AGENT", bad)
    with pytest.raises((ValueError, errors.DmsError)):
        client(srv).chat("hi")
    assert srv.arrivals == []


@pytest.mark.parametrize("where", ["setting", "env"])
def test_user_agent_non_latin1_refused_clearly(srv, monkeypatch, where):
    monkeypatch.delenv("ALIBABA_CLOUD_USER_AGENT", raising=False)
    srv.set(Reply(body=ok_body()))
    with pytest.raises(ValueError) as info:  # refused before sending, naming what to change
        if where == "setting":
            client(srv, user_agent_suffix="分析/1.0").chat("hi")
        else:
            monkeypatch.setenv("ALIBABA_CLOUD_USER_AGENT", "分析/1.0")
            client(srv).chat("hi")
    assert not isinstance(info.value, UnicodeError), repr(info.value)
    assert "user_agent" in str(info.value).lower() or "ALIBABA_CLOUD_USER_AGENT" in str(info.value)
    assert len(srv.arrivals) == 0


# ------------------------------------------------------------------ retry_after / access_denied_detail vs the SDK

def sdk_error(srv, reply):
    srv.set(reply)
    config = Config(access_key_id=AK, access_key_secret=SK, endpoint=f"127.0.0.1:{srv.port}", protocol="HTTP")
    try:
        sdk_client_mod.Client(config).chat_with_desensitize(sdk_models.ChatWithDesensitizeRequest(
            instance_id=1, messages=[{"role": "user", "content": "hi"}], model="qwen-plus"))
    except Exception as e:  # noqa: BLE001 - the SDK's own exception types, whatever they are
        return e
    raise AssertionError("the SDK accepted an error reply")


def our_error(srv, reply):
    srv.set(reply)
    _, err = attempt(lambda: client(srv, max_retries=0).chat("hi"))
    assert err is not None
    return err


@pytest.mark.parametrize("status,code", [(429, "Throttling.User"), (503, "ServiceUnavailable"), (403, "Forbidden.RAM")])
@pytest.mark.parametrize("header", ["300", " 300", "60000"])
def test_retry_after_is_the_sdks_in_seconds(srv, status, code, header):
    reply = Reply(status=status, body=gateway_body(code, "m"), headers={"x-acs-retry-after": header})
    sdk, ours = sdk_error(srv, reply), our_error(srv, reply)
    assert sdk.retry_after is not None
    assert ours.retry_after == pytest.approx(sdk.retry_after / 1000)


@pytest.mark.parametrize("header", ["abc", ""])
def test_retry_after_absent_where_sdk_has_none(srv, header):
    reply = Reply(status=429, body=gateway_body("Throttling.User", "m"), headers={"x-acs-retry-after": header})
    assert getattr(sdk_error(srv, reply), "retry_after", None) is None
    assert our_error(srv, reply).retry_after is None


@pytest.mark.parametrize("header", ["0", "-5"])
def test_retry_after_non_positive_is_none_like_the_sdk(srv, header):
    reply = Reply(status=429, body=gateway_body("Throttling.User", "m"), headers={"x-acs-retry-after": header})
    assert getattr(sdk_error(srv, reply), "retry_after", None) is None
    assert our_error(srv, reply).retry_after is None


ADD = {"PolicyType": "AccountLevelIdentityBasedPolicy", "AuthAction": "dms:ChatWithDesensitize",
       "NoPermissionType": "ImplicitDeny", "EncodedDiagnosticMessage": "AQEA"}


@pytest.mark.parametrize("key", ["AccessDeniedDetail", "accessDeniedDetail"])
@pytest.mark.parametrize("value", [ADD, {}, "a string", None, [1, 2]], ids=["dict", "empty", "str", "null", "list"])
def test_access_denied_detail_is_the_sdks(srv, key, value):
    body = gateway_body("NoPermission", "denied")
    body[key] = value
    reply = Reply(status=403, body=body)
    assert our_error(srv, reply).access_denied_detail == sdk_error(srv, reply).access_denied_detail


# ------------------------------------------------------------------ per-call timeout

@pytest.mark.parametrize("step", [Hold(4), HeadersThenStall(4)], ids=["silent", "headers-then-stall"])
@pytest.mark.parametrize("timeout", [1, (1, 1)], ids=["read", "pair"])
@pytest.mark.slow
def test_per_call_timeout_honoured_and_not_resent(srv, step, timeout):
    srv.set(step, Reply(body=ok_body()))
    started = time.monotonic()
    _, err = attempt(lambda: client(srv, timeout=30).chat("hi", timeout=timeout))
    assert time.monotonic() - started < 3.5   # loosely: not the 30 s of the settings, nor the 4 s hold
    assert isinstance(err, errors.OutcomeUnknownError)
    assert len(srv.arrivals) == 1


def test_per_call_timeout_longer_than_settings_is_used(srv):
    srv.set(Reply(body=ok_body()))  # answered at once: the longer per-call value must simply be accepted
    assert client(srv, timeout=1).chat("hi", timeout=3).text == "你好呀!"


def test_stream_per_call_timeout_mid_stream_keeps_text(srv):
    first = ok_body(data_obj(content="部分", reasoning=None, finish=None, usage=None, logprobs=None),
                    data_as_string=True)
    srv.set(Stream(events=[first, ok_body(data_as_string=True)], stall_after=1, stall_seconds=4))
    started = time.monotonic()
    with pytest.raises(errors.TruncatedStreamError) as info:
        _ = client(srv).stream("hi", timeout=1).result
    assert time.monotonic() - started < 3.5
    assert info.value.partial_text == "部分" and len(srv.arrivals) == 1


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "1", (1,), (1, 2, 3), (0, 1), True])
def test_bad_per_call_timeout_refused_before_sending(srv, bad):
    srv.set(Reply(body=ok_body()))
    with pytest.raises((ValueError, TypeError)):
        client(srv).chat("hi", timeout=bad)
    assert srv.arrivals == []


# ------------------------------------------------------------------ progress callbacks

def raising(seen):
    def callback(event):
        seen.append(event.kind)
        raise RuntimeError("callback broke")
    return callback


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_raising_progress_callback_never_breaks_the_call(srv, stream, caplog):
    caplog.set_level(logging.CRITICAL)
    throttled = Reply(status=429, body=gateway_body("Throttling.User", "slow"), headers={"x-acs-retry-after": "20"})
    seen = []
    if stream:
        srv.set(throttled, Stream(events=[ok_body(data_as_string=True)]))
        r = client(srv).stream("hi", progress=raising(seen)).result
    else:
        srv.set(throttled, Reply(body=ok_body()))
        r = client(srv).chat("hi", progress=raising(seen))
    assert r.text == "你好呀!" and len(srv.arrivals) == 2
    assert "retry" in seen and seen[-1] == "done"


def test_raising_progress_callback_does_not_mask_the_real_error(srv, caplog):
    caplog.set_level(logging.CRITICAL)
    srv.set(Reply(status=400, body=gateway_body("InvalidParameter", "bad")))
    seen = []
    with pytest.raises(errors.ParameterError):
        client(srv).chat("hi", progress=raising(seen))
    assert seen[-1] == "failed"


def test_progress_not_callable_refused_before_sending(srv, caplog):
    caplog.set_level(logging.CRITICAL)
    srv.set(Reply(body=ok_body()))
    with pytest.raises(TypeError):
        client(srv).chat("hi", progress=42)
    assert srv.arrivals == []


# ------------------------------------------------------------------ hostile reply bodies

KEYS = ["RequestId", "Success", "Data", "ErrorCode", "ErrorMessage", "Code", "Message", "StatusCode", "Choices",
        "Message", "Content", "Role", "FinishReason", "Usage", "Logprobs", "content", "token", "logprob",
        "top_logprobs", "ToolCalls", "tool_calls", "function", "arguments", "index", "id", "name",
        "PromptTokens", "TotalTokens", "Created", "Model", "AccessDeniedDetail", "ReasoningContent", "Type"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=8), st.sampled_from(["", "200", "504", "true", "null", "{}", "[]", "NaN",
                                                          "stop", "1e400", "-1", "{\"Choices\":1}"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                    max_leaves=25)
BODIES = st.one_of(JSON, st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6),
                   st.builds(lambda d, s: {"RequestId": RID, "Success": s, "Data": d}, JSON,
                             st.sampled_from([True, "true", None])),
                   st.builds(lambda d: {"RequestId": RID, "Success": True, "Data": json.dumps(d)}, JSON))


OVERFLOWING = ["1e400", "-1e400", "inf"]


# finding 8 (fixed): a number that overflows to infinity in StatusCode, Created or a Usage count raised a
# bare OverflowError; it is now read as junk (None), like any other unreadable display number.
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("field", ["StatusCode", "Created", "Usage.TotalTokens"])
@pytest.mark.parametrize("value", [*OVERFLOWING, "bare-1e400"])
def test_overflowing_numbers_raise_only_dms_errors(srv, field, value, stream):
    data = data_obj()
    data["Usage"] = dict(data["Usage"])  # data_obj shares the module's USAGE: mutating it broke later tests
    target, key = (data["Usage"], "TotalTokens") if field.startswith("Usage") else (data, field)
    target[key] = "@NUMBER@" if value == "bare-1e400" else value
    text = json.dumps(ok_body(data, data_as_string=False), ensure_ascii=False)
    text = text.replace('"@NUMBER@"', "1e400")
    if stream:
        body = json.loads(text)
        body["Data"] = json.dumps(body["Data"])  # Python writes inf as Infinity: still JSON for json.loads
        srv.set(Stream(events=[body]))
    else:
        srv.set(Reply(body=text))
    try:
        r = client(srv, max_retries=0).stream("hi").result if stream else client(srv, max_retries=0).chat("hi")
        touch(r)
    except errors.DmsError:
        foreign = None
    except OverflowError as e:  # reported in one line: pytest's long traceback of it has crashed pytest itself
        foreign = repr(e)
    else:
        foreign = None
    assert foreign is None, f"not a dms_magic error: {foreign}"


# Only dms_magic errors may escape a call (an OverflowError once did: see above, fixed).
KNOWN_FOREIGN = (errors.DmsError,)


def touch(result):
    """Read what a user reads from a result."""
    return (result.text, result.reasoning, result.finish_reason, result.request_id, result.usage_dict,
            result.token_logprobs, [c.to_dict() for c in result.tool_calls])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, status=st.sampled_from([200, 200, 200, 400, 429, 500, 503]))
def test_fuzz_plain_reply_parser_raises_only_dms_errors(srv, body, status):
    srv.set(Reply(status=status, body=json.dumps(body)))
    try:
        touch(client(srv, max_retries=0).chat("hi"))
    except KNOWN_FOREIGN:
        pass


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(BODIES, min_size=1, max_size=3))
def test_fuzz_stream_reply_parser_raises_only_dms_errors(srv, events):
    srv.set(Stream(events=events))
    try:
        stream = client(srv, max_retries=0).stream("hi")
        for _ in stream:
            pass
        touch(stream.result)
    except KNOWN_FOREIGN:
        pass
