"""London Datastore harvests: the v3 export, the single-dataset answer, and the 531-record snapshot."""

from __future__ import annotations

import json

import pytest

from explorer.catalogue.harvest import harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture()
def registry(tmp_path) -> Registry:
    reg = Registry(tmp_path / "registry.sqlite3")
    yield reg
    reg.close()


def test_v3_export(data_dir, registry, settings):
    source = data_dir / "catalogue" / "lds_api_examples" / "v3_datasets_export.json"
    report = harvest(str(source), registry, settings)
    assert report.kind == "lds"
    assert report.added == ["2xxx0"] and not report.rejected
    entry = registry.get("2xxx0")
    assert entry.title == "Mocking API call"
    assert entry.description == "Mocking API call"          # <p> … </p> converted
    assert entry.publisher == "Greater London Authority"
    assert entry.themes == ["Transport"]
    assert entry.tags == ["visualisation-data"]
    assert entry.access_level == "open"
    assert entry.licence == "" and entry.licence_url is None  # licence: null
    assert entry.upstream_url == "https://data.london.gov.uk/dataset/ldndatar2-test-fetch-all-api-metadata-2xxx0"
    assert entry.created == "2001-01-01"
    assert entry.source == "lds:v3_datasets_export.json"
    (res,) = entry.resources
    assert res.id == "b71acf1c-1fc4-4aea-9e6b-22b8996741ee"
    assert res.url == "https://data.london.gov.uk/download/ldndatar2-test-fetch-all-api-metadata-2xxx0"
    assert res.format == "json"                               # from the file name: the URL has no suffix
    assert res.size == 2000
    assert res.checksum == "md5:2398a191402fb1adaf4816b735e55fd6"


def test_single_dataset_with_resources_keyed_by_id(data_dir, registry, settings):
    source = data_dir / "catalogue" / "lds_api_examples" / "dataset_test-dataset.json"
    report = harvest(str(source), registry, settings)
    assert report.kind == "lds" and report.added == ["test-dataset"]
    entry = registry.get("test-dataset")
    assert [r.id for r in entry.resources] == ["res-abc-1", "res-abc-2"]
    assert [r.size for r in entry.resources] == [12345, 23456]  # check_size when size is absent
    assert entry.formats == ["csv"]
    assert entry.updated == "2020-06-15"
    assert entry.themes == ["transport"]


def _export_from_snapshot(records: list[dict]) -> list[dict]:
    """The 531-record snapshot rewritten in the shape of /api/v3/datasets/export.json."""
    out = []
    for rec in records:
        out.append({
            "webpage": rec.get("landing_page"),
            "id": rec["id"],
            "title": rec["title"],
            "description": "<p>" + rec["summary"].replace("\n", "</p><p>") + "</p>",
            "createdAt": rec.get("metadata_created"),
            "updatedAt": rec.get("metadata_modified"),
            "sharing": "public",
            "masthead": {"id": "pub", "title": rec["publisher"]} if rec["publisher"] else None,
            "team": None,
            "topics": [],
            "tags": rec["tags"],
            "licence": {"title": rec["license"]} if rec.get("license") else None,
            "custom": {"london_smallest_geography": rec["geospatial_coverage"]["smallest_geography"]},
            "resources": [
                {"id": f"res-{i}", "title": link["title"], "url": link["url"], "format": link["format"],
                 "size": link["size"], "description": "", "hash": None}
                for i, link in enumerate(rec.get("download_links", []))
            ],
        })
    return out


def test_531_record_snapshot_harvest_then_reharvest(data_dir, tmp_path, registry, settings):
    snapshot = json.loads((data_dir / "catalogue" / "london_datastore_records_531.json").read_text("utf-8"))
    records = snapshot["records"]
    assert len(records) == 531
    export = _export_from_snapshot(records)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), "utf-8")

    report = harvest(str(path), registry, settings)
    assert report.rejected == []
    assert len(report.added) == 531 and registry.count() == 531
    assert report.summary().splitlines()[0].endswith("531 added, 0 updated, 0 unchanged, 0 rejected")

    # Spot checks against the snapshot itself.
    by_id = {r["id"]: r for r in records}
    climate = registry.get("590a51e9-2600-4323-a8a8-848d1408ce85")
    assert climate.title == by_id[climate.id]["title"]
    assert climate.smallest_geography == "msoa"  # "Middle Super Output Area"
    assert climate.extras["smallest_geography_label"] == "Middle Super Output Area"
    assert "<" not in climate.description.replace("< ", "")
    total_links = sum(len(r.get("download_links", [])) for r in records)
    assert sum(len(registry.get(i).resources) for i in list(by_id)[:40]) == \
        sum(len(by_id[i].get("download_links", [])) for i in list(by_id)[:40])
    assert total_links > 7000
    unknown = next(r for r in records for link in r.get("download_links", []) if link["size"] == "Unknown size")
    assert any(res.size is None for res in registry.get(unknown["id"]).resources)

    again = harvest(str(path), registry, settings)
    assert (len(again.added), len(again.updated), len(again.unchanged)) == (0, 0, 531)

    export[7]["title"] = export[7]["title"] + " (revised)"
    path.write_text(json.dumps(export), "utf-8")
    third = harvest(str(path), registry, settings)
    assert third.updated == [export[7]["id"]]
    assert len(third.unchanged) == 530
    assert registry.get(export[7]["id"]).title.endswith("(revised)")


def test_sharing_licence_and_odd_ids(tmp_path, registry, settings):
    records = [
        {"id": "shared-one", "title": "Shared", "sharing": "shared", "contact": "data@example.org",
         "licence": {"title": "UK Open Government Licence (OGL v3)",
                     "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"},
         "team": {"id": "t", "title": "Intelligence Unit"}, "resources": []},
        {"id": "private-one", "title": "Private", "sharing": "private", "resources": []},
        {"id": "Odd Id/With Spaces", "title": "Odd", "sharing": "public", "licence": "OGL v2",
         "resources": [{"id": "a", "url": "https://example.org/files/data.xlsx", "format": "spreadsheet",
                        "timeframeFrom": "2019-01-01", "timeframeTo": "2019-12-31"},
                       {"id": "b", "url": "https://example.org/files/more.csv",
                        "timeframeFrom": "2018-04-01", "timeframeTo": "2020-03-31"}]},
    ]
    path = tmp_path / "lds.json"
    path.write_text(json.dumps(records), "utf-8")
    report = harvest(str(path), registry, settings, kind="lds")
    assert not report.rejected
    shared = registry.get("shared-one")
    assert shared.access_level == "shared" and "data@example.org" in shared.access_note
    assert shared.licence == "UK Open Government Licence (OGL v3)"
    assert shared.licence_url.startswith("https://www.nationalarchives.gov.uk/")
    assert shared.publisher == "Intelligence Unit"
    private = registry.get("private-one")
    assert private.access_level == "closed" and private.access_note
    odd = registry.get("odd-id-with-spaces")
    assert odd is not None and odd.extras["lds_id"] == "Odd Id/With Spaces"
    assert odd.licence == "OGL v2"
    assert [r.format for r in odd.resources] == ["xlsx", "csv"]  # vague "spreadsheet" → suffix
    assert (odd.temporal_start, odd.temporal_end) == ("2018-04-01", "2020-03-31")


def test_lds_description_html_made_safe(tmp_path, registry, settings):
    records = [{"id": "x1", "title": "Unsafe", "sharing": "public",
                "description": '<p>Intro</p><script>alert(1)</script><img src=x onerror="alert(2)">'
                               '<a href="javascript:alert(3)">link</a>',
                "resources": []}]
    path = tmp_path / "lds.json"
    path.write_text(json.dumps(records), "utf-8")
    harvest(str(path), registry, settings)
    entry = registry.get("x1")
    assert entry.description == "Intro\n\nlink"
