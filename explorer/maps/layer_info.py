"""What the map needs to know about a layer, computed once per (dataset, resource) and kept.

:func:`layer_info` describes a layer (:class:`LayerInfo`): its kind, the numeric variables worth
mapping (:mod:`explorer.maps.columns`), the unit, its time steps (:mod:`explorer.maps.time_steps`),
how a long table is read as one feature per place (``series``: :mod:`explorer.maps.series`), and
why a table cannot be mapped. :func:`mappable` loads a layer that can be drawn, with its info;
:func:`feature_rows` and :func:`feature_labels` give each feature's row, name and code.

What uses these: the layer's geometry (:mod:`explorer.maps.layer_geometry`), its values
(:mod:`explorer.maps.values`) and what is at a clicked place (:mod:`explorer.maps.hit_test`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import shapely

from explorer.labels.variables import resource_labels
from explorer.maps.columns import clean_label, code_column, mappable_variables, name_column
from explorer.maps.layer_memo import memo_key, memo_table
from explorer.maps.series import long_series_spec, series_spec, series_view, view_of
from explorer.maps.time_steps import TimeStep, column_steps, resource_steps

__all__ = ["LayerInfo", "NotMappable", "layer_info", "mappable", "feature_rows", "feature_labels",
           "CLUSTER_THRESHOLD", "CANVAS_THRESHOLD"]


CLUSTER_THRESHOLD = 2000     # point layers with more features are clustered in the browser
CANVAS_THRESHOLD = 1500      # polygon and line layers with more features are painted on one canvas:
                             # building thousands of SVG paths (one DOM node, listeners and a
                             # tooltip hook each) is what kept the LSOA map from showing sooner


class NotMappable(ValueError):
    """A dataset that loads but cannot be drawn (a table without geometry or joinable codes)."""

    def __init__(self, dataset_id: str, reason: str):
        self.dataset_id = dataset_id
        self.reason = reason
        super().__init__(f"{dataset_id}: {reason}")


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


def layer_info(service, dataset_id: str, resource_id: str | None = None) -> LayerInfo:
    """What the map needs to know about a layer. Raises DatasetError when it cannot load; a table
    that cannot be mapped comes back with ``error`` saying why."""
    loaded = service.load(dataset_id, resource_id)
    if _yearly_long_table(loaded):
        loaded = service.load(dataset_id, resource_id, join="long")
    info = memo_table(service, "info").get(memo_key(loaded, "info"), lambda: _build_info(service, loaded))
    return info


def mappable(service, dataset_id: str, resource_id: str | None):
    info = layer_info(service, dataset_id, resource_id)
    if info.error:
        raise NotMappable(dataset_id, info.error)
    loaded = service.load(dataset_id, info.resource_id, join=info.join)
    return loaded, info


def feature_rows(service, loaded, info: LayerInfo) -> np.ndarray:
    if info.series:
        return view_of(service, loaded, info.series).first_rows
    return np.arange(len(loaded.frame))


def feature_labels(loaded, info: LayerInfo, rows: np.ndarray) -> tuple[list, list]:
    frame = loaded.frame
    names = [clean_label(v) for v in frame[info.name_column].to_numpy()[rows]] \
        if info.name_column else [None] * len(rows)
    codes = [clean_label(v) for v in frame[info.code_column].to_numpy()[rows]] \
        if info.code_column else [None] * len(rows)
    return names, codes


def _unmappable_reason(loaded) -> str:
    if loaded.join_error:
        return f"This table cannot be mapped: {loaded.join_error}"
    if loaded.code_columns:
        cols = ", ".join(map(str, loaded.code_columns))
        return (f"This table has area codes ({cols}) but they could not be joined to any boundary "
                "set, so it cannot be mapped.")
    return ("This table has no geometry, no coordinates and no area codes (GSS codes) that match a "
            "boundary set, so it cannot be mapped.")


def _yearly_long_table(loaded) -> bool:
    """A table refused by the join only because each area repeats over the years of its declared
    ``year_column`` (LEGGI: one row per borough and year): the map shows it one year at a time."""
    year_column = (loaded.resource.options or {}).get("year_column")
    return bool(loaded.join_error and year_column and year_column in loaded.frame.columns
                and "long format" in loaded.join_error)


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
    long_series = long_series_spec(loaded, options)
    if long_series is not None:
        options["series"] = long_series
    series = series_spec(loaded, options)
    view = series_view(service, loaded, series) if series else None
    exclude = [options.get("year_column")]
    if series:
        exclude += [series.get("key"), series.get("time"), series.get("category")]
    variables = mappable_variables(frame, options, exclude)
    name_col = name_column(loaded, options, series)
    code_col = code_column(loaded, options)

    time_kind = None
    steps = resource_steps(entry, resource)
    if steps:
        time_kind = "resources"
    if not steps:
        steps = column_steps(variables, resource.id)
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
