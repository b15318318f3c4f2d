"""Optional upstream: answer with a real model behind an OpenAI-compatible endpoint.

With an upstream configured the sandbox becomes a local masking gateway: it authenticates and
masks exactly as without one, then sends the *masked* messages to ``POST {base}/chat/completions``
(a local Ollama or vLLM, or DashScope's compatible mode) and maps the answer, usage and logprobs
back into ChatWithDesensitize's shape. Logprobs in OpenAI's shape are DashScope's shape already.
The upstream API key comes from the caller (``start(upstream_api_key=...)`` or the environment
variable ``DMS_MAGIC_UPSTREAM_API_KEY``) and is never recorded or echoed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .generator import Generation, Step
from .tokens import count_tokens, tokenise


class UpstreamError(Exception):
    """The upstream failed: ``code`` is the gateway code to answer with (never contains the key)."""

    def __init__(self, code: str, message: str, status: int = 503):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# request value name -> OpenAI chat.completions field
_SAME = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens", "seed": "seed",
         "presence_penalty": "presence_penalty", "stop": "stop", "logprobs": "logprobs",
         "top_logprobs": "top_logprobs", "top_k": "top_k", "enable_thinking": "enable_thinking",
         "thinking_budget": "thinking_budget", "enable_search": "enable_search"}


@dataclass
class Upstream:
    base_url: str
    model: str | None = None  # overrides the request's Model (e.g. "qwen2.5:0.5b" for Ollama)
    api_key: str | None = None
    timeout: float = 120.0

    def __repr__(self) -> str:  # never the key
        return f"Upstream({self.base_url!r}, model={self.model!r})"

    def payload(self, messages: list[dict], values: dict) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model or values.get("model") or "qwen-plus",
                                "messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
        for name, field in _SAME.items():
            if values.get(name) is not None:
                body[field] = values[name]
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
        return self._generation(messages, body), str(body.get("model") or self.model or values.get("model"))

    @staticmethod
    def _generation(messages: list[dict], body: dict) -> Generation:
        choices = body.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        logprobs = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        if logprobs:
            content_steps = [_step(item) for item in logprobs]
        else:  # no logprobs: our tokeniser only cuts the text into stream increments
            content_steps = [Step(token, math.nan, []) for token in tokenise(content)]
        if "".join(s.token for s in content_steps) != content:  # keep the text exact whatever came back
            content_steps = [Step(token, math.nan, []) for token in tokenise(content)]
        reasoning_steps = [Step(token, math.nan, []) for token in tokenise(reasoning or "")]
        usage = body.get("usage") or {}
        generation = _UpstreamGeneration(content_steps, reasoning_steps, choice.get("finish_reason") or "stop",
                                         int(usage.get("prompt_tokens") or
                                             sum(count_tokens(m["content"]) for m in messages)),
                                         thinking=reasoning is not None)
        generation.upstream_usage = usage
        return generation


def _step(item: dict) -> Step:
    ranked = [(alt.get("token", ""), float(alt.get("logprob", -math.inf))) for alt in item.get("top_logprobs") or []]
    return Step(item.get("token", ""), float(item.get("logprob", math.nan)), ranked)


class _UpstreamGeneration(Generation):
    upstream_usage: dict = {}

    def usage(self) -> dict[str, Any]:
        usage = super().usage()
        completion = self.upstream_usage.get("completion_tokens")
        if completion is not None:
            usage["CompletionTokens"] = str(completion)
            usage["TotalTokens"] = str(self.upstream_usage.get("total_tokens") or self.prompt_tokens + completion)
        details = self.upstream_usage.get("completion_tokens_details")
        if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
            usage["CompletionTokensDetails"] = {"reasoning_tokens": str(details["reasoning_tokens"])}
        return usage
