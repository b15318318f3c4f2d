"""Building ``ChatResult.logprobs`` for a long answer vs ``pandas.json_normalize`` on the same data.

Data: 8192 generated tokens, each with 5 top alternatives, in DashScope's shape as DMS passes it
through (``{"content": [{"token", "bytes", "logprob", "top_logprobs": [...]}]}``), inside a full
response body that has been through ``json.dumps``/``json.loads`` as a real one has. (That round
trip matters: objects built in Python share one ``str`` per distinct token, where a parsed response
has a fresh ``str`` and ``float`` per value; reading alternatives from a parsed body cost 1.7x as
much as from the Python-built one.) Ours: ``ChatResult.from_response(body).logprobs`` (parse the
result, normalise the key case, build the frame: position, token, logprob, prob, bytes,
top_logprobs). Peers on the same content list:

- ``pandas.json_normalize(content)`` — the usual one-liner (target: ours <= 0.5x);
- ``pandas.DataFrame(content)`` — the naive constructor (context only: it adds no prob column).

Both ``.logprobs`` and ``json_normalize`` leave each token's alternatives as one list-of-dicts cell.
A second pair of rows therefore times the tidy long form of the alternatives
(``ChatResult.alternatives``, one row per position and rank) vs ``json_normalize(content,
record_path="top_logprobs", meta=...)``, pandas' own way to get one row per alternative.

Best of several runs each, interleaved; CPU time of this process (``time.process_time``: the work
is single-threaded and CPU-bound, and CPU time is less disturbed than wall time by the other
processes on a shared machine).
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENS = 8192
ALTERNATIVES = 5
REPEATS = 9


def make_body(tokens: int = TOKENS, alternatives: int = ALTERNATIVES, seed: int = 7) -> dict:
    rng = random.Random(seed)
    vocab = ["的", "是", "数据", "脱敏", " the", " model", "ing", "，", "。", "\n", "13812345678", "张"]
    content = []
    for _ in range(tokens):
        alts = sorted((math.log(rng.random() + 1e-9) for _ in range(alternatives)), reverse=True)
        words = rng.sample(vocab, alternatives)
        top = [{"token": w, "bytes": list(w.encode("utf-8")), "logprob": lp} for w, lp in zip(words, alts)]
        content.append({"token": words[0], "bytes": list(words[0].encode("utf-8")), "logprob": alts[0],
                        "top_logprobs": top})
    body = {"RequestId": "BENCH", "Success": True,
            "Data": {"Model": "qwen-plus", "Choices": [{"FinishReason": "length", "Message": {"Content": "x"},
                                                        "Logprobs": {"content": content}}]}}
    return json.loads(json.dumps(body, ensure_ascii=False))  # as the client holds it: parsed from the wire



def run(tokens: int = TOKENS, alternatives: int = ALTERNATIVES, repeats: int = REPEATS) -> list[dict]:
    sys.path.insert(0, ROOT)
    import pandas as pd

    from dms_magic.wire.result import ChatResult

    body = make_body(tokens, alternatives)
    content = body["Data"]["Choices"][0]["Logprobs"]["content"]

    def ours():
        frame = ChatResult.from_response(body).logprobs
        assert len(frame) == tokens

    def normalize():
        assert len(pd.json_normalize(content)) == tokens

    def naive():
        assert len(pd.DataFrame(content)) == tokens

    def ours_long():
        assert len(ChatResult.from_response(body).alternatives) == tokens * alternatives

    def normalize_long():
        frame = pd.json_normalize(content, record_path="top_logprobs", meta=["token", "logprob"],
                                  meta_prefix="chosen_")
        assert len(frame) == tokens * alternatives

    cases = (("ours", ours), ("json_normalize", normalize), ("DataFrame", naive), ("ours_long", ours_long),
             ("json_normalize_long", normalize_long))
    for _, fn in cases:  # warm up imports and caches
        fn()
    times = {name: float("inf") for name, _ in cases}
    for _ in range(2):  # interleaved rounds: the machine is shared
        for name, fn in cases:
            times[name] = min(times[name], best_of(fn, repeats, clock=time.process_time))
    shape = f"{tokens} tokens x {alternatives} alternatives"
    return [
        {"case": f".logprobs vs pandas.json_normalize ({shape})", "ratio": times["ours"] / times["json_normalize"],
         "target": 0.5, "ours_ms": times["ours"] * 1e3, "peer_ms": times["json_normalize"] * 1e3,
         "note": "peer: pandas.json_normalize(content)"},
        {"case": f".logprobs vs pandas.DataFrame(content) ({shape})", "ratio": times["ours"] / times["DataFrame"],
         "ours_ms": times["ours"] * 1e3, "peer_ms": times["DataFrame"] * 1e3,
         "note": "context: the naive constructor, without the prob column"},
        {"case": f".alternatives vs json_normalize(record_path=top_logprobs) ({shape})",
         "ratio": times["ours_long"] / times["json_normalize_long"], "ours_ms": times["ours_long"] * 1e3,
         "peer_ms": times["json_normalize_long"] * 1e3,
         "note": "same rows: one per alternative; ours adds rank, prob, chosen; the peer keeps bytes"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
