"""The sandbox's built-in generator — a tiny sampler, not a language model.

It means to say a script (scripts.py): first a restatement of what it received, then a few
plausible sentences. Each step it builds a real probability distribution over the intended token
and a handful of alternatives from a small vocabulary, and samples from it with the request's
parameters, so every sampling knob behaves as specified and the logprobs it reports are the
probabilities it actually used:

* the *model* distribution is softmax(logits) with PresencePenalty subtracted from tokens already
  generated; that is what Logprobs/TopLogprobs report (like OpenAI/DashScope, independent of
  temperature);
* sampling divides logits by Temperature (0 = greedy), keeps the TopK most likely (0 or >100 =
  off), then the smallest set whose mass reaches TopP, renormalises and draws with ``Seed``;
* the restatement's intended token has a logit far above the alternatives, so it survives
  sampling at the default temperature; continuation tokens are less certain, and at sentence
  boundaries the generator chooses the next sentence (or the end of text) by sampling too.

The alternatives and their logits are a deterministic function of the position and the previous
token, so the "model" is fixed and only the sampling depends on the seed.
"""
from __future__ import annotations

import functools
import math
import random
import zlib
from dataclasses import dataclass
from typing import Any

from . import scripts
from .tokens import END_OF_TEXT, count_message_tokens, token_bytes, tokenise

DEFAULT_TEMPERATURE = 0.7  # qwen-plus defaults, used when the request does not say
DEFAULT_TOP_P = 0.8
MAX_OUTPUT_TOKENS = 4096  # hard ceiling when MaxTokens is not given
ALTERNATIVES = 6

# Logits of the intended token by what it is part of; alternatives score in [0, ALT_MAX).
LOGIT_RESTATE = 14.0
LOGIT_REASONING = 9.0
LOGIT_SENTENCE = 4.5  # close enough to the alternatives that PresencePenalty 2 can flip a choice
ALT_MAX = 3.0


@dataclass
class Step:
    """One generated token and the distribution it was drawn from (model logprobs, sorted)."""

    token: str
    logprob: float
    ranked: list[tuple[str, float]]

    def logprob_entry(self, top_n: int) -> dict[str, Any]:
        return {
            "token": self.token,
            "bytes": token_bytes(self.token),
            "logprob": self.logprob,
            "top_logprobs": [{"token": t, "bytes": token_bytes(t), "logprob": lp} for t, lp in self.ranked[:top_n]],
        }


@dataclass
class Generation:
    content_steps: list[Step]
    reasoning_steps: list[Step]
    finish_reason: str
    prompt_tokens: int
    thinking: bool = False

    @property
    def content(self) -> str:
        return "".join(s.token for s in self.content_steps)

    @property
    def reasoning(self) -> str | None:
        return "".join(s.token for s in self.reasoning_steps) if self.thinking else None

    @property
    def has_logprobs(self) -> bool:
        """False when an upstream answered without logprobs (then Logprobs is null)."""
        return all(s.logprob == s.logprob for s in self.content_steps)  # NaN != NaN

    @property
    def completion_tokens(self) -> int:
        return len(self.content_steps) + len(self.reasoning_steps)

    def logprobs(self, top_n: int, steps: list[Step] | None = None) -> dict[str, Any]:
        """DashScope's shape: ``{"content": [{token, bytes, logprob, top_logprobs}]}``."""
        chosen = self.content_steps if steps is None else steps
        return {"content": [s.logprob_entry(top_n) for s in chosen]}

    def usage(self) -> dict[str, Any]:
        """Usage as the API documents it (string counts, as on the reference page)."""
        usage = {
            "PromptTokens": str(self.prompt_tokens),
            "CompletionTokens": str(self.completion_tokens),
            "TotalTokens": str(self.prompt_tokens + self.completion_tokens),
            "PromptTokensDetails": {"cached_tokens": "0"},
        }
        if self.thinking:
            usage["CompletionTokensDetails"] = {"reasoning_tokens": str(len(self.reasoning_steps))}
        return usage


class _Sampler:
    """Turns candidate logits into a chosen token under the request's sampling parameters."""

    def __init__(self, values: dict, seed: int):
        self.temperature = values.get("temperature", DEFAULT_TEMPERATURE)
        self.top_p = values.get("top_p", DEFAULT_TOP_P)
        top_k = values.get("top_k")
        self.top_k = top_k if top_k and top_k <= 100 else None  # 0 or >100 disables, as documented
        self.presence_penalty = values.get("presence_penalty", 0.0) or 0.0
        self.rng = random.Random(seed)

    def choose(self, candidates: list[tuple[str, float]], seen: set[str]) -> tuple[int, Step]:
        penalty = self.presence_penalty
        if penalty and seen:
            logits = [lg - penalty if tok in seen else lg for tok, lg in candidates]
        else:
            logits = [lg for _, lg in candidates]
        top = max(logits)
        exps = [math.exp(lg - top) for lg in logits]
        log_z = top + math.log(sum(exps))
        # Most likely first; sorted() is stable with reverse=True, so ties keep the script's order.
        order = sorted(range(len(logits)), key=logits.__getitem__, reverse=True)
        temperature = self.temperature
        if temperature < 1e-6 or self.top_k == 1 or len(logits) == 1:
            index = order[0]
        else:
            if temperature == 1:
                weights = [exps[i] for i in order]
            else:
                weights = [math.exp((logits[i] - top) / temperature) for i in order]
            keep = len(order) if self.top_k is None else min(self.top_k, len(order))
            total = sum(weights[:keep])
            threshold, mass, cut = self.top_p * total, 0.0, keep
            for rank in range(keep):  # nucleus: the smallest prefix whose mass reaches top_p
                mass += weights[rank]
                if mass >= threshold:
                    cut = rank + 1
                    break
            r = self.rng.random() * sum(weights[:cut])
            index = order[cut - 1]
            for rank in range(cut):
                r -= weights[rank]
                if r < 0:
                    index = order[rank]
                    break
        ranked = [(candidates[i][0], logits[i] - log_z) for i in order]
        return index, Step(candidates[index][0], logits[index] - log_z, ranked)


@functools.lru_cache(maxsize=65536)  # a pure function of its arguments; scripts repeat across requests
def _alternatives(vocab: tuple[str, ...], intended: str, step: int, previous: str) -> tuple[tuple[str, float], ...]:
    """A fixed pseudo-random handful of (token, logit) alternatives for this position."""
    h = zlib.crc32(f"{step}\x00{previous}".encode())
    out, used = [], {intended}
    for _ in range(ALTERNATIVES):
        h = (h * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        token = vocab[(h >> 33) % len(vocab)]
        if token in used:
            continue
        used.add(token)
        out.append((token, ((h >> 11) & 0xFFFF) / 0xFFFF * ALT_MAX))
    return tuple(out)


def _sentence_logit(index: int, emitted: int) -> float:
    h = zlib.crc32(f"sentence\x00{index}\x00{emitted}".encode())
    return 2.0 + 3.0 * (h % 1000) / 1000


def _end_logit(emitted: int) -> float:
    return -1.0 + 2.2 * emitted  # more likely to stop after each sentence


class _Run:
    """One channel (content or reasoning) being generated."""

    def __init__(self, sampler: _Sampler, vocab: tuple[str, ...]):
        self.sampler, self.vocab = sampler, vocab
        self.steps: list[Step] = []
        self.seen: set[str] = set()

    def say(self, token: str, logit: float | None) -> Step:
        """Sample one step whose intended token is ``token`` (``logit`` None: forced, no alternatives)."""
        if logit is None:
            step = Step(token, 0.0, [(token, 0.0)])
        else:
            previous = self.steps[-1].token if self.steps else ""
            candidates = [(token, logit), *_alternatives(self.vocab, token, len(self.steps), previous)]
            _, step = self.sampler.choose(candidates, self.seen)
        self._append(step)
        return step

    def pick(self, candidates: list[tuple[str, float]]) -> int:
        """A choice point: returns the index chosen (the caller knows what each means)."""
        index, step = self.sampler.choose(candidates, self.seen)
        if step.token != END_OF_TEXT:
            self._append(step)
        return index

    def _append(self, step: Step) -> None:
        self.steps.append(step)
        self.seen.add(step.token)


class _Finished(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _Answer(_Run):
    """The content channel: enforces MaxTokens (finish ``length``) and Stop (finish ``stop``)."""

    def __init__(self, sampler: _Sampler, vocab: tuple[str, ...], limit: int, stops: list[str]):
        super().__init__(sampler, vocab)
        self.limit, self.stops = limit, stops

    def say(self, token: str, logit: float | None) -> Step:
        self._room()
        step = super().say(token, logit)
        self._check_stop()
        return step

    def pick(self, candidates: list[tuple[str, float]]) -> int:
        self._room()
        index = super().pick(candidates)
        self._check_stop()
        return index

    def _room(self) -> None:
        if len(self.steps) >= self.limit:
            raise _Finished("length")

    def _check_stop(self) -> None:
        if not self.stops:
            return
        text = "".join(s.token for s in self.steps)
        found = [text.find(s) for s in self.stops if s in text]
        if not found:
            return
        cut, kept, length = min(found), [], 0
        for step in self.steps:  # keep the whole tokens before the stop string; drop the rest
            if length + len(step.token) > cut:
                break
            kept.append(step)
            length += len(step.token)
        self.steps[:] = kept
        raise _Finished("stop")


def generate(messages: list[dict], values: dict, *, seed: int, masked_rule: str | None = None) -> Generation:
    """Answer ``messages`` (already masked) under the request ``values`` (ChatRequest.values)."""
    prompt_tokens = count_message_tokens(messages)
    script = scripts.build(messages, values, masked_rule=masked_rule, prompt_tokens=prompt_tokens)
    sampler = _Sampler(values, seed)
    thinking = bool(values.get("enable_thinking"))

    reasoning = _Run(sampler, script.vocab)
    if thinking:  # thinking comes first and is bounded by ThinkingBudget
        budget = values.get("thinking_budget") or MAX_OUTPUT_TOKENS
        for token in tokenise(script.reasoning)[:budget]:
            reasoning.say(token, LOGIT_REASONING)

    limit = min(values.get("max_tokens") or MAX_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS)
    content = _Answer(sampler, script.vocab, limit, [s for s in (values.get("stop") or []) if s])
    try:
        for token in tokenise(script.json_prefix):
            content.say(token, None)
        for token in tokenise(script.header):
            content.say(token, LOGIT_RESTATE)
        for token in tokenise(script.json_middle):
            content.say(token, None)
        _continue(script, content)
        for token in tokenise(script.json_suffix):
            content.say(token, None)
        finish = "stop"
    except _Finished as done:
        finish = done.reason
    return Generation(content.steps, reasoning.steps, finish, prompt_tokens, thinking=thinking)


def _continue(script: scripts.Script, content: _Answer) -> None:
    """Sentence by sentence: at each boundary sample the next sentence's first token or the end."""
    pool = [tokenise(s) for s in script.sentences]
    unused = list(range(len(pool)))
    emitted = 0
    while unused:
        candidates = [(pool[i][0], _sentence_logit(i, emitted)) for i in unused]
        candidates.append((END_OF_TEXT, _end_logit(emitted)))
        choice = content.pick(candidates)
        if choice == len(unused):
            return
        chosen = unused.pop(choice)
        for token in pool[chosen][1:]:
            content.say(token, LOGIT_SENTENCE)
        emitted += 1
