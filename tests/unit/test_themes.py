"""Theme files: every bundled theme loads, validates against the real registry and data, and every
chart in it builds; the claims the titles and narratives make are checked against the source files
read directly with pandas; a broken theme file fails with its file, line and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.themes.charts import build_chart, headline_values
from explorer.geo.joins import DataService
from explorer.catalogue.models import Entry
from explorer.services import open_registry
from explorer.settings import Settings
from explorer.themes.theme_files import ThemeError, bundled_folder, load_theme, load_themes, validate_theme

REQUIRED = {"air-quality", "green-infrastructure", "air-quality-and-deprivation", "housing", "community-safety"}


@pytest.fixture(scope="module")
def env(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("home"), data_dir=data_dir, cache_url="null", offline=True)
    registry = open_registry(settings)
    return registry, DataService(settings, registry, memory_items=64)


@pytest.fixture(scope="module")
def themes():
    return {t.slug: t for t in load_themes()}


# ------------------------------------------------------------------------------------------ loading
def test_bundled_themes_load_with_the_required_slugs(themes):
    assert REQUIRED <= set(themes)
    assert bundled_folder().name == "themes" and bundled_folder().parent.name == "geodata"
    for theme in themes.values():
        assert theme.path.parent == bundled_folder()
        assert theme.title and theme.summary and len(theme.summary) < 260
        paragraphs = [p for p in theme.narrative.split("\n\n") if p.strip()]
        assert 2 <= len(paragraphs) <= 4, theme.slug
        assert len(theme.charts) >= 3, theme.slug
        assert len({c.id for c in theme.charts}) == len(theme.charts)
        assert theme.headlines and theme.map_layers
        # sources are derived from the charts, in order, without repeats
        sources = theme.sources()
        assert len(sources) == len(set(sources))
        assert {c.dataset for c in theme.charts} <= {ds for ds, _ in sources}
        for layer in theme.layer_params():
            assert set(layer) <= {"dataset", "resource", "variable", "method", "classes", "palette", "opacity", "hidden"}


def test_chart_lines_point_at_the_chart_entries(themes):
    theme = themes["air-quality"]
    lines = theme.path.read_text(encoding="utf-8").splitlines()
    for chart in theme.charts:
        assert lines[chart.line - 1].strip() == f"- id: {chart.id}"
        assert f"{chart.dataset}" in lines[chart.line_of("dataset") - 1]


def test_every_theme_validates_against_the_registry_and_data(env, themes):
    registry, service = env
    for theme in themes.values():
        assert validate_theme(theme, registry, service) == [], theme.slug


def test_every_chart_in_every_theme_builds(env, themes):
    _, service = env
    for theme in themes.values():
        for spec in theme.charts:
            result = build_chart(spec, service)
            where = f"{theme.slug}/{spec.id}"
            assert result.error is None, (where, result.error)
            assert len(result.figure.data) > 0 and not result.data.empty, where
            assert result.summary.startswith(spec.title) and len(result.summary) > len(spec.title) + 40, where
            layout = result.figure.layout
            axes = [layout[k] for k in layout if k.startswith(("xaxis", "yaxis"))]
            titles = [a.title.text for a in axes if a.title.text]
            assert titles, where
            unit = spec.get("y_unit") or spec.unit
            if unit:
                assert any(f"({unit})" in t for t in titles), (where, titles)
            # every source names its dataset and carries the load's provenance
            used = {s["dataset_id"] for s in result.sources if s["role"] == "data"}
            assert {ds for ds, _ in spec.inputs()} <= used, where
            for src in result.sources:
                assert src["provenance"]["sha256"] and src["provenance"]["retrieved_at"], where
            if result.highlight_keys:
                assert result.highlight_keys in result.data.columns, where
                with_codes = [t for t in result.figure.data if t.customdata is not None]
                assert with_codes, where


def test_headlines_compute_and_format(env, themes):
    _, service = env
    for theme in themes.values():
        for item in headline_values(theme, service):
            assert item["error"] is None and item["value"] is not None, (theme.slug, item)
            assert item["text"] and item["text"] != "not available"
            assert item["sources"] and item["sources"][0]["provenance"]


def test_air_quality_headlines_equal_direct_pandas(env, themes, data_dir):
    _, service = env
    lsoa = pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa21-2019-NO2.csv")
    values = {h["label"]: h for h in headline_values(themes["air-quality"], service)}
    above40 = next(v for k, v in values.items() if "UK NO₂ objective" in k)
    assert above40["value"] == pytest.approx((lsoa["NO2-2019-mean"] > 40).mean() * 100)
    assert above40["text"] == f"{(lsoa['NO2-2019-mean'] > 40).mean() * 100:.1f}%"
    b13 = pd.read_csv(data_dir / "air_quality/laei_zonal/lad21-2013-NO2.csv").set_index("LAD22CD")["NO2-2013-mean"]
    b19 = pd.read_csv(data_dir / "air_quality/laei_zonal/lad21-2019-NO2.csv").set_index("LAD22CD")["NO2-2019-mean"]
    change = next(v for k, v in values.items() if "typical borough" in k)
    assert change["value"] == pytest.approx(((b19 / b13 - 1) * 100).median())
    assert change["text"].startswith("−")


# ------------------------------------------------------------------------------------------ claims
def _claims(themes, slug: str) -> dict[str, str]:
    return {c.id: c.title for c in themes[slug].charts}


def test_air_quality_titles_are_true(themes, data_dir):
    titles = _claims(themes, "air-quality")
    z = data_dir / "air_quality/laei_zonal"
    no2 = {y: pd.read_csv(z / f"lad21-{y}-NO2.csv").set_index("LAD22CD")[f"NO2-{y}-mean"] for y in (2013, 2016, 2019)}
    assert "fell in every borough between 2013 and 2019" in titles["no2-borough-change"]
    assert (no2[2019] < no2[2013]).all() and len(no2[2019]) == 33
    # "almost all of the fall came after 2016"
    assert no2[2016].mean() - no2[2019].mean() > 0.95 * (no2[2013].mean() - no2[2019].mean())
    assert "only the City of London's average NO₂ was above the UK objective" in titles["no2-borough-2019"]
    assert list(no2[2019][no2[2019] > 40].index) == ["E09000001"] and (no2[2019] > 10).all()   # City of London
    for pol in ("PM25", "PM10"):
        p = {y: pd.read_csv(z / f"lad21-{y}-{pol}.csv").set_index("LAD22CD")[f"{pol}-{y}-mean"] for y in (2013, 2016, 2019)}
        assert (p[2016] < p[2013]).all() and (p[2019] < p[2016]).all(), pol
    lsoa = pd.read_csv(z / "lsoa21-2019-NO2.csv")["NO2-2019-mean"]
    assert 1 / 90 < (lsoa > 40).mean() < 1 / 70 and (lsoa > 10).all()
    pm = pd.read_csv(z / "lsoa21-2019-PM25.csv")["PM25-2019-mean"]
    assert (pm > 5).all() and round((pm > 10).mean() * 100) == 89 and "89%" in titles["pm25-lsoa-2019"]
    sites = pd.read_csv(data_dir / "air_quality/monitoring_sites/site_means_2019-03-08.csv")
    s = sites[(sites["name"] == "LAEIBox") & (sites["duplicate"] == "N") & (sites["pollutant"] == "no2")]
    assert (s.loc[s["date"] == 2019, "capture_rate"] < 75).all()          # 2019 is a partial year
    good = s[s["capture_rate"] >= 75]
    share = good.groupby("date")["mean"].apply(lambda v: round((v > 40).mean() * 100))
    assert (share[2013], share[2018]) == (61, 41)
    assert "61% in 2013 to 41% in 2018" in titles["monitoring-no2"]
    monthly = pd.read_csv(data_dir / "air_quality/london_average_air_quality/air-quality-london-monthly-averages.csv",
                          na_values=["."])
    year = pd.Series(pd.date_range("2008-01-01", periods=len(monthly), freq="MS").year)
    road = monthly["London Mean Roadside:Nitrogen Dioxide (ug/m3)"].groupby(year).mean()
    back = monthly["London Mean Background:Nitrogen Dioxide (ug/m3)"].groupby(year).mean()
    assert list(road.index) == list(range(2008, 2018)) and (road > 40).all() and (road > back).all()


def _green_per_person(data_dir) -> pd.Series:
    green = pd.read_csv(data_dir / "green/greenBoroughs_os_open_greenspace.csv").set_index("GSSCode")
    pop = pd.read_csv(data_dir / "stats/population/london-mid2020-pop-lsoa.csv").groupby("LAD11CD")["Persons_All-Ages"].sum()
    return green["greenArea"] * 10000 / pop.reindex(green.index), green, pop


def test_green_infrastructure_titles_are_true(themes, data_dir):
    titles = _claims(themes, "green-infrastructure")
    per_person, green, pop = _green_per_person(data_dir)
    names = pd.read_csv(data_dir / "stats/house_prices/land-registry-house-prices-borough.csv").set_index("Code")["Area"]
    assert names[per_person.idxmin()] == "Islington" and round(per_person.min()) == 3
    assert names[per_person.idxmax()] == "Richmond upon Thames" and round(per_person.max()) == 142
    assert "3 m² in Islington to 142 m² in Richmond upon Thames" in titles["green-space-per-person"]
    overall = green["greenArea"].sum() * 10000 / pop.reindex(green.index).sum()
    ref = themes["green-infrastructure"].chart("green-space-per-person").reference_lines[0]["value"]
    assert ref == pytest.approx(overall, abs=0.05)
    assert (per_person < 10).sum() == 5
    imd = pd.read_csv(data_dir / "stats/deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz", thousands=",")
    imd = imd[imd["Local Authority District code (2019)"].str.startswith("E09")]
    share = (imd["Index of Multiple Deprivation (IMD) Decile"] <= 2).groupby(imd["Local Authority District code (2019)"]).mean()
    r = np.corrcoef(per_person.sort_index(), share.reindex(per_person.sort_index().index))[0, 1]
    assert -0.6 < r < -0.3                                      # "tend to … but the link is loose"
    gigl = pd.read_csv(data_dir / "green/gigl/GiGL_SpacesToVisit.csv", encoding="cp1252")
    uses = gigl["PrimaryUse"].value_counts()
    assert len(gigl) == 4352 and round((uses["Park"] + uses["Amenity green space"]) / len(gigl) * 100) == 42
    trees = json.loads((data_dir / "green/trees_camden/camden-trees.geojson").read_text())["features"]
    refs = json.loads((data_dir / "green/trees_camden/camden-trees-refs.json").read_text())["species"]
    common = pd.Series([refs[f["properties"]["species"]]["common"] for f in trees]).value_counts()
    assert common.index[0] == "London plane" and round(common.iloc[0] / len(trees) * 5) == 1 and len(trees) == 13449
    heights = pd.Series([f["properties"]["h"] for f in trees], dtype=float)
    heights = heights[heights > 0]
    assert (heights <= 15).mean() > 0.5 and heights.max() >= 40 and (heights >= 40).mean() < 0.01


def _no2_imd(data_dir) -> pd.DataFrame:
    no2 = pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa11-2019-NO2.csv")
    imd = pd.read_csv(data_dir / "stats/deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz", thousands=",")
    return no2.merge(imd, left_on="LSOA11CD", right_on="LSOA code (2011)")


def test_air_quality_and_deprivation_titles_are_true(themes, data_dir):
    titles = _claims(themes, "air-quality-and-deprivation")
    m = _no2_imd(data_dir)
    assert len(m) == 4835
    r = np.corrcoef(m["Index of Multiple Deprivation (IMD) Rank"], m["NO2-2019-mean"])[0, 1]
    assert -0.35 < r < -0.25 and r * r < 0.1          # "explains little of the difference"
    by_decile = m.groupby("Index of Multiple Deprivation (IMD) Decile")["NO2-2019-mean"].mean()
    assert 4.5 < by_decile[1] - by_decile[10] < 5.5 and "about 5 µg/m³ higher" in titles["no2-by-imd-decile"]
    within = m.groupby("Local Authority District name (2019)").apply(
        lambda g: np.corrcoef(g["Index of Multiple Deprivation (IMD) Rank"], g["NO2-2019-mean"])[0, 1])
    assert within.idxmin() == "Brent" and round(within.min(), 2) == -0.62 and (within > 0).sum() == 9
    assert "Brent (r = −0.62), reversed in 9 of 33" in titles["no2-imd-within-borough"]
    top15 = m.nlargest(15, "NO2-2019-mean")["Local Authority District name (2019)"]
    assert set(top15) <= {"Westminster", "Camden", "Tower Hamlets"}      # said in the narrative


def test_housing_titles_are_true(themes, data_dir):
    titles = _claims(themes, "housing")
    hp = pd.read_csv(data_dir / "stats/house_prices/land-registry-house-prices-borough.csv", thousands=",")
    b = hp[hp["Code"].str.startswith("E09")].set_index("Code")
    assert len(b) == 33 and (b["Year ending Dec 2017"] / b["Year ending Dec 1995"] > 5).all()
    assert "more than five-fold in every borough" in titles["prices-by-borough"]
    inc = pd.read_csv(data_dir / "stats/income/london-2001-2012-HHI-median.csv").groupby("LAD11CD")[
        ["HHI_median_2001", "HHI_median_2012"]].median()
    price_growth = b["Year ending Dec 2012"] / b["Year ending Dec 2001"] - 1
    income_growth = inc["HHI_median_2012"] / inc["HHI_median_2001"] - 1
    assert (price_growth > income_growth.reindex(price_growth.index)).all()
    ratio = b["Year ending Dec 2012"] / inc["HHI_median_2012"].reindex(b.index)
    assert round(ratio.min()) == 5 and round(ratio.max()) in (29, 30)
    london = hp.set_index("Code").loc["E12000007"]
    assert 6 < london["Year ending Dec 2017"] / london["Year ending Dec 1995"] < 6.5


def test_community_safety_titles_are_true(themes, data_dir):
    titles = _claims(themes, "community-safety")
    c = data_dir / "stats/crime_lsoa"
    violence = pd.read_csv(c / "london-2011-2021-major-violence.csv")
    burglary = pd.read_csv(c / "london-2011-2021-major-burglary.csv")
    assert round((violence["2021"].sum() / violence["2011"].sum() - 1) * 100) == 75
    assert -50 < (burglary["2021"].sum() / burglary["2011"].sum() - 1) * 100 < -40
    vb = violence.groupby("LAD11NM")[["2011", "2021"]].sum()
    bb = burglary.groupby("LAD11NM")[["2011", "2021"]].sum()
    assert (vb["2021"] > vb["2011"]).all() and list(bb.index[bb["2021"] >= bb["2011"]]) == ["Hackney"]
    ward = pd.read_csv(data_dir / "stats/crime_ward/MPS_Ward_Level_Crime_most_recent_24_months.csv")
    months = [m for m in ward.columns if re.fullmatch(r"\d{6}", m)]
    totals = ward[months].sum()
    assert totals["202403"] < 100                                  # the incomplete first month
    full = totals.drop("202403")
    assert 66000 <= full.min() and full.max() <= 81500 and round(full.min(), -3) == 66000 and round(full.max(), -3) == 81000
    last = months[-12:]
    by_ward = ward.groupby("WardName")[last].sum().sum(axis=1).sort_values(ascending=False)
    assert list(by_ward.index[:2]) == ["West End", "St James's"] and by_ward.iloc[1] > 2 * by_ward.iloc[2]
    met = ward[ward["LookUp_BoroughName"] != "Aviation Security (SO18)"]
    cats = met.groupby(["LookUp_BoroughName", "MajorText"])[last].sum().sum(axis=1).unstack()
    two = cats.apply(lambda r: set(r.nlargest(2).index), axis=1)
    assert (two == {"THEFT", "VIOLENCE AGAINST THE PERSON"}).all() and len(cats) == 32
    assert ((cats["THEFT"] + cats["VIOLENCE AGAINST THE PERSON"]) / cats.sum(axis=1) > 0.5).all()
    assert "two largest kinds of recorded crime in every borough" in titles["crime-borough-categories"]


def test_net_zero_titles_are_true(themes, data_dir):
    titles = _claims(themes, "net-zero")
    f = pd.read_csv(data_dir / "stats/emissions/leggi_london_boroughs_co2emissions_df.tsv", sep="\t")
    f = f[f["gss"].notna()]
    t = f.groupby("leggi_year")[["industrial_and_commercial_total", "domestic_total", "transport_total", "total_total"]].sum()
    change = (t.loc[2017] / t.loc[2010] - 1) * 100
    assert round(change["total_total"]) == -31 and "fell by 31%" in titles["co2-by-sector"]
    assert change.idxmin() == "industrial_and_commercial_total" and change.drop("total_total").idxmax() == "transport_total"
    b = f.pivot_table(index="borough", columns="leggi_year", values="total_total")
    fall = (b[2017] / b[2010] - 1) * 100
    assert (fall < 0).all() and -55 < fall.min() < -45 and -22 < fall.max() < -18
    assert list(b[2017].nlargest(2).index) == ["Hillingdon", "Westminster"]


# ------------------------------------------------------------------------------------------ bad files
GOOD_CHART = """\
  - id: no2
    type: ranked_bar
    title: NO₂ by borough
    dataset: laei-borough
    resource: no2-2019
    transform: values
    args: {value: NO2-2019-mean}
    unit: µg/m³
"""


def _theme_file(tmp_path: Path, charts: str, extra: str = "", name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"""\
slug: {name.removesuffix('.yaml')}
title: A test theme
summary: One sentence.
narrative: |
  First paragraph.

  Second paragraph.
{extra}charts:
{charts}""", encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_a_missing_dataset_names_the_file_and_line(tmp_path, env):
    registry, service = env
    path = _theme_file(tmp_path, GOOD_CHART + GOOD_CHART.replace("id: no2", "id: ghost")
                       .replace("dataset: laei-borough", "dataset: no-such-dataset"))
    theme = load_theme(path)
    with pytest.raises(ThemeError) as err:
        validate_theme(theme, registry, service)
    assert err.value.path == path and err.value.line == _line_of(path, "no-such-dataset")
    assert str(path) in str(err.value) and f"line {err.value.line}" in str(err.value)
    assert "no dataset 'no-such-dataset'" in str(err.value) and "ghost" in str(err.value)


def test_a_missing_column_names_the_file_line_and_field(tmp_path, env):
    registry, service = env
    path = _theme_file(tmp_path, GOOD_CHART.replace("args: {value: NO2-2019-mean}",
                                                    "args:\n      value: NO2-2019-meen"))
    with pytest.raises(ThemeError) as err:
        validate_theme(load_theme(path), registry, service)
    assert err.value.line == _line_of(path, "NO2-2019-meen")
    assert "args.value" in err.value.field and "'NO2-2019-meen'" in str(err.value)
    assert "NO2-2019-mean" in str(err.value)                 # the columns that do exist are listed


def test_a_missing_resource_nested_column_and_map_variable_are_caught(tmp_path, env):
    registry, service = env
    bad_resource = _theme_file(tmp_path, GOOD_CHART.replace("resource: no2-2019", "resource: no2-2099"), name="a.yaml")
    with pytest.raises(ThemeError) as err:
        validate_theme(load_theme(bad_resource), registry, service)
    assert err.value.line == _line_of(bad_resource, "no2-2099") and "no resource 'no2-2099'" in str(err.value)

    nested = _theme_file(tmp_path, """\
  - id: scatter
    type: scatter_trend
    title: x
    dataset: laei-lsoa-2011
    resource: no2-2019
    transform: scatter
    args:
      x: {dataset: imd-2019, resource: file-1, value: IMD Rank typo}
      y: {value: NO2-2019-mean}
""", name="b.yaml")
    with pytest.raises(ThemeError) as err:
        validate_theme(load_theme(nested), registry, service)
    assert err.value.line == _line_of(nested, "IMD Rank typo") and "imd-2019/file-1" in str(err.value)

    layer = _theme_file(tmp_path, GOOD_CHART, extra="""\
map:
  - dataset: laei-borough
    resource: no2-2019
    variable: NOPE
""", name="c.yaml")
    with pytest.raises(ThemeError) as err:
        validate_theme(load_theme(layer), registry, service)
    assert err.value.line == _line_of(layer, "- dataset: laei-borough") and "'NOPE'" in str(err.value)


@pytest.mark.parametrize("charts, needle, message", [
    (GOOD_CHART.replace("type: ranked_bar", "type: pie"), "type: pie", "unknown chart type 'pie'"),
    (GOOD_CHART.replace("transform: values", "transform: magic"), "transform: magic", "unknown transform 'magic'"),
    (GOOD_CHART.replace("args: {value: NO2-2019-mean}", "args:\n      value: x\n      colour: red"),
     "colour: red", "takes no argument 'colour'"),
    (GOOD_CHART + GOOD_CHART, "- id: no2", "already used on line"),
    (GOOD_CHART.replace("    title: NO₂ by borough\n", ""), "- id: no2", "'title' is required"),
    (GOOD_CHART + "    reference_lines: [{value: forty, label: UK}]\n", "reference_lines", "not a number"),
])
def test_shape_errors_are_found_at_load_with_their_line(tmp_path, charts, needle, message):
    path = _theme_file(tmp_path, charts)
    with pytest.raises(ThemeError) as err:
        load_theme(path)
    assert message in str(err.value)
    if needle == "- id: no2" and "already used" in message:
        lines = [i for i, l in enumerate(path.read_text().splitlines(), 1) if "- id: no2" in l]
        assert err.value.line == lines[1]                         # the second chart's id
    else:
        assert err.value.line == _line_of(path, needle)


def test_invalid_yaml_and_duplicate_slugs(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("slug: x\ntitle: [unclosed\nsummary: y\n", encoding="utf-8")
    with pytest.raises(ThemeError) as err:
        load_theme(path)
    assert err.value.path == path and err.value.line in (2, 3, 4) and "not valid YAML" in str(err.value)
    folder = tmp_path / "themes"
    folder.mkdir()
    for name in ("one.yaml", "two.yaml"):
        _theme_file(folder, GOOD_CHART, name=name)
        (folder / name).write_text((folder / name).read_text().replace(f"slug: {name[:-5]}", "slug: same"))
    with pytest.raises(ThemeError) as err:
        load_themes(folder)
    assert "two.yaml" in str(err.value) and "one.yaml" in str(err.value)


def test_a_chart_whose_data_cannot_be_loaded_fails_alone(tmp_path, data_dir):
    settings = Settings(home=tmp_path / "home", data_dir=data_dir, cache_url="null", offline=True)
    registry = open_registry(settings)
    registry.upsert(Entry.from_dict({
        "id": "vanished", "title": "A dataset whose file is gone",
        "resources": [{"id": "csv", "local_path": "nowhere/vanished.csv", "format": "csv"}],
    }))
    service = DataService(settings, registry)
    path = _theme_file(tmp_path, GOOD_CHART + GOOD_CHART.replace("id: no2", "id: gone")
                       .replace("dataset: laei-borough", "dataset: vanished").replace("resource: no2-2019", "resource: csv"),
                       extra="""\
headlines:
  - label: Gone
    compute: row_count
    dataset: vanished
    resource: csv
""")
    theme = load_theme(path)
    warnings = validate_theme(theme, registry, service)          # not a theme error: the data is missing
    assert len(warnings) == 1 and "vanished" in warnings[0]
    good, gone = (build_chart(c, service) for c in theme.charts)
    assert good.error is None and len(good.data) == 33
    assert gone.error and "vanished" in gone.error and gone.data.empty
    assert gone.summary.startswith("NO₂ by borough: not available")
    assert "could not be drawn" in gone.figure.layout.annotations[0].text
    assert gone.sources and gone.sources[0]["dataset_id"] == "vanished" and gone.sources[0]["error"]
    [headline] = headline_values(theme, service)
    assert headline["text"] == "not available" and headline["error"]
