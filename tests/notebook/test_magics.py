"""%%dmschat / %dmschat in a real IPython InteractiveShell, against the sandbox over HTTP.

The shell reaches the shared ``sandbox`` fixture the way a user's notebook reaches a real endpoint:
DMS_MAGIC_ENDPOINT / DMS_MAGIC_INSTANCE_ID and the AccessKey in the standard environment variables
(so the sandbox's secret is also the sentinel secret that must never show up anywhere).
"""
from __future__ import annotations

import html
import json
import re

import pytest
from IPython.utils.capture import capture_output

from dms_magic import session
from dms_magic.wire.params import option_params

pytestmark = pytest.mark.usefixtures("to_sandbox")  # conftest: a clean configuration, the shared sandbox


class Ran:
    """One executed cell: success, everything it printed or displayed."""

    def __init__(self, result, captured):
        self.success = result.success
        self.error = result.error_in_exec or result.error_before_exec
        self.stdout, self.stderr = captured.stdout, captured.stderr
        self.outputs = [o.data for o in captured.outputs]

    @property
    def html(self) -> str:
        return "\n".join(d.get("text/html", "") for d in self.outputs)

    @property
    def text(self) -> str:
        shown = "\n".join(str(d.get("text/plain", "")) for d in self.outputs)
        return "\n".join((self.stdout, self.stderr, shown, self.html))


def run(ip, source: str) -> Ran:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return Ran(result, captured)


def last_request(sandbox):
    """The parsed ChatRequest of the last request the sandbox accepted."""
    return sandbox.received[-1]["request"]


# -- options reach the wire ---------------------------------------------------------------------
def _option_text(param) -> str:
    value = param.example
    if param.kind in ("str_list", "json_object"):
        return "'" + json.dumps(value, ensure_ascii=False) + "'"
    if param.kind == "bool":
        return "true" if value else "false"
    if param.kind == "json_text" and any(c in value for c in " \"{["):
        return "'" + value + "'"  # JSON text with quotes and spaces: one shell word
    return str(value)


# Parameters whose example needs a companion to form a valid request.
_COMPANIONS = {
    "need_desensitization": "--rule UserInfo",
    "top_logprobs": "--logprobs",
    "include_usage": "--stream",
}
WIRE_PARAMS = [p for p in option_params() if p.name != "stream"]


@pytest.mark.parametrize("param", WIRE_PARAMS, ids=lambda p: p.option)
def test_every_option_reaches_the_wire(ip, sandbox, param):
    companion = _COMPANIONS.get(param.name, "--stream" if param.sse_only else "")  # SSE-only rows need --stream
    line = f"%%dmschat {param.option} {_option_text(param)} {companion} --quiet"
    ran = run(ip, line + "\nhello")
    assert ran.success, ran.text
    assert param.wire in sandbox.received[-1]["query"]  # as sent, in the query string
    assert last_request(sandbox).values[param.name] == param.coerce(param.example)


@pytest.mark.parametrize("alias,value,name,expected", [
    ("--mask", "", "need_desensitization", True),
    ("--rule", "UserInfo", "desensitization_rule", "UserInfo"),
    ("-m", "qwen-max", "model", "qwen-max"),
    ("-t", "0.3", "temperature", 0.3),
])
def test_short_aliases_reach_the_wire(ip, sandbox, alias, value, name, expected):
    extra = " --rule UserInfo" if alias == "--mask" else ""
    ran = run(ip, f"%%dmschat {alias} {value}{extra} --quiet\nhello")
    assert ran.success, ran.text
    assert last_request(sandbox).values[name] == expected


def test_stream_option_uses_the_sse_action(ip, sandbox):
    ran = run(ip, "%%dmschat --stream --include-usage --quiet -o r\nhello")
    assert ran.success, ran.text
    assert sandbox.received[-1]["action"] == "ChatWithDesensitizeSSE"
    assert ip.user_ns["r"].text


def test_json_option_takes_a_variable(ip, sandbox):
    ip.user_ns["opts"] = {"forced_search": "true", "search_strategy": "pro"}
    ran = run(ip, "%%dmschat --enable-search --search-options $opts --quiet\nhello")
    assert ran.success, ran.text
    assert last_request(sandbox).values["search_options"] == {"forced_search": "true", "search_strategy": "pro"}


def test_stop_takes_a_plain_string_or_json(ip, sandbox):
    assert run(ip, "%%dmschat --stop END --quiet\nhello").success
    assert last_request(sandbox).values["stop"] == ["END"]
    assert run(ip, "%%dmschat --stop '[\"a\", \"b\"]' --quiet\nhello").success
    assert last_request(sandbox).values["stop"] == ["a", "b"]


# -- results ------------------------------------------------------------------------------------
def test_out_stores_a_chat_result_with_dataframes(ip, sandbox):
    import pandas as pd

    ran = run(ip, "%%dmschat --logprobs --top-logprobs 2 --seed 3 -o r\n请介绍一下你自己")
    assert ran.success, ran.text
    r = ip.user_ns["r"]
    assert type(r).__name__ == "ChatResult"
    assert isinstance(r.usage, pd.DataFrame) and len(r.usage) == 1
    assert isinstance(r.logprobs, pd.DataFrame) and len(r.logprobs) > 0
    assert r.backend == "sandbox"
    # still displayed (no --quiet): the card with the answer, the token strip and the request id
    assert "dms-chat-result" in ran.html and "dms-token-strip" in ran.html
    assert r.request_id in ran.html
    assert ran.outputs[-1].get("text/plain", "").startswith("[sandbox]")


def test_quiet_displays_nothing(ip):
    ran = run(ip, "%%dmschat -o r --quiet\nhello")
    assert ran.success and ran.outputs == [] and ip.user_ns["r"].text


def test_display_metadata_names_model_request_and_usage(ip):
    with capture_output() as captured:
        ip.run_cell("%%dmschat -m qwen-plus -o r\nhello")
    metadata = captured.outputs[-1].metadata["dms_magic"]
    r = ip.user_ns["r"]
    assert metadata["request_id"] == r.request_id
    assert metadata["usage"] == r.usage_dict and metadata["usage"]


def test_sessions_carry_history(ip, sandbox):
    assert run(ip, "%%dmschat --session s1 --system 'be brief' --quiet -o first\nmy name is Ada").success
    assert run(ip, "%%dmschat --session s1 --quiet\nwhat is my name?").success
    sent = last_request(sandbox).values["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "my name is Ada"
    assert sent[2]["content"] == ip.user_ns["first"].text
    # another session, and no session, start empty
    assert run(ip, "%%dmschat --session s2 --quiet\nhi").success
    assert len(last_request(sandbox).values["messages"]) == 1
    ran = run(ip, "%dmschat history s1")
    assert "what is my name?" in ran.text  # 4 sent + the answer = 5
    assert "5 messages" in ran.text
    assert run(ip, "%dmschat reset s1").success
    assert run(ip, "%%dmschat --session s1 --quiet\nagain").success
    assert len(last_request(sandbox).values["messages"]) == 1


def test_messages_variable_is_sent_before_the_cell(ip, sandbox):
    ip.user_ns["conv"] = [{"role": "system", "content": "You are terse."},
                          {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert run(ip, "%%dmschat --messages conv --quiet\nand now?").success
    sent = last_request(sandbox).values["messages"]
    assert [m["content"] for m in sent] == ["You are terse.", "hi", "hello", "and now?"]


def test_stream_ends_with_the_same_text_as_a_plain_call(ip, sandbox):
    prompt = "\n我叫张伟，手机号13812345678，请帮我写一封投诉信。"
    assert run(ip, "%%dmschat --seed 11 -t 0.9 --mask --rule UserInfo -o plain --quiet" + prompt).success
    ran = run(ip, "%%dmschat --stream --seed 11 -t 0.9 --mask --rule UserInfo -o streamed" + prompt)
    assert ran.success, ran.text
    assert ip.user_ns["streamed"].text == ip.user_ns["plain"].text
    # one display, updated in place: a first card, updates, then the final card with the whole answer
    updates = [o for o in ran.outputs if "dms-chat-result" in o.get("text/html", "")]
    assert len(updates) >= 2
    assert "streaming" in updates[0]["text/html"]
    assert "streaming" not in updates[-1]["text/html"]


def test_stream_display_grows_as_tokens_arrive(ip):
    assert run(ip, "%config DmsChatMagics.stream_update_interval = 0").success  # refresh on every event
    ran = run(ip, "%%dmschat --stream --max-tokens 40 -o s\nTell me about Hangzhou.")
    assert ran.success, ran.text
    partial = [o["text/plain"] for o in ran.outputs if "streaming" in o.get("text/html", "")]
    final = ip.user_ns["s"].text
    lengths = [len(text) for text in partial]
    assert len(partial) > 3 and lengths == sorted(lengths) and any(0 < n < len(final) for n in lengths)
    assert all(final.startswith(text) for text in partial)


# -- interpolation ------------------------------------------------------------------------------
def test_defined_names_are_interpolated_and_everything_else_stays(ip, sandbox):
    ip.user_ns["city"] = "杭州"
    cell = 'Weather in {city}? Reply as {"city": "..."} and keep {undefined_name} and {{city}}.'
    assert run(ip, "%%dmschat --quiet\n" + cell).success
    sent = last_request(sandbox).values["messages"][-1]["content"]
    assert sent == 'Weather in 杭州? Reply as {"city": "..."} and keep {undefined_name} and {{city}}.'


def test_no_interpolate_sends_the_cell_as_typed(ip, sandbox):
    ip.user_ns["city"] = "杭州"
    assert run(ip, "%%dmschat --no-interpolate --quiet\nWeather in {city}?").success
    assert last_request(sandbox).values["messages"][-1]["content"] == "Weather in {city}?"


def test_ipython_internal_names_are_not_interpolated(ip, sandbox):
    assert run(ip, "%%dmschat --quiet\nshow {In} and {exit}").success
    assert last_request(sandbox).values["messages"][-1]["content"] == "show {In} and {exit}"


# -- dry run ------------------------------------------------------------------------------------
def test_dry_run_sends_nothing_and_shows_request_preview_and_estimate(ip, sandbox, arrivals):
    sent = arrivals(sandbox)
    ran = run(ip, "%%dmschat --dry-run --mask --rule UserInfo -m qwen-plus\n我叫张伟，手机号13812345678。")
    assert ran.success, ran.text
    assert sent.count == 0
    assert "nothing sent" in ran.text
    assert "NeedDesensitization" in ran.html and "qwen-plus" in ran.html
    assert "prompt tokens" in ran.html
    assert "13812345678" in ran.html  # the original, in the preview and the request
    assert "Authorization" in ran.html and "Signature=" not in ran.text
    assert sandbox.access_key_id[:4] + "****" in ran.text  # who signs, masked


def test_dry_run_still_rejects_bad_values(ip, sandbox):
    ran = run(ip, "%%dmschat --dry-run --top-logprobs 3\nhi")
    assert not ran.success and "--logprobs" in ran.stderr


# -- configuration ------------------------------------------------------------------------------
def test_config_and_cell_option_precedence(ip, sandbox):
    assert run(ip, '%config DmsChatMagics.model = "qwen-max"').success
    assert run(ip, "%%dmschat --quiet\nhi").success
    assert last_request(sandbox).values["model"] == "qwen-max"
    assert run(ip, "%dmschat config model=qwen-turbo temperature=0.2").success
    assert run(ip, "%%dmschat --quiet\nhi").success
    assert last_request(sandbox).values["model"] == "qwen-turbo"
    assert last_request(sandbox).values["temperature"] == 0.2
    assert run(ip, "%%dmschat -m qwen-plus --quiet\nhi").success
    assert last_request(sandbox).values["model"] == "qwen-plus"


def test_config_endpoint_beats_environment(ip, sandbox, monkeypatch):
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert run(ip, f"%dmschat config endpoint={sandbox.url} instance_id=1").success
    assert run(ip, "%%dmschat --quiet -o r\nhi").success
    assert ip.user_ns["r"].backend == "sandbox"


def test_default_backend_without_endpoint_or_credentials_is_an_in_process_sandbox(ip, monkeypatch):
    for name in ("DMS_MAGIC_ENDPOINT", "DMS_MAGIC_INSTANCE_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID",
                 "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    status = run(ip, "%dmschat status")
    assert "sandbox" in status.text
    ran = run(ip, "%%dmschat -o r\nhello")
    assert ran.success, ran.text
    assert ip.user_ns["r"].backend == "sandbox" and "sandbox" in ran.html
    assert session.current_sandbox() is not None
    import dms_magic

    assert dms_magic.chat("hello again").backend == "sandbox"


def test_credentials_without_endpoint_mean_the_central_endpoint(monkeypatch):
    monkeypatch.delenv("DMS_MAGIC_ENDPOINT")
    settings = session.resolve()
    assert settings.endpoint is None and not settings.uses_sandbox
    assert session.status()["endpoint"] == session.CENTRAL_ENDPOINT


def test_status_names_backend_credential_kind_and_masked_key(ip, sandbox):
    ran = run(ip, "%dmschat status")
    assert ran.success
    assert sandbox.url in ran.text
    assert sandbox.access_key_id not in ran.text  # partly masked
    assert sandbox.access_key_id[:4] + "****" in ran.text


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("source,named", [
    ("%%dmschat --temperature 9\nhi", "--temperature"),
    ("%%dmschat --top-pp 0.5\nhi", "--top-p"),
    ("%%dmschat --search-options '{not json'\nhi", "--search-options"),
    ("%%dmschat --mask\nhi", "--rule"),
    ("%%dmschat --include-usage\nhi", "--stream"),
    ("%%dmschat --search-options $nothing_here\nhi", "nothing_here"),
    ("%%dmschat --system 'be brief'\n  \n", "prompt"),
    ("%dmschat frobnicate", "status"),
])
def test_errors_fail_the_cell_with_one_short_message(ip, source, named):
    ran = run(ip, source)
    assert not ran.success
    assert "UsageError" in ran.stderr and named in ran.stderr
    assert "Traceback" not in ran.text
    assert len(ran.stderr.strip().splitlines()) <= 3


def test_business_error_names_its_code_not_http_200(ip, sandbox):
    # DMS answers an unknown instance with HTTP 200 + Success: false; "(HTTP 200)" would read as success
    ran = run(ip, "%%dmschat --instance-id 999\nhi")
    assert not ran.success
    shown = ran.stdout + ran.stderr
    assert "InstanceNotExist" in shown and "RequestId" in shown
    assert "HTTP 200" not in shown


def test_a_service_failure_is_one_line_named_by_its_kind_not_a_usage_error(ip, sandbox):
    ran = run(ip, "%%dmschat --instance-id 424242\nhi")  # the sandbox serves instance 1 only
    assert not ran.success
    shown = (ran.stdout + ran.stderr).strip()
    assert "424242" in shown and "UsageError" not in shown and "Traceback" not in shown
    assert len(shown.splitlines()) == 1 and shown.split(":", 1)[0].endswith("Error")


def test_api_error_names_code_and_request(ip, sandbox, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SENTINEL-wrong-secret-0123456789")
    ran = run(ip, "%%dmschat\nhi")
    assert not ran.success
    assert "Signature" in ran.stdout + ran.stderr or "AccessKey" in ran.stdout + ran.stderr
    assert "SENTINEL-wrong-secret-0123456789" not in ran.text


def test_sentinel_secret_never_in_any_output_repr_error_or_history(ip, sandbox):
    secret = sandbox.access_key_secret
    sources = [
        "%%dmschat --session s -o r --logprobs --top-logprobs 2\n我叫张伟，手机号13812345678。",
        "%%dmschat --session s --stream\nmore",
        "%%dmschat --dry-run --mask --rule UserInfo\nhi",
        "%%dmschat --temperature 7\nhi",
        "%dmschat status",
        "%dmschat config",
        "%dmschat history",
        "%dmschat history s",
        "%dmschat preview 我叫张伟，手机号13812345678",
        "r",
    ]
    texts = []
    for source in sources:
        ran = run(ip, source)
        texts.append(ran.text)
    r = ip.user_ns["r"]
    texts += [repr(r), str(r), r._repr_html_(), json.dumps(r.raw, ensure_ascii=False), repr(r.request)]
    magics = ip.magics_manager.registry["DmsChatMagics"]
    texts.append(json.dumps(magics.histories, ensure_ascii=False))
    texts.append(repr(session.default_client()))
    assert all(secret not in t for t in texts)
    assert all(text for text in texts)  # every one produced something to check


# -- line commands ------------------------------------------------------------------------------
def test_preview_masks_locally_without_sending(ip, sandbox, arrivals):
    sent = arrivals(sandbox)
    ip.user_ns["note"] = "联系人张伟，手机号13812345678"
    ran = run(ip, "%dmschat preview $note")
    assert ran.success, ran.text
    assert sent.count == 0
    plain = ran.outputs[0].get("text/plain", "")
    assert ">13812345678</mark><sup" in ran.html  # the original is shown highlighted ...
    assert ">138****5678</span>" in ran.html  # ... with what the model would see: the phone's masked form
    assert "2 values masked" in ran.html and "2 values masked" in plain  # how many, said in both views
    assert plain.endswith("'联系人张*，手机号138****5678')"), plain


def test_module_level_chat_uses_the_same_configuration(ip, sandbox):
    import dms_magic

    assert run(ip, "%dmschat config model=qwen-turbo").success
    result = dms_magic.chat("hi")
    assert last_request(sandbox).values["model"] == "qwen-turbo" and result.backend == "sandbox"


def test_endpoint_option_beats_configuration(ip, sandbox, monkeypatch):
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert run(ip, "%dmschat config endpoint=http://127.0.0.1:9").success
    ran = run(ip, f"%%dmschat --endpoint {sandbox.url} --quiet -o r\nhi")
    assert ran.success, ran.text
    assert ip.user_ns["r"].backend == "sandbox"


def test_profile_option_signs_with_that_profile(ip, sandbox, monkeypatch, tmp_path):
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps({"current": "other", "profiles": [
        {"name": "other", "mode": "AK", "access_key_id": "LTAIwrongwrongwrong01", "access_key_secret": "nope-nope"},
        {"name": "analyst", "mode": "AK", "access_key_id": sandbox.access_key_id,
         "access_key_secret": sandbox.access_key_secret, "region_id": "cn-hangzhou"}]}))
    ran = run(ip, "%%dmschat --profile analyst --quiet -o r\nhi")
    assert ran.success, ran.text
    entry = sandbox.received[-1]
    assert entry["access_key_id"] == sandbox.access_key_id
    missing = run(ip, "%%dmschat --profile missing\nhi")
    assert not missing.success
    assert "UsageError" in missing.stderr and "'missing'" in missing.stderr and "Traceback" not in missing.text


def test_config_command_parses_values_and_rejects_unknown_keys(ip, sandbox):
    assert run(ip, "%dmschat config show_usage=false max_tokens=7").success
    ran = run(ip, "%%dmschat -o r\nhello")
    assert last_request(sandbox).values["max_tokens"] == 7
    assert "prompt_tokens" not in ran.html  # the usage table is off
    bad = run(ip, "%dmschat config top-pp=1")
    assert not bad.success and "top_p" in bad.stderr
    assert not run(ip, "%dmschat config instance_id=x").success


def test_help_documents_every_parameter_option(ip):
    from dms_magic.wire.params import option_params

    doc = ip.find_cell_magic("dmschat").__doc__
    for param in option_params():
        for name in (param.option, *param.aliases):
            assert name in doc, name
    for extra in ("--out", "--quiet", "--system", "--session", "--messages", "--compare", "--dry-run",
                  "--endpoint", "--profile", "--no-interpolate"):
        assert extra in doc, extra


def test_card_escapes_what_the_user_and_the_model_wrote(ip):
    ran = run(ip, "%%dmschat --logprobs -o r\nrepeat <img src=x onerror=alert(1)> & <script>x</script>")
    assert ran.success, ran.text
    assert "<img" in ip.user_ns["r"].text  # the sandbox echoed it ...
    assert "<img" not in ran.html and "<script" not in ran.html  # ... and the card shows it inert
    assert "&lt;img" in re.sub(r"<[^>]+>", "", ran.html)  # the page's text (the strip splits it in tokens)


def test_plain_text_view_is_readable(ip):
    assert run(ip, "%%dmschat --quiet -o r\nhello").success
    plain = run(ip, "r").stdout  # the displayhook's text/plain (Out[n]: ...)
    assert "[sandbox]" in plain and ip.user_ns["r"].text in plain and "request id" in plain


def test_dry_run_of_a_stream_shows_the_sse_action(ip, sandbox, arrivals):
    sent = arrivals(sandbox)
    ran = run(ip, "%%dmschat --dry-run --stream --include-usage\nhi")
    assert ran.success, ran.text
    assert sent.count == 0
    assert "ChatWithDesensitizeSSE" in ran.text and "Stream=true" in ran.text and "IncludeUsage=true" in ran.text


def test_module_level_chat_takes_an_explicit_client(client, sandbox):
    import dms_magic

    result = dms_magic.chat("hi", client=client, seed=5)
    assert result.backend == "sandbox" and last_request(sandbox).values["seed"] == 5


def test_config_file_values_apply_when_the_extension_loads(ip, sandbox):
    from traitlets.config import Config

    ip.run_line_magic("unload_ext", "dms_magic")
    cfg = Config()
    cfg.DmsChatMagics.model = "qwen-max"
    ip.config.merge(cfg)  # as ipython_config.py would
    try:
        ip.run_line_magic("load_ext", "dms_magic")
        assert run(ip, "%%dmschat --quiet\nhi").success
        assert last_request(sandbox).values["model"] == "qwen-max"
    finally:
        del ip.config.DmsChatMagics


def test_reasoning_is_folded_in_the_card(ip):
    ran = run(ip, "%%dmschat --enable-thinking -o r\nhi")
    assert ran.success, ran.text
    reasoning = ip.user_ns["r"].reasoning
    assert reasoning
    shown = html.escape(reasoning[:20])
    details = ran.html.split("<details", 1)[1].split("</details>", 1)[0]
    assert shown in details and shown not in ran.html.split("</details>", 1)[1]


def test_compare_sends_masked_and_unmasked_with_the_same_seed(ip, sandbox, arrivals):
    arrived = arrivals(sandbox)
    ran = run(ip, "%%dmschat --compare --rule UserInfo --seed 9 -o c\n我叫张伟，手机号13812345678。")
    assert ran.success, ran.text
    assert arrived.count == 2
    sent = [e["request"].values for e in arrived.entries()]
    assert sorted(bool(v.get("need_desensitization")) for v in sent) == [False, True]
    assert {v["seed"] for v in sent} == {9}
    assert type(ip.user_ns["c"]).__name__ == "Comparison" and ran.html


def test_dry_run_token_estimate_matches_what_the_sandbox_counts(ip, sandbox):
    import re

    cell = "\n请总结：客户张伟（13812345678）在 2024-05-01 投诉了 3 次 delivery delays."
    dry = run(ip, "%%dmschat --dry-run --system 'be brief'" + cell)
    estimate = int(re.search(r"~(\d+) prompt tokens", dry.text).group(1))
    assert run(ip, "%%dmschat --system 'be brief' --quiet -o r" + cell).success
    assert estimate == ip.user_ns["r"].usage_dict["prompt_tokens"]


def test_real_endpoint_without_instance_id_says_how_to_set_it(ip, monkeypatch):
    monkeypatch.delenv("DMS_MAGIC_ENDPOINT")
    monkeypatch.delenv("DMS_MAGIC_INSTANCE_ID")
    ran = run(ip, "%%dmschat\nhi")  # credentials in the environment: the central endpoint, no instance
    assert not ran.success
    assert "--instance-id" in ran.stderr and "DMS_MAGIC_INSTANCE_ID" in ran.stderr


def test_reset_picks_up_new_credentials(ip, sandbox, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SENTINEL-old-wrong-secret-000")
    assert not run(ip, "%%dmschat --quiet\nhi").success
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sandbox.access_key_secret)
    assert run(ip, "%dmschat reset").success
    assert run(ip, "%%dmschat --quiet\nhi").success


# -- issue 23 item 9: hostile input gives one-line errors ----------------------------------------
class _StrRaises:
    def __str__(self):
        raise RuntimeError("boom from __str__")


@pytest.mark.parametrize("line, cell, named", [
    ("--endpoint ftp://x", "hi", "'ftp://x'"),
    ("--endpoint ''", "hi", "endpoint='' is empty"),
    ("--endpoint http://user:pa55word@127.0.0.1:9", "hi", "user name or password"),
    ("--endpoint http://user:pa55word@127.0.0.1:9 --dry-run", "hi", "user name or password"),
    ("", "hi {strange}", "{strange}"),
    ("-o 'a b'", "hi", "'a b'"),
    ("-o __builtins__", "hi", "'__builtins__'"),
    ("-o class", "hi", "'class'"),
])
def test_hostile_cell_input_is_a_one_line_error(ip, line, cell, named):
    ip.user_ns["strange"] = _StrRaises()
    before = session.current_sandbox()
    ran = run(ip, f"%%dmschat {line}\n{cell}")
    assert not ran.success
    assert "UsageError" in ran.stderr and named in ran.stderr, ran.stderr
    assert "Traceback" not in ran.text and "pa55word" not in ran.text
    assert run(ip, "len([1, 2])").success  # the namespace still works
    assert "__builtins__" not in ip.user_ns or ip.user_ns["__builtins__"] is not None
    assert session.current_sandbox() is before


# -- issue 23 item 12: a cell too large to send is refused before any work ------------------------
def test_a_cell_too_large_to_send_is_refused_before_ipython_or_the_magic_work_on_it(ip, sandbox):
    from dms_magic.wire.request import MAX_BODY_BYTES

    cell = "%%dmschat --dry-run\n" + "call me at 13812345678 today " * (MAX_BODY_BYTES // 29 + 1000)
    before = sandbox.accepted
    # what IPython will compile and run: one line, not the cell as a 17 MB string literal
    assert len(ip.transform_cell(cell)) < 1_000
    ran = run(ip, cell)
    assert not ran.success and "UsageError" in ran.stderr and "characters, more than a request can carry" in \
        ran.stderr and "Traceback" not in ran.text
    assert sandbox.accepted == before
    # a cell that fits is untouched, leading blank lines or not
    assert "run_cell_magic" in ip.transform_cell("\n\n%%dmschat --dry-run\nhello")
    assert run(ip, "\n%%dmschat --dry-run\nhello").success


def test_a_long_option_with_one_dash_is_refused_not_read_as_a_short_one(ip, sandbox):
    # -mask is argparse's -m ask: the prompt went unmasked to a model named "ask"
    before = sandbox.accepted
    for line, meant in (("-mask --rule UserInfo", "--mask"), ("-stream", "--stream"), ("-rule=UserInfo", "--rule=UserInfo")):
        ran = run(ip, f"%%dmschat {line}\nMy phone is 13812345678")
        assert not ran.success and f"did you mean {meant}?" in ran.text, ran.text
    assert sandbox.accepted == before  # nothing was sent
    assert run(ip, "%%dmschat -mqwen-max -t0.7 --dry-run\nhi").success  # a short option with its value glued on


def test_a_rule_on_the_line_turns_masking_on_unless_mask_false_says_otherwise(ip, sandbox):
    assert run(ip, "%%dmschat --rule UserInfo -o ruled\nMy phone is 13812345678").success
    ruled = ip.user_ns["ruled"]  # the service masked the prompt: the model saw 138****5678
    assert ruled.masked and "138****5678" in ruled.text and "13812345678" not in ruled.text
    assert run(ip, "%%dmschat --mask false --rule UserInfo -o plain\nMy phone is 13812345678").success
    assert not ip.user_ns["plain"].masked and "13812345678" in ip.user_ns["plain"].text


def test_a_misspelt_model_gets_a_one_line_note_and_is_still_sent(ip, sandbox):
    ran = run(ip, "%%dmschat -m qwen-plux -o typo\nhi")
    assert ran.success and ip.user_ns["typo"].model == "qwen-plux"  # the service decides; it may be new
    assert "did you mean qwen-plus?" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1
    ran = run(ip, "%%dmschat -m my-own-model --dry-run\nhi")
    assert "did you mean" not in ran.stderr  # nothing close: no note
