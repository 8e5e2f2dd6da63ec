"""Resolver: local data folder → store → download, with provenance; a server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

import explorer.data.provenance as provenance_module
from explorer.catalogue.models import Entry, Resource
from explorer.data.provenance import Provenance, read_provenance
from explorer.data.resolver import ResolveError, Resolver
from explorer.settings import Settings

from ..local_http import local_server as server  # noqa: F401 - the one local HTTP server, as `server`

BODY = b"LSOA21CD,value\n" + b"".join(b"E0100%04d,%d\n" % (i, i * 3) for i in range(2000))
SHA = hashlib.sha256(BODY).hexdigest()
MSOA = "boundaries/london-2021-msoa-gen20/london-2021-msoa-gen20.shp"
MSOA_SIDECARS = ["london-2021-msoa-gen20.dbf", "london-2021-msoa-gen20.shx",
                 "london-2021-msoa-gen20.prj", "london-2021-msoa-gen20.cpg"]


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home", data_dir=tmp_path / "nodata", allow_private_urls=True,
                    http_timeout=5, http_retries=3, max_download_bytes=10 * 1024 * 1024,
                    harvest_bundled=False)


def resolver(settings) -> Resolver:
    return Resolver(settings, progress=False, backoff=0.01)


def shapefile_parts() -> dict[str, bytes]:
    """A real two-point shapefile, by suffix: downloads are validated before they are stored,
    so the bytes must be a shapefile and not a stand-in."""
    import tempfile

    import geopandas as gpd
    from shapely.geometry import Point

    with tempfile.TemporaryDirectory() as folder:
        frame = gpd.GeoDataFrame({"code": ["E09000001", "E09000002"]},
                                 geometry=[Point(530000, 180000), Point(531000, 181000)],
                                 crs="EPSG:27700")
        frame.to_file(Path(folder) / "a.shp")
        return {p.suffix: p.read_bytes() for p in Path(folder).iterdir()}


def entry(*resources: dict, **fields) -> Entry:
    data = {"id": "test-data", "title": "Test data", "publisher": "GLA",
            "licence": "Open Government Licence v3.0", "attribution": "Contains GLA data",
            "upstream_url": "https://data.london.gov.uk/dataset/test-data",
            "resources": list(resources), **fields}
    return Entry.from_dict(data)


def store_files(settings) -> list[str]:
    root = settings.store_dir
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def truncated(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b"x" * 100)
    handler.wfile.flush()
    handler.close_connection = True


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# Local data folder ------------------------------------------------------------------------------
def test_local_data_folder_is_used_in_place_with_sha256_and_sidecars(data_dir, tmp_path, monkeypatch):
    settings = Settings(home=tmp_path / "home", data_dir=data_dir, offline=True)
    e = entry({"id": "msoa", "local_path": MSOA, "sidecars": MSOA_SIDECARS,
               "url": "https://example.org/msoa.shp"})
    got = resolver(settings).resolve(e)
    shp = data_dir / MSOA
    assert got.path == shp and got.origin == "local"
    assert [p.name for p in got.sidecar_paths] == MSOA_SIDECARS
    assert all(p.parent == shp.parent for p in got.sidecar_paths)
    prov = got.provenance
    assert prov.sha256 == hashlib.sha256(shp.read_bytes()).hexdigest()
    assert prov.size == shp.stat().st_size == 1239848
    mtime = datetime.fromtimestamp(shp.stat().st_mtime, timezone.utc).replace(microsecond=0)
    assert datetime.fromisoformat(prov.retrieved_at.replace("Z", "+00:00")) == mtime
    assert (prov.dataset_id, prov.resource_id, prov.licence, prov.publisher) == (
        "test-data", "msoa", "Open Government Licence v3.0", "GLA")
    assert prov.source_url == "https://example.org/msoa.shp"
    assert prov.upstream_url == "https://data.london.gov.uk/dataset/test-data"
    dbf = next(s for s in prov.sidecars if s["name"].endswith(".dbf"))
    assert dbf["sha256"] == hashlib.sha256((shp.parent / dbf["name"]).read_bytes()).hexdigest()
    assert not settings.store_dir.exists()  # never copied

    # The digest is cached under home: a second resolve does not hash the file again.
    cache = json.loads((settings.home / "hashes.json").read_text())
    assert cache[str(shp)]["sha256"] == prov.sha256 and cache[str(shp)]["size"] == prov.size

    def no_hashing(path, *a, **kw):
        raise AssertionError(f"hashed {path} again")

    monkeypatch.setattr(provenance_module, "sha256_file", no_hashing)
    again = resolver(settings).resolve(e)
    assert again.provenance.sha256 == prov.sha256


def test_local_file_missing_a_sidecar_is_not_used(tmp_path, server):
    data = tmp_path / "data"
    (data / "b").mkdir(parents=True)
    (data / "b" / "x.shp").write_bytes(b"shp")
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)
    e = entry({"id": "r1", "local_path": "b/x.shp", "sidecars": [".dbf"]})
    with pytest.raises(ResolveError) as info:
        resolver(settings).resolve(e)
    assert f"{data / 'b' / 'x.dbf'} missing" in str(info.value)
    (data / "b" / "x.dbf").write_bytes(b"dbf")  # suffix-only sidecar names mean stem + suffix
    got = resolver(settings).resolve(e)
    assert got.sidecar_paths == [data / "b" / "x.dbf"]


def test_local_path_escaping_the_data_folder_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    outside = tmp_path / "secret.csv"
    outside.write_text("secret")
    (data / "link.csv").symlink_to(outside)
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)
    for local_path in ("link.csv", "../secret.csv"):
        # Built directly (Entry.from_dict already refuses '..'): the resolver checks on its own.
        e = Entry(id="esc", title="Escape", resources=[Resource(id="r1", local_path=local_path)])
        with pytest.raises(ResolveError, match="leads outside the data folder"):
            resolver(settings).resolve(e)


def test_local_file_with_a_different_checksum_is_not_used(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_bytes(BODY)
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)
    good = entry({"id": "r1", "local_path": "x.csv", "checksum": f"sha256:{SHA}"})
    assert resolver(settings).resolve(good).provenance.checksum == f"sha256:{SHA}"
    bad = entry({"id": "r1", "local_path": "x.csv", "checksum": "sha256:" + "0" * 64})
    with pytest.raises(ResolveError, match="differs from the registry's checksum"):
        resolver(settings).resolve(bad)


# Download and store ----------------------------------------------------------------------------
def test_download_into_store_then_served_from_store_without_a_request(settings, server):
    url = server.add("/files/lsoa.csv", (200, BODY))
    e = entry({"id": "r1", "url": url, "checksum": f"sha256:{SHA}", "size": len(BODY),
               "local_path": "stats/lsoa.csv"})
    first = resolver(settings).resolve(e)
    folder = settings.store_dir / "test-data" / "r1"
    assert first.origin == "download" and first.path == folder / "lsoa.csv"
    assert first.path.read_bytes() == BODY
    assert server.hits["/files/lsoa.csv"] == 1
    on_disk = read_provenance(folder)
    assert on_disk.origin == "download" and on_disk.sha256 == SHA and on_disk.size == len(BODY)
    assert on_disk.checksum == f"sha256:{SHA}" and on_disk.source_url == url
    assert on_disk.licence == "Open Government Licence v3.0" and on_disk.attribution == "Contains GLA data"
    assert store_files(settings) == ["test-data/r1/lsoa.csv", "test-data/r1/provenance.json"]

    second = Resolver(settings, progress=False).resolve(e)  # a fresh resolver, like a new process
    assert second.origin == "store" and second.path == first.path
    assert second.provenance.sha256 == SHA and second.provenance.retrieved_at == on_disk.retrieved_at
    assert server.total == 1


def test_checksum_mismatch_stores_nothing(settings, server):
    url = server.add("/x.csv", (200, BODY))
    e = entry({"id": "r1", "url": url, "checksum": "sha256:" + "ab" * 32})
    with pytest.raises(ResolveError, match="sha256 mismatch") as info:
        resolver(settings).resolve(e)
    assert str(info.value).startswith("test-data/r1: ")
    assert store_files(settings) == []
    assert [p.name for p in (settings.store_dir / "test-data").iterdir()] == []  # no staging left


def test_truncated_response_is_an_error_and_stores_nothing(settings, server):
    url = server.add("/cut.csv", truncated)
    e = entry({"id": "r1", "url": url})
    with pytest.raises(ResolveError, match="connection closed after 100 of 1,000 bytes"):
        resolver(settings.with_(http_retries=2)).resolve(e)
    assert server.hits["/cut.csv"] == 2
    assert store_files(settings) == []


def test_server_error_then_success_is_retried(settings, server):
    url = server.add("/flaky.csv", (500, b"oops"), (200, BODY))
    got = resolver(settings).resolve(entry({"id": "r1", "url": url, "checksum": SHA}))
    assert got.path.read_bytes() == BODY and server.hits["/flaky.csv"] == 2


def test_size_cap_exceeded_is_an_error(settings, server):
    url = server.add("/big.csv", (200, BODY))
    with pytest.raises(ResolveError, match="over the download limit"):
        resolver(settings.with_(max_download_bytes=1000)).resolve(entry({"id": "r1", "url": url}))
    assert store_files(settings) == []


def test_private_url_refused_unless_allowed(settings, server):
    url = server.add("/x.csv", (200, BODY))
    e = entry({"id": "r1", "url": url})
    with pytest.raises(ResolveError, match="download was refused.*private or loopback"):
        resolver(settings.with_(allow_private_urls=False)).resolve(e)
    assert server.total == 0 and store_files(settings) == []
    report = resolver(settings.with_(allow_private_urls=False)).where(e)
    assert report["available"] is None and "refused" in report["download"]["reason"]


def test_sidecars_are_downloaded_from_the_same_url_folder(settings, server):
    shp = shapefile_parts()
    url = server.add("/geo/a.shp", (200, shp[".shp"]))
    server.add("/geo/a.dbf", (200, shp[".dbf"]))
    server.add("/geo/a.prj", (200, shp[".prj"]))
    server.add("/geo/a.shx", (200, shp[".shx"]))
    e = entry({"id": "r1", "url": url, "sidecars": ["a.dbf", ".prj", ".shx"]})
    got = resolver(settings).resolve(e)
    assert [p.name for p in got.sidecar_paths] == ["a.dbf", "a.prj", "a.shx"]
    assert got.sidecar_paths[0].read_bytes() == shp[".dbf"]
    assert {s["name"] for s in got.provenance.sidecars} == {"a.dbf", "a.prj", "a.shx"}
    again = resolver(settings).resolve(e)
    assert again.origin == "store" and [p.name for p in again.sidecar_paths] == ["a.dbf", "a.prj", "a.shx"]
    assert server.total == 4

    # A missing sidecar fails the whole download, and nothing new is stored.
    e2 = entry({"id": "r2", "url": url, "sidecars": ["a.cpg"]})
    with pytest.raises(ResolveError, match="a.cpg: HTTP 404"):
        resolver(settings).resolve(e2)
    assert not (settings.store_dir / "test-data" / "r2").exists()


# Zips ------------------------------------------------------------------------------------------
def test_zip_member_and_its_sidecars_are_extracted(settings, server):
    shp = shapefile_parts()
    payload = zip_bytes({"bounds/a.shp": shp[".shp"], "bounds/a.dbf": shp[".dbf"],
                         "bounds/a.shx": shp[".shx"], "bounds/b.csv": b"other", "readme.txt": b"r"})
    url = server.add("/bounds.zip", (200, payload))
    e = entry({"id": "r1", "url": url, "archive_member": "bounds/a.shp", "sidecars": [".dbf", ".shx"],
               "checksum": "sha256:" + hashlib.sha256(payload).hexdigest()})
    got = resolver(settings).resolve(e)
    assert got.path.name == "a.shp" and got.path.read_bytes() == shp[".shp"]
    assert [p.name for p in got.sidecar_paths] == ["a.dbf", "a.shx"]
    prov = got.provenance
    assert prov.archive_member == "bounds/a.shp"
    assert prov.download_sha256 == hashlib.sha256(payload).hexdigest()
    assert prov.sha256 == hashlib.sha256(shp[".shp"]).hexdigest()
    # The zip itself is not kept; only the member, its sidecars and the provenance.
    assert store_files(settings) == ["test-data/r1/a.dbf", "test-data/r1/a.shp", "test-data/r1/a.shx",
                                     "test-data/r1/provenance.json"]
    assert resolver(settings).resolve(e).origin == "store" and server.total == 1


def test_obvious_zip_member_is_found_without_being_named(settings, server):
    url = server.add("/one.zip", (200, zip_bytes({"folder/data.csv": BODY, "__MACOSX/._data.csv": b"m"})))
    got = resolver(settings).resolve(entry({"id": "r1", "url": url, "format": "zip"}))
    assert got.path.name == "data.csv" and got.provenance.sha256 == SHA
    assert got.provenance.archive_member == "folder/data.csv"


def test_zip_member_with_dotdot_is_refused(settings, server, tmp_path):
    url = server.add("/evil.zip", (200, zip_bytes({"../evil": b"pwned", "ok.csv": b"a"})))
    e = entry({"id": "r1", "url": url, "archive_member": "../evil"})
    with pytest.raises(ResolveError, match="'..' in path refused"):
        resolver(settings).resolve(e)
    assert store_files(settings) == []
    assert not any(p.name == "evil" for p in tmp_path.rglob("*"))


def test_zip_bomb_is_refused_under_a_small_cap(settings, server):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.csv", bytes(50 * 1024 * 1024))
    assert len(buf.getvalue()) < 1024 * 1024  # the download itself is under the cap
    url = server.add("/bomb.zip", (200, buf.getvalue()))
    e = entry({"id": "r1", "url": url, "archive_member": "zeros.csv"})
    with pytest.raises(ResolveError, match="decompression bomb"):
        resolver(settings.with_(max_download_bytes=2 * 1024 * 1024)).resolve(e)
    assert store_files(settings) == []


def test_archive_member_named_but_download_not_a_zip(settings, server):
    url = server.add("/x.csv", (200, BODY))
    with pytest.raises(ResolveError, match="download is not a zip"):
        resolver(settings).resolve(entry({"id": "r1", "url": url, "archive_member": "x.csv"}))
    assert store_files(settings) == []


# Half-written and out-of-date store copies ------------------------------------------------------
def _damage_missing_provenance(folder: Path) -> None:
    (folder / "provenance.json").unlink()


def _damage_truncated_file(folder: Path) -> None:
    data = (folder / "x.csv").read_bytes()
    (folder / "x.csv").write_bytes(data[: len(data) // 2])


def _damage_same_size_other_bytes(folder: Path) -> None:
    path = folder / "x.csv"
    st = path.stat()
    path.write_bytes(b"#" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def _damage_half_written_provenance(folder: Path) -> None:
    text = (folder / "provenance.json").read_text()
    (folder / "provenance.json").write_text(text[: len(text) // 2])


def _damage_incomplete_provenance(folder: Path) -> None:
    data = json.loads((folder / "provenance.json").read_text())
    del data["sha256"]
    (folder / "provenance.json").write_text(json.dumps(data))


@pytest.mark.parametrize("damage", [_damage_missing_provenance, _damage_truncated_file,
                                    _damage_same_size_other_bytes, _damage_half_written_provenance,
                                    _damage_incomplete_provenance])
def test_half_written_store_copy_is_not_used_and_is_downloaded_again(settings, server, damage):
    url = server.add("/x.csv", (200, BODY))
    e = entry({"id": "r1", "url": url})
    resolver(settings).resolve(e)
    folder = settings.store_dir / "test-data" / "r1"
    damage(folder)
    report = resolver(settings).where(e)
    assert report["store"]["ok"] is False and report["available"] == "download"
    with pytest.raises(ResolveError, match="not in the store|store copy is damaged"):
        resolver(settings.with_(offline=True)).resolve(e)
    got = resolver(settings).resolve(e)
    assert got.origin == "download" and server.hits["/x.csv"] == 2
    assert (folder / "x.csv").read_bytes() == BODY
    assert read_provenance(folder).sha256 == SHA


def test_store_copy_from_another_url_is_out_of_date(settings, server):
    old = server.add("/v1/x.csv", (200, b"old"))
    new = server.add("/v2/x.csv", (200, BODY))
    resolver(settings).resolve(entry({"id": "r1", "url": old}))
    got = resolver(settings).resolve(entry({"id": "r1", "url": new}))
    assert got.origin == "download" and got.path.read_bytes() == BODY
    with pytest.raises(ResolveError, match="out of date"):
        resolver(settings.with_(offline=True)).resolve(entry({"id": "r1", "url": old}))


def test_fetch_force_downloads_again_and_keeps_the_old_copy_if_that_fails(settings, server):
    url = server.add("/x.csv", (200, BODY))
    e = entry({"id": "r1", "url": url})
    r = resolver(settings)
    r.resolve(e)
    assert r.fetch(e).origin == "store" and server.hits["/x.csv"] == 1
    assert r.fetch(e, force=True).origin == "download" and server.hits["/x.csv"] == 2
    server.add("/x.csv", (500, b"down"))
    with pytest.raises(ResolveError, match="HTTP 500"):
        r.fetch(e, force=True)
    assert r.resolve(e).origin == "store"  # the previous good copy is intact


# Nothing available -----------------------------------------------------------------------------
def test_offline_with_nothing_available_names_what_was_tried(tmp_path):
    data = tmp_path / "x" / "y"
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)
    e = entry({"id": "r1", "local_path": "lsoa.csv", "url": "https://example.org/lsoa.csv"},
              id="london-lsoa-2021")
    with pytest.raises(ResolveError) as info:
        resolver(settings).resolve(e)
    message = str(info.value)
    assert message == (f"london-lsoa-2021/r1: not in the local data folder ({data / 'lsoa.csv'} missing), "
                       "not in the store, and downloads are off (offline)")
    assert info.value.dataset_id == "london-lsoa-2021" and info.value.resource_id == "r1"
    assert len(info.value.tried) == 3
    report = resolver(settings).where(e)
    assert report["available"] is None and report["message"] == message
    assert report["local"]["path"] == str(data / "lsoa.csv")


def test_closed_dataset_without_url_says_how_to_get_access(settings):
    e = entry({"id": "r1", "local_path": "x.csv"}, access_level="closed",
              access_note="Ask the GLA data team")
    with pytest.raises(ResolveError, match=r"no download URL \(access is closed: Ask the GLA data team\)"):
        resolver(settings).resolve(e)


def test_unknown_resource_id_is_a_resolve_error(settings):
    with pytest.raises(ResolveError, match="test-data/r9: dataset 'test-data' has no resource 'r9'"):
        resolver(settings).resolve(entry({"id": "r1", "url": "https://example.org/x.csv"}), "r9")


def test_where_reports_each_place(data_dir, tmp_path, server):
    settings = Settings(home=tmp_path / "home", data_dir=data_dir, allow_private_urls=True)
    url = server.add("/x.csv", (200, BODY))
    e = entry({"id": "local", "local_path": MSOA, "sidecars": MSOA_SIDECARS},
              {"id": "remote", "url": url})
    r = resolver(settings)
    assert r.where(e, "local")["available"] == "local"
    before = r.where(e, "remote")
    assert before["available"] == "download" and before["store"]["reason"] == "not in the store"
    assert server.total == 0  # where() never downloads
    r.resolve(e, "remote")
    after = r.where(e, "remote")
    assert after["available"] == "store" and after["store"]["ok"] is True


# Provenance ------------------------------------------------------------------------------------
def test_provenance_round_trip_and_with_transformation():
    prov = Provenance(dataset_id="d", resource_id="r", origin="download", path="/s/x.csv",
                      retrieved_at="2024-01-01T00:00:00Z", sha256=SHA, size=10)
    step = prov.with_transformation("reprojected EPSG:27700 → EPSG:4326")
    assert prov.transformations == [] and step.transformations == ["reprojected EPSG:27700 → EPSG:4326"]
    assert Provenance.from_dict(json.loads(json.dumps(step.to_dict()))) == step
    with pytest.raises(ValueError, match="missing field.*sha256"):
        Provenance.from_dict({**prov.to_dict(), "sha256": None})
    with pytest.raises(ValueError, match="origin"):
        Provenance.from_dict({**prov.to_dict(), "origin": "elsewhere"})
