"""Checks on an uploaded file before any loader sees it: the declared format must be one we take,
the file name's extension must agree with it, and the first bytes must look like that format.

The original file name is kept only as text (in the upload record and provenance.json); the
name on disk is rebuilt from safe characters and the format's own extension, so no name a
stranger chose ever reaches the filesystem.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

# format -> (extensions accepted, extension written)
UPLOAD_FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    "csv": ((".csv", ".txt"), ".csv"),
    "tsv": ((".tsv", ".tab", ".txt"), ".tsv"),
    "xlsx": ((".xlsx",), ".xlsx"),
    "ods": ((".ods",), ".ods"),
    "geojson": ((".geojson", ".json"), ".geojson"),
    "topojson": ((".topojson", ".json"), ".topojson"),
    "gpkg": ((".gpkg",), ".gpkg"),
    "zip": ((".zip",), ".zip"),          # a zipped shapefile
    "kml": ((".kml",), ".kml"),
}
FORMAT_LABELS = {
    "csv": "CSV table", "tsv": "TSV table", "xlsx": "Excel workbook (XLSX)",
    "ods": "OpenDocument spreadsheet (ODS)", "geojson": "GeoJSON",
    "topojson": "TopoJSON", "gpkg": "GeoPackage", "zip": "Zipped shapefile", "kml": "KML",
}


def _errors(message: str):
    from explorer.publishing.errors import FieldErrors

    return FieldErrors({"file": message})


def safe_file_name(original: str, fmt: str) -> str:
    stem = Path(str(original).replace("\\", "/").split("/")[-1]).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:80] or "upload"
    return stem + UPLOAD_FORMATS[fmt][1]


def check_upload(filename: str, declared: str) -> tuple[str, str]:
    """(format, safe file name) or FieldErrors on 'file' / 'format'."""
    from explorer.publishing.errors import FieldErrors

    name = str(filename or "").strip()
    if not name:
        raise _errors("Choose a file to upload.")
    lower = name.lower()
    fmt = (declared or "").strip().lower()
    if not fmt:
        for key, (exts, _) in UPLOAD_FORMATS.items():
            if lower.endswith(exts) and not (key == "topojson" and lower.endswith(".json") and not lower.endswith(".topojson")):
                fmt = key
                break
    if fmt not in UPLOAD_FORMATS:
        raise FieldErrors({"format": "Choose the file's format: " + ", ".join(FORMAT_LABELS.values()) + "."})
    if not lower.endswith(UPLOAD_FORMATS[fmt][0]):
        raise _errors(f"The file name does not end as a {FORMAT_LABELS[fmt]} file does "
                      f"({', '.join(UPLOAD_FORMATS[fmt][0])}).")
    return fmt, safe_file_name(name, fmt)


def _check_workbook(path: Path, fmt: str) -> None:
    """The workbook is the declared kind, told apart by its content as the spreadsheet reader
    tells them apart (an ODS names its type in its ``mimetype`` part; an XLSX has ``xl/`` parts)."""
    from explorer.data.loaders import LoadError
    from explorer.data.loaders._spreadsheet import _kind_of_zip

    label = FORMAT_LABELS[fmt]
    try:
        kind, _ = _kind_of_zip(path, label)
    except LoadError as exc:
        raise _errors(f"This is not an {label}: {exc.reason}.") from None
    if kind != fmt:
        raise _errors(f"This is an {FORMAT_LABELS[kind]}, not an {label}: choose "
                      f"{FORMAT_LABELS[kind]} as the format.")


def sniff(path: Path, fmt: str) -> None:
    """The file's first bytes must look like ``fmt``; the loaders then read it for real."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    label = FORMAT_LABELS[fmt]
    if fmt in ("csv", "tsv"):
        if b"\x00" in head or head.startswith((b"PK\x03\x04", b"SQLite format 3", b"%PDF")):
            raise _errors(f"This is not a {label}: it is not plain text.")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                try:
                    head.decode("cp1252")
                except UnicodeDecodeError:
                    raise _errors(f"This is not a {label}: the text encoding is not readable.") from None
        sep = "\t" if fmt == "tsv" else ","
        first = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
        if not first or sep not in first[0]:
            raise _errors(f"This does not look like a {label}: the first line has no "
                          f"{'tabs' if fmt == 'tsv' else 'commas'} between columns.")
    elif fmt in ("xlsx", "ods", "zip"):
        if not zipfile.is_zipfile(path):
            raise _errors(f"This is not a {label}: it is not a zip container.")
        with zipfile.ZipFile(path) as zf:
            names = [n.lower() for n in zf.namelist()[:5000]]
        if fmt == "xlsx" and "[content_types].xml" not in names:
            raise _errors(f"This is not an {label}: the workbook's parts are missing.")
        if fmt in ("xlsx", "ods"):
            _check_workbook(path, fmt)
        if fmt == "zip" and not any(n.endswith(".shp") for n in names):
            raise _errors("This zip holds no shapefile (.shp).")
    elif fmt in ("geojson", "topojson"):
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped.startswith(b"{"):
            raise _errors(f"This is not a {label}: it does not start with a JSON object.")
        match = re.search(rb'"type"\s*:\s*"([A-Za-z]+)"', head)
        kind = match.group(1).decode() if match else ""
        if fmt == "topojson" and kind != "Topology":
            raise _errors("This is not TopoJSON: its type is not \"Topology\".")
        if fmt == "geojson" and kind == "Topology":
            raise _errors("This is TopoJSON, not GeoJSON: choose TopoJSON as the format.")
        if fmt == "geojson" and kind not in ("FeatureCollection", "Feature", "Point", "MultiPoint", "LineString",
                                             "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"):
            raise _errors("This is not GeoJSON: no GeoJSON \"type\" near its start.")
    elif fmt == "gpkg":
        if not head.startswith(b"SQLite format 3\x00"):
            raise _errors("This is not a GeoPackage.")
    elif fmt == "kml":
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:2000].lower()
        if not (text.startswith(b"<?xml") or text.startswith(b"<kml")) or b"<kml" not in text:
            raise _errors("This is not KML: no <kml> element at its start.")
        if b"<!doctype" in text or b"<!entity" in head.lower():
            raise _errors("KML with a DOCTYPE or entities is refused.")

