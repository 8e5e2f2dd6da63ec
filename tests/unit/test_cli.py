"""The `explorer` command end to end on the bundled catalogue and the real data folder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from explorer.cli import main


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture()
def run(home, data_dir):
    runner = CliRunner()

    def invoke(*args, env=None, ok=True):
        environment = {"EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(data_dir),
                       "EXPLORER_CACHE_URL": "null"}
        environment.update(env or {})
        result = runner.invoke(main, list(args), env=environment, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_harvest_bundled_then_again_is_unchanged(run):
    first = run("catalogue", "harvest", "bundled", "--json")
    report = json.loads(first.output)
    assert len(report["added"]) + len(report["unchanged"]) >= 30
    assert not report["rejected"]
    second = run("catalogue", "harvest", "bundled")
    assert "0 added" in second.output and "0 updated" in second.output


def test_search_json_shape_and_facets(run):
    out = json.loads(run("catalogue", "search", "nitrogen dioxide", "--facet", "geography=lsoa",
                         "--json").output)
    assert set(out) >= {"total", "results", "facets"}
    assert out["total"] >= 1
    ids = [r["id"] for r in out["results"]]
    assert "laei-lsoa-2021" in ids
    assert all(set(r) >= {"id", "title", "publisher", "score"} for r in out["results"])
    assert all(r["smallest_geography"] == "lsoa" for r in out["results"])


def test_search_rejects_unknown_facet(run):
    result = run("catalogue", "search", "air", "--facet", "colour=red", ok=False)
    assert result.exit_code == 2
    assert "colour" in result.output


def test_show_json(run):
    doc = json.loads(run("catalogue", "show", "london-lsoa-2021", "--json").output)
    assert doc["id"] == "london-lsoa-2021"
    assert doc["resources"][0]["local_path"].endswith(".shp")
    assert doc["registry"]["source"]
    missing = run("catalogue", "show", "no-such-dataset", ok=False)
    assert missing.exit_code == 1 and "no-such-dataset" in missing.output


def test_load_lsoa_2021_table_joins_to_2021_boundaries(run):
    out = json.loads(run("data", "load", "laei-lsoa-2021", "--json").output)
    assert out["rows"] == 4994
    assert out["crs"] == "EPSG:4326"
    assert out["geometry_type"] in {"Polygon", "MultiPolygon", "Polygon/MultiPolygon"}
    geo = out["geography"]
    assert (geo["level"], geo["year"], geo["code_scheme"]) == ("lsoa", 2021, "E01")
    assert geo["matched"] == 4994 and geo["unmatched"] == 0 and geo["match_rate"] == 1.0
    prov = out["provenance"]
    assert prov["origin"] == "local" and len(prov["sha256"]) == 64
    assert any("lsoa-2021" in step for step in prov["transformations"])


def test_load_lsoa_2011_table_is_not_half_joined_to_2021(run):
    out = json.loads(run("data", "load", "laei-lsoa-2011", "--json").output)
    geo = out["geography"]
    assert (geo["level"], geo["year"]) == ("lsoa", 2011)
    assert geo["matched"] == 4835 and geo["unmatched"] == 0


def test_load_boundaries_and_points(run):
    boroughs = json.loads(run("data", "load", "london-boroughs", "--json").output)
    assert boroughs["rows"] == 33 and boroughs["kind"] == "polygons"
    assert boroughs["geography"] is None
    minx, miny, maxx, maxy = boroughs["bounds"]
    assert -0.52 < minx < -0.49 and 51.27 < miny < 51.30 and 0.32 < maxx < 0.35 and 51.68 < maxy < 51.70
    trees = json.loads(run("data", "load", "camden-trees", "--json").output)
    assert trees["kind"] == "points" and trees["rows"] == 13449


def test_fetch_offline_without_data_names_what_was_tried(run, tmp_path):
    result = run("--offline", "data", "fetch", "london-msoa-2021",
                 env={"EXPLORER_DATA_DIR": str(tmp_path / "empty"), "EXPLORER_HOME": str(tmp_path / "h")},
                 ok=False)
    assert result.exit_code == 1
    assert "london-msoa-2021" in result.output
    assert "offline" in result.output.lower()


def test_settings_lists_every_variable(run):
    out = json.loads(run("settings", "--json").output)
    assert {row["env"] for row in out} >= {"EXPLORER_HOME", "EXPLORER_DATA_DIR", "EXPLORER_CACHE_URL"}


def test_harvest_reports_each_rejection_and_keeps_the_rest(run, tmp_path):
    export = [
        {"id": "good-one", "title": "Cycle counts", "sharing": "public",
         "resources": [{"id": "a", "title": "counts.csv", "url": "https://example.org/counts.csv"}]},
        {"id": "sneaky", "title": "Internal", "sharing": "public",
         "resources": [{"id": "b", "title": "x", "url": "http://127.0.0.1:6379/"}]},
        {"id": "no-title", "sharing": "public", "resources": []},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    result = run("catalogue", "harvest", str(path), "--kind", "lds", env={"EXPLORER_HOME": str(tmp_path / "h")})
    assert "1 added" in result.output and "2 rejected" in result.output
    assert "sneaky" in result.output and "resources[0].url" in result.output
    assert "no-title" in result.output and "title" in result.output
    shown = json.loads(run("catalogue", "show", "good-one", "--json", env={"EXPLORER_HOME": str(tmp_path / "h")}).output)
    assert shown["title"] == "Cycle counts"


def test_harvest_of_a_truncated_file_fails_cleanly(run, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"id": "x", "title": "cut off', encoding="utf-8")
    result = run("catalogue", "harvest", str(path), env={"EXPLORER_HOME": str(tmp_path / "h")}, ok=False)
    assert result.exit_code == 1
    assert "broken.json" in result.output
    assert "Traceback" not in result.output
