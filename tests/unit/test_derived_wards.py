"""Approximate 2022 wards, built at run time from LSOA 2011 areas and the GLA LSOA→ward 2022 lookup:
the set itself on the real files, the crime-by-ward table joined to it, its provenance and caveat,
and the pure functions on tiny frames whose answers are known."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from flask import Flask

from explorer.geo import derived_boundaries as db
from explorer.maps.layer_info import layer_info
from explorer.data.cache import make_cache
from explorer.geo.joins import DataService
from explorer.geo.geography import BoundaryConfigError, BoundaryRegistry
from explorer.services import open_registry
from explorer.settings import Settings

LOOKUP = "lookups/gla/LSOA_2011_London_Ward_2022_London_combined.csv"
LSOA = "boundaries/london-2011-lsoa-gen20/london-2011-lsoa-gen20.shp"
CAVEAT = ("Ward shapes approximated from LSOA 2011 areas using the GLA LSOA→ward 2022 lookup; edges "
          "follow LSOA boundaries, not the official ward lines.")
OPTIONS = {"from_column": "a", "to_column": "w", "weight_column": "share", "year_column": "year"}


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("wards22-home"), data_dir=data_dir, cache_url="simple")
    return DataService(settings, open_registry(settings), cache=make_cache(settings, Flask(__name__)))


@pytest.fixture(scope="module")
def wards(service):
    return service.derived_boundary(service.boundaries.get("ward-2022-approx"))


@pytest.fixture(scope="module")
def crime(service):
    return service.load("crime-ward")


# ------------------------------------------------------------------------------------ the set itself
def test_the_set_has_one_valid_shape_per_ward_that_holds_an_lsoa(wards, data_dir):
    frame = wards.frame
    assert len(frame) == 684 == wards.summary["features"]
    assert frame["WD22CD"].is_unique and frame["WD22CD"].str.match(r"^E05\d{6}$").all()
    assert frame.geometry.is_valid.all() and not frame.geometry.is_empty.any()
    assert set(frame.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert wards.summary["multipart"] == int((frame.geometry.geom_type == "MultiPolygon").sum()) == 31
    # names for every ward: the crime file's, then the 2018 file's for City wards
    assert frame["WD22NM"].notna().all() and not frame["WD22NM"].str.match(r"^E05").any()
    assert wards.summary["unnamed"] == []
    # the 20 wards with no shape are City of London wards smaller than any LSOA
    assert len(wards.summary["targets_without_part"]) == 20 == 704 - 684
    assert all(c.startswith("E050093") or c.startswith("E050092") for c in wards.summary["targets_without_part"])


def test_every_lsoa_of_the_lookup_is_used_exactly_once(wards, data_dir):
    lookup = pd.read_csv(data_dir / LOOKUP)
    lsoas = gpd.read_file(data_dir / LSOA)
    assert wards.frame["n_parts"].sum() == lookup["LSOA11CD"].nunique() == len(lsoas) == 4835
    # the dissolved area is the LSOAs' area: nothing lost, nothing counted twice
    dissolved = wards.frame.to_crs(27700).geometry.area.sum()
    assert dissolved == pytest.approx(lsoas.geometry.area.sum(), rel=1e-6)
    overlap = shapely.union_all(wards.frame.to_crs(27700).geometry.values).area
    assert overlap == pytest.approx(dissolved, rel=1e-6)


def test_a_ward_is_the_union_of_the_lsoas_whose_largest_share_it_holds(wards, data_dir):
    lookup = pd.read_csv(data_dir / LOOKUP)
    latest = lookup[lookup["year"] == lookup["year"].max()]
    best = latest.sort_values(["LSOA11CD", "weight", "GSS_CODE"], ascending=[True, False, True])
    best = best.drop_duplicates("LSOA11CD").set_index("LSOA11CD")["GSS_CODE"]
    lsoas = gpd.read_file(data_dir / LSOA).to_crs(4326)
    members = lsoas[lsoas["LSOA11CD"].map(best) == "E05013570"]           # Heathrow Villages
    ward = wards.frame.set_index("WD22CD").loc["E05013570"]
    assert ward["n_parts"] == len(members) > 0
    assert shapely.union_all(members.geometry.values).symmetric_difference(ward.geometry).area < 1e-9


def test_the_set_is_kept_in_the_apps_cache(service, wards, monkeypatch):
    # another worker: its own data service and memos, the same cache
    other = DataService(service.settings, service.registry, cache=service.cache)
    monkeypatch.setattr(db, "build", lambda *a: pytest.fail("built again instead of read from the cache"))
    again = other.derived_boundary(other.boundaries.get("ward-2022-approx"))
    assert again.frame["WD22CD"].tolist() == wards.frame["WD22CD"].tolist()


def test_its_codes_come_from_the_lookup_without_building_shapes(tmp_path, data_dir, monkeypatch):
    settings = Settings(home=tmp_path, data_dir=data_dir, cache_url="null")
    fresh = DataService(settings, open_registry(settings))
    monkeypatch.setattr(db, "build", lambda *a: pytest.fail("shapes built just to read codes"))
    codes = fresh._boundary_codes(fresh.boundaries.get("ward-2022-approx"))
    assert len(codes) == 684 and "E05013570" in codes


# ------------------------------------------------------------------------------------ the crime join
def test_crime_by_ward_joins_to_the_approximate_wards(crime):
    report = crime.geography
    assert crime.join_error is None and crime.kind == "polygons"
    assert report.boundary_set == "ward-2022-approx" and report.year == 2022
    # the reported match rate: every one of the file's 679 ward codes, Heathrow (filed under
    # "Aviation Security (SO18)") included; the 5 shapes without data are City of London wards,
    # which the Metropolitan Police does not police
    assert (report.matched, report.unmatched, report.match_rate) == (679, 0, 1.0)
    assert report.rows_outside_area == 0 and report.rows_without_code == 0
    assert report.boundary_features == 684 and report.boundary_features_without_data == 5
    assert all(e.startswith("E0500") for e in report.features_without_data_examples)
    assert report.boundary_caveat == CAVEAT
    assert len(crime.frame) == 679 and crime.frame.geometry.is_valid.all()
    heathrow = crime.frame.set_index("area_code").loc["E05013570"]
    assert heathrow["LookUp_BoroughName"] == "Aviation Security (SO18)"


def test_the_provenance_lists_both_inputs_with_sha256_and_the_derivation(crime, data_dir):
    from explorer.data.provenance import sha256_file

    steps = "\n".join(crime.provenance.transformations)
    assert f"{LOOKUP} (sha256 {sha256_file(data_dir / LOOKUP)})" in steps
    assert f"{LSOA} (sha256 {sha256_file(data_dir / LSOA)})" in steps
    assert "boundary set ward-2022-approx derived at run time" in steps
    assert "largest share" in steps and "dissolved by ward: 684 shapes" in steps
    assert "joined to ward-2022-approx (ward 2022) on WardCode: 679 matched, 0 unmatched (100.0%)" in steps


def test_the_crime_layer_is_mappable_and_its_caveat_reaches_the_source_card(service, crime):
    from dash import html

    from layouts.components import source_card
    from layouts.map_explorer import boundary_caveat

    info = layer_info(service, "crime-ward")
    assert info.error is None and info.kind == "polygons" and info.n_features == 679
    assert "202603" in info.variables and [s.label for s in info.time_steps] == ["2024", "2025", "2026"]
    summary = crime.summary()
    card = source_card(crime.entry, summary["provenance"], summary["geography"], heading="Source")
    caveats = next(n for n in _walk(card) if getattr(n, "className", "") == "source-card__caveats")
    items = [li.children for li in _walk(caveats) if isinstance(li, html.Li)]
    assert items[0] == CAVEAT                                            # first, above the dataset's own
    assert items[1:] == crime.entry.caveats
    texts = [n.children for n in _walk(card) if isinstance(n, html.Dd) and isinstance(n.children, str)]
    assert "ward 2022 (E05 codes): London wards 2022 (approximate, from LSOA 2011 areas)" in texts
    assert "679 of 679 rows matched (100.0%)" in texts
    note = boundary_caveat(info)
    assert note is not None and CAVEAT in note.children
    assert boundary_caveat(layer_info(service, "london-boroughs")) is None


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from _walk(child)
    elif children is not None and not isinstance(children, str):
        yield from _walk(children)


# ------------------------------------------------------------------------------------ pure parts
def _lookup(rows):
    return pd.DataFrame(rows, columns=["a", "w", "share", "year"])


def test_largest_share_in_the_latest_year_ties_to_the_smaller_code():
    table = _lookup([
        ("A1", "W2", 0.6, 2020), ("A1", "W1", 0.4, 2020),      # older year: ignored
        ("A1", "W1", 0.7, 2021), ("A1", "W2", 0.3, 2021),
        ("A2", "W3", 0.5, 2021), ("A2", "W2", 0.5, 2021),      # a tie: W2 < W3
        ("A3", "W3", 1.0, 2021),
        ("A4", "W4", 0.2, 2021), ("A4", "W3", 0.45, 2021), ("A4", "W5", 0.35, 2021),
    ])
    got = db.assign_largest_share(table, OPTIONS)
    assert dict(zip(got.table["part"], got.table["target"])) == {"A1": "W1", "A2": "W2", "A3": "W3", "A4": "W3"}
    assert got.year == 2021 and got.parts_split == 3 and got.below_half == 1
    assert got.targets_in_lookup == 5 and got.targets_without_part == ["W4", "W5"]


def test_bad_lookups_name_the_column_or_row():
    with pytest.raises(db.DerivationError, match="column 'share'.*not in the file"):
        db.assign_largest_share(_lookup([("A1", "W1", 1, 2021)]).drop(columns="share"), OPTIONS)
    with pytest.raises(db.DerivationError, match="option 'weight_column' is missing"):
        db.assign_largest_share(_lookup([("A1", "W1", 1, 2021)]), {**OPTIONS, "weight_column": None})
    with pytest.raises(db.DerivationError, match="row 3, column 'share': not a number: 'lots'"):
        db.assign_largest_share(_lookup([("A1", "W1", 1, 2021), ("A2", "W1", "lots", 2021)]), OPTIONS)


def test_dissolve_uses_each_part_once_and_refuses_mismatched_inputs():
    squares = gpd.GeoDataFrame({"code": ["A1", "A2", "A3"]},
                               geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)],
                               crs=27700)
    assignment = db.assign_largest_share(_lookup([("A1", "W1", 1, 2021), ("A2", "W1", 1, 2021),
                                                  ("A3", "W2", 1, 2021)]), OPTIONS)
    out = db.dissolve_by_largest_share(squares, "code", assignment, {"W1": "One"}, "cd", "nm")
    assert out["cd"].tolist() == ["W1", "W2"] and out["nm"].tolist() == ["One", "W2"]
    assert out["n_parts"].tolist() == [2, 1]
    assert out.geometry.iloc[0].equals(shapely.box(0, 0, 2, 1)) and out.geometry.is_valid.all()
    with pytest.raises(db.DerivationError, match="1 areas of the boundary file are not in the lookup .*A3"):
        db.dissolve_by_largest_share(squares, "code", db.assign_largest_share(
            _lookup([("A1", "W1", 1, 2021), ("A2", "W1", 1, 2021)]), OPTIONS), {}, "cd", "nm")
    with pytest.raises(db.DerivationError, match="1 areas of the lookup are not in the boundary file .*A9"):
        db.dissolve_by_largest_share(squares, "code", db.assign_largest_share(_lookup(
            [("A1", "W1", 1, 2021), ("A2", "W1", 1, 2021), ("A3", "W2", 1, 2021), ("A9", "W2", 1, 2021)]),
            OPTIONS), {}, "cd", "nm")


def test_a_bad_derived_from_names_the_field():
    base = {"id": "w", "title": "W", "level": "ward", "code_prefix": "E05", "year": 2022,
            "dataset_id": "lookup", "code_column": "C", "name_column": "N", "expected_count": 1}
    for derived, message in [({"names": []}, "derived_from.parts"),
                             ({"parts": "lsoa-2011", "lookup": "x"}, "unknown key"),
                             ({"parts": "lsoa-2011", "names": [{"file": "x"}]}, r"derived_from.names\[0\]")]:
        with pytest.raises(BoundaryConfigError, match=message):
            BoundaryRegistry.from_dict({"sets": [{**base, "derived_from": derived}]}, source="test.yaml")
    ok = BoundaryRegistry.from_dict({"sets": [{**base, "derived_from": {"parts": "p"}, "caveat": " a \n b "}]})
    assert ok.get("w").derived and ok.get("w").caveat == "a b"


def test_a_derived_set_that_cannot_be_built_is_a_clear_error_not_a_half_join(tmp_path, data_dir):
    import importlib.resources

    import yaml

    from explorer.geo.joins import DatasetError

    raw = yaml.safe_load(importlib.resources.files("geodata").joinpath("boundaries.yaml").read_text("utf-8"))
    wrong = next(s for s in raw["sets"] if s["id"] == "ward-2022-approx")
    wrong["derived_from"]["parts"] = "msoa-2021"          # MSOAs are not what the lookup maps
    settings = Settings(home=tmp_path, data_dir=data_dir, cache_url="null")
    broken = DataService(settings, open_registry(settings), boundaries=BoundaryRegistry.from_dict(raw))
    with pytest.raises(DatasetError, match="4,835 areas of the lookup are not in the boundary file") as exc:
        broken.derived_boundary(broken.boundaries.get("ward-2022-approx"))
    assert exc.value.stage == "derive" and "parts msoa-2021" in exc.value.reason
    crime = broken.load("crime-ward")
    assert crime.geography is None and crime.kind == "table"
    assert crime.join_error.startswith("the boundaries could not be loaded: boundary set ward-2022-approx")
