"""Geometry encoded for the browser: geobuf and GeoJSON feature collections.

:func:`encode_geobuf` writes geobuf (https://github.com/mapbox/geobuf, ``geobuf.proto`` v3: what
dash-leaflet's ``GeoJSON(format="geobuf")`` and assets/canvas_layer.js decode) with numpy, every
coordinate of one family of geometries at once; :func:`encode_geojson` writes the same features as
GeoJSON text. Both take shapely geometries in EPSG:4326 and one property dict per feature, and keep
``precision`` decimal places of degrees. Nothing here knows about datasets or layers.
"""

from __future__ import annotations

import json
import struct
from typing import Iterable

import numpy as np
import shapely

__all__ = ["encode_geobuf", "encode_geojson"]

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


def encode_geobuf(geoms: np.ndarray, properties: list[dict], keys: list[str], precision: int) -> bytes:
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
