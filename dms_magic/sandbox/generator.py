"""The sandbox's built-in generator — a tiny sampler over whole phrases, not a language model.

It says what a script (scripts.py) allows: copied text (a short label, the request's instruction
clause, the prompt's specific values, notes) and choices among *phrase sets*. A phrase set is
expanded into a token trie: every path is a whole sentence, and the probability of a token is the
mass of the sentences that continue with it among those still possible. At each token the
generator samples from that distribution with the request's parameters, so every sampling knob
behaves as specified, the answer is coherent at any temperature (no path leads to a fragment),
and the logprobs it reports are the probabilities it used:

* the *model* distribution is softmax(logits) over the trie's next tokens, logits being the log of
  their sentence mass, with PresencePenalty subtracted from tokens already generated; that is
  what Logprobs/TopLogprobs report (like OpenAI/DashScope, independent of temperature), and the
  alternatives are every other token the generator could have said there;
* sampling divides logits by Temperature (0 = greedy), keeps the TopK most likely (0 or >100 =
  off), then the smallest set whose mass reaches TopP, renormalises and draws with ``Seed``;
* copied text has one drawable candidate (probability ~1, as a model copying from its context);
  between the body's sentences the end of text is one more candidate, likelier after each one;
* where fewer than five candidates exist, the vocabulary's tail fills the report to five with
  probabilities near 1e-22 (TAIL_LOGIT), never drawn.

The phrase sets and their weights are fixed, so the "model" is fixed and only the sampling
depends on the seed.
"""
from __future__ import annotations

import functools
import itertools
import math
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from . import scripts
from ..wire.tokens import END_OF_TEXT, count_message_tokens, token_bytes, tokenise

DEFAULT_TEMPERATURE = 0.7  # qwen-plus defaults, used when the request does not say
DEFAULT_TOP_P = 0.8
MAX_OUTPUT_TOKENS = 4096  # hard ceiling when MaxTokens is not given

# A slot's alternatives by rank: the first is the usual word, the others real but rarer choices
# (close enough that PresencePenalty 2 can flip a choice).
SLOT_WEIGHTS = (1.0, 0.7, 0.5, 0.35)
# Probability of ending the answer after k body sentences (k >= len: 0.9; none left: the end).
END_AFTER = (0.0, 0.03, 0.08, 0.3, 0.5, 0.7)
# Every position reports at least TopLogprobs' maximum of alternatives, as a real model's would:
# where the phrase sets offer fewer, tokens of the vocabulary's tail fill in, e^50 to e^55 less
# likely than the best candidate (~1e-22: they never change a reported probability that float
# can show, and they are never drawn, so no answer ever holds a fragment).
TAIL_ALTERNATIVES = 5
TAIL_LOGIT = -50.0


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

    def choose(self, candidates: list[tuple[str, float]], seen: set[str], drawable: int) -> tuple[int, Step]:
        """Sample among the first ``drawable`` candidates; the Step reports the distribution over all."""
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
        ranked = [(candidates[i][0], logits[i] - log_z) for i in order]
        if drawable < len(order):  # the vocabulary's tail is reported, never drawn
            order = [i for i in order if i < drawable]
        temperature = self.temperature
        if temperature < 1e-6 or self.top_k == 1 or len(order) == 1:
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
        return index, Step(candidates[index][0], logits[index] - log_z, ranked)


@dataclass
class _Node:
    """A token trie node: ``mass[i]`` is the probability of phrase ``i``'s expansions through here."""

    children: dict[str, "_Node"] = field(default_factory=dict)
    mass: dict[int, float] = field(default_factory=dict)


def _phrase_weight(phrase: tuple) -> float:
    """A fixed prior per phrase, so phrases are not all equally likely (0.6 to 1.4)."""
    h = zlib.crc32(repr(phrase).encode())
    return 0.6 + 0.8 * (h % 1000) / 1000


def expansions(phrase: tuple) -> list[tuple[str, float]]:
    """Every text a phrase can become, with its probability within the phrase."""
    slots = []
    for part in phrase:
        alternatives = (part,) if isinstance(part, str) else part
        if len(alternatives) > len(SLOT_WEIGHTS):
            raise ValueError(f"a slot holds {len(alternatives)} alternatives; at most {len(SLOT_WEIGHTS)}")
        weights = SLOT_WEIGHTS[:len(alternatives)]
        total = sum(weights)
        slots.append([(text, w / total) for text, w in zip(alternatives, weights)])
    out = []
    for combo in itertools.product(*slots):
        out.append(("".join(text for text, _ in combo), math.prod(p for _, p in combo)))
    return out


@functools.lru_cache(maxsize=None)  # phrase sets are module constants: each trie is built once
def phrase_trie(phrases: tuple) -> _Node:
    root = _Node()
    for index, phrase in enumerate(phrases):
        weight = _phrase_weight(phrase)
        for text, p in expansions(phrase):
            node = root
            node.mass[index] = node.mass.get(index, 0.0) + weight * p
            for token in tokenise(text):
                node = node.children.setdefault(token, _Node())
                node.mass[index] = node.mass.get(index, 0.0) + weight * p
    return root


@functools.lru_cache(maxsize=None)
def tail_vocabulary(phrases: tuple) -> tuple[str, ...]:
    """The tokens a phrase set uses, in a fixed order: what the tail alternatives are drawn from."""
    return tuple(sorted({token for phrase in phrases for text, _ in expansions(phrase) for token in tokenise(text)}))


@functools.lru_cache(maxsize=65536)  # a pure function of its arguments; answers repeat across requests
def _tail(vocabulary: tuple[str, ...], position: int, previous: str, taken: tuple[str, ...],
          need: int) -> tuple[tuple[str, float], ...]:
    """``need`` tail tokens for this position (not among ``taken``), with logits relative to the best
    candidate: fixed per position and previous token, as the model is fixed."""
    h = zlib.crc32(f"{position}\x00{previous}".encode())
    used, tail = set(taken), []
    for _ in range(8 * need):
        h = (h * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        token = vocabulary[(h >> 33) % len(vocabulary)]
        if token not in used:
            used.add(token)
            tail.append((token, TAIL_LOGIT - 5 * ((h >> 11) & 0xFFFF) / 0xFFFF))
            if len(tail) == need:
                break
    return tuple(tail)


@functools.lru_cache(maxsize=65536)
def _certain_step(vocabulary: tuple[str, ...], position: int, previous: str, token: str) -> Step:
    """The Step of a sole drawable candidate: ``_Sampler.choose``'s result, computed once."""
    tail = _tail(vocabulary, position, previous, (token,), TAIL_ALTERNATIVES - 1) if vocabulary else ()
    log_z = math.log(1.0 + sum(math.exp(offset) for _, offset in tail))  # as choose() rounds it
    ranked = [(token, -log_z)] + sorted(((t, offset - log_z) for t, offset in tail), key=lambda x: x[1], reverse=True)
    return Step(token, -log_z, ranked)


class _Run:
    """One channel (content or reasoning) being generated."""

    def __init__(self, sampler: _Sampler, vocabulary: tuple[str, ...]):
        self.sampler, self.vocabulary = sampler, vocabulary
        self.steps: list[Step] = []
        self.seen: set[str] = set()

    def copy(self, text: str) -> None:
        """Say ``text`` with certainty: the one drawable candidate per token."""
        for token in tokenise(text):
            self._say([(token, 0.0)])

    def _say(self, candidates: list[tuple[str, float]]) -> int:
        """Draw one of ``candidates`` (the tail added for the report) and append it, unless it is
        the end of text; returns its index."""
        self._check_room()
        if len(candidates) == 1 and not (self.sampler.presence_penalty and self.seen):
            # Most tokens (copied text, the rest of a word): the same distribution every time.
            previous = self.steps[-1].token if self.steps else ""
            index, step = 0, _certain_step(self.vocabulary, len(self.steps), previous, candidates[0][0])
        else:
            index, step = self.sampler.choose(self._with_tail(candidates), self.seen, drawable=len(candidates))
        if step.token != END_OF_TEXT:
            self._append(step)
        return index

    def _with_tail(self, candidates: list[tuple[str, float]]) -> list[tuple[str, float]]:
        need = TAIL_ALTERNATIVES - len(candidates)
        if need <= 0 or not self.vocabulary:
            return candidates
        top = max(logit for _, logit in candidates)
        previous = self.steps[-1].token if self.steps else ""
        tail = _tail(self.vocabulary, len(self.steps), previous, tuple(token for token, _ in candidates), need)
        return candidates + [(token, top + offset) for token, offset in tail]

    def phrase(self, phrases: tuple, allowed: set[int] | None = None, end_probability: float = 0.0) -> int | None:
        """Say one phrase of the set (among ``allowed``), token by token down its trie; returns its
        index, or None when the end of text was sampled instead (only offered before the first token)."""
        node = phrase_trie(phrases)
        allowed = set(range(len(phrases))) if allowed is None else set(allowed)
        first = True
        while node.children:
            candidates, nexts = [], []
            only = next(iter(allowed)) if len(allowed) == 1 else None
            for token, child in node.children.items():
                mass = child.mass.get(only, 0.0) if only is not None else sum(child.mass.get(i, 0.0) for i in allowed)
                if mass > 0:
                    candidates.append((token, math.log(mass)))
                    nexts.append(child)
            if first and end_probability > 0:
                total = sum(math.exp(logit) for _, logit in candidates)
                candidates.append((END_OF_TEXT, math.log(total * end_probability / (1 - end_probability))))
            index = self._say(candidates)
            if index == len(nexts):
                return None  # the end of text: not a token of the answer
            node = nexts[index]
            allowed = {i for i in allowed if i in node.mass}
            first = False
        return min(allowed)

    def _check_room(self) -> None:
        pass

    def _append(self, step: Step) -> None:
        self.steps.append(step)
        self.seen.add(step.token)


class _Finished(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _Budgeted(_Run):
    """The reasoning channel: stops quietly at ThinkingBudget tokens."""

    def __init__(self, sampler: _Sampler, vocabulary: tuple[str, ...], budget: int):
        super().__init__(sampler, vocabulary)
        self.budget = budget

    def _check_room(self) -> None:
        if len(self.steps) >= self.budget:
            raise _Finished("budget")


class _Answer(_Run):
    """The content channel: enforces MaxTokens (finish ``length``) and Stop (finish ``stop``)."""

    def __init__(self, sampler: _Sampler, vocabulary: tuple[str, ...], limit: int, stops: list[str]):
        super().__init__(sampler, vocabulary)
        self.limit, self.stops = limit, stops

    def _check_room(self) -> None:
        if len(self.steps) >= self.limit:
            raise _Finished("length")

    def _append(self, step: Step) -> None:
        super()._append(step)
        self._check_stop()

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


def generate(messages: list[dict], values: dict, *, seed: int, masked_rule: str | None = None,
             preface: str = "") -> Generation:
    """Answer ``messages`` (already masked) under the request ``values`` (ChatRequest.values).
    ``preface``: copied after the acknowledgement (the app's multimodal.preface: tool results and
    images received); not in JSON mode."""
    prompt_tokens = count_message_tokens(messages)
    script = scripts.build(messages, values, masked_rule=masked_rule, prompt_tokens=prompt_tokens)
    sampler = _Sampler(values, seed)
    thinking = bool(values.get("enable_thinking"))

    vocabulary = tail_vocabulary(script.body)
    reasoning = _Budgeted(sampler, vocabulary, values.get("thinking_budget") or MAX_OUTPUT_TOKENS)
    if thinking:  # thinking comes first and is bounded by ThinkingBudget
        try:
            reasoning.copy(script.reasoning_intro)
            for phrases in script.reasoning:
                reasoning.phrase(phrases)
        except _Finished:
            pass

    limit = min(values.get("max_tokens") or MAX_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS)
    content = _Answer(sampler, vocabulary, limit, [s for s in (values.get("stop") or []) if s])
    try:
        if script.json_prefix:
            content.copy(script.json_prefix)
        else:
            _acknowledge(script, content)
            if preface:
                content.copy(" " + preface)
        _body(script.body, content)
        content.copy(script.json_suffix)
        finish = "stop"
    except _Finished as done:
        finish = done.reason
    return Generation(content.steps, reasoning.steps, finish, prompt_tokens, thinking=thinking)


def _acknowledge(script: scripts.Script, content: _Answer) -> None:
    """The label, the request's instruction clause, the prompt's specific values, cloud notes."""
    content.copy(script.label)
    if script.quote:
        content.phrase(script.ack_head)
        content.copy(script.quote)
        content.phrase(script.ack_tail)
    if script.details:
        content.phrase(script.details_intro)
        content.copy(script.details)
    content.copy(script.notes)


def _body(phrases: tuple, content: _Answer) -> None:
    """Sentences without repetition; after each, the end of text competes with the next one."""
    unused = set(range(len(phrases)))
    said = 0
    while unused:
        end = END_AFTER[said] if said < len(END_AFTER) else 0.9
        chosen = content.phrase(phrases, unused, end_probability=end)
        if chosen is None:
            return
        unused.discard(chosen)
        said += 1
