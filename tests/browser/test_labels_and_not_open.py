"""What a person sees of two rules: the catalogue's column labels head the dataset page's table
(the file's own name under each), and a themed page never draws a dataset that is not open."""

from __future__ import annotations

import os
from pathlib import Path

from .seen import assert_no_sideways_scroll, screenshot

SHOTS = Path(os.environ.get("LABEL_SHOTS", "/tmp/h11-shots"))   # to look at, not kept


def test_the_dataset_table_is_headed_by_the_catalogues_labels(explorer):
    driver = explorer.driver
    for width in (1440, 390):
        driver.set_window_size(width, 1000)
        driver.get(explorer.server_url + "/dataset/rough-sleeping-la")
        explorer.wait_for_element(".table--data th", timeout=60)
        headings = [th.text for th in driver.find_elements("css selector", ".table--data th")]
        assert "Region\nLocal authority / Region (2)" in headings, headings
        assert "Area code (ONS)\nONS code" in headings, headings
        driver.execute_script("document.querySelector('.table--data').scrollIntoView()")
        screenshot(driver, SHOTS, f"dataset-labels-{width}")
        assert_no_sideways_scroll(driver, f"dataset page at {width} px")


def test_a_theme_dataset_that_is_not_open_is_a_notice_on_the_page(explorer, app):
    registry = app.explorer.registry
    original = registry.get("laei-lsoa-2021")
    registry.upsert(type(original).from_dict({**original.to_dict(), "access_level": "shared"}))
    driver = explorer.driver
    try:
        for width in (1440, 390):
            driver.set_window_size(width, 1000)
            driver.get(explorer.server_url + "/themes/air-quality")
            explorer.wait_for_element("#chart-no2-borough-2019 .js-plotly-plot", timeout=60)
            section = driver.find_element("css selector", "#chart-no2-lsoa-2019")
            assert "Themed pages show open data only" in section.text
            assert not section.find_elements("css selector", ".js-plotly-plot")
            driver.execute_script("arguments[0].scrollIntoView()", section)
            screenshot(driver, SHOTS, f"theme-not-open-{width}")
            headline = driver.find_element("css selector", ".headline--missing")
            assert "Its data is not open" in headline.text
    finally:
        registry.upsert(original)
