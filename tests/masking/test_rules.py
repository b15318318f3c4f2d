"""Masking config validation: every wrong entry fails at load (or at sandbox start) with one clear
MaskingConfigError that names the entry, the bad value and what to do."""
from __future__ import annotations

import subprocess
import sys

import pytest

from dms_magic.masking import MaskingConfigError, OperatorConfigError, load_config, mask, resolve_config
from dms_magic.sandbox import start

EMAIL_PART = r"^([^@]+)@"


@pytest.mark.parametrize("config, message", [
    ({"rule_operators": {"UserInfo": {"EMAIL": {"type": "bogus"}}}},
     r"rule_operators\.UserInfo\.EMAIL: .*type='bogus' is unknown; use one of cover"),
    ({"rule_operators": {"UserInfo": {"EMAIL": {"type": "cover", "keep_first": "2"}}}},
     r"rule_operators\.UserInfo\.EMAIL: .*keep_first='2' is invalid"),
    ({"rule_operators": {"UserInfo": {"EMAIL": "cover"}}}, r"rule_operators\.UserInfo\.EMAIL must be a table"),
    ({"rule_operators": {"UserInfo": ["EMAIL"]}}, r"rule_operators\.UserInfo must be a table"),
    ({"rule_operators": {"NoSuchRule": {"EMAIL": {"type": "cover"}}}}, r"there is no category 'NoSuchRule'"),
    ({"operators": {"EMAIL": "cover"}}, r"operators\.EMAIL must be a table .* got str"),
    ({"operators": {"EMAIL": ["type", "cover"]}}, r"operators\.EMAIL must be a table .* got list"),
    ({"operators": {"EMAIL": {"type": "cover", "part": "([^@]+@"}}},
     r"operators\.EMAIL: .*part='\(\[\^@\]\+@' is not a valid regular expression"),
    ({"operators": {"PHONE_NUMBER": {"type": "cover", "prefix": "+86"}}},
     r"prefix='\+86' is not a valid regular expression .*backslash"),
    ({"operators": {"EMAIL": {"type": "cover", "part": "^[^@]+@"}}}, r"has no group; put the part to cover in parentheses"),
    ({"operators": {"EMAIL": {"type": "replace", "value": "<{kind}>"}}}, r"value='<\{kind\}>' is not a valid template"),
    ({"operators": {"EMAIL": {"type": "pseudonym", "template": "{0}"}}}, r"it may use \{entity\}, \{n\}"),
    ({"operators": {"EMAIL": {"type": "hmac", "key": 5}}}, r"'key' must be a non-empty string, got int"),
    ({"operators": {"EMAIL": {"type": "hash", "algorithm": "crc"}}}, r"algorithm='crc'"),
    ({"operators": {"EMAIL": {"type": "cover", "keep_last": -1}}}, r"keep_last=-1 is invalid"),
    ({"operators": {"EMAIL": {"type": "round_number", "step": float("inf")}}}, r"step=inf"),
])
def test_a_wrong_entry_fails_at_load_naming_it(config, message):
    with pytest.raises(MaskingConfigError, match=message):
        resolve_config(config)


def test_a_config_file_with_a_wrong_rule_operator_fails_at_load(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[rule_operators.UserInfo.EMAIL]\ntype = "bogus"\n', "utf-8")
    with pytest.raises(MaskingConfigError, match=r"rules\.toml: rule_operators\.UserInfo\.EMAIL"):
        load_config(path)


def test_valid_rule_operators_and_part_still_work():
    cfg = resolve_config({"rule_operators": {"Contact": {"EMAIL": {"type": "cover", "part": EMAIL_PART,
                                                                   "keep_first": 1}}}})
    assert mask("mail zhangwei@example.com", "Contact", config=cfg).text == "mail z*******@example.com"


def test_a_missing_key_is_allowed_at_load_but_not_at_sandbox_start(monkeypatch):
    monkeypatch.delenv("DMS_MAGIC_MASKING_KEY", raising=False)
    config = {"rule_operators": {"Contact": {"EMAIL": {"type": "hmac"}}}}
    cfg = resolve_config(config)  # the key may be set only on the hosts that mask
    with pytest.raises(OperatorConfigError, match="DMS_MAGIC_MASKING_KEY"):
        mask("a@example.com", "Contact", config=cfg)
    with pytest.raises(MaskingConfigError, match="rule 'Contact'.*needs a key.*DMS_MAGIC_MASKING_KEY"):
        start(masking_config=config)
    monkeypatch.setenv("DMS_MAGIC_MASKING_KEY", "k")
    start(masking_config=config).stop()


def test_the_sandbox_refuses_to_start_on_a_bogus_rule_operator(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text('{"rule_operators": {"UserInfo": {"EMAIL": {"type": "bogus"}}}}', "utf-8")
    with pytest.raises(MaskingConfigError, match="type='bogus'"):
        start(masking_config=path)
    result = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--port", "0", "--masking-config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "type='bogus' is unknown" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("config, message", [
    ({"operators": {"MOBILE_PHONE": {"type": "cover", "keep_frist": 3}}},
     r"operators\.MOBILE_PHONE: operator 'cover' for MOBILE_PHONE: unknown key 'keep_frist' "
     r"\(did you mean 'keep_first'\?\); valid keys for 'cover': type, keep_first, keep_last, char, fixed, "
     r"keep_separators, prefix, part$"),
    ({"rule_operators": {"Contact": {"EMAIL": {"type": "hmac", "keyenv": "MY_KEY", "salt": "s"}}}},
     r"rule_operators\.Contact\.EMAIL: .*unknown key 'keyenv' \(did you mean 'key_env'\?\); "
     r"valid keys for 'hmac': type, algorithm, length, salt, key, key_env$"),
    ({"operators": {"EMAIL": {"type": "hash", "key": "k"}}},  # a key would do nothing for a plain hash
     r"unknown key 'key'; valid keys for 'hash': type, algorithm, length, salt$"),
    ({"operators": {"EMAIL": {"type": "random", "seed": 1, "lenght": 2}}},
     r"unknown keys 'lenght', 'seed'; valid keys for 'random': type$"),
    ({"operators": {"EMAIL": {"type": "round_number", "steps": 10}}}, r"valid keys for 'round_number': type, step$"),
    ({"operators": {"EMAIL": {"type": "round_date", "units": "year"}}}, r"valid keys for 'round_date': type, unit$"),
    ({"operators": {"EMAIL": {"type": "replace", "text": "x"}}}, r"valid keys for 'replace': type, value$"),
    ({"operators": {"EMAIL": {"type": "pseudonym", "format": "x"}}}, r"valid keys for 'pseudonym': type, template$"),
    ({"operators": {"EMAIL": {"type": "aes", "secret": "x"}}}, r"valid keys for 'aes': type, key, key_env$"),
])
def test_a_misspelled_operator_option_fails_at_load_naming_the_valid_ones(config, message):
    with pytest.raises(MaskingConfigError, match=message):
        resolve_config(config)


def test_a_misspelled_option_in_a_config_file_fails_at_load_and_the_value_is_not_shown(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[operators.EMAIL]\ntype = "hmac"\nkye = "SENTINEL-secret"\n', "utf-8")
    with pytest.raises(MaskingConfigError, match=r"rules\.toml: operators\.EMAIL: .*unknown key 'kye'") as info:
        load_config(path)
    assert "SENTINEL-secret" not in str(info.value)


def test_every_documented_option_is_still_accepted():
    resolve_config({"operators": {
        "EMAIL": {"type": "cover", "keep_first": 1, "keep_last": 0, "char": "#", "fixed": "***",
                  "keep_separators": False, "prefix": "^x", "part": EMAIL_PART},
        "MOBILE_PHONE": {"type": "hmac", "algorithm": "md5", "length": 8, "salt": "s", "key": "k", "key_env": "K"},
        "BANK_CARD": {"type": "hash", "algorithm": "sha1", "length": 8, "salt": "s"},
        "IPV4": {"type": "aes", "key": "k", "key_env": "K"},
        "USCC": {"type": "round_number", "step": 10}, "PASSPORT": {"type": "round_date", "unit": "year"},
        "CHINESE_NAME": {"type": "pseudonym", "template": "<{entity}#{n}>"},
        "ENGLISH_NAME": {"type": "replace", "value": "<x>"}, "LANDLINE": {"type": "random"}}})
