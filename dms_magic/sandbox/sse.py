"""The streamed answer (ChatWithDesensitizeSSE) as server-sent events.

Each event is ``id``/``event``/``data:`` with a JSON object ``{RequestId, Success, Data}`` whose one
choice carries the increment as ``Message.Content`` (or ``Message.ReasoningContent`` while
thinking) and its logprobs. The last event carries ``FinishReason`` and, with IncludeUsage, ``Usage``.
There is never a ``data: [DONE]`` line: the official SDK json-parses every data line and would
crash on it. The events come from the same Generation as the non-streaming answer, so their
concatenated deltas equal it exactly for the same seed.

``paced`` spaces the events like a model emitting tokens (``stream_token_interval_ms``): without
it the whole answer arrives in a few milliseconds and a stream looks like a plain call. Only the
streaming action is paced; plain calls and batches are answered at once.
"""
from __future__ import annotations

import json
import math
import time
from typing import Callable, Iterable, Iterator

from .replies import choice


# ~30 tokens/s: the pace of a hosted Qwen model, what the in-process sandbox streams at.
MODEL_TOKEN_INTERVAL_MS = 33.0


def token_interval(stream_token_interval_ms: float) -> float:
    """The pause between streamed events in seconds, after checking the knob."""
    value = stream_token_interval_ms
    if not (isinstance(value, (int, float)) and 0 <= value and math.isfinite(value)):
        raise ValueError(f"stream_token_interval_ms={value!r} is invalid: expected milliseconds >= 0 "
                         f"(0 streams at once; {MODEL_TOKEN_INTERVAL_MS:g} is about 30 tokens/s)")
    return value / 1000


def paced(chunks: Iterable[bytes], interval: float) -> Iterator[bytes]:
    """Yield the events with ``interval`` seconds before each one after the first."""
    for number, chunk in enumerate(chunks):
        if number and interval:
            _sleep(interval)
        yield chunk


_sleep: Callable[[float], None] = time.sleep  # looked up per pause, so a test can watch the pacing


def _event(number: int, body: dict) -> bytes:
    # ASCII-only data (\uXXXX escapes): the official SDK decodes each 8 KiB read on its own and
    # silently drops a read that splits a multi-byte character (possible when an event is larger
    # than a read, or a proxy re-chunks the stream); escapes cannot be split that way.
    data = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return f"id: {number}\nevent: result\ndata: {data}\n\n".encode("utf-8")


def events(generation, values: dict, *, request_id: str, model: str, created: int) -> Iterator[bytes]:
    def body(one_choice: dict, usage: dict | None = None) -> dict:
        data = {"Created": str(created), "Model": model, "Choices": [one_choice]}
        if usage is not None:
            data["Usage"] = usage
        return {"RequestId": request_id, "Success": True, "Data": data}

    number = 0
    thinking = generation.thinking
    for step in generation.reasoning_steps:
        number += 1
        yield _event(number, body(choice(generation, values, content="", reasoning=step.token, steps=[],
                                         finish=None)))
    for step in generation.content_steps:
        number += 1
        yield _event(number, body(choice(generation, values, content=step.token, reasoning="" if thinking else None,
                                         steps=[step], finish=None)))
    usage = generation.usage() if values.get("include_usage") else None
    last = choice(generation, values, content="", reasoning="" if thinking else None, steps=[],
                  finish=generation.finish_reason)
    yield _event(number + 1, body(last, usage))


def error_event(body: dict) -> bytes:
    """An error on the streaming action that DMS reports in the body (unknown instance or rule, a
    model-side failure): one event carrying that body."""
    return _event(1, body)
