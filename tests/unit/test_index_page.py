"""The index page is built in one place (explorer/web/index_page.py): the request read once into a
PageRequest, handed to the layout, the static first view and the preloads; Dash's /_dash-layout
serves the bare frame."""

from __future__ import annotations

import pytest
from flask import Flask

from explorer.settings import Settings
from explorer.web.app import create_app
from explorer.web.index_page import ExplorerDash, PageLayout, PageRequest


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    return create_app(Settings(home=tmp_path_factory.mktemp("index-page-home"), data_dir=data_dir,
                               cache_url="simple"))


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def component(node, id_):
    """The component with ``id_`` in a layout as JSON."""
    if isinstance(node, list):
        return next((c for c in (component(n, id_) for n in node) if c is not None), None)
    if isinstance(node, dict) and "props" in node:
        if node["props"].get("id") == id_:
            return node
        return next((c for c in (component(v, id_) for v in node["props"].values()) if c is not None), None)
    return None


def texts(node) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(texts(n) for n in node)
    if isinstance(node, dict) and "props" in node:
        return texts(node["props"].get("children"))
    return ""


def test_a_page_request_reads_the_address_once():
    page = PageRequest.parse("/map", "layer=a&embed=1&layer=a", "/")
    assert page.search == "?layer=a&embed=1&layer=a"            # as the browser's location says it
    assert page.params == {"layer": ["a"], "embed": ["1"]}       # repeats dropped
    assert page.embed and page.is_map
    assert not PageRequest.parse("/map", "embed=10").embed
    assert PageRequest.parse("/map", "embed=0&embed=1").embed     # as callbacks/export_menu.py reads it
    assert not PageRequest.parse("/catalogue", "").is_map and PageRequest.parse("/catalogue", "").search == ""
    assert PageRequest.parse("/app/map/", "", "/app/").is_map


def test_outside_a_get_request_there_is_no_page():
    server = Flask(__name__)
    assert PageRequest.current() is None                          # no request at all
    with server.test_request_context("/catalogue", method="POST"):
        assert PageRequest.current() is None
    with server.test_request_context("/catalogue?" + "&".join(f"q{i}=x" for i in range(300))):
        assert PageRequest.current() is None                      # over the limits: security.py answers
    with server.test_request_context("/catalogue?q=air"):
        assert PageRequest.current() == PageRequest("/catalogue", "?q=air", {"q": ["air"]})


def test_the_layout_is_a_function_of_the_page(app):
    layout = app.layout
    assert isinstance(layout, PageLayout) and isinstance(app, ExplorerDash)
    import json

    from plotly.io.json import to_json_plotly

    page = layout(PageRequest.parse("/catalogue", "q=nitrogen"))
    drawn = json.loads(to_json_plotly(page))
    assert component(drawn, "page-rendered")["props"]["data"] == "/catalogue?q=nitrogen"
    assert "Catalogue" in component(drawn, "page-title")["props"]["data"]
    assert "nitrogen" in texts(component(drawn, "page-content")).lower()
    missing = json.loads(to_json_plotly(layout(PageRequest.parse("/dataset/no-such-thing", ""))))
    assert "no dataset" in texts(component(missing, "page-content")).lower()   # the router's own 404 page


@pytest.mark.parametrize("headers", [{}, {"Referer": "http://localhost/catalogue?q=nitrogen"},
                                     {"Referer": "http://elsewhere.example/catalogue?q=nitrogen"}])
def test_dashs_layout_request_gets_the_bare_frame(client, headers):
    """The page comes with its layout (test_first_paint.py); a page that could not be drawn is
    drawn by the router, so /_dash-layout no longer depends on who asks."""
    layout = client.get("/_dash-layout", headers=headers).get_json()
    assert component(layout, "page-rendered")["props"].get("data") is None
    assert not component(layout, "page-content")["props"].get("children")


def test_a_page_that_fails_to_render_leaves_it_to_the_router(caplog):
    def frame(page=None, title=None, rendered=None):
        return {"page": page, "title": title, "rendered": rendered}

    def broken(path, search, params):
        raise RuntimeError("theme file unreadable")

    layout = PageLayout(frame, broken, lambda p, s: p + s)
    assert layout(PageRequest.parse("/themes/x", "")) == frame()
    assert "could not render /themes/x" in caplog.text
    assert layout() == frame()          # no page (Dash checking the layout, /_dash-layout)
    drawn = PageLayout(frame, lambda p, s, params: (f"page of {p}{s} {params}", "T"), lambda p, s: p + s)
    assert drawn(PageRequest.parse("/x", "a=1&a=1")) == {"page": "page of /x?a=1&a=1 {'a': ['1']}", "title": "T",
                                                         "rendered": "/x?a=1&a=1"}


def test_the_map_permalink_is_read_once_per_page(app, client, monkeypatch):
    """The preloads read the drawn layout, not the link again (they once parsed it a second time),
    and the router is handed the query the PageRequest read."""
    import callbacks.router as router
    import explorer.maps.layers as layers

    calls, routed = [], []
    real = layers.parse_state
    monkeypatch.setattr(layers, "parse_state", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    monkeypatch.setattr(router, "parse_search", lambda search: routed.append(search) or {})
    search = "basemap=none&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean"
    page = client.get("/map?" + search).get_data(as_text=True)
    assert calls == ["?" + search] and routed == []
    assert 'data-explorer-canvas href="/geo/laei-lsoa-2021/no2-2019.pbf"' in page


def test_a_layout_set_by_hand_is_what_the_page_carries(tmp_path, data_dir):
    """A test or tool that sets its own layout gets that layout drawn in the page (as Dash would
    serve it), not the app's page layout."""
    from dash import html

    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple"))
    frame = app.layout
    app.layout = lambda: html.Div([frame(), html.P("hand-made part", className="mine")])
    page = app.server.test_client().get("/catalogue?q=air").get_data(as_text=True)
    assert '<p class="mine">hand-made part</p>' in page
    assert "hand-made part" in app.server.test_client().get("/_dash-layout").get_data(as_text=True)


def test_each_app_has_its_own_index_page(tmp_path, data_dir):
    """Nothing of the index page lives in a module or in Dash's process-wide hooks: a second app
    has its own layout, drawn pages and early scripts."""
    import dash

    one = create_app(Settings(home=tmp_path / "a", data_dir=data_dir, cache_url="simple"))
    two = create_app(Settings(home=tmp_path / "b", data_dir=data_dir, cache_url="simple"))
    assert one.layout is not two.layout and one.first_views is not two.first_views
    assert not dash.hooks.get_hooks("index") and not dash.hooks.get_hooks("layout")
    for app in (one, two):
        assert app.server.test_client().get("/catalogue").status_code == 200
