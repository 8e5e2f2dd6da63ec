"""Geometry prepared for a screen: simplified for the scale, rounded to what a screen shows.

:func:`prepare_geometry` takes one layer's shapely geometries (EPSG:4326; None where a feature has
none) and its kind and gives them back ready to encode (:mod:`explorer.geo.geobuf`): polygons
simplified in British National Grid metres (``shapely.coverage_simplify`` keeps shared borders
shared when the areas tile, :func:`polygon_tolerance` says how much), lines simplified, everything
rounded to ``PRECISION`` decimal places of degrees, and what the rounding pinched repaired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from explorer.data.geo_reference import BNG_EPSG as BNG, WGS84_EPSG as WGS84

log = logging.getLogger(__name__)

PRECISION = 5                # decimal places of degrees kept (1e-5° ≈ 1.1 m × 0.7 m). A coarser
                             # 1e-4° grid halves LSOA bytes but snapping 5,000 areas to ~10 m opens
                             # gaps and collapses the smallest; 1e-5° keeps a clean coverage.

__all__ = ["PRECISION", "BNG", "WGS84", "PreparedGeometry", "prepare_geometry", "polygon_tolerance",
           "precision_for", "to_crs"]


def polygon_tolerance(n_features: int, median_size_m: float | None = None) -> float:
    """Simplification tolerance (metres) for a polygon layer.

    By feature count: many small areas are seen London-wide, where a pixel is ~95 m (zoom 10);
    few large ones are looked at closer. The tolerance is Visvalingam–Whyatt's (the square root
    of the triangle areas removed), gentler than Douglas–Peucker's distance: 50 m here removes
    about what a 35 m Douglas–Peucker does. Never more than a tenth of the typical feature's size,
    so small parks keep their shape.
    """
    if n_features > 2000:
        tol = 50.0
    elif n_features > 300:
        tol = 25.0
    else:
        tol = 15.0
    if median_size_m is not None and median_size_m > 0:
        tol = min(tol, max(1.0, 0.1 * median_size_m))
    return tol


def precision_for(kind: str, n_features: int) -> int:
    """Decimal places of degrees kept for a layer."""
    return PRECISION


def to_crs(geoms: np.ndarray, source: int, target: int) -> np.ndarray:
    import geopandas as gpd

    return np.asarray(gpd.GeoSeries(geoms, crs=source).to_crs(target).values, dtype=object)


def _polygonal(geom):
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat = []
    for p in parts:
        flat.extend(shapely.get_parts(p) if p.geom_type == "MultiPolygon" else [p])
    flat = [p for p in flat if not p.is_empty]
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def _repair(geom, fallback):
    """A valid polygonal version of ``geom`` (rounding can pinch thin parts), else ``fallback``."""
    try:
        fixed = _polygonal(shapely.make_valid(geom, method="structure", keep_collapsed=False))
    except shapely.errors.GEOSException:
        fixed = None
    return fixed if fixed is not None else fallback


def _round_polygons(geoms: np.ndarray, grid: float, coverage: bool) -> np.ndarray:
    """Coordinates snapped to ``grid``; a coverage stays a coverage (shared edges identical, no
    slivers or gaps from the snapping); invalid results repaired."""
    rounded = shapely.set_precision(geoms, grid, mode="pointwise")
    bad = ~shapely.is_valid(rounded)
    if bad.any():
        rounded[bad] = [_repair(g, f) for g, f in zip(rounded[bad], geoms[bad])]
    if coverage:
        try:
            cleaned = shapely.coverage_clean(rounded, gap_width=3 * grid, snapping_distance=grid / 2)
            cleaned = shapely.set_precision(cleaned, grid, mode="pointwise")
            lost = shapely.is_empty(cleaned) | pd.isna(cleaned)
            cleaned[lost] = rounded[lost]
            rounded = cleaned
        except shapely.errors.GEOSException as exc:
            log.info("coverage clean failed (%s); keeping the rounded polygons", exc)
        bad = ~shapely.is_valid(rounded)
        if bad.any():
            rounded[bad] = [_repair(g, f) for g, f in zip(rounded[bad], geoms[bad])]
    return rounded


@dataclass
class PreparedGeometry:
    geoms: np.ndarray             # shapely geometries in EPSG:4326, rounded; None when absent
    precision: int                # decimal places of degrees kept
    tolerance_m: float            # simplification tolerance used, in metres
    method: str                   # how polygons were simplified: coverage | per-feature | none


def prepare_geometry(geoms, kind: str, label: str = "") -> PreparedGeometry:
    """``geoms`` (EPSG:4326, one a feature, None or empty where a feature has none) simplified and
    rounded for a layer of ``kind`` (polygons | lines | points); ``label`` names the layer in logs."""
    geoms = np.array([None if (g is None or g.is_empty) else g for g in geoms], dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    precision = precision_for(kind, int(present.sum()))
    grid = 10.0 ** -precision
    tolerance, method = 0.0, "none"
    if present.any():
        sub = geoms[present]
        if kind == "polygons":
            sub = np.array([_polygonal(g) for g in sub], dtype=object)
            keep = np.array([g is not None for g in sub], dtype=bool)
            projected = to_crs(sub[keep], WGS84, BNG)
            sizes = np.sqrt(shapely.area(projected))
            tolerance = polygon_tolerance(len(projected), float(np.median(sizes)) if len(sizes) else None)
            try:
                coverage = len(projected) > 1 and bool(shapely.coverage_is_valid(projected))
            except shapely.errors.GEOSException:
                coverage = False
            simplified = None
            if coverage:
                try:
                    simplified = shapely.coverage_simplify(projected, tolerance)
                    method = "coverage"
                except shapely.errors.GEOSException as exc:
                    log.info("%s: coverage simplification failed (%s)", label, exc)
                    coverage = False
            if simplified is None:
                simplified = shapely.simplify(projected, tolerance, preserve_topology=True)
                method = "per-feature"
            back = to_crs(simplified, BNG, WGS84)
            rounded = _round_polygons(back, grid, coverage)
            out = np.full(len(sub), None, dtype=object)
            out[keep] = rounded
            sub = out
        elif kind == "lines":
            projected = to_crs(sub, WGS84, BNG)
            tolerance = 5.0
            simplified = shapely.simplify(projected, tolerance, preserve_topology=False)
            sub = shapely.set_precision(to_crs(simplified, BNG, WGS84), grid, mode="pointwise")
            method = "per-feature"
        else:
            sub = shapely.set_precision(sub, grid, mode="pointwise")
        geoms[present] = [None if (g is None or g.is_empty) else g for g in sub]
    return PreparedGeometry(geoms=geoms, precision=precision, tolerance_m=tolerance, method=method)
