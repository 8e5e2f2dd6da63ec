"""Layouts are pure and callbacks are thin (issue 14): a module of ``layouts/`` builds components
from the data it is given and never reads the registry, loads data or opens files; the callback
modules of the theme pages, the home page's dashboards and the dataset preview build no
components (they join ``explorer`` to ``layouts``). Read from the modules' text, as
tests/unit/test_import_layers.py reads imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# what reading data looks like: the app's services or registry handed in, a registry query, a
# load, a chart drawn, a file opened
SERVICE_NAMES = {"services", "registry", "service", "data_service"}
READING_CALLS = {"search", "facet_totals", "count", "load", "build_chart", "headline_values", "open",
                 "read_text", "read_bytes", "availability", "record", "resolve"}
THIN_CALLBACKS = ("callbacks/themes.py", "callbacks/theme_page_cache.py", "callbacks/_preview.py",
                  "callbacks/dataset.py")
COMPONENT_MODULES = {"dash.html", "dash.dcc", "dash_leaflet", "dash.dash_table"}


def _reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [a.arg for a in node.args.args + node.args.kwonlyargs]
            found += [f"{path.name}:{node.lineno} {node.name}() takes {n!r}" for n in names if n in SERVICE_NAMES]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in READING_CALLS:
                found.append(f"{path.name}:{node.lineno} calls {name}()")
    return found


def _components(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            if names & COMPONENT_MODULES:
                found.append(f"{path.name}:{node.lineno} imports {', '.join(sorted(names & COMPONENT_MODULES))}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in COMPONENT_MODULES:
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "layouts").glob("*.py")), ids=lambda p: p.name)
def test_a_layout_reads_no_data(path):
    assert _reads(path) == [], "layouts build components from what they are given; read it in the caller"


@pytest.mark.parametrize("name", THIN_CALLBACKS)
def test_the_theme_home_and_preview_callbacks_build_no_components(name):
    assert _components(ROOT / name) == [], "components are built in layouts/"


def test_the_checks_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dash import html\n"
                   "def page(registry):\n"
                   "    return html.Div(str(registry.count()), open('x').read())\n", encoding="utf-8")
    assert len(_reads(bad)) == 3 and len(_components(bad)) == 1
