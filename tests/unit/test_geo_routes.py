"""Layer geometry by URL: /geo/<dataset>/<resource>.pbf (geobuf) and .geojson, compressed,
cached, with a strong ETag, and JSON errors that say why."""

from __future__ import annotations

import gzip
import json

import brotli
import geobuf
import pytest

from explorer.maps import layer_geometry
from explorer.web.app import create_app
from explorer.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("geo-home")
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple"))
    return app.server.test_client()


def test_geobuf_is_gzipped_cached_and_revalidated(client):
    url = "/geo/london-boroughs/geojson.pbf"
    first = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/x-protobuf"
    assert first.headers["Content-Encoding"] == "br"                   # brotli when offered
    assert first.headers["Cache-Control"] == "public, max-age=86400"
    assert "Accept-Encoding" in first.headers["Vary"]
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")         # a strong validator
    fc = geobuf.decode(brotli.decompress(first.data))
    assert len(fc["features"]) == 33
    assert {f["properties"]["_name"] for f in fc["features"]} >= {"Westminster", "Camden"}
    assert all(set(f["properties"]) == {"_i", "_name", "_code"} for f in fc["features"])

    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag

    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["ETag"] != etag                               # another representation
    assert geobuf.decode(plain.data) == fc
    assert client.get(url, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and geobuf.decode(gzip.decompress(packed.data)) == fc
    assert len({etag, plain.headers["ETag"], packed.headers["ETag"]}) == 3


def test_geojson_twin(client):
    response = client.get("/geo/london-boroughs/geojson.geojson", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/geo+json"
    body = json.loads(gzip.decompress(response.data))
    assert len(body["features"]) == 33
    assert [f["properties"]["_i"] for f in body["features"]] == list(range(33))


def test_payload_is_computed_once(client, monkeypatch):
    url = "/geo/laei-borough/no2-2016.pbf"
    assert client.get(url).status_code == 200

    def broken(*args, **kwargs):
        raise AssertionError("geometry recomputed instead of served from the cache")

    monkeypatch.setattr(layer_geometry, "geometry_payload", broken)
    from flask_compress import flask_compress

    compressed = []
    real = flask_compress._compress_data
    monkeypatch.setattr(flask_compress, "_compress_data", lambda *a: compressed.append(a[2]) or real(*a))
    for _ in range(3):
        second = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert second.status_code == 200
        assert len(geobuf.decode(gzip.decompress(second.data))["features"]) == 33
    assert compressed == ["gzip"]          # and compressed once: kept by the payload's key


@pytest.mark.parametrize("url,status,reason", [
    ("/geo/nothing-here/csv.pbf", 404, "no dataset 'nothing-here'"),
    ("/geo/laei-lsoa-2021/nope.pbf", 404, "no resource 'nope'"),
    ("/geo/bad%20id!/csv.pbf", 400, "not a dataset id"),
    ("/geo/london-boroughs/-x.pbf", 400, "not a resource id"),
    ("/geo/crime-ward/csv.pbf", 422, "long format"),
    ("/geo/ghg-domestic-borough/london-by-year.geojson", 422, "no geometry"),
])
def test_errors_are_json_with_reasons(client, url, status, reason):
    response = client.get(url)
    assert response.status_code == status
    body = response.get_json()
    assert body["status"] == status and reason in body["error"]
    assert "Traceback" not in body["error"]


def test_the_preview_route_still_answers(client):
    response = client.get("/geo/london-boroughs.geojson")
    assert response.status_code == 200
    assert len(json.loads(response.data)["features"]) == 33


# A layer's answer kept in the process (explorer/web/api.py GEO_KEPT) -----------------------------
@pytest.fixture()
def own_app(tmp_path, data_dir):
    """An app of the test's own: these tests change its registry."""
    return create_app(Settings(home=tmp_path / "home", data_dir=data_dir, cache_url="simple"))


def _kept(app) -> list:
    from explorer.web.api import GEO_KEPT

    return [kept[0] for kept in app.explorer.data.memos.table(*GEO_KEPT).values()]


def test_a_repeat_request_is_answered_from_the_process_without_the_registry_entry_or_the_cache(
        own_app, monkeypatch):
    client = own_app.server.test_client()
    url = "/geo/london-boroughs/geojson.pbf"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and len(_kept(own_app)) == 1

    def refused(*args, **kwargs):
        raise AssertionError("a kept answer read the registry entry or the shared cache again")

    monkeypatch.setattr(layer_geometry, "payload_key", refused)
    monkeypatch.setattr(own_app.explorer.cache, "get", refused)
    for encoding in ("gzip", "br", ""):
        again = client.get(url, headers={"Accept-Encoding": encoding})
        assert again.status_code == 200
        body = {"gzip": gzip.decompress, "br": brotli.decompress, "": bytes}[encoding](again.data)
        assert len(geobuf.decode(body)["features"]) == 33
    assert client.get(url, headers={"Accept-Encoding": "gzip"}).headers["ETag"] == first.headers["ETag"]
    held = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert held.status_code == 304 and held.headers["ETag"] == first.headers["ETag"]


def test_a_changed_registry_entry_is_answered_anew(own_app):
    client = own_app.server.test_client()
    url = "/geo/london-boroughs/geojson.pbf"
    first = client.get(url)
    registry = own_app.explorer.registry
    original = registry.get("london-boroughs")
    changed = type(original).from_dict({**original.to_dict(), "title": original.title + " (revised)"})
    registry.upsert(changed)
    second = client.get(url)
    assert second.status_code == 200
    # the entry's content hash is in the payload's key: a new version, a new ETag, both kept
    assert second.headers["ETag"] != first.headers["ETag"]
    assert len(set(_kept(own_app))) == 2


def test_a_layer_that_is_not_open_is_never_kept(own_app):
    from ..publishing_fixtures import people

    client = own_app.server.test_client()
    services = own_app.explorer
    who = people(services.accounts)
    url = "/geo/london-boroughs/geojson.pbf"
    registry = services.registry
    original = registry.get("london-boroughs")
    registry.upsert(type(original).from_dict({**original.to_dict(), "access_level": "shared",
                                              "access_note": "For partners."}))
    admin = who["admin"].headers()
    for _ in range(2):
        allowed = client.get(url, headers=admin)
        assert allowed.status_code == 200 and len(geobuf.decode(allowed.data)["features"]) == 33
        assert "private" in allowed.headers["Cache-Control"]
    assert _kept(own_app) == []
    assert client.get(url).status_code == 401          # and nobody else is answered
    registry.upsert(original)                          # open again: kept from its next answer on
    assert client.get(url).status_code == 200 and len(_kept(own_app)) == 1


def test_a_body_over_the_limit_is_read_from_the_shared_cache_each_time(own_app, monkeypatch):
    from explorer.web import api

    client = own_app.server.test_client()
    url = "/geo/london-boroughs/geojson.pbf"
    monkeypatch.setattr(api, "GEO_KEPT_MAX_BYTES", 1000)        # the boroughs' outlines are ~40 kB
    reads = []
    real_get = own_app.explorer.cache.get
    monkeypatch.setattr(own_app.explorer.cache, "get", lambda key: reads.append(key) or real_get(key))
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200 and len(geobuf.decode(response.data)["features"]) == 33
    assert _kept(own_app) == [] and len([key for key in reads if key.endswith(":body")]) == 2
