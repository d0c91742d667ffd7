"""The engine's shape: no import circles (TYPE_CHECKING imports count), short modules and functions."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "custom_components" / "ocpp_cs" / "engine"
PACKAGE = "custom_components.ocpp_cs.engine"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def engine_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ENGINE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Return the engine modules a module imports, at run time or for type checking alone."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {candidate for candidate in candidates if candidate in known and candidate != name}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return one cycle per strongly connected group of modules (Tarjan), empty when there is none."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_the_engine() -> None:
    modules = engine_modules()
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    # The package's own __init__ files import nothing of theirs, so a submodule -> package edge is no circle.
    assert graph[f"{PACKAGE}.session"] == {f"{PACKAGE}.v16.checks", f"{PACKAGE}.v16.framing", f"{PACKAGE}.v16.session"}
    assert cycles(graph) == []


def test_engine_modules_are_short() -> None:
    long = {
        name: lines
        for name, path in engine_modules().items()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_long_engine_functions_say_why() -> None:
    """A function over 60 lines has a comment on the line above it (or above its decorators)."""
    unexplained = []
    for name, path in engine_modules().items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assert node.end_lineno is not None
            if node.end_lineno - node.lineno + 1 <= MAX_FUNCTION_LINES:
                continue
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            if not lines[first - 2].strip().startswith("#"):
                unexplained.append(f"{name}.{node.name}")
    assert unexplained == []


def test_no_private_attributes_of_the_ocpp_library() -> None:
    private = (
        "_response_queue", "_unique_id_generator", "_handle_call", "_call_lock", "_connection", "_response_timeout",
    )
    used = [
        f"{name}: {attribute}"
        for name, path in engine_modules().items()
        for attribute in private
        if f".{attribute}" in path.read_text() or f"def {attribute}(" in path.read_text()
    ]
    assert used == []
