"""Custom recognizers from the masking config (issue 22, build 4): a DMS instance's own sensitive
types (employee numbers, contract numbers) defined in the user's TOML/JSON masking config, used by
mask(), the notebook preview and the sandbox alike; a wrong entry fails at load naming the entity
and the field."""
from __future__ import annotations

import json

import pytest
from IPython.utils.capture import capture_output
from stdnum import luhn

from dms_magic.masking import MaskingConfigError, detect, load_config, mask, mask_messages, resolve_config
from dms_magic.sandbox import start

CONTRACT = "20240117" + "0000381"
CONTRACT += luhn.calc_check_digit(CONTRACT)  # 16 digits with a valid check digit
CONFIG = f"""
[recognizers.EMPLOYEE_ID]
pattern = "EMP-?[0-9]{{6}}"
cues = ["工号", "employee id", "staff no"]
operator = {{type = "replace", value = "<EMPLOYEE>"}}
rules = ["UserInfo", "All"]

[recognizers.CONTRACT_NO]
pattern = "HT(?P<check>[0-9]{{16}})"
validator = "luhn"
cue_required = false

[categories]
Contracts = ["CONTRACT_NO", "CHINESE_NAME"]
"""


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "masking.toml"
    path.write_text(CONFIG, "utf-8")
    return path


def test_a_custom_entity_is_masked_next_to_its_cue_and_joins_the_rules_it_names(config_path):
    cfg = load_config(config_path)
    text = "张伟的工号EMP-204518，请核对。"
    assert mask(text, config=cfg).text == "张*的工号<EMPLOYEE>，请核对。"
    assert mask(text, "All", config=cfg).text == "张*的工号<EMPLOYEE>，请核对。"
    # without a cue word the same shape is left alone (cues are required when given) ...
    assert mask("批次EMP-204518已完成", config=cfg).text == "批次EMP-204518已完成"
    # ... unless the value was found elsewhere in the request: every mention is masked
    out = mask_messages([{"role": "user", "content": "employee id: EMP-204518"},
                         {"role": "user", "content": "EMP-204518 交了报告"}], config=cfg)
    assert [m["content"] for m in out] == ["employee id: <EMPLOYEE>", "<EMPLOYEE> 交了报告"]
    # a rule that does not name the entity does not mask it; the built-in default rules are unchanged
    assert mask(text, "Contact", config=cfg).text == text
    assert "EMPLOYEE_ID" not in resolve_config(None).entities("UserInfo")


def test_a_validator_by_name_decides_and_the_default_operator_covers(config_path):
    cfg = load_config(config_path)
    good, bad = f"HT{CONTRACT}", f"HT{CONTRACT[:-1]}{(int(CONTRACT[-1]) + 1) % 10}"
    assert luhn.is_valid(CONTRACT) and not luhn.is_valid(bad[2:])
    found = detect(f"合同{good}与{bad}", "Contracts", config=cfg)
    assert [(d.entity, d.validated_by) for d in found] == [("CONTRACT_NO", "custom pattern + luhn")]
    assert mask(f"合同{good}", "Contracts", config=cfg).text == "合同" + "*" * 18
    # the pattern is bounded by Latin letters and digits: no match inside a longer token
    assert mask(f"X{good}9", "Contracts", config=cfg).text == f"X{good}9"


def test_a_python_stdnum_module_is_a_validator_too():
    cfg = resolve_config({"recognizers": {"PARTNER_IBAN": {"pattern": "[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11,30}[0-9]",
                                                           "validator": "iban", "cue_required": False,
                                                           "rules": ["UserInfo"]}}})
    assert mask("pay GB82 WEST 1234 5698 7654 32 today", config=cfg).text == "pay **** **** **** **** **** ** today"  # spaces kept
    assert mask("pay GB82 WEST 1234 5698 7654 33 today", config=cfg).text == "pay GB82 WEST 1234 5698 7654 33 today"


@pytest.mark.parametrize("entry, message", [
    ({"EMAIL": {"pattern": "x+"}}, r"recognizers\.EMAIL: EMAIL is a built-in entity"),
    ({"employee": {"pattern": "x+"}}, r"recognizers\.employee: an entity name is upper case"),
    ({"EMP_ID": {"patern": "E[0-9]+"}}, r"recognizers\.EMP_ID: unknown field 'patern' \(did you mean 'pattern'\?\)"),
    ({"EMP_ID": {"pattern": "E([0-9]+"}}, r"recognizers\.EMP_ID\.pattern: 'E\(\[0-9\]\+' is not a valid regular"),
    ({"EMP_ID": {"pattern": "[0-9]*"}}, r"recognizers\.EMP_ID\.pattern: .* matches the empty string"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "validator": "lunh"}}, r"recognizers\.EMP_ID\.validator: 'lunh' is unknown"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "cues": "工号", "window": 0}}, r"recognizers\.EMP_ID\.window must be"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "cue_required": True}}, r"recognizers\.EMP_ID\.cue_required is true but"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "cues": [""]}}, r"recognizers\.EMP_ID\.cues must be a list of non-empty"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "rules": ["Nope"]}}, r"recognizers\.EMP_ID\.rules: there is no category 'Nope'"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "operator": {"type": "bogus"}}},
     r"recognizers\.EMP_ID\.operator: .*type='bogus' is unknown"),
    ({"EMP_ID": {"pattern": "E[0-9]+", "operator": {"type": "cover", "keep_frist": 1}}},
     r"recognizers\.EMP_ID\.operator: .*unknown key 'keep_frist'"),
])
def test_a_wrong_entry_fails_at_load_naming_the_entity_and_the_field(entry, message):
    with pytest.raises(MaskingConfigError, match=message):
        resolve_config({"recognizers": entry})


def test_a_category_naming_an_undefined_entity_says_how_to_define_it():
    with pytest.raises(MaskingConfigError, match=r"unknown entity 'EMP_ID'.*define it under \[recognizers\.EMP_ID\]"):
        resolve_config({"categories": {"HR": ["EMP_ID"]}})


def test_a_broken_custom_recognizer_stops_the_sandbox_at_start(tmp_path):
    path = tmp_path / "masking.json"
    path.write_text(json.dumps({"recognizers": {"EMP_ID": {"pattern": "E[0-9]+", "validator": "lunh"}}}), "utf-8")
    with pytest.raises(MaskingConfigError, match=r"recognizers\.EMP_ID\.validator"):
        start(masking_config=path)


def test_round_trip_config_then_preview_then_sandbox(config_path, monkeypatch, client_for):
    """The user's config file is what the notebook preview shows and what the sandbox masks, over
    real HTTP: the file named by DMS_MAGIC_MASKING_CONFIG, read by both."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("DMS_MAGIC_MASKING_CONFIG", str(config_path))
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dms_magic")
    try:
        with capture_output() as shown:
            result = shell.run_cell("%dmschat preview 请把工号EMP-204518的考勤发给我")
        assert result.success, result.error_in_exec
        html = "\n".join(o.data.get("text/html", "") for o in shown.outputs)
        assert ">EMP-204518</mark><sup" in html and "EMPLOYEE_ID" in html and ">&lt;EMPLOYEE&gt;</span>" in html
    finally:
        shell.run_line_magic("unload_ext", "dms_magic")

    prompt = "请把工号EMP-204518的考勤发给我，合同HT" + CONTRACT
    with start(seed=7) as sandbox:  # no masking_config: it reads the same file as the preview
        with client_for(sandbox) as client:
            reply = client.chat(prompt, need_desensitization=True, desensitization_rule="UserInfo", max_tokens=4)
        seen = [e for e in sandbox.received if e["request_id"] == reply.request_id][0]["model_input"]
    assert seen[-1]["content"] == "请把工号<EMPLOYEE>的考勤发给我，合同HT" + CONTRACT  # CONTRACT_NO is not in UserInfo
    assert "EMP-204518" not in json.dumps(seen, ensure_ascii=False)
