"""Issue 12, items 7 and 11: hostile HTTP gets the gateway's 400 JSON, never a 500 or a traceback,
and a query changed after signing is refused."""
from __future__ import annotations

import json
import socket
from urllib.parse import quote, urlencode

import pytest

from dms_magic import defaults as D
from dms_magic.wire import signing

GATEWAY_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


def _exchange(sb, raw: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes on a fresh connection; (status, headers, body) of the reply."""
    with socket.create_connection((sb.host, sb.port), timeout=30) as conn:
        conn.sendall(raw)
        data = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(rest) >= length[0]:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _signed_request(sb, body: bytes, query: dict, *, url_query: str | None = None, framing: str = "length",
                    canonical: str | None = None) -> bytes:
    headers = signing.sign_headers("POST", "/", canonical if canonical is not None else query, body,
                                   f"127.0.0.1:{sb.port}", D.ACTION, D.API_VERSION, sb.access_key_id,
                                   sb.access_key_secret)
    target = "/?" + (url_query if url_query is not None else urlencode(query))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if framing == "length":
        return f"POST {target} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    if framing == "both":
        return (f"POST {target} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n\r\n"
                .encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    if framing == "gzip, chunked":
        return (f"POST {target} HTTP/1.1\r\n{head}Transfer-Encoding: gzip, chunked\r\n\r\n".encode()
                + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    assert framing == "zz"
    return f"POST {target} HTTP/1.1\r\n{head}Transfer-Encoding: chunked\r\n\r\nzz\r\n".encode() + body + b"\r\n0\r\n\r\n"


def _gateway_400(status, headers, body, code=None, expected_status=400):
    assert status == expected_status, body[:300]
    reply = json.loads(body)
    assert set(reply) == GATEWAY_KEYS and (code is None or reply["Code"] == code)
    assert headers.get("X-Dms-Magic-Backend") == "sandbox"
    assert b"Traceback" not in body
    return reply


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


OK_MESSAGES = json.dumps([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("case", ["100000 brackets", "extra key 900 deep", "SearchOptions 900 deep"])
def test_deeply_nested_json_is_an_invalid_parameter(sandbox, case):
    query = {"InstanceId": "1"}
    if case == "100000 brackets":
        body = b"Messages=" + b"%5B" * 100_000
    elif case == "extra key 900 deep":
        messages = '[{"role": "user", "content": "hi", "extra": ' + _nested(900) + "}]"
        body = urlencode({"Messages": messages}).encode()
    else:
        body = urlencode({"Messages": OK_MESSAGES}).encode()
        query["SearchOptions"] = '{"a": ' * 900 + "1" + "}" * 900
    reply = _gateway_400(*_exchange(sandbox, _signed_request(sandbox, body, query)), code="InvalidParameter")
    assert ("SearchOptions" if case.startswith("Search") else "Messages") in reply["Message"]
    assert "nested" in reply["Message"]


@pytest.mark.parametrize("framing", ["both", "zz"])
def test_ambiguous_or_broken_framing_is_a_400_in_the_gateways_shape(sandbox, framing):
    body = urlencode({"Messages": OK_MESSAGES}).encode()
    raw = _signed_request(sandbox, body, {"InstanceId": "1"}, framing=framing)
    _gateway_400(*_exchange(sandbox, raw), code="InvalidRequest")


def test_an_unsupported_transfer_coding_is_refused_as_invalid_request_not_internal_error(sandbox):
    """`Transfer-Encoding: gzip, chunked`: 501 Not Implemented (RFC 9112 section 6.1, an unknown
    coding), but in the gateway's shape with Code InvalidRequest: the request was refused, the
    service did not fail."""
    body = urlencode({"Messages": OK_MESSAGES}).encode()
    raw = _signed_request(sandbox, body, {"InstanceId": "1"}, framing="gzip, chunked")
    reply = _gateway_400(*_exchange(sandbox, raw), code="InvalidRequest", expected_status=501)
    assert "Transfer-Encoding" in reply["Message"] or "transfer" in reply["Message"].lower()


def test_a_key_appended_after_signing_breaks_the_signature(sandbox):
    body = urlencode({"Messages": OK_MESSAGES}).encode()
    query = {"InstanceId": "1", "Temperature": "0.1"}
    status, _, _ = _exchange(sandbox, _signed_request(sandbox, body, query))
    assert status == 200  # as signed
    tampered = _signed_request(sandbox, body, query, url_query=urlencode(query) + "&Temperature=1.9")
    _gateway_400(*_exchange(sandbox, tampered), code="SignatureDoesNotMatch")


def test_a_repeated_key_that_was_signed_is_still_refused(sandbox):
    from dms_magic.sandbox.intake import canonical_pairs

    body = urlencode({"Messages": OK_MESSAGES}).encode()
    pairs = [("InstanceId", "1"), ("Temperature", "0.1"), ("Temperature", "1.9")]
    raw = _signed_request(sandbox, body, {}, canonical=canonical_pairs(pairs),
                          url_query="&".join(f"{k}={quote(v)}" for k, v in pairs))
    reply = _gateway_400(*_exchange(sandbox, raw), code="InvalidParameter")
    assert "Temperature" in reply["Message"]


# -- issue 23 item 13: authenticate from the headers, then read the body ---------------------------
class _CountingInput:
    """wsgi.input, counting the bytes the app reads from it."""

    def __init__(self, stream, counter: list):
        self._stream, self._counter = stream, counter

    def read(self, *args):
        data = self._stream.read(*args)
        self._counter.append(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._stream, name)


@pytest.fixture
def body_reads(sandbox, monkeypatch):
    """The bytes of request bodies the sandbox's app read, as a list (one entry per read)."""
    server = sandbox._server
    app, reads = server.application, []

    def counting(environ, start_response):
        environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], reads)
        return app(environ, start_response)

    monkeypatch.setattr(server, "application", counting)
    return reads


@pytest.mark.parametrize("tamper, code", [
    ("unsigned", "IncompleteSignature"), ("unknown key", "InvalidAccessKeyId.NotFound"),
    ("wrong signature", "SignatureDoesNotMatch"),
])
def test_a_large_body_is_not_read_before_the_request_is_authenticated(sandbox, body_reads, tamper, code):
    body = b"Messages=" + b"x" * 8_000_000
    raw = _signed_request(sandbox, body, {})
    if tamper == "unsigned":
        raw = b"\r\n".join(line for line in raw.split(b"\r\n") if not line.lower().startswith(b"authorization:"))
    elif tamper == "unknown key":
        raw = raw.replace(sandbox.access_key_id.encode(), b"LTAInobodyknowsthis00001", 1)
    else:
        raw = raw.replace(b"Signature=", b"Signature=00", 1)
    status, headers, reply = _exchange(sandbox, raw)
    assert json.loads(reply)["Code"] == code
    assert sum(body_reads) == 0  # refused from the headers: the 8 MB were never read by the app


def test_a_signed_request_whose_body_was_changed_is_still_refused(sandbox, body_reads):
    body = "Messages=" + quote(json.dumps([{"role": "user", "content": "hi"}]))
    raw = _signed_request(sandbox, body.encode(), {"InstanceId": "1"})
    status, headers, reply = _exchange(sandbox, raw.replace(b"hi", b"ho"))
    assert json.loads(reply)["Code"] == "SignatureDoesNotMatch" and b"x-acs-content-sha256" in reply
    assert sum(body_reads) == len(body)  # read once the headers were signed by the key, then refused
    status, _, reply = _exchange(sandbox, _signed_request(sandbox, body.encode(), {"InstanceId": "1"}))
    assert status == 200, reply[:300]
