"""Delimited text and JSON records → tidy pandas frames; points from coordinate or WKT columns."""

from __future__ import annotations

import csv
import io
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from explorer.data.loaders._base import LoadError, count
from explorer.data.loaders._geometry import BNG, BNG_RANGE, GB_LONLAT, WGS84, crs_label, guess_crs, parse_crs

GZIP_MAGIC = b"\x1f\x8b"
_SEP_WORDS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
_SEP_CANDIDATES = ("\t", ",", ";", "|")


# ---------------------------------------------------------------------------------------------
# bytes → text
def gunzip(raw: bytes, name: str) -> bytes:
    """Decompressed gzip bytes, bounded by the download limits (a bomb is refused)."""
    from explorer.data.loaders._safety import gunzip_bounded

    return gunzip_bounded(raw, name)


def decode_text(raw: bytes, name: str, encoding: str | None, transformations: list[str]) -> str:
    """Text from bytes: the given encoding, else UTF-8 (BOM dropped), else Windows-1252."""
    if encoding:
        try:
            return raw.decode(encoding)
        except LookupError:
            raise LoadError(name, f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise LoadError(name, f"not valid {encoding} at byte {exc.start}: {exc.reason}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError(name, f"not valid UTF-16 at byte {exc.start}: {exc.reason}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        text = raw.decode("cp1252")
        transformations.append(f"decoded as Windows-1252 (cp1252): not valid UTF-8 at byte {first_bad:,}")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        transformations.append(f"decoded as Latin-1: not valid UTF-8 at byte {first_bad:,}")
    return text


def normalise_newlines(text: str) -> str:
    # Old Mac files end lines with CR only; make them ordinary lines.
    if "\r" in text and "\n" not in text:
        return text.replace("\r", "\n")
    return text


def sniff_separator(text: str, default: str = ",") -> str:
    """The delimiter giving the same (>1) number of fields on most of the first lines."""
    lines = [ln for ln in text[:200_000].splitlines()[:60] if ln.strip()]
    if not lines:
        return default
    best_key, best = None, default
    candidates = (default,) + tuple(c for c in _SEP_CANDIDATES if c != default)
    for sep in candidates:
        try:
            rows = list(csv.reader(lines, delimiter=sep))
        except csv.Error:
            continue
        counts = [len(r) for r in rows if r]
        if not counts or counts[0] < 2:
            continue
        consistency = sum(c == counts[0] for c in counts) / len(counts)
        key = (consistency >= 0.9, consistency, counts[0])
        if best_key is None or key > best_key:
            best_key, best = key, sep
    return best


# ---------------------------------------------------------------------------------------------
# delimited text
def read_delimited(raw: bytes, name: str, fmt: str, options: dict,
                   transformations: list[str]) -> pd.DataFrame:
    if raw[:2] == GZIP_MAGIC:
        raw = gunzip(raw, name)
    from explorer.data.loaders._safety import describe_content, looks_html

    if looks_html(raw[:1024]) or b"ogrvrtdatasource" in raw[:1024].lower():
        raise LoadError(name, f"holds {describe_content(raw[:1024])}, not delimited text "
                              f"({fmt.upper()}); refused")
    text = normalise_newlines(decode_text(raw, name, options.get("encoding"), transformations))
    default = "\t" if fmt == "tsv" else ","
    sep = options.get("sep")
    if sep:
        sep = _SEP_WORDS.get(str(sep).lower(), str(sep))
    else:
        sep = sniff_separator(text, default)
        if sep != default:
            transformations.append(f"detected separator {_sep_name(sep)}")
    kwargs: dict = {"sep": sep, "low_memory": False}
    if options.get("thousands"):
        kwargs["thousands"] = str(options["thousands"])
    if options.get("skiprows") not in (None, "", 0):
        try:
            kwargs["skiprows"] = int(options["skiprows"])
        except (TypeError, ValueError):
            raise LoadError(name, f"skiprows option must be a number, got {options['skiprows']!r}") from None
    code_column = options.get("code_column")
    if code_column:
        kwargs["dtype"] = {str(code_column): str}
    try:
        frame = pd.read_csv(io.StringIO(text), **kwargs)
    except pd.errors.EmptyDataError:
        raise LoadError(name, "the file is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        message = str(exc).strip()
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        if found:
            expected, line, saw = (int(v) for v in found.groups())
            raise LoadError(name, f"ragged rows: {saw} fields where the rows above have {expected} "
                                  f"(separator {_sep_name(sep)})", row=line) from None
        raise LoadError(name, f"cannot parse as delimited text: {message.splitlines()[-1]}") from None
    except ValueError as exc:  # e.g. a dtype hint for a column that does not exist
        raise LoadError(name, f"cannot parse as delimited text: {exc}") from None
    transformations.append(f"read {count(len(frame), 'row')} × {count(frame.shape[1], 'column')} from "
                           f"{name}")
    return frame


def _sep_name(sep: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}.get(sep, repr(sep))


# ---------------------------------------------------------------------------------------------
# JSON
def parse_json(raw: bytes, name: str, transformations: list[str]):
    if raw[:2] == GZIP_MAGIC:
        raw = gunzip(raw, name)
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        from explorer.data.loaders._safety import describe_content

        raise LoadError(name, f"not JSON: the content is {describe_content(raw[:1024])}")
    text = decode_text(raw, name, None, transformations)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise LoadError(name, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                              f"{hint}") from None
    except RecursionError:
        raise LoadError(name, "JSON nested too deeply") from None


def _is_records(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value[:50])


def _is_scalars(value) -> bool:
    return isinstance(value, list) and bool(value) and all(
        not isinstance(v, (dict, list)) for v in value[:50])


def _is_dict_of_dicts(value) -> bool:
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(v, dict) for v in list(value.values())[:50]))


def json_table(data, name: str, options: dict, transformations: list[str]) -> pd.DataFrame:
    """A table from JSON: a list of records, a key holding one (``layer`` names it, else the
    largest), or an object of objects keyed by id."""
    chosen_key = None
    if isinstance(data, dict):
        layer = options.get("layer")
        candidates: dict[str, object] = {}
        for key, value in data.items():
            if _is_records(value) or _is_dict_of_dicts(value):
                candidates[str(key)] = value
            elif isinstance(value, dict):
                for sub, inner in value.items():
                    if _is_records(inner):
                        candidates[f"{key}.{sub}"] = inner
        if layer is not None:
            if str(layer) not in candidates:
                raise LoadError(name, f"no table {layer!r} in this JSON; tables found: "
                                      f"{', '.join(map(repr, candidates)) or 'none'}", layer=str(layer))
            chosen_key = str(layer)
        elif candidates:
            lists = {k: v for k, v in candidates.items() if isinstance(v, list)}
            pool = lists or candidates
            chosen_key = max(pool, key=lambda k: len(pool[k]))
        elif _is_dict_of_dicts(data):
            chosen_key = None
        elif any(_is_scalars(v) for v in data.values()):
            lists = {str(k): v for k, v in data.items() if _is_scalars(v)}
            chosen_key = max(lists, key=lambda k: len(lists[k]))
            candidates = lists
        elif data and all(not isinstance(v, (dict, list)) for v in data.values()):
            data = [data]
        else:
            raise LoadError(name, "JSON object without a list of records (nor GeoJSON/TopoJSON)")
        if chosen_key is not None:
            data = candidates[chosen_key]
            transformations.append(f"records from JSON key {chosen_key!r}"
                                   + (f" (other tables: {', '.join(k for k in candidates if k != chosen_key)})"
                                      if len(candidates) > 1 else ""))
    if isinstance(data, dict):  # object of objects keyed by id
        frame = pd.DataFrame.from_dict(data, orient="index")
        frame.index.name = "key" if "key" not in frame.columns else "_key"
        frame = frame.reset_index()
    elif isinstance(data, list):
        if not data:
            frame = pd.DataFrame()
        elif all(isinstance(v, dict) for v in data):
            frame = pd.json_normalize(data, max_level=1)
        elif all(isinstance(v, list) for v in data):
            frame = pd.DataFrame(data)
        elif all(not isinstance(v, (dict, list)) for v in data):
            frame = pd.DataFrame({"value": data})
        else:
            raise LoadError(name, "JSON list mixes records with other values")
    else:
        raise LoadError(name, f"JSON holds a single {type(data).__name__}, not a table")
    transformations.append(f"read {count(len(frame), 'record')} from {name}")
    return frame


# ---------------------------------------------------------------------------------------------
# tidying
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_NA_TOKENS = {"", ".", "..", "...", "-", "–", "—", ":", "x", "*", "n/a", "na", "nan", "null",
              "none", "#n/a", "not available"}


def tidy_frame(frame: pd.DataFrame, name: str, options: dict, transformations: list[str]) -> pd.DataFrame:
    """Clean column names, drop empty rows/columns, turn numbers-as-text into numbers."""
    frame = frame.copy()
    names, seen = [], set()
    for col in frame.columns:
        label = str(col).strip().lstrip("\ufeff") or "column"
        base, i = label, 2
        while label in seen:
            label, i = f"{base}_{i}", i + 1
        seen.add(label)
        names.append(label)
    frame.columns = names

    unnamed_empty = [c for c in frame.columns
                     if re.fullmatch(r"Unnamed: \d+(_\d+)?", c) and frame[c].isna().all()]
    if unnamed_empty:
        frame = frame.drop(columns=unnamed_empty)
        transformations.append(f"dropped {count(len(unnamed_empty), 'empty unnamed column')}")
    if len(frame.columns):
        empty_rows = frame.isna().all(axis=1)
        if empty_rows.any():
            frame = frame.loc[~empty_rows].reset_index(drop=True)
            transformations.append(f"dropped {count(int(empty_rows.sum()), 'empty row')}")

    keep = {str(options["code_column"])} if options.get("code_column") else set()
    with_commas, with_tokens = [], []
    for col in frame.columns:
        if col in keep or col == "geometry":
            continue
        converted = _as_number(frame[col])
        if converted is None:
            continue
        values, had_commas, had_tokens = converted
        frame[col] = values
        if had_commas:
            with_commas.append(col)
        if had_tokens:
            with_tokens.append(col)
    if with_commas:
        transformations.append(f"parsed numbers with thousands separators in "
                               f"{count(len(with_commas), 'column')} ({_names(with_commas)})")
    if with_tokens:
        transformations.append(f"read placeholders such as '..' or '-' as missing in "
                               f"{count(len(with_tokens), 'numeric column')} ({_names(with_tokens)})")
    for col in keep:
        if col in frame.columns and not pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].astype(str)
    return frame


def _names(cols: list[str], limit: int = 3) -> str:
    shown = ", ".join(repr(c) for c in cols[:limit])
    return shown + (f" and {len(cols) - limit:,} more" if len(cols) > limit else "")


def _as_number(series: pd.Series):
    """(numeric series, had thousands separators, had placeholders) when a text column is
    clearly numeric; None otherwise. Digit-only codes with leading zeros stay text."""
    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        return None
    present = series.dropna()
    if present.empty or not all(isinstance(v, str) for v in present.head(200)):
        return None
    text = present.astype(str).str.strip()
    tokens = text.str.lower().isin(_NA_TOKENS)
    values = text[~tokens]
    if values.empty or len(values) < 0.5 * len(text):
        return None
    if not values.str.fullmatch(_NUMBER).all():
        return None
    had_commas = bool(values.str.contains(",", regex=False).any())
    had_tokens = bool(tokens.any())
    if not (had_commas or had_tokens):
        return None  # pandas would have parsed it already: these are codes kept as text on purpose
    if not had_commas and values.str.match(r"[+-]?0\d").any():
        return None  # "01", "007": codes, not numbers
    cleaned = []
    for value in series.astype(object):
        if not isinstance(value, str):
            cleaned.append(None)
            continue
        value = value.strip()
        cleaned.append(None if value.lower() in _NA_TOKENS else value.replace(",", ""))
    numbers = pd.to_numeric(pd.Series(cleaned, index=series.index, dtype=object), errors="coerce")
    return numbers, had_commas, had_tokens


# ---------------------------------------------------------------------------------------------
# geometry from columns
_PAIRS = (
    # (x names, y names, expected CRS or None for "decide from values")
    (("longitude", "long", "lon", "lng", "x_lon"), ("latitude", "lat", "y_lat"), WGS84),
    (("easting", "eastings", "os_grid_x", "osgrid_x", "bng_e", "bng_easting", "grid_x", "x_coord",
      "centroid_x", "xcoord"),
     ("northing", "northings", "os_grid_y", "osgrid_y", "bng_n", "bng_northing", "grid_y", "y_coord",
      "centroid_y", "ycoord"), BNG),
    (("x", "cx", "coord_x", "point_x"), ("y", "cy", "coord_y", "point_y"), None),
)
_WKT = re.compile(r"\s*(SRID=\d+;)?\s*(MULTI)?(POINT|LINESTRING|POLYGON)|\s*GEOMETRYCOLLECTION", re.I)


def find_coordinate_pairs(frame: pd.DataFrame) -> list[tuple[str, str, str | None]]:
    lookup: dict[str, str] = {}
    for col in frame.columns:
        key = re.sub(r"[\s_]+", "_", str(col).strip().lower())
        lookup.setdefault(key, col)
    pairs = []
    for xs, ys, crs in _PAIRS:
        x = next((lookup[n] for n in xs if n in lookup), None)
        y = next((lookup[n] for n in ys if n in lookup), None)
        if x is not None and y is not None and x != y:
            pairs.append((x, y, crs))
    return pairs


def find_wkt_column(frame: pd.DataFrame) -> str | None:
    for col in frame.columns:
        series = frame[col]
        if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
            continue
        sample = series.dropna().head(20)
        if len(sample) and all(isinstance(v, str) and _WKT.match(v) for v in sample):
            return col
    return None


def _in_box(x: np.ndarray, y: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _pair_lonlat(frame: pd.DataFrame, x_col: str, y_col: str, name: str, options: dict,
                 explicit: bool, notes: list[str]):
    """(crs label, lon, lat, missing mask) for one column pair, or None when it is unusable."""
    x = pd.to_numeric(frame[x_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame[y_col], errors="coerce").to_numpy(dtype=float)
    missing = ~(np.isfinite(x) & np.isfinite(y))
    usable = ~missing & ~((x == 0) & (y == 0))
    if not usable.any():
        if explicit:
            raise LoadError(name, "the x/y columns hold no numeric coordinates", column=str(x_col))
        return None
    if options.get("crs"):
        crs = crs_label(parse_crs(options["crs"], name))
    else:
        xu, yu = x[usable], y[usable]
        if _in_box(xu, yu, GB_LONLAT).mean() >= 0.5:
            crs = WGS84
        elif _in_box(xu, yu, BNG_RANGE).mean() >= 0.5 and not _in_box(xu, yu, (-180, -90, 180, 90)).all():
            crs = BNG
        elif explicit:
            crs = guess_crs((xu.min(), yu.min(), xu.max(), yu.max()))
            if crs is None:
                raise LoadError(name, f"cannot tell the CRS of columns {x_col}/{y_col} from their "
                                      "values (give the crs option)")
        else:
            notes.append(f"columns {x_col}/{y_col} look like coordinates but most values lie "
                         "outside Great Britain: not used")
            return None
    lon, lat = x.copy(), y.copy()
    if crs != WGS84:
        transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
        lon[usable], lat[usable] = transformer.transform(x[usable], y[usable])
    lon[~usable] = np.nan
    lat[~usable] = np.nan
    return crs, lon, lat, missing


def points_from_columns(frame: pd.DataFrame, name: str, options: dict,
                        transformations: list[str]):
    """(GeoDataFrame in EPSG:4326, source CRS label) from coordinate columns, or None when the
    table has no usable pair.

    Pairs are looked for by name (Longitude/Latitude, Easting/Northing, os_grid_x/os_grid_y,
    X/Y …) and their CRS told from the values (lon/lat inside Great Britain, or BNG metres). When
    a table has two pairs (LAQN sites: lat/lon and grid x/y) rows that the first lacks are filled
    from the second. Rows without coordinates, with 0/0 placeholders or outside a generous Great
    Britain box are dropped and counted."""
    explicit = bool(options.get("x") or options.get("y"))
    if explicit:
        x_col, y_col = options.get("x"), options.get("y")
        for col in (x_col, y_col):
            if not col or col not in frame.columns:
                raise LoadError(name, f"the x/y options name a column that is not there "
                                      f"(columns: {', '.join(map(str, frame.columns[:20]))})",
                                column=str(col) if col else None)
        pairs = [(x_col, y_col)]
    else:
        pairs = [(x, y) for x, y, _ in find_coordinate_pairs(frame)]
    notes: list[str] = []
    decoded = []
    for x_col, y_col in pairs:
        result = _pair_lonlat(frame, x_col, y_col, name, options, explicit, notes)
        if result is not None:
            decoded.append((x_col, y_col, *result))
    transformations.extend(notes)
    if not decoded:
        return None
    x_col, y_col, crs, lon, lat, missing = decoded[0]
    inside = np.isfinite(lon) & _in_box(lon, lat, GB_LONLAT)
    if not inside.any():
        if explicit or options.get("crs"):
            raise LoadError(name, f"no row of {x_col}/{y_col} falls inside Great Britain (read as {crs})")
        return None
    steps = [f"points from columns {x_col}/{y_col} ({crs})"]
    for ox, oy, ocrs, olon, olat, omissing in decoded[1:]:
        fill = ~inside & np.isfinite(olon) & _in_box(olon, olat, GB_LONLAT)
        if fill.any():
            lon, lat = lon.copy(), lat.copy()
            lon[fill], lat[fill] = olon[fill], olat[fill]
            inside |= fill
            missing = missing & omissing
            steps.append(f"took {count(int(fill.sum()), 'row')} from columns {ox}/{oy} ({ocrs}) "
                         f"where {x_col}/{y_col} were missing or placeholders")
    missing = missing & ~inside
    outside = ~inside & ~missing
    kept = frame.loc[inside].reset_index(drop=True)
    geometry = gpd.GeoSeries(shapely.points(lon[inside], lat[inside]), crs=WGS84)
    gdf = gpd.GeoDataFrame(kept, geometry=geometry, crs=WGS84)
    transformations.extend(steps)
    if missing.any():
        transformations.append(f"dropped {count(int(missing.sum()), 'row')} with missing coordinates")
    if outside.any():
        transformations.append(f"dropped {count(int(outside.sum()), 'row')} with placeholder or "
                               "out-of-area coordinates (0/0 or outside Great Britain)")
    if crs != WGS84:
        transformations.append(f"reprojected {crs} → {WGS84}")
    return gdf, crs


def geometry_from_wkt(frame: pd.DataFrame, column: str, name: str, options: dict,
                      transformations: list[str]) -> gpd.GeoDataFrame:
    """A GeoDataFrame (CRS from the crs option, an EWKT SRID, or none) from a WKT column."""
    text = frame[column].astype(object).where(frame[column].notna(), None)
    srid = None
    first = next((v for v in text if isinstance(v, str)), "")
    found = re.match(r"\s*SRID=(\d+);", first, re.I)
    if found:
        srid = f"EPSG:{found.group(1)}"
        text = text.map(lambda v: re.sub(r"^\s*SRID=\d+;", "", v) if isinstance(v, str) else v)
    geoms = shapely.from_wkt(np.asarray(text, dtype=object), on_invalid="ignore")
    unreadable = int((pd.notna(np.asarray(text, dtype=object)) & pd.isna(geoms)).sum())
    crs = parse_crs(options["crs"], name) if options.get("crs") else srid
    gdf = gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=gpd.GeoSeries(geoms, index=frame.index),
                           crs=crs)
    transformations.append(f"geometry from WKT column {column!r}")
    if unreadable:
        transformations.append(f"{count(unreadable, 'value')} in {column!r} could not be read as WKT")
    return gdf
