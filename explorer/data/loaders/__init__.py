"""Read every file format of the London data folder into normalised pandas/geopandas frames.

``load_file(path, resource)`` picks a reader from the resource's format (or the file name), reads
the file, folder or zip member, and returns a :class:`Loaded`: the frame (geometry in EPSG:4326),
its kind (table, points, polygons, lines), the CRS the file was in, and every transformation in
words for the provenance card. Anything unreadable raises :class:`LoadError` naming the file.

The readers live in small private modules: ``_tables`` (CSV/TSV/JSON records, coordinate and WKT
columns), ``_topojson`` (an own TopoJSON decoder), ``_vector`` (GDAL through pyogrio) and
``_geometry`` (CRS recognition, repair, reprojection) and ``_spreadsheet`` (published XLSX/ODS
workbooks: the sheet and header row found, subtotal and note rows set apart).
"""

from explorer.data.loaders._base import Loaded, LoadError, numeric_columns
from explorer.data.loaders._geometry import AREA_CRS, BNG, WGS84, crs_label, geometry_type, to_area_crs
from explorer.data.loaders._load import load_file, normalise_format
from explorer.data.loaders._spreadsheet import ROW_TYPE, clean_header, read_spreadsheet
from explorer.data.loaders._topojson import decode_topology
from explorer.data.loaders._validate import validate_file

__all__ = [
    "AREA_CRS", "BNG", "ROW_TYPE", "WGS84", "LoadError", "Loaded", "clean_header", "crs_label",
    "decode_topology", "read_spreadsheet",
    "geometry_type", "load_file", "normalise_format", "numeric_columns", "to_area_crs",
    "validate_file",
]
