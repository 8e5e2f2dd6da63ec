"""Selection in the browser: choosing a borough on a theme page highlights it in every chart and on
the map without the server drawing anything for the charts or the map.

Every request the page sends to ``/_dash-update-component`` is recorded (``window.fetch``
wrapped in the page) with the outputs it asks for: after a borough is chosen, none may ask for a
chart's figure, a map layer's style or the selection itself; only the "selected place" panel's
figures come from the server. What a person sees is read from the drawn charts' own data
(plotly's ``gd.data``) and from the map's SVG paths."""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from explorer.themes import design
from explorer.web.app import create_app
from explorer.settings import Settings

from ..conftest import DATA_DIR
from .helpers import module_browser, wait_until

HIGHLIGHT = design.HIGHLIGHT
CAMDEN = "E09000007"

RECORD = """
window.__dashCalls = [];
if (!window.__fetchWrapped) {
  window.__fetchWrapped = true;
  var real = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    if (url.indexOf("_dash-update-component") >= 0) {
      var body = {};
      try { body = JSON.parse((init && init.body) || "{}"); } catch (e) {}
      window.__dashCalls.push(body.output || "");
    }
    return real.apply(this, arguments);
  };
}
"""

# per chart: its traces as drawn (name, colours per point or per line, whether it is a line)
DRAWN = """
var out = {};
document.querySelectorAll('.theme-chart').forEach(function (section) {
  var g = section.querySelector('.js-plotly-plot');
  if (!g || !g.data) { return; }
  out[section.id] = g.data.map(function (t) {
    var marker = t.marker || {};
    var colour = marker.color;
    return {name: t.name, type: t.type, mode: t.mode || null,
            colours: Array.isArray(colour) ? colour : (colour ? [colour] : []),
            line: t.line ? t.line.color || null : null, lineWidth: t.line ? t.line.width || null : null,
            y: Array.isArray(t.y) ? t.y.length : null};
  });
});
return out;
"""
# a selected place's outline: the charts' dark outline colour, thicker than its neighbours (3 or 4 px)
MAP_OUTLINED = ("return Array.prototype.filter.call(document.querySelectorAll('#theme-map path[stroke=\"%s\"]'),"
                " function (p) { return Number(p.getAttribute('stroke-width')) >= 3; }).length;"
                % design.HIGHLIGHT_OUTLINE)


@pytest.fixture(scope="module")
def duo(request, browser_home, tmp_path_factory):
    app = create_app(Settings(home=browser_home, data_dir=DATA_DIR, cache_url="simple"))
    with module_browser(request, app, tmp_path_factory.mktemp("download")) as composite:
        yield composite


def open_air_quality(duo):
    duo.driver.get(f"{duo.server_url}/themes/air-quality")
    wait_until(lambda: len(duo.find_elements(".theme-chart .js-plotly-plot")) >= 5, 60, "the charts")
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('#theme-map path.leaflet-interactive').length"), 60, "the map")
    time.sleep(1.0)   # the callbacks the page fires by itself are over
    duo.driver.execute_script(RECORD)


def choose(duo, borough: str):
    duo.driver.execute_script("var p = document.getElementById('theme-picker');"
                              "p.scrollIntoView({block: 'center'}); p.focus();")
    ActionChains(duo.driver).send_keys(Keys.ENTER).perform()
    time.sleep(0.3)
    ActionChains(duo.driver).send_keys(borough).perform()
    time.sleep(0.3)
    ActionChains(duo.driver).send_keys(Keys.ENTER).perform()


def highlighted(trace) -> bool:
    return HIGHLIGHT in trace["colours"] or trace["line"] == HIGHLIGHT


def test_choosing_a_borough_highlights_it_in_every_chart_and_on_the_map_in_the_browser(duo):
    open_air_quality(duo)
    before = duo.driver.execute_script(DRAWN)
    assert not any(highlighted(t) for traces in before.values() for t in traces)
    assert duo.driver.execute_script(MAP_OUTLINED) == 0

    choose(duo, "Camden")
    wait_until(lambda: duo.find_element("#theme-status").text == "Highlighted: Camden", 20, "Camden chosen")
    drawn = wait_until(lambda: (lambda d: d if highlighted_charts(d) >= 5 else None)(duo.driver.execute_script(DRAWN)),
                       20, "the charts highlighted")

    # the borough ranking: Camden's bar alone in the highlight colour, the 32 others muted
    bars = drawn["chart-no2-borough-2019"][0]["colours"]
    assert len(bars) == 33 and bars.count(HIGHLIGHT) == 1 and bars.count(design.MUTED) == 32
    # the change over time: Camden's line orange and thick, on top, named in the legend
    lines = drawn["chart-no2-borough-change"]
    camden = [t for t in lines if t["line"] == HIGHLIGHT]
    assert len(camden) == 1 and camden[0]["name"] == "Camden" and camden[0]["lineWidth"] == 3
    assert lines[-1]["line"] == HIGHLIGHT
    assert sum(t["line"] == design.MUTED for t in lines) >= 30
    # small multiples: Camden highlighted in every panel
    assert sum(t["line"] == HIGHLIGHT for t in drawn["chart-particles-borough-change"]) >= 2
    # the LSOA histograms: Camden's small areas counted and drawn over the muted bars
    for chart in ("chart-no2-lsoa-2019", "chart-pm25-lsoa-2019"):
        traces = drawn[chart]
        assert traces[0]["colours"] == [design.MUTED]
        selected = [t for t in traces if str(t["name"]).startswith("Selected (")]
        assert len(selected) == 1 and HIGHLIGHT in selected[0]["colours"]
        count = int(selected[0]["name"].split("(")[1].rstrip(")").replace(",", ""))
        assert 100 < count < 200, count     # Camden has 133 LSOAs (2021)

    # the map outlines Camden (and the small areas inside it)
    outlined = wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED), 10, "Camden outlined on the map")
    assert outlined > 1

    # no request asked the server for a chart, a map style or the selection; the place panel may
    time.sleep(1.0)
    calls = duo.driver.execute_script("return window.__dashCalls")
    for output in calls:
        assert "theme-chart" not in output and "theme-geo" not in output and "theme-selection" not in output, calls
    assert any("theme-place" in output for output in calls), calls
    wait_until(lambda: "Camden:" in duo.find_element("#theme-place").text, 20, "Camden's figures")

    # Clear, then another borough: the highlight moves; Clear takes it away: still no chart drawn
    # by the server
    duo.find_element("#theme-clear").click()
    wait_until(lambda: duo.find_element("#theme-status").text == "Nothing highlighted", 20, "cleared")
    choose(duo, "Hackney")
    wait_until(lambda: duo.find_element("#theme-status").text == "Highlighted: Hackney", 20, "Hackney chosen")
    wait_until(lambda: [t["name"] for t in duo.driver.execute_script(DRAWN)["chart-no2-borough-change"]
                        if t["line"] == HIGHLIGHT] == ["Hackney"], 20, "Hackney's line highlighted")
    duo.find_element("#theme-clear").click()
    wait_until(lambda: not highlighted_charts(duo.driver.execute_script(DRAWN)), 20, "the highlight cleared")
    cleared = duo.driver.execute_script(DRAWN)
    assert cleared["chart-no2-borough-2019"][0]["colours"] == [design.DATA]
    assert len(cleared["chart-no2-lsoa-2019"]) == len(before["chart-no2-lsoa-2019"])
    wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED) == 0, 10, "no outline left")
    calls = duo.driver.execute_script("return window.__dashCalls")
    assert not [o for o in calls if "theme-chart" in o or "theme-geo" in o or "theme-selection" in o], calls


def test_clicking_a_bar_selects_its_borough_in_the_browser(duo):
    open_air_quality(duo)
    bars = duo.find_elements("#chart-no2-borough-2019 .point path")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", bars[1])
    time.sleep(0.3)
    ActionChains(duo.driver).move_to_element(bars[1]).click().perform()
    text = wait_until(lambda: duo.find_element("#theme-status").text.startswith("Highlighted:")
                      and duo.find_element("#theme-status").text, 20, "a borough highlighted")
    name = text.split(": ", 1)[1]
    drawn = wait_until(lambda: (lambda d: d if highlighted_charts(d) >= 5 else None)(duo.driver.execute_script(DRAWN)),
                       20, "the charts highlighted")
    assert [t["name"] for t in drawn["chart-no2-borough-change"] if t["line"] == HIGHLIGHT] == [name]
    # the picker follows
    assert duo.find_element("#theme-picker").text == name
    wait_until(lambda: duo.driver.execute_script(MAP_OUTLINED), 10, "outlined on the map")
    calls = duo.driver.execute_script("return window.__dashCalls")
    assert not [o for o in calls if "theme-chart" in o or "theme-geo" in o or "theme-selection" in o], calls


def highlighted_charts(drawn: dict) -> int:
    return sum(any(highlighted(t) for t in traces) for traces in drawn.values())


def test_screenshots(duo, tmp_path):
    """Chosen borough at desktop and phone width (looked at by hand; kept under /tmp)."""
    for width in (1440, 390):
        duo.driver.set_window_size(width, 1000)
        open_air_quality(duo)
        choose(duo, "Camden")
        wait_until(lambda: highlighted_charts(duo.driver.execute_script(DRAWN)) >= 5, 20, "highlighted")
        for chart in ("chart-no2-borough-change", "chart-no2-lsoa-2019", "theme-map-title"):
            duo.driver.execute_script(f"document.getElementById('{chart}').scrollIntoView({{block: 'start'}})")
            time.sleep(0.5)
            duo.driver.save_screenshot(f"/tmp/h9-selection-{chart}-{width}.png")
    duo.driver.set_window_size(1440, 1000)
    assert json.dumps(duo.driver.execute_script(DRAWN))
