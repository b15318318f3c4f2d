"""The transport: one exchange (request out, status and headers back, the body as it arrives).

``Transport`` is what DmsChatClient needs of one; ``UrllibTransport`` is the real one and
``MockTransport(handler)`` answers in-process for tests (as httpx's ``_transports/default.py`` and
``MockTransport``). Everything below the client's retry loop lives here:

* urllib3 (requests' own engine, without requests' per-call overhead): one ``PoolManager``, or a
  ``ProxyManager`` when a proxy applies (``ClientSettings.proxy``, else HTTP(S)_PROXY / ALL_PROXY /
  NO_PROXY read as requests reads them). TLS trusts ``ca_bundle``, else REQUESTS_CA_BUNDLE /
  CURL_CA_BUNDLE, else certifi. dms_magic itself never touches a socket or an ssl context.
* whether the request was fully written when an exchange failed (``_WriteTracking``): the retry
  policy's main fact, since a request that never left cannot have been billed;
* lower-level errors (urllib3, socket, ssl, http.client) mapped to ours in ONE table (``_KINDS``),
  each error tagged with its failure kind (``FAILURE_ATTR``) for the retry policy.
"""
from __future__ import annotations

import http.client
import ipaddress
import json as _json
import os
import re
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol
from dms_magic.errors import NotSent
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from dms_magic.defaults import ENV_CA_BUNDLES
from dms_magic import errors
from dms_magic.client._settings import ClientSettings

# The attribute a mapped error carries: its failure kind (one of the names in _retry.KINDS).
FAILURE_ATTR = "_failure_kind"

# Failure kinds of an exchange that went wrong below HTTP (the retry table in _retry.py names them).
REFUSED, CONNECT_TIMEOUT, DNS, TLS, TUNNEL_REFUSED, PROXY_AUTH, NOT_SENT, AFTER_SEND = (
    "connection-refused", "connect-timeout", "name-resolution", "tls", "proxy-tunnel-refused",
    "proxy-auth", "failed-before-sent", "failed-after-sent")
_BEFORE_SENDING = frozenset({REFUSED, CONNECT_TIMEOUT, DNS, TLS, TUNNEL_REFUSED, PROXY_AUTH})

# What a failed exchange raises below us: urllib3's errors, and the socket / http.client errors that
# reach us unwrapped while a body is read.
LOW_LEVEL_ERRORS: tuple[type[BaseException], ...] = (u3.HTTPError, OSError, http.client.HTTPException)


@dataclass(frozen=True)
class Request:
    """One attempt: POST ``target`` (path and query) with signed ``headers`` and a form ``body``."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class ProxyInfo:
    """The proxy in use, safe to show: its URL without credentials, whether it has some, and the
    variable it came from (named in errors that ask the user to fix it)."""

    shown: str
    has_credentials: bool
    variable: str | None


class Response(Protocol):
    status: int
    headers: Mapping[str, str]

    def read(self) -> bytes: ...  # the whole body; the connection goes back to the pool

    def iter_bytes(self) -> Iterator[bytes]: ...  # the body as it arrives

    def close(self) -> None: ...  # drop the rest (the connection is not reused)

    def shutdown(self) -> None: ...  # from another thread: make a blocked read return now


class Transport(Protocol):
    proxy: ProxyInfo | None

    def send(self, request: Request, *, timeout: tuple[float, float],
             on_sent: Callable[[], None] | None = None) -> Response:
        """The response with its body unread, or a DmsError tagged with its failure kind.
        ``on_sent`` is called once the whole request has been written."""

    def close(self) -> None: ...


# -- the one table: lower-level errors -> our errors ------------------------------------------------
def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it wraps, outermost first: urllib3 keeps the underlying error as
    ``.reason``, ``.original_error``, an argument, or the cause/context of the raise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        candidates = [getattr(current, "original_error", None), getattr(current, "reason", None),
                      *getattr(current, "args", ()), current.__cause__, current.__context__]
        current = next((c for c in candidates if isinstance(c, BaseException) and id(c) not in seen), None)


def reason(exc: BaseException) -> str:
    """The innermost cause's name (ConnectionRefusedError, RemoteDisconnected, ...)."""
    for _ in range(5):
        args: tuple[Any, ...] = getattr(exc, "args", ())
        inner = getattr(exc, "reason", None) or (args[1] if len(args) > 1 else None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return type(exc).__name__


def _cause_of(exc: BaseException) -> BaseException:
    """What a ProxyError wraps (the error itself otherwise): the proxy flag says nothing by itself."""
    if isinstance(exc, u3.ProxyError):
        inner = getattr(exc, "original_error", None) or next(
            (a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is not None:
            return inner
    return exc


# OpenSSL's verify codes for a certificate that is fine but for another name.
_NAME_MISMATCH_CODES = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def _tls(exc: BaseException) -> tuple[str, str] | None:
    """("hostname" | "verify" | "handshake", OpenSSL's own words) when TLS failed, else None."""
    from urllib3.util.ssl_match_hostname import CertificateError as NameError_

    for cause in _causes(exc):
        if isinstance(cause, NameError_):  # urllib3's own host name check
            return "hostname", str(cause)[:200]
        code = getattr(cause, "verify_code", None)
        if code is not None:  # ssl.SSLCertVerificationError
            detail = str(getattr(cause, "verify_message", "") or cause)[:200]
            return ("hostname" if code in _NAME_MISMATCH_CODES else "verify"), detail
    # Other TLS errors count only as urllib3 reports a failed handshake (SSLError, maybe inside a
    # ProxyError): an SSL error wrapped in a ProtocolError is a connection lost while writing.
    outer = _cause_of(exc)
    if not isinstance(outer, (u3.SSLError, ssl.SSLError)):
        return None
    inner = next((c for c in _causes(outer) if isinstance(getattr(c, "reason", None), str)), None)
    return "handshake", (getattr(inner, "reason") if inner is not None else type(outer).__name__)  # a str: found so


def _tunnel_status(exc: BaseException) -> int | None:
    """The status a proxy answered CONNECT with, when it refused the tunnel: http.client raises
    ``OSError("Tunnel connection failed: 407 Proxy Authentication Required")``."""
    for cause in _causes(exc):
        match = re.match(r"Tunnel connection failed: (\d{3})", str(cause)) if type(cause) is OSError else None
        if match:
            return int(match.group(1))
    return None


def _is_connect_timeout(exc: BaseException) -> bool:
    # NewConnectionError (refused, unreachable) is a subclass of ConnectTimeoutError: not a timeout.
    return any(isinstance(c, u3.ConnectTimeoutError) and not isinstance(c, u3.NewConnectionError)
               for c in (exc, _cause_of(exc)))


def _is_refused(exc: BaseException) -> bool:
    return any(isinstance(c, (u3.NewConnectionError, ConnectionRefusedError)) for c in (exc, _cause_of(exc)))


def _is_read_timeout(exc: BaseException) -> bool:
    return (isinstance(exc, (u3.ReadTimeoutError, TimeoutError, socket.timeout))
            or isinstance(_cause_of(exc), TimeoutError))


# The table, first match wins: (test on the lower-level error, failure kind). Whether the request
# was written decides the rest: after it, any failure is an unknown outcome; before it, a failure
# with no row here is a connection lost before sending.
_KINDS: tuple[tuple[Callable[[BaseException], Any], str], ...] = (
    (_tls, TLS),  # a certificate will not change by asking again
    (lambda e: any(isinstance(c, (u3.NameResolutionError, socket.gaierror)) for c in _causes(e)), DNS),
    (lambda e: _tunnel_status(e) == 407, PROXY_AUTH),
    (lambda e: _tunnel_status(e) is not None, TUNNEL_REFUSED),
    (_is_connect_timeout, CONNECT_TIMEOUT),
    (_is_refused, REFUSED),
)


def kind_of(exc: BaseException, written: bool) -> str:
    if written:
        return AFTER_SEND
    return next((kind for test, kind in _KINDS if test(exc)), NOT_SENT)


@dataclass(frozen=True)
class Context:
    """What an error message names: the host, the proxy, the timeouts of the attempt."""

    host: str
    proxy: ProxyInfo | None
    timeout: tuple[float, float]


def is_loopback(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def map_error(exc: BaseException, *, written: bool, ctx: Context, request_id: str | None = None,
              http_status: int | None = None) -> errors.DmsError:
    """Our DmsError for a lower-level one, tagged with its failure kind.

    Whether the request was written decides, not the exception's class: through a proxy urllib3
    reports a connection that dropped after the request was sent as ``ProxyError`` too (the
    connection's "connected to the proxy" flag is reset when it closes, urllib3/urllib3#2160)."""
    kind = kind_of(exc, written)
    proxy_failed = isinstance(exc, u3.ProxyError)
    where = f"the proxy {ctx.proxy.shown}" if proxy_failed and ctx.proxy else ctx.host
    err: errors.DmsError
    if kind == AFTER_SEND:
        what = (f"no answer within {ctx.timeout[1]:g} s" if _is_read_timeout(exc)
                else f"the connection dropped ({reason(exc)})")
        via = f" through the proxy {ctx.proxy.shown}" if ctx.proxy else ""
        err = errors.OutcomeUnknownError(
            f"{what} after the request was sent to {ctx.host}{via}: the service may have processed (and billed) it",
            request_id=request_id, http_status=http_status)
    elif kind == TLS:
        err = _tls_error(*(_tls(exc) or ("handshake", type(exc).__name__)), ctx=ctx)
    elif kind == DNS:
        err = errors.TransportError(f"could not resolve the host of {where}: check the "
                                    f"{'proxy URL' if proxy_failed else 'endpoint'}", code="ConnectionError")
    elif kind == PROXY_AUTH:
        err = proxy_auth_error(ctx)
    elif kind == TUNNEL_REFUSED:
        shown = ctx.proxy.shown if ctx.proxy else "in between"
        err = errors.TransportError(
            f"the proxy {shown} refused to open a tunnel to {ctx.host} (HTTP {_tunnel_status(exc)} to CONNECT): "
            "check that the proxy allows this host and port", code="ConnectionError")
    elif kind == CONNECT_TIMEOUT:
        err = errors.TransportError(f"could not connect to {where} within {ctx.timeout[0]:g} s",
                                    code="ConnectionError")
    elif kind == REFUSED:
        err = errors.TransportError(f"could not connect to {where} ({reason(exc)})", code="ConnectionError")
        if not proxy_failed and is_loopback(ctx.host):  # the one likely cause, instead of the network checklist
            err.message += ": nothing is listening there"
            err.set_hint("if that is a local sandbox it may not be running: start one with `python -m "
                         f"dms_magic.sandbox --port {urlsplit('//' + ctx.host).port or 80}`, or use "
                         "`%dmschat config endpoint=sandbox` for one inside the kernel.")
    else:
        err = errors.TransportError(f"the connection to {where} failed before the request was sent "
                                    f"({reason(exc)})", code="ConnectionError")
    setattr(err, FAILURE_ATTR, kind)
    setattr(err, "reason", reason(exc))  # the stream names it when it breaks off
    return err


def _tls_error(kind: str, detail: str, *, ctx: Context) -> errors.TransportError:
    via = f" (reached through the proxy {ctx.proxy.shown})" if ctx.proxy else ""
    if kind == "hostname":
        return errors.TransportError(
            f"the TLS certificate presented by {ctx.host}{via} is not valid for that name (hostname "
            f"mismatch: {detail}): it belongs to another host; check the endpoint's host name",
            code="CertificateHostnameMismatch")
    if kind == "verify":
        return errors.TransportError(
            f"the TLS certificate of {ctx.host}{via} failed verification ({detail}): it is not signed by a "
            "CA this client trusts", code="CertificateVerifyFailed")
    return errors.TransportError(f"the TLS handshake with {ctx.host}{via} failed ({detail})", code="TLSError")


def proxy_auth_error(ctx: Context) -> errors.AuthError:
    """A 407 from the proxy: its credentials are missing or wrong. Names the variable they come
    from, never the credentials."""
    how = "http://user:password@host:port, special characters percent-encoded"
    if ctx.proxy is None:  # no proxy configured: one on the network path intercepts the call
        message = (f"a proxy between this machine and {ctx.host} asks for credentials: set "
                   f"HTTPS_PROXY/HTTP_PROXY to that proxy with its user and password ({how})")
    elif ctx.proxy.has_credentials:
        message = (f"the proxy {ctx.proxy.shown} refused the credentials given in "
                   f"{ctx.proxy.variable or 'its URL'}: check the user and password there ({how})")
    else:
        message = (f"the proxy {ctx.proxy.shown} requires credentials: put its user and "
                   f"password in {ctx.proxy.variable or 'its URL'} ({how})")
    err = errors.AuthError(message, code="ProxyAuthenticationRequired", http_status=407)
    setattr(err, FAILURE_ATTR, PROXY_AUTH)
    return err


# -- urllib3 ----------------------------------------------------------------------------------------
# Whether the current thread's request was fully written before it failed, and who to tell.
_progress = threading.local()


class _WriteTracking:
    """Marks the thread's request as fully written once http.client has sent all of it: a failure
    before that point proves the service cannot have run it (safe to retry); after it, not."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        _progress.written = False
        super().request(*args, **kwargs)  # type: ignore[misc]
        _progress.written = True
        on_sent = getattr(_progress, "on_sent", None)
        if on_sent is not None:
            _progress.on_sent = None
            on_sent()


class _HTTPConnection(_WriteTracking, HTTPConnection):
    pass


class _HTTPSConnection(_WriteTracking, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _UrllibResponse:
    """urllib3's response behind our Response protocol: read errors mapped like send errors."""

    def __init__(self, raw: Any, ctx: Context):
        self._raw, self._ctx = raw, ctx
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers

    def _mapped(self, exc: BaseException) -> errors.DmsError:
        return map_error(exc, written=True, ctx=self._ctx, request_id=self.headers.get("x-acs-request-id"),
                         http_status=self.status)

    def read(self) -> bytes:
        try:
            data = self._raw.data
        except LOW_LEVEL_ERRORS as exc:
            err = self._mapped(exc)
        else:
            self._raw.release_conn()
            return data
        self.close()
        raise err  # outside the except block: no chain into urllib3's frames

    def iter_bytes(self) -> Iterator[bytes]:
        """Bytes as they arrive (an SSE event must not wait for a buffer to fill); a body shorter
        than its Content-Length, or a chunked body cut off, raises."""
        while True:
            err = None
            try:
                data = self._raw.read1(65536)
            except LOW_LEVEL_ERRORS as exc:
                err = self._mapped(exc)
            if err is not None:
                raise err
            if not data:
                return
            yield data

    def close(self) -> None:
        """Close without reading the rest, and hand the connection back closed (the pool opens a
        fresh one): a half-read connection must not be reused."""
        try:
            self._raw.close()
            self._raw.release_conn()
        except Exception:  # noqa: BLE001 - best effort on a connection that may already be gone
            pass

    def shutdown(self) -> None:
        self._raw.shutdown()


class UrllibTransport:
    """One urllib3 pool to the endpoint, direct or through a proxy. Either way an exchange is one
    ``pool.urlopen``: through a proxy, an http endpoint's request names the absolute URL (the proxy
    forwards it), an https endpoint is tunnelled with CONNECT."""

    def __init__(self, endpoint_url: str, settings: ClientSettings | None = None):
        settings = settings or ClientSettings()
        parts = urlsplit(endpoint_url)
        proxy = settings.proxy
        if proxy is None and settings.trust_env:
            from requests.utils import get_environ_proxies, select_proxy

            proxy = select_proxy(endpoint_url, get_environ_proxies(endpoint_url))
        connect, read = settings.timeouts
        options: dict[str, Any] = {
            "maxsize": settings.pool_size, "block": False, "retries": False,
            "timeout": urllib3.Timeout(connect=connect, read=read), **_tls_options(settings),
        }
        manager = _proxy_manager(proxy, options) if proxy else urllib3.PoolManager(num_pools=1, **options)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self.manager = manager
        self.proxy = ProxyInfo(
            shown=_without_userinfo(proxy),
            has_credentials=urlsplit(proxy if "://" in proxy else "http://" + proxy).username is not None,
            variable=None if settings.proxy else _proxy_variable(endpoint_url, proxy)) if proxy else None
        self.endpoint_url = endpoint_url
        self.host = parts.netloc
        self.pool = manager.connection_from_url(endpoint_url)
        # Forwarded through a proxy (http endpoint): the request line carries the absolute URL.
        self.base = f"{parts.scheme}://{parts.netloc}" if proxy and parts.scheme == "http" else ""

    @property
    def proxied(self) -> bool:
        return self.proxy is not None

    def send(self, request: Request, *, timeout: tuple[float, float],
             on_sent: Callable[[], None] | None = None) -> Response:
        _progress.written, _progress.on_sent = False, on_sent
        err = None
        try:
            try:
                raw = self._urlopen(request, timeout)
            except u3.ClosedPoolError:  # close() ran (session.forget_clients): a closed client still works
                self.pool = self.manager.connection_from_url(self.endpoint_url)
                raw = self._urlopen(request, timeout)
        except LOW_LEVEL_ERRORS as exc:
            err = map_error(exc, written=getattr(_progress, "written", False),
                            ctx=Context(self.host, self.proxy, timeout))
        finally:
            _progress.on_sent = None
        if err is not None:
            raise err  # outside the except block: the error carries no chain into urllib3's frames
        return _UrllibResponse(raw, Context(self.host, self.proxy, timeout))

    def _urlopen(self, request: Request, timeout: tuple[float, float]) -> Any:
        return self.pool.urlopen(request.method, self.base + request.target, body=request.body,
                                 headers=dict(request.headers), retries=False, redirect=False,
                                 assert_same_host=False, preload_content=False, release_conn=False,
                                 timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))

    def close(self) -> None:
        """Close the kept-alive connections (a call afterwards opens new ones). A connection lent
        to a call in progress is closed when that call hands it back."""
        self.pool.close()  # PoolManager.clear() only forgets pools: closing idle sockets is the pool's job
        pools = [self.manager.pools.get(key) for key in self.manager.pools.keys()]
        self.manager.clear()
        for pool in pools:
            if pool is not None:
                pool.close()


def _tls_options(settings: ClientSettings) -> dict[str, Any]:
    """As requests: the setting, else REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else certifi's
    bundle (a file or a directory)."""
    bundle = settings.ca_bundle
    if bundle is None and settings.trust_env:
        bundle = next((os.environ[name] for name in ENV_CA_BUNDLES if os.environ.get(name)), None)
    if not bundle:
        import certifi

        bundle = certifi.where()
    if os.path.isdir(bundle):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": bundle}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": bundle}


def _proxy_manager(proxy: str, options: dict[str, Any]) -> urllib3.PoolManager:
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if parts.scheme.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise ValueError(f"the proxy {_without_userinfo(proxy)} is a SOCKS proxy: install PySocks "
                             "(pip install 'urllib3[socks]') to use it") from None
        return SOCKSProxyManager(proxy, num_pools=1, **options)
    headers = None
    if parts.username is not None:  # user:password@proxy, as requests accepts it
        headers = urllib3.make_headers(proxy_basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}")
    return urllib3.ProxyManager(parts.geturl(), num_pools=1, proxy_headers=headers, **options)


def _proxy_variable(endpoint_url: str, proxy: str) -> str:
    """The environment variable the proxy URL came from (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY);
    either case of the name may have been set."""
    scheme = urlsplit(endpoint_url).scheme
    for name in (f"{scheme}_proxy", "all_proxy"):
        for spelled in (name.upper(), name):
            if os.environ.get(spelled) == proxy:
                return spelled
    return f"{scheme.upper()}_PROXY"


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url if "://" in url else "http://" + url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


# -- in-process: for tests ----------------------------------------------------------------------------
class MockResponse:
    """A reply for MockTransport: ``json=`` (a body sent as JSON), ``content=`` (bytes or str), or
    ``chunks=`` (pieces of the body delivered one by one; an exception among them is raised there,
    as a connection breaking mid-body)."""

    def __init__(self, status: int = 200, *, json: Any = None, content: bytes | str = b"",
                 headers: Mapping[str, str] | None = None, chunks: list | None = None):
        self.status = status
        header_dict = urllib3.HTTPHeaderDict(headers or {})
        if json is not None:
            content = _json.dumps(json, ensure_ascii=False)
            header_dict.setdefault("Content-Type", "application/json;charset=utf-8")
        self.headers: Mapping[str, str] = header_dict  # the Response protocol's type; case-insensitive underneath
        self._chunks = list(chunks) if chunks is not None else [
            content.encode("utf-8") if isinstance(content, str) else content]
        self._ctx: Context | None = None
        self.closed = False

    def _raise(self, exc: BaseException) -> None:
        assert self._ctx is not None
        err = map_error(exc, written=True, ctx=self._ctx, request_id=self.headers.get("x-acs-request-id"),
                        http_status=self.status)
        raise err

    def iter_bytes(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self.closed:
                return
            if isinstance(chunk, BaseException):
                self._raise(chunk)
            yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def close(self) -> None:
        self.closed = True

    def shutdown(self) -> None:
        self.closed = True


@dataclass
class MockTransport:
    """A transport that calls ``handler(request) -> MockResponse`` in-process, recording every
    request in ``.requests``. A handler that raises plays a failed exchange: ConnectionRefusedError
    or socket.gaierror fail before anything was sent; any other error (TimeoutError,
    ConnectionResetError) after the request was written; ``NotSent(exc)`` before it was complete."""

    handler: Callable[[Request], MockResponse]
    host: str = "mock.invalid"
    requests: list = field(default_factory=list)
    proxy: ProxyInfo | None = None

    def send(self, request: Request, *, timeout: tuple[float, float],
             on_sent: Callable[[], None] | None = None) -> Response:
        self.requests.append(request)
        ctx = Context(self.host, self.proxy, timeout)
        err = None
        try:
            response = self.handler(request)
        except NotSent as exc:
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
            err = map_error(inner, written=False, ctx=ctx)
        except LOW_LEVEL_ERRORS as exc:
            err = map_error(exc, written=kind_of(exc, False) not in _BEFORE_SENDING, ctx=ctx)
        if err is not None:
            if getattr(err, FAILURE_ATTR) == AFTER_SEND and on_sent is not None:
                on_sent()
            raise err
        if on_sent is not None:
            on_sent()
        response._ctx = ctx
        return response

    def close(self) -> None:
        pass
