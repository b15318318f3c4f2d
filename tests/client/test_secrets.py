"""A sentinel secret and STS token never appear in any repr, str, exception or log line."""
from __future__ import annotations

import json
import logging
import traceback

import pytest

from dms_magic import errors
from dms_magic.client import credentials
from dms_magic.client import ClientSettings, DmsChatClient

from helpers.scripted import OK_BODY, ScriptedServer, gateway

SECRET = "SENTINEL-SECRET-do-not-leak-7f3a"
TOKEN = "SENTINEL-STS-TOKEN-do-not-leak-91c2"
KEY_ID = "STS.NUsentinelkeyid0001"


def leaks(text: str) -> bool:
    return SECRET in text or TOKEN in text


@pytest.fixture
def server():
    srv = ScriptedServer([gateway(503, "ServiceUnavailable"), gateway(400, "SignatureDoesNotMatch"), (200, OK_BODY)])
    yield srv
    srv.close()


def test_no_secret_in_reprs_strs_errors_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)  # everything: ours, requests', urllib3's
    seen: list[str] = []
    client = DmsChatClient(server.url, access_key_id=KEY_ID, access_key_secret=SECRET, security_token=TOKEN,
                           instance_id=1, settings=ClientSettings(backoff_base=0.001, backoff_cap=0.01))
    source = client.credentials()
    cred = source.get()
    seen += [repr(client), str(client), repr(source), str(source), repr(cred), str(cred), source.masked_key_id,
             repr(vars(source)), source.kind]
    # 503 is retried, then SignatureDoesNotMatch is raised: the error and its traceback
    with pytest.raises(errors.DmsError) as info:
        client.chat("hi")
    err = info.value
    seen += [str(err), repr(err), json.dumps(err.raw), "".join(traceback.format_exception(err)), err.hint or "",
             "".join(err._render_traceback_())]
    result = client.chat("hi")
    seen += [repr(result), str(result), json.dumps(result.raw, ensure_ascii=False), repr(result.request)]
    stream_err = None
    try:
        credentials.resolve(KEY_ID, None)
    except credentials.CredentialError as exc:
        stream_err = exc
    seen += [str(stream_err)]
    seen += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert caplog.records, "the retry should have been logged"
    assert not [s for s in seen if leaks(s)]
    # and the secret did travel where it must: nowhere; the token travels signed in its header
    assert all(TOKEN == r["headers"]["x-acs-security-token"] for r in server.requests)
    assert not any(SECRET in json.dumps(r, default=str) for r in server.requests)
    client.close()


def test_sdk_failures_are_reported_without_their_text(tmp_path, monkeypatch):
    # A broken CLI profile whose file holds the secret: the SDK's message could quote it; ours must not.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps({"current": "bad", "profiles": [
        {"name": "bad", "mode": "NoSuchMode", "access_key_id": KEY_ID, "access_key_secret": SECRET}]}))
    source = credentials.resolve(profile="bad")
    with pytest.raises(credentials.CredentialError) as info:
        source.get()
    text = str(info.value) + "".join(traceback.format_exception(info.value))
    assert "profile 'bad'" in text and not leaks(text)
    assert source.masked_key_id == "(unavailable)"


# -- issue 23 item 1: tracebacks with locals ------------------------------------------------------
@pytest.mark.parametrize("call", [
    'DmsChatClient("ftp://x", access_key_id=KEY_ID, access_key_secret=get_secret(), security_token=get_token())',
    'DmsChatClient("http://127.0.0.1:9", access_key_id=KEY_ID, access_key_secret=get_secret(), timeout=0)',
    'DmsChatClient("http://127.0.0.1:9", access_key_id=KEY_ID, access_key_secret=get_secret() + chr(10))',
    'DmsChatClient("http://127.0.0.1:9", access_key_id="", access_key_secret=get_secret())',
    'DmsChatClient("http://127.0.0.1:9", access_key_id=KEY_ID, access_key_secret=get_secret(), security_token=7)',
], ids=["bad endpoint", "timeout=0", "secret with a newline", "no key id", "token not a str"])
def test_a_failing_constructor_under_xmode_verbose_shows_no_secret(ip, call):
    """%xmode Verbose prints every frame's arguments and locals: none of them may hold the secret.
    (The secret comes from a function, so the cell's own text does not hold it either.)"""
    from IPython.utils.capture import capture_output

    ip.user_ns.update(DmsChatClient=DmsChatClient, KEY_ID=KEY_ID, get_secret=lambda: SECRET,
                      get_token=lambda: TOKEN)
    ip.run_line_magic("xmode", "Verbose")
    try:
        with capture_output() as captured:
            result = ip.run_cell(call)
    finally:
        ip.run_line_magic("xmode", "Context")
    shown = captured.stdout + captured.stderr
    assert result.error_in_exec is not None and "__init__" in shown  # the constructor's frame was printed
    assert not leaks(shown), [line for line in shown.splitlines() if leaks(line)][:3]


def test_secret_wrapper_hides_its_value_everywhere():
    secret = credentials.hide(SECRET)
    assert SECRET not in repr(secret) + str(secret) + f"{secret}" + repr([secret])
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)
    # what the wrapper hides still signs: the credential built from it holds the value
    assert credentials.explicit(KEY_ID, secret).get().access_key_secret == SECRET
