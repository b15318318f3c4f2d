"""Our ACS3-HMAC-SHA256 signer against the official one (alibabacloud_tea_openapi), used as the oracle."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
# The oracle comes with the official SDK, a declared test dependency: imported, not
# importorskip'd, so a broken install fails instead of skipping every comparison.
from alibabacloud_tea_openapi import utils as oracle

from dms_magic.wire import signing

# Characters that exercise every encoding rule: unreserved, reserved ("/", "*", "~", "+", "="),
# spaces, percent signs, and multi-byte UTF-8 (CJK, accents, emoji).
ALPHABET = list("abcXYZ019-_.~*/ +=&%?#:;,'\"[]{}") + ["中", "文", "é", "ß", "😀", "\t"]
KEY_ALPHABET = list("abcdefXYZ0123456789")  # API parameter names are ASCII words
HEADER_NAMES = ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "accept",
                "content-type", "user-agent", "x-acs-content-sha256", "X-Acs-Custom", "X-ACS-Meta"]


def _text(rng: random.Random, n_max: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n_max)))


def _case(rng: random.Random):
    query = {"".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(1, 10))): _text(rng)
             for _ in range(rng.randint(0, 8))}
    headers = {}
    for name in rng.sample(HEADER_NAMES, rng.randint(1, len(HEADER_NAMES))):
        # leading/trailing blanks are stripped by both sides; empty values are signed as empty
        headers[name] = rng.choice(["", " ", "  padded  "]) + _text(rng).replace("\t", "") + rng.choice(["", " "])
    if rng.random() < 0.3:  # STS: the SDK adds both headers
        headers["x-acs-accesskey-id"] = "STS.NU" + _text(rng, 6)
        headers["x-acs-security-token"] = "CAIS" + _text(rng, 40)
    body = _text(rng, 40).encode("utf-8")
    method = rng.choice(["POST", "GET"])
    path = rng.choice(["/", "", "/a/b"])
    ak = "LTAI" + "".join(rng.choice(KEY_ALPHABET) for _ in range(16))
    secret = _text(rng, 30) or "s"
    return method, path, query, headers, body, ak, secret


def _official(method, path, query, headers, payload_hash, ak, secret):
    request = SimpleNamespace(method=method, pathname=path, query=query, headers=headers)
    return oracle.Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload_hash, ak, secret)


def test_signer_equals_official_sdk_on_600_random_cases():
    rng = random.Random(20181101)
    mismatches = []
    for i in range(600):
        method, path, query, headers, body, ak, secret = _case(rng)
        payload_hash = signing.hash_payload(body)
        assert payload_hash == oracle.Utils.hash(body, "ACS3-HMAC-SHA256").hex()
        ours = signing.authorization(method, path, query, headers, payload_hash, ak, secret)
        theirs = _official(method, path, query, headers, payload_hash, ak, secret)
        if ours != theirs:
            mismatches.append((i, query, headers, ours, theirs))
    assert not mismatches, mismatches[:3]


def test_canonical_query_encoding_matches_sdk_on_the_tricky_characters():
    query = {"A": "a b", "B": "*", "C": "~", "D": "/", "E": "", "F": "中", "G": "+"}
    assert signing.canonical_query(query) == oracle.get_canonical_query_string(query)
    assert signing.canonical_query(query) == "A=a%20b&B=%2A&C=~&D=%2F&E=&F=%E4%B8%AD&G=%2B"


def test_sign_headers_is_what_the_sdk_would_sign_including_sts():
    query = {"InstanceId": "1", "Model": "qwen-plus"}
    body = b"Messages=%5B%5D"
    headers = signing.sign_headers("POST", "/", query, body, "dms-enterprise.aliyuncs.com", "ChatWithDesensitize",
                                   "2018-11-01", "LTAIexample", "secret", security_token="CAIStoken",
                                   date="2024-05-01T00:00:00Z", nonce="n1", user_agent="dms-magic/0")
    assert headers["x-acs-security-token"] == "CAIStoken"
    assert headers["x-acs-accesskey-id"] == "LTAIexample"
    assert headers["x-acs-content-sha256"] == signing.hash_payload(body)
    unsigned = {k: v for k, v in headers.items() if k != "Authorization"}
    assert headers["Authorization"] == _official("POST", "/", query, unsigned, signing.hash_payload(body),
                                                 "LTAIexample", "secret")
    _, _, signed, _ = signing.parse_authorization(headers["Authorization"])
    assert set(signed) == set(unsigned)  # every header sent is signed


def test_verifier_side_recomputes_the_signature_from_the_signed_list():
    query = {"InstanceId": "1"}
    headers = signing.sign_headers("POST", "/", query, b"x=1", "127.0.0.1:8080", "A", "V", "ak", "sk")
    alg, ak, signed, sig = signing.parse_authorization(headers["Authorization"])
    # the server sees extra, unsigned headers (Accept-Encoding, Content-Length...) with any case
    arrived = {k.title(): v for k, v in headers.items()} | {"Accept-Encoding": "gzip", "Content-Length": "3"}
    text, _ = signing.canonical_request("POST", "/", query, arrived, headers["x-acs-content-sha256"], signed)
    assert (alg, ak) == (signing.ALGORITHM, "ak")
    assert signing.signature("sk", signing.string_to_sign(text)) == sig
    assert signing.signature("wrong", signing.string_to_sign(text)) != sig


def test_every_attempt_gets_a_fresh_nonce():
    nonces = {signing.new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000


@pytest.mark.parametrize("bad", ["", "ACS3-HMAC-SHA256", "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host",
                                 "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=ab"])
def test_malformed_authorization_is_a_clear_value_error(bad):
    with pytest.raises(ValueError, match="Authorization"):
        signing.parse_authorization(bad)
