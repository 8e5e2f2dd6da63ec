"""Every page as a person sees it, at a desktop (1440×900) and a phone (390×844) window: a
screenshot under the test's temporary folder, no sideways scrolling, no raw column names of the
page's datasets in its visible text, the map's legend in view, and axe-core's WCAG 2.1 A/AA rules
with no violation — on the map with a layer added, an area clicked and its panel open.

One app and one browser serve the module; each test loads its page once per width and makes all
its checks on that load (tests/browser/seen.py has the checks)."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from explorer.web.app import create_app
from explorer.settings import Settings
from explorer.themes.theme_files import load_themes

from ..conftest import DATA_DIR
from . import seen
from .helpers import module_browser, wait_until

WIDTHS = ((1440, 900), (390, 844))
THEMES = load_themes()


@pytest.fixture(scope="module")
def app(browser_home):
    return create_app(Settings(home=browser_home, data_dir=DATA_DIR, cache_url="simple"))


@pytest.fixture(scope="module")
def duo(request, app, tmp_path_factory):
    with module_browser(request, app, tmp_path_factory.mktemp("download")) as composite:
        yield composite


def column_names(app, pairs) -> set[str]:
    """The raw-looking column names of the (dataset, resource) pairs, as the registry loads them."""
    names: set[str] = set()
    for dataset, resource in pairs:
        names |= seen.raw_names(app.explorer.data.load(dataset, resource).frame.columns)
    return names


def settle(duo, seconds: float = 0.6) -> None:
    """Let the page finish a redraw (Dash callbacks, the map's tiles-free layers) before looking."""
    wait_until(lambda: duo.driver.execute_script(
        "return !document.querySelector('.first-view') && !document.querySelector('[data-dash-is-loading]')"),
        60, "the live page")
    time.sleep(seconds)


def open_at(duo, path: str, size: tuple[int, int], ready: str) -> None:
    duo.driver.set_window_size(*size)
    duo.driver.get(duo.server_url + path)
    wait_until(lambda: duo.find_elements(ready), 60, f"{ready} on {path}")
    settle(duo)


def look(duo, tmp_path, name: str, size, raw: set[str] = frozenset()) -> str:
    """The checks every page gets; returns its visible text for the page's own checks."""
    where = f"{name} at {size[0]} px"
    seen.screenshot(duo.driver, tmp_path, f"{name}-{size[0]}")
    seen.assert_no_sideways_scroll(duo.driver, where)
    text = seen.visible_text(duo.driver)
    shown = seen.raw_names_seen(text, raw)
    assert not shown, f"{where} shows raw column names: {sorted(shown)}"
    seen.assert_axe_clean(duo.driver, where)
    return text


def in_view(duo, selector: str) -> bool:
    return duo.driver.execute_script("""
      var e = document.querySelector(arguments[0]); if (!e) { return false; }
      var r = e.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
             r.bottom <= window.innerHeight && r.right <= window.innerWidth;""", selector)


@pytest.mark.parametrize("size", WIDTHS, ids=lambda s: f"{s[0]}px")
def test_home_catalogue_and_themes_index(duo, tmp_path, size):
    open_at(duo, "/", size, ".home")
    text = look(duo, tmp_path, "home", size)
    assert str(DATA_DIR) not in text and str(DATA_DIR.parent) not in text, "the home page prints a server path"
    assert "data folder" not in text and "server" not in text, "the home page talks about the server"
    # the dashboards, each with a headline figure, one click from the first page
    tiles = duo.find_elements(".home__dashboards .theme-card")
    assert len(tiles) == len(THEMES) and all(t.find_elements("css selector", ".theme-card__value") for t in tiles)
    assert {a.get_attribute("href").split("/themes/")[1] for a in duo.find_elements(".home__dashboards a")} \
        == {t.slug for t in THEMES}
    # each dashboard whose theme has a map layer shows it as a small map, labelled for a screen reader
    for tile in tiles:
        slug = tile.find_element("css selector", "a").get_attribute("href").split("/themes/")[1]
        theme = next(t for t in THEMES if t.slug == slug)
        maps = tile.find_elements("css selector", "svg.map-thumbnail[role='img']")
        if not any(layer.get("variable") for layer in theme.map_layers):
            assert not maps and not tile.find_elements("css selector", ".theme-card__map"), slug
            continue
        assert len(maps) == 1, f"{slug}: no small map"
        label = maps[0].get_attribute("aria-label")
        assert label.startswith("Map: ") and "Darker is higher" in label, (slug, label)
        assert len(maps[0].find_elements("css selector", "path")) > 30, slug
        box = maps[0].rect
        assert box["width"] > 150 and box["height"] > 100 and box["x"] + box["width"] <= size[0], (slug, box)
    open_at(duo, "/catalogue", size, ".catalogue")
    look(duo, tmp_path, "catalogue", size)
    open_at(duo, "/themes", size, ".theme-cards, .themes")
    look(duo, tmp_path, "themes", size)


@pytest.mark.parametrize("size", WIDTHS, ids=lambda s: f"{s[0]}px")
def test_dataset_page(duo, app, tmp_path, size):
    # a dataset with several files, mapped after a join, and one with a single file
    for dataset, resource in (("laei-borough", None), ("imd-2019-wards", None)):
        open_at(duo, f"/dataset/{dataset}", size, "#dataset-preview .table")
        entry = app.explorer.registry.get(dataset)
        # the preview shows the raw columns in its table (that is what the file holds): the
        # rest of the page must not need them
        look(duo, tmp_path, f"dataset-{dataset}", size)
        assert entry.title in seen.visible_text(duo.driver)
    # a join that missed rows: plain words under the map, the join report one click away
    open_at(duo, "/dataset/ward-pollution", size, "#dataset-preview .table")
    text = look(duo, tmp_path, "dataset-ward-pollution", size)
    assert "23 % of rows could not be placed on the map: their area codes are from another boundary year" in text
    assert "E05000064" not in text                                   # the report's example codes: folded
    details = duo.find_element("#dataset-preview .notice__details")
    details.find_element("css selector", "summary").click()
    wait_until(lambda: "E05000064" in details.text, 5, "the join report opened")
    seen.assert_axe_clean(duo.driver, f"dataset-ward-pollution at {size[0]} px, its join report open")


@pytest.mark.parametrize("size", WIDTHS, ids=lambda s: f"{s[0]}px")
def test_map_with_a_layer_an_area_and_its_panel(duo, app, tmp_path, size):
    query = "basemap=none&layer=london-boroughs&layer=laei-borough:no2-2019,v:NO2-2019-mean"
    open_at(duo, "/map?" + query, size, "#explorer-map")
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('#explorer-map .leaflet-overlay-pane path').length") >= 33, 60,
        "the boroughs drawn")
    wait_until(lambda: duo.find_element("#map-legend").text.strip(), 30, "the legend on the map")
    assert in_view(duo, "#map-legend"), "the legend is not on the map in view"
    raw = column_names(app, [("laei-borough", "no2-2019"), ("london-boroughs", None)])
    look(duo, tmp_path, "map", size, raw)

    # a person clicks the middle of the map: a borough's values, with their source folded below
    ActionChains(duo.driver).move_to_element(duo.find_element("#explorer-map")).click().perform()
    panel = wait_until(lambda: duo.find_element("#feature-panel").text if "At this place" in
                       duo.find_element("#feature-panel").text else None, 30, "the values at the place")
    assert "µg/m³" in panel
    if size[0] < 860:
        assert in_view(duo, "#feature-panel"), "the click result is out of sight on a phone"
    settle(duo)
    look(duo, tmp_path, "map-clicked", size, raw)


@pytest.mark.parametrize("slug", [t.slug for t in THEMES])
def test_theme_page(duo, app, tmp_path, slug):
    theme = next(t for t in THEMES if t.slug == slug)
    pairs = {(c.dataset, c.resource) for c in theme.charts}
    pairs |= {(layer["dataset"], layer.get("resource")) for layer in theme.map_layers}
    raw = column_names(app, pairs)
    for size in WIDTHS:
        open_at(duo, f"/themes/{slug}", size, ".theme-chart .js-plotly-plot")
        wait_until(lambda: duo.driver.execute_script(
            "return document.querySelectorAll('#theme-map path.leaflet-interactive').length"), 60, "the map")
        look(duo, tmp_path, f"theme-{slug}", size, raw)
        assert not duo.find_elements(".modebar"), "charts for the public carry Plotly's toolbar"
