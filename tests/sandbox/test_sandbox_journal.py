"""Issue 12, item 1: the sandbox journal stays bounded by bytes, and
the inspection endpoint answers in pages of bounded size.

The soak runs (memory over hundreds of large requests) live in tests/soak/."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import requests

from dms_magic import defaults as D
from dms_magic.wire import signing
from dms_magic.sandbox import start

MB = 1024 * 1024
BUDGET = 3 * MB // 10
SECRET = "SENTINEL-reliability-secret-7c1e"


def _post(url, port, key_id, secret, content):
    body = urlencode({"Messages": json.dumps([{"role": "user", "content": content}])}).encode()
    query = {"InstanceId": "1", "MaxTokens": "8"}
    headers = signing.sign_headers("POST", "/", query, body, f"127.0.0.1:{port}", D.ACTION, D.API_VERSION,
                                   key_id, secret)
    return requests.post(f"{url}/?{urlencode(query)}", data=body, headers=headers, timeout=120)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _signed_get(url, port, key_id, secret, query):
    from dms_magic.sandbox.inspection import RECEIVED_PATH, signed_headers

    headers = signed_headers("GET", f"127.0.0.1:{port}", query, key_id, secret)
    return requests.get(f"{url}{RECEIVED_PATH}?{urlencode(query)}", headers=headers, timeout=120)


def test_the_journal_is_bounded_by_bytes_and_keeps_the_newest_request_whole():
    # The budget is a parameter: 300 KB and 90 KB prompts show the same eviction as the default's
    # megabytes at a tenth of the sandbox's work (each prompt is masked, tokenised and answered).
    with start(journal_bytes=BUDGET) as sb:
        contents = [f"{i}" + "y" * 90_000 for i in range(6)]
        for content in contents:
            assert _post(sb.url, sb.port, sb.access_key_id, sb.access_key_secret, content).status_code == 200
        kept = sb.received
        assert sb.accepted == 6 and 1 <= len(kept) < 6  # the oldest went first
        assert kept[-1]["model_input"][0]["content"] == contents[-1]  # what tests read, whole
        assert kept[-1]["request"].messages[0]["content"] == contents[-1]
        assert sb._app.journal.bytes <= BUDGET or len(kept) == 1


def test_reading_the_journal_over_http_needs_the_sandboxs_signature():
    with start() as sb:
        assert _post(sb.url, sb.port, sb.access_key_id, sb.access_key_secret, "我的手机号是13812345678").ok
        for method in ("GET", "DELETE"):  # no signature: the gateway's IncompleteSignature
            reply = requests.request(method, f"{sb.url}/_sandbox/received", timeout=10)
            assert reply.status_code == 400 and reply.json()["Code"] == "IncompleteSignature"
        wrong = _signed_get(sb.url, sb.port, sb.access_key_id, "not-the-secret", {"after": "0"})
        assert wrong.status_code == 400 and wrong.json()["Code"] == "SignatureDoesNotMatch"
        assert "13812345678" not in wrong.text
        good = _signed_get(sb.url, sb.port, sb.access_key_id, sb.access_key_secret, {"after": "0"})
        assert good.status_code == 200
        assert good.json()["entries"][0]["request"]["messages"][0]["content"] == "我的手机号是13812345678"
        assert len(sb.received) == 1  # the unsigned DELETE cleared nothing


def test_journal_pages_follow_one_another_without_gaps():
    with start() as sb:
        for i in range(5):
            assert _post(sb.url, sb.port, sb.access_key_id, sb.access_key_secret, f"prompt {i}").ok
        after, seqs = 0, []
        while after is not None:
            page = _signed_get(sb.url, sb.port, sb.access_key_id, sb.access_key_secret,
                               {"after": str(after), "limit": "2"}).json()
            assert len(page["entries"]) <= 2
            seqs += [e["seq"] for e in page["entries"]]
            after = page["next_after"]
        assert seqs == [1, 2, 3, 4, 5]
        bad = _signed_get(sb.url, sb.port, sb.access_key_id, sb.access_key_secret, {"limit": "0"})
        assert bad.status_code == 400 and bad.json()["Code"] == "InvalidParameter"
