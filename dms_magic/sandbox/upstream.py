"""Optional upstream: answer with a real model behind an OpenAI-compatible endpoint.

With an upstream configured the sandbox becomes a local masking gateway: it authenticates and
masks exactly as without one, then sends the *masked* messages to ``POST {base}/chat/completions``
(a local Ollama or vLLM, or DashScope's compatible mode) and maps the answer, usage and logprobs
back into ChatWithDesensitize's shape. Logprobs in OpenAI's shape are DashScope's shape already.
The upstream API key comes from the caller (``start(upstream=Upstream(url, api_key=...))`` or the environment
variable ``DMS_MAGIC_UPSTREAM_API_KEY``) and is never recorded or echoed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..defaults import SANDBOX_MODEL
from ..errors import UpstreamError
from ..wire.values import shorten
from .generator import Generation, Step
from ..wire.tokens import count_message_tokens, tokenise


# Request values whose OpenAI chat.completions field has the same name and meaning (DashScope's
# OpenAI-compatible mode, vLLM and Ollama read the extra ones: top_k, enable_thinking, ...).
_SAME_NAME = ("temperature", "top_p", "max_tokens", "seed", "presence_penalty", "stop", "logprobs",
              "top_logprobs", "top_k", "enable_thinking", "thinking_budget", "enable_search")


@dataclass
class Upstream:
    base_url: str
    model: str | None = None  # overrides the request's Model (e.g. "qwen2.5:0.5b" for Ollama)
    api_key: str | None = None
    timeout: float = 120.0

    def __repr__(self) -> str:  # never the key
        return f"Upstream({self.base_url!r}, model={self.model!r})"

    def payload(self, messages: list[dict], values: dict) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model or values.get("model") or SANDBOX_MODEL,
                                "messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
        for name in _SAME_NAME:
            if values.get(name) is not None:
                body[name] = values[name]
        if values.get("response_format") == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, messages: list[dict], values: dict) -> tuple[Generation, str]:
        """(answer, model name the upstream reports) for already-masked messages."""
        import requests

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            response = requests.post(url, json=self.payload(messages, values), headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise UpstreamError("ServiceUnavailable", f"The upstream model at {self.base_url} could not be reached "
                                f"({type(exc).__name__}). Start it, or run the sandbox without --upstream.") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            detail = ""
            if isinstance(body, dict):
                error = body.get("error")
                detail = (error.get("message") if isinstance(error, dict) else error) or body.get("message") or ""
            code = "InvalidParameter" if 400 <= response.status_code < 500 else "ServiceUnavailable"
            raise UpstreamError(code, f"The upstream model answered HTTP {response.status_code}: "
                                f"{str(detail)[:300] or 'no JSON body'}.", response.status_code)
        try:
            generation = self._generation(messages, body)
        except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError) as exc:
            raise UpstreamError("ServiceUnavailable", f"The upstream model at {self.base_url} answered in a shape "
                                f"the sandbox cannot read ({shorten(str(exc), 200)}); it must answer like OpenAI's "
                                "/chat/completions (choices[0].message.content, numeric usage and logprobs).") from None
        return generation, str(body.get("model") or self.model or values.get("model"))

    @staticmethod
    def _generation(messages: list[dict], body: dict) -> Generation:
        """The answer as a Generation; TypeError, ValueError (etc.) for a body
        not shaped like OpenAI's (complete() turns those into a ServiceUnavailable)."""
        choices = body.get("choices") or [{}]
        if not isinstance(choices, list):
            raise TypeError(f"choices is {type(choices).__name__}, not a list")
        choice = _object(choices[0], "choices[0]")
        message = _object(choice.get("message") or {}, "choices[0].message")
        content = _text(message.get("content"), "content") or ""
        reasoning = _text(message.get("reasoning_content") or message.get("reasoning"), "reasoning_content")
        finish = _text(choice.get("finish_reason"), "finish_reason") or "stop"
        logprobs = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        if logprobs:
            content_steps = [_step(item) for item in logprobs]
        else:  # no logprobs: our tokeniser only cuts the text into stream increments
            content_steps = [Step(token, math.nan, []) for token in tokenise(content)]
        if "".join(s.token for s in content_steps) != content:  # keep the text exact whatever came back
            content_steps = [Step(token, math.nan, []) for token in tokenise(content)]
        reasoning_steps = [Step(token, math.nan, []) for token in tokenise(reasoning or "")]
        usage = _object(body.get("usage") or {}, "usage")
        details = usage.get("completion_tokens_details")
        reasoning_tokens = _count(details.get("reasoning_tokens"), "reasoning_tokens") if isinstance(details, dict) else None
        counted = {name: _count(usage.get(name), name) for name in ("prompt_tokens", "completion_tokens", "total_tokens")}
        prompt_tokens = counted["prompt_tokens"] or count_message_tokens(messages)
        generation = _UpstreamGeneration(content_steps, reasoning_steps, finish, prompt_tokens,
                                         thinking=reasoning is not None)
        generation.upstream_usage = {**counted, "reasoning_tokens": reasoning_tokens}  # checked numbers only
        return generation


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{where} is {type(value).__name__}, not an object")
    return value


def _text(value: Any, where: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{where} is {type(value).__name__}, not a string")
    return value


def _count(value: Any, where: str) -> int | None:
    """A token count as int (numbers as strings too), None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"usage {where} is {type(value).__name__}, not a number")
    number = float(value)  # ValueError for "many"
    if not number.is_integer() or number < 0:
        raise ValueError(f"usage {where}={value!r} is not a token count")
    return int(number)


_ABSENT = object()


def _logprob(value: Any, where: str) -> float:
    """A logprob as a finite float, or NaN ("unknown") when it is absent or not finite: JSON has no
    -Infinity or NaN (a lenient upstream may still send them, or "-inf" as a string), and the
    sandbox answers strict JSON. A null or non-numeric logprob is a TypeError/ValueError."""
    if value is _ABSENT:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{where} is {type(value).__name__}, not a number")
    number = float(value)  # ValueError for "low"
    return number if math.isfinite(number) else math.nan


def _step(item: dict) -> Step:
    """One token. A chosen token whose logprob is unknown is NaN, which makes the whole answer
    report no logprobs (Generation.has_logprobs); an alternative whose logprob is unknown is
    dropped from top_logprobs, so no NaN or -Infinity ever reaches a reply."""
    item = _object(item, "a logprobs.content item")
    ranked = []
    for alt in item.get("top_logprobs") or []:
        alt = _object(alt, "a top_logprobs item")
        token = _text(alt.get("token", ""), "token")
        logprob = _logprob(alt.get("logprob", _ABSENT), "top_logprobs logprob")
        if not math.isnan(logprob):
            ranked.append((token, logprob))
    return Step(_text(item.get("token", ""), "token"), _logprob(item.get("logprob", _ABSENT), "logprob"), ranked)


class _UpstreamGeneration(Generation):
    upstream_usage: dict = {}

    def usage(self) -> dict[str, Any]:
        usage = super().usage()
        completion = self.upstream_usage.get("completion_tokens")
        if completion is not None:
            usage["CompletionTokens"] = str(completion)
            usage["TotalTokens"] = str(self.upstream_usage.get("total_tokens") or self.prompt_tokens + completion)
        if self.upstream_usage.get("reasoning_tokens") is not None:
            usage["CompletionTokensDetails"] = {"reasoning_tokens": str(self.upstream_usage["reasoning_tokens"])}
        return usage
