"""Masking operators: what a detected value is replaced with.

DMS's operator families: cover (keep first n / last m, full, fixed text), hash (MD5/SHA1/SHA256,
HMAC with a key), replacement (consistent pseudonyms or random characters), number and date
rounding, and reversible AES encryption. An operator is built once from its config spec
(``{"type": "cover", "keep_first": 3, "keep_last": 4}``) and then called per value.
Keys come from the config or an environment variable and never appear in reprs or errors.
"""
from __future__ import annotations

import base64
import difflib
import hashlib
import hmac as _hmac
import math
import os
import random as _random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from decimal import Decimal, localcontext
from typing import Any, Callable

from dms_magic.errors import OperatorConfigError
from dms_magic.masking.recognizers import HALF_WIDTH

from dms_magic.defaults import ENV_MASKING_KEY as DEFAULT_KEY_ENV  # noqa: E402

# Characters that shape a value but carry no information: kept in place when covering so that
# 6222 0212 3456 1234 becomes 6222 **** **** 1234 and 京A·12345 keeps its dot.
_SEPARATORS = frozenset(" -·・.:()（）/_+")


@dataclass
class MaskingSession:
    """State shared by the mask() calls that should agree with each other.

    Pseudonyms are consistent within one session: the same (entity, value) always gets the same
    label. ``mask()`` makes a fresh session per call (consistency within a document) unless
    you pass one (consistency across a conversation). ``seed`` makes ``random`` reproducible.
    """

    seed: int | None = None
    pseudonyms: dict[tuple[str, str], str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = _random.Random(self.seed)

    def pseudonym(self, entity: str, value: str, template: str) -> str:
        key = (entity, value)
        label = self.pseudonyms.get(key)
        if label is None:
            n = self.counters.get(entity, 0) + 1
            self.counters[entity] = n
            label = template.format(entity=entity, n=n)
            self.pseudonyms[key] = label
        return label


Operator = Callable[[str, str, MaskingSession], str]


def _resolve_key(spec: dict[str, Any], entity: str, *, required: bool = True) -> bytes:
    """The key of an hmac/aes spec: ``key``, else the environment variable ``key_env``.

    With ``required=False`` (checking a config at load) a key that is not there yet is no error:
    it may be set only on the hosts that mask with it."""
    key = spec.get("key")
    env = spec.get("key_env", DEFAULT_KEY_ENV)
    if not isinstance(env, str) or not env:
        raise OperatorConfigError(f"operator {spec.get('type')!r} for {entity}: key_env={env!r} is invalid, "
                                  "expected the name of an environment variable")
    if key is not None and (not isinstance(key, (str, bytes)) or not key):
        # never the value: it is (meant to be) a secret
        raise OperatorConfigError(f"operator {spec.get('type')!r} for {entity}: 'key' must be a non-empty "
                                  f"string, got {'an empty one' if key == '' else type(key).__name__}; "
                                  f"or leave it out and set {env}")
    if key is None:
        key = os.environ.get(env)
    if not key:
        if not required:
            return b""
        raise OperatorConfigError(
            f"operator {spec.get('type')!r} for {entity} needs a key: set the environment variable {env} "
            f"or 'key' in the masking config")
    return key.encode("utf-8") if isinstance(key, str) else key


def _opt(spec: dict[str, Any], name: str, kind: type, default: Any, entity: str) -> Any:
    value = spec.get(name)
    if value is None:  # absent, or JSON null: the default
        value = default
    if value is not None and not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise OperatorConfigError(
            f"operator {spec.get('type')!r} for {entity}: {name}={value!r} is invalid, expected {kind.__name__}")
    return value


def _count(spec: dict[str, Any], name: str, default: int | None, entity: str) -> int | None:
    value = _opt(spec, name, int, default, entity)
    if value is not None and value < 0:
        raise OperatorConfigError(
            f"operator {spec.get('type')!r} for {entity}: {name}={value!r} is invalid, expected an int >= 0")
    return value


def _regex(spec: dict[str, Any], name: str, entity: str) -> re.Pattern | None:
    pattern = _opt(spec, name, str, None, entity)
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise OperatorConfigError(
            f"operator {spec.get('type')!r} for {entity}: {name}={pattern!r} is not a valid regular expression "
            f"({exc}); fix the pattern (a literal character such as '+' needs a backslash)") from None


# -- cover --------------------------------------------------------------------------------------

def cover(value: str, keep_first: int = 0, keep_last: int = 0, char: str = "*", fixed: str | None = None,
          keep_separators: bool = True) -> str:
    """Hide the middle of a value. Counts only significant characters, keeps separators in place
    (unless ``fixed`` replaces the whole hidden middle with one string, e.g. ``***``)."""
    positions = [i for i, c in enumerate(value) if not (keep_separators and c in _SEPARATORS)]
    n = len(positions)
    if keep_first + keep_last >= n:  # too short to keep both ends: hide all but the first char
        keep_first, keep_last = (1, 0) if n > 1 else (0, 0)
    hidden = positions[keep_first:n - keep_last]
    if not hidden:
        return value
    if fixed is not None:
        return value[:hidden[0]] + fixed + value[hidden[-1] + 1:]
    chars = list(value)
    for i in hidden:
        chars[i] = char
    return "".join(chars)


def _make_cover(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    keep_first = _count(spec, "keep_first", 0, entity) or 0
    keep_last = _count(spec, "keep_last", 0, entity) or 0
    char = _opt(spec, "char", str, "*", entity)
    fixed = _opt(spec, "fixed", str, None, entity)
    keep_separators = _opt(spec, "keep_separators", bool, True, entity)
    # ``prefix``: a regex for a leading part kept verbatim (+86 , an area code);
    # ``part``: a regex whose group 1 is the only part covered (an email's local part).
    prefix = _regex(spec, "prefix", entity)
    part = _regex(spec, "part", entity)
    if part is not None and part.groups < 1:
        raise OperatorConfigError(
            f"operator 'cover' for {entity}: part={part.pattern!r} has no group; put the part to cover in "
            f"parentheses (group 1), e.g. '^([^@]+)@' for an email's local part")

    def op(value: str, _entity: str, _session: MaskingSession) -> str:
        # match on the half-width form (＋８６, ｚｗ＠...), slice the original: same offsets
        plain = value.translate(HALF_WIDTH)
        head, body, tail = "", value, ""
        if part is not None:
            m = part.search(plain)
            if m:
                head, body, tail = value[:m.start(1)], value[m.start(1):m.end(1)], value[m.end(1):]
        if prefix is not None:
            m = prefix.match(body.translate(HALF_WIDTH))
            if m and m.end() < len(body):
                head, body = head + body[:m.end()], body[m.end():]
        return head + cover(body, keep_first, keep_last, char, fixed, keep_separators) + tail

    return op


# -- hash and HMAC ------------------------------------------------------------------------------

_ALGORITHMS = ("md5", "sha1", "sha256")


def _make_hash(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    algorithm = _opt(spec, "algorithm", str, "sha256", entity).lower()
    if algorithm not in _ALGORITHMS:
        raise OperatorConfigError(f"operator 'hash' for {entity}: algorithm={algorithm!r}, expected one of {_ALGORITHMS}")
    length = _count(spec, "length", None, entity)
    salt = _opt(spec, "salt", str, "", entity).encode("utf-8")
    keyed = spec.get("type") == "hmac"
    key = _resolve_key(spec, entity, required=need_key) if keyed else b""

    def op(value: str, _entity: str, _session: MaskingSession) -> str:
        data = salt + value.encode("utf-8")
        digest = (_hmac.new(key, data, algorithm).hexdigest() if keyed
                  else hashlib.new(algorithm, data).hexdigest())
        return digest[:length] if length else digest

    return op


# -- replacement --------------------------------------------------------------------------------

def _template(spec: dict[str, Any], name: str, default: str, entity: str, **fields: Any) -> str:
    template = _opt(spec, name, str, default, entity)
    try:
        template.format(entity=entity, **fields)
    except (LookupError, ValueError) as exc:
        allowed = ", ".join("{" + f + "}" for f in ("entity", *fields))
        raise OperatorConfigError(
            f"operator {spec.get('type')!r} for {entity}: {name}={template!r} is not a valid template ({exc!r}); "
            f"it may use {allowed}, and literal braces must be doubled ({{{{ }}}})") from None
    return template


def _make_replace(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    fixed = _template(spec, "value", "<{entity}>", entity)

    def op(value: str, ent: str, _session: MaskingSession) -> str:
        return fixed.format(entity=ent)

    return op


def _make_pseudonym(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    template = _template(spec, "template", "<{entity}_{n}>", entity, n=1)

    def op(value: str, ent: str, session: MaskingSession) -> str:
        return session.pseudonym(ent, value, template)

    return op


_DIGITS = "0123456789"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_CJK = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰文辉建国志红梅林海波宇晨浩然欣怡子涵"


def _make_random(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    """Same shape, random content: a digit stays a digit, a letter a letter, a hanzi a hanzi."""

    def op(value: str, _entity: str, session: MaskingSession) -> str:
        rng = session.rng
        out = []
        for c in value:
            if c.isdigit():
                out.append(rng.choice(_DIGITS))
            elif c.isascii() and c.isupper():
                out.append(rng.choice(_UPPER))
            elif c.isascii() and c.islower():
                out.append(rng.choice(_LOWER))
            elif "\u4e00" <= c <= "\u9fff":
                out.append(rng.choice(_CJK))
            else:
                out.append(c)
        return "".join(out)

    return op


# -- rounding -----------------------------------------------------------------------------------

# A number with thousands separators (12,345.6) or without (12345.6); \d also takes full-width digits.
# A minus (-, − or full-width －) is its sign unless it follows a digit or letter: 10-3 and 010-1234
# are a range and a phone-like layout, not 10 and -3.
_NUMBER = re.compile(r"(?P<sign>(?<![\dA-Za-z.,])[-−－])?"
                     r"(?P<digits>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?)")
_DATE = re.compile(r"(?P<y>(?:18|19|20)\d{2})(?P<s1>[-/.年]?)(?P<m>0[1-9]|1[0-2]|[1-9](?!\d))(?P<s2>[-/.月]?)"
                   r"(?P<d>0[1-9]|[12]\d|3[01]|[1-9](?!\d))(?P<s3>日?)")


def round_number(value: str, step: float = 100) -> str:
    """Round every number in the value down to a multiple of ``step`` (12,345 -> 12,300).

    Down means toward minus infinity, so a negative number keeps its sign and goes the same way
    (-3.7 with step 1 -> -4, as 3.7 -> 3). Exact decimal arithmetic (0.3 with step 0.1 stays 0.3);
    the result has as many decimal places as ``step`` (3.75 with step 0.1 -> 3.7), and a number
    written with thousands separators keeps them.
    """
    unit = Decimal(str(step)).normalize()
    places = max(0, -int(unit.as_tuple().exponent))

    def repl(m: re.Match) -> str:
        text = m["digits"]
        grouped = "," in text
        # Arithmetic (negation too) is exact while the number fits the precision: make it fit (with
        # room for a negative number that floors to a longer one, -999 -> -1000).
        with localcontext() as ctx:
            ctx.prec = len(text) + len(unit.as_tuple().digits) + abs(int(unit.as_tuple().exponent)) + 5
            n = Decimal(text.replace(",", ""))
            if m["sign"]:
                n = -n
            q, rest = divmod(n, unit)  # q is truncated toward zero; rest has n's sign
            if rest < 0:
                q -= 1
            r = q * unit
            sign = (m["sign"] or "-") if r < 0 else ""  # the minus as written; none for zero
            return sign + f"{abs(r):{',' if grouped else ''}.{places}f}"
    return _NUMBER.sub(repl, value)


def round_date(value: str, unit: str = "month") -> str:
    """Generalise dates in the value to the first day of their month (or year), same layout.

    Zero padding follows the date: 1990-03-07 -> 1990-03-01, but 2023-7-15 (a month or day written
    with one digit) -> 2023-7-1, and 1990年3月7日 -> 1990年1月1日 by year.
    """
    def repl(m: re.Match) -> str:
        padded = len(m["m"]) == 2 and len(m["d"]) == 2
        first = "01" if padded else "1"
        month = m["m"] if unit == "month" else first
        return f"{m['y']}{m['s1']}{month}{m['s2']}{first}{m['s3']}"
    return _DATE.sub(repl, value)


def _make_round_number(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    step = spec.get("step", 100)
    if not isinstance(step, (int, float)) or isinstance(step, bool) or not math.isfinite(step) or step <= 0:
        raise OperatorConfigError(f"operator 'round_number' for {entity}: step={step!r}, expected a positive number")
    return lambda value, _e, _s: round_number(value, step)


def _make_round_date(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    unit = spec.get("unit", "month")
    if unit not in ("month", "year"):
        raise OperatorConfigError(f"operator 'round_date' for {entity}: unit={unit!r}, expected 'month' or 'year'")
    return lambda value, _e, _s: round_date(value, unit)


# -- reversible encryption ----------------------------------------------------------------------

ENCRYPTED_PREFIX = "ENC:"


def _aes_key(raw: bytes) -> bytes:
    # AES-SIV takes a 256-bit key (two AES-128 keys); derive it so any passphrase works.
    return hashlib.sha256(b"dms_magic.masking.aes" + raw).digest()


def encrypt(value: str, key: str | bytes) -> str:
    """AES-SIV (deterministic: equal values give equal tokens, so masked data can still be joined)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    raw = key.encode("utf-8") if isinstance(key, str) else key
    token = AESSIV(_aes_key(raw)).encrypt(value.encode("utf-8"), None)
    return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")


def decrypt(token: str, key: str | bytes) -> str:
    """Inverse of ``encrypt``; raises ValueError when the token or the key is wrong."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    if not token.startswith(ENCRYPTED_PREFIX):
        raise ValueError(f"not an encrypted value: expected it to start with {ENCRYPTED_PREFIX!r}")
    body = token[len(ENCRYPTED_PREFIX):]
    raw = key.encode("utf-8") if isinstance(key, str) else key
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return AESSIV(_aes_key(raw)).decrypt(data, None).decode("utf-8")
    except (InvalidTag, ValueError):
        raise ValueError("cannot decrypt: the token is damaged or the key is not the one used to encrypt") from None


def _make_aes(spec: dict[str, Any], entity: str, need_key: bool = True) -> Operator:
    key = _resolve_key(spec, entity, required=need_key)
    return lambda value, _e, _s: encrypt(value, key)


# -- registry -----------------------------------------------------------------------------------

_FACTORIES: dict[str, Callable[[dict[str, Any], str, bool], Operator]] = {
    "cover": _make_cover,
    "hash": _make_hash,
    "hmac": _make_hash,
    "replace": _make_replace,
    "pseudonym": _make_pseudonym,
    "random": _make_random,
    "round_number": _make_round_number,
    "round_date": _make_round_date,
    "aes": _make_aes,
}
OPERATOR_TYPES = tuple(_FACTORIES)


class _ReadKeys(dict):
    """A spec that records which keys its factory reads (in reading order)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: dict[Any, None] = {}

    def get(self, key: Any, default: Any = None) -> Any:
        self.read[key] = None
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.read[key] = None
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        self.read[key] = None
        return super().__contains__(key)


@lru_cache(maxsize=None)
def valid_keys(kind: str) -> tuple[str, ...]:
    """The keys an operator type's spec may have: ``type`` and the options its factory reads.

    Found by building the operator once from ``{"type": kind}`` (all defaults) and recording what
    it reads, so each factory stays the only list of its options. Factories read every option
    whatever the values (only the type may change which: ``key`` is an hmac's, not a hash's)."""
    probe = _ReadKeys(type=kind)
    _FACTORIES[kind](probe, kind, False)
    return ("type", *(k for k in probe.read if k != "type"))


def _check_keys(spec: dict[str, Any], kind: str, entity: str) -> None:
    valid = valid_keys(kind)
    unknown = sorted((k for k in spec if k not in valid), key=str)
    if not unknown:
        return
    # names only, never values: an option meant as 'key' may hold a secret
    close = difflib.get_close_matches(str(unknown[0]), valid, n=1) if len(unknown) == 1 else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise OperatorConfigError(
        f"operator {kind!r} for {entity}: unknown key{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(repr(k) for k in unknown)}{hint}; valid keys for {kind!r}: {', '.join(valid)}")


def build(spec: dict[str, Any], entity: str, *, need_key: bool = True) -> Operator:
    """Turn a config spec into a callable ``op(value, entity, session) -> masked``.

    A key the operator type does not read (a misspelled ``keep_frist``) is an OperatorConfigError
    naming the valid ones. ``need_key=False`` (checking a config at load): an hmac/aes key that is
    not set yet is no error, as it may come from an environment variable set only where masking runs."""
    if not isinstance(spec, dict) or "type" not in spec:
        got = "a table without 'type'" if isinstance(spec, dict) else type(spec).__name__  # never the spec: keys
        raise OperatorConfigError(f"operator for {entity} must be a table with a 'type' (one of "
                                  f"{', '.join(OPERATOR_TYPES)}), got {got}")
    kind = spec["type"]
    factory = _FACTORIES.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise OperatorConfigError(
            f"operator for {entity}: type={kind!r} is unknown; use one of {', '.join(OPERATOR_TYPES)}")
    _check_keys(spec, kind, entity)
    return factory(spec, entity, need_key)
