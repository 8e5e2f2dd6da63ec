"""DCAT JSON-LD harvests: prefixed keys, full IRIs, @graph references, compact DCAT-US style."""

from __future__ import annotations

import json

import pytest

from explorer.catalogue.harvest import harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture()
def registry():
    reg = Registry(":memory:")
    yield reg
    reg.close()


def _write(tmp_path, doc, name="catalog.jsonld"):
    path = tmp_path / name
    path.write_text(json.dumps(doc), "utf-8")
    return str(path)


def catalog_prefixed() -> dict:
    return {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                     "foaf": "http://xmlns.com/foaf/0.1/", "spdx": "http://spdx.org/rdf/terms#"},
        "@type": "dcat:Catalog",
        "dct:title": "Borough open data",
        "dcat:dataset": [
            {
                "@id": "https://data.example.gov.uk/dataset/air-quality-sites",
                "@type": "dcat:Dataset",
                "dct:identifier": "air-quality-sites",
                "dct:title": [{"@value": "Sites de qualité de l'air", "@language": "fr"},
                              {"@value": "Air quality monitoring sites", "@language": "en"}],
                "dct:description": "<p>Monitoring sites.</p><script>alert(1)</script>",
                "dct:publisher": {"@type": "foaf:Organization", "foaf:name": "London Borough of Camden"},
                "dct:license": {"@id": "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"},
                "dcat:keyword": ["air quality", "NO2"],
                "dcat:theme": [{"@id": "http://publications.europa.eu/resource/authority/data-theme/ENVI"}],
                "dct:issued": {"@value": "2019-02-01", "@type": "http://www.w3.org/2001/XMLSchema#date"},
                "dct:modified": "2024-03-05T10:00:00Z",
                "dct:temporal": {"@type": "dct:PeriodOfTime", "dcat:startDate": "2015-01-01",
                                 "dcat:endDate": "2023-12-31"},
                "dct:accrualPeriodicity": {"@id": "http://publications.europa.eu/resource/authority/frequency/ANNUAL"},
                "dcat:landingPage": {"@id": "https://data.example.gov.uk/dataset/air-quality-sites"},
                "dcat:distribution": [{
                    "@type": "dcat:Distribution",
                    "dct:title": "Sites (CSV)",
                    "dcat:downloadURL": {"@id": "https://data.example.gov.uk/files/sites"},
                    "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/text/csv"},
                    "dcat:byteSize": {"@value": "20480", "@type": "http://www.w3.org/2001/XMLSchema#decimal"},
                    "spdx:checksum": {"spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                                      "spdx:checksumValue": SHA},
                }],
            },
            {
                "@type": "dcat:Dataset",
                "dct:identifier": "no-title",
                "dct:description": "A dataset without a title",
            },
        ],
    }


def test_prefixed_catalog(tmp_path, registry, settings):
    report = harvest(_write(tmp_path, catalog_prefixed()), registry, settings)
    assert report.kind == "dcat"
    assert report.added == ["air-quality-sites"]
    assert [(r.entry, r.field) for r in report.rejected] == [("no-title", "dct:title")]
    entry = registry.get("air-quality-sites")
    assert entry.title == "Air quality monitoring sites"          # the English literal
    assert entry.description == "Monitoring sites."
    assert entry.publisher == "London Borough of Camden"
    assert entry.licence == "Open Government Licence v3.0"
    assert entry.licence_url == "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    assert entry.tags == ["air quality", "NO2"]
    assert entry.themes == ["Environment"]
    assert (entry.created, entry.updated) == ("2019-02-01", "2024-03-05")
    assert (entry.temporal_start, entry.temporal_end) == ("2015-01-01", "2023-12-31")
    assert entry.update_frequency == "annual"
    assert entry.upstream_url == "https://data.example.gov.uk/dataset/air-quality-sites"
    assert entry.source == "dcat:catalog.jsonld"
    (res,) = entry.resources
    assert res.url == "https://data.example.gov.uk/files/sites"
    assert (res.format, res.size, res.checksum) == ("csv", 20480, f"sha256:{SHA}")
    assert res.title == "Sites (CSV)"


def test_graph_with_references_and_full_iris(tmp_path, registry, settings):
    dct, dcat, foaf = "http://purl.org/dc/terms/", "http://www.w3.org/ns/dcat#", "http://xmlns.com/foaf/0.1/"
    doc = {"@graph": [
        {"@id": "_:cat", "@type": dcat + "Catalog", dcat + "dataset": [{"@id": "https://x.org/ds/1"}]},
        {"@id": "https://x.org/ds/1", "@type": dcat + "Dataset",
         dct + "title": "Street trees", dct + "publisher": {"@id": "https://x.org/org/camden"},
         dct + "license": "https://creativecommons.org/licenses/by/4.0/",
         dct + "temporal": "2016-01-01/2016-12-31",
         dcat + "distribution": [{"@id": "https://x.org/dist/1"}, {"@id": "https://x.org/dist/2"}]},
        {"@id": "https://x.org/org/camden", foaf + "name": "Camden Council"},
        {"@id": "https://x.org/dist/1", dcat + "accessURL": "https://x.org/trees.geojson",
         dct + "format": "GeoJSON"},
        {"@id": "https://x.org/dist/2", dcat + "downloadURL": "https://x.org/trees.zip",
         dcat + "mediaType": "application/zip", dcat + "byteSize": 1234},
    ]}
    report = harvest(_write(tmp_path, doc, "graph.json"), registry, settings)
    assert report.added == ["1"] and not report.rejected
    entry = registry.get("1")
    assert entry.extras["dcat_id"] == "https://x.org/ds/1"
    assert entry.publisher == "Camden Council"
    assert entry.licence == "Creative Commons Attribution 4.0"
    assert (entry.temporal_start, entry.temporal_end) == ("2016-01-01", "2016-12-31")
    assert [(r.url, r.format, r.size) for r in entry.resources] == [
        ("https://x.org/trees.geojson", "geojson", None), ("https://x.org/trees.zip", "zip", 1234)]


def test_compact_dcat_us_style(tmp_path, registry, settings):
    doc = {"@type": "dcat:Catalog", "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
           "dataset": [{
               "identifier": "https://data.example.org/id/abc-123",
               "title": "Bus stops", "description": "All <b>bus</b> stops",
               "keyword": ["transport", "bus"], "modified": "2022-05-01",
               "publisher": {"@type": "org:Organization", "name": "Transport for London"},
               "accessLevel": "restricted public",
               "accrualPeriodicity": "R/P1M",
               "distribution": [{"downloadURL": "https://data.example.org/stops.csv", "mediaType": "text/csv"}],
           }]}
    report = harvest(_write(tmp_path, doc, "data.json"), registry, settings)
    assert report.kind == "dcat" and report.added == ["abc-123"]
    entry = registry.get("abc-123")
    assert entry.description == "All **bus** stops"
    assert entry.publisher == "Transport for London"
    assert entry.access_level == "shared" and entry.access_note
    assert entry.update_frequency == "monthly"
    assert entry.resources[0].format == "csv"


def test_private_distribution_rejected(tmp_path, registry, settings):
    doc = catalog_prefixed()
    doc["dcat:dataset"][0]["dcat:distribution"][0]["dcat:downloadURL"] = {"@id": "http://169.254.169.254/latest/meta-data"}
    report = harvest(_write(tmp_path, doc), registry, settings)
    assert report.added == []
    assert ("air-quality-sites", "resources[0].url") in [(r.entry, r.field) for r in report.rejected]
