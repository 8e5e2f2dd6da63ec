"""Boundary registry, GSS code detection and joins, on the real London files in shared/data."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest

from explorer.geo.geography import (
    BoundaryConfigError,
    BoundaryRegistry,
    JoinError,
    choose_boundary_set,
    detect_code_columns,
    join_to_boundaries,
)

# Where each boundary set's file lives in the data folder (the bundled catalogue says the same
# through dataset/resource local_path; tests read the files directly).
BOUNDARY_FILES = {
    "borough": "boundaries/London_Borough_Excluding_MHW.geojson",
    "borough-2022": "boundaries/london-2021-lad22-gen20/london-2021-lad22-gen20.shp",
    "ward-2018": "boundaries/london-wards-2018/London_Ward_CityMerged.tab",
    "ward-2018-all": "boundaries/london-wards-2018/London_Ward.tab",
    "lsoa-2011": "boundaries/london-2011-lsoa-gen20/london-2011-lsoa-gen20.shp",
    "lsoa-2021": "boundaries/london-2021-lsoa-gen20/london-2021-lsoa-gen20.shp",
    "msoa-2021": "boundaries/london-2021-msoa-gen20/london-2021-msoa-gen20.shp",
}
# Sets built at run time (derived_from): the files they are built from.
WARD_LOOKUP = "lookups/gla/LSOA_2011_London_Ward_2022_London_combined.csv"
WARD_CRIME = "stats/crime_ward/MPS_Ward_Level_Crime_most_recent_24_months.csv"
LOOKUP_OPTIONS = {"from_column": "LSOA11CD", "to_column": "GSS_CODE", "weight_column": "weight",
                  "year_column": "year"}


def build_derived(bset, data_dir, load_boundary):
    """The derived set from the real files, with the pure functions the data service uses."""
    from explorer.geo.derived_boundaries import assign_largest_share, dissolve_by_largest_share, names_from

    assert bset.id == "ward-2022-approx", bset.id
    assignment = assign_largest_share(pd.read_csv(data_dir / WARD_LOOKUP), LOOKUP_OPTIONS)
    crime = pd.read_csv(data_dir / WARD_CRIME, usecols=["WardCode", "WardName"])
    old = gpd.read_file(data_dir / BOUNDARY_FILES["ward-2018-all"])
    targets = set(assignment.table["target"])
    names = names_from([(crime, "WardCode", "WardName"), (old, "GSS_CODE", "NAME")], targets)
    parts = load_boundary(BoundaryRegistry.bundled().get(bset.derived_from.parts))
    return dissolve_by_largest_share(parts, "LSOA11CD", assignment, names, bset.code_column, bset.name_column)


@pytest.fixture(scope="module")
def registry() -> BoundaryRegistry:
    return BoundaryRegistry.bundled()


@pytest.fixture(scope="module")
def load(data_dir):
    frames: dict[str, gpd.GeoDataFrame] = {}
    calls: list[str] = []

    def load_boundary(bset):
        calls.append(bset.id)
        if bset.id not in frames:
            frames[bset.id] = (build_derived(bset, data_dir, load_boundary) if bset.derived
                               else gpd.read_file(data_dir / BOUNDARY_FILES[bset.id]))
        return frames[bset.id]

    load_boundary.calls = calls
    return load_boundary


def codes_of(load):
    return lambda bset: load(bset)[bset.code_column].tolist()


def read(data_dir, rel, **kw):
    return pd.read_csv(data_dir / rel, **kw)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
def test_bundled_registry_matches_the_real_boundary_files(registry, load):
    assert {s.id for s in registry.sets() if not s.derived} == set(BOUNDARY_FILES)
    assert [s.id for s in registry.sets() if s.derived] == ["ward-2022-approx"]
    for bset in registry.sets():
        frame = load(bset)
        assert len(frame) == bset.expected_count, bset.id
        codes = frame[bset.code_column]
        assert codes.is_unique, bset.id
        assert codes.str.startswith(bset.code_prefix).all(), bset.id
        assert frame[bset.name_column].notna().all(), bset.id
        for alias_target in bset.code_aliases.values():
            assert alias_target in set(codes), (bset.id, alias_target)


def test_registry_lookup_order_and_years(registry):
    assert [s.id for s in registry.for_prefix("E09")] == ["borough-2022", "borough"]
    assert [s.id for s in registry.for_prefix("e01")] == ["lsoa-2021", "lsoa-2011"]
    assert registry.for_prefix("S01") == []
    assert registry.default_for("E05").id == "ward-2018"
    ward = registry.get("ward-2018")
    assert (ward.dataset_id, ward.resource_id, ward.code_column) == ("london-wards-2018", "city-merged", "GSS_CODE")
    assert registry.get("lsoa-2011").resource_id is None
    assert ward.code_aliases == {"E09000001": "E05009297"}
    assert ward.valid_in(2019) and not ward.valid_in(2023) and not ward.valid_in(2015)
    assert registry.get("borough").valid_in(2040)          # borough codes are still current
    assert [s.id for s in registry.for_level("lsoa", 2015)] == ["lsoa-2011"]
    with pytest.raises(LookupError, match="unknown boundary set 'nope'.*borough"):
        registry.get("nope")


def _one_set(**over):
    base = dict(id="x", title="X", level="borough", code_prefix="E09", year=2020, dataset_id="d",
                resource_id=None, code_column="c", name_column="n", expected_count=3)
    base.update(over)
    return base


@pytest.mark.parametrize("over, field", [
    ({"code_prefix": "09"}, "code_prefix"),
    ({"level": "county-ish"}, "level"),
    ({"expected_count": 0}, "expected_count"),
    ({"year": "2020"}, "year"),
    ({"valid_years": [2020, 2010]}, "valid_years"),
    ({"code_aliases": {"E09000001": "E05000001"}}, "code_aliases"),
    ({"code_column": ""}, "code_column"),
])
def test_registry_config_errors_name_the_set_and_field(over, field):
    with pytest.raises(BoundaryConfigError) as exc:
        BoundaryRegistry.from_dict({"sets": [_one_set(**over)]}, source="test.yaml")
    assert "test.yaml" in str(exc.value) and f"'{field}'" in str(exc.value) and "'x'" in str(exc.value)


def test_registry_rejects_duplicate_ids_and_two_defaults():
    with pytest.raises(BoundaryConfigError, match="declared twice"):
        BoundaryRegistry.from_dict({"sets": [_one_set(), _one_set()]})
    with pytest.raises(BoundaryConfigError, match="already the default for E09"):
        BoundaryRegistry.from_dict({"sets": [_one_set(default=True), _one_set(id="y", default=True)]})
    with pytest.raises(BoundaryConfigError, match="not valid YAML"):
        BoundaryRegistry.from_yaml("sets: [", source="bad.yaml")


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------
def test_detect_code_columns_on_real_tables(data_dir):
    pop = read(data_dir, "stats/population/london-mid2020-pop-lsoa.csv")
    cols = detect_code_columns(pop)
    assert [(c.column, c.prefix) for c in cols] == [("LSOA11CD", "E01"), ("MSOA11CD", "E02"), ("LAD11CD", "E09")]
    assert cols[0].n_codes == 4835 and cols[0].unique and cols[0].share == 1.0
    assert not cols[2].unique

    houses = read(data_dir, "stats/house_prices/land-registry-house-prices-borough.csv")
    (code,) = detect_code_columns(houses)
    assert code.column == "Code" and code.prefix == "E09" and code.prefixes["E09"] == 33
    assert code.prefixes["E12"] == 9 and code.n_codes == 45

    profiles = read(data_dir, "stats/ward_profiles/ward-profiles-excel-version.csv", encoding="cp1252")
    # 'Old code' holds ONS 00AA-style codes, not GSS codes
    assert [c.column for c in detect_code_columns(profiles)] == ["New code"]

    gigl = read(data_dir, "green/gigl/GiGL_SpacesToVisit.csv", encoding="cp1252")
    assert detect_code_columns(gigl) == []

    imd = read(data_dir, "stats/deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz")
    first, second = detect_code_columns(imd)
    assert (first.column, first.n_codes) == ("LSOA code (2011)", 32844)
    assert second.column == "Local Authority District code (2019)"


def test_detection_share_and_blank_values():
    df = pd.DataFrame({
        "mostly": ["E09000001", " e09000002 ", "n/a", "E09000003"],
        "few": ["E01000001", "x", "y", "z"],
        "blank": ["E05000128", "", None, "E05000129"],
        "number": [1, 2, 3, 4],
    })
    found = {c.column: c for c in detect_code_columns(df)}
    assert set(found) == {"mostly", "blank"}
    assert found["mostly"].share == 0.75 and found["mostly"].n_codes == 3
    assert found["blank"].share == 1.0 and found["blank"].n_codes == 2
    assert [c.column for c in detect_code_columns(df)] == ["blank", "mostly"]  # ward is finer


# ---------------------------------------------------------------------------------------------
# Choosing the boundary set
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rel, expected, features", [
    ("air_quality/laei_zonal/lsoa11-2019-NO2.csv", "lsoa-2011", 4835),
    ("stats/income/london-2001-2012-HHI-median.csv", "lsoa-2011", 4835),
    ("air_quality/laei_zonal/lsoa21-2019-NO2.csv", "lsoa-2021", 4994),
    ("air_quality/laei_zonal/msoa21-2019-NO2.csv", "msoa-2021", 1002),
])
def test_lsoa_2011_and_2021_told_apart_by_their_codes(data_dir, registry, load, rel, expected, features):
    table = read(data_dir, rel)
    joined, report = join_to_boundaries(table, registry, load)
    assert report.boundary_set == expected
    assert (report.matched, report.unmatched, report.match_rate) == (features, 0, 1.0)
    assert report.boundary_features_without_data == 0 and report.warnings == []
    assert len(joined) == features and joined["area_code"].is_unique
    assert joined.crs.to_epsg() == 27700
    # the rival E01 set was scored and lost, with most codes in common
    if report.level == "lsoa":
        rival = report.candidates[1]
        assert rival["boundary_set"] != expected
        assert 4600 < rival["matched"] < features and rival["unmatched"] > 0


def test_choose_boundary_set_uses_the_codes_callable(data_dir, registry, load):
    table = read(data_dir, "air_quality/laei_zonal/lsoa21-2019-NO2.csv")
    bset, column, scores = choose_boundary_set(table, registry, codes_of(load))
    assert bset.id == "lsoa-2021" and column.column == "LSOA21CD"
    by_id = {s.boundary_set: s for s in scores}
    assert by_id["lsoa-2011"].matched == 4659 and by_id["lsoa-2011"].unmatched == 335
    # a fake boundary source that only knows half the codes lowers the rate accordingly
    half = set(table["LSOA21CD"][:2497])
    _, _, scores = choose_boundary_set(table, registry, lambda s: half if s.id == "lsoa-2021" else [],
                                       boundary_set="lsoa-2021")
    assert scores[0].matched == 2497 and scores[0].match_rate == pytest.approx(0.5, abs=0.001)


def test_imd_national_table_filtered_to_london(data_dir, registry, load):
    imd = read(data_dir, "stats/deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz")
    joined, report = join_to_boundaries(imd, registry, load)
    assert report.boundary_set == "lsoa-2011" and report.code_column == "LSOA code (2011)"
    assert report.matched == 4835 and report.unmatched == 0 and report.match_rate == 1.0
    assert report.rows_in == 32844 and report.rows_outside_area == 32844 - 4835
    assert report.area_column == "Local Authority District code (2019)"
    assert any("28,009 rows" in n for n in report.notes)
    assert len(joined) == 4835
    assert set(joined["Local Authority District code (2019)"].str[:3]) == {"E09"}

    # without the district column the same result is reached, but the report says it was inferred
    slim = imd[["LSOA code (2011)", "Index of Multiple Deprivation (IMD) Decile"]]
    _, report2 = join_to_boundaries(slim, registry, load)
    assert report2.matched == 4835 and report2.rows_outside_area == 28009
    assert any("taken to be outside London" in w for w in report2.warnings)


def test_borough_tables_and_regions_rows(data_dir, registry, load):
    laei = read(data_dir, "air_quality/laei_zonal/lad21-2019-NO2.csv")
    joined, report = join_to_boundaries(laei, registry, load)
    assert report.boundary_set == "borough-2022" and (report.matched, report.boundary_features) == (33, 33)
    assert any("borough carries the same 33 codes" in n for n in report.notes)
    assert report.warnings == []

    houses = read(data_dir, "stats/house_prices/land-registry-house-prices-borough.csv")
    joined, report = join_to_boundaries(houses, registry, load)
    assert report.matched == 33 and report.unmatched == 0
    assert report.rows_in == 45 and report.rows_outside_area == 12
    assert "E12000007" in report.outside_examples and "E92000001" in report.outside_examples
    assert len(joined) == 33 and not joined["Code"].str.startswith("E12").any()
    assert {"area_code", "area_name", "geometry", "Year ending Dec 2017"} <= set(joined.columns)
    row = joined.set_index("area_code").loc["E09000007"]
    assert row["area_name"] == "Camden" and row["Area"] == "Camden"

    # the detailed set on request: same codes, other geometry and CRS
    joined, report = join_to_boundaries(houses, registry, load, boundary_set="borough")
    assert report.boundary_set == "borough" and len(joined) == 33
    assert joined.crs.to_epsg() == 4326


def test_borough_profiles_rows_without_codes_are_counted(data_dir, registry, load):
    profiles = read(data_dir, "stats/borough_profiles/london-borough-profiles-2015.csv")
    joined, report = join_to_boundaries(profiles, registry, load)
    assert report.matched == 33 and len(joined) == 33
    assert report.rows_outside_area == 5      # Inner, Outer, London, England, UK
    assert report.rows_without_code == 1      # 'Nat' comparator row
    assert report.rows_in == report.rows_matched + report.rows_outside_area + report.rows_without_code


# ---------------------------------------------------------------------------------------------
# Wards: which code year the real tables use
# ---------------------------------------------------------------------------------------------
def test_ward_ptal_2014_codes_join_partially_with_warnings(data_dir, registry, load):
    ptal = read(data_dir, "stats/ptal/Ward2014_AvPTAI2015.csv")
    joined, report = join_to_boundaries(ptal, registry, load)
    assert report.boundary_set == "ward-2018"
    # 2014 wards: the 2018 redrawings (Bexley, Croydon, Redbridge, Southwark) do not match
    assert 0.8 < report.match_rate < 0.9
    assert report.matched + report.unmatched == 630
    assert report.boundary_features_without_data == 633 - report.matched
    assert len(joined) == report.matched
    assert any("86.2%" in w and "other ward boundaries" in w for w in report.warnings)
    assert any("have no data" in w for w in report.warnings)
    # The City row (E09000001) lands on the merged City polygon through the alias
    city = joined.set_index("area_code").loc["E05009297"]
    assert city["Ward Code"] == "E09000001"
    wards = load(registry.get("ward-2018"))
    without = wards[~wards["GSS_CODE"].isin(joined["area_code"])]
    assert len(without) == report.boundary_features_without_data
    assert set(without["DISTRICT"]) == {"Croydon", "Southwark", "Redbridge", "Bexley"}


def test_ward_deprivation_file_is_2018_geography(data_dir, registry, load):
    dep = read(data_dir, "stats/deprivation/deprivation_index_london_2019_wards_df.csv")
    joined, report = join_to_boundaries(dep, registry, load)
    # 'worst_lsoa_code' (E01, finer) is an attribute, not the key: the ward column is used
    assert report.boundary_set == "ward-2018" and report.code_column == "GSS"
    assert (report.matched, report.unmatched, report.boundary_features_without_data) == (633, 0, 0)
    assert report.warnings == []
    assert len(joined) == 633


def test_ward_profiles_exact_duplicate_and_borough_rows(data_dir, registry, load):
    wp = read(data_dir, "stats/ward_profiles/ward-profiles-excel-version.csv", encoding="cp1252")
    joined, report = join_to_boundaries(wp, registry, load)
    assert report.duplicate_rows_dropped == 1           # City of London appears twice, identically
    assert report.rows_outside_area == 34               # 32 borough totals, London, England
    assert report.matched == 484 and report.match_rate < 0.8
    assert report.warnings and joined["area_code"].is_unique


def test_ward_crime_2022_long_format_and_wrong_year(data_dir, registry, load):
    crime = read(data_dir, "stats/crime_ward/MPS_Ward_Level_Crime_most_recent_24_months.csv",
                 dtype={"WardCode": str})
    with pytest.raises(JoinError, match="long format") as exc:
        join_to_boundaries(crime, registry, load)
    assert exc.value.column == "WardCode" and "aggregate=" in str(exc.value)
    assert "MajorText" in str(exc.value)
    # aggregated, the 2022 codes do not fit the 2018 wards: refused, naming column and set …
    with pytest.raises(JoinError, match="only 21.9%") as exc:
        join_to_boundaries(crime, registry, load, aggregate="sum", boundary_set="ward-2018")
    assert exc.value.column == "WardCode" and exc.value.candidate == "ward-2018"
    assert exc.value.rate == pytest.approx(149 / 679, abs=1e-3)
    # … and every one of them fits the approximate 2022 wards, which the codes choose by themselves
    joined, report = join_to_boundaries(crime, registry, load, aggregate="sum")
    assert report.boundary_set == "ward-2022-approx" and report.year == 2022
    assert report.matched == 679 and report.unmatched == 0 and report.match_rate == 1.0
    assert report.boundary_features == 684 and report.boundary_features_without_data == 5
    assert report.boundary_caveat.startswith("Ward shapes approximated from LSOA 2011 areas")
    assert "E05013570" in set(joined["area_code"])       # Heathrow Villages, filed under SO18


def test_aggregate_sum_mean_first_on_unchanged_wards(data_dir, registry, load):
    crime = read(data_dir, "stats/crime_ward/MPS_Ward_Level_Crime_most_recent_24_months.csv",
                 dtype={"WardCode": str})
    ward_codes = set(load(registry.get("ward-2018"))["GSS_CODE"])
    kept = crime[crime["WardCode"].isin(ward_codes)]
    assert kept["WardCode"].nunique() == 149            # wards not redrawn in 2022
    joined, report = join_to_boundaries(kept, registry, load, aggregate="sum")
    assert len(joined) == 149 and report.aggregate == "sum" and report.matched == 149
    assert report.dropped_columns == ["MajorText", "MinorText"]
    expected = kept.groupby("WardCode")["202603"].sum()
    got = joined.set_index("area_code")["202603"]
    assert (got == expected.reindex(got.index)).all()
    assert "WardName" in joined.columns                  # constant per ward: kept

    joined, _ = join_to_boundaries(kept, registry, load, aggregate="mean")
    mean = kept.groupby("WardCode")["202403"].mean()
    assert joined.set_index("area_code")["202403"].sub(mean).abs().max() < 1e-9

    joined, _ = join_to_boundaries(kept, registry, load, aggregate="first")
    first = kept.drop_duplicates("WardCode").set_index("WardCode")["MinorText"]
    assert (joined.set_index("area_code")["MinorText"] == first.reindex(joined["area_code"]).values).all()

    with pytest.raises(JoinError, match="aggregate must be one of"):
        join_to_boundaries(kept, registry, load, aggregate="median")


def test_camden_subset_ties_between_ward_sets(data_dir, registry, load):
    refs = json.loads((data_dir / "green/trees_camden/camden-trees-refs.json").read_text())
    table = pd.DataFrame({"ward": [k for k in refs["wards"] if k], "n": 1})
    joined, report = join_to_boundaries(table, registry, load)
    assert report.matched == len(table) == 18 and report.match_rate == 1.0
    assert report.boundary_set == "ward-2018"
    assert any("fit ward-2018 and ward-2018-all equally" in w for w in report.warnings)
    assert any("615 of 633" in w for w in report.warnings)


def test_lsoa_subset_tie_broken_by_column_name(data_dir, registry, load):
    both = set(load(registry.get("lsoa-2011"))["LSOA11CD"]) & set(load(registry.get("lsoa-2021"))["LSOA21CD"])
    shared = sorted(both)[:50]
    _, report = join_to_boundaries(pd.DataFrame({"LSOA21CD": shared, "v": 1.0}), registry, load)
    assert report.boundary_set == "lsoa-2021"
    assert any("points to 2021" in w for w in report.warnings)
    _, report = join_to_boundaries(pd.DataFrame({"LSOA11CD": shared, "v": 1.0}), registry, load)
    assert report.boundary_set == "lsoa-2011"


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------
def test_codes_matching_nothing_are_refused(registry, load):
    scottish = pd.DataFrame({"DataZone": ["S01006506", "S01006507", "S01006508"], "v": [1, 2, 3]})
    with pytest.raises(JoinError, match="'DataZone'.*S01 codes") as exc:
        join_to_boundaries(scottish, registry, load)
    assert exc.value.column == "DataZone"

    fake = pd.DataFrame({"area": ["E99000001", "E99000002"], "v": [1, 2]})
    with pytest.raises(JoinError, match="'area'.*E99"):
        join_to_boundaries(fake, registry, load)

    fake_lsoa = pd.DataFrame({"zone": ["E01999991", "E01999992", "E01999993"], "v": [1, 2, 3]})
    with pytest.raises(JoinError, match="column 'zone'.*0.0%") as exc:
        join_to_boundaries(fake_lsoa, registry, load)
    assert exc.value.candidate in {"lsoa-2011", "lsoa-2021"} and exc.value.rate == 0.0


def test_no_code_column_and_bad_arguments(data_dir, registry, load):
    gigl = read(data_dir, "green/gigl/GiGL_SpacesToVisit.csv", encoding="cp1252")
    with pytest.raises(JoinError, match="no GSS code column was found"):
        join_to_boundaries(gigl, registry, load)
    table = pd.DataFrame({"code": ["E09000001"], "label": ["x"]})
    with pytest.raises(JoinError, match="no column 'missing'"):
        join_to_boundaries(table, registry, load, code_column="missing")
    with pytest.raises(JoinError, match="column 'label' holds no GSS codes"):
        join_to_boundaries(table, registry, load, code_column="label")
    with pytest.raises(JoinError, match="unknown boundary set 'wards-1999'"):
        join_to_boundaries(table, registry, load, boundary_set="wards-1999")
    with pytest.raises(JoinError, match="needs E01 codes"):
        join_to_boundaries(table, registry, load, boundary_set="lsoa-2011")


def test_explicit_code_column_and_report_dict(data_dir, registry, load):
    pop = read(data_dir, "stats/population/london-mid2020-pop-lsoa.csv")
    joined, report = join_to_boundaries(pop, registry, load, code_column="LAD11CD", aggregate="sum")
    assert report.boundary_set == "borough-2022" and len(joined) == 33
    total = pop["Persons_All-Ages"].sum()
    assert joined["Persons_All-Ages"].sum() == total
    data = report.to_dict()
    json.dumps(data)
    assert data["code_column"] == "LAD11CD" and data["candidates"][0]["boundary_set"] == "borough-2022"
    assert "borough-2022" in report.summary()


def test_boundary_frame_problems_are_reported(registry):
    table = pd.DataFrame({"code": ["E09000001", "E09000002"], "v": [1, 2]})
    frame = gpd.GeoDataFrame({"other": ["E09000001"]}, geometry=gpd.points_from_xy([0], [0]), crs=27700)
    with pytest.raises(JoinError, match="has no column 'LAD22CD'"):
        join_to_boundaries(table, registry, lambda s: frame)
