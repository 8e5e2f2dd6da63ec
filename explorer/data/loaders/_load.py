"""``load_file``: pick the reader for a file, folder or archive member and normalise its result."""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from explorer.catalogue.models import Resource, guess_format
from explorer.data.loaders._base import LoadError, Loaded, count
from explorer.data.loaders._geometry import finalise_geo
from explorer.data.loaders._safety import check_file_container, check_path, check_vector_content, head_of
from explorer.data.loaders._spreadsheet import (SPREADSHEET_FORMATS, is_spreadsheet_zip, published_table, read_spreadsheet,
                           spreadsheet_kind)
from explorer.data.loaders._tables import (
    GZIP_MAGIC,
    find_wkt_column,
    geometry_from_wkt,
    json_table,
    parse_json,
    points_from_columns,
    read_delimited,
    tidy_frame,
)
from explorer.data.loaders._topojson import decode_topology
from explorer.data.loaders._vector import FORMAT_NAMES, check_sidecars, read_vector

GDAL_FORMATS = {"shp", "gpkg", "tab", "flatgeobuf", "kml", "gml", "mif"}
TEXT_FORMATS = {"csv", "tsv", "txt"}
JSON_FORMATS = {"json", "geojson", "topojson"}
# Which file of a folder or archive to read when none is named: geography first.
_PRIORITY = ("gpkg", "shp", "tab", "geojson", "topojson", "flatgeobuf", "kml", "gml", "mif",
             "csv", "tsv", "json", "xlsx", "ods", "xls", "parquet")
_ALIASES = {
    "shapefile": "shp", "esri shapefile": "shp", "shape": "shp", "geopackage": "gpkg",
    "mapinfo": "tab", "mapinfo tab": "tab", "geo+json": "geojson", "application/geo+json": "geojson",
    "application/json": "json", "text/csv": "csv", "spreadsheet": "xlsx", "excel": "xlsx", "xlsm": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "fgb": "flatgeobuf", "topo.json": "topojson", "tab-separated": "tsv", "csv.gz": "csv",
    "geojson.gz": "geojson", "json.gz": "json", "tsv.gz": "tsv", "application/zip": "zip",
}


@dataclass
class _Source:
    """One readable thing: a file on disk or a member of a zip archive."""

    label: str             # what messages call it: "x.csv" or "archive.zip!folder/x.csv"
    gdal_path: str         # path GDAL opens (with /vsizip/, /vsigzip/ as needed)
    path: Path | None = None
    archive: zipfile.ZipFile | None = None
    member: str | None = None

    def read_bytes(self) -> bytes:
        try:
            if self.archive is not None:
                return self.archive.read(self.member)
            return self.path.read_bytes()
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise LoadError(self.label, f"cannot read the file: {exc}") from None

    def head(self, n: int = 16) -> bytes:
        if self.archive is not None:
            with self.archive.open(self.member) as fh:
                return fh.read(n)
        with open(self.path, "rb") as fh:
            return fh.read(n)


def normalise_format(fmt: str | None) -> str:
    text = (fmt or "").strip().lower().lstrip(".")
    return _ALIASES.get(text, text)


def load_file(path: Path, resource: Resource | None = None, *, options: dict | None = None) -> Loaded:
    """Read a file (or folder, or zip archive) into a normalised frame.

    ``options`` (merged over ``resource.options``) may carry: sep, encoding, layer, x, y, crs, wkt,
    thousands, skiprows, sheet, code_column; other keys are ignored. Geometry comes back in
    EPSG:4326; ``transformations`` lists every step in words.
    """
    path = Path(path)
    opts: dict = {}
    if resource is not None and resource.options:
        opts.update(resource.options)
    if options:
        opts.update(options)
    fmt = normalise_format(resource.format if resource is not None else "") or guess_format(path.name)
    member = resource.archive_member if resource is not None else None
    transformations: list[str] = []
    label = path.name or str(path)
    try:
        check_path(path, label)
        if not path.exists():
            raise LoadError(label, f"file not found: {path}")
        if path.is_dir():
            return _load_folder(path, opts, transformations)
        check_file_container(path, label)   # zip, kmz, xlsx, nested zips, gzip: bounded first
        if (member or fmt == "zip") and not _is_zip(path):
            # the resolver stores the member it extracted: read it as the file it is
            member = None
            fmt = guess_format(path.name) or ""
        if member or (fmt == "zip" or path.suffix.lower() == ".zip" or (
                fmt not in SPREADSHEET_FORMATS and _is_zip(path))) and not is_spreadsheet_zip(path):
            return _load_zip(path, member, fmt if fmt != "zip" else "", opts, transformations)
        source = _Source(label=label, gdal_path=str(path), path=path)
        if not fmt or fmt == "zip":
            fmt = spreadsheet_kind(path) or _sniff_format(source)
        if fmt in ("shp", "tab"):
            present = {p.name.lower() for p in path.parent.iterdir()}
            check_sidecars(path.name, present, fmt, label)
        return _load_source(source, fmt, opts, transformations)
    except LoadError:
        raise
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # the contract: a LoadError naming the file, never a raw traceback
        raise LoadError(label, f"cannot read ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------------------------------------
def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _sniff_format(source: _Source) -> str:
    head = source.head(64)
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    if head.startswith(GZIP_MAGIC):
        return "json" if source.label.lower().endswith(("json.gz",)) else "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "json"
    if head.startswith(b"%PDF"):
        return "pdf"
    return "csv"


def _choose(names: list[str], opts: dict, where: str, transformations: list[str]) -> str:
    """The file of a folder or archive to read: the ``layer`` option (file name or stem), else
    the first of the most geographic format present."""
    loadable = [n for n in names if guess_format(n) in _PRIORITY]
    if not loadable:
        raise LoadError(where, "holds no file in a format the explorer reads "
                               f"({', '.join(sorted(set(_PRIORITY)))})")
    wanted = opts.get("layer")
    if wanted not in (None, ""):
        text = str(wanted).lower()
        for n in loadable:
            base = n.rsplit("/", 1)[-1].lower()
            if text in (n.lower(), base, base.rsplit(".", 1)[0]):
                return n
    for fmt in _PRIORITY:
        group = sorted(n for n in loadable if guess_format(n) == fmt)
        if group:
            chosen = group[0]
            if len(loadable) > 1:
                transformations.append(f"{where} holds {count(len(loadable), 'readable file')}; "
                                       f"read {chosen.rsplit('/', 1)[-1]} (the layer option picks "
                                       "another)")
            return chosen
    raise AssertionError("unreachable")


def _load_folder(folder: Path, opts: dict, transformations: list[str]) -> Loaded:
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()
             and not any(part.startswith(".") or part == "__MACOSX" for part in p.relative_to(folder).parts)]
    names = [p.relative_to(folder).as_posix() for p in files]
    chosen = _choose(names, opts, folder.name + "/", transformations)
    inner_opts = dict(opts)
    if str(opts.get("layer", "")).lower() in (chosen.lower(), chosen.rsplit("/", 1)[-1].lower(),
                                              chosen.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()):
        inner_opts.pop("layer")  # it named the file, not a layer inside it
    loaded = load_file(folder / chosen, options=inner_opts)
    loaded.transformations[:0] = transformations
    return loaded


def _load_zip(path: Path, member: str | None, fmt_hint: str, opts: dict,
              transformations: list[str]) -> Loaded:
    label = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(label, f"not a readable zip archive ({exc})") from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")
                 and not any(part.startswith(".") or part == "__MACOSX" for part in n.split("/"))]
        if member:
            if member not in names:
                raise LoadError(label, f"the archive has no member {member!r}; it holds "
                                       f"{', '.join(names[:10])}{' …' if len(names) > 10 else ''}")
            chosen = member
        else:
            chosen = _choose(names, opts, label, transformations)
            if str(opts.get("layer", "")).lower() in (chosen.lower(), chosen.rsplit("/", 1)[-1].lower(),
                                                      chosen.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()):
                opts = {k: v for k, v in opts.items() if k != "layer"}
        fmt = guess_format(chosen) or fmt_hint
        source = _Source(label=f"{label}!{chosen}", gdal_path=f"/vsizip/{path.resolve()}/{chosen}",
                         archive=archive, member=chosen)
        if not fmt:
            fmt = _sniff_format(source)
        if fmt in ("shp", "tab"):
            folder = chosen.rsplit("/", 1)[0] + "/" if "/" in chosen else ""
            present = {n[len(folder):].lower() for n in names if n.startswith(folder)
                       and "/" not in n[len(folder):]}
            check_sidecars(chosen.rsplit("/", 1)[-1], present, fmt, source.label)
        return _load_source(source, fmt, opts, transformations)


# ---------------------------------------------------------------------------------------------
def _load_source(source: _Source, fmt: str, opts: dict, transformations: list[str]) -> Loaded:
    label = source.label
    if fmt in TEXT_FORMATS:
        frame = read_delimited(source.read_bytes(), label, fmt, opts, transformations)
        if opts.get("published_table"):
            frame = published_table(frame, label, opts, transformations)
        return _from_table(frame, label, opts, transformations)
    if fmt in JSON_FORMATS:
        return _load_json(source, fmt, opts, transformations)
    if fmt in GDAL_FORMATS:
        return _from_vector(source, fmt, opts, transformations)
    if fmt in SPREADSHEET_FORMATS:
        # a file on disk was bounded by load_file already; a member's bytes are checked here
        frame = read_spreadsheet(source.path if source.archive is None else source.read_bytes(),
                                 label, opts, transformations, checked=source.archive is None)
        return _from_table(frame, label, opts, transformations)
    if fmt == "parquet":
        try:
            frame = gpd.read_parquet(io.BytesIO(source.read_bytes()))
        except (ImportError, ValueError):
            try:
                frame = pd.read_parquet(io.BytesIO(source.read_bytes()))
            except ImportError:
                raise LoadError(label, "reading Parquet needs pyarrow (pip install pyarrow)") from None
        transformations.append(f"read {count(len(frame), 'row')} from {label}")
        if isinstance(frame, gpd.GeoDataFrame):
            return _from_geo(frame, label, opts, transformations)
        return _from_table(frame, label, opts, transformations)
    if fmt == "pdf":
        raise LoadError(label, "a PDF document, not a data file")
    raise LoadError(label, f"unsupported format {fmt!r}")


def _gdal_path(source: _Source) -> str:
    try:
        gz = source.head(2) == GZIP_MAGIC
    except OSError:
        gz = False
    return f"/vsigzip/{source.gdal_path}" if gz else source.gdal_path


def _content_head(source: _Source) -> bytes:
    """The first 4 KB of what the source holds (decompressed when it is gzip)."""
    raw = source.head(4096)
    if source.archive is not None:
        return head_of(raw, lambda: gzip.GzipFile(fileobj=source.archive.open(source.member)))
    return head_of(raw, lambda: gzip.open(source.path, "rb"))


def _from_vector(source: _Source, fmt: str, opts: dict, transformations: list[str]) -> Loaded:
    check_vector_content(_content_head(source), fmt, source.label)   # VRT and the like refused
    frame = read_vector(_gdal_path(source), source.label, fmt, opts, transformations)
    if not isinstance(frame, gpd.GeoDataFrame) or "geometry" not in frame.columns:
        return _from_table(pd.DataFrame(frame), source.label, opts, transformations)
    return _from_geo(frame, source.label, opts, transformations)


def _load_json(source: _Source, fmt: str, opts: dict, transformations: list[str]) -> Loaded:
    label = source.label
    if fmt == "geojson":
        # GDAL is fast on large GeoJSON; fall back to parsing only to explain a failure or to
        # find TopoJSON saved under a .geojson name.
        try:
            return _from_vector(source, "geojson", opts, transformations)
        except LoadError as gdal_error:
            data = parse_json(source.read_bytes(), label, [])  # raises with line/column if broken
            if isinstance(data, dict) and data.get("type") == "Topology":
                transformations.clear()
                return _from_topology(data, label, opts, transformations)
            raise gdal_error
    data = parse_json(source.read_bytes(), label, transformations)
    gtype = data.get("type") if isinstance(data, dict) else None
    if gtype == "Topology":
        return _from_topology(data, label, opts, transformations)
    if gtype in ("FeatureCollection", "Feature", "Point", "MultiPoint", "LineString",
                 "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"):
        return _from_vector(source, "geojson", opts, transformations)
    if fmt == "topojson":
        raise LoadError(label, "not TopoJSON: the top-level object is not of type 'Topology'")
    frame = json_table(data, label, opts, transformations)
    return _from_table(frame, label, opts, transformations)


def _from_topology(data: dict, label: str, opts: dict, transformations: list[str]) -> Loaded:
    frame, chosen, names = decode_topology(data, label, opts.get("layer"))
    transformations.append(f"decoded TopoJSON object {chosen!r}: {count(len(frame), 'geometry', 'geometries')}"
                           + (" (quantised arcs)" if data.get("transform") else ""))
    if len(names) > 1 and opts.get("layer") in (None, ""):
        transformations.append(f"the topology holds objects {', '.join(names)}; read the first "
                               "(the layer option picks another)")
    return _from_geo(frame, label, opts, transformations)


# ---------------------------------------------------------------------------------------------
def _from_geo(frame: gpd.GeoDataFrame, label: str, opts: dict, transformations: list[str]) -> Loaded:
    crs = frame.crs
    frame = tidy_frame(frame, label, opts, transformations)
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
    frame, kind, source_crs = finalise_geo(frame, label, transformations, opts)
    return Loaded(frame=frame.reset_index(drop=True), kind=kind, source_crs=source_crs,
                  transformations=transformations)


def _from_table(frame: pd.DataFrame, label: str, opts: dict, transformations: list[str]) -> Loaded:
    frame = tidy_frame(frame, label, opts, transformations)
    wkt = opts.get("wkt")
    if wkt and wkt not in frame.columns:
        raise LoadError(label, "the wkt option names a column that is not there", column=str(wkt))
    if not wkt and not (opts.get("x") or opts.get("y")):
        wkt = find_wkt_column(frame)
    if wkt:
        gdf = geometry_from_wkt(frame, wkt, label, opts, transformations)
        return _from_geo_frame(gdf, label, opts, transformations)
    points = points_from_columns(frame, label, opts, transformations)
    if points is not None:
        gdf, source_crs = points
        return Loaded(frame=gdf, kind="points", source_crs=source_crs, transformations=transformations)
    return Loaded(frame=frame.reset_index(drop=True), kind="table", source_crs=None,
                  transformations=transformations)


def _from_geo_frame(gdf: gpd.GeoDataFrame, label: str, opts: dict, transformations: list[str]) -> Loaded:
    gdf, kind, source_crs = finalise_geo(gdf, label, transformations, opts)
    return Loaded(frame=gdf.reset_index(drop=True), kind=kind, source_crs=source_crs,
                  transformations=transformations)


__all__ = ["load_file", "normalise_format", "FORMAT_NAMES"]
