"""Export routes through Flask's test client, the data zips and their provenance, and the CLI."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from click.testing import CliRunner

from explorer.web.app import create_app
from explorer.cli import main
from explorer.export.renderer import shared_renderer
from explorer.settings import Settings

LAYER = "layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,m:thresholds"


@pytest.fixture(scope="module")
def client(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("export-routes-home")
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple",
                              public_url="https://data.example.london"))
    yield app.server.test_client()
    shared_renderer().close()


def test_chart_image_route(client):
    response = client.get("/export/chart/air-quality/no2-borough-2019.svg?preset=slide")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert 'filename="air-quality-no2-borough-2019.svg"' in response.headers["Content-Disposition"]
    assert b"https://data.example.london/l/" in response.data and b"?chart=" not in response.data


def test_the_same_export_twice_is_rendered_once(client, monkeypatch):
    from explorer.export.renderer import Renderer

    url = "/export/chart/air-quality/no2-borough-2019.svg?preset=square"
    first = client.get(url)
    assert first.status_code == 200

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(Renderer, "render", no_render)
    again = client.get(url)
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["Content-Disposition"] == first.headers["Content-Disposition"]
    # Another size is another image: it is rendered (and here refused by the patched renderer).
    assert client.get(url.replace("preset=square", "width=901&height=601")).status_code == 500


@pytest.mark.parametrize("url, status, message", [
    ("/export/chart/nope/x.png", 404, "no theme 'nope'"),
    ("/export/chart/air-quality/nope.png", 404, "has no chart 'nope'"),
    ("/export/chart/air-quality/no2-borough-2019.gif", 400, "unknown image format 'gif'"),
    ("/export/chart/air-quality/no2-borough-2019.png?width=99999", 400, "width must be between"),
    ("/export/chart/air-quality/no2-borough-2019.png?scale=9", 400, "scale must be between"),
    ("/export/chart/air-quality/no2-borough-2019.png?preset=poster", 400, "unknown size preset"),
    ("/download/chart/nope/x.zip", 404, "no theme 'nope'"),
    ("/export/map.png?layer=no-such-dataset", 422, "no visible layer"),
    ("/export/elsewhere", 404, "no such export"),
])
def test_bad_requests_get_a_clear_json_error(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_traversal_is_refused(client):
    assert client.get("/export/chart/..%2F..%2Fetc/passwd.png").status_code in (400, 404)
    assert client.get("/export/chart/%2e%2e/passwd.png").status_code in (400, 404)


def test_map_image_route_keeps_the_permalink_and_drops_size_options(client):
    response = client.get(f"/export/map.svg?preset=square&{LAYER}&title=NO2+in+2019")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"NO2 in 2019" in response.data
    assert b"https://data.example.london/l/" in response.data and b"view=" not in response.data
    assert b"preset=square" not in response.data


def test_chart_zip_holds_data_geojson_provenance_readme(client, data_dir):
    response = client.get("/download/chart/air-quality/no2-borough-2019.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(response.data))
    assert set(zf.namelist()) == {"data.csv", "data.geojson", "provenance.json", "README.txt"}
    rows = list(csv.DictReader(io.StringIO(zf.read("data.csv").decode())))
    assert len(rows) == 33
    # the numbers are the source file's, read directly
    import pandas as pd

    source = pd.read_csv(data_dir / "air_quality/laei_zonal/lad21-2019-NO2.csv").set_index("LAD22CD")["NO2-2019-mean"]
    value_col = next(c for c in rows[0] if c.startswith("NO₂"))
    camden = next(r for r in rows if r["Code"] == "E09000007")
    assert float(camden[value_col]) == pytest.approx(source["E09000007"], abs=0.05)
    geo = json.loads(zf.read("data.geojson"))
    assert len(geo["features"]) == 33 and geo["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    prov = json.loads(zf.read("provenance.json"))
    src = prov["sources"][0]
    assert src["dataset_id"] == "laei-borough" and len(src["sha256"]) == 64
    assert src["licence"] and src["attribution"] and src["retrieved_at"]
    assert src["join"]["match_rate"] == 1.0 or src["join"] is None
    assert prov["export"]["permalink"] == "https://data.example.london/themes/air-quality?chart=no2-borough-2019"
    assert prov["files"]["data.csv"]["sha256"]
    readme = zf.read("README.txt").decode()
    assert "Attribution to reuse" in readme and "Open Government Licence" in readme


def test_layer_zip_is_exactly_what_the_map_shows(client, data_dir):
    response = client.get(f"/download/layer.zip?{LAYER}")
    assert response.status_code == 200
    zf = zipfile.ZipFile(io.BytesIO(response.data))
    stem = "laei-lsoa-2021-no2-2019"
    assert {f"{stem}.csv", f"{stem}.geojson", f"{stem}.gpkg", "provenance.json", "README.txt"} == set(zf.namelist())
    rows = list(csv.DictReader(io.StringIO(zf.read(f"{stem}.csv").decode())))
    assert len(rows) == 4994
    assert {"name", "code", "NO2-2019-mean", "class"} <= set(rows[0])
    assert any("UK annual objective" in r["class"] for r in rows)
    assert zf.read(f"{stem}.gpkg")[:16] == b"SQLite format 3\x00"
    prov = json.loads(zf.read("provenance.json"))
    src = prov["sources"][0]
    assert src["variable"] == "NO2-2019-mean" and src["features"] == 4994
    assert src["classes"]["mode"] == "classes" and src["join"]["match_rate"] == 1.0
    assert any("joined to" in t for t in src["transformations"])


def test_cli_exports_a_chart_and_a_whole_theme(tmp_path, data_dir):
    runner = CliRunner()
    env = {"EXPLORER_HOME": str(tmp_path / "home"), "EXPLORER_DATA_DIR": str(data_dir)}
    out = tmp_path / "chart.svg"
    result = runner.invoke(main, ["export", "chart", "air-quality", "no2-borough-2019", "--format", "svg",
                                  "--preset", "slide", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert b"Source: Greater London Authority" in out.read_bytes()
    folder = tmp_path / "net-zero"
    result = runner.invoke(main, ["export", "theme", "net-zero", "-o", str(folder), "--format", "png",
                                  "--preset", "square", "--scale", "1"], env=env)
    assert result.exit_code == 0, result.output
    from explorer.themes.theme_files import load_themes

    charts = next(t for t in load_themes() if t.slug == "net-zero").charts
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"net-zero-{c.id}.png" for c in charts)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in folder.iterdir())
    bad = runner.invoke(main, ["export", "chart", "nope", "x"], env=env)
    assert bad.exit_code != 0 and "no theme 'nope'" in bad.output
    bad_size = runner.invoke(main, ["export", "chart", "air-quality", "no2-borough-2019", "--width", "5"], env=env)
    assert bad_size.exit_code != 0 and "width must be between" in bad_size.output


def test_cli_exports_a_map_from_a_permalink(tmp_path, data_dir):
    runner = CliRunner()
    env = {"EXPLORER_HOME": str(tmp_path / "home"), "EXPLORER_DATA_DIR": str(data_dir)}
    out = tmp_path / "map.pdf"
    result = runner.invoke(main, ["export", "map", "--url", "https://maps.example/map?layer=london-boroughs",
                                  "--format", "pdf", "--preset", "slide", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"%PDF-"
    bad = runner.invoke(main, ["export", "map", "--url", "https://maps.example/catalogue?q=x"], env=env)
    assert bad.exit_code != 0 and "not a map link" in bad.output
