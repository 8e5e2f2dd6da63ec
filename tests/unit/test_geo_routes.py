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
