"""Everything a map layer needs, computed once per (dataset, resource) and kept.

* :func:`layer_info` describes a layer: its kind, the numeric variables worth mapping, the unit,
  its time steps (one resource per year, year-named columns, or the years of a long table), how a
  long table is read as one feature per place (``series``), and why a table cannot be mapped.
* :func:`geometry_payload` is the layer's geometry, once, by URL: simplified for the scale in
  British National Grid metres (``shapely.coverage_simplify`` keeps shared borders shared),
  rounded to what a screen shows, and encoded as geobuf (what dash-leaflet's
  ``GeoJSON(format="geobuf")`` decodes) or GeoJSON. Each feature carries only ``_i`` (its index:
  the position of its value in :func:`values_payload`), ``_name`` and ``_code`` (when it has them).
* :func:`values_payload` is the numbers for one variable (and year, and category), aligned with
  the features' ``_i``: switching variable or year moves only these.
* :func:`features_at` answers a click: the features of each layer at a place, with their values.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd
import shapely

from explorer.data.cache import cache_key
from explorer.geo.joins import DatasetError
from explorer.labels.variables import resource_labels

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 2          # bump when the geometry payload changes for the same data
CLUSTER_THRESHOLD = 2000     # point layers with more features are clustered in the browser
CANVAS_THRESHOLD = 1500      # polygon and line layers with more features are painted on one canvas:
                             # building thousands of SVG paths (one DOM node, listeners and a
                             # tooltip hook each) is what kept the LSOA map from showing sooner
MAX_HIT_VALUES = 15
PRECISION = 5                # decimal places of degrees kept (1e-5° ≈ 1.1 m × 0.7 m). A coarser
                             # 1e-4° grid halves LSOA bytes but snapping 5,000 areas to ~10 m opens
                             # gaps and collapses the smallest; 1e-5° keeps a clean coverage.
BNG = 27700
WGS84 = 4326

__all__ = [
    "TimeStep", "LayerInfo", "NotMappable", "layer_info", "geometry_payload", "values_payload",
    "features_at", "layer_table", "encode_geobuf", "drawn_as", "polygon_tolerance", "round_sig",
]


class NotMappable(ValueError):
    """A dataset that loads but cannot be drawn (a table without geometry or joinable codes)."""

    def __init__(self, dataset_id: str, reason: str):
        self.dataset_id = dataset_id
        self.reason = reason
        super().__init__(f"{dataset_id}: {reason}")


@dataclass
class TimeStep:
    label: str
    year: int | None
    resource_id: str
    variable: str | None


@dataclass
class LayerInfo:
    dataset_id: str
    resource_id: str
    title: str
    kind: str                        # polygons | points | lines (table when it cannot be mapped)
    geometry_type: str | None
    n_features: int
    variables: list[str]
    default_variable: str | None
    unit: str | None
    time_steps: list[TimeStep]
    series: dict | None
    name_column: str | None
    code_column: str | None
    geography: dict | None
    bounds: list[float] | None
    cluster: bool
    error: str | None = None
    resource_title: str | None = None
    pollutant: str | None = None
    geometry_url: str | None = None
    time_kind: str | None = None     # resources | columns | series (where the years come from)
    join: bool | str = True          # "long": a long table of areas over years, one row per area and year
    labels: dict = field(default_factory=dict)   # the resource's own column labels (its labels option)

    @property
    def canvas(self) -> bool:
        """Drawn on a canvas rather than as SVG paths (big polygon and line layers)."""
        return self.kind in ("polygons", "lines") and self.n_features > CANVAS_THRESHOLD

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# Memos on the app: the DataService keeps the frames, its ``memos`` (explorer.data.memo) keep what
# is derived from them, so each app has its own and nothing is keyed by a service's id
# ------------------------------------------------------------------------------------------------
_MEMO_SIZES = {"info": 64, "geometry": 16, "trees": 16, "values": 128, "series": 16, "drawn_as": 4096}


def _memo(service, name: str):
    return service.memos.table(f"layer_data.{name}", _MEMO_SIZES[name])


def _key(loaded, *parts) -> str:
    return cache_key("mapdata", PAYLOAD_VERSION, loaded.entry.id, loaded.resource.id,
                     loaded.entry.content_hash(), *parts)


def payload_key(service, dataset_id: str, resource_id: str | None, fmt: str) -> tuple[str, str]:
    """(cache key, resource id) of a geometry payload, from the registry entry alone (no load):
    the route answers If-None-Match from it without touching the data."""
    entry = service.entry(dataset_id)
    try:
        resource = entry.resource(resource_id)
    except LookupError as exc:
        raise DatasetError(dataset_id, "registry", str(exc)) from None
    return (cache_key("geo-payload", PAYLOAD_VERSION, entry.id, resource.id, fmt, entry.content_hash(),
                      str(getattr(service.settings, "data_dir", ""))), resource.id)


# ------------------------------------------------------------------------------------------------
# Column roles
# ------------------------------------------------------------------------------------------------
_COORD_NAMES = {
    "x", "y", "lon", "lng", "long", "longitude", "lat", "latitude", "easting", "northing",
    "os_grid_x", "os_grid_y", "bng_e", "bng_n", "x_coord", "y_coord", "centroid_x", "centroid_y",
    "cx", "cy", "xcoord", "ycoord", "east", "north",
}
_ID_NAMES = {"id", "fid", "objectid", "object_id", "index", "index_righ", "index_right", "la_id",
             "cellid", "grid_id", "grid_id0", "gridrow", "gridcol", "number", "osm_id", "uid", "ogc_fid",
             "code", "site_id", "siteid"}
_ID_SUFFIXES = ("_id", " id", "_code", " code", "cd", "_fid", "gridcode")   # ukgridcode: a grid square's id
_TEXT_HINTS = ("name", "nm", "type", "species", "site", "class", "category", "borough", "ward",
               "area", "label", "description")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
           "sept", "oct", "nov", "dec")
_YEAR_RE = re.compile(r"(?<!\d)((?:18|19|20)\d{2})(?:0[1-9]|1[0-2])?(?!\d)")
_MONTH_RE = re.compile(r"(?<![a-z])(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?![a-z])",
                       re.I)


def _is_coordinate(name: str, options: dict) -> bool:
    low = name.strip().lower()
    if name in (options.get("x"), options.get("y")):
        return True
    return low in _COORD_NAMES


def _is_identifier(name: str, options: dict) -> bool:
    low = name.strip().lower()
    if name in (options.get("code_column"), options.get("from_column"), options.get("to_column")):
        return True
    if low in _ID_NAMES or low.startswith(("shape_", "st_area(", "st_perimeter(", "shape.")):
        return True
    return low.endswith(_ID_SUFFIXES) and "rank" not in low


def _variables(frame, options: dict, exclude: Iterable[str] = ()) -> list[str]:
    from explorer.data.loaders import numeric_columns

    skip = {str(c) for c in exclude if c}
    skip.update(str(options[k]) for k in ("year_column", "date_column") if isinstance(options.get(k), str))
    out = []
    for name in numeric_columns(frame):
        if name in skip or _is_coordinate(name, options) or _is_identifier(name, options):
            continue
        series = frame[name]
        if series.nunique(dropna=True) <= 1:
            continue
        out.append(name)
    return out


def _text_columns(frame) -> list[str]:
    out = []
    for name in frame.columns:
        if name == "geometry":
            continue
        dtype = frame[name].dtype
        if isinstance(dtype, pd.StringDtype) or dtype == object or isinstance(dtype, pd.CategoricalDtype):
            out.append(str(name))
    return out


def _name_column(loaded, options: dict, series: dict | None) -> str | None:
    frame = loaded.frame
    if loaded.geography is not None and "area_name" in frame.columns:
        return "area_name"
    hint = options.get("name_column")
    if isinstance(hint, str) and hint in frame.columns:
        return hint
    if series and series.get("key") in frame.columns and series["key"] in _text_columns(frame):
        return series["key"]
    from explorer.geo.geometry_payload import name_column
    return name_column(frame)


def _code_column(loaded, options: dict) -> str | None:
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


# ------------------------------------------------------------------------------------------------
# Long tables: one feature per place
# ------------------------------------------------------------------------------------------------
def _years_of(series: pd.Series) -> pd.Series:
    """A column of years (int) from years, dates or date-like text; NA where there is none."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.year.astype("Int64")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        ok = values.notna() & (values % 1 == 0) & values.between(1800, 2100)
        return values.where(ok).astype("Int64")
    text = series.astype("string")
    found = text.str.extract(r"(?<!\d)((?:18|19|20)\d{2})(?!\d)", expand=False)
    return pd.to_numeric(found, errors="coerce").astype("Int64")


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
    text_cols = _text_columns(frame)
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
        ys = _years_of(frame[name])
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
    variables = _variables(frame, options, {key_col, time_col, category_col})
    value = options.get("value_column")
    if not isinstance(value, str) or value not in variables:
        value = variables[0] if variables else None
    if value is None:
        return None
    return {"key": key_col, "time": time_col, "category": category_col, "value": value}


def _series_spec(loaded, options: dict) -> dict | None:
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


@dataclass
class _SeriesView:
    keys: list[str]               # one per feature, in feature order
    first_rows: np.ndarray        # frame position of each key's first row
    key_of_row: np.ndarray        # feature index of every row, -1 for excluded rows
    years: np.ndarray | None      # year of every row (float, NaN when none)
    categories: list[str]
    year_list: list[int]


def _series_view(service, loaded, spec: dict) -> _SeriesView:
    def build() -> _SeriesView:
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
            ys = _years_of(frame[spec["time"]])
            years = ys.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            year_list = sorted({int(y) for y in years[keep] if not math.isnan(y)})
        categories: list[str] = []
        if spec.get("category"):
            counts = frame[spec["category"]][keep].astype("string").value_counts()
            categories = [str(c) for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]
        return _SeriesView([str(u) for u in uniques], first_rows, key_of_row, years, categories, year_list)

    return _memo(service, "series").get(_key(loaded, "series", json.dumps(spec, sort_keys=True, default=str)),
                                        build)


# ------------------------------------------------------------------------------------------------
# Time steps
# ------------------------------------------------------------------------------------------------
_STEP_IGNORED_OPTIONS = {"year", "value_column", "title"}


def _resource_steps(entry, resource) -> list[TimeStep]:
    options = resource.options or {}
    if not isinstance(options.get("year"), int):
        return []
    mine = {k: v for k, v in options.items() if k not in _STEP_IGNORED_OPTIONS}
    steps = []
    for other in entry.resources:
        o = other.options or {}
        year = o.get("year")
        if not isinstance(year, int) or isinstance(year, bool):
            continue
        if {k: v for k, v in o.items() if k not in _STEP_IGNORED_OPTIONS} != mine:
            continue
        if _norm_format(other.format) != _norm_format(resource.format):
            continue
        value = o.get("value_column")
        steps.append(TimeStep(str(year), year, other.id, value if isinstance(value, str) else None))
    steps.sort(key=lambda s: s.year)
    years = [s.year for s in steps]
    if len(steps) < 2 or len(set(years)) != len(years):
        return []
    return steps


def _norm_format(fmt: str | None) -> str:
    return (fmt or "").strip().lower()


def _column_steps(columns: list[str], resource_id: str) -> list[TimeStep]:
    """Year-named columns (2011 … 2021, HHI_median_2001 …, Year ending Dec 1995 …): one step a year,
    the last column of each year (the December one of quarterly columns)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in columns:
        found = list(_YEAR_RE.finditer(name))
        if len(found) != 1:
            continue
        year = int(found[0].group(1))
        stem = name[:found[0].start()] + "\0" + name[found[0].end():]
        stem = _MONTH_RE.sub("", stem)
        stem = re.sub(r"\s+", " ", stem).strip().lower()
        groups.setdefault(stem, []).append((year, name))
    best: list[tuple[int, str]] = []
    for items in groups.values():
        if len({y for y, _ in items}) >= 2 and len({y for y, _ in items}) > len({y for y, _ in best}):
            best = items
    if not best:
        return []
    last: dict[int, str] = {}
    for year, name in best:          # in column order: later columns of a year win
        last[year] = name
    return [TimeStep(str(y), y, resource_id, last[y]) for y in sorted(last)]


# ------------------------------------------------------------------------------------------------
# layer_info
# ------------------------------------------------------------------------------------------------
def _unmappable_reason(loaded) -> str:
    if loaded.join_error:
        return f"This table cannot be mapped: {loaded.join_error}"
    if loaded.code_columns:
        cols = ", ".join(map(str, loaded.code_columns))
        return (f"This table has area codes ({cols}) but they could not be joined to any boundary "
                "set, so it cannot be mapped.")
    return ("This table has no geometry, no coordinates and no area codes (GSS codes) that match a "
            "boundary set, so it cannot be mapped.")


def layer_info(service, dataset_id: str, resource_id: str | None = None) -> LayerInfo:
    """What the map needs to know about a layer. Raises DatasetError when it cannot load; a table
    that cannot be mapped comes back with ``error`` saying why."""
    loaded = service.load(dataset_id, resource_id)
    if _yearly_long_table(loaded):
        loaded = service.load(dataset_id, resource_id, join="long")
    info = _memo(service, "info").get(_key(loaded, "info"), lambda: _build_info(service, loaded))
    _memo(service, "drawn_as").put((info.dataset_id, info.resource_id),
                                   "unmappable" if info.error else "canvas" if info.canvas else "leaflet")
    return info


def drawn_as(service, dataset_id: str, resource_id: str) -> str | None:
    """How this app last worked out a layer is drawn, so the map page's index can say what to fetch
    without loading anything (explorer/web/preload.py): "canvas" (our canvas layer, whose geometry
    the page reads at once), "leaflet" (dash-leaflet) or "unmappable" (nothing to fetch); None
    before it has built the layer's info."""
    return _memo(service, "drawn_as").peek((dataset_id, resource_id))


def _yearly_long_table(loaded) -> bool:
    """A table refused by the join only because each area repeats over the years of its declared
    ``year_column`` (LEGGI: one row per borough and year): the map shows it one year at a time."""
    year_column = (loaded.resource.options or {}).get("year_column")
    return bool(loaded.join_error and year_column and year_column in loaded.frame.columns
                and "long format" in loaded.join_error)


def _long_series(loaded, options: dict) -> dict | None:
    """The series spec of a table joined with ``join="long"``: areas keyed by their code, years
    from the declared year column."""
    report = loaded.geography
    if report is None or report.aggregate != "long":
        return None
    return {"key": "area_code", "time": options.get("year_column"), "category": None,
            "value": options.get("value_column")}


def _build_info(service, loaded) -> LayerInfo:
    entry, resource, frame = loaded.entry, loaded.resource, loaded.frame
    options = dict(resource.options or {})
    common = dict(
        dataset_id=entry.id, resource_id=resource.id, title=entry.title,
        resource_title=resource.title or None, geometry_type=loaded.geometry_type,
        geography=loaded.geography.to_dict() if loaded.geography is not None else None,
        pollutant=str(options["pollutant"]) if options.get("pollutant") else None,
        unit=str(options["unit"]) if options.get("unit") else None,
        labels=resource_labels(resource),
    )
    if not loaded.is_spatial:
        return LayerInfo(kind=loaded.kind, n_features=0, variables=[], default_variable=None,
                         time_steps=[], series=None, name_column=None, code_column=None, bounds=None,
                         cluster=False, error=_unmappable_reason(loaded), **common)
    long_series = _long_series(loaded, options)
    if long_series is not None:
        options["series"] = long_series
    series = _series_spec(loaded, options)
    view = _series_view(service, loaded, series) if series else None
    exclude = [options.get("year_column")]
    if series:
        exclude += [series.get("key"), series.get("time"), series.get("category")]
    variables = _variables(frame, options, exclude)
    name_col = _name_column(loaded, options, series)
    code_col = _code_column(loaded, options)

    time_kind = None
    steps = _resource_steps(entry, resource)
    if steps:
        time_kind = "resources"
    if not steps:
        steps = _column_steps(variables, resource.id)
        time_kind = "columns" if steps else None
    if not steps and view is not None and len(view.year_list) >= 2:
        steps = [TimeStep(str(y), y, resource.id, series.get("value")) for y in view.year_list]
        time_kind = "series"

    default = options.get("value_column") if options.get("value_column") in variables else None
    if default is None and series and series.get("value") in variables:
        default = series["value"]
    if default is None and time_kind == "columns":
        default = steps[-1].variable
    if default is None and variables:
        default = variables[0]

    if view is not None:
        rows = view.first_rows
        series_out = {**{k: series.get(k) for k in ("key", "time", "category", "value")},
                      "categories": view.categories, "years": view.year_list,
                      "exclude": series.get("exclude") or {}}
    else:
        rows = np.arange(len(frame))
        series_out = None
    geoms = frame.geometry.values[rows] if len(rows) else frame.geometry.values[:0]
    present = ~(pd.isna(geoms) | shapely.is_empty(np.asarray(geoms, dtype=object)))
    bounds = None
    if present.any():
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object)[present])
        bounds = [round(float(minx), 6), round(float(miny), 6), round(float(maxx), 6), round(float(maxy), 6)]
    n = int(len(rows))
    return LayerInfo(
        kind=loaded.kind, n_features=n, variables=variables, default_variable=default,
        time_steps=steps, series=series_out, name_column=name_col, code_column=code_col,
        bounds=bounds, cluster=loaded.kind == "points" and n > CLUSTER_THRESHOLD, error=None,
        geometry_url=f"/geo/{entry.id}/{resource.id}.pbf", time_kind=time_kind,
        join="long" if long_series is not None else True, **common,
    )


# ------------------------------------------------------------------------------------------------
# Geometry: simplify, round, encode
# ------------------------------------------------------------------------------------------------
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


_GSS = re.compile(r"^[EWSNK]\d{8}$")


def _to_crs(geoms: np.ndarray, source: int, target: int) -> np.ndarray:
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
class _Prepared:
    geoms: np.ndarray             # shapely geometries in EPSG:4326, rounded; None when absent
    names: list
    codes: list
    precision: int
    tolerance_m: float
    method: str                   # how polygons were simplified


def _clean_label(value) -> str | None:
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


def _feature_rows(service, loaded, info: LayerInfo) -> np.ndarray:
    if info.series:
        spec = {k: info.series.get(k) for k in ("key", "time", "category", "value")}
        spec["exclude"] = info.series.get("exclude") or {}
        return _series_view(service, loaded, spec).first_rows
    return np.arange(len(loaded.frame))


def _labels(loaded, info: LayerInfo, rows: np.ndarray) -> tuple[list, list]:
    frame = loaded.frame
    names = [_clean_label(v) for v in frame[info.name_column].to_numpy()[rows]] \
        if info.name_column else [None] * len(rows)
    codes = [_clean_label(v) for v in frame[info.code_column].to_numpy()[rows]] \
        if info.code_column else [None] * len(rows)
    return names, codes


def _prepare(service, loaded, info: LayerInfo) -> _Prepared:
    rows = _feature_rows(service, loaded, info)
    names, codes = _labels(loaded, info, rows)
    if info.cluster and not all(c is None or _GSS.match(c) for c in codes[:200]):
        codes = [None] * len(codes)      # ids of 50k points are not worth their bytes; areas' are
    geoms = np.asarray(loaded.frame.geometry.values[rows], dtype=object) if len(rows) else np.empty(0, object)
    geoms = np.array([None if (g is None or g.is_empty) else g for g in geoms], dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    precision = precision_for(info.kind, int(present.sum()))
    grid = 10.0 ** -precision
    tolerance, method = 0.0, "none"
    if present.any():
        sub = geoms[present]
        if info.kind == "polygons":
            sub = np.array([_polygonal(g) for g in sub], dtype=object)
            keep = np.array([g is not None for g in sub], dtype=bool)
            projected = _to_crs(sub[keep], WGS84, BNG)
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
                    log.info("%s: coverage simplification failed (%s)", info.dataset_id, exc)
                    coverage = False
            if simplified is None:
                simplified = shapely.simplify(projected, tolerance, preserve_topology=True)
                method = "per-feature"
            back = _to_crs(simplified, BNG, WGS84)
            rounded = _round_polygons(back, grid, coverage)
            out = np.full(len(sub), None, dtype=object)
            out[keep] = rounded
            sub = out
        elif info.kind == "lines":
            projected = _to_crs(sub, WGS84, BNG)
            tolerance = 5.0
            simplified = shapely.simplify(projected, tolerance, preserve_topology=False)
            sub = shapely.set_precision(_to_crs(simplified, BNG, WGS84), grid, mode="pointwise")
            method = "per-feature"
        else:
            sub = shapely.set_precision(sub, grid, mode="pointwise")
        geoms[present] = [None if (g is None or g.is_empty) else g for g in sub]
    return _Prepared(geoms=geoms, names=names, codes=codes, precision=precision,
                     tolerance_m=tolerance, method=method)


def _prepared(service, loaded, info: LayerInfo) -> _Prepared:
    return _memo(service, "geometry").get(_key(loaded, "geometry", PRECISION),
                                          lambda: _prepare(service, loaded, info))


def _mappable(service, dataset_id: str, resource_id: str | None):
    info = layer_info(service, dataset_id, resource_id)
    if info.error:
        raise NotMappable(dataset_id, info.error)
    loaded = service.load(dataset_id, info.resource_id, join=info.join)
    return loaded, info


def geometry_payload(service, dataset_id: str, resource_id: str | None = None, fmt: str = "geobuf") -> bytes:
    """The layer's geometry as geobuf (``fmt="geobuf"``) or GeoJSON bytes.

    One feature per row of the loaded frame (per place for long tables), in row order; rows
    without geometry have no feature. Properties: ``_i`` (row index = position in
    :func:`values_payload`), ``_name``, ``_code`` (each left out when the feature has none);
    nothing else.
    """
    if fmt not in ("geobuf", "geojson"):
        raise ValueError(f"unknown geometry format {fmt!r}; use 'geobuf' or 'geojson'")
    loaded, info = _mappable(service, dataset_id, resource_id)
    prepared = _prepared(service, loaded, info)
    index = [i for i, g in enumerate(prepared.geoms) if g is not None]
    geoms = prepared.geoms[index] if index else np.empty(0, dtype=object)
    # A missing name or code is left out rather than sent as null: geobuf carries a null as JSON
    # text that the browser parses once per feature (52k times for the points of interest).
    props = [{k: v for k, v in (("_i", i), ("_name", prepared.names[i]), ("_code", prepared.codes[i]))
              if v is not None} for i in index]
    if fmt == "geojson":
        return encode_geojson(geoms, props, prepared.precision)
    return encode_geobuf(geoms, props, ["_i", "_name", "_code"], prepared.precision)


# ------------------------------------------------------------------------------------------------
# geobuf (https://github.com/mapbox/geobuf, geobuf.proto v3) written with numpy
# ------------------------------------------------------------------------------------------------
_SMALL = [bytes([i]) for i in range(128)]


def _varint(n: int) -> bytes:
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of unsigned 64-bit values: (bytes, byte count per value)."""
    v = np.ascontiguousarray(values, dtype=np.uint64)
    if v.size == 0:
        return np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64)
    nbytes = np.ones(v.shape, dtype=np.int64)
    rest = v >> np.uint64(7)
    while rest.any():
        nbytes += rest > 0
        rest >>= np.uint64(7)
    width = int(nbytes.max())
    shifts = (np.arange(width, dtype=np.uint64) * np.uint64(7))[None, :]
    groups = ((v[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    column = np.arange(width)[None, :]
    groups[column < (nbytes[:, None] - 1)] |= 0x80
    return groups[column < nbytes[:, None]], nbytes


def _zigzag(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def _tag(field_no: int, wire: int) -> bytes:
    return _varint((field_no << 3) | wire)


def _len_field(field_no: int, payload: bytes) -> bytes:
    return _tag(field_no, 2) + _varint(len(payload)) + payload


def _packed(field_no: int, values: Iterable[int]) -> bytes:
    body = b"".join(_varint(int(v)) for v in values)
    return _len_field(field_no, body)


def _value(value) -> bytes:
    """A geobuf Value message."""
    if value is None:
        return _len_field(6, b"null")                          # json_value
    if isinstance(value, (bool, np.bool_)):
        return _tag(5, 0) + _varint(1 if value else 0)
    if isinstance(value, (int, np.integer)):
        v = int(value)
        return _tag(3, 0) + _varint(v) if v >= 0 else _tag(4, 0) + _varint(-v)
    if isinstance(value, (float, np.floating)):
        import struct
        return _tag(2, 1) + struct.pack("<d", float(value))
    return _len_field(1, str(value).encode("utf-8"))


_TYPES = {"Point": 0, "MultiPoint": 1, "LineString": 2, "MultiLineString": 3, "Polygon": 4, "MultiPolygon": 5}


def _geometry_messages(geoms: np.ndarray, scale: float) -> list[bytes]:
    """Geobuf Geometry messages for one family of geometries (all points, lines or polygons)."""
    if len(geoms) == 0:
        return []
    gtype, coords, offsets = shapely.to_ragged_array(geoms)
    q = np.round(coords[:, :2] * scale).astype(np.int64)
    name = shapely.GeometryType(gtype).name
    n = len(geoms)
    if name == "POINT":
        data, nb = _varints(_zigzag(q.ravel()))
        cum = np.concatenate([[0], np.cumsum(nb)])
        raw = data.tobytes()
        return [_tag(1, 0) + _varint(0) + _len_field(3, raw[cum[2 * i]:cum[2 * i + 2]]) for i in range(n)]

    # Lines of points: MultiPoint / LineString (one line each) or rings and parts.
    if name in ("MULTIPOINT", "LINESTRING"):
        line_off = offsets[0]
        part_off = np.arange(n + 1)          # one "line" per geometry
        geom_part = np.arange(n + 1)
        closed = False
        levels = 1
    elif name == "MULTILINESTRING":
        line_off, geom_line = offsets
        part_off, geom_part = geom_line, np.arange(n + 1)
        closed = False
        levels = 2
    elif name == "POLYGON":
        line_off, geom_ring = offsets
        part_off, geom_part = geom_ring, np.arange(n + 1)
        closed = True
        levels = 3
    else:  # MULTIPOLYGON
        line_off, poly_ring, geom_poly = offsets
        part_off, geom_part = poly_ring, geom_poly
        closed = True
        levels = 3
    line_off = np.asarray(line_off, dtype=np.int64)
    n_lines = len(line_off) - 1
    starts = line_off[:-1]
    delta = q.copy()
    if len(q) > 1:
        delta[1:] -= q[:-1]
    delta[starts] = q[starts]
    if closed:
        keep = np.ones(len(q), dtype=bool)
        keep[line_off[1:] - 1] = False                       # the closing point is implied
        delta = delta[keep]
        kept_off = line_off - np.arange(n_lines + 1)
    else:
        kept_off = line_off
    data, nb = _varints(_zigzag(delta.ravel()))
    cum = np.concatenate([[0], np.cumsum(nb)])
    raw = data.tobytes()
    lengths_all = np.diff(kept_off)
    part_off = np.asarray(part_off, dtype=np.int64)
    geom_part = np.asarray(geom_part, dtype=np.int64)
    out = []
    for g in range(n):
        p0, p1 = geom_part[g], geom_part[g + 1]          # parts (polygons or lines) of geometry g
        l0, l1 = part_off[p0], part_off[p1]              # lines (rings) of geometry g
        c0, c1 = kept_off[l0], kept_off[l1]
        coords_bytes = raw[cum[2 * c0]:cum[2 * c1]]
        lengths: list[int] = []
        if levels == 1:
            gt = _TYPES["LineString"] if name == "LINESTRING" else _TYPES["MultiPoint"]
        elif levels == 2:
            if l1 - l0 == 1:
                gt = _TYPES["LineString"]
            else:
                gt = _TYPES["MultiLineString"]
                lengths = lengths_all[l0:l1].tolist()
        else:
            if p1 - p0 == 1:
                gt = _TYPES["Polygon"]
                if l1 - l0 > 1:
                    lengths = lengths_all[l0:l1].tolist()
            else:
                gt = _TYPES["MultiPolygon"]
                lengths = [int(p1 - p0)]
                for p in range(p0, p1):
                    r0, r1 = part_off[p], part_off[p + 1]
                    lengths.append(int(r1 - r0))
                    lengths.extend(lengths_all[r0:r1].tolist())
        message = _tag(1, 0) + _varint(gt)
        if lengths:
            message += _packed(2, lengths)
        message += _len_field(3, coords_bytes)
        out.append(message)
    return out


def _family(geom) -> str:
    kind = geom.geom_type
    if kind in ("Point", "MultiPoint"):
        return "points"
    if kind in ("LineString", "MultiLineString", "LinearRing"):
        return "lines"
    if kind in ("Polygon", "MultiPolygon"):
        return "polygons"
    return "other"


def encode_geobuf(geoms: np.ndarray, properties: list[dict], keys: list[str], precision: int = PRECISION) -> bytes:
    """A geobuf FeatureCollection of ``geoms`` (EPSG:4326) with ``properties`` (one dict a feature,
    keys among ``keys``), coordinates kept to ``precision`` decimal places."""
    scale = 10.0 ** precision
    families: dict[str, list[int]] = {}
    for i, g in enumerate(geoms):
        fam = _family(g)
        if fam == "other":           # a GeometryCollection: keep its dominant family
            parts = [p for p in shapely.get_parts(g) if not p.is_empty]
            fams = [_family(p) for p in parts]
            best = max(("polygons", "lines", "points"), key=fams.count) if fams else "points"
            chosen = [p for p, f in zip(parts, fams) if f == best]
            geoms[i] = shapely.union_all(chosen) if chosen else shapely.Point()
            fam = best
        families.setdefault(fam, []).append(i)
    messages: list[bytes | None] = [None] * len(geoms)
    for fam, idx in families.items():
        for i, message in zip(idx, _geometry_messages(np.asarray(geoms[idx], dtype=object), scale)):
            messages[i] = message
    key_index = {k: i for i, k in enumerate(keys)}
    features = []
    for message, props in zip(messages, properties):
        values = b""
        pairs: list[int] = []
        for vi, (k, v) in enumerate(props.items()):
            values += _len_field(13, _value(v))
            pairs += [key_index[k], vi]
        features.append(_len_field(1, _len_field(1, message) + values + _packed(14, pairs)))
    header = b"".join(_len_field(1, k.encode("utf-8")) for k in keys)
    header += _tag(2, 0) + _varint(2) + _tag(3, 0) + _varint(precision)
    return header + _len_field(4, b"".join(features))


def encode_geojson(geoms: np.ndarray, properties: list[dict], precision: int | None = None) -> bytes:
    """A GeoJSON FeatureCollection; coordinates rounded to ``precision`` decimals like geobuf's."""
    geoms = np.asarray(geoms, dtype=object)
    if precision is not None and len(geoms):
        geoms = shapely.transform(geoms, lambda c: np.round(c, precision))
    texts = shapely.to_geojson(geoms) if len(geoms) else []
    parts = []
    for text, props in zip(texts, properties):
        parts.append('{"type":"Feature","geometry":' + text + ',"properties":'
                     + json.dumps(props, ensure_ascii=False, separators=(",", ":")) + "}")
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode("utf-8")


# ------------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------------
def round_sig(value, figures: int = 4):
    """A number rounded to ``figures`` significant digits; None for missing or non-finite."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    if v == 0:
        return 0
    rounded = float(f"{v:.{figures}g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2 ** 53 else rounded


def _round_all(values: np.ndarray) -> list:
    return [round_sig(v) for v in values]


def _numeric(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _step_from(step, info: LayerInfo | None = None) -> TimeStep | None:
    """A TimeStep from a TimeStep, its dict, or (with ``info``) a step label or year."""
    if step is None or isinstance(step, TimeStep):
        return step
    if isinstance(step, dict):
        return TimeStep(**{k: step.get(k) for k in ("label", "year", "resource_id", "variable")})
    if isinstance(step, (str, int)) and not isinstance(step, bool) and info is not None:
        for candidate in info.time_steps:
            if str(step) in (candidate.label, str(candidate.year)):
                return candidate
        raise ValueError(f"{info.dataset_id}/{info.resource_id} has no time step {step!r}")
    raise ValueError(f"not a time step: {step!r}")


def _sibling_variable(variable: str | None, base_year, step: TimeStep, columns) -> str | None:
    """The step resource's column matching ``variable`` (NO2-2019-max → NO2-2013-max)."""
    if variable and variable in columns:
        return variable
    if variable and isinstance(base_year, int) and step.year is not None and str(base_year) in variable:
        candidate = variable.replace(str(base_year), str(step.year))
        if candidate in columns:
            return candidate
    return step.variable


def values_payload(service, dataset_id: str, resource_id: str | None, variable: str | None,
                   step: TimeStep | dict | None = None, filters: dict | None = None) -> list:
    """The values of ``variable`` for every feature, in feature (``_i``) order, 4 significant
    digits, None for no data.

    ``step`` picks a year: another resource of the dataset (values are matched to this
    resource's features by area code), a year column, or the year of a long table. ``filters``
    ({column: value}) picks the category of a long table (``{"pollutant": "no2"}``); on other
    tables rows that do not match get None.
    """
    loaded, info = _mappable(service, dataset_id, resource_id)
    step = _step_from(step, info)
    key = _key(loaded, "values", variable, asdict(step) if step else None,
               json.dumps(filters or {}, sort_keys=True, default=str))
    return _memo(service, "values").get(key, lambda: _compute_values(service, loaded, info, variable, step, filters or {}))


def values_of_every_step(service, dataset_id: str, resource_id: str | None, variable: str | None,
                         steps, filters: dict | None = None) -> list:
    """The values of every year (``steps``: TimeSteps or their dicts) of a layer, pooled: its class
    breaks are computed once from them, so a colour means the same number in every year, on the
    live map (callbacks/map_explorer.py) and in its exported images (explorer/export/map_figure.py).
    A year that cannot be read is left out of the pool, not out of the map."""
    pooled: list = []
    for step in steps or []:
        try:
            pooled.extend(values_payload(service, dataset_id, resource_id, variable, step=step,
                                         filters=filters or None) or [])
        except (DatasetError, KeyError, ValueError, TypeError):
            continue
    return pooled


def _compute_values(service, loaded, info: LayerInfo, variable, step: TimeStep | None, filters: dict) -> list:
    frame = loaded.frame
    where = f"{info.dataset_id}/{info.resource_id}"
    if info.series:
        return _series_values(service, loaded, info, variable, step, filters)
    source = loaded
    column = variable
    if step is not None:
        if step.resource_id and step.resource_id != info.resource_id:
            try:
                source = service.load(info.dataset_id, step.resource_id)
            except DatasetError:
                raise
            column = _sibling_variable(variable, (loaded.resource.options or {}).get("year"), step,
                                       source.frame.columns)
        elif info.time_kind == "resources":
            column = _sibling_variable(variable, (loaded.resource.options or {}).get("year"), step,
                                       frame.columns)
        elif step.variable:
            column = step.variable
    if not column:
        raise ValueError(f"{where}: no variable given")
    if column not in source.frame.columns:
        raise ValueError(f"{info.dataset_id}/{source.resource.id} has no column {column!r}")
    values = _numeric(source.frame[column])
    mask = np.ones(len(source.frame), dtype=bool)
    for col, wanted in (filters or {}).items():
        if col not in source.frame.columns:
            raise ValueError(f"{where}: cannot filter on {col!r}: no such column")
        mask &= (source.frame[col].astype("string") == str(wanted)).fillna(False).to_numpy()
    values = np.where(mask, values, np.nan)
    if source is not loaded:
        values = _align(loaded, info, source, values)
    return _round_all(values)


def _align(base, info: LayerInfo, other, values: np.ndarray) -> np.ndarray:
    """Values of ``other``'s rows placed on ``base``'s rows, matched by area code (or row order
    when both have the same number of rows and no codes)."""
    code_col = info.code_column
    if code_col and code_col in other.frame.columns:
        lookup = pd.Series(values, index=other.frame[code_col].astype("string").to_numpy())
        lookup = lookup[~lookup.index.duplicated(keep="first")]
        codes = base.frame[code_col].astype("string")
        return lookup.reindex(codes.to_numpy()).to_numpy(dtype=float)
    if len(other.frame) == len(base.frame):
        return values
    raise ValueError(f"{info.dataset_id}: {other.resource.id} cannot be matched to {info.resource_id}'s features")


def _series_values(service, loaded, info: LayerInfo, variable, step: TimeStep | None, filters: dict) -> list:
    series = info.series
    frame = loaded.frame
    spec = {k: series.get(k) for k in ("key", "time", "category", "value")}
    spec["exclude"] = series.get("exclude") or {}
    view = _series_view(service, loaded, spec)
    column = variable or series.get("value")
    if step is not None and not variable and step.variable:
        column = step.variable
    if not column or column not in frame.columns:
        raise ValueError(f"{info.dataset_id}/{info.resource_id} has no column {column!r}")
    mask = view.key_of_row >= 0
    filters = dict(filters or {})
    category = series.get("category")
    if category:
        wanted = filters.pop(category, None)
        if wanted is None and view.categories:
            wanted = view.categories[0]
        if wanted is not None:
            mask &= (frame[category].astype("string") == str(wanted)).fillna(False).to_numpy()
    for col, wanted in filters.items():
        if col not in frame.columns:
            raise ValueError(f"{info.dataset_id}/{info.resource_id}: cannot filter on {col!r}: no such column")
        mask &= (frame[col].astype("string") == str(wanted)).fillna(False).to_numpy()
    if view.years is not None:
        year = step.year if step is not None and step.year is not None else (
            view.year_list[-1] if view.year_list else None)
        if year is not None:
            mask &= view.years == float(year)
    values = _numeric(frame[column])
    rows = np.flatnonzero(mask & ~np.isnan(values))
    out = np.full(len(view.keys), np.nan)
    if len(rows):
        keys = view.key_of_row[rows]
        _, first = np.unique(keys, return_index=True)      # the first row of each place
        out[keys[first]] = values[rows[first]]
    return _round_all(out)


def layer_table(service, dataset_id: str, resource_id: str | None, values: list | None = None) -> pd.DataFrame:
    """Name, code and value of every feature, highest value first (the map's table view)."""
    loaded, info = _mappable(service, dataset_id, resource_id)
    rows = _feature_rows(service, loaded, info)
    names, codes = _labels(loaded, info, rows)
    vals = list(values) if values is not None else [None] * len(rows)
    if len(vals) != len(rows):
        raise ValueError(f"{dataset_id}: {len(vals)} values for {len(rows)} features")
    table = pd.DataFrame({"name": names, "code": codes,
                          "value": pd.array([np.nan if v is None else v for v in vals], dtype="Float64")})
    return table.sort_values("value", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Click: what is at a place
# ------------------------------------------------------------------------------------------------
@dataclass
class _Tree:
    tree: Any
    rows: np.ndarray              # frame position of each tree item
    projected: np.ndarray


def _tree(service, loaded, info: LayerInfo) -> _Tree:
    def build() -> _Tree:
        rows = _feature_rows(service, loaded, info)
        geoms = np.asarray(loaded.frame.geometry.values[rows], dtype=object)
        present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
        rows, geoms = rows[present], geoms[present]
        projected = _to_crs(geoms, WGS84, BNG) if len(geoms) else geoms
        return _Tree(shapely.STRtree(projected), rows, projected)

    return _memo(service, "trees").get(_key(loaded, "tree"), build)


def _hit_values(loaded, info: LayerInfo, row: int, variable: str | None) -> dict:
    frame = loaded.frame
    out: dict = {}
    text = _text_columns(frame)
    labels = [c for c in (info.name_column, info.code_column) if c]
    labels += [c for c in text if c not in labels and any(h in c.lower() for h in _TEXT_HINTS)]
    for column in labels:
        if len(out) >= 4:
            break
        value = _clean_label(frame[column].iloc[row])
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
    spec = {k: series.get(k) for k in ("key", "time", "category", "value")}
    spec["exclude"] = series.get("exclude") or {}
    view = _series_view(service, loaded, spec)
    rows = np.flatnonzero(view.key_of_row == feature)
    out: dict = {}
    first = int(view.first_rows[feature])
    for column in [series.get("key"), info.code_column]:
        if column and column in frame.columns:
            value = _clean_label(frame[column].iloc[first])
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
            loaded, info = _mappable(service, dataset_id, resource_id)
            step = _step_from(extra[0], info) if len(extra) > 0 else None
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
        rows_index = _feature_rows(service, loaded, info)
        names, codes = _labels(loaded, info, rows_index)
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
