"""The scripted HTTP server and helpers shared by the client, wire and secrets tests.

``ScriptedServer`` answers each request with the next entry of a list (so error sequences the
sandbox would have to be coaxed into are easy to state) and records what arrived; ``make_client``
is our client signed with ``AK``/``SK`` (fast backoff); ``verify_signature`` recomputes a recorded
request's signature the way a server does.
"""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from dms_magic.wire import signing
from dms_magic.client import ClientSettings, DmsChatClient

AK, SK = "LTAItestkey0001", "test-secret-value"

OK_BODY = {
    "RequestId": "REQ-OK", "Success": True,
    "Data": {"Created": "1763710100", "Model": "qwen-plus",
             "Choices": [{"FinishReason": "stop", "Message": {"Content": "你好", "Role": "assistant"}}],
             "Usage": {"PromptTokens": "9", "CompletionTokens": "2", "TotalTokens": "11"}},
}


def gateway(status, code, request_id="REQ-ERR"):
    return (status, {"RequestId": request_id, "HostId": "dms-enterprise.aliyuncs.com", "Code": code,
                     "Message": f"{code} happened", "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}"})


class ScriptedServer:
    """Answers request i with script[i] (the last entry repeats). An entry is (status, body[, headers]),
    "drop" (close the connection without answering), ("sleep", seconds, entry), ("short", sse_bytes)
    (a stream whose Content-Length promises 100 bytes more than it sends) or ("chunked", parts, gate). Each recorded
    request has its arrival ``time`` (time.monotonic()). ``port``: 0 for a free one, or a port to
    reuse (a service restarted where it was)."""

    def __init__(self, script, port: int = 0):
        self.script = list(script)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                outer.requests.append({
                    "time": time.monotonic(),  # arrival, by the server's clock
                    "path": parts.path, "raw_query": parts.query,
                    "query": dict(parse_qsl(parts.query, keep_blank_values=True)),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body, "form": dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)),
                })
                entry = outer.script[min(len(outer.requests) - 1, len(outer.script) - 1)]
                if isinstance(entry, tuple) and entry[0] == "sleep":
                    time.sleep(entry[1])
                    entry = entry[2]
                if isinstance(entry, tuple) and entry[0] == "chunked":  # ("chunked", parts, gate)
                    _, parts, gate = entry
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i, part in enumerate(parts):
                        if i:
                            gate.wait(10)  # the next part only after the client saw the previous one
                        data = part.encode("utf-8")
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if isinstance(entry, tuple) and entry[0] == "short":  # ("short", SSE bytes): a cut-off body
                    self.close_connection = True
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", str(len(entry[1]) + 100))  # promises more than comes
                    self.end_headers()
                    self.wfile.write(entry[1])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if entry == "close-after":  # answer, then close the kept-alive connection while idle
                    self.close_connection = True
                    entry = (200, OK_BODY)
                if entry == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload, *rest = entry
                headers = dict(rest[0]) if rest else {}
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                    ctype = "application/json;charset=utf-8"
                else:
                    data = payload if isinstance(payload, bytes) else str(payload).encode("utf-8")
                    ctype = headers.pop("Content-Type", "text/plain")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(ClientSettings))


def with_settings(kw: dict, **defaults) -> dict:
    """DmsChatClient keywords with any ClientSettings field among ``kw`` (or ``defaults``) gathered
    into ``settings=`` (tests state a timeout or a retry budget next to the keys, as a user would)."""
    fields = {**defaults, **{k: kw.pop(k) for k in list(kw) if k in SETTING_NAMES}}
    if fields:
        base = kw.pop("settings", None) or ClientSettings()
        kw["settings"] = dataclasses.replace(base, **fields)
    return kw


def make_client(url, **kw):
    """Our client signed with AK/SK, instance 1, fast backoff; settings fields may be given flat."""
    kw = with_settings(kw, backoff_base=0.001, backoff_cap=0.01)
    return DmsChatClient(url, access_key_id=AK, access_key_secret=SK, instance_id=kw.pop("instance_id", 1), **kw)


def verify_signature(req, secret=SK):
    """Recompute the signature the way a server does (signed list from the Authorization header)."""
    _, _, signed, sig = signing.parse_authorization(req["headers"]["authorization"])
    text, _ = signing.canonical_request("POST", req["path"], req["query"], req["headers"],
                                        signing.hash_payload(req["body"]), signed)
    return signing.signature(secret, signing.string_to_sign(text)) == sig


def sse_event(content="", finish=None, usage=None, request_id="REQ-S", logprobs=None):
    choice = {"Message": {"Content": content, "Role": "assistant"}}
    if finish:
        choice["FinishReason"] = finish
    if logprobs:
        choice["Logprobs"] = {"content": logprobs}
    data = {"Choices": [choice], "Model": "qwen-plus"}
    if usage:
        data["Usage"] = usage
    return {"RequestId": request_id, "Success": True, "Data": data}


def sse_body(*parts: str) -> tuple:
    return (200, "".join(parts).encode("utf-8"), {"Content-Type": "text/event-stream;charset=UTF-8"})
