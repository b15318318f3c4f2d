"""What the magic refuses before anything is sent, and how it says so: an unknown --rule (with a
did-you-mean; a rule declared in the masking config for the service passes), --quiet without -o,
messages in the words the user typed."""
from __future__ import annotations

import json

import pytest
from IPython.utils.capture import capture_output

pytestmark = pytest.mark.usefixtures("to_sandbox")


def run(ip, source: str):
    with capture_output() as captured:
        result = ip.run_cell(source)
    return result, captured


def test_an_unknown_rule_is_refused_before_sending_with_did_you_mean(ip, sandbox):
    before = len(sandbox.received)
    result, shown = run(ip, "%%dmschat --mask --rule UserInf\n我叫张伟，手机号13812345678")
    assert not result.success
    assert "--rule 'UserInf' is invalid" in shown.stderr and "did you mean UserInfo?" in shown.stderr
    assert "desensitization_rule" not in shown.stderr  # the user's words, not the API's
    assert len(sandbox.received) == before  # nothing (and no phone number) was sent


def test_a_configured_default_rule_is_checked_too(ip, sandbox):
    ip.run_line_magic("dmschat", "config rule=Finanse")
    result, shown = run(ip, "%%dmschat --mask\nhi")
    assert not result.success and "did you mean Finance?" in shown.stderr


def test_a_rule_only_the_service_knows_can_be_declared_in_the_masking_config(ip, sandbox, tmp_path, monkeypatch):
    config = tmp_path / "masking.json"
    config.write_text(json.dumps({"service_rules": ["CorpSecret"]}), "utf-8")
    monkeypatch.setenv("DMS_MAGIC_MASKING_CONFIG", str(config))
    result, shown = run(ip, "%%dmschat --dry-run --mask --rule CorpSecret\nhi")
    assert result.success, shown.stderr
    assert any("CorpSecret" in o.data.get("text/plain", "") for o in shown.outputs)
    result, shown = run(ip, "%%dmschat --mask --rule CorpSecrt\nhi")
    assert "did you mean CorpSecret?" in shown.stderr


def test_the_form_checks_the_rule_the_same_way(sandbox):
    from dms_magic.notebook.form import form

    f = form(prompt="hi", need_desensitization=True, desensitization_rule="UserInf")
    before = len(sandbox.received)
    f.buttons["Send"].click()
    assert "did you mean UserInfo?" in f.rows["desensitization_rule"].error
    assert len(sandbox.received) == before


def test_an_empty_prompt_is_said_in_plain_words(ip):
    result, shown = run(ip, "%%dmschat --system 'be brief'\n   \n")
    assert not result.success and "nothing to send" in shown.stderr and "prompt=''" not in shown.stderr


def test_mask_without_a_rule_names_the_option_not_the_api_field(ip, monkeypatch):
    result, shown = run(ip, "%%dmschat --mask\nhi")
    assert not result.success
    assert "--rule" in shown.stderr and "desensitization_rule=None" not in shown.stderr


def test_quiet_without_out_warns_once_and_keeps_the_answer_in_underscore(ip, sandbox):
    ip.magics_manager.registry["DmsChatMagics"].workspace.quiet_warned = False
    result, shown = run(ip, "%%dmschat --quiet\nhi")
    assert result.success and "Add -o NAME" in shown.stderr and not shown.outputs
    assert ip.user_ns["_"].text
    result, shown = run(ip, "%%dmschat --quiet\nagain")
    assert result.success and shown.stderr == ""  # once
    result, shown = run(ip, "%%dmschat --quiet -o kept\nagain")
    assert result.success and ip.user_ns["kept"].text and shown.stderr == ""
