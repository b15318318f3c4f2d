"""Credential sources: explicit keys, named profiles, the default chain, the cheap presence check."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])  # so a fresh interpreter finds the package

from dms_magic.client import credentials
from dms_magic.client.credentials import CredentialError, has_default_credentials, mask_key_id, resolve

CHAIN_ENV = ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
             "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_CREDENTIALS_URI",
             "ALIBABA_CLOUD_ECS_METADATA", "ALIBABA_CLOUD_CREDENTIALS_FILE", "ALIBABA_CLOUD_PROFILE"]


@pytest.fixture
def clean_home(tmp_path, monkeypatch):
    """An empty HOME and no credential variables: nothing configured anywhere."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in CHAIN_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def write_cli_config(home, profiles, current="default"):
    (home / ".aliyun").mkdir(exist_ok=True)
    (home / ".aliyun" / "config.json").write_text(json.dumps({"current": current, "profiles": profiles}))


def test_mask_key_id():
    assert mask_key_id("LTAI5tExampleKeyabcd") == "LTAI****abcd"
    assert mask_key_id("short") == "sh****" and mask_key_id(None) == "(none)"


def test_explicit_keys(clean_home):
    source = resolve("LTAI5tExampleKeyabcd", "s3cr3t")
    cred = source.get()
    assert (cred.access_key_id, cred.access_key_secret, cred.security_token) == ("LTAI5tExampleKeyabcd", "s3cr3t", None)
    assert source.kind == "explicit" and source.masked_key_id == "LTAI****abcd"


def test_explicit_sts_keeps_the_token(clean_home):
    source = resolve("STS.NUexampleabcd", "s3cr3t", "CAIS-token")
    assert source.get().security_token == "CAIS-token" and "sts" in source.kind


def test_half_given_keys_are_one_clear_error(clean_home):
    with pytest.raises(CredentialError, match="access_key_secret is missing"):
        resolve("LTAI5tExampleKeyabcd", None)


def test_nothing_configured_means_none_and_no_default_credentials(clean_home):
    assert has_default_credentials() is False
    assert resolve() is None


def test_environment_keys_are_seen_cheaply(clean_home, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenvkey00001234")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
    assert has_default_credentials()
    source = resolve()
    assert source.kind == "default chain: environment" and source.get().access_key_secret == "env-secret"


def test_cli_profile_by_name(clean_home):
    write_cli_config(clean_home, [
        {"name": "default", "mode": "AK", "access_key_id": "LTAIdefault0000aaaa", "access_key_secret": "d-secret"},
        {"name": "work", "mode": "AK", "access_key_id": "LTAIworkkey0000bbbb", "access_key_secret": "w-secret"},
    ])
    assert has_default_credentials()
    source = resolve(profile="work")
    cred = source.get()
    assert source.kind == "profile:work" and cred.access_key_id == "LTAIworkkey0000bbbb"
    assert cred.access_key_secret == "w-secret" and source.masked_key_id == "LTAI****bbbb"


def test_default_chain_reads_the_cli_current_profile(clean_home):
    write_cli_config(clean_home, [{"name": "default", "mode": "AK", "access_key_id": "LTAIdefault0000aaaa",
                                   "access_key_secret": "d-secret"}])
    code = ("import os; from dms_magic.client.credentials import resolve; s = resolve();"
            "print(s.kind, s.get().access_key_id)")
    # A fresh process: the SDK reads HOME once, at import.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"HOME": str(clean_home), "PATH": "/usr/bin:/bin",
                              "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}).stdout
    assert out.split() == ["default", "chain", "LTAIdefault0000aaaa"]


@pytest.mark.parametrize("text", ["[]", '"x"', "null", '{"profiles": null}', '{"profiles": {"name": "a"}}',
                                  '{"profiles": [null, 3, {"name": null}, {"name": ["a"]}]}', "{not json"])
def test_a_malformed_cli_config_counts_as_no_profiles(clean_home, text):
    (clean_home / ".aliyun").mkdir()
    (clean_home / ".aliyun" / "config.json").write_text(text)
    assert has_default_credentials() is False
    assert resolve() is None
    with pytest.raises(CredentialError, match=r"profile 'work' not found .*profiles there: none"):
        resolve(profile="work")


def test_a_malformed_cli_config_lets_the_session_fall_back_to_the_sandbox(clean_home, monkeypatch):
    from dms_magic import session

    monkeypatch.delenv("DMS_MAGIC_ENDPOINT", raising=False)
    monkeypatch.setattr(session, "_config", {})  # no endpoint configured by another test
    (clean_home / ".aliyun").mkdir()
    (clean_home / ".aliyun" / "config.json").write_text('{"profiles": null}')
    assert session.resolve().endpoint == session.SANDBOX


def test_unknown_profile_names_the_known_ones(clean_home):
    write_cli_config(clean_home, [{"name": "default", "mode": "AK", "access_key_id": "a", "access_key_secret": "b"}])
    with pytest.raises(CredentialError, match=r"profile 'nope' not found.*default.*aliyun configure --profile nope"):
        resolve(profile="nope")


def test_credentials_ini_profile(clean_home, monkeypatch):
    ini = clean_home / "creds.ini"
    ini.write_text("[project]\ntype = access_key\naccess_key_id = LTAIinikey00000cccc\naccess_key_secret = i-secret\n")
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", str(ini))
    assert has_default_credentials()
    cred = resolve(profile="project").get()
    assert (cred.access_key_id, cred.access_key_secret) == ("LTAIinikey00000cccc", "i-secret")


def test_the_sdk_is_imported_only_when_a_profile_or_the_chain_is_used(clean_home):
    code = ("import sys, dms_magic.client.credentials as c;"
            "c.has_default_credentials(); c.resolve('LTAIx', 'y').get();"
            "print('alibabacloud_credentials' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
