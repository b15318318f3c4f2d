"""Custom recognizers from the masking config: a DMS instance's own sensitive types (employee
numbers, contract numbers) as pattern + cue words + optional validator + operator.

    [recognizers.EMPLOYEE_ID]
    pattern = "EMP-?[0-9]{6}"                 # a Python regular expression
    cues = ["工号", "employee id"]            # words near the value (before it, or its label)
    cue_required = true                       # default: true when there are cues
    validator = "luhn"                        # optional: a dms_magic check or a python-stdnum module
                                              # (of the whole match, or of a group named check)
    operator = {type = "cover", keep_last = 2}
    rules = ["UserInfo", "All"]               # categories that mask it (or name it under [categories])

The value may not continue a Latin word or number (the pattern is bounded by ASCII letters and
digits, never by CJK text). Every entry is checked at load; an error names the entity and the field.
"""
from __future__ import annotations

import difflib
import importlib
import re
from typing import Any, Callable, Mapping
from dms_magic.errors import CustomRecognizerError

from dms_magic.masking.recognizers import PatternRecognizer

KEYS = ("pattern", "cues", "cue_required", "window", "validator", "score", "operator", "rules", "ignore_case",
        "description")
_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}")


def _package_validators() -> dict[str, Callable[[str], bool]]:
    from dms_magic.masking import validators as v

    return {"luhn": v.luhn, "china_id": v.china_id, "uscc": v.uscc, "bank_card": v.bank_card, "ipv4": v.ipv4,
            "ipv6": v.ipv6, "mac": v.mac, "cn_mobile": v.cn_mobile, "cn_landline": v.cn_landline,
            "intl_phone": v.intl_phone, "plate": v.plate}


def validator(name: str, where: str) -> Callable[[str], bool]:
    """A check by name: one of the package's, or any python-stdnum module with ``is_valid``
    (``iban``, ``isbn``, ``cn.ric``, ``iso7064.mod_97_10``). Separators (space, -) are removed first."""
    known = _package_validators()
    check = known.get(name)
    if check is None:
        module_name = name[len("stdnum."):] if name.startswith("stdnum.") else name
        try:
            if not re.fullmatch(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*", module_name):
                raise ImportError
            check = importlib.import_module(f"stdnum.{module_name}").is_valid
        except (ImportError, AttributeError):
            raise CustomRecognizerError(
                f"{where}.validator: {name!r} is unknown; use one of {', '.join(known)} or a python-stdnum "
                f"module with is_valid, e.g. 'iban', 'isbn', 'cn.ric'") from None

    def run(value: str) -> bool:
        try:
            return bool(check(re.sub(r"[\s-]", "", value)))
        except Exception:  # noqa: BLE001 - a validator that fails on odd input says "not valid"
            return False

    return run


def _strings(value: Any, where: str, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise CustomRecognizerError(f"{where}.{field} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def build(entity: str, spec: Any, where: str) -> tuple[PatternRecognizer, dict | None, tuple[str, ...]]:
    """(recognizer, its operator spec or None, the rules it joins) from one config entry."""
    where = f"{where}.{entity}"
    if not _NAME.fullmatch(entity):
        raise CustomRecognizerError(f"{where}: an entity name is upper case letters, digits and _ "
                                    f"(e.g. EMPLOYEE_ID), got {entity!r}")
    if not isinstance(spec, Mapping):
        raise CustomRecognizerError(f"{where} must be a table with a 'pattern', got {type(spec).__name__}")
    unknown = sorted(k for k in spec if k not in KEYS)
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CustomRecognizerError(f"{where}: unknown field {unknown[0]!r}{hint}; fields: {', '.join(KEYS)}")
    pattern = spec.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise CustomRecognizerError(f"{where}.pattern: give the value's regular expression, e.g. 'EMP-?[0-9]{{6}}'")
    flags = re.IGNORECASE if spec.get("ignore_case") else 0
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise CustomRecognizerError(f"{where}.pattern: {pattern!r} is not a valid regular expression ({exc})") from None
    if compiled.fullmatch(""):
        raise CustomRecognizerError(f"{where}.pattern: {pattern!r} matches the empty string; it must match the value")
    cues = _strings(spec.get("cues", []), where, "cues") if spec.get("cues") is not None else ()
    required = spec.get("cue_required", bool(cues))
    if not isinstance(required, bool):
        raise CustomRecognizerError(f"{where}.cue_required must be true or false, got {required!r}")
    if required and not cues:
        raise CustomRecognizerError(f"{where}.cue_required is true but there are no cues; add cues = [\"...\"]")
    window = spec.get("window", 16)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 200:
        raise CustomRecognizerError(f"{where}.window must be an integer from 1 to 200 (characters), got {window!r}")
    score = spec.get("score", 0.8)
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 < score <= 1:
        raise CustomRecognizerError(f"{where}.score must be a number in (0, 1], got {score!r}")
    check = None
    name = spec.get("validator")
    if name is not None:
        if not isinstance(name, str) or not name:
            raise CustomRecognizerError(f"{where}.validator must be a name such as 'luhn', got {name!r}")
        check = validator(name, where)
        if "check" in compiled.groupindex:  # validate a part only: HT(?P<check>[0-9]{16})
            whole = check

            def check(value: str) -> bool:
                m = compiled.fullmatch(value)
                return bool(m and m.group("check") and whole(m.group("check")))
    operator = spec.get("operator")
    if operator is not None and not isinstance(operator, Mapping):
        raise CustomRecognizerError(f"{where}.operator must be a table such as {{type = \"cover\", keep_last = 2}}")
    rules = _strings(spec.get("rules", []), where, "rules") if spec.get("rules") is not None else ()
    how = f"custom pattern{' + ' + name if name else ''}{' + context word' if required else ''}"
    recognizer = PatternRecognizer(
        f"custom:{entity}", entity, rf"(?<![0-9A-Za-z])(?:{pattern})(?![0-9A-Za-z])", validator=check,
        validated_by=how, score=float(score), context=cues, context_required=required, window=window, flags=flags)
    return recognizer, dict(operator) if operator is not None else None, rules
