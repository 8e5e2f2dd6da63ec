"""Polygon layers of an exported map drawn as one raster with Pillow, for PNG exports.

Chromium spends seconds parsing and filling thousands of SVG paths (the 4,994 LSOAs: most of a
3.5 s export). A PNG loses nothing if they are drawn here instead: the raster has the plot area's
own device pixels (its CSS size times the PNG's scale), is drawn at twice that and reduced for
antialiasing, and is placed over the axes' exact extent as one plotly layout image, under the
vector Thames, legend, scale bar, north arrow and footer. SVG and PDF keep the vector paths.

Fills follow the vector paths' even-odd rule: polygons are painted largest first, each exterior
followed by its holes (cleared), so a polygon inside another's hole is painted after the hole is
cut. Outlines are drawn into a mask and laid over the fills with the vector version's colour,
opacity and width (a line thinner than a pixel is drawn one pixel wide at its coverage).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import shapely

SUPERSAMPLE = 2                  # drawn at this many times the output pixels, then reduced
MAX_SUPER_PIXELS = 36_000_000    # above this the raster is drawn at its own size


@dataclass(frozen=True)
class Rings:
    """A layer's polygon rings end to end, in the geometry's units, in painting order."""
    coords: np.ndarray      # (points, 2) float
    spans: list[tuple[int, int]]    # ring r is coords.ravel()[a:b] for (a, b) = spans[r]
    feature: list[int]      # the position of ring r's feature among the layer's geometries
    hole: list[bool]


def polygon_rings(geoms) -> Rings:
    """The rings of every polygon in ``geoms``, largest polygon first, each exterior followed by
    its holes (the order :func:`draw_layers` paints them in)."""
    polys = []
    for pos, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        polys.extend((part, pos) for part in shapely.get_parts(geom) if part.geom_type == "Polygon")
    areas = shapely.area(np.array([p for p, _ in polys], dtype=object)) if polys else np.empty(0)
    arrays: list[np.ndarray] = []
    feature: list[int] = []
    hole: list[bool] = []
    for i in np.argsort(-areas, kind="stable"):
        poly, pos = polys[i]
        for ring, is_hole in [(poly.exterior, False)] + [(r, True) for r in poly.interiors]:
            arrays.append(np.asarray(ring.coords)[:, :2])
            feature.append(pos)
            hole.append(is_hole)
    starts = np.cumsum([0] + [len(a) for a in arrays]).tolist()
    spans = [(2 * a, 2 * b) for a, b in zip(starts, starts[1:])]
    coords = np.concatenate(arrays) if arrays else np.empty((0, 2))
    return Rings(coords=coords, spans=spans, feature=feature, hole=hole)


@dataclass
class RasterLayer:
    """One polygon layer as the raster draws it."""
    rings: Rings
    fills: list | None          # RGBA tuple per feature position (None: not filled); None: outline only
    line: tuple[int, int, int]  # outline colour
    line_opacity: float
    line_width: float           # CSS pixels, as in the vector version


def draw_layers(layers: list[RasterLayer], extent, size: tuple[int, int], px_per_css: float):
    """An RGBA Pillow image of ``size`` pixels over ``extent`` = (x0, x1, y0, y1), the layers
    painted bottom (first) to top; ``px_per_css`` is the PNG's scale (for line widths)."""
    from PIL import Image, ImageDraw

    width, height = size
    k = SUPERSAMPLE if width * height * SUPERSAMPLE ** 2 <= MAX_SUPER_PIXELS else 1
    big = (width * k, height * k)
    x0, x1, y0, y1 = extent
    sx, sy = big[0] / (x1 - x0), big[1] / (y1 - y0)
    canvas = None
    for layer in layers:
        rings = layer.rings
        pts = np.empty_like(rings.coords, dtype=float)
        pts[:, 0] = (rings.coords[:, 0] - x0) * sx - 0.5      # Pillow puts pixel centres on integers
        pts[:, 1] = (y1 - rings.coords[:, 1]) * sy - 0.5
        flat = pts.ravel().tolist()
        spans = rings.spans
        image = Image.new("RGBA", big, (0, 0, 0, 0))
        if layer.fills is not None:
            pen = ImageDraw.Draw(image)          # an RGBA image's pixels are set, not blended
            clear = (0, 0, 0, 0)
            for (a, b), pos, is_hole in zip(spans, rings.feature, rings.hole):
                colour = layer.fills[pos]
                if colour is not None and b - a >= 6:
                    pen.polygon(flat[a:b], fill=clear if is_hole else colour)
        stroke = layer.line_width * px_per_css * k
        if stroke > 0 and layer.line_opacity > 0:
            mask = Image.new("L", big, 0)
            pen = ImageDraw.Draw(mask)
            line_px = max(1, round(stroke))
            for a, b in spans:
                if b - a >= 4:
                    pen.line(flat[a:b] + flat[a:a + 2], fill=255, width=line_px,
                             joint="curve" if line_px > 2 else None)
            alpha = 1 - (1 - layer.line_opacity * min(1.0, stroke)) ** 2
            lines = Image.new("RGBA", big, (*layer.line, 0))
            lines.putalpha(mask.point([round(v * alpha) for v in range(256)]))
            image = Image.alpha_composite(image, lines)
        canvas = image if canvas is None else Image.alpha_composite(canvas, image)
    if canvas is None:
        canvas = Image.new("RGBA", big, (0, 0, 0, 0))
    return canvas.reduce(k) if k > 1 else canvas


def png_data_uri(image) -> str:
    """The image as a PNG data URI (fast compression: it only travels to the renderer)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

