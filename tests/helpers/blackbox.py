"""Black-box helpers for the fault-and-fuzz harness (issue 12), written without reading dms_magic/.

- An independent ACS3-HMAC-SHA256 signer (from the published algorithm, not dms_magic.wire.signing), so
  malformed requests can be signed correctly and reach the sandbox's parsers.
- Raw HTTP over a socket (requests and urllib3 refuse to send most of the malformed requests).
- ``StubServer``: a loopback TCP server that records every connection and request byte for byte and
  answers with a scripted function (streams cut wherever a test wants).
- Process probes: RSS and thread count from /proc, and a ``python -m dms_magic.sandbox`` launcher.

Every wait here is bounded by a deadline.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

AK = "LTAIblackbox000000000012"
SK = "SK-SENTINEL-blackbox-secret-7f3a9c"
STS = "STS-SENTINEL-blackbox-token-5e1d2b"

API_VERSION = "2018-11-01"
ACTION = "ChatWithDesensitize"
GATEWAY_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


# --------------------------------------------------------------------------- signing

def pct(value) -> str:
    """RFC 3986 percent-encoding as the Alibaba Cloud signers use it (only unreserved characters kept)."""
    return urllib.parse.quote(str(value), safe="~")


def canonical_query(pairs) -> str:
    """Sorted, percent-encoded ``k=v`` pairs joined by ``&`` (``pairs``: a dict or (key, value) pairs)."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in items))


def sign_headers(method: str, path: str, query_string: str, host: str, body: bytes, ak: str, sk: str, *,
                 action: str = ACTION, version: str = API_VERSION, token: str | None = None,
                 content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    """Every header an ACS3-HMAC-SHA256 request needs, Authorization included."""
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": payload_hash,
        "content-type": content_type,
    }
    if token is not None:
        headers["x-acs-security-token"] = token
        headers["x-acs-accesskey-id"] = ak
    signed = sorted(headers)
    canonical_headers = "".join(f"{k}:{headers[k].strip()}\n" for k in signed)
    canonical_request = "\n".join([method, path, query_string, canonical_headers, ";".join(signed), payload_hash])
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    signature = hmac.new(sk.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={';'.join(signed)},"
                                f"Signature={signature}")
    return headers


def chat_query(**overrides) -> dict[str, str]:
    """The query of a plain ChatWithDesensitize call, from the reference page's parameter names."""
    query = {"InstanceId": "1", "Model": "qwen-plus", "NeedDesensitization": "false", "Seed": "7"}
    query.update({k: v for k, v in overrides.items() if v is not None})
    return query


def messages_form(text: str = "hello", role: str = "user") -> bytes:
    return urllib.parse.urlencode({"Messages": json.dumps([{"role": role, "content": text}])}).encode()


# --------------------------------------------------------------------------- raw HTTP

class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:300]!r}{'...' if len(self.body) > 300 else ''})"


def send_raw(host: str, port: int, data: bytes, *, timeout: float = 30.0, method: str = "POST") -> Reply | None:
    """Send ``data`` as is and parse the reply; None when the server closed without answering."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything: read its reply anyway
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        try:
            body = resp.read()
        except http.client.IncompleteRead as exc:
            body = exc.partial
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)


def signed_request(url: str, ak: str, sk: str, *, query=None, body: bytes | None = None,
                   extra_query: str = "", method: str = "POST", path: str = "/", action: str = ACTION,
                   token: str | None = None, extra_headers: dict | None = None,
                   sign_body: bytes | None = None) -> bytes:
    """Bytes of a signed request. ``extra_query`` is appended to the URL after signing (tampering);
    ``sign_body`` signs a different body than the one sent."""
    host = url.split("//", 1)[1].rstrip("/")
    qs = canonical_query(chat_query() if query is None else query)
    body = messages_form() if body is None else body
    headers = sign_headers(method, path, qs, host, body if sign_body is None else sign_body, ak, sk,
                           action=action, token=token)
    headers.update(extra_headers or {})
    target = path + ("?" + qs if qs else "") + extra_query
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    if "content-length" not in {k.lower() for k in headers} and "transfer-encoding" not in {
            k.lower() for k in headers}:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def host_port(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.hostname, parsed.port


def looks_like_traceback(body: bytes) -> bool:
    text = body.decode("utf-8", "replace")
    return "Traceback (most recent call last)" in text or 'File "' in text or "RecursionError" in text


def gateway_error_problems(reply: Reply | None, *, also_allowed=()) -> list[str]:
    """Why ``reply`` is not a 4xx carrying the gateway's error JSON with a code other than
    InternalError (a refusal is not an internal failure); empty list: it is."""
    if reply is None:
        return ["the server closed the connection without an answer"]
    problems = []
    if not (400 <= reply.status < 500 or reply.status in also_allowed):
        problems.append(f"status {reply.status}, expected 4xx")
    if looks_like_traceback(reply.body):
        problems.append("the body contains a traceback")
    try:
        body = reply.json()
    except ValueError:
        problems.append(f"body is not JSON: {reply.body[:200]!r}")
    else:
        if not isinstance(body, dict) or not GATEWAY_KEYS <= set(body):
            problems.append(f"body lacks the gateway keys {sorted(GATEWAY_KEYS)}: {str(body)[:200]}")
        elif body.get("Code") == "InternalError":
            problems.append(f"Code InternalError ({body.get('Message')!r}) for a request the server refused")
    return problems


# --------------------------------------------------------------------------- stub server

class Request:
    def __init__(self, time_: float, request_line: str, headers: dict[str, str], body: bytes, raw_head: bytes):
        self.time, self.request_line, self.headers, self.body, self.raw_head = (
            time_, request_line, headers, body, raw_head)

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace")))

    @property
    def prompt(self) -> str | None:
        try:
            messages = json.loads(self.form.get("Messages", "null"))
            return messages[-1]["content"]
        except (ValueError, TypeError, KeyError, IndexError):
            return None

    @property
    def signature(self) -> str | None:
        m = re.search(r"Signature=([0-9a-fA-F]+)", self.headers.get("authorization", ""))
        return m.group(1) if m else None


class StubServer:
    """A loopback server that records every connection and request and answers with
    ``respond(request, sock, server)`` (which writes whatever bytes it likes; the connection is
    closed after it returns). Handlers run in daemon threads; ``close()`` stops accepting."""

    def __init__(self, respond, *, read_timeout: float = 30.0, port: int = 0):
        self.respond = respond
        self.read_timeout = read_timeout
        self.connections = 0
        self.bytes_received = 0
        self.requests: list[Request] = []
        self.raw_chunks: list[bytes] = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _read_request(self, conn) -> Request | None:
        conn.settimeout(self.read_timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                self._count(data)
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = rest
        while len(body) < length:
            chunk = conn.recv(min(1 << 20, length - len(body)))
            if not chunk:
                break
            body += chunk
        self._count(head + body)
        req = Request(time.monotonic(), lines[0], headers, body, head)
        with self.lock:
            self.requests.append(req)
        return req

    def _count(self, data: bytes):
        with self.lock:
            self.bytes_received += len(data)
            if data:
                self.raw_chunks.append(data)

    def _handle(self, conn):
        try:
            while True:
                req = self._read_request(conn)
                if req is None:
                    return
                keep = self.respond(req, conn, self)
                if not keep:
                    return
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def arrivals_since(self, t: float) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.time > t]

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_reply(status: int, body: bytes, *, content_type="application/json", extra_headers=None,
               content_length: int | None = None, keep_alive: bool = False) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "X")
    headers = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}",
               f"Content-Length: {len(body) if content_length is None else content_length}",
               "Connection: " + ("keep-alive" if keep_alive else "close")] + [
        f"{k}: {v}" for k, v in (extra_headers or {}).items()]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def success_body(text: str = "Hello world", request_id: str = "REQ-STUB") -> bytes:
    return json.dumps({
        "RequestId": request_id, "Success": True,
        "Data": {"Created": "1700000000", "Model": "qwen-plus", "StatusCode": "200",
                 "Choices": [{"FinishReason": "stop", "Message": {"Content": text, "Role": "assistant"}}],
                 "Usage": {"PromptTokens": "3", "CompletionTokens": "2", "TotalTokens": "5"}}}).encode()


def gateway_body(code: str, status_message: str = "stub", request_id: str = "REQ-STUB") -> bytes:
    return json.dumps({"RequestId": request_id, "HostId": "127.0.0.1", "Code": code, "Message": status_message,
                       "Recommend": ""}).encode()


def sse_event(content: str, finish: str | None = None, request_id: str = "REQ-SSE") -> bytes:
    payload = {"RequestId": request_id, "Success": True,
               "Data": {"Model": "qwen-plus", "Created": "1700000000",
                        "Choices": [{"FinishReason": finish,
                                     "Message": {"Content": content, "Role": "assistant"}}]}}
    return b"event: result\ndata: " + json.dumps(payload).encode() + b"\n\n"


def sse_head(*, content_length: int | None = None, chunked: bool = False) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/event-stream", "x-acs-request-id: REQ-SSE"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# --------------------------------------------------------------------------- processes

def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def rss_mb(pid: int) -> float:
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def thread_count(pid: int) -> int:
    return int(proc_status(pid)["Threads"])


class SandboxProcess:
    """``python -m dms_magic.sandbox --port 0 ...`` in a child process (stdout read until its URL)."""

    def __init__(self, args=(), env=None, *, start_timeout: float = 120.0):
        child_env = dict(os.environ)
        child_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dms_magic.sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env)
        self.output = b""
        deadline = time.monotonic() + start_timeout
        self.url = None
        while time.monotonic() < deadline and self.url is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    break
                self.output += data
                m = re.search(rb"http://127\.0\.0\.1:(\d+)", self.output)
                if m:
                    self.url = m.group(0).decode()
            elif self.proc.poll() is not None:
                break
        if self.url is None:
            self.stop()
            raise RuntimeError(f"the sandbox did not print its URL: {self.output[-2000:]!r}")
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self):
        try:
            while True:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    return
                self.output += data
        except OSError:
            return

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return host_port(self.url)[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


# Shared by the sandbox fault tests and the soak tests.
def raise_nofile(n=12000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def sandbox_help_text() -> str:
    out = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--help"], capture_output=True,
                         text=True, timeout=120)
    return out.stdout + out.stderr


def documented_pool_size(help_text: str) -> int | None:
    """The worker-pool size `--help` documents (the default of --threads)."""
    found = help_option(help_text, r"--threads")
    d = re.search(r"default[:\s]*(\d+)", found[1]) if found else None
    return int(d.group(1)) if d else None


def fetch_received(url: str, ak: str, sk: str, *, signed: bool, timeout: float = 120.0, query=None):
    """GET /_sandbox/received, unsigned or signed like the API (ACS3 over an empty body)."""
    host, port = host_port(url)
    qs = canonical_query(query or {})
    target = "/_sandbox/received" + ("?" + qs if qs else "")
    if signed:
        hosthdr = f"{host}:{port}"
        headers = sign_headers("GET", "/_sandbox/received", qs, hosthdr, b"", ak, sk)
        lines = [f"GET {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    else:
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}"]
    data = ("\r\n".join(lines + ["Connection: close"]) + "\r\n\r\n").encode()
    return send_raw(host, port, data, timeout=timeout, method="GET")


def help_option(help_text: str, pattern: str) -> tuple[str, str] | None:
    """(flag, description) of the first option in the `options:` section whose flag matches."""
    section = help_text.split("options:", 1)[-1]
    blocks = re.split(r"\n(?=  -)", section)
    for block in blocks:
        m = re.match(r"\s*(?:-\w, )?(--[\w-]+)", block)
        if m and re.fullmatch(pattern, m.group(1)):
            return m.group(1), " ".join(block.split())
    return None
