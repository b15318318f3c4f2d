"""Detect, resolve overlaps, apply operators.

The masked text is rebuilt from the untouched slices between spans plus each span's operator
output, so nothing outside a detected span can change, and the kept spans never overlap.
"""
from __future__ import annotations

import bisect
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from dms_magic.masking import addresses, names, national_phones, street_addresses
from dms_magic.masking.operators import MaskingSession
from dms_magic.masking.recognizers import HALF_WIDTH, Detection, structured_recognizers
from dms_magic.masking.result import MaskedMessages, MaskedSpan, MaskResult
from dms_magic.masking.rules import DEFAULT_RULE, ConfigLike, resolve_config

Finder = Callable[[str], Iterable[Detection]]



@lru_cache(maxsize=1)
def _finders() -> dict[str, list[Finder]]:
    """entity -> the functions that find it (built once; regexes compile here, not at import)."""
    table: dict[str, list[Finder]] = {}
    # national phones build on the recognizers module, so they join here rather than in its list
    for rec in [*structured_recognizers(), national_phones.national_phone_recognizer()]:
        table.setdefault(rec.entity, []).append(rec.find)
    table["CHINESE_NAME"] = [names.find_chinese_names]
    table["ENGLISH_NAME"] = [names.find_english_names]
    table["CHINESE_ADDRESS"] = [addresses.find_addresses]
    table["ENGLISH_ADDRESS"] = [street_addresses.find_street_addresses]
    return table


def resolve_overlaps(found: Iterable[Detection]) -> list[Detection]:
    """Keep the best of overlapping detections: higher score, then longer, then earlier.

    Most detections overlap nothing, so sweep by start into clusters of mutually reachable spans
    and rank only inside clusters of two or more.
    """
    ordered = sorted(found, key=lambda d: (d.start, -d.end))
    kept: list[Detection] = []
    i, n = 0, len(ordered)
    while i < n:
        j, reach = i + 1, ordered[i].end
        while j < n and ordered[j].start < reach:
            reach = max(reach, ordered[j].end)
            j += 1
        if j - i == 1:
            kept.append(ordered[i])
        else:
            kept.extend(_greedy(ordered[i:j]))
        i = j
    return kept


def _greedy(cluster: list[Detection]) -> list[Detection]:
    ranked = sorted(cluster, key=lambda d: (-d.score, d.start - d.end, d.start))
    starts: list[int] = []
    chosen: list[Detection] = []
    for d in ranked:
        k = bisect.bisect_left(starts, d.start)
        if k < len(chosen) and chosen[k].start < d.end:  # the next chosen span starts inside d
            continue
        if k > 0 and chosen[k - 1].end > d.start:  # the previous chosen span reaches into d
            continue
        starts.insert(k, d.start)
        chosen.insert(k, d)
    return chosen


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        hint = " (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        raise TypeError(f"mask() needs the text as a str, got {type(text).__name__}{hint}")
    return text


def _findings(text: str, entities: Iterable[str]) -> list[Detection]:
    """Every finding of ``entities`` in ``text``, overlaps not yet resolved."""
    if not text.strip():
        return []
    finders = _finders()
    scan = text.translate(HALF_WIDTH)
    found: list[Detection] = []
    for entity in entities:
        for find in finders.get(entity, ()):
            found.extend(find(scan))
    return found


def detect(text: str, rule: str = DEFAULT_RULE, *, config: ConfigLike = None) -> list[Detection]:
    """Sensitive values in ``text`` for the entities of ``rule``: non-overlapping, ordered by start."""
    text = _check_text(text)
    entities = resolve_config(config).entities(rule)
    return resolve_overlaps(_findings(text, entities))


def _texts(text_or_messages: str | Iterable[Mapping[str, Any]]) -> list[str]:
    if isinstance(text_or_messages, str):
        return [text_or_messages]
    if isinstance(text_or_messages, (bytes, bytearray)):
        _check_text(text_or_messages)
    out = []
    for i, message in enumerate(text_or_messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, str):
            raise TypeError(f"expected a str or {{role, content}} dicts with str content; messages[{i}] is not one")
        out.append(content)
    return out


def rule_counts(text_or_messages: str | Iterable[Mapping[str, Any]], *, config: ConfigLike = None) -> dict[str, int]:
    """rule -> how many values ``mask()`` with that rule would mask, for every rule of the config.

    One detection pass over all the entities the rules name; each rule then resolves overlaps
    among its own entities, so each count equals ``len(mask(text, rule).entities)``. Accepts a
    text or a list of ``{role, content}`` messages (counts summed over the messages)."""
    cfg = resolve_config(config)
    wanted = sorted({e for rule in cfg.rule_names() for e in cfg.entities(rule)})
    counts = dict.fromkeys(cfg.rule_names(), 0)
    for text in _texts(text_or_messages):
        found = _findings(text, wanted)
        for rule in counts:
            allowed = set(cfg.entities(rule))
            counts[rule] += len(resolve_overlaps(d for d in found if d.entity in allowed))
    return counts


def suggest_rule(text_or_messages: str | Iterable[Mapping[str, Any]], exclude: str | None = None, *,
                 config: ConfigLike = None) -> str | None:
    """A rule that would mask something in the text, for a text on which rule ``exclude`` masked
    nothing (``masking on (Finance): 0 values — rule UserInfo would mask 3``); None when no rule
    would mask anything.

    The rule masking the most values wins; on a tie ``UserInfo`` (the default rule) first, then
    the rule with the fewest entities (the most specific one: Enterprise before All)."""
    cfg = resolve_config(config)
    counts = rule_counts(text_or_messages, config=cfg)
    candidates = [(n, rule) for rule, n in counts.items() if n and rule != exclude]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (-c[0], c[1] != DEFAULT_RULE, len(cfg.entities(c[1])), c[1]))[1]


def mask(text: str, rule: str = DEFAULT_RULE, *, config: ConfigLike = None,
         session: MaskingSession | None = None) -> MaskResult:
    """Mask ``text`` with the operators of ``rule`` (default ``UserInfo``).

    ``session`` keeps pseudonyms consistent across calls (a conversation); by default each call
    is its own session, so one value gets one pseudonym within a document.
    """
    cfg = resolve_config(config)
    operators = cfg.operators_for(rule)  # raises UnknownRuleError before any work
    detections = detect(text, rule, config=cfg)
    session = session if session is not None else MaskingSession()
    pieces: list[str] = []
    spans: list[MaskedSpan] = []
    last = 0
    for d in detections:
        original = text[d.start:d.end]
        masked = operators[d.entity](original, d.entity, session)
        pieces.append(text[last:d.start])
        pieces.append(masked)
        spans.append(MaskedSpan(d.start, d.end, d.entity, original, masked, d.validated_by))
        last = d.end
    pieces.append(text[last:])
    return MaskResult("".join(pieces), text, spans, rule)


def mask_messages(messages: Iterable[Mapping[str, Any]], rule: str = DEFAULT_RULE, *, config: ConfigLike = None,
                  session: MaskingSession | None = None) -> MaskedMessages:
    """Mask the ``content`` of every message of a conversation, as the service masks a request.

    One masking session spans all the messages (a value gets the same pseudonym in each); pass
    ``session`` to continue one, e.g. ``MaskingSession(seed=...)`` for reproducible ``random``.
    Returns a list of message copies (other keys kept) with ``.results``, one MaskResult each.
    """
    cfg = resolve_config(config)
    cfg.operators_for(rule)  # UnknownRuleError before any work, even for an empty list
    session = session if session is not None else MaskingSession()
    masked: list[dict] = []
    results: list[MaskResult] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("content"), str):
            got = (f"its content is {type(message.get('content')).__name__}" if isinstance(message, Mapping)
                   else f"it is {type(message).__name__}")
            raise TypeError(f"mask_messages() needs {{role, content}} dicts with str content; messages[{i}]: {got}")
        result = mask(message["content"], rule, config=cfg, session=session)
        masked.append({**message, "content": result.text})
        results.append(result)
    return MaskedMessages(masked, results)
