"""The bundled catalogue (geodata/catalogue.yaml) checked against the real files it describes.

Every resource must name the exact bytes in the local data folder (size and sha256), its sidecars
must sit beside it, its URLs must be pinned https links, and its loader hints (separator,
encoding, layer, CRS, column names …) must be true of the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pyogrio
import pyproj
import pytest
import yaml

from explorer.catalogue.models import Entry, EntryError, Resource

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = REPO_ROOT / "geodata" / "catalogue.yaml"

THEMES = {
    "boundaries", "environment", "air-quality", "green-infrastructure", "deprivation", "crime",
    "housing", "income", "population", "transport", "net-zero", "points-of-interest",
}

# Ids other code depends on (layers, dashboards, boundary registry).
REQUIRED_IDS = [
    "london-boroughs", "london-boroughs-2022", "london-wards-2018", "london-lsoa-2011",
    "london-lsoa-2021", "london-msoa-2021", "london-region", "london-inner-outer", "thames",
    "laei-borough", "laei-msoa-2021", "laei-lsoa-2021", "laei-lsoa-2011", "laqn-sites",
    "monitoring-site-annual-means", "london-monthly-air-quality",
    "parks-os-greenspace", "osm-parks", "gigl-spaces-to-visit", "green-space-by-borough",
    "camden-trees",
    "imd-2019", "imd-2019-wards", "crime-lsoa", "crime-ward", "house-prices-borough",
    "household-income-lsoa", "population-lsoa-2020", "leggi-co2-borough", "leggi-energy-borough",
    "ptal-ward",
    "transit-stations", "osm-pois",
]

LAEI_POLLUTANTS = ["NO2", "NOx", "PM10", "PM25", "PM10d"]

_LICENCE_NOT_STATED = re.compile(r"licen[cs]e\b[^.]*\bnot stated|not stated\b[^.]*\blicen[cs]e", re.I)
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


def _load_doc() -> dict:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


DOC = _load_doc()
RAW_DATASETS: list[dict] = DOC.get("datasets") or []
ENTRIES: list[Entry] = [Entry.from_dict(d) for d in RAW_DATASETS]
BY_ID = {e.id: e for e in ENTRIES}
RESOURCES = [(e, r) for e in ENTRIES for r in e.resources]


def _rid(pair) -> str:
    entry, res = pair
    return f"{entry.id}/{res.id}"


# ------------------------------------------------------------------------------------------------
# Checks written as functions returning problems, so a test can prove they catch a bad file.

def file_problems(res, data_dir: Path) -> list[str]:
    """What is wrong with a resource's local file: missing, wrong size or checksum, sidecars."""
    where = f"resource {res.id!r} ({res.local_path})"
    if not res.local_path:
        return [f"{where}: no local_path"]
    path = data_dir / res.local_path
    if not path.is_file():
        return [f"{where}: file not found at {path}"]
    problems = []
    data = path.read_bytes()
    if res.size != len(data):
        problems.append(f"{where}: size {res.size} in catalogue, {len(data)} on disk")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if res.checksum != digest:
        problems.append(f"{where}: checksum {res.checksum} in catalogue, {digest} on disk")
    for sidecar in res.sidecars:
        if not (path.parent / sidecar).is_file():
            problems.append(f"{where}: sidecar {sidecar} missing beside it")
    return problems


def _column_hints(options: dict) -> list[str]:
    names = [v for k, v in options.items() if k.endswith("_column") and isinstance(v, str)]
    names += [options[k] for k in ("x", "y") if isinstance(options.get(k), str)]
    for value in options.get("category_columns") or []:
        names.append(value)
    return names


def _read_table(path: Path, fmt: str, options: dict, **extra) -> pd.DataFrame:
    kwargs = {
        "sep": options.get("sep", "\t" if fmt == "tsv" else ","),
        "encoding": options.get("encoding", "utf-8"),
        "compression": options.get("compression", "infer"),
    }
    if "thousands" in options:
        kwargs["thousands"] = options["thousands"]
    if "na_values" in options:
        kwargs["na_values"] = options["na_values"]
    kwargs.update(extra)
    return pd.read_csv(path, **kwargs)


def _numeric_count(df: pd.DataFrame) -> int:
    return sum(pd.api.types.is_numeric_dtype(df[c]) for c in df.columns)


def _check_xy(df: pd.DataFrame, options: dict, where: str) -> list[str]:
    x = pd.to_numeric(df[options["x"]], errors="coerce").median()
    y = pd.to_numeric(df[options["y"]], errors="coerce").median()
    crs = options.get("crs")
    if crs == "EPSG:4326":
        ok = -8 < x < 2 and 49 < y < 61
    elif crs == "EPSG:27700":
        ok = 0 < x < 700_000 and 0 < y < 1_300_000
    else:
        return [f"{where}: x/y given without a known crs ({crs!r})"]
    return [] if ok else [f"{where}: median x/y ({x}, {y}) not plausible for {crs}"]


def hint_problems(res, data_dir: Path) -> list[str]:
    """Loader hints that are not true of the file (columns, layer, CRS, encoding, separator …)."""
    where = f"resource {res.id!r} ({res.local_path})"
    path = data_dir / res.local_path
    opts = res.options
    wanted = _column_hints(opts)
    problems: list[str] = []

    if res.format in ("csv", "tsv"):
        try:
            df = _read_table(path, res.format, opts)
        except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
            return [f"{where}: cannot be read with its hints {opts}: {exc}"]
        columns = set(map(str, df.columns))
        if len(columns) < 2:
            problems.append(f"{where}: only one column when read with sep={opts.get('sep')!r}")
        if "encoding" in opts:
            try:
                _read_table(path, res.format, {**opts, "encoding": "utf-8"})
                problems.append(f"{where}: reads as UTF-8, the encoding hint {opts['encoding']!r} is not needed")
            except UnicodeDecodeError:
                pass
        for key in ("thousands", "na_values"):
            if key in opts:
                plain = _read_table(path, res.format, {k: v for k, v in opts.items() if k != key})
                if _numeric_count(df) <= _numeric_count(plain):
                    problems.append(f"{where}: the {key} hint makes no column numeric")
        if "x" in opts and not problems and opts["x"] in columns and opts["y"] in columns:
            problems += _check_xy(df, opts, where)
        if "date_format" in opts and opts.get("date_column") in columns:
            values = df[opts["date_column"]].dropna()
            parsed = pd.to_datetime(values, format=opts["date_format"], errors="coerce")
            if parsed.isna().any():
                problems.append(f"{where}: {int(parsed.isna().sum())} dates do not match {opts['date_format']!r}")
        if "value_column" in opts and opts["value_column"] in columns:
            if not pd.api.types.is_numeric_dtype(df[opts["value_column"]]):
                problems.append(f"{where}: value column {opts['value_column']!r} is not numeric")

    elif res.format in ("shp", "gpkg", "tab", "geojson"):
        source = f"/vsigzip/{path}" if opts.get("compression") == "gzip" else str(path)
        try:
            info = pyogrio.read_info(source, layer=opts.get("layer"))
        except Exception as exc:  # noqa: BLE001 - any GDAL failure is a wrong hint
            return [f"{where}: cannot be opened with layer={opts.get('layer')!r}: {exc}"]
        columns = set(info["fields"])
        if "crs" in opts:
            if not info["crs"] or not pyproj.CRS(info["crs"]).equals(pyproj.CRS(opts["crs"]), ignore_axis_order=True):
                problems.append(f"{where}: crs hint {opts['crs']} but the file says {str(info['crs'])[:40]!r}")

    elif res.format in ("json", "topojson"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if res.format == "topojson" or opts.get("object"):
            objects = doc.get("objects", {}) if isinstance(doc, dict) else {}
            if opts.get("object") not in objects:
                return [f"{where}: TopoJSON object {opts.get('object')!r} not in {sorted(objects)}"]
            geometries = objects[opts["object"]].get("geometries", [])
            columns = set().union(*(g.get("properties", {}).keys() for g in geometries))
            if opts.get("name_field") == "id" and not all("id" in g for g in geometries):
                problems.append(f"{where}: not every geometry has an id")
        elif isinstance(doc, list):
            columns = set().union(*(row.keys() for row in doc if isinstance(row, dict)))
            if opts.get("name_field"):
                head, _, tail = opts["name_field"].partition(".")
                if not all(isinstance(row.get(head), dict) and tail in row[head] for row in doc):
                    problems.append(f"{where}: name field {opts['name_field']!r} missing in some records")
        else:
            columns = set(doc) if isinstance(doc, dict) else set()
            for key in opts.get("keys") or []:
                if key not in columns:
                    problems.append(f"{where}: key {key!r} not in the JSON object")
    else:
        columns = set()

    for name in wanted:
        if name not in columns:
            problems.append(f"{where}: hinted column {name!r} not found (has {sorted(columns)[:12]} …)")
    return problems


# ------------------------------------------------------------------------------------------------

def test_document_has_catalogue_header_and_datasets():
    header = DOC.get("catalogue")
    assert isinstance(header, dict)
    for key in ("title", "description", "version"):
        assert header.get(key), f"catalogue.{key} is empty"
    assert isinstance(DOC.get("datasets"), list) and len(RAW_DATASETS) >= len(REQUIRED_IDS)


def test_every_dataset_is_a_valid_entry_with_a_unique_id():
    errors, seen, dupes = [], set(), []
    for i, raw in enumerate(RAW_DATASETS):
        try:
            entry = Entry.from_dict(raw)
        except EntryError as exc:
            errors.append(f"datasets[{i}]: {exc}")
            continue
        if entry.id in seen:
            dupes.append(entry.id)
        seen.add(entry.id)
        res_ids = [r.get("id") for r in raw.get("resources") or []]
        assert len(res_ids) == len(set(res_ids)), f"{entry.id}: duplicate resource ids {res_ids}"
    assert not errors, errors
    assert not dupes, f"duplicate dataset ids: {dupes}"


def test_required_ids_are_present():
    missing = [i for i in REQUIRED_IDS if i not in BY_ID]
    assert not missing, f"missing dataset ids: {missing}"


def test_first_resources_and_orders_others_rely_on():
    boroughs = BY_ID["london-boroughs"].resources
    assert boroughs[0].local_path == "boundaries/London_Borough_Excluding_MHW.geojson"
    assert {r.format for r in boroughs} >= {"geojson", "gpkg", "topojson"}
    assert next(r for r in boroughs if r.format == "gpkg").options.get("layer") == "london_boroughs"

    assert [r.id for r in BY_ID["london-wards-2018"].resources][:2] == ["city-merged", "all-wards"]
    assert BY_ID["london-boroughs-2022"].resources[0].options.get("code_column") == "LAD22CD"

    laei = BY_ID["laei-borough"].resources
    expected = [(y, p) for y in (2019, 2016, 2013) for p in LAEI_POLLUTANTS]
    assert [(r.options.get("year"), r.options.get("pollutant")) for r in laei] == expected
    for res in laei:
        year, pollutant = res.options["year"], res.options["pollutant"]
        assert res.local_path.endswith(f"lad21-{year}-{pollutant}.csv"), res.local_path
        assert res.options.get("code_column") == "LAD22CD"
        assert res.options.get("unit") == ("days" if pollutant == "PM10d" else "µg/m³")
    for dataset_id, code in (("laei-msoa-2021", "MSOA21CD"), ("laei-lsoa-2021", "LSOA21CD")):
        resources = BY_ID[dataset_id].resources
        assert [(r.options.get("year"), r.options.get("pollutant")) for r in resources] == [
            (2019, p) for p in LAEI_POLLUTANTS]
        assert {r.options.get("code_column") for r in resources} == {code}
    lsoa11 = BY_ID["laei-lsoa-2011"].resources
    assert lsoa11[0].local_path.endswith("lsoa11-2019-NO2.csv") and len(lsoa11) == 2

    assert BY_ID["imd-2019"].resources[0].local_path.endswith("File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz")
    assert BY_ID["imd-2019"].resources[1].local_path.endswith("File_2_-_IoD2019_Domains_of_Deprivation.csv.gz")
    assert len(BY_ID["crime-lsoa"].resources) == 3
    assert BY_ID["monitoring-site-annual-means"].resources[1].format == "geojson"
    assert BY_ID["camden-trees"].resources[1].format == "json"


@pytest.mark.parametrize("pair", RESOURCES, ids=_rid)
def test_resource_is_the_real_file(pair, data_dir):
    _entry, res = pair
    assert file_problems(res, data_dir) == []


def test_file_check_catches_a_changed_copy(tmp_path, data_dir):
    entry = BY_ID["london-boroughs-2022"]
    res = entry.resources[0]
    copy_dir = tmp_path / Path(res.local_path).parent
    copy_dir.mkdir(parents=True)
    for name in [Path(res.local_path).name, *res.sidecars]:
        (copy_dir / name).write_bytes((data_dir / Path(res.local_path).parent / name).read_bytes())
    assert file_problems(res, tmp_path) == []
    shp = copy_dir / Path(res.local_path).name
    data = bytearray(shp.read_bytes())
    data[-1] ^= 0xFF                                   # same size, different bytes
    shp.write_bytes(bytes(data))
    (copy_dir / res.sidecars[0]).unlink()
    problems = file_problems(res, tmp_path)
    assert any("checksum" in p for p in problems), problems
    assert any(res.sidecars[0] in p for p in problems), problems
    assert not any("size" in p for p in problems), problems


@pytest.mark.parametrize("pair", RESOURCES, ids=_rid)
def test_loader_hints_are_true_of_the_file(pair, data_dir):
    _entry, res = pair
    assert hint_problems(res, data_dir) == []


def _variant(dataset_id: str, resource_id: str, **options) -> Resource:
    """A copy of a catalogue resource with some options changed (None removes the option)."""
    raw = next(d for d in RAW_DATASETS if d["id"] == dataset_id)
    res = dict(next(r for r in raw["resources"] if r["id"] == resource_id))
    merged = {**res.get("options", {}), **options}
    res["options"] = {k: v for k, v in merged.items() if v is not None}
    return Resource.from_dict(res, dataset_id)


def test_hint_check_catches_wrong_hints(data_dir):
    problems = hint_problems(_variant("gigl-spaces-to-visit", "csv", code_column="SiteCode"), data_dir)
    assert any("'SiteCode' not found" in p for p in problems), problems
    problems = hint_problems(_variant("gigl-spaces-to-visit", "csv", encoding=None), data_dir)
    assert any("cannot be read" in p for p in problems), problems
    problems = hint_problems(_variant("london-region", "gpkg", crs="EPSG:4326"), data_dir)
    assert any("crs hint" in p for p in problems), problems
    problems = hint_problems(_variant("london-boroughs", "gpkg", layer="boroughs"), data_dir)
    assert any("cannot be opened" in p for p in problems), problems
    problems = hint_problems(_variant("laqn-sites", "csv", sep=None), data_dir)
    assert any("only one column" in p for p in problems), problems
    problems = hint_problems(_variant("laqn-sites", "csv", x="Latitude", y="Longitude"), data_dir)
    assert any("not plausible" in p for p in problems), problems
    problems = hint_problems(_variant("house-prices-borough", "csv", thousands="."), data_dir)
    assert any("thousands hint" in p for p in problems), problems


def test_urls_are_https_and_pinned():
    bad = []
    for entry, res in RESOURCES:
        where = f"{entry.id}/{res.id}"
        if not (res.url or "").startswith("https://"):
            bad.append(f"{where}: url is not https: {res.url!r}")
            continue
        if res.url.startswith("https://raw.githubusercontent.com/"):
            parts = res.url.split("/")
            if len(parts) < 7 or not _HEX40.match(parts[5]):
                bad.append(f"{where}: GitHub url not pinned to a commit: {res.url}")
        elif res.url.startswith("https://cdn.jsdelivr.net/npm/"):
            if not re.match(r"^https://cdn\.jsdelivr\.net/npm/[\w.-]+@\d+\.\d+\.\d+/", res.url):
                bad.append(f"{where}: npm url not pinned to a version: {res.url}")
        else:
            bad.append(f"{where}: url is neither a pinned GitHub raw link nor a pinned npm file: {res.url}")
        if res.upstream_url and not re.match(r"^https?://", res.upstream_url):
            bad.append(f"{where}: upstream_url is not a web address: {res.upstream_url!r}")
    assert not bad, bad


def test_every_dataset_says_who_what_licence_and_where():
    bad = []
    for entry in ENTRIES:
        where = entry.id
        for field in ("publisher", "licence", "upstream_url", "description"):
            if not getattr(entry, field):
                bad.append(f"{where}: {field} is empty")
        if not entry.attribution and not any(_LICENCE_NOT_STATED.search(c) for c in entry.caveats):
            bad.append(f"{where}: no attribution and no caveat saying the licence is not stated")
        if not entry.themes:
            bad.append(f"{where}: no theme")
        unknown = set(entry.themes) - THEMES
        if unknown:
            bad.append(f"{where}: unknown themes {sorted(unknown)}")
        if entry.access_level != "open":
            bad.append(f"{where}: access_level {entry.access_level!r}")
        if entry.smallest_geography is None:
            bad.append(f"{where}: smallest_geography missing")
        if not entry.resources:
            bad.append(f"{where}: no resources")
    assert not bad, bad


def test_every_dataset_names_its_holding_repository():
    bad = []
    for entry in ENTRIES:
        extras = entry.extras
        repo, path = extras.get("holding_repository"), extras.get("path")
        if not repo or not path:
            bad.append(f"{entry.id}: extras need holding_repository and path")
            continue
        first = entry.resources[0].url or ""
        if extras.get("npm_package"):
            if extras["npm_package"] not in first:
                bad.append(f"{entry.id}: npm_package {extras['npm_package']} not in {first}")
        else:
            commit = str(extras.get("commit") or "")
            if not _HEX40.match(commit):
                bad.append(f"{entry.id}: extras.commit is not a 40-hex commit: {commit!r}")
            elif f"/{repo}/{commit}/" not in first:
                bad.append(f"{entry.id}: first resource url does not come from {repo}@{commit}")
        for other in extras.get("other_files") or []:
            res = entry.resource(other["resource"])
            if f"/{other['holding_repository']}/{other['commit']}/" not in (res.url or ""):
                bad.append(f"{entry.id}/{res.id}: other_files entry does not match its url")
    assert not bad, bad


def test_the_bundled_harvester_reads_the_packaged_file():
    from explorer.catalogue.harvest import bundled

    doc = bundled.load_default()
    results = list(bundled.entry_dicts(doc, "bundled", "geodata/catalogue.yaml"))
    failures = [(hint, item) for hint, item in results if isinstance(item, Exception)]
    assert not failures, failures
    entries = [Entry.from_dict(item) for _hint, item in results]
    assert [e.id for e in entries] == [e.id for e in ENTRIES]
    assert all(e.description for e in entries)
