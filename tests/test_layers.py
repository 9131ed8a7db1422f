"""The house's layers point down only and no modules import each other in a circle (issue 22):
models <- database <- notifications <- services <- flows <- smgov, read from the source by `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("models", "database", "notifications", "services", "flows", "smgov")


def imports_of(path: Path, module: str) -> set[str]:
    """The product modules `path` (module name `module`) imports, at any depth of its code."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in LAYERS}


def product_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the product modules it imports (names that are packages resolve to them)."""
    modules: dict[str, Path] = {}
    for layer in LAYERS:
        for path in (root / layer).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return {
        name: {target for target in imports_of(path, name) if target in modules and target != name}
        for name, path in modules.items()
    }


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports that point up the layers."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    return sorted(
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if rank[target.split(".")[0]] > rank[source.split(".")[0]]
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected set of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_layers_point_down() -> None:
    """No module imports from a layer above its own."""
    assert upward(product_graph(ROOT)) == []


def test_no_import_cycle() -> None:
    """No set of product modules imports itself in a circle."""
    assert cycles(product_graph(ROOT)) == []


@pytest.mark.parametrize(
    ("planted", "source", "line"),
    [
        ("upward", "notifications/planted.py", "from services.context import Ctx\n"),
        ("cycle", "services/planted.py", "from services import planted_too\n"),
    ],
)
def test_a_planted_import_is_found(tmp_path: Path, planted: str, source: str, line: str) -> None:
    """The checks are not vacuous: an upward import planted in notifications/ and a circle
    planted between two services are each reported."""
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "__init__.py").write_text("")
    (tmp_path / "services" / "context.py").write_text("")
    (tmp_path / source).write_text(line)
    (tmp_path / "services" / "planted_too.py").write_text("from services import planted\n")
    graph = product_graph(tmp_path)
    if planted == "upward":
        assert upward(graph) == [("notifications.planted", "services.context")]
    else:
        assert cycles(graph) == [["services.planted", "services.planted_too"]]
