"""ChatResult and StreamChunk: what came back, read tolerantly.

The real response (see the reference page) is PascalCase JSON with numbers as strings::

    {"RequestId": "...", "Success": true,
     "Data": {"Created": "1763710100", "Model": "qwen-plus",
              "Choices": [{"FinishReason": "stop",
                           "Message": {"Content": "...", "ReasoningContent": "...", "Role": "assistant"},
                           "Logprobs": {"content": [{"token", "bytes", "logprob", "top_logprobs"}]}}],
              "Usage": {"PromptTokens": "9", "CompletionTokens": "10", "TotalTokens": "19",
                        "PromptTokensDetails": {...}, "CompletionTokensDetails": {...}}}}

``Data`` may also arrive as a JSON *string*: every official SDK types the streamed reply's ``Data`` as
a string (``ChatWithDesensitizeSSEResponseBody.data: str``), the plain reply's as an object; both are
read everywhere (``data_of``). A streamed answer's events may carry increments or the text so far:
that is decided per stream from what arrives (``StreamState``, ``assemble``).

Everything is optional here: a field that is missing reads as None (or empty), a number may be a
string, and the Logprobs pass-through is DashScope's shape in whatever key case arrives
(``top_logprobs``, ``TopLogprobs``, ``topLogprobs`` all work). Nothing here imports pandas; the
DataFrame views (``.usage``, ``.logprobs``, ``.alternatives``) are built by frames.py on first access.
A result may be partial (``.partial``, ``.stop_reason``): a stream stopped by the user or broken off.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

# The tolerant readers live in values.py, below errors, frames and render, which use them too.
from dms_magic.wire._toolcalls import ToolCall, assemble_tool_calls, tool_call_fragments, tool_calls_of
from dms_magic.wire.values import data_of, normalize_token_logprobs, normalize_usage, pick, to_int

# -- tool calls -----------------------------------------------------------------------------------
# One ToolCall type for the whole package, in the bottom layer (tools.py): a plain answer's calls are
# read with ``tool_calls_of``, a streamed event's fragments with ``tool_call_fragments``, and the
# stream's whole calls are ``assemble_tool_calls`` of every fragment (merged by index).


# -- results --------------------------------------------------------------------------------------
def _first_choice(data: Any) -> Mapping[str, Any]:
    choices = pick(data, "Choices", default=None)
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return {}


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        return headers.get(name) or headers.get(name.title()) or None
    except AttributeError:
        return None


class ChatResult:
    """One answer from ChatWithDesensitize (or the assembled end of a stream)."""

    def __init__(self, *, text: str = "", reasoning: str | None = None, role: str | None = "assistant",
                 finish_reason: str | None = None, model: str | None = None, created: int | None = None,
                 request_id: str | None = None, latency: float | None = None, backend: str | None = None,
                 raw: Any = None, request: Any = None, usage: Mapping[str, Any] | None = None,
                 logprobs: Any = None, tool_calls: list[ToolCall] | None = None, stream_text: str | None = None,
                 partial: bool = False, stop_reason: str | None = None):
        self.text = text or ""
        # A stream's reading of its events: "increments", "text_so_far", or "ambiguous" (every event
        # extended the one before and nothing decisive said which: .text joins them, losing nothing;
        # the other reading is the last event's text). None for a plain answer.
        self.stream_text = stream_text
        self.reasoning = reasoning or None
        self.role = role
        self.finish_reason = finish_reason
        self.model = model
        self.created = created
        self.request_id = request_id
        self.latency = latency
        self.backend = backend
        self.raw = raw if raw is not None else {}
        self.request = request
        self.usage_dict: dict[str, Any] = normalize_usage(usage)
        self.tool_calls: list[ToolCall] = list(tool_calls or [])
        # A turn that did not end normally keeps what arrived: ``partial`` is True and
        # ``stop_reason`` says why: "stopped" (the user pressed Ctrl-C), "interrupted" (the
        # stream broke off) or "failed"; None for a complete answer.
        self.partial = bool(partial)
        self.stop_reason = stop_reason
        self._logprobs_raw = logprobs
        self._token_logprobs: list | None = None
        self._frames: dict[str, Any] = {}

    @classmethod
    def from_response(cls, body: Mapping[str, Any], *, request: Any = None, latency: float | None = None,
                      backend: str | None = None, headers: Any = None) -> "ChatResult":
        """``body`` as received (``Data`` an object or a JSON string); ``headers`` give the request
        id (``x-acs-request-id``) when the body has none."""
        data = data_of(body)
        choice = _first_choice(data)
        message = pick(choice, "Message", "Delta", default={}) or {}
        content = pick(message, "Content", default="")
        return cls(
            text=content if isinstance(content, str) else _parts_text(content),
            reasoning=pick(message, "ReasoningContent") or None,
            role=pick(message, "Role", default="assistant"),
            finish_reason=pick(choice, "FinishReason"),
            model=pick(data, "Model") or (getattr(request, "model", None) if request is not None else None),
            created=to_int(pick(data, "Created")),
            request_id=(pick(body, "RequestId") or pick(data, "RequestId", "Id")
                        or _header(headers, "x-acs-request-id")),
            latency=latency, backend=backend, raw=body, request=request,
            usage=pick(data, "Usage"), logprobs=pick(choice, "Logprobs"), tool_calls=tool_calls_of(message))

    # -- derived views ---------------------------------------------------------------------------
    @property
    def masked(self) -> bool:
        """Whether masking was asked for this request (need_desensitization)."""
        return bool(getattr(self.request, "need_desensitization", False)) if self.request is not None else False

    @property
    def messages(self) -> list | None:
        return getattr(self.request, "messages", None) if self.request is not None else None

    @property
    def token_logprobs(self) -> list[dict[str, Any]]:
        """Per-token logprobs as plain dicts (DashScope keys), no pandas."""
        if self._token_logprobs is None:
            self._token_logprobs = normalize_token_logprobs(self._logprobs_raw)
        return self._token_logprobs

    @property
    def usage(self):
        """1-row DataFrame: prompt_tokens, completion_tokens, total_tokens (ints) + detail columns."""
        if "usage" not in self._frames:
            from dms_magic.views.frames import usage_frame

            self._frames["usage"] = usage_frame(self.usage_dict)
        return self._frames["usage"]

    @property
    def logprobs(self):
        """DataFrame, one row per generated token (see frames.logprobs_frame for the columns)."""
        if "logprobs" not in self._frames:
            from dms_magic.views.frames import logprobs_frame

            self._frames["logprobs"] = logprobs_frame(self.token_logprobs)
        return self._frames["logprobs"]

    @property
    def alternatives(self):
        """Long DataFrame of the top alternatives: one row per (position, rank)."""
        if "alternatives" not in self._frames:
            from dms_magic.views.frames import alternatives_frame

            self._frames["alternatives"] = alternatives_frame(self.token_logprobs)
        return self._frames["alternatives"]

    def tool_calls_frame(self):
        """DataFrame, one row per tool call the model asked for: index, id, name, arguments (parsed
        JSON, None when not valid JSON), arguments_raw (the text as received), arguments_error."""
        import pandas as pd

        columns = ["index", "id", "name", "arguments", "arguments_raw", "arguments_error"]
        return pd.DataFrame([call.to_record() for call in self.tool_calls], columns=columns)

    def __str__(self) -> str:
        return self.text

    @property
    def partial_text(self) -> str:
        """The text received: the whole answer, or what arrived before a stop or break-off
        (``partial``). Code that handles both reads this one name."""
        return self.text or ""

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        calls = f", tool_calls={[c.name for c in self.tool_calls]!r}" if self.tool_calls else ""
        mode = ", stream_text='ambiguous'" if self.stream_text == "ambiguous" else ""
        partial = f", partial=True, stop_reason={self.stop_reason!r}" if self.partial else ""
        return (f"ChatResult(backend={self.backend!r}, model={self.model!r}, finish_reason={self.finish_reason!r}, "
                f"text={shown!r}{calls}{mode}, request_id={self.request_id!r}{partial})")

    def _repr_html_(self) -> str:
        from dms_magic.views.card import chat_result_html  # imported here: views sit above this layer

        return chat_result_html(self)

    def _repr_pretty_(self, printer, cycle) -> None:
        # IPython's text/plain: the readable multi-line view (header, answer, usage, ids).
        from dms_magic.views.card import chat_result_text

        printer.text(chat_result_text(self))


def _parts_text(content: Any) -> str:
    """The text of an answer given as content parts (``[{"type": "text", "text": ...}]``)."""
    if not isinstance(content, list):
        return ""
    return "".join(t for t in (pick(p, "Text") for p in content if isinstance(p, Mapping)) if isinstance(t, str))


def declared_stream_text(request: Any) -> str | None:
    """What the request itself says its events carry: ``Parameters`` ``{"incremental_output": true}``
    -> "increments", ``false`` -> "text_so_far" (DashScope's switch, passed through by DMS); else None."""
    parameters = getattr(request, "parameters", None) if request is not None else None
    if isinstance(parameters, (str, bytes)):
        try:
            parameters = json.loads(parameters)
        except ValueError:
            return None
    flag = pick(parameters, "incremental_output")
    if isinstance(flag, str):
        flag = {"true": True, "false": False}.get(flag.strip().lower())
    if flag is True:
        return "increments"
    if flag is False:
        return "text_so_far"
    return None


class StreamState:
    """What one stream's events have carried so far, to read each event right.

    Whether events carry only the new text (increments, as the sandbox and DashScope's
    ``incremental_output`` send) or the whole text so far is decided from evidence that cannot
    mislead, in this order:

    1. a non-empty value that does not extend the one before: increments (text so far never
       rewrites what it said), whatever else was declared;
    2. the request's own ``Parameters.incremental_output`` (``declared``);
    3. logprobs that repeat the previous event's entries exactly (same tokens, same logprobs) and
       add more, where the entries' logprobs are not all one value: text so far. An increment
       carries its own tokens, sampled afresh in a new context, so matching varied logprobs is no
       coincidence; but a constant (greedy decoding gives 0.0 to certain tokens: '哈' then '哈哈',
       all 0.0) is matched by increments too, so it decides nothing;
    4. one non-empty value per field: increments (there is nothing to read two ways).

    Otherwise the events extended or repeated the one before and nothing decided: the mode is
    "ambiguous", read as increments so that no text is lost ('ab', 'abc' is 'ababc', never 'abc';
    'ab', 'ab' is 'abab', though a text-so-far stream of 'ab' sends the same), and said so on the
    result (``ChatResult.stream_text``). Content and reasoning share the decision.

    Tool-call fragments (``place_tool_calls``): a known ``id`` goes to its call; a new ``id`` is a
    new call, even on an ``index`` another id already holds (Qwen servers send parallel calls all
    with index 0); else the wire's ``index``; a fragment with neither continues the last call,
    unless it names a different function after that call's arguments began (a new call).
    """

    __slots__ = ("declared", "_last", "_chained", "_grew", "_repeated", "_tokens", "_tokens_repeat", "_tool_ids",
                 "_tool_last", "_tool_slots", "_tool_wire")

    def __init__(self, declared: str | None = None) -> None:
        self.declared = declared
        self._last: dict[str, str] = {}
        self._chained, self._grew, self._repeated = True, False, False
        self._tokens: list | None = None
        self._tokens_repeat = False
        self._tool_ids: dict[str, int] = {}  # call id -> stream index
        self._tool_last: int | None = None  # the stream index the last fragment went to
        self._tool_slots: dict[int, dict[str, Any]] = {}  # stream index -> its id, name so far, any arguments
        self._tool_wire: dict[int, int] = {}  # the wire's index -> the stream index it last meant

    @property
    def mode(self) -> str:
        if not self._chained:
            return "increments"
        if self.declared:
            return self.declared
        if self._tokens_repeat:
            return "text_so_far"
        return "ambiguous" if (self._grew or self._repeated) else "increments"

    @property
    def cumulative(self) -> bool:
        return self.mode == "text_so_far"

    def increment(self, field: str, value: str) -> str:
        """The new part of ``value`` (one event's ``field``)."""
        if not value:
            return ""
        before = self._last.get(field)
        self._last[field] = value
        if before is not None:
            if not value.startswith(before):
                self._chained = False
            elif len(value) > len(before):
                self._grew = True
            else:  # the same value again: a text-so-far event that did not grow, or an equal increment
                self._repeated = True
        if before is not None and self.cumulative:
            return value[len(before):]
        return value

    def observe_tokens(self, tokens: list) -> None:
        """One event's logprobs: evidence of text so far when they repeat the last event's exactly
        and vary (rule 3)."""
        if not tokens:
            return
        before, self._tokens = self._tokens, tokens
        if before and len(tokens) > len(before) and tokens[:len(before)] == before and _varied(tokens):
            self._tokens_repeat = True

    def place_tool_calls(self, wire: Any, fragments: list[ToolCall]) -> list[ToolCall]:
        """Fragments with their stream-wide index (see the class docstring for the rules)."""
        wire = wire if isinstance(wire, list) else []
        placed = []
        for position, fragment in enumerate(fragments):
            raw = wire[position] if position < len(wire) else None
            index = self._tool_index(fragment, has_index=pick(raw, "index") is not None)
            slot = self._tool_slots.setdefault(index, {"id": None, "name": "", "args": False})
            if fragment.id and slot["id"] is None:
                slot["id"] = fragment.id
                self._tool_ids[fragment.id] = index
            if fragment.name and not slot["name"].endswith(fragment.name):
                slot["name"] += fragment.name
            slot["args"] = slot["args"] or bool(fragment.arguments_raw)
            self._tool_last = index
            placed.append(fragment if index == fragment.index else dataclasses.replace(fragment, index=index))
        return placed

    def _new_tool_slot(self, preferred: int | None) -> int:
        if preferred is not None and preferred not in self._tool_slots:
            return preferred
        return max(self._tool_slots, default=-1) + 1

    def _tool_index(self, fragment: ToolCall, *, has_index: bool) -> int:
        """Where one fragment belongs: a known id is its call; a distinct id is a new call even on an
        index already taken (Qwen servers send parallel calls all with index 0); else the wire's
        index; without index or id, the last call, unless a different name arrives after that call's
        arguments (a name comes on a call's first fragment, so it starts another)."""
        known = self._tool_ids.get(fragment.id) if fragment.id else None
        if known is not None:
            return known
        if has_index:
            current = self._tool_wire.get(fragment.index)
            taken = current is not None and fragment.id and self._tool_slots[current]["id"] not in (None, fragment.id)
            index = self._new_tool_slot(fragment.index) if current is None or taken else current
            self._tool_wire[fragment.index] = index
            return index
        if fragment.id or self._tool_last is None:
            return self._new_tool_slot(None if fragment.id else fragment.index)
        last = self._tool_slots[self._tool_last]
        if fragment.name and last["args"] and fragment.name != last["name"]:
            return self._new_tool_slot(None)
        return self._tool_last


def _varied(tokens: list) -> bool:
    """Whether an event's logprobs take more than one value (a constant is matched by chance)."""
    return len({repr(t.get("logprob")) if isinstance(t, Mapping) else repr(t) for t in tokens}) > 1


class StreamChunk:
    """One SSE event: ``.text`` / ``.delta`` and ``.reasoning`` are this event's new text (see
    StreamState), ``.received_text`` / ``.received_reasoning`` what the event carried; plus the
    event's finish reason, ids, usage, logprobs and tool-call fragments (``.tool_calls``)."""

    __slots__ = ("text", "reasoning", "finish_reason", "request_id", "model", "usage_dict", "token_logprobs",
                 "raw", "index", "received_text", "received_reasoning", "tool_calls", "created")

    def __init__(self, *, text: str = "", reasoning: str = "", finish_reason: str | None = None,
                 request_id: str | None = None, model: str | None = None, usage_dict: dict | None = None,
                 token_logprobs: list | None = None, raw: Any = None, index: int = 0,
                 received_text: str | None = None, received_reasoning: str | None = None,
                 tool_calls: list[ToolCall] | None = None, created: int | None = None):
        self.text, self.reasoning, self.finish_reason = text, reasoning, finish_reason
        self.request_id, self.model, self.usage_dict = request_id, model, usage_dict or {}
        self.token_logprobs, self.raw, self.index = token_logprobs or [], raw, index
        self.received_text = text if received_text is None else received_text
        self.received_reasoning = reasoning if received_reasoning is None else received_reasoning
        self.tool_calls, self.created = tool_calls or [], created

    @property
    def delta(self) -> str:
        return self.text

    @classmethod
    def from_event(cls, body: Mapping[str, Any], index: int = 0, state: StreamState | None = None) -> "StreamChunk":
        """One event's body as received (``Data`` an object or a JSON string). ``state``: the
        stream's StreamState, so ``.text`` is the increment even when events carry the text so far."""
        data = data_of(body)
        choice = _first_choice(data)
        # Streamed choices carry their increment as Delta (OpenAI style) or Message (DashScope style).
        message = pick(choice, "Delta", "Message", default={}) or {}
        content = pick(message, "Content", default="") or ""
        content = content if isinstance(content, str) else _parts_text(content)
        reasoning = pick(message, "ReasoningContent", default="") or ""
        reasoning = reasoning if isinstance(reasoning, str) else ""
        tokens = normalize_token_logprobs(pick(choice, "Logprobs"))
        fragments = tool_call_fragments(message)
        if state is not None:
            state.observe_tokens(tokens)
            if fragments:
                fragments = state.place_tool_calls(pick(message, "tool_calls"), fragments)
        text_new = state.increment("text", content) if state is not None else content
        reasoning_new = state.increment("reasoning", reasoning) if state is not None else reasoning
        return cls(text=text_new, reasoning=reasoning_new, received_text=content, received_reasoning=reasoning,
                   finish_reason=pick(choice, "FinishReason") or None,
                   request_id=pick(body, "RequestId"), model=pick(data, "Model"),
                   usage_dict=normalize_usage(pick(data, "Usage")),
                   token_logprobs=tokens, raw=body, index=index,
                   tool_calls=fragments, created=to_int(pick(data, "Created")))

    def __repr__(self) -> str:
        return f"StreamChunk(#{self.index}, text={self.text!r}, finish_reason={self.finish_reason!r})"


def _token_lists_chained(lists: list[list]) -> bool:
    """Each event's logprobs repeat the previous event's tokens plus more (the text so far)."""
    grew = False
    for before, after in zip(lists, lists[1:]):
        if len(after) < len(before) or (before and (after[0].get("token") != before[0].get("token")
                                                    or after[len(before) - 1].get("token")
                                                    != before[-1].get("token"))):
            return False
        grew = grew or len(after) > len(before)
    return grew


def assemble(chunks: Iterable[StreamChunk], *, request: Any = None, latency: float | None = None,
             backend: str | None = None, headers: Any = None, state: StreamState | None = None) -> ChatResult:
    """The ChatResult a stream amounts to: the text (joined increments, or the last text so far —
    decided over the whole stream by StreamState's rules), the last finish reason and usage, the
    logprobs, the tool calls merged by index, the first ``created``; the request id from the events,
    else ``headers``. ``state``: the stream's own (its declared mode); the evidence is replayed."""
    chunks = list(chunks)
    texts = [c.received_text for c in chunks if c.received_text]
    reasonings = [c.received_reasoning for c in chunks if c.received_reasoning]
    # One decision per stream, as in StreamState: content and reasoning together.
    replay = StreamState(declared=state.declared if state is not None else declared_stream_text(request))
    for chunk in chunks:
        replay.observe_tokens(chunk.token_logprobs)
        replay.increment("text", chunk.received_text)
        replay.increment("reasoning", chunk.received_reasoning)
    mode = replay.mode
    cumulative = mode == "text_so_far"
    text = (texts[-1] if texts else "") if cumulative else "".join(texts)
    reasoning = (reasonings[-1] if reasonings else "") if cumulative else "".join(reasonings)
    token_lists = [c.token_logprobs for c in chunks if c.token_logprobs]
    if cumulative and _token_lists_chained(token_lists):
        tokens = list(token_lists[-1])
    else:
        tokens = [t for lst in token_lists for t in lst]
    finish = request_id = model = created = None
    usage: dict[str, Any] = {}
    for chunk in chunks:
        finish = chunk.finish_reason or finish
        request_id = request_id or chunk.request_id
        model = chunk.model or model
        created = created if created is not None else chunk.created
        usage = chunk.usage_dict or usage
    result = ChatResult(text=text, reasoning=reasoning or None, finish_reason=finish,
                        model=model or (getattr(request, "model", None) if request is not None else None),
                        created=created, request_id=request_id or _header(headers, "x-acs-request-id"),
                        latency=latency, backend=backend, raw={"events": [c.raw for c in chunks]},
                        request=request, logprobs=tokens, stream_text=mode,
                        tool_calls=assemble_tool_calls(d for c in chunks for d in c.tool_calls))
    result.usage_dict = usage
    return result
