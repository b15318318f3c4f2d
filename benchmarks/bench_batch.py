"""chat_many wall time: 200 prompts, sandbox latency 100 ms, concurrency 16.

Peers in the same run:
- ideal: 200 x 0.1 s / 16, what perfect overlap of the injected latency would give;
- bare pool: ``ThreadPoolExecutor(16).map(client.chat, prompts)``, the least code a user could write
  (no rows, no error capture, no progress, no rate cap) — chat_many's own overhead is the gap.
Target: chat_many <= 1.2 x ideal. Also reported: ``compare=True`` (400 requests and a leak check
per answer) against its own ideal, 2 x 200 x 0.1 s / 16.

``python benchmarks/bench_batch.py`` prints the table; ``run()`` returns the rows for benchmarks/run.py.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from timing import best_of  # noqa: E402  (benchmarks/ is on sys.path when run)

PROMPTS = 200
LATENCY_MS = 100
CONCURRENCY = 16
TARGET = 1.2


def _prompts(n: int) -> list[str]:
    return [f"第{i}位客户张伟，手机号1381234{i:04d}，请总结他的诉求。" for i in range(n)]


def run(prompts: int = PROMPTS, latency_ms: int = LATENCY_MS, concurrency: int = CONCURRENCY,
        repeats: int = 3) -> list[dict]:
    """Rows for benchmarks/run.py: variant, seconds (best of ``repeats``), ratio (x ideal), target."""
    from dms_magic.batch import chat_many
    from dms_magic.client import DmsChatClient
    from dms_magic.sandbox import FaultConfig, start

    texts = _prompts(prompts)
    ideal = prompts * latency_ms / 1000 / concurrency
    with start(faults=FaultConfig(latency_ms=latency_ms)) as sandbox:
        client = DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id,
                               access_key_secret=sandbox.access_key_secret, instance_id=1)
        with client:
            client.chat(texts[0], max_tokens=16)  # warm the connection pool and the generator

            def bare_pool() -> None:
                with ThreadPoolExecutor(concurrency) as pool:
                    list(pool.map(lambda p: client.chat(p, max_tokens=16), texts))

            def batch() -> None:
                frame = chat_many(texts, client=client, concurrency=concurrency, progress=False, max_tokens=16)
                failed = int(frame["error_code"].notna().sum())
                if failed:
                    raise RuntimeError(f"benchmark run had {failed} error rows: {frame['error_code'].value_counts()}")

            def batch_compare() -> None:
                frame = chat_many(texts, client=client, compare=True, concurrency=concurrency, progress=False,
                                  max_tokens=16)
                if frame["error_code"].notna().any():
                    raise RuntimeError("benchmark compare run had error rows")

            timings = {"bare ThreadPoolExecutor.map": best_of(bare_pool, repeats),
                       "chat_many": best_of(batch, repeats)}
            # Twice the requests (masked + unmasked) plus the leak check on every answer.
            compare_seconds = best_of(batch_compare, repeats)
    setup = f"{prompts} prompts, sandbox latency {latency_ms} ms, concurrency {concurrency}"
    rows = [{"variant": "ideal (n x latency / concurrency)", "seconds": round(ideal, 3), "ratio": 1.0,
             "note": setup}]
    for name, seconds in timings.items():
        row = {"variant": name, "seconds": round(seconds, 3), "ratio": seconds / ideal, "note": "x ideal"}
        if name == "chat_many":
            row["target"] = TARGET
            row["vs_bare_pool"] = round(seconds / timings["bare ThreadPoolExecutor.map"], 3)
        rows.append(row)
    rows.append({"variant": "chat_many compare=True (2 requests per prompt)", "seconds": round(compare_seconds, 3),
                 "ratio": compare_seconds / (2 * ideal), "note": "x its ideal (2 x n x latency / concurrency)"})
    return rows



if __name__ == "__main__":
    for row in run():
        print(f"{row['variant']:48} {row['seconds']:7.3f} s  {row['ratio']:5.2f} x ideal"
              + (f"  (target <= {row['target']}; {row['vs_bare_pool']} x bare pool)" if "target" in row else ""))
