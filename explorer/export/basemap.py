"""The basemap under an exported map: Web Mercator tiles warped onto the figure's British National
Grid axes and placed as a plotly layout image below the data.

The output raster is a grid over the axes' extent in BNG metres; each pixel centre is transformed
to Web Mercator (pyproj, vectorised) and the tile mosaic sampled there (bilinear, numpy). The
raster is a PNG data URI, so the SVG and PDF carry it too. Without tiles (``basemap=none``,
``EXPLORER_OFFLINE``, or a fetch that failed) the map is drawn as before and the footer says why.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from explorer.maps.layers import BASEMAPS
from explorer.export import tiles
from explorer.data.geo_reference import BNG_EPSG as BNG

WEB_MERCATOR = 3857
MAX_RASTER_PX = 2400          # longest side of the warped image
KNOT_STEP = 16                # pixels between exactly transformed grid points


@dataclass
class Basemap:
    image: dict | None        # the plotly layout image, when tiles were drawn
    footer: str | None        # the footer's line about the basemap (attribution, or why not)
    notice: str | None = None


# Whether the basemaps drawn inside :func:`watch_tiles` went missing (the export routes do not
# keep an image without its tiles, so the next export tries the tile server again).
_MISSED: ContextVar[list | None] = ContextVar("basemap_missed", default=None)


@contextmanager
def watch_tiles():
    """A list that gets ``True`` for every basemap asked for inside the block and not drawn
    because its tiles could not be fetched or drawn (offline and ``basemap=none`` do not count)."""
    missed: list[bool] = []
    token = _MISSED.set(missed)
    try:
        yield missed
    finally:
        _MISSED.reset(token)


def _missing(reason: str, label: str = "") -> Basemap:
    """No tiles: the notice (for whoever exports) keeps the reason; the image says it plainly,
    without an exception's text."""
    box = _MISSED.get()
    if box is not None:
        box.append(True)
    plain = (f"Basemap ({label}) not available when this image was made; " if label else
             "Basemap not available when this image was made; ") + "London's outline and the Thames drawn instead."
    return Basemap(image=None, footer=plain, notice=reason)


def _transformer(src: int, dst: int):
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def mercator_bounds(extent) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in EPSG:3857 of the BNG extent (x0, x1, y0, y1), edges densified."""
    x0, x1, y0, y1 = extent
    t = np.linspace(0.0, 1.0, 33)
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full_like(t, x1), x1 - (x1 - x0) * t, np.full_like(t, x0)])
    ys = np.concatenate([np.full_like(t, y0), y0 + (y1 - y0) * t, np.full_like(t, y1), y1 - (y1 - y0) * t])
    mx, my = _transformer(BNG, WEB_MERCATOR).transform(xs, ys)
    return float(np.min(mx)), float(np.min(my)), float(np.max(mx)), float(np.max(my))


def raster_size(extent, pixels_wide: float) -> tuple[int, int]:
    x0, x1, y0, y1 = extent
    width = max(16, int(round(pixels_wide)))
    height = max(16, int(round(width * (y1 - y0) / (x1 - x0))))
    shrink = max(width, height) / MAX_RASTER_PX
    if shrink > 1:
        width, height = max(16, int(width / shrink)), max(16, int(height / shrink))
    return width, height


def _knots(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``KNOT_STEP``-th pixel (and the last), and for each pixel its knot interval and weight."""
    knots = np.unique(np.r_[np.arange(0, n, KNOT_STEP), n - 1])
    idx = np.clip(np.searchsorted(knots, np.arange(n), side="right") - 1, 0, max(len(knots) - 2, 0))
    span = np.maximum(knots[np.minimum(idx + 1, len(knots) - 1)] - knots[idx], 1)
    return knots, idx, (np.arange(n) - knots[idx]) / span


def grid_to_mercator(extent, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator x and y (``height`` × ``width``) of the pixel centres of a grid over the BNG
    extent: exact at every ``KNOT_STEP``-th pixel, bilinear between (the projection is smooth:
    the error is far below a pixel, and a full-size transform costs seconds)."""
    x0, x1, y0, y1 = extent
    cols = x0 + (np.arange(width) + 0.5) * (x1 - x0) / width
    rows = y1 - (np.arange(height) + 0.5) * (y1 - y0) / height
    kc, ic, wc = _knots(width)
    kr, ir, wr = _knots(height)
    gx, gy = np.meshgrid(cols[kc], rows[kr])
    kx, ky = _transformer(BNG, WEB_MERCATOR).transform(gx, gy)
    out = []
    for k in (np.asarray(kx), np.asarray(ky)):
        if k.shape[1] == 1 or k.shape[0] == 1:
            k = np.broadcast_to(k, (max(k.shape[0], 2), max(k.shape[1], 2)))
        across = k[:, ic] * (1 - wc) + k[:, np.minimum(ic + 1, k.shape[1] - 1)] * wc     # knot rows × width
        below = np.minimum(ir + 1, k.shape[0] - 1)
        out.append(across[ir] * (1 - wr)[:, None] + across[below] * wr[:, None])
    return out[0], out[1]


def warp(mosaic: tiles.Mosaic, extent, width: int, height: int) -> np.ndarray:
    """An RGB raster of ``height`` × ``width`` pixels over the BNG extent, sampled from the mosaic."""
    mx, my = grid_to_mercator(extent, width, height)
    # position in mosaic pixels, measured between pixel centres
    fc = (mx.ravel() - mosaic.left) / mosaic.resolution - 0.5
    fr = (mosaic.top - my.ravel()) / mosaic.resolution - 0.5
    rows_n, cols_n = mosaic.pixels.shape[:2]
    flat = mosaic.pixels.reshape(-1, 3)
    fc = np.clip(fc, 0, cols_n - 1).astype(np.float32)
    fr = np.clip(fr, 0, rows_n - 1).astype(np.float32)
    c0 = fc.astype(np.int64)
    r0 = fr.astype(np.int64)
    c1 = np.minimum(c0 + 1, cols_n - 1)
    r1 = np.minimum(r0 + 1, rows_n - 1)
    wc = (fc - c0)[:, None]
    wr = (fr - r0)[:, None]
    top = flat[r0 * cols_n + c0] * (1 - wc) + flat[r0 * cols_n + c1] * wc
    bottom = flat[r1 * cols_n + c0] * (1 - wc) + flat[r1 * cols_n + c1] * wc
    out = top * (1 - wr) + bottom * wr
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(height, width, 3)


def png_data_uri(pixels: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def layout_image(source: str, extent) -> dict:
    x0, x1, y0, y1 = extent
    return dict(source=source, xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
                xanchor="left", yanchor="top", sizing="stretch", layer="below", opacity=1)


def template_for(basemap: str, settings) -> str | None:
    """The XYZ URL template of a permalink's ``basemap=`` (``EXPLORER_TILE_URL`` overrides it)."""
    spec = BASEMAPS.get(basemap) or {}
    if not spec.get("url"):
        return None
    return getattr(settings, "tile_url", "") or spec["url"]


def credit_line(basemap: str, settings) -> str:
    """The footer's credit for the tiles drawn. The bundled basemaps credit OpenStreetMap and
    CARTO; tiles from ``EXPLORER_TILE_URL`` are credited with ``EXPLORER_TILE_CREDIT``, or, when
    none is given, with the tile server's host (never with CARTO, whose tiles they are not)."""
    custom = getattr(settings, "tile_url", "") or ""
    if custom:
        given = " ".join(str(getattr(settings, "tile_credit", "") or "").split())
        if given:
            return f"Basemap: {given}"
        from urllib.parse import urlsplit

        host = urlsplit(custom).netloc.replace("{s}.", "").split("@")[-1] or "a custom tile server"
        return f"Basemap: {host}"
    spec = BASEMAPS.get(basemap) or {}
    return f"Basemap: {spec.get('label', basemap)} {spec.get('attribution') or ''}".strip()


def basemap_layer(settings, basemap: str, extent, pixels_wide: float) -> Basemap:
    """The basemap image for the figure's axes ``extent`` = (x0, x1, y0, y1) in BNG metres.

    Never raises: without tiles the result has no image and a footer line saying why.
    """
    spec = BASEMAPS.get(basemap) or {}
    template = template_for(basemap, settings)
    if template is None:
        return Basemap(image=None, footer=None)
    label = spec.get("label", basemap)
    if getattr(settings, "offline", False):
        return Basemap(image=None, footer=f"Basemap ({label}) not drawn: offline (EXPLORER_OFFLINE).")
    try:
        mosaic = tiles.fetch_mosaic(template, mercator_bounds(extent), pixels_wide, settings.cache_dir,
                                    allow_private=bool(getattr(settings, "allow_private_urls", False)))
        width, height = raster_size(extent, pixels_wide)
        source = png_data_uri(warp(mosaic, extent, width, height))
    except tiles.TileFailure as exc:
        return _missing(f"Basemap ({label}) could not be fetched: {exc}; boundaries and the Thames drawn instead.",
                        label)
    except Exception as exc:  # noqa: BLE001 - a basemap is decoration: it never fails the export
        return _missing(f"Basemap ({label}) could not be drawn: {type(exc).__name__}; boundaries and the "
                        "Thames drawn instead.", label)
    return Basemap(image=layout_image(source, extent), footer=credit_line(basemap, settings))
