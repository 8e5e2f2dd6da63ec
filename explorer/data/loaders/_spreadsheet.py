"""Published spreadsheets (XLSX, ODS) → one tidy table, with what was read and dropped in words.

Official statistics mostly come as workbooks laid out for people: a contents sheet, a title and
notes above the table, a header row with footnote markers ("Autumn1"), merged header cells, blank
spacer rows, subtotal rows (England, the regions) between the area rows, "% change" rows under
them, and notes below. ``read_spreadsheet`` finds the table in such a workbook:

* the sheet: the ``sheet`` option (a name, case-insensitive, or a 0-based index), else the first
  visible sheet holding a table at least half the size of the largest one (a contents or dashboard
  sheet is passed over);
* the header row: the first row naming most of the columns the data rows below it use (not
  assumed to be row 1; the ``header_row`` option, counted from 1, names it when the guess is
  wrong), with a group row above it (merged cells across several columns) folded in;
* headers cleaned: footnote markers stripped ("Autumn1" → "Autumn", "households)2" →
  "households)"), years as numbers made text ("2011.000000" → "2011");
* rows: spacer rows, notes and section labels, derived rows ("% change from previous year") are
  dropped and counted; subtotal rows (England, regions, "Rest of England", totals) are kept but
  set apart in the column ``row_type`` ("subtotal", the others "area"), so a join to boundaries
  leaves them out and a chart can still ask for them; the option ``rows`` keeps only the
  ``areas`` or only the ``subtotals``.

``published_table`` applies the same header cleaning and row sorting to a frame read from a CSV
export of such a table (the resource option ``published_table: true``).

Safety: the container is checked with :func:`explorer.data.archive.check_container` before any reader
opens it (decompressed bytes capped by ``EXPLORER_MAX_DOWNLOAD_BYTES`` and the loaders' ratio
limit, as ``_safety.check_file_container`` checks every file ``load_file`` opens); a
password-protected workbook (an OLE2 compound file holding an encrypted package, or an ODS whose
manifest lists encryption) and a legacy .xls are refused with a message naming the file.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explorer.data.loaders._base import LoadError, count
from explorer.data.geo_reference import GSS_RE

SPREADSHEET_FORMATS = ("xlsx", "xls", "ods")
ROW_TYPE = "row_type"
ROWS_CHOICES = ("all", "areas", "subtotals")
FULL_READ_LIMIT = 64 << 20    # decompressed bytes up to which merged cells are read too
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_GSS = GSS_RE
# GSS entity codes of areas that add up other areas: countries, regions, Inner/Outer London, UK, GB …
_AGGREGATE_CODE = re.compile(r"^(E92|E12|E13|K02|K03|K04|W92|S92|N92)\d{6}$")
_AGGREGATE_NAMES = {
    "england", "wales", "scotland", "northern ireland", "united kingdom", "great britain",
    "england and wales", "london", "inner london", "outer london", "rest of england",
    "north east", "north west", "yorkshire and the humber", "yorkshire and humber", "east midlands",
    "west midlands", "east of england", "east", "south east", "south west", "total", "grand total",
    "all", "all areas", "all local authorities",
}
_COUNTRY_CODE = re.compile(r"^(E92|K02|K03|K04|W92|S92|N92)\d{6}$")
_TOTAL_NAMES = {"england", "wales", "scotland", "northern ireland", "united kingdom", "great britain",
                "england and wales", "total", "grand total", "all", "all areas", "rest of england"}
_DERIVED = re.compile(r"^\s*(%|per ?cent|percentage)|%\s*(change|of)|\bchange from\b", re.I)
_PLACEHOLDER_CODES = {"-", "–", "—", "..", ".", "x", "[x]", "n/a", "na", ":"}
_NUMBER_TEXT = re.compile(r"^\s*-?[\d,]*\.?\d+\s*$")


# ============================================================================ headers
# a marker is 1–2 digits stuck to a word without digits of its own ("Autumn1", "Gender3"), or to a
# closing bracket ("households)2"); "change10to16", "PM10" and "NO2" are names, not footnotes
_FOOTNOTE_AFTER_WORD = re.compile(r"(?:(?<=\s)|^)(?P<word>[^\d\s]*[a-z]|\S*[\)\]])\d{1,2}$")
_BRACKETED_NOTE = re.compile(r"\s*\[(note\s*)?\d{1,2}\]$|\s*\((note\s*)?\d{1,2}\)$", re.I)
_SUPERSCRIPTS = re.compile(r"[\u00b9\u00b2\u00b3\u2070-\u2079]+$")
_FLOAT_INTEGER = re.compile(r"^(-?\d+)\.0+$")


def clean_header(value: object) -> str:
    """A header cell as a column name: whitespace collapsed, footnote markers stripped, whole
    numbers without decimals ("Autumn1" → "Autumn", 2011.0 and "2011.000000" → "2011")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    text = " ".join(str(value).split())
    m = _FLOAT_INTEGER.match(text)
    if m:
        return m.group(1)
    for rx in (_SUPERSCRIPTS, _BRACKETED_NOTE, _FOOTNOTE_AFTER_WORD):
        stripped = rx.sub(lambda m: m.groupdict().get("word") or "", text).strip()
        if stripped:
            text = stripped
    return text


# ============================================================================ grids
@dataclass
class _Sheet:
    name: str
    rows: list[list]                       # values, trailing empties trimmed
    hidden: bool = False
    hidden_columns: set[int] = field(default_factory=set)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1 (0-based)
    merges_known: bool = False             # False when the reader cannot see merged cells (ODS)


def _empty(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


def _is_number(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return v == v
    return isinstance(v, str) and bool(_NUMBER_TEXT.match(v)) and any(ch.isdigit() for ch in v)


def _is_year(v) -> bool:
    if isinstance(v, bool):
        return False
    try:
        f = float(str(v).strip()) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        return False
    return f.is_integer() and 1900 <= f <= 2100


def _trim(row) -> list:
    vals = list(row)
    while vals and _empty(vals[-1]):
        vals.pop()
    return vals


def _read_xlsx(path: Path, label: str, size: int, wanted: object = None) -> list[_Sheet]:
    """The sheets of an .xlsx: openpyxl's read-only (streaming) reader for the cells of the sheets
    needed (the one the ``sheet`` option names, else every visible one), and the sheet's own XML
    for its merged cells and hidden columns, which that reader does not give."""
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError:
        raise LoadError(label, "reading Excel workbooks needs openpyxl (pip install openpyxl)") from None
    layout = size <= FULL_READ_LIMIT    # a huge sheet's XML is not read whole for its layout
    # a file object, not the name: openpyxl refuses a name without .xlsx (a store's staged file)
    with open(path, "rb") as fh, zipfile.ZipFile(path) as zf:
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
            raise LoadError(label, f"not a readable Excel workbook ({type(exc).__name__}: {exc})") from None
        try:
            sheets = []
            for i, ws in enumerate(wb.worksheets):
                hidden = ws.sheet_state != "visible"
                needed = _is_wanted(wanted, i, ws.title) if wanted not in (None, "") else not hidden
                if not needed:
                    sheets.append(_Sheet(ws.title, [], hidden=hidden))
                    continue
                ws.reset_dimensions()          # a wrong <dimension> must not cut rows off
                rows = [_trim(r) for r in ws.iter_rows(values_only=True)]
                merges, hidden_cols, known = [], set(), False
                xml_path = getattr(ws, "_worksheet_path", None)
                if layout and xml_path:
                    try:
                        merges, hidden_cols = _sheet_layout(zf.read(xml_path.lstrip("/")))
                        known = True
                    except KeyError:
                        pass
                sheets.append(_Sheet(ws.title, rows, hidden=hidden, hidden_columns=hidden_cols,
                                     merges=merges, merges_known=known))
        finally:
            wb.close()
    return sheets


def _is_wanted(wanted: object, index: int, name: str) -> bool:
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        return index == wanted
    return name.strip().lower() == str(wanted).strip().lower()


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')
_COL = re.compile(rb"<(?:\w+:)?col\b([^>]*)>")
_ATTR = re.compile(rb'\b(min|max|hidden)="([^"]*)"')


def _sheet_layout(xml: bytes) -> tuple[list[tuple[int, int, int, int]], set[int]]:
    """Merged ranges (0-based r0, c0, r1, c1) and hidden column indexes from a sheet's XML."""
    from openpyxl.utils import column_index_from_string

    merges = [(int(r0) - 1, column_index_from_string(c0.decode()) - 1,
               int(r1) - 1, column_index_from_string(c1.decode()) - 1)
              for c0, r0, c1, r1 in _MERGE.findall(xml)]
    hidden: set[int] = set()
    for attrs in _COL.findall(xml):
        found = {k.decode(): v.decode() for k, v in _ATTR.findall(attrs)}
        if found.get("hidden") in ("1", "true") and found.get("min", "").isdigit():
            lo = int(found["min"])
            hi = int(found["max"]) if found.get("max", "").isdigit() else lo
            hidden.update(range(lo - 1, min(hi, 16384)))
    return merges, hidden


def _read_ods(path: Path, label: str) -> list[_Sheet]:
    try:
        import odf  # noqa: F401  (pandas' odf engine)
    except ImportError:
        raise LoadError(label, "reading ODS spreadsheets needs odfpy (pip install odfpy)") from None
    try:
        book = pd.read_excel(path, sheet_name=None, header=None, engine="odf")
    except Exception as exc:  # odfpy raises many kinds for a broken file
        raise LoadError(label, f"not a readable ODS spreadsheet ({type(exc).__name__}: {exc})") from None
    sheets = []
    for name, frame in book.items():
        rows = [_trim([None if _empty(v) else v for v in rec]) for rec in frame.itertuples(index=False)]
        sheets.append(_Sheet(str(name), rows))
    return sheets


# ============================================================================ finding the table
@dataclass
class _Table:
    sheet: _Sheet
    header_row: int                 # 0-based
    group_row: int | None
    columns: list[int]              # 0-based column indexes kept
    names: list[str]
    raw_names: list[object]
    body: list[int]                 # 0-based row indexes from the first to the last data row
    data_cells: int


def _cell(rows: list[list], r: int, c: int):
    row = rows[r] if 0 <= r < len(rows) else []
    return row[c] if c < len(row) else None


def _data_row(row: list, skip: set[int]) -> bool:
    """A row of the table body: at least two numbers, or a number beside a name or code."""
    nums = sum(1 for c, v in enumerate(row) if c not in skip and _is_number(v))
    texts = sum(1 for c, v in enumerate(row) if c not in skip and isinstance(v, str) and not _empty(v)
                and not _is_number(v))
    return nums >= 2 or (nums >= 1 and texts >= 1)


def _find_table(sheet: _Sheet, forced: int | None = None) -> _Table | None:
    """The table of a sheet; ``forced`` (0-based) is the header row the ``header_row`` option names."""
    rows, skip = sheet.rows, sheet.hidden_columns
    n = len(rows)
    is_data = [_data_row(r, skip) for r in rows]
    best = None
    for h in ([forced] if forced is not None else range(min(n, 200))):
        if forced is not None:
            if forced < n and any(is_data[forced + 1:]):
                best = forced
            break
        row = rows[h]
        cells = [c for c, v in enumerate(row) if c not in skip and not _empty(v)]
        if len(cells) < 2 or is_data[h] and not all(_is_year(row[c]) or not _is_number(row[c]) for c in cells):
            continue
        # the data rows below (spacer and label rows may come between)
        body = [r for r in range(h + 1, min(n, h + 12)) if is_data[r]]
        if len(body) < 2:
            continue
        used: set[int] = set()
        for r in body:
            used.update(c for c, v in enumerate(rows[r]) if c not in skip and not _empty(v))
        named = used & set(cells)
        if len(named) < max(2, 0.6 * len(used)):
            continue
        best = h
        break
    if best is None:
        return None
    h = best
    # the body: from the first data row after the header to the last one before a run of notes
    first = next(r for r in range(h + 1, n) if is_data[r])
    last = first
    for r in range(first, n):
        if is_data[r]:
            last = r
        elif r - last > 20:      # a long stretch without data: the table has ended
            break
    columns_used: set[int] = set(c for c, v in enumerate(rows[h]) if c not in skip and not _empty(v))
    for r in range(first, last + 1):
        if is_data[r]:
            columns_used.update(c for c, v in enumerate(rows[r]) if c not in skip and not _empty(v))
    columns = sorted(columns_used)
    group = _group_row(sheet, h, columns)
    names, raw = _header_names(sheet, h, group, columns)
    data_cells = sum(1 for r in range(first, last + 1) if is_data[r] for c in columns
                     if not _empty(_cell(rows, r, c)))
    return _Table(sheet, h, group, columns, names, raw, list(range(first, last + 1)), data_cells)


def _merged_across(sheet: _Sheet, r: int) -> list[tuple[int, int]]:
    return [(c0, c1) for r0, c0, r1, c1 in sheet.merges if r0 <= r <= r1 and c1 > c0]


def _group_row(sheet: _Sheet, h: int, columns: list[int]) -> int | None:
    """The row above the header when it groups header cells (a cell merged over several columns,
    or several short labels over a header that has more)."""
    r = h - 1
    while r >= 0 and not sheet.rows[r]:
        return None
    if r < 0:
        return None
    above = [c for c in columns if not _empty(_cell(sheet.rows, r, c))]
    if not above:
        return None
    spans = [(c0, c1) for c0, c1 in _merged_across(sheet, r) if any(c0 <= c <= c1 for c in columns)]
    if spans:
        return r
    if sheet.merges_known:
        return None
    # without merge information: short labels over the measure columns (not over the first,
    # identifying column), fewer than the header's cells
    header = [c for c in columns if not _empty(_cell(sheet.rows, h, c))]
    texts = [_cell(sheet.rows, r, c) for c in above]
    if (len(above) >= 2 and len(header) > len(above) and header and above[0] > header[0]
            and all(isinstance(t, str) and len(t) <= 40 and not _is_number(t) for t in texts)):
        return r
    return None


def _excel_letter(c: int) -> str:
    out = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        out = chr(65 + rem) + out
    return out


def _header_names(sheet: _Sheet, h: int, group: int | None, columns: list[int]) -> tuple[list[str], list]:
    rows = sheet.rows

    def spread(r: int) -> dict[int, tuple[object, int]]:
        """Column → (value, position within its merged range) for row r."""
        out = {c: (_cell(rows, r, c), 0) for c in columns}
        for c0, c1 in _merged_across(sheet, r):
            value = _cell(rows, r, c0)
            for i, c in enumerate(range(c0, c1 + 1)):
                if c in out:
                    out[c] = (value, i)
        return out

    head = spread(h)
    groups: dict[int, object] = {}
    if group is not None:
        g = spread(group)
        current = None
        merged = bool(_merged_across(sheet, group))
        for c in columns:
            value, _ = g[c]
            if not _empty(value):
                current = value
            elif not merged and _empty(head[c][0]):
                current = None
            groups[c] = value if merged else current
    names, raw, seen = [], [], set()
    for c in columns:
        value, pos = head[c]
        parts = []
        gv = groups.get(c)
        if gv is not None and not _empty(gv):
            parts.append(clean_header(gv))
        if not _empty(value):
            text = clean_header(value)
            if text not in parts:
                parts.append(text)
        name = " ".join(parts) or f"Column {_excel_letter(c)}"
        if pos and not _empty(value) and gv is None:
            name = f"{name} ({pos + 1})"
        base, i = name, 2
        while name in seen:
            name, i = f"{base} ({i})", i + 1
        seen.add(name)
        names.append(name)
        raw.append(value if gv is None else f"{gv} / {value}")
    return names, raw


# ============================================================================ rows
def _code_column(frame: pd.DataFrame) -> str | None:
    best, share = None, 0.3
    for col in frame.columns:
        s = frame[col].dropna().astype(str).str.strip()
        if not len(s):
            continue
        hit = s.str.match(_GSS).mean()
        if hit > share:
            best, share = col, hit
    return best


def _name_column(frame: pd.DataFrame, code: str | None) -> str | None:
    for col in frame.columns:
        if col == code:
            continue
        s = frame[col].dropna()
        if len(s) and (s.map(lambda v: isinstance(v, str) and not _is_number(v))).mean() > 0.6:
            return col
    return None


def _label(v) -> str:
    return " ".join(str(v).split()) if not _empty(v) else ""


def sort_rows(frame: pd.DataFrame, label: str, transformations: list[str],
              row_numbers: list[int] | None = None, rows: str | None = None) -> pd.DataFrame:
    """Drop spacer, note and derived rows; mark subtotal rows in ``row_type``; say what was done.

    ``rows`` (the resource option) keeps ``all`` (the default), only the ``areas`` or only the
    ``subtotals``."""
    rows = str(rows or "all").strip().lower()
    if rows not in ROWS_CHOICES:
        raise LoadError(label, f"the rows option must be one of {', '.join(ROWS_CHOICES)}, got {rows!r}")
    code_col = _code_column(frame)
    name_col = _name_column(frame, code_col)
    others = [c for c in frame.columns if c not in (code_col, name_col)]
    kinds = []
    dropped_examples: dict[str, list[str]] = {"spacer": [], "note": [], "derived": []}
    subtotal_names: list[str] = []
    for _, rec in frame.iterrows():
        code = _label(rec[code_col]) if code_col else ""
        name = _label(rec[name_col]) if name_col else ""
        values = [rec[c] for c in others]
        has_value = any(not _empty(v) for v in values)
        has_number = any(_is_number(v) for v in values)
        if not code and not name and not has_value:
            kinds.append("spacer")
        elif code and _AGGREGATE_CODE.match(code):
            kinds.append("subtotal")
        elif not _GSS.match(code) and _DERIVED.search(name):
            kinds.append("derived")
        elif not _GSS.match(code) and (name.lower() in _AGGREGATE_NAMES
                                       or re.match(r"^(total|rest of|all )", name, re.I)) and has_number:
            kinds.append("subtotal")
        elif not _GSS.match(code) and not has_number:
            kinds.append("note")          # a section label ("Gender") or a note inside the table
        else:
            kinds.append("area")
        k = kinds[-1]
        if k in dropped_examples and name and name not in dropped_examples[k]:
            dropped_examples[k].append(name)
        if k == "subtotal":
            subtotal_names.append(name or code)
    if "area" not in kinds and kinds.count("subtotal") > 1:
        # a table of regions (or countries): its rows are the areas; only the totals over them stay apart
        for i, (_, rec) in enumerate(frame.iterrows()):
            code = _label(rec[code_col]) if code_col else ""
            name = _label(rec[name_col]).lower() if name_col else ""
            if kinds[i] == "subtotal" and not (_COUNTRY_CODE.match(code) or name in _TOTAL_NAMES
                                               or re.match(r"^(total|rest of|all )", name)):
                kinds[i] = "area"
                if name:
                    subtotal_names.remove(_label(rec[name_col]))
    kinds_s = pd.Series(kinds, index=frame.index)
    keep = kinds_s.isin(["area", "subtotal"])
    out = frame.loc[keep].copy()
    out[ROW_TYPE] = kinds_s[keep].to_numpy()
    if code_col:
        codes = out[code_col].map(lambda v: None if _empty(v) or _label(v).lower() in _PLACEHOLDER_CODES
                                  else _label(v))
        placeholders = int(out[code_col].notna().sum() - codes.notna().sum())
        out[code_col] = codes.astype("string")
        if placeholders:
            transformations.append(f"read {count(placeholders, 'placeholder code')} such as '-' in "
                                   f"{code_col!r} as no code")
    n_area = int((kinds_s == "area").sum())
    n_sub = int((kinds_s == "subtotal").sum())
    where = ""
    if row_numbers is not None:
        where = f" ({_rows(row_numbers[0], row_numbers[-1])})" if row_numbers else ""
    transformations.append(
        f"kept {count(n_area, 'area row')} and {count(n_sub, 'subtotal row')}{where}"
        + (f" – {_examples(subtotal_names, 6)} – set apart in column {ROW_TYPE!r}" if n_sub else ""))
    if rows != "all":
        wanted = "area" if rows == "areas" else "subtotal"
        other = "subtotal" if wanted == "area" else "area"
        n_other = int((out[ROW_TYPE] == other).sum())
        out = out[out[ROW_TYPE] == wanted]
        transformations.append(f"left out the {count(n_other, other + ' row')} (the rows option asks "
                               f"for {rows} only)")
    for kind, words in (("spacer", "spacer row"), ("derived", "derived row"), ("note", "note or label row")):
        n = int((kinds_s == kind).sum())
        if n:
            ex = dropped_examples[kind]
            transformations.append(f"dropped {count(n, words)}" + (f" ({_examples(ex, 3)})" if ex else ""))
    return out.reset_index(drop=True)


def _rows(first: int, last: int) -> str:
    """'row 7' or 'rows 6–366' from 0-based indexes."""
    return f"row {first + 1}" if first == last else f"rows {first + 1}–{last + 1}"


def _examples(items: list[str], limit: int) -> str:
    uniq = list(dict.fromkeys(items))
    shown = ", ".join(repr(i) for i in uniq[:limit])
    return shown + (f" and {len(uniq) - limit:,} more" if len(uniq) > limit else "")


def published_table(frame: pd.DataFrame, label: str, opts: dict, transformations: list[str]) -> pd.DataFrame:
    """A frame read from a CSV export of a published table: headers cleaned, rows sorted."""
    first = frame.columns[0] if len(frame.columns) else None
    if first is not None and re.fullmatch(r"(Unnamed: 0|)", str(first).strip()):
        numbers = pd.to_numeric(frame[first], errors="coerce")
        if numbers.notna().all() and (numbers.diff().dropna() == 1).all():
            frame = frame.drop(columns=[first])
            transformations.append("dropped the first column: row numbers of the export")
    renamed = {}
    for col in frame.columns:
        new = clean_header(col)
        if new != str(col):
            renamed[col] = new
    if renamed:
        frame = frame.rename(columns=renamed)
        transformations.append(f"cleaned {count(len(renamed), 'header')} of footnote markers and "
                               f"decimals ({_examples([f'{a} → {b}' for a, b in renamed.items()], 3)})")
    return sort_rows(frame, label, transformations, rows=opts.get("rows"))


# ============================================================================ the entry point
def _refuse_non_zip(path: Path, label: str, head: bytes) -> None:
    if head.startswith(_OLE2_MAGIC):
        data = path.read_bytes() if path.stat().st_size <= (64 << 20) else b""
        if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
            raise LoadError(label, "the workbook is password-protected (encrypted); save an "
                                   "unprotected copy to read it")
        raise LoadError(label, "an Excel 97–2003 (.xls) workbook, which the explorer does not read; "
                               "save it as .xlsx or .ods")
    raise LoadError(label, "not a spreadsheet: an .xlsx or .ods workbook is a zip container, and "
                           "this file is not one")


def _kind_of_zip(path: Path, label: str) -> tuple[str, int]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            size = sum(i.file_size for i in zf.infolist())
            if "mimetype" in names and zf.read("mimetype").strip().startswith(_ODS_MIME):
                manifest = zf.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
                if b"encryption-data" in manifest:
                    raise LoadError(label, "the spreadsheet is password-protected (encrypted); "
                                           "save an unprotected copy to read it")
                return "ods", size
            if "xl/workbook.xml" in names or any(n.startswith("xl/") for n in names):
                return "xlsx", size
    except zipfile.BadZipFile as exc:
        raise LoadError(label, f"not a readable workbook ({exc})") from None
    raise LoadError(label, "a zip file but not a spreadsheet (no Excel workbook or ODS content)")


def spreadsheet_kind(path: Path) -> str | None:
    """'xlsx' or 'ods' when the file's content is such a workbook (whatever its name), else None."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return None
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "mimetype" in names and zf.read("mimetype")[:200].strip().startswith(_ODS_MIME):
                return "ods"
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError):
        return None
    return None


def is_spreadsheet_zip(path: Path) -> bool:
    """True for an .xlsx/.ods file whatever its name (so it is not taken for a zip of data files)."""
    return spreadsheet_kind(path) is not None


def read_spreadsheet(data: Path | bytes, label: str, opts: dict, transformations: list[str], *,
                     checked: bool = False) -> pd.DataFrame:
    """The table of a workbook (a path or the bytes of an archive member) as a frame.

    The container is bounded first (EXPLORER_MAX_DOWNLOAD_BYTES and the loaders' ratio limit)
    unless the caller has just done so (``checked``: ``load_file`` checks every file it opens)."""
    if isinstance(data, (bytes, bytearray)):
        with tempfile.TemporaryDirectory(prefix="explorer-sheet-") as tmp:
            path = Path(tmp) / "workbook"
            path.write_bytes(bytes(data))
            return read_spreadsheet(path, label, opts, transformations)
    from explorer.data.loaders._safety import check_file_container

    path = Path(data)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(b"PK"):
        _refuse_non_zip(path, label, head)
    if not checked:
        check_file_container(path, label)
    kind, size = _kind_of_zip(path, label)
    sheets = _read_xlsx(path, label, size, opts.get("sheet")) if kind == "xlsx" else _read_ods(path, label)
    return table_from_sheets(sheets, label, opts, transformations)


def _header_option(opts: dict, label: str) -> int | None:
    value = opts.get("header_row")
    if value in (None, ""):
        return None
    try:
        row = int(value)
    except (TypeError, ValueError):
        row = 0
    if row < 1 or isinstance(value, bool):
        raise LoadError(label, f"the header_row option must be a row number from 1, got {value!r}")
    return row - 1


def table_from_sheets(sheets: list[_Sheet], label: str, opts: dict, transformations: list[str]) -> pd.DataFrame:
    if not sheets:
        raise LoadError(label, "the workbook has no sheets")
    wanted = opts.get("sheet")
    names = [s.name for s in sheets]
    if wanted not in (None, ""):
        if isinstance(wanted, int) and not isinstance(wanted, bool):
            if not 0 <= wanted < len(sheets):
                raise LoadError(label, f"the workbook has {count(len(sheets), 'sheet')}; there is no "
                                       f"sheet number {wanted} (counting from 0)")
            sheet = sheets[wanted]
        else:
            match = [s for s in sheets if s.name.strip().lower() == str(wanted).strip().lower()]
            if not match:
                raise LoadError(label, f"no sheet named {wanted!r}; the sheets are {_examples(names, 12)}")
            sheet = match[0]
        table = _find_table(sheet, _header_option(opts, label))
        if table is None:
            raise LoadError(label, "no table found: no header row with data rows below it"
                            + (f" (the header_row option says row {opts['header_row']})"
                               if opts.get("header_row") else ""), layer=sheet.name)
        how = "the sheet option"
    else:
        found = [(s, _find_table(s, _header_option(opts, label))) for s in sheets if not s.hidden]
        found = [(s, t) for s, t in found if t is not None]
        if not found:
            raise LoadError(label, f"no table found in any sheet ({_examples(names, 12)}): no header "
                                   "row with data rows below it")
        largest = max(t.data_cells for _, t in found)
        sheet, table = next((s, t) for s, t in found if t.data_cells >= largest / 2)
        how = (f"the first of {count(len(sheets), 'sheet')} holding a table; the sheet option picks another"
               if len(sheets) > 1 else "its only sheet")
    transformations.append(f"read sheet {sheet.name!r} of {label} ({how})")
    header_rows = (f"rows {table.group_row + 1}–{table.header_row + 1}" if table.group_row is not None
                   else f"row {table.header_row + 1}")
    above = table.group_row if table.group_row is not None else table.header_row
    transformations.append(f"found the header in {header_rows}"
                           + (f"; left out {count(above, 'row')} of title and notes above it" if above else ""))
    cleaned = [(raw, name) for raw, name in zip(table.raw_names, table.names)
               if not _empty(raw) and str(raw).strip() != name and not _is_year(raw)]
    if cleaned:
        transformations.append(f"cleaned {count(len(cleaned), 'header')} of footnote markers or merged "
                               f"cells ({_examples([f'{a} → {b}' for a, b in cleaned], 3)})")
    if sheet.hidden_columns:
        transformations.append(f"left out {count(len(sheet.hidden_columns & set(range(max(map(len, sheet.rows), default=0)))), 'hidden column')}")
    records = [[_cell(sheet.rows, r, c) for c in table.columns] for r in table.body]
    frame = pd.DataFrame(records, columns=table.names, dtype=object)
    after = [r for r in range(table.body[-1] + 1, len(sheet.rows)) if sheet.rows[r]]
    out = sort_rows(frame, label, transformations, row_numbers=table.body, rows=opts.get("rows"))
    if after:
        transformations.append(f"left out {count(len(after), 'row')} of notes below the table "
                               f"({_rows(after[0], after[-1])})")
    for col in out.columns:
        if col == ROW_TYPE:
            continue
        series = out[col]
        present = series.dropna()
        if len(present) and present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            out[col] = pd.to_numeric(series, errors="coerce")
    return out


__all__ = ["SPREADSHEET_FORMATS", "ROW_TYPE", "clean_header", "is_spreadsheet_zip", "published_table",
           "read_spreadsheet", "sort_rows", "spreadsheet_kind", "table_from_sheets"]
