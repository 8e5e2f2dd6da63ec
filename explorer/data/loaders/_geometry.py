"""CRS recognition and geometry normalisation shared by every geo reader."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from explorer.data.loaders._base import LoadError, count
from explorer.data.geo_reference import BNG, BNG_EPSG

WGS84 = "EPSG:4326"
AREA_CRS = BNG

# A generous box around Great Britain (Scilly to Shetland, St Kilda to Lowestoft) in lon/lat.
# The British National Grid false origin (0/0 metres ≈ 49.7668 N, 7.5572 W) lies outside it,
# which is what catches the usual "0/0" placeholder once it has been converted to lon/lat.
GB_LONLAT = (-9.0, 49.8, 2.1, 61.0)
# The extent of the British National Grid itself, in metres.
BNG_RANGE = (0.0, 0.0, 700_000.0, 1_300_000.0)

_FAMILIES = {
    "Point": "points", "MultiPoint": "points",
    "LineString": "lines", "MultiLineString": "lines", "LinearRing": "lines",
    "Polygon": "polygons", "MultiPolygon": "polygons",
}
_TYPE_ORDER = ("Point", "MultiPoint", "LineString", "LinearRing", "MultiLineString", "Polygon",
               "MultiPolygon", "GeometryCollection")
_KNOWN_EPSG = (BNG_EPSG, 4326, 4258, 4277, 3857, 32630, 32631)


# ---------------------------------------------------------------------------------------------
# CRS
def parse_crs(value: object, name: str) -> CRS:
    """A CRS from an option value ("EPSG:27700", 27700, "bng", a WKT/PROJ string)."""
    text = str(value).strip()
    aliases = {"bng": BNG, "osgb": BNG, "osgb36": BNG, "british national grid": BNG,
               "wgs84": WGS84, "lonlat": WGS84, "lon/lat": WGS84, "crs84": "OGC:CRS84"}
    text = aliases.get(text.lower(), text)
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise LoadError(name, f"the crs option {str(value)[:60]!r} is not a coordinate reference "
                              f"system ({exc})") from None


def crs_label(crs: object) -> str | None:
    """'EPSG:xxxx' for a CRS when one EPSG code is equivalent; else its name.

    Files often carry an unnamed definition of a well-known CRS (MapInfo TAB writes British
    National Grid as an anonymous OSGB36 Transverse Mercator): such a definition is matched to its
    EPSG code by pyproj's identification, then by equivalence with a few common codes.
    """
    if crs is None:
        return None
    if not isinstance(crs, CRS):
        crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    if epsg:
        return f"EPSG:{epsg}"
    for code in _KNOWN_EPSG:
        if crs.equals(CRS.from_epsg(code), ignore_axis_order=True):
            return f"EPSG:{code}"
    epsg = crs.to_epsg(min_confidence=25)
    if epsg:
        return f"EPSG:{epsg}"
    authority = crs.to_authority(min_confidence=25)
    if authority:
        return ":".join(authority)
    return crs.name or crs.to_string()


def is_lonlat_wgs84(crs: CRS | None) -> bool:
    """True for EPSG:4326 and OGC:CRS84 (same datum, either axis order)."""
    if crs is None:
        return False
    return crs.to_epsg() == 4326 or crs.equals(CRS.from_epsg(4326), ignore_axis_order=True)


def looks_lonlat(bounds) -> bool:
    minx, miny, maxx, maxy = bounds
    return bool(np.isfinite(bounds).all() and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90)


def looks_bng(bounds) -> bool:
    minx, miny, maxx, maxy = bounds
    x0, y0, x1, y1 = BNG_RANGE
    return bool(np.isfinite(bounds).all() and x0 <= minx <= maxx <= x1 and y0 <= miny <= maxy <= y1
                and not looks_lonlat(bounds))


def guess_crs(bounds) -> str | None:
    """EPSG:4326 for coordinates within ±180/±90, EPSG:27700 for BNG metres, else None."""
    if looks_lonlat(bounds):
        return WGS84
    if looks_bng(bounds):
        return BNG
    return None


def _fmt_bounds(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


# ---------------------------------------------------------------------------------------------
# Geometry
def present_mask(geoms: gpd.GeoSeries) -> np.ndarray:
    """True where a geometry is neither missing nor empty."""
    values = np.asarray(geoms.values)
    return ~(shapely.is_missing(values) | shapely.is_empty(values))


def geometry_type(frame) -> str | None:
    """'Polygon', 'Point' …; mixed types joined by '/' (e.g. 'Polygon/MultiPolygon'); None when
    the frame has no geometry."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        return None
    geoms = frame.geometry
    present = geoms[present_mask(geoms)]
    if present.empty:
        return None
    types = set(present.geom_type.unique())
    ordered = [t for t in _TYPE_ORDER if t in types] + sorted(types.difference(_TYPE_ORDER))
    return "/".join(ordered)


def kind_of(geoms: gpd.GeoSeries) -> str:
    """'points' | 'lines' | 'polygons': the geometry family most features have."""
    present = geoms[present_mask(geoms)]
    if present.empty:
        return "polygons"
    families = present.geom_type.map(lambda t: _FAMILIES.get(t, "other")).value_counts()
    families = families.drop("other", errors="ignore")
    if families.empty:  # only geometry collections: look inside them
        parts = shapely.get_parts(np.asarray(present.values))
        types = pd.Series(shapely.get_type_id(parts))
        # 0 point, 1 line, 2 ring, 3 polygon, 4 multipoint, 5 multiline, 6 multipolygon
        fam = types.map({0: "points", 4: "points", 1: "lines", 2: "lines", 5: "lines",
                         3: "polygons", 6: "polygons"}).value_counts()
        return str(fam.index[0]) if not fam.empty else "polygons"
    return str(families.index[0])


def _keep_family(geom, family: str):
    """The parts of ``geom`` of one family (after make_valid a polygon may come back as a
    collection holding lines or points as well); None when nothing is left."""
    if geom is None or geom.is_empty:
        return None
    if _FAMILIES.get(geom.geom_type) == family:
        return geom
    parts = []
    stack = list(shapely.get_parts(geom))
    while stack:
        part = stack.pop(0)
        if part.geom_type == "GeometryCollection" or part.geom_type.startswith("Multi"):
            stack.extend(shapely.get_parts(part))
        elif _FAMILIES.get(part.geom_type) == family and not part.is_empty:
            parts.append(part)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    if family == "polygons":
        return shapely.MultiPolygon(parts)
    if family == "lines":
        return shapely.MultiLineString(parts)
    return shapely.MultiPoint(parts)


def finalise_geo(gdf: gpd.GeoDataFrame, name: str, transformations: list[str],
                 options: dict | None = None) -> tuple[gpd.GeoDataFrame, str, str | None]:
    """Give a geo frame a known CRS, drop empty geometry, repair invalid geometry and reproject
    to EPSG:4326. Returns (frame, kind, source_crs label)."""
    options = options or {}
    present = present_mask(gdf.geometry)
    bounds = (tuple(float(v) for v in gdf.loc[present].total_bounds) if present.any()
              else (np.nan,) * 4)

    # 1. a CRS we can trust
    crs = gdf.crs
    if crs is None:
        if options.get("crs"):
            crs = parse_crs(options["crs"], name)
            transformations.append(f"the file declares no CRS; used {crs_label(crs)} from the "
                                   "crs option")
        elif not present.any():
            crs = CRS.from_epsg(4326)
        else:
            guess = guess_crs(bounds)
            if guess is None:
                raise LoadError(name, "unknown CRS: the file declares none and its coordinates "
                                      f"{_fmt_bounds(bounds)} are neither longitude/latitude nor "
                                      "British National Grid metres (give the crs option)")
            crs = CRS.from_user_input(guess)
            what = ("longitude/latitude" if guess == WGS84
                    else "British National Grid metres")
            transformations.append(f"the file declares no CRS; coordinates look like {what}: "
                                   f"assumed {guess}")
        gdf = gdf.set_crs(crs, allow_override=True)
    elif crs.is_geographic and present.any() and not looks_lonlat(bounds):
        # e.g. a GeoJSON in metres without a "crs" member: GDAL reports the GeoJSON default
        declared = crs_label(crs)
        if options.get("crs"):
            crs = parse_crs(options["crs"], name)
        elif looks_bng(bounds):
            crs = CRS.from_epsg(BNG_EPSG)
        else:
            raise LoadError(name, f"the declared CRS {declared} is in degrees but the coordinates "
                                  f"{_fmt_bounds(bounds)} are not (give the crs option)")
        transformations.append(f"the declared CRS {declared} does not fit coordinates in metres; "
                               f"treated as {crs_label(crs)}")
        gdf = gdf.set_crs(crs, allow_override=True)
    elif crs.is_projected and present.any() and looks_lonlat(bounds):
        # e.g. a GeoJSON whose "crs" member says EPSG:27700 over longitude/latitude: reprojecting
        # them as metres would put every feature within a few hundred metres of the grid's origin
        declared = crs_label(crs)
        crs = parse_crs(options["crs"], name) if options.get("crs") else CRS.from_epsg(4326)
        transformations.append(f"warning: the file declares {declared} (metres) but its "
                               f"coordinates {_fmt_bounds(bounds)} are longitude/latitude; read "
                               f"them as {crs_label(crs)}")
        gdf = gdf.set_crs(crs, allow_override=True)
    source_crs = crs_label(gdf.crs)

    # 2. drop missing and empty geometry
    if not present.all():
        dropped = int((~present).sum())
        gdf = gdf.loc[present]
        transformations.append(f"dropped {count(dropped, 'row')} with missing or empty geometry")
    if shapely.has_z(np.asarray(gdf.geometry.values)).any():
        gdf = gdf.set_geometry(shapely.force_2d(np.asarray(gdf.geometry.values)), crs=gdf.crs)
        transformations.append("dropped Z coordinates (kept x/y)")

    kind = kind_of(gdf.geometry)

    # 3. repair invalid geometry (in the source CRS, before any reprojection)
    values = np.asarray(gdf.geometry.values)
    invalid = ~shapely.is_valid(values)
    if invalid.any():
        repaired = shapely.make_valid(values[invalid])
        repaired = np.array([_keep_family(g, kind) for g in repaired], dtype=object)
        values = values.copy()
        values[invalid] = repaired
        gdf = gdf.set_geometry(gpd.GeoSeries(values, index=gdf.index, crs=gdf.crs))
        transformations.append(f"repaired {count(int(invalid.sum()), 'invalid geometry', 'invalid geometries')}"
                               " (shapely.make_valid" + (", kept polygonal parts)" if kind == "polygons" else ")"))
        lost = pd.isna(repaired) | shapely.is_empty(repaired)
        if lost.any():
            gdf = gdf.loc[present_mask(gdf.geometry)]
            transformations.append(f"dropped {count(int(lost.sum()), 'row')} whose geometry was "
                                   "empty after repair")

    # 4. EPSG:4326 for display
    if is_lonlat_wgs84(gdf.crs):
        if gdf.crs.to_epsg() != 4326:
            gdf = gdf.set_crs(WGS84, allow_override=True)
    else:
        gdf = gdf.to_crs(WGS84)
        transformations.append(f"reprojected {source_crs} → {WGS84}")
    return gdf, kind, source_crs


def to_area_crs(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame in British National Grid (EPSG:27700, metres) for area and length sums."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise ValueError("to_area_crs needs a GeoDataFrame with a CRS")
    return frame.to_crs(AREA_CRS)
