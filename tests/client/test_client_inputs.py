"""Hostile constructor input, header injection through credentials, secrets in traceback locals
(issue 12 items 5, 8 and 10), against real local servers.
"""
from __future__ import annotations

import math
import traceback

import pytest

from dms_magic import errors
from dms_magic.client import ClientSettings, DmsChatClient
from dms_magic.client.credentials import CredentialError, explicit

from helpers.scripted import AK, OK_BODY, SK, ScriptedServer, gateway, make_client, sse_body


@pytest.fixture
def server():
    srv = ScriptedServer([(200, OK_BODY)])
    yield srv
    srv.close()


# -- item 8: bad numbers and endpoints fail at construction, naming the argument ----------------------
@pytest.mark.parametrize("kwargs, name", [
    ({"timeout": math.nan}, "timeout"), ({"timeout": math.inf}, "timeout"), ({"timeout": 1e308}, "timeout"),
    ({"timeout": 0}, "timeout"), ({"timeout": -1}, "timeout"), ({"timeout": "30"}, "timeout"),
    ({"timeout": 10 ** 400}, "timeout"),
    ({"backoff_base": -1}, "backoff_base"), ({"backoff_cap": math.nan}, "backoff_cap"),
    ({"backoff_base": 5, "backoff_cap": 1}, "backoff_cap"),
    ({"max_retry_time": math.nan}, "max_retry_time"), ({"max_retry_time": -1}, "max_retry_time"),
    ({"max_retries": -1}, "max_retries"), ({"max_retries": 2.5}, "max_retries"), ({"max_retries": True}, "max_retries"),
    ({"retry_unknown_outcome": "yes"}, "retry_unknown_outcome"),
])
def test_bad_numbers_are_refused_at_construction(server, kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        make_client(server.url, **kwargs)
    assert server.requests == []


@pytest.mark.parametrize("endpoint, kind", [
    (123, TypeError), (b"http://127.0.0.1:1", TypeError), ("", ValueError), ("   ", ValueError),
    ("http://host\r\nX-Evil: 1", ValueError), ("ftp://example.com", ValueError), ("http://:80", ValueError),
    ("http://example.com:notaport", ValueError),
])
def test_bad_endpoints_are_refused_at_construction(endpoint, kind):
    with pytest.raises(kind, match="endpoint"):
        DmsChatClient(endpoint, access_key_id=AK, access_key_secret=SK)


def test_good_edge_values_are_accepted(server):
    with make_client(server.url, timeout=86400, max_retry_time=0, max_retries=0, backoff_base=0,
                     backoff_cap=0) as client:
        assert client.chat("hi").text == "你好"


# -- item 5: control characters in credentials never reach the wire ----------------------------------
BAD_VALUES = ["x\r\nX-Injected-Via-Token: yes", "abc\n", "a\rb", "tab\there", "nul\x00", "\r\n\r\nPOST / HTTP/1.1"]


@pytest.mark.parametrize("field", ["access_key_id", "access_key_secret", "security_token"])
@pytest.mark.parametrize("bad", BAD_VALUES, ids=range(len(BAD_VALUES)))
def test_control_characters_in_a_credential_are_refused_before_sending(server, field, bad):
    values = {"access_key_id": AK, "access_key_secret": SK, "security_token": "STS-token-ok"}
    values[field] = values[field] + bad
    # Given to the constructor: refused there.
    with pytest.raises(CredentialError) as info:
        DmsChatClient(server.url, instance_id=1, **values)
    assert field in str(info.value) and bad not in str(info.value) and "X-Injected" not in repr(info.value)
    # From a credential source (a profile, the default chain): refused on the first call, before sending.
    with DmsChatClient(server.url, instance_id=1, credentials=explicit(**values)) as client:
        with pytest.raises(CredentialError, match=field):
            client.chat("hi")
    assert server.requests == []


# -- item 10: secrets never in a traceback's locals ---------------------------------------------------
TOKEN = "SENTINEL-sts-token-4c1d"
SECRET = "SENTINEL-secret-9e2b"


def _rendered_with_locals(exc: BaseException) -> str:
    """What %xmode Verbose, traceback with locals, or an error tracker recording locals would show:
    every frame's locals of the exception and of its cause/context chain."""
    rendered = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=True)
    text = "".join(rendered.format())
    chain = exc.__cause__ or exc.__context__
    while chain is not None:  # also the chain a tracker walks even when display suppresses it
        text += "".join(traceback.TracebackException(type(chain), chain, chain.__traceback__,
                                                     capture_locals=True).format())
        chain = chain.__cause__ or chain.__context__
    return text


def _signatures(srv: ScriptedServer) -> list[str]:
    return [r["headers"]["authorization"].rsplit("Signature=", 1)[1] for r in srv.requests]


@pytest.mark.parametrize("script, call, expected", [
    ([gateway(400, "InvalidParameter")], "chat", errors.ParameterError),
    ([gateway(503, "ServiceUnavailable")], "chat", errors.ServiceError),
    (["drop"], "chat", errors.OutcomeUnknownError),
    ([("sleep", 1.0, (200, OK_BODY))], "chat", errors.OutcomeUnknownError),
    ([sse_body('data: {"RequestId": "S", "Success": false, "ErrorCode": "InternalError"}\n\n')], "stream",
     errors.ServiceError),
    ([("short", b'data: {"RequestId": "S", "Success": true, "Data": {"Choices": [{"Message": {"Content": "a"}}]}}'
               b'\n\ndata: {"Req')], "stream-iterate", errors.TruncatedStreamError),
], ids=["400", "503-retried", "drop", "read-timeout", "stream-first-event", "stream-cut"])
def test_a_failing_call_leaves_no_secret_in_traceback_locals(script, call, expected):
    srv = ScriptedServer(script)
    try:
        with DmsChatClient(srv.url, access_key_id="STS.LTAItest", access_key_secret=SECRET, security_token=TOKEN,
                           instance_id=1, settings=ClientSettings(timeout=0.3, max_retries=1, backoff_base=0.001, backoff_cap=0.01)) as client:
            with pytest.raises(expected) as info:
                if call == "chat":
                    client.chat("hi")
                elif call == "stream":
                    client.stream("hi")
                else:
                    list(client.stream("hi"))
        text = _rendered_with_locals(info.value)
        assert "client = DmsChatClient(" in text  # the frames' locals were rendered
        signatures = _signatures(srv)
        assert signatures
        for secret in (TOKEN, SECRET, *signatures):
            assert secret not in text
    finally:
        srv.close()


# -- issue 20 item 6: the SDK's user-agent settings and a per-call timeout -------------------------------
def test_the_user_agent_takes_the_sdks_variable_and_a_suffix_setting_wins(scripted, monkeypatch):
    from helpers.scripted import OK_BODY, make_client

    server = scripted((200, OK_BODY))
    monkeypatch.setenv("ALIBABA_CLOUD_USER_AGENT", "team-notebooks/2")
    with make_client(server.url) as client:
        client.chat("hi")
    with make_client(server.url, user_agent_suffix="batch-job/1") as client:
        client.chat("hi")
    first, second = (r["headers"]["user-agent"] for r in server.requests)
    assert first.startswith("dms-magic/") and first.endswith(" team-notebooks/2")
    assert second.endswith(" batch-job/1") and "team-notebooks" not in second  # as the SDK: the setting wins
    with pytest.raises(ValueError, match="user_agent_suffix"):
        ClientSettings(user_agent_suffix="x\r\nInjected: 1")


def test_a_per_call_timeout_overrides_the_clients_for_that_call_only(scripted):
    from helpers.scripted import OK_BODY, make_client

    server = scripted(("sleep", 1.0, (200, OK_BODY)), ("sleep", 1.0, (200, OK_BODY)))
    with make_client(server.url) as client:  # 60 s per read by default
        assert client.timeout == (10.0, 60.0)
        with pytest.raises(errors.OutcomeUnknownError, match="no answer within 0.3 s"):
            client.chat("hi", timeout=0.3)
        assert client.chat("hi").text == "你好"  # the next call has the client's timeout again
    with pytest.raises(ValueError, match="timeout"):
        make_client(server.url).chat("hi", timeout=0)


# -- issue 23 items 6 and 8 ------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["http://user:pa55word@127.0.0.1:9", "user:pa55word@dms.example.com",
                                      "https://pa55word@h/x", "http://u:pa55word@h:notaport"])
def test_an_endpoint_with_user_and_password_is_refused_without_echoing_the_password(endpoint, scripted):
    with pytest.raises(ValueError) as info:
        DmsChatClient(endpoint, access_key_id="LTAIkey0000000001", access_key_secret="s")
    assert "pa55word" not in str(info.value)
    assert "user name or password" in str(info.value)


def test_repr_of_a_half_built_client_does_not_raise():
    import traceback

    try:
        DmsChatClient("ftp://x", access_key_id="LTAIkey0000000001", access_key_secret="s")
    except ValueError as exc:
        # a renderer of tracebacks with locals calls repr() on the half-built `self`
        rendered = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert "self = DmsChatClient(not constructed)" in rendered
    assert repr(DmsChatClient.__new__(DmsChatClient)) == "DmsChatClient(not constructed)"
