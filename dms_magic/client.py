"""DmsChatClient: ChatWithDesensitize over HTTP, signed like the official SDK, with retries.

Each client owns its connections: a small keep-alive pool to its one endpoint (see _Transport for
why), and a ``requests.Session`` that carries proxy and TLS settings and sends the calls whenever a
proxy applies. Parameters are validated by params.py
before any traffic; every attempt is freshly signed (new nonce and date) by signing.py; failures
become errors.py exceptions, and errors.is_retryable decides what is retried: throttling, 5xx,
connection errors and timeouts, with exponential backoff and jitter, bounded in attempts and in
total time. A stream is retried only until its first event arrives (after that, chunks have been
handed out and replaying would duplicate them).
"""
from __future__ import annotations

import codecs
import functools
import http.client
import json
import logging
import os
import platform
import random
import select
import socket
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

import requests

from dms_magic import __version__, errors, signing
from dms_magic.credentials import CredentialError, CredentialSource, resolve
from dms_magic.params import ACTION, API_VERSION, SSE_ACTION, ChatRequest
from dms_magic.result import ChatResult, StreamChunk, StreamState, assemble
from dms_magic.session import CENTRAL_ENDPOINT, ENV_ENDPOINT, ENV_INSTANCE_ID  # one home for the defaults

log = logging.getLogger("dms_magic.client")

BACKEND_HEADER = "X-Dms-Magic-Backend"
USER_AGENT = f"dms-magic/{__version__} Python/{platform.python_version()}"
FORM_CONTENT_TYPE = signing.FORM_CONTENT_TYPE


def parse_endpoint(endpoint: str | None) -> tuple[str, str, str]:
    """(scheme, host[:port], path) from a host or a URL; None -> $DMS_MAGIC_ENDPOINT -> central.

    ``dms-enterprise.cn-hangzhou.aliyuncs.com`` -> https; ``http://127.0.0.1:8765`` (the sandbox)
    keeps its scheme and port.
    """
    endpoint = (endpoint or os.environ.get(ENV_ENDPOINT) or CENTRAL_ENDPOINT).strip()
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint={endpoint!r} is invalid: expected a host such as {CENTRAL_ENDPOINT!r} "
                         "or a URL such as 'http://127.0.0.1:8765'")
    return parts.scheme, parts.netloc, parts.path or "/"


def _instance_from_env() -> Any:
    value = os.environ.get(ENV_INSTANCE_ID)
    return value.strip() if value and value.strip() else None


class DmsChatClient:
    """A client for ChatWithDesensitize / ChatWithDesensitizeSSE.

    ``endpoint``: host or URL (central, regional ``dms-enterprise.<region>.aliyuncs.com``, vpc, or the
    sandbox's ``http://127.0.0.1:PORT``); default ``$DMS_MAGIC_ENDPOINT``, else the central endpoint.
    Credentials: explicit keys (+ STS ``security_token``), ``profile=``, a ``credentials=``
    CredentialSource, else the default chain (resolved on the first call).
    ``instance_id``: default ``$DMS_MAGIC_INSTANCE_ID``; a call's ``instance_id=`` wins.
    ``timeout``: seconds per HTTP read (connect is capped at 10 s). ``max_retries``: extra attempts
    after the first; ``max_retry_time``: the total seconds after which no new attempt starts.
    """

    def __init__(self, endpoint: str | None = None, *, access_key_id: str | None = None,
                 access_key_secret: str | None = None, security_token: str | None = None,
                 profile: str | None = None, instance_id: Any = None, timeout: float = 60,
                 max_retries: int = 4, credentials: CredentialSource | None = None,
                 max_retry_time: float = 120.0, backoff_base: float = 0.5, backoff_cap: float = 8.0):
        self.scheme, self.host, self.path = parse_endpoint(endpoint)
        self.endpoint_url = f"{self.scheme}://{self.host}{self.path}"
        self.instance_id = instance_id if instance_id is not None else _instance_from_env()
        if max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r} is invalid: expected an integer >= 0")
        if not timeout or timeout <= 0:
            raise ValueError(f"timeout={timeout!r} is invalid: expected seconds > 0")
        self.timeout = (min(10.0, float(timeout)), float(timeout))
        self.max_retries = int(max_retries)
        self.max_retry_time = float(max_retry_time)
        self.backoff_base, self.backoff_cap = float(backoff_base), float(backoff_cap)
        self._profile = profile
        if credentials is not None:
            self._credentials: CredentialSource | None = credentials
        elif access_key_id or access_key_secret:
            self._credentials = resolve(access_key_id, access_key_secret, security_token)
        else:
            self._credentials = None  # profile / default chain: resolved on the first call
        self.backend = self.host  # becomes "sandbox" when the sandbox says so
        self._session = requests.Session()
        self._transport = _Transport(self._session, self.scheme, self.host, self.endpoint_url, self.timeout)

    # -- public API ------------------------------------------------------------------------------
    def chat(self, prompt_or_messages: Any, **params: Any) -> ChatResult:
        """One ChatWithDesensitize call. A string is one user message; keywords are params.py names."""
        request = self._build(prompt_or_messages, params, stream=False)
        query, form = request.to_wire(stream=False)
        started = time.perf_counter()
        response, body = self._send(ACTION, query, form, stream=False)
        latency = time.perf_counter() - started
        return ChatResult.from_response(body, request=request, latency=latency, backend=self._backend_of(response),
                                        headers=response.headers)

    def stream(self, prompt_or_messages: Any, **params: Any) -> "ChatStream":
        """ChatWithDesensitizeSSE: iterate the returned ChatStream for StreamChunks; ``.result`` at the end.

        ``stream=True`` is sent for you (DMS streams only when asked); ``include_usage`` is yours to set.
        """
        params.setdefault("stream", True)
        request = self._build(prompt_or_messages, params, stream=True)
        query, form = request.to_wire(stream=True)
        started = time.perf_counter()
        response, _ = self._send(SSE_ACTION, query, form, stream=True)
        return ChatStream(response, request=request, started=started, backend=self._backend_of(response))

    def close(self) -> None:
        self._transport.close()
        self._session.close()

    def __enter__(self) -> "DmsChatClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        creds = self._credentials.kind if self._credentials is not None else (
            f"profile:{self._profile}" if self._profile else "default chain (not resolved yet)")
        return f"DmsChatClient({self.endpoint_url!r}, instance_id={self.instance_id!r}, credentials={creds})"

    # -- internals -------------------------------------------------------------------------------
    def _build(self, prompt_or_messages: Any, params: Mapping[str, Any], *, stream: bool) -> ChatRequest:
        params = dict(params)
        if params.get("images") is not None:  # images.with_images: checked (size, format) before any traffic
            from dms_magic.images import with_images

            prompt_or_messages = with_images(prompt_or_messages, params["images"])
        params.pop("images", None)
        if params.get("instance_id") is None and self.instance_id is not None:
            params["instance_id"] = self.instance_id
        return ChatRequest(prompt_or_messages, **params).validate(stream=stream)

    def credentials(self) -> CredentialSource:
        if self._credentials is None:
            source = resolve(profile=self._profile)
            if source is None:
                raise CredentialError(
                    "no Alibaba Cloud credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET, run `aliyun configure`, pass profile=..., or pass "
                    "access_key_id=/access_key_secret= (or use the sandbox)")
            self._credentials = source
        return self._credentials

    def _backend_of(self, response: "_Reply") -> str:
        if response.headers.get(BACKEND_HEADER, "").lower() == "sandbox":
            self.backend = "sandbox"
        return self.backend

    @staticmethod
    def _json(response: "_Reply") -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            return response.content

    def _backoff(self, attempt: int, response: "_Reply | None") -> float:
        # Full jitter on an exponential ceiling (spreads out a crowd of notebooks retrying at once);
        # a server's Retry-After, when given, is a floor.
        delay = random.uniform(self.backoff_base, min(self.backoff_cap, self.backoff_base * 2 ** attempt))
        if response is not None:
            try:
                delay = max(delay, min(self.backoff_cap, float(response.headers.get("Retry-After", ""))))
            except ValueError:
                pass
        return delay

    def _send(self, action: str, query: Mapping[str, str], form: Mapping[str, str], *,
              stream: bool) -> tuple["_Reply", Any]:
        """POST with signing and retries -> (response, parsed body; None for a stream). The response
        is not an HTTP error; for chat the caller still checks the body for business errors."""
        body = urlencode(sorted(form.items())).encode("utf-8")  # as the SDK: sorted, quote_plus
        # The canonical query string (sorted, RFC 3986-encoded) is also a valid URL query: encode once.
        query_string = signing.canonical_query(query)
        target = f"{self.path}?{query_string}" if query_string else self.path
        source = self.credentials()
        deadline = time.monotonic() + self.max_retry_time
        attempt = 0
        while True:
            cred = source.get()
            headers = signing.sign_headers(
                "POST", self.path, query_string, body, self.host, action, API_VERSION, cred.access_key_id,
                cred.access_key_secret, cred.security_token, user_agent=USER_AGENT,
                accept="text/event-stream" if stream else "application/json")
            response = None
            err: errors.DmsError
            try:
                response = self._transport.post(target, body, headers, stream=stream)
            except _TIMEOUTS as exc:
                err = errors.TransportError(
                    f"no answer from {self.host} within {self.timeout[1]:g} s ({type(exc).__name__})",
                    code="RequestTimeout")
            except _CONNECTION_ERRORS as exc:
                err = errors.TransportError(f"could not connect to {self.host} ({type(exc).__name__})",
                                            code="ConnectionError")
            else:
                if response.status_code < 400:
                    if stream:
                        return response, None
                    # Business errors come with 200; throttling/internal ones among them are retryable.
                    body_json = self._json(response)
                    if not errors.is_failure(response.status_code, body_json):
                        return response, body_json
                    err = errors.from_response(response.status_code, body_json, headers=response.headers,
                                               action=action)
                else:
                    err = errors.from_response(response.status_code, self._json(response),
                                               headers=response.headers, action=action)
                    response.close()
            if not errors.is_retryable(err) or attempt >= self.max_retries:
                raise err
            delay = self._backoff(attempt, response)
            if time.monotonic() + delay > deadline:
                raise err
            attempt += 1
            log.info("%s: %s, retry %d/%d in %.2f s", action, err.code, attempt, self.max_retries, delay)
            time.sleep(delay)



# -- HTTP -----------------------------------------------------------------------------------------
# The exception families either path of _Transport raises.
_TIMEOUTS: tuple[type[BaseException], ...] = (requests.Timeout, TimeoutError)
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (requests.RequestException, http.client.HTTPException,
                                                      OSError)


class _Reply:
    """The little of an HTTP response the client uses, over http.client's or requests' response.

    ``release`` hands the connection back for reuse once the body has been read to the end.
    """

    __slots__ = ("status_code", "headers", "_raw", "_content", "_release")

    def __init__(self, status_code: int, headers: Any, raw: Any, content: bytes | None,
                 release: Callable[[], None] | None = None):
        self.status_code, self.headers, self._raw, self._content = status_code, headers, raw, content
        self._release = release

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_content())
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def iter_content(self) -> Iterator[bytes]:
        """Bytes as they arrive (an SSE event must not wait for a buffer to fill)."""
        if self._content is not None:
            yield self._content
            return
        raw = self._raw
        if isinstance(raw, requests.Response):
            yield from raw.iter_content(chunk_size=None)
            return
        while True:
            data = raw.read1(65536)
            if not data:
                break
            yield data

    def close(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()


class _Connection:
    """One kept-alive connection: the request is written in a single send, the reply is parsed by
    http.client.HTTPResponse (status line, headers, Content-Length / chunked bodies)."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def exchange(self, head: bytes, body: bytes) -> http.client.HTTPResponse:
        self.sock.sendall(head + body)
        response = http.client.HTTPResponse(self.sock, method="POST")
        response.begin()
        return response

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _Transport:
    """POSTs over kept-alive connections to the one endpoint.

    Why not ``Session.post`` for everything: per call, requests' environment proxy lookups, request
    preparation and hooks, plus urllib3's and http.client's per-header bookkeeping, cost more CPU
    than building, signing and parsing the request together (benchmarks/bench_client.py). None of
    it matters for a signed POST of headers we built ourselves to one host. So when no proxy
    applies, the client keeps its own small pool of sockets (LIFO, thread-safe; a socket the
    server closed while idle is noticed before reuse), writes each request in one ``sendall`` and
    lets ``http.client.HTTPResponse`` parse the reply. When a proxy applies (HTTP(S)_PROXY /
    NO_PROXY, ``session.proxies``) every call goes through the ``requests.Session`` instead, so
    proxy users keep requests' behaviour. TLS uses the Session's ``verify``/``cert`` settings
    (certifi by default) either way.
    """

    def __init__(self, session: requests.Session, scheme: str, host: str, endpoint_url: str,
                 timeout: tuple[float, float], pool_size: int = 16):
        self.session, self.scheme, self.host, self.timeout = session, scheme, host, timeout
        self.base = f"{scheme}://{host}"
        proxies = {**requests.utils.get_environ_proxies(endpoint_url), **session.proxies}
        self.proxied = bool(requests.utils.select_proxy(endpoint_url, proxies))
        parts = urlsplit(endpoint_url)
        self.hostname = parts.hostname or host
        self.port = parts.port or (443 if scheme == "https" else 80)
        self.pool_size = pool_size
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._ssl_context = None

    # connections
    def _tls_context(self):
        if self._ssl_context is None:
            import ssl

            verify = self.session.verify
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                # As requests does: a path in verify, else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, else certifi.
                env_bundle = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                              if self.session.trust_env else None)
                bundle = verify if isinstance(verify, str) else (env_bundle or requests.certs.where())
                context = ssl.create_default_context(cafile=None if os.path.isdir(bundle) else bundle,
                                                     capath=bundle if os.path.isdir(bundle) else None)
            cert = self.session.cert
            if cert:
                context.load_cert_chain(*(cert if isinstance(cert, tuple) else (cert,)))
            self._ssl_context = context
        return self._ssl_context

    def _checkout(self) -> _Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _readable(conn.sock):
                    return conn
                conn.close()  # the server closed it while idle (or sent junk): start afresh
        sock = socket.create_connection((self.hostname, self.port), timeout=self.timeout[0])
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                sock = self._tls_context().wrap_socket(sock, server_hostname=self.hostname)
            sock.settimeout(self.timeout[1])  # connecting used the connect timeout; reads use this
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _checkin(self, conn: _Connection, response: http.client.HTTPResponse) -> None:
        if response.isclosed() and not response.will_close:
            with self._lock:
                if len(self._idle) < self.pool_size:
                    self._idle.append(conn)
                    return
        # A body not read to the end (a stream closed mid-way): the response's file object holds its
        # own reference to the socket, so closing only the socket would leave the connection open
        # and the server sending. Close both.
        response.close()
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # requests
    def post(self, target: str, body: bytes, headers: dict[str, str], *, stream: bool) -> _Reply:
        if self.proxied:
            response = self.session.post(self.base + target, data=body, headers=headers, timeout=self.timeout,
                                         stream=stream)
            return _Reply(response.status_code, response.headers, response, None if stream else response.content,
                          response.close)
        # Every header here is ours (ASCII: host, x-acs-*, hashes, the signature); no user text.
        head = "".join([f"POST {target} HTTP/1.1\r\n", *[f"{k}: {v}\r\n" for k, v in headers.items()],
                        f"Content-Length: {len(body)}\r\n\r\n"]).encode("latin-1")
        conn = self._checkout()
        try:
            response = conn.exchange(head, body)
            content = None if stream else response.read()
        except BaseException:
            conn.close()
            raise
        if not stream:
            self._checkin(conn, response)
            return _Reply(response.status, response.headers, response, content)
        return _Reply(response.status, response.headers, response, None,
                      functools.partial(self._checkin, conn, response))


def _readable(sock) -> bool:
    """An idle kept-alive socket that is readable has been closed by the server (or is out of sync)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)



class ChatStream:
    """Iterate for StreamChunks; ``.result`` (the assembled ChatResult) once the stream has ended
    (reading ``.result`` early consumes the rest of the stream)."""

    def __init__(self, response: "_Reply", *, request: ChatRequest, started: float, backend: str):
        self._response = response
        self.request = request
        self.backend = backend
        self._started = started
        self._chunks: list[StreamChunk] = []
        self._state = StreamState()  # increments or text so far: decided from the events
        self._iterator = self._run()
        self._result: ChatResult | None = None
        self._error: Exception | None = None  # why the stream failed, re-raised by .result
        self._closed = False

    def __iter__(self) -> Iterator[StreamChunk]:
        return self

    def __next__(self) -> StreamChunk:
        return next(self._iterator)

    @property
    def chunks(self) -> list[StreamChunk]:
        return list(self._chunks)

    @property
    def result(self) -> ChatResult:
        """The assembled answer; raises the stream's error if it failed (never a silent None)."""
        if self._result is None and self._error is None:
            for _ in self._iterator:
                pass
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError("the stream was closed or interrupted before it ended, so it has no result; "
                               "the chunks received so far are in .chunks")
        return self._result

    def close(self) -> None:
        """Stop reading and drop the connection; iterating afterwards yields nothing more."""
        self._closed = True
        try:
            self._iterator.close()  # runs _run's finally, which releases the response
        except ValueError:  # "generator already executing": close() from another thread
            pass
        self._response.close()

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self) -> Iterator[StreamChunk]:
        response = self._response
        try:
            if "json" in response.headers.get("Content-Type", "").lower():
                # A plain JSON reply to an SSE call: an error, or a whole answer at once.
                events: Iterable[str] = [response.text]
            else:
                events = (event.data for event in parse_sse(response.iter_content()))
            for data in events:
                if not data.strip() or data.strip() == "[DONE]":  # keep-alives; tolerate OpenAI's end marker
                    continue
                try:
                    body = json.loads(data)
                except ValueError:
                    raise errors.DmsError(f"unreadable stream event: {data[:200]!r}", code="InvalidResponse") from None
                if errors.is_failure(200, body):
                    raise errors.from_response(response.status_code, body, headers=response.headers,
                                               action=SSE_ACTION)
                chunk = StreamChunk.from_event(body, index=len(self._chunks), state=self._state)
                self._chunks.append(chunk)
                yield chunk
        except _TIMEOUTS + _CONNECTION_ERRORS as exc:
            self._error = errors.TransportError(f"the stream broke off after {len(self._chunks)} events "
                                                f"({type(exc).__name__})", code="ConnectionError")
            raise self._error from None
        except Exception as exc:
            self._error = exc
            raise
        finally:
            response.close()
        if self._closed:  # closed from another thread: the body ended early, the answer is partial
            return
        self._result = assemble(self._chunks, request=self.request, latency=time.perf_counter() - self._started,
                                backend=self.backend, headers=response.headers)


# -- Server-Sent Events ---------------------------------------------------------------------------
class SSEEvent:
    __slots__ = ("event", "data", "id", "retry")

    def __init__(self, event: str, data: str, id: str | None, retry: int | None):
        self.event, self.data, self.id, self.retry = event, data, id, retry

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"


def _lines(chunks: Iterable[bytes | str]) -> Iterator[str]:
    """Lines from a byte stream, ending in \\r\\n, \\n or \\r — even when a chunk boundary falls
    between \\r and \\n (requests' iter_lines would yield a spurious empty line there, which in SSE
    ends an event early)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    buffer = ""
    for chunk in chunks:
        buffer += decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        start = 0
        n = len(buffer)
        while True:
            i_n = buffer.find("\n", start)
            i_r = buffer.find("\r", start)
            if i_r != -1 and (i_n == -1 or i_r < i_n):
                if i_r == n - 1:
                    break  # a lone trailing \r: wait, it may be the first half of \r\n
                yield buffer[start:i_r]
                start = i_r + 2 if buffer[i_r + 1] == "\n" else i_r + 1
            elif i_n != -1:
                yield buffer[start:i_n]
                start = i_n + 1
            else:
                break
        buffer = buffer[start:]
    buffer += decoder.decode(b"", final=True)
    if buffer.endswith("\r"):
        buffer = buffer[:-1]
        yield buffer
        buffer = ""
    if buffer:
        yield buffer


def parse_sse(chunks: Iterable[bytes | str]) -> Iterator[SSEEvent]:
    """Events per the WHATWG SSE rules: ``data:`` lines joined with \\n, ``:`` comments (keep-alives)
    skipped, ``event``/``id``/``retry`` fields kept, a blank line dispatches. Events without data are
    not dispatched. A final event not followed by a blank line is still delivered (some proxies cut
    the last one short). Never waits for a ``[DONE]`` marker: the stream ends when the body does.
    """
    data: list[str] = []
    event, last_id, retry = "", None, None
    for line in _lines(chunks):
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data), last_id, retry)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry":
            if value.isdigit():
                retry = int(value)
    if data:
        yield SSEEvent(event or "message", "\n".join(data), last_id, retry)
