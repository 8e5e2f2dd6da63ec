"""The map's address follows the map in the browser: a restyle rewrites the address in place
(history.replaceState, assets/map_explorer.js) without a request to the router, without a new
history entry, and the export links and the reopened link follow it."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from .helpers import wait_until
from .test_map_explorer import BOROUGH_NO2, cards, coloured, open_map, pick

# Every callback request the page makes from now on, with the outputs it names (Dash's renderer
# asks through window.fetch; assets/first_view.js's own wrapper hands other requests on to it).
RECORD_CALLBACKS = """
window.__callbacks = [];
var sent = window.fetch;
window.fetch = function (input, init) {
  var url = typeof input === "string" ? input : (input && input.url) || "";
  if (url.indexOf("/_dash-update-component") !== -1 && init && typeof init.body === "string") {
    try { window.__callbacks.push(JSON.parse(init.body).output); } catch (e) { window.__callbacks.push("?"); }
  }
  return sent.apply(this, arguments);
};
"""


def callbacks(duo) -> list[str]:
    return duo.driver.execute_script("return window.__callbacks;")


def test_a_restyle_rewrites_the_address_without_waking_the_router(explorer):
    duo = explorer
    open_map(duo, BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    # the address is the map's permalink from the start (the view it opened at, the layer's resource)
    wait_until(lambda: "view=" in duo.driver.current_url, 20, "the address is not the map's permalink")
    marker = duo.driver.execute_script("var c = document.querySelector('.layer-card'); c.__seen = 1; "
                                       "return history.length;")
    duo.driver.execute_script(RECORD_CALLBACKS)

    classes = cards(duo)[0].find_elements(By.CSS_SELECTOR, ".layer-card__style .dash-dropdown")[1]
    pick(duo, classes, "4")
    wait_until(lambda: "k:4" in duo.driver.current_url, 20, "the address did not record the classes")
    wait_until(lambda: len(cards(duo)[0].find_elements(By.CSS_SELECTOR, ".legend__list li")) == 5, 20,
               "the legend does not show four classes")
    asked = callbacks(duo)
    # the recorder sees the restyle's own requests (so it would see the router's too)
    assert any("layer-style" in output for output in asked), asked
    assert any("map-url.data" in output for output in asked), asked
    assert not [output for output in asked if "page-content.children" in output], \
        f"the router was asked to draw the page again: {asked}"
    # the same page, the same history: Back leaves the map, not a style
    assert duo.driver.execute_script("return document.querySelector('.layer-card').__seen === 1;")
    assert duo.driver.execute_script("return history.length;") == marker
    # the export links and "Copy link" read the same permalink
    png = duo.driver.find_element(By.CSS_SELECTOR, "a[id*='map-export-image'][id*='png']")
    wait_until(lambda: "k%3A4" in png.get_attribute("href") or "k:4" in png.get_attribute("href"), 10,
               "the image link did not follow the map")

    # the rewritten address reopens the same map
    link = duo.driver.current_url
    duo.driver.get("about:blank")
    duo.driver.get(link)
    wait_until(lambda: len(cards(duo)) == 1, 30, "the layer did not come back")
    wait_until(lambda: len(cards(duo)[0].find_elements(By.CSS_SELECTOR, ".legend__list li")) == 5, 30,
               "the reopened map does not show four classes")


def test_an_embedded_map_keeps_embed_in_its_address(explorer):
    duo = explorer
    open_map(duo, BOROUGH_NO2 + "&embed=1")
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    wait_until(lambda: "view=" in duo.driver.current_url, 20, "the address is not the map's permalink")
    assert "embed=1" in duo.driver.current_url
    assert duo.driver.execute_script("return document.documentElement.classList.contains('embed');")


def test_back_after_the_map_link_brings_the_restyled_map_back(explorer):
    """The address the map wrote is a real place in the history: leaving it by the "Map" link (a
    new, default map) and pressing Back draws the restyled map again, not the default one."""
    duo = explorer
    open_map(duo, BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    classes = cards(duo)[0].find_elements(By.CSS_SELECTOR, ".layer-card__style .dash-dropdown")[1]
    pick(duo, classes, "4")
    wait_until(lambda: "k:4" in duo.driver.current_url, 20, "the address did not record the classes")
    restyled = duo.driver.current_url

    next(a for a in duo.driver.find_elements(By.CSS_SELECTOR, ".site-nav__link") if a.text == "Map").click()
    wait_until(lambda: len(cards(duo)) == 2, 60, "the Map link did not open the default map")
    wait_until(lambda: "k:4" not in duo.driver.current_url, 20, "the default map kept the old address")

    duo.driver.back()
    wait_until(lambda: duo.driver.current_url == restyled, 20, "Back did not return to the restyled address")
    wait_until(lambda: len(cards(duo)) == 1, 60, "Back did not draw the restyled map's layer")
    wait_until(lambda: len(cards(duo)[0].find_elements(By.CSS_SELECTOR, ".legend__list li")) == 5, 30,
               "Back did not draw four classes")
