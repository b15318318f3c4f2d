"""Hand-built reply bodies in the reference's and the SDK models' key names, a recording reply server, and
the SDK's own view of a body: the oracle side of tests/contract/test_sdk_reply_shapes.py, shared with other
black-box tests."""
from __future__ import annotations
import copy
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from alibabacloud_dms_enterprise20181101 import client as sdk_client_mod
from alibabacloud_dms_enterprise20181101 import models as sdk_models
from alibabacloud_tea_openapi.models import Config
import dms_magic
from helpers.scripted import with_settings

AK = "LTAIexternaltester0001"
SK = "external-tester-secret-0001"
RID = "0C1CB646-1DE4-4AD0-B4A4-7D47DD52E931"
HEADER_RID = "HDR-5E0C-4A1B-9F00-REQUEST-ID-FROM-HEADER"


# --------------------------------------------------------------------------------------------
# The server: answers request i with script[i] (the last entry repeats), records every request.
# --------------------------------------------------------------------------------------------

@dataclass
class Reply:
    """A plain HTTP reply: a JSON body (dict), or text/bytes as given."""
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json;charset=utf-8"


@dataclass
class Stream:
    """An SSE reply (chunked), one ``data:`` event per body dict, ``id:``/``event: result`` lines.

    ``newline`` may be CRLF (the SSE spec allows it); ``piece`` > 0 writes the body in chunks of that
    many bytes (cutting lines and UTF-8 characters apart); ``comments`` adds ``: ping`` lines and a
    ``retry:`` field, which a reader must skip; ``stall_after`` stops after that many events and
    holds the connection for ``stall_seconds``."""
    events: list
    status: int = 200
    headers: dict = field(default_factory=dict)
    newline: str = "\n"
    piece: int = 0
    comments: bool = False
    stall_after: int | None = None
    stall_seconds: float = 0.0


@dataclass
class Hold:
    """Read the request, then say nothing for ``seconds`` and close: a reply that never comes."""
    seconds: float


@dataclass
class HeadersThenStall:
    """Read the request, send the status line and headers (with a request id), then stall."""
    seconds: float
    request_id: str = HEADER_RID


@dataclass
class Drop:
    """Read the request, then close the connection without a byte of reply."""


@dataclass
class Arrival:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    received_at: float
    replied_at: float | None = None

    @property
    def form(self) -> dict:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def action(self) -> str | None:
        return self.headers.get("x-acs-action") or self.query.get("Action")


class ReplyServer:
    def __init__(self, script=None):
        self.script = list(script or [Reply(body=ok_body())])
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urllib.parse.urlsplit(self.path)
                arrival = Arrival(
                    method="POST", path=parts.path,
                    query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    received_at=time.monotonic())
                with owner._lock:
                    owner.arrivals.append(arrival)
                    index = len(owner.arrivals) - 1
                    step = owner.script[min(index, len(owner.script) - 1)]
                owner._answer(self, step)
                arrival.replied_at = time.monotonic()

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, step) -> None:
        if isinstance(step, Reply):
            body = step.body
            if isinstance(body, (dict, list)):
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = body or b""
            handler.send_response(step.status)
            handler.send_header("Content-Type", step.content_type)
            handler.send_header("Content-Length", str(len(data)))
            for k, v in step.headers.items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        elif isinstance(step, Stream):
            handler.send_response(step.status)
            handler.send_header("Content-Type", "text/event-stream;charset=UTF-8")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.send_header("Cache-Control", "no-cache")
            for k, v in step.headers.items():
                handler.send_header(k, v)
            handler.end_headers()

            def chunk(raw: bytes) -> None:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
                handler.wfile.flush()

            nl = step.newline
            for i, event in enumerate(step.events, 1):
                if step.stall_after is not None and i > step.stall_after:
                    time.sleep(step.stall_seconds)
                    handler.close_connection = True
                    return
                text = (f": ping{nl}retry: 3000{nl}" if step.comments else "") + \
                    f"id: {i}{nl}event: result{nl}data: {json.dumps(event, ensure_ascii=False)}{nl}{nl}"
                raw = text.encode("utf-8")
                if step.piece:
                    for start in range(0, len(raw), step.piece):
                        chunk(raw[start:start + step.piece])
                        time.sleep(0.001)
                else:
                    chunk(raw)
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        elif isinstance(step, Hold):
            time.sleep(step.seconds)
            handler.close_connection = True
        elif isinstance(step, HeadersThenStall):
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json;charset=utf-8")
            handler.send_header("Content-Length", "4096")
            handler.send_header("x-acs-request-id", step.request_id)
            handler.end_headers()
            handler.wfile.write(b'{"RequestId"')
            handler.wfile.flush()
            time.sleep(step.seconds)
            handler.close_connection = True
        elif isinstance(step, Drop):
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:  # pragma: no cover - a mistake in this file
            raise TypeError(step)

    def set(self, *script) -> None:
        with self._lock:
            self.script = list(script)
            self.arrivals.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()




def our_client(srv: ReplyServer, **kw):
    return dms_magic.DmsChatClient(endpoint=srv.url, access_key_id=AK, access_key_secret=SK,
                                   instance_id=1, **with_settings(kw))


def sdk_client(srv: ReplyServer):
    config = Config(access_key_id=AK, access_key_secret=SK, endpoint=f"127.0.0.1:{srv.port}",
                    protocol="HTTP")
    return sdk_client_mod.Client(config)


# --------------------------------------------------------------------------------------------
# Hand-built reply bodies, in the reference's and the SDK models' key names.
# --------------------------------------------------------------------------------------------

def lp(token: str, logprob: float, alternatives=()) -> dict:
    """One DashScope logprob item: {token, bytes, logprob, top_logprobs: [{token, bytes, logprob}]}."""
    return {"token": token, "bytes": list(token.encode("utf-8")), "logprob": logprob,
            "top_logprobs": [{"token": t, "bytes": list(t.encode("utf-8")), "logprob": p}
                             for t, p in alternatives]}


LOGPROBS = [lp("你好", -0.0123, [("你好", -0.0123), ("您好", -4.51)]),
            lp("呀", -0.75, [("呀", -0.75), ("！", -0.9)]),
            lp("!", -0.002, [("!", -0.002), ("。", -6.2)])]

USAGE = {"CompletionTokens": "10", "PromptTokens": "9", "TotalTokens": "19",
         "PromptTokensDetails": {"cached_tokens": "2"},
         "CompletionTokensDetails": {"reasoning_tokens": "4"}}


def data_obj(content="你好呀!", *, reasoning="嗯，用户发了个“你好”，看起来是想打招呼...", finish="stop",
             role="assistant", logprobs=LOGPROBS, usage=USAGE, tool_calls=None, tool_key="ToolCalls",
             created="1763710100", model="qwen-plus", status="200") -> dict:
    message = {"Content": content, "Role": role}
    if reasoning is not None:
        message["ReasoningContent"] = reasoning
    if tool_calls is not None:
        message[tool_key] = tool_calls
    choice = {"FinishReason": finish, "Message": message,
              "Logprobs": {"content": logprobs} if logprobs is not None else None}
    data = {"Created": created, "Model": model, "Choices": [choice], "StatusCode": status}
    if usage is not None:
        data["Usage"] = copy.deepcopy(usage)  # a test that edits its body must not edit the shared USAGE
    return data


def ok_body(data=None, *, request_id=RID, data_as_string=False, **top) -> dict:
    data = data_obj() if data is None else data
    body = {"RequestId": request_id, "Success": True,
            "Data": json.dumps(data, ensure_ascii=False) if data_as_string else data}
    body.update(top)
    if request_id is None:
        del body["RequestId"]
    return body


# The reference page's own "Success response" example, verbatim.
REFERENCE_EXAMPLE = {
    "RequestId": "0C1CB646-1DE4-4AD0-B4A4-7D47DD52E931",
    "ErrorCode": "UnknownError",
    "ErrorMessage": "UnknownError",
    "Success": True,
    "Data": {
        "Created": "1763710100",
        "Model": "qwen-plus",
        "Choices": [{
            "FinishReason": "stop",
            "Message": {"Content": "你好呀!", "ReasoningContent": "嗯,用户发了个“你好”,看起来是想打招呼...",
                        "Role": "system"},
            "Logprobs": {"key": "{}"},
        }],
        "Usage": {"CompletionTokens": "10", "PromptTokens": "9", "TotalTokens": "19",
                  "PromptTokensDetails": {"key": "{}"}, "CompletionTokensDetails": {"key": "{}"}},
        "Message": "InvalidParameter",
        "StatusCode": "200",
        "Type": "invalid_request_error",
    },
}

MODEL_FAILURE_MESSAGE = "<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 129024]"


def model_failure_data(status="400", message=MODEL_FAILURE_MESSAGE, type_="invalid_request_error") -> dict:
    return {"StatusCode": status, "Message": message, "Type": type_, "Choices": []}


def model_failure_body(data_as_string=False, **kw) -> dict:
    """The reference's shape of a model failure: Success true, placeholder codes, the truth in Data."""
    data = model_failure_data(**kw)
    return {"RequestId": RID, "Success": True, "ErrorCode": "UnknownError", "ErrorMessage": "UnknownError",
            "Data": json.dumps(data, ensure_ascii=False) if data_as_string else data}


def gateway_body(code, message, *, request_id=RID) -> dict:
    body = {"RequestId": request_id, "HostId": "dms-enterprise.aliyuncs.com", "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=dms-enterprise"}
    if request_id is None:
        del body["RequestId"]
    return body


# --------------------------------------------------------------------------------------------
# The SDK's view: what a user of the official SDK can read from the same body.
# --------------------------------------------------------------------------------------------

@dataclass
class SdkView:
    text: str | None = None
    reasoning: str | None = None
    role: str | None = None
    finish_reason: str | None = None
    usage: dict | None = None           # snake_case -> value as the SDK holds it (strings)
    prompt_details: dict | None = None
    completion_details: dict | None = None
    logprobs: list | None = None        # DashScope items
    request_id: str | None = None
    model: str | None = None
    created: str | None = None


def sdk_data(data) -> sdk_models.ChatWithDesensitizeResponseBodyData:
    """The SDK's Data model from an object or (streamed, as every SDK types it) a JSON string."""
    if isinstance(data, str):
        data = json.loads(data)
    return sdk_models.ChatWithDesensitizeResponseBodyData().from_map(data)


def view_of_data(d: sdk_models.ChatWithDesensitizeResponseBodyData, request_id) -> SdkView:
    choice = d.choices[0]
    usage = d.usage
    return SdkView(
        text=choice.message.content, reasoning=choice.message.reasoning_content, role=choice.message.role,
        finish_reason=choice.finish_reason,
        usage=None if usage is None else {"prompt_tokens": usage.prompt_tokens,
                                          "completion_tokens": usage.completion_tokens,
                                          "total_tokens": usage.total_tokens},
        prompt_details=None if usage is None else usage.prompt_tokens_details,
        completion_details=None if usage is None else usage.completion_tokens_details,
        logprobs=(choice.logprobs or {}).get("content"), request_id=request_id, model=d.model,
        created=d.created)


def sdk_view_plain(body: dict) -> SdkView:
    if isinstance(body.get("Data"), str):
        # The plain model types Data as an object: a string Data is read the streamed model's way.
        m = sdk_models.ChatWithDesensitizeSSEResponseBody().from_map(body)
    else:
        m = sdk_models.ChatWithDesensitizeResponseBody().from_map(body)
        assert m.success is True and m.data.status_code in (None, "200")
    return view_of_data(sdk_data(m.data) if isinstance(m.data, str) else m.data, m.request_id)


def sdk_view_stream(events: list, *, text_so_far: bool) -> SdkView:
    """Read a stream as an SDK user must: each event's Data (a string) parsed, then put together."""
    parts = []
    for event in events:
        m = sdk_models.ChatWithDesensitizeSSEResponseBody().from_map(event)
        assert m.success is not False and not m.error_code
        parts.append((m.request_id, sdk_data(m.data)))
    text, reasoning, logprobs, finish, usage_view, role = "", "", [], None, None, None
    for _, d in parts:
        if d.usage is not None:
            usage_view = d.usage
        if not d.choices:  # OpenAI's include_usage shape: a last event with usage and no choices
            continue
        c = d.choices[0]
        content = c.message.content or ""
        think = c.message.reasoning_content or ""
        items = (c.logprobs or {}).get("content") or []
        if text_so_far:
            text = content or text
            reasoning = think or reasoning
            logprobs = items or logprobs
        else:
            text += content
            reasoning += think
            logprobs += items
        if c.finish_reason not in (None, "null", ""):
            finish = c.finish_reason
        role = c.message.role or role
    first = parts[0][1]
    u = usage_view
    return SdkView(text=text, reasoning=reasoning or None, role=role, finish_reason=finish,
                   usage=None if u is None else {"prompt_tokens": u.prompt_tokens,
                                                 "completion_tokens": u.completion_tokens,
                                                 "total_tokens": u.total_tokens},
                   prompt_details=None if u is None else u.prompt_tokens_details,
                   completion_details=None if u is None else u.completion_tokens_details,
                   logprobs=logprobs or None,
                   request_id=next((rid for rid, _ in parts if rid), None),
                   model=first.model, created=first.created)


def assert_exposes_at_least(result, sdk: SdkView, *, request_id=None) -> None:
    """dms_magic's ChatResult holds at least what the SDK's model holds for the same body."""
    assert result.text == (sdk.text or "")
    assert (result.reasoning or "") == (sdk.reasoning or "")
    assert result.finish_reason == sdk.finish_reason
    assert result.request_id == (request_id or sdk.request_id)
    if sdk.model is not None:
        assert result.model == sdk.model
    if sdk.created is not None:
        assert result.created == int(sdk.created)
    if sdk.usage is not None:
        for key, value in sdk.usage.items():
            assert result.usage_dict[key] == int(value), key
            assert int(result.usage[key].iloc[0]) == int(value), key
        for name, details in (("prompt_tokens_details", sdk.prompt_details),
                              ("completion_tokens_details", sdk.completion_details)):
            for key, value in (details or {}).items():
                assert int(result.usage_dict[name][key]) == int(value), f"{name}.{key}"
    if sdk.logprobs is not None:
        ours = result.token_logprobs
        assert [t["token"] for t in ours] == [t["token"] for t in sdk.logprobs]
        assert [t["logprob"] for t in ours] == pytest.approx([t["logprob"] for t in sdk.logprobs])
        assert [[a["token"] for a in t["top_logprobs"]] for t in ours] == \
               [[a["token"] for a in t["top_logprobs"]] for t in sdk.logprobs]
        frame = result.logprobs
        assert list(frame["token"]) == [t["token"] for t in sdk.logprobs]
        assert list(frame["logprob"]) == pytest.approx([t["logprob"] for t in sdk.logprobs])




SIGNING_KEYS = {"Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "AccessKeyId",
                "Timestamp", "Format", "Version", "Action", "SecurityToken", "SignatureType"}


def request_params(arrival: Arrival) -> dict:
    return {k: (v.lower() if v in ("True", "False") else v)
            for k, v in arrival.query.items() if k not in SIGNING_KEYS}
