"""Running the calls a model asked for: ``run_tool_calls`` (each call, never raises) and
``tool_loop`` (rounds of answer -> run tools -> answer, with a transcript for the card).
"""
from __future__ import annotations

import enum
import inspect
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from dms_magic.defaults import DEFAULT_TOOL_ROUNDS, MAX_TOOL_RESULT_CHARS
from dms_magic.errors import ToolSpecError
from dms_magic.wire._json import compact_json
from dms_magic.wire._toolcalls import ToolCall, tool_calls_of, valid_text
from dms_magic.wire._toolspecs import as_list, looks_like_spec, tool_functions, tool_spec
from dms_magic.wire.values import pick, shorten

MAX_RESULT_CHARS = MAX_TOOL_RESULT_CHARS  # a tool's answer beyond this is cut: it goes back into the prompt


@dataclass(frozen=True)
class ToolRun:
    """What running one call did: ``ok`` False with ``error`` set when the tool was not called
    (unknown name, bad arguments) or raised; ``message`` is the ``tool`` message sent back."""

    call: ToolCall
    ok: bool
    result: Any
    error: str | None
    message: dict
    round: int = 1

    def to_dict(self) -> dict:
        return {"round": self.round, "id": self.call.id, "name": self.call.name, "arguments": self.call.arguments,
                "arguments_raw": self.call.arguments_raw, "ok": self.ok, "content": self.message["content"],
                "error": self.error}


def run_tool_call(call: Any, functions: Any, *, round: int = 1) -> ToolRun:
    """Run one call with its parsed arguments as keywords. Never raises (except KeyboardInterrupt
    and other BaseExceptions that are not Exceptions): every failure becomes the tool message —
    the tool's, and its result's when that cannot become text (a cycle, a 100k-deep value, an
    object whose ``__str__`` raises)."""
    call = ToolCall.from_wire(call)
    table = tool_functions(functions)
    try:
        return _run(call, functions, table, round)
    except Exception as exc:  # anything the checks below did not foresee, RecursionError included
        return _failed(call, f"running {call.name} failed: {_describe(exc)}", round)


def _run(call: ToolCall, functions: Any, table: dict, round: int) -> ToolRun:
    if call.name not in table:
        declared = _declared_names(functions)
        if call.name in declared:
            return _failed(call, f"'{call.name}' is declared as a spec without a Python function to run; "
                                 "it was not called.", round)
        known = ", ".join(sorted(declared | set(table))) or "none"
        return _failed(call, f"'{call.name}' is not one of the tools given ({known}); it was not called.", round)
    if call.arguments_error:
        return _failed(call, f"the arguments for '{call.name}' are {call.arguments_error}; the tool was not called.",
                       round)
    fn = table[call.name]
    arguments = dict(call.arguments)
    try:
        signature = inspect.signature(fn)
    except Exception:  # a callable without a readable signature is called as it is
        signature = None
    if signature is not None:
        try:
            signature.bind(**arguments)
        except TypeError as exc:
            return _failed(call, f"the arguments do not fit {call.name}{signature}: {exc}; the tool was not called.",
                           round)
        arguments = _restore_enums(fn, arguments)
    try:
        value = fn(**arguments)
    except Exception as exc:  # a tool's failure is reported to the model, never a crash of the cell
        return _failed(call, f"{call.name} raised {_describe(exc)}", round)
    if inspect.isawaitable(value):  # an async def: a notebook's loop is already running, so it cannot be awaited here
        getattr(value, "close", lambda: None)()
        return _failed(call, f"{call.name} is async; tools are run synchronously: give a plain function.", round)
    try:
        text = _result_text(value)
    except Exception as exc:  # a cycle, a value too deep to write, a __str__ that raises
        error = (f"{call.name} ran, but its result ({type(value).__name__}) cannot be sent as text: "
                 f"{_describe(exc)}; return a str or plain JSON data (dicts, lists, numbers, strings)")
        return ToolRun(call=call, ok=False, result=value, round=round, **_failure(error, call))
    return ToolRun(call=call, ok=True, result=value, error=None, message=_tool_message(call, text), round=round)


def _describe(exc: BaseException) -> str:
    """``Kind: message`` of an exception whose own ``__str__`` may raise too."""
    try:
        message = str(exc)
    except Exception:
        message = "(its message cannot be shown)"
    return f"{type(exc).__name__}: {shorten(message, 500)}" if message else type(exc).__name__


def run_tool_calls(tool_calls: Any, functions: Any, *, round: int = 1) -> list[dict]:
    """The ``tool`` messages answering each call (in order); see ``run_tool_call``."""
    return [run.message for run in _run_all(tool_calls, functions, round)]


def _run_all(tool_calls: Any, functions: Any, round: int) -> list[ToolRun]:
    return [run_tool_call(call, functions, round=round) for call in tool_calls_of(tool_calls)]


def _declared_names(functions: Any) -> set[str]:
    """Names of every tool given, specs without a function included."""
    if isinstance(functions, Mapping) and not looks_like_spec(functions):
        return {str(name) for name in functions}
    names = set()
    for item in as_list(functions):
        try:
            names.add(tool_spec(item)["function"]["name"])
        except ToolSpecError:
            continue
    return names


def _failed(call: ToolCall, error: str, round: int) -> ToolRun:
    return ToolRun(call=call, ok=False, result=None, round=round, **_failure(error, call))


def _failure(error: str, call: ToolCall | None = None) -> dict:
    error = valid_text(error)
    return {"error": error, "message": {"role": "tool", "tool_call_id": call.id if call else None,
                                        "content": "Error: " + error}}


def _tool_message(call: ToolCall, content: str) -> dict:
    return {"role": "tool", "tool_call_id": call.id, "content": valid_text(content)}


def _result_text(value: Any) -> str:
    """The tool message's text; raises (ValueError for a cycle, RecursionError for a value too deep,
    whatever a ``__str__`` raises) when there is none: the runner reports that to the model."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = compact_json(value)
        except TypeError:  # not JSON data: its str() where JSON has no type for it
            text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS - 3] + "..."


def _restore_enums(fn: Callable, arguments: dict) -> dict:
    """Values of Enum-typed parameters back to their members (the schema sent their values)."""
    try:
        hints = typing.get_type_hints(fn if inspect.isroutine(fn) or isinstance(fn, type) else type(fn).__call__)
    except Exception:
        return arguments
    out = dict(arguments)
    for name, value in arguments.items():
        hint = hints.get(name)
        members = [a for a in typing.get_args(hint)] if typing.get_origin(hint) is typing.Union else [hint]
        for member in members:
            if isinstance(member, type) and issubclass(member, enum.Enum):
                try:
                    out[name] = member(value)
                    break
                except ValueError:
                    continue
    return out


# --- the loop ------------------------------------------------------------------------------------

@dataclass
class ToolLoopResult:
    """``result``: the last answer; ``transcript``: every call and its outcome, in order;
    ``messages``: the whole conversation (assistant calls and tool messages included);
    ``rounds``: how many times tools were run; ``stopped``: "answer" (no more calls) or
    "max_rounds" (the last answer still asked for tools, which were not run)."""

    result: Any
    transcript: list[ToolRun] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    rounds: int = 0
    stopped: str = "answer"

    def transcript_records(self) -> list[dict]:
        return [run.to_dict() for run in self.transcript]


def tool_loop(send: Callable[[list[dict]], Any], messages: Sequence[Mapping], functions: Any, *,
              max_rounds: int = DEFAULT_TOOL_ROUNDS) -> ToolLoopResult:
    """Send, run the tools the answer asks for, send again with their results; repeat until an
    answer without tool calls or ``max_rounds`` rounds of tools (so at most ``max_rounds + 1``
    requests). ``send(messages) -> result`` with ``result.tool_calls`` and ``result.text``; its
    errors propagate (a failed request fails the cell), a tool's never do."""
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
        raise ValueError(f"max_rounds={max_rounds!r} is invalid: expected an integer >= 1.")
    tool_functions(functions)  # a bad tool list fails here, before any request
    conversation = [dict(m) for m in messages]
    transcript: list[ToolRun] = []
    rounds = 0
    while True:
        result = send(list(conversation))
        calls = tool_calls_of(result)
        if not calls:
            return ToolLoopResult(result, transcript, conversation, rounds, "answer")
        if rounds >= max_rounds:
            return ToolLoopResult(result, transcript, conversation, rounds, "max_rounds")
        rounds += 1
        text = pick(result, "text", attributes=True)
        conversation.append({"role": "assistant", "content": text if isinstance(text, str) else "",
                             "tool_calls": [c.to_wire() for c in calls]})
        runs = [run_tool_call(call, functions, round=rounds) for call in calls]
        transcript.extend(runs)
        conversation.extend(run.message for run in runs)


