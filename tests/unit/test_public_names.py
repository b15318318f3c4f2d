"""Issue 12, item 3: every public name of ``dms_magic`` stays what it is after any submodule was
imported (importing a submodule sets the package attribute of its name, so a public function
named like a submodule became a module once ``chat_many`` or ``%%dmschat --compare`` had run)."""
from __future__ import annotations

import importlib
import pkgutil
import types

import dms_magic


def _import_every_submodule() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(dms_magic.__path__, "dms_magic."):
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def test_no_public_name_is_shadowed_by_a_submodule(client):
    imported = _import_every_submodule()
    assert "dms_magic.batch" in imported and "dms_magic.notebook.magics" in imported
    submodules = {name.split(".")[1] for name in imported}
    for name in dms_magic.__all__:
        value = getattr(dms_magic, name)
        assert not isinstance(value, types.ModuleType), f"dms_magic.{name} is a module, not the public {name}"
        assert callable(value) or name == "PARAMS", name
        assert name not in submodules, f"dms_magic.{name} shares its name with a submodule"
    # and the one that broke is called for real
    comparison = dms_magic.compare("我叫张伟，手机号13812345678", client=client, max_tokens=8)
    assert isinstance(comparison, dms_magic.Comparison)
    assert comparison.masked.text and comparison.unmasked.text


def test_compare_is_a_function_after_chat_many_ran(client):
    frame = dms_magic.chat_many(["hi"], client=client, progress=False, max_tokens=4)
    assert frame["error_code"].isna().all()
    assert isinstance(dms_magic.compare, types.FunctionType)


def test_the_whole_public_surface_is_at_the_top():
    # every exception class (one root), the stream, the settings: nothing needs a module path
    import inspect

    from dms_magic import errors

    exported = set(dms_magic.__all__)
    exceptions = {name for name, value in vars(errors).items() if inspect.isclass(value)
                  and issubclass(value, BaseException) and value.__module__ == "dms_magic.errors"
                  and name not in ("SandboxAuthFailure", "UpstreamError")}  # the sandbox's own, turned into replies
    assert exceptions <= exported, sorted(exceptions - exported)
    assert {"ChatStream", "OutcomeUnknownError", "DmsMagicError", "configure", "status", "PARAMS"} <= exported
    assert all(issubclass(getattr(dms_magic, name), dms_magic.DmsMagicError) for name in exceptions)
