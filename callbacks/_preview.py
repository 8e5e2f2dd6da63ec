"""The dataset page's preview: load the chosen file and gather what the preview shows (its first
rows, and its map drawn by the map explorer's own pipeline); ``layouts/dataset.py`` draws it.

The map is the layer the map explorer would add for this file: the same layer info
(``explorer.maps.layer_look.layer_info_safe``), values, classes, palette and legend
(``callbacks.map_explorer.first_look``), drawn by the same component (``layouts.map_explorer``:
geometry once by URL, a big layer on our canvas), so a dataset looks the same on its page as on
the map. A file the map explorer cannot prepare says why, as the map explorer does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.geo.joins import DatasetError, LoadedDataset
from explorer.labels.columns import JOIN_COLUMNS, distinct_columns
from explorer.labels.variables import resource_labels
from explorer.maps.layer_look import choose_variable, layer_info_safe
from explorer.maps.layers import LayerSpec
from layouts import dataset as dataset_layout

PREVIEW_ROWS = 10


@dataclass
class PreviewLayer:
    """The preview's map layer, as the map explorer prepares it."""
    spec: LayerSpec
    info: object                 # explorer.maps.layer_info.LayerInfo
    look: tuple                  # (values store, style, legend) of callbacks.map_explorer.first_look
    bounds: list | None          # [minx, miny, maxx, maxy] of the data
    rows: int


@dataclass
class Preview:
    """What the preview of one file shows (``layouts.dataset.preview`` draws it)."""
    dataset_id: str
    entry: object = None                 # the registry entry (None when not in the registry)
    error: DatasetError | None = None    # the file could not be loaded
    loaded: LoadedDataset | None = None
    summary: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)   # the catalogue's human labels of the columns
    layer: PreviewLayer | None = None
    map_note: str | None = None          # why a map is not drawn, when it is not
    table: object = None                 # the first rows, each code and name column once
    added: tuple = tuple(JOIN_COLUMNS)   # columns the loader added (not in the file)


def preview_layer(services, loaded: LoadedDataset, bounds: list | None) -> tuple[PreviewLayer | None, str | None]:
    """(the file's map layer as the map explorer prepares it, None) or (None, why it cannot be)."""
    from .map_explorer import first_look

    variable = choose_variable(loaded) if loaded.kind == "polygons" else None
    spec = LayerSpec(dataset=loaded.entry.id, resource=loaded.resource.id, variable=variable,
                     uid=f"preview-{loaded.entry.id}-{loaded.resource.id}")
    info, error = layer_info_safe(services, spec)
    if error or info is None:
        return None, f"Not mapped: {error or 'the map could not be prepared.'}"
    if spec.variable not in info.variables:
        spec.variable = None
    look = first_look(services, spec, info)
    return PreviewLayer(spec=spec, info=info, look=look, bounds=bounds, rows=loaded.rows), None


def preview_data(services, dataset_id: str, resource_id: str | None) -> Preview:
    """Load the file and gather its preview; a file that cannot be loaded carries why."""
    try:
        loaded = services.data.load(dataset_id, resource_id)
    except DatasetError as exc:
        return Preview(dataset_id=dataset_id, entry=services.registry.get(dataset_id), error=exc)
    summary = loaded.summary()
    labels = resource_labels(loaded.resource)
    layer, note = None, None
    if loaded.is_spatial and loaded.rows:
        layer, note = preview_layer(services, loaded, summary.get("bounds"))
    elif loaded.join_error:
        note = f"Not mapped: {loaded.join_error}"
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
    table = loaded.preview(PREVIEW_ROWS)[[c for c in shown if c != "geometry"]]
    return Preview(dataset_id=dataset_id, entry=loaded.entry, loaded=loaded, summary=summary, labels=labels,
                   layer=layer, map_note=note, table=table)


def preview_answer(services, dataset_id: str, resource_id: str | None, map_id: str,
                   height: str = "420px") -> tuple[tuple[list, object, object], bool]:
    """((preview children, source card, provenance panel), whether the file was loaded)."""
    data = preview_data(services, dataset_id, resource_id)
    return dataset_layout.preview(map_id, data, height), data.error is None


def build_preview(services, dataset_id: str, resource_id: str | None, map_id: str,
                  height: str = "420px") -> tuple[list, object, object]:
    """(preview children, source card, provenance panel) for a dataset's file."""
    return preview_answer(services, dataset_id, resource_id, map_id, height)[0]
