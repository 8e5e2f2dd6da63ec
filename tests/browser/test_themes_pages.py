"""A person opens each theme, clicks a borough on the map and sees every chart highlight it, picks
a place in a chart and sees it outlined on the map, picks a borough with the keyboard, opens a
chart's data table and reads its source card; the page reads at phone width.

One app and one browser serve the whole module (loading a theme's data once, not per test)."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from explorer.themes import design
from explorer.web.app import create_app
from explorer.settings import Settings
from explorer.themes.theme_files import load_themes

from ..conftest import DATA_DIR
from .helpers import module_browser, wait_until

SLUGS = [t.slug for t in load_themes()]
HIGHLIGHT = design.HIGHLIGHT

# every colour a chart's traces draw with (markers, their outlines, lines), as one list
CHART_COLOURS = """
var out = [];
document.querySelectorAll(arguments[0] + ' .js-plotly-plot').forEach(function (g) {
  (g.data || []).forEach(function (t) {
    [t.marker && t.marker.color, t.marker && t.marker.line && t.marker.line.color, t.line && t.line.color]
      .forEach(function (c) { if (c) { out = out.concat(Array.isArray(c) ? c : [c]); } });
  });
});
return out;
"""
MAP_OUTLINED = ("return document.querySelectorAll('#theme-map path[stroke=\"%s\"]').length;"
                % design.HIGHLIGHT_OUTLINE)


@pytest.fixture(scope="module")
def duo(request, browser_home, tmp_path_factory):
    app = create_app(Settings(home=browser_home, data_dir=DATA_DIR, cache_url="simple"))
    with module_browser(request, app, tmp_path_factory.mktemp("download")) as composite:
        yield composite


def open_theme(duo, slug: str):
    duo.driver.get(f"{duo.server_url}/themes/{slug}")
    wait_until(lambda: len(duo.find_elements(".theme-chart .js-plotly-plot")) >= 1, 60, f"{slug}'s charts")
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('#theme-map path.leaflet-interactive').length"), 60, f"{slug}'s map")
    assert duo.find_element("h1").text == next(t.title for t in load_themes() if t.slug == slug)


def status(duo) -> str:
    return duo.find_element("#theme-status").text


def click_centre_of_map(duo):
    frame = duo.find_element("#theme-map")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", frame)
    time.sleep(0.3)
    ActionChains(duo.driver).move_to_element(frame).move_by_offset(20, 10).click().perform()


@pytest.mark.parametrize("slug", SLUGS)
def test_click_a_borough_on_the_map_and_the_charts_highlight_it(duo, slug):
    open_theme(duo, slug)
    assert HIGHLIGHT not in duo.driver.execute_script(CHART_COLOURS, "#main")
    click_centre_of_map(duo)
    text = wait_until(lambda: status(duo).startswith("Highlighted:") and status(duo), 30, "a highlighted place")
    # central London, south of the river: the click picks its borough
    assert any(b in text for b in ("Southwark", "Lambeth", "City of London", "Westminster")), text
    place = duo.find_element("#theme-place").text
    assert place.startswith("Selected:") and "In the charts" in place
    # the charts drawn by borough or small area now draw that place in the highlight colour
    wait_until(lambda: HIGHLIGHT in duo.driver.execute_script(CHART_COLOURS, "#main"), 30, "a highlighted chart")
    # and the map outlines it
    wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED), 10, "the place outlined on the map")
    # the picker follows the borough clicked
    picker = duo.find_element("#theme-picker").text
    assert picker and picker in text


def test_a_chart_bar_highlights_its_borough_on_the_map(duo):
    open_theme(duo, "air-quality")
    bars = duo.find_elements("#chart-no2-borough-2019 .point path")
    assert len(bars) == 33
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", bars[0])
    time.sleep(0.3)
    ActionChains(duo.driver).move_to_element(bars[0]).click().perform()          # the highest: the City
    wait_until(lambda: status(duo) == "Highlighted: City of London", 30, "the City highlighted")
    outlined = wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED), 10, "the City outlined on the map")
    assert outlined >= 1
    colours = wait_until(lambda: [c for c in duo.driver.execute_script(CHART_COLOURS, "#chart-no2-borough-2019")
                                  if c == HIGHLIGHT], 20, "the City's bar highlighted")
    assert len(colours) == 1
    # Clear takes it all away again
    duo.find_element("#theme-clear").click()
    wait_until(lambda: status(duo) == "Nothing highlighted", 20, "the selection cleared")
    wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED) == 0, 10, "no outline left")


def test_pick_a_borough_with_the_keyboard(duo):
    open_theme(duo, "housing")
    duo.driver.execute_script("document.getElementById('theme-picker').scrollIntoView({block: 'center'})")
    # reach the picker with Tab from the page's last paragraph before it
    duo.driver.execute_script("var p = document.querySelector('.theme__story p:last-child');"
                              "p.setAttribute('tabindex', '-1'); p.focus();")
    ActionChains(duo.driver).send_keys(Keys.TAB).perform()
    active = duo.driver.switch_to.active_element
    assert active.get_attribute("id") == "theme-picker"
    ActionChains(duo.driver).send_keys(Keys.ENTER).perform()
    time.sleep(0.3)
    ActionChains(duo.driver).send_keys("Hackney").perform()
    time.sleep(0.3)
    ActionChains(duo.driver).send_keys(Keys.ENTER).perform()
    wait_until(lambda: status(duo) == "Highlighted: Hackney", 30, "Hackney picked")
    place = wait_until(lambda: "Hackney:" in duo.find_element("#theme-place").text
                       and duo.find_element("#theme-place").text, 20, "Hackney's figures")
    assert "ranked" in place
    wait_until(lambda: HIGHLIGHT in duo.driver.execute_script(CHART_COLOURS, "#main"), 30, "a highlighted chart")
    wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED), 10, "Hackney outlined on the map")


def test_open_a_charts_table_and_read_its_source_card(duo):
    open_theme(duo, "air-quality")
    section = "#chart-no2-borough-2019"
    toggle = duo.find_element(f"{section} .theme-chart__toggle")
    assert toggle.text == "Show data" and toggle.get_attribute("aria-expanded") == "false"
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggle)
    duo.driver.execute_script("arguments[0].focus()", toggle)
    ActionChains(duo.driver).send_keys(Keys.ENTER).perform()            # a keyboard press opens it
    caption = wait_until(lambda: duo.find_element(f"{section} .theme-table caption").text, 20, "the data table")
    assert caption == "The data behind the chart: 33 rows"
    assert toggle.get_attribute("aria-expanded") == "true" and toggle.text == "Hide data"
    rows = duo.find_elements(f"{section} .theme-table tbody tr")
    assert len(rows) == 33 and rows[0].text.startswith("City of London")
    headers = [th.text for th in duo.find_elements(f"{section} .theme-table thead th")]
    assert headers[0] == "Borough" and "NO₂ annual mean (µg/m³)" in headers
    region = duo.find_element(f"{section} .theme-table .table-scroll")
    assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
    # the source in one line under the chart, what a reader must know in view beside it
    card = duo.find_element(f"{section} .theme-source")
    line = duo.find_element(f"{section} .theme-source summary")
    assert line.is_displayed() and line.text.startswith("Source: GLA · OGL v2")
    assert "Modelled (LAEI 2019), not measured" in duo.find_element(f"{section} .theme-chart__note").text
    assert not duo.find_element(f"{section} .theme-source .theme-source__facts").is_displayed()
    graph = duo.find_element(f"{section} .js-plotly-plot")
    assert card.location["y"] >= graph.location["y"] + graph.size["height"] - 1      # under it: no blank column
    # one click (or Enter) opens the full card
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", line)
    line.click()
    wait_until(lambda: card.get_attribute("open") is not None, 10, "the source card opened")
    words = card.text
    for label in ("Where these numbers come from", "Publisher", "Greater London Authority", "Licence",
                  "Open Government Licence", "Attribution", "Last updated", "Retrieved", "Updates",
                  "Geography", "Boundaries", "Join", "33 of 33 rows matched (100.0%)"):
        assert label in words, label
    link = card.find_element(By.CSS_SELECTOR, ".theme-source__dataset a")
    assert link.get_attribute("href").endswith("/dataset/laei-borough")
    # and closed again
    toggle.click()
    wait_until(lambda: toggle.get_attribute("aria-expanded") == "false", 10, "the table closed")
    assert not duo.find_element(f"{section} .theme-chart__table").is_displayed()


def test_the_themes_index_has_a_card_per_theme(duo):
    duo.driver.get(f"{duo.server_url}/themes")
    wait_until(lambda: len(duo.find_elements(".theme-card--dashboard")) == len(SLUGS), 60, "the theme cards")
    for card, theme in zip(duo.find_elements(".theme-card--dashboard"), load_themes()):
        assert theme.title in card.text
        assert card.find_element(By.CSS_SELECTOR, ".theme-card__value").text
    duo.find_element(".theme-card__link").click()
    wait_until(lambda: "/themes/" in duo.driver.current_url and duo.find_elements(".theme-chart"), 60, "a theme page")


def test_a_theme_reads_at_phone_width(duo):
    driver = duo.driver
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        open_theme(duo, "air-quality")
        time.sleep(1)
        assert driver.execute_script("return window.innerWidth") == 390
        # nothing wider than the screen: no sideways scrolling
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        graph = duo.find_element("#chart-no2-borough-2019 .js-plotly-plot")
        card = duo.find_element("#chart-no2-borough-2019 .theme-source")
        assert graph.size["width"] >= 330 and card.size["width"] >= 320
        # the source card sits under its chart, not squeezed beside it
        assert card.location["y"] >= graph.location["y"] + graph.size["height"] - 1
        # the map and the picker fit the screen
        frame = duo.find_element(".theme-map__frame")
        assert frame.size["width"] <= 390 and frame.size["height"] >= 300
        assert duo.find_element("#theme-picker").size["width"] <= 390
        for headline in duo.find_elements(".headline"):
            assert headline.location["x"] + headline.size["width"] <= 390
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_a_chart_permalink_opens_the_page_at_that_chart(duo):
    """The export menu's "copy link" gives /themes/<slug>?chart=<id>: the page opens at the chart."""
    duo.driver.get(f"{duo.server_url}/themes/air-quality?chart=monthly-no2")
    wait_until(lambda: duo.driver.execute_script(
        "return document.activeElement && document.activeElement.id") == "chart-title-monthly-no2", 60,
        "the chart's heading focused")
    top = duo.driver.execute_script(
        "return document.getElementById('chart-title-monthly-no2').getBoundingClientRect().top")
    assert 0 < top < 400                     # in view, below the sticky borough picker
    # and still there once plotly has drawn every chart above it (the page grew under the first
    # scroll, leaving the heading 800 px down)
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('.theme-chart__figure .js-plotly-plot').length >= "
        "document.querySelectorAll('.theme-chart__figure').length"), 60, "every chart drawn")
    time.sleep(0.5)
    top = duo.driver.execute_script(
        "return document.getElementById('chart-title-monthly-no2').getBoundingClientRect().top")
    assert 0 < top < 400
    tools = duo.find_element("#chart-monthly-no2 .chart-tools")
    assert "Export" in tools.text and "PNG" in tools.text       # issue 5's export links sit under it
