"""The page being opened comes inside Dash's layout, named by the layout request's referrer."""

from __future__ import annotations

import pytest

from explorer.web.app import create_app
from explorer.web.prerender import referred_address
from explorer.settings import Settings


def test_only_a_same_origin_referrer_names_the_page():
    own = "http://127.0.0.1:8050/"
    assert referred_address("http://127.0.0.1:8050/catalogue?q=air", own) == ("/catalogue", "?q=air")
    assert referred_address("http://127.0.0.1:8050/map", own) == ("/map", "")
    assert referred_address("http://elsewhere.example/catalogue?q=air", own) is None
    assert referred_address("https://127.0.0.1:8050/catalogue", own) is None     # another scheme
    assert referred_address("http://127.0.0.1:9999/catalogue", own) is None      # another port
    assert referred_address(None, own) is None and referred_address("", own) is None


@pytest.fixture(scope="module")
def client(tmp_path_factory, data_dir):
    app = create_app(Settings(home=tmp_path_factory.mktemp("prerender-home"), data_dir=data_dir,
                              cache_url="simple"))
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


def test_the_layout_carries_the_referred_page(client):
    layout = client.get("/_dash-layout", headers={"Referer": "http://localhost/catalogue?q=nitrogen"}).get_json()
    assert component(layout, "page-rendered")["props"]["data"] == "/catalogue?q=nitrogen"
    assert "Catalogue" in component(layout, "page-title")["props"]["data"]
    page = texts(component(layout, "page-content"))
    assert "nitrogen" in page.lower()

    missing = client.get("/_dash-layout", headers={"Referer": "http://localhost/dataset/no-such-thing"}).get_json()
    assert "no dataset" in texts(component(missing, "page-content")).lower()   # the router's own 404 page


@pytest.mark.parametrize("headers", [{}, {"Referer": "http://elsewhere.example/catalogue?q=nitrogen"}])
def test_without_a_same_origin_referrer_the_frame_is_bare(client, headers):
    layout = client.get("/_dash-layout", headers=headers).get_json()
    assert component(layout, "page-rendered")["props"].get("data") is None
    assert not component(layout, "page-content")["props"].get("children")


def test_a_page_that_fails_to_render_leaves_it_to_the_router(caplog):
    from flask import Flask

    from explorer.web.prerender import layout_for_request

    def frame(page=None, title=None, rendered=None):
        return {"page": page, "title": title, "rendered": rendered}

    def broken(path, search):
        raise RuntimeError("theme file unreadable")

    serve = layout_for_request(frame, broken, lambda p, s: p + s)
    with Flask(__name__).test_request_context("/_dash-layout", headers={"Referer": "http://localhost/themes/x"}):
        assert serve() == {"page": None, "title": None, "rendered": None}
    assert "could not render /themes/x" in caplog.text
    assert serve() == frame()          # outside a request (Dash checking the layout at start-up)


def test_the_public_address_counts_as_the_apps_own():
    """Behind a proxy that ends TLS the request looks like http://internal:8050, while the
    browser's referrer is the public https address."""
    assert referred_address("https://data.example.london/map?layer=x", "http://10.0.0.5:8050/",
                            "https://data.example.london") == ("/map", "?layer=x")
    assert referred_address("https://elsewhere.example/map", "http://10.0.0.5:8050/",
                            "https://data.example.london") is None


def test_the_layout_is_never_kept_by_a_shared_cache(client):
    response = client.get("/_dash-layout", headers={"Referer": "http://localhost/catalogue"})
    assert response.headers["Cache-Control"] == "no-store"
    assert "Referer" in response.headers["Vary"]
