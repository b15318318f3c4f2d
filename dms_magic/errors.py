"""API and transport errors as exceptions a person can act on.

Two shapes arrive from DMS (see DESIGN.md "Wire facts"):

* gateway errors, any 4xx/5xx: ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``;
* business errors, usually HTTP 200: ``{"Success": false, "ErrorCode", "ErrorMessage", "RequestId"}``,
  and the model-side error carried inside ``Data`` (``{"StatusCode": "400", "Message", "Type"}``).

``from_response`` turns either into one ``DmsError`` subclass carrying ``.code``, ``.message``,
``.request_id``, ``.http_status``, ``.recommend`` and a one-line ``.hint`` saying what to do.
``is_retryable`` is the one place that decides what the client retries.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# result.py's tolerant readers (any key case, numbers as strings); it imports nothing heavy.
from dms_magic.result import pick, to_int

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
    "SignatureNonceUsed": "a nonce was reused; retry (each attempt is signed with a fresh nonce).",
    "Throttling.User": "too many requests for this account: slow down or raise the quota; retried automatically.",
    "Throttling": "too many requests: slow down (batch: lower the rate); retried automatically.",
    "MissingParameter": "a required parameter is missing (InstanceId, Messages, or DesensitizationRule with masking).",
    "InvalidParameter": "a parameter value is out of range or malformed; see the message for which one.",
    "Forbidden.RAM": "the RAM user or role lacks permission: grant dms:ChatWithDesensitize.",
    "Forbidden": "no permission: grant dms:ChatWithDesensitize to the RAM user or role.",
    "NoPermission": "no permission: grant dms:ChatWithDesensitize (and access to the DMS instance).",
    "InvalidInstanceId": "the DMS instance id is wrong or not in this region; check instance_id and the endpoint.",
    "InstanceNotFound": "the DMS instance id is wrong or not in this region; check instance_id and the endpoint.",
    "InternalError": ("a server-side error; not retried automatically, as the request may have reached the model "
                      "(retry_on_timeout=True opts in); if it persists, report the request id."),
    "TruncatedStream": ("the stream ended before its final event: the answer is incomplete (the text so far is on "
                        ".partial_text); the request was processed, so it is not retried automatically."),
    "ServiceUnavailable": "the service is temporarily unavailable; retried automatically; try again later.",
    "RequestTimeout": "the request timed out; retried automatically; raise timeout= for long answers.",
    "ConnectionError": "could not reach the endpoint; check the endpoint, network, proxy or VPC settings.",
    "OutcomeUnknown": ("the request was sent but no complete answer came back: the service may have processed "
                       "(and billed) it; not retried automatically (retry_on_timeout=True opts in)."),
    "UnknownError": "the service reported an unknown error; retry, and report the request id if it persists.",
}


class DmsError(Exception):
    """An error from DMS (or on the way to it). Never carries a secret: only what the server said."""

    default_code = "UnknownError"

    def __init__(self, message: str = "", *, code: str | None = None, request_id: str | None = None,
                 http_status: int | None = None, recommend: str | None = None, host_id: str | None = None,
                 hint: str | None = None, raw: Mapping[str, Any] | None = None):
        self.code = code or self.default_code
        self.message = message or self.code
        self.request_id = request_id
        self.http_status = http_status
        self.recommend = recommend
        self.host_id = host_id
        self.hint = hint if hint is not None else hint_for(self.code)
        self.raw = dict(raw) if raw else {}
        super().__init__(self._line())

    def _line(self) -> str:
        # One line: code, message, what to do, request id (what support asks for).
        parts = [f"{self.code}: {' '.join(self.message.split())}"]  # servers put newlines in messages
        if self.http_status:
            parts[0] = f"{parts[0]} (HTTP {self.http_status})"
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        if self.request_id:
            parts.append(f"RequestId: {self.request_id}")
        return " — ".join(parts)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
                f"http_status={self.http_status!r}, request_id={self.request_id!r})")

    # IPython shows only this line for a failing cell instead of a long traceback.
    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class AuthError(DmsError):
    """Signature, AccessKey, STS token or timestamp problems."""


class ThrottlingError(DmsError):
    """Throttling*: too many requests. Retryable."""


class ServiceError(DmsError):
    """5xx, InternalError, ServiceUnavailable. Retryable."""


class ParameterError(DmsError):
    """MissingParameter / InvalidParameter from the server (client-side checks raise ValueError first)."""


class PermissionError_(DmsError):
    """Forbidden.RAM / NoPermission: the identity lacks dms:ChatWithDesensitize."""


class TransportError(DmsError):
    """Connection errors and timeouts: nothing (complete) came back. Retryable."""


class OutcomeUnknownError(TransportError):
    """The request was fully sent, then the connection timed out or dropped before a complete
    reply: the service may have run the model (and billed it). Not retried unless the caller opts
    in (``retry_on_timeout=True``), because a generation is not idempotent. Batch rows with this
    code are "outcome unknown", and ``resume=`` does not resend them unless asked."""

    default_code = "OutcomeUnknown"


class TruncatedStreamError(OutcomeUnknownError):
    """A stream that ended or broke off before its final event: the answer is incomplete and the
    service did run the model. ``.partial_text`` holds the text received. Not retried."""

    default_code = "TruncatedStream"
    partial_text: str = ""


_RETRYABLE = (ThrottlingError, ServiceError, TransportError)


def hint_for(code: str | None) -> str | None:
    """The hint for an exact code, else for its family (the longest known prefix)."""
    if not code:
        return None
    if code in HINTS:
        return HINTS[code]
    best = None
    for known in HINTS:
        if code.startswith(known + ".") or (known == "Throttling" and code.startswith("Throttling")):
            if best is None or len(known) > len(best):
                best = known
    return HINTS[best] if best else None


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
    for name in names:
        value = pick(body, name)
        if value not in (None, ""):
            return value
    return None


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


def from_response(status: int | None, body: Any) -> DmsError:
    """The DmsError for a gateway error, a business error, or an unreadable reply."""
    if not isinstance(body, Mapping):
        text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")
        code = "ServiceUnavailable" if status in (502, 503, 504) else (
            "InternalError" if status and status >= 500 else "UnknownError")
        return _class_for(code, status)(f"unreadable reply: {text[:200]!r}" if text else "empty reply",
                                        code=code, http_status=status)
    request_id = _get(body, "RequestId")
    code = _get(body, "Code", "ErrorCode")
    message = _get(body, "Message", "ErrorMessage")
    data_status = _model_failure(body)
    if code is None and data_status is not None:
        # The model side failed; DMS passes DashScope's error inside Data: StatusCode, Message and
        # Type ("invalid_request_error": not a DMS code), and sometimes a Code.
        data = pick(body, "Data")
        status = status if status and status >= 400 else data_status
        code = str(_get(data, "Code") or _model_error_code(status))
        message = _get(data, "Message") or code
    code = str(code or ("InternalError" if status and status >= 500 else "UnknownError"))
    cls = _class_for(code, status)
    return cls(str(message or code), code=code, request_id=request_id, http_status=status,
               recommend=_get(body, "Recommend"), host_id=_get(body, "HostId"), raw=body)


def is_failure(status: int, body: Any) -> bool:
    """Whether a reply is an error: HTTP >= 400, ``Success: false``, or a failed model call in Data."""
    if status >= 400 or not isinstance(body, Mapping):
        return True
    success = pick(body, "Success")
    if success is False or (isinstance(success, str) and success.lower() == "false"):
        return True
    return _model_failure(body) is not None


def _model_failure(body: Mapping[str, Any]) -> int | None:
    """The StatusCode (>= 400) of a failed model call that DMS passed inside Data, else None."""
    data = pick(body, "Data")
    status = to_int(_get(data, "StatusCode")) if isinstance(data, Mapping) else None
    return status if status is not None and status >= 400 else None


def is_retryable(err: BaseException) -> bool:
    """Retry throttling, 5xx / InternalError / ServiceUnavailable, connection errors and timeouts;
    never any other 4xx (a bad signature or parameter will not get better by asking again)."""
    if not isinstance(err, DmsError) or isinstance(err, OutcomeUnknownError):
        return False  # may have reached the model: only the caller's retry_on_timeout opts in
    # The class decides (from_response chose it with _class_for); an error built by hand is classed
    # the same way from its code and status. Any 5xx is retried, whatever code came with it.
    return (isinstance(err, _RETRYABLE) or issubclass(_class_for(err.code, err.http_status), _RETRYABLE)
            or (err.http_status or 0) >= 500)
