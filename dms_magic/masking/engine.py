"""Detect, resolve overlaps, add every other mention of the values found, apply operators.

The masked text is rebuilt from the untouched slices between spans plus each span's operator
output, so nothing outside a detected span can change, and the kept spans never overlap. The
texts of one request (the messages of a conversation) are detected first, all of them, so that a
value found in one message is masked wherever it is mentioned (mentions.py), and every mention of
a value gets the replacement that value got.
"""
from __future__ import annotations

import bisect
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from dms_magic.masking import addresses, mentions, names, national_phones, street_addresses
from dms_magic.masking.operators import MaskingSession
from dms_magic.masking.recognizers import HALF_WIDTH, Detection, structured_recognizers
from dms_magic.masking.result import MaskedMessages, MaskedSpan, MaskResult
from dms_magic.masking.rules import DEFAULT_RULE, ConfigLike, MaskingConfig, resolve_config

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


def _findings(text: str, entities: Iterable[str], cfg: MaskingConfig | None = None) -> list[Detection]:
    """Every finding of ``entities`` in ``text``, overlaps not yet resolved (``cfg``: its custom
    recognizers find their own entities)."""
    if not text.strip():
        return []
    finders = _finders()
    custom = cfg.custom_finders() if cfg is not None else {}
    if custom:
        finders = {**finders, **custom}
    scan = text.translate(HALF_WIDTH)
    found: list[Detection] = []
    for entity in entities:
        for find in finders.get(entity, ()):
            found.extend(find(scan))
    return found


def detect(text: str, rule: str = DEFAULT_RULE, *, config: ConfigLike = None) -> list[Detection]:
    """Sensitive values in ``text`` for the entities of ``rule``, every mention of them included:
    non-overlapping, ordered by start."""
    text = _check_text(text)
    cfg = resolve_config(config)
    return _detect_texts([text], cfg.entities(rule), cfg)[0][0]


def _detect_texts(texts: list[str], entities: Iterable[str], cfg: MaskingConfig,
                  found: list[list[Detection]] | None = None) -> tuple[list[list[Detection]], dict]:
    """Each text's detections (overlaps resolved) plus the mentions of every value found in any of
    the texts; and (text index, start) -> the value a mention stands for."""
    allowed = set(entities)
    if found is None:
        found = [_findings(t, allowed, cfg) for t in texts]
    kept = [resolve_overlaps(d for d in f if d.entity in allowed) for f in found]
    return mentions.add_mentions(texts, kept)


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
    among its own entities and adds the mentions, so each count equals ``len(mask(text,
    rule).entities)``. Accepts a text or a list of ``{role, content}`` messages (counts summed over
    the messages, mentions across messages included, as ``mask_messages`` masks them)."""
    cfg = resolve_config(config)
    wanted = sorted({e for rule in cfg.rule_names() for e in cfg.entities(rule)})
    texts = _texts(text_or_messages)
    found = [_findings(text, wanted, cfg) for text in texts]
    counts = {}
    for rule in cfg.rule_names():
        detections, _ = _detect_texts(texts, cfg.entities(rule), cfg, found)
        counts[rule] = sum(len(d) for d in detections)
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


def _apply(text: str, detections: list[Detection], canonical: dict[int, str], operators: Mapping[str, Any],
           session: MaskingSession, given: dict[tuple[str, str], str], rule: str) -> MaskResult:
    """The masked text: each span replaced by its operator's output. ``given`` remembers the
    replacement of each (entity, value) so that every mention of a value gets the same one (a
    ``random`` operator included), and a mention of part of a value (Dana of Dana Whitfield) the
    replacement of the whole value."""
    pieces: list[str] = []
    spans: list[MaskedSpan] = []
    last = 0
    for d in detections:
        original = text[d.start:d.end]
        value = canonical.get(d.start, original)
        key = (d.entity, value)
        masked = given.get(key)
        if masked is None:
            masked = given[key] = operators[d.entity](value, d.entity, session)
        pieces.append(text[last:d.start])
        pieces.append(masked)
        spans.append(MaskedSpan(d.start, d.end, d.entity, original, masked, d.validated_by))
        last = d.end
    pieces.append(text[last:])
    return MaskResult("".join(pieces), text, spans, rule)


def _mask_texts(texts: list[str], rule: str, cfg: MaskingConfig, session: MaskingSession) -> list[MaskResult]:
    operators = cfg.operators_for(rule)  # raises UnknownRuleError before any work
    detections, canonical = _detect_texts(texts, cfg.entities(rule), cfg)
    given: dict[tuple[str, str], str] = {}
    return [_apply(text, dets, {start: v for (j, start), v in canonical.items() if j == i}, operators, session,
                   given, rule)
            for i, (text, dets) in enumerate(zip(texts, detections))]


def mask(text: str, rule: str = DEFAULT_RULE, *, config: ConfigLike = None,
         session: MaskingSession | None = None) -> MaskResult:
    """Mask ``text`` with the operators of ``rule`` (default ``UserInfo``).

    Every mention of a detected value is masked, with the replacement the value got. ``session``
    keeps pseudonyms consistent across calls (a conversation); by default each call is its own
    session, so one value gets one pseudonym within a document.
    """
    cfg = resolve_config(config)
    cfg.operators_for(rule)
    text = _check_text(text)
    return _mask_texts([text], rule, cfg, session if session is not None else MaskingSession())[0]


def mask_messages(messages: Iterable[Mapping[str, Any]], rule: str = DEFAULT_RULE, *, config: ConfigLike = None,
                  session: MaskingSession | None = None) -> MaskedMessages:
    """Mask the ``content`` of every message of a conversation, as the service masks a request.

    All the messages are detected first: a value found in one message is masked wherever it is
    mentioned in the others. One masking session spans all the messages (a value gets the same
    pseudonym in each); pass ``session`` to continue one, e.g. ``MaskingSession(seed=...)`` for
    reproducible ``random``. Returns a list of message copies (other keys kept) with ``.results``,
    one MaskResult each.
    """
    cfg = resolve_config(config)
    cfg.operators_for(rule)  # UnknownRuleError before any work, even for an empty list
    session = session if session is not None else MaskingSession()
    messages = list(messages)
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("content"), str):
            got = (f"its content is {type(message.get('content')).__name__}" if isinstance(message, Mapping)
                   else f"it is {type(message).__name__}")
            raise TypeError(f"mask_messages() needs {{role, content}} dicts with str content; messages[{i}]: {got}")
    results = _mask_texts([m["content"] for m in messages], rule, cfg, session)
    masked = [{**message, "content": result.text} for message, result in zip(messages, results)]
    return MaskedMessages(masked, results)
