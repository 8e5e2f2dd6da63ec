"""A map layer as a small, static picture: SVG paths and colours for a thumbnail (the home page's
dashboard tiles), drawn by the browser at once, without Leaflet.

:func:`build_thumbnail` takes a layer's values and the map explorer's style for them (breaks,
colours and legend labels from :func:`explorer.maps.classify.layer_style`) and gives back a
:class:`Thumbnail`: one SVG path per area, filled with its class colour, and a text alternative
saying what the picture shows.

Areas are drawn as they are when there are few (boroughs). A layer of many small areas (about
5,000 LSOAs) would cost hundreds of kilobytes, and at this size reads as noise: it is drawn as the
mean of its small areas within each borough (a small area counts where its centre lies), in the
layer's own classes, and the text alternative says so. (Merging the small areas of one class
within each borough kept the pattern but cost 50–240 kB and 6–22 s a map.)

Geometry is projected to British National Grid metres, simplified to ``TOLERANCE_M`` and written
in whole units of a ``WIDTH``-wide view box (about 200 m each across London), as relative moves.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import shapely

from explorer.data.geo_reference import BNG_EPSG, WGS84_EPSG
from explorer.geo.prepare import to_crs
from explorer.maps.layer_info import feature_rows, mappable

log = logging.getLogger(__name__)

__all__ = ["Thumbnail", "build_thumbnail", "class_of", "path_data", "region_means", "alt_text",
           "range_ends", "TOLERANCE_M", "WIDTH", "MAX_AREAS"]

WIDTH = 300            # view-box units across: London's ~59 km at ~200 m a unit
TOLERANCE_M = 400.0    # simplification (metres, Visvalingam-Whyatt: triangles under 400 m square
                       # go): the map is drawn ~210 px wide, ~280 m a pixel. 200 m gave 62 kB of
                       # path data for the seven maps, 300 m 44 kB, 400 m 35 kB (29 kB written
                       # with minus signs as separators)
MAX_AREAS = 200        # more features than this are averaged within each region


@dataclass(frozen=True)
class Thumbnail:
    """What a thumbnail draws: ``areas`` [(path data, fill colour)], the view box, the text
    alternative, the legend's (colour, label) pairs, a visible caption and the key's two ends."""
    label: str
    view_box: str
    areas: tuple[tuple[str, str], ...]
    legend: tuple[tuple[str, str], ...]
    averaged: bool = False        # small areas averaged within regions (boroughs)
    caption: str = ""             # what it shows, seen under it ("NO₂ annual mean, 2019 …")
    ends: tuple[str, str] | None = None   # the lowest and highest classes, for its key

    @property
    def size(self) -> int:
        """Bytes of path data (what the page carries)."""
        return sum(len(d) + len(fill) for d, fill in self.areas)


def class_of(values, breaks) -> np.ndarray:
    """Each value's class index by the legend's rule (class 0 is "≤ first break", the last
    "> last break"); -1 for no data."""
    v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
    out = np.searchsorted(np.asarray(breaks, dtype=float), v, side="left").astype(int)
    out[np.isnan(v)] = -1
    return out


def _ring(coords: np.ndarray) -> str:
    """One closed ring as ``M x y`` then relative ``l`` moves, repeated points dropped."""
    pts = np.rint(coords).astype(np.int64)
    if len(pts) > 1 and (pts[0] == pts[-1]).all():
        pts = pts[:-1]
    if len(pts):
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = (np.diff(pts, axis=0) != 0).any(axis=1)
        pts = pts[keep]
    if len(pts) < 3:
        return ""
    return f"M{_numbers(pts[0])}l{_numbers(np.diff(pts, axis=0).ravel())}z"


def _numbers(values) -> str:
    """Whole numbers as SVG path data writes them shortest: a minus sign is its own separator
    ("3-4 5", not "3 -4 5")."""
    out = []
    for v in (int(x) for x in values):
        out.append(str(v) if v < 0 or not out else f" {v}")
    return "".join(out)


def path_data(geom, origin: tuple[float, float], scale: float) -> str:
    """SVG path data of a (multi)polygon in BNG metres, in view-box units (y down)."""
    parts = []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            screen = np.column_stack([(xy[:, 0] - origin[0]) * scale, (origin[1] - xy[:, 1]) * scale])
            parts.append(_ring(screen))
    return "".join(p for p in parts if p)


def _polygons_bng(loaded, rows: np.ndarray) -> np.ndarray:
    geoms = np.asarray(loaded.frame.geometry.values[rows], dtype=object)
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    out = np.empty(len(geoms), dtype=object)
    if present.any():
        out[present] = to_crs(geoms[present], WGS84_EPSG, BNG_EPSG)
    return out


def _simplify(geoms: np.ndarray) -> np.ndarray:
    """Simplified to ``TOLERANCE_M``, shared borders kept shared where the areas tile."""
    present = np.array([g is not None for g in geoms], dtype=bool)
    out = np.empty(len(geoms), dtype=object)
    if not present.any():
        return out
    try:
        out[present] = shapely.coverage_simplify(geoms[present], TOLERANCE_M)
    except shapely.errors.GEOSException as exc:      # not a clean coverage: one by one
        log.info("thumbnail: coverage simplify failed (%s); simplifying each area", exc)
        out[present] = shapely.simplify(geoms[present], TOLERANCE_M, preserve_topology=True)
    return out


def region_means(geoms: np.ndarray, values, regions: np.ndarray) -> np.ndarray:
    """The mean of the small areas' values in each region (a small area is in the region its
    centre lies in); NaN for a region with no values."""
    v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
    present = np.array([g is not None for g in geoms], dtype=bool) & ~np.isnan(v)
    centres = shapely.point_on_surface(geoms[present])
    area_of, region_of = shapely.STRtree(regions).query(centres, predicate="within")
    sums = np.bincount(region_of, weights=v[present][area_of], minlength=len(regions))
    counts = np.bincount(region_of, minlength=len(regions))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def build_thumbnail(service, dataset_id: str, resource_id: str | None, values: list, style: dict,
                    label: str, regions: tuple[str, str | None] | None = ("london-boroughs", None)
                    ) -> Thumbnail | None:
    """The thumbnail of an area layer coloured by classes (``style``: the layer's ``breaks``,
    ``colours`` and ``labels``; ``values`` in feature order), or None when the layer is not drawn
    by classes of areas (points, lines, a single colour). ``label`` names the variable and period
    (the theme file's layer label); a layer of more than ``MAX_AREAS`` areas is drawn as the mean
    of its areas within each of ``regions`` (a boundary layer), in the layer's own classes."""
    if style.get("mode") != "classes" or not style.get("colours"):
        return None
    loaded, info = mappable(service, dataset_id, resource_id)
    if info.kind != "polygons":
        return None
    rows = feature_rows(service, loaded, info)
    if len(values) != len(rows):
        raise ValueError(f"{dataset_id}: {len(values)} values for {len(rows)} features")
    geoms = _polygons_bng(loaded, rows)
    averaged = False
    if len(rows) > MAX_AREAS and regions is not None:
        region_loaded, region_info = mappable(service, *regions)
        region_geoms = _polygons_bng(region_loaded, feature_rows(service, region_loaded, region_info))
        region_geoms = np.asarray([g for g in region_geoms if g is not None], dtype=object)
        values = [None if np.isnan(v) else float(v) for v in region_means(geoms, values, region_geoms)]
        geoms, averaged = region_geoms, True
    colours = list(style["colours"])
    classes = np.minimum(class_of(values, style.get("breaks") or []), len(colours) - 1)
    geoms = _simplify(geoms)
    present = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not present:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms[present])
    scale = WIDTH / max(maxx - minx, 1.0)
    height = int(np.ceil((maxy - miny) * scale))
    nodata = style.get("nodata", "#d9d9d9")
    areas = []
    for i in present:
        d = path_data(geoms[i], (minx, maxy), scale)
        if d:
            areas.append((d, colours[classes[i]] if classes[i] >= 0 else nodata))
    labels = list(style.get("labels") or [])
    legend = tuple(zip(colours, labels)) if len(labels) == len(colours) else ()
    what = label.strip().rstrip(".")
    if averaged:    # "…, 2019 (modelled), by small area" → "…, 2019 (modelled), small areas averaged by borough"
        what = re.sub(r",\s*by [^,]*$", "", what) + (", small areas averaged by borough"
                                                      if regions[0] == "london-boroughs" else ", averaged by area")
    return Thumbnail(label=alt_text(what, labels, info.unit), view_box=f"0 0 {WIDTH} {height}",
                     areas=tuple(areas), legend=legend, averaged=averaged, caption=what,
                     ends=range_ends(labels, info.unit))


def range_ends(class_labels: list[str], unit: str | None) -> tuple[str, str] | None:
    """The lowest and highest classes as a reader says them, with the unit: ("≤ 10", "> 40 µg/m³"),
    ("≤ £452,000", "> £818,000"); None without at least two classes."""
    if len(class_labels) < 2:
        return None
    low, high = class_labels[0].split(" (")[0], class_labels[-1].split(" (")[0]
    if unit in ("£", "$", "€"):          # money: £452,000, not 452,000 £
        return tuple(re.sub(r"(-?\d)", unit + r"\1", x, count=1) for x in (low, high))
    return low, high + (f" {unit}" if unit else "")


def alt_text(label: str, class_labels: list[str], unit: str | None) -> str:
    """"Map: <what, when, where>. Darker is higher, from ≤ 10 to > 40 µg/m³." """
    text = f"Map: {label.strip().rstrip('.')}. Darker is higher"
    ends = range_ends(class_labels, unit)
    if ends:
        text += f", from {ends[0]} to {ends[1]}"
    return text + "."
