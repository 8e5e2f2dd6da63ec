"""Compact GeoJSON for map previews: simplified for the scale, coordinates rounded, few properties.

Pure functions of a loaded frame; the API route caches and compresses what they return.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import shapely

from explorer.data.geo_reference import BNG_EPSG

NAME_HINTS = ("area_name", "name", "Name", "NAME", "SiteName", "site", "LABEL", "distName1",
              "poi_type", "species", "SiteCode", "Site")


def name_column(frame) -> str | None:
    for col in NAME_HINTS:
        if col in frame.columns:
            return col
    for col in frame.columns:
        if col != "geometry" and str(col).lower().endswith(("nm", "name")):
            return col
    return None


def _tolerance_m(n_features: int, kind: str) -> float:
    if kind != "polygons":
        return 0.0
    if n_features > 2000:
        return 40.0
    if n_features > 300:
        return 25.0
    return 15.0


def _clean(value):
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), 4)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value if isinstance(value, (int, str, bool)) else str(value)


def preview_geojson(frame, kind: str, variable: str | None = None, max_points: int = 60000,
                    precision: int = 5) -> dict:
    """A FeatureCollection in EPSG:4326 with `_name`, optional `_value`, and the area code."""
    gdf = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if kind == "points" and len(gdf) > max_points:
        gdf = gdf.sample(max_points, random_state=0)
    tolerance = _tolerance_m(len(gdf), kind)
    geoms = gdf.geometry
    if tolerance:
        projected = geoms.to_crs(BNG_EPSG)
        simplified = shapely.simplify(projected.values, tolerance, preserve_topology=True)
        geoms = gdf.geometry.__class__(simplified, crs=BNG_EPSG, index=gdf.index).to_crs(4326)
    geoms = shapely.set_precision(np.asarray(geoms.values, dtype=object), 10 ** -precision,
                                  mode="pointwise")
    label = name_column(gdf)
    code = "area_code" if "area_code" in gdf.columns else None
    features = []
    labels = gdf[label].tolist() if label else [None] * len(gdf)
    codes = gdf[code].tolist() if code else [None] * len(gdf)
    values = gdf[variable].tolist() if variable and variable in gdf.columns else None
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        props = {"_name": _clean(labels[i])}
        if code:
            props["_code"] = _clean(codes[i])
        if values is not None:
            props["_value"] = _clean(values[i])
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

