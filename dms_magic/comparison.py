"""Masked vs unmasked: the same request sent with masking off and on, side by side.

``compare(prompt)`` answers "what does masking change?" for one prompt: both variants carry the
same parameters and the same seed, only ``need_desensitization`` differs, so any difference in the
answers comes from masking. The pieces used to build a comparison (variant parameters, the
sensitive values of a prompt, leak search, result rows, the word diff) are public here because
``batch.chat_many(compare=True)`` builds its rows from exactly the same functions.

Nothing here imports IPython; pandas is imported on first use. The word diff and every style
come from render.py; the masking default rule (``DEFAULT_RULE``) is the masking engine's.
"""
from __future__ import annotations

import difflib
import random
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Mapping

from dms_magic import session
from dms_magic.masking import DEFAULT_RULE  # the rule when none is given or configured
from dms_magic.wire.params import BY_NAME
from dms_magic.views.card import latency_text
from dms_magic.views.diff import diff_sides, diff_units
from dms_magic.views.styles import (ANSWER_STYLE, ERROR_STYLE, MUTED_STYLE, OK_STYLE, SIDE_CELL_STYLE, VIEW_CLASS,
                                    backend_badge, badge, esc, masking_badge)

UNMASKED, MASKED = "unmasked", "masked"
VARIANTS = (UNMASKED, MASKED)  # the order of rows in every frame

# Columns of one result row, shared by Comparison.frame and chat_many.
RESULT_COLUMNS = ("text", "finish_reason", "prompt_tokens", "completion_tokens", "latency",
                  "request_id", "error_code", "error_message")


# -- the request side ---------------------------------------------------------------------------
def as_messages(prompt_or_messages: Any) -> list[dict]:
    """A prompt string or a message list, checked and normalised by the parameter table."""
    from dms_magic.wire.params import BY_NAME

    return BY_NAME["messages"].coerce(prompt_or_messages)


def pick_seed() -> int:
    """A seed for a comparison whose caller gave none (both variants must share one): any value
    the table's Seed range allows."""
    seed = BY_NAME["seed"]
    return random.randint(int(seed.minimum or 0), int(seed.maximum or 2**31 - 1))


def variant_params(params: Mapping[str, Any], seed: int | None = None) -> dict[str, dict[str, Any]]:
    """{variant: parameters}: identical but for need_desensitization, with one shared seed and rule.

    ``params`` are already merged (``session.request_params``). The rule goes to both variants so
    the only difference on the wire is the masking switch. Both variants are plain (not streamed)
    calls, so SSE-only parameters (the table's ``sse_only`` rows: stream, include_usage) are left out.
    """
    base = {k: v for k, v in params.items() if k != "need_desensitization" and not BY_NAME[k].sse_only}
    base["desensitization_rule"] = base.get("desensitization_rule") or DEFAULT_RULE
    if base.get("seed") is None:
        base["seed"] = pick_seed() if seed is None else seed
    return {UNMASKED: {**base, "need_desensitization": False},
            MASKED: {**base, "need_desensitization": True}}


# -- the masking side ---------------------------------------------------------------------------
def masked_messages(messages: list[dict], rule: str) -> list[dict]:
    """What the local masking engine predicts the model sees when masking is on (one masking
    session across the conversation, as the sandbox and the service mask a request)."""
    from dms_magic.masking import mask_text_parts  # text only: image parts and tool turns pass as they are

    return list(mask_text_parts(messages, rule))


def sensitive_values(messages: list[dict], rule: str) -> list[tuple[str, str]]:
    """(entity, value) pairs the masking engine finds in the messages, first occurrence order."""
    from dms_magic.masking import mask_text_parts

    seen: dict[str, str] = {}
    for _, span in mask_text_parts(messages, rule).entities:
        seen.setdefault(span.original, span.entity)
    return [(entity, value) for value, entity in seen.items()]


_SEPARATORS = re.compile(r"[\s\-_.()（）]+")


def find_leaks(text: str | None, values: Iterable[tuple[str, str]]) -> list[str]:
    """The sensitive values that appear in an answer.

    A value also counts when the answer spells it with other spacing or separators
    ("138 1234 5678" for "13812345678"): a reformatted phone number has still leaked.
    """
    if not text:
        return []
    squeezed = _SEPARATORS.sub("", text)
    found = []
    for _entity, value in values:
        if value in text or (len(_SEPARATORS.sub("", value)) >= 4 and _SEPARATORS.sub("", value) in squeezed):
            found.append(value)
    return found


# -- rows ---------------------------------------------------------------------------------------
def result_row(result: Any) -> dict[str, Any]:
    """The row a ChatResult contributes to a frame (plain values, no pandas)."""
    usage = getattr(result, "usage_dict", None) or {}
    return {
        "text": result.text,
        "finish_reason": result.finish_reason,
        "prompt_tokens": _usage_value(usage, "prompt_tokens"),
        "completion_tokens": _usage_value(usage, "completion_tokens"),
        "latency": result.latency,
        "request_id": result.request_id,
        "error_code": None,
        "error_message": None,
    }


def error_row(error: BaseException, *, code: str | None = None) -> dict[str, Any]:
    """The row a failed call contributes: its code and message, the rest empty."""
    code = code or getattr(error, "code", None) or type(error).__name__
    message = getattr(error, "message", None) or str(error)
    return {"text": None, "finish_reason": None, "prompt_tokens": None, "completion_tokens": None,
            "latency": None, "request_id": getattr(error, "request_id", None),
            "error_code": code, "error_message": message}


def _usage_value(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return None if value is None else int(value)


# -- word diff ----------------------------------------------------------------------------------
def word_tokens(text: str | None) -> list[str]:
    """Tokens for a word-level diff, the same units as the result card's diff (render.diff_units):
    CJK per character (it has no spaces between words), other scripts per word; lossless."""
    return diff_units(text or "")


def similarity(a: str | None, b: str | None) -> float:
    """Word-level similarity of two answers in [0, 1] (difflib ratio over non-space tokens)."""
    ta = [t for t in word_tokens(a) if not t.isspace()]
    tb = [t for t in word_tokens(b) if not t.isspace()]
    if not ta and not tb:
        return 1.0
    return difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio()


# -- the comparison -----------------------------------------------------------------------------
class Comparison:
    """Both answers to one request, masked and unmasked, and what differs between them."""

    def __init__(self, messages: list[dict], params: dict[str, dict[str, Any]],
                 results: dict[str, Any]):
        self.messages = messages
        self.params = params  # {variant: parameters sent}
        self.results = results  # {variant: ChatResult}
        self.rule: str = params[MASKED]["desensitization_rule"]
        self.seed: int = params[MASKED]["seed"]
        self._sensitive: list[tuple[str, str]] | None = None

    @property
    def masked(self):
        return self.results[MASKED]

    @property
    def unmasked(self):
        return self.results[UNMASKED]

    @property
    def sensitive(self) -> list[tuple[str, str]]:
        """(entity, value) pairs the local masking engine finds in the prompt."""
        if self._sensitive is None:
            self._sensitive = sensitive_values(self.messages, self.rule)
        return self._sensitive

    @property
    def masked_prompt(self) -> str | list[dict]:
        """The local engine's prediction of what the model saw in the masked variant: the masked
        text for a one-message prompt, else the masked message list."""
        masked = masked_messages(self.messages, self.rule)
        return masked[0]["content"] if len(masked) == 1 else masked

    @property
    def leaks(self) -> dict[str, list[str]]:
        """{variant: sensitive values of the prompt found in that answer}."""
        return {v: find_leaks(self.results[v].text, self.sensitive) for v in VARIANTS}

    @property
    def similarity(self) -> float:
        return similarity(self.unmasked.text, self.masked.text)

    @property
    def frame(self):
        """One row per variant: variant, text, finish_reason, tokens, latency, request id, leaks."""
        import pandas as pd

        leaks = self.leaks
        rows = [{"variant": v, **result_row(self.results[v]), "leaks": leaks[v]} for v in VARIANTS]
        frame = pd.DataFrame(rows).drop(columns=["error_code", "error_message"])
        return frame.astype({"prompt_tokens": "Int64", "completion_tokens": "Int64"})

    @property
    def logprobs(self):
        """Both answers' token logprobs (frames.py's columns) with a leading ``variant`` column."""
        import pandas as pd

        parts = []
        for v in VARIANTS:
            part = self.results[v].logprobs.copy()
            part.insert(0, "variant", v)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        leaks = self.leaks
        return (f"Comparison(rule={self.rule!r}, seed={self.seed}, similarity={self.similarity:.2f}, "
                f"leaks: unmasked={len(leaks[UNMASKED])} masked={len(leaks[MASKED])})")

    def _repr_html_(self) -> str:
        """Both answers side by side with the differing words marked, and each answer's leaks."""
        answers = dict(zip(VARIANTS, diff_sides(self.unmasked.text, self.masked.text)))
        leaks = self.leaks
        model = getattr(self.masked, "model", None) or self.params[MASKED].get("model")
        cells = []
        for variant in VARIANTS:
            row = result_row(self.results[variant])
            found = leaks[variant]
            leak_line = (f'<div><span style="{ERROR_STYLE}">leaked: {", ".join(esc(v) for v in found)}</span></div>'
                         if found else f'<div><span style="{OK_STYLE}">no sensitive value of the prompt in this '
                                       'answer</span></div>')
            latency = latency_text(row["latency"]) or "?"
            # masked, but the local prediction finds nothing this rule masks: a warning badge
            shown_badge = masking_badge(variant == MASKED, self.rule if variant == MASKED else None,
                                        nothing_masked=not self.sensitive)
            cells.append(
                f'<td style="{_CELL}">{shown_badge}'
                f'<div style="{ANSWER_STYLE}">{answers[variant]}</div>{leak_line}'
                f'<div style="{MUTED_STYLE}">finish {esc(row["finish_reason"])} · tokens {esc(row["prompt_tokens"])} in, '
                f'{esc(row["completion_tokens"])} out · {esc(latency)} · request {esc(row["request_id"])}</div></td>')
        masked_prompt = self.masked_prompt
        if not isinstance(masked_prompt, str):
            masked_prompt = "\n".join(f"{m['role']}: {m['content']}" for m in masked_prompt)
        detected = ", ".join(f"{esc(entity)} <code>{esc(value)}</code>" for entity, value in self.sensitive)
        return (
            f'<div class="dms-magic-comparison {VIEW_CLASS}" style="text-align:left">'
            f'<div>{backend_badge(getattr(self.masked, "backend", None))}'
            f'{badge(model or "default model", "#f6f8fa", "#24292f", "model")}'
            f'<span style="{MUTED_STYLE}">seed {self.seed} · word similarity {self.similarity:.2f}</span></div>'
            f'<table style="border-collapse:collapse;width:100%;table-layout:fixed"><tr>{"".join(cells)}</tr></table>'
            '<details><summary style="cursor:pointer">what the model saw with masking (local prediction)</summary>'
            f'<div style="{ANSWER_STYLE}">{esc(masked_prompt)}</div>'
            f'<div style="{MUTED_STYLE}">sensitive values in the prompt: {detected or "none detected"}</div></details>'
            "</div>")


_CELL = SIDE_CELL_STYLE


def compare(prompt_or_messages: Any, *, client: Any = None, **params: Any) -> Comparison:
    """Send one request twice, masking off and on (same seed, same rule), concurrently.

    ``params`` are request parameters by Python name; configured defaults fill the rest. The rule
    is ``desensitization_rule`` (or the configured one, else "UserInfo"); the seed is ``seed`` or
    one picked here. A failing call raises its ``DmsError``.
    """
    messages = as_messages(prompt_or_messages)
    by_variant = variant_params(session.request_params(None, params, stream=False))
    if client is None:
        client = session.default_client()
    # Two threads: both calls are in flight together, so a comparison costs one round trip.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dms-compare") as pool:
        futures = {v: pool.submit(client.chat, messages, **by_variant[v]) for v in VARIANTS}
        results = {v: futures[v].result() for v in VARIANTS}
    return Comparison(messages, by_variant, results)
