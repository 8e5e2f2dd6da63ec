"""Tell the browser, in the page itself, what a map page will ask for.

Dash builds a page in steps: the scripts, then the layout, then the router's callback, then the
map's lazily loaded GeoJSON code, and only then does the map ask for its geometry. The index page
of ``/map?…`` therefore carries ``<link rel="preload">`` for the geometry files its link names, so
the browser fetches them while the rest of the page is still starting (the map's own requests find
them in the browser's cache; a big layer's is read at once by assets/canvas_layer.js), and runs
the lazily loaded scripts every map needs as deferred scripts, so they are registered before the
map first renders. Dash's own first request for the callbacks is preloaded too, as Dash asks for
it only once all its scripts have run (the layout comes in the page, explorer/web/first_paint.py).

A layer's resource is the one the link names, or its registry entry's first (what the map loads);
no data is read or loaded on the server to answer the index page.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from explorer.maps.layers import parse_state
from explorer.maps.layer_data import drawn_as

CONTEXT_GEOMETRY = ("/geo/london-region/gpkg.pbf", "/geo/thames/geojson.pbf")
DASH_REQUESTS = ("/_dash-dependencies",)   # the layout comes in the page (explorer/web/first_paint.py)
MAP_SCRIPTS = (
    "/_dash-component-suites/dash_leaflet/async-GeoJSON.js",
    "/_dash-component-suites/dash_leaflet/async-geobuf.js",
    "/_dash-component-suites/dash/dcc/async-dropdown.js",
    "/_dash-component-suites/dash/dcc/async-slider.js",
)


def _layer_geometry(search: str, registry) -> list[tuple[str, bool]]:
    """(geometry URL, drawn on our canvas as far as this process knows) for each layer of a link,
    less those this process knows cannot be mapped (the page refuses them, fetching nothing)."""
    state = parse_state(search, lambda dataset: registry.get(dataset) is not None)
    found = []
    for spec in state.layers:
        try:
            resource = registry.get(spec.dataset).resource(spec.resource).id
        except (AttributeError, LookupError):
            continue  # the page itself says why the layer was left out
        drawn = drawn_as(spec.dataset, resource)
        if drawn != "unmappable":
            found.append((f"/geo/{quote(spec.dataset, safe='')}/{quote(resource, safe='')}.pbf", drawn == "canvas"))
    return found


def preload_tags(path: str, search: str, registry, prefix: str = "/") -> str:
    """``<link rel="preload">`` tags for the index page of ``path`` (empty for pages without a map)."""
    if path.rstrip("/") != prefix.rstrip("/") + "/map":
        return ""
    base = prefix.rstrip("/")
    # A big layer's geometry (drawn by our canvas layer, as far as this process knows) is marked so
    # the page's canvas script reads it at once (assets/canvas_layer.js); the rest is left to the
    # request that uses it, which takes the preloaded response itself.
    layers: dict[str, bool] = {}
    for url, canvas in _layer_geometry(search, registry):
        layers.setdefault(url, canvas)
    tags = [f'<link rel="preload" as="fetch" crossorigin="anonymous"{" data-explorer-canvas" if canvas else ""}'
            f' href="{escape(base + url)}">' for url, canvas in layers.items()]
    tags += [f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{escape(base + url)}">'
             for url in (*CONTEXT_GEOMETRY, *DASH_REQUESTS)]
    # the lazily loaded chunks are run, not only fetched: each registers itself with its library's
    # loader (webpack's chunk list), so the map's components render without waiting to load them
    tags += [f'<script defer src="{escape(base + url)}"></script>' for url in MAP_SCRIPTS]
    return "\n      ".join(tags)


def install_preloads(app, registry) -> None:
    """Add the preload tags to the index page Dash writes for each request."""
    from flask import has_request_context, request

    original = app.interpolate_index
    prefix = app.config.requests_pathname_prefix or "/"

    def interpolate_index(**kwargs):
        if has_request_context():
            tags = preload_tags(request.path, request.query_string.decode("latin-1"), registry, prefix)
            if tags:
                kwargs["metas"] = kwargs.get("metas", "") + "\n      " + tags
        return original(**kwargs)

    app.interpolate_index = interpolate_index
