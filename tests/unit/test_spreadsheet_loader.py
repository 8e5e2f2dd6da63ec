"""Published spreadsheets (explorer/data/loaders/_spreadsheet.py): the real MHCLG rough sleeping
workbook and its 2016 CSV export read as tidy tables, and small workbooks built here with
openpyxl and pandas' odf writer for the layouts and the failures the reader must recognise."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from explorer.data.loaders import ROW_TYPE, LoadError, clean_header, load_file, read_spreadsheet
from explorer.catalogue.models import Resource

WORKBOOK = "stats/homelessness/rough_sleeping_england_autumn_2017.xlsx"
CSV_2016 = "stats/homelessness/rough_sleeping_la_2010_2016.csv"
YEARS = [str(y) for y in range(2010, 2018)]
RATE = "2017 rough sleeping rate (per 1,000 households)"


def _direct_table_1(path: Path) -> dict[str, tuple]:
    """Every coded row of 'table 1' read cell by cell with openpyxl: code → (name, 2010 … 2017)."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = {}
    for row in wb["table 1"].iter_rows(values_only=True):
        if isinstance(row[0], str) and row[0].startswith("E") and len(row[0]) == 9:
            out[row[0]] = (row[1], *row[3:11])
    wb.close()
    return out


# ------------------------------------------------------------------------------ the real workbook
@pytest.fixture(scope="module")
def table_1(data_dir):
    steps: list[str] = []
    frame = read_spreadsheet(data_dir / WORKBOOK, "rough_sleeping.xlsx", {"sheet": "table 1"}, steps)
    return frame, steps


def test_the_header_row_is_found_and_cleaned(table_1):
    frame, steps = table_1
    assert list(frame.columns) == ["ONS code", "Local authority / Region", "Local authority / Region (2)",
                                   *YEARS, "Number of households 2017 ('000)", RATE, ROW_TYPE]
    assert "found the header in row 4; left out 3 rows of title and notes above it" in steps
    assert any("Number of households 2017 ('000)2" in s and "footnote" in s for s in steps)
    assert steps[0] == "read sheet 'table 1' of rough_sleeping.xlsx (the sheet option)"


def test_33_london_boroughs_with_their_codes_and_numeric_years(table_1, data_dir):
    frame, _ = table_1
    boroughs = frame[frame["ONS code"].fillna("").str.startswith("E09")]
    assert len(boroughs) == 33 and set(boroughs[ROW_TYPE]) == {"area"}
    assert set(boroughs["Local authority / Region (2)"]) == {"London"}
    for year in YEARS:
        assert pd.api.types.is_numeric_dtype(frame[year]), year
        assert boroughs[year].notna().all()
    direct = _direct_table_1(data_dir / WORKBOOK)
    for _, row in boroughs.iterrows():
        assert (row["Local authority / Region"], *row[YEARS]) == direct[row["ONS code"]]
    # the boroughs add up to the London subtotal, every year
    london = frame[frame["ONS code"] == "E12000007"].iloc[0]
    assert (boroughs[YEARS].sum() == london[YEARS].astype(int)).all()
    assert london["2017"] == 1137 and london["2010"] == 415


def test_england_and_the_regions_are_set_apart(table_1):
    frame, steps = table_1
    subtotals = frame[frame[ROW_TYPE] == "subtotal"]
    assert list(subtotals["Local authority / Region"])[:3] == ["England", "London", "Rest of England"]
    assert len(subtotals) == 11                               # England, London, the rest, 9 regions
    codes = subtotals["ONS code"].dropna()
    assert set(codes.str[:3]) == {"E92", "E12"} and len(codes) == 10
    assert subtotals["ONS code"].isna().sum() == 1            # "Rest of England" is coded "-"
    areas = frame[frame[ROW_TYPE] == "area"]
    assert len(areas) == 326 and not areas["ONS code"].str[:3].isin(["E92", "E12"]).any()
    assert areas["2017"].sum() == subtotals.set_index("Local authority / Region").loc["England", "2017"] == 4751
    # derived rows are dropped and said to be
    assert not frame["Local authority / Region"].str.contains("%", regex=False).any()
    assert "dropped 21 derived rows ('% change from previous year', '% of England total')" in steps
    assert any(s.startswith("kept 326 area rows and 11 subtotal rows (rows 6–366)") for s in steps)
    assert "left out 12 rows of notes below the table (rows 369–382)" in steps


def test_the_rows_option_keeps_only_areas_or_only_subtotals(data_dir):
    areas = read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {"sheet": "table 1", "rows": "areas"}, [])
    subtotals = read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {"sheet": "table 1", "rows": "subtotals"}, [])
    assert len(areas) == 326 and set(areas[ROW_TYPE]) == {"area"}
    assert len(subtotals) == 11 and set(subtotals[ROW_TYPE]) == {"subtotal"}
    with pytest.raises(LoadError, match="rows option must be one of all, areas, subtotals"):
        read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {"rows": "boroughs"}, [])


def test_without_a_sheet_option_the_first_real_table_is_read(data_dir):
    steps: list[str] = []
    frame = read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {}, steps)
    # the contents sheet and the dashboard ("LA dropdown", with hidden lookup columns) are passed over
    assert steps[0] == ("read sheet 'table 1' of w.xlsx (the first of 6 sheets holding a table; "
                        "the sheet option picks another)")
    assert "2017" in frame.columns and len(frame) == 337
    by_gender = read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {"sheet": "TABLE 2A"}, [])
    assert list(by_gender.columns)[3:7] == ["Total", "Males", "Females", "Gender not known"]
    assert (by_gender["Males"] + by_gender["Females"] + by_gender["Gender not known"] == by_gender["Total"]).all()


def test_a_named_sheet_that_is_not_there_lists_the_sheets(data_dir):
    with pytest.raises(LoadError) as err:
        read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {"sheet": "table 9"}, [])
    assert "no sheet named 'table 9'" in str(err.value) and "'table 2c'" in str(err.value)
    with pytest.raises(LoadError, match="no table found") as err:
        read_spreadsheet(data_dir / WORKBOOK, "w.xlsx", {"sheet": "Contents"}, [])
    assert err.value.name == "w.xlsx" and err.value.layer == "Contents"


def test_load_file_reads_the_catalogue_resource_and_says_what_it_did(data_dir):
    resource = Resource(id="table-1", format="xlsx", options={"sheet": "table 1"})
    loaded = load_file(data_dir / WORKBOOK, resource)
    assert loaded.kind == "table" and len(loaded.frame) == 337
    text = " | ".join(loaded.transformations)
    assert "read sheet 'table 1'" in text and "row 4" in text and "subtotal" in text


def test_the_2016_csv_export_is_read_as_a_published_table(data_dir):
    resource = Resource(id="csv-2016", format="csv", options={"published_table": True})
    loaded = load_file(data_dir / CSV_2016, resource)
    frame = loaded.frame
    assert [c for c in frame.columns if c.isdigit()] == YEARS[:-1]         # "2010.000000" → "2010"
    assert "Number of Households 2016 ('000s)" in frame.columns and "change10to16" in frame.columns
    assert "Unnamed: 0" not in frame.columns                                 # the export's row numbers
    subtotals = frame[frame[ROW_TYPE] == "subtotal"]
    assert list(subtotals["Local Authority"]) == ["England", "London", "Rest of England"]
    boroughs = frame[frame["ONS Code"].fillna("").str.startswith("E09")]
    assert len(boroughs) == 33
    assert boroughs["2016"].sum() == subtotals.set_index("Local Authority").loc["London", "2016"] == 964
    assert any("2010.000000 → 2010" in s for s in loaded.transformations)
    plain = load_file(data_dir / CSV_2016, Resource(id="csv", format="csv"))
    assert "2010.000000" in plain.frame.columns                               # only when asked


@pytest.mark.parametrize("raw, clean", [
    ("Autumn1", "Autumn"), ("Gender3", "Gender"), ("Number of households 2017 ('000)2", "Number of households 2017 ('000)"),
    ("2011.000000", "2011"), (2011.0, "2011"), (2010, "2010"), ("Rate [note 3]", "Rate"), ("Rate²", "Rate"),
    ("  Local   authority\n name ", "Local authority name"),
    # names that end in digits are left alone
    ("NO2", "NO2"), ("PM10", "PM10"), ("change10to16", "change10to16"), ("Under 18", "Under 18"),
    ("LAD22CD", "LAD22CD"),
])
def test_clean_header(raw, clean):
    assert clean_header(raw) == clean


# ------------------------------------------------------------------------------ built workbooks
def _save(wb: openpyxl.Workbook, path: Path) -> Path:
    wb.save(path)
    return path


def _notes_above(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["Table 3: Widgets by borough, 2020–2022"])
    ws.append([])
    ws.append(["Source: a survey of widgets", None, None, "thousands"])
    ws.append(["Code", "Borough", "2020", "2021", "2022 (p)1"])
    ws.append([])
    ws.append(["E12000007", "London", 30, 31, 33])
    ws.append(["E09000001", "City of London", 1, 2, 3])
    ws.append(["E09000002", "Barking and Dagenham", 4, 5, 6])
    ws.append([None, "% change", None, 3.3, 6.5])
    ws.append(["E09000003", "Barnet", 7, ":", 9])
    ws.append([])
    ws.append(["1. Provisional."])
    ws.append(["Contact: widgets@example.org"])
    return _save(wb, tmp_path / "notes.xlsx")


def test_notes_above_the_header_and_below_the_table(tmp_path):
    steps: list[str] = []
    frame = read_spreadsheet(_notes_above(tmp_path), "notes.xlsx", {}, steps)
    assert list(frame.columns) == ["Code", "Borough", "2020", "2021", "2022 (p)", ROW_TYPE]
    assert "found the header in row 4; left out 3 rows of title and notes above it" in steps
    assert list(frame["Borough"]) == ["London", "City of London", "Barking and Dagenham", "Barnet"]
    assert list(frame[ROW_TYPE]) == ["subtotal", "area", "area", "area"]
    assert "dropped 1 derived row ('% change')" in steps
    assert "left out 2 rows of notes below the table (rows 12–13)" in steps


def test_the_header_row_option_overrides_the_guess(tmp_path):
    path = _notes_above(tmp_path)
    frame = read_spreadsheet(path, "notes.xlsx", {"header_row": 3}, [])
    assert list(frame.columns)[0] == "Source: a survey of widgets"
    with pytest.raises(LoadError, match="header_row option must be a row number"):
        read_spreadsheet(path, "notes.xlsx", {"header_row": 0}, [])


def test_merged_header_cells(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Population and households by borough"
    ws.append([])
    ws.append(["Area", None, "People", None, None, "Households2", None, None])
    ws.append([None, None, 2019, 2020, 2021, 2019, 2020, 2021])
    ws.merge_cells("A3:B4")            # "Area" over the code and name columns, across both rows
    ws.merge_cells("C3:E3")
    ws.merge_cells("F3:H3")
    ws.append(["E09000001", "City of London", 9, 10, 11, 5, 5, 6])
    ws.append(["E09000002", "Barking and Dagenham", 210, 212, 218, 80, 81, 82])
    ws.append(["E09000003", "Barnet", 395, 399, 389, 150, 151, 152])
    steps: list[str] = []
    frame = read_spreadsheet(_save(wb, tmp_path / "merged.xlsx"), "merged.xlsx", {}, steps)
    assert list(frame.columns) == ["Area", "Area (2)", "People 2019", "People 2020", "People 2021",
                                   "Households 2019", "Households 2020", "Households 2021", ROW_TYPE]
    assert "found the header in rows 3–4; left out 2 rows of title and notes above it" in steps
    assert frame["People 2021"].tolist() == [11, 218, 389]


def test_a_group_row_without_merges_ods(tmp_path):
    """ODS through pandas' odf engine: no merge information, so a short group row over a longer
    header is folded in; the reader is the same."""
    grid = pd.DataFrame([
        ["Widgets by borough", None, None, None, None],
        [None, None, None, None, None],
        [None, None, "Count", None, "Rate"],
        ["Code", "Name", "2021", "2022", "2022"],
        ["E09000001", "City of London", 1, 2, 0.5],
        ["E09000002", "Barking and Dagenham", 3, 4, 0.25],
        ["E09000003", "Barnet", 5, 6, 0.125],
    ])
    path = tmp_path / "widgets.ods"
    with pd.ExcelWriter(path, engine="odf") as writer:
        pd.DataFrame([["see the next sheet"]]).to_excel(writer, sheet_name="Contents", header=False, index=False)
        grid.to_excel(writer, sheet_name="Table", header=False, index=False)
    loaded = load_file(path)                      # found by its suffix and its content
    assert list(loaded.frame.columns) == ["Code", "Name", "Count 2021", "Count 2022", "Rate 2022", ROW_TYPE]
    assert loaded.frame["Rate 2022"].tolist() == [0.5, 0.25, 0.125]
    assert loaded.transformations[0].startswith("read sheet 'Table' of widgets.ods")
    renamed = tmp_path / "widgets-without-suffix"
    renamed.write_bytes(path.read_bytes())
    assert list(load_file(renamed).frame.columns) == list(loaded.frame.columns)


def test_a_plain_two_column_list(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Parks per borough (count)"])
    ws.append(["Borough", "Parks"])
    for name, n in (("Camden", 31), ("Hackney", 58), ("Islington", "1,204"), ("Total", 1293)):
        ws.append([name, n])
    ws.append(["Source: a park survey"])
    steps: list[str] = []
    frame = read_spreadsheet(_save(wb, tmp_path / "parks.xlsx"), "parks.xlsx", {}, steps)
    assert list(frame["Borough"]) == ["Camden", "Hackney", "Islington", "Total"]
    assert list(frame[ROW_TYPE]) == ["area", "area", "area", "subtotal"]
    assert "found the header in row 2; left out 1 row of title and notes above it" in steps
    assert "left out 1 row of notes below the table (row 7)" in steps


def test_a_table_of_regions_keeps_its_regions_as_areas(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Code", "Region", "2020", "2021"])
    ws.append(["E92000001", "England", 100, 110])
    for code, name in (("E12000007", "London"), ("E12000008", "South East"), ("E12000001", "North East")):
        ws.append([code, name, 10, 11])
    frame = read_spreadsheet(_save(wb, tmp_path / "regions.xlsx"), "regions.xlsx", {}, [])
    assert list(frame[ROW_TYPE]) == ["subtotal", "area", "area", "area"]


def test_a_sheet_with_no_table(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "About"
    for line in ("Rough sleeping in England", "Contents:", "Table 1: counts", "", "Contact: someone"):
        ws.append([None, line])
    wb.create_sheet("Chart")
    path = _save(wb, tmp_path / "empty.xlsx")
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert str(err.value).startswith("empty.xlsx: no table found in any sheet ('About', 'Chart')")


def test_hidden_sheets_are_passed_over(tmp_path):
    wb = openpyxl.Workbook()
    hidden = wb.active
    hidden.title = "lookup"
    for i in range(20):
        hidden.append([f"E0900{i:04d}", f"Place {i}", i, i * 2, i * 3])
    hidden.sheet_state = "hidden"
    shown = wb.create_sheet("Table")
    shown.append(["Code", "Name", "Value", "Other"])
    shown.append(["E09000001", "City of London", 1, 2])
    shown.append(["E09000002", "Barking and Dagenham", 3, 4])
    steps: list[str] = []
    frame = read_spreadsheet(_save(wb, tmp_path / "hidden.xlsx"), "hidden.xlsx", {}, steps)
    assert len(frame) == 2 and "read sheet 'Table'" in steps[0]


def test_hidden_columns_are_left_out(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Code", "Name", "Value", "lookup key", "lookup value"])
    ws.append(["E09000001", "City of London", 1, "k1", 10])
    ws.append(["E09000002", "Barking and Dagenham", 3, "k2", 20])
    ws.column_dimensions.group("D", "E", hidden=True)
    steps: list[str] = []
    frame = read_spreadsheet(_save(wb, tmp_path / "hidden-cols.xlsx"), "hidden-cols.xlsx", {}, steps)
    assert list(frame.columns) == ["Code", "Name", "Value", ROW_TYPE]
    assert "left out 2 hidden columns" in steps


def test_a_workbook_inside_a_zip_archive(tmp_path):
    book = _notes_above(tmp_path)
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(book, "tables/notes.xlsx")
    loaded = load_file(archive)
    assert list(loaded.frame["Borough"]) == ["London", "City of London", "Barking and Dagenham", "Barnet"]
    assert "release.zip!tables/notes.xlsx" in loaded.transformations[0]


def test_a_workbook_named_xlsx_is_not_taken_for_a_zip_of_files(tmp_path):
    book = _notes_above(tmp_path)
    loaded = load_file(book, Resource(id="r", format="zip"))      # a catalogue that says "zip"
    assert loaded.frame["Code"].tolist()[:2] == ["E12000007", "E09000001"]


# ------------------------------------------------------------------------------ hostile files
def _ole2(payload: bytes) -> bytes:
    """The first bytes of an OLE2 compound file (as Office writes encrypted and .xls files)."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + payload + b"\x00" * 512


def test_a_password_protected_workbook_is_refused_by_name(tmp_path):
    path = tmp_path / "protected.xlsx"
    path.write_bytes(_ole2("EncryptionInfo".encode("utf-16-le") + b"\x00" * 40
                           + "EncryptedPackage".encode("utf-16-le")))
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert str(err.value).startswith("protected.xlsx: the workbook is password-protected (encrypted)")


def test_a_legacy_xls_workbook_is_named_as_such(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(_ole2("Workbook".encode("utf-16-le")))
    with pytest.raises(LoadError, match=r"old\.xls: an Excel 97–2003 \(\.xls\) workbook"):
        load_file(path)


def test_an_encrypted_ods_is_refused(tmp_path):
    path = tmp_path / "secret.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", '<manifest:manifest><manifest:file-entry manifest:full-path='
                    '"content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>')
        zf.writestr("content.xml", b"\x8f\x12garbled")
    with pytest.raises(LoadError, match="secret.ods: the spreadsheet is password-protected"):
        load_file(path)


def test_a_file_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("Code,Name\nE09000001,City\n")
    with pytest.raises(LoadError, match="fake.xlsx: not a spreadsheet"):
        load_file(path)
    archive = tmp_path / "other.xlsx"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(LoadError, match="other.xlsx: a zip file but not a spreadsheet"):
        load_file(archive)


def _bomb(path: Path, megabytes: int) -> Path:
    """A workbook-shaped zip whose sheet inflates from kilobytes to ``megabytes`` of XML."""
    book = _notes_above(path.parent)
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info, src.read(info))
        with out.open("xl/worksheets/sheet1.xml", "w") as fh:
            chunk = b"<!---->" * (1 << 16)
            for _ in range(megabytes * (1 << 20) // len(chunk)):
                fh.write(chunk)
    return path


def test_a_decompression_bomb_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    path = _bomb(tmp_path / "bomb.xlsx", 40)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(LoadError) as err:
        load_file(path)
    text = str(err.value)
    assert text.startswith("bomb.xlsx: ") and "decompression bomb" in text and "xl/worksheets/sheet1.xml" in text
    # the byte limit is EXPLORER_MAX_DOWNLOAD_BYTES
    monkeypatch.setenv("EXPLORER_MAX_DOWNLOAD_BYTES", "4000")
    with pytest.raises(LoadError) as err:
        load_file(_notes_above(tmp_path))
    assert "4,000 bytes" in str(err.value) and "EXPLORER_MAX_DOWNLOAD_BYTES" in str(err.value)


def test_bytes_of_an_archive_member_are_checked_too(tmp_path):
    bomb = _bomb(tmp_path / "inner.xlsx", 40)
    steps: list[str] = []
    with pytest.raises(LoadError, match="decompression bomb"):
        read_spreadsheet(bomb.read_bytes(), "release.zip!inner.xlsx", {}, steps)
    ok = io.BytesIO(_notes_above(tmp_path).read_bytes()).getvalue()
    assert len(read_spreadsheet(ok, "release.zip!notes.xlsx", {}, steps)) == 4


def test_the_loaders_read_the_download_limit_from_the_settings_alone(monkeypatch):
    """One reading of EXPLORER_MAX_DOWNLOAD_BYTES for every loader (spreadsheets included):
    _safety.limits(), which falls back to the settings' own default when the value is bad."""
    from explorer.data.loaders import _safety, _spreadsheet
    from explorer.settings import Settings

    monkeypatch.setenv("EXPLORER_MAX_DOWNLOAD_BYTES", "12345")
    assert _safety.limits()[0] == 12345
    monkeypatch.setenv("EXPLORER_MAX_DOWNLOAD_BYTES", "lots")
    assert _safety.limits()[0] == Settings().max_download_bytes
    assert not hasattr(_spreadsheet, "max_bytes_setting")
