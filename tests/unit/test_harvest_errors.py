"""Rejections, unreadable sources, private URLs, transactions and the report."""

from __future__ import annotations

import json

import pytest

from explorer.catalogue.harvest import HarvestError, HarvestReport, Rejection, harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings



@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture()
def registry(tmp_path):
    reg = Registry(tmp_path / "registry.sqlite3")
    yield reg
    reg.close()


def good(i: int, **changes) -> dict:
    record = {"id": f"ds-{i}", "title": f"Dataset {i}", "sharing": "public",
              "resources": [{"id": "r1", "title": "file", "url": f"https://data.london.gov.uk/download/ds-{i}/file.csv"}]}
    record.update(changes)
    return record


def write(tmp_path, records, name="export.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(records), "utf-8")
    return str(path)


def test_malformed_entries_rejected_with_field_others_stored(tmp_path, registry, settings):
    records = [
        good(1),
        good(2, title=None),
        good(3, title=["not", "text"]),
        {"title": "No id", "sharing": "public"},
        good(5, resources="not a list"),
        good(6, resources=[{"id": "x", "url": "ftp://example.org/a.csv"}]),
        good(7, resources=[{"id": "x", "url": "javascript:alert(1)"}]),
        good(8, resources=[{"id": "x", "url": "https://example.org/a.csv", "size": "lots"}]),
        good(9, createdAt="the day before yesterday"),
        good(10, tags={"a": 1}),
        "not an object",
        good(12),
    ]
    report = harvest(write(tmp_path, records), registry, settings)
    assert report.added == ["ds-1", "ds-12"]
    got = {(r.entry, r.field) for r in report.rejected}
    assert got == {
        ("ds-2", "title"), ("ds-3", "title"), ("#3", "id"), ("ds-5", "resources"),
        ("ds-6", "resources[0].url"), ("ds-7", "resources[0].url"), ("ds-8", "resources[0].size"),
        ("ds-9", "created"), ("ds-10", "tags"), ("#10", "entry"),
    }
    assert registry.count() == 2
    reasons = {r.entry: r.reason for r in report.rejected}
    assert "expected text, got list" in reasons["ds-3"]
    assert "lots" in reasons["ds-8"]
    summary = report.summary().splitlines()
    assert summary[0].endswith("2 added, 0 updated, 0 unchanged, 10 rejected")
    assert len(summary) == 11 and any("ds-9" in line and "created" in line for line in summary)


@pytest.mark.parametrize("url", ["http://127.0.0.1/data.csv", "http://10.0.0.1/", "http://[::1]:8080/x",
                                 "http://localhost/x.csv", "http://169.254.169.254/latest/meta-data"])
def test_private_resource_urls_rejected_by_default(tmp_path, registry, settings, url):
    records = [good(1), good(2, resources=[{"id": "r", "url": url}])]
    report = harvest(write(tmp_path, records), registry, settings)
    assert report.added == ["ds-1"]
    (rej,) = report.rejected
    assert (rej.entry, rej.field) == ("ds-2", "resources[0].url")
    assert "private" in rej.reason or "local machine" in rej.reason
    assert registry.get("ds-2") is None


def test_private_resource_urls_allowed_when_configured(tmp_path, registry, settings):
    records = [good(2, resources=[{"id": "r", "url": "http://10.0.0.1/data.csv"}])]
    report = harvest(write(tmp_path, records), registry, settings.with_(allow_private_urls=True))
    assert report.added == ["ds-2"] and not report.rejected


def test_rejected_entry_never_overwrites_stored_one(tmp_path, registry, settings):
    harvest(write(tmp_path, [good(1), good(2)]), registry, settings)
    broken = [good(1, title=""), good(2, resources=[{"id": "r", "url": "http://127.0.0.1/x"}])]
    report = harvest(write(tmp_path, broken, "broken.json"), registry, settings)
    assert len(report.rejected) == 2 and report.stored == 0
    assert registry.get("ds-1").title == "Dataset 1"
    assert registry.get("ds-2").resources[0].url.startswith("https://data.london.gov.uk/")


def test_truncated_json_raises_naming_file_and_keeps_registry(tmp_path, registry, settings):
    harvest(write(tmp_path, [good(1), good(2)]), registry, settings)
    text = json.dumps([good(3), good(4)])
    path = tmp_path / "truncated-export.json"
    path.write_text(text[: len(text) // 2], "utf-8")
    with pytest.raises(HarvestError) as info:
        harvest(str(path), registry, settings)
    message = str(info.value)
    assert "truncated-export.json" in message and "not valid JSON" in message and "line 1" in message
    assert registry.count() == 2 and registry.get("ds-1").title == "Dataset 1"
    assert registry.get("ds-3") is None


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (b"<html><body>Not found</body></html>", "not valid JSON"),
    (b"42", "cannot tell what kind"),
    (b'{"hello": "world"}', "cannot tell what kind"),
    (b"[]", "empty list"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_unreadable_sources(tmp_path, registry, settings, content, expected):
    path = tmp_path / "weird.json"
    path.write_bytes(content)
    with pytest.raises(HarvestError, match=expected) as info:
        harvest(str(path), registry, settings)
    assert "weird.json" in str(info.value)
    assert registry.count() == 0


def test_missing_file_folder_and_unknown_kind(tmp_path, registry, settings):
    with pytest.raises(HarvestError, match="no such file"):
        harvest(str(tmp_path / "nope.json"), registry, settings)
    with pytest.raises(HarvestError, match="folder"):
        harvest(str(tmp_path), registry, settings)
    with pytest.raises(HarvestError, match="unknown kind 'socrata'"):
        harvest(write(tmp_path, [good(1)]), registry, settings, kind="socrata")
    with pytest.raises(HarvestError, match="only http"):
        harvest("file:///etc/passwd", registry, settings)


def test_wrong_shape_for_explicit_kind(tmp_path, registry, settings):
    with pytest.raises(HarvestError, match="not a DCAT catalogue"):
        harvest(write(tmp_path, [good(1)]), registry, settings, kind="dcat")
    with pytest.raises(HarvestError, match="London Datastore"):
        harvest(write(tmp_path, 12, "n.json"), registry, settings, kind="lds")


def test_crash_midway_rolls_back(tmp_path, registry, settings, monkeypatch):
    harvest(write(tmp_path, [good(1)]), registry, settings)
    real_upsert = registry.upsert
    calls = []

    def flaky(entry):
        calls.append(entry.id)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real_upsert(entry)

    monkeypatch.setattr(registry, "upsert", flaky)
    records = [good(1, title="Changed"), good(2), good(3), good(4)]
    with pytest.raises(RuntimeError):
        harvest(write(tmp_path, records, "more.json"), registry, settings)
    monkeypatch.undo()
    assert registry.count() == 1
    assert registry.get("ds-1").title == "Dataset 1"


def test_duplicate_ids_in_one_source(tmp_path, registry, settings):
    report = harvest(write(tmp_path, [good(1), good(1, title="Again")]), registry, settings)
    assert report.added == ["ds-1"]
    assert [(r.entry, r.field) for r in report.rejected] == [("ds-1", "id")]
    assert registry.get("ds-1").title == "Dataset 1"


def test_progress_and_report_dict(tmp_path, registry, settings):
    seen = []
    report = harvest(write(tmp_path, [good(1), good(2), good(3, title="")]), registry, settings,
                     progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    data = report.to_dict()
    assert data["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert data["rejected"][0] == {"source": "lds:export.json", "entry": "ds-3", "field": "title",
                                   "reason": "missing or empty"}
    json.dumps(data)
    assert isinstance(report, HarvestReport) and isinstance(report.rejected[0], Rejection)


def test_export_over_http_with_redirect(data_dir, registry, settings, local_server):
    body = (data_dir / "catalogue" / "lds_api_examples" / "v3_datasets_export.json").read_bytes()
    server = local_server
    server.add("/old.json", (302, {"Location": "/export.json"}, b""))
    server.add("/export.json", (200, {"Content-Type": "application/json"}, body))
    server.add("/broken.json", (200, body[:300]))
    report = harvest(server.url("/old.json"), registry, settings.with_(allow_private_urls=True))
    assert report.kind == "lds" and report.added == ["2xxx0"]
    assert server.requests == ["/old.json", "/export.json"]
    assert registry.get("2xxx0").source == "lds:127.0.0.1"
    with pytest.raises(HarvestError, match=r"/broken.json: not valid JSON"):
        harvest(server.url("/broken.json"), registry, settings.with_(allow_private_urls=True))
    with pytest.raises(HarvestError, match="404"):
        harvest(server.url("/missing.json"), registry, settings.with_(allow_private_urls=True))
    with pytest.raises(HarvestError, match="offline"):
        harvest(server.url("/export.json"), registry, settings.with_(allow_private_urls=True, offline=True))
    assert registry.count() == 1


def test_every_redirect_hop_is_checked(data_dir, registry, settings, monkeypatch, local_server):
    from explorer.catalogue.harvest import sources
    from explorer.guards.netguard import UnsafeURLError

    body = (data_dir / "catalogue" / "lds_api_examples" / "v3_datasets_export.json").read_bytes()
    server = local_server
    server.add("/start.json", (302, {"Location": "/internal/export.json"}, b""))
    server.add("/internal/export.json", (200, body))
    real_check = sources.check_url

    def strict(url, allow_private=False, **kwargs):
        if "/internal/" in url:  # stands in for a redirect to a private address
            raise UnsafeURLError(f"{url!r}: 10.0.0.5 is a private or loopback address")
        return real_check(url, allow_private=allow_private, **kwargs)

    monkeypatch.setattr(sources, "check_url", strict)
    with pytest.raises(HarvestError, match="refused URL.*internal"):
        harvest(server.url("/start.json"), registry, settings.with_(allow_private_urls=True))
    assert server.requests == ["/start.json"]
    assert registry.count() == 0
