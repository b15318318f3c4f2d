"""The JSON replies the sandbox sends: gateway errors, business errors and successes.

Gateway errors (signature, throttling, bad parameters) come back like Alibaba Cloud's POP gateway
sends them: a 4xx/5xx status and ``{RequestId, HostId, Code, Message, Recommend}``. Business errors
(an instance or rule DMS does not know) come back as HTTP 200 with ``Success: false, ErrorCode,
ErrorMessage``, the way DMS Enterprise reports them. Every reply carries the header
``X-Dms-Magic-Backend: sandbox`` so a client can say which backend answered.
"""
from __future__ import annotations

import json
import uuid
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


def choice(generation, values: dict, *, content: str, reasoning: str | None, steps, finish: str | None) -> dict:
    """One entry of ``Data.Choices`` (shared by the whole answer and by each streamed event)."""
    message = {"Content": content, "Role": "assistant"}
    if reasoning is not None:
        message["ReasoningContent"] = reasoning
    wanted = values.get("logprobs") and generation.has_logprobs
    logprobs = generation.logprobs(values.get("top_logprobs") or 0, steps) if wanted else None
    return {"FinishReason": finish, "Message": message, "Logprobs": logprobs}


def success_body(generation, values: dict, *, request_id: str, model: str, created: int) -> dict:
    """The non-streaming answer, in the shape the SDK's ChatWithDesensitizeResponseBody parses."""
    return {
        "RequestId": request_id,
        "Success": True,
        "Data": {
            "Created": str(created),
            "Model": model,
            "StatusCode": "200",  # the model call's own status (the SDK documents 200 for normal calls)
            "Choices": [choice(generation, values, content=generation.content, reasoning=generation.reasoning,
                               steps=generation.content_steps, finish=generation.finish_reason)],
            "Usage": generation.usage(),
        },
    }
