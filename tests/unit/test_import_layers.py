"""The packages of ``explorer`` are floors of one building: each may import the floors below it
(and its own), never one above, and no two modules import each other, directly or round a loop.

The floors follow the data: guards and settings, the databases, the catalogue, data files, geography,
maps and labels, themes and charts, exports, publishing and accounts, the web side; the command line
(``explorer/cli.py`` and every package's ``commands.py``) sits on top. Each package's
``__init__`` docstring says the same in words. Imports inside functions count: a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FLOORS: list[set[str]] = [
    {"explorer.settings", "explorer.guards"},
    {"explorer.db"},
    {"explorer.catalogue"},
    {"explorer.data"},
    {"explorer.geo"},
    {"explorer.labels", "explorer.maps"},
    {"explorer.themes"},
    {"explorer.export"},
    {"explorer.publishing", "explorer.accounts"},
    {"explorer.web", "explorer.services", "layouts", "callbacks"},
    {"explorer.cli"},
]
COMMAND_LINE = len(FLOORS) - 1


def _modules(roots=("explorer", "layouts", "callbacks")) -> dict[str, Path]:
    found = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ours that ``name`` imports, anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from package import module`` depends on that module; ``from module import name`` on the module
            candidates = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                          for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # the longest name of ours it starts with (a module, or the package it imports from)
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def floor_of(module: str) -> int:
    if module.rpartition(".")[2] == "commands":
        return COMMAND_LINE
    best = None
    for level, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    assert best is not None, f"{module} is on no floor: add it to FLOORS and to its package docstring"
    return best[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, imported in sorted(graph.items()):
        for other in sorted(imported):
            if other == "explorer" or module == "explorer":
                continue
            if floor_of(other) > floor_of(module):
                wrong.append(f"{module} (floor {floor_of(module)}) imports {other} (floor {floor_of(other)})")
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_on_a_floor():
    for module in _modules():
        if module != "explorer":
            floor_of(module)


def test_no_module_imports_a_floor_above_its_own():
    assert upward_imports(_graph()) == []


def test_no_import_cycles():
    assert cycles(_graph()) == []


def test_layouts_do_not_import_callbacks():
    graph = _graph()
    wrong = [f"{m} imports {o}" for m, imported in graph.items() if m.startswith("layouts")
             for o in imported if o.startswith("callbacks")]
    assert wrong == []


@pytest.mark.parametrize("bad, expect", [
    ({"explorer.geo.joins": {"explorer.maps.layers"}, "explorer.maps.layers": set()}, "imports explorer.maps.layers"),
    ({"explorer.data.cache": {"explorer.web.app"}, "explorer.web.app": set()}, "imports explorer.web.app"),
])
def test_the_floor_check_can_fail(bad, expect):
    assert any(expect in line for line in upward_imports(bad))


def test_the_cycle_check_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
