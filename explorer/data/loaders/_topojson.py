"""A small TopoJSON decoder: shared arcs (optionally quantised and delta-encoded) → shapely.

TopoJSON stores each boundary line once, as an "arc"; a geometry lists the arcs it follows, a
negative index ``~i`` meaning arc ``i`` walked backwards. With a ``transform`` the arc positions are
integers, each one a difference from the previous position, scaled and translated back to
coordinates; point coordinates are quantised but not delta-encoded.

Why our own and not GDAL's TopoJSON driver (issue 14, tests/unit/test_topojson.py): on the real
TopoJSON files in the data folder GDAL gives the same frames, but on a file that is not clean it
drops a member with a null geometry without a word, turns an arc index past the end into an empty
shape, ignores a broken ``transform`` (reading quantised integers as coordinates), and cannot open
an object that is not a GeometryCollection by its name. This decoder refuses the broken ones naming
the object and member, keeps every member's row, and lets ``layer`` pick any object.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from explorer.data.loaders._base import LoadError


class _Decoder:
    def __init__(self, topology: dict, name: str):
        self.name = name
        transform = topology.get("transform")
        self.scale = self.translate = None
        if transform is not None:
            try:
                self.scale = np.asarray(transform["scale"], dtype=float)[:2]
                self.translate = np.asarray(transform["translate"], dtype=float)[:2]
            except (KeyError, TypeError, ValueError):
                raise LoadError(name, "TopoJSON 'transform' needs 'scale' and 'translate' pairs") from None
        raw_arcs = topology.get("arcs")
        if not isinstance(raw_arcs, list):
            raise LoadError(name, "TopoJSON without an 'arcs' list")
        self.arcs: list[np.ndarray] = []
        for i, arc in enumerate(raw_arcs):
            try:
                pts = np.array([p[:2] for p in arc], dtype=float).reshape(-1, 2)
            except (TypeError, ValueError, IndexError):
                raise LoadError(name, f"TopoJSON arc {i} is not a list of positions") from None
            if self.scale is not None:
                pts = np.cumsum(pts, axis=0) * self.scale + self.translate
            self.arcs.append(pts)

    # -- positions and arcs -------------------------------------------------------------------
    def position(self, pos) -> tuple[float, float]:
        x, y = float(pos[0]), float(pos[1])
        if self.scale is not None:
            x = x * self.scale[0] + self.translate[0]
            y = y * self.scale[1] + self.translate[1]
        return x, y

    def line(self, indexes, where: str) -> np.ndarray:
        pieces = []
        for index in indexes:
            try:
                index = int(index)
                arc = self.arcs[index] if index >= 0 else self.arcs[~index][::-1]
            except (IndexError, TypeError, ValueError):
                raise LoadError(self.name, f"{where} refers to arc {index!r}, but the topology has "
                                           f"{len(self.arcs)} arcs") from None
            # consecutive arcs share their joining position: keep it once
            pieces.append(arc[1:] if pieces else arc)
        return np.concatenate(pieces) if pieces else np.empty((0, 2))

    def ring(self, indexes, where: str):
        coords = self.line(indexes, where)
        if len(coords) and not np.array_equal(coords[0], coords[-1]):
            coords = np.vstack([coords, coords[:1]])
        return coords if len(coords) >= 4 else None  # quantisation can collapse tiny rings

    def polygon(self, rings, where: str):
        decoded = [self.ring(r, where) for r in rings]
        if not decoded or decoded[0] is None:
            return None
        return shapely.Polygon(decoded[0], [r for r in decoded[1:] if r is not None])

    # -- geometry objects ---------------------------------------------------------------------
    def geometry(self, obj: dict, where: str):
        if not isinstance(obj, dict):
            raise LoadError(self.name, f"{where} is not a TopoJSON geometry object")
        gtype = obj.get("type")
        arcs = obj.get("arcs")
        try:
            if gtype is None:
                return None
            if gtype == "Point":
                return shapely.Point(self.position(obj["coordinates"]))
            if gtype == "MultiPoint":
                return shapely.MultiPoint([self.position(p) for p in obj["coordinates"]])
            if gtype == "LineString":
                coords = self.line(arcs, where)
                return shapely.LineString(coords) if len(coords) >= 2 else None
            if gtype == "MultiLineString":
                lines = [self.line(a, where) for a in arcs]
                lines = [c for c in lines if len(c) >= 2]
                return shapely.MultiLineString(lines) if lines else None
            if gtype == "Polygon":
                return self.polygon(arcs, where)
            if gtype == "MultiPolygon":
                polys = [p for p in (self.polygon(rings, where) for rings in arcs) if p is not None]
                return shapely.MultiPolygon(polys) if polys else None
            if gtype == "GeometryCollection":
                members = [self.geometry(g, f"{where} member {i}")
                           for i, g in enumerate(obj.get("geometries") or [])]
                return shapely.GeometryCollection([m for m in members if m is not None])
        except (KeyError, TypeError):
            raise LoadError(self.name, f"{where} ({gtype}) is missing its arcs or coordinates") from None
        raise LoadError(self.name, f"{where} has an unknown geometry type {gtype!r}")


def decode_topology(topology: dict, name: str, layer: str | None = None):
    """Decode one object of a TopoJSON topology.

    Returns (GeoDataFrame without CRS, object name, list of all object names). A top-level
    GeometryCollection gives one row per member; each row carries the member's ``properties`` and
    its ``id`` (as column ``id`` unless a property already has that name).
    """
    objects = topology.get("objects")
    if not isinstance(objects, dict) or not objects:
        raise LoadError(name, "TopoJSON without any objects")
    names = list(objects)
    if layer is not None:
        if str(layer) not in objects:
            raise LoadError(name, f"no TopoJSON object {layer!r}; it has {', '.join(map(repr, names))}",
                            layer=str(layer))
        chosen = str(layer)
    else:
        chosen = names[0]
    decoder = _Decoder(topology, name)
    obj = objects[chosen]
    if isinstance(obj, dict) and obj.get("type") == "GeometryCollection":
        members = obj.get("geometries") or []
    else:
        members = [obj]
    records, geoms = [], []
    for i, member in enumerate(members):
        where = f"object {chosen!r} geometry {i}"
        geoms.append(decoder.geometry(member, where))
        props = member.get("properties") if isinstance(member, dict) else None
        record = dict(props) if isinstance(props, dict) else {}
        if isinstance(member, dict) and "id" in member and "id" not in record:
            record = {"id": member["id"], **record}
        records.append(record)
    frame = gpd.GeoDataFrame(records, geometry=gpd.GeoSeries(geoms), crs=None)
    if not records or not any(records):
        frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms), crs=None)
    return frame, chosen, names
