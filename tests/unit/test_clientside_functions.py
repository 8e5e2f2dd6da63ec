"""Browser-side code lives in assets/, not in strings inside callbacks: every clientside callback
names a function (ClientsideFunction) that an assets/*.js file registers under the app's one
namespace, window.dash_clientside.explorer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _clientside_calls():
    """(module, line, first argument) of every app.clientside_callback(...) in callbacks/."""
    for path in sorted((ROOT / "callbacks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {}   # a function kept in a variable first (the two maps' view sync)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                names[node.targets[0].id] = node.value
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "clientside_callback":
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id in names:
                    first = names[first.id]
                yield path.name, node.lineno, first


def _registered() -> dict[str, set[str]]:
    """{namespace: function names} the assets register on window.dash_clientside."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "assets").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"dash_clientside\.(\w+)\s*=\s*Object\.assign\([^{]*\{(.*?)\}\s*\)", text, re.S):
            found.setdefault(m.group(1), set()).update(re.findall(r"(\w+)\s*:", m.group(2)))
    return found


def test_no_javascript_in_strings_inside_callbacks():
    calls = list(_clientside_calls())
    assert len(calls) >= 15     # the map explorer's, export menus', router's, theme pages', chart builder's
    inline = [f"{module}:{line}" for module, line, first in calls
              if isinstance(first, ast.Constant) and isinstance(first.value, str)]
    assert not inline, f"JavaScript written in a string; move it to assets/ as a named function: {inline}"


def test_every_clientside_function_is_registered_by_an_asset():
    registered = _registered()
    assert "pageShown" in registered.get("explorer", set())    # the reader below sees a registration
    missing = []
    for module, line, first in _clientside_calls():
        assert isinstance(first, ast.Call) and getattr(first.func, "id", None) == "ClientsideFunction", \
            f"{module}:{line}: not a ClientsideFunction"
        args = {k.arg: k.value.value for k in first.keywords}
        namespace, name = args.get("namespace"), args.get("function_name")
        assert namespace == "explorer", f"{module}:{line}: namespace {namespace!r}, not the app's one ('explorer')"
        if name not in registered.get(namespace, set()):
            missing.append(f"{module}:{line} {namespace}.{name}")
    assert not missing, f"no assets/*.js registers: {missing}"
