"""A map layer's description and style, as every map draws it: the map explorer, the theme pages'
maps and the dataset page's preview.

``layer_info_safe`` prepares a layer (its kind, variables, time steps, unit) or says in words why it
cannot be; ``style_for`` works out its classes, colours and legend labels from its values with the
one rule of :func:`explorer.maps.classify.layer_style`. Nothing here builds components: the legend
and the layer itself are drawn by ``layouts/map_explorer.py``. ``choose_variable`` picks the column
a dataset's first look is coloured by.
"""

from __future__ import annotations

import logging

from explorer.geo.joins import DatasetError
from explorer.maps.layers import LayerSpec
from explorer.maps.time_steps import column_steps

log = logging.getLogger(__name__)


def layer_info_safe(services, spec: LayerSpec):
    """(info, error): a layer that cannot load gets its reason, the others go on."""
    from explorer.maps.layer_info import layer_info

    try:
        info = layer_info(services.data, spec.dataset, spec.resource)
    except DatasetError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - one broken layer must not break the map
        log.exception("layer %s failed", spec.dataset)
        return None, f"{spec.dataset} could not be prepared for the map ({type(exc).__name__})."
    return info, info.error


def style_for(services, meta: dict, variable, method, classes, palette, values) -> dict:
    """A layer's style (mode, breaks, colours, legend labels) from its values, for the layer ``meta``
    describes (its dataset, kind, unit and filter)."""
    from explorer.maps.classify import layer_style

    entry = services.registry.get(meta.get("dataset")) if meta.get("dataset") else None
    style, _ = layer_style(meta.get("kind"), variable, method, classes, palette, values,
                           pollutant=(meta.get("filter") or {}).get("pollutant") or meta.get("pollutant"),
                           unit=meta.get("unit"), themes=entry.themes if entry else ())
    return style


# ------------------------------------------------------------------ a dataset's first variable
ID_LIKE = ("code", "cd", "id", "rank", "decile", "objectid", "fid", "x_coord", "y_coord",
           "easting", "northing", "lat", "lon", "bng_", "shape_", "hectares")


def choose_variable(loaded) -> str | None:
    """The column a loaded dataset's first look is coloured by (the dataset page's preview): the
    resource's hint, else a mean, else the latest period, else the first measure.

    Boundary sets are drawn as plain areas: their numeric columns (hectares, ids) are not data."""
    options = loaded.resource.options or {}
    hint = options.get("variable") or options.get("value_column")
    columns = loaded.numeric_columns()
    if hint in columns:
        return hint
    if loaded.geography is None and "boundaries" in loaded.entry.themes:
        return None
    preferred = [c for c in columns if c.lower().endswith("-mean") or c.lower().endswith("_mean")]
    if preferred:
        return preferred[0]
    # one column per year or month (crime 202403…202603, house prices "Year ending Dec 1995"…,
    # household income HHI_median_2001…): the latest, as the map's year slider starts (the same
    # time steps); the earliest can be a part-period (crime's first month is empty)
    by_name = {str(c): c for c in columns}
    steps = column_steps(list(by_name), loaded.resource.id)
    if len(steps) >= 2 and steps[-1].variable in by_name:
        return by_name[steps[-1].variable]
    for col in columns:
        if not any(tok in col.lower() for tok in ID_LIKE):
            return col
    return None
