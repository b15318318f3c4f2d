"""The streamed answer (ChatWithDesensitizeSSE) as server-sent events.

Each event is ``id``/``event``/``data:`` with a JSON object ``{RequestId, Success, Data}`` whose one
choice carries the increment as ``Message.Content`` (or ``Message.ReasoningContent`` while
thinking) and its logprobs. The last event carries ``FinishReason`` and, with IncludeUsage, ``Usage``.
There is never a ``data: [DONE]`` line: the official SDK json-parses every data line and would
crash on it. The events come from the same Generation as the non-streaming answer, so their
concatenated deltas equal it exactly for the same seed.

The ``ReplyShape`` decides the documented variants: ``Data`` as the JSON string every official SDK
types it as (default) or as an object; each event's text as the increment (default) or the text so
far. A tool call (``multimodal.tool_call_for``) streams OpenAI-style: the first fragment has the id,
type and name, the next ones pieces of the arguments, the last event ``FinishReason: tool_calls``.

``paced`` spaces the events like a model emitting tokens (``stream_token_interval_ms``): without
it the whole answer arrives in a few milliseconds and a stream looks like a plain call. Only the
streaming action is paced; plain calls and batches are answered at once.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any, Callable, Iterable, Iterator

from .replies import ReplyShape, choice, wire_tool_call

# How many pieces a streamed tool call's arguments are cut into (enough to test the merging).
ARGUMENT_PIECES = 4


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


def _body(shape: ReplyShape, request_id: str, data: Any) -> dict:
    if shape.stream_data == "string":  # the SDKs' type: ChatWithDesensitizeSSEResponseBody.data is a str
        data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return {"RequestId": request_id, "Success": True, **shape.top_level(), "Data": data}


def events(generation, values: dict, *, request_id: str, model: str, created: int,
           shape: ReplyShape = ReplyShape(), tool_call: dict | None = None) -> Iterator[bytes]:
    so_far = shape.stream_text == "text_so_far"

    def body(one_choice: dict, usage: dict | None = None) -> dict:
        data: dict[str, Any] = {"Created": str(created), "Model": model, "Choices": [one_choice]}
        if usage is not None:
            data["Usage"] = usage
        return _body(shape, request_id, data)

    usage = generation.usage() if values.get("include_usage") else None
    if tool_call is not None:
        yield from _tool_call_events(tool_call, body, usage, so_far)
        return

    number = 0
    thinking = generation.thinking
    reasoning_text = ""
    for step in generation.reasoning_steps:
        number += 1
        reasoning_text += step.token
        yield _event(number, body(choice(generation, values, content="", reasoning=reasoning_text if so_far
                                         else step.token, steps=[], finish=None)))
    reasoning_kept = (reasoning_text if so_far else "") if thinking else None
    text = ""
    for i, step in enumerate(generation.content_steps):
        number += 1
        text += step.token
        steps = generation.content_steps[:i + 1] if so_far else [step]
        yield _event(number, body(choice(generation, values, content=text if so_far else step.token,
                                         reasoning=reasoning_kept, steps=steps, finish=None)))
    last = choice(generation, values, content=text if so_far else "", reasoning=reasoning_kept,
                  steps=generation.content_steps if so_far else [], finish=generation.finish_reason)
    yield _event(number + 1, body(last, usage))


def _tool_call_events(call: dict, body, usage: dict | None, so_far: bool) -> Iterator[bytes]:
    arguments = call["function"]["arguments"]
    size = max(1, -(-len(arguments) // ARGUMENT_PIECES))
    pieces = [arguments[i:i + size] for i in range(0, len(arguments), size)] or [""]

    def message(fragment: dict) -> dict:
        return {"FinishReason": None, "Message": {"Content": "", "Role": "assistant", "ToolCalls": [fragment]},
                "Logprobs": None}

    number = 1
    yield _event(number, body(message(wire_tool_call(call, arguments=""))))
    for i, piece in enumerate(pieces):
        number += 1
        fragment = (wire_tool_call(call, arguments="".join(pieces[:i + 1])) if so_far
                    else wire_tool_call(call, arguments=piece, head=False))
        yield _event(number, body(message(fragment)))
    last: dict[str, Any] = {"FinishReason": "tool_calls", "Message": {"Content": "", "Role": "assistant"},
                            "Logprobs": None}
    if so_far:
        last["Message"]["ToolCalls"] = [wire_tool_call(call)]
    yield _event(number + 1, body(last, usage))


def error_event(body: dict, shape: ReplyShape = ReplyShape()) -> bytes:
    """An error on the streaming action that DMS reports in the body (unknown instance or rule, a
    model-side failure): one event carrying that body (its Data, if any, shaped like the others)."""
    if "Data" in body and shape.stream_data == "string" and not isinstance(body["Data"], str):
        body = {**body, "Data": json.dumps(body["Data"], ensure_ascii=False, separators=(",", ":"))}
    return _event(1, body)
