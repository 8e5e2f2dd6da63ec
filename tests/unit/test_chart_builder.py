"""The chart builder (explorer/themes/chart_builder.py): the first chart it proposes for every bundled
table (loaded from the real data folder), the choices read from an address as hostile input, the
messages for choices that do not fit the data, and the exports (image footer, data zip, routes,
command line)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml
from click.testing import CliRunner

from explorer.themes import chart_builder as cb
from explorer.geo.joins import DataService, DatasetError
from explorer.services import open_registry
from explorer.settings import Settings

CATALOGUE = Path(__file__).resolve().parents[2] / "geodata" / "catalogue.yaml"
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("builder-home"), data_dir=data_dir, cache_url="null",
                        offline=True)
    return DataService(settings, open_registry(settings), memory_items=64)


def bundled_ids() -> list[str]:
    return [d["id"] for d in yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["datasets"]]


def q(search: str) -> dict:
    return parse_qs(search.lstrip("?"))


def built(service, search: str = "", dataset: str = "house-prices-borough") -> cb.Built:
    return cb.build(service, cb.parse_query(dataset, q(search)))


def traces(result) -> list:
    return [t for t in result.figure.data if t.name != ""]


# ------------------------------------------------------------------------------ the first chart
def test_every_bundled_table_gets_a_first_chart_that_fits_its_shape(service):
    """Each bundled dataset whose first file loads as a table: the proposal follows the table's
    shape (periods → line, a year column → line, places → ranked bar, two measures → scatter),
    draws without error, and its title names the measure."""
    tables = 0
    for dataset_id in bundled_ids():
        entry = service.entry(dataset_id)
        try:
            loaded = service.load(dataset_id, entry.resources[0].id, join=False)
        except DatasetError:
            continue                    # a file not in the data folder (none today)
        if loaded.kind != "table":
            continue
        tables += 1
        info = cb.describe(service, dataset_id, entry.resources[0].id)
        if cb.chartable(info):
            assert "boundaries" in entry.themes or len(info.measures) == 1, (dataset_id, cb.chartable(info))
            continue
        spec = cb.propose(info)
        singles = [k for k in info.measures if k not in (cb.ROWS, cb.PERIODS)]
        if info.periods:
            assert (spec.type, spec.y) == ("line", cb.PERIODS), dataset_id
        elif info.time_x is not None and singles:
            assert spec.type == "line", dataset_id
        elif info.has_places and singles and info.n_places >= 2:
            assert spec.type == "bar" and spec.y == singles[0], dataset_id
        elif len(singles) >= 2:
            assert spec.type == "scatter", dataset_id
        b = cb.build(service, cb.BuilderSpec(dataset_id, entry.resources[0].id))
        assert b.error is None, (dataset_id, b.error)
        assert b.spec.type == spec.type and traces(b.result), dataset_id
        assert b.result.title and info.measures[b.spec.y].label.split(" (")[0][:12] in b.result.title, \
            (dataset_id, b.result.title)
        assert b.result.sources[0]["dataset_id"] == dataset_id and b.result.sources[0]["provenance"]
    assert tables >= 20


def test_house_prices_first_chart_is_every_borough_over_time_with_london_emphasised(service):
    b = built(service)
    assert b.resolved.proposed and b.spec.type == "line"
    info = b.resolved.info
    assert [p.label for p in info.periods[:2]] == ["Dec 1995", "Mar 1996"] and len(info.periods) == 89
    assert info.london_row is not None and info.things == "boroughs" and info.n_places == 33
    names = {t.name for t in b.result.figure.data}
    assert "London" in names
    assert b.result.title == "Mean price paid, each of 33 boroughs and London, Dec 1995 to Dec 2017"
    assert b.result.subtitle.startswith("In £.")


def test_places_by_code_give_a_ranked_bar_with_london_marked(service):
    b = built(service, "", "borough-profiles-2015")
    assert b.spec.type == "bar" and b.resolved.info.london_row is not None
    refs = b.chart_spec.reference_lines
    assert refs and refs[0]["label"] == "London" and refs[0]["text"].startswith("London ")
    # the bars are the 33 boroughs, not London, the regions or England
    bar = b.result.figure.data[0]
    assert len(bar.y) == 33 and not any("London" == str(y) for y in bar.y)
    # a table of codes without names gets the names of the boundaries it matches
    laei = built(service, "", "laei-borough")
    assert "Camden" in laei.result.figure.data[0].y and "E09000007" not in laei.result.figure.data[0].y
    assert any(s["role"] == "lookup" for s in laei.result.sources)


def test_column_per_month_crime_is_a_monthly_line(service):
    b = built(service, "?resource=csv", "crime-ward")
    info = b.resolved.info
    assert b.spec.type == "line" and len(info.periods) == 25 and info.periods[0].label == "Mar 2024"
    assert "total of all 679 wards" in b.result.title
    burglary = built(service, "?resource=csv&chart=line&filter=MajorText=BURGLARY&group=MinorText", "crime-ward")
    assert burglary.error is None and {t.name for t in burglary.result.figure.data} >= {"BURGLARY BUSINESS AND COMMUNITY"}


def test_three_boroughs_since_2000(service):
    b = built(service, "?chart=line&area=Lewisham,Southwark,Greenwich&from=2000")
    assert b.error is None
    names = [t.name for t in b.result.figure.data]
    assert {"Lewisham", "Southwark", "Greenwich", "London"} <= set(names) and len(names) == 4
    import pandas as pd

    xs = pd.to_datetime([x for t in b.result.figure.data for x in t.x])
    assert xs.min().year == 2000 and xs.max().year == 2017
    assert b.result.title.startswith("Mean price paid in ") and "2000" in b.result.title
    # the same chart from codes, in any case
    again = built(service, "?chart=line&area=e09000023,E09000028,greenwich&from=2000")
    assert [t.name for t in again.result.figure.data] == names


def test_other_chart_types(service):
    bar = built(service, "?chart=bar&to=2010&top=5")
    assert bar.error is None and len(bar.result.figure.data[0].x) == 5
    assert "Dec 2010" in bar.result.title and "5 highest of 33 boroughs" in bar.result.title
    bottom = built(service, "?chart=bar&bottom=3&sort=asc")
    values = list(bottom.result.figure.data[0].x)
    assert len(values) == 3
    grouped = built(service, "?chart=grouped&from=2000&area=Lewisham,Southwark")
    assert grouped.error is None and len(grouped.result.figure.data) >= 2
    dist = built(service, "?chart=distribution")
    assert dist.error is None and dist.result.figure.data[0].type == "bar"
    scatter = built(service, "?chart=scatter&y=GLA_Population_Estimate_2015&x=Inland_Area_Hectares",
                    "borough-profiles-2015")
    assert scatter.error is None and len(scatter.result.figure.data[0].x) == 33
    # the fit note says what the slope is per, even with no unit on x, and has no gaps
    note = next(str(a.text) for a in scatter.result.figure.layout.annotations if "trend:" in str(a.text))
    assert "per 1 of Inland area hectares" in note and "  " not in note
    counts = built(service, "?chart=bar&y=~rows&x=Classification", "laqn-sites")
    assert counts.error is None and "Number of records" in counts.result.title


# ------------------------------------------------------------------------------ hostile addresses
@pytest.mark.parametrize("search, field, words", [
    ("?chart=pie", "chart", "unknown chart type"),
    ("?colour=red", "colour", "unknown choice"),
    ("?chart=line&chart=bar", "chart", "given 2 times"),
    ("?y=" + "a" * 500, "y", "too long"),
    ("?area=" + ",".join(f"E09{i:06d}" for i in range(60)), "area", "at most 40"),
    ("?top=lots", "top", "whole number"),
    ("?top=100000", "top", "between 1 and 500"),
    ("?top=3&bottom=3", "top", "not both"),
    ("?from=2010&to=2000", "from", "after the last"),
    ("?filter=nocolumn", "filter", "COLUMN=VALUE"),
    ("?filter=a=1&filter=b=2&filter=c=3&filter=d=4&filter=e=5", "filter", "at most 4"),
    ("?sort=sideways", "sort", "unknown sort"),
    ("?agg=max", "agg", "unknown way"),
    ("?y=%01bell", "y", "control characters"),
])
def test_hostile_addresses_are_refused_naming_the_choice(search, field, words):
    with pytest.raises(cb.BuilderError) as err:
        cb.parse_query("house-prices-borough", q(search))
    assert err.value.field == field and words in err.value.reason


@pytest.mark.parametrize("search, field, words", [
    ("?y=Area", "y", "'Area' holds text, not numbers"),
    ("?y=Nope", "y", "no column 'Nope'"),
    ("?chart=bar&x=Nope", "x", "no column 'Nope'"),
    ("?area=Atlantis", "area", "no place called 'Atlantis'"),
    ("?from=1900", "from", "outside the table's years (1995–2017)"),
    ("?chart=scatter", "x", "only one"),
    ("?filter=Area=Atlantis", "filter", "has no value 'Atlantis'"),
    ("?chart=bar&group=Nope", "group", "no column 'Nope'"),
])
def test_choices_that_do_not_fit_the_data_get_a_clear_message(service, search, field, words):
    b = built(service, search)
    assert b.error and words in b.error and b.field == field
    assert b.resolved is None and b.result.error == b.error
    # never an empty figure: the figure says why
    assert words.split("'")[0] in b.result.figure.layout.annotations[0].text.replace("<br>", " ")


def test_the_address_round_trips(service):
    b = built(service, "?chart=line&area=Lewisham&from=2000&filter=Area=Lewisham")
    assert b.error is None
    again = cb.parse_query("house-prices-borough", q(b.spec.search()))
    assert again == b.spec
    assert cb.build(service, again).result.title == b.result.title


def test_plotly_markup_in_data_is_shown_as_text():
    assert cb.column_label("<b>bold</b>") == "‹b›bold‹/b›"


# ------------------------------------------------------------------------------ exports
@pytest.fixture(scope="module")
def renderer():
    from explorer.export.renderer import Renderer

    r = Renderer(timeout=60)
    yield r
    r.close()


def svg_text(data: bytes) -> str:
    root = ET.fromstring(data)
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG_NS}text"))


def test_exported_image_carries_title_source_licence_dates_and_link(service, renderer):
    from explorer.export import resolve_size
    from explorer.export.dataset_chart import export_dataset_chart

    image = export_dataset_chart("house-prices-borough", q("?chart=line&area=Lewisham,Southwark,Greenwich&from=2000"),
                                 "svg", resolve_size("a4"), service, renderer, base_url="https://data.example.london")
    text = svg_text(image.content)
    assert "Mean price paid in Greenwich, Lewisham and Southwark" in text
    assert "Source: HM Land Registry, Mean house prices by borough" in text
    assert "Open Government Licence" in text and "retrieved" in text
    assert image.link.startswith("https://data.example.london/l/") and image.link in text
    png = export_dataset_chart("house-prices-borough", {}, "png", resolve_size("slide"), service, renderer)
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and png.width == 1280 and png.height == 720


def test_the_short_link_of_an_export_opens_the_same_chart(service, renderer):
    from explorer.export import resolve_size
    from explorer.export.dataset_chart import export_dataset_chart
    from explorer.maps.shortlinks import store_for

    image = export_dataset_chart("house-prices-borough", q("?chart=bar&top=5&to=2005"), "svg",
                                 resolve_size("a4"), service, renderer)
    target = store_for(service.settings).resolve(image.link.rsplit("/", 1)[1])
    path, _, search = target.partition("?")
    assert path == "/dataset/house-prices-borough"
    assert built(service, "?" + search).result.title == built(service, "?chart=bar&top=5&to=2005").result.title


def test_data_zip_holds_the_numbers_and_their_provenance(service):
    from explorer.export.dataset_chart import dataset_chart_package

    package = dataset_chart_package("house-prices-borough", q("?chart=line&area=Lewisham&from=2010"), service)
    zf = zipfile.ZipFile(io.BytesIO(package.content))
    assert set(zf.namelist()) == {"data.csv", "provenance.json", "README.txt"}
    prov = json.loads(zf.read("provenance.json"))
    assert prov["export"]["kind"] == "dataset-chart" and prov["export"]["chart"]["area"] == "Lewisham"
    source = prov["sources"][0]
    assert source["publisher"] == "HM Land Registry" and source["licence"] == "Open Government Licence"
    assert source["sha256"] and prov["files"]["data.csv"]["sha256"]
    rows = zf.read("data.csv").decode("utf-8").splitlines()
    assert rows[0].startswith("Month") and "Mean price paid (£)" in rows[0] and len(rows) > 20


@pytest.fixture(scope="module")
def client(tmp_path_factory, data_dir):
    from explorer.web.app import create_app
    from explorer.export.renderer import shared_renderer

    app = create_app(Settings(home=tmp_path_factory.mktemp("builder-routes"), data_dir=data_dir,
                              cache_url="simple", offline=True))
    yield app.server.test_client()
    shared_renderer().close()


@pytest.mark.parametrize("url, status, words", [
    ("/export/dataset-chart/house-prices-borough.svg?chart=line&area=Lewisham", 200, None),
    ("/download/dataset-chart/house-prices-borough.zip?chart=bar&top=3", 200, None),
    ("/export/dataset-chart/house-prices-borough.svg?y=Area", 400, "holds text, not numbers"),
    ("/export/dataset-chart/house-prices-borough.png?area=Atlantis", 400, "no place called"),
    ("/export/dataset-chart/house-prices-borough.png?evil=1", 400, "unknown choice"),
    ("/export/dataset-chart/house-prices-borough.png?area=" + "x," * 3000, 400, "at most 4,000"),
    ("/export/dataset-chart/no-such-dataset.png", 404, "no dataset"),
    ("/export/dataset-chart/london-boroughs.png", 422, "boundaries"),
    ("/export/dataset-chart/house-prices-borough.gif", 400, "unknown image format"),
    ("/download/dataset-chart/house-prices-borough.zip?filter=Area=Nowhere", 400, "has no value"),
])
def test_dataset_chart_routes(client, url, status, words):
    response = client.get(url)
    assert response.status_code == status, response.data[:300]
    if words:
        assert words in response.get_json()["error"]


def test_command_line_exports_the_proposed_chart_and_a_chosen_one(tmp_path, data_dir):
    from explorer.cli import main

    runner = CliRunner()
    base = ["--home", str(tmp_path / "home"), "--data-dir", str(data_dir), "--offline", "export", "dataset-chart"]
    out = tmp_path / "default.svg"
    result = runner.invoke(main, base + ["house-prices-borough", "--format", "svg", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "each of 33 boroughs and London" in svg_text(out.read_bytes())
    chosen = tmp_path / "three.svg"
    result = runner.invoke(main, base + ["house-prices-borough", "--type", "line", "--area", "Lewisham,Southwark",
                                         "--filter", "Area=Lewisham,Southwark", "--from", "2000", "--format", "svg",
                                         "-o", str(chosen)])
    assert result.exit_code == 0, result.output
    assert "Mean price paid in Lewisham and Southwark" in svg_text(chosen.read_bytes())
    bad = runner.invoke(main, base + ["house-prices-borough", "--y", "Area", "-o", str(tmp_path / "x.png")])
    assert bad.exit_code != 0 and "holds text, not numbers" in bad.output


def test_an_average_line_names_its_count_with_thousands_and_its_label_fits_a_phone(service):
    from explorer.themes.charts import PHONE_PLOT_PX, REF_CHAR_PX

    b = built(service, "", "laei-lsoa-2021")
    ref = b.chart_spec.reference_lines[0]
    assert ref["text"].startswith("Average of the 4,994 LSOAs: ") and "µg/m³" in ref["text"]
    fig = b.result.figure
    label = next(a for a in fig.layout.annotations if "Average of the" in str(a.text))
    axis_max = max(float(v) for v in fig.data[0].x)
    share = ref["value"] / axis_max
    room = share * PHONE_PLOT_PX if label.xanchor == "right" else (1 - share) * PHONE_PLOT_PX
    lines = str(label.text).split("<br>")
    assert all(len(line) * REF_CHAR_PX <= max(room, 14 * REF_CHAR_PX) for line in lines), (lines, room)
    assert " ".join(lines) == ref["text"]           # wrapped, never cut
