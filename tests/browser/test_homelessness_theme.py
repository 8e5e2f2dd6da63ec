"""A person opens the rough sleeping theme: reads what a single-night count is and is not, sees
London's figures, the map and the charts read straight from the government's workbook, follows the
link to the housing theme and back, and reads the page on a phone without scrolling sideways."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By

from .helpers import wait_until


def _open(duo, slug: str, charts: int):
    duo.driver.get(f"{duo.server_url}/themes/{slug}")
    wait_until(lambda: len(duo.find_elements(".theme-chart .js-plotly-plot")) >= charts, 90, f"{slug}'s charts")


def test_a_resident_reads_the_rough_sleeping_theme_and_follows_it_to_housing(explorer):
    duo = explorer
    _open(duo, "homelessness", 5)
    assert duo.find_element("h1").text == "Rough sleeping"
    story = " ".join(duo.find_element(".theme__story").text.split())
    assert "it is not the number of people who sleep rough over a year" in story
    assert "These figures stop at autumn 2017" in story
    assert "In 2017, 14 boroughs gave an estimate rather than a count" in story
    values = [e.text for e in duo.find_elements(".headline__value")]
    assert values == ["1,137", "×2.7", "0.31", "0.20"]
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('#theme-map path.leaflet-interactive').length") >= 33, 60, "the borough map")
    titles = [e.text for e in duo.find_elements(".theme-chart h2, .theme-chart h3")]
    assert any(t.startswith("Westminster had the most people sleeping rough in autumn 2017") for t in titles), titles
    # the ranked chart's bars are the 33 boroughs, Westminster first
    bars = duo.driver.execute_script(
        "var g = document.querySelector('#chart-count-by-borough-2017 .js-plotly-plot');"
        "return g.data.map(function (t) { return t.y || []; });")
    names = [name for trace in bars for name in trace]
    assert len(set(names)) == 33 and "Westminster" in names
    # each chart's source names the publisher
    assert "MHCLG" in duo.find_element("#chart-count-by-borough-2017 .theme-source").text
    link = duo.find_element(".theme__related a")
    assert link.text == "Housing costs: how far house prices outran incomes"
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    wait_until(lambda: duo.driver.current_url.endswith("/themes/housing") and duo.find_element("h1").text == "Housing costs",
          60, "the housing theme")
    back = wait_until(lambda: duo.find_element(".theme__related a"), 60, "the link back")
    assert back.text == "Rough sleeping: how many people sleep rough in each borough"
    assert back.get_attribute("href").endswith("/themes/homelessness")


def test_the_rough_sleeping_theme_reads_at_phone_width(explorer):
    duo = explorer
    driver = duo.driver
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        _open(duo, "homelessness", 5)
        time.sleep(1)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        for chart in duo.find_elements(".theme-chart .js-plotly-plot"):
            assert chart.size["width"] <= 390
        for headline in duo.find_elements(".headline"):
            assert headline.location["x"] + headline.size["width"] <= 390
        assert duo.find_element(".theme__related").find_element(By.TAG_NAME, "a").size["width"] <= 390
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
