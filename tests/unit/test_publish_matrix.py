"""The authorisation matrix: anonymous, a signed-in user without a role, the editor of publisher
A, the editor of publisher B and an admin, against every write route and every data route of a
shared entry of publisher A. Each cell asserts the status and that nothing leaked (no file
content in the answer) or changed (same version, same registry row, no new files in the store)."""

from __future__ import annotations

import io
import json

import pytest

from explorer.web.app import create_app
from explorer.settings import Settings

from ..publishing_fixtures import PUBLISHER_A, lsoa_2011_csv, people

ROLES = ("anonymous", "user", "editor_a", "editor_b", "admin")
CAN_READ = {"anonymous": False, "user": False, "editor_a": True, "editor_b": False, "admin": True}
DENIED = {"anonymous": 401, "user": 403, "editor_b": 403}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory, data_dir):
    """The app on each backend: SQLite under EXPLORER_HOME, then PostgreSQL (EXPLORER_DATABASE_URL)."""
    home = tmp_path_factory.mktemp("matrix-home")
    database = request.getfixturevalue("postgres_server").new_database() if request.param == "postgresql" else ""
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple", database_url=database))
    services = app.explorer
    who = people(services.accounts)
    csv_text, codes = lsoa_2011_csv(data_dir)
    admin = who["admin"].user
    change = services.publishing.create(
        {"title": "Shared deprivation scores", "publisher": PUBLISHER_A, "licence": "OGL-UK-3.0",
         "access_level": "shared", "access_note": "For council partners under a data sharing agreement."},
        admin, publish=False)
    entry_id = change.entry.id
    _, resource, loaded = services.publishing.add_upload(entry_id, io.BytesIO(csv_text.encode()), "scores.csv", "csv",
                                                         admin, 10 ** 7)
    assert loaded.geography is not None and loaded.geography.boundary_set == "lsoa-2011"
    services.publishing.publish(entry_id, admin)
    return {"app": app, "client": app.server.test_client(), "services": services, "who": who,
            "entry": entry_id, "resource": resource.id, "csv": csv_text, "codes": codes, "home": home,
            "database": database}


def _snapshot(world, entry_id):
    services = world["services"]
    entry = services.registry.get(entry_id)
    version = services.publishing.store.version(entry_id)
    store = sorted(p.relative_to(world["home"]).as_posix() for p in (world["home"] / "store").rglob("*"))
    return (entry.content_hash() if entry else None, version["version"] if version else None, store)


def _leaks(world, body: bytes) -> bool:
    """True when the answer carries any of the file's content: a code from it, a value, a column."""
    text = body.decode("utf-8", "replace")
    return "imd_score" in text or any(code in text for code in world["codes"][:50])


# Data routes --------------------------------------------------------------------------------------
def _dash_preview(world, person):
    payload = {
        "output": "..dataset-preview.children...dataset-source-card.children...dataset-provenance.children..",
        "outputs": [{"id": "dataset-preview", "property": "children"},
                    {"id": "dataset-source-card", "property": "children"},
                    {"id": "dataset-provenance", "property": "children"}],
        "inputs": [{"id": "dataset-id", "property": "data", "value": world["entry"]},
                   {"id": "dataset-resource", "property": "value", "value": world["resource"]}],
        "changedPropIds": ["dataset-id.data"], "state": [],
    }
    return world["client"].post("/_dash-update-component", json=payload, headers=person.headers())


DATA_ROUTES = {
    "geo preview": lambda w, p: w["client"].get(f"/geo/{w['entry']}.geojson", headers=p.headers()),
    "geo layer pbf": lambda w, p: w["client"].get(f"/geo/{w['entry']}/{w['resource']}.pbf", headers=p.headers()),
    "geo layer geojson": lambda w, p: w["client"].get(f"/geo/{w['entry']}/{w['resource']}.geojson", headers=p.headers()),
    "layer download": lambda w, p: w["client"].get(f"/download/layer.zip?layer={w['entry']}:{w['resource']},v:imd_score", headers=p.headers()),
    "map image": lambda w, p: w["client"].get(f"/export/map.png?basemap=none&layer={w['entry']}:{w['resource']},v:imd_score", headers=p.headers()),
    "dataset page preview (Dash callback)": _dash_preview,
}


@pytest.mark.parametrize("route", list(DATA_ROUTES))
@pytest.mark.parametrize("role", ROLES)
def test_data_routes_of_a_shared_entry(world, role, route):
    person = world["who"][role]
    before = _snapshot(world, world["entry"])
    response = DATA_ROUTES[route](world, person)
    assert _snapshot(world, world["entry"]) == before
    if route.startswith("dataset page"):
        assert response.status_code == 200            # Dash answers the callback; its content decides
        body = response.get_data()
        if CAN_READ[role]:
            assert b"not open" not in body and b"dataset-map" in body
        else:
            assert b"The files of this dataset are not open" in body
            assert not _leaks(world, body)
        return
    if CAN_READ[role]:
        assert response.status_code == 200, response.get_data()[:300]
        assert response.headers["Cache-Control"].startswith("private")
    else:
        assert response.status_code == DENIED[role], response.get_data()[:300]
        assert not _leaks(world, response.get_data())
        assert "request access" in response.get_json()["error"].lower()


def test_metadata_of_a_shared_entry_is_public_and_says_how_access_works(world):
    response = world["client"].get(f"/api/datasets/{world['entry']}")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["access_level"] == "shared" and "data sharing agreement" in doc["access_note"]
    assert not _leaks(world, response.get_data())


def test_an_approved_request_opens_the_files_and_its_end_date_closes_them(world):
    services, who = world["services"], world["who"]
    client = world["client"]
    url = f"/geo/{world['entry']}.geojson"
    assert client.get(url, headers=who["user"].headers()).status_code == 403
    request_id = services.publishing.request_access(world["entry"], who["user"].user, "Mapping need for a ward report")
    with pytest.raises(Exception):
        services.publishing.decide(request_id, who["editor_b"].user, True)   # not their publisher
    services.publishing.decide(request_id, who["editor_a"].user, True, until="2099-12-31")
    assert client.get(url, headers=who["user"].headers()).status_code == 200
    log = services.publishing.store.audit_log(world["entry"])
    assert [a["action"] for a in log[:2]] == ["access approved", "access requested"]
    # the grant ends: the same user is refused again
    services.publishing.store.db.conn().execute("UPDATE access_requests SET until = '2000-01-01' WHERE id = ?",
                                                (request_id,))
    assert client.get(url, headers=who["user"].headers()).status_code == 403


# Write routes -------------------------------------------------------------------------------------
def _fresh(world, state="published"):
    services = world["services"]
    change = services.publishing.create(
        {"title": "Matrix target", "publisher": PUBLISHER_A, "licence": "CC-BY-4.0", "access_level": "shared",
         "access_contact": "data@camden.example.org"}, world["who"]["admin"].user, publish=state == "published")
    return change.entry.id


WRITE_ROUTES = {
    "create": ("POST", lambda eid: "/api/datasets",
               lambda w: {"json": {"title": "A new entry", "publisher": PUBLISHER_A, "licence": "CC0-1.0"}}, 201),
    "update": ("PATCH", lambda eid: f"/api/datasets/{eid}", lambda w: {"json": {"title": "Renamed"}}, 200),
    "upload": ("POST", lambda eid: f"/api/datasets/{eid}/resources",
               lambda w: {"data": {"file": (io.BytesIO(w["csv"].encode()), "more.csv"), "format": "csv"},
                          "content_type": "multipart/form-data"}, 201),
    "publish": ("POST", lambda eid: f"/api/datasets/{eid}/publish", lambda w: {}, 200),
    "archive": ("POST", lambda eid: f"/api/datasets/{eid}/archive", lambda w: {}, 200),
}


@pytest.mark.parametrize("route", list(WRITE_ROUTES))
@pytest.mark.parametrize("role", ROLES)
def test_write_routes(world, role, route):
    method, path, kwargs, ok = WRITE_ROUTES[route]
    person = world["who"][role]
    entry_id = _fresh(world, "draft" if route == "publish" else "published")
    before = _snapshot(world, entry_id)
    count_before = world["services"].registry.count()
    drafts_before = len(world["services"].publishing.store.entries())
    response = world["client"].open(path(entry_id), method=method, headers=person.headers(), **kwargs(world))
    allowed = role in ("editor_a", "admin")
    if not allowed:
        assert response.status_code == DENIED[role], response.get_data()[:300]
        assert _snapshot(world, entry_id) == before
        assert world["services"].registry.count() == count_before
        assert len(world["services"].publishing.store.entries()) == drafts_before
        return
    assert response.status_code == ok, response.get_data()[:500]
    body = response.get_json()
    if route == "create":
        assert body["state"] == "draft" and body["publisher"] == PUBLISHER_A
    elif route == "upload":
        geography = body["geography"]
        assert geography["boundary_set"] == "lsoa-2011" and geography["rows_in"] == len(world["codes"])
        assert geography["unmatched"] == 2 and geography["matched"] == len(world["codes"]) - 2
        assert body["provenance"]["sha256"] and body["resource"].startswith("upload-")
    else:
        assert body["version"] == before[1] + 1
        state = {"update": "published", "publish": "published", "archive": "archived"}[route]
        assert body["state"] == state
        if route == "update":
            assert world["services"].registry.get(entry_id).title == "Renamed"


def test_invalid_token_is_401_and_revoked_token_stops_working(world):
    services, client = world["services"], world["client"]
    entry_id = _fresh(world)
    assert client.patch(f"/api/datasets/{entry_id}", json={"title": "x"},
                        headers={"Authorization": "Bearer ldx_not-a-real-token"}).status_code == 401
    user = world["who"]["editor_a"].user
    token_id, token = services.accounts.create_token(user.id, "short-lived")
    ok = client.patch(f"/api/datasets/{entry_id}", json={"tags": ["a"]}, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    services.accounts.revoke_token(token_id)
    again = client.patch(f"/api/datasets/{entry_id}", json={"tags": ["b"]}, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401
    assert services.registry.get(entry_id).tags == ["a"]


def test_bad_entry_is_422_with_field_errors_and_nothing_written(world):
    services, client = world["services"], world["client"]
    editor = world["who"]["editor_a"]
    count = len(services.publishing.store.entries())
    response = client.post("/api/datasets", headers=editor.headers(),
                           json={"title": "", "publisher": PUBLISHER_A, "licence": "nonsense",
                                 "temporal_start": "2020-13-45", "access_level": "secret"})
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert set(fields) >= {"title", "licence", "temporal_start", "access_level"}
    assert len(services.publishing.store.entries()) == count


def test_upload_in_another_format_than_declared_is_refused_and_leaves_nothing(world):
    services, client = world["services"], world["client"]
    entry_id = _fresh(world)
    before = _snapshot(world, entry_id)
    editor = world["who"]["editor_a"]
    bad = [
        ({"file": (io.BytesIO(b"PK\x03\x04 not really a zip"), "scores.csv"), "format": "csv"}, "plain text"),
        ({"file": (io.BytesIO(world["csv"].encode()), "scores.geojson"), "format": "csv"}, "does not end"),
        ({"file": (io.BytesIO(b'{"type": "Topology", "objects": {}}'), "x.geojson"), "format": "geojson"}, "TopoJSON"),
        ({"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv"), "format": "exe"}, None),
    ]
    for data, words in bad:
        response = client.post(f"/api/datasets/{entry_id}/resources", data=data, headers=editor.headers(),
                               content_type="multipart/form-data")
        assert response.status_code == 422, response.get_data()[:300]
        if words:
            assert words in json.dumps(response.get_json())
        assert _snapshot(world, entry_id) == before


def test_upload_over_the_size_limit_is_refused(world, monkeypatch):
    services, client = world["services"], world["client"]
    entry_id = _fresh(world)
    before = _snapshot(world, entry_id)
    monkeypatch.setattr(services, "settings", services.settings.with_(max_upload_bytes=1000))
    big = "lsoa_code,imd_score\n" + "E01000001,1\n" * 500
    response = client.post(f"/api/datasets/{entry_id}/resources", headers=world["who"]["editor_a"].headers(),
                           data={"file": (io.BytesIO(big.encode()), "big.csv"), "format": "csv"},
                           content_type="multipart/form-data")
    assert response.status_code in (413, 422)
    assert _snapshot(world, entry_id) == before


@pytest.mark.parametrize("name,fmt,source,kind", [
    ("boroughs.geojson", "geojson", "boundaries/London_Borough_Excluding_MHW.geojson", "polygons"),
    ("boroughs.topojson", "topojson", "boundaries/gla_ldn-viz-tools/boroughs-simplified-topo.json", "polygons"),
    ("boroughs.gpkg", "gpkg", "boundaries/London_Boroughs.gpkg", "polygons"),
    ("stations.geojson", "geojson", "points/greater_london-osm_transit_stations_2021.geojson", "points"),
    ("lsoa-2011.zip", "zip", "boundaries/london-2011-lsoa-gen20", "polygons"),
])
def test_uploads_of_each_spatial_format_are_loaded_as_the_map_will(world, data_dir, tmp_path, name, fmt, source, kind):
    """Real files from the data folder, uploaded as a publisher would; a zipped shapefile is zipped here."""
    import zipfile

    path = data_dir / source
    if fmt == "zip":
        target = tmp_path / name
        with zipfile.ZipFile(target, "w") as zf:
            for part in sorted(path.iterdir()):
                zf.write(part, part.name)
        path = target
    entry_id = _fresh(world)
    with open(path, "rb") as fh:
        response = world["client"].post(f"/api/datasets/{entry_id}/resources", headers=world["who"]["editor_a"].headers(),
                                        data={"file": (fh, name), "format": fmt}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data()[:400]
    report = response.get_json()
    assert report["kind"] == kind and report["crs"] == "EPSG:4326" and report["rows"] > 30
    assert report["provenance"]["sha256"] == world["services"].publishing.store.uploads(entry_id)[-1]["sha256"]


def _workbook(tmp_path, csv_text, engine, name):
    import pandas as pd

    frame = pd.read_csv(io.StringIO(csv_text))
    path = tmp_path / name
    with pd.ExcelWriter(path, engine=engine) as writer:
        frame.to_excel(writer, sheet_name="Scores", index=False)
    return path


def test_an_ods_upload_is_loaded_and_a_workbook_of_the_other_kind_is_refused(world, tmp_path):
    """An OpenDocument spreadsheet (written here by pandas' odf engine) is taken as an XLSX is; the
    kind is checked by the content, so an XLSX named .ods (or the reverse) is refused by name."""
    client, editor = world["client"], world["who"]["editor_a"]
    ods = _workbook(tmp_path, world["csv"], "odf", "scores.ods")
    xlsx = _workbook(tmp_path, world["csv"], "openpyxl", "scores.xlsx")
    entry_id = _fresh(world)
    response = client.post(f"/api/datasets/{entry_id}/resources", headers=editor.headers(),
                           data={"file": (io.BytesIO(ods.read_bytes()), "scores.ods"), "format": "ods"},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data()[:400]
    report = response.get_json()
    assert report["rows"] > 30 and world["services"].publishing.store.uploads(entry_id)[-1]["format"] == "ods"
    before = _snapshot(world, entry_id)
    for data, words in [
        ({"file": (io.BytesIO(xlsx.read_bytes()), "scores.ods"), "format": "ods"}, "This is an Excel workbook"),
        ({"file": (io.BytesIO(ods.read_bytes()), "scores.xlsx"), "format": "xlsx"}, "not an Excel workbook"),
        ({"file": (io.BytesIO(b"a,b\n1,2\n"), "scores.ods"), "format": "ods"}, "not a zip container"),
    ]:
        response = client.post(f"/api/datasets/{entry_id}/resources", data=data, headers=editor.headers(),
                               content_type="multipart/form-data")
        assert response.status_code == 422, response.get_data()[:300]
        assert words in json.dumps(response.get_json())
        assert _snapshot(world, entry_id) == before


def test_a_failure_while_writing_leaves_nothing_half_written(world, monkeypatch):
    """The registry write fails after the file was stored and the version prepared: the version,
    the upload record, the audit line and the stored file all go."""
    services = world["services"]
    entry_id = _fresh(world)
    before = _snapshot(world, entry_id)
    uploads_before = services.publishing.store.uploads(entry_id)
    audit_before = services.publishing.store.audit_log(entry_id)

    def broken(entry):
        raise OSError("disk full")

    monkeypatch.setattr(services.registry, "upsert", broken)
    with pytest.raises(OSError):
        services.publishing.add_upload(entry_id, io.BytesIO(world["csv"].encode()), "scores.csv", "csv",
                                       world["who"]["editor_a"].user, 10 ** 7)
    monkeypatch.undo()
    assert _snapshot(world, entry_id) == before
    assert services.publishing.store.uploads(entry_id) == uploads_before
    assert services.publishing.store.audit_log(entry_id) == audit_before


def test_a_kml_of_points_and_a_kml_with_entities(world):
    """KML (here two charge points, written by the test) loads as points; a KML that declares
    entities (the billion-laughs shape) is refused before any parser sees it."""
    entry_id = _fresh(world)
    points = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
              '<Placemark><name>Charge point 1</name><Point><coordinates>-0.1276,51.5072</coordinates></Point></Placemark>'
              '<Placemark><name>Charge point 2</name><Point><coordinates>-0.14,51.52</coordinates></Point></Placemark>'
              '</Document></kml>')
    headers = world["who"]["editor_a"].headers()
    ok = world["client"].post(f"/api/datasets/{entry_id}/resources", headers=headers, content_type="multipart/form-data",
                              data={"file": (io.BytesIO(points.encode()), "ev.kml"), "format": "kml"})
    assert ok.status_code == 201 and ok.get_json()["kind"] == "points" and ok.get_json()["rows"] == 2
    before = _snapshot(world, entry_id)
    hostile = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
               '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&b;</name></Document></kml>')
    refused = world["client"].post(f"/api/datasets/{entry_id}/resources", headers=headers,
                                   content_type="multipart/form-data",
                                   data={"file": (io.BytesIO(hostile.encode()), "bad.kml"), "format": "kml"})
    assert refused.status_code == 422 and "DOCTYPE" in refused.get_json()["fields"]["file"]
    assert _snapshot(world, entry_id) == before


def test_a_published_entry_is_seen_at_once_by_another_worker(world, data_dir):
    """Two apps on one EXPLORER_HOME stand for two worker processes: what one publishes, the other
    finds in its search and serves on its map without a restart."""
    other = create_app(Settings(home=world["home"], data_dir=data_dir, cache_url="simple",
                                database_url=world["database"]))
    other_client = other.server.test_client()
    assert other.explorer.registry.search("quillwort").total == 0   # its index is built now
    services = world["services"]
    admin = world["who"]["admin"].user
    change = services.publishing.create({"title": "Quillwort survey of riverside flood defences", "publisher": PUBLISHER_A,
                                         "licence": "OGL-UK-3.0"}, admin)
    services.publishing.add_upload(change.entry.id, io.BytesIO(world["csv"].encode()), "defences.csv", "csv",
                                   admin, 10 ** 7)
    services.publishing.publish(change.entry.id, admin)
    hits = other.explorer.registry.search("quillwort")
    assert [h.entry.id for h in hits.hits] == [change.entry.id]
    response = other_client.get(f"/geo/{change.entry.id}/upload-1.pbf")
    assert response.status_code == 200 and len(response.get_data()) > 1000


def test_a_resource_by_url_is_fetched_and_reported_or_refused(world, data_dir, tmp_path, local_server):
    """A link to a file on a real local HTTP server: fetched, loaded and reported like an upload; a
    link that does not answer with the file is refused with the reason, and nothing is written."""
    body = world["csv"].encode()
    local_server.add("/scores.csv", (200, {"Content-Type": "text/csv"}, body))
    app = create_app(Settings(home=world["home"], data_dir=data_dir, cache_url="simple", allow_private_urls=True,
                              database_url=world["database"]))
    client = app.server.test_client()
    entry_id = _fresh(world)
    headers = world["who"]["editor_a"].headers()
    base = local_server.url()
    ok = client.post(f"/api/datasets/{entry_id}/resources", headers=headers,
                     json={"url": f"{base}/scores.csv", "format": "csv"})
    assert ok.status_code == 201, ok.get_data()[:400]
    assert ok.get_json()["geography"]["boundary_set"] == "lsoa-2011"
    before = _snapshot(world, entry_id)
    missing = client.post(f"/api/datasets/{entry_id}/resources", headers=headers,
                          json={"url": f"{base}/gone.csv", "format": "csv"})
    assert missing.status_code == 422 and "404" in missing.get_json()["fields"]["file"]
    not_a_url = client.post(f"/api/datasets/{entry_id}/resources", headers=headers, json={"url": "file:///etc/passwd"})
    assert not_a_url.status_code == 422 and "url" in not_a_url.get_json()["fields"]
    assert _snapshot(world, entry_id) == before


def test_theme_chart_exports_are_refused_when_a_theme_dataset_is_shared(world):
    """A theme's chart image or data zip (which may come from the app's cache) is refused to
    people without access once one of the theme's datasets is shared."""
    services, client = world["services"], world["client"]
    original = services.registry.get("laei-lsoa-2021")
    shared = type(original).from_dict({**original.to_dict(), "access_level": "shared",
                                       "access_note": "For partners."})
    services.registry.upsert(shared)
    try:
        for path in ("/download/chart/air-quality/no2-lsoa-2019.zip", "/export/chart/air-quality/no2-lsoa-2019.png"):
            anonymous = client.get(path)
            assert anonymous.status_code == 401 and "laei-lsoa-2021" in anonymous.get_json()["error"]
            assert client.get(path, headers=world["who"]["editor_b"].headers()).status_code == 403
    finally:
        services.registry.upsert(original)
    assert client.get("/download/chart/air-quality/no-such-chart.zip").status_code == 404
