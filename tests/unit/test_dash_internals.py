"""The Dash internals the index page copies or relies on, pinned: a Dash (or dash-leaflet) upgrade
that changes one of them FAILS here, naming what to re-check, before a visitor sees a first view
that no longer matches the live page.

The index page (explorer/web/index_page.py) draws each page as static HTML that imitates the
markup Dash's components render (explorer/web/static_html.py), hands Dash the layout it would
fetch (assets/first_view.js answers the renderer's request), preloads chunks by their file names
(explorer/web/preload.py) and leaves out Dash's polyfill bundle (explorer/web/page_scripts.py).
None of that is Dash's public API. ``INTERNALS`` lists each thing relied on, where it lives in the
installed packages and what to re-check when it changes; ``tests/unit/dash_internals.json``
records the versions and a sha256 of each, taken from the installed packages by

    .venv/bin/python -m tests.unit.test_dash_internals --record

Run that only after re-checking what the failure names (and the browser tests
tests/browser/test_first_view.py and test_prerendered_pages.py pass). Beside the digests, checks
that read the installed files say whether what we copy is still there (the class names
static_html writes, the chunk files, the renderer's layout request through ``window.fetch``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

import dash
import dash_leaflet

FIXTURE = Path(__file__).with_name("dash_internals.json")
SITE = Path(dash.__file__).parent.parent            # the site-packages folder Dash is installed in
RECORD = ".venv/bin/python -m tests.unit.test_dash_internals --record"


@dataclass(frozen=True)
class Internal:
    name: str
    files: tuple[str, ...] = ()                   # package files, relative to site-packages
    python: tuple[str, ...] = ()                  # Python objects, "module:qualname", by their source
    recheck: str = ""


INTERNALS: tuple[Internal, ...] = (
    Internal("dcc component markup", files=(
        "dash/dcc/dash_core_components.js", "dash/dcc/async-dropdown.js", "dash/dcc/async-slider.js",
        "dash/dcc/async-graph.js"),
        recheck="explorer/web/static_html.py writes the markup of dcc Dropdown, Input, Slider, "
                "RadioItems, Checklist and Graph by hand (its class names and nesting): compare the "
                "static page with the live one for /map and a theme page at 1440 and 390 px "
                "(tests/browser/test_first_view.py checks the map's box)"),
    Internal("dash-leaflet components and chunks", files=(
        "dash_leaflet/dash_leaflet.js", "dash_leaflet/async-GeoJSON.js", "dash_leaflet/async-geobuf.js"),
        recheck="explorer/web/preload.py runs async-GeoJSON.js and async-geobuf.js before the map asks "
                "for them (MAP_SCRIPTS); assets/first_view.js paints at the view Leaflet opens at "
                "(pixel origin rounded) and reads GeoJSON url/hideout and Pane props from the layout"),
    Internal("renderer: layout request, ids, entry point", files=(
        "dash/dash-renderer/build/dash_renderer.min.js",),
        recheck="assets/first_view.js answers the renderer's GET of /_dash-layout through window.fetch "
                "with the layout the page carries, finds a component by Dash's DOM id (a dict id is "
                "its JSON with sorted keys: domId), and waits for #react-entry-point to hold "
                "#page-content; explorer/web/preload.py preloads /_dash-dependencies"),
    Internal("renderer's script dependencies (polyfill)", python=("dash._dash_renderer:_set_react_version",),
             recheck="explorer/web/page_scripts.py drops the @babel/polyfill tag and "
                     "assets/generator_runtime.js stands in for the one thing Dash's code used from it "
                     "(tests/unit/test_page_scripts.py checks the bundles)"),
    Internal("index page template and entry point",
             python=("dash.dash:Dash.index", "dash.dash:Dash.interpolate_index", "dash.dash:_default_index",
                     "dash.dash:_app_entry"),
             recheck="explorer/web/index_page.py's INDEX_TEMPLATE copies Dash's default template (with "
                     "lang on <html>) and ExplorerDash.interpolate_index rewrites the metas, scripts and "
                     "app_entry Dash.index hands it"),
    Internal("layout serialisation", python=("dash._utils:to_json", "dash.dash:Dash.serve_layout",
                                             "dash.dash:Dash.get_layout",
                                             "dash.development.base_component:Component.to_plotly_json"),
             recheck="explorer/web/index_page.py serialises the layout with plotly's to_json_plotly, as "
                     "Dash's /_dash-layout does, so the renderer takes the page's copy as its own "
                     "(ExplorerDash.layout_of calls the PageLayout itself: Dash's layout hooks and extra "
                     "components, which this app has none of, are not added to the page's copy); "
                     "static_html.py and first_view.js read its {type, namespace, props} shape"),
)


def _python_source(spec: str) -> str:
    module_name, _, qualname = spec.partition(":")
    __import__(module_name)
    target = sys.modules[module_name]
    for part in qualname.split("."):
        target = getattr(target, part)
    return target if isinstance(target, str) else inspect.getsource(target)


def current(site: Path = SITE, python_source: Callable[[str], str] = _python_source) -> dict:
    """The versions and a sha256 of each internal, from the packages under ``site``."""
    digests = {}
    for item in INTERNALS:
        h = hashlib.sha256()
        for name in item.files:
            h.update(name.encode() + b"\0" + (site / name).read_bytes() + b"\0")
        for spec in item.python:
            h.update(spec.encode() + b"\0" + python_source(spec).encode("utf-8") + b"\0")
        digests[item.name] = h.hexdigest()
    return {"dash": metadata.version("dash"), "dash_leaflet": metadata.version("dash-leaflet"),
            "digests": digests}


def differences(recorded: dict, now: dict) -> list[str]:
    """What changed between the recorded internals and ``now``, each with what to re-check."""
    out = []
    for package in ("dash", "dash_leaflet"):
        if recorded.get(package) != now[package]:
            out.append(f"{package} is {now[package]}, the index page was checked against "
                       f"{recorded.get(package)}")
    for item in INTERNALS:
        if recorded.get("digests", {}).get(item.name) != now["digests"][item.name]:
            out.append(f"{item.name} changed ({', '.join(item.files + item.python)}): re-check that "
                       f"{item.recheck}")
    return out


def report(found: list[str]) -> str:
    return ("What the index page copies from Dash has changed:\n- " + "\n- ".join(found)
            + f"\nRe-check each, then record the new state: {RECORD}")


def test_the_dash_internals_the_index_page_copies_are_as_recorded():
    recorded = json.loads(FIXTURE.read_text())
    found = differences(recorded, current())
    assert not found, report(found)


def test_the_check_fails_when_an_internal_changes(tmp_path):
    """Proof that the pin can fail: a copy of the installed files with one byte of the Dropdown's
    chunk changed, and Dash's layout serialiser rewritten, are both named; so is another version."""
    recorded = json.loads(FIXTURE.read_text())
    for item in INTERNALS:
        for name in item.files:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SITE / name, tmp_path / name)
    assert differences(recorded, current(tmp_path)) == []          # the copy is the same
    chunk = tmp_path / "dash/dcc/async-dropdown.js"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 1
    chunk.write_bytes(bytes(data))

    def serialiser_changed(spec):
        source = _python_source(spec)
        return source + "\n# now json.dumps" if spec == "dash._utils:to_json" else source
    found = differences(recorded, current(tmp_path, serialiser_changed))
    assert [f.split(" changed ")[0] for f in found] == ["dcc component markup", "layout serialisation"]
    assert "static_html.py" in found[0] and "to_json_plotly" in found[1] and RECORD in report(found)
    assert differences({**recorded, "dash": "0.0"}, current())[0].startswith("dash is ")


# What the installed files still contain ------------------------------------------------------------
def _dcc_bundles() -> str:
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in (SITE / "dash/dcc").glob("*.js"))


def test_every_class_the_static_page_writes_for_a_dash_component_is_dashs():
    """static_html.py imitates dcc's markup by its class names: each is still in dcc's code."""
    from explorer.web import static_html

    source = inspect.getsource(static_html)
    # (the options lists' own class is written as "dash-" + kind)
    classes = set(re.findall(r"\bdash-[a-z][a-z\-]*[a-z]\b", source)) | {"has-marks", "dash-radioitems",
                                                                        "dash-checklist"}
    assert len(classes) >= 20, sorted(classes)
    bundles = _dcc_bundles()
    # a class name as the components' code writes it: a word of a string
    missing = sorted(c for c in classes if not re.search(rf'"(?:[a-z\-]+ )*{re.escape(c)}[" ]', bundles))
    assert not missing, f"dcc no longer writes {missing}: re-check explorer/web/static_html.py"


def test_the_chunks_the_map_page_runs_early_are_installed():
    from explorer.web.preload import MAP_SCRIPTS

    packages = {"dash_leaflet": Path(dash_leaflet.__file__).parent, "dash": Path(dash.__file__).parent}
    for url in MAP_SCRIPTS:
        namespace, _, rest = url.removeprefix("/_dash-component-suites/").partition("/")
        assert (packages[namespace] / rest).is_file(), f"{url}: re-check explorer/web/preload.py's MAP_SCRIPTS"


def test_the_renderer_asks_for_the_layout_as_first_view_js_answers():
    renderer = (SITE / "dash/dash-renderer/build/dash_renderer.min.js").read_text(encoding="utf-8")
    assert '"_dash-layout","GET"' in renderer and '"_dash-dependencies","GET"' in renderer
    # its GET goes through the page's window.fetch, which assets/first_view.js answers once
    assert re.search(r"GET:function\([^)]*\)\{return fetch\(", renderer)
    dev = (SITE / "dash/dash-renderer/build/dash_renderer.dev.js").read_text(encoding="utf-8")
    ids = re.search(r"function stringifyId\(id\) \{.*?\n\}", dev, re.S)
    assert ids and "Object.keys(id).sort()" in ids.group(0)          # first_view.js's domId
    from dash import _dash_renderer
    from explorer.web.page_scripts import without_polyfill

    paths = [p for dep in _dash_renderer._js_dist_dependencies for p in dep["relative_package_path"]["prod"]]
    assert any("polyfill@" in p for p in paths)
    assert without_polyfill("".join(f'<script src="/_dash-component-suites/dash/{p}"></script>' for p in paths)) \
        .count("<script") == len(paths) - 1


def test_the_page_serialises_the_layout_as_dash_does():
    from dash import dcc, html
    from dash._utils import to_json
    from plotly.io.json import to_json_plotly

    layout = html.Div([dcc.Store(id={"b": 1, "a": "x"}, data={"v": float("nan")}), "text"], className="c")
    assert to_json_plotly(layout) == to_json(layout)
    assert set(json.loads(to_json(layout))) == {"type", "namespace", "props"}


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(f"usage: {RECORD}")
    FIXTURE.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    print(f"recorded {FIXTURE}")
