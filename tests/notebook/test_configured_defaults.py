"""Configured defaults (``%dmschat config``, ``session.configure``) in every way a call is made.

What a user relies on: a default for a streaming-only parameter (include_usage, stream) applies to
streamed calls and never breaks a plain one (cell, dry run, compare, form, ``dms_magic.chat``);
``config stream=true`` means "stream by default"; a bad default is refused when it is set, with a
message naming it; a stream is closed even when it fails half-way.

Real IPython shell (conftest's ``ip``) and the shared sandbox over HTTP, as in test_magics.py.
"""
from __future__ import annotations

import uuid

import pytest
from IPython.utils.capture import capture_output

from dms_magic import session
from dms_magic import InvalidParameterError
from dms_magic.defaults import ACTION, SSE_ACTION
from dms_magic.wire.params import BY_NAME


pytestmark = pytest.mark.usefixtures("to_sandbox")  # conftest: a clean configuration on the shared sandbox


@pytest.fixture()
def tag():
    return "tag" + uuid.uuid4().hex[:12]


def run(ip, source: str):
    with capture_output() as captured:
        result = ip.run_cell(source)
    return result.success, captured


def arrived(sandbox, tag: str) -> list[dict]:
    """The sandbox's entries for the requests whose messages carry ``tag``, oldest first."""
    return [e for e in sandbox.received
            if any(tag in str(m.get("content")) for m in e["request"].messages or ())]


# -- the magic ----------------------------------------------------------------------------------
def test_configured_include_usage_applies_to_streamed_cells_only(ip, sandbox, tag):
    assert run(ip, "%dmschat config include_usage=true")[0]
    ok, out = run(ip, f"%%dmschat -o r\nplain {tag}")
    assert ok, out.stderr
    ok, out = run(ip, f"%%dmschat --dry-run\ndry {tag}")
    assert ok, out.stderr
    assert ACTION in out.stdout + "".join(o.data.get("text/plain", "") for o in out.outputs)
    ok, out = run(ip, f"%%dmschat --stream -o s\nstreamed {tag}")
    assert ok, out.stderr
    plain, streamed = arrived(sandbox, tag)  # the dry run sent nothing
    assert plain["action"] == ACTION and plain["request"].include_usage is None
    assert streamed["action"] == SSE_ACTION and streamed["request"].include_usage is True
    assert ip.user_ns["s"].usage_dict["total_tokens"] > 0  # the default did its job


def test_compare_with_stream_options_sends_two_plain_calls(ip, sandbox, tag):
    assert run(ip, "%dmschat config include_usage=true")[0]
    ok, out = run(ip, f"%%dmschat --compare --stream --include-usage -o c\ncompare {tag}")
    assert ok, out.stderr
    sent = arrived(sandbox, tag)
    assert len(sent) == 2 and {e["action"] for e in sent} == {ACTION}
    assert all(not any(BY_NAME[k].sse_only for k in e["request"].values) for e in sent)


def test_config_stream_true_means_stream_by_default(ip, sandbox, tag):
    assert run(ip, "%dmschat config stream=true include_usage=true")[0]
    ok, out = run(ip, f"%%dmschat -o r\nby default {tag}")
    assert ok, out.stderr
    ok, out = run(ip, f"%%dmschat --stream false -o p\nturned off {tag}")
    assert ok, out.stderr
    ok, out = run(ip, f"%%dmschat --dry-run\ndry {tag}")
    assert ok, out.stderr
    assert SSE_ACTION in str([o.data for o in out.outputs])
    streamed, plain = arrived(sandbox, tag)
    assert streamed["action"] == SSE_ACTION and streamed["request"].include_usage is True
    assert plain["action"] == ACTION and plain["request"].include_usage is None
    assert ip.user_ns["r"].text and ip.user_ns["p"].text


def test_explicit_streaming_option_without_stream_still_names_the_fix(ip):
    ok, out = run(ip, "%%dmschat --include-usage\nhi")
    assert not ok and "--stream" in out.stderr


@pytest.mark.parametrize("pair,named", [("temperature=5", "temperature"), ("top_logprobs=9", "top"),
                                         ("response_format=yaml", "response")])
def test_bad_config_value_is_a_short_error_when_set(ip, pair, named):
    ok, out = run(ip, f"%dmschat config {pair}")
    assert not ok and "UsageError" in out.stderr and named in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) <= 3
    assert session.request_defaults() == {}


def test_preview_takes_every_long_spelling_of_the_rule(ip):
    for option in ("--rule", "--desensitization-rule", "--rule="):
        sep = "" if option.endswith("=") else " "
        ok, out = run(ip, f"%dmschat preview {option}{sep}Network 我叫张伟 10.1.2.3")
        assert ok, out.stderr
        shown = str([o.data.get("text/plain") for o in out.outputs])
        assert "rule='Network'" in shown and "我叫张伟 10.1.*.*" in shown  # the name kept: Network only


# -- session ------------------------------------------------------------------------------------
def test_configure_checks_every_value_with_the_table():
    with pytest.raises(InvalidParameterError) as info:
        session.configure(model="qwen-plus", temperature=5)
    assert info.value.param == "temperature"
    assert session.request_defaults() == {}  # nothing stored when one value is bad
    with pytest.raises(InvalidParameterError, match="model"):
        session.configure(model=3)
    with pytest.raises(InvalidParameterError, match="messages"):
        session.configure(messages=[{"role": "user", "content": "hi"}])
    session.configure(temperature="0.5", need_desensitization="true", instance_id="1")
    assert session.configured() == {"temperature": 0.5, "need_desensitization": True, "instance_id": 1}
    session.configure(temperature=None, need_desensitization="")
    assert session.configured() == {"instance_id": 1}


def test_request_params_is_the_one_merge():
    session.configure(model="qwen-plus", include_usage=True, temperature=0.3)
    settings = session.resolve()
    plain = session.request_params(settings, {"temperature": 0.9, "top_p": None})
    assert plain == {"model": "qwen-plus", "temperature": 0.9, "instance_id": 1}
    streamed = session.request_params(settings, {"stream": True})
    assert streamed["stream"] is True and streamed["include_usage"] is True
    assert session.request_params(None, {"-m": "qwen-max"}, stream=False)["model"] == "qwen-max"
    # an explicit SSE-only value stays, so validation names it (only configured ones are dropped)
    assert session.request_params(None, {"include_usage": True}, stream=False)["include_usage"] is True
    session.configure(stream=True)
    assert session.request_params(None, {})["stream"] is True
    assert "stream" not in session.request_params(None, {"stream": False})
    assert "stream" not in session.request_params(None, {"stream": "false"})
    assert not hasattr(session, "_params_for")


def test_chat_and_stream_use_configured_streaming_defaults(sandbox, tag):
    session.configure(include_usage=True, stream=True)
    result = session.chat(f"chat {tag}")
    assert result.text
    with session.stream(f"stream {tag}") as chat_stream:
        streamed = chat_stream.result
    assert streamed.usage_dict["total_tokens"] > 0
    plain, stream_entry = arrived(sandbox, tag)
    assert plain["action"] == ACTION and stream_entry["request"].include_usage is True


# -- the form -----------------------------------------------------------------------------------
def test_form_send_ignores_a_configured_include_usage_even_after_reset(sandbox, tag):
    from dms_magic.notebook.form import form

    session.configure(include_usage=True)
    f = form(prompt=f"send {tag}")
    assert f.rows["include_usage"].read() is True  # prefilled from the configuration
    f.set(include_usage=None)  # the person resets the control
    f.buttons["Send"].click()
    assert f.result is not None and f.result.text, f.status.value
    f.buttons["Stream"].click()
    sent, streamed = arrived(sandbox, tag)
    assert sent["action"] == ACTION and sent["request"].include_usage is None
    assert streamed["action"] == SSE_ACTION and streamed["request"].include_usage is True


class _FailingStream:
    """A ChatStream stand-in that breaks after one chunk (a dropped connection)."""

    def __init__(self):
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closed = True

    def __iter__(self):
        from types import SimpleNamespace

        yield SimpleNamespace(text="partial", reasoning="", request_id="R")
        raise ConnectionResetError("connection dropped")

    @property
    def result(self):
        raise AssertionError("never reached")


class _Client:
    instance_id = 1
    backend = "fake"

    def __init__(self):
        self.streams = []

    def stream(self, messages, **params):
        self.streams.append(_FailingStream())
        return self.streams[-1]


def test_form_stream_closes_the_stream_when_it_fails():
    from dms_magic.notebook.form import form

    client = _Client()
    f = form(client=client, prompt="hi")
    f.buttons["Stream"].click()
    assert "connection dropped" in f.output.outputs[0]["data"]["text/plain"]
    assert client.streams and client.streams[0].closed


def test_magic_stream_closes_the_stream_when_it_fails(ip, monkeypatch):
    client = _Client()
    monkeypatch.setattr(session, "client_for", lambda settings: client)
    ok, _ = run(ip, "%%dmschat --stream\nhi")
    assert not ok
    assert client.streams and client.streams[0].closed


def test_compare_dry_run_sends_nothing(ip, sandbox, tag):
    ok, out = run(ip, f"%%dmschat --compare --dry-run\ndry {tag}")
    assert ok, out.stderr
    assert arrived(sandbox, tag) == []
