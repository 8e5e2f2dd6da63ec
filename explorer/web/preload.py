"""Tell the browser, in the page itself, what a map page will ask for.

Dash builds a page in steps: the scripts, then the layout, then the map's lazily loaded GeoJSON
code, and only then does the map ask for its geometry. The index page of ``/map?…`` therefore
carries ``<link rel="preload">`` for the geometry files its map will fetch, so the browser fetches
them while the rest of the page is still starting (the map's own requests find them in the
browser's cache; a big layer's is read at once by assets/canvas_layer.js), and runs the lazily
loaded scripts every map needs as deferred scripts, so they are registered before the map first
renders. Dash's own first request for the callbacks is preloaded too, as Dash asks for it only
once all its scripts have run (the layout comes in the page, explorer/web/first_paint.py).

What the map fetches is read from the page's own layout, the one the page carries
(explorer/web/index_page.py): each ``dash_leaflet`` ``GeoJSON`` with a ``url`` (the context
layers, layers dash-leaflet draws) or, with neither ``url`` nor ``data``, a ``hideout.geometry``
(a big layer our canvas layer draws, marked so its script reads it at once). The map permalink is
not read again here, and a layer the page refused (an unknown dataset, a table that cannot be
mapped) is not in the layout, so nothing of it is fetched.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterator

LEAFLET_NAMESPACE = "dash_leaflet"
DASH_REQUESTS = ("/_dash-dependencies",)   # the layout comes in the page (explorer/web/first_paint.py)
# dash-leaflet's and dcc's lazily loaded chunks a map page needs (their names are Dash internals:
# tests/unit/test_dash_internals.py checks they are still served)
MAP_SCRIPTS = (
    "/_dash-component-suites/dash_leaflet/async-GeoJSON.js",
    "/_dash-component-suites/dash_leaflet/async-geobuf.js",
    "/_dash-component-suites/dash/dcc/async-dropdown.js",
    "/_dash-component-suites/dash/dcc/async-slider.js",
)


def _components(node: Any) -> Iterator[dict]:
    """Every component of a serialised layout, in document order."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict) and isinstance(node.get("props"), dict) and "type" in node:
            yield node
            stack.extend(reversed([v for v in node["props"].values() if isinstance(v, (list, dict))]))


def map_fetches(layout: Any) -> list[tuple[str, bool]]:
    """(geometry URL, drawn by our canvas layer) for each geometry file the maps of a serialised
    layout fetch, once each, in document order. Only this app's own addresses (a path) count."""
    found: dict[str, bool] = {}
    for node in _components(layout):
        if node.get("namespace") != LEAFLET_NAMESPACE or node.get("type") != "GeoJSON":
            continue
        props = node["props"]
        hideout = props.get("hideout") if isinstance(props.get("hideout"), dict) else {}
        url, canvas = props.get("url"), False
        if not url and props.get("data") is None:
            url, canvas = hideout.get("geometry"), True
        if isinstance(url, str) and url.startswith("/") and not url.startswith("//"):
            found[url] = found.get(url, False) or canvas
    return list(found.items())


def preload_tags(fetches, prefix: str = "/") -> str:
    """``<link rel="preload">`` and deferred ``<script>`` tags for a map page whose maps fetch
    ``fetches`` (from :func:`map_fetches`)."""
    base = (prefix or "/").rstrip("/")
    # A big layer's geometry, drawn by our canvas layer, is marked so the page's canvas script reads
    # it at once (assets/canvas_layer.js); the rest is left to the request that uses it, which
    # takes the preloaded response itself.
    # The big layers come first: the browser starts the fetches in the page's order.
    ordered = sorted(fetches, key=lambda fetch: not fetch[1])
    tags = [f'<link rel="preload" as="fetch" crossorigin="anonymous"{" data-explorer-canvas" if canvas else ""}'
            f' href="{escape(base + url)}">' for url, canvas in ordered]
    tags += [f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{escape(base + url)}">'
             for url in DASH_REQUESTS]
    # the lazily loaded chunks are run, not only fetched: each registers itself with its library's
    # loader (webpack's chunk list), so the map's components render without waiting to load them
    tags += [f'<script defer src="{escape(base + url)}"></script>' for url in MAP_SCRIPTS]
    return "\n      ".join(tags)
