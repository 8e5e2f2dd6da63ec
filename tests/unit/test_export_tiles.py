"""Basemap tiles under exported maps, against a tile server started here on 127.0.0.1.

The server's tiles are flat colours chosen by zoom, so a pixel of the exported PNG tells which
zoom it came from. The tests check the tiles are drawn (SVG carries a PNG data URI; PNG pixels
outside London carry the tile colour), the zoom suits the image, the disk cache is used, and that
a failing, hanging, switched-off (basemap=none) or offline basemap never fails the export: the map
is drawn without tiles and the footer says so.
"""

from __future__ import annotations

import base64
import io
import math
import re
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from explorer.geo.joins import DataService
from explorer.export import basemap, resolve_size, tiles
from explorer.export.map_figure import build_map, export_map
from explorer.services import open_registry
from explorer.settings import Settings


SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
BOROUGHS = "?layer=london-boroughs"
TRAFALGAR = (-0.1278, 51.5074)          # lon, lat


def zoom_colour(z: int) -> tuple[int, int, int]:
    return (30 + 9 * z, 200 - 7 * z, 90 + 5 * z)


def merc(lon: float, lat: float) -> tuple[float, float]:
    r = 6378137.0
    return math.radians(lon) * r, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * r


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    x, y = merc(lon, lat)
    size = tiles.WORLD / 2 ** z
    return int((x + tiles.WORLD / 2) // size), int((tiles.WORLD / 2 - y) // size)


def png_tile(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, "PNG")
    return buf.getvalue()


class Tiles:
    """/{z}/{x}/{y}.png as flat colours, served by the one local server; ``mode`` 'ok', 'error'
    (HTTP 500) or 'hang'; ``requests`` the tiles asked for."""

    def __init__(self, server):
        self.mode = "ok"
        self.requests: list[tuple[int, int, int]] = []
        self.release = threading.Event()
        server.add("*", self._answer)
        self.port = server.port
        self.template = server.url("/{z}/{x}/{y}.png")

    def _answer(self, handler) -> None:
        z, x, y = (int(p) for p in handler.path.strip("/").removesuffix(".png").split("/"))
        self.requests.append((z, x, y))
        if self.mode == "hang":
            self.release.wait(20)
            return
        if self.mode == "error":
            handler.send_error(500)
            return
        body = png_tile(zoom_colour(z))
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("tiles-home"), data_dir=data_dir, cache_url="null",
                        offline=True)
    return DataService(settings, open_registry(settings), memory_items=64)


@pytest.fixture
def server(service, monkeypatch, local_server):
    srv = Tiles(local_server)
    monkeypatch.setattr(service, "settings", service.settings.with_(
        offline=False, allow_private_urls=True, tile_url=srv.template))
    monkeypatch.setattr(tiles, "_failures", {})
    yield srv
    srv.release.set()           # a hanging answer ends before the server stops


def svg_root(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def svg_text(data: bytes) -> str:
    return " ".join(" ".join(el.itertext()) for el in svg_root(data).iter(f"{SVG_NS}text"))


def svg_images(data: bytes) -> list[str]:
    return [el.get("href") or el.get(XLINK) or "" for el in svg_root(data).iter(f"{SVG_NS}image")]


def decode_data_uri(uri: str) -> Image.Image:
    head, _, payload = uri.partition(",")
    assert head == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB")


def flat(text: str) -> str:
    return " ".join(text.split())


SLIDE = resolve_size("slide", scale=1)


# ------------------------------------------------------------------------------------------ pure parts
def test_tile_arithmetic_finds_the_tile_over_a_known_place():
    left, bottom = merc(-0.2, 51.45)
    right, top = merc(-0.05, 51.55)
    span = tiles.tile_span((left, bottom, right, top), 10)
    assert span[0] <= tile_of(*TRAFALGAR, 10)[0] <= span[1]
    assert span[2] <= tile_of(*TRAFALGAR, 10)[1] <= span[3]
    assert tile_of(*TRAFALGAR, 10) == (511, 340)
    # more pixels ask for a deeper zoom; the tile cap pulls it back
    assert tiles.choose_zoom((left, bottom, right, top), 2000) > tiles.choose_zoom((left, bottom, right, top), 500)
    capped = tiles.choose_zoom((left, bottom, right, top), 20000, max_tiles=4)
    assert tiles.tile_count(tiles.tile_span((left, bottom, right, top), capped)) <= 4
    assert tiles.tile_url("https://{s}.t/{z}/{x}/{y}{r}.png", 3, 1, 2) == "https://a.t/3/1/2.png"


def test_warp_puts_a_known_place_where_the_grid_has_it():
    """A mosaic with one marked pixel at Trafalgar Square: after the warp onto BNG, the mark is
    in the raster pixel that holds Trafalgar Square's BNG coordinates."""
    from pyproj import Transformer

    z = 14
    col, row = tile_of(*TRAFALGAR, z)
    size = tiles.WORLD / 2 ** z
    left, top = -tiles.WORLD / 2 + (col - 1) * size, tiles.WORLD / 2 - (row - 1) * size
    pixels = np.zeros((3 * 256, 3 * 256, 3), dtype=np.uint8)
    res = size / 256
    mx, my = merc(*TRAFALGAR)
    pc, pr = int((mx - left) / res), int((top - my) / res)
    pixels[pr - 2:pr + 3, pc - 2:pc + 3] = 255
    mosaic = tiles.Mosaic(pixels=pixels, zoom=z, left=left, top=top, resolution=res, fetched=0)
    bx, by = Transformer.from_crs(4326, 27700, always_xy=True).transform(*TRAFALGAR)
    extent = (bx - 1000, bx + 1000, by - 800, by + 800)           # 2 km × 1.6 km
    out = basemap.warp(mosaic, extent, 400, 320)                    # 5 m a pixel
    bright = np.argwhere(out[:, :, 0] > 128)
    assert len(bright), "the mark was lost in the warp"
    r_mid, c_mid = bright.mean(axis=0)
    assert abs(c_mid - 199.5) <= 3 and abs(r_mid - 159.5) <= 3, (r_mid, c_mid)


# ------------------------------------------------------------------------------------------ exports
def test_tiles_are_drawn_under_the_map_and_credited(service, renderer, server):
    svg = export_map(BOROUGHS, "svg", SLIDE, service, renderer)
    images = [uri for uri in svg_images(svg.content) if uri.startswith("data:image/png;base64,")]
    assert len(images) == 1, "one basemap image in the SVG"
    zooms = {z for z, _, _ in server.requests}
    assert len(zooms) == 1, zooms
    (z,) = zooms
    # London (~60 km across BNG, ~96 km of Web Mercator) over a ~870 px plot: tiles of about the
    # image's pixel size are zoom 10 (~150 m a pixel); one level either side is acceptable
    assert 9 <= z <= 11
    assert tile_of(*TRAFALGAR, z) in {(x, y) for _, x, y in server.requests}
    assert len(server.requests) <= tiles.MAX_TILES
    warped = np.asarray(decode_data_uri(images[0]))
    share = np.all(warped == zoom_colour(z), axis=2).mean()
    assert share > 0.95, f"only {share:.0%} of the warped image has the tiles' colour"
    text = flat(svg_text(svg.content))
    # tiles from EXPLORER_TILE_URL are not CARTO's: with no credit set, the server's host is named
    port = server.port
    assert f"Basemap: 127.0.0.1:{port}" in text and "could not be fetched" not in text
    assert "CARTO" not in text

    png = export_map(BOROUGHS, "png", SLIDE, service, renderer)
    img = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB"))
    # the plot's top-left corner is sea of tiles: no London polygon reaches it
    corner = img[75:110, 30:90]
    assert np.all(np.abs(corner.astype(int) - zoom_colour(z)).max(axis=2) <= 2), corner[0, 0]


def test_a_second_export_reads_the_tiles_from_the_disk_cache(service, renderer, server):
    first = export_map(BOROUGHS, "svg", SLIDE, service, renderer)
    seen = len(server.requests)
    assert seen > 0
    cached = list((service.settings.cache_dir / "tiles").rglob("*.tile"))
    assert len(cached) >= seen
    server.mode = "error"                       # any new request would now fail the basemap
    again = export_map(BOROUGHS, "svg", SLIDE, service, renderer)
    assert len(server.requests) == seen
    assert svg_images(again.content) == svg_images(first.content)
    assert f"Basemap: 127.0.0.1:{server.port}" in flat(svg_text(again.content))


def test_the_tile_credit_setting_is_printed_for_a_custom_tile_server(service, renderer, server, monkeypatch):
    monkeypatch.setattr(service, "settings", service.settings.with_(
        tile_credit="© OpenStreetMap contributors, tiles by Test Tiles Ltd"))
    text = flat(svg_text(export_map(BOROUGHS, "svg", SLIDE, service, renderer).content))
    assert "Basemap: © OpenStreetMap contributors, tiles by Test Tiles Ltd" in text
    assert "CARTO" not in text
    assert f"Basemap: 127.0.0.1:{server.port}" not in text


def test_credit_lines_for_bundled_and_custom_basemaps():
    plain = Settings(home="/tmp/unused-home")
    assert basemap.credit_line("light", plain) == "Basemap: Street map © OpenStreetMap contributors © CARTO"
    custom = plain.with_(tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert basemap.credit_line("grey", custom) == "Basemap: tiles.example.org"
    credited = custom.with_(tile_credit="  Tiles © Example \n Maps ")
    assert basemap.credit_line("light", credited) == "Basemap: Tiles © Example Maps"


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_a_failing_tile_server_leaves_the_map_without_tiles_and_says_so(service, renderer, server,
                                                                        monkeypatch, mode):
    server.mode = mode
    if mode == "hang":          # short limits only here: a loaded machine must not turn a 500 into a timeout
        monkeypatch.setattr(tiles, "TILE_TIMEOUT", 0.5)
        monkeypatch.setattr(tiles, "TOTAL_BUDGET", 2.0)
    svg = export_map(BOROUGHS, "svg", SLIDE, service, renderer)
    assert server.requests, "the server was asked"
    assert not [u for u in svg_images(svg.content) if u.startswith("data:image/png")]
    text = flat(svg_text(svg.content))
    # the image says it in plain words, without the exception's text; whoever exports is told why
    assert re.search(r"Basemap \(Street map\) not available when this image was made", text), text[-600:]
    assert not re.search(r"HTTP 500|did not answer|longer than|Error\)|not retried", text), text[-600:]
    detail = build_map(service, BOROUGHS, 1280, 720).notices
    assert any("could not be fetched" in n for n in detail), detail
    assert "London borough boundaries" in text and "River Thames" in text
    # the failure is remembered: the next export does not wait on the server again
    asked = len(server.requests)
    result = build_map(service, BOROUGHS, 1280, 720)
    assert len(server.requests) == asked
    assert any("not retried" in n for n in result.notices)


def test_basemap_none_asks_for_no_tiles(service, renderer, server):
    svg = export_map(BOROUGHS + "&basemap=none", "svg", SLIDE, service, renderer)
    assert server.requests == []
    assert not svg_images(svg.content)
    text = flat(svg_text(svg.content))
    assert "Basemap" not in text and "CARTO" not in text


def test_offline_asks_for_no_tiles(service, renderer, server, monkeypatch):
    monkeypatch.setattr(service, "settings", service.settings.with_(offline=True))
    svg = export_map(BOROUGHS, "svg", SLIDE, service, renderer)
    assert server.requests == []
    assert not svg_images(svg.content)
    assert "not drawn: offline" in flat(svg_text(svg.content))


def test_a_private_tile_server_is_refused_unless_allowed(service, server, monkeypatch):
    monkeypatch.setattr(service, "settings", service.settings.with_(allow_private_urls=False))
    result = build_map(service, BOROUGHS, 1280, 720)
    assert server.requests == []
    assert not result.figure.layout.images
    assert any("refused" in n for n in result.notices)


def test_the_interpolated_grid_matches_an_exact_transform_to_well_under_a_pixel():
    from pyproj import Transformer

    extent = (500000.0, 570000.0, 150000.0, 205000.0)             # Greater London, ~80 m a pixel
    width, height = 861, 677
    mx, my = basemap.grid_to_mercator(extent, width, height)
    cols = extent[0] + (np.arange(width) + 0.5) * (extent[1] - extent[0]) / width
    rows = extent[3] - (np.arange(height) + 0.5) * (extent[3] - extent[2]) / height
    ex, ey = Transformer.from_crs(27700, 3857, always_xy=True).transform(*np.meshgrid(cols, rows))
    assert mx.shape == (height, width)
    assert np.abs(mx - ex).max() < 1.0 and np.abs(my - ey).max() < 1.0


def test_a_map_exported_while_tiles_failed_is_not_kept_and_the_next_export_has_tiles(
        tmp_path, data_dir, server, monkeypatch):
    from explorer.web.app import create_app

    monkeypatch.setattr(tiles, "RETRY_AFTER", 0.0)   # the failure memory is tested above
    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple", offline=False,
                              allow_private_urls=True, tile_url=server.template))
    client = app.server.test_client()
    url = "/export/map.svg" + BOROUGHS + "&preset=slide"
    server.mode = "error"
    first = client.get(url)
    assert first.status_code == 200 and server.requests
    assert not [u for u in svg_images(first.data) if u.startswith("data:image/png")]
    assert "not available when this image was made" in flat(svg_text(first.data))

    server.mode = "ok"
    second = client.get(url)
    assert second.status_code == 200
    assert [u for u in svg_images(second.data) if u.startswith("data:image/png")], "tiles drawn this time"
    assert "not available when this image was made" not in flat(svg_text(second.data))

    asked = len(server.requests)                      # a good image is kept: no new render or fetch
    assert client.get(url).data == second.data and len(server.requests) == asked


def test_while_the_tile_server_is_not_asked_again_the_tile_less_map_is_served_from_the_cache(
        tmp_path, data_dir, server, monkeypatch):
    """Fifty people exporting one map during a tile outage get one render, not fifty."""
    from explorer.web.app import create_app
    from explorer.export import map_figure

    monkeypatch.setattr(tiles, "RETRY_AFTER", 60.0)
    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple", offline=False,
                              allow_private_urls=True, tile_url=server.template))
    client = app.server.test_client()
    renders = []
    real = map_figure.export_map
    monkeypatch.setattr(map_figure, "export_map", lambda *a, **k: renders.append(1) or real(*a, **k))
    url = "/export/map.svg" + BOROUGHS + "&preset=square"
    server.mode = "error"
    first = client.get(url)
    assert first.status_code == 200 and "not available when this image was made" in flat(svg_text(first.data))
    server.mode = "ok"
    again = client.get(url)
    assert again.data == first.data and len(renders) == 1
