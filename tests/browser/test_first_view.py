"""The page as the server draws it (explorer/web/first_paint.py, assets/first_view.js): what a person
sees before Dash's scripts have run, and how the live page takes over from it.

"Before Dash has run" is made to last: the test blocks Dash's renderer script, so the page stays
as the server drew it, with the map's first view painted by our own scripts."""

from __future__ import annotations

import time

from .test_canvas_layer import wait_for_one_canvas_layer
from .test_map_explorer import LSOA_NO2, hex_rgb, screen_colour, wait_until

MAP = "/map?basemap=none&" + LSOA_NO2
PLACES = [(dx, dy) for dx in range(-150, 151, 50) for dy in range(-120, 121, 60)]


def block_dash(duo, blocked: bool = True) -> None:
    duo.driver.execute_cdp_cmd("Network.enable", {})
    duo.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*dash_renderer*"] if blocked else []})


def live_map_settled(duo) -> None:
    wait_for_one_canvas_layer(duo)
    wait_until(lambda: duo.driver.execute_script(
        "return !document.querySelector('.first-view, .explorer-first-view');"), 20,
        "the static page or the first view stayed after the live map was drawn")


def first_view_painted(duo) -> None:
    wait_until(lambda: duo.driver.execute_script(
        "return !!document.querySelector('canvas.explorer-first-view--fill[data-painted]');"), 30,
        "no first view of the LSOA layer")
    time.sleep(0.3)


def near(a, b, tolerance: int = 3) -> bool:
    return max(abs(x - y) for x, y in zip(a, b)) <= tolerance


def test_the_map_is_drawn_before_dash_starts_as_the_live_map_draws_it(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + MAP)
    live_map_settled(duo)
    time.sleep(0.5)
    live_el = duo.find_element("#explorer-map")
    live_box = live_el.rect
    live = [screen_colour(duo, live_el, dx, dy) for dx, dy in PLACES]
    colours = {hex_rgb(c) for c in duo.driver.execute_script(
        "var h = window.explorer.map.hideouts; return h[Object.keys(window.explorer.canvas.layers)[0]].colours;")}

    block_dash(duo)
    duo.driver.get(duo.server_url + MAP)
    first_view_painted(duo)
    # Dash never started: what shows is the server's page, with the map's first view in it
    assert not duo.driver.find_elements("css selector", "#explorer-map")
    page = duo.find_element(".first-view")
    assert "Map" in page.find_element("css selector", "h1").text
    assert "NO₂ annual mean, 2019" in page.find_element("css selector", ".legend").text
    static_el = page.find_element("css selector", ".explorer__map")
    assert all(abs(static_el.rect[k] - live_box[k]) <= 1 for k in ("x", "y", "width", "height")), \
        (static_el.rect, live_box)
    static = [screen_colour(duo, static_el, dx, dy) for dx, dy in PLACES]
    # the same picture: the LSOAs in their class colours where the live map has them (a place on a
    # white border may be a shade off, the borders being drawn at a sub-pixel offset)
    in_classes = [p for p in live if any(near(p, c) for c in colours)]
    assert len(in_classes) >= 5, "the live map does not show the layer's colours"
    same = sum(near(a, b) for a, b in zip(static, live))
    assert same >= 0.9 * len(PLACES), list(zip(static, live))


def test_the_live_page_takes_over_without_asking_for_the_layout(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + MAP)
    live_map_settled(duo)
    requested = duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
    assert not [u for u in requested if "_dash-layout" in u], "Dash fetched the layout the page carries"
    # one page, the live one: no static copy, no layout data left behind
    assert duo.driver.execute_script(
        "return [document.querySelectorAll('.explorer').length, !!document.getElementById('explorer-layout'),"
        " document.querySelectorAll('.explorer-first-view').length];") == [1, False, 0]
    card = duo.find_element(".layer-card")
    assert "NO₂ annual mean, 2019" in card.text and "NO2-2019-mean" not in card.text
    assert not [e for e in duo.get_logs() or [] if e.get("level") == "SEVERE"]


def test_the_map_keeps_its_place_at_phone_width(explorer):
    duo = explorer
    duo.driver.set_window_size(390, 844)
    duo.driver.get(duo.server_url + MAP)
    live_map_settled(duo)
    live_box = duo.find_element("#explorer-map").rect
    block_dash(duo)
    duo.driver.get(duo.server_url + MAP)
    first_view_painted(duo)
    static_box = duo.find_element(".first-view .explorer__map").rect
    assert all(abs(static_box[k] - live_box[k]) <= 1 for k in ("x", "y", "width", "height")), (static_box, live_box)
    # the layer panel starts folded, as the live page folds it at this width
    assert not duo.driver.execute_script(
        "var p = document.querySelector('.first-view .layer-panel'); return p && p.getBoundingClientRect().height;")


def test_other_pages_are_drawn_before_dash_starts_too(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + "/catalogue?q=nitrogen")
    wait_until(lambda: duo.driver.find_elements("css selector", "#page-content h1"), 30, "no catalogue")
    wait_until(lambda: not duo.driver.find_elements("css selector", ".first-view"), 20, "the static page stayed")
    live_heading = duo.find_element("#page-content h1").text
    live_titles = [e.text for e in duo.driver.find_elements("css selector", "#page-content h2, #page-content h3")][:5]

    block_dash(duo)
    duo.driver.get(duo.server_url + "/catalogue?q=nitrogen")
    page = wait_until(lambda: duo.driver.find_elements("css selector", ".first-view"), 30, "no static page")[0]
    assert page.find_element("css selector", "h1").text == live_heading
    static_titles = [e.text for e in page.find_elements("css selector", "h2, h3")][:5]
    assert static_titles == live_titles and live_titles
