"""A person searches the catalogue, narrows by a facet, opens a dataset and sees its map preview."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def texts(duo, selector):
    return [el.text for el in duo.find_elements(selector)]


def test_search_facet_and_dataset_page(explorer):
    duo = explorer
    duo.wait_for_text_to_equal("h1", "Find, map and understand London's data", timeout=20)
    box = duo.find_element("#catalogue-q")
    box.send_keys("nitrogen dioxide")
    box.send_keys(Keys.ENTER)
    duo.wait_for_contains_text("#results-heading", "for “nitrogen dioxide”", timeout=20)
    titles = texts(duo, ".result__title")
    assert titles, "no results for nitrogen dioxide"
    assert any("LAEI" in t or "air" in t.lower() or "NO2" in t for t in titles), titles
    # The URL carries the query, so the search can be shared.
    assert "q=nitrogen+dioxide" in duo.driver.current_url

    # Narrow by the LSOA geography facet: the count in the heading follows.
    before = duo.find_element("#results-heading").text
    facet = next(el for el in duo.find_elements(".facet__link")
                 if el.find_element(By.CSS_SELECTOR, ".facet__value").text == "LSOA")
    facet.click()
    duo.wait_for_contains_text(".active-filters", "LSOA", timeout=10)
    after = duo.find_element("#results-heading").text
    assert after != before
    assert "geography=lsoa" in duo.driver.current_url

    # Open the LSOA 2021 air quality dataset.
    link = next(el for el in duo.find_elements(".result__title a") if "2021" in el.text)
    link.click()
    duo.wait_for_element("#dataset-source-card .source-card", timeout=20)
    assert "/dataset/laei-lsoa-2021" in duo.driver.current_url
    card = duo.find_element("#dataset-source-card .source-card").text
    assert "Publisher" in card and "Licence" in card
    # The preview joins the table to LSOA 2021 boundaries and paints the 4,994 areas on a canvas
    # (in class colours: most of the map's middle is coloured), under the 33 borough outlines.
    duo.wait_for_element("#dataset-map .leaflet-map-pane canvas", timeout=60)
    coloured = (
        "var c = document.querySelector('#dataset-map .leaflet-map-pane canvas');"
        "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0, hit = 0;"
        "for (var y = Math.floor(c.height * 0.4); y < c.height * 0.6; y += 7) {"
        "  for (var x = Math.floor(c.width * 0.4); x < c.width * 0.6; x += 7) {"
        "    var k = (y * c.width + x) * 4; n++; if (d[k + 3] > 0) { hit++; } } }"
        "return hit / n;")
    for _ in range(100):
        if duo.driver.execute_script(coloured) > 0.5:
            break
        time.sleep(0.3)
    assert duo.driver.execute_script(coloured) > 0.5
    assert 30 <= len(duo.find_elements("#dataset-map path.leaflet-interactive")) < 100
    provenance = duo.find_element(".provenance").text
    assert "lsoa-2021" in provenance and "100.0%" in provenance
    assert "First 10 of 4,994 rows" in duo.find_element(".table caption").text


def test_unknown_dataset_says_not_found(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + "/dataset/no-such-thing")
    duo.wait_for_text_to_equal("h1", "Not found", timeout=20)
    assert "no-such-thing" in duo.find_element(".not-found").text
