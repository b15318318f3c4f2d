"""Transport failures that are not the service's answer say what failed and are not retried blindly.

A proxy asking for credentials (407), a redirect (3xx) and a TLS handshake with something that does
not speak TLS are each named for what they are, with what to do, and sent once; a client that is
dropped without close() still closes its kept-alive connections (the server sees them end). The
black-box tests in tests/external/test_transport_blackbox.py cover the rest (proxies dropping after
the request was forwarded, certificates, close()).
"""
from __future__ import annotations

import gc
import json
import socket
import threading
import time
import traceback
import warnings

import pytest

from dms_magic import errors

from helpers.scripted import OK_BODY, make_client

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _everything(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


@pytest.mark.parametrize("userinfo,says", [("", "requires credentials"),
                                           ("bob:s3cr%3At-proxy-pw@", "refused the credentials")])
def test_a_proxy_asking_for_credentials_is_named_and_not_retried(scripted, no_proxy_env, userinfo, says):
    # The scripted server plays a forward proxy that wants other credentials.
    proxy = scripted((407, b"", {"Proxy-Authenticate": 'Basic realm="corp"'}))
    no_proxy_env.setenv("HTTP_PROXY", proxy.url.replace("http://", f"http://{userinfo}"))
    with make_client("http://dms-enterprise.example.invalid:8080", max_retries=4) as client, \
            pytest.raises(errors.AuthError) as info:
        client.chat("hi")
    err = info.value
    assert err.code == "ProxyAuthenticationRequired" and err.http_status == 407
    assert says in str(err) and "HTTP_PROXY" in str(err) and proxy.url in str(err)
    assert "user and password" in err.hint
    assert len(proxy.requests) == 1  # credentials do not get better by asking again
    assert "s3cr" not in _everything(err)


def test_a_stream_answered_with_a_redirect_names_it_and_where_it_points(scripted):
    server = scripted((302, b"", {"Location": "https://user:pw@other.example/v2/?token=abc"}))
    with make_client(server.url, max_retries=4) as client, pytest.raises(errors.DmsError) as info:
        client.stream("hi")
    err = info.value
    assert not isinstance(err, errors.OutcomeUnknownError)  # the service did not run anything
    assert err.code == "Redirect" and err.http_status == 302
    assert "https://other.example/v2/" in str(err) and "endpoint" in err.hint
    assert "pw" not in str(err) and "token" not in str(err)  # what a Location may carry is not shown
    assert len(server.requests) == 1


def test_a_relative_redirect_is_shown_against_the_endpoint(scripted):
    server = scripted((308, b"", {"Location": "/v2/chat"}))
    with make_client(server.url) as client, pytest.raises(errors.DmsError) as info:
        client.chat("hi")
    assert f"{server.url}/v2/chat" in str(info.value)
    assert len(server.requests) == 1


class _NotTls:
    """Accepts connections and answers whatever arrives with a plain HTTP 400, as an http server
    does when a client starts TLS on its port. Counts connections."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def close(self):
        self.listener.close()


def test_https_to_a_plain_http_port_is_a_tls_error_sent_once(no_proxy_env):
    server = _NotTls()
    try:
        with make_client(f"https://127.0.0.1:{server.port}", max_retries=3) as client, \
                pytest.raises(errors.TransportError) as info:
            client.chat("hi")
    finally:
        server.close()
    assert not isinstance(info.value, errors.OutcomeUnknownError)
    assert info.value.code == "TLSError" and "https" in info.value.hint
    assert server.connections == 1


class _KeepAlive:
    """An HTTP/1.1 server that keeps each connection open and counts the ones the client closed."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = self.ended = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        body = json.dumps(OK_BODY).encode()
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        self.ended += 1
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))

    def wait_ended(self, count):
        deadline = time.monotonic() + 5
        while self.ended < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.ended

    def close(self):
        self.listener.close()


def test_a_client_dropped_without_close_closes_its_connections(no_proxy_env):
    # urllib3 closes a collected pool's connections itself: this guards that nothing of ours (a cache,
    # a cycle) keeps the pool, and with it the server's connection, alive.
    server = _KeepAlive()
    try:
        client = make_client(server.url)
        client.chat("one")
        client.chat("two")
        assert (server.connections, server.ended) == (1, 0)  # kept alive between the calls
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            del client
            gc.collect()
        assert server.wait_ended(1) == 1
        # closed by the client, not left to the socket's finalizer (which warns "unclosed socket")
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    finally:
        server.close()


def test_close_closes_and_the_client_still_works_afterwards(no_proxy_env):
    server = _KeepAlive()
    try:
        with make_client(server.url) as client:
            client.chat("one")
            client.close()
            assert server.wait_ended(1) == 1
            assert client.chat("two").text == "你好"  # a fresh connection
            assert server.connections == 2
        assert server.wait_ended(2) == 2  # leaving the with block closed it too
    finally:
        server.close()
