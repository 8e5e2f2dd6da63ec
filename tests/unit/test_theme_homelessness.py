"""The homelessness theme (geodata/themes/homelessness.yaml): it passes the start-up theme check,
every number its narrative, titles and headlines state is true of the MHCLG workbook read cell by
cell with openpyxl (not through the explorer's reader), the boroughs it names as estimating are
the ones the workbook marks, and it links to the housing theme and back."""

from __future__ import annotations

import re

import openpyxl
import pytest
from dash import dcc

from explorer.themes.charts import build_chart, headline_values
from explorer.themes.theme_files import ThemeError, load_theme, load_themes

WORKBOOK = "stats/homelessness/rough_sleeping_england_autumn_2017.xlsx"
YEARS = list(range(2010, 2018))


@pytest.fixture(scope="module")
def app_services(tmp_path_factory, data_dir):
    from explorer.web.app import create_app
    from explorer.settings import Settings

    return create_app(Settings(home=tmp_path_factory.mktemp("home"), data_dir=data_dir, offline=True,
                               cache_url="simple")).explorer


@pytest.fixture(scope="module")
def theme():
    return {t.slug: t for t in load_themes()}["homelessness"]


@pytest.fixture(scope="module")
def book(data_dir):
    """Table 1 read cell by cell: code → {name, region, years…, households, rate}, plus which
    cells are shaded (the workbook's mark of a street count) and the dropdown sheet's lookup."""
    wb = openpyxl.load_workbook(data_dir / WORKBOOK, data_only=True)
    ws = wb["table 1"]
    rows, shaded = {}, {}
    for r in range(1, ws.max_row + 1):
        code, name = ws.cell(r, 1).value, ws.cell(r, 2).value
        if isinstance(code, str) and (re.fullmatch(r"E\d{8}", code) or code == "-"):
            key = code if code != "-" else name
            rows[key] = {"name": name, "region": ws.cell(r, 3).value,
                         **{y: ws.cell(r, 4 + i).value for i, y in enumerate(YEARS)},
                         "households": ws.cell(r, 12).value, "rate": ws.cell(r, 13).value}
            fills = [ws.cell(r, 4 + i).fill for i in range(len(YEARS))]
            shaded[key] = [f.fill_type == "solid" and ((f.fgColor.type == "rgb" and f.fgColor.rgb == "FFDDDDDD")
                                                       or (f.fgColor.type == "theme" and f.fgColor.tint < 0))
                           for f in fills]
    dd = wb["LA dropdown"]
    header = [c.value for c in dd[17]]
    counted = {}
    for row in dd.iter_rows(min_row=18, values_only=True):
        if isinstance(row[20], str) and row[20].startswith("E09"):
            counted[row[20]] = [row[header.index(f"count {y}")] == "y" for y in YEARS]
    wb.close()
    return rows, shaded, counted


def _boroughs(rows):
    return {c: v for c, v in rows.items() if c.startswith("E09")}


# ------------------------------------------------------------------------------ the check
def test_the_theme_passes_the_start_up_check_and_every_chart_builds(app_services, theme):
    from explorer.themes.theme_check import checked_themes

    assert "homelessness" in {t.slug for t in checked_themes(app_services)}
    for spec in theme.charts:
        result = build_chart(spec, app_services.data)
        assert result.error is None, (spec.id, result.error)
        assert not result.data.empty and result.summary.startswith(spec.title)
    sources = {(s["dataset_id"], s["resource_id"]) for s in build_chart(theme.charts[2], app_services.data).sources}
    assert ("rough-sleeping-la", "table-1") in sources


def test_the_page_joins_every_borough_and_says_what_was_read(app_services):
    loaded = app_services.data.load("rough-sleeping-la", "table-1")
    assert len(loaded.frame) == 33 and loaded.geography.matched == 33 and loaded.geography.unmatched == 0
    steps = " | ".join(loaded.provenance.to_dict()["transformations"])
    assert "read sheet 'table 1'" in steps and "found the header in row 4" in steps
    assert "11 subtotal rows" in steps and "derived rows" in steps
    regions = app_services.data.load("rough-sleeping-la", "regions")
    assert len(regions.frame) == 11 and set(regions.frame["row_type"]) == {"subtotal"}


def test_headlines_are_the_workbooks_figures(app_services, theme, book):
    rows, _, _ = book
    values = {h["label"]: h for h in headline_values(theme, app_services.data)}
    london, england = rows["E12000007"], rows["E92000001"]
    assert values["People sleeping rough in London on a single autumn night, 2017"]["text"] == f"{london[2017]:,}" == "1,137"
    rise = values["Rise in London since 2010, when the figure was 415"]
    assert london[2010] == 415 and rise["value"] == pytest.approx(london[2017] / london[2010]) and rise["text"] == "×2.7"
    assert values["People sleeping rough per 1,000 households in London, 2017"]["text"] == f"{london['rate']:.2f}" == "0.31"
    assert values["People sleeping rough per 1,000 households in England, 2017"]["text"] == f"{england['rate']:.2f}" == "0.20"


# ------------------------------------------------------------------------------ the claims
def test_the_narrative_and_titles_are_true_of_the_workbook(theme, book):
    rows, _, _ = book
    text = " ".join(theme.narrative.split())
    titles = {c.id: c.title for c in theme.charts}
    london, rest, england = rows["E12000007"], rows["Rest of England"], rows["E92000001"]
    boroughs = _boroughs(rows)
    assert len(boroughs) == 33 and all(b["region"] == "London" for b in boroughs.values())
    assert sum(b[y] for b in boroughs.values() for y in [2017]) == london[2017]
    # summary and paragraph 2
    assert "1,137 people" in theme.summary and 2.5 < london[2017] / london[2010] < 3     # "almost three times"
    assert round(london[2017] / england[2017] * 4) == 1                                   # "about a quarter"
    assert f"from {london[2010]} in 2010 to {london[2017]:,} in 2017" in text
    assert abs(london[2017] / london[2010] - rest[2017] / rest[2010]) < 0.1               # "about as fast"
    assert round(london["households"] / england["households"] * 100) == 16 and "16% of England's households" in text
    assert round(london[2017] / england[2017] * 100) == 24 and "24% of its rough sleepers" in text
    assert f"{london['rate']:.2f} people per 1,000 households against {rest['rate']:.2f}" in text
    regions = {c: v for c, v in rows.items() if c.startswith("E12")}
    ranked = sorted(regions.values(), key=lambda v: -v["rate"])
    assert len(regions) == 9 and ranked[0]["name"] == "London" and ranked[1]["name"] == "South East"
    assert "just above the South East" in titles["rate-by-region-2017"]
    ref = theme.chart("rate-by-region-2017").reference_lines[0]
    assert ref["label"] == "England" and ref["value"] == round(england["rate"], 2)
    assert "almost tripled" in titles["london-and-rest-of-england"] and 2.5 < rest[2017] / rest[2010] < 3
    # paragraph 3 and the borough charts
    by_name = {b["name"]: b for b in boroughs.values()}
    for y in YEARS:
        assert max(boroughs.values(), key=lambda b: b[y])["name"] == "Westminster", y
    assert "every year from 2010 to 2017" in titles["borough-trends"]
    top = sorted(boroughs.values(), key=lambda b: -b[2017])
    assert (top[0]["name"], top[0][2017], top[1]["name"], top[1][2017]) == ("Westminster", 217, "Camden", 127)
    assert "217" in titles["count-by-borough-2017"] and "Camden with 127" in titles["count-by-borough-2017"]
    change = sorted(boroughs.values(), key=lambda b: -(b[2017] - b[2010]))
    rose = sum(b[2017] > b[2010] for b in boroughs.values())
    assert rose == 28 and [b["name"] for b in change[:3]] == ["Camden", "Westminster", "Newham"]
    assert "rose in 28 of the 33 boroughs" in titles["rise-by-borough"]
    assert "rose in 28 of the 33 boroughs, most in Camden, Westminster and Newham" in text
    camden = by_name["Camden"]
    assert (camden[2016], camden[2017]) == (17, 127) and "from 17 in 2016 to 127 in 2017" in text
    city = by_name["City of London"]
    assert city[2017] == 36 and round(city["households"]) == 5 and "36 people among about 5,000 households" in text
    assert city["rate"] == max(b["rate"] for b in boroughs.values())
    # the year the data stops, and what a single-night count is not
    assert "stop at autumn 2017" in text and "not the number of people who sleep rough over a year" in text


def test_the_boroughs_named_as_estimating_are_the_ones_the_workbook_marks(theme, book, app_services):
    rows, shaded, counted = book
    boroughs = _boroughs(rows)
    # the two marks in the workbook agree: shaded cells in table 1, "y" in the dropdown's lookup
    assert {c: shaded[c] for c in boroughs} == counted
    estimated = sorted(b["name"] for c, b in boroughs.items() if not counted[c][-1])
    assert len(estimated) == 14
    listed = ", ".join(estimated[:-1]) + " and " + estimated[-1]
    text = " ".join(theme.narrative.split())
    assert f"In 2017, {len(estimated)} boroughs gave an estimate rather than a count: {listed}." in text
    note = " ".join(theme.chart("count-by-borough-2017").caveat_note.split())
    assert f"{len(estimated)} boroughs gave an estimate" in note and f"({listed})" in note
    camden = next(c for c, b in boroughs.items() if b["name"] == "Camden")
    assert counted[camden] == [True, True, True, False, False, False, False, True]   # "after four years of estimates"
    caveats = " ".join(app_services.registry.get("rough-sleeping-la").caveats)
    assert f"in 2017, {len(estimated)} of London's 33 boroughs gave an estimate" in caveats


# ------------------------------------------------------------------------------ related themes
def test_homelessness_and_housing_link_to_each_other(theme):
    themes = {t.slug: t for t in load_themes()}
    assert [r["theme"] for r in theme.related] == ["housing"]
    assert "homelessness" in [r["theme"] for r in themes["housing"].related]
    from layouts.theme_page import related_links

    nav = related_links(theme.related)
    assert getattr(nav, "aria-label") == "Related themes"
    links = [c for c in nav.children.children if isinstance(c, dcc.Link)]
    assert [(link.href, link.children) for link in links] == [
        ("/themes/housing", "Housing costs: how far house prices outran incomes")]
    assert related_links([]) is None


def test_a_related_theme_that_does_not_exist_names_the_file_and_line(tmp_path, theme):
    folder = tmp_path / "themes"
    folder.mkdir()
    text = theme.path.read_text(encoding="utf-8").replace("{theme: housing,", "{theme: housin,")
    path = folder / "homelessness.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ThemeError) as err:
        load_themes(folder)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "theme: housin," in l)
    assert err.value.path == path and err.value.line == line and "no theme 'housin'" in str(err.value)
    path.write_text(text.replace("{theme: housin,", "{theme: homelessness,"), encoding="utf-8")
    with pytest.raises(ThemeError, match="not the slug of another theme"):
        load_theme(path)
