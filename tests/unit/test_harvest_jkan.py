"""JKAN harvest: a portal's source folder (_datasets/*.md with YAML front matter) and its data.json."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from explorer.cli import main
from explorer.catalogue.harvest import HarvestError, harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

TREES = """---
title: Street trees in Camden
organization: London Borough of Camden
notes: Every tree the council looks after, with species and height.
category:
  - Environment
maintainer: Tree team
license: Open Government Licence v3.0
resources:
  - name: Trees (CSV)
    url: https://opendata.camden.gov.uk/trees.csv
    format: csv
---
"""

PARKING = """---
id: parking-bays-2024
title: Parking bays
organization: London Borough of Southwark
notes: Parking bays by type.
resources:
  - name: Bays
    url: https://example.org/bays.geojson
    format: GeoJSON
---
Body text.
"""


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home", offline=True, sources="bundled")


def _portal(tmp_path):
    root = tmp_path / "portal"
    (root / "_datasets").mkdir(parents=True)
    (root / "_datasets" / "street-trees.md").write_text(TREES, encoding="utf-8")
    (root / "_datasets" / "parking.md").write_text(PARKING, encoding="utf-8")
    (root / "_datasets" / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    (root / "_datasets" / "no-front-matter.md").write_text("Just text.\n", encoding="utf-8")
    return root


def test_a_jkan_source_folder_is_harvested_with_stable_ids(tmp_path, settings):
    root = _portal(tmp_path)
    reg = Registry(tmp_path / "r.sqlite3")
    report = harvest(str(root), reg, settings)
    assert report.kind == "jkan"
    assert sorted(report.added) == ["parking-bays-2024", "street-trees"]  # id, else the file name
    assert {r.entry for r in report.rejected} == {"broken", "no-front-matter"}
    assert all("front matter" in r.field for r in report.rejected)
    trees = reg.get("street-trees")
    assert trees.publisher == "London Borough of Camden"
    assert trees.licence == "Open Government Licence v3.0"
    assert trees.themes == ["environment"]
    assert trees.resources[0].format == "csv" and trees.resources[0].url.endswith("trees.csv")
    assert trees.extras["maintainer"] == "Tree team"
    assert reg.get("parking-bays-2024").resources[0].format == "geojson"
    # The _datasets folder itself works too, and a second harvest changes nothing.
    again = harvest(str(root / "_datasets"), reg, settings, kind="jkan")
    assert sorted(again.unchanged) == ["parking-bays-2024", "street-trees"] and not again.added


def test_a_jkan_data_json_is_harvested(tmp_path, settings):
    doc = {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": [
        {"title": "Air quality sensors", "description": "<p>Hourly NO2</p>",
         "identifier": "https://data.example.org/datasets/air-sensors/",
         "keyword": ["air", "no2"], "publisher": {"name": "Example Borough"},
         "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
         "landingPage": "https://data.example.org/datasets/air-sensors/",
         "distribution": [{"title": "CSV", "downloadURL": "https://data.example.org/air.csv", "format": "csv"}]},
        {"description": "no title"},
    ]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    reg = Registry(tmp_path / "r.sqlite3")
    report = harvest(str(path), reg, settings, kind="jkan")
    assert report.added == ["air-sensors"]
    assert len(report.rejected) == 1 and report.rejected[0].field == "title"
    entry = reg.get("air-sensors")
    assert entry.publisher == "Example Borough" and entry.tags == ["air", "no2"]
    assert entry.licence_url.startswith("https://www.nationalarchives.gov.uk/")
    assert entry.resources[0].url == "https://data.example.org/air.csv"


def test_a_folder_that_is_not_a_jkan_portal_is_refused(tmp_path, settings):
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarvestError, match="_datasets"):
        harvest(str(tmp_path / "empty"), Registry(tmp_path / "r.sqlite3"), settings, kind="jkan")


def test_cli_harvests_a_jkan_folder(tmp_path):
    root = _portal(tmp_path)
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "h"), "catalogue", "harvest", str(root),
                                       "--kind", "jkan", "--json"], env={"EXPLORER_SOURCES": "bundled"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "jkan" and data["counts"]["added"] == 2 and data["counts"]["rejected"] == 2
