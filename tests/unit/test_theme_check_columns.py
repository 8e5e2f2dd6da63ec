"""The start-up theme check reads a plain CSV/TSV file only as far as its first rows
(explorer/themes/theme_check.py ``ColumnsOnly``); a column missing from those rows is looked for in the
whole file before the start is stopped, with the theme file and line."""

from __future__ import annotations

import gzip

import pytest

from explorer.themes import theme_check
from explorer.catalogue.models import Resource
from explorer.settings import Settings
from explorer.themes.theme_files import ThemeError, validate_theme

LATE = "Unnamed: 3"      # a column without a name: dropped where it is empty


def _csv(path, rows: int = 4000, late_from: int = 3000) -> None:
    lines = [" Code ,Name,Value,,Code "]           # names the loader tidies (spaces, a repeat, none)
    for i in range(rows):
        late = str(i) if i >= late_from else ""
        lines.append(f"E0{i:07d},Place {i},{i * 1.5},{late},x")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def checker(tmp_path):
    class _Services:
        data = None
        cache = None
        settings = Settings(home=tmp_path / "home", data_dir=tmp_path)

    return theme_check.ColumnsOnly(_Services())


def test_head_columns_are_named_as_the_loader_names_them(tmp_path, checker):
    from explorer.data.loaders import load_file

    path = tmp_path / "table.csv"
    _csv(path)
    resource = Resource(id="csv", format="csv")
    head = checker._head_columns(path, resource)
    full = [str(c) for c in load_file(path, resource).frame.columns]
    assert head == ["Code", "Name", "Value", "Code_2"]     # the unnamed column is empty in the first rows
    assert set(head) <= set(full) and LATE in full
    # a short file is read whole
    _csv(path, rows=50, late_from=10)
    assert checker._head_columns(path, resource) == ["Code", "Name", "Value", LATE, "Code_2"]


def test_files_that_are_not_plain_text_are_read_whole(tmp_path, checker):
    path = tmp_path / "table.csv"
    _csv(path)
    gz = tmp_path / "table.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert checker._head_columns(gz, Resource(id="csv", format="csv")) is None
    assert checker._head_columns(path, Resource(id="gpkg", format="gpkg")) is None
    assert checker._head_columns(path, Resource(id="csv", format="zip", archive_member="a.csv")) is None


class _HeadOnly:
    """A data service whose joined load lacks one column that the whole file has."""

    def __init__(self, real, missing_head: str, missing_everywhere: bool = False):
        self._real = real
        self._missing = missing_head
        self._everywhere = missing_everywhere
        self.whole_reads = 0

    def load(self, dataset_id, resource_id=None, join=True):
        loaded = self._real.load(dataset_id, resource_id, join=join)
        columns = [c for c in loaded.frame.columns]
        if join or self._everywhere:
            columns = [c for c in columns if c != self._missing]
        if not join:
            self.whole_reads += 1
        return theme_check._Columns(columns)


@pytest.fixture(scope="module")
def services(tmp_path_factory, data_dir):
    from explorer.web.app import create_app

    return create_app(Settings(home=tmp_path_factory.mktemp("home"), data_dir=data_dir, offline=True,
                               cache_url="simple")).explorer


@pytest.mark.parametrize("which", ["chart column", "map variable"])
def test_a_column_missing_from_the_first_rows_is_looked_for_in_the_whole_file(services, which):
    theme = services.themes["net-zero"]
    layer = theme.map_layers[0]
    if which == "map variable":
        missing = layer["variable"]
    else:
        from explorer.themes.theme_files import column_refs
        from explorer.themes.chart_data import resolve_column

        dotted, ds, resources, template = column_refs(theme.charts[0])[0]
        entry = services.registry.get(ds)
        missing = resolve_column(template, entry.resource(resources[0]))
    real = theme_check.ColumnsOnly(services)
    lenient = _HeadOnly(real, missing)
    validate_theme(theme, services.registry, lenient)      # in the whole file: no error
    assert lenient.whole_reads >= 1
    with pytest.raises(ThemeError) as err:                 # in neither: stopped with file and line
        validate_theme(theme, services.registry, _HeadOnly(real, missing, missing_everywhere=True))
    assert err.value.path == theme.path and err.value.line and repr(missing) in str(err.value)


def test_a_published_table_export_is_checked_with_its_headers_cleaned(checker, data_dir):
    """The quick check names the columns of a ``published_table`` CSV export as the full load
    does (footnote markers stripped, the row-type column added), so the start-up check finds
    them without reading the whole file again."""
    from explorer.data.loaders import load_file

    path = data_dir / "stats/homelessness/rough_sleeping_la_2010_2016.csv"
    resource = Resource(id="csv-2016", format="csv",
                        options={"published_table": True, "code_column": "ONS Code",
                                 "name_column": "Local Authority"})
    head = checker._head_columns(path, resource)
    full = [str(c) for c in load_file(path, resource).frame.columns if c != "geometry"]
    raw = checker._head_columns(path, Resource(id="raw", format="csv"))
    assert raw != head                       # the export's raw headers differ from the cleaned ones
    assert head == full
