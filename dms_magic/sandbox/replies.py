"""The JSON replies the sandbox sends: gateway errors, business errors and successes.

Gateway errors (signature, throttling, bad parameters) come back like Alibaba Cloud's POP gateway
sends them: a 4xx/5xx status and ``{RequestId, HostId, Code, Message, Recommend}``. Business errors
(an instance or rule DMS does not know) come back as HTTP 200 with ``Success: false, ErrorCode,
ErrorMessage``, the way DMS Enterprise reports them. Every reply carries the header
``X-Dms-Magic-Backend: sandbox`` so a client can say which backend answered.

``ReplyShape`` picks among the shapes the official SDKs and the reference page allow, so clients
are tested against each and not only against the one this sandbox happens to write: streamed
``Data`` as the JSON string every SDK types it as (the default) or as an object; events carrying
increments or the text so far; every answer a model failure inside ``Data`` under the placeholder
top-level ``ErrorCode: UnknownError`` (as in the reference page's example); placeholders on
successes too.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

HOST_ID = "dms-enterprise.sandbox.local"
BACKEND_HEADER = ("X-Dms-Magic-Backend", "sandbox")

# code -> (HTTP status, default message). Messages follow the real gateway's wording.
GATEWAY_ERRORS: dict[str, tuple[int, str]] = {
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "SignatureDoesNotMatch": (400, "Specified signature is not matched with our calculation."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "InvalidTimeStamp.Format": (400, "Specified time stamp or date value is not well formatted."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "MissingSignatureNonce": (400, "x-acs-signature-nonce is mandatory for this action."),
    "InvalidSecurityToken.MismatchWithAccessKey": (400, "Specified security token does not match the access key."),
    "MissingSecurityToken": (400, "This access key is an STS key: send its x-acs-security-token."),
    "InvalidAction.NotFound": (404, "Specified api is not found, please check your url and method."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "MissingParameter": (400, "A required parameter is missing."),
    "InvalidParameter": (400, "The specified parameter is not valid."),
    "RequestBodyTooLarge": (413, "The request body is too large."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
    "NotFound": (404, "The sandbox serves POST / (the API) and GET /_sandbox/received."),
    # The HTTP layer's own refusals (request line or headers too long, malformed request), before
    # the app runs; sent with the HTTP layer's status (414, 431, 400 ...).
    "InvalidRequest": (400, "The HTTP request is malformed."),
}

RECOMMEND = "https://api.aliyun.com/troubleshoot?q={code}&product=dms-enterprise&requestId={request_id}"


def new_request_id() -> str:
    """Request ids look like the real ones: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        content_type="application/json;charset=utf-8")
    response.headers[BACKEND_HEADER[0]] = BACKEND_HEADER[1]
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def gateway_body(code: str, message: str | None = None, *, request_id: str | None = None) -> tuple[int, dict]:
    """(HTTP status, body) of a POP-gateway style error: ``{RequestId, HostId, Code, Message, Recommend}``."""
    status, default = GATEWAY_ERRORS[code]
    request_id = request_id or new_request_id()
    body = {
        "RequestId": request_id,
        "HostId": HOST_ID,
        "Code": code,
        "Message": message or default,
        "Recommend": RECOMMEND.format(code=code, request_id=request_id),
    }
    return status, body


def gateway_error(code: str, message: str | None = None, *, request_id: str | None = None) -> Response:
    """A POP-gateway style error: real status, ``{RequestId, HostId, Code, Message, Recommend}``."""
    status, body = gateway_body(code, message, request_id=request_id)
    return json_response(body, status)


def business_error(code: str, message: str, *, request_id: str) -> dict[str, Any]:
    """A DMS business error body (sent with HTTP 200, as DMS does)."""
    return {"RequestId": request_id, "Success": False, "ErrorCode": code, "ErrorMessage": message}


def model_error(status: int, code: str, message: str, *, request_id: str, model: str) -> dict[str, Any]:
    """The model side refused the call: DMS passes DashScope's error inside ``Data`` (StatusCode,
    Message, Type), as on the reference page's example (HTTP 200)."""
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    return {"RequestId": request_id, "Success": True,
            "Data": {"Model": model, "Choices": [], "StatusCode": str(status), "Code": code, "Message": message,
                     "Type": kind}}


# -- reply shapes ---------------------------------------------------------------------------------
STREAM_DATA = ("string", "object")  # streamed Data: the SDKs' JSON string, or an object
STREAM_TEXT = ("increments", "text_so_far")  # what each streamed event's Content carries
PLACEHOLDER = "UnknownError"  # the reference page's top-level ErrorCode/ErrorMessage on a success
# A model failure's Message per status family, worded like DashScope's (passed through by DMS).
MODEL_FAILURES = {
    400: ("invalid_request_error", "Range of input length should be [1, 30720]"),
    429: ("limit_requests", "Requests rate limit exceeded, please try again later."),
    500: ("server_error", "An internal error has occured, please try again later or contact service support."),
}


@dataclass(frozen=True)
class ReplyShape:
    """Which documented reply shape the sandbox sends (``start(stream_data=..., ...)`` knobs).

    ``stream_data``: ``"string"`` (default: the SDKs' ``data: str``) or ``"object"``.
    ``stream_text``: ``"increments"`` (default) or ``"text_so_far"`` (each event repeats the text,
    reasoning, logprobs and tool-call arguments so far; the last one holds the whole answer).
    ``model_failure``: None, or a status (400-599): every answer that passes the gateway and DMS's
    checks is that model failure inside ``Data`` (``StatusCode``, ``Message``, ``Type``; no Code),
    sent with HTTP 200, ``Success: true`` and the placeholder ``ErrorCode``/``ErrorMessage``.
    ``placeholder_codes``: successes carry ``ErrorCode``/``ErrorMessage: "UnknownError"`` too.
    """

    stream_data: str = "string"
    stream_text: str = "increments"
    model_failure: int | None = None
    placeholder_codes: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("stream_data", STREAM_DATA), ("stream_text", STREAM_TEXT)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: expected one of {', '.join(allowed)}")
        failure = self.model_failure
        if failure is not None and (isinstance(failure, bool) or not isinstance(failure, int)
                                    or not 400 <= failure <= 599):
            raise ValueError(f"model_failure={failure!r} is invalid: expected an HTTP-style status in "
                             "[400, 599] (or None)")

    def top_level(self) -> dict[str, Any]:
        """Extra top-level keys of a successful body (the reference example's placeholders)."""
        return {"ErrorCode": PLACEHOLDER, "ErrorMessage": PLACEHOLDER} if self.placeholder_codes else {}

    def failure_body(self, *, request_id: str, model: str) -> dict[str, Any]:
        """The configured model failure, as the reference page's example shapes a reply."""
        status = self.model_failure
        assert status is not None  # only called for a shape with a model failure
        kind, message = MODEL_FAILURES.get(status) or MODEL_FAILURES[500 if status >= 500 else 400]
        return {"RequestId": request_id, "Success": True, "ErrorCode": PLACEHOLDER, "ErrorMessage": PLACEHOLDER,
                "Data": {"Model": model, "Choices": [], "StatusCode": str(status), "Message": message,
                         "Type": kind}}


def wire_tool_call(call: dict, *, index: int = 0, arguments: str | None = None,
                   head: bool = True) -> dict[str, Any]:
    """A tool call (or one streamed fragment of it) in DMS's PascalCase: ``{Index, Id, Type,
    Function: {Name, Arguments}}``; ``head=False`` leaves out the id, type and name (later fragments)."""
    function: dict[str, Any] = {"Arguments": call["function"]["arguments"] if arguments is None else arguments}
    out: dict[str, Any] = {"Index": index}
    if head:
        out.update({"Id": call["id"], "Type": call["type"]})
        function = {"Name": call["function"]["name"], **function}
    out["Function"] = function
    return out


def choice(generation, values: dict, *, content: str, reasoning: str | None, steps, finish: str | None) -> dict:
    """One entry of ``Data.Choices`` (shared by the whole answer and by each streamed event)."""
    message = {"Content": content, "Role": "assistant"}
    if reasoning is not None:
        message["ReasoningContent"] = reasoning
    wanted = values.get("logprobs") and generation.has_logprobs
    logprobs = generation.logprobs(values.get("top_logprobs") or 0, steps) if wanted else None
    return {"FinishReason": finish, "Message": message, "Logprobs": logprobs}


def success_body(generation, values: dict, *, request_id: str, model: str, created: int,
                 shape: ReplyShape = ReplyShape()) -> dict:
    """The non-streaming answer, in the shape the SDK's ChatWithDesensitizeResponseBody parses."""
    return {
        "RequestId": request_id,
        "Success": True,
        **shape.top_level(),
        "Data": {
            "Created": str(created),
            "Model": model,
            "StatusCode": "200",  # the model call's own status (the SDK documents 200 for normal calls)
            "Choices": [choice(generation, values, content=generation.content, reasoning=generation.reasoning,
                               steps=generation.content_steps, finish=generation.finish_reason)],
            "Usage": generation.usage(),
        },
    }
