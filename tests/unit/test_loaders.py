"""Loaders on the real London files (../shared/data) and on broken input built in tmp_path."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import CRS

from explorer.data.loaders import (
    LoadError,
    Loaded,
    crs_label,
    geometry_type,
    load_file,
    numeric_columns,
    to_area_crs,
)
from explorer.catalogue.models import Resource

# Greater London in lon/lat, with a little slack: every London layer must fall inside.
LONDON = (-0.52, 51.27, 0.35, 51.70)
GB = (-9.0, 49.8, 2.1, 61.0)


def inside(frame, box) -> bool:
    minx, miny, maxx, maxy = frame.total_bounds
    return box[0] <= minx <= maxx <= box[2] and box[1] <= miny <= maxy <= box[3]


def steps(loaded: Loaded) -> str:
    return " | ".join(loaded.transformations)


# ---------------------------------------------------------------------------------------------
# boundaries: shapefile, MapInfo TAB, GeoPackage, GeoJSON, TopoJSON
@pytest.mark.parametrize("rel, rows, code", [
    ("boundaries/london-2021-lsoa-gen20/london-2021-lsoa-gen20.shp", 4994, "LSOA21CD"),
    ("boundaries/london-2021-msoa-gen20/london-2021-msoa-gen20.shp", 1002, "MSOA21CD"),
    ("boundaries/london-2011-lsoa-gen20/london-2011-lsoa-gen20.shp", 4835, "LSOA11CD"),
    ("boundaries/london-2021-lad22-gen20/london-2021-lad22-gen20.shp", 33, "LAD22CD"),
])
def test_shapefiles_reprojected_from_bng(data_dir, rel, rows, code):
    loaded = load_file(data_dir / rel)
    frame = loaded.frame
    assert isinstance(frame, gpd.GeoDataFrame)
    assert len(frame) == rows
    assert loaded.kind == "polygons"
    assert loaded.source_crs == "EPSG:27700"
    assert frame.crs.to_epsg() == 4326
    assert inside(frame, LONDON)
    assert "reprojected EPSG:27700 → EPSG:4326" in loaded.transformations
    assert f"read {rows:,} rows from {Path(rel).name}" in loaded.transformations
    assert frame[code].str.match(r"^E0[0-9]\d{6}$").all()
    assert frame[code].is_unique
    assert frame.geometry.is_valid.all()
    assert geometry_type(frame) in ("Polygon", "Polygon/MultiPolygon")


def test_shapefile_from_folder_and_zip(data_dir, tmp_path):
    folder = data_dir / "boundaries/london-2021-lad22-gen20"
    by_folder = load_file(folder)
    assert len(by_folder.frame) == 33 and by_folder.source_crs == "EPSG:27700"

    archive = tmp_path / "lad22.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, f"inner/{part.name}")
        zf.writestr("inner/README.txt", "not data")
    by_zip = load_file(archive)
    assert len(by_zip.frame) == 33
    assert by_zip.source_crs == "EPSG:27700"
    assert set(by_zip.frame["LAD22CD"]) == set(by_folder.frame["LAD22CD"])

    resource = Resource(id="r1", url="https://example.org/lad22.zip", format="shp",
                        archive_member="inner/london-2021-lad22-gen20.shp")
    assert len(load_file(archive, resource).frame) == 33

    broken = tmp_path / "nodbf.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        for part in folder.iterdir():
            if part.suffix != ".dbf":
                zf.write(part, part.name)
    with pytest.raises(LoadError, match=r"nodbf\.zip!london-2021-lad22-gen20\.shp.*\.dbf"):
        load_file(broken)


@pytest.mark.parametrize("name, rows", [("London_Ward.tab", 657), ("London_Ward_CityMerged.tab", 633)])
def test_mapinfo_tab_wards(data_dir, name, rows):
    path = data_dir / "boundaries/london-wards-2018" / name
    loaded = load_file(path)
    assert len(loaded.frame) == rows
    assert loaded.kind == "polygons"
    assert loaded.source_crs == "EPSG:27700"
    assert inside(loaded.frame, LONDON)
    assert loaded.frame["GSS_CODE"].str.startswith("E05").all()
    assert loaded.frame["LAGSSCODE"].str.startswith("E09").all()
    assert loaded.frame["LAGSSCODE"].nunique() == 33


def test_tab_unnamed_bng_definition_is_recognised(data_dir):
    # The TAB carries an anonymous OSGB36 Transverse Mercator, not an EPSG code.
    wkt = pyogrio.read_info(data_dir / "boundaries/london-wards-2018/London_Ward.tab")["crs"]
    assert "unnamed" in wkt
    assert crs_label(CRS.from_user_input(wkt)) == "EPSG:27700"
    assert crs_label("OGC:CRS84") == "EPSG:4326"


def test_folder_with_two_tabs_picks_first_or_layer(data_dir):
    folder = data_dir / "boundaries/london-wards-2018"
    first = load_file(folder)
    assert len(first.frame) == 657
    assert "readable file" in steps(first)
    merged = load_file(folder, options={"layer": "London_Ward_CityMerged"})
    assert len(merged.frame) == 633


def test_geopackage_layers(data_dir):
    path = data_dir / "boundaries/London_Boroughs.gpkg"
    loaded = load_file(path)
    assert len(loaded.frame) == 33
    assert loaded.source_crs == "EPSG:27700"
    assert "layer 'london_boroughs'" in steps(loaded)
    assert len(load_file(path, options={"layer": "london_boroughs"}).frame) == 33
    with pytest.raises(LoadError, match=r"London_Boroughs\.gpkg.*layer 'nope'.*london_boroughs"):
        load_file(path, options={"layer": "nope"})


def test_geojson_boroughs_and_areas(data_dir):
    loaded = load_file(data_dir / "boundaries/London_Borough_Excluding_MHW.geojson")
    frame = loaded.frame
    assert len(frame) == 33 and loaded.kind == "polygons"
    assert loaded.source_crs == "EPSG:4326"
    assert geometry_type(frame) == "Polygon/MultiPolygon"
    assert not any("reprojected" in s for s in loaded.transformations)
    area_ha = to_area_crs(frame).area.sum() / 10_000
    # Greater London excluding the Thames is about 157,000 ha; so do the file's own Hectares less Non_Inland_Area
    assert 150_000 < area_ha < 160_000
    assert area_ha == pytest.approx((frame["Hectares"] - frame["Non_Inland_Area"]).sum(), rel=0.005)


def test_topojson_gla_boroughs(data_dir):
    loaded = load_file(data_dir / "boundaries/gla_ldn-viz-tools/boroughs-simplified-topo.json")
    frame = loaded.frame
    assert len(frame) == 33
    assert loaded.kind == "polygons"
    assert geometry_type(frame) == "Polygon"
    minx, miny, maxx, maxy = frame.total_bounds
    assert minx == pytest.approx(-0.51, abs=0.01) and maxx == pytest.approx(0.34, abs=0.01)
    assert miny == pytest.approx(51.28, abs=0.01) and maxy == pytest.approx(51.70, abs=0.01)
    assert loaded.source_crs == "EPSG:4326"
    assert "assumed EPSG:4326" in steps(loaded)
    assert sorted(frame["gss_code"]) == [f"E090000{i:02d}" for i in range(1, 34)]
    # the decoded shapes match the detailed boundaries: each borough's area within 3 %
    detailed = load_file(data_dir / "boundaries/London_Boroughs.gpkg").frame
    topo_area = to_area_crs(frame).set_index("gss_code").area
    real_area = to_area_crs(detailed).set_index("gss_code").area
    ratio = (topo_area / real_area.loc[topo_area.index])
    assert ratio.between(0.97, 1.03).all(), ratio.describe()


def test_topojson_vega_boroughs_and_tube_lines(data_dir):
    boroughs = load_file(data_dir / "vega-datasets/londonBoroughs.json")
    assert len(boroughs.frame) == 33 and boroughs.kind == "polygons"
    assert "Westminster" in set(boroughs.frame["id"])
    assert inside(boroughs.frame, LONDON)
    assert boroughs.frame.geometry.is_valid.all()
    lines = load_file(data_dir / "vega-datasets/londonTubeLines.json")
    assert lines.kind == "lines" and len(lines.frame) == 394
    assert geometry_type(lines.frame) == "LineString"
    assert {"Victoria", "Jubilee", "Central"} <= set(lines.frame["id"])


def test_topojson_decoder_on_a_hand_made_topology(tmp_path):
    # Two unit squares side by side sharing the arc x=1; quantised with scale 0.5, offset (10, 50).
    # Arc 0: shared edge (1,0)→(1,1); arc 1: right square rest; arc 2: left square rest.
    def q(points):  # absolute → quantised, delta-encoded
        grid = [(round((x - 10) / 0.5), round((y - 50) / 0.5)) for x, y in points]
        return [list(grid[0])] + [[b[0] - a[0], b[1] - a[1]] for a, b in zip(grid, grid[1:])]
    topo = {
        "type": "Topology",
        "transform": {"scale": [0.5, 0.5], "translate": [10, 50]},
        "arcs": [q([(11, 50), (11, 51)]),
                 q([(11, 51), (12, 51), (12, 50), (11, 50)]),
                 q([(11, 50), (10, 50), (10, 51), (11, 51)])],
        "objects": {
            "squares": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]], "id": "right", "properties": {"n": 2}},
                {"type": "Polygon", "arcs": [[2, -1]], "id": "left", "properties": {"n": 1}},
                {"type": "Point", "coordinates": [3, 1], "id": "pt"},
            ]},
            "other": {"type": "LineString", "arcs": [0]},
        },
    }
    path = tmp_path / "squares.topojson"
    path.write_text(json.dumps(topo))
    loaded = load_file(path)
    frame = loaded.frame.set_index("id")
    # exact vertex sequences: shared positions kept once, the negative arc walked backwards
    assert list(frame.loc["right"].geometry.exterior.coords) == [
        (11, 50), (11, 51), (12, 51), (12, 50), (11, 50)]
    assert list(frame.loc["left"].geometry.exterior.coords) == [
        (11, 50), (10, 50), (10, 51), (11, 51), (11, 50)]
    assert frame.loc["pt"].geometry.equals(shapely.Point(11.5, 50.5))
    assert frame.loc["left", "n"] == 1
    assert geometry_type(loaded.frame) == "Point/Polygon"
    assert "objects squares, other" in steps(loaded)
    other = load_file(path, options={"layer": "other"})
    assert other.kind == "lines"
    assert other.frame.geometry.iloc[0].equals(shapely.LineString([(11, 50), (11, 51)]))
    topo["objects"]["squares"]["geometries"][0]["arcs"] = [[0, 7]]
    path.write_text(json.dumps(topo))
    with pytest.raises(LoadError, match=r"squares\.topojson.*arc 7"):
        load_file(path)


# ---------------------------------------------------------------------------------------------
# points: GeoJSON (plain and gzip), coordinate columns
def test_large_gzipped_geojson_points(data_dir):
    loaded = load_file(data_dir / "points/greater_london-osm_pois_2020.geojson.gz")
    assert len(loaded.frame) == 52_374
    assert loaded.kind == "points"
    assert geometry_type(loaded.frame) == "Point"
    assert loaded.source_crs == "EPSG:4326"
    assert inside(loaded.frame, LONDON)
    assert "restaurant" in set(loaded.frame["poi_type"])


def test_gzipped_geojson_polygons_repaired(data_dir):
    loaded = load_file(data_dir / "green/osm_parks/greater_london-osm_parks_2021.geojson.gz")
    assert len(loaded.frame) == 3282
    assert loaded.frame.geometry.is_valid.all()
    assert set(loaded.frame.geom_type) <= {"Polygon", "MultiPolygon"}
    # the raw file has invalid rings that make_valid fixes
    raw = pyogrio.read_dataframe("/vsigzip/" + str(data_dir / "green/osm_parks/greater_london-osm_parks_2021.geojson.gz"))
    invalid = int((~raw.geometry.is_valid).sum())
    assert invalid > 0
    assert f"repaired {invalid} invalid geometr" in steps(loaded)


def test_camden_trees(data_dir):
    loaded = load_file(data_dir / "green/trees_camden/camden-trees.geojson")
    assert len(loaded.frame) == 13_449 and loaded.kind == "points"
    assert set(numeric_columns(loaded.frame)) == {"h", "w"}


def test_gigl_cp1252_eastings_northings(data_dir):
    loaded = load_file(data_dir / "green/gigl/GiGL_SpacesToVisit.csv")
    frame = loaded.frame
    assert len(frame) == 4352
    assert loaded.kind == "points"
    assert loaded.source_crs == "EPSG:27700"
    assert "points from columns Easting/Northing (EPSG:27700)" in loaded.transformations
    assert "cp1252" in steps(loaded)
    assert frame["Copyright"].iloc[0].startswith("Created by Greenspace Information for Greater London CIC (GiGL) – ")
    assert inside(frame, LONDON)
    assert frame["AreaHa"].dtype.kind == "f"


def test_laqn_sites_semicolons_and_placeholders(data_dir):
    loaded = load_file(data_dir / "air_quality/laqn/laqn_sites.csv")
    frame = loaded.frame
    raw = pd.read_csv(data_dir / "air_quality/laqn/laqn_sites.csv", sep=";")
    assert loaded.kind == "points"
    assert "detected separator semicolon" in loaded.transformations
    placeholder = (raw["Latitude"].round(3) == 49.767) & (raw["os_grid_x"] == 0)
    assert placeholder.sum() > 50
    assert 800 < len(frame) <= len(raw) - placeholder.sum()
    assert inside(frame, GB)
    xy = shapely.get_coordinates(frame.geometry.values)
    assert not ((np.abs(xy[:, 1] - 49.7668) < 0.01) & (np.abs(xy[:, 0] + 7.5572) < 0.01)).any()
    assert not ((xy[:, 0] == 0) & (xy[:, 1] == 0)).any()
    assert "placeholder" in steps(loaded) and "missing coordinates" in steps(loaded)
    assert frame["SiteCode"].is_unique


def test_site_means_bng_xy(data_dir):
    loaded = load_file(data_dir / "air_quality/monitoring_sites/site_means_2019-03-08.csv")
    assert loaded.kind == "points" and loaded.source_crs == "EPSG:27700"
    assert "points from columns X/Y (EPSG:27700)" in loaded.transformations
    assert inside(loaded.frame, GB)
    teddington = loaded.frame[loaded.frame["code"] == "TD0"].geometry.iloc[0]
    assert teddington.x == pytest.approx(-0.34, abs=0.02) and teddington.y == pytest.approx(51.42, abs=0.02)


def test_lonlat_columns(data_dir):
    signals = load_file(data_dir / "points/osm_londonRegionTrafficSignals.csv")
    assert len(signals.frame) == 15_712 and signals.source_crs == "EPSG:4326"
    stations = load_file(data_dir / "transport/london_tube_network/london_tube_stations.csv")
    assert len(stations.frame) == 302 and stations.kind == "points"


# ---------------------------------------------------------------------------------------------
# tables
def test_house_prices_thousands_separators(data_dir):
    loaded = load_file(data_dir / "stats/house_prices/land-registry-house-prices-borough.csv")
    frame = loaded.frame
    assert loaded.kind == "table" and len(frame) == 45
    assert frame.columns[0] == "Code"  # BOM removed
    city = frame.set_index("Code").loc["E09000001"]
    assert city["Year ending Dec 1995"] == 146_043
    assert pd.api.types.is_numeric_dtype(frame["Year ending Dec 2017"])
    assert "Year ending Dec 2017" in numeric_columns(frame)
    assert "Code" not in numeric_columns(frame) and "Area" not in numeric_columns(frame)
    assert pd.api.types.is_string_dtype(frame["Code"])
    assert "thousands separators in 89 columns" in steps(loaded)


def test_imd_gzip_csv_rank(data_dir):
    loaded = load_file(data_dir / "stats/deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz")
    frame = loaded.frame
    assert len(frame) == 32_844
    rank = frame["Index of Multiple Deprivation (IMD) Rank"]
    assert pd.api.types.is_integer_dtype(rank)
    assert rank.min() == 1 and rank.max() == 32_844  # every LSOA of England ranked (a few ties)
    assert rank.nunique() > 32_800
    decile = frame["Index of Multiple Deprivation (IMD) Decile"]
    assert rank[decile == 1].max() < rank[decile == 2].min()  # deciles follow the parsed ranks
    assert frame["LSOA code (2011)"].str.startswith("E01").all()


def test_cp1252_ward_profiles_and_cr_only_files(data_dir):
    wards = load_file(data_dir / "stats/ward_profiles/ward-profiles-excel-version.csv")
    assert len(wards.frame) == 660
    assert any("£" in c for c in wards.frame.columns)
    pollution = load_file(data_dir / "air_quality/ward_pollution.csv")
    assert len(pollution.frame) == 625
    assert list(pollution.frame.columns[:3]) == ["New_Code", "Borough", "Names"]
    assert pollution.frame["Mean_NO2"].between(10, 120).all()
    profiles = load_file(data_dir / "stats/borough_profiles/london-borough-profiles-2015.csv")
    assert profiles.frame.shape == (39, 84)
    assert profiles.frame["Code"].str.startswith("E").sum() >= 33


def test_tsv_and_placeholders(data_dir):
    leggi = load_file(data_dir / "stats/emissions/leggi_london_boroughs_co2emissions_df.tsv")
    assert leggi.frame.shape == (280, 21)
    assert "total_total" in numeric_columns(leggi.frame)
    monthly = load_file(data_dir / "air_quality/london_average_air_quality/air-quality-london-monthly-averages.csv")
    col = "London Mean Background:PM2.5 Particulate (ug/m3)"
    assert pd.api.types.is_float_dtype(monthly.frame[col])
    assert monthly.frame[col].isna().sum() == 4  # the four '.' placeholders


def test_json_records(data_dir):
    monthly = load_file(data_dir / "air_quality/london_average_air_quality/airQualityLondonMonthly2024.json")
    assert monthly.kind == "table" and len(monthly.frame) == 333
    assert set(monthly.frame.columns) == {"Month", "Area", "Value"}
    assert set(monthly.frame["Area"]) == {"Central", "Inner", "Outer"}
    ghg = load_file(data_dir / "stats/emissions/ghgDomesticByBorough2022.json")
    assert len(ghg.frame) == 33 and "Domestic - Total" in numeric_columns(ghg.frame)
    records = load_file(data_dir / "catalogue/london_datastore_records_531.json")
    assert len(records.frame) == 531 and "records from JSON key 'records'" in records.transformations


# ---------------------------------------------------------------------------------------------
# options and hand-made input
def test_options_merge_over_resource_and_wkt(tmp_path):
    path = tmp_path / "zones.txt"
    path.write_text("name|shape\n"
                    "a|POLYGON ((530000 180000, 531000 180000, 531000 181000, 530000 181000, 530000 180000))\n"
                    "b|not wkt at all\n", encoding="utf-8")
    resource = Resource(id="z", url="https://example.org/zones.txt", format="csv",
                        options={"sep": ",", "crs": "EPSG:27700"})
    with pytest.raises(LoadError, match="zones.txt"):  # resource's sep is wrong, and no WKT found
        load_file(path, resource, options={"wkt": "shape"})
    loaded = load_file(path, resource, options={"sep": "|", "wkt": "shape"})
    assert loaded.kind == "polygons" and loaded.source_crs == "EPSG:27700"
    assert len(loaded.frame) == 1  # the unreadable WKT row is dropped and counted
    assert "could not be read as WKT" in steps(loaded)
    assert to_area_crs(loaded.frame).area.iloc[0] == pytest.approx(1_000_000, rel=1e-3)


def test_explicit_xy_columns_and_cp1252(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_bytes("site;E;N\nCafé £5;530000;180000\nnowhere;;\n".encode("cp1252"))
    loaded = load_file(path, options={"x": "E", "y": "N", "crs": "27700"})
    assert loaded.frame["site"].tolist() == ["Café £5"]
    assert loaded.source_crs == "EPSG:27700"
    pt = loaded.frame.geometry.iloc[0]
    assert pt.x == pytest.approx(-0.1276, abs=0.01) and pt.y == pytest.approx(51.50, abs=0.01)
    assert "dropped 1 row with missing coordinates" in loaded.transformations
    with pytest.raises(LoadError, match=r"sites\.csv.*'nope'"):
        load_file(path, options={"x": "nope", "y": "N"})


def test_truncated_geojson(data_dir, tmp_path):
    src = (data_dir / "boundaries/thames_erg.geojson").read_bytes()
    path = tmp_path / "thames.geojson"
    path.write_bytes(src[: len(src) // 2])
    with pytest.raises(LoadError, match=r"thames\.geojson: not valid JSON.*truncated"):
        load_file(path)
    gz = tmp_path / "thames.geojson.gz"
    gz.write_bytes(gzip.compress(src)[:5000])
    with pytest.raises(LoadError, match=r"thames\.geojson\.gz: .*gzip.*truncated"):
        load_file(gz)


def test_shapefile_without_dbf(data_dir, tmp_path):
    for part in (data_dir / "boundaries/london-2021-lad22-gen20").iterdir():
        if part.suffix != ".dbf":
            shutil.copy(part, tmp_path / part.name)
    with pytest.raises(LoadError, match=r"london-2021-lad22-gen20\.shp: .*london-2021-lad22-gen20\.dbf missing"):
        load_file(tmp_path / "london-2021-lad22-gen20.shp")


def test_garbage_geopackage(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(LoadError, match=r"broken\.gpkg: not a readable GeoPackage"):
        load_file(path)


def test_ragged_csv_names_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("code,name,value\nE1,a,1\nE2,b,2\nE3,c,3,extra,more\nE4,d,4\n")
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert "ragged.csv (line 4)" in str(info.value)
    assert info.value.row == 4
    assert "Traceback" not in str(info.value)


def _square_bng(x0=530000.0, y0=180000.0, size=1000.0):
    return shapely.box(x0, y0, x0 + size, y0 + size)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_bng_metres_assumed(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["sq"]}, geometry=[_square_bng()], crs=None)
    shp = tmp_path / "nocrs.shp"
    gdf.to_file(shp)
    assert not shp.with_suffix(".prj").exists()
    loaded = load_file(shp)
    assert loaded.source_crs == "EPSG:27700"
    assert "assumed EPSG:27700" in steps(loaded)
    assert inside(loaded.frame, LONDON)
    # GeoJSON without a "crs" member but in metres: GDAL says WGS84, the values say otherwise
    geojson = tmp_path / "metres.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": 1}, "geometry": shapely.geometry.mapping(_square_bng())}]}))
    loaded = load_file(geojson)
    assert loaded.source_crs == "EPSG:27700" and inside(loaded.frame, LONDON)
    assert "treated as EPSG:27700" in steps(loaded)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_unknown_crs_is_an_error(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["far"]}, geometry=[_square_bng(5e6, 5e6)], crs=None)
    gdf.to_file(tmp_path / "far.shp")
    with pytest.raises(LoadError, match=r"far\.shp: unknown CRS"):
        load_file(tmp_path / "far.shp")


def test_bow_tie_repaired_and_empty_dropped(tmp_path):
    bow_tie = shapely.Polygon([(0, 51), (0.1, 51.1), (0.1, 51), (0, 51.1), (0, 51)])
    assert not bow_tie.is_valid
    gdf = gpd.GeoDataFrame({"name": ["bow", "ok", "empty"]},
                           geometry=[bow_tie, shapely.box(0, 51, 0.1, 51.1), shapely.Polygon()],
                           crs="EPSG:4326")
    path = tmp_path / "bowtie.gpkg"
    gdf.to_file(path, layer="shapes")
    loaded = load_file(path)
    frame = loaded.frame.set_index("name")
    assert "empty" not in frame.index
    assert "dropped 1 row with missing or empty geometry" in loaded.transformations
    assert "repaired 1 invalid geometry" in steps(loaded)
    fixed = frame.loc["bow"].geometry
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(0.005, rel=1e-6)  # two triangles, each a quarter of the box
    assert geometry_type(loaded.frame) == "Polygon/MultiPolygon"


def test_helpers():
    table = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [True, False], "d": [np.nan, np.nan]})
    assert numeric_columns(table) == ["a"]
    assert geometry_type(table) is None
    with pytest.raises(ValueError):
        to_area_crs(table)
    with pytest.raises(LoadError, match="missing.csv: file not found"):
        load_file(Path("/nonexistent/missing.csv"))


def test_geojson_content_in_json_and_csv_in_zip(tmp_path):
    path = tmp_path / "sites.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Trafalgar"},
         "geometry": {"type": "Point", "coordinates": [-0.128, 51.508]}},
        {"type": "Feature", "properties": {"name": "none"}, "geometry": None}]}))
    loaded = load_file(path)
    assert loaded.kind == "points" and loaded.frame["name"].tolist() == ["Trafalgar"]
    assert "dropped 1 row with missing or empty geometry" in loaded.transformations

    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("docs/notes.pdf", b"%PDF-1.4")
        zf.writestr("data/prices.csv", 'Code,Price\nE09000001,"1,234,567"\nE09000002,"98,765"\n')
    table = load_file(archive)
    assert table.kind == "table"
    assert table.frame["Price"].tolist() == [1_234_567, 98_765]
    assert table.frame["Code"].tolist() == ["E09000001", "E09000002"]


def test_wkt_column_detected_without_options(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text('id,geom\n1,"LINESTRING (530000 180000, 531000 181000)"\n'
                    '2,"LINESTRING (532000 180000, 533000 181000)"\n')
    loaded = load_file(path)
    assert loaded.kind == "lines"
    assert loaded.source_crs == "EPSG:27700"  # BNG metres recognised, with a note
    assert "geometry from WKT column 'geom'" in loaded.transformations
    assert "assumed EPSG:27700" in steps(loaded)
    assert "geom" not in loaded.frame.columns
    assert inside(loaded.frame, LONDON)
