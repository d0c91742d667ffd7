"""The package's shape: imports flow one way, modules stay small, the engine knows nothing of Home Assistant.

The import graph is read with `ast` from the source, counting every import: at the top, under
`if TYPE_CHECKING:` and inside functions (a circle that only type checkers or a late import
see is still a circle for whoever reads the code).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "custom_components" / "ocpp_cs"
PACKAGE_NAME = "custom_components.ocpp_cs"
MAX_LINES = 400

MAX_FUNCTION_LINES = 60
# Private attributes of the `ocpp` library's ChargePoint: we use its public API, or our own framing.
OCPP_PRIVATE = (
    "_response_queue", "_unique_id_generator", "_handle_call", "_call_lock", "_connection", "_response_timeout",
)


def module_name(path: Path) -> str:
    """Return a module's name relative to the package (`hub`, `engine.central`, `services`)."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> Iterator[str]:
    """Yield the package's modules that a module imports, wherever the import stands."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if name else []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE_NAME + "."):
                    yield from _known(alias.name.removeprefix(PACKAGE_NAME + "."), ())
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module == PACKAGE_NAME or node.module.startswith(PACKAGE_NAME + ".")):
                target = node.module.removeprefix(PACKAGE_NAME).removeprefix(".")
            else:
                continue
            yield from _known(target, [alias.name for alias in node.names])


def _known(target: str, names: Iterable[str]) -> Iterator[str]:
    """The modules an import names: `from . import hub` imports `hub`, `from .hub import X` imports `hub`."""
    found_submodule = False
    for alias in names:
        candidate = f"{target}.{alias}" if target else alias
        if candidate in MODULES:
            found_submodule = True
            yield candidate
    if not found_submodule and target in MODULES:
        yield target


def import_graph() -> dict[str, set[str]]:
    """Return module -> the package's modules it imports."""
    return {name: set(imported_modules(name, path)) - {name} for name, path in MODULES.items()}


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Return the strongly connected components of more than one module (Tarjan): each is a circle or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(set(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycle_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """Return one circle through a component's first module: `a -> b -> a`, for the message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for other in sorted(graph[node] & component):
            if other == start:
                return [*paths[node], start]
            if other not in paths:
                paths[other] = [*paths[node], other]
                queue.append(other)
    return sorted(component)  # unreachable for a strongly connected component


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "hub" in graph["runtime"]  # from .hub import OcppHub
    assert "boot" in graph[""]  # from . import boot
    assert "targets" not in graph  # services.targets, not a top-level module
    assert "services.targets" in graph["services"]
    assert "engine.central" in graph["hub"]


def test_no_import_circles() -> None:
    graph = import_graph()
    found = [cycle_path(graph, component) for component in circles(graph)]
    assert not found, "import circles: " + "; ".join(" -> ".join(cycle) for cycle in found)


def test_no_module_over_400_lines() -> None:
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_engine_does_not_import_home_assistant() -> None:
    offenders = []
    for name, path in MODULES.items():
        if not name.startswith("engine"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            imported = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                imported = [node.module or ""]
            offenders += [f"{name}: {module}" for module in imported if module.split(".")[0] == "homeassistant"]
    assert not offenders, offenders


def test_the_engine_does_not_import_the_glue() -> None:
    graph = import_graph()
    offenders = {
        name: sorted(module for module in graph[name] if not module.startswith("engine"))
        for name in graph
        if name.startswith("engine")
    }
    assert not {name: glue for name, glue in offenders.items() if glue}, offenders


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_long_functions_say_why() -> None:
    """A function over 60 lines has a comment on the line above it (or above its decorators)."""
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
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
    used = [
        f"{name}: {attribute}"
        for name, path in MODULES.items()
        for attribute in OCPP_PRIVATE
        if f".{attribute}" in (text := path.read_text(encoding="utf-8")) or f"def {attribute}(" in text
    ]
    assert used == []
