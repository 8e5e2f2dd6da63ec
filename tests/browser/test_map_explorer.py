"""The map explorer as a policy maker uses it: layers added from the registry, restyled in the
browser without the geometry travelling again, clicked for values and sources, shared by link,
played through the years, read as a table by keyboard, and compared side by side."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .helpers import wait_until

BOROUGH_NO2 = "layer=laei-borough:no2-2019,v:NO2-2019-mean"


def open_map(duo, query: str) -> None:
    duo.driver.get(f"{duo.server_url}/map?basemap=none&{query}")
    duo.wait_for_element("#explorer-map", timeout=30)


def fills(duo, selector: str = "#explorer-map") -> list[str]:
    """The fill colour of every drawn shape, in drawing order (stable while no geometry is redrawn)."""
    return duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' .leaflet-overlay-pane path'))"
        ".map(function (p) { return p.getAttribute('fill') + '/' + p.getAttribute('fill-opacity'); });",
        selector)


def geometry_requests(duo) -> list[str]:
    return duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        ".filter(function (n) { return n.indexOf('/geo/') !== -1; });")


def coloured(duo, selector: str = "#explorer-map") -> int:
    """How many shapes carry a class colour (not the transparent 'waiting for values' style)."""
    return sum(1 for f in fills(duo, selector) if not f.endswith("/0") and not f.startswith("none"))


def cards(duo):
    return duo.find_elements(".layer-card")


def pick(duo, dropdown, label: str) -> None:
    """Choose an option of a Dash dropdown as a person does: open it, click the option."""
    dropdown.click()
    option = wait_until(lambda: next((o for o in duo.driver.find_elements(By.CSS_SELECTOR, "[role='option']")
                                      if o.text.strip() == label), None), 10, f"no option {label!r}")
    option.click()


def legend_text(card) -> str:
    return card.find_element(By.CSS_SELECTOR, ".legend").text


def test_add_a_layer_then_restyle_it_without_fetching_geometry_again(explorer):
    duo = explorer
    open_map(duo, "layer=london-boroughs")
    wait_until(lambda: len(fills(duo)) >= 33, 30, "borough outlines not drawn")

    box = duo.find_element("#layer-search")
    box.send_keys("deprivation")
    button = wait_until(lambda: next((b for b in duo.find_elements(".layer-search-results__button")
                                      if "ward summary" in b.text), None), 20, "IMD ward summary not offered")
    button.click()
    wait_until(lambda: len(cards(duo)) == 2, 30, "the new layer card did not appear")
    assert "Added" in duo.find_element("#layer-add-notice").text
    card = cards(duo)[0]  # new layers go on top
    assert "Deprivation" in card.find_element(By.CSS_SELECTOR, ".layer-card__title").text
    wait_until(lambda: "≤" in legend_text(cards(duo)[0]), 60, "no class legend for the new layer")
    wait_until(lambda: coloured(duo) > 600, 60, "the ward choropleth was not coloured")

    requests_before = geometry_requests(duo)
    drawn_before = fills(duo)
    legend_before = legend_text(cards(duo)[0])
    variable = cards(duo)[0].find_element(By.CSS_SELECTOR, ".layer-card__controls .dash-dropdown")
    current = variable.text.strip()
    variable.click()
    options = wait_until(lambda: [o for o in duo.driver.find_elements(By.CSS_SELECTOR, "[role='option']")
                                  if o.text.strip() and o.text.strip() not in (current, "— outline only —", "— one colour —")],
                         10, "no other variables")
    chosen = options[0].text.strip()
    options[0].click()
    wait_until(lambda: legend_text(cards(duo)[0]).startswith(chosen), 30,
               f"legend title did not follow {chosen!r}: {legend_text(cards(duo)[0])[:80]!r}")
    assert legend_text(cards(duo)[0]) != legend_before
    wait_until(lambda: fills(duo) != drawn_before, 20, "no shape changed colour")
    assert len(fills(duo)) == len(drawn_before), "the geometry was redrawn"

    # Three classes instead of five: the legend lists three classes plus no data.
    drawn_five = fills(duo)
    number = [d for d in cards(duo)[0].find_elements(By.CSS_SELECTOR, ".layer-card__style .dash-dropdown")][1]
    pick(duo, number, "3")
    wait_until(lambda: len(cards(duo)[0].find_elements(By.CSS_SELECTOR, ".legend__list li")) == 4, 20,
               "legend does not show three classes")
    wait_until(lambda: fills(duo) != drawn_five, 20, "fills did not follow the new classes")
    assert len(set(f for f in fills(duo) if not f.startswith("#d9d9d9"))) >= 3

    # Restyling moved numbers only: no geometry was requested again.
    assert geometry_requests(duo) == requests_before


def test_click_a_borough_to_see_values_and_their_source(explorer):
    duo = explorer
    open_map(duo, "layer=london-boroughs&" + BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    map_el = duo.find_element("#explorer-map")
    # The map opens on central London: its middle is inside a borough.
    map_el.click()
    panel = wait_until(lambda: duo.find_element("#feature-panel").text if "At this place" in
                       duo.find_element("#feature-panel").text else None, 30, "no feature panel")
    # it leads with the value, its unit and what it means, under a human label
    assert "NO₂ annual mean, 2019" in panel and "NO2-2019-mean" not in panel
    figure = duo.find_element("#feature-panel .feature__figure").text
    assert figure.endswith(" µg/m³") and float(figure.split()[0]) > 10
    assert "WHO 2021 guideline of 10" in panel or "UK annual objective of 40" in panel
    assert "E09000" in panel  # a borough code
    # the source is folded below, one click away
    duo.find_element("#feature-panel .feature__source summary").click()
    source = wait_until(lambda: duo.find_element("#feature-panel .source-card").text, 10, "the source opened")
    assert "Publisher" in source and "Licence" in source
    assert "match" in source.lower()  # the join's match rate for the joined table
    link = duo.find_element("#feature-panel .source-card a[href^='/dataset/']")
    assert link.get_attribute("href").endswith(("/dataset/london-boroughs", "/dataset/laei-borough"))


def test_a_copied_link_reopens_the_same_map(explorer):
    duo = explorer
    open_map(duo, BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    card = cards(duo)[0]
    classes = card.find_elements(By.CSS_SELECTOR, ".layer-card__style .dash-dropdown")[1]
    pick(duo, classes, "4")
    wait_until(lambda: "k:4" in duo.driver.current_url, 20, "the URL did not record the classes")
    wait_until(lambda: len(cards(duo)[0].find_elements(By.CSS_SELECTOR, ".legend__list li")) == 5, 20,
               "legend does not show four classes")
    link = duo.driver.current_url
    legend = legend_text(cards(duo)[0])

    duo.driver.get("about:blank")
    duo.driver.get(link)
    wait_until(lambda: len(cards(duo)) == 1, 30, "the layer did not come back")
    wait_until(lambda: legend_text(cards(duo)[0]) == legend, 30, "the legend differs after reopening")
    assert "Modelled air pollution" in cards(duo)[0].text or "LAEI" in cards(duo)[0].text


def test_year_slider_and_play(explorer):
    duo = explorer
    open_map(duo, BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    card = cards(duo)[0]
    assert card.find_element(By.CSS_SELECTOR, ".time-value").text == "2019"
    drawn_2019 = fills(duo)
    legend_2019 = legend_text(card)
    handle = card.find_element(By.CSS_SELECTOR, ".time-slider [role='slider']")
    handle.send_keys(Keys.HOME)
    wait_until(lambda: cards(duo)[0].find_element(By.CSS_SELECTOR, ".time-value").text == "2013", 20,
               "the slider did not move to 2013")
    wait_until(lambda: legend_text(cards(duo)[0]).startswith("NO₂ annual mean, 2013"), 30, "legend not for 2013")
    # the scale stays: a colour means the same number in 2013 as in 2019
    assert legend_text(cards(duo)[0]).split("\n")[1:] == legend_2019.split("\n")[1:]
    wait_until(lambda: fills(duo) != drawn_2019, 30, "the map did not change with the year")
    assert "2013" in duo.driver.current_url

    duo.find_element(".layer-card button[aria-label^='Play']").click()
    wait_until(lambda: cards(duo)[0].find_element(By.CSS_SELECTOR, ".time-value").text == "2019", 30,
               "play did not reach 2019")
    wait_until(lambda: "Play" in cards(duo)[0].find_element(By.CSS_SELECTOR, "button[aria-label^='Play']").text,
               30, "play did not stop at the last year")


def test_table_view_by_keyboard(explorer):
    duo = explorer
    open_map(duo, BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    toggle = duo.find_element("#table-toggle")
    duo.driver.execute_script("arguments[0].focus();", toggle)
    outline = duo.driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle;")
    assert duo.driver.switch_to.active_element == toggle
    assert outline != "none", "the focused button shows no focus ring"
    toggle.send_keys(Keys.ENTER)
    wait_until(lambda: duo.find_element("#table-view").is_displayed(), 20, "table view did not open")
    assert toggle.get_attribute("aria-expanded") == "true"
    rows = wait_until(lambda: duo.find_elements("#table-view tbody tr"), 20, "no rows")
    assert len(rows) == 33
    values = [float(r.find_elements(By.CSS_SELECTOR, "td")[2].text.replace(",", "")) for r in rows]
    assert values == sorted(values, reverse=True)
    assert "City of London" in rows[0].text  # the highest borough NO2 in 2019
    region = duo.find_element("#table-view [role='region']")
    assert region.get_attribute("tabindex") == "0"  # the scrolling table can be reached by Tab
    toggle.send_keys(Keys.ENTER)
    wait_until(lambda: not duo.find_element("#table-view").is_displayed(), 20, "table view did not close")


def test_compare_two_layers_side_by_side(explorer):
    duo = explorer
    open_map(duo, "layer=london-boroughs&" + BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    duo.find_element("#compare-toggle").click()
    wait_until(lambda: coloured(duo, "#compare-map") >= 33, 60, "the right-hand map is not coloured")
    assert "Right:" in duo.find_element("#compare-frame .map-caption").text
    assert "London borough" in duo.find_element("#main-map-caption").text
    assert duo.find_element("#compare-toggle").get_attribute("aria-pressed") == "true"

    def scale(selector):
        return duo.driver.execute_script(
            "return document.querySelector(arguments[0] + ' .leaflet-control-scale-line').textContent;", selector)

    assert scale("#explorer-map") == scale("#compare-map")
    before = scale("#compare-map")
    duo.find_element("#explorer-map .leaflet-control-zoom-in").click()
    wait_until(lambda: scale("#compare-map") != before, 20, "the right-hand map did not follow the zoom")
    wait_until(lambda: scale("#explorer-map") == scale("#compare-map"), 20, "the maps' scales differ")

    # A layer added while comparing is offered for the right-hand map at once.
    def offered():
        titles = [c.find_element(By.CSS_SELECTOR, ".layer-card__title").text for c in cards(duo)]
        dropdown = duo.find_element("#compare-layer")
        dropdown.click()
        labels = [o.text for o in duo.driver.find_elements(By.CSS_SELECTOR, "[role='option']")
                  if any(o.text.startswith(t) for t in titles if t)]
        dropdown.send_keys(Keys.ESCAPE)
        return labels

    assert len(offered()) == 2
    box = duo.find_element("#layer-search")
    box.send_keys("green space")
    button = wait_until(lambda: duo.find_elements(".layer-search-results__button"), 20, "no results")[0]
    button.click()
    wait_until(lambda: len(cards(duo)) == 3, 30, "the new layer card did not appear")
    wait_until(lambda: len(offered()) == 3, 20, "the compare list did not follow")

    duo.find_element("#compare-toggle").click()
    wait_until(lambda: not duo.find_element("#compare-frame").is_displayed(), 20, "compare did not close")


def test_unknown_datasets_in_a_link_are_ignored_with_a_notice(explorer):
    duo = explorer
    open_map(duo, "layer=no-such-dataset&" + BOROUGH_NO2)
    notice = wait_until(lambda: duo.find_element("#map-notices").text, 20, "no notice")
    assert "no-such-dataset" in notice
    wait_until(lambda: coloured(duo) >= 33, 60, "the good layer was not drawn")
    assert len(cards(duo)) == 1


LSOA_NO2 = "layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,o:100,p:viridis"


def screen_colour(duo, element, dx: int, dy: int) -> tuple[int, int, int]:
    """The colour a person sees at (dx, dy) from the element's centre, from a screenshot."""
    import io

    from PIL import Image

    rect = element.rect
    shot = Image.open(io.BytesIO(duo.driver.get_screenshot_as_png())).convert("RGB")
    scale = shot.width / duo.driver.execute_script("return window.innerWidth;")
    x, y = rect["x"] + rect["width"] / 2 + dx, rect["y"] + rect["height"] / 2 + dy
    return shot.getpixel((round(x * scale), round(y * scale)))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def test_lsoa_layer_is_painted_on_a_canvas_in_its_class_colours(explorer):
    """The 4,994 LSOAs are painted on one canvas (not 5,000 SVG paths); what a person sees at a
    place is the class colour of the value the feature panel reports there, and a palette change
    repaints it without fetching geometry again."""
    duo = explorer
    open_map(duo, "view=51.5230,-0.1330,15&layer=london-boroughs&" + LSOA_NO2)  # Camden: LSOAs 100+ px wide
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('#explorer-map .leaflet-map-pane canvas').length") == 1, 60,
        "the LSOA layer has no canvas")
    hideout = wait_until(lambda: duo.driver.execute_script(
        "var h = window.explorer.map.hideouts; for (var k in h) { if (h[k].canvas && h[k].breaks) { return h[k]; } }"
        " return null;"), 60, "the LSOA layer's classes did not arrive")
    # only the 33 borough outlines are SVG paths
    assert len(fills(duo)) < 100

    map_el = duo.find_element("#explorer-map")
    dx, dy = -20, -15
    seen = wait_until(lambda: (lambda c: c if c in {hex_rgb(x) for x in hideout["colours"]} else None)(
        screen_colour(duo, map_el, dx, dy)), 30, "the place is not painted in a class colour")

    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    rect = map_el.rect
    click = ActionBuilder(duo.driver)
    click.pointer_action.move_to_location(round(rect["x"] + rect["width"] / 2 + dx),
                                          round(rect["y"] + rect["height"] / 2 + dy)).click()
    click.perform()
    panel = wait_until(lambda: duo.find_element("#feature-panel").text
                       if "NO₂ annual mean, 2019" in duo.find_element("#feature-panel").text else None, 30,
                       "no LSOA value in the feature panel")
    assert "E01" in panel   # an LSOA 2021 code
    value = float(duo.find_element("#feature-panel .feature__figure").text.split()[0].replace(",", ""))
    klass = sum(1 for b in hideout["breaks"] if value > b)
    assert seen == hex_rgb(hideout["colours"][klass]), (value, hideout["breaks"], seen)

    # hovering the same place shows that area's name, code and value in a tooltip
    code = next(w for w in panel.replace("·", " ").split() if w.startswith("E01"))
    hover = ActionBuilder(duo.driver)
    hover.pointer_action.move_to_location(round(rect["x"] + rect["width"] / 2 + dx + 2),
                                          round(rect["y"] + rect["height"] / 2 + dy + 1))
    hover.perform()
    tip = wait_until(lambda: next((t.text for t in duo.find_elements(".leaflet-tooltip")
                                   if code in t.text), None), 20, f"no tooltip for {code}")
    assert f"{value:g}" in tip.replace(",", "") and "µg/m³" in tip

    requests_before = geometry_requests(duo)
    card = next(c for c in cards(duo) if "LSOA" in c.text)
    pick(duo, card.find_elements(By.CSS_SELECTOR, ".layer-card__style .dash-dropdown")[2], "Magma")
    wait_until(lambda: screen_colour(duo, map_el, dx, dy) != seen, 30, "the canvas was not repainted")
    magma = wait_until(lambda: duo.driver.execute_script(
        "var h = window.explorer.map.hideouts; for (var k in h) { if (h[k].canvas && h[k].colours[0] !== arguments[0])"
        " { return h[k].colours; } } return null;", hideout["colours"][0]), 30, "no new palette")
    wait_until(lambda: screen_colour(duo, map_el, dx, dy) == hex_rgb(magma[klass]), 30,
               "the place is not in the new palette's colour for its class")
    assert geometry_requests(duo) == requests_before


def test_an_untouched_map_settles(explorer):
    """Nobody touching the page means no requests: a layer whose link leaves its resource, variable
    and year to the map (so the map writes them into the address) once made the page render itself
    again and again, with new layer ids each time."""
    duo = explorer
    count = ("return performance.getEntriesByType('resource').filter(function (e) {"
             " return e.name.indexOf('_dash-update-component') !== -1; }).length;")
    for query in ("layer=crime-ward", "layer=laei-borough&layer=london-boroughs"):
        open_map(duo, query)
        wait_until(lambda: coloured(duo) >= 33, 60, f"{query}: not drawn")
        wait_until(lambda: len(cards(duo)) >= 1, 30, "no layer card")
        cards_before = [c.get_attribute("id") or c.text[:40] for c in cards(duo)]
        time.sleep(2)
        settled = duo.driver.execute_script(count)
        time.sleep(4)
        assert duo.driver.execute_script(count) == settled, f"{query}: the page kept calling the server"
        assert [c.get_attribute("id") or c.text[:40] for c in cards(duo)] == cards_before
        assert duo.driver.execute_script("return Object.keys(window.explorer.map.hideouts).length;") <= 2


def test_the_map_link_in_the_header_opens_the_first_map_again(explorer):
    duo = explorer
    open_map(duo, BOROUGH_NO2)
    wait_until(lambda: coloured(duo) >= 33, 60, "borough NO2 not drawn")
    assert len(cards(duo)) == 1
    next(a for a in duo.find_elements(".site-nav__link") if a.text == "Map").click()
    # the map as it first opens: borough outlines over LSOA NO2
    wait_until(lambda: len(cards(duo)) == 2, 30, "the header's Map link did not open the first map")
    assert any("LSOA" in c.text for c in cards(duo))
