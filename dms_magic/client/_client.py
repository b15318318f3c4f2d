"""DmsChatClient: ChatWithDesensitize over HTTP, signed like the official SDK, retried without
double billing.

The client builds and signs each attempt and runs the send loop; what an exchange is belongs to the
transport (``_transport.py``), whether to send again to the retry policy (``_retry.py``), reading a
stream to ``_stream.py``. Invariants kept here: every attempt is signed afresh (a new nonce and
date); credentials and signatures live only in frames that return normally and in headers whose
repr hides them; errors are raised outside ``except`` blocks, so no traceback frame chains into
urllib3 with a secret in its locals; a cancelled client sends no further attempt.
"""
from __future__ import annotations

import copy
import logging
import platform
import threading
import time
from typing import Any, Mapping
from urllib.parse import urlencode, urljoin, urlsplit

from dms_magic import errors
from dms_magic.client import _transport as T
from dms_magic.client._args import callback, mask_userinfo, parse_endpoint, refuse_bad_credential, timeout_pair
from dms_magic.client._events import Progress, ProgressEvent, report
from dms_magic.client._retry import Attempts, RetryPolicy
from dms_magic.client._settings import ClientSettings
from dms_magic.client._stream import ChatStream, first_event
from dms_magic.client.credentials import CredentialError, CredentialSource, check_secret_types, hide, resolve
from dms_magic.defaults import __version__, env_instance_id
from dms_magic.wire import jsonread, signing
from dms_magic.defaults import ACTION, API_VERSION, SSE_ACTION
from dms_magic.wire.request import ChatRequest
from dms_magic.wire.result import ChatResult

log = logging.getLogger("dms_magic.client")

BACKEND_HEADER = "X-Dms-Magic-Backend"
USER_AGENT = f"dms-magic/{__version__} Python/{platform.python_version()}"


class _SignedHeaders(dict):
    """The request headers; the repr names them but hides every value (the STS token and the
    signature are among them), so a traceback's locals or a debugger never show them."""

    def __repr__(self) -> str:
        return f"<signed headers {', '.join(self)} (values hidden)>"

    __str__ = __repr__

    def copy(self) -> "_SignedHeaders":
        return _SignedHeaders(self)


class DmsChatClient:
    """A client for ChatWithDesensitize / ChatWithDesensitizeSSE.

    ``endpoint``: host or URL (central, regional ``dms-enterprise.<region>.aliyuncs.com``, vpc, or the
    sandbox's ``http://127.0.0.1:PORT``); default ``$DMS_MAGIC_ENDPOINT``, else the central endpoint.
    Credentials: explicit keys (+ STS ``security_token``), ``profile=``, a ``credentials=``
    CredentialSource, else the default chain (resolved on the first call).
    ``instance_id``: default ``$DMS_MAGIC_INSTANCE_ID``; a call's ``instance_id=`` wins.
    ``settings``: timeouts, retries, pool, proxy, TLS, user agent (ClientSettings).
    ``transport``: what carries the requests (default: urllib3, UrllibTransport; tests: MockTransport).
    ``retry_policy``: default ``RetryPolicy(settings)``; give one to inject its sleep, clock and random
    source (its own settings' budget then rules the retries).
    """

    def __init__(self, endpoint: str | None = None, *, access_key_id: str | None = None,
                 access_key_secret: str | None = None, security_token: str | None = None,
                 profile: str | None = None, instance_id: Any = None, credentials: CredentialSource | None = None,
                 settings: ClientSettings | None = None, transport: T.Transport | None = None,
                 retry_policy: RetryPolicy | None = None):
        # First, before anything can raise: tracebacks with locals (%xmode Verbose) print this
        # frame's arguments, so the raw secret and token must not stay in it (credentials.Secret).
        access_key_secret, security_token = hide(access_key_secret), hide(security_token)
        endpoint = mask_userinfo(endpoint)  # a password in the endpoint is refused below, never kept here
        self.scheme, self.host, self.path = parse_endpoint(endpoint)
        self.endpoint_url = f"{self.scheme}://{self.host}{self.path}"
        self.instance_id = instance_id if instance_id is not None else env_instance_id()
        if settings is None:
            settings = ClientSettings()
        elif not isinstance(settings, ClientSettings):
            raise TypeError(f"settings={settings!r} is invalid: expected a ClientSettings")
        self.settings = settings
        self.user_agent = settings.user_agent(USER_AGENT)
        self.retry_policy = retry_policy or RetryPolicy(settings)
        self._profile = profile
        if credentials is not None:
            self._credentials: CredentialSource | None = credentials
        elif access_key_id or access_key_secret:
            if access_key_id is not None and not isinstance(access_key_id, str):
                raise TypeError(f"access_key_id is invalid: expected a str, not {type(access_key_id).__name__}")
            check_secret_types(access_key_secret=access_key_secret, security_token=security_token)
            self._credentials = resolve(access_key_id, access_key_secret, security_token)
            assert self._credentials is not None  # resolve() gives a source whenever a key is given
            refuse_bad_credential(self._credentials.get())  # now, not on the first call
        else:
            self._credentials = None  # profile / default chain: resolved on the first call
        self.backend = self.host  # becomes "sandbox" when the sandbox says so
        self.transport: T.Transport = transport if transport is not None else T.UrllibTransport(
            self.endpoint_url, settings)
        self._cancel: threading.Event | None = None  # set by cancellable(): no attempt is sent once it is set

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds of each attempt, unless a call says otherwise."""
        return self.settings.timeouts

    def cancellable(self, cancel: threading.Event) -> "DmsChatClient":
        """A copy of this client (same connection pool and credentials: nothing is opened twice)
        that sends no attempt once ``cancel`` is set: it raises ``errors.RequestCancelledError`` before
        sending, and a retry backoff in progress ends at once. A batch run uses it so that Ctrl-C
        stops every worker, not only the dispatching thread."""
        run_client = copy.copy(self)
        run_client._cancel = cancel
        return run_client

    # -- public API ------------------------------------------------------------------------------
    def chat(self, prompt_or_messages: Any, *, progress: Progress | None = None,
             timeout: float | tuple[float, float] | None = None, **params: Any) -> ChatResult:
        """One ChatWithDesensitize call. A string is one user message; keywords are params.py names.
        ``timeout``: seconds per read for this call (or a (connect, read) pair); ``progress``: a
        callable given a ProgressEvent as the call proceeds."""
        timeouts = self._timeouts(timeout)
        callback("progress", progress)  # before any traffic, not a logged TypeError at every event
        request = self._build(prompt_or_messages, params, stream=False)
        query, form = request.to_wire(stream=False)
        started = time.perf_counter()
        response, body, attempt = self._send(ACTION, query, form, stream=False, progress=progress,
                                             timeouts=timeouts)
        latency = time.perf_counter() - started
        result = ChatResult.from_response(body, request=request, latency=latency, backend=self._backend_of(response),
                                          headers=response.headers)
        report(progress, ProgressEvent("done", attempt, self.settings.max_retries + 1, elapsed_s=latency))
        return result

    def stream(self, prompt_or_messages: Any, *, progress: Progress | None = None,
               timeout: float | tuple[float, float] | None = None, **params: Any) -> ChatStream:
        """ChatWithDesensitizeSSE: iterate the returned ChatStream for StreamChunks; ``.result`` at the end.

        ``stream=True`` is sent for you (DMS streams only when asked); ``include_usage`` is yours to set.
        The call returns once the first event has arrived (until then it may be retried).
        ``timeout`` and ``progress`` as for ``chat``; ``done``/``failed`` come when the stream ends.
        """
        timeouts = self._timeouts(timeout)
        callback("progress", progress)  # before any traffic, not a logged TypeError at every event
        params.setdefault("stream", True)
        request = self._build(prompt_or_messages, params, stream=True)
        query, form = request.to_wire(stream=True)
        started = time.perf_counter()
        response, (first, events), attempt = self._send(SSE_ACTION, query, form, stream=True, progress=progress,
                                                        timeouts=timeouts)
        max_attempts = self.settings.max_retries + 1

        def on_end(error: Exception | None) -> None:
            report(progress, ProgressEvent("failed" if error else "done", attempt, max_attempts,
                                           reason=getattr(error, "code", "") if error else "",
                                           elapsed_s=time.perf_counter() - started))

        return ChatStream(response, request=request, started=started, backend=self._backend_of(response),
                          first=first, events=events, on_end=on_end if progress is not None else None)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "DmsChatClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        # getattr with defaults: a constructor that failed half-way still has a repr, and renderers of
        # tracebacks with locals (%xmode Verbose, rich) call it on that half-built object.
        source = getattr(self, "_credentials", None)
        profile = getattr(self, "_profile", None)
        creds = source.kind if source is not None else (
            f"profile:{profile}" if profile else "default chain (not resolved yet)")
        endpoint = getattr(self, "endpoint_url", None)
        if endpoint is None:
            return "DmsChatClient(not constructed)"
        return (f"DmsChatClient({endpoint!r}, instance_id={getattr(self, 'instance_id', None)!r}, "
                f"credentials={creds})")

    # -- internals -------------------------------------------------------------------------------
    def _timeouts(self, timeout: Any) -> tuple[float, float]:
        pair = timeout_pair(timeout)
        if pair is None:
            return self.timeout
        connect, read = pair
        return (min(self.settings.connect_timeout, read) if connect is None else connect), read

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

    def _signed_headers(self, source: CredentialSource, action: str, query_string: str, body: bytes,
                        stream: bool) -> _SignedHeaders:
        """One attempt's headers, freshly signed. The credential and the signature are only ever
        locals of this frame, which returns normally; what leaves it hides them in its repr."""
        cred = source.get()
        refuse_bad_credential(cred)
        return _SignedHeaders(signing.sign_headers(
            "POST", self.path, query_string, body, self.host, action, API_VERSION, cred.access_key_id,
            cred.access_key_secret, cred.security_token, user_agent=self.user_agent,
            accept="text/event-stream" if stream else "application/json"))

    def _context(self, timeouts: tuple[float, float]) -> T.Context:
        return T.Context(self.host, getattr(self.transport, "proxy", None), timeouts)

    def _attempt(self, action: str, target: str, query_string: str, body: bytes, source: CredentialSource, *,
                 stream: bool, timeouts: tuple[float, float], on_sent: Any) -> tuple[Any, Any]:
        """One exchange -> (response, payload) on success, or (response or None, DmsError)."""
        request = T.Request("POST", target, self._signed_headers(source, action, query_string, body, stream), body)
        try:
            response = self.transport.send(request, timeout=timeouts, on_sent=on_sent)
        except errors.DmsError as exc:
            return None, exc
        try:
            if response.status == 407 or 300 <= response.status < 400:
                # The proxy wants credentials, or the endpoint points elsewhere: neither is the
                # service's answer, and neither gets better by asking again.
                response.read()
                return response, (T.proxy_auth_error(self._context(timeouts)) if response.status == 407
                                  else self._redirect_error(response, action))
            if response.status >= 400:
                return response, errors.from_response(response.status, _json(response.read()),
                                                      headers=response.headers, action=action)
            if not stream:
                payload = _json(response.read())  # business errors come with 200 too
                if not errors.is_failure(response.status, payload):
                    empty = errors.empty_answer(response.status, payload, headers=response.headers, action=action)
                    return response, (empty if empty is not None else (payload,))
                return response, errors.from_response(response.status, payload, headers=response.headers,
                                                      action=action)
            outcome = first_event(response)
            if isinstance(outcome, errors.DmsError):
                response.close()
                return response, outcome
            return response, (outcome,)
        except errors.DmsError as exc:  # the body broke off (mapped by the transport)
            response.close()
            return response, exc

    def _send(self, action: str, query: Mapping[str, str], form: Mapping[str, str], *, stream: bool,
              progress: Progress | None = None, timeouts: tuple[float, float] | None = None) -> tuple[Any, Any, int]:
        """POST with signing and retries -> (response, parsed body, attempt number), or for a stream
        (response, (first event's body, the remaining events), attempt number). Raises the DmsError
        of the last attempt, with the policy's account of what it did in its hint."""
        body = urlencode(sorted(form.items())).encode("utf-8")  # as the SDK: sorted, quote_plus
        # The canonical query string (sorted, RFC 3986-encoded) is also a valid URL query: encode once.
        query_string = signing.canonical_query(query)
        target = f"{self.path}?{query_string}" if query_string else self.path
        timeouts = timeouts or self.timeout
        source = self.credentials()
        policy = self.retry_policy
        state: Attempts = policy.start()
        max_attempts = policy.settings.max_retries + 1  # the policy's budget rules the retries

        def event(kind: str, reason: str = "", delay: float = 0.0) -> None:
            if progress is not None:  # nobody listening: build nothing
                report(progress, ProgressEvent(kind, state.made + 1, max_attempts, reason, delay,
                                               policy.clock() - state.started))

        while True:
            if self._cancel is not None and self._cancel.is_set():
                raise errors.RequestCancelledError(f"{action} was cancelled before attempt {state.made + 1} was sent")
            event("connecting")
            response, outcome = self._attempt(action, target, query_string, body, source, stream=stream,
                                              timeouts=timeouts,
                                              on_sent=(lambda: event("sent")) if progress is not None else None)
            if not isinstance(outcome, errors.DmsError):
                event("receiving")
                return response, outcome[0], state.made + 1
            err = outcome
            if response is not None:
                event("receiving")
            decision = policy.decide(err, state)
            if not decision.retry:
                final = policy.final_error(err, decision, state)
                report(progress, ProgressEvent("failed", state.made, max_attempts, _reason_of(final), 0.0,
                                               policy.clock() - state.started))
                raise final  # outside any except block: no chain into urllib3's frames
            log.info("%s: %s, retry %d/%d in %.2f s", action, err.code, state.made, max_attempts - 1,
                     decision.delay)
            reason = _reason_of(err)
            report(progress, ProgressEvent("retry", state.made, max_attempts, reason, decision.delay,
                                           policy.clock() - state.started))
            policy.wait(decision.delay, cancel=self._cancel, state=state,
                        tick=lambda left: report(progress, ProgressEvent(
                            "waiting", state.made, max_attempts, reason, left, policy.clock() - state.started)))

    def _redirect_error(self, response: Any, action: str) -> errors.DmsError:
        location = response.headers.get("Location")
        where = f" to {_shown_url(urljoin(self.endpoint_url, location))}" if location else " (no Location given)"
        return errors.DmsError(
            f"the endpoint {self.endpoint_url} answered with a redirect{where}; "
            "redirects are not followed (the request is signed for one host, and a generation must not be "
            "sent twice)", code="Redirect", http_status=response.status,
            request_id=response.headers.get("x-acs-request-id"), action=action)


def _reason_of(err: errors.DmsError) -> str:
    """A short reason for a status line: "HTTP 503 ServiceUnavailable", "model status 504", "connection refused"."""
    kind = getattr(err, T.FAILURE_ATTR, None)
    if kind is not None:
        return kind.replace("-", " ")
    if err.model_status is not None and (err.http_status or 200) < 400:
        return f"model status {err.model_status} {err.code}"
    if err.http_status and err.http_status >= 400:  # business errors come in an HTTP 200: "HTTP 200 X" read as success
        return f"HTTP {err.http_status} {err.code}"
    return err.code


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
        return jsonread.loads(data)  # depth-limited: a 1,000-deep body is unreadable, not a RecursionError
    except ValueError:
        return data
