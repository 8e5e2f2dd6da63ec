"""What is at a clicked place: the features of each layer there, with their values.

:func:`features_at` finds, for each layer of the map, the polygons containing the place and the
points and lines within a radius (a search tree in British National Grid metres per layer, kept in
the app's memos), nearest or smallest first, with the figures a reader sees in the popup.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from explorer.geo.joins import DatasetError
from explorer.geo.prepare import BNG, WGS84, to_crs
from explorer.maps.columns import TEXT_HINTS, clean_label, text_columns
from explorer.maps.layer_info import LayerInfo, NotMappable, feature_labels, feature_rows, mappable
from explorer.maps.layer_memo import memo_key, memo_table
from explorer.maps.series import view_of
from explorer.maps.time_steps import step_from
from explorer.maps.values import round_sig, values_payload

log = logging.getLogger(__name__)

__all__ = ["features_at", "MAX_HIT_VALUES"]


MAX_HIT_VALUES = 15


@dataclass
class _Tree:
    tree: Any
    rows: np.ndarray              # frame position of each tree item
    projected: np.ndarray


def _tree(service, loaded, info: LayerInfo) -> _Tree:
    def build() -> _Tree:
        rows = feature_rows(service, loaded, info)
        geoms = np.asarray(loaded.frame.geometry.values[rows], dtype=object)
        present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
        rows, geoms = rows[present], geoms[present]
        projected = to_crs(geoms, WGS84, BNG) if len(geoms) else geoms
        return _Tree(shapely.STRtree(projected), rows, projected)

    return memo_table(service, "trees").get(memo_key(loaded, "tree"), build)


def _hit_values(loaded, info: LayerInfo, row: int, variable: str | None) -> dict:
    frame = loaded.frame
    out: dict = {}
    text = text_columns(frame)
    labels = [c for c in (info.name_column, info.code_column) if c]
    labels += [c for c in text if c not in labels and any(h in c.lower() for h in TEXT_HINTS)]
    for column in labels:
        if len(out) >= 4:
            break
        value = clean_label(frame[column].iloc[row])
        if value is not None and value not in out.values():
            out[column] = value
    ordered = [variable] if variable in info.variables else []
    if info.time_kind == "columns":
        ordered += [s.variable for s in reversed(info.time_steps) if s.variable not in ordered]
    ordered += [v for v in info.variables if v not in ordered]
    for column in ordered:
        if len(out) >= MAX_HIT_VALUES:
            break
        out[column] = round_sig(pd.to_numeric(frame[column].iloc[row], errors="coerce"))
    return out


def _series_hit_values(service, loaded, info: LayerInfo, feature: int) -> dict:
    series = info.series
    frame = loaded.frame
    view = view_of(service, loaded, series)
    rows = np.flatnonzero(view.key_of_row == feature)
    out: dict = {}
    first = int(view.first_rows[feature])
    for column in [series.get("key"), info.code_column]:
        if column and column in frame.columns:
            value = clean_label(frame[column].iloc[first])
            if value is not None:
                out[column] = value
    value_col = series.get("value")
    if not value_col:
        return out
    category = series.get("category")
    latest: dict[str, tuple[float, float]] = {}
    for r in rows:
        cat = str(frame[category].iloc[r]) if category else value_col
        year = view.years[r] if view.years is not None else np.nan
        val = pd.to_numeric(frame[value_col].iloc[r], errors="coerce")
        if pd.isna(val):
            continue
        if cat not in latest or (not math.isnan(year) and year > latest[cat][0]):
            latest[cat] = (year, float(val))
    order = view.categories or sorted(latest)
    for cat in order:
        if cat in latest and len(out) < MAX_HIT_VALUES:
            year, val = latest[cat]
            label = f"{cat} ({int(year)})" if not math.isnan(year) else cat
            out[label] = round_sig(val)
    return out


def features_at(service, layers: list[tuple], lon: float, lat: float, radius_m: float = 50) -> list[dict]:
    """The features of each layer at (lon, lat): polygons containing the place, points and lines
    within ``radius_m``. ``layers`` holds (dataset_id, resource_id, variable) tuples, optionally
    followed by a time step (TimeStep, its dict, or None) and filters ({column: value}).

    A layer that cannot load is skipped (its error shows on its own card)."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(WGS84, BNG, always_xy=True).transform(float(lon), float(lat))
    point = shapely.Point(x, y)
    hits: list[dict] = []
    for layer in layers:
        dataset_id, resource_id, variable = (tuple(layer) + (None, None, None))[:3]
        extra = tuple(layer)[3:]
        filters = extra[1] if len(extra) > 1 else None
        try:
            loaded, info = mappable(service, dataset_id, resource_id)
            step = step_from(extra[0], info) if len(extra) > 0 else None
        except (DatasetError, NotMappable, ValueError) as exc:
            log.info("features_at: %s skipped (%s)", dataset_id, exc)
            continue
        tree = _tree(service, loaded, info)
        if info.kind == "polygons":
            found = list(tree.tree.query(point, predicate="intersects"))
        else:
            found = list(tree.tree.query(point, predicate="dwithin", distance=float(radius_m)))
        if not found:
            continue
        value_list = None
        if variable or info.series:
            try:
                value_list = values_payload(service, dataset_id, info.resource_id, variable, step, filters)
            except (ValueError, DatasetError) as exc:
                log.info("features_at: no values for %s (%s)", dataset_id, exc)
        rows_index = feature_rows(service, loaded, info)
        names, codes = feature_labels(loaded, info, rows_index)
        position_of = {int(r): i for i, r in enumerate(rows_index)} if info.series else None

        def feature_of(item) -> int:
            row = int(tree.rows[item])
            return position_of[row] if position_of is not None else row

        def rank(item):
            has_value = value_list is not None and value_list[feature_of(item)] is not None
            size = shapely.area(tree.projected[item]) if info.kind == "polygons" \
                else shapely.distance(tree.projected[item], point)
            return (not has_value, size)     # features with a value first, then smallest / nearest

        for item in sorted(found, key=rank)[:5]:
            row = int(tree.rows[item])
            feature = feature_of(item)
            values = _series_hit_values(service, loaded, info, feature) if info.series \
                else _hit_values(loaded, info, row, variable)
            hit = {
                "dataset_id": info.dataset_id, "resource_id": info.resource_id, "title": info.title,
                "kind": info.kind, "name": names[feature], "code": codes[feature], "values": values,
                "variable": variable or ((info.series or {}).get("value") if info.series else None),
                "value": value_list[feature] if value_list is not None else None,
                "unit": info.unit, "_i": feature,
            }
            if info.kind != "polygons":
                hit["distance_m"] = round(float(shapely.distance(tree.projected[item], point)), 1)
            hits.append(hit)
    return hits
