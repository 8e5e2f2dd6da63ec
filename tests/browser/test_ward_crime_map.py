"""Crime by ward (2022 wards) in the map explorer: added from the layer panel, drawn on the
approximate 2022 ward shapes, and read with the caveat that the shapes are approximate — on the
layer card under its legend and in the source card of the feature panel."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from .test_map_explorer import cards, coloured, fills, open_map, wait_until

CAVEAT = "Ward shapes approximated from LSOA 2011 areas using the GLA LSOA→ward 2022 lookup"


def test_add_crime_by_ward_and_read_the_approximate_ward_caveat(explorer):
    duo = explorer
    open_map(duo, "layer=london-boroughs")
    wait_until(lambda: len(fills(duo)) >= 33, 30, "borough outlines not drawn")

    duo.find_element("#layer-search").send_keys("crime ward")
    button = wait_until(lambda: next((b for b in duo.find_elements(".layer-search-results__button")
                                      if "Recorded crime by ward" in b.text), None), 20,
                        "crime by ward not offered in the layer panel")
    button.click()
    wait_until(lambda: len(cards(duo)) == 2, 30, "the crime layer's card did not appear")
    card = cards(duo)[0]
    assert "Recorded crime by ward" in card.find_element(By.CSS_SELECTOR, ".layer-card__title").text
    assert not card.find_elements(By.CSS_SELECTOR, ".notice--error"), card.text

    # 679 wards with data, drawn as polygons in their class colours (the boroughs are outlines)
    wait_until(lambda: coloured(duo) >= 679, 60, "the ward choropleth was not drawn")
    wait_until(lambda: "≤" in cards(duo)[0].find_element(By.CSS_SELECTOR, ".legend").text, 30,
               "no class legend for the crime layer")
    note = cards(duo)[0].find_element(By.CSS_SELECTOR, ".layer-card__caveat")
    assert CAVEAT in note.text and note.is_displayed()

    # a click opens the feature panel: the ward, its count, and the source card with the caveat
    duo.find_element("#explorer-map").click()
    panel = wait_until(lambda: duo.find_element("#feature-panel").text
                       if "Recorded crime by ward" in duo.find_element("#feature-panel").text else None,
                       30, "no crime ward in the feature panel")
    assert "E05" in panel                                      # a 2022 ward code
    feature = next(s for s in duo.find_elements("#feature-panel .feature") if "Recorded crime by ward" in s.text)
    # the source is folded under the value: a reader opens "Where this comes from"
    feature.find_element(By.CSS_SELECTOR, ".feature__source summary").click()
    source = wait_until(lambda: feature.find_element(By.CSS_SELECTOR, ".source-card").text, 10,
                        "the source card did not open")
    assert CAVEAT in source
    assert "ward 2022 (E05 codes): London wards 2022 (approximate" in source
    assert "679 of 679 rows matched (100.0%)" in source

    # the legend kept on the map (what phones see without opening the drawer) says it too
    legend = lambda: duo.driver.execute_script("return document.getElementById('map-legend').textContent;")
    wait_until(lambda: "Boundaries approximate" in legend(), 20, "no caveat in the on-map legend")
