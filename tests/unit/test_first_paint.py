"""Every index page carries its page drawn as static HTML and the layout Dash would fetch next
(explorer/web/first_paint.py, put in the page by explorer/web/index_page.py)."""

from __future__ import annotations

import json
import re

import pytest

from explorer.web.app import create_app
from explorer.data.memo import LRU
from explorer.web.first_paint import EARLY_SCRIPTS, draw_first_view, layout_json
from explorer.settings import Settings

from .test_index_page import component, texts


@pytest.fixture(scope="module")
def client(tmp_path_factory, data_dir):
    app = create_app(Settings(home=tmp_path_factory.mktemp("first-paint-home"), data_dir=data_dir,
                              cache_url="simple"))
    return app.server.test_client()


def embedded_layout(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="explorer-layout">(.*?)</script>', page, re.S)
    assert found, "no layout in the page"
    return json.loads(found.group(1))


def static_part(page: str) -> str:
    start = page.index('<div class="first-view"')
    return page[start:page.index('<script type="application/json" id="explorer-layout">')]


def test_the_page_comes_drawn_with_the_layout_dash_would_fetch(client):
    page = client.get("/catalogue?q=nitrogen").get_data(as_text=True)
    layout = embedded_layout(page)
    # the page is in it, marked with its address, so the router's first call sends nothing
    assert component(layout, "page-rendered")["props"]["data"] == "/catalogue?q=nitrogen"
    # the frame around it is the one Dash would fetch, so Dash can take the layout from the page
    bare = client.get("/_dash-layout").get_json()
    component(layout, "page-content")["props"]["children"] = None
    for store in ("page-rendered", "page-title"):
        component(layout, store)["props"]["data"] = None
    assert layout == bare
    layout = embedded_layout(page)
    drawn = static_part(page)
    heading = texts(component(layout, "page-content")).lower()
    assert "nitrogen" in heading and "nitrogen" in drawn.lower()
    assert ' id="' not in drawn                 # the live page's ids are the live page's
    assert "<div class=\"first-view\" inert aria-hidden=\"true\">" in page
    # it comes before Dash's entry point, with the scripts that draw a map's first view
    assert page.index("first-view") < page.index('id="react-entry-point"')


def test_the_early_scripts_come_once_before_dashs(client):
    page = client.get("/map").get_data(as_text=True)
    for name in EARLY_SCRIPTS:
        tags = re.findall(rf'<script src="/assets/{re.escape(name)}\?m=[0-9.]+"></script>', page)
        assert len(tags) == 1, name
        assert page.index(tags[0]) < page.index("dash_renderer")
        assert client.get(f"/assets/{name}").status_code == 200


def test_a_map_page_names_its_map_for_the_first_view(client):
    page = client.get("/map?basemap=none&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean").get_data(as_text=True)
    assert 'data-first-view-map="&quot;explorer-map&quot;"' in static_part(page)
    layout = embedded_layout(page)
    hideouts = []

    def walk(node):
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict) and "props" in node:
            if node.get("type") == "GeoJSON" and (node["props"].get("hideout") or {}).get("geometry"):
                hideouts.append(node["props"]["hideout"])
            for value in node["props"].values():
                walk(value)
    walk(layout)
    # what the first view paints: the geometry, its classes and every area's value
    assert [h["geometry"] for h in hideouts] == ["/geo/laei-lsoa-2021/no2-2019.pbf"]
    assert len(hideouts[0]["values"]) == 4994 and hideouts[0]["breaks"] and hideouts[0]["colours"]


def test_catalogue_text_cannot_end_the_layouts_script():
    hostile = {"type": "P", "namespace": "dash_html_components",
               "props": {"children": "</script><script>alert(1)</script> & \u2028"}}
    text = json.dumps(hostile)
    out = draw_first_view(text).markup
    assert out.count("</script>") == 1          # the layout's own end, nothing inside it
    data = re.search(r'id="explorer-layout">(.*)</script>', out, re.S).group(1)
    assert "<" not in data and ">" not in data and "&" not in data.replace("\\u0026", "")
    assert json.loads(data) == hostile
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in out
    assert layout_json("\u2029") == "\\u2029"


def test_a_page_that_cannot_be_drawn_is_served_as_dash_serves_it(tmp_path, data_dir, monkeypatch, caplog):
    import explorer.web.first_paint as first_paint

    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple"))

    def broken(markup):
        raise ValueError("cannot draw this")
    monkeypatch.setattr(first_paint, "render", broken)
    response = app.server.test_client().get("/catalogue")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "first-view" not in page.split('id="react-entry-point"')[0].replace("first_view.js", "")
    assert 'id="react-entry-point"' in page and "first_view.js" in page     # Dash draws it, as before
    assert "could not draw /catalogue on the server" in caplog.text


def test_an_embedded_map_is_drawn_without_the_chrome(client):
    page = client.get("/map?basemap=none&embed=1").get_data(as_text=True)
    assert '<html lang="en-GB" class="embed">' in page      # export.css hides the header, footer and panels
    assert 'class="embed"' not in client.get("/map?basemap=none&embed=10").get_data(as_text=True)


def test_every_page_names_its_language(client):
    for path in ("/", "/catalogue", "/map?basemap=none", "/themes"):
        assert '<html lang="en-GB">' in client.get(path).get_data(as_text=True), path


def test_the_same_layout_is_drawn_once_per_app(tmp_path, data_dir, monkeypatch):
    """Drawn pages are kept on the app (its services' memos), by their layout: a theme page is
    drawn once; another page, or another app, draws its own."""
    import explorer.web.first_paint as first_paint

    calls = []
    monkeypatch.setattr(first_paint, "render", lambda tree: calls.append(tree) or "<p>page</p>")
    app = create_app(Settings(home=tmp_path / "one", data_dir=data_dir, cache_url="simple"))
    client = app.server.test_client()
    first = client.get("/themes").get_data(as_text=True)
    assert client.get("/themes").get_data(as_text=True).count("<p>page</p>") == 1 and len(calls) == 1
    assert "<p>page</p>" in first
    client.get("/catalogue")
    assert len(calls) == 2
    other = create_app(Settings(home=tmp_path / "two", data_dir=data_dir, cache_url="simple"))
    other.server.test_client().get("/themes")
    assert len(calls) == 3                 # a second app keeps its own
    assert isinstance(app.first_views, LRU) and app.first_views is not other.first_views
