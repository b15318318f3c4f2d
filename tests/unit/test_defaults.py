"""One home for defaults and environment names, one for exceptions: checked over the source, so a
new copy elsewhere fails here rather than drifting."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import dms_magic
from dms_magic import defaults, errors

PACKAGE_DIR = Path(dms_magic.__file__).parent


def _env_names() -> set[str]:
    names = set()
    for key, value in vars(defaults).items():
        if key.startswith("ENV_"):
            names.update(value if isinstance(value, tuple) else (value,))
    return names


def test_every_environment_name_is_spelled_only_in_defaults():
    names = _env_names()
    assert {"DMS_MAGIC_ENDPOINT", "DMS_MAGIC_MASKING_KEY", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "REQUESTS_CA_BUNDLE"} <= names
    found = []
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name == "defaults.py" and path.parent == PACKAGE_DIR:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # a whole string constant equal to a name (prose mentioning one inside a message is fine)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value in names or node.value.startswith(("DMS_MAGIC_", "ALIBABA_CLOUD_"))):
                found.append(f"{path.relative_to(PACKAGE_DIR)}:{node.lineno} {node.value}")
    assert found == [], "environment names outside dms_magic/defaults.py:\n" + "\n".join(found)


def test_checker_sees_a_spelled_name():
    tree = ast.parse('import os\nos.environ.get("DMS_MAGIC_ENDPOINT")')
    assert any(isinstance(n, ast.Constant) and n.value in _env_names() for n in ast.walk(tree))


def _package_exception_classes() -> list[type]:
    classes = {}
    for info in pkgutil.walk_packages(dms_magic.__path__, "dms_magic."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("dms_magic"):
                classes[f"{value.__module__}.{value.__qualname__}"] = value
    return list(classes.values())


def test_every_exception_lives_in_errors_under_one_root():
    classes = [c for c in _package_exception_classes() if not c.__name__.startswith("_")]  # control flow only
    assert len(classes) >= 20
    stray = [f"{c.__module__}.{c.__name__}" for c in classes if c.__module__ != "dms_magic.errors"]
    assert stray == [], f"exception classes outside dms_magic/errors.py: {stray}"
    unrooted = [c.__name__ for c in classes if c is not errors.DmsMagicError and not issubclass(c, errors.DmsMagicError)]
    assert unrooted == []


def test_the_builtin_bases_callers_catch_are_kept():
    # `except ValueError` around a bad argument, `except RuntimeError` around missing credentials
    for name in ("InvalidParameterError", "UnknownParameterError", "SettingsError", "ImageError",
                 "ImageTooLargeError", "ToolSpecError", "UnknownRuleError", "MaskingConfigError",
                 "OperatorConfigError"):
        assert issubclass(getattr(errors, name), ValueError), name
    assert issubclass(errors.CredentialError, RuntimeError)
    assert issubclass(errors.DmsError, errors.DmsMagicError) and issubclass(errors.OutcomeUnknownError, errors.DmsError)
