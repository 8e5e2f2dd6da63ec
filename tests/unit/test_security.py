"""Security and production settings of the real app, through Flask's test client: headers, a CSP
that the index page's own inline scripts satisfy, gzip, static cache lifetimes, request limits,
errors without stack traces, and no path traversal through any route that takes a name."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from explorer.web.app import create_app
from explorer.web.security import MAX_REQUEST_BYTES, install_security, parse_frame_ancestors
from explorer.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("security-home")
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple"))

    # Routes that fail, to see what a user gets (added before the first request).
    @app.server.get("/api/test-boom")
    def api_boom():
        raise RuntimeError("secret detail /home/explorer/registry.sqlite3")

    @app.server.get("/test-boom-page")
    def page_boom():
        raise KeyError("another secret detail")

    return app


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def csp_directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


class _Scripts(HTMLParser):
    """Inline scripts a browser would run: <script> without src whose type is JavaScript."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.inline: list[str] = []
        self.external: list[str] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = dict(attrs)
            self._open["__body"] = ""
            if self._open.get("src"):
                self.external.append(self._open["src"])

    def handle_data(self, data):
        if self._open is not None:
            self._open["__body"] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            kind = (self._open.get("type") or "text/javascript").lower()
            if not self._open.get("src") and kind in ("text/javascript", "application/javascript"):
                self.inline.append(self._open["__body"])
            self._open = None


def test_headers_on_every_kind_of_response(client):
    index = client.get("/")
    for path in ("/", "/catalogue?q=air", "/api/datasets?q=parks", "/api/datasets/nothing-here",
                 "/catalogue.jsonld", "/geo/london-boroughs.geojson",
                 "/_dash-layout", re.search(r'href="(/assets/[^"]+)"', index.get_data(as_text=True)).group(1)):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert headers["X-Frame-Options"] == "SAMEORIGIN", path
        csp = csp_directives(headers["Content-Security-Policy"])
        assert csp["frame-ancestors"] == ["'self'"], path
        if response.mimetype == "text/html":
            assert csp["object-src"] == ["'none'"] and csp["default-src"] == ["'self'"], path
        else:  # not a document: a short policy that allows nothing
            assert csp == {"default-src": ["'none'"], "frame-ancestors": ["'self'"]}, path
            assert len(headers["Content-Security-Policy"]) < 60, path


def test_svg_exports_get_the_full_policy_and_hashes_appear_once(client):
    from explorer.web.security import DOCUMENT_TYPES

    assert "image/svg+xml" in DOCUMENT_TYPES  # an SVG opened on its own can run script
    script_src = csp_directives(client.get("/").headers["Content-Security-Policy"])["script-src"]
    assert len(script_src) == len(set(script_src))


def test_csp_covers_the_index_pages_inline_scripts_and_nothing_more(client):
    response = client.get("/dataset/london-boroughs")
    html = response.get_data(as_text=True)
    parser = _Scripts()
    parser.feed(re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL))  # the IE comment is not run
    # Dash writes its renderer start-up inline; the clientside callbacks are named functions in
    # assets/ (ClientsideFunction), so no callback's code is written into the page.
    assert any("DashRenderer" in s for s in parser.inline)
    assert not any("dash_clientside" in s for s in parser.inline)
    script_src = csp_directives(response.headers["Content-Security-Policy"])["script-src"]
    for body in parser.inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src, body[:80]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "*" not in script_src and "data:" not in script_src
    # Every external script is same-origin, so 'self' covers it.
    assert parser.external and all(src.startswith("/") and not src.startswith("//")
                                   for src in parser.external)
    # A script that is not Dash's own would be refused.
    evil = base64.b64encode(hashlib.sha256(b"alert(1)").digest()).decode()
    assert f"'sha256-{evil}'" not in script_src


def test_csp_allows_the_basemap_tiles_and_leaflet_images(client):
    csp = csp_directives(client.get("/").headers["Content-Security-Policy"])
    for source in ("https://*.tile.openstreetmap.org", "https://*.basemaps.cartocdn.com", "data:", "blob:"):
        assert source in csp["img-src"]
    assert csp["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" in csp["style-src"]  # React/Leaflet/plotly write styles at run time


def test_frame_ancestors_is_configurable_for_embedding(tmp_path, data_dir):
    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple",
                              frame_ancestors="'self' https://www.london.gov.uk"))
    response = app.server.test_client().get("/?embed=1")
    csp = csp_directives(response.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'self'", "https://www.london.gov.uk"]
    assert "X-Frame-Options" not in response.headers  # it cannot name another origin
    assert parse_frame_ancestors("'none'") == ["'none'"]
    for bad in ("*", "https://a.example; script-src *", "'unsafe-inline'", "'none' 'self'", "javascript:",
                "https://x.example/<script>"):
        with pytest.raises(ValueError, match="EXPLORER_FRAME_ANCESTORS"):
            parse_frame_ancestors(bad)


def test_pages_and_json_are_gzipped_but_geometry_is_not_compressed_twice(client):
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers and plain.data.startswith(b"<!DOCTYPE html>")
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    unzipped = gzip.decompress(packed.data)
    assert unzipped.startswith(b"<!DOCTYPE html>")
    end_id = rb'"end_id":"[^"]*"'  # Dash writes a fresh id into every index page
    assert re.sub(end_id, b"", unzipped) == re.sub(end_id, b"", plain.data)
    assert len(packed.data) < len(plain.data) / 2
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    api = client.get("/api/datasets?q=air", headers={"Accept-Encoding": "gzip"})
    assert api.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(api.data))["total"] >= 1
    geo = client.get("/geo/london-boroughs.geojson", headers={"Accept-Encoding": "gzip"})
    assert geo.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(geo.data))["features"]) == 33  # one layer of gzip
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+\.js)"', plain.get_data(as_text=True))
    bundle = client.get(scripts[0], headers={"Accept-Encoding": "gzip"})
    assert bundle.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(bundle.data) == client.get(scripts[0]).data


def test_compression_negotiates_varies_and_never_compresses_twice(tmp_path, monkeypatch):
    """Flask-Compress on a bare server with the app's hardening: brotli when offered, gzip else,
    none when the client prefers identity; Vary: Accept-Encoding kept beside a route's own Vary; a body the route already
    compressed is sent as it is; bytes the URL names (a fingerprinted bundle) are compressed once."""
    import brotli
    from flask import Flask, Response, request
    from flask_compress import flask_compress

    server = Flask("compress-test")
    text = ("London data " * 400).encode()
    packed_by_route = gzip.compress(text)

    @server.get("/text")
    def plain_text():
        response = Response(text, mimetype="text/plain")
        response.headers["Vary"] = "Cookie"
        return response

    @server.get("/already")
    def already():
        response = Response(packed_by_route, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
        return response

    @server.get("/_dash-component-suites/pkg/bundle.v1m2.js")
    def bundle():
        return Response(text + request.args.get("n", "").encode(), mimetype="application/javascript")

    install_security(server, Settings(home=tmp_path))
    client = server.test_client()
    br = client.get("/text", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == text
    assert [v.strip() for v in br.headers["Vary"].split(",")] == ["Cookie", "Accept-Encoding"]
    gz = client.get("/text", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz.data) == text
    assert "Content-Encoding" not in client.get("/text", headers={"Accept-Encoding": "br;q=0, identity"}).headers
    twice = client.get("/already", headers={"Accept-Encoding": "gzip, br"})
    assert twice.headers["Content-Encoding"] == "gzip" and twice.data == packed_by_route
    assert "Accept-Encoding" in twice.headers["Vary"]

    calls = []
    real = flask_compress._compress_data
    monkeypatch.setattr(flask_compress, "_compress_data", lambda *a: calls.append(a[2]) or real(*a))
    for _ in range(3):
        client.get("/_dash-component-suites/pkg/bundle.v1m2.js", headers={"Accept-Encoding": "br"})
        client.get("/text", headers={"Accept-Encoding": "br"})
    assert calls == ["br", "br", "br", "br"]        # the bundle once, the page each time


def test_static_files_have_long_lifetimes_when_fingerprinted(client):
    html = client.get("/").get_data(as_text=True)
    suite = re.search(r'src="(/_dash-component-suites/dash/dash-renderer/[^"]+)"', html).group(1)
    css = re.search(r'href="(/assets/[^"]+\?m=[^"]+)"', html).group(1)
    for url in (suite, css):
        response = client.get(url)
        assert response.status_code == 200, url
        cache = response.headers["Cache-Control"]
        assert "max-age=31536000" in cache and "immutable" in cache and "public" in cache, url
    bare = client.get(css.split("?")[0])
    assert bare.status_code == 200 and "max-age=3600" in bare.headers["Cache-Control"]
    unversioned = client.get("/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js")
    assert unversioned.status_code == 200 and "immutable" not in unversioned.headers["Cache-Control"]
    # A gzipped file keeps a validator that matches it again.
    packed = client.get(css, headers={"Accept-Encoding": "gzip"})
    again = client.get(css, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304


def test_request_bodies_are_limited(client):
    big = b"{" + b" " * (MAX_REQUEST_BYTES + 10) + b"}"
    response = client.post("/_dash-update-component", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["status"] == 413


def test_errors_are_plain_messages_without_stack_traces(client, caplog):
    with caplog.at_level("ERROR"):
        api = client.get("/api/test-boom")
        page = client.get("/test-boom-page")
    assert api.status_code == 500 and page.status_code == 500
    assert api.get_json() == {"error": "something went wrong on our side; the error has been logged",
                              "status": 500}
    assert page.mimetype == "text/plain"
    for response in (api, page):
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and "secret detail" not in text and "File \"" not in text
    assert "secret detail" in caplog.text  # the server log has it


# Path traversal --------------------------------------------------------------------------------
TRAVERSALS = [
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "..%252f..%252f..%252fetc%252fpasswd",
    "....//....//....//etc/passwd",
    "..\\..\\..\\..\\etc\\passwd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "..%00/etc/passwd",
    "../../../pyproject.toml",
    "..%2f..%2f..%2f..%2fpyproject.toml",
]
ROUTES = [
    "/api/datasets/{}",
    "/geo/{}.geojson",
    "/geo/{}",
    "/geo/london-boroughs/{}.pbf",
    "/geo/{}/lsoa.pbf",
    "/dataset/{}",
    "/themes/{}",
    "/assets/{}",
    "/assets/fonts/{}",
    "/_dash-component-suites/dash/{}",
    "/_dash-component-suites/dash/deps/{}",
    "/_dash-component-suites/{}/x.js",
]


@pytest.mark.parametrize("route", ROUTES)
def test_no_traversal_through_any_route_that_takes_a_name(client, route):
    secrets = [b"root:x:0:0", b"[build-system]", b"london-data-explorer\"\nversion"]
    if Path("/etc/passwd").is_file():
        secrets.append(Path("/etc/passwd").read_bytes().splitlines()[0])
    for attack in TRAVERSALS:
        url = route.format(attack)
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            response = client.get(url, headers=headers)
            body = response.data
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert response.status_code in (400, 404), (url, response.status_code)
            assert not any(s in body for s in secrets), url
            assert b"Traceback" not in body, url
