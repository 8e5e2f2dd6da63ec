"""A layer's geometry, once, by URL (``/geo/<dataset>/<resource>.pbf``).

:func:`geometry_payload` prepares the layer's features for a screen (:mod:`explorer.geo.prepare`:
simplified in British National Grid metres, rounded to what a screen shows) and encodes them as
geobuf (what dash-leaflet's ``GeoJSON(format="geobuf")`` and assets/canvas_layer.js decode) or
GeoJSON (:mod:`explorer.geo.geobuf`). Each feature carries only ``_i`` (its index: the position
of its value in :func:`explorer.maps.values.values_payload`), ``_name`` and ``_code`` (when it has
them). :func:`payload_key` is the payload's cache key, from the registry entry alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.data.cache import cache_key
from explorer.geo.geobuf import encode_geobuf, encode_geojson
from explorer.geo.joins import DatasetError
from explorer.geo.prepare import PRECISION, PreparedGeometry, prepare_geometry
from explorer.maps.layer_info import LayerInfo, feature_labels, feature_rows, mappable
from explorer.maps.layer_memo import memo_key, memo_table
from explorer.data.geo_reference import GSS_RE

__all__ = ["PAYLOAD_VERSION", "geometry_payload", "payload_key"]


PAYLOAD_VERSION = 2          # bump when the geometry payload changes for the same data
_GSS = GSS_RE


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


@dataclass
class _Prepared:
    geometry: PreparedGeometry    # the features' shapes, ready to encode
    names: list
    codes: list


def _prepare(service, loaded, info: LayerInfo) -> _Prepared:
    rows = feature_rows(service, loaded, info)
    names, codes = feature_labels(loaded, info, rows)
    if info.cluster and not all(c is None or _GSS.match(c) for c in codes[:200]):
        codes = [None] * len(codes)      # ids of 50k points are not worth their bytes; areas' are
    geoms = np.asarray(loaded.frame.geometry.values[rows], dtype=object) if len(rows) else np.empty(0, object)
    return _Prepared(prepare_geometry(geoms, info.kind, info.dataset_id), names, codes)


def _prepared(service, loaded, info: LayerInfo) -> _Prepared:
    return memo_table(service, "geometry").get(memo_key(loaded, "geometry", PRECISION),
                                               lambda: _prepare(service, loaded, info))


def geometry_payload(service, dataset_id: str, resource_id: str | None = None, fmt: str = "geobuf") -> bytes:
    """The layer's geometry as geobuf (``fmt="geobuf"``) or GeoJSON bytes.

    One feature per row of the loaded frame (per place for long tables), in row order; rows
    without geometry have no feature. Properties: ``_i`` (row index = position in
    :func:`values_payload`), ``_name``, ``_code`` (each left out when the feature has none);
    nothing else.
    """
    if fmt not in ("geobuf", "geojson"):
        raise ValueError(f"unknown geometry format {fmt!r}; use 'geobuf' or 'geojson'")
    loaded, info = mappable(service, dataset_id, resource_id)
    prepared = _prepared(service, loaded, info)
    index = [i for i, g in enumerate(prepared.geometry.geoms) if g is not None]
    geoms = prepared.geometry.geoms[index] if index else np.empty(0, dtype=object)
    # A missing name or code is left out rather than sent as null: geobuf carries a null as JSON
    # text that the browser parses once per feature (52k times for the points of interest).
    props = [{k: v for k, v in (("_i", i), ("_name", prepared.names[i]), ("_code", prepared.codes[i]))
              if v is not None} for i in index]
    if fmt == "geojson":
        return encode_geojson(geoms, props, prepared.geometry.precision)
    return encode_geobuf(geoms, props, ["_i", "_name", "_code"], prepared.geometry.precision)
