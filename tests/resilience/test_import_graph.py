"""The runtime's import graph: no cycles, and a public surface that everything else goes through.

Every import counts, wherever it is written (module level, under ``TYPE_CHECKING``, inside a
function): a cycle hidden in a function body is still two modules that need each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
RUNTIME = ROOT / "resilience"
OUTSIDE = ("exporters", "chaos", "planner", "examples", "benchmarks", "tests")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").is_file()


def _exists(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in `path`, `from pkg import submodule` as the submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                if _exists(f"{module}.{alias.name}"):
                    yield node.lineno, f"{module}.{alias.name}"


def runtime_graph() -> dict[str, set[str]]:
    """Module → the resilience modules it imports (a package's lazy re-exports of its own
    submodules left out: ``resilience.storage`` offering ``RedisStorage`` on first access)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        name = _module_name(path)
        edges = graph.setdefault(name, set())
        for _, target in _imports(path):
            if not (target == "resilience" or target.startswith("resilience.")):
                continue
            if target == name or (_is_package(name) and target.startswith(name + ".")):
                continue
            if _is_package(target) and name.startswith(target + "."):
                continue  # a module's own parent package is imported first anyway
            edges.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_runtime_has_no_import_cycle() -> None:
    graph = runtime_graph()
    # The two cycles this test was written against, by name, so a regression reads plainly.
    assert "resilience.breaker" not in graph["resilience.storage._breaker"]
    assert "resilience.plan" not in graph["resilience._planbuild"]
    assert "resilience.storage._breaker" in graph["resilience.breaker"]  # the graph is real
    assert cycles(graph) == []


def _private_imports() -> Iterator[str]:
    for folder in OUTSIDE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            for line, module in _imports(path):
                private = any(part.startswith("_") for part in module.split(".")[1:])
                if not (module.startswith("resilience.") and private):
                    continue
                # A white-box test may reach in, marked for ruff (TID251) and for readers.
                if folder == "tests" and "noqa: TID251" in lines[line - 1]:
                    continue
                yield f"{path.relative_to(ROOT)}:{line}: {module}"


def test_nothing_outside_the_runtime_imports_its_private_modules() -> None:
    assert list(_private_imports()) == []


@pytest.mark.parametrize("module", ["resilience.events", "resilience.layers"])
def test_the_public_modules_export_what_they_list(module: str) -> None:
    imported = __import__(module, fromlist=["__all__"])
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []
    assert all(not name.startswith("_") for name in imported.__all__)


def test_the_extension_surface_is_the_runtime_itself() -> None:
    import resilience
    from resilience import events, layers
    from resilience.policy import ORDER

    assert events.PolicyInfo is resilience.PolicyInfo and events.TimedOut is resilience.TimedOut
    assert layers.ORDER is ORDER
    assert isinstance(resilience.Retry(), layers.Layer)
