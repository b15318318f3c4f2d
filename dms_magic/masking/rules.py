"""Rule categories and per-entity operators, read from a config file (JSON or TOML).

The default rules live in ``data/rules.json`` (shared with the sandbox). A user file with the same
keys is merged over it: a category or operator of the same name replaces the default one.
``DMS_MAGIC_MASKING_CONFIG`` names a file to use when no config is passed explicitly.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Union

from dms_magic.errors import MaskingConfigError, OperatorConfigError, UnknownRuleError
from dms_magic.masking.operators import build

from dms_magic.defaults import ENV_MASKING_CONFIG as CONFIG_ENV  # noqa: E402
DEFAULT_RULE = "UserInfo"

# Every entity a recognizer can produce (the config may only name these).
ENTITIES = (
    "CHINESE_NAME", "ENGLISH_NAME", "MOBILE_PHONE", "LANDLINE", "PHONE_NUMBER", "ID_CARD", "PASSPORT", "EMAIL",
    "CHINESE_ADDRESS", "BANK_CARD", "LICENSE_PLATE", "IPV4", "IPV6", "MAC_ADDRESS", "USCC", "ENGLISH_ADDRESS",
)


@dataclass
class MaskingConfig:
    """Categories (rule name -> entities) and operator specs (entity -> spec), already validated."""

    categories: dict[str, tuple[str, ...]]
    operators: dict[str, dict[str, Any]]
    rule_operators: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    source: str = "default"
    recognizers: tuple = ()
    # Rule names only the service knows ("service_rules": [...]): accepted by the notebook's check,
    # never applied locally (no local preview for them).
    service_rules: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Operator specs may carry an HMAC/AES key: show only each entity's operator type.
        ops = {e: spec.get("type") for e, spec in self.operators.items()}
        return f"MaskingConfig(source={self.source!r}, categories={list(self.categories)}, operators={ops})"

    def custom_finders(self) -> dict[str, list]:
        """entity -> the finders of the config's own recognizers (none by default)."""
        return {r.entity: [r.find] for r in self.recognizers}

    def entities(self, rule: str) -> tuple[str, ...]:
        try:
            return self.categories[rule]
        except KeyError:
            raise UnknownRuleError(rule, self.rule_names()) from None

    def rule_names(self) -> list[str]:
        """The rule categories, ``UserInfo`` first, then by name."""
        return sorted(self.categories, key=lambda n: (n != DEFAULT_RULE, n))

    def operator_spec(self, rule: str, entity: str) -> dict[str, Any]:
        return self.rule_operators.get(rule, {}).get(entity) or self.operators.get(entity) or {"type": "cover"}

    def operators_for(self, rule: str) -> dict[str, Any]:
        """entity -> ready operator callable for one rule (built once per config and rule)."""
        cache = self.__dict__.setdefault("_built", {})
        if rule not in cache:
            cache[rule] = {e: build(self.operator_spec(rule, e), e) for e in self.entities(rule)}
        return cache[rule]

    def prepare(self) -> "MaskingConfig":
        """Build every rule's operators now, keys included: a service calls this at start so that a
        missing hmac/aes key fails there (MaskingConfigError naming the variable), not per request."""
        for rule in self.categories:
            try:
                self.operators_for(rule)
            except OperatorConfigError as exc:
                raise MaskingConfigError(f"{self.source}: rule {rule!r}: {exc}") from None
        return self


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MaskingConfigError(f"cannot read masking config {path}: {exc.strerror}; check the path") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib  # Python 3.11+

            return tomllib.loads(raw.decode("utf-8"))
        return json.loads(raw.decode("utf-8"))
    except ModuleNotFoundError:
        raise MaskingConfigError(f"{path}: TOML needs Python 3.11+; use a .json config instead") from None
    except ValueError as exc:
        raise MaskingConfigError(f"masking config {path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None


def _check_entity(entity: str, where: str, custom: Mapping[str, Any] = {}) -> None:
    if entity not in ENTITIES and entity not in custom:
        own = f"; or define it under [recognizers.{entity}]" if isinstance(entity, str) and entity.isupper() else ""
        raise MaskingConfigError(f"{where}: unknown entity {entity!r}; known entities: "
                                 f"{', '.join((*ENTITIES, *custom))}{own}")


def _recognizers(layer: Mapping[str, Any], source: str, custom: dict[str, Any],
                 operators: dict[str, dict[str, Any]], joins: dict[str, tuple[str, ...]]) -> None:
    """The layer's [recognizers.NAME] entries, checked: a custom entity, its default operator and
    the rules it joins."""
    from dms_magic.masking.custom import CustomRecognizerError, build as build_recognizer

    where = f"{source}: recognizers"
    for entity, spec in _table(layer.get("recognizers") or {}, where, "entity -> recognizer").items():
        if entity in ENTITIES:
            raise MaskingConfigError(f"{where}.{entity}: {entity} is a built-in entity; give your recognizer a "
                                     f"name of its own (e.g. EMPLOYEE_ID)")
        try:
            recognizer, operator, rules = build_recognizer(entity, spec, where)
        except CustomRecognizerError as exc:
            raise MaskingConfigError(str(exc)) from None
        custom[entity] = recognizer
        if operator is not None:
            try:
                build(operator, entity, need_key=False)
            except OperatorConfigError as exc:
                raise MaskingConfigError(f"{where}.{entity}.operator: {exc}") from None
            operators[entity] = operator
        joins[entity] = rules


def _table(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise MaskingConfigError(f"{where} must be a table ({what}), got {type(value).__name__}")
    return dict(value)


def _spec(spec: Any, where: str, entity: str) -> dict[str, Any]:
    """One operator spec, checked as ``build`` checks it (an hmac/aes key may still be missing)."""
    if not isinstance(spec, Mapping):
        raise MaskingConfigError(
            f"{where}.{entity} must be a table such as {{type = \"cover\", keep_last = 4}}, "
            f"got {type(spec).__name__}")
    spec = dict(spec)
    try:
        build(spec, entity, need_key=False)
    except OperatorConfigError as exc:
        raise MaskingConfigError(f"{where}.{entity}: {exc}") from None
    return spec


def _merge(base: dict[str, Any] | None, data: Mapping[str, Any], source: str) -> MaskingConfig:
    """Layer ``data`` over ``base`` and check every entry, so a wrong one fails here, naming the
    entry, rather than on the first text that contains that entity. Operators needing a key are
    checked too, except for the key itself: a config may name a key that only some hosts have."""
    categories: dict[str, tuple[str, ...]] = {}
    descriptions: dict[str, str] = {}
    operators: dict[str, dict[str, Any]] = {}
    rule_operators: dict[str, dict[str, dict[str, Any]]] = {}
    custom: dict[str, Any] = {}
    joins: dict[str, tuple[str, ...]] = {}
    for layer in ([base] if base else []) + [_table(data, source, "the masking config")]:
        _recognizers(layer, source, custom, operators, joins)
        for name, cat in _table(layer.get("categories") or {}, f"{source}: categories", "rule name -> entities").items():
            if isinstance(cat, list):  # short form: Name = ["EMAIL", ...]
                cat = {"entities": cat}
            if not isinstance(cat, dict) or not isinstance(cat.get("entities"), list):
                raise MaskingConfigError(f"{source}: category {name!r} needs an 'entities' list")
            for e in cat["entities"]:
                _check_entity(e, f"{source}: category {name!r}", custom)
            categories[name] = tuple(cat["entities"])
            descriptions[name] = cat.get("description", "")
        where = f"{source}: operators"
        for entity, spec in _table(layer.get("operators") or {}, where, "entity -> operator").items():
            _check_entity(entity, where, custom)
            operators[entity] = _spec(spec, where, entity)
        for rule, specs in _table(layer.get("rule_operators") or {}, f"{source}: rule_operators",
                                  "rule name -> {entity -> operator}").items():
            where = f"{source}: rule_operators.{rule}"
            for entity, spec in _table(specs, where, "entity -> operator").items():
                _check_entity(entity, where, custom)
                rule_operators.setdefault(rule, {})[entity] = _spec(spec, where, entity)
    for entity, rules in joins.items():
        for rule in rules:
            if rule not in categories:
                raise MaskingConfigError(f"{source}: recognizers.{entity}.rules: there is no category {rule!r}; use "
                                         f"one of {', '.join(sorted(categories))} (or add it under [categories])")
            if entity not in categories[rule]:
                categories[rule] = (*categories[rule], entity)
    service_rules = tuple(str(r) for layer in ([base] if base else []) + [dict(data)]
                          for r in (layer.get("service_rules") or ()))
    for rule in rule_operators:
        if rule not in categories:
            raise MaskingConfigError(f"{source}: rule_operators.{rule}: there is no category {rule!r}; use one of "
                                     f"{', '.join(sorted(categories))} (or add it under [categories])")
    return MaskingConfig(categories, operators, rule_operators, descriptions, source, tuple(custom.values()),
                         service_rules)


@lru_cache(maxsize=1)
def _default_data() -> dict[str, Any]:
    text = resources.files("dms_magic.masking").joinpath("data/rules.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def default_config() -> MaskingConfig:
    return _merge(None, _default_data(), "default rules")


def default_config_path() -> Path:
    """Where the default rules file is (the sandbox reads the same file)."""
    return Path(str(resources.files("dms_magic.masking").joinpath("data/rules.json")))


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime: float) -> MaskingConfig:
    return _merge(_default_data(), _read(Path(path)), path)


def load_config(path: Union[str, os.PathLike]) -> MaskingConfig:
    """Read a TOML or JSON config and merge it over the default rules."""
    p = Path(path).expanduser()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        raise MaskingConfigError(f"masking config {p} does not exist; check the path "
                                 f"(or unset {CONFIG_ENV})") from None
    return _load_cached(str(p.resolve()), mtime)


ConfigLike = Union[MaskingConfig, str, os.PathLike, Mapping[str, Any], None]


def resolve_config(config: ConfigLike = None) -> MaskingConfig:
    """None -> $DMS_MAGIC_MASKING_CONFIG or the defaults; a path -> that file; a dict -> merged over defaults."""
    if isinstance(config, MaskingConfig):
        return config
    if config is None:
        env = os.environ.get(CONFIG_ENV)
        return load_config(env) if env else default_config()
    if isinstance(config, Mapping):
        return _merge(_default_data(), config, "config dict")
    return load_config(config)


def rule_categories(config: ConfigLike = None) -> list[str]:
    """The rule names a mask() call accepts (``UserInfo`` first)."""
    return resolve_config(config).rule_names()
