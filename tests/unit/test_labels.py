"""Plain words on every page: human labels for variables and periods, numbers formatted for their
kind, what an air-quality figure means, which caveats a chart shows, a source in one line, and
year marks a person can read."""

from __future__ import annotations

import pytest

from explorer.labels import caveats
from explorer.labels.numbers import format_value, meaning
from explorer.labels.sources import short_licence, short_publisher, source_line
from explorer.labels.variables import period_label, variable_label
from layouts.map_explorer import time_marks


@pytest.mark.parametrize("column, label", [
    ("NO2-2019-mean", "NO₂ annual mean, 2019"),
    ("PM25-2019-mean", "PM2.5 annual mean, 2019"),
    ("PM10d-2019-mean", "Days with PM10 above 50 µg/m³, 2019"),
    ("NOx-2016-max", "NOx highest, 2016"),
    ("202603", "March 2026"),
    ("1995", "1995"),
    ("median_income", "Median income"),
    ("pop_density", "Population density"),
    ("MajorText", "Major text"),
    ("IMD_Score", "IMD score"),
    ("Year ending Dec 2017", "Year ending Dec 2017"),      # a month keeps its capital
    ("year_ending_mar_1996", "Year ending Mar 1996"),
])
def test_a_column_gets_a_human_label(column, label):
    assert variable_label(column) == label


def test_the_registry_or_theme_label_wins():
    assert variable_label("pc_green", {"pc_green": "Share that is green space"}) == "Share that is green space"
    assert variable_label(None) == "" and period_label("2019") == "2019"


def test_numbers_are_formatted_for_their_kind():
    assert format_value(72310.4, "£") == "£72,310"
    assert format_value(38.234, "ug/m3") == "38.2 µg/m³"
    assert format_value(12.0, "%") == "12 %"
    assert format_value(4994) == "4,994"
    assert format_value(72310.4) == "72,310"          # never 7.231e+04
    assert format_value(-3.5, "%") == "−3.5 %"
    assert format_value(None) == "no data" and format_value(float("nan")) == "no data"


def test_an_air_quality_figure_says_what_it_means():
    assert meaning("NO2-2019-mean", 56.4, "µg/m³") == "above the UK annual objective of 40"
    assert meaning("NO2", 25) == "below the UK annual objective of 40, above the WHO 2021 guideline of 10"
    assert meaning("PM25-2019-mean", 4) == "below the WHO 2021 guideline of 5"
    assert meaning("population", 4) is None and meaning("NO2", None) is None
    assert meaning("PM10d-2019-mean", 40, "days") is None or "days" in meaning("PM10d-2019-mean", 40, "days")


def test_caveats_are_split_for_readers_sources_and_file_handling():
    found = caveats.split([
        "Modelled concentrations (LAEI), not measurements.",
        "Counts, not rates.",
        "Tab-separated file.",
        "Encoded as Windows-1252 (cp1252), not UTF-8.",
        "Prices are written with thousands separators (e.g. \"146,043\").",
        "Repackaged by Andrea Ballatore (King's College London).",
        "Licence not stated by the holding repository.",
        "Counts, not rates.",                           # a duplicate is shown once
    ])
    assert found[caveats.READER] == ["Modelled concentrations (LAEI), not measurements.", "Counts, not rates."]
    assert len(found[caveats.HANDLING]) == 3 and len(found[caveats.SOURCE]) == 2


def test_a_source_in_one_line():
    assert source_line("Greater London Authority (GLA)", "Open Government Licence v3.0", "2024-03-03") == \
        "GLA · OGL v3 · updated 3 Mar 2024"
    assert short_publisher(None) == "publisher not stated" and short_licence("") == "licence not stated"
    assert short_licence("Open Data Commons Open Database License (ODbL)") == "ODbL"


@pytest.mark.parametrize("labels", [
    ["2013", "2016", "2019"],
    [str(y) for y in range(1995, 2018)],
    [f"2024{m:02d}" for m in range(1, 13)] + [f"2025{m:02d}" for m in range(1, 13)],
])
def test_year_marks_are_readable_at_any_count(labels):
    marks = time_marks(labels)
    assert 0 in marks and len(labels) - 1 in marks          # the first and the last period
    texts = [m["label"] for m in marks.values()]
    assert all(t for t in texts) and len("".join(texts)) + 2 * len(texts) <= 26   # they fit a card's slider
    assert all(not t.isdigit() or len(t) == 4 for t in texts)                     # years, never indices
