"""Map PNGs draw their polygon layers as one raster (explorer.export.raster_layers): the same map.

A known LSOA's interior pixel, found from its representative point and the axes' mapping (the
plot area read from the SVG twin), has its class colour over the London fill, as in the vector
PNG; a place without a value has the no-data colour; the raster has the plot area's own pixels;
holes stay holes; an outline layer above the fills stays a vector line; the SVG keeps its paths
(no raster of them) and its readable footer.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import shapely
from PIL import Image

from explorer.themes import design
from explorer.geo.joins import DataService
from explorer.export import resolve_size
from explorer.export.map_figure import REGION_FILL, THAMES_FILL, build_map, export_map, layer_geometry
from explorer.export.raster_layers import RasterLayer, draw_layers, polygon_rings
from explorer.services import open_registry
from explorer.settings import Settings

SVG_NS = "{http://www.w3.org/2000/svg}"
LSOA = "?layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,m:thresholds"
LSOA_ID = "laei-lsoa-2021"


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("raster-home"), data_dir=data_dir, cache_url="null",
                        offline=True)
    return DataService(settings, open_registry(settings), memory_items=64)


def plot_area(svg: bytes) -> tuple[float, float, float, float]:
    """(left, top, width, height) in CSS pixels of the map's axes, as plotly laid them out."""
    m = re.search(rb'class="axesclip" id="[^"]*xy"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
                  rb'height="([\d.]+)"', svg)
    assert m, "no plot area in the SVG"
    return tuple(float(v) for v in m.groups())


def blend(colour: str, alpha: float, under: str = REGION_FILL) -> np.ndarray:
    top, bottom = np.array(design.parse_hex(colour), float), np.array(design.parse_hex(under), float)
    return top * alpha + bottom * (1 - alpha)


def pixel(png: bytes, xy: tuple[float, float]) -> np.ndarray:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return np.array(image.getpixel((int(xy[0]), int(xy[1]))), float)


def interior_points(service, layer, klass_of, area, figure, scale: float, min_px: float = 5.0) -> dict:
    """For each class: the device pixel of the LSOA whose representative point lies deepest inside
    it (at least ``min_px`` pixels from its edge and clear of the Thames)."""
    geometry = layer_geometry(service, layer.dataset_id, layer.resource_id)
    thames = shapely.union_all(layer_geometry(service, "thames", None).geoms)
    (x0, x1), (y0, y1) = figure.layout.xaxis.range, figure.layout.yaxis.range
    left, top, width, height = area
    metres_per_px = (x1 - x0) / width / scale
    best: dict = {}
    points = shapely.point_on_surface(geometry.geoms)
    depth = shapely.distance(points, shapely.boundary(geometry.geoms)) / metres_per_px
    clear = shapely.distance(points, thames) / metres_per_px
    for pos, point in enumerate(points):
        k = klass_of(geometry.index[pos])
        if depth[pos] < min_px or clear[pos] < min_px or k in best and best[k][0] >= depth[pos]:
            continue
        px = ((left + (point.x - x0) / (x1 - x0) * width) * scale, (top + (y1 - point.y) / (y1 - y0) * height) * scale)
        best[k] = (depth[pos], px, geometry.index[pos])
    return best


def class_of(layer):
    breaks = np.asarray(layer.style["breaks"], float)

    def klass(row: int) -> int:
        value = layer.values[row]
        return -1 if value is None else int(np.searchsorted(breaks, float(value), side="left"))

    return klass


def twin_svg(service, renderer, query, size, height):
    figure = build_map(service, query, size.width, height).figure
    return renderer.render(figure, "svg", size.width, height, 1)


# ------------------------------------------------------------------------------------------ the same map
def test_lsoa_png_pixels_have_their_class_colours_as_the_vector_png(service, renderer):
    size = resolve_size("slide")
    raster = build_map(service, LSOA, size.width, size.height, scale=size.scale, raster=True)
    vector = build_map(service, LSOA, size.width, size.height, scale=size.scale)
    assert [s.fillcolor for s in raster.figure.layout.shapes if s.layer == "above"] == [THAMES_FILL]
    assert [i.layer for i in raster.figure.layout.images] == ["above"]
    png = renderer.render(raster.figure, "png", size.width, size.height, size.scale)
    vector_png = renderer.render(vector.figure, "png", size.width, size.height, size.scale)
    area = plot_area(twin_svg(service, renderer, LSOA, size, size.height))
    layer = raster.layers[0]
    found = interior_points(service, layer, class_of(layer), area, raster.figure, size.scale)
    assert {1, 2} <= set(found), found.keys()             # 10–40 and > 40 (no LSOA is ≤ 10)
    for k, (_, xy, row) in found.items():
        if k < 0:
            continue
        want = blend(layer.style["colours"][k], 0.8)
        got = pixel(png, xy)
        assert np.abs(got - want).max() <= 4, (k, row, xy, got, want)
        assert np.abs(got - pixel(vector_png, xy)).max() <= 4, (k, row, xy)


def test_a_place_without_a_value_has_the_no_data_colour(service, renderer, monkeypatch):
    from explorer.maps import values as mapvalues

    size = resolve_size("square")
    plain = build_map(service, LSOA, size.width, size.height)
    layer = plain.layers[0]
    area = plot_area(twin_svg(service, renderer, LSOA, size, size.height))
    found = interior_points(service, layer, class_of(layer), area, plain.figure, size.scale, min_px=6)
    _, xy, row = found[1]                                 # a large 10–40 LSOA, clear of the river
    real = mapvalues.values_payload

    def one_missing(*args, **kwargs):
        values = list(real(*args, **kwargs))
        values[row] = None
        return values

    monkeypatch.setattr(mapvalues, "values_payload", one_missing)
    image = export_map(LSOA, "png", size, service, renderer)
    style = build_map(service, LSOA, size.width, size.height).layers[0].style
    assert style["no_data"] == 1
    got = pixel(image.content, xy)
    assert np.abs(got - blend(style["nodata"], 0.8)).max() <= 4, (row, got)
    assert np.abs(got - blend(style["colours"][1], 0.8)).max() > 20      # not its class colour


def test_the_raster_has_the_plot_areas_own_pixels(service, renderer):
    for preset in ("a4", "slide", "square"):
        size = resolve_size(preset)
        height = size.height or round(size.width * 0.9)
        figure = build_map(service, LSOA, size.width, height, scale=size.scale, raster=True).figure
        source = figure.layout.images[-1].source
        raster = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        _, _, width, tall = plot_area(twin_svg(service, renderer, LSOA, size, height))
        assert abs(raster.width - width * size.scale) <= 1, (preset, raster.size, width)
        assert abs(raster.height - tall * size.scale) <= 1, (preset, raster.size, tall)
        assert raster.mode == "RGBA" and raster.getpixel((0, 0))[3] == 0     # outside London: see-through


def test_an_outline_layer_above_the_fills_stays_a_vector_line(service):
    both = "?layer=london-boroughs&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,m:thresholds"
    figure = build_map(service, both, 1280, 720, scale=1.5, raster=True).figure
    boroughs = build_map(service, "?layer=london-boroughs", 1280, 720).layers[0]
    outlines = [s for s in figure.layout.shapes if s.type == "path" and s.line.color == boroughs.style["line"]]
    assert len(outlines) == 1 and outlines[0].layer == "above" and len(outlines[0].path) > 1000
    assert len(figure.layout.images) == 1
    # and below the fills it goes into the raster, so the fills still cover it
    under = build_map(service, LSOA + "&layer=london-boroughs", 1280, 720, scale=1.5, raster=True).figure
    assert not [s for s in under.layout.shapes if s.line.color == boroughs.style["line"]]


# ------------------------------------------------------------------------------------------ SVG stays vector
def test_the_svg_keeps_its_polygon_paths_and_footer(service, renderer):
    import xml.etree.ElementTree as ET

    size = resolve_size("slide")
    image = export_map(LSOA, "svg", size, service, renderer, base_url="https://example.test")
    root = ET.fromstring(image.content)
    assert not list(root.iter(f"{SVG_NS}image"))                 # no raster of the polygons
    long_paths = [p for p in root.iter(f"{SVG_NS}path") if len(p.get("d", "")) > 20_000]
    assert len(long_paths) >= 3                                    # the outline, the classes, the Thames
    styles = " ".join(p.get("style", "") for p in long_paths)
    colours = build_map(service, LSOA, size.width, size.height).layers[0].style["colours"]
    for colour in colours[1:]:                                     # the classes that have LSOAs
        rgb = ", ".join(str(v) for v in design.parse_hex(colour))
        assert f"fill: rgb({rgb}); fill-opacity: 0.8" in styles, colour
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG_NS}text"))
    assert "Source: Greater London Authority (GLA), Modelled air pollution by LSOA" in text
    assert f"View online: {image.link}" in text


# ------------------------------------------------------------------------------------------ the drawing
def test_holes_stay_holes_and_a_polygon_in_a_hole_is_painted():
    outer = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(20, 20), (80, 20), (80, 80), (20, 80)]])
    inner = shapely.box(40, 40, 60, 60)
    geoms = np.array([inner, outer], dtype=object)               # the small one first: order must not matter
    rings = polygon_rings(geoms)
    assert rings.feature[0] == 1 and rings.hole[:2] == [False, True]
    layer = RasterLayer(rings, [(255, 0, 0, 255), (0, 0, 255, 204)], (255, 255, 255), 0.0, 0.25)
    image = draw_layers([layer], (0, 100, 0, 100), (100, 100), 1.0)
    assert image.size == (100, 100)
    assert image.getpixel((10, 10)) == (0, 0, 255, 204)           # the outer ring's fill
    assert image.getpixel((30, 30))[3] == 0                       # its hole
    assert image.getpixel((50, 50)) == (255, 0, 0, 255)           # the polygon inside the hole
    assert image.getpixel((50, 10)) == (0, 0, 255, 204)           # y grows upwards: row 10 is near the top


def test_outlines_are_drawn_over_the_fills():
    square = shapely.box(10, 10, 90, 90)
    layer = RasterLayer(polygon_rings([square]), [(0, 0, 255, 255)], (255, 255, 255), 1.0, 2.0)
    image = np.asarray(draw_layers([layer], (0, 100, 0, 100), (100, 100), 1.0))
    assert tuple(image[50, 50]) == (0, 0, 255, 255)
    assert image[50, 9:12, 0].max() > 200 and image[50, 9:12, 2].min() > 200    # a white edge at x = 10
    outline_only = RasterLayer(polygon_rings([square]), None, (200, 0, 0), 1.0, 1.0)
    image = np.asarray(draw_layers([outline_only], (0, 100, 0, 100), (100, 100), 1.0))
    assert image[50, 50, 3] == 0 and image[50, 9:12, 3].max() > 100
