"""Issue 12, item 9: idle connections cost no threads, idle ones are closed after a while, and
stop() really stops (streaming and the drop fault on this server: tests/test_sandbox_http.py)."""
from __future__ import annotations

import json
import socket
import threading
from urllib.parse import urlencode

import requests

from dms_magic import defaults as D
from dms_magic.wire import signing
from dms_magic.sandbox import start


def _signed(sb, content="hi", action=D.ACTION, query=None):
    body = urlencode({"Messages": json.dumps([{"role": "user", "content": content}])}).encode()
    query = {"InstanceId": "1", **(query or {})}
    headers = signing.sign_headers("POST", "/", query, body, f"127.0.0.1:{sb.port}", action, D.API_VERSION,
                                   sb.access_key_id, sb.access_key_secret)
    return query, body, headers


def _post(sb, content="hi", **kw):
    query, body, headers = _signed(sb, content, **kw)
    return requests.post(f"{sb.url}/?{urlencode(query)}", data=body, headers=headers, timeout=30)


def test_2000_idle_connections_cost_no_threads_and_stop_closes_them_all():
    sb = start()
    idle: list[socket.socket] = []
    try:
        assert _post(sb).status_code == 200
        before = threading.active_count()
        for _ in range(2000):
            conn = socket.create_connection((sb.host, sb.port), timeout=10)
            idle.append(conn)
        # Served while 2000 idle connections are open: a worker is free, the pool is not held by them.
        assert _post(sb, "still answering?").status_code == 200
        grown = threading.active_count() - before
        print(f"\nthreads: {before} before, +{grown} with 2000 idle connections")
        assert grown <= 0  # the pool was started with the server: idle connections add no thread
        assert sb.accepted == 2
    finally:
        sb.stop()
    assert not sb._thread.is_alive()  # the server loop has ended: stop() does not leave it running
    for conn in idle:  # every accepted connection was closed by the server, none left hanging
        conn.settimeout(10)
        try:
            assert conn.recv(1) == b""
        except ConnectionResetError:
            pass
        conn.close()


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    with start(idle_timeout=1) as sb:
        conn = socket.create_connection((sb.host, sb.port), timeout=15)
        try:
            assert conn.recv(1) == b""  # closed by the sandbox, long before this socket's own timeout
        finally:
            conn.close()
        half = socket.create_connection((sb.host, sb.port), timeout=15)  # a request that never ends
        try:
            half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part")
            assert half.recv(1) == b""
        finally:
            half.close()
