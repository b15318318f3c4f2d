"""Tool calls as replies carry them: ``ToolCall`` (the package's one tool-call type), read in any
key case, and streamed fragments joined into whole calls.

In wire/ because the reply reader (``ChatResult.tool_calls``, ``StreamChunk.tool_calls``) and the
sandbox (``call_id_for``) need them; running calls is ``tools``' job.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from dms_magic.wire import jsonread
from dms_magic.wire._json import compact_json_safe
from dms_magic.wire.values import grows_by_extension, pick


def _get(obj: Any, name: str) -> Any:
    """A key in any case (id, Id, ID; toolCalls/ToolCalls/tool_calls) or an attribute."""
    return pick(obj, name, attributes=True)


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for — the package's one tool-call type (``ChatResult.tool_calls``,
    ``StreamChunk.tool_calls``, the tool loop).

    ``arguments`` is the parsed JSON (a dict for a well-formed call; None when ``arguments_raw``
    is not valid JSON — ``arguments_error`` then says why); ``arguments_raw`` (also
    ``arguments_json``) is the string as received; ``index`` its position among the answer's calls.
    ``id`` is None only on a streamed fragment that does not carry it (a whole call without one
    gets ``call_<index>``, so its tool message can answer it).
    """

    id: str | None
    name: str
    arguments: Any
    arguments_raw: str
    index: int = 0
    type: str = "function"

    @classmethod
    def from_wire(cls, obj: Any, index: int | None = None, *, default_index: int = 0,
                  fragment: bool = False) -> "ToolCall":
        """Read ``{"id", "type": "function", "function": {"name", "arguments": "<json>"}}`` in any key case
        (PascalCase as DMS writes its own keys), a flat ``{"id", "name", "arguments"}``, or a ToolCall.

        ``index`` forces the position; otherwise the call's own ``index`` is used, else
        ``default_index``. ``fragment``: a streamed piece (a missing id or name stays missing)."""
        if isinstance(obj, ToolCall):
            return obj if index is None or index == obj.index else dataclasses.replace(obj, index=index)
        function = _get(obj, "function")
        source = function if isinstance(function, Mapping) else obj
        name = _get(source, "name")
        raw = _get(source, "arguments")
        if raw is None:
            raw = ""
        elif not isinstance(raw, str):  # a service that sends the arguments already parsed
            raw = compact_json_safe(raw)
        position = index
        if position is None:
            try:
                position = int(_get(obj, "index"))
            except (TypeError, ValueError):
                position = default_index
        call_id = _get(obj, "id")
        if call_id in (None, ""):
            call_id = None if fragment else f"call_{position}"
        kind = _get(obj, "type")
        return cls(id=str(call_id) if call_id is not None else None,
                   name=str(name) if name is not None else "", arguments=_parse_arguments(raw)[0],
                   arguments_raw=raw, index=position, type=str(kind) if kind else "function")

    @property
    def arguments_json(self) -> str:
        """The arguments as the model wrote them (the JSON text; same as ``arguments_raw``)."""
        return self.arguments_raw

    @property
    def arguments_error(self) -> str | None:
        """Why ``arguments_raw`` could not be read as a JSON object, or None when it could."""
        return _parse_arguments(self.arguments_raw)[1]

    def to_wire(self) -> dict:
        """The OpenAI/DashScope shape, ready to send back in the assistant message of the next turn:
        ``{"role": "assistant", "content": None, "tool_calls": [c.to_wire() for c in calls]}``."""
        return {"id": self.id, "type": self.type or "function",
                "function": {"name": self.name, "arguments": valid_text(self.arguments_raw)}}

    to_dict = to_wire

    def to_record(self) -> dict:
        """One flat row (``ChatResult.tool_calls_frame()``, the card)."""
        return {"index": self.index, "id": self.id, "name": self.name, "arguments": self.arguments,
                "arguments_raw": self.arguments_raw, "arguments_error": self.arguments_error}

    def __repr__(self) -> str:
        return f"ToolCall(id={self.id!r}, name={self.name!r}, arguments={self.arguments_raw!r})"


def _parse_arguments(raw: str) -> tuple[Any, str | None]:
    if not raw.strip():
        return {}, None  # some services send "" for a call without arguments
    try:  # strict and depth-limited: no NaN/Infinity for the tool, no RecursionError for the cell
        value = jsonread.loads(raw, finite=True)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(value, dict):
        return value, f"a JSON {type(value).__name__} instead of an object"
    if _has_lone_surrogate(raw, value):
        return value, "not valid Unicode text (a lone surrogate such as \\ud800, which UTF-8 cannot carry)"
    return value, None


def _has_lone_surrogate(raw: str, value: Any) -> bool:
    """Whether the arguments hold half of a UTF-16 pair: the tool would get text that cannot be
    encoded, and its echo would make the next request unsendable, after it ran."""
    if not raw.isascii():
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            return True
    if "\\u" not in raw or not re.search(r"\\u[dD][89a-fA-F]", raw):
        return False
    try:  # an escaped pair decodes to one character; only a lone half fails here
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def valid_text(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD, so that it can be sent (UTF-8)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def assemble_tool_calls(deltas: Iterable[Any], *, cumulative: bool | None = None) -> list[ToolCall]:
    """Join streamed tool-call fragments (wire dicts in any key case, or ToolCall fragments) into
    whole calls, by ``index``, OpenAI-style: id, type and name from whichever fragment has them
    (a name sent in pieces is joined), the arguments' pieces appended. ``cumulative``: each
    fragment carries the arguments so far and the last one wins; None (default) decides it per
    call from what arrived (every piece extends the one before and one grew: the text so far)."""
    merged: dict[int, dict] = {}
    for position, delta in enumerate(deltas):
        piece = ToolCall.from_wire(delta, default_index=position, fragment=True)
        slot = merged.setdefault(piece.index, {"id": None, "type": None, "name": "", "pieces": []})
        slot["id"] = piece.id or slot["id"]
        if isinstance(delta, ToolCall) or _get(delta, "type"):
            slot["type"] = slot["type"] or piece.type
        if piece.name:
            old = slot["name"]
            slot["name"] = piece.name if not old or piece.name.startswith(old) else old + piece.name
        if piece.arguments_raw:
            slot["pieces"].append(piece.arguments_raw)
    out = []
    for index in sorted(merged):
        slot = merged[index]
        pieces = slot["pieces"]
        so_far = grows_by_extension(pieces) if cumulative is None else cumulative
        text = (pieces[-1] if pieces else "") if so_far else "".join(pieces)
        out.append(ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=_parse_arguments(text)[0],
                            arguments_raw=text, index=index, type=slot["type"] or "function"))
    return out


def tool_calls_of(result: Any) -> list[ToolCall]:
    """The tool calls of a result object (``.tool_calls``), a message dict (``tool_calls`` in any
    key case, ``ToolCalls`` as DMS writes it) or a list; junk entries are skipped."""
    calls = result if isinstance(result, (list, tuple)) else _get(result, "tool_calls")
    if not isinstance(calls, (list, tuple)):
        return []
    return [ToolCall.from_wire(c, default_index=i) for i, c in enumerate(calls)
            if isinstance(c, (Mapping, ToolCall))]


def tool_call_fragments(message: Any) -> list[ToolCall]:
    """The tool-call fragments one streamed event carries (ids and names may be missing)."""
    calls = _get(message, "tool_calls")
    if not isinstance(calls, list):
        return []
    return [ToolCall.from_wire(c, default_index=i, fragment=True) for i, c in enumerate(calls)
            if isinstance(c, Mapping)]



def call_id_for(name: str, arguments_raw: str, salt: str = "") -> str:
    """A stable call id (the sandbox names its calls with it, so replays agree)."""
    return "call_" + hashlib.sha1(f"{salt}\0{name}\0{arguments_raw}".encode("utf-8")).hexdigest()[:24]
