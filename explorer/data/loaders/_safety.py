"""What keeps a stranger's file from reaching other files, the network or all the memory.

* **GDAL is locked down once per process** (:func:`harden_gdal`, run when the vector reader is
  imported): every vector driver but the few the explorer reads is deregistered (VRT, WFS, OAPIF,
  CSV, SQLite, LIBKML, the HTTP driver … are gone), every virtual file system that reaches the
  network or other files is removed (``/vsicurl/``, ``/vsis3/``, ``/vsisparse/``, ``/vsitar/``,
  ``/vsistdin/`` …; ``/vsimem/``, ``/vsizip/`` and ``/vsigzip/`` stay for paths the loaders build
  themselves), and GDAL's own HTTP client is answered "refused" for every URL.
* **A file is opened only with the driver its declared format calls for, after its content has
  been checked to be that format** (:func:`check_vector_content`): a GeoJSON must be JSON, a KML a
  ``<kml>`` document, a shapefile must carry the shapefile magic number … so an
  ``<OGRVRTDataSource>`` saved as ``.geojson`` or ``.kml`` is refused before GDAL sees it.
* **Every compressed container is bounded** (:func:`check_file_container`): zip, nested zip, kmz,
  xlsx/ods, jar-renamed zips and gzip go through :func:`explorer.data.archive.check_container` with the
  download limits before any reader opens them, in the local data folder too.
"""

from __future__ import annotations

import ctypes
import glob
import gzip
import re
import threading
import zlib
from pathlib import Path

from explorer.data import archive
from explorer.data.loaders._base import LoadError

# Drivers the loaders use (read) and the data-package export uses (GPKG write).
KEEP_DRIVERS = frozenset({"ESRI Shapefile", "GPKG", "MapInfo File", "GeoJSON", "FlatGeobuf",
                          "KML", "GML"})
# Driver allowed for each format the loaders hand to GDAL.
DRIVER_FOR = {"shp": "ESRI Shapefile", "gpkg": "GPKG", "tab": "MapInfo File",
              "mif": "MapInfo File", "geojson": "GeoJSON", "flatgeobuf": "FlatGeobuf",
              "kml": "KML", "gml": "GML"}
KEEP_VSI = frozenset({"/vsimem/", "/vsizip/", "/vsigzip/"})
MAX_RATIO = 100.0
_CONFIG = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".explorer-never",   # belt and braces: /vsicurl/ is gone
    "GDAL_HTTP_MAX_RETRY": "0",
    "GML_SKIP_RESOLVE_ELEMS": "ALL",
    "GML_DOWNLOAD_WFS_SCHEMA": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "CPL_ALLOW_VSISTDIN": "NO",
    "OSR_USE_NON_DEPRECATED": "YES",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",   # no SQLite virtual tables over other files
}

_hardened = False
_harden_lock = threading.Lock()
_keep_alive: list = []   # the ctypes callback must outlive the process's GDAL


def _libgdal():
    import pyogrio

    base = Path(pyogrio.__file__).resolve().parent
    found = sorted(glob.glob(str(base.parent / "pyogrio.libs" / "libgdal*")))
    if found:
        return ctypes.CDLL(found[0])
    return ctypes.CDLL("libgdal.so")    # a pyogrio built against the system GDAL


def harden_gdal() -> dict:
    """Lock GDAL down for this process (idempotent); returns what was switched off."""
    global _hardened
    with _harden_lock:
        if _hardened:
            return {}
        import pyogrio

        pyogrio.set_gdal_config_options(_CONFIG)
        pyogrio.list_drivers()            # makes sure every driver is registered first
        lib = _libgdal()
        report = {"drivers": _drop_drivers(lib), "filesystems": _drop_filesystems(lib),
                  "http": _refuse_http(lib)}
        _hardened = True
        return report


def _drop_drivers(lib) -> list[str]:
    lib.GDALGetDriverCount.restype = ctypes.c_int
    lib.GDALGetDriver.restype = ctypes.c_void_p
    lib.GDALGetDriver.argtypes = [ctypes.c_int]
    lib.GDALGetDriverShortName.restype = ctypes.c_char_p
    lib.GDALGetDriverShortName.argtypes = [ctypes.c_void_p]
    lib.GDALDeregisterDriver.argtypes = [ctypes.c_void_p]
    handles = [lib.GDALGetDriver(i) for i in range(lib.GDALGetDriverCount())]
    dropped = []
    for handle in handles:
        name = lib.GDALGetDriverShortName(handle).decode("ascii", "replace")
        if name not in KEEP_DRIVERS:
            lib.GDALDeregisterDriver(handle)
            dropped.append(name)
    return dropped


def _drop_filesystems(lib) -> list[str]:
    if not hasattr(lib, "VSIRemovePluginHandler"):
        return []
    lib.VSIGetFileSystemsPrefixes.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.VSIRemovePluginHandler.argtypes = [ctypes.c_char_p]
    lib.CSLDestroy.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    listing = lib.VSIGetFileSystemsPrefixes()
    prefixes = []
    i = 0
    while listing and listing[i] is not None:
        prefixes.append(listing[i].decode("ascii", "replace"))
        i += 1
    if listing:
        lib.CSLDestroy(listing)
    removed = []
    for prefix in prefixes:
        if prefix.startswith("/vsi") and prefix not in KEEP_VSI:
            lib.VSIRemovePluginHandler(prefix.encode("ascii"))
            removed.append(prefix)
    return removed


class _HTTPResult(ctypes.Structure):   # CPLHTTPResult (cpl_http.h)
    _fields_ = [("nStatus", ctypes.c_int), ("pszContentType", ctypes.c_void_p),
                ("pszErrBuf", ctypes.c_void_p), ("nDataLen", ctypes.c_int),
                ("nDataAlloc", ctypes.c_int), ("pabyData", ctypes.c_void_p),
                ("papszHeaders", ctypes.c_void_p), ("nMimePartCount", ctypes.c_int),
                ("pasMimePart", ctypes.c_void_p)]


def _refuse_http(lib) -> bool:
    """Answer every request GDAL's own HTTP client would make with an error, without a socket."""
    if not hasattr(lib, "CPLHTTPPushFetchCallback"):
        return False
    lib.CPLCalloc.restype = ctypes.c_void_p
    lib.CPLCalloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    lib.CPLStrdup.restype = ctypes.c_void_p
    lib.CPLStrdup.argtypes = [ctypes.c_char_p]
    callback_type = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.c_void_p)

    def refuse(_url, _options, _progress, _progress_arg, _write, _write_arg, _user):
        raw = lib.CPLCalloc(1, max(ctypes.sizeof(_HTTPResult), 128))
        result = _HTTPResult.from_address(raw)
        result.nStatus = 1
        result.pszErrBuf = lib.CPLStrdup(b"network access is off for data files")
        return raw

    callback = callback_type(refuse)
    _keep_alive.append(callback)
    lib.CPLHTTPPushFetchCallback.argtypes = [callback_type, ctypes.c_void_p]
    return bool(lib.CPLHTTPPushFetchCallback(callback, None))


# ------------------------------------------------------------------------------------------------
# Paths and containers
def check_path(path: Path | str, label: str) -> None:
    """Refuse GDAL virtual paths (``/vsicurl/…``, ``/vsizip/…``) and other non-file sources."""
    text = str(path)
    if text.lower().startswith("/vsi") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) or (
            not text.startswith("/") and re.match(r"^[A-Za-z][\w ]*:", text)):
        raise LoadError(label, "not a plain file path (GDAL virtual file systems, URLs and "
                               "driver prefixes are refused)")


def limits() -> tuple[int, float]:
    """(EXPLORER_MAX_DOWNLOAD_BYTES, ratio) as the settings read them."""
    from explorer.settings import Settings

    try:
        return int(Settings.from_env().max_download_bytes), MAX_RATIO
    except Exception:  # noqa: BLE001 - a bad setting is reported elsewhere; keep the default
        return int(Settings.max_download_bytes), MAX_RATIO     # the settings' own default, not a copy


def check_file_container(path: Path, label: str) -> None:
    """Refuse a zip-family or gzip file whose content exceeds the limits (LoadError)."""
    max_bytes, ratio = limits()
    try:
        archive.check_container(path, max_bytes=max_bytes, max_ratio=ratio, label=label)
    except archive.ArchiveError as exc:
        raise LoadError(label, str(exc).removeprefix(f"{label}: ")) from None


def gunzip_bounded(raw: bytes, label: str) -> bytes:
    """gzip-decompressed bytes (every member), refused past the byte or ratio limits."""
    max_bytes, ratio = limits()
    out = bytearray()
    data = raw
    try:
        while data:
            inflater = zlib.decompressobj(wbits=31)
            while True:
                chunk = inflater.decompress(data, 1 << 16)
                out += chunk
                if len(out) > max_bytes:
                    raise LoadError(label, f"decompresses to more than {max_bytes:,} bytes, the "
                                           "limit (EXPLORER_MAX_DOWNLOAD_BYTES); refused as a "
                                           "possible decompression bomb")
                if len(out) > (1 << 20) and len(out) / max(len(raw), 1) > ratio:
                    raise LoadError(label, f"expands more than {ratio:g}:1, the limit on the "
                                           "compression ratio; refused as a possible "
                                           "decompression bomb")
                data = inflater.unconsumed_tail
                if inflater.eof or not chunk and not data:
                    break
            if not inflater.eof:
                raise LoadError(label, "not a readable gzip file; it may be truncated")
            data = inflater.unused_data.lstrip(b"\x00")
    except zlib.error as exc:
        raise LoadError(label, f"not a readable gzip file ({exc}); it may be truncated") from None
    return bytes(out)


# ------------------------------------------------------------------------------------------------
# Content checks: the declared format must be what the bytes are
_XML_DECL = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?((<!--.*?-->|<\?[^>]*\?>)\s*)*", re.S)
_ROOT = re.compile(rb"^<\s*(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)")
_FORMAT_WORDS = {"geojson": "GeoJSON", "kml": "KML", "gml": "GML", "shp": "shapefile",
                 "gpkg": "GeoPackage", "tab": "MapInfo TAB", "mif": "MapInfo MIF",
                 "flatgeobuf": "FlatGeobuf"}


def _xml_root(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf")
    match = _XML_DECL.match(text)
    rest = text[match.end():] if match else text
    if rest.lstrip().upper().startswith(b"<!DOCTYPE"):
        return "!DOCTYPE"
    root = _ROOT.match(rest.lstrip())
    return root.group(2).decode("ascii", "replace") if root else None


def describe_content(head: bytes) -> str:
    """A few words on what some bytes look like, for messages."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = stripped[:512].lower()
    if b"<ogrvrtdatasource" in lowered:
        return "a GDAL virtual dataset (VRT), which can point at other files"
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:256]:
        return "a web page (HTML)"
    if stripped.startswith(b"<"):
        root = _xml_root(head)
        return f"an XML document (root element {root})" if root else "an XML document"
    if stripped[:1] in (b"{", b"["):
        return "JSON"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith(b"SQLite format 3"):
        return "an SQLite database"
    return "something else"


def looks_html(head: bytes) -> bool:
    return describe_content(head) == "a web page (HTML)"


def head_of(raw_head: bytes, gz_reader=None) -> bytes:
    """The first bytes of the content (decompressed first when it is gzip)."""
    if raw_head[:2] == b"\x1f\x8b" and gz_reader is not None:
        try:
            with gz_reader() as fh:
                return fh.read(4096)
        except (OSError, EOFError, zlib.error):
            return b""
    return raw_head


def check_vector_content(head: bytes, fmt: str, label: str) -> str:
    """The GDAL driver for ``fmt`` after checking ``head`` (the file's first 4 KB, decompressed)
    is that format; LoadError naming the file when it is not."""
    driver = DRIVER_FOR.get(fmt)
    if driver is None:
        raise LoadError(label, f"the format {fmt!r} is not read through GDAL")
    lowered = head[:4096].lower()
    if b"ogrvrtdatasource" in lowered:
        raise LoadError(label, f"not a readable {_FORMAT_WORDS[fmt]} file: it holds "
                               f"{describe_content(head)}; refused")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    ok = {
        "geojson": lambda: stripped[:1] == b"{",
        "kml": lambda: _xml_root(head) == "kml",
        "gml": lambda: (_xml_root(head) not in (None, "!DOCTYPE", "kml", "html")
                        and b"opengis.net/gml" in lowered),
        "shp": lambda: head[:4] == b"\x00\x00\x27\x0a",
        "gpkg": lambda: head.startswith(b"SQLite format 3\x00"),
        "flatgeobuf": lambda: head[:3] == b"fgb",
        "tab": lambda: (stripped.lower().startswith(b"!table") and b"definition table" in lowered
                        and b"open table" not in lowered and b"seamless" not in lowered),
        "mif": lambda: stripped.lower().startswith(b"version"),
    }[fmt]()
    if not ok:
        raise LoadError(label, f"not a readable {_FORMAT_WORDS[fmt]} file: the content is "
                               f"{describe_content(head)}; refused")
    return driver


def read_head(path: Path, n: int = 4096) -> bytes:
    """The first ``n`` bytes of a file, decompressed when it is gzip."""
    with open(path, "rb") as fh:
        raw = fh.read(n)
    return head_of(raw, lambda: gzip.open(path, "rb"))


_SUFFIX_FORMATS = {".shp": "shp", ".gpkg": "gpkg", ".geojson": "geojson", ".fgb": "flatgeobuf",
                   ".kml": "kml", ".gml": "gml", ".tab": "tab", ".mif": "mif"}


def check_vector_file(path: Path) -> None:
    """For code that opens a vector file with pyogrio itself: GDAL locked down, and the file's
    content must be the format its suffix names (LoadError otherwise)."""
    harden_gdal()
    path = Path(path)
    check_path(path, path.name)
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(path.name, f"not a vector file suffix ({path.suffix or 'none'})")
    check_vector_content(read_head(path), fmt, path.name)


__all__ = ["check_vector_file", "DRIVER_FOR", "check_file_container", "check_path", "check_vector_content",
           "describe_content", "gunzip_bounded", "harden_gdal", "head_of", "limits",
           "looks_html", "read_head"]
