"""CKAN harvests: paging a live action API (a local server), saved answers, DfL Library extras."""

from __future__ import annotations

import copy
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from explorer.catalogue.harvest import HarvestError, harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings


class CkanApi:
    """A tiny CKAN action API, served by the one local server: package_search from a list of
    packages; ``fail_next`` statuses are answered first, ``truncate_start`` cuts that page in half."""

    def __init__(self, server, packages: list[dict]):
        self.packages = packages
        self.requests: list[dict] = []
        self.fail_next: list[int] = []
        self.truncate_start: int | None = None
        server.add("*", self._answer)
        self.url = server.url()

    def _answer(self, handler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append({"path": parts.path, "query": query, "ua": handler.headers.get("User-Agent")})
        status, data = 200, b""
        if self.fail_next:
            status = self.fail_next.pop(0)
        elif parts.path != "/api/3/action/package_search":
            status = 404
        else:
            rows, start = int(query.get("rows", 10)), int(query.get("start", 0))
            page = self.packages[start:start + rows]
            data = json.dumps({"success": True, "result": {"count": len(self.packages), "results": page}}).encode()
            if self.truncate_start is not None and start == self.truncate_start:
                data = data[: len(data) // 2]
        handler.send_response(status)
        if data:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture()
def demo_packages(data_dir) -> list[dict]:
    doc = json.loads((data_dir / "catalogue" / "ckan_api_examples" / "demo.ckan.org_packages.json").read_text("utf-8"))
    return doc["result"]["results"]


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", allow_private_urls=True, http_timeout=5, http_retries=2)


@pytest.fixture()
def registry():
    reg = Registry(":memory:")
    yield reg
    reg.close()


@pytest.fixture()
def server(demo_packages, local_server):
    return CkanApi(local_server, copy.deepcopy(demo_packages))


def test_pages_through_package_search(server, registry, settings):
    report = harvest(server.url + "/api/3/action/", registry, settings, page_size=2)
    assert report.kind == "ckan"
    assert len(report.added) == 3 and not report.rejected
    searches = [r for r in server.requests if r["path"] == "/api/3/action/package_search"]
    assert [(r["query"]["rows"], r["query"]["start"]) for r in searches] == [("2", "0"), ("2", "2")]
    assert all(r["ua"] == "london-data-explorer/0.1" for r in server.requests)
    entry = registry.get("100-validated-species-of-plants")
    assert entry.title == "100 Validated Species of Plants"
    assert entry.extras["ckan_id"] == "62513382-3b26-4bc8-9096-40b6ce8383c0"
    assert entry.tags == ["flower", "image recognition", "machine learning"]
    assert entry.licence == "Other (Open)"
    assert entry.publisher == "TKKIM"             # no organization: the author
    assert entry.source == "ckan:127.0.0.1"
    assert entry.upstream_url == f"{server.url}/dataset/100-validated-species-of-plants"
    (res,) = entry.resources
    assert res.format == "csv" and res.checksum is None  # CKAN hash "" → no checksum
    assert res.title == "validated_100_species.csv"


def test_site_root_url_is_an_api_base(server, registry, settings):
    report = harvest(server.url, registry, settings, page_size=100)
    assert len(report.added) == 3
    assert len(server.requests) == 1 and server.requests[0]["path"] == "/api/3/action/package_search"


def test_retries_5xx_then_succeeds(server, registry, settings):
    server.fail_next = [503]
    report = harvest(server.url + "/api/3/action/", registry, settings)
    assert len(report.added) == 3
    assert len(server.requests) == 2


def test_gives_up_after_retries_and_writes_nothing(server, registry, settings):
    server.fail_next = [502, 502]
    with pytest.raises(HarvestError) as info:
        harvest(server.url + "/api/3/action/", registry, settings.with_(http_retries=2))
    assert server.url in str(info.value) and "502" in str(info.value)
    assert registry.count() == 0


def test_broken_second_page_writes_nothing(server, registry, settings):
    server.truncate_start = 2
    with pytest.raises(HarvestError) as info:
        harvest(server.url + "/api/3/action/", registry, settings, page_size=2)
    assert "start=2" in str(info.value) and "JSON" in str(info.value)
    assert registry.count() == 0


def test_http_404_is_a_harvest_error(server, registry, settings):
    server.fail_next = [404]
    with pytest.raises(HarvestError, match="404"):
        harvest(server.url + "/api/3/action/", registry, settings)


def test_loopback_source_refused_by_default(server, registry, tmp_path):
    with pytest.raises(HarvestError, match="private or loopback"):
        harvest(server.url + "/api/3/action/", registry, Settings(home=tmp_path / "h"))
    assert server.requests == []


def test_response_size_cap(server, registry, settings):
    with pytest.raises(HarvestError, match="EXPLORER_MAX_DOWNLOAD_BYTES"):
        harvest(server.url + "/api/3/action/", registry, settings.with_(max_download_bytes=500))
    assert registry.count() == 0


def test_saved_package_show_file(data_dir, registry, settings):
    path = data_dir / "catalogue" / "ckan_api_examples" / "demo.ckan.org_62513382-3b26-4bc8-9096-40b6ce8383c0.json"
    report = harvest(str(path), registry, settings)
    assert report.kind == "ckan" and report.added == ["100-validated-species-of-plants"]
    assert registry.get("100-validated-species-of-plants").source.startswith("ckan:demo.ckan.org_")


def test_saved_package_list_names_only_is_refused(data_dir, registry, settings):
    path = data_dir / "catalogue" / "ckan_api_examples" / "demo.ckan.org_package_list.json"
    with pytest.raises(HarvestError, match="package_list"):
        harvest(str(path), registry, settings)


def _dfl_package(base: dict, **changes) -> dict:
    pkg = copy.deepcopy(base)
    pkg.update(changes)
    return pkg


def test_dfl_library_extras_kept_and_mapped(demo_packages, tmp_path, registry, settings):
    base = demo_packages[0]
    as_extras = _dfl_package(base, name="dfl-as-extras", id="a1", extras=[
        {"key": "update_frequency", "value": "Annually"},
        {"key": "london_smallest_geography", "value": "Lower Super Output Area"},
        {"key": "data_quality", "value": "4"},
        {"key": "archived", "value": "true"},
        {"key": "upstream_url", "value": "https://www.ons.gov.uk/some/dataset"},
        {"key": "units", "value": "people"},
    ], organization={"name": "gla", "title": "Greater London Authority"})
    top_level = _dfl_package(base, name="dfl-top-level", id="a2", update_frequency="monthly",
                             london_smallest_geography="Ward", data_quality=2.5, archived=False,
                             private=True)
    doc = {"success": True, "result": {"count": 2, "results": [as_extras, top_level]}}
    path = tmp_path / "search.json"
    path.write_text(json.dumps(doc), "utf-8")
    report = harvest(str(path), registry, settings)
    assert report.added == ["dfl-as-extras", "dfl-top-level"] and not report.rejected

    one = registry.get("dfl-as-extras")
    assert one.update_frequency == "annual"
    assert one.smallest_geography == "lsoa"
    assert one.quality_score == 4.0
    assert one.archived is True
    assert one.upstream_url == "https://www.ons.gov.uk/some/dataset"
    assert one.publisher == "Greater London Authority"
    assert one.extras["units"] == "people"
    for key in ("update_frequency", "london_smallest_geography", "data_quality", "archived", "upstream_url"):
        assert key in one.extras
    assert one.access_level == "open"

    two = registry.get("dfl-top-level")
    assert (two.update_frequency, two.smallest_geography, two.quality_score, two.archived) == ("monthly", "ward", 2.5, False)
    assert two.extras["london_smallest_geography"] == "Ward"
    assert two.access_level == "closed" and "Private" in two.access_note


def test_bad_dfl_quality_rejected_with_field(demo_packages, tmp_path, registry, settings):
    good = _dfl_package(demo_packages[1])
    bad = _dfl_package(demo_packages[0], extras=[{"key": "data_quality", "value": "excellent"}])
    path = tmp_path / "search.json"
    path.write_text(json.dumps({"success": True, "result": {"count": 2, "results": [bad, good]}}), "utf-8")
    report = harvest(str(path), registry, settings)
    assert [(r.entry, r.field) for r in report.rejected] == [("100-validated-species-of-plants", "data_quality")]
    assert registry.count() == 1


def test_ckan_error_answer(tmp_path, registry, settings):
    path = tmp_path / "err.json"
    path.write_text(json.dumps({"success": False, "error": {"message": "Not found", "__type": "Not Found Error"}}))
    with pytest.raises(HarvestError, match="Not found"):
        harvest(str(path), registry, settings, kind="ckan")
