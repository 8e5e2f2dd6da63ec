"""Column roles: which columns of a layer's table are coordinates, identifiers, names, codes, text,
and which numbers are worth mapping.

:func:`mappable_variables` is the numeric columns a reader may colour a map by (never coordinates,
identifiers such as ``ukgridcode`` or ``LSOA11CD``, the year column, or a constant);
:func:`name_column` and :func:`code_column` pick the columns that name and code each feature;
:func:`clean_label` turns a cell into the text a label shows.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

__all__ = ["is_coordinate", "is_identifier", "mappable_variables", "text_columns", "name_column",
           "code_column", "clean_label", "TEXT_HINTS"]


_COORD_NAMES = {
    "x", "y", "lon", "lng", "long", "longitude", "lat", "latitude", "easting", "northing",
    "os_grid_x", "os_grid_y", "bng_e", "bng_n", "x_coord", "y_coord", "centroid_x", "centroid_y",
    "cx", "cy", "xcoord", "ycoord", "east", "north",
}
_ID_NAMES = {"id", "fid", "objectid", "object_id", "index", "index_righ", "index_right", "la_id",
             "cellid", "grid_id", "grid_id0", "gridrow", "gridcol", "number", "osm_id", "uid", "ogc_fid",
             "code", "site_id", "siteid"}
_ID_SUFFIXES = ("_id", " id", "_code", " code", "cd", "_fid", "gridcode")   # ukgridcode: a grid square's id
TEXT_HINTS = ("name", "nm", "type", "species", "site", "class", "category", "borough", "ward",
               "area", "label", "description")


def is_coordinate(name: str, options: dict) -> bool:
    low = name.strip().lower()
    if name in (options.get("x"), options.get("y")):
        return True
    return low in _COORD_NAMES


def is_identifier(name: str, options: dict) -> bool:
    low = name.strip().lower()
    if name in (options.get("code_column"), options.get("from_column"), options.get("to_column")):
        return True
    if low in _ID_NAMES or low.startswith(("shape_", "st_area(", "st_perimeter(", "shape.")):
        return True
    return low.endswith(_ID_SUFFIXES) and "rank" not in low


def mappable_variables(frame, options: dict, exclude: Iterable[str] = ()) -> list[str]:
    from explorer.data.loaders import numeric_columns

    skip = {str(c) for c in exclude if c}
    skip.update(str(options[k]) for k in ("year_column", "date_column") if isinstance(options.get(k), str))
    out = []
    for name in numeric_columns(frame):
        if name in skip or is_coordinate(name, options) or is_identifier(name, options):
            continue
        series = frame[name]
        if series.nunique(dropna=True) <= 1:
            continue
        out.append(name)
    return out


def text_columns(frame) -> list[str]:
    out = []
    for name in frame.columns:
        if name == "geometry":
            continue
        dtype = frame[name].dtype
        if isinstance(dtype, pd.StringDtype) or dtype == object or isinstance(dtype, pd.CategoricalDtype):
            out.append(str(name))
    return out


def name_column(loaded, options: dict, series: dict | None) -> str | None:
    frame = loaded.frame
    if loaded.geography is not None and "area_name" in frame.columns:
        return "area_name"
    hint = options.get("name_column")
    if isinstance(hint, str) and hint in frame.columns:
        return hint
    if series and series.get("key") in frame.columns and series["key"] in text_columns(frame):
        return series["key"]
    from explorer.geo.geometry_payload import name_column as guessed_name_column
    return guessed_name_column(frame)


def code_column(loaded, options: dict) -> str | None:
    frame = loaded.frame
    if loaded.geography is not None and "area_code" in frame.columns:
        return "area_code"
    hint = options.get("code_column")
    if isinstance(hint, str) and hint in frame.columns:
        return hint
    for column in loaded.code_columns or []:
        if column in frame.columns:
            return str(column)
    return None


def clean_label(value) -> str | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None
