"""Pages load without Dash's polyfill bundle; the one thing Dash's code needs from it, the global
regeneratorRuntime, comes from assets/generator_runtime.js, which runs only generators without
try/catch regions. This checks every script Dash and dash-leaflet can serve asks no more of it."""

from __future__ import annotations

import re
from pathlib import Path

import dash
import dash_leaflet
import pytest

from explorer.web.app import create_app
from explorer.web.page_scripts import without_polyfill
from explorer.settings import Settings

CALL = re.compile(r"regeneratorRuntime\.(\w+)\(")


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    return create_app(Settings(home=tmp_path_factory.mktemp("scripts-home"), data_dir=data_dir, cache_url="simple"))


def bundles() -> list[Path]:
    roots = [Path(dash.__file__).parent, Path(dash_leaflet.__file__).parent]
    return sorted(p for root in roots for p in root.rglob("*.js") if "node_modules" not in p.parts)


def arguments_of(source: str, start: int) -> int:
    """How many arguments the call whose "(" is at ``start`` passes (strings and nesting skipped)."""
    depth, count, i, quote = 0, 1, start, None
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return count
        elif c == "," and depth == 1:
            count += 1
        i += 1
    raise AssertionError("unbalanced call")


def test_the_index_page_has_no_polyfill_and_defines_the_generator_runtime(app):
    html = app.server.test_client().get("/map").get_data(as_text=True)
    assert "polyfill@" not in html
    assert "generator_runtime.js" in html
    assert "react-dom@" in html and "dash_renderer" in html      # the rest of Dash's scripts stay
    tag = '<script src="/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js"></script>\n'
    assert without_polyfill(tag + '<script src="/x/react@18.js"></script>') == '<script src="/x/react@18.js"></script>'


def test_served_scripts_ask_the_generator_runtime_for_nothing_it_lacks():
    uses = 0
    for path in bundles():
        source = path.read_text(encoding="utf-8", errors="replace")
        for match in CALL.finditer(source):
            method = match.group(1)
            assert method in ("mark", "wrap"), f"{path.name} calls regeneratorRuntime.{method}"
            if method == "wrap":
                # wrap(inner, outer[, self]): a fourth argument lists try/catch regions
                assert arguments_of(source, match.end() - 1) <= 3, f"{path.name}: a generator with try/catch"
            uses += 1
    assert uses >= 2      # dash-renderer's and dash-core-components' lazy loaders, at least
