"""Client-side CPU time per ChatWithDesensitize call: DmsChatClient vs the official SDK.

Both clients call the same local server (a threaded HTTP/1.1 keep-alive server in its own process,
so its CPU is not counted) with the same request: four messages, masking on, sampling parameters,
logprobs. We measure this process's CPU time (``time.process_time``) per call: building and
validating the request, signing, HTTP, and parsing the reply into a result object. Wall time is
shown too but depends on the shared machine; the target is on CPU.

Peer: ``alibabacloud_dms_enterprise20181101.Client.chat_with_desensitize_with_options`` (the
official SDK, ACS3-HMAC-SHA256, its own pooled requests session). Target: ours <= 1.0x (issue 14:
the transport is urllib3, not hand-written; CPU per call matters little next to a model's latency).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLS = 300
ROUNDS = 3

_SERVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BODY = json.dumps({"RequestId": "B", "Success": True, "Data": {"Created": "1763710100", "Model": "qwen-plus",
    "Choices": [{"FinishReason": "stop", "Message": {"Content": "好的，这是回答。" * 8, "Role": "assistant"},
                 "Logprobs": {"content": [{"token": "好", "logprob": -0.1, "bytes": [229, 165, 189],
                                           "top_logprobs": [{"token": "好", "logprob": -0.1}]}] * 16}}],
    "Usage": {"PromptTokens": "40", "CompletionTokens": "16", "TotalTokens": "56"}}}, ensure_ascii=False).encode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        import socket
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a): pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_port, flush=True)
srv.serve_forever()
"""

MESSAGES = [
    {"role": "system", "content": "你是客服助手，回答要简洁。"},
    {"role": "user", "content": "我叫张伟，手机号13812345678，身份证110101199003071234，帮我查一下订单。"},
    {"role": "assistant", "content": "好的，请提供订单号。"},
    {"role": "user", "content": "订单号 A-2024-0001，地址北京市朝阳区建国路88号。"},
]
PARAMS = dict(instance_id=1, model="qwen-plus", need_desensitization=True, desensitization_rule="UserInfo",
              temperature=0.7, top_p=0.8, max_tokens=256, logprobs=True, top_logprobs=1)


def _serve():
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, f"127.0.0.1:{port}"


def _measure(call, n: int) -> tuple[float, float]:
    for _ in range(20):  # warm up: connections, caches, lazy imports
        call()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        call()
    return (time.process_time() - cpu0) / n, (time.perf_counter() - wall0) / n


def run(calls: int = CALLS, rounds: int = ROUNDS) -> list[dict]:
    sys.path.insert(0, ROOT)
    from alibabacloud_dms_enterprise20181101 import models as sdk_models
    from alibabacloud_dms_enterprise20181101.client import Client as SdkClient
    from alibabacloud_tea_openapi.models import Config
    from darabonba.runtime import RuntimeOptions

    from dms_magic.client import DmsChatClient

    proc, host = _serve()
    try:
        ours = DmsChatClient(f"http://{host}", access_key_id="LTAIbenchkey00000001", access_key_secret="bench-secret")
        sdk = SdkClient(Config(access_key_id="LTAIbenchkey00000001", access_key_secret="bench-secret",
                               endpoint=host, protocol="HTTP"))

        def call_ours():
            return ours.chat(MESSAGES, **PARAMS).text

        def call_sdk():
            request = sdk_models.ChatWithDesensitizeRequest(messages=MESSAGES, **PARAMS)
            response = sdk.chat_with_desensitize_with_options(request, RuntimeOptions())
            return response.body.data  # the SDK's parsed result (its model object for Data)

        assert call_ours() and call_sdk()
        best = {"ours": (float("inf"), 0.0), "sdk": (float("inf"), 0.0)}
        for _ in range(rounds):  # interleaved rounds, best of each: the machine is shared
            for name, fn in (("ours", call_ours), ("sdk", call_sdk)):
                cpu, wall = _measure(fn, calls)
                if cpu < best[name][0]:
                    best[name] = (cpu, wall)
        ours.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    (ours_cpu, ours_wall), (sdk_cpu, sdk_wall) = best["ours"], best["sdk"]
    return [{
        "case": "chat() client CPU per call vs official SDK",
        "ratio": ours_cpu / sdk_cpu, "target": 1.0,
        "ours_cpu_us": ours_cpu * 1e6, "sdk_cpu_us": sdk_cpu * 1e6,
        "ours_wall_us": ours_wall * 1e6, "sdk_wall_us": sdk_wall * 1e6, "calls": calls,
        "note": "peer: alibabacloud_dms_enterprise20181101 chat_with_desensitize_with_options",
    }]


if __name__ == "__main__":
    for row in run():
        print(row)
