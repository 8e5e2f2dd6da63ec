"""Our canvas layer for big polygon and line layers (assets/canvas_layer.js), in the browser: its
geobuf reader gives back exactly the shapes the server encoded, a broken file says so on the map,
and the layer follows the map when it moves."""

from __future__ import annotations

import base64
import json
import math
import time

import numpy as np
import shapely

from explorer.geo.geobuf import encode_geobuf

from .test_map_explorer import LSOA_NO2, hex_rgb, open_map, screen_colour, wait_until

DECODE_JS = """
var bytes = Uint8Array.from(atob(arguments[0]), function (c) { return c.charCodeAt(0); });
try {
  var g = window.explorer.canvas.decode(bytes.buffer);
  return {n: g.n, closed: g.closed, xy: Array.from(g.xy), rings: Array.from(g.rings),
          featRing: Array.from(g.featRing), index: Array.from(g.index), names: g.names, codes: g.codes};
} catch (e) { return {error: String(e.message)}; }
"""


def wait_for_one_canvas_layer(duo) -> None:
    """Until the page's one canvas layer has its geometry (and so has painted it)."""
    wait_until(lambda: duo.driver.execute_script(
        "var l = window.explorer.canvas.layers; var k = Object.keys(l);"
        " return k.length === 1 && l[k[0]].geometry !== null;"), 60, "the LSOA layer was not drawn")


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """Leaflet's EPSG:3857 at zoom 0, scaled to [0, 1]."""
    s = math.sin(math.radians(lat))
    return lon / 360 + 0.5, 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)


def runs(geom) -> list[list[tuple[float, float]]]:
    """The rings (closing point dropped) or lines of a geometry, in the order geobuf writes them."""
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            for ring in [part.exterior, *part.interiors]:
                out.append(list(ring.coords)[:-1])
        else:
            out.append(list(part.coords))
    return out


def decoded(duo, geoms, props, precision=6) -> dict:
    data = encode_geobuf(np.array(geoms, dtype=object), props, ["_i", "_name", "_code"], precision)
    return duo.driver.execute_script(DECODE_JS, base64.b64encode(data).decode("ascii"))


def assert_same_shapes(got: dict, geoms, precision: int) -> None:
    assert got["n"] == len(geoms)
    for f, geom in enumerate(geoms):
        expected = runs(geom)
        first, last = got["featRing"][f], got["featRing"][f + 1]
        assert last - first == len(expected), f"feature {f}: rings"
        for k, ring in zip(range(first, last), expected):
            p0, p1 = got["rings"][k], got["rings"][k + 1]
            assert p1 - p0 == len(ring), f"feature {f} ring {k}: points"
            for p, (lon, lat) in zip(range(p0, p1), ring):
                x, y = mercator(round(lon, precision), round(lat, precision))
                assert abs(got["xy"][2 * p] - x) < 1e-12 and abs(got["xy"][2 * p + 1] - y) < 1e-12, (f, k, p)


def test_geobuf_reader_returns_the_encoded_polygons_holes_parts_and_labels(explorer):
    duo = explorer
    duo.driver.get(f"{duo.server_url}/")
    wait_until(lambda: duo.driver.execute_script("return !!(window.explorer && window.explorer.canvas);"), 30,
               "the canvas layer script did not load")
    square = shapely.Polygon([(-0.2, 51.4), (-0.1, 51.4), (-0.1, 51.5), (-0.2, 51.5)],
                             holes=[[(-0.17, 51.43), (-0.13, 51.43), (-0.13, 51.47), (-0.17, 51.47)]])
    parts = shapely.MultiPolygon([
        shapely.Polygon([(0.01, 51.6), (0.05, 51.6), (0.03, 51.65)]),
        shapely.Polygon([(0.1, 51.6), (0.2, 51.6), (0.2, 51.7), (0.1, 51.7)],
                        holes=[[(0.12, 51.62), (0.18, 51.62), (0.15, 51.68)]]),
    ])
    geoms = [square, parts, shapely.Polygon([(-0.51, 51.28), (0.33, 51.28), (0.33, 51.69)])]
    props = [{"_i": 0, "_name": "Hackney Wick – Ω", "_code": "E01000001"}, {"_i": 7, "_code": "E01000002"}, {"_i": 2}]
    got = decoded(duo, geoms, props)
    assert "error" not in got, got
    assert got["closed"] is True
    assert_same_shapes(got, geoms, 6)
    assert got["index"] == [0, 7, 2]
    assert got["names"] == ["Hackney Wick – Ω", None, None]
    assert got["codes"] == ["E01000001", "E01000002", None]

    lines = [shapely.LineString([(-0.3, 51.5), (-0.2, 51.52), (-0.1, 51.49)]),
             shapely.MultiLineString([[(0.0, 51.5), (0.1, 51.5)], [(0.1, 51.6), (0.2, 51.61), (0.25, 51.7)]])]
    got = decoded(duo, lines, [{"_i": 0}, {"_i": 1}], precision=5)
    assert "error" not in got, got
    assert got["closed"] is False
    assert_same_shapes(got, lines, 5)

    # a file cut short is refused with where it broke, not read as fewer shapes
    data = encode_geobuf(np.array(geoms, dtype=object), props, ["_i", "_name", "_code"], 6)
    cut = duo.driver.execute_script(DECODE_JS, base64.b64encode(data[: len(data) - 40]).decode("ascii"))
    assert "byte" in cut.get("error", ""), cut


def test_a_layer_whose_geometry_cannot_be_read_says_so_and_the_others_stay(explorer):
    duo = explorer
    open_map(duo, "view=51.5230,-0.1330,13&" + LSOA_NO2)
    wait_for_one_canvas_layer(duo)
    map_el = duo.find_element("#explorer-map")
    before = screen_colour(duo, map_el, -20, -15)
    # a second big layer whose file the server cannot give (as when a dataset has gone)
    duo.driver.execute_script(
        "var lsoa = window.explorer.canvas.layers[Object.keys(window.explorer.canvas.layers)[0]];"
        "window.explorer.canvas.add(lsoa._map,"
        " {uid: 'broken', geometry: '/geo/no-such-dataset/none.pbf', mode: 'single', colour: '#ff0000'});")
    note = wait_until(lambda: duo.find_element("#explorer-map .map-layer-error").text, 30, "no error on the map")
    assert "no-such-dataset" in note and "could not be drawn" in note
    assert duo.find_element("#explorer-map .map-layer-error").get_attribute("role") == "alert"
    assert screen_colour(duo, map_el, -20, -15) == before    # the LSOAs are still there, unchanged


def test_the_canvas_follows_the_map_when_it_pans(explorer):
    """After a pan the shapes are drawn where the map now puts them: the colour under a place
    moves with it."""
    duo = explorer
    open_map(duo, "view=51.5230,-0.1330,14&" + LSOA_NO2)
    wait_for_one_canvas_layer(duo)
    map_el = duo.find_element("#explorer-map")
    time.sleep(0.5)
    colours = [screen_colour(duo, map_el, dx, 0) for dx in range(-120, 121, 20)]
    assert len(set(colours)) > 1, "the sampled places are all one colour"
    drawn = duo.driver.execute_script("return window.__draws = 0, document.addEventListener("
                                      "'explorer-canvas-draw', function () { window.__draws++; }), 0;")
    assert drawn == 0
    duo.driver.execute_script(
        "var l = window.explorer.canvas.layers; l[Object.keys(l)[0]]._map.panBy([60, 0], {animate: false});")
    wait_until(lambda: duo.driver.execute_script("return window.__draws;") > 0, 20, "no repaint after the pan")
    time.sleep(0.3)
    moved = [screen_colour(duo, map_el, dx - 60, 0) for dx in range(-120, 121, 20)]
    assert moved == colours


def test_a_big_layers_geometry_is_fetched_once_and_read_before_the_map_asks(explorer):
    """Opened again, the page marks the LSOA geometry as a big layer's: the canvas script reads the
    preloaded file while Dash starts, and the layer paints from it, with one request for it."""
    duo = explorer
    for visit in range(2):
        open_map(duo, LSOA_NO2 + "&layer=london-boroughs")
        wait_for_one_canvas_layer(duo)
    marked = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('link[data-explorer-canvas]')).map(function (l) {"
        " return l.getAttribute('href'); });")
    assert marked == ["/geo/laei-lsoa-2021/no2-2019.pbf"]      # not the boroughs, drawn as SVG
    requests = duo.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('/geo/') !== -1; })"
        ".map(function (e) { return [e.name.split('/geo/')[1], e.transferSize]; });")
    names = [name for name, _ in requests]
    assert len(set(names)) == 4, requests      # LSOAs, boroughs, outline, Thames
    assert names.count("laei-lsoa-2021/no2-2019.pbf") == 1, requests
    # The outline and the Thames are read twice: by the page's first view, then by the live map,
    # which finds them in the browser's cache (nothing on the wire: transferSize 0).
    seen = set()
    for name, size in requests:
        assert name not in seen or size == 0, requests
        seen.add(name)


def test_compare_shows_a_big_layer_on_the_right_hand_map_and_hides_it_on_the_left(explorer):
    duo = explorer
    open_map(duo, "view=51.5230,-0.1330,14&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,o:100,p:blues"
                  "&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-max,o:100,p:magma")
    wait_until(lambda: duo.driver.execute_script(
        "var l = window.explorer.canvas.layers; return Object.keys(l).length === 2"
        " && Object.keys(l).every(function (k) { return l[k].geometry !== null; });"), 60, "the layers were not drawn")
    duo.find_element("#compare-toggle").click()

    # the compared layer's colours, and the other layer's (the two uids not ending in -compare)
    found = wait_until(lambda: duo.driver.execute_script(
        "var h = window.explorer.map.hideouts, uids = Object.keys(window.explorer.canvas.layers);"
        " var right = uids.filter(function (k) { return /-compare$/.test(k); })[0];"
        " if (!right || !h[right] || !h[right].colours) { return null; }"
        " var other = uids.filter(function (k) { return k !== right && k + '-compare' !== right; })[0];"
        " return [h[right].colours, h[other].colours];"), 30, "the right-hand map has no layer")
    right, other = found
    assert right != other
    wait_until(lambda: duo.driver.execute_script(
        "return document.querySelectorAll('#compare-map .leaflet-map-pane canvas').length") == 1, 30,
        "the right-hand map has no canvas")
    left_map, right_map = duo.find_element("#explorer-map"), duo.find_element("#compare-map")
    wait_until(lambda: share_in(duo, right_map, right) > 0.5, 30,
               "the right-hand map is not painted in the compared layer's colours")
    assert share_in(duo, right_map, other) == 0
    # on the left only the other layer shows: its colours, not the compared layer's
    wait_until(lambda: share_in(duo, left_map, other) > 0.5, 30, "the left-hand map does not show the other layer")
    assert share_in(duo, left_map, right) == 0


def share_in(duo, element, colours) -> float:
    """The share of 25 places around the element's centre (40 px apart) a person sees in one of
    ``colours``, give or take 3 in each channel (a map at a fractional offset is resampled); a
    place on a white border between areas is in none."""
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(duo.driver.get_screenshot_as_png())).convert("RGB")
    scale = shot.width / duo.driver.execute_script("return window.innerWidth;")
    rect, wanted = element.rect, {hex_rgb(c) for c in colours}
    places = [(rect["x"] + rect["width"] / 2 + dx, rect["y"] + rect["height"] / 2 + dy)
              for dx in range(-80, 81, 40) for dy in range(-80, 81, 40)]
    def near(pixel):
        return any(max(abs(a - b) for a, b in zip(pixel, c)) <= 3 for c in wanted)

    return sum(near(shot.getpixel((round(x * scale), round(y * scale)))) for x, y in places) / len(places)


def test_moving_and_removing_big_layers_keeps_one_canvas_per_layer_shown(explorer):
    """A layer card moved down, then the other removed: the map keeps exactly the canvases of the
    layers in the panel (a removed layer's canvas goes with it, none is drawn twice)."""
    duo = explorer
    open_map(duo, "view=51.5230,-0.1330,14&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,o:100,p:blues"
                  "&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-max,o:100,p:magma")
    state = ("var l = window.explorer.canvas.layers; return [Object.keys(l).sort(),"
             " document.querySelectorAll('#explorer-map .leaflet-map-pane canvas').length];")
    first, second = wait_until(lambda: (lambda c: [c[0]["index"], c[1]["index"]] if len(c) == 2 else None)(
        [json.loads(card.get_attribute("id")) for card in duo.find_elements(".layer-card")]), 30, "no cards")
    wait_until(lambda: duo.driver.execute_script(state) == [sorted([first, second]), 2], 60, "not drawn")
    duo.find_element(f"#{css_id({'index': first, 'type': 'layer-down'})}").click()
    wait_until(lambda: [json.loads(c.get_attribute("id"))["index"] for c in duo.find_elements(".layer-card")]
               == [second, first], 30, "the card did not move")
    time.sleep(1)
    assert duo.driver.execute_script(state) == [sorted([first, second]), 2]
    duo.find_element(f"#{css_id({'index': second, 'type': 'layer-remove'})}").click()
    wait_until(lambda: duo.driver.execute_script(state) == [[first], 1], 30, "the removed layer's canvas stayed")
    map_el = duo.find_element("#explorer-map")
    blues = duo.driver.execute_script("return window.explorer.map.hideouts[arguments[0]].colours;", first)
    wait_until(lambda: share_in(duo, map_el, blues) > 0.5, 30, "the remaining layer is not what the map shows")


def css_id(component_id: dict) -> str:
    """A CSS id selector for a Dash pattern-matching id (its JSON, keys sorted, escaped)."""
    import re

    text = json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return re.sub(r'([{}":,])', r"\\\1", text)
