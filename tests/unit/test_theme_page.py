"""Theme pages on the real data: every theme file becomes a page whose every chart renders with a
visible source card (generated from the registry and the load's provenance), a "show data" table
and a text summary; a chart whose data cannot load says so in its place while the rest works;
the map reuses the map explorer's layers; selections map to codes and figures; every theme is
checked when the app starts, failing with file and line when a local data folder is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dash import dcc, html

from callbacks import themes as theme_pages
from explorer.data.memo import Memos
from explorer.web.app import create_app
from explorer.geo.joins import DatasetError
from explorer.labels import caveats as caveat_kinds
from explorer.labels.sources import short_licence
from explorer.catalogue.models import Entry
from explorer.settings import Settings
from explorer.themes import page_data
from explorer.themes.theme_files import ThemeError, bundled_folder, load_theme, load_themes
from layouts import theme_page as view

CAMDEN, LAMBETH, CITY = "E09000007", "E09000022", "E09000001"


def walk(component):
    """Every component in a tree, depth first."""
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            if child is not None and not isinstance(child, (str, int, float)):
                yield from walk(child)
    elif children is not None and not isinstance(children, (str, int, float)):
        yield from walk(children)


def text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(text(c) for c in component)
    return text(getattr(component, "children", None))


def by_class(tree, name: str) -> list:
    return [c for c in walk(tree) if name in (getattr(c, "className", None) or "").split()]


def by_id(tree, key) -> list:
    return [c for c in walk(tree) if getattr(c, "id", None) == key]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One home for the module: its filesystem cache keeps loaded data between the apps."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def app(home, data_dir):
    return create_app(Settings(home=home, data_dir=data_dir, offline=True))


@pytest.fixture(scope="module")
def services(app):
    return app.explorer


@pytest.fixture(scope="module")
def pages(services):
    return {slug: theme_pages.theme_page(services, slug)[0] for slug in services.themes}


# ------------------------------------------------------------------------------------------ every theme
def test_every_theme_file_is_a_page_with_the_required_slugs(services, pages):
    files = {t.slug for t in load_themes()}
    assert set(services.themes) == files == set(pages)
    assert {"air-quality", "green-infrastructure", "air-quality-and-deprivation", "housing",
            "community-safety"} <= files
    assert theme_pages.theme_page(services, "no-such-theme") is None
    # a permalink's ?chart=<id> (from the export menu) names the chart to open at; others are ignored
    page, _ = theme_pages.theme_page(services, "air-quality", "monthly-no2")
    assert by_id(page, "theme-focus")[0].data == "monthly-no2"
    page, _ = theme_pages.theme_page(services, "air-quality", "<script>")
    assert by_id(page, "theme-focus")[0].data is None


def test_every_chart_renders_beside_a_visible_source_card(services, pages):
    for slug, page in pages.items():
        theme = services.themes[slug]
        sections = by_class(page, "theme-chart")
        assert [s.id for s in sections] == [f"chart-{c.id}" for c in theme.charts], slug
        for spec, section in zip(theme.charts, sections):
            where = f"{slug}/{spec.id}"
            graphs = [c for c in walk(section) if isinstance(c, dcc.Graph)]
            assert len(graphs) == 1, where
            figure = graphs[0].figure
            assert len(figure.data) > 0 and graphs[0].id == {"type": "theme-chart", "index": spec.id}, where
            assert not [t for t in figure.data if t.type == "scattergl"], where    # SVG: no WebGL needed
            # no tool bar button that uploads the chart elsewhere
            assert {"sendChartToCloud", "sendDataToCloud"} <= set(graphs[0].config["modeBarButtonsToRemove"])
            assert not by_class(section, "notice--error"), where
            # the title is the section's heading; the summary is there for screen readers
            assert text(by_id(section, f"chart-title-{spec.id}")[0]) == spec.title
            summary = by_id(section, f"chart-summary-{spec.id}")[0]
            assert summary.className == "visually-hidden" and text(summary).startswith(spec.title)
            figure_box = by_class(section, "theme-chart__figure")[0]
            assert getattr(figure_box, "aria-describedby") == f"chart-summary-{spec.id}"
            # a "show data" button, the table's place, and a place for export links
            toggle = by_class(section, "theme-chart__toggle")[0]
            assert text(toggle) == "Show data" and getattr(toggle, "aria-expanded") == "false"
            assert by_id(section, {"type": "theme-table", "index": spec.id})[0].hidden is True
            tools = by_class(section, "chart-tools")[0]
            assert tools.id == {"type": "chart-tools", "index": spec.id}
            assert "Export" in text(tools)                 # issue 5's export links for this chart
            # the source card: one line under the chart ("Source: GLA · OGL v3 · updated …") that
            # opens the full card; what a reader must know is in view beside it
            [card] = by_class(section, "theme-source")
            assert isinstance(card, html.Details) and not getattr(card, "open", None)
            line = text(card.children[0])
            assert isinstance(card.children[0], html.Summary) and line.startswith("Source: ")
            card_text = text(card)
            shown = text(section)
            for label in ("Publisher", "Licence", "Attribution", "Last updated", "Retrieved", "Updates", "Geography"):
                assert label in card_text, (where, label)
            links = [c.href for c in walk(card) if isinstance(c, dcc.Link)]
            for ds, _ in spec.inputs():
                entry = services.registry.get(ds)
                assert f"/dataset/{ds}" in links, (where, ds)
                assert entry.publisher in card_text and entry.licence in card_text, (where, ds)
                assert short_licence(entry.licence) in line, (where, ds)
                kinds = caveat_kinds.split(entry.caveats)
                for caveat in kinds[caveat_kinds.READER] + kinds[caveat_kinds.SOURCE]:
                    assert caveat in shown, (where, caveat)
                for caveat in kinds[caveat_kinds.HANDLING]:   # on the dataset page, not beside a chart
                    assert caveat not in shown, (where, caveat)
            if spec.caveat_note:
                assert spec.caveat_note in text(by_class(section, "theme-chart__note")[0]), where


def test_source_cards_come_from_the_registry_and_the_load(services, pages):
    # LSOA air quality joined to LSOA 2021 boundaries: boundary year and the join's match rate
    section = by_id(pages["air-quality"], "chart-no2-lsoa-2019")[0]
    card = text(by_class(section, "theme-source")[0])
    result = page_data.chart_result(services, services.themes["air-quality"],
                                      services.themes["air-quality"].chart("no2-lsoa-2019"))
    [source] = [s for s in result.sources if s["role"] == "data"]
    geography, provenance = source["geography"], source["provenance"]
    assert geography["year"] == 2021 and f"LSOA {geography['year']}" in card
    assert f"{geography['matched']:,} of {geography['matched'] + geography['unmatched']:,} rows matched" in card
    assert f"({geography['match_rate']:.1%})" in card
    assert provenance["retrieved_at"][:10] in card and "copy kept on this site" in card
    assert "data folder" not in card and "server" not in card
    entry = services.registry.get("laei-lsoa-2021")
    assert entry.attribution and entry.attribution in card
    assert "2019 is modelled" in text(section) or "Modelled" in text(section)
    # the monitoring chart's caveat: 2019 is a partial year, in view under the chart
    monitoring = text(by_class(by_id(pages["air-quality"], "chart-monitoring-no2")[0], "theme-chart__note")[0])
    assert "2019" in monitoring and "January to early March" in monitoring
    # a scatter of two datasets names both, each with its own publisher and licence
    scatter = by_class(by_id(pages["air-quality-and-deprivation"], "chart-no2-vs-imd")[0], "theme-source")[0]
    titles = [text(c) for c in by_class(scatter, "theme-source__dataset")]
    assert len(titles) == 2 and services.registry.get("imd-2019").title in titles


def test_stale_data_is_flagged_on_its_card():
    entry = Entry.from_dict({"id": "old", "title": "Old data", "publisher": "GLA", "licence": "OGL v3",
                             "update_frequency": "annual", "updated": "2015-01-01",
                             "resources": [{"id": "csv", "format": "csv", "local_path": "old.csv"}]})
    spec = load_theme(bundled_folder() / "net-zero.yaml").charts[0]

    class Result:
        sources = [{"dataset_id": "old", "resource_id": "csv", "role": "data", "provenance": None, "geography": None}]

    card = view.source_card(view.ChartView(spec=spec, result=Result(), entries={"old": entry}))
    words = text(card)
    assert "Stale" in words and "expected every 366 days" in words and "Updated yearly" in words


def test_narrative_and_titles_are_plain_text(services, pages):
    theme = services.themes["air-quality"]
    story = by_class(pages["air-quality"], "theme__story")[0]
    paragraphs = [c for c in walk(story) if isinstance(c, html.P)]
    assert [text(p) for p in paragraphs] == view.paragraphs(theme.narrative)
    assert 2 <= len(paragraphs) <= 4
    # markup in a theme file stays text: Dash renders strings as text nodes, never as HTML
    assert view.paragraphs("<b>bold</b> and <script>x()</script>\n\nnext") == \
        ["<b>bold</b> and <script>x()</script>", "next"]
    assert not [c for c in walk(pages["air-quality"]) if type(c).__name__ in ("Iframe", "Script")]


def test_headlines_and_the_index(services, pages):
    page = pages["air-quality"]
    values = [text(c) for c in by_class(page, "headline__value")]
    assert values and all(v and v != "Not available" for v in values)
    assert "1.3%" in values                                   # LSOAs above the UK NO₂ objective
    index = theme_pages.index_page(services)
    cards = by_class(index, "theme-card--dashboard")
    assert len(cards) == len(services.themes)
    for card, theme in zip(cards, services.themes.values()):
        assert theme.title in text(card) and theme.summary in text(card)
        assert 1 <= len(by_class(card, "theme-card__value")) <= 2
        assert [c.href for c in walk(card) if isinstance(c, dcc.Link)][0] == f"/themes/{theme.slug}"


# ------------------------------------------------------------------------------------------ the map
def test_the_map_uses_the_map_explorers_layers(services, pages):
    from explorer.maps.values import values_payload

    theme = services.themes["air-quality"]
    layers = page_data.map_layers(services, theme)
    assert [item["dataset"] for item in layers] == [layer["dataset"] for layer in theme.map_layers]
    geo = [c for c in walk(pages["air-quality"]) if type(c).__name__ == "GeoJSON"
           and isinstance(c.id, dict) and c.id["type"] == "theme-geo"]
    assert len(geo) == len(layers)
    for component in geo:
        item = next(i for i in layers if i["uid"] == component.id["index"])
        # geometry once, by URL, as the map explorer serves it; style and values by hideout
        assert component.url == f"/geo/{item['dataset']}/{item['info'].resource_id}.pbf"
        assert component.format == "geobuf" and getattr(component, "data", None) is None
        assert component.style == {"variable": "explorer.theme.layerStyle"}
        assert component.hideout["selected"] == [] and component.hideout["uid"] == item["uid"]
        if item["variable"]:
            expected = values_payload(services.data, item["dataset"], item["info"].resource_id,
                                      item["variable"])
            assert component.hideout["values"] == expected
            assert component.hideout["mode"] == "classes" and component.hideout["breaks"]
    # the hidden PM2.5 layer starts hidden; the borough outlines sit on top without the pointer
    assert [c.hideout["hidden"] for c in geo] == [False, True, False]
    assert geo[-1].hideout["mode"] == "outline" and geo[-1].interactive is False
    # London's outline and the Thames for context, no tiles (there is no network here)
    urls = [c.url for c in walk(pages["air-quality"]) if type(c).__name__ == "GeoJSON"]
    assert "/geo/london-region/gpkg.pbf" in urls and "/geo/thames/geojson.pbf" in urls
    assert not [c for c in walk(pages["air-quality"]) if type(c).__name__ == "TileLayer"]
    # a keyboard way to pick places
    picker = by_id(pages["air-quality"], "theme-picker")[0]
    assert len(picker.options) == 33 and {"label": "Camden", "value": CAMDEN} in picker.options


def test_a_map_click_picks_the_area_and_its_borough(services):
    theme = services.themes["air-quality"]
    meta = [{"uid": i["uid"], "dataset": i["dataset"], "resource": i["resource"], "variable": i["variable"],
             "label": i["label"], "unit": i.get("unit")} for i in page_data.map_layers(services, theme)]
    visible_ids = [{"type": "theme-layer-visible", "index": m["uid"]} for m in meta]
    visible = [["on"], [], ["on"]]
    shown = page_data.visible_layers(meta, visible, visible_ids)
    assert [m["uid"] for m in shown] == [meta[0]["uid"], meta[2]["uid"]]
    pick = page_data.map_pick(services, shown, 51.50, -0.11)
    assert pick["codes"][0] == LAMBETH and pick["codes"][1].startswith("E01")
    assert pick["label"].endswith("Lambeth") and pick["names"][LAMBETH] == "Lambeth"
    [no2] = pick["at"]                                        # the visible NO₂ layer's value there
    assert no2["layer"].startswith("NO₂") and no2["unit"] == "µg/m³" and 15 < no2["value"] < 60
    outside = page_data.map_pick(services, shown, 52.5, -1.5)
    assert outside["codes"] == [] and "outside London" in outside["note"]
    # on the map: the borough, and the small areas inside it when a borough alone is picked
    map_codes, focus = page_data.map_focus(services, meta, [CAMDEN], {CAMDEN: "Camden"})
    lsoas = [c for c in map_codes if c.startswith("E01")]
    assert map_codes[0] == CAMDEN and 100 < len(lsoas) < 250
    assert set(focus) == {m["uid"] for m in meta}


def test_a_selected_place_has_its_figures_from_every_chart(services):
    # a pick in a chart is read in the browser (explorer.themeSelect, assets/theme_selection.js;
    # tests/browser/test_theme_selection.py); the server lists the picked places' figures
    theme = services.themes["air-quality"]
    figures = {f["chart"]: f for f in page_data.place_figures(services, theme, [CAMDEN])}
    assert {"no2-borough-2019", "no2-borough-change", "particles-borough-change"} <= set(figures)
    ranked = figures["no2-borough-2019"]["rows"][0]
    assert ranked.startswith("Camden: NO₂ annual mean (µg/m³): ") and "of 33, highest first" in ranked
    panel = text(view.place_panel({"codes": [CAMDEN], "label": "Camden"}, list(figures.values())))
    assert "Selected:  Camden" in panel and "In the charts" in panel


def test_highlighted_charts_draw_the_selection(services):
    from explorer.themes import design

    theme = services.themes["air-quality"]
    plain = page_data.chart_result(services, theme, theme.chart("no2-borough-2019"))
    lit = page_data.chart_result(services, theme, theme.chart("no2-borough-2019"), [CAMDEN])
    assert design.HIGHLIGHT not in list(plain.figure.data[0].marker.color)
    colours = dict(zip(lit.figure.data[0].customdata, lit.figure.data[0].marker.color))
    assert colours[CAMDEN] == design.HIGHLIGHT and colours[CITY] != design.HIGHLIGHT
    # remembered per selection: the same highlight is not built twice
    assert page_data.chart_result(services, theme, theme.chart("no2-borough-2019"), [CAMDEN]) is lit


def test_show_data_table_lists_every_row(services):
    theme = services.themes["air-quality"]
    spec = theme.chart("no2-borough-2019")
    result = page_data.chart_result(services, theme, spec)
    table = view.data_table(spec, result)
    rows = [c for c in walk(table) if isinstance(c, html.Tr)]
    headers = [text(c) for c in walk(rows[0]) if isinstance(c, html.Th)]
    assert headers == [result.labels[c] for c in result.data.columns if c in result.labels]
    assert len(rows) == 1 + len(result.data) == 34
    region = by_class(table, "table-scroll")[0]
    assert region.tabIndex == "0" and region.role == "region"
    assert "33 rows" in text(table) and result.summary in text(table)
    # a long table is cut, and says so
    big = page_data.chart_result(services, services.themes["air-quality-and-deprivation"],
                                   services.themes["air-quality-and-deprivation"].chart("no2-vs-imd"))
    cut = view.data_table(services.themes["air-quality-and-deprivation"].chart("no2-vs-imd"), big, 100)
    assert len([c for c in walk(cut) if isinstance(c, html.Tr)]) == 101
    assert f"the first 100 of {len(big.data):,} rows" in text(cut)


# ------------------------------------------------------------------------------------------ failures
class _Broken:
    """The data service with one dataset that cannot be loaded."""

    def __init__(self, data, broken: str):
        self._data = data
        self._broken = broken
        self.memos = Memos()     # another data service: its own memos (nothing drawn yet)

    def load(self, dataset_id, resource_id=None, join=True):
        if dataset_id == self._broken:
            raise DatasetError(dataset_id, "resolve", f"{dataset_id}: the file is gone")
        return self._data.load(dataset_id, resource_id, join=join)

    def __getattr__(self, name):
        return getattr(self._data, name)


def test_a_chart_whose_data_cannot_load_says_so_in_its_place(services):
    from explorer.services import Services

    broken = Services(services.settings, services.registry, _Broken(services.data, "london-monthly-air-quality"),
                      services.cache)
    broken.themes = services.themes
    page, _ = theme_pages.theme_page(broken, "air-quality")
    failed = by_id(page, "chart-monthly-no2")[0]
    message = text(by_class(failed, "notice--error")[0])
    assert "could not be drawn" in message and "the file is gone" in message
    assert not [c for c in walk(failed) if isinstance(c, dcc.Graph)]
    card = text(by_class(failed, "theme-source")[0])            # its sources are still named
    assert services.registry.get("london-monthly-air-quality").publisher in card
    others = [s for s in by_class(page, "theme-chart") if s.id != "chart-monthly-no2"]
    assert others and all([c for c in walk(s) if isinstance(c, dcc.Graph)] for s in others)


def test_with_no_data_the_app_starts_and_every_chart_says_why(tmp_path):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "no-data-here", offline=True, cache_url="null")
    app = create_app(settings)                      # no data folder: nothing to check columns against
    services = app.explorer
    assert set(services.themes) == {t.slug for t in load_themes()}
    page, _ = theme_pages.theme_page(services, "air-quality")
    assert len(by_class(page, "notice--error")) == len(services.themes["air-quality"].charts)
    assert all(text(h) == "Not available" for h in by_class(page, "headline__value"))
    assert by_id(page, "theme-picker")[0].disabled is True
    assert "could not be found" in text(by_class(page, "theme-map")[0]) or by_class(page, "theme-layer--error")
    assert by_class(theme_pages.index_page(services), "theme-card--dashboard")


# ------------------------------------------------------------------------------------------ start-up check
def _themes_with(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    folder = tmp_path / "themes"
    folder.mkdir()
    for path in bundled_folder().glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    target = folder / "housing.yaml"
    source = target.read_text(encoding="utf-8")
    assert old in source
    target.write_text(source.replace(old, new, 1), encoding="utf-8")
    return folder, target


@pytest.mark.parametrize("old, new, says", [
    ("dataset: house-prices-borough\n    resource: csv\n    transform", "dataset: house-prices-nowhere\n    resource: csv\n    transform",
     "no dataset 'house-prices-nowhere'"),
    ("Year ending Dec 2017", "Year ending Dec 2071", "'Year ending Dec 2071'"),
])
def test_a_theme_naming_a_missing_dataset_or_column_stops_the_start(tmp_path, monkeypatch, app, home, data_dir,
                                                                    old, new, says):
    import explorer.themes.theme_files

    folder, target = _themes_with(tmp_path, old, new)
    monkeypatch.setattr(explorer.themes.theme_files, "bundled_folder", lambda: folder)
    line = next(i for i, text_line in enumerate(target.read_text(encoding="utf-8").splitlines(), 1) if new.split("\n")[0] in text_line)
    settings = Settings(home=home, data_dir=data_dir, offline=True)
    with pytest.raises(ThemeError) as err:
        create_app(settings)
    assert err.value.path == target and err.value.line == line
    assert f"{target}, line {line}" in str(err.value) and says in str(err.value)
    # without a data folder there is nothing to check columns against: the app starts
    create_app(Settings(home=tmp_path / "home2", data_dir=tmp_path / "none", offline=True, cache_url="null"))
