"""Black-box tests of DmsChatClient's HTTP transport (issue 14 part 1) and retry policy (issue 13, Build 3).

Written from the issues, README.md, docs/architecture.md and urllib3/requests documentation only, against
servers started here on 127.0.0.1 (tests/helpers/servers.py) and the sandbox. What the server saw
(arrivals, connections, proxy heads, arrival times) is the evidence.
"""
from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
import time
import traceback
from urllib.parse import quote

import pytest

from helpers.scripted import with_settings
from dms_magic.client import ClientSettings
from helpers.servers import (OriginServer, ProxyServer, drop, free_port, gateway_body, half_close_after_headers, hold,
                      make_cert, ok_body, reply, reply_after_100, reply_chunked, reply_gzip, reply_http10,
                      reply_trickle)

pytestmark = pytest.mark.blackbox  # written without reading dms_magic/

SECRET = "BLACKBOX-secret-never-print-7c1e"
PROXY_PASSWORD = "pr0xy:p@ss/w0rd-9d2b"          # needs percent-encoding in a URL
PROXY_USERINFO = "alice:" + quote(PROXY_PASSWORD, safe="")
ENV_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
            "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def env(monkeypatch):
    """A clean network environment for each test: no proxies, no CA bundle overrides."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def make_client(url: str, **overrides):
    from dms_magic import DmsChatClient

    kw = dict(access_key_id="LTAIblackbox00000001", access_key_secret=SECRET, instance_id=1, timeout=5,
              max_retries=4, max_retry_time=10, backoff_base=0.05, backoff_cap=0.2)
    kw.update(overrides)
    return DmsChatClient(url, **with_settings(kw))


def everything_about(exc: BaseException, client=None) -> str:
    """Every text a user could see of an error: str, repr, args, the whole chained traceback, the client."""
    parts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    if client is not None:
        parts.append(repr(client))
    return "\n".join(parts)


def assert_no_proxy_password(text: str) -> None:
    for secret in (PROXY_PASSWORD, quote(PROXY_PASSWORD, safe=""), "pr0xy",
                   base64.b64encode(f"alice:{PROXY_PASSWORD}".encode()).decode()):
        assert secret not in text, f"proxy password ({secret!r}) leaked into:\n{text}"


def later(delay: float, fn) -> threading.Thread:
    def run():
        time.sleep(delay)
        fn()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ================================================================== proxies


@pytest.mark.parametrize("var", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_variable_sends_the_call_through_the_proxy(env, var):
    with OriginServer() as origin, ProxyServer() as proxy:
        env.setenv(var, proxy.url())
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(proxy.seen) == 1 and proxy.seen[0].method == "POST"
    assert proxy.seen[0].target.startswith(origin.url + "/"), proxy.seen[0].target  # absolute form
    assert len(origin.arrivals) == 1


@pytest.mark.parametrize("var,value,host,proxied", [
    ("NO_PROXY", "127.0.0.1", "127.0.0.1", False),
    ("no_proxy", "127.0.0.1", "127.0.0.1", False),
    ("NO_PROXY", "*", "127.0.0.1", False),
    ("NO_PROXY", ".localhost", "localhost", False),            # a domain suffix (leading dot)
    ("no_proxy", "example.test, .localhost", "localhost", False),
    ("NO_PROXY", ".example.test", "localhost", True),           # a suffix that does not match
    ("NO_PROXY", "127.0.0.2", "127.0.0.1", True),
])
def test_no_proxy_decides_direct_or_proxied(env, var, value, host, proxied):
    with OriginServer() as origin, ProxyServer() as proxy:
        env.setenv("HTTP_PROXY", proxy.url())
        env.setenv(var, value)
        with make_client(f"http://{host}:{origin.port}") as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 1
    assert len(proxy.seen) == (1 if proxied else 0), [s.target for s in proxy.seen]


def test_http_proxy_does_not_apply_to_an_https_endpoint(env, tmp_path):
    cert = make_cert(str(tmp_path))
    with OriginServer(tls=cert) as origin, ProxyServer() as proxy:
        env.setenv("HTTP_PROXY", proxy.url())
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert proxy.seen == []


def test_proxy_basic_auth_from_the_proxy_url(env):
    with OriginServer() as origin, ProxyServer(auth=("alice", PROXY_PASSWORD)) as proxy:
        env.setenv("HTTP_PROXY", proxy.url(PROXY_USERINFO))
        with make_client(origin.url) as c:
            r = c.chat("hi")
            shown = repr(c)
    assert r.text == "hello from origin"
    assert proxy.rejected_auth == 0 and len(proxy.seen) == 1
    assert len(origin.arrivals) == 1
    # the proxy credentials are for the proxy only: never forwarded to the service
    assert "proxy-authorization" not in origin.arrivals[0].headers
    assert_no_proxy_password(shown)


def test_wrong_proxy_password_is_a_clear_error_without_the_password(env):
    from dms_magic.errors import DmsError

    with OriginServer() as origin, ProxyServer(auth=("alice", "another-password")) as proxy:
        env.setenv("HTTP_PROXY", proxy.url(PROXY_USERINFO))
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
            text = everything_about(info.value, c)
    assert proxy.rejected_auth >= 1
    assert origin.arrivals == []
    assert "407" in str(info.value), str(info.value)
    # a 407 comes from the proxy, not the service: the error should say so
    assert "proxy" in str(info.value).lower(), str(info.value)
    assert_no_proxy_password(text)


def test_https_tunnel_with_wrong_proxy_password_is_clear_and_secret_free(env, tmp_path):
    from dms_magic.errors import DmsError

    cert = make_cert(str(tmp_path))
    with OriginServer(tls=cert) as origin, ProxyServer(auth=("alice", "another-password")) as proxy:
        env.setenv("HTTPS_PROXY", proxy.url(PROXY_USERINFO))
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
            text = everything_about(info.value, c)
    assert origin.connections == 0
    # the proxy answered (407): the error should say the proxy refused the credentials, not "could not connect"
    assert "407" in str(info.value) or "authenticat" in str(info.value).lower(), str(info.value)
    assert_no_proxy_password(text)


def test_unreachable_proxy_with_credentials_never_shows_the_password(env):
    from dms_magic.errors import DmsError, OutcomeUnknownError

    with OriginServer() as origin:
        env.setenv("HTTP_PROXY", f"http://{PROXY_USERINFO}@127.0.0.1:{free_port()}")
        with make_client(origin.url, max_retry_time=1) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
            text = everything_about(info.value, c)
    assert not isinstance(info.value, OutcomeUnknownError)  # nothing was sent
    assert origin.arrivals == []
    assert_no_proxy_password(text)


@pytest.mark.parametrize("with_auth,var", [(False, "HTTPS_PROXY"), (False, "https_proxy"), (True, "HTTPS_PROXY")])
def test_https_through_a_connect_proxy_to_a_local_tls_server(env, tmp_path, with_auth, var):
    cert = make_cert(str(tmp_path))
    auth = ("alice", PROXY_PASSWORD) if with_auth else None
    with OriginServer(tls=cert) as origin, ProxyServer(auth=auth) as proxy:
        env.setenv(var, proxy.url(PROXY_USERINFO if with_auth else ""))
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", f"127.0.0.1:{origin.port}")]
    assert len(origin.arrivals) == 1


def test_proxy_refusing_the_tunnel_is_retried_and_nothing_reaches_the_model(env, tmp_path):
    from dms_magic.errors import DmsError, OutcomeUnknownError

    cert = make_cert(str(tmp_path))
    with OriginServer(tls=cert) as origin, ProxyServer(refuse_connect=True) as proxy:
        env.setenv("HTTPS_PROXY", proxy.url())
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        with make_client(origin.url, max_retries=3) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert origin.connections == 0
    assert len(proxy.seen) == 4, f"expected 1 + 3 retries of the CONNECT, saw {len(proxy.seen)}"
    assert not isinstance(info.value, OutcomeUnknownError)
    assert "proxy" in str(info.value).lower() or "403" in str(info.value), str(info.value)


def test_proxy_that_refuses_connections_is_retried_until_it_comes_up(env):
    port = free_port()
    started = {}
    with OriginServer() as origin:
        env.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        later(1.0, lambda: started.setdefault("proxy", ProxyServer(port=port)))
        try:
            with make_client(origin.url, max_retries=30, max_retry_time=15, backoff_base=0.2, backoff_cap=0.4) as c:
                r = c.chat("hi")
        finally:
            time.sleep(0)  # the proxy thread has run by now if the call succeeded
            if "proxy" in started:
                started["proxy"].close()
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 1


def test_refused_proxy_is_a_clear_connection_error(env):
    from dms_magic.errors import OutcomeUnknownError, TransportError

    with OriginServer() as origin:
        env.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
        with make_client(origin.url, max_retry_time=1) as c:
            with pytest.raises(TransportError) as info:
                c.chat("hi")
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.code == "ConnectionError"
    assert "refused" in str(info.value).lower(), str(info.value)
    assert origin.arrivals == []


# ================================================================== TLS


def test_self_signed_certificate_is_a_clear_error_and_not_retried(env, tmp_path):
    from dms_magic.errors import DmsError, OutcomeUnknownError

    cert = make_cert(str(tmp_path))
    with OriginServer(tls=cert) as origin:
        with make_client(origin.url, max_retries=4) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert not isinstance(info.value, OutcomeUnknownError)
    # the reason must survive: certificate verification failed (not only "TLS failed (SSLError)")
    assert "verif" in str(info.value).lower(), str(info.value)
    assert origin.connections == 1, f"a verification failure was retried: {origin.connections} handshakes"
    assert origin.arrivals == []


@pytest.mark.parametrize("var", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_ca_bundle_variable_trusts_the_local_certificate(env, tmp_path, var):
    cert = make_cert(str(tmp_path))
    with OriginServer(tls=cert) as origin:
        env.setenv(var, cert[0])
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"


def test_wrong_hostname_fails_even_with_a_trusted_certificate(env, tmp_path):
    from dms_magic.errors import DmsError

    cert = make_cert(str(tmp_path), dns=("other.test",), ips=())
    with OriginServer(tls=cert) as origin:
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert origin.arrivals == []
    assert origin.connections == 1
    # the reason must survive: the certificate is not for this host (advice to set REQUESTS_CA_BUNDLE,
    # which is set, does not help)
    text = str(info.value).lower()
    assert "hostname" in text or "mismatch" in text or "not valid for" in text, str(info.value)


# ================================================================== HTTP edge cases


@pytest.mark.parametrize("action", [reply_chunked(), reply(close=True), reply_http10(), reply_gzip(),
                                    reply_after_100(), reply_trickle(gap=0.1, pieces=20)],
                         ids=["chunked", "connection-close", "http10", "gzip", "100-continue", "trickle"])
@pytest.mark.slow
def test_reply_framings_are_read(env, action):
    with OriginServer([action]) as origin:
        with make_client(origin.url, timeout=1.5) as c:  # trickle: 20 gaps of 0.1 s, 2 s in all > timeout
            first = c.chat("one")
            second = c.chat("two")
    assert first.text == second.text == "hello from origin"
    assert len(origin.arrivals) == 2


def test_connection_close_reply_opens_a_new_connection(env):
    with OriginServer([reply(close=True)]) as origin:
        with make_client(origin.url) as c:
            c.chat("one")
            c.chat("two")
    assert origin.connections == 2 and len(origin.arrivals) == 2


def test_keep_alive_socket_closed_while_idle_is_not_a_double_send(env):
    with OriginServer([reply(idle_close_after=0.2), reply()]) as origin:
        with make_client(origin.url) as c:
            c.chat("one")
            time.sleep(0.8)  # the server closes the idle socket 0.2 s after its reply
            r = c.chat("two")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2, f"{len(origin.arrivals)} arrivals for 2 calls"
    assert origin.connections == 2


def test_keep_alive_socket_reset_while_idle_is_not_a_double_send(env):
    def reset_when_idle(conn, req):
        data = ok_body()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(data), data))
        time.sleep(0.2)
        conn.reset()
        return False

    with OriginServer([reset_when_idle, reply()]) as origin:
        with make_client(origin.url) as c:
            c.chat("one")
            time.sleep(0.8)
            r = c.chat("two")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2 and origin.connections == 2


def test_half_close_after_headers_is_outcome_unknown_and_sent_once(env):
    from dms_magic.errors import OutcomeUnknownError

    with OriginServer([half_close_after_headers(), reply()]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(OutcomeUnknownError):
                c.chat("one")
    assert len(origin.arrivals) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_to_another_host_is_not_followed(env, status):
    from dms_magic.errors import DmsError

    with OriginServer() as other:
        location = f"http://localhost:{other.port}/"
        with OriginServer([reply(status, b"", {"Location": location}, reason="Moved")]) as origin:
            with make_client(origin.url) as c:
                with pytest.raises(DmsError) as info:
                    c.chat("hi")
    assert other.connections == 0 and other.arrivals == []
    assert len(origin.arrivals) == 1
    assert info.value.http_status == status


# ================================================================== retry policy


def test_connection_refused_is_retried_until_the_server_comes_up(env):
    port = free_port()
    box = {}
    later(1.0, lambda: box.setdefault("origin", OriginServer(port=port)))
    try:
        with make_client(f"http://127.0.0.1:{port}", max_retries=30, max_retry_time=15, backoff_base=0.2,
                         backoff_cap=0.4) as c:
            r = c.chat("hi")
    finally:
        if "origin" in box:
            box["origin"].close()
    assert r.text == "hello from origin"
    assert len(box["origin"].arrivals) == 1


def test_connection_refused_for_good_is_a_clear_error(env):
    from dms_magic.errors import OutcomeUnknownError, TransportError

    with make_client(f"http://127.0.0.1:{free_port()}", max_retry_time=1) as c:
        with pytest.raises(TransportError) as info:
            c.chat("hi")
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.code == "ConnectionError"
    assert "refused" in str(info.value).lower(), str(info.value)
    assert SECRET not in everything_about(info.value, c)


def test_reset_before_the_request_was_written_is_retried(env):
    # far more than the server reads before its RST, and more than loopback buffers hold without a reader
    # (about 3.9 MB here): the client cannot have finished writing when the reset comes
    big = "a" * 7_500_000
    with OriginServer([reply()], connection_script=["reset"]) as origin:
        with make_client(origin.url) as c:
            r = c.chat(big)
    assert r.text == "hello from origin"
    assert origin.connections == 2
    assert len(origin.arrivals) == 1


def test_read_timeout_after_the_request_was_read_is_sent_once_and_outcome_unknown(env):
    from dms_magic.errors import OutcomeUnknownError

    with OriginServer([hold(4)]) as origin:
        with make_client(origin.url, timeout=0.5) as c:
            with pytest.raises(OutcomeUnknownError) as info:
                c.chat("hi")
        time.sleep(0.3)
    assert len(origin.arrivals) == 1
    assert re.search(r"may have (been )?processed", str(info.value)), str(info.value)


def test_read_timeout_with_retry_unknown_outcome_retries(env):
    from dms_magic.errors import OutcomeUnknownError

    with OriginServer([hold(4)]) as origin:
        with make_client(origin.url, timeout=0.5, max_retries=2, retry_unknown_outcome=True) as c:
            with pytest.raises(OutcomeUnknownError):
                c.chat("hi")
    assert len(origin.arrivals) == 3


def test_read_timeout_with_retry_unknown_outcome_then_success(env):
    with OriginServer([hold(3), reply()]) as origin:
        with make_client(origin.url, timeout=0.5, retry_unknown_outcome=True) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2


def test_dropped_after_the_request_was_read_is_sent_once(env):
    from dms_magic.errors import OutcomeUnknownError

    with OriginServer([drop(), reply()]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(OutcomeUnknownError):
                c.chat("hi")
    assert len(origin.arrivals) == 1


def test_dropped_after_the_request_was_read_retried_when_opted_in(env):
    with OriginServer([drop(), reply()]) as origin:
        with make_client(origin.url, retry_unknown_outcome=True) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2


@pytest.mark.parametrize("status,header,value,floor", [(429, "x-acs-retry-after", "1500", 1.5),
                                                       (429, "Retry-After", "2", 2.0),
                                                       (503, "Retry-After", "2", 2.0)])
@pytest.mark.slow
def test_throttling_wait_honours_the_server(env, status, header, value, floor):
    code = "Throttling.User" if status == 429 else "ServiceUnavailable"
    throttled = reply(status, gateway_body(code, "Request was denied due to user flow control."),
                      {header: value}, reason="Busy")
    with OriginServer([throttled, reply()]) as origin:
        with make_client(origin.url, backoff_base=0, backoff_cap=0) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2
    waited = origin.arrivals[1].time - origin.arrivals[0].time
    # a lower bound only: the server asked for at least `floor` seconds (measured at the server)
    assert waited >= floor * 0.95, f"retried after {waited:.3f} s, the server asked for {floor} s"


def test_503_is_retried(env):
    with OriginServer([reply(503, gateway_body("ServiceUnavailable"), reason="Service Unavailable"),
                       reply()]) as origin:
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2


@pytest.mark.parametrize("status,code", [(500, "InternalError"), (502, "BadGateway"), (504, "GatewayTimeout")])
def test_500_502_504_are_not_retried_by_default(env, status, code):
    from dms_magic.errors import DmsError

    with OriginServer([reply(status, gateway_body(code), reason="Err"), reply()]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert len(origin.arrivals) == 1
    assert info.value.http_status == status


@pytest.mark.parametrize("status", [500, 502, 504])
def test_500_502_504_are_retried_when_opted_in(env, status):
    with OriginServer([reply(status, gateway_body("InternalError"), reason="Err"), reply()]) as origin:
        with make_client(origin.url, retry_unknown_outcome=True) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2


# ================================================================== concurrency


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _word(n: int) -> str:
    """A nonce made of letters only (digits could look like a phone number to the masker)."""
    letters = "bcdfghjklmnpqrstvwxz"
    out = ""
    for _ in range(5):
        out += letters[n % 20]
        n //= 20
    return "nonce" + out


def test_sixteen_threads_share_one_client_without_mixing_replies():
    from dms_magic import DmsChatClient
    from dms_magic.sandbox import start

    threads, calls = 16, 20
    with start(seed=7) as sb:
        before = _open_fds()
        client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                               instance_id=1, settings=ClientSettings(timeout=60))
        results: dict[str, object] = {}
        errors: list[BaseException] = []
        lock = threading.Lock()

        def worker(t: int) -> None:
            for i in range(calls):
                nonce = _word(t * 1000 + i * 7 + 12345)
                try:
                    r = client.chat(f"Please repeat the word {nonce} back to me.", max_tokens=60)
                except BaseException as exc:  # recorded, asserted below
                    with lock:
                        errors.append(exc)
                    continue
                with lock:
                    results[nonce] = r

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        during = _open_fds()
        journal = {e["request_id"]: e for e in sb.received}
        client.close()
        deadline = time.monotonic() + 5
        while _open_fds() > before + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        after = _open_fds()

    assert errors == []
    assert len(results) == threads * calls
    ids = [r.request_id for r in results.values()]
    assert len(set(ids)) == len(ids)
    for nonce, r in results.items():
        sent = journal[r.request_id]["form"]
        sent_text = str(sent)
        assert nonce in sent_text, f"reply {r.request_id} belongs to another request than {nonce}"
        assert nonce in r.text, f"answer for {nonce} does not restate it: {r.text[:200]!r}"
    # client sockets + the in-process sandbox's server side of each: bounded by the pool, not by the calls
    assert during - before <= 2 * 64 + 8, (before, during)
    assert after <= before + 2, f"sockets leaked after close(): {before} -> {after}"


# ================================================================== more probes


@pytest.mark.parametrize("var", ["ALL_PROXY", "all_proxy"])
def test_all_proxy_routes_the_call(env, var):
    with OriginServer() as origin, ProxyServer() as proxy:
        env.setenv(var, proxy.url())
        with make_client(origin.url) as c:
            c.chat("hi")
    assert len(proxy.seen) == 1 and len(origin.arrivals) == 1


def test_redirect_error_says_where_it_points(env):
    from dms_magic.errors import DmsError

    location = "http://localhost:9/elsewhere"
    with OriginServer([reply(301, b"", {"Location": location}, reason="Moved Permanently")]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    text = str(info.value)
    # "UnknownError: empty reply (HTTP 301) ... retry" gives nothing to act on: name the redirect
    assert "redirect" in text.lower() or location in text, text


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize("status", [502, 504])
def test_html_502_504_from_a_load_balancer_are_not_retried(env, status):
    from dms_magic.errors import DmsError

    html = reply(status, HTML_502, {"Content-Type": "text/html"}, reason="Bad Gateway")
    with OriginServer([html, reply()]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert len(origin.arrivals) == 1
    assert info.value.http_status == status


@pytest.mark.parametrize("body,ctype", [(b"", "text/plain"), (b"<html>busy</html>", "text/html")])
def test_503_and_429_without_json_are_retried(env, body, ctype):
    script = [reply(503, body, {"Content-Type": ctype}, reason="Service Unavailable"),
              reply(429, body, {"Content-Type": ctype}, reason="Too Many Requests"), reply()]
    with OriginServer(script) as origin:
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 3


@pytest.mark.slow
def test_retry_after_as_an_http_date_is_honoured(env):
    from email.utils import formatdate

    def throttled(conn, req):
        when = formatdate(time.time() + 3, usegmt=True)  # whole seconds: at least 2 s from now
        return reply(429, gateway_body("Throttling"), {"Retry-After": when}, reason="Too Many Requests")(conn, req)

    with OriginServer([throttled, reply()]) as origin:
        with make_client(origin.url, backoff_base=0, backoff_cap=0) as c:
            c.chat("hi")
    assert len(origin.arrivals) == 2
    waited = origin.arrivals[1].time - origin.arrivals[0].time
    assert waited >= 1.9, f"retried after {waited:.3f} s, the server asked for ~3 s"


def test_retry_after_beyond_the_budget_gives_up_at_once(env):
    from dms_magic.errors import ThrottlingError

    throttled = reply(429, gateway_body("Throttling.User"), {"x-acs-retry-after": "600000"}, reason="Too Many")
    with OriginServer([throttled, reply()]) as origin:
        with make_client(origin.url, max_retry_time=2) as c:
            with pytest.raises(ThrottlingError):
                c.chat("hi")
    assert len(origin.arrivals) == 1


def test_outcome_unknown_error_carries_the_request_id_from_the_headers(env):
    from dms_magic.errors import OutcomeUnknownError

    cut = half_close_after_headers(headers={"x-acs-request-id": "REQ-ID-FROM-HEADER-42"})
    with OriginServer([cut]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(OutcomeUnknownError) as info:
                c.chat("hi")
    assert len(origin.arrivals) == 1
    assert info.value.request_id == "REQ-ID-FROM-HEADER-42"
    assert "REQ-ID-FROM-HEADER-42" in str(info.value)


def test_half_close_after_headers_retried_when_opted_in(env):
    with OriginServer([half_close_after_headers(), reply()]) as origin:
        with make_client(origin.url, retry_unknown_outcome=True) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin"
    assert len(origin.arrivals) == 2


def test_stream_read_timeout_is_sent_once(env):
    from helpers.servers import reply_sse  # noqa: F401  (the same helpers as the plain calls)
    from dms_magic.errors import OutcomeUnknownError

    with OriginServer([hold(3)]) as origin:
        with make_client(origin.url, timeout=0.5) as c:
            with pytest.raises(OutcomeUnknownError):
                with c.stream("hi") as s:
                    list(s)
    assert len(origin.arrivals) == 1


def test_stream_503_before_the_first_event_is_retried(env):
    from helpers.servers import reply_sse

    with OriginServer([reply(503, gateway_body("ServiceUnavailable"), reason="Unavailable"), reply_sse()]) as origin:
        with make_client(origin.url) as c:
            with c.stream("hi") as s:
                text = "".join(chunk.text for chunk in s)
    assert text == "hello stream"
    assert len(origin.arrivals) == 2
    assert origin.arrivals[1].headers["x-acs-action"] == "ChatWithDesensitizeSSE"


def _settle(origin, open_at_most: int) -> None:
    """Wait (bounded) until the server has seen all but ``open_at_most`` connections end."""
    deadline = time.monotonic() + 5
    while origin.connections - origin.ended > open_at_most and time.monotonic() < deadline:
        time.sleep(0.05)


def test_failing_calls_close_their_connections(env):
    from dms_magic.errors import DmsError

    script = [drop(), reply(500, gateway_body("InternalError"), reason="Err"), half_close_after_headers(),
              reply(close=True), reply()] * 8
    with OriginServer(script) as origin:
        with make_client(origin.url) as c:
            failures = 0
            for _ in range(len(script)):
                try:
                    c.chat("hi")
                except DmsError:
                    failures += 1
            _settle(origin, 1)
            still_open = origin.connections - origin.ended
    assert failures == 24 and len(origin.arrivals) == 40
    assert still_open <= 1, f"{still_open} connections still open after 40 calls (at most the pooled one)"


def test_close_drops_kept_alive_connections(env):
    with OriginServer() as origin:
        c = make_client(origin.url)
        c.chat("one")
        c.chat("two")
        c.close()
        _settle(origin, 0)
        still_open = origin.connections - origin.ended
        del c
    assert origin.connections == 1
    assert still_open == 0, "DmsChatClient.close() left its kept-alive connection open (the server saw no close)"


@pytest.mark.parametrize("value", ["127.0.0.0/8", "10.0.0.0/8,127.0.0.1/32"])
def test_no_proxy_cidr(env, value):
    with OriginServer() as origin, ProxyServer() as proxy:
        env.setenv("HTTP_PROXY", proxy.url())
        env.setenv("NO_PROXY", value)
        with make_client(origin.url) as c:
            c.chat("hi")
    assert proxy.seen == [] and len(origin.arrivals) == 1


def test_no_proxy_host_with_port(env):
    with OriginServer() as origin, ProxyServer() as proxy:
        env.setenv("HTTP_PROXY", proxy.url())
        env.setenv("NO_PROXY", f"localhost:{origin.port}")
        with make_client(f"http://localhost:{origin.port}") as c:
            c.chat("hi")
    assert proxy.seen == [] and len(origin.arrivals) == 1


def test_bytes_beyond_content_length_never_become_the_next_answer(env):
    """A reply followed by a whole second (smuggled) reply on the same connection."""
    def smuggle(conn, req):
        data = ok_body("first answer")
        fake = ok_body("SMUGGLED answer")
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(data), data, len(fake), fake))
        return True

    with OriginServer([smuggle, reply(body=ok_body("second answer"))]) as origin:
        with make_client(origin.url) as c:
            first = c.chat("one")
            time.sleep(0.2)
            second = c.chat("two")
    assert first.text == "first answer"
    assert second.text == "second answer"
    assert len(origin.arrivals) == 2


def _raw(data: bytes):
    def act(conn, req):
        conn.send(data)
        time.sleep(0.2)
        return False
    return act


@pytest.mark.parametrize("data", [
    b"HTTP/1.1 abc Broken\r\n\r\n",
    b"hello, this is not HTTP\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"Content-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Encoding: gzip\r\n\r\nnot gzip!!!!",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n",
], ids=["bad-status", "not-http", "150-headers", "bad-gzip", "bad-chunk"])
def test_malformed_replies_are_one_clear_error_sent_once(env, data):
    from dms_magic.errors import DmsError

    with OriginServer([_raw(data), reply()]) as origin:
        with make_client(origin.url) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert len(origin.arrivals) == 1, "a request the server read was sent again"
    assert SECRET not in everything_about(info.value)


def test_503_forever_stops_after_max_retries(env):
    from dms_magic.errors import DmsError

    with OriginServer([reply(503, gateway_body("ServiceUnavailable"), reason="Unavailable")]) as origin:
        with make_client(origin.url, max_retries=3) as c:
            with pytest.raises(DmsError) as info:
                c.chat("hi")
    assert len(origin.arrivals) == 4
    assert info.value.http_status == 503


@pytest.mark.parametrize("value", ["soon", "-5", "1e309", ""])
def test_unreadable_retry_after_still_retries(env, value):
    throttled = reply(429, gateway_body("Throttling"), {"x-acs-retry-after": value, "Retry-After": value},
                      reason="Too Many Requests")
    with OriginServer([throttled, reply()]) as origin:
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin" and len(origin.arrivals) == 2


def test_business_throttling_in_a_200_reply_is_retried(env):
    body = json.dumps({"RequestId": "R1", "Success": False, "ErrorCode": "Throttling.User",
                       "ErrorMessage": "Request was denied due to user flow control."}).encode()
    with OriginServer([reply(200, body), reply()]) as origin:
        with make_client(origin.url) as c:
            r = c.chat("hi")
    assert r.text == "hello from origin" and len(origin.arrivals) == 2


def test_threads_share_one_client_through_a_proxy():
    from dms_magic import DmsChatClient
    from dms_magic.sandbox import start

    threads, calls = 8, 10
    mismatched, errors = [], []
    with start(seed=3) as sb, ProxyServer() as proxy:
        os.environ["HTTP_PROXY"] = proxy.url()
        try:
            client = DmsChatClient(sb.url, access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret,
                                   instance_id=1)
        finally:
            del os.environ["HTTP_PROXY"]

        def worker(t):
            for i in range(calls):
                nonce = _word(t * 100 + i + 777)
                try:
                    r = client.chat(f"Please repeat the word {nonce} back to me.", max_tokens=60)
                except Exception as exc:  # recorded, asserted below
                    errors.append(exc)
                    continue
                if nonce not in r.text:
                    mismatched.append((nonce, r.text[:120]))

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        client.close()
    assert errors == [] and mismatched == []
    assert len(proxy.seen) == threads * calls


class _Silent:
    """Accepts TCP connections and never reads or writes (a stalled TLS handshake or a full receive window)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(s)

    def close(self):
        self.sock.close()
        for s in self.accepted:
            s.close()


@pytest.mark.parametrize("scheme,prompt", [("https", "hi"), ("http", "a" * 7_500_000)],
                         ids=["tls-handshake-stall", "write-stall"])
@pytest.mark.slow
def test_stall_before_the_request_was_written_is_not_outcome_unknown(env, scheme, prompt):
    from dms_magic.errors import OutcomeUnknownError, TransportError

    silent = _Silent()
    try:
        with make_client(f"{scheme}://127.0.0.1:{silent.port}", timeout=0.5, max_retries=2) as c:
            with pytest.raises(TransportError) as info:
                c.chat(prompt)
    finally:
        silent.close()
    assert not isinstance(info.value, OutcomeUnknownError), str(info.value)
    assert len(silent.accepted) == 3  # nothing reached a model: retried


def _outcome(call):
    """Run a call; return its result or the DmsError it raised."""
    from dms_magic.errors import DmsError

    try:
        return call()
    except DmsError as exc:
        return exc


def test_drop_after_the_proxy_forwarded_the_request_is_not_retried(env):
    """The proxy forwarded the request, the service read it and dropped the connection: the proxy closes too."""
    from dms_magic.errors import OutcomeUnknownError

    with OriginServer([drop(), reply()]) as origin, ProxyServer() as proxy:
        env.setenv("HTTP_PROXY", proxy.url())
        with make_client(origin.url) as c:
            outcome = _outcome(lambda: c.chat("hi"))
    assert len(origin.arrivals) == 1, f"the service received the request {len(origin.arrivals)} times"
    assert isinstance(outcome, OutcomeUnknownError), repr(outcome)


@pytest.mark.parametrize("action", [drop(), hold(3)], ids=["drop", "timeout"])
def test_failure_inside_a_connect_tunnel_after_the_request_is_not_retried(env, tmp_path, action):
    """Inside a CONNECT tunnel the service read the request, then dropped (or stalled): never sent again."""
    from dms_magic.errors import OutcomeUnknownError

    cert = make_cert(str(tmp_path))
    with OriginServer([action], tls=cert) as origin, ProxyServer() as proxy:
        env.setenv("HTTPS_PROXY", proxy.url())
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        with make_client(origin.url, timeout=0.5, max_retries=3) as c:
            outcome = _outcome(lambda: c.chat("hi"))
    assert len(origin.arrivals) == 1, f"the service received the request {len(origin.arrivals)} times"
    assert isinstance(outcome, OutcomeUnknownError), repr(outcome)
    assert "could not connect" not in str(outcome), str(outcome)


def _reset_after_read():
    def act(conn, req):
        conn.reset()
        return False
    return act


@pytest.mark.parametrize("through", ["direct", "connect-tunnel"])
def test_reset_after_the_request_was_read_is_sent_once(env, tmp_path, through):
    from dms_magic.errors import OutcomeUnknownError

    cert = make_cert(str(tmp_path))
    with OriginServer([_reset_after_read(), reply()], tls=cert) as origin, ProxyServer() as proxy:
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        if through != "direct":
            env.setenv("HTTPS_PROXY", proxy.url())
        with make_client(origin.url) as c:
            outcome = _outcome(lambda: c.chat("hi"))
    assert len(origin.arrivals) == 1, f"the service received the request {len(origin.arrivals)} times"
    assert isinstance(outcome, OutcomeUnknownError), repr(outcome)


def test_stream_dropped_inside_a_connect_tunnel_after_the_request_is_sent_once(env, tmp_path):
    from dms_magic.errors import OutcomeUnknownError
    from helpers.servers import reply_sse

    cert = make_cert(str(tmp_path))
    with OriginServer([drop(), reply_sse()], tls=cert) as origin, ProxyServer() as proxy:
        env.setenv("REQUESTS_CA_BUNDLE", cert[0])
        env.setenv("HTTPS_PROXY", proxy.url())
        with make_client(origin.url) as c:
            def read():
                with c.stream("hi") as s:
                    return "".join(chunk.text for chunk in s)
            outcome = _outcome(read)
    assert len(origin.arrivals) == 1, f"the service received the request {len(origin.arrivals)} times"
    assert isinstance(outcome, OutcomeUnknownError), repr(outcome)
