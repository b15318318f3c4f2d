"""DmsChatClient: ChatWithDesensitize over HTTP, signed like the official SDK, retried without double billing.

Transport: one urllib3 manager per client (requests' own engine, without requests' per-call
overhead): a ``PoolManager``, or a ``ProxyManager`` when HTTP(S)_PROXY / NO_PROXY route the
endpoint through a proxy. Either way the call is the same ``pool.urlopen``. TLS trusts
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, else certifi, as requests does. dms_magic itself
never touches a socket or an ssl context.

Retries (README "Retries"): a generation is not idempotent, so an attempt is repeated only when
the request provably did not reach the model: throttling, 503 ServiceUnavailable, and connections
that failed before the request was fully written (refused, reset while sending, connect timeout).
Through a proxy too: whether the request was written decides, not urllib3's ``ProxyError``.
After the request was sent, a read timeout or a dropped connection raises
``errors.OutcomeUnknownError``, and 500/502/504 replies raise as they are; ``retry_on_timeout=True``
retries those too. A stream follows the same rule until its first event, and is never repeated
after it. Waits: exponential backoff with full jitter, ``x-acs-retry-after`` (ms) / ``Retry-After``
(s) as a floor, bounded by ``max_retries`` and ``max_retry_time``. Every attempt is signed afresh.
"""
from __future__ import annotations

import codecs
import copy
import email.utils
import http.client
import json
import logging
import math
import numbers
import platform
import random
import re
import threading
import time
from typing import Any, Generator, Iterable, Iterator, Mapping
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import urllib3
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from dms_magic import errors
from dms_magic.wire import signing
from dms_magic.defaults import __version__
from dms_magic.client.credentials import CredentialError, CredentialSource, resolve
from dms_magic.defaults import CENTRAL_ENDPOINT, env_endpoint, env_instance_id
from dms_magic.defaults import ACTION, API_VERSION, SSE_ACTION
from dms_magic.wire.request import ChatRequest
from dms_magic.wire.result import ChatResult, StreamChunk, StreamState, assemble

log = logging.getLogger("dms_magic.client")

BACKEND_HEADER = "X-Dms-Magic-Backend"
USER_AGENT = f"dms-magic/{__version__} Python/{platform.python_version()}"
FORM_CONTENT_TYPE = signing.FORM_CONTENT_TYPE

from dms_magic.defaults import (  # noqa: E402  (the transport's defaults live with every other default)
    CONNECT_TIMEOUT_CAP, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_TIME, DEFAULT_TIMEOUT, ENV_CA_BUNDLES, MAX_SECONDS,
    POOL_SIZE, TRANSPORT_SETTINGS,
)


# -- arguments --------------------------------------------------------------------------------------
def parse_endpoint(endpoint: str | None) -> tuple[str, str, str]:
    """(scheme, host[:port], path) from a host or a URL; None -> $DMS_MAGIC_ENDPOINT -> central.

    ``dms-enterprise.cn-hangzhou.aliyuncs.com`` -> https; ``http://127.0.0.1:8765`` (the sandbox)
    keeps its scheme and port.
    """
    expected = f"expected a host such as {CENTRAL_ENDPOINT!r} or a URL such as 'http://127.0.0.1:8765'"
    if endpoint is None:
        endpoint = env_endpoint() or CENTRAL_ENDPOINT
    elif not isinstance(endpoint, str):
        raise TypeError(f"endpoint={endpoint!r} is invalid: {expected} (a str, not {type(endpoint).__name__})")
    endpoint = endpoint.strip()
    if not endpoint:
        raise ValueError(f"endpoint='' is empty: {expected}, or leave it out (None) for $DMS_MAGIC_ENDPOINT, "
                         "else the central endpoint")
    if any(ch.isspace() or not ch.isprintable() for ch in endpoint):
        raise ValueError(f"endpoint={endpoint!r} is invalid: it contains whitespace or a control character; "
                         f"{expected}")
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 - a non-numeric port raises here, not on the first call
    except ValueError:
        raise ValueError(f"endpoint={endpoint!r} has an invalid port; {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint={endpoint!r} is invalid: {expected}")
    return parts.scheme, parts.netloc, parts.path or "/"


def _seconds(name: str, value: Any, *, zero_ok: bool = False, high: float = MAX_SECONDS) -> float:
    """A finite number of seconds in (0, high] ([0, high] with zero_ok), else an error naming ``name``."""
    low = "[0" if zero_ok else "(0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} is invalid: expected a number of seconds in {low}, {high:g}]")
    try:
        seconds = float(value)
    except (OverflowError, ValueError):
        seconds = math.inf
    if not (0 <= seconds <= high) or (seconds == 0 and not zero_ok):  # NaN fails every comparison
        raise ValueError(f"{name}={value!r} is invalid: expected a number of seconds in {low}, {high:g}]")
    return seconds


def _count(name: str, value: Any, high: int = 100) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= high:
        raise ValueError(f"{name}={value!r} is invalid: expected an integer in [0, {high}]")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}={value!r} is invalid: expected True or False")
    return value


def transport_setting(name: str, value: Any) -> Any:
    """A TRANSPORT_SETTINGS value checked as the constructor checks it; strings (from
    ``%dmschat config``) are read as numbers / booleans first. Raises ValueError/TypeError naming it."""
    if isinstance(value, str):
        text = value.strip()
        if name == "retry_on_timeout":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"{name}={value!r} is invalid: expected true or false")
            value = lowered in ("true", "1", "yes", "on")
        else:
            try:
                value = int(text) if name == "max_retries" else float(text)
            except ValueError:
                raise ValueError(f"{name}={value!r} is invalid: expected a number") from None
    if name == "timeout":
        return _seconds(name, value)
    if name == "max_retry_time":
        return _seconds(name, value, zero_ok=True)
    if name == "max_retries":
        return _count(name, value)
    if name == "retry_on_timeout":
        return _flag(name, value)
    raise ValueError(f"{name!r} is not a transport setting (known: {', '.join(TRANSPORT_SETTINGS)})")


# Credentials go into headers (key id, STS token) or into the HMAC (secret): a CR/LF there would
# let a pasted value add headers or split the request, so any control character is refused.
_CREDENTIAL_FIELDS = ("access_key_id", "access_key_secret", "security_token")


def _has_control_character(value: Any) -> bool:
    return isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def _refuse_bad_credential(cred: Any) -> None:
    # The values are looked at in a helper frame that returns normally: the frame that raises holds
    # only the credential object, whose repr hides them.
    bad = next((name for name in _CREDENTIAL_FIELDS if _has_control_character(getattr(cred, name, None))), None)
    if bad is not None:
        raise CredentialError(f"the {bad} contains a control character (a line break, tab or similar), which "
                              "cannot go into a request; check how it was copied or exported (value not shown)")


class DmsChatClient:
    """A client for ChatWithDesensitize / ChatWithDesensitizeSSE.

    ``endpoint``: host or URL (central, regional ``dms-enterprise.<region>.aliyuncs.com``, vpc, or the
    sandbox's ``http://127.0.0.1:PORT``); default ``$DMS_MAGIC_ENDPOINT``, else the central endpoint.
    Credentials: explicit keys (+ STS ``security_token``), ``profile=``, a ``credentials=``
    CredentialSource, else the default chain (resolved on the first call).
    ``instance_id``: default ``$DMS_MAGIC_INSTANCE_ID``; a call's ``instance_id=`` wins.
    ``timeout``: seconds per HTTP read (connect is capped at 10 s). Retries (see the module
    docstring): ``max_retries`` extra attempts at most, none started after ``max_retry_time``
    seconds; ``retry_on_timeout=True`` also retries requests that may have reached the model.
    """

    def __init__(self, endpoint: str | None = None, *, access_key_id: str | None = None,
                 access_key_secret: str | None = None, security_token: str | None = None,
                 profile: str | None = None, instance_id: Any = None, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = DEFAULT_MAX_RETRIES, credentials: CredentialSource | None = None,
                 max_retry_time: float = DEFAULT_MAX_RETRY_TIME, backoff_base: float = 0.5,
                 backoff_cap: float = 8.0, retry_on_timeout: bool = False):
        self.scheme, self.host, self.path = parse_endpoint(endpoint)
        self.endpoint_url = f"{self.scheme}://{self.host}{self.path}"
        self.instance_id = instance_id if instance_id is not None else env_instance_id()
        read_timeout = _seconds("timeout", timeout)
        self.timeout = (min(CONNECT_TIMEOUT_CAP, read_timeout), read_timeout)
        self.max_retries = _count("max_retries", max_retries)
        self.max_retry_time = _seconds("max_retry_time", max_retry_time, zero_ok=True)
        self.backoff_base = _seconds("backoff_base", backoff_base, zero_ok=True, high=3600)
        self.backoff_cap = _seconds("backoff_cap", backoff_cap, zero_ok=True, high=3600)
        if self.backoff_cap < self.backoff_base:
            raise ValueError(f"backoff_cap={backoff_cap!r} is invalid: expected seconds >= backoff_base "
                             f"({backoff_base!r})")
        self.retry_on_timeout = _flag("retry_on_timeout", retry_on_timeout)
        self._profile = profile
        if credentials is not None:
            self._credentials: CredentialSource | None = credentials
        elif access_key_id or access_key_secret:
            for name, value in (("access_key_id", access_key_id), ("access_key_secret", access_key_secret),
                                ("security_token", security_token)):
                if value is not None and not isinstance(value, str):
                    raise TypeError(f"{name} is invalid: expected a str, not {type(value).__name__}")
            source = resolve(access_key_id, access_key_secret, security_token)
            assert source is not None  # explicit keys always make a source
            self._credentials = source
            _refuse_bad_credential(source.get())  # now, not on the first call
        else:
            self._credentials = None  # profile / default chain: resolved on the first call
        self.backend = self.host  # becomes "sandbox" when the sandbox says so
        self._http = _Http(self.endpoint_url, self.timeout)
        self._cancel: threading.Event | None = None  # set by cancellable(): no attempt is sent once it is set

    def cancellable(self, cancel: threading.Event) -> "DmsChatClient":
        """A copy of this client (same connection pool and credentials: nothing is opened twice)
        that sends no attempt once ``cancel`` is set: it raises ``errors.RequestCancelledError`` before
        sending, and a retry backoff in progress ends at once. A batch run uses it so that Ctrl-C
        stops every worker, not only the dispatching thread."""
        run_client = copy.copy(self)
        run_client._cancel = cancel
        return run_client

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
        The call returns once the first event has arrived (until then it may be retried).
        """
        params.setdefault("stream", True)
        request = self._build(prompt_or_messages, params, stream=True)
        query, form = request.to_wire(stream=True)
        started = time.perf_counter()
        response, (first, events) = self._send(SSE_ACTION, query, form, stream=True)
        return ChatStream(response, request=request, started=started, backend=self._backend_of(response),
                          first=first, events=events)

    def close(self) -> None:
        self._http.close()

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

    def _backend_of(self, response: Any) -> str:
        if response.headers.get(BACKEND_HEADER, "").lower() == "sandbox":
            self.backend = "sandbox"
        return self.backend

    def _backoff(self, attempt: int, response: Any) -> float:
        # Full jitter on an exponential ceiling (spreads out a crowd of notebooks retrying at once);
        # the server's own wait (x-acs-retry-after, Retry-After), when given, is a floor.
        delay = random.uniform(self.backoff_base, min(self.backoff_cap, self.backoff_base * 2.0 ** attempt))
        if response is not None:
            delay = max(delay, retry_after(response.headers) or 0.0)
        return delay

    def _signed_headers(self, source: CredentialSource, action: str, query_string: str, body: bytes,
                        stream: bool) -> "_SignedHeaders":
        """One attempt's headers, freshly signed. The credential and the signature are only ever
        locals of this frame, which returns normally; what leaves it hides them in its repr."""
        cred = source.get()
        _refuse_bad_credential(cred)
        return _SignedHeaders(signing.sign_headers(
            "POST", self.path, query_string, body, self.host, action, API_VERSION, cred.access_key_id,
            cred.access_key_secret, cred.security_token, user_agent=USER_AGENT,
            accept="text/event-stream" if stream else "application/json"))

    def _send(self, action: str, query: Mapping[str, str], form: Mapping[str, str], *,
              stream: bool) -> tuple[Any, Any]:
        """POST with signing and retries -> (response, parsed body), or for a stream (response,
        (first event's body, the remaining events)). Raises the DmsError of the last attempt."""
        body = urlencode(sorted(form.items())).encode("utf-8")  # as the SDK: sorted, quote_plus
        # The canonical query string (sorted, RFC 3986-encoded) is also a valid URL query: encode once.
        query_string = signing.canonical_query(query)
        target = f"{self.path}?{query_string}" if query_string else self.path
        source = self.credentials()
        deadline = time.monotonic() + self.max_retry_time
        attempt = 0
        while True:
            if self._cancel is not None and self._cancel.is_set():
                raise errors.RequestCancelledError(f"{action} was cancelled before attempt {attempt + 1} was sent")
            response = None
            try:
                response = self._http.post(target, body, self._signed_headers(source, action, query_string, body,
                                                                              stream), stream=stream)
                if response.status == 407 or 300 <= response.status < 400:
                    # The proxy wants credentials, or the endpoint points elsewhere: neither is the
                    # service's answer, and neither gets better by asking again.
                    _body(response)
                    err: errors.DmsError = (self._proxy_auth_error() if response.status == 407
                                            else self._redirect_error(response, action))
                elif response.status >= 400:
                    err = errors.from_response(response.status, _json(_body(response)),
                                               headers=response.headers, action=action)
                elif not stream:
                    # Business errors come with 200; throttling among them is retryable.
                    payload = _json(_body(response))
                    if not errors.is_failure(response.status, payload):
                        return response, payload
                    err = errors.from_response(response.status, payload, headers=response.headers, action=action)
                else:
                    outcome = _first_event(response)
                    if not isinstance(outcome, errors.DmsError):
                        return response, outcome
                    err = outcome
                    _discard(response)
                policy = _policy_for_reply(err)
            except _TRANSPORT_ERRORS as exc:
                # Headers that did arrive (a stream that broke before its first event) name the request.
                request_id = response.headers.get("x-acs-request-id") if response is not None else None
                err, policy = self._transport_error(exc, request_id,
                                                    response.status if response is not None else None)
                if response is not None:
                    _discard(response)
            # Raised here, outside the except block: the error carries no chain into urllib3's frames.
            if not (policy == _RETRY or (policy == _OPT_IN and self.retry_on_timeout)) or attempt >= self.max_retries:
                raise err
            delay = self._backoff(attempt, response)
            if time.monotonic() + delay > deadline:
                raise err
            attempt += 1
            log.info("%s: %s, retry %d/%d in %.2f s", action, err.code, attempt, self.max_retries, delay)
            if self._cancel is not None:
                self._cancel.wait(delay)  # a cancel ends the wait; the loop's check then raises
            else:
                time.sleep(delay)

    def _transport_error(self, exc: BaseException, request_id: str | None = None,
                         http_status: int | None = None) -> tuple[errors.DmsError, str]:
        """The DmsError for a failed exchange, and whether it may be retried: _RETRY when the request
        was not fully written (it cannot have reached the model), _OPT_IN when it was.

        Whether the request was written decides, not the exception's class: through a proxy urllib3
        reports a connection that dropped after the request was sent as ``ProxyError`` too (the
        connection's "connected to the proxy" flag is reset when it closes, urllib3/urllib3#2160),
        so a ProxyError says nothing about whether the service received the request."""
        if getattr(_progress, "written", False):
            inner = _cause_of(exc)
            what = (f"no answer within {self.timeout[1]:g} s"
                    if isinstance(exc, (u3.ReadTimeoutError, TimeoutError)) or isinstance(inner, TimeoutError)
                    else f"the connection dropped ({_reason(exc)})")
            via = f" through the proxy {self._http.proxy_shown}" if self._http.proxied else ""
            return errors.OutcomeUnknownError(
                f"{what} after the request was sent to {self.host}{via}: the service may have processed (and "
                "billed) it, so it was not retried automatically", request_id=request_id,
                http_status=http_status), _OPT_IN
        # Not fully written: nothing can have reached the model. Name what failed.
        proxy_failed = isinstance(exc, u3.ProxyError)
        where = f"the proxy {self._http.proxy_shown}" if proxy_failed else self.host
        tls = _tls_failure(exc)
        if tls is not None:  # a certificate will not change by asking again
            return self._tls_error(*tls), _NO
        if any(isinstance(cause, u3.NameResolutionError) for cause in _causes(exc)):
            return errors.TransportError(f"could not resolve the host of {where}: check the "
                                         f"{'proxy URL' if proxy_failed else 'endpoint'}",
                                         code="ConnectionError"), _NO
        tunnel_status = _tunnel_status(exc)
        if tunnel_status == 407:
            return self._proxy_auth_error(), _NO
        if tunnel_status is not None:  # the proxy answered the CONNECT with a refusal (403, 502, ...)
            return errors.TransportError(
                f"the proxy {self._http.proxy_shown} refused to open a tunnel to {self.host} (HTTP "
                f"{tunnel_status} to CONNECT): check that the proxy allows this host and port",
                code="ConnectionError"), _RETRY
        connect_failure = next((c for c in (exc, _cause_of(exc)) if isinstance(c, u3.ConnectTimeoutError)), None)
        # (NewConnectionError, a refused or unreachable host, is a subclass of ConnectTimeoutError.)
        if connect_failure is not None and not isinstance(connect_failure, u3.NewConnectionError):
            return errors.TransportError(f"could not connect to {where} within {self.timeout[0]:g} s",
                                         code="ConnectionError"), _RETRY
        if proxy_failed or connect_failure is not None:
            return errors.TransportError(f"could not connect to {where} ({_reason(exc)})",
                                         code="ConnectionError"), _RETRY
        return errors.TransportError(f"the connection to {where} failed before the request was sent "
                                     f"({_reason(exc)})", code="ConnectionError"), _RETRY

    def _tls_error(self, kind: str, detail: str) -> errors.TransportError:
        via = f" (reached through the proxy {self._http.proxy_shown})" if self._http.proxied else ""
        if kind == "hostname":
            return errors.TransportError(
                f"the TLS certificate presented by {self.host}{via} is not valid for that name (hostname "
                f"mismatch: {detail}): it belongs to another host; check the endpoint's host name",
                code="CertificateHostnameMismatch")
        if kind == "verify":
            return errors.TransportError(
                f"the TLS certificate of {self.host}{via} failed verification ({detail}): it is not signed by a "
                "CA this client trusts", code="CertificateVerifyFailed")
        return errors.TransportError(f"the TLS handshake with {self.host}{via} failed ({detail})", code="TLSError")

    def _proxy_auth_error(self) -> errors.AuthError:
        """A 407 from the proxy: its credentials (from the proxy URL) are missing or wrong. Names the
        variable they come from, never the credentials."""
        how = "http://user:password@host:port, special characters percent-encoded"
        if not self._http.proxied:  # no proxy configured: one on the network path intercepts the call
            message = (f"a proxy between this machine and {self.host} asks for credentials: set "
                       f"HTTPS_PROXY/HTTP_PROXY to that proxy with its user and password ({how})")
        elif self._http.proxy_has_credentials:
            message = (f"the proxy {self._http.proxy_shown} refused the credentials given in "
                       f"{self._http.proxy_variable}: check the user and password there ({how})")
        else:
            message = (f"the proxy {self._http.proxy_shown} requires credentials: put its user and "
                       f"password in {self._http.proxy_variable} ({how})")
        return errors.AuthError(message, code="ProxyAuthenticationRequired", http_status=407)

    def _redirect_error(self, response: Any, action: str) -> errors.DmsError:
        location = response.headers.get("Location")
        where = f" to {_shown_url(urljoin(self.endpoint_url, location))}" if location else " (no Location given)"
        return errors.DmsError(
            f"the endpoint {self.endpoint_url} answered with a redirect{where}; "
            "redirects are not followed (the request is signed for one host, and a generation must not be "
            "sent twice)", code="Redirect", http_status=response.status,
            request_id=response.headers.get("x-acs-request-id"), action=action)


# Retry policies: always (the request did not reach the model), only with retry_on_timeout=True
# (it may have), never (asking again cannot help).
_RETRY, _OPT_IN, _NO = "retry", "opt-in", "no"


def _policy_for_reply(err: errors.DmsError) -> str:
    """What a reply from the service allows. Throttling and 503 ServiceUnavailable are refusals
    before the model; other 5xx (InternalError, 502, 504) may come after it ran."""
    if isinstance(err, errors.OutcomeUnknownError):  # a stream that ended before its first event
        return _OPT_IN
    if err.http_status in (502, 504):  # a gateway's upstream failed or timed out: the model may have run
        return _OPT_IN if errors.is_retryable(err) else _NO
    if isinstance(err, errors.ThrottlingError) or err.code == "ServiceUnavailable" or err.http_status == 503:
        return _RETRY
    if errors.is_retryable(err):
        return _OPT_IN
    return _NO


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait: ``x-acs-retry-after`` (milliseconds, as the official SDK
    reads it) or ``Retry-After`` (seconds or an HTTP date); None when absent or unreadable."""
    value = headers.get("x-acs-retry-after")
    if value is not None:
        try:
            seconds = float(value) / 1000
        except ValueError:
            seconds = math.nan
    else:
        value = headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _reason(exc: BaseException) -> str:
    """The innermost cause's name (ConnectionRefusedError, RemoteDisconnected, ...): urllib3 wraps
    the socket error in its own, as ``.reason``, the second argument, or the cause."""
    for _ in range(5):
        args: tuple = getattr(exc, "args", ())
        inner = getattr(exc, "reason", None) or (args[1] if len(args) > 1 else None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return type(exc).__name__


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the errors it wraps, outermost first: urllib3 keeps the underlying error as
    ``.reason``, ``.original_error``, an argument, or the cause/context of the raise."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 8:
        seen.add(id(exc))
        yield exc
        candidates = [getattr(exc, "original_error", None), getattr(exc, "reason", None), *getattr(exc, "args", ()),
                      exc.__cause__, exc.__context__]
        exc = next((c for c in candidates if isinstance(c, BaseException) and id(c) not in seen), None)


def _cause_of(exc: BaseException) -> BaseException:
    """What a ProxyError wraps (the error itself otherwise): the proxy flag says nothing by itself."""
    if isinstance(exc, u3.ProxyError):
        inner = getattr(exc, "original_error", None) or next(
            (a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is not None:
            return inner
    return exc


# OpenSSL's verify codes for a certificate that is fine but for another name (X509_V_ERR_HOSTNAME_MISMATCH,
# X509_V_ERR_IP_ADDRESS_MISMATCH).
_NAME_MISMATCH_CODES = (62, 64)


def _tls_failure(exc: BaseException) -> tuple[str, str] | None:
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
    if not isinstance(outer, u3.SSLError):
        return None
    inner = next((c for c in _causes(outer) if isinstance(getattr(c, "reason", None), str)), None)
    return "handshake", (getattr(inner, "reason") if inner is not None else type(outer).__name__)


def _tunnel_status(exc: BaseException) -> int | None:
    """The status a proxy answered CONNECT with, when it refused the tunnel: http.client raises
    ``OSError("Tunnel connection failed: 407 Proxy Authentication Required")``."""
    for cause in _causes(exc):
        match = re.match(r"Tunnel connection failed: (\d{3})", str(cause)) if type(cause) is OSError else None
        if match:
            return int(match.group(1))
    return None


def _shown_url(url: str) -> str:
    """A URL a server sent, safe to show: scheme, host, port and path (no user:password, no query)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"[:300]


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


# -- HTTP -----------------------------------------------------------------------------------------
# What a failed exchange raises: urllib3's errors, and the socket / http.client errors that reach
# us unwrapped while a streamed body is read.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (u3.HTTPError, OSError, http.client.HTTPException)

# Whether the current thread's request was fully written before it failed (see _send).
_progress = threading.local()


class _WriteTracking:
    """Marks the thread's request as fully written once http.client has sent all of it: a failure
    before that point proves the service cannot have run it (safe to retry); after it, not."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        _progress.written = False
        super().request(*args, **kwargs)  # type: ignore[misc]
        _progress.written = True


class _HTTPConnection(_WriteTracking, HTTPConnection):
    pass


class _HTTPSConnection(_WriteTracking, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _SignedHeaders(dict):
    """The request headers; the repr names them but hides every value (the STS token and the
    signature are among them), so a traceback's locals or a debugger never show them."""

    def __repr__(self) -> str:
        return f"<signed headers {', '.join(self)} (values hidden)>"

    __str__ = __repr__

    def copy(self) -> "_SignedHeaders":
        return _SignedHeaders(self)


class _Http:
    """One urllib3 pool to the endpoint, direct or through the environment's proxy.

    The manager is a ``PoolManager``, or a ``ProxyManager`` when HTTP(S)_PROXY / ALL_PROXY apply
    to the endpoint and NO_PROXY does not exclude it (requests' own reading of those variables).
    Either way a call is one ``pool.urlopen``: through a proxy, an http endpoint's request names
    the absolute URL (the proxy forwards it), an https endpoint is tunnelled with CONNECT.
    """

    def __init__(self, endpoint_url: str, timeout: tuple[float, float]):
        from requests.utils import get_environ_proxies, select_proxy

        parts = urlsplit(endpoint_url)
        proxy = select_proxy(endpoint_url, get_environ_proxies(endpoint_url))
        options: dict[str, Any] = {
            "maxsize": POOL_SIZE, "block": False, "retries": False,
            "timeout": urllib3.Timeout(connect=timeout[0], read=timeout[1]), **_tls_options(),
        }
        if proxy:
            manager: urllib3.PoolManager = _proxy_manager(proxy, options)
        else:
            manager = urllib3.PoolManager(num_pools=1, **options)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self.manager = manager
        self.proxy_shown = _without_userinfo(proxy) if proxy else None
        self.proxy_has_credentials = proxy is not None and urlsplit(
            proxy if "://" in proxy else "http://" + proxy).username is not None
        self.proxy_variable = _proxy_variable(endpoint_url, proxy) if proxy else None
        self.endpoint_url = endpoint_url
        self.pool = manager.connection_from_url(endpoint_url)
        # Forwarded through a proxy (http endpoint): the request line carries the absolute URL.
        self.base = f"{parts.scheme}://{parts.netloc}" if proxy and parts.scheme == "http" else ""

    @property
    def proxied(self) -> bool:
        return self.proxy_shown is not None

    def post(self, target: str, body: bytes, headers: Mapping[str, str], *, stream: bool) -> Any:
        """The response, its body unread (``_body`` reads a plain reply's): a body that stalls after
        the headers then fails with the headers at hand, so the error names the request id."""
        _progress.written = False
        try:
            return self._urlopen(target, body, headers, stream)
        except u3.ClosedPoolError:  # close() ran (session.forget_clients): a closed client still works
            self.pool = self.manager.connection_from_url(self.endpoint_url)
            return self._urlopen(target, body, headers, stream)

    def _urlopen(self, target: str, body: bytes, headers: Mapping[str, str], stream: bool) -> Any:
        return self.pool.urlopen("POST", self.base + target, body=body, headers=headers, retries=False,
                                 redirect=False, assert_same_host=False, preload_content=False,
                                 release_conn=False)

    def close(self) -> None:
        """Close the kept-alive connections (a call afterwards opens new ones). A connection lent
        to a call in progress is closed when that call hands it back."""
        self.pool.close()  # PoolManager.clear() only forgets pools: closing idle sockets is the pool's job
        _close_pools(self.manager)


def _close_pools(manager: urllib3.PoolManager) -> None:
    """Close every pool of ``manager`` (their idle connections with them) and forget them. (A client
    garbage-collected without close() needs nothing of ours: urllib3 closes a collected pool's
    connections itself.)"""
    pools = [manager.pools.get(key) for key in manager.pools.keys()]
    manager.clear()
    for pool in pools:
        if pool is not None:
            pool.close()


def _tls_options() -> dict[str, Any]:
    """As requests: REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else certifi's bundle (a file or a directory)."""
    import os

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
    """The environment variable the proxy URL came from (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY), for
    errors that ask the user to fix it; either case of the name may have been set."""
    import os

    scheme = urlsplit(endpoint_url).scheme
    for name in (f"{scheme}_proxy", "all_proxy"):
        for spelled in (name.upper(), name):
            if os.environ.get(spelled) == proxy:
                return spelled
    return f"{scheme.upper()}_PROXY"


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url if "://" in url else "http://" + url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def _body(response: Any) -> bytes:
    """A plain reply's whole body; its connection then goes back to the pool for the next call."""
    data = response.data
    response.release_conn()
    return data


def _discard(response: Any) -> None:
    """Close a response whose body we will not read to the end, and hand its connection back
    closed (the pool opens a fresh one): a half-read connection must not be reused."""
    try:
        response.close()
        response.release_conn()
    except Exception:  # noqa: BLE001 - best effort on a connection that may already be gone
        pass


# -- streamed replies -----------------------------------------------------------------------------
_END = "[DONE]"  # OpenAI's end marker: DMS does not send it, a proxy might


def _event_data(response: Any) -> Iterator[tuple[str, bool]]:
    """(data, complete) per SSE event with data, keep-alives skipped. ``complete`` is False for a
    last event that the body ended in the middle of. A plain JSON reply is one event."""
    if "json" in response.headers.get("Content-Type", "").lower():
        yield response.data.decode("utf-8", "replace"), True
        return
    for event in parse_sse(_body_chunks(response)):
        if event.data.strip():
            yield event.data, event.complete


def _body_chunks(response: Any) -> Iterator[bytes]:
    """Bytes as they arrive (an SSE event must not wait for a buffer to fill); a body shorter than
    its Content-Length, or a chunked body cut off, raises (urllib3's IncompleteRead / ProtocolError)."""
    while True:
        data = response.read1(65536)
        if not data:
            return
        yield data


class _CutOff(Exception):
    """The body ended inside an event (raised by _decode_event; the caller builds the error)."""


def _decode_event(data: str, complete: bool) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        if not complete:  # the body ended inside this event: a cut-off stream, not a bad event
            raise _CutOff from None
        raise errors.DmsError(f"unreadable stream event: {data[:200]!r}", code="InvalidResponse") from None


def _first_event(response: Any) -> Any:
    """(first event's body, the remaining events) of a stream that started well, or the DmsError
    that its first event carries (an error event, or the body ending before any event)."""
    events = _event_data(response)
    for data, complete in events:
        if data.strip() == _END:
            return None, iter([(_END, True)])
        try:
            body = _decode_event(data, complete)
        except _CutOff:
            return _ended_early("in the middle of its first event", response)
        except errors.DmsError as exc:
            return exc
        if errors.is_failure(200, body):
            return errors.from_response(response.status, body, headers=response.headers, action=SSE_ACTION)
        return body, events
    return _ended_early("before its first event", response)


def _ended_early(where: str, response: Any) -> errors.OutcomeUnknownError:
    return errors.OutcomeUnknownError(
        f"the stream ended {where}: the service may have processed (and billed) the request, so it was not "
        "retried automatically", request_id=response.headers.get("x-acs-request-id"))


def _truncated(what: str, partial_text: str, request_id: str | None) -> errors.TruncatedStreamError:
    err = errors.TruncatedStreamError(
        f"{what}: the answer is incomplete ({len(partial_text)} characters received, kept on .partial_text); "
        "the service processed the request, so it was not retried", request_id=request_id)
    err.partial_text = partial_text
    return err


def _is_final(finish_reason: Any) -> bool:
    return finish_reason not in (None, "", "null")  # DashScope sends "null" on events before the last


class ChatStream:
    """Iterate for StreamChunks; ``.result`` (the assembled ChatResult) once the stream has ended
    (reading ``.result`` early consumes the rest of the stream).

    A stream that ends without its final event (no finish reason, no end marker) or breaks off
    raises ``errors.TruncatedStreamError`` (code TruncatedStream, ``.partial_text``). ``close()``
    may be called from any thread: a reader blocked on the network returns at once and the
    iteration ends quietly; ``.result`` then raises RuntimeError (the answer is partial).
    """

    def __init__(self, response: Any, *, request: ChatRequest, started: float, backend: str,
                 first: Any = None, events: Iterator[tuple[str, bool]] | None = None):
        self._response = response
        self.request = request
        self.backend = backend
        self._started = started
        self._first = first  # the first event's body, read while the call could still be retried
        self._events = events if events is not None else _event_data(response)
        self._chunks: list[StreamChunk] = []
        self._state = StreamState()  # increments or text so far: decided from the events
        self._iterator = self._run()
        self._reading = threading.Lock()  # held by whichever thread is stepping the iterator
        self._result: ChatResult | None = None
        self._error: Exception | None = None  # why the stream failed, re-raised by .result
        self._closed = False
        self._ended = False  # an explicit end marker arrived

    def __iter__(self) -> Iterator[StreamChunk]:
        return self

    def __next__(self) -> StreamChunk:
        with self._reading:
            return next(self._iterator)

    @property
    def chunks(self) -> list[StreamChunk]:
        return list(self._chunks)

    @property
    def result(self) -> ChatResult:
        """The assembled answer; raises the stream's error if it failed (never a silent None)."""
        if self._result is None and self._error is None:
            for _ in self:
                pass
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError("the stream was closed or interrupted before it ended, so it has no result; "
                               "the chunks received so far are in .chunks")
        return self._result

    def close(self) -> None:
        """Stop reading and drop the connection; iterating afterwards yields nothing more. Safe from
        another thread while one is reading."""
        self._closed = True
        if self._reading.acquire(blocking=False):
            try:
                self._iterator.close()  # not being read: end it here (its finally drops the connection)
            finally:
                self._reading.release()
            return
        # Another thread is inside a read: shut the socket's reading side so that read returns now;
        # that thread then sees _closed, ends the iteration and drops the connection itself.
        try:
            self._response.shutdown()
        except (ValueError, RuntimeError, OSError):
            pass  # already released or closed: the reader is finishing anyway

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _request_id(self) -> str | None:
        for chunk in self._chunks:
            if chunk.request_id:
                return chunk.request_id
        return self._response.headers.get("x-acs-request-id")

    def _run(self) -> Generator[StreamChunk, None, None]:
        response = self._response
        error: Exception | None = None
        try:
            pending = [self._first] if self._first is not None else []
            while True:
                if pending:
                    body = pending.pop()
                else:
                    if self._closed:
                        return
                    item = next(self._events, None)
                    if item is None:
                        break
                    data, complete = item
                    if data.strip() == _END:
                        self._ended = True
                        break
                    body = _decode_event(data, complete)
                if errors.is_failure(200, body):
                    raise errors.from_response(response.status, body, headers=response.headers,
                                               action=SSE_ACTION)
                chunk = StreamChunk.from_event(body, index=len(self._chunks), state=self._state)
                self._chunks.append(chunk)
                yield chunk
        except _TRANSPORT_ERRORS as exc:
            if self._closed:  # our own close() cut the read short: a quiet end
                return
            error = _truncated(f"the stream broke off after {len(self._chunks)} events ({_reason(exc)})",
                               self._partial_text(), self._request_id())
        except _CutOff:
            error = _truncated(f"the stream ended in the middle of event {len(self._chunks) + 1}",
                               self._partial_text(), self._request_id())
        except Exception as exc:
            if self._closed and isinstance(exc, ValueError):  # a read on a connection close() just shut
                return
            self._error = exc
            raise
        finally:
            _discard(response)
        if error is not None:
            self._error = error
            raise error  # outside the except block: no chain into urllib3's frames
        if self._closed:  # closed from another thread: the body ended early, the answer is partial
            return
        result = assemble(self._chunks, request=self.request, latency=time.perf_counter() - self._started,
                          backend=self.backend, headers=response.headers)
        if not (self._ended or _is_final(result.finish_reason)):
            self._error = _truncated(f"the stream ended after {len(self._chunks)} events without its final one "
                                     "(no finish reason)", result.text, result.request_id or self._request_id())
            raise self._error
        self._result = result

    def _partial_text(self) -> str:
        return assemble(self._chunks, request=self.request).text


# -- Server-Sent Events ---------------------------------------------------------------------------
class SSEEvent:
    """One dispatched event. ``complete`` is False for a last event the body ended inside of
    (no blank line after it): it may have been cut off."""

    __slots__ = ("event", "data", "id", "retry", "complete")

    def __init__(self, event: str, data: str, id: str | None, retry: int | None, complete: bool = True):
        self.event, self.data, self.id, self.retry, self.complete = event, data, id, retry, complete

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
        yield SSEEvent(event or "message", "\n".join(data), last_id, retry, complete=False)
