"""Vector files read through GDAL (pyogrio): shapefile, GeoPackage, MapInfo TAB, GeoJSON, …"""

from __future__ import annotations

import re

import pandas as pd
import pyogrio

from explorer.data.loaders._base import LoadError, count
from explorer.data.loaders._safety import harden_gdal

harden_gdal()   # before any file is opened: no VRT, no network, no other files (see _safety)

FORMAT_NAMES = {
    "shp": "shapefile", "gpkg": "GeoPackage", "tab": "MapInfo TAB", "geojson": "GeoJSON",
    "flatgeobuf": "FlatGeobuf", "kml": "KML", "gml": "GML", "mif": "MapInfo MIF", "json": "JSON",
}

# Files that must sit beside the main one (lower-case suffixes).
SIDECARS = {
    "shp": (".shx", ".dbf"),
    "tab": (".dat", ".map", ".id"),
}


def check_sidecars(main_name: str, present: set[str], fmt: str, label: str) -> None:
    """Raise LoadError when a sidecar of a multi-file format is missing.

    ``present`` holds the lower-cased names of the files beside ``main_name`` (same folder or
    same archive folder)."""
    needed = SIDECARS.get(fmt)
    if not needed:
        return
    stem = re.sub(r"\.[^./]+$", "", main_name).lower()
    missing = [ext for ext in needed if stem + ext not in present]
    if missing:
        base = main_name.rsplit("/", 1)[-1]
        stem_shown = re.sub(r"\.[^.]+$", "", base)
        files = ", ".join(stem_shown + ext for ext in missing)
        kind = FORMAT_NAMES.get(fmt, fmt)
        raise LoadError(label, f"the {kind} is incomplete: {files} missing (a {kind} needs "
                               f"{', '.join(('.' + fmt,) + needed)} side by side)")


def gdal_reason(exc: Exception, gdal_path: str, fmt: str) -> str:
    message = str(exc).strip() or type(exc).__name__
    message = message.replace(f"'{gdal_path}'", "the file").replace(gdal_path, "the file")
    if "not recognized as being in a supported file format" in message or \
            "not recognized as a supported file format" in message:
        return f"not a readable {FORMAT_NAMES.get(fmt, fmt or 'data')} file (GDAL does not recognise its content)"
    message = message.split("; It might help", 1)[0]
    message = message.replace("Failed to read GeoJSON data; ", "invalid GeoJSON: ")
    return message


def read_vector(gdal_path: str, label: str, fmt: str, options: dict,
                transformations: list[str]) -> pd.DataFrame:
    """Read one layer: the ``layer`` option (name or number), else the only or first one."""
    try:
        layers = pyogrio.list_layers(gdal_path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise LoadError(label, gdal_reason(exc, gdal_path, fmt)) from None
    names = [str(row[0]) for row in layers]
    if not names:
        raise LoadError(label, f"the {FORMAT_NAMES.get(fmt, fmt)} holds no layers")
    wanted = options.get("layer")
    if wanted not in (None, ""):
        chosen = _pick_layer(names, wanted)
        if chosen is None:
            raise LoadError(label, f"no layer {wanted!r}; layers: {', '.join(map(repr, names))}",
                            layer=str(wanted))
    else:
        chosen = names[0]
    try:
        frame = pyogrio.read_dataframe(gdal_path, layer=chosen,
                                       encoding=options.get("encoding") or None)
    except Exception as exc:
        raise LoadError(label, gdal_reason(exc, gdal_path, fmt),
                        layer=chosen if len(names) > 1 else None) from None
    where = f"layer {chosen!r} of {label}" if fmt == "gpkg" or len(names) > 1 else label
    transformations.append(f"read {count(len(frame), 'row')} from {where}")
    if len(names) > 1 and wanted in (None, ""):
        transformations.append(f"{label} holds {count(len(names), 'layer')} "
                               f"({', '.join(names[:6])}{' …' if len(names) > 6 else ''}); "
                               f"read the first (the layer option picks another)")
    return frame


def _pick_layer(names: list[str], wanted) -> str | None:
    text = str(wanted)
    if text in names:
        return text
    lowered = {n.lower(): n for n in names}
    if text.lower() in lowered:
        return lowered[text.lower()]
    if text.isdigit() and int(text) < len(names):
        return names[int(text)]
    return None
