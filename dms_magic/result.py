"""ChatResult and StreamChunk: what came back, read tolerantly.

The real response (see the reference page) is PascalCase JSON with numbers as strings::

    {"RequestId": "...", "Success": true,
     "Data": {"Created": "1763710100", "Model": "qwen-plus",
              "Choices": [{"FinishReason": "stop",
                           "Message": {"Content": "...", "ReasoningContent": "...", "Role": "assistant"},
                           "Logprobs": {"content": [{"token", "bytes", "logprob", "top_logprobs"}]}}],
              "Usage": {"PromptTokens": "9", "CompletionTokens": "10", "TotalTokens": "19",
                        "PromptTokensDetails": {...}, "CompletionTokensDetails": {...}}}}

Everything is optional here: a field that is missing reads as None (or empty), a number may be a
string, and the Logprobs pass-through is DashScope's shape in whatever key case arrives
(``top_logprobs``, ``TopLogprobs``, ``topLogprobs`` all work). Nothing here imports pandas; the
DataFrame views (``.usage``, ``.logprobs``, ``.alternatives``) are built by frames.py on first access.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_SNAKE_1 = re.compile(r"(.)([A-Z][a-z]+)")
_SNAKE_2 = re.compile(r"([a-z0-9])([A-Z])")
_snake_cache: dict[str, str] = {}


def snake(key: str) -> str:
    """PromptTokensDetails -> prompt_tokens_details (cached: the same few keys recur)."""
    out = _snake_cache.get(key)
    if out is None:
        out = _SNAKE_2.sub(r"\1_\2", _SNAKE_1.sub(r"\1_\2", key)).lower()
        _snake_cache[key] = out
    return out


def _fold(key: str) -> str:
    # Key-case-insensitive match: "top_logprobs" == "TopLogprobs" == "topLogprobs".
    return key.replace("_", "").lower()


def pick(obj: Any, *names: str, default: Any = None) -> Any:
    """obj[name] for the first of ``names`` present, in any key case; ``default`` otherwise."""
    if not isinstance(obj, Mapping):
        return default
    for name in names:
        if name in obj:
            return obj[name]
    wanted = {_fold(n) for n in names}
    for key, value in obj.items():
        if isinstance(key, str) and _fold(key) in wanted:
            return value
    return default


def to_int(value: Any) -> int | None:
    """"19" -> 19, 19.0 -> 19, junk -> None (a tolerant reader must not crash on a display field)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _count(value: Any) -> Any:
    number = to_int(value)
    return value if number is None else number


# -- usage ----------------------------------------------------------------------------------------
def normalize_usage(usage: Any) -> dict[str, Any]:
    """Usage with snake_case keys and integer counts; nested details kept as nested dicts."""
    if not isinstance(usage, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in usage.items():
        name = snake(str(key))
        if isinstance(value, Mapping):
            out[name] = {snake(str(k)): _count(v) for k, v in value.items()}
        else:
            out[name] = _count(value)
    return out


def flat_usage(usage: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Usage counters in one level, nested details as ``<details>.<name>``
    (``prompt_tokens_details.cached_tokens``): the usage frame's columns and the card's table."""
    flat: dict[str, Any] = {}
    for key, value in (usage or {}).items():
        if isinstance(value, Mapping):
            flat.update(flat_usage(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# -- logprobs -------------------------------------------------------------------------------------
_TOKEN_KEYS = frozenset(("token", "logprob", "bytes", "top_logprobs"))
_ALT_KEYS = frozenset(("token", "logprob", "bytes"))


def _is_canonical(item: Any) -> bool:
    """Already DashScope's lower-case shape (the usual case): then it is used as is, uncopied."""
    if type(item) is not dict or "token" not in item or not item.keys() <= _TOKEN_KEYS:  # noqa: E721
        return False
    tops = item.get("top_logprobs")
    if not tops:
        return True
    first = tops[0] if type(tops) is list else None  # noqa: E721
    return type(first) is dict and "token" in first and first.keys() <= _ALT_KEYS  # noqa: E721


def _canon_alt(alt: Any) -> dict[str, Any]:
    if type(alt) is dict and "token" in alt and alt.keys() <= _ALT_KEYS:  # noqa: E721
        return alt
    return {"token": pick(alt, "token", default=""), "logprob": pick(alt, "logprob"),
            "bytes": pick(alt, "bytes")}


def _canon_token(item: Any) -> dict[str, Any]:
    if _is_canonical(item):
        return item
    tops = pick(item, "top_logprobs")
    tops = tops if isinstance(tops, list) else []  # junk in place of the list: no alternatives
    return {"token": pick(item, "token", default=""), "logprob": pick(item, "logprob"),
            "bytes": pick(item, "bytes"), "top_logprobs": [_canon_alt(a) for a in tops if isinstance(a, Mapping)]}


def normalize_token_logprobs(logprobs: Any) -> list[dict[str, Any]]:
    """The per-token list (``{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}``)
    from a Logprobs value: ``{"content": [...]}`` in any key case (or as a JSON string), or the list.

    When the first and last items already have DashScope's keys the list is returned untouched
    (no copy): this runs on every result, and 8k-token answers are common in logprob studies.
    One serializer writes a response, so its items share one shape; checking every item instead
    would cost about 6 ms for 8192 tokens, twice building ``.logprobs``. A middle item in another
    key case therefore keeps it here; ``frames`` re-reads any item its strict lookups reject, so
    the frames' own columns (and every column of ``.alternatives``) are right regardless.
    """
    if isinstance(logprobs, str):
        import json

        try:
            logprobs = json.loads(logprobs)
        except ValueError:
            return []
    if isinstance(logprobs, Mapping):
        logprobs = pick(logprobs, "content", default=None)
    if not isinstance(logprobs, list) or not logprobs:
        return []
    if _is_canonical(logprobs[0]) and _is_canonical(logprobs[-1]):
        return logprobs
    return [_canon_token(t) for t in logprobs if isinstance(t, Mapping)]


# -- results --------------------------------------------------------------------------------------
def _first_choice(data: Any) -> Mapping[str, Any]:
    choices = pick(data, "Choices", default=None)
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return {}


class ChatResult:
    """One answer from ChatWithDesensitize (or the assembled end of a stream)."""

    def __init__(self, *, text: str = "", reasoning: str | None = None, role: str | None = "assistant",
                 finish_reason: str | None = None, model: str | None = None, created: int | None = None,
                 request_id: str | None = None, latency: float | None = None, backend: str | None = None,
                 raw: Any = None, request: Any = None, usage: Mapping[str, Any] | None = None,
                 logprobs: Any = None):
        self.text = text or ""
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
        self._logprobs_raw = logprobs
        self._token_logprobs: list | None = None
        self._frames: dict[str, Any] = {}

    @classmethod
    def from_response(cls, body: Mapping[str, Any], *, request: Any = None, latency: float | None = None,
                      backend: str | None = None) -> "ChatResult":
        data = pick(body, "Data", default={}) or {}
        choice = _first_choice(data)
        message = pick(choice, "Message", "Delta", default={}) or {}
        return cls(
            text=pick(message, "Content", default="") or "",
            reasoning=pick(message, "ReasoningContent") or None,
            role=pick(message, "Role", default="assistant"),
            finish_reason=pick(choice, "FinishReason"),
            model=pick(data, "Model") or (getattr(request, "model", None) if request is not None else None),
            created=to_int(pick(data, "Created")),
            request_id=pick(body, "RequestId") or pick(data, "RequestId", "Id"),
            latency=latency, backend=backend, raw=body, request=request,
            usage=pick(data, "Usage"), logprobs=pick(choice, "Logprobs"))

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
            from dms_magic.frames import usage_frame

            self._frames["usage"] = usage_frame(self.usage_dict)
        return self._frames["usage"]

    @property
    def logprobs(self):
        """DataFrame, one row per generated token (see frames.logprobs_frame for the columns)."""
        if "logprobs" not in self._frames:
            from dms_magic.frames import logprobs_frame

            self._frames["logprobs"] = logprobs_frame(self.token_logprobs)
        return self._frames["logprobs"]

    @property
    def alternatives(self):
        """Long DataFrame of the top alternatives: one row per (position, rank)."""
        if "alternatives" not in self._frames:
            from dms_magic.frames import alternatives_frame

            self._frames["alternatives"] = alternatives_frame(self.token_logprobs)
        return self._frames["alternatives"]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return (f"ChatResult(backend={self.backend!r}, model={self.model!r}, finish_reason={self.finish_reason!r}, "
                f"text={shown!r}, request_id={self.request_id!r})")

    def _repr_html_(self) -> str:
        from dms_magic.render import chat_result_html  # imported here: render imports this module

        return chat_result_html(self)

    def _repr_pretty_(self, printer, cycle) -> None:
        # IPython's text/plain: the readable multi-line view (header, answer, usage, ids).
        from dms_magic.render import chat_result_text

        printer.text(chat_result_text(self))


class StreamChunk:
    """One SSE event's increment: text/reasoning deltas, plus what the event carried."""

    __slots__ = ("text", "reasoning", "finish_reason", "request_id", "model", "usage_dict", "token_logprobs",
                 "raw", "index")

    def __init__(self, *, text: str = "", reasoning: str = "", finish_reason: str | None = None,
                 request_id: str | None = None, model: str | None = None, usage_dict: dict | None = None,
                 token_logprobs: list | None = None, raw: Any = None, index: int = 0):
        self.text, self.reasoning, self.finish_reason = text, reasoning, finish_reason
        self.request_id, self.model, self.usage_dict = request_id, model, usage_dict or {}
        self.token_logprobs, self.raw, self.index = token_logprobs or [], raw, index

    @property
    def delta(self) -> str:
        return self.text

    @classmethod
    def from_event(cls, body: Mapping[str, Any], index: int = 0) -> "StreamChunk":
        data = pick(body, "Data", default={}) or {}
        choice = _first_choice(data)
        # Streamed choices carry their increment as Delta (OpenAI style) or Message (DashScope style).
        message = pick(choice, "Delta", "Message", default={}) or {}
        return cls(text=pick(message, "Content", default="") or "",
                    reasoning=pick(message, "ReasoningContent", default="") or "",
                    finish_reason=pick(choice, "FinishReason") or None,
                    request_id=pick(body, "RequestId"), model=pick(data, "Model"),
                    usage_dict=normalize_usage(pick(data, "Usage")),
                    token_logprobs=normalize_token_logprobs(pick(choice, "Logprobs")), raw=body, index=index)

    def __repr__(self) -> str:
        return f"StreamChunk(#{self.index}, text={self.text!r}, finish_reason={self.finish_reason!r})"


def assemble(chunks: Iterable[StreamChunk], *, request: Any = None, latency: float | None = None,
             backend: str | None = None) -> ChatResult:
    """The ChatResult a stream amounts to: texts joined, last finish reason, last usage, all logprobs."""
    texts, reasoning, tokens = [], [], []
    finish = request_id = model = None
    usage: dict[str, Any] = {}
    raws = []
    for chunk in chunks:
        texts.append(chunk.text)
        reasoning.append(chunk.reasoning)
        tokens.extend(chunk.token_logprobs)
        finish = chunk.finish_reason or finish
        request_id = request_id or chunk.request_id
        model = chunk.model or model
        usage = chunk.usage_dict or usage
        raws.append(chunk.raw)
    result = ChatResult(text="".join(texts), reasoning="".join(reasoning) or None, finish_reason=finish,
                        model=model or (getattr(request, "model", None) if request is not None else None),
                        request_id=request_id, latency=latency, backend=backend,
                        raw={"events": raws}, request=request, logprobs=tokens)
    result.usage_dict = usage
    return result
