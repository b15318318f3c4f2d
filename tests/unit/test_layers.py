"""The package's imports point only down: no cycles, no import from a lower layer to a higher one.

The layer list below is the one place the architecture's layering is written down (docs/architecture.md
draws it). Imports are read with ``ast`` from the source, so an import inside a function counts as much
as one at the top of a module; only imports under ``if TYPE_CHECKING:`` are skipped (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "dms_magic"

# Lowest first. A module belongs to the first entry that is it or a package containing it; it may
# import modules of its own layer or of lower ones.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # wire/: what client and sandbox share (the parameter table, message and tool shapes, JSON text,
    # signing, the tokeniser), except its reply reader (the next layer).
    ("base", ("dms_magic.defaults", "dms_magic.errors", "dms_magic.wire", "dms_magic.client.credentials",
              "dms_magic.masking", "dms_magic.images", "dms_magic.tools")),
    ("reply", ("dms_magic.wire.result",)),           # what the wire client parses replies into
    ("wire", ("dms_magic.client", "dms_magic.sandbox")),
    ("views", ("dms_magic.views",)),                # cards, mask view, diff, frames, tables, plots, report
    ("process", ("dms_magic.session", "dms_magic.comparison", "dms_magic.summaries", "dms_magic.batch")),
    ("notebook", ("dms_magic.notebook",)),
    ("package", ("dms_magic",)),                # the facade: lazy public names, %load_ext
)

# Modules of one layer that must not know each other: the sandbox is a service beside the client,
# sharing only the base layer (a test double that imported the client could hide a client bug).
APART: tuple[tuple[str, str], ...] = (("dms_magic.client", "dms_magic.sandbox"),)

# The only imports allowed to point up: an object importing its own view when it is shown
# (inside the method, never at module level). The helpers both use live below both.
LAZY_VIEWS: frozenset[tuple[str, str]] = frozenset({
    ("dms_magic.wire.result", "dms_magic.views.frames"),
    ("dms_magic.wire.result", "dms_magic.views.card"),
    ("dms_magic.masking.result", "dms_magic.views.mask_view"),
})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(name: str) -> bool:
    return (PACKAGE_DIR.parent / name.replace(".", "/") / "__init__.py").exists()


def is_module(name: str) -> bool:
    return is_package(name) or (PACKAGE_DIR.parent / (name.replace(".", "/") + ".py")).exists()


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports_of(source: str, importer: str) -> list[tuple[str, int, bool]]:
    """(imported dms_magic module, line, at module level) for each import in ``source``.

    ``from pkg import sub`` names the submodule ``pkg.sub``, not ``pkg``: Python runs ``pkg``'s
    ``__init__`` either way, but the dependency is on ``sub``. A name that is not a submodule is a
    dependency on the module that defines it."""
    found: list[tuple[str, int, bool]] = []
    own_package = importer if is_package(importer) else importer.rpartition(".")[0]

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                for sub in child.orelse:
                    visit(sub, top_level)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, top_level) for alias in child.names
                             if alias.name.split(".")[0] == "dms_magic")
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = own_package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.split(".")[0] != "dms_magic":
                    continue
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.append((sub if is_module(sub) else target, child.lineno, top_level))
            inner = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                          ast.Lambda, ast.ClassDef))
            # a class body runs at import time; its methods do not
            if isinstance(child, ast.ClassDef):
                inner = top_level
            visit(child, inner)

    visit(ast.parse(source), True)
    return found


def import_graph() -> dict[str, list[tuple[str, int, bool]]]:
    graph = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name = module_name(path)
        edges = imports_of(path.read_text(encoding="utf-8"), name)
        graph[name] = sorted({edge for edge in edges if edge[0] != name}, key=lambda edge: edge[1])
    return graph


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index): the most specific entry wins
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member or module.startswith(member + "."):
                if best is None or len(member) > best[0]:
                    best = (len(member), index)
    return None if best is None else best[1]


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def layer_violations(graph: dict[str, list[tuple[str, int, bool]]]) -> list[str]:
    problems = []
    for importer, edges in sorted(graph.items()):
        here = layer_of(importer)
        if here is None:
            problems.append(f"{importer} is in no layer: add it to LAYERS in tests/test_layers.py")
            continue
        for target, line, top_level in edges:
            there = layer_of(target)
            if there is None:
                problems.append(f"{importer}:{line} imports {target}, which is in no layer")
            elif there > here and not (not top_level and (importer, target) in LAZY_VIEWS):
                problems.append(f"{importer}:{line} ({LAYERS[here][0]}) imports {target} "
                                f"({LAYERS[there][0]}): an arrow pointing up")
            for a, b in APART:
                if (importer.startswith(a) and target.startswith(b)) or (importer.startswith(b) and target.startswith(a)):
                    problems.append(f"{importer}:{line} imports {target}: {a} and {b} stay apart")
    return problems


def test_no_import_cycles():
    graph = {name: [target for target, _, _ in edges] for name, edges in import_graph().items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in cycles)


def test_imports_only_point_down():
    problems = layer_violations(import_graph())
    assert not problems, "\n".join(problems)


def test_every_module_is_in_a_layer():
    assert [name for name in import_graph() if layer_of(name) is None] == []


# The checker itself, on graphs made for it: it must be able to fail.
def test_checker_finds_a_cycle():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert find_cycles({"a": ["b"], "b": []}) == []


@pytest.mark.parametrize("importer, target, top_level, ok", [
    ("dms_magic.wire.params", "dms_magic.client", True, False),       # base -> wire
    ("dms_magic.client", "dms_magic.wire.params", True, True),        # wire -> base
    ("dms_magic.wire.result", "dms_magic.views.card", False, True),       # a result shows itself, lazily
    ("dms_magic.wire.result", "dms_magic.views.card", True, False),       # ... but not at module level
    ("dms_magic.wire.result", "dms_magic.views.diff", False, False),      # ... and only through its view
    ("dms_magic.sandbox.app", "dms_magic.client", False, False),  # beside the client, apart
    ("dms_magic.session", "dms_magic.notebook.magics", False, False),
])
def test_checker_judges_arrows(importer, target, top_level, ok):
    assert (layer_violations({importer: [(target, 1, top_level)]}) == []) is ok


def test_reader_sees_relative_lazy_and_type_checking_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import replies\n"
        "from ..wire.params import shorten\n"
        "if TYPE_CHECKING:\n"
        "    from dms_magic.client import DmsChatClient\n"
        "def f():\n"
        "    from dms_magic.views.styles import esc\n"
    )
    edges = imports_of(source, "dms_magic.sandbox.app")
    assert ("dms_magic.sandbox.replies", 2, True) in edges
    assert ("dms_magic.wire.params", 3, True) in edges
    assert ("dms_magic.views.styles", 7, False) in edges
    assert not any(target == "dms_magic.client" for target, _, _ in edges)
