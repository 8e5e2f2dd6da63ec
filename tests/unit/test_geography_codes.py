"""Choosing a boundary set from codes read without geometry, so only the chosen set's frame is
loaded; and the data service's codes-only read of a boundary file, with its fallbacks."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from explorer.geo.joins import DataService
from explorer.geo.geography import BoundaryRegistry, detect_code_columns, join_to_boundaries
from explorer.catalogue.harvest import harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

LSOA = {
    "lsoa-2011": "boundaries/london-2011-lsoa-gen20/london-2011-lsoa-gen20.shp",
    "lsoa-2021": "boundaries/london-2021-lsoa-gen20/london-2021-lsoa-gen20.shp",
}
TABLE_2021 = "air_quality/laei_zonal/lsoa21-2019-NO2.csv"


@pytest.fixture(scope="module")
def frames(data_dir):
    return {set_id: gpd.read_file(data_dir / rel) for set_id, rel in LSOA.items()}


def test_only_the_chosen_sets_geometry_is_loaded(data_dir, frames):
    registry = BoundaryRegistry.bundled()
    loaded: list[str] = []

    def load(bset):
        loaded.append(bset.id)
        return frames[bset.id]

    table = pd.read_csv(data_dir / TABLE_2021)
    joined, report = join_to_boundaries(table, registry, load,
                                        boundary_codes=lambda s: frames[s.id][s.code_column].tolist())
    assert report.boundary_set == "lsoa-2021" and report.matched == 4994
    assert set(loaded) == {"lsoa-2021"}  # LSOA 2011 was scored from its codes alone
    assert [c["boundary_set"] for c in report.candidates] == ["lsoa-2021", "lsoa-2011"]
    # The same report as when every candidate's frame is loaded.
    _, full = join_to_boundaries(table, registry, load)
    assert report.to_dict() == full.to_dict()


def test_codes_that_disagree_with_the_chosen_frame_are_not_trusted(data_dir, frames):
    registry = BoundaryRegistry.bundled()
    table = pd.read_csv(data_dir / TABLE_2021)

    def wrong(bset):  # says the 2011 set holds the 2021 codes and the 2021 set holds nothing
        return table["LSOA21CD"].tolist() if bset.id == "lsoa-2011" else []

    _, report = join_to_boundaries(table, registry, lambda s: frames[s.id], boundary_codes=wrong)
    assert report.boundary_set == "lsoa-2021" and report.match_rate == 1.0


def test_detection_counts_raw_values_once():
    df = pd.DataFrame({
        "codes": pd.Series(["E01000001", "e01000001 ", "E01000002", None, ""], dtype="string"),
        "category": pd.Categorical(["E09000001", "E09000001", "E09000002", "x", "x"],
                                   categories=["E09000001", "E09000002", "E09000003", "x"]),
        "objects": pd.Series(["E05000128", 7, 7.5, "E05000129", "E05000130"], dtype=object),
    })
    found = {c.column: c for c in detect_code_columns(df)}
    assert (found["codes"].n_codes, found["codes"].n_rows, found["codes"].share) == (2, 3, 1.0)
    # an unused category is no code; "x" rows count against the share
    assert (found["category"].n_codes, found["category"].share) == (2, 0.6)
    assert (found["objects"].n_codes, found["objects"].share) == (3, 0.6)


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home, data_dir=data_dir, cache_url="null")
    settings.ensure_dirs()
    registry = Registry(settings.registry_path)
    harvest("bundled", registry, settings)
    yield DataService(settings, registry)
    registry.close()


def test_the_service_reads_boundary_codes_without_geometry(service, frames, monkeypatch):
    bset = service.boundaries.get("lsoa-2011")
    monkeypatch.setattr(service, "_boundary_frame", lambda s: pytest.fail("loaded the frame"))
    codes = service._boundary_codes(bset)
    assert sorted(codes) == sorted(frames["lsoa-2011"]["LSOA11CD"])
    # Kept per boundary set: asked again, the file is not read again.
    monkeypatch.setattr(service, "_read_codes", lambda *a: pytest.fail("read again"))
    assert service._boundary_codes(bset) is codes


def test_a_boundary_file_read_another_way_falls_back_to_the_frame(service, monkeypatch):
    bset = service.boundaries.get("ward-2018")  # a MapInfo TAB: not read codes-only
    calls = []
    real = service._boundary_frame
    monkeypatch.setattr(service, "_boundary_frame", lambda s: calls.append(s.id) or real(s))
    codes = service._boundary_codes(bset)
    assert calls == ["ward-2018"] and len(codes) == bset.expected_count


def test_a_join_through_the_service_loads_one_lsoa_frame(service):
    loaded = service.load("laei-lsoa-2021")
    assert loaded.geography.boundary_set == "lsoa-2021" and loaded.geography.matched == 4994
    in_memory = {ds.entry.id for ds in service._datasets.values()}
    assert "london-lsoa-2021" in in_memory and "london-lsoa-2011" not in in_memory
