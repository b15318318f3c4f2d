"""Hand-built 127.0.0.1 servers for black-box transport tests (written without reading client.py).

- ``OriginServer``: an HTTP/1.1 server that answers request i with ``script[i]`` (an action function,
  see ``reply``, ``hold``, ``drop`` ...) and records every request it read in full (``arrivals``),
  every TCP connection it accepted (``connections``) and, per connection, what to do before reading
  (``connection_script``: e.g. ``"reset"`` = read a few bytes, then RST). Optional TLS.
- ``ProxyServer``: a forward proxy (absolute-form requests and CONNECT tunnels), optional Basic
  auth, optional refusal of tunnels; records what it saw.
- ``make_cert``: a self-signed certificate (its own CA) for chosen names.
"""
from __future__ import annotations

import base64
import datetime
import gzip
import ipaddress
import json
import os
import select
import socket
import ssl
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

# ---------------------------------------------------------------- replies


def ok_body(text: str = "hello from origin", request_id: str | None = None) -> bytes:
    """A ChatWithDesensitize success as the reference page shows it."""
    return json.dumps({
        "RequestId": request_id or str(uuid.uuid4()).upper(),
        "Success": True,
        "Data": {
            "Created": "1700000000", "Model": "qwen-plus", "StatusCode": "200",
            "Choices": [{"FinishReason": "stop", "Message": {"Content": text, "Role": "assistant"}}],
            "Usage": {"PromptTokens": "3", "CompletionTokens": "2", "TotalTokens": "5"},
        },
    }).encode()


def gateway_body(code: str, message: str = "m", request_id: str | None = None) -> bytes:
    return json.dumps({"RequestId": request_id or str(uuid.uuid4()).upper(), "HostId": "127.0.0.1",
                       "Code": code, "Message": message, "Recommend": ""}).encode()


def head(status: int, reason: str, headers: dict[str, str], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# ---------------------------------------------------------------- request reading


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    time: float
    connection: int

    def form_text(self) -> str:
        from urllib.parse import unquote_plus
        return unquote_plus(self.body.decode("utf-8", "replace"))


class Conn:
    """One accepted connection: buffered reads, raw writes."""

    def __init__(self, sock: socket.socket, index: int, server: "OriginServer | None" = None):
        self.sock = sock
        self.index = index
        self.server = server
        self.buf = b""

    def recv_some(self, n: int = 65536) -> bytes:
        data = self.sock.recv(n)
        return data

    def read_until(self, marker: bytes) -> bytes | None:
        while marker not in self.buf:
            data = self.recv_some()
            if not data:
                return None
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            data = self.recv_some()
            if not data:
                return None
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self) -> tuple[str, str, dict[str, str]] | None:
        raw = self.read_until(b"\r\n\r\n")
        if raw is None:
            return None
        lines = raw.decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return method, target, headers

    def read_request(self, *, send_continue: bool = True) -> Request | None:
        got = self.read_head()
        if got is None:
            return None
        method, target, headers = got
        if send_continue and headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size_line = self.read_until(b"\r\n")
                if size_line is None:
                    return None
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                chunk = self.read_exact(size + 2)
                if chunk is None:
                    return None
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = self.read_exact(int(headers.get("content-length", "0") or 0))
            if body is None:
                return None
        return Request(method, target, headers, body, time.monotonic(), self.index)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0) rather than FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


# ---------------------------------------------------------------- actions (one per request)
# An action is action(conn, request) -> bool: True keeps the connection open for the next request.

Action = Callable[[Conn, Request], bool]


def reply(status: int = 200, body: bytes | None = None, headers: dict[str, str] | None = None, *,
          reason: str = "OK", close: bool = False, idle_close_after: float | None = None) -> Action:
    def act(conn: Conn, req: Request) -> bool:
        data = ok_body() if body is None else body
        h = {"Content-Type": "application/json;charset=utf-8", "Content-Length": str(len(data))}
        if close:
            h["Connection"] = "close"
        h.update(headers or {})
        conn.send(head(status, reason, h) + data)
        if idle_close_after is not None:
            time.sleep(idle_close_after)
            conn.sock.shutdown(socket.SHUT_RDWR)
            return False
        return not close
    return act


def reply_chunked(body: bytes | None = None, pieces: int = 7) -> Action:
    def act(conn: Conn, req: Request) -> bool:
        data = ok_body() if body is None else body
        conn.send(head(200, "OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            part = data[i:i + step]
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(0.01)
        conn.send(b"0\r\n\r\n")
        return True
    return act


def reply_gzip(body: bytes | None = None) -> Action:
    def act(conn: Conn, req: Request) -> bool:
        data = gzip.compress(ok_body() if body is None else body)
        conn.send(head(200, "OK", {"Content-Type": "application/json", "Content-Encoding": "gzip",
                                   "Content-Length": str(len(data))}) + data)
        return True
    return act


def reply_http10(body: bytes | None = None) -> Action:
    """HTTP/1.0, no Content-Length: the body ends when the connection closes."""
    def act(conn: Conn, req: Request) -> bool:
        data = ok_body() if body is None else body
        conn.send(head(200, "OK", {"Content-Type": "application/json"}, version="HTTP/1.0") + data)
        conn.sock.shutdown(socket.SHUT_RDWR)
        return False
    return act


def reply_trickle(body: bytes | None = None, gap: float = 0.1, pieces: int = 20) -> Action:
    def act(conn: Conn, req: Request) -> bool:
        data = ok_body() if body is None else body
        conn.send(head(200, "OK", {"Content-Type": "application/json", "Content-Length": str(len(data))}))
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            time.sleep(gap)
            conn.send(data[i:i + step])
        return True
    return act


def reply_after_100(body: bytes | None = None) -> Action:
    """An interim 100 Continue, then the answer."""
    def act(conn: Conn, req: Request) -> bool:
        data = ok_body() if body is None else body
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.05)
        conn.send(head(200, "OK", {"Content-Type": "application/json", "Content-Length": str(len(data))}) + data)
        return True
    return act


def half_close_after_headers(length: int = 500, headers: dict[str, str] | None = None) -> Action:
    """Headers promise a body; then FIN with nothing more (the request was read in full)."""
    def act(conn: Conn, req: Request) -> bool:
        conn.send(head(200, "OK", {"Content-Type": "application/json", "Content-Length": str(length),
                                   **(headers or {})}))
        conn.sock.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
        return False
    return act


def hold(seconds: float) -> Action:
    """Read the request, answer nothing for ``seconds``, then close."""
    def act(conn: Conn, req: Request) -> bool:
        time.sleep(seconds)
        return False
    return act


def drop() -> Action:
    """Read the request in full, then close without a reply."""
    def act(conn: Conn, req: Request) -> bool:
        return False
    return act


# ---------------------------------------------------------------- the origin server


def make_cert(directory: str, *, dns: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1",),
              name: str = "cert") -> tuple[str, str]:
    """A self-signed certificate (also its own CA) -> (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns or ips)[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, f"{name}.pem")
    key_path = os.path.join(directory, f"{name}.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class OriginServer:
    """Answers request i with script[i] (the last action repeats); records arrivals and connections."""

    def __init__(self, script: list[Action] | None = None, *, connection_script: list[str | None] | None = None,
                 tls: tuple[str, str] | None = None, port: int = 0, listen: bool = True):
        self.script = list(script or [reply()])
        self.connection_script = list(connection_script or [])
        self.arrivals: list[Request] = []
        self.connections = 0
        self.handshake_failures = 0
        self.ended = 0  # connections whose peer closed them or that we closed
        self.lock = threading.Lock()
        self._ctx = None
        if tls:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(*tls)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        if listen:
            self.start()

    def start(self) -> None:
        self._sock.listen(64)
        t = threading.Thread(target=self._serve, daemon=True)
        t.start()

    @property
    def url(self) -> str:
        return f"{'https' if self._ctx else 'http'}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._closing:
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return
            with self.lock:
                index = self.connections
                self.connections += 1
                self._open.append(sock)
            t = threading.Thread(target=self._handle, args=(sock, index), daemon=True)
            t.start()
            self._threads.append(t)

    def _handle(self, sock: socket.socket, index: int) -> None:
        conn = Conn(sock, index, self)
        try:
            if self._ctx is not None:
                try:
                    conn.sock = sock = self._ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    with self.lock:
                        self.handshake_failures += 1
                    return
            plan = self.connection_script[index] if index < len(self.connection_script) else None
            if plan == "reset":
                conn.recv_some(64)  # a few bytes of the request line, never the whole request
                conn.reset()
                return
            while True:
                req = conn.read_request()
                if req is None:
                    return
                with self.lock:
                    i = len(self.arrivals)
                    self.arrivals.append(req)
                action = self.script[min(i, len(self.script) - 1)]
                if not action(conn, req) or req.headers.get("connection", "").lower() == "close":
                    return
        except OSError:
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with self.lock:
                self.ended += 1

    def close(self) -> None:
        self._closing = True
        try:
            self._sock.close()
        except OSError:
            pass
        with self.lock:
            for s in self._open:
                try:
                    s.close()
                except OSError:
                    pass

    def __enter__(self) -> "OriginServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- the proxy


@dataclass
class ProxySeen:
    method: str
    target: str
    headers: dict[str, str]


class ProxyServer:
    """A forward proxy on 127.0.0.1: absolute-form requests are forwarded, CONNECT is tunnelled.

    ``auth=("user", "pass")`` requires Basic Proxy-Authorization (else 407); ``refuse_connect=True``
    answers every CONNECT with 403; ``seen`` records every request head (after auth).
    """

    def __init__(self, *, auth: tuple[str, str] | None = None, refuse_connect: bool = False, port: int = 0):
        self.auth = auth
        self.refuse_connect = refuse_connect
        self.seen: list[ProxySeen] = []
        self.rejected_auth = 0
        self.lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self._sock.listen(64)
        self._closing = False
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._closing:
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(sock,), daemon=True).start()

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.auth is None:
            return True
        expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return headers.get("proxy-authorization") == expected

    def _handle(self, sock: socket.socket) -> None:
        conn = Conn(sock, 0)
        try:
            while True:
                got = conn.read_head()
                if got is None:
                    return
                method, target, headers = got
                if not self._authorized(headers):
                    with self.lock:
                        self.rejected_auth += 1
                    conn.send(head(407, "Proxy Authentication Required",
                                   {"Proxy-Authenticate": 'Basic realm="test"', "Content-Length": "0",
                                    "Connection": "close"}))
                    return
                with self.lock:
                    self.seen.append(ProxySeen(method, target, headers))
                if method == "CONNECT":
                    if self.refuse_connect:
                        conn.send(head(403, "Forbidden", {"Content-Length": "0", "Connection": "close"}))
                        return
                    host, port = target.rsplit(":", 1)
                    upstream = socket.create_connection((host, int(port)))
                    conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self._pipe(sock, upstream, conn.buf)
                    return
                body = conn.read_exact(int(headers.get("content-length", "0") or 0)) or b""
                from urllib.parse import urlsplit
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80))
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                lines = [f"{method} {path} HTTP/1.1"] + [
                    f"{k}: {v}" for k, v in headers.items()
                    if k not in ("proxy-authorization", "proxy-connection", "connection")] + ["Connection: close"]
                upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                answer = b""
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    answer += data
                upstream.close()
                # relay as is, then close (the answer carried Connection: close semantics for us)
                sock.sendall(answer)
                return
        except OSError:
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket, pending: bytes) -> None:
        if pending:
            b.sendall(pending)
        socks = [a, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    return
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        finally:
            b.close()

    def close(self) -> None:
        self._closing = True
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> "ProxyServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sse_body(text: str = "hello stream", request_id: str = "SSE-REQ-1") -> bytes:
    """One streamed event in the SDKs' shape (Data a JSON string) carrying the whole answer and its finish."""
    data = json.dumps({"Created": "1700000000", "Model": "qwen-plus",
                       "Choices": [{"FinishReason": "stop", "Message": {"Content": text, "Role": "assistant"}}]})
    event = json.dumps({"RequestId": request_id, "Success": True, "Data": data})
    return f"id: 1\nevent: result\ndata: {event}\n\n".encode()


def reply_sse(body: bytes | None = None) -> Action:
    def act(conn: Conn, req: Request) -> bool:
        data = sse_body() if body is None else body
        conn.send(head(200, "OK", {"Content-Type": "text/event-stream;charset=UTF-8",
                                   "Content-Length": str(len(data))}) + data)
        return True
    return act
