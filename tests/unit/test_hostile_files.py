"""Bad-input corpus, file side (issue 13 items 2, 3, 9, 11): VRT files in disguise, GDAL's
network and file systems, decompression bombs in every container, CRS that lie, symbolic links.

Every file is built here in ``tmp_path``. Each case checks the clear error (naming the file and
the reason or limit) and, for bombs, that memory stayed far below what the bomb expands to.
"""

from __future__ import annotations

import gzip
import json
import os
import tracemalloc
from pathlib import Path

import pyogrio
import pytest

from explorer.data import archive
from explorer.data.loaders import LoadError, load_file, validate_file
from explorer.catalogue.models import Entry, Resource
from explorer.data.resolver import ResolveError, Resolver
from explorer.settings import Settings

from ..hostile import GOOD_CSV, gzip_zeros, vrt, write, zeros_zip, zip_bytes

LIMIT = 20 * 1024 * 1024          # EXPLORER_MAX_DOWNLOAD_BYTES for these tests
BOMB = 64 * 1024 * 1024           # what one bomb member expands to


@pytest.fixture
def limited(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_DOWNLOAD_BYTES", str(LIMIT))


@pytest.fixture
def server(local_server):
    local_server.add("/x.csv", (200, {}, GOOD_CSV))
    return local_server


def resource(fmt: str, **kw) -> Resource:
    return Resource(id="r1", format=fmt, **kw)


# VRT and other files in disguise -----------------------------------------------------------------
def disguises(server_port: int) -> dict[str, bytes]:
    passwd = vrt("CSV:/etc/passwd", "passwd").encode()
    remote = vrt(f"/vsicurl/http://127.0.0.1:{server_port}/x.csv").encode()
    return {
        "passwd.geojson": passwd,
        "passwd.kml": b'<?xml version="1.0" encoding="UTF-8"?>\n' + passwd,
        "remote.geojson": remote,
        "remote.kml": remote,
        "remote.gml": remote,
        "passwd.shp": passwd,
        "passwd.gpkg": passwd,
        "passwd.fgb": passwd,
        "passwd.tab": passwd,
        "spaced.geojson": b"\xef\xbb\xbf  \n\t" + passwd,
        "passwd.geojson.gz": gzip.compress(passwd),
        "passwd.json": passwd,
    }


def test_vrt_files_in_disguise_are_refused_and_read_nothing(tmp_path, server):
    for name, data in disguises(server.port).items():
        path = write(tmp_path / name, data)
        with pytest.raises(LoadError) as info:
            load_file(path)
        message = str(info.value)
        assert message.startswith(name), message
        assert "root:" not in message and "/etc/passwd" not in message.replace(str(path), "")
        # a download with the same content never replaces a stored copy
        with pytest.raises(LoadError):
            validate_file(path)
    assert server.total == 0


def test_vrt_in_a_zip_member_or_a_kmz_is_refused(tmp_path, server):
    remote = vrt(f"/vsicurl/http://127.0.0.1:{server.port}/x.csv").encode()
    for name in ("data.zip", "map.kmz", "renamed.jar"):
        path = write(tmp_path / name, zip_bytes({"doc.kml": remote, "layer.geojson": remote}))
        with pytest.raises(LoadError, match=r"VRT|not a readable"):
            load_file(path)
    assert server.total == 0


def test_gdal_has_no_vrt_no_network_file_systems_and_no_http(tmp_path, server):
    from explorer.data.loaders._safety import harden_gdal

    harden_gdal()
    drivers = set(pyogrio.list_drivers())
    assert "OGR_VRT" not in drivers and "CSV" not in drivers and "WFS" not in drivers
    assert {"GeoJSON", "GPKG", "ESRI Shapefile"} <= drivers
    for path in (f"/vsicurl/http://127.0.0.1:{server.port}/x.csv",
                 f"/vsicurl_streaming/http://127.0.0.1:{server.port}/x.csv",
                 f"http://127.0.0.1:{server.port}/x.csv", "/etc/passwd",
                 f"/vsisparse/{write(tmp_path / 's.xml', '<VSISparseFile/>')}"):
        with pytest.raises(Exception):  # noqa: B017 - whatever pyogrio raises, nothing is read
            pyogrio.read_dataframe(path)
    # a GeoJSON whose CRS is a link: GDAL's own HTTP client is answered "refused", no socket opens
    linked = {"type": "FeatureCollection",
              "crs": {"type": "link", "properties": {"href": server.url("/crs"), "type": "proj4"}},
              "features": [{"type": "Feature", "properties": {"a": 1},
                            "geometry": {"type": "Point", "coordinates": [-0.1, 51.5]}}]}
    try:
        load_file(write(tmp_path / "linked.geojson", json.dumps(linked)))
    except LoadError:
        pass
    assert server.total == 0


def test_gdal_virtual_paths_are_refused_by_the_loader(server):
    for text in (f"/vsicurl/http://127.0.0.1:{server.port}/x.csv", "/vsizip//etc/x.zip/a.shp",
                 "/VSIGZIP//etc/passwd"):
        with pytest.raises(LoadError, match="not a plain file path"):
            load_file(Path(text))
    assert server.total == 0


def test_html_error_page_is_not_read_as_csv(tmp_path):
    path = write(tmp_path / "data.csv", b"<!DOCTYPE HTML>\n<html><body>Error</body></html>\n" * 5)
    with pytest.raises(LoadError, match=r"data\.csv: .*web page \(HTML\)"):
        load_file(path, resource("csv"))


# Decompression bombs ----------------------------------------------------------------------------
def bombs(tmp_path: Path) -> dict[str, Path]:
    flat = zeros_zip("data.csv", BOMB)
    inner = zeros_zip("inner.csv", 12 * 1024 * 1024)          # below the ratio floor per level…
    nested = zip_bytes({f"part{i}.zip": inner for i in range(4)})   # …but 48 MB in all
    deeper = zip_bytes({"level1.zip": zip_bytes({"level2.zip": flat})})
    return {
        "flat.zip": write(tmp_path / "flat.zip", flat),
        "nested.zip": write(tmp_path / "nested.zip", nested),
        "deeper.zip": write(tmp_path / "deeper.zip", deeper),
        "map.kmz": write(tmp_path / "map.kmz", zeros_zip("doc.kml", BOMB)),
        "tool.jar": write(tmp_path / "tool.jar", flat),
        "sheet.xlsx": write(tmp_path / "sheet.xlsx", zip_bytes({"[Content_Types].xml": b"<x/>",
                                                                 "xl/worksheets/s.zip": flat})),
        "renamed.csv": write(tmp_path / "renamed.csv", flat),
        "data.csv.gz": write(tmp_path / "data.csv.gz", gzip_zeros(BOMB)),
        "sheet.ods": write(tmp_path / "sheet.ods", zeros_zip("content.xml", BOMB)),
    }


def test_every_container_bomb_is_refused_naming_the_file_and_the_limit(tmp_path, limited):
    for name, path in bombs(tmp_path).items():
        tracemalloc.start()
        try:
            with pytest.raises(LoadError) as info:
                load_file(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        message = str(info.value)
        assert message.startswith(name), message
        assert ("EXPLORER_MAX_DOWNLOAD_BYTES" in message or "100:1" in message
                or "nested more than" in message), message
        assert "decompression bomb" in message or "nested" in message, message
        assert peak < LIMIT, f"{name}: {peak:,} bytes held"   # never the expansion in memory


def test_check_container_is_the_one_gate_for_readers(tmp_path):
    paths = bombs(tmp_path)
    with pytest.raises(archive.ArchiveError, match=r"sheet\.xlsx: .*decompression bomb"):
        archive.check_container(paths["sheet.xlsx"], max_bytes=LIMIT, max_ratio=100)
    with pytest.raises(archive.ArchiveError, match=r"shown name: .*more than 20,971,520 bytes"):
        archive.check_container(paths["nested.zip"], max_bytes=LIMIT, max_ratio=10_000,
                                label="shown name")
    ok = write(tmp_path / "fine.kmz", zip_bytes({"doc.kml": b"<kml/>" * 1000}))
    assert archive.check_container(ok, max_bytes=LIMIT, max_ratio=100) is None
    assert archive.check_container(write(tmp_path / "plain.csv", GOOD_CSV),
                                   max_bytes=10, max_ratio=1) is None


def test_a_bomb_in_the_local_data_folder_is_bounded_too(tmp_path, limited):
    data = tmp_path / "data"
    write(data / "stats" / "big.zip", zeros_zip("data.csv", BOMB))
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)
    entry = Entry(id="bomb", title="Bomb", resources=[Resource(id="r1", local_path="stats/big.zip",
                                                               format="zip")])
    resolved = Resolver(settings, progress=False).resolve(entry)
    with pytest.raises(LoadError, match=r"big\.zip: .*decompression bomb"):
        load_file(resolved.path, entry.resources[0])


def test_gzip_text_is_decompressed_within_the_limits(tmp_path, limited):
    from explorer.data.loaders._safety import gunzip_bounded

    with pytest.raises(LoadError, match="decompression bomb"):
        gunzip_bounded(gzip_zeros(BOMB), "x.csv.gz")
    assert gunzip_bounded(gzip.compress(GOOD_CSV) + gzip.compress(b"more\n"), "x") == GOOD_CSV + b"more\n"


# Item 9: zips that the resolver has extracted load --------------------------------------------
@pytest.mark.parametrize("fields", [{"format": "zip"}, {"archive_member": "folder/data.csv"},
                                    {"format": "zip", "archive_member": "folder/data.csv"}])
def test_a_downloaded_zip_resource_loads_after_extraction(tmp_path, server, fields):
    url = server.add("/pack.zip", (200, {}, zip_bytes({"folder/data.csv": GOOD_CSV,
                                                       "readme.txt": b"read me"})))
    settings = Settings(home=tmp_path / "home", allow_private_urls=True)
    res = Resource(id="r1", url=url, **fields)
    entry = Entry(id="zipped", title="Zipped", resources=[res])
    resolved = Resolver(settings, progress=False).resolve(entry)
    # the named member is extracted; without a name, a zip holding several files is kept whole
    assert resolved.path.name == ("data.csv" if res.archive_member else "pack.zip")
    loaded = load_file(resolved.path, res)
    assert loaded.rows == 400 and list(loaded.frame.columns[:2]) == ["LSOA21CD", "value"]


# Item 11: a CRS that lies -------------------------------------------------------------------------
def test_lon_lat_declared_as_british_national_grid_is_read_as_lon_lat_with_a_warning(tmp_path):
    features = [{"type": "Feature", "properties": {"n": i},
                 "geometry": {"type": "Point", "coordinates": [-0.12 + i * 0.01, 51.5 + i * 0.01]}}
                for i in range(6)]
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
           "features": features}
    loaded = load_file(write(tmp_path / "sites.geojson", json.dumps(doc)))
    minx, miny, maxx, maxy = loaded.frame.total_bounds
    assert -0.13 < minx < maxx < -0.06 and 51.49 < miny < maxy < 51.56   # London, not one point
    assert loaded.frame.geometry.nunique() == 6
    warning = [t for t in loaded.transformations if t.startswith("warning")]
    assert warning and "EPSG:27700" in warning[0] and "longitude/latitude" in warning[0]


def test_real_british_national_grid_is_still_reprojected(tmp_path):
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
           "features": [{"type": "Feature", "properties": {},
                         "geometry": {"type": "Point", "coordinates": [530000, 180000]}}]}
    loaded = load_file(write(tmp_path / "bng.geojson", json.dumps(doc)))
    assert loaded.source_crs == "EPSG:27700"
    assert not [t for t in loaded.transformations if t.startswith("warning")]


# Item 11: symbolic links the operator placed in the data folder -------------------------------
def _entry(local_path: str) -> Entry:
    return Entry(id="linked", title="Linked", resources=[Resource(id="r1", local_path=local_path)])


def test_symbolic_links_in_the_data_folder(tmp_path):
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    write(data / "real" / "x.csv", GOOD_CSV)
    write(elsewhere / "y.csv", GOOD_CSV)
    (data / "inside.csv").symlink_to(data / "real" / "x.csv")
    (data / "outside.csv").symlink_to(elsewhere / "y.csv")
    (data / "linked-folder").symlink_to(elsewhere, target_is_directory=True)
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)

    # a link that stays inside the data folder is followed
    got = Resolver(settings, progress=False).resolve(_entry("inside.csv"))
    assert got.origin == "local" and got.path.read_bytes() == GOOD_CSV

    # links leading out are refused, and the message names the link and says why
    for local_path, what in (("outside.csv", "file 'outside.csv'"),
                             ("linked-folder/y.csv", "folder 'linked-folder'")):
        with pytest.raises(ResolveError) as info:
            Resolver(settings, progress=False).resolve(_entry(local_path))
        message = str(info.value)
        assert f"the {what} in it is a symbolic link" in message, message
        assert "EXPLORER_DATA_LINKS_TO" in message and str(elsewhere) not in message

    # …unless the operator names the folder they lead to
    allowed = Settings(home=tmp_path / "home", data_dir=data, offline=True,
                       data_links_to=str(elsewhere))
    for local_path in ("outside.csv", "linked-folder/y.csv"):
        got = Resolver(allowed, progress=False).resolve(_entry(local_path))
        assert got.path.read_bytes() == GOOD_CSV


def test_special_files_in_the_data_folder_are_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / "pipe.csv")                 # reading it would wait for ever
    (data / "folder.csv").mkdir()
    settings = Settings(home=tmp_path / "home", data_dir=data, offline=True)
    for name in ("pipe.csv", "folder.csv"):
        with pytest.raises(ResolveError, match="not a regular file"):
            Resolver(settings, progress=False).resolve(_entry(name))


# No false alarms ----------------------------------------------------------------------------------
def test_every_real_data_file_passes_the_checks_a_download_must_pass(data_dir):
    from explorer.catalogue.models import guess_format

    sidecars = {".dbf", ".shx", ".prj", ".cpg", ".dat", ".id", ".map", ".ind", ".md", ".txt"}
    checked, refused = 0, []
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() in sidecars or not guess_format(path.name):
            continue
        checked += 1
        try:
            validate_file(path)
        except LoadError as exc:
            refused.append(str(exc))
    assert checked > 50 and refused == []


def test_refresh_reasons_read_as_plain_words():
    from explorer.data.resolver import refresh_summary

    assert refresh_summary("x: HTTP 503 Service Unavailable (gave up after 3 attempt(s))") == \
        "the source's server answered with an error"
    assert refresh_summary("x: HTTP 429 Too Many Requests") == "the source's server was too busy"
    assert refresh_summary("x: took longer than 120 s in all, the limit on one download "
                           "(EXPLORER_DOWNLOAD_DEADLINE); stopped") == \
        "the source took too long to send the file"
    assert refresh_summary("x: ConnectionError: [Errno 111] Connection refused (gave up after "
                           "3 attempt(s))") == "the source could not be reached"
    assert refresh_summary("http://10.0.0.1/x: refused: 'http://10.0.0.1/x': 10.0.0.1 is a private "
                           "or loopback address") == "the new address was refused for safety"
    assert refresh_summary(None) == "reason not recorded"
