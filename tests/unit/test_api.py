"""The JSON API, the DCAT export and the preview geometry route, through Flask's test client."""

from __future__ import annotations

import gzip
import json

import pytest

from explorer.web import api



@pytest.fixture(scope="module")
def client(real_app):
    return real_app.server.test_client()


def test_search_api(client):
    data = client.get("/api/datasets?q=parks&limit=5").get_json()
    assert data["total"] >= 1 and len(data["results"]) <= 5
    assert any("park" in r["title"].lower() for r in data["results"])
    filtered = client.get("/api/datasets?theme=air-quality&limit=100").get_json()
    assert filtered["total"] >= 5
    assert all("air-quality" in r["themes"] for r in filtered["results"])
    assert client.get("/api/datasets?limit=lots").status_code == 400



def test_a_search_asked_again_is_answered_from_the_memo_until_the_registry_changes(client, real_app, monkeypatch):
    registry = real_app.explorer.registry
    calls = []
    real_search = registry.search
    monkeypatch.setattr(registry, "search", lambda *a, **k: calls.append(a) or real_search(*a, **k))
    url = "/api/datasets?q=tree+canopy+in+camden&limit=3"
    first = client.get(url)
    assert client.get(url).data == first.data and len(calls) == 1          # asked again: not searched
    client.get(url + "&offset=1")
    assert len(calls) == 2                                                 # another question is
    version = registry.version
    monkeypatch.setattr(type(registry), "version", property(lambda self: version + 1))
    assert client.get(url).data == first.data and len(calls) == 3          # a new registry version is
    big = client.get("/api/datasets?limit=1000")                            # a large answer is not kept
    client.get("/api/datasets?limit=1000")
    assert len(big.data) > api.SEARCH_ANSWER_BYTES and len(calls) == 5

def test_dataset_api(client):
    doc = client.get("/api/datasets/london-boroughs").get_json()
    assert doc["id"] == "london-boroughs" and doc["resources"]
    assert client.get("/api/datasets/nothing-here").status_code == 404
    assert client.get("/api/datasets/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)


def test_dcat_export_lists_every_dataset(client):
    doc = json.loads(client.get("/catalogue.jsonld").data)
    assert doc["@type"] == "dcat:Catalog"
    ids = {d["dct:identifier"] for d in doc["dcat:dataset"]}
    count = client.get("/api/datasets?limit=0").get_json()["total"]
    assert len(ids) == count and "laei-borough" in ids
    dist = next(d for d in doc["dcat:dataset"] if d["dct:identifier"] == "london-boroughs")["dcat:distribution"][0]
    assert dist["dcat:downloadURL"].startswith("https://")


def test_preview_geometry_is_compact_compressed_and_cacheable(client):
    response = client.get("/geo/london-boroughs.geojson", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age" in response.headers["Cache-Control"]
    body = json.loads(gzip.decompress(response.data))
    assert len(body["features"]) == 33
    names = {f["properties"]["_name"] for f in body["features"]}
    assert "Westminster" in names
    # Coordinates are rounded to 5 decimal places.
    ring = body["features"][0]["geometry"]["coordinates"][0]
    first = ring[0] if isinstance(ring[0][0], float) else ring[0][0]
    assert all(len(repr(c).split(".")[-1]) <= 5 for c in first)
    again = client.get("/geo/london-boroughs.geojson", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_preview_geometry_refuses_bad_names(client):
    assert client.get("/geo/..%2F..%2Fetc%2Fpasswd.geojson").status_code in (400, 404)
    assert client.get("/geo/nothing-here.geojson").status_code == 404
    assert client.get("/geo/london-boroughs.geojson?variable=nope").status_code == 400
    # A table without geography has nothing to map: a reason, not a stack trace.
    response = client.get("/geo/london-monthly-air-quality.geojson")
    assert response.status_code == 422 and response.get_json()["error"]


def test_pages_are_served_at_their_paths(client):
    for path in ("/", "/catalogue?q=air", "/dataset/london-boroughs", "/map", "/themes"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"_dash-config" in response.data
