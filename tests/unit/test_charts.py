"""Chart builders on the real data: the numbers drawn equal the source files read directly with
pandas; bars start at zero and are sorted; every bar and point carries its area code; highlighted
places are drawn in the highlight colour; GLA design tokens meet WCAG AA contrast."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from explorer.themes import design
from explorer.themes.chart_data import TRANSFORMS, normalise_name
from explorer.themes.charts import build_chart, fmt_number, format_headline, headline_values
from explorer.geo.joins import DataService
from explorer.services import open_registry
from explorer.settings import Settings
from explorer.themes.theme_files import ChartSpec, load_themes

CAMDEN, BROMLEY, CITY = "E09000007", "E09000006", "E09000001"


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("home"), data_dir=data_dir, cache_url="null", offline=True)
    registry = open_registry(settings)
    return DataService(settings, registry, memory_items=64)


@pytest.fixture(scope="module")
def charts():
    return {(t.slug, c.id): c for t in load_themes() for c in t.charts}


def spec(charts, slug, chart_id) -> ChartSpec:
    return charts[(slug, chart_id)]


def lad(data_dir, year, pollutant="NO2") -> pd.Series:
    frame = pd.read_csv(data_dir / f"air_quality/laei_zonal/lad21-{year}-{pollutant}.csv")
    return frame.set_index("LAD22CD")[f"{pollutant}-{year}-mean"]


def bar_values(trace) -> dict:
    return dict(zip(trace.customdata, trace.x))


# ------------------------------------------------------------------------------------------ ranked bars
def test_ranked_bar_values_equal_the_csv_and_are_sorted_from_zero(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality", "no2-borough-2019"), service)
    [bars] = result.figure.data
    values = bar_values(bars)
    csv = lad(data_dir, 2019)
    for code in (CAMDEN, BROMLEY, CITY):
        assert values[code] == pytest.approx(csv[code])
    assert len(values) == 33 and list(bars.x) == sorted(bars.x, reverse=True)
    assert bars.customdata[0] == CITY and bars.y[0] == "City of London"     # highest first, at the top
    layout = result.figure.layout
    assert layout.xaxis.range[0] == 0 and layout.xaxis.title.text == "NO₂ annual mean (µg/m³)"
    assert layout.yaxis.autorange == "reversed"
    lines = sorted(s.x0 for s in layout.shapes)
    assert lines == [10, 40]
    labels = [a.text for a in layout.annotations]
    assert "UK objective 40 µg/m³" in labels and "WHO 2021 guideline 10 µg/m³" in labels
    assert result.highlight_keys == "area_code" and set(result.data["area_code"]) == set(csv.index)
    assert result.labels["value"] == "NO₂ annual mean (µg/m³)"
    assert "Highest: City of London, 41.0 µg/m³" in result.summary and "lowest: Bromley" in result.summary


def test_highlight_draws_the_selected_bar_in_the_highlight_colour(service, charts):
    result = build_chart(spec(charts, "air-quality", "no2-borough-2019"), service, highlight=[CAMDEN])
    [bars] = result.figure.data
    colours = dict(zip(bars.customdata, bars.marker.color))
    assert colours[CAMDEN] == design.HIGHLIGHT
    assert {c for code, c in colours.items() if code != CAMDEN} == {design.MUTED}
    widths = dict(zip(bars.customdata, bars.marker.line.width))
    assert widths[CAMDEN] > 0 and widths[BROMLEY] == 0                    # an outline, not colour alone
    plain = build_chart(spec(charts, "air-quality", "no2-borough-2019"), service)
    # nothing picked: every bar in the data colour, sent once for all of them, with no outline
    assert plain.figure.data[0].marker.color == design.DATA
    assert plain.figure.data[0].marker.line.width == 0


def test_grouped_bars_compare_price_and_income_growth(service, charts, data_dir):
    result = build_chart(spec(charts, "housing", "price-vs-income-growth"), service, highlight=[CAMDEN])
    prices, incomes = result.figure.data
    assert (prices.name, incomes.name) == ("Mean price paid", "Median household income")
    hp = pd.read_csv(data_dir / "stats/house_prices/land-registry-house-prices-borough.csv", thousands=",").set_index("Code")
    growth = (hp["Year ending Dec 2012"] / hp["Year ending Dec 2001"] - 1) * 100
    assert bar_values(prices)[CAMDEN] == pytest.approx(growth[CAMDEN])
    inc = pd.read_csv(data_dir / "stats/income/london-2001-2012-HHI-median.csv").groupby("LAD11CD")
    income = (inc["HHI_median_2012"].median() / inc["HHI_median_2001"].median() - 1) * 100
    assert bar_values(incomes)[BROMLEY] == pytest.approx(income[BROMLEY])
    assert all(p > i for p, i in zip(prices.x, incomes.x))
    opacity = dict(zip(prices.customdata, prices.marker.opacity))
    assert opacity[CAMDEN] == 1.0 and opacity[BROMLEY] < 1.0


def test_category_counts_join_the_species_look_up(service, charts, data_dir):
    result = build_chart(spec(charts, "green-infrastructure", "camden-tree-species"), service)
    [bars] = result.figure.data
    trees = json.loads((data_dir / "green/trees_camden/camden-trees.geojson").read_text())["features"]
    refs = json.loads((data_dir / "green/trees_camden/camden-trees-refs.json").read_text())["species"]
    counts = pd.Series([refs[f["properties"]["species"]]["common"] for f in trees]).value_counts()
    drawn = dict(zip(bars.y, bars.x))
    assert drawn["London plane"] == counts["London plane"] == 2665
    assert list(bars.y)[-1].startswith("Other (") and sum(bars.x) == len(trees)
    assert result.highlight_keys is None and result.stats["categories"] == counts.size


def test_threshold_shares_equal_a_direct_computation(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality", "lsoa-threshold-shares"), service)
    drawn = dict(zip(result.figure.data[0].y, result.figure.data[0].x))
    no2 = pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa21-2019-NO2.csv")["NO2-2019-mean"]
    pm = pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa21-2019-PM25.csv")["PM25-2019-mean"]
    key40 = next(k for k in drawn if k.startswith("NO₂ above the UK"))
    key_pm = next(k for k in drawn if k.startswith("PM2.5 above the UK"))
    assert drawn[key40] == pytest.approx((no2 > 40).mean() * 100)
    assert drawn[key_pm] == pytest.approx((pm > 10).mean() * 100)
    assert result.figure.layout.xaxis.title.text == "Share of small areas (%)"


# ------------------------------------------------------------------------------------------ distributions
def test_histogram_counts_every_area_and_states_the_share_above_each_line(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality", "no2-lsoa-2019"), service)
    no2 = pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa21-2019-NO2.csv")["NO2-2019-mean"]
    [bars] = result.figure.data
    assert sum(bars.y) == len(no2) == 4994
    assert result.data["count"].sum() == 4994 and (result.data["to"] - result.data["from"]).round(6).eq(1).all()
    assert f"{(no2 > 40).mean() * 100:.1f}% are above the UK objective" in result.summary
    assert result.figure.layout.yaxis.title.text == "Number of small areas"
    highlighted = build_chart(spec(charts, "air-quality", "no2-lsoa-2019"), service, highlight=[CAMDEN])
    base, selected = highlighted.figure.data
    camden_lsoas = no2[pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa21-2019-NO2.csv")["LSOA21CD"]
                       .isin(service.load("laei-lsoa-2021", "no2-2019").frame.query("area_name.str.startswith('Camden ')").area_code)]
    assert sum(selected.y) == len(camden_lsoas) > 100
    assert selected.marker.color == design.HIGHLIGHT and base.marker.color == design.MUTED


def test_monitoring_sites_by_year_leave_out_the_partial_year(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality", "monitoring-no2"), service, highlight=[CAMDEN])
    raw = pd.read_csv(data_dir / "air_quality/monitoring_sites/site_means_2019-03-08.csv")
    sites = raw[(raw["name"] == "LAEIBox") & (raw["duplicate"] == "N") & (raw["pollutant"] == "no2")
                & (raw["capture_rate"] >= 75)]
    expected = sites.groupby("date").size()
    table = result.data.set_index("x")
    assert list(table.index) == [2013, 2014, 2015, 2016, 2017, 2018]
    assert table["n"].to_dict() == expected.to_dict()
    assert table["median"].to_dict() == pytest.approx(sites.groupby("date")["mean"].median().round(1).to_dict())
    assert any("2019 is left out" in n for n in result.notes)
    selected = next(t for t in result.figure.data if t.name == "Selected")
    assert set(selected.customdata) == {CAMDEN}
    camden = sites[sites["site"].str.startswith("Camden - ")]
    assert len(selected.y) == len(camden) > 0


# ------------------------------------------------------------------------------------------ lines
def test_time_series_per_borough_lines_equal_the_csv(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality", "no2-borough-change"), service, highlight=[CAMDEN])
    lines = {t.customdata[0]: t for t in result.figure.data if t.customdata is not None}
    assert len(lines) == 33
    # no spaghetti: the boroughs are read against one strong line, the median of them
    [typical] = [t for t in result.figure.data if t.customdata is None]
    assert typical.name.startswith("Typical") and typical.line.color == design.BRAND["dark"]
    assert typical.line.width > lines[BROMLEY].line.width
    assert list(typical.y) == pytest.approx([pd.Series([lad(data_dir, y)[c] for c in lines]).median()
                                             for y in (2013, 2016, 2019)])
    for code in (CAMDEN, BROMLEY, CITY):
        assert list(lines[code].x) == [2013, 2016, 2019]
        assert list(lines[code].y) == pytest.approx([lad(data_dir, y)[code] for y in (2013, 2016, 2019)])
    assert lines[CAMDEN].line.color == design.HIGHLIGHT and lines[BROMLEY].line.color == design.MUTED
    assert result.figure.layout.yaxis.rangemode == "tozero"
    assert "fell in 33 of the 33" in result.summary
    assert set(result.data.columns) >= {"area_code", "2013", "2016", "2019"}


def test_time_series_with_an_emphasised_london_line(service, charts, data_dir):
    result = build_chart(spec(charts, "housing", "prices-by-borough"), service)
    london = next(t for t in result.figure.data if t.name == "London")
    hp = pd.read_csv(data_dir / "stats/house_prices/land-registry-house-prices-borough.csv", thousands=",").set_index("Code")
    assert list(london.x) == list(range(1995, 2018))
    assert london.y[0] == hp.loc["E12000007", "Year ending Dec 1995"] and london.y[-1] == 620074
    assert london.line.color == design.BRAND["dark"]
    assert result.figure.layout.yaxis.title.text == "Mean price paid (£)"


def test_monthly_series_relabel_the_misdated_month(service, charts):
    result = build_chart(spec(charts, "air-quality", "monthly-no2"), service)
    road, back = result.figure.data
    assert len(road.x) == 117 and pd.Timestamp(road.x[0]) == pd.Timestamp("2008-01-01")
    assert pd.Timestamp(road.x[-1]) == pd.Timestamp("2017-09-01")
    assert len(set(pd.to_datetime(list(road.x)))) == 117                    # no month twice
    assert any("'Dec-12'" in n and "Dec 2013" in n for n in result.notes)
    assert road.line.dash != back.line.dash                                  # not colour alone


def test_small_multiples_one_panel_per_pollutant_with_its_own_guidelines(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality", "particles-borough-change"), service)
    fig = result.figure
    titles = [a.text for a in fig.layout.annotations]
    assert "PM2.5" in titles and "PM10" in titles
    pm25 = [t for t in fig.data if t.xaxis == "x"]
    camden = next(t for t in pm25 if t.customdata[0] == CAMDEN)
    assert list(camden.y) == pytest.approx([lad(data_dir, y, "PM25")[CAMDEN] for y in (2013, 2016, 2019)])
    guideline = {(s.xref.split()[0], s.y0) for s in fig.layout.shapes}
    assert ("x", 5) in guideline and ("x", 10) in guideline and ("x2", 15) in guideline and ("x2", 40) in guideline
    assert ("x2", 5) not in guideline


def test_stacked_bars_sum_to_the_borough_totals(service, charts, data_dir):
    result = build_chart(spec(charts, "community-safety", "crime-borough-categories"), service, highlight=[CAMDEN])
    ward = pd.read_csv(data_dir / "stats/crime_ward/MPS_Ward_Level_Crime_most_recent_24_months.csv")
    last = [c for c in ward.columns if c.isdigit()][-12:]
    westminster = ward.loc[ward["LookUp_BoroughName"] == "Westminster", last].to_numpy().sum()
    per_bar: dict = {}
    for trace in result.figure.data:
        for code, value in zip(trace.customdata, trace.x):
            per_bar[code] = per_bar.get(code, 0) + (0 if pd.isna(value) else value)
    assert per_bar["E09000033"] == westminster
    assert len(per_bar) == 32 and result.figure.layout.barmode == "stack"
    assert result.data.iloc[0]["area_name"] == "Westminster"               # sorted by total
    theft = next(t for t in result.figure.data if t.name == "Theft")
    assert dict(zip(theft.customdata, theft.marker.line.width))[CAMDEN] > 0


# ------------------------------------------------------------------------------------------ scatter
def test_scatter_trend_states_the_correlation_of_the_joined_data(service, charts, data_dir):
    result = build_chart(spec(charts, "air-quality-and-deprivation", "no2-vs-imd"), service, highlight=[CAMDEN])
    no2 = pd.read_csv(data_dir / "air_quality/laei_zonal/lsoa11-2019-NO2.csv")
    imd = pd.read_csv(data_dir / "stats/deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz", thousands=",")
    m = no2.merge(imd, left_on="LSOA11CD", right_on="LSOA code (2011)")
    r = np.corrcoef(m["Index of Multiple Deprivation (IMD) Rank"], m["NO2-2019-mean"])[0, 1]
    slope = np.polyfit(m["Index of Multiple Deprivation (IMD) Rank"], m["NO2-2019-mean"], 1)[0]
    assert result.stats["n"] == len(m) == 4835
    assert result.stats["r"] == pytest.approx(r) and result.stats["slope"] == pytest.approx(slope)
    assert f"r = {r:.2f}".replace("-", "−") in result.summary
    points, selected, trend = result.figure.data
    assert trend.name.startswith("Trend")
    camden = m[m["Local Authority District code (2019)"] == CAMDEN]
    assert len(selected.x) == len(camden) and selected.marker.color == design.HIGHLIGHT
    assert len(points.customdata) + len(selected.customdata) == 4835
    assert result.figure.layout.yaxis.title.text == "NO₂ annual mean (µg/m³)"
    assert result.figure.layout.dragmode == "select"                        # box-select to the map


def test_ratio_and_per_person_use_the_summed_population(service, charts, data_dir):
    result = build_chart(spec(charts, "green-infrastructure", "green-space-per-person"), service)
    green = pd.read_csv(data_dir / "green/greenBoroughs_os_open_greenspace.csv").set_index("GSSCode")["greenArea"]
    pop = pd.read_csv(data_dir / "stats/population/london-mid2020-pop-lsoa.csv").groupby("LAD11CD")["Persons_All-Ages"].sum()
    values = bar_values(result.figure.data[0])
    for code in (CAMDEN, BROMLEY, CITY):
        assert values[code] == pytest.approx(green[code] * 10000 / pop[code])
    assert result.data.set_index("area_code").loc[CAMDEN, "denominator"] == pop[CAMDEN]


# ------------------------------------------------------------------------------------------ failure
def test_a_chart_with_a_bad_column_returns_an_error_instead_of_raising(service):
    bad = ChartSpec(id="bad", type="ranked_bar", title="Broken", subtitle="", dataset="laei-borough",
                    resource="no2-2019", params={"transform": "values", "args": {"value": "nope"}},
                    unit="", reference_lines=[], line=1)
    result = build_chart(bad, service)
    assert result.error and "'nope'" in result.error and result.data.empty
    assert result.summary == f"Broken: not available – {result.error}"
    assert "could not be drawn" in result.figure.layout.annotations[0].text
    missing = ChartSpec(id="gone", type="time_series", title="Gone", subtitle="", dataset="no-such",
                        resource=None, params={"transform": "values"}, unit="", reference_lines=[], line=1)
    assert "no-such" in build_chart(missing, service).error


def test_titled_figures_carry_title_and_source_for_export(service, charts):
    s = spec(charts, "air-quality", "no2-borough-2019")
    result = build_chart(s, service, titled=True)
    layout = result.figure.layout
    assert "only the City of London" in layout.title.text and s.subtitle in layout.title.text.replace("<br>", " ")
    footer = [a.text.replace("<br>", " ") for a in layout.annotations if a.text.startswith("Source:")]
    assert footer and "Greater London Authority" in footer[0] and "Open Government Licence" in footer[0]
    assert not build_chart(s, service).figure.layout.title.text                # pages show a heading instead


# ------------------------------------------------------------------------------------------ design
def test_contrast_ratio_matches_wcag_reference_values():
    assert design.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert design.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert design.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)   # the classic near miss
    assert design.contrast_ratio("#fff", "#000") == design.contrast_ratio("#000000", "#ffffff")
    with pytest.raises(ValueError):
        design.contrast_ratio("blue", "#ffffff")


def test_text_colours_meet_aa_and_data_colours_meet_3_to_1():
    for name, colour in design.TEXT_COLOURS.items():
        assert design.contrast_ratio(colour, design.BACKGROUND) >= 4.5, name
    for colour in design.DATA_COLOURS + [design.DATA, design.HIGHLIGHT, design.MUTED, design.CONTEXT_LINE]:
        assert design.contrast_ratio(colour, design.BACKGROUND) >= 3.0, colour
    assert design.contrast_ratio(design.BRAND["light"], design.BACKGROUND) < 3      # decoration only
    assert design.BRAND == {"dark": "#00577d", "blue": "#007acc", "light": "#00aeef"}


def test_template_uses_inter_and_the_gla_colours(service, charts):
    name = design.register_template()
    template = pio.templates[name]
    assert template.layout.font.family.startswith("Inter")
    assert template.layout.font.color == design.TEXT
    assert list(template.layout.colorway) == design.DATA_COLOURS
    fig = build_chart(spec(charts, "housing", "price-to-income-2012"), service).figure
    assert fig.layout.template.layout.font.family.startswith("Inter")


def test_formatting_helpers():
    assert format_headline(-21.4, "signed_percent") == "−21%"
    assert format_headline(75.3, "signed_percent") == "+75%"
    assert format_headline(1.26, "percent", decimals=1) == "1.3%"
    assert format_headline(620074, "currency") == "£620,074"
    assert format_headline(6.36, "multiple", decimals=1) == "×6.4"
    assert format_headline(28.16, "number", "m²") == "28 m²"
    assert format_headline(None, "number") == "not available"
    assert fmt_number(-0.62, 2) == "−0.62" and fmt_number(41.0, 1, "µg/m³") == "41.0 µg/m³"
    assert normalise_name("Richmond Upon Thames") == normalise_name("Richmond upon Thames")
    assert normalise_name("Hammersmith & Fulham") == normalise_name("Hammersmith and Fulham")
    assert {"values", "scatter", "wide_series", "period_totals"} <= set(TRANSFORMS)


def test_headline_values_of_a_theme(service):
    theme = next(t for t in load_themes() if t.slug == "housing")
    values = {h["label"]: h for h in headline_values(theme, service)}
    assert values["Mean price paid for a home in London, 2017"]["text"] == "£620,074"
    assert values["Rise in London's mean price, 1995 → 2017"]["text"] == "×6.4"


def test_reference_line_labels_never_run_together(service, charts):
    """"UK objective 40 µg/m³" and "WHO 2021 guideline 10 µg/m³" above a bar chart: each its own row,
    so on a phone's narrow plot they cannot overlap ("UK objec WHO 2021 guideline 10 µ")."""
    result = build_chart(spec(charts, "air-quality", "no2-borough-2019"), service)
    labels = [a for a in result.figure.layout.annotations if "guideline" in (a.text or "") or "objective" in (a.text or "")]
    assert len(labels) >= 2
    assert len({a.yshift for a in labels}) == len(labels)
    assert min(abs(a.yshift - b.yshift) for a in labels for b in labels if a is not b) >= 14   # a 12 px font
    assert result.figure.layout.margin.t >= 40 + 14 * (len(labels) - 1)                      # room above the plot
