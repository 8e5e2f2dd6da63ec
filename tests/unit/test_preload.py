"""The map page's index names what the map will fetch, so the browser starts on it at once: read
from the layout the page carries (explorer/web/preload.py)."""

from __future__ import annotations

import re

import pytest

from explorer.web.app import create_app
from explorer.settings import Settings

PRELOAD = re.compile(r'<link rel="preload" as="(fetch)" crossorigin="anonymous"( data-explorer-canvas)? href="([^"]+)">'
                     r'|<(script) defer src="([^"]+)"></script>')


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    return create_app(Settings(home=tmp_path_factory.mktemp("preload-home"), data_dir=data_dir, cache_url="simple"))


def preloads(app, url: str) -> dict[str, list[str]]:
    """The page's preloaded fetches and deferred scripts; "canvas" lists the fetches marked as a
    big layer's geometry (read at once by the canvas layer script)."""
    response = app.server.test_client().get(url)
    assert response.status_code == 200
    found: dict[str, list[str]] = {"fetch": [], "script": [], "canvas": []}
    for fetch, canvas, href, script, src in PRELOAD.findall(response.get_data(as_text=True)):
        found[fetch or script].append(href or src)
        if canvas:
            found["canvas"].append(href)
    return found


def geometry_urls_of_page(component) -> set[str]:
    """Every GeoJSON url in a rendered page: what the browser will fetch for its maps."""
    urls = set()
    stack = [component]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
            continue
        url = getattr(node, "url", None)
        if type(node).__name__ == "GeoJSON":
            # a big layer's geometry is fetched by our canvas layer, named in its hideout
            url = url or (getattr(node, "hideout", None) or {}).get("geometry")
            if url:
                urls.add(url)
        children = getattr(node, "children", None)
        if children is not None:
            stack.append(children)
    return urls


@pytest.mark.parametrize("search", [
    "?basemap=none&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean",
    "?layer=london-boroughs&layer=osm-pois",     # resources not named: the entries' first ones
    "",                                          # the default layers
])
def test_the_map_page_preloads_exactly_the_geometry_its_map_fetches(app, search):
    from callbacks.map_explorer import explorer_page

    found = preloads(app, "/map" + search)
    page = explorer_page(app.explorer, search)
    assert {u for u in found["fetch"] if u.startswith("/geo/")} == geometry_urls_of_page(page)
    # Dash's own first request, which it makes only once its scripts have run (the layout, its other
    # one, comes inside the page: explorer/web/first_paint.py)
    assert {u for u in found["fetch"] if not u.startswith("/geo/")} == {"/_dash-dependencies"}
    assert any("async-GeoJSON" in s for s in found["script"])
    for script in found["script"]:      # every preloaded script exists
        assert app.server.test_client().get(script).status_code == 200


def test_unknown_datasets_and_other_pages_preload_nothing_of_theirs(app):
    found = preloads(app, "/map?layer=no-such-dataset:x&layer=%3Cscript%3E")
    assert not [u for u in found["fetch"] if "no-such-dataset" in u or "script" in u]
    assert found["fetch"] == ["/geo/london-region/gpkg.pbf", "/geo/thames/geojson.pbf",  # the context only
                              "/_dash-dependencies"]
    assert preloads(app, "/catalogue") == {"fetch": [], "script": [], "canvas": []}
    assert preloads(app, "/") == {"fetch": [], "script": [], "canvas": []}


def test_big_layers_are_marked_for_the_canvas_and_come_first(app):
    """A layer the page draws on our canvas (its hideout names the geometry) is marked so the
    canvas script reads it at once, and comes first; points and small layers are left unmarked
    (the map's own request takes the preloaded file)."""
    search = "?layer=osm-pois&layer=london-boroughs&layer=laei-lsoa-2021:no2-2019"
    lsoa = "/geo/laei-lsoa-2021/no2-2019.pbf"
    found = preloads(app, "/map" + search)
    assert found["fetch"][0] == lsoa and found["canvas"] == [lsoa]
    assert len([u for u in found["fetch"] if u.startswith("/geo/")]) == 5   # three layers, two context files


def test_a_layer_the_map_refuses_is_not_preloaded(app):
    """A link naming a resource the map refuses (crime by ward's long table) once made the browser
    fetch, and log as failed, geometry the page never asks for; the page's layout leaves it out,
    so the index does too, from the first visit on."""
    search = "?layer=crime-ward:csv&layer=london-boroughs"
    fetches = preloads(app, "/map" + search)["fetch"]
    assert not [u for u in fetches if "/geo/crime-ward/" in u]
    assert any(u.startswith("/geo/london-boroughs/") for u in fetches)


def test_what_a_layout_fetches_is_read_from_its_map_layers():
    from explorer.web.preload import map_fetches

    def geojson(**props):
        return {"type": "GeoJSON", "namespace": "dash_leaflet", "props": props}
    layout = {"type": "Div", "namespace": "dash_html_components", "props": {"children": [
        geojson(url="/geo/a/x.pbf"),
        {"type": "LayerGroup", "namespace": "dash_leaflet", "props": {"children": [
            geojson(hideout={"geometry": "/geo/big/y.pbf", "pending": True})]}},
        geojson(hideout={"geometry": "/geo/big/y.pbf"}),            # the same file once
        geojson(data={"type": "FeatureCollection", "features": []}, hideout={"geometry": "/geo/no.pbf"}),
        geojson(url="https://elsewhere.example/z.pbf"), geojson(url="//elsewhere.example/z.pbf"),
        geojson(hideout={}),                                       # a layer still waiting: nothing yet
        {"type": "P", "namespace": "dash_html_components", "props": {"children": "/geo/text.pbf"}},
    ]}}
    assert map_fetches(layout) == [("/geo/a/x.pbf", False), ("/geo/big/y.pbf", True)]
