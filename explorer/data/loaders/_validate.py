"""``validate_file``: is a freshly downloaded file what its resource declares? (before it replaces
the stored copy).

Cheap and bounded: the content's first bytes against the declared format (an HTML error page
sent with status 200 is not a CSV), a zip must open and stay within the limits, JSON must parse,
delimited text must parse over its first 256 KB, a vector file must open with its own driver and
give its first features with their geometry. The full load happens later, as for any file.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

from explorer.catalogue.models import Resource, guess_format
from explorer.data.loaders._base import LoadError
from explorer.data.loaders._safety import (
    DRIVER_FOR,
    check_file_container,
    check_path,
    check_vector_content,
    describe_content,
    looks_html,
    read_head,
)

_ZIP_FORMATS = {"zip", "kmz", "xlsx", "xlsm", "ods", "jar"}
_SAMPLE = 256 * 1024


def validate_file(path: Path, resource: Resource | None = None) -> None:
    """Raise LoadError (naming the file) when ``path`` is not a readable file of the format the
    resource declares (or its name suggests); return None when it is."""
    from explorer.data.loaders._load import normalise_format

    path = Path(path)
    label = path.name
    check_path(path, label)
    if not path.is_file():
        raise LoadError(label, "not a file")
    if path.stat().st_size == 0:
        raise LoadError(label, "the file is empty")
    declared = normalise_format(resource.format if resource is not None else "")
    fmt = declared or guess_format(path.name) or ""
    is_zip = zipfile.is_zipfile(path)
    head = read_head(path)
    if fmt in _ZIP_FORMATS and not is_zip:
        raise LoadError(label, f"not a readable zip archive (truncated, or another format): the "
                               f"content is {describe_content(head)}")
    if looks_html(head) and fmt not in ("html", "htm"):
        raise LoadError(label, f"a web page (HTML) where a {fmt.upper() or 'data'} file was "
                               "expected: the server probably sent an error page")
    if b"<ogrvrtdatasource" in head[:4096].lower():
        raise LoadError(label, f"holds {describe_content(head)}; refused")
    check_file_container(path, label)          # zips, nested zips, gzip: within the limits
    if is_zip:
        _validate_zip(path, fmt, label)
        return
    if fmt in DRIVER_FOR:
        _validate_vector(path, fmt, head, label)
    elif fmt in ("json", "topojson"):
        from explorer.data.loaders._tables import parse_json

        parse_json(path.read_bytes(), label, [])
    elif fmt in ("csv", "tsv", "txt"):
        _validate_delimited(path, fmt, label)
    elif fmt == "parquet":
        with open(path, "rb") as fh:
            start = fh.read(4)
            fh.seek(-4, 2)
            end = fh.read(4)
        if start != b"PAR1" or end != b"PAR1":
            raise LoadError(label, "not a readable Parquet file (truncated, or another format)")
    elif fmt == "xls" and not head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoadError(label, f"not a readable Excel 97 workbook: the content is "
                               f"{describe_content(head)}")


def _validate_zip(path: Path, fmt: str, label: str) -> None:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if not names:
            raise LoadError(label, "the zip archive is empty")
        lowered = {n.lower() for n in names}
        if fmt in ("xlsx", "xlsm") and "[content_types].xml" not in lowered:
            raise LoadError(label, "not a readable workbook: the zip has no [Content_Types].xml")
        if fmt == "ods" and "content.xml" not in lowered:
            raise LoadError(label, "not a readable OpenDocument spreadsheet: no content.xml")
        if fmt == "kmz":
            kml = [n for n in names if n.lower().endswith(".kml")]
            if not kml:
                raise LoadError(label, "not a readable KMZ: the zip holds no .kml document")
            with zf.open(kml[0]) as fh:
                check_vector_content(fh.read(4096), "kml", f"{label}!{kml[0]}")


def _validate_vector(path: Path, fmt: str, head: bytes, label: str) -> None:
    import pyogrio

    from explorer.data.loaders._vector import gdal_reason

    check_vector_content(head, fmt, label)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    gdal_path = f"/vsigzip/{path}" if gz else str(path)
    try:
        frame = pyogrio.read_dataframe(gdal_path, max_features=10)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError and friends
        raise LoadError(label, gdal_reason(exc, gdal_path, fmt)) from None
    if "geometry" in getattr(frame, "columns", []) and len(frame) and frame.geometry.isna().all():
        raise LoadError(label, "its first features have no geometry that can be read")


def _validate_delimited(path: Path, fmt: str, label: str) -> None:
    from explorer.data.loaders._tables import read_delimited

    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    try:   # the first 256 KB of the text (decompressed: a prefix of a gzip stream is not one)
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as fh:
            raw = fh.read(_SAMPLE + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise LoadError(label, f"not a readable gzip file ({exc}); it may be truncated") from None
    if len(raw) > _SAMPLE:
        raw = raw[: raw.rfind(b"\n", 0, _SAMPLE) + 1] or raw[:_SAMPLE]
    frame = read_delimited(raw, label, fmt, {}, [])
    if frame.shape[1] == 0:
        raise LoadError(label, "no columns could be read")
