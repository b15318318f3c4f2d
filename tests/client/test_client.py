"""DmsChatClient over real HTTP: replies, endpoints, validation, streaming (retries: test_retry*.py).

The server here is a tiny scripted HTTP server (a list of replies, one per request; helpers/scripted.py) so
that error sequences the sandbox would have to be coaxed into are easy to state. Wire equality with the
official SDK lives in test_wire.py; the sandbox end-to-end in test_sandbox*.py.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from dms_magic import errors
from dms_magic.wire import signing
from dms_magic.client import DmsChatClient, parse_endpoint, parse_sse
from dms_magic import InvalidParameterError

from helpers.scripted import AK, OK_BODY, SK, ScriptedServer, gateway, make_client, sse_body, sse_event, verify_signature


@pytest.fixture
def scripted():
    servers = []

    def make(*script):
        server = ScriptedServer(script)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


# -- replies -------------------------------------------------------------------------------------
def test_a_model_error_without_a_code_is_a_parameter_error_with_its_message(scripted):
    text = "Range of input length should be [1, 30720]"
    server = scripted((200, {"RequestId": "D-1", "Success": True, "Data": {"StatusCode": "400", "Message": text}}))
    with make_client(server.url) as client, pytest.raises(errors.ParameterError) as info:
        client.chat("hi")
    assert (info.value.code, info.value.message, info.value.http_status, info.value.model_status) == (
        "InvalidParameter", text, 200, 400)  # the HTTP status received; the model's own status apart
    assert len(server.requests) == 1  # a 4xx from the model is not retried


# -- results, backend, endpoints -------------------------------------------------------------------
def test_backend_is_sandbox_only_when_the_server_says_so(scripted):
    sandbox = scripted((200, OK_BODY, {"X-Dms-Magic-Backend": "sandbox"}))
    plain = scripted((200, OK_BODY))
    with make_client(sandbox.url) as a, make_client(plain.url) as b:
        ra, rb = a.chat("hi"), b.chat("hi")
    assert ra.backend == "sandbox"
    assert rb.backend == urlsplit(plain.url).netloc
    assert ra.usage_dict["total_tokens"] == 11 and ra.request_id == "REQ-OK" and ra.latency > 0
    assert ra.request.messages == [{"role": "user", "content": "hi"}]


def test_endpoint_and_instance_fall_back_to_the_environment(scripted, monkeypatch):
    server = scripted((200, OK_BODY))
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", server.url)
    monkeypatch.setenv("DMS_MAGIC_INSTANCE_ID", "42")
    with DmsChatClient(access_key_id=AK, access_key_secret=SK) as client:
        client.chat("hi")
        client.chat("hi", instance_id=7)  # a call's instance wins
    assert [r["query"]["InstanceId"] for r in server.requests] == ["42", "7"]


@pytest.mark.parametrize("endpoint, expected", [
    (None, ("https", "dms-enterprise.aliyuncs.com", "/")),
    ("dms-enterprise.cn-hangzhou.aliyuncs.com", ("https", "dms-enterprise.cn-hangzhou.aliyuncs.com", "/")),
    ("dms-enterprise-vpc.cn-shanghai.aliyuncs.com", ("https", "dms-enterprise-vpc.cn-shanghai.aliyuncs.com", "/")),
    ("http://127.0.0.1:8765", ("http", "127.0.0.1:8765", "/")),
])
def test_endpoint_forms(endpoint, expected, monkeypatch):
    monkeypatch.delenv("DMS_MAGIC_ENDPOINT", raising=False)
    assert parse_endpoint(endpoint) == expected


def test_bad_endpoint_is_one_clear_error():
    with pytest.raises(ValueError, match="endpoint="):
        parse_endpoint("ftp://x")


def test_sts_token_goes_out_signed(scripted):
    server = scripted((200, OK_BODY))
    with DmsChatClient(server.url, access_key_id="STS.key", access_key_secret=SK, security_token="CAIS-token",
                       instance_id=1) as client:
        client.chat("hi")
    req = server.requests[0]
    assert req["headers"]["x-acs-security-token"] == "CAIS-token"
    _, _, signed, _ = signing.parse_authorization(req["headers"]["authorization"])
    assert "x-acs-security-token" in signed and verify_signature(req)


# -- validation before traffic ---------------------------------------------------------------------
INVALID = [
    ({"temperature": 2}, "temperature"), ({"temperature": -0.1}, "temperature"),
    ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"presence_penalty": 2.5}, "presence_penalty"), ({"presence_penalty": -3}, "presence_penalty"),
    ({"logprobs": True, "top_logprobs": 6}, "top_logprobs"), ({"top_logprobs": 2}, "top_logprobs"),
    ({"seed": -1}, "seed"), ({"seed": 2**31}, "seed"),
    ({"top_k": -1}, "top_k"), ({"max_tokens": 0}, "max_tokens"), ({"thinking_budget": 0}, "thinking_budget"),
    ({"response_format": "xml"}, "response_format"),
    ({"need_desensitization": True}, "desensitization_rule"),
    ({"temperature": "hot"}, "temperature"), ({"stream": True}, "stream"),
    ({"tempreature": 0.5}, "tempreature"),
]


@pytest.mark.parametrize("params, name", INVALID, ids=[n for _, n in INVALID])
def test_invalid_parameters_raise_before_any_traffic(scripted, params, name):
    server = scripted((200, OK_BODY))
    with make_client(server.url) as client, pytest.raises(InvalidParameterError) as info:
        client.chat("hi", **params)
    assert info.value.param == name and name in str(info.value)
    assert server.requests == []


@pytest.mark.parametrize("messages, name", [
    ([], "messages"), ([{"role": "bot", "content": "x"}], "messages[0].role"),
    ([{"role": "user", "content": 5}], "messages[0].content"), ("", None)])
def test_invalid_messages_raise_before_any_traffic(scripted, messages, name):
    server = scripted((200, OK_BODY))
    with make_client(server.url) as client:
        if name is None:  # an empty prompt is still a (valid) user message
            client.chat(messages)
            assert len(server.requests) == 1
            return
        with pytest.raises(InvalidParameterError) as info:
            client.chat(messages)
    assert info.value.param == name and server.requests == []


def test_missing_instance_id_raises_before_any_traffic(scripted, monkeypatch):
    monkeypatch.delenv("DMS_MAGIC_INSTANCE_ID", raising=False)
    server = scripted((200, OK_BODY))
    with DmsChatClient(server.url, access_key_id=AK, access_key_secret=SK) as client:
        with pytest.raises(InvalidParameterError, match="instance_id"):
            client.chat("hi")
    assert server.requests == []


# -- streaming -------------------------------------------------------------------------------------
def test_stream_yields_chunks_and_assembles_the_result(scripted):
    e1 = json.dumps(sse_event("你", logprobs=[{"token": "你", "logprob": -0.1, "bytes": [1], "top_logprobs": []}]),
                    ensure_ascii=False)
    e2 = json.dumps(sse_event("好", finish="stop", usage={"PromptTokens": "3", "CompletionTokens": "2",
                                                         "TotalTokens": "5"}), ensure_ascii=False)
    # a comment keep-alive, an event split over two data: lines, CRLF line ends, no final blank line
    half = e2.index(", \"Success\"") + 1  # JSON allows a newline between tokens
    server = scripted(sse_body(": keep-alive\n\n", f"id:1\ndata:{e1}\n\n", ":ping\r\n\r\n",
                               f"data: {e2[:half]}\r\ndata: {e2[half:]}"))
    with make_client(server.url) as client:
        stream = client.stream("hi", include_usage=True)
        chunks = list(stream)
    assert [c.text for c in chunks] == ["你", "好"]
    result = stream.result
    assert result.text == "你好" and result.finish_reason == "stop"
    assert result.usage_dict["total_tokens"] == 5 and len(result.token_logprobs) == 1
    req = server.requests[0]
    assert req["headers"]["x-acs-action"] == "ChatWithDesensitizeSSE"
    assert req["query"]["Stream"] == "true" and req["query"]["IncludeUsage"] == "true"


def test_an_error_event_mid_stream_raises_with_its_code(scripted):
    ok = json.dumps(sse_event("x"))
    bad = json.dumps({"RequestId": "R2", "Success": False, "ErrorCode": "InternalError", "ErrorMessage": "boom"})
    server = scripted(sse_body(f"data: {ok}\n\n", f"data: {bad}\n\n"))
    with make_client(server.url) as client:
        stream = client.stream("hi")
        assert next(stream).text == "x"
        with pytest.raises(errors.DmsError) as info:
            next(stream)
    assert info.value.code == "InternalError" and info.value.request_id == "R2"
    assert len(server.requests) == 1


def test_a_json_error_reply_to_a_stream_call_raises(scripted):
    server = scripted((200, {"RequestId": "R3", "Success": False, "ErrorCode": "InvalidParameter",
                             "ErrorMessage": "bad"}))
    with make_client(server.url) as client, pytest.raises(errors.ParameterError):
        list(client.stream("hi"))


# -- SSE parser ------------------------------------------------------------------------------------
def events(*chunks):
    return [(e.event, e.data, e.id) for e in parse_sse(c.encode("utf-8") if isinstance(c, str) else c
                                                         for c in chunks)]


def test_sse_multi_line_data_is_joined_with_newlines():
    assert events("data: a\ndata: b\ndata:\n\n") == [("message", "a\nb\n", None)]


def test_sse_comments_and_keep_alives_are_skipped():
    assert events(":hello\n\n", ": ping\n\n", "\n\n", "event: x\n\n", "data: 1\n\n") == [("message", "1", None)]


def test_sse_crlf_split_across_chunks_does_not_end_an_event_early():
    assert events("data: a\r", "\ndata: b\r\n", "\r", "\n") == [("message", "a\nb", None)]


def test_sse_lone_cr_line_endings_work():
    assert events("data: a\rdata: b\r\r") == [("message", "a\nb", None)]


def test_sse_utf8_split_across_chunks():
    raw = "data: 中文\n\n".encode("utf-8")
    assert events(raw[:7], raw[7:]) == [("message", "中文", None)]


def test_sse_fields_event_id_and_last_event_without_blank_line():
    assert events("event: result\nid: 7\ndata: {}\n\ndata: tail") == [("result", "{}", "7"), ("message", "tail", "7")]


def test_sse_never_needs_a_done_marker(scripted):
    ok = json.dumps(sse_event("a", finish="stop"))
    server = scripted(sse_body(f"data: {ok}\n\n", "data: [DONE]\n\n"))  # tolerated if a proxy adds it
    with make_client(server.url) as client:
        assert client.stream("hi").result.text == "a"


def test_stream_chunks_are_delivered_as_they_arrive(scripted):
    gate = threading.Event()
    first = "data: " + json.dumps(sse_event("a")) + "\n\n"
    last = "data: " + json.dumps(sse_event("b", finish="stop")) + "\n\n"
    server = scripted(("chunked", [first, last], gate), (200, OK_BODY))
    with make_client(server.url) as client:
        stream = client.stream("hi")
        assert next(stream).text == "a"  # would hang (gate never set) if the client waited for more
        gate.set()
        assert [c.text for c in stream] == ["b"]
        assert stream.result.text == "ab"
        assert client.chat("again").text == "你好"  # the connection went back to the pool in a usable state
    assert len(server.requests) == 2


def test_a_connection_the_server_closed_while_idle_is_not_reused(scripted):
    server = scripted("close-after", "close-after", (200, OK_BODY))
    with make_client(server.url, max_retries=0) as client:  # no retries: a stale socket would fail the call
        for _ in range(3):
            time.sleep(0.05)  # let the server's close arrive
            assert client.chat("hi").text == "你好"
    assert len(server.requests) == 3


# -- TLS -------------------------------------------------------------------------------------------
def _self_signed(tmp_path):
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_verifies_the_certificate(scripted, tmp_path, monkeypatch):
    import ssl

    cert, key = _self_signed(tmp_path)
    server = scripted((200, OK_BODY))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    url = server.url.replace("http://", "https://")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with make_client(url, max_retries=0) as client, pytest.raises(errors.TransportError):
        client.chat("hi")  # self-signed: not trusted by default
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)  # trusted the way requests users configure it
    with make_client(url, max_retries=0) as client:
        assert client.chat("hi").text == "你好"


# -- against the sandbox (shared fixtures from conftest.py) ------------------------------------------
def test_chat_with_masking_over_the_sandbox(client, sandbox, received_entry):
    result = client.chat("我叫张伟，手机号13812345678，请帮我写一封投诉信。", need_desensitization=True,
                         desensitization_rule="UserInfo", logprobs=True, top_logprobs=2, max_tokens=12, seed=3)
    assert result.backend == "sandbox" and result.masked and result.text
    assert result.usage_dict["completion_tokens"] == len(result.logprobs) == 12
    assert result.logprobs["top_logprobs"].map(len).eq(2).all()
    assert result.alternatives.groupby("position").size().eq(2).all()
    entry = received_entry(sandbox, result.request_id)
    assert entry["query"]["NeedDesensitization"] == "true" and entry["query"]["DesensitizationRule"] == "UserInfo"
    assert "13812345678" not in json.dumps(entry["model_input"], ensure_ascii=False)


def test_stream_over_the_sandbox_matches_the_whole_answer(client):
    whole = client.chat("hello", max_tokens=10, seed=5)
    stream = client.stream("hello", max_tokens=10, seed=5, include_usage=True)
    assert "".join(chunk.text for chunk in stream) == stream.result.text == whole.text
    assert stream.result.backend == "sandbox" and stream.result.usage_dict["completion_tokens"] == 10


def test_a_wrong_secret_is_an_auth_error_with_its_hint(sandbox, client_for, arrivals):
    sent = arrivals(sandbox)
    with client_for(sandbox, access_key_secret="wrong-secret", backoff_base=0.001) as bad, \
            pytest.raises(errors.AuthError) as info:
        bad.chat("hi")
    assert info.value.code == "SignatureDoesNotMatch" and "secret" in info.value.hint
    assert info.value.request_id and info.value.http_status == 400
    assert sent.count == 0  # rejected before the generator


def test_arrivals_are_counted_when_the_journal_is_full(client_for, arrivals):
    # The session sandbox keeps its last 1000 requests: at the cap len(received) no longer grows,
    # so "nothing was sent" is checked with the never-reset accepted counter (conftest's arrivals).
    from dms_magic.sandbox import start
    from dms_magic.sandbox.journal import Journal

    with start() as sb, client_for(sb) as client:
        sb._app.journal = Journal(maxlen=2)  # a full journal, cheaply
        client.chat("one")
        client.chat("two")
        sent = arrivals(sb)
        last = client.chat("three")
        assert len(sb.received) == 2 and sb.accepted == 3
        assert sent.count == 1 and [e["request_id"] for e in sent.entries()] == [last.request_id]
        sb.clear_received()
        assert sb.received == [] and sb.accepted == 3 and sent.count == 1  # clearing does not reset it


def test_calls_go_through_the_proxy_when_one_applies(scripted, monkeypatch):
    # The scripted server plays the proxy: it is sent the absolute URL of the real endpoint.
    server = scripted(gateway(503, "ServiceUnavailable"), (200, OK_BODY))
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    with make_client("http://dms-enterprise.example.invalid:8080") as client:
        assert client.transport.proxied
        assert client.chat("hi").text == "你好"
    assert len(server.requests) == 2  # the retry went through the proxy too
    req = server.requests[-1]
    assert req["headers"]["host"] == "dms-enterprise.example.invalid:8080"
    assert req["query"]["InstanceId"] == "1" and verify_signature(req)


def test_a_closed_client_still_works(scripted):
    # session.forget_clients() closes cached clients that another thread may still be using.
    server = scripted((200, OK_BODY))
    client = make_client(server.url, max_retries=0)
    assert client.chat("hi").text == "你好"
    client.close()
    assert client.chat("again").text == "你好"
    client.close()
    assert len(server.requests) == 2


class ConnectProxy:
    """A minimal HTTPS proxy: answers CONNECT host:port, then relays bytes both ways (it sees only
    ciphertext). Records the CONNECT targets."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.targets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        assert method == "CONNECT"
        self.targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (src, dst):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self):
        self.listener.close()


def test_https_goes_through_the_proxy_in_a_connect_tunnel(scripted, tmp_path, monkeypatch):
    import ssl

    cert, key = _self_signed(tmp_path)
    server = scripted(gateway(503, "ServiceUnavailable"), (200, OK_BODY))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    proxy = ConnectProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
        url = server.url.replace("http://", "https://")
        with make_client(url) as client:
            assert client.transport.proxied
            assert client.chat("hi").text == "你好"
        assert len(server.requests) == 2 and verify_signature(server.requests[-1])  # the retry too
        assert proxy.targets and set(proxy.targets) == {urlsplit(url).netloc}
    finally:
        proxy.close()
