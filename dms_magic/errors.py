"""API and transport errors as exceptions a person can act on.

Two shapes arrive from DMS (see DESIGN.md "Wire facts"):

* gateway errors, any 4xx/5xx: ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``;
* business errors, usually HTTP 200: ``{"Success": false, "ErrorCode", "ErrorMessage", "RequestId"}``,
  and the model-side error carried inside ``Data`` (``{"StatusCode": "400", "Message", "Type"}``).

``from_response`` turns either into one ``DmsError`` subclass carrying ``.code``, ``.message``,
``.request_id``, ``.http_status`` (the HTTP status received), ``.model_status`` (the model call's own
``Data.StatusCode``, when it failed), ``.recommend``, ``.retry_after`` (seconds the service asked to
wait), ``.access_denied_detail`` (the RAM detail of a refusal) and a one-line ``.hint`` saying what
to do. Whether the client retried a failure, and the hint's words about it, are decided in one place:
``dms_magic/client/_retry.py``; the hints here say only what to do.

The most specific failure wins: the reference page's own example carries the placeholder
``ErrorCode``/``ErrorMessage: "UnknownError"`` next to ``Success: true``, so a model failure inside
``Data`` (``StatusCode``, ``Message``, ``Type``, maybe ``Code``) is preferred to a placeholder at the
top, and the error's class follows that real failure. ``Data`` may be an object or the JSON string
the SDKs type the streamed reply's ``Data`` as. A gateway may answer in XML
(``<Error><Code>...</Code>...``); its fields are read the same way.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# result.py's tolerant readers (any key case, numbers as strings, Data as an object or a JSON
# string); it imports nothing heavy.
from dms_magic.defaults import ACTION
from dms_magic.wire.values import data_of, pick, safe_repr, shorten, to_int

# Codes the service puts at the top of a reply that say nothing (the reference page's example has
# them on a success): a more specific failure inside Data replaces them.
PLACEHOLDER_CODES = frozenset({"UnknownError", "Unknown", ""})
# The RAM action named in the hints when the action called is not known.
DEFAULT_ACTION = ACTION

# One line per known code: what to do about it. Keys are exact codes; families are matched by
# prefix in ``hint_for`` (Throttling.User -> Throttling, Forbidden.RAM -> Forbidden.RAM, ...).
HINTS: dict[str, str] = {
    "SignatureDoesNotMatch": "check the AccessKey secret (and that the machine clock is right).",
    "IncompleteSignature": "the request was not fully signed; check any proxy that rewrites headers.",
    "InvalidAccessKeyId.NotFound": "the AccessKey id does not exist; check it (or the profile you selected).",
    "InvalidAccessKeyId.Inactive": "the AccessKey is disabled; enable it or use another in the RAM console.",
    "InvalidAccessKeyId": "check the AccessKey id (or the profile you selected).",
    "InvalidSecurityToken.Expired": "the STS token has expired; fetch new temporary credentials.",
    "InvalidSecurityToken": "the STS token is invalid; fetch new temporary credentials.",
    "InvalidTimeStamp.Expired": "the request time is too far from the server's: sync the clock (NTP).",
    "SignatureNonceUsed": "a nonce was reused; send again (each attempt is signed with a fresh nonce).",
    "Throttling.User": "too many requests for this account: slow down or raise the quota.",
    "Throttling": "too many requests: slow down (batch: lower the rate).",
    "MissingParameter": "a required parameter is missing (InstanceId, Messages, or DesensitizationRule with masking).",
    "InvalidParameter": "a parameter value is out of range or malformed; see the message for which one.",
    "Forbidden.RAM": "the RAM user or role lacks permission: grant dms:ChatWithDesensitize.",
    "Forbidden": "no permission: grant dms:ChatWithDesensitize to the RAM user or role.",
    "NoPermission": "no permission: grant dms:ChatWithDesensitize (and access to the DMS instance).",
    "InvalidInstanceId": "the DMS instance id is wrong or not in this region; check instance_id and the endpoint.",
    "InstanceNotFound": "the DMS instance id is wrong or not in this region; check instance_id and the endpoint.",
    "InternalError": "a server-side error; if it persists, report the request id.",
    "TruncatedStream": ("the stream ended before its final event: the answer is incomplete (the text so far is on "
                        ".partial_text); the request was processed."),
    "ServiceUnavailable": "the service is temporarily unavailable; try again later.",
    "RequestTimeout": "the request timed out; raise timeout= for long answers.",
    "ConnectionError": "could not reach the endpoint; check the endpoint, network, proxy or VPC settings.",
    "CertificateVerifyFailed": ("the service's certificate is not trusted here (self-signed, or signed by a "
                                "private CA, e.g. a TLS-inspecting proxy): point REQUESTS_CA_BUNDLE at that CA's "
                                "bundle (PEM)."),
    "CertificateHostnameMismatch": ("the certificate is for another host: check the endpoint's host name (use the "
                                    "service's name, not an IP address or an alias)."),
    "TLSError": ("the TLS handshake failed: check that the endpoint speaks https on that port (the sandbox is "
                 "http://) and any proxy in between."),
    "ProxyAuthenticationRequired": ("the proxy wants credentials or refused the ones given: check the user and "
                                    "password in HTTPS_PROXY/HTTP_PROXY (http://user:password@host:port)."),
    "Redirect": ("the endpoint redirects elsewhere and redirects are not followed: set the endpoint to the "
                 "service's address (check the host, the region and http:// vs https://)."),
    "OutcomeUnknown": ("the request was sent but no complete answer came back: the service may have processed "
                       "(and billed) it; check before sending it again."),
    "UnknownError": "the service reported an unknown error; report the request id if it persists.",
    "InvalidResponse": ("the reply is not a usable answer; the service may still have run (and billed) the "
                        "request, so check before sending it again, and report the request id if it persists."),
}
# The hint of a model failure inside a complete reply (an OutcomeUnknownError with .model_status):
# a whole reply did arrive, so OutcomeUnknown's "no complete answer came back" would be untrue.
MODEL_FAILURE_HINT = ("the service answered, but the model reported a failure after it may have run: the request "
                      "may have been billed; check before sending it again.")


class DmsMagicError(Exception):
    """The root of every exception dms_magic raises on purpose: ``except DmsMagicError`` catches
    them all. Each subclass also keeps the builtin base callers relied on before (``ValueError`` for
    a wrong argument, ``RuntimeError`` for missing credentials), so ``except ValueError`` still works.
    Messages name what is wrong and what to do, and never hold a secret."""


class DmsError(DmsMagicError):
    """An error from DMS (or on the way to it). Never carries a secret: only what the server said.

    ``.http_status`` is the HTTP status received; ``.model_status`` the failed model call's own
    status (``Data.StatusCode``, often inside an HTTP 200) and ``.error_type`` its ``Data.Type``;
    ``.action`` the API action called (its RAM permission is what the hints name)."""

    default_code = "UnknownError"

    def __init__(self, message: str = "", *, code: str | None = None, request_id: str | None = None,
                 http_status: int | None = None, recommend: str | None = None, host_id: str | None = None,
                 hint: str | None = None, raw: Mapping[str, Any] | None = None, model_status: int | None = None,
                 error_type: str | None = None, action: str | None = None, retry_after: float | None = None,
                 access_denied_detail: Any = None):
        self.code = code or self.default_code
        self.message = message or self.code
        self.request_id = request_id
        self.http_status = http_status
        self.model_status = model_status
        self.error_type = error_type
        self.action = action
        self.recommend = recommend
        self.host_id = host_id
        self.hint = hint if hint is not None else hint_for(self.code, action)
        self.raw = dict(raw) if raw else {}
        self.retry_after = retry_after  # seconds (x-acs-retry-after is in milliseconds; Retry-After seconds)
        self.access_denied_detail = access_denied_detail  # the body's AccessDeniedDetail, as the SDK reads it
        super().__init__(self._line())

    def set_hint(self, hint: str | None) -> None:
        """Replace the hint (the client's retry policy adds what it did) and the one-line message."""
        self.hint = hint
        self.args = (self._line(),)

    def _line(self) -> str:
        # One line: code, message, what to do, request id (what support asks for).
        parts = [f"{self.code}: {' '.join(self.message.split())}"]  # servers put newlines in messages
        # The HTTP status only when it is an error status: business and model errors arrive in an
        # HTTP 200, and "(HTTP 200)" next to an error reads as success (.http_status keeps it).
        statuses = [f"HTTP {self.http_status}"] if self.http_status and self.http_status >= 400 else []
        if self.model_status:
            statuses.append(f"model status {self.model_status}")
        if statuses:
            parts[0] = f"{parts[0]} ({', '.join(statuses)})"
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        if self.request_id:
            parts.append(f"RequestId: {self.request_id}")
        return " — ".join(parts)

    def __repr__(self) -> str:
        model = f", model_status={self.model_status!r}" if self.model_status is not None else ""
        return (f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
                f"http_status={self.http_status!r}{model}, request_id={self.request_id!r})")

    # IPython shows only this line for a failing cell instead of a long traceback.
    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class AuthError(DmsError):
    """Signature, AccessKey, STS token or timestamp problems."""


class ThrottlingError(DmsError):
    """Throttling*: too many requests."""


class ServiceError(DmsError):
    """5xx, InternalError, ServiceUnavailable."""


class ParameterError(DmsError):
    """MissingParameter / InvalidParameter from the server (client-side checks raise ValueError first)."""


class PermissionError_(DmsError):
    """Forbidden.RAM / NoPermission: the identity lacks dms:ChatWithDesensitize."""


class TransportError(DmsError):
    """Connection errors and timeouts: nothing (complete) came back."""


class RequestCancelledError(DmsError):
    """The caller cancelled (``DmsChatClient.cancellable``) before this attempt was sent: nothing
    reached the service for it."""

    default_code = "RequestCancelled"


class OutcomeUnknownError(TransportError):
    """The request was fully sent, then the connection timed out or dropped before a complete
    reply, or the model's own 5xx came back inside a successful reply (``.model_status``): the
    service may have run the model (and billed it). Not retried unless the caller opts in
    (``retry_unknown_outcome=True``), because a generation is not idempotent. Batch rows with this
    code are "outcome unknown", and ``resume=`` does not resend them unless asked. ``.partial_text``:
    the text a stream had received when the model failed in a later event (None otherwise)."""

    default_code = "OutcomeUnknown"
    partial_text: str | None = None


class TruncatedStreamError(OutcomeUnknownError):
    """A stream that ended or broke off before its final event: the answer is incomplete and the
    service did run the model. ``.partial_text`` holds the text received. Not retried."""

    default_code = "TruncatedStream"
    partial_text: str = ""


def hint_for(code: str | None, action: str | None = None) -> str | None:
    """The hint for an exact code, else for its family (the longest known prefix). ``action``: the
    API action called; permission hints name its RAM action (``dms:ChatWithDesensitizeSSE`` for
    a streamed call: the SSE twin has its own permission)."""
    if not code:
        return None
    hint = HINTS.get(code)
    if hint is None:
        best = None
        for known in HINTS:
            if code.startswith(known + ".") or (known == "Throttling" and code.startswith("Throttling")):
                if best is None or len(known) > len(best):
                    best = known
        hint = HINTS[best] if best else None
    if hint and action and action != DEFAULT_ACTION:
        hint = hint.replace(f"dms:{DEFAULT_ACTION}", f"dms:{action}")
    return hint


def _class_for(code: str, http_status: int | None) -> type[DmsError]:
    if code.startswith("Throttling"):
        return ThrottlingError
    if code.startswith(("Signature", "IncompleteSignature", "InvalidAccessKeyId", "InvalidSecurityToken",
                        "InvalidTimeStamp")):
        return AuthError
    if code.startswith(("Forbidden", "NoPermission")):
        return PermissionError_
    if code.startswith(("MissingParameter", "InvalidParameter", "Invalid")):
        return ParameterError
    if code in ("InternalError", "ServiceUnavailable") or (http_status is not None and http_status >= 500):
        return ServiceError
    if http_status == 403:
        return PermissionError_
    if http_status in (401,):
        return AuthError
    if http_status == 429:
        return ThrottlingError
    return DmsError


def _get(body: Mapping[str, Any], *names: str) -> Any:
    # The first of ``names`` with a non-empty value, in any key case (the gateway uses PascalCase;
    # some proxies and SDK paths lower-case the first letter).
    return pick(body, *names, filled=True)


def _model_error_code(status: int | None) -> str:
    # A model-side error in Data without a Code: name it by its status so that it gets the class,
    # hint and retry decision of the gateway error it corresponds to.
    if status == 429:
        return "Throttling"
    if status in (502, 503, 504):
        return "ServiceUnavailable"
    if status is not None and status >= 500:
        return "InternalError"
    return "InvalidParameter"


def _xml_fields(text: str) -> dict[str, str] | None:
    """``<Error><Code>..</Code><Message>..</Message>...</Error>`` (a gateway's XML error) as a dict."""
    if not text.lstrip().startswith("<") or len(text) > 65536:
        return None
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError:  # an HTML page, or not XML at all
        return None
    fields = {child.tag: (child.text or "").strip() for child in root}
    return fields if any(k in fields for k in ("Code", "code", "ErrorCode")) else None


def _model_failure(body: Mapping[str, Any]) -> tuple[int, Mapping[str, Any]] | None:
    """(StatusCode >= 400, Data) of a failed model call that DMS passed inside Data, else None."""
    data = data_of(body)
    status = to_int(_get(data, "StatusCode")) if data else None
    return (status, data) if status is not None and status >= 400 else None


def _header(headers: Any, name: str) -> str | None:
    try:
        return (headers.get(name) or headers.get(name.title()) or None) if headers is not None else None
    except AttributeError:
        return None


NOT_DMS_HINT = ("this reply did not come from DMS: check the endpoint (--endpoint, DMS_MAGIC_ENDPOINT) and any proxy "
                "in between.")


def _html_title(text: str) -> str | None:
    """The <title> of an HTML page ('' for a page without one); None when ``text`` is no HTML page."""
    head = text[:4096].lower()
    if "<html" not in head and "<!doctype html" not in head and "<title" not in head:
        return None
    match = re.search(r"<title[^>]*>(.*?)</title>", text[:4096], re.IGNORECASE | re.DOTALL)
    return " ".join(match.group(1).split())[:120] if match else ""


def from_response(status: int | None, body: Any, *, headers: Any = None, action: str | None = None) -> DmsError:
    """The DmsError for a gateway error, a business error, a model failure inside Data, or an
    unreadable reply. ``headers``: the reply's headers (the request id falls back to
    ``x-acs-request-id``); ``action``: the API action called (named in permission hints)."""
    header_id = _header(headers, "x-acs-request-id")
    code: Any
    message: Any
    if not isinstance(body, Mapping):
        text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")
        fields = _xml_fields(text)
        if fields is None:
            code = "ServiceUnavailable" if status in (502, 503, 504) else (
                "InternalError" if status and status >= 500 else "UnknownError")
            title = _html_title(text)
            shown = (f"the reply is an HTML page ({title!r}), not a DMS reply" if title
                     else f"the reply is an HTML page, not a DMS reply: {text[:200]!r}" if title is not None
                     else f"unreadable reply: {text[:200]!r}" if text else "empty reply")
            # a page no DMS endpoint writes (403/404 from a proxy or a wrong host): say where to look
            hint = NOT_DMS_HINT if code == "UnknownError" and text else None
            return _class_for(code, status)(shown, code=code, http_status=status, request_id=header_id, action=action,
                                            retry_after=retry_after(headers), hint=hint)
        body = fields
    request_id = _get(body, "RequestId") or header_id
    code = _get(body, "Code", "ErrorCode")
    message = _get(body, "Message", "ErrorMessage")
    if code is not None and str(code) in PLACEHOLDER_CODES:
        code = None  # says nothing: a specific failure below, else the status, names it
        if message is not None and str(message) in PLACEHOLDER_CODES:
            message = None
    model_status = error_type = None
    failure = _model_failure(body)
    if failure is not None:
        # The model side failed; DMS passes DashScope's error inside Data: StatusCode, Message and
        # Type ("invalid_request_error": not a DMS code), and sometimes a Code. Data's own code and
        # message are the most specific; a real top-level code comes next; the status names the rest.
        model_status, data = failure
        code = _get(data, "Code") or code or _model_error_code(
            status if status is not None and status >= 400 else model_status)
        message = _get(data, "Message") or message
        error_type = _get(data, "Type")
    code = str(code or ("InternalError" if status and status >= 500 else "UnknownError"))
    judged = status if status is not None and status >= 400 else model_status
    cls = _class_for(code, judged)
    return cls(str(message or code), code=code, request_id=request_id, http_status=status,
               model_status=model_status, error_type=str(error_type) if error_type else None, action=action,
               recommend=_get(body, "Recommend"), host_id=_get(body, "HostId"), raw=body,
               retry_after=retry_after(headers), access_denied_detail=_get(body, "AccessDeniedDetail"))


def is_failure(status: int, body: Any) -> bool:
    """Whether a reply is an error: HTTP >= 400, ``Success: false``, an error code without any
    ``Success``, a real (not placeholder) error code with no ``Data`` even next to ``Success: true``
    (the reference's example shows placeholder codes next to a real answer, which stay a success),
    or a failed model call in Data (object or JSON string)."""
    if status >= 400 or not isinstance(body, Mapping):
        return True
    success = pick(body, "Success")
    if success is False or (isinstance(success, str) and success.lower() == "false"):
        return True
    code = _get(body, "ErrorCode", "Code")
    if success is None and code is not None:
        return True
    if code is not None and str(code) not in PLACEHOLDER_CODES and not data_of(body):
        return True  # a real code and nothing else: Success true here says nothing (no answer came)
    return _model_failure(body) is not None


_ABSENT = object()


def empty_answer(status: int, body: Any, *, headers: Any = None, action: str | None = None) -> DmsError | None:
    """The error for a plain reply that is no failure by ``is_failure`` yet carries no answer:
    ``Success: true`` (with no code, or a placeholder one) and ``Data`` missing, null, empty
    (``{}``, ``"{}"``), or without ``Choices`` (e.g. only a ``StatusCode`` that is no number, "5xx"). Returning it as
    a success would hand the caller an empty text as if the model had answered. None otherwise."""
    if not isinstance(body, Mapping) or is_failure(status, body):
        return None
    data = data_of(body)
    if data:
        if pick(data, "Choices") is not None:
            return None
        status_code = pick(data, "StatusCode", default=_ABSENT)
        missing = "Data had no Choices" + ("" if status_code is _ABSENT else
                                           f" and a StatusCode that is no number ({shorten(safe_repr(status_code))})")
    else:
        given = pick(body, "Data", default=_ABSENT)
        missing = "Data was " + ("missing" if given is _ABSENT else f"empty or unreadable ({shorten(safe_repr(given))})")
    return DmsError(f"the reply said Success but carried no answer: {missing}", code="InvalidResponse",
                    request_id=_get(body, "RequestId") or _header(headers, "x-acs-request-id"),
                    http_status=status, action=action, raw=body)


def retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait: ``x-acs-retry-after`` (milliseconds, as the official SDK
    reads it) or ``Retry-After`` (seconds or an HTTP date); None when absent or unreadable."""
    import email.utils
    import math
    import time

    value = _header(headers, "x-acs-retry-after")
    if value is not None:
        try:
            seconds = float(value) / 1000
        except ValueError:
            seconds = math.nan
    else:
        value = _header(headers, "Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                return None
    # Only a positive wait is a request to wait (the SDK's Utils.get_throttling_time_left: "Only a
    # positive wait time is valid"): "0", "-5" or a date in the past ask for nothing.
    return seconds if math.isfinite(seconds) and seconds > 0 else None


# -- raised before any traffic: arguments, settings, inputs ---------------------------------------
# (one home for the package's exception classes; the modules that raise them import them from here)

class InvalidParameterError(DmsMagicError, ValueError):
    """One request parameter is wrong: names it, the value given and what is valid."""

    def __init__(self, param: str, value: Any, expected: str):
        self.param, self.value, self.expected = param, value, expected
        super().__init__(f"{param}={shorten(safe_repr(value))} is invalid: expected {expected}")


class UnknownParameterError(InvalidParameterError):
    """A name that is no ChatWithDesensitize parameter (``find`` failed)."""

    def __init__(self, name: str, hint: str = ""):
        self.param, self.value = name, name
        self.expected = "a ChatWithDesensitize parameter name." + hint  # the magic reads the hint after "."
        ValueError.__init__(self, f"unknown parameter {shorten(safe_repr(name))}: expected a "
                                  f"ChatWithDesensitize parameter name (see dms_magic.PARAMS).{hint}")


class SettingsError(DmsMagicError, ValueError):
    """A configured value (environment or config) that cannot be used; says which and why."""


class CredentialError(DmsMagicError, RuntimeError):
    """No usable credentials; says where we looked and what to set. Never includes a secret."""


class ImageError(DmsMagicError, ValueError):
    """An image that cannot be sent: the message names the image and what to do."""


class ImageTooLargeError(ImageError):
    """An image above ``MAX_DATA_URL_BYTES`` (or the limit given), refused before any traffic."""

    def __init__(self, message: str, *, size: int, limit: int):
        super().__init__(message)
        self.size = size
        self.limit = limit


class ToolSpecError(DmsMagicError, ValueError):
    """A tool that cannot be described to the model: the message names it and what to fix."""


class UnknownRuleError(DmsMagicError, ValueError):
    """A rule category that is not in the masking config; the message lists the ones that are."""

    def __init__(self, rule: str, known: list[str]) -> None:
        self.rule = rule
        self.known = known
        super().__init__(f"unknown masking rule {rule!r}: use one of {', '.join(known)} "
                         f"(or add it under [categories] in a masking config file)")


class MaskingConfigError(DmsMagicError, ValueError):
    """The masking config file is unreadable or has a wrong entry; the message says where and what to do."""


class OperatorConfigError(DmsMagicError, ValueError):
    """An operator spec in the masking config is wrong; the message names the entity and the fix."""


# -- the sandbox's own refusals (a service beside the client: these become gateway error replies) ----

class SandboxAuthFailure(DmsMagicError):
    """Why the sandbox rejects a request: a gateway error code and a message (never a secret)."""

    def __init__(self, code: str, message: str | None = None):
        super().__init__(code)
        self.code, self.message = code, message


class UpstreamError(DmsMagicError):
    """The sandbox's upstream model failed: ``code`` is the gateway code to answer with (never contains the key)."""

    def __init__(self, code: str, message: str, status: int = 503):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status



# -- masking config, transport and notebook refusals -------------------------------------------------
class CustomRecognizerError(MaskingConfigError):
    """One field of a custom recognizer in the masking config is wrong (names the entity and the field)."""


class NotSent(DmsMagicError):
    """Raised by a MockTransport handler as ``NotSent(ConnectionResetError())``: the connection
    failed before the request was fully written (the one case a handler cannot show otherwise)."""


class TurnEnded(DmsMagicError):
    """A notebook turn that did not finish (stopped by Ctrl-C, or interrupted): IPython shows this one
    line, not a traceback. ``.result`` is the partial result, ``.state`` "stopped" or "interrupted"."""

    def __init__(self, line: str, result: Any = None, state: str = "stopped"):
        super().__init__(line)
        self.result, self.state = result, state

    def _render_traceback_(self) -> list[str]:
        return [str(self)]
