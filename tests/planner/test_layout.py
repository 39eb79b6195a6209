"""The planner's layout is its data path: the folders import each other without a cycle, the
renderers never import the analysis, nothing is imported by a name computed at run time, and no
file or function of the planner (or the chaos generator it feeds) grows past the size that says
it holds two ideas."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.paths import ROOT_DIR

ROOT = ROOT_DIR
PLANNER = ROOT / "planner"

#: Size limits (CONVENTIONS.md: a file over ~500 lines holds two ideas; functions ~80 lines).
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules(package: Path = PLANNER) -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"))


def _node(module: str) -> str:
    """A module's place in the layout: its folder (`analysis/`), or itself at the top level."""
    parts = module.split(".")
    if len(parts) >= 2 and (PLANNER / parts[1]).is_dir():
        return parts[1] + "/"
    return parts[1] if len(parts) >= 2 else "planner"


def _imports(tree: ast.Module) -> Iterator[str]:
    """Every planner module a file imports, at the top or inside a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "planner":
                yield from (f"planner.{alias.name}" for alias in node.names)
            elif node.module.startswith("planner."):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("planner."))


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, _path, tree in _modules():
        source = _node(module)
        targets = edges.setdefault(source, set())
        targets.update(t for t in map(_node, _imports(tree)) if t != source)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between layout nodes, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_stages_are_folders_and_the_build_order_is_one_file() -> None:
    edges = _graph()
    assert {"analysis/", "slo/", "render/", "cli/"} <= set(edges)
    build = (PLANNER / "analysis" / "__init__.py").read_text(encoding="utf-8")
    assert "def build_plan(" in build


def test_the_folders_import_each_other_without_a_cycle() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a/": {"b/"}, "b/": {"c"}, "c": {"a/"}}) == ["a/", "b/", "c", "a/"]
    assert _cycle({"a/": {"b/"}, "b/": {"c"}}) is None


def test_render_never_imports_the_analysis() -> None:
    edges = _graph()
    reached: set[str] = set()
    todo = ["render/"]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert "analysis/" not in reached, sorted(reached)
    assert "cli/" not in reached


def test_no_module_is_imported_by_a_computed_name() -> None:
    for module, _path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names = [node.func.id]
            else:
                continue
            assert not {"importlib", "__import__"} & set(names), module


def test_no_file_over_500_lines_and_no_function_over_80() -> None:
    long_files = []
    long_functions = []
    packages = ("chaos", "resilience", "exporters")
    for module, path, tree in [*_modules(), *(m for p in packages for m in _modules(ROOT / p))]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_FILE_LINES:
            long_files.append((module, lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append((f"{module}.{node.name}", length))
    assert long_files == []
    assert long_functions == []
