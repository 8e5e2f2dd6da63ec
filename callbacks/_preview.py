"""Shared by the dataset page and the map page: load a dataset and build its preview."""

from __future__ import annotations

import re

from dash import html

from explorer.geo.joins import DatasetError, LoadedDataset
from explorer.labels.columns import JOIN_COLUMNS, distinct_columns
from explorer.labels.variables import resource_labels
from layouts import dataset as dataset_layout
from layouts import map_view
from explorer.maps.layers import SPATIAL_GEOGRAPHIES
from layouts.components import notice

ID_LIKE = ("code", "cd", "id", "rank", "decile", "objectid", "fid", "x_coord", "y_coord",
           "easting", "northing", "lat", "lon", "bng_", "shape_", "hectares")


def mappable_options(registry) -> list[dict]:
    options = []
    for entry in registry.all():
        if entry.smallest_geography in SPATIAL_GEOGRAPHIES:
            options.append({"label": entry.title, "value": entry.id})
    return options


PERIOD_RE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])?")


def choose_variable(loaded: LoadedDataset) -> str | None:
    """The column to colour by: the resource's hint, else a mean, else the first measure.

    Boundary sets are drawn as plain areas: their numeric columns (hectares, ids) are not data.
    """
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
    # one column per year or month (house prices 1995…2017, crime 202403…202603): the latest, as
    # the map's year slider starts; the earliest can be a part-period (crime's first month is empty)
    periods = [c for c in columns if PERIOD_RE.fullmatch(str(c))]
    if len(periods) >= 2:
        return max(periods, key=str)
    for col in columns:
        if not any(tok in col.lower() for tok in ID_LIKE):
            return col
    return None


def preview_style(services, loaded: LoadedDataset, variable: str | None, unit: str | None) -> dict:
    """The preview map's style, worked out as the map explorer works out a layer's first look
    (``callbacks.map_explorer.first_look``: the same values, palette family, classes fixed across
    the layer's years and legend labels), so a dataset looks the same on its page as when it is
    added to the map. A layer the map explorer cannot prepare is styled by the same rule
    (``classify.layer_style``) from the file's own values."""
    import pandas as pd

    from explorer.maps.classify import layer_style
    from explorer.maps.layers import LayerSpec

    from .map_explorer import first_look, layer_info_safe

    spec = LayerSpec(dataset=loaded.entry.id, resource=loaded.resource.id, variable=variable, uid="preview")
    if variable:
        info, error = layer_info_safe(services, spec)
        if error is None and info is not None and variable in info.variables:
            _, style, _ = first_look(services, spec, info)
            if style:
                return style
    values = None
    if variable:
        values = [None if pd.isna(v) else float(v)
                  for v in pd.to_numeric(loaded.frame[variable], errors="coerce").tolist()]
    style, _ = layer_style(loaded.kind, variable, spec.method, spec.classes, spec.palette, values,
                           pollutant=(loaded.resource.options or {}).get("pollutant"), unit=unit,
                           themes=loaded.entry.themes)
    return style


def join_notice(geography: dict | None):
    """The join's warnings as plain sentences, the join report's text folded under them (None
    when the join raised no warning)."""
    from explorer.labels.join import plain_join_warnings

    plain = plain_join_warnings(geography)
    if not plain:
        return None
    return notice([*(html.P(sentence, className="notice__text") for sentence in plain),
                   html.Details(className="notice__details", children=[
                       html.Summary("Technical detail"),
                       html.Ul([html.Li(str(w)) for w in geography.get("warnings") or []])])], "warning")


def build_preview(services, dataset_id: str, resource_id: str | None, map_id: str,
                  height: str = "420px") -> tuple[list, object, object]:
    """Return (preview children, source card, provenance panel) for a dataset."""
    from layouts.components import source_card

    try:
        loaded = services.data.load(dataset_id, resource_id)
    except DatasetError as exc:
        entry = services.registry.get(dataset_id)
        if exc.stage == "registry" and entry is not None and not entry.resources:
            # a catalogue record without files (many London Datastore entries): say what to do
            where = entry.upstream_url
            return [notice(["This catalogue entry lists no files we can open here. ",
                            html.A("Get the data from the publisher's page", href=where,
                                   target="_blank", rel="noopener noreferrer") if where else
                            "Ask the publisher for the data",
                            ". Everything the catalogue says about it is on this page."], "info")], None, None
        stage = {"resolve": "The file could not be found", "load": "The file could not be read",
                 "registry": "Not in the registry",
                 "access": "The files of this dataset are not open"}.get(exc.stage, "It could not be loaded")
        children = [html.Strong(stage + ". "), exc.reason]
        if entry is not None and entry.upstream_url and exc.stage in ("resolve", "load"):
            children += [" ", html.A("Get the data from the publisher's page", href=entry.upstream_url,
                                     target="_blank", rel="noopener noreferrer"), "."]
        return [notice(children, "error")], None, None
    summary = loaded.summary()
    labels = resource_labels(loaded.resource)     # the catalogue's human labels for the columns
    children: list = []
    if loaded.is_spatial and loaded.rows:
        variable = choose_variable(loaded) if loaded.kind == "polygons" else None
        unit = (loaded.resource.options or {}).get("unit") or loaded.entry.extras.get("unit")
        style = preview_style(services, loaded, variable, unit)
        hide = map_view.hideout(style)
        children.append(map_view.map_preview(map_id, dataset_id, loaded.resource.id, loaded.kind,
                                             variable, hide, summary.get("bounds"), loaded.rows, height))
        children.append(map_view.legend(style, variable, unit, loaded.kind, column_labels=labels))
        # a join that missed areas is said beside the map that has the holes, not far down the side:
        # in plain words, the join's own report one click away
        children.append(join_notice(summary.get("geography")))
    elif loaded.join_error:
        children.append(notice(f"Not mapped: {loaded.join_error}", "warning"))
    else:
        children.append(html.P("This dataset is a table without geography: no map to draw.", className="muted"))
    added = list(JOIN_COLUMNS)
    geography = summary.get("geography") or {}
    if geography.get("boundary_set"):
        try:
            bset = services.data.boundaries.get(geography["boundary_set"])
            added += [bset.code_column, bset.name_column]
        except (KeyError, ValueError, AttributeError):
            pass
    # each code and name column once (the join's, the boundary file's and the file's own agree)
    shown = distinct_columns(loaded.frame, added=added, preferred=labels)
    children.append(dataset_layout.data_table(loaded.preview(10)[[c for c in shown if c != "geometry"]],
                                              loaded.rows, labels=labels, added=JOIN_COLUMNS))
    card = source_card(loaded.entry, summary["provenance"], summary["geography"])
    return children, card, dataset_layout.provenance_panel(summary)
