"""A layer's numbers, apart from its geometry: switching variable or year moves only these.

:func:`values_payload` is the numbers of one variable (and year, and category) for every feature,
in feature (``_i``) order, rounded to 4 significant figures (:func:`round_sig`);
:func:`values_of_every_step` pools every year's, so class breaks mean the same in every year;
:func:`layer_table` is the map's table view (name, code and value of every feature).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from explorer.geo.joins import DatasetError
from explorer.maps.layer_info import LayerInfo, feature_labels, feature_rows, mappable
from explorer.maps.layer_memo import memo_key, memo_table
from explorer.maps.series import view_of
from explorer.maps.time_steps import TimeStep, sibling_variable, step_from

__all__ = ["values_payload", "values_of_every_step", "layer_table", "round_sig"]


def round_sig(value, figures: int = 4):
    """A number rounded to ``figures`` significant digits; None for missing or non-finite."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return _round_floats([v], figures)[0]


def _round_floats(floats: list, figures: int = 4) -> list:
    """:func:`round_sig` of each of a list of Python floats (the rule, in one tight loop)."""
    out = []
    append = out.append
    finite = math.isfinite
    fmt = f"%.{int(figures)}g"
    for v in floats:
        if not finite(v):
            append(None)
        elif v == 0:
            append(0)
        else:
            r = float(fmt % v)
            append(int(r) if r.is_integer() and abs(r) < 2 ** 53 else r)
    return out


def _round_all(values: np.ndarray) -> list:
    """:func:`round_sig` of every value. An array of floats has each distinct number rounded once:
    counts repeat (a layer's crimes over every month are 120,000 values of a few hundred numbers),
    and rounding is the slow part of a layer's first values (64 ms -> 9 ms for those)."""
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind != "f":
        return [round_sig(v) for v in values]
    distinct, where = np.unique(array, return_inverse=True)
    rounded = _round_floats(distinct.tolist())
    return [rounded[i] for i in where.tolist()]


def _numeric(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def values_payload(service, dataset_id: str, resource_id: str | None, variable: str | None,
                   step: TimeStep | dict | None = None, filters: dict | None = None) -> list:
    """The values of ``variable`` for every feature, in feature (``_i``) order, 4 significant
    digits, None for no data.

    ``step`` picks a year: another resource of the dataset (values are matched to this
    resource's features by area code), a year column, or the year of a long table. ``filters``
    ({column: value}) picks the category of a long table (``{"pollutant": "no2"}``); on other
    tables rows that do not match get None.
    """
    loaded, info = mappable(service, dataset_id, resource_id)
    step = step_from(step, info)
    key = memo_key(loaded, "values", variable, asdict(step) if step else None,
                   json.dumps(filters or {}, sort_keys=True, default=str))
    return memo_table(service, "values").get(
        key, lambda: _compute_values(service, loaded, info, variable, step, filters or {}))


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
            column = sibling_variable(variable, (loaded.resource.options or {}).get("year"), step,
                                       source.frame.columns)
        elif info.time_kind == "resources":
            column = sibling_variable(variable, (loaded.resource.options or {}).get("year"), step,
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
    view = view_of(service, loaded, series)
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
    loaded, info = mappable(service, dataset_id, resource_id)
    rows = feature_rows(service, loaded, info)
    names, codes = feature_labels(loaded, info, rows)
    vals = list(values) if values is not None else [None] * len(rows)
    if len(vals) != len(rows):
        raise ValueError(f"{dataset_id}: {len(vals)} values for {len(rows)} features")
    table = pd.DataFrame({"name": names, "code": codes,
                          "value": pd.array([np.nan if v is None else v for v in vals], dtype="Float64")})
    return table.sort_values("value", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
