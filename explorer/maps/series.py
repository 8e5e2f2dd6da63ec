"""Long tables drawn one feature per place.

A point table with several rows per place (air quality monitors over years and pollutants) or a
table of areas joined with ``join="long"`` (an area repeated over years) is drawn as one feature
per place: :func:`series_spec` says which columns are the place key, the year, the category and the
value (from the resource's ``series`` option, else detected); :func:`series_view` maps every row to
its feature, once per app (:mod:`explorer.maps.layer_memo`).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from explorer.maps.columns import mappable_variables, text_columns
from explorer.maps.layer_memo import memo_key, memo_table
from explorer.maps.time_steps import years_of

log = logging.getLogger(__name__)

__all__ = ["SeriesView", "series_spec", "long_series_spec", "series_view", "view_of"]


def _location_codes(frame) -> np.ndarray:
    """An integer per distinct location (coordinates to ~1 m) of a point frame."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    xy = np.round(np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]) * 1e5)
    xy = np.nan_to_num(xy, nan=-1e12)
    _, codes = np.unique(xy, axis=0, return_inverse=True)
    return codes.ravel()


def _detect_series(loaded, options: dict) -> dict | None:
    """A long point table (several rows per place, over years and/or categories): which columns
    are the place key, the year, the category and the value. None when the table is not one."""
    frame = loaded.frame
    if loaded.kind != "points" or len(frame) < 20 or loaded.geometry_type != "Point":
        return None
    locations = _location_codes(frame)
    n_loc = len(np.unique(locations))
    if n_loc >= 0.8 * len(frame):
        return None
    text_cols = text_columns(frame)
    # Key: the text column whose values best match the places.
    loc = pd.Series(locations, index=frame.index)
    key_col, best = None, None
    for name in text_cols:
        n = frame[name].nunique()
        if not 0.5 * n_loc <= n <= 2 * n_loc:
            continue
        stable = float((loc.groupby(frame[name].astype("string")).nunique() == 1).mean())
        score = (stable, -abs(n - n_loc))
        if stable >= 0.9 and (best is None or score > best):
            key_col, best = name, score
    if key_col is None:
        return None
    key = frame[key_col].astype("string")
    # Time: a column named like a date or year whose years vary within a place.
    time_col, years = None, None
    for name in frame.columns:
        if name == "geometry" or name == key_col or not re.search(r"date|year|time|period", str(name).lower()):
            continue
        ys = years_of(frame[name])
        if ys.notna().mean() < 0.9 or ys.nunique() < 2:
            continue
        per_key = ys.groupby(key).nunique()
        if float((per_key > 1).mean()) >= 0.5:
            time_col, years = str(name), ys
            break
    group = {"k": key} if years is None else {"k": key, "t": years}
    base_dups = int(pd.DataFrame(group).duplicated().sum())
    # Category: a low-cardinality text column that separates rows of one place (and year).
    category_col, fewest = None, None
    for name in text_cols:
        if name in (key_col, time_col) or not 2 <= frame[name].nunique() <= 50:
            continue
        dups = int(pd.DataFrame({**group, "c": frame[name].astype("string")}).duplicated().sum())
        if dups < 0.5 * base_dups and (fewest is None or dups < fewest):
            category_col, fewest = name, dups
    if time_col is None and category_col is None:
        return None
    variables = mappable_variables(frame, options, {key_col, time_col, category_col})
    value = options.get("value_column")
    if not isinstance(value, str) or value not in variables:
        value = variables[0] if variables else None
    if value is None:
        return None
    return {"key": key_col, "time": time_col, "category": category_col, "value": value}


def series_spec(loaded, options: dict) -> dict | None:
    raw = options.get("series")
    frame = loaded.frame
    if isinstance(raw, dict) and raw.get("key") in frame.columns:
        spec = {k: raw.get(k) for k in ("key", "time", "category", "value")}
        for k in ("time", "category", "value"):
            if spec[k] is not None and spec[k] not in frame.columns:
                log.warning("%s: series %s column %r not in the file; ignored", loaded.entry.id, k, spec[k])
                spec[k] = None
        exclude = raw.get("exclude") or {}
        spec["exclude"] = {str(k): v for k, v in exclude.items() if k in frame.columns} \
            if isinstance(exclude, dict) else {}
    else:
        spec = _detect_series(loaded, options)
        if spec is None:
            return None
        spec["exclude"] = {}
    return spec


def long_series_spec(loaded, options: dict) -> dict | None:
    """The series spec of a table joined with ``join="long"``: areas keyed by their code, years
    from the declared year column."""
    report = loaded.geography
    if report is None or report.aggregate != "long":
        return None
    return {"key": "area_code", "time": options.get("year_column"), "category": None,
            "value": options.get("value_column")}


@dataclass
class SeriesView:
    keys: list[str]               # one per feature, in feature order
    first_rows: np.ndarray        # frame position of each key's first row
    key_of_row: np.ndarray        # feature index of every row, -1 for excluded rows
    years: np.ndarray | None      # year of every row (float, NaN when none)
    categories: list[str]
    year_list: list[int]


def series_view(service, loaded, spec: dict) -> SeriesView:
    def build() -> SeriesView:
        frame = loaded.frame
        keep = np.ones(len(frame), dtype=bool)
        for column, value in (spec.get("exclude") or {}).items():
            values = value if isinstance(value, list) else [value]
            keep &= ~frame[column].astype("string").isin([str(v) for v in values]).fillna(False).to_numpy()
        keep &= ~(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()
        keys = frame[spec["key"]].astype("string").str.strip().replace("", pd.NA)
        keep &= keys.notna().to_numpy()
        kept_keys = keys[keep]
        codes, uniques = pd.factorize(kept_keys, sort=False)
        key_of_row = np.full(len(frame), -1, dtype=np.int64)
        key_of_row[np.flatnonzero(keep)] = codes
        positions = np.flatnonzero(keep)
        _, first = np.unique(codes, return_index=True)
        first_rows = positions[first]
        years = None
        year_list: list[int] = []
        if spec.get("time"):
            ys = years_of(frame[spec["time"]])
            years = ys.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            year_list = sorted({int(y) for y in years[keep] if not math.isnan(y)})
        categories: list[str] = []
        if spec.get("category"):
            counts = frame[spec["category"]][keep].astype("string").value_counts()
            categories = [str(c) for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]
        return SeriesView([str(u) for u in uniques], first_rows, key_of_row, years, categories, year_list)

    key = memo_key(loaded, "series", json.dumps(spec, sort_keys=True, default=str))
    return memo_table(service, "series").get(key, build)


def view_of(service, loaded, series: dict) -> SeriesView:
    """The view of a layer's long table from the layer's own ``series`` (``LayerInfo.series``)."""
    spec = {k: series.get(k) for k in ("key", "time", "category", "value")}
    spec["exclude"] = series.get("exclude") or {}
    return series_view(service, loaded, spec)
