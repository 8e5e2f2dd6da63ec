"""Map layers on the real London data: what a layer holds, its geometry payload (decoded by the
independent geobuf package), its values, its years, and what is at a clicked place."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import geobuf
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from explorer.geo.geobuf import encode_geobuf, encode_geojson
from explorer.geo.prepare import to_crs
from explorer.maps.hit_test import MAX_HIT_VALUES, features_at
from explorer.maps.layer_geometry import geometry_payload
from explorer.maps.layer_info import NotMappable, layer_info, mappable
from explorer.maps.values import layer_table, round_sig, values_payload
from explorer.geo.joins import DatasetError


@pytest.fixture(scope="module")
def service(real_services):
    """The data service of the run's shared app on the real data folder (tests/conftest.py)."""
    return real_services.data


@pytest.fixture(scope="module")
def lsoa_payload(service):
    return geometry_payload(service, "laei-lsoa-2021", "no2-2019")


def decode(payload: bytes) -> dict:
    return geobuf.decode(payload)


# ------------------------------------------------------------------------------------------------
# The geobuf writer itself, on shapes whose coordinates we know
def test_geobuf_round_trips_every_geometry_type():
    square = shapely.Polygon([(0, 51), (0.5, 51), (0.5, 51.5), (0, 51.5), (0, 51)],
                             [[(0.1, 51.1), (0.2, 51.1), (0.2, 51.2), (0.1, 51.1)]])
    multi = shapely.MultiPolygon([square, shapely.box(-1.25, 50, -1, 50.25)])
    geoms = np.array([
        shapely.Point(-0.12345, 51.54321), square, multi,
        shapely.LineString([(0, 0), (0.00001, 0.00002), (-0.3, 0.7)]),
        shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3), (4, 5)]]),
    ], dtype=object)
    props = [{"_i": i, "_name": name, "_code": code} for i, (name, code) in
             enumerate([("a", "E09000001"), ("b", None), (None, None), ("Ünïcode", "x"), ("e", "y")])]
    fc = decode(encode_geobuf(geoms.copy(), props, ["_i", "_name", "_code"], 5))
    assert [f["properties"] for f in fc["features"]] == props
    assert [f["geometry"]["type"] for f in fc["features"]] == [
        "Point", "Polygon", "MultiPolygon", "LineString", "MultiLineString"]
    for feature, original in zip(fc["features"], geoms):
        back = shape(feature["geometry"])
        assert back.equals_exact(original, tolerance=1e-9), (back.wkt, original.wkt)
    # The JSON twin says the same.
    gj = json.loads(encode_geojson(geoms, props))
    assert [shape(f["geometry"]).equals_exact(g, 1e-9) for f, g in zip(gj["features"], geoms)] == [True] * 5


_NODE_DECODE = r"""
const fs = require('fs');
globalThis.self = globalThis; self.webpackChunkdash_leaflet = [];
const dir = process.argv[2];
require(dir + '/async-GeoJSON.js'); require(dir + '/async-geobuf.js');
const mods = Object.assign({}, ...self.webpackChunkdash_leaflet.map(c => c[1]));
function req(id) { const m = {exports: {}}; mods[id](m, m.exports, req); return m.exports; }
const ids = Object.keys(mods);
const decoderId = ids.find(i => { const s = mods[i].toString(); return s.includes('Math.pow(10,6)') && s.includes('FeatureCollection') && s.includes('readFields'); });
const pbfId = ids.find(i => { const s = mods[i].toString(); return s.includes('readVarint') && s.includes('Varint=0'); });
if (!decoderId || !pbfId) { console.log(JSON.stringify({error: 'decoder not found in dash-leaflet'})); process.exit(0); }
let Pbf = req(pbfId); Pbf = Pbf.default || Pbf;
const fc = req(decoderId)(new Pbf(fs.readFileSync(process.argv[3])));
console.log(JSON.stringify(fc));
"""


def test_dash_leaflets_own_decoder_reads_the_payload(service, tmp_path):
    """The geobuf decoder dash-leaflet ships (run with node) reads the same features as GeoJSON."""
    import dash_leaflet

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: dash-leaflet's JavaScript decoder cannot be run")
    for dataset in ("laei-borough", "london-tube-lines", "monitoring-site-annual-means"):
        pbf = tmp_path / f"{dataset}.pbf"
        pbf.write_bytes(geometry_payload(service, dataset))
        script = tmp_path / "decode.js"
        script.write_text(_NODE_DECODE, encoding="utf-8")
        run = subprocess.run([node, str(script), str(Path(dash_leaflet.__file__).parent), str(pbf)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        decoded = json.loads(run.stdout)
        assert "error" not in decoded, decoded
        expected = json.loads(geometry_payload(service, dataset, fmt="geojson"))
        assert len(decoded["features"]) == len(expected["features"]) > 0
        for got, want in zip(decoded["features"], expected["features"]):
            assert got["properties"] == want["properties"]
            assert shape(got["geometry"]).equals_exact(shape(want["geometry"]), tolerance=1e-9)


# ------------------------------------------------------------------------------------------------
def test_lsoa_layer_info(service):
    info = layer_info(service, "laei-lsoa-2021")
    assert info.resource_id == "no2-2019" and info.kind == "polygons"
    assert info.n_features == 4994
    assert "NO2-2019-mean" in info.variables and info.default_variable == "NO2-2019-mean"
    assert not any(v in info.variables for v in ("LSOA21CD", "area_code"))
    assert info.unit == "µg/m³" and info.pollutant == "NO2"
    assert info.time_steps == [] and info.series is None and info.error is None
    assert info.geography["boundary_set"] == "lsoa-2021" and info.geography["year"] == 2021
    minx, miny, maxx, maxy = info.bounds
    assert -0.52 < minx < -0.49 and 51.68 < maxy < 51.70
    assert info.cluster is False
    assert json.loads(json.dumps(info.to_dict()))["n_features"] == 4994


def test_lsoa_geometry_is_compact_and_carries_only_keys(service, lsoa_payload):
    size = len(gzip.compress(lsoa_payload, 9))
    print(f"\nLSOA 2021 geometry: geobuf {len(lsoa_payload) / 1e6:.3f} MB, gzipped {size / 1e6:.3f} MB")
    assert size <= 400_000
    fc = decode(lsoa_payload)
    features = fc["features"]
    assert len(features) == 4994
    assert [f["properties"]["_i"] for f in features] == list(range(4994))
    assert all(set(f["properties"]) == {"_i", "_name", "_code"} for f in features)
    # No attribute values travel with the geometry.
    assert b"NO2" not in lsoa_payload and b"42.85" not in lsoa_payload
    # Coordinates are on a 1e-5 degree grid.
    coords = np.array(shapely.get_coordinates(shape(features[100]["geometry"])))
    assert np.allclose(coords * 1e5, np.round(coords * 1e5), atol=1e-6)


def test_values_align_with_the_geometry(service, lsoa_payload):
    features = decode(lsoa_payload)["features"]
    values = values_payload(service, "laei-lsoa-2021", "no2-2019", "NO2-2019-mean")
    assert len(values) == 4994
    table = pd.read_csv(service.settings.data_dir / "air_quality/laei_zonal/lsoa21-2019-NO2.csv")
    by_code = dict(zip(table["LSOA21CD"], table["NO2-2019-mean"]))
    for feature in features[::97]:
        p = feature["properties"]
        assert values[p["_i"]] == pytest.approx(by_code[p["_code"]], rel=5e-4), p
    assert all(v is None or len(f"{v:.12g}".replace(".", "").replace("-", "").strip("0")) <= 4 for v in values)


def test_shared_borders_stay_shared(service, lsoa_payload):
    features = decode(lsoa_payload)["features"]
    geoms = np.array([shape(f["geometry"]) for f in features], dtype=object)
    assert shapely.is_valid(geoms).all()
    # The simplified LSOAs still tile London: no overlaps, and shared edges are identical.
    assert shapely.coverage_is_valid(geoms)
    # Two neighbours (City of London 001A and its neighbours) meet along a line, not a gap.
    loaded = service.load("laei-lsoa-2021")
    original = np.asarray(loaded.frame.geometry.values, dtype=object)
    first = original[0]
    neighbours = [i for i in shapely.STRtree(original).query(first, predicate="touches")
                  if shapely.length(shapely.intersection(first.boundary, original[i].boundary)) > 1e-3]
    assert neighbours
    projected = to_crs(geoms, 4326, 27700)
    for i in neighbours:
        common = shapely.intersection(projected[0], projected[i])
        assert common.area < 1.0                                   # m²: no overlap
        edge = shapely.intersection(projected[0].boundary, projected[i].boundary)
        assert edge.geom_type in ("LineString", "MultiLineString", "GeometryCollection")
        assert edge.length > 50                                    # metres of border still shared


def test_laei_borough_years_come_from_its_resources(service):
    info = layer_info(service, "laei-borough", "pm25-2019")
    assert [s.year for s in info.time_steps] == [2013, 2016, 2019]
    assert [s.resource_id for s in info.time_steps] == ["pm25-2013", "pm25-2016", "pm25-2019"]
    assert info.time_kind == "resources"
    no2 = layer_info(service, "laei-borough", "no2-2019")
    step_2013 = no2.time_steps[0]
    assert (step_2013.resource_id, step_2013.variable) == ("no2-2013", "NO2-2013-mean")
    # Values of 2013 placed on the 2019 layer's features, matched by borough code.
    values = values_payload(service, "laei-borough", "no2-2019", "NO2-2019-mean", step=step_2013)
    base = service.load("laei-borough", "no2-2019").frame
    raw = pd.read_csv(service.settings.data_dir / "air_quality/laei_zonal/lad21-2013-NO2.csv")
    by_code = dict(zip(raw["LAD22CD"], raw["NO2-2013-mean"]))
    assert [pytest.approx(by_code[c], rel=5e-4) for c in base["area_code"]] == values
    # The same statistic follows the year: max stays max.
    maxes = values_payload(service, "laei-borough", "no2-2019", "NO2-2019-max", step=step_2013.__dict__)
    assert maxes == [pytest.approx(v, rel=5e-4) for v in
                     pd.Series(dict(zip(raw["LAD22CD"], raw["NO2-2013-max"])))[base["area_code"]].tolist()]


def test_crime_years_are_columns(service):
    info = layer_info(service, "crime-lsoa", "burglary")
    assert [s.label for s in info.time_steps] == [str(y) for y in range(2011, 2022)]
    assert all(s.variable == s.label and s.resource_id == "burglary" for s in info.time_steps)
    assert info.default_variable == "2021" and info.unit == "crimes per year"
    step = info.time_steps[4]
    values = values_payload(service, "crime-lsoa", "burglary", None, step=step)
    frame = service.load("crime-lsoa", "burglary").frame
    assert values == [round_sig(v) for v in frame["2015"]]


def test_quarterly_columns_give_one_step_a_year(service):
    info = layer_info(service, "house-prices-borough")
    years = [s.year for s in info.time_steps]
    assert years == list(range(years[0], years[-1] + 1)) and years[0] == 1995
    assert info.time_steps[0].variable == "Year ending Dec 1995"
    assert all(s.variable.endswith(str(s.year)) for s in info.time_steps)


def test_missing_values_become_none(service):
    values = values_payload(service, "ward-profiles-2015", None, "Deliberate Fires per 1,000 population - 2014")
    frame = service.load("ward-profiles-2015").frame
    missing = frame["Deliberate Fires per 1,000 population - 2014"].isna().to_numpy()
    assert missing.sum() > 0
    assert [v is None for v in values] == missing.tolist()
    with pytest.raises(ValueError, match="no column 'nope'"):
        values_payload(service, "ward-profiles-2015", None, "nope")


def test_camden_trees_cluster(service):
    info = layer_info(service, "camden-trees")
    assert info.kind == "points" and info.n_features == 13449 and info.cluster is True
    assert set(info.variables) == {"h", "w"}


def test_osm_points_of_interest(service):
    info = layer_info(service, "osm-pois")
    assert info.kind == "points" and info.n_features == 52374 and info.cluster is True
    assert info.variables == [] and info.error is None


def test_points_without_codes_send_no_null_codes(service):
    # OSM ids are not area codes, so the 52k points carry no _code at all: not 52k nulls that the
    # browser's geobuf decoder would parse as JSON one by one.
    fc = decode(geometry_payload(service, "osm-pois"))
    props = [f["properties"] for f in fc["features"]]
    assert len(props) == 52374 and [p["_i"] for p in props[:3]] == [0, 1, 2]
    assert not any("_code" in p for p in props)
    assert props[0]["_name"] == "pub"


def test_monitoring_sites_are_one_point_per_site(service):
    info = layer_info(service, "monitoring-site-annual-means")
    series = info.series
    assert (series["key"], series["time"], series["category"], series["value"]) == ("site", "date", "pollutant", "mean")
    assert "no2" in series["categories"] and series["years"] == list(range(2013, 2020))
    assert [s.year for s in info.time_steps] == series["years"]
    frame = service.load("monitoring-site-annual-means").frame
    kept = frame[frame["duplicate"] != "Y"].assign(site=lambda f: f["site"].str.strip())
    assert info.n_features == kept["site"].nunique()
    step = next(s for s in info.time_steps if s.year == 2016)
    values = values_payload(service, "monitoring-site-annual-means", None, "mean", step=step,
                               filters={"pollutant": "no2"})
    assert len(values) == info.n_features
    expected = kept[(kept["pollutant"] == "no2") & (kept["date"] == 2016)].drop_duplicates("site")
    assert sum(v is not None for v in values) == len(expected)
    fc = decode(geometry_payload(service, "monitoring-site-annual-means", None))
    names = [f["properties"]["_name"] for f in fc["features"]]
    assert len(names) == len(set(names)) == info.n_features
    by_name = dict(zip(names, (values[f["properties"]["_i"]] for f in fc["features"])))
    marylebone = expected.set_index("site").loc["Westminster - Marylebone Road", "mean"]
    assert by_name["Westminster - Marylebone Road"] == pytest.approx(marylebone, rel=5e-4)
    pm25 = values_payload(service, "monitoring-site-annual-means", None, "mean", step=step,
                             filters={"pollutant": "pm25"})
    assert pm25 != values
    # A step may be named by its label (as the URL keeps it).
    assert values_payload(service, "monitoring-site-annual-means", None, "mean", step="2016",
                             filters={"pollutant": "no2"}) == values
    with pytest.raises(ValueError, match="no time step '1999'"):
        values_payload(service, "monitoring-site-annual-means", None, "mean", step="1999")
    hits = features_at(service, [("monitoring-site-annual-means", None, "mean", "2016", {"pollutant": "no2"})],
                          lon=-0.15463, lat=51.52254, radius_m=30)
    marylebone_hit = next(h for h in hits if h["name"] == "Westminster - Marylebone Road")
    assert marylebone_hit["value"] == pytest.approx(marylebone, rel=5e-4)
    assert any(k.startswith("no2 (") for k in marylebone_hit["values"])


def test_tables_that_cannot_be_mapped_say_why(service):
    crime = layer_info(service, "crime-ward", "csv")    # as published: one row per ward and category
    assert crime.error and "long format" in crime.error and crime.kind == "table"
    with pytest.raises(NotMappable, match="long format"):
        geometry_payload(service, "crime-ward", "csv")
    no_codes = layer_info(service, "ghg-domestic-borough", "london-by-year")
    assert "no geometry" in no_codes.error and "codes" in no_codes.error
    with pytest.raises(DatasetError):
        layer_info(service, "no-such-dataset")


def test_features_at_westminster(service):
    layers = [("london-boroughs", None, None), ("laei-lsoa-2021", None, "NO2-2019-mean"),
              ("crime-ward", "csv", None)]                              # unmappable: skipped
    hits = features_at(service, layers, lon=-0.1357, lat=51.4975)
    assert {h["dataset_id"] for h in hits} == {"london-boroughs", "laei-lsoa-2021"}
    borough = [h for h in hits if h["dataset_id"] == "london-boroughs"]
    lsoa = [h for h in hits if h["dataset_id"] == "laei-lsoa-2021"]
    assert len(borough) == 1 and borough[0]["name"] == "Westminster" and borough[0]["code"] == "E09000033"
    assert len(lsoa) == 1 and lsoa[0]["code"].startswith("E01") and lsoa[0]["name"].startswith("Westminster")
    values = values_payload(service, "laei-lsoa-2021", "no2-2019", "NO2-2019-mean")
    assert lsoa[0]["value"] == values[lsoa[0]["_i"]] and lsoa[0]["variable"] == "NO2-2019-mean"
    assert lsoa[0]["values"]["NO2-2019-mean"] == lsoa[0]["value"]
    assert len(lsoa[0]["values"]) <= MAX_HIT_VALUES
    # Points are found within the radius, nearest first.
    trees = features_at(service, [("camden-trees", None, "h")], lon=-0.1426, lat=51.5390, radius_m=60)
    assert trees and all(h["distance_m"] <= 60 for h in trees)
    assert [h["distance_m"] for h in trees] == sorted(h["distance_m"] for h in trees) or \
        any(h["value"] is None for h in trees)
    assert features_at(service, [("camden-trees", None, "h")], lon=-0.40, lat=51.40) == []


def test_layer_table_lists_features_highest_first(service):
    values = values_payload(service, "laei-borough", "no2-2019", "NO2-2019-mean")
    table = layer_table(service, "laei-borough", "no2-2019", values)
    assert len(table) == 33 and list(table.columns) == ["name", "code", "value"]
    assert table["value"].is_monotonic_decreasing
    assert table.iloc[0]["value"] == max(values)


def test_a_long_yearly_table_maps_one_year_at_a_time(service):
    """LEGGI has one row per borough and year: refused by the plain join (it would repeat
    boundaries), it maps as 33 boroughs with a year slider, each year's own values."""
    plain = service.load("leggi-co2-borough")
    assert plain.join_error and "long format" in plain.join_error
    info = layer_info(service, "leggi-co2-borough")
    assert info.error is None and info.kind == "polygons" and info.join == "long"
    assert info.n_features == 33
    assert [s.year for s in info.time_steps] == list(range(2010, 2018))
    first = values_payload(service, "leggi-co2-borough", None, "total_total", step=info.time_steps[0])
    last = values_payload(service, "leggi-co2-borough", None, "total_total", step=info.time_steps[-1])
    raw = plain.frame
    westminster = raw[(raw["gss"] == "E09000033")]
    hit = features_at(service, [("leggi-co2-borough", None, "total_total")], -0.1357, 51.4975)[0]
    assert hit["code"] == "E09000033"
    i = hit["_i"]
    assert first[i] == pytest.approx(float(westminster.loc[westminster["leggi_year"] == 2010, "total_total"].iloc[0]), rel=1e-3)
    assert last[i] == pytest.approx(float(westminster.loc[westminster["leggi_year"] == 2017, "total_total"].iloc[0]), rel=1e-3)
    assert sum(1 for v in last if v is not None) == 33
    loaded, _ = mappable(service, "leggi-co2-borough", None)
    assert any("long table kept" in t for t in loaded.provenance.transformations)


def test_rounding_every_value_at_once_is_rounding_each():
    """values._round_all rounds each distinct number once; the answer is round_sig of each value,
    type included (a whole number is an int: JSON ``12``, not ``12.0``)."""
    from explorer.maps.values import _round_all

    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(3, 1, 3000), rng.poisson(4, 3000).astype(float),
                             rng.normal(0, 1e-7, 500), rng.normal(0, 1e20, 500),
                             [np.nan, np.inf, -np.inf, 0.0, -0.0, 12.0, 2.0 ** 60, -123456.0, 5e-324]])
    rng.shuffle(values)
    expected = [round_sig(v) for v in values]
    for array in (values, values.astype(np.float32)):
        wanted = expected if array is values else [round_sig(v) for v in array]
        got = _round_all(array)
        assert got == wanted and [type(v) for v in got] == [type(v) for v in wanted]
    assert _round_all(np.array([])) == [] and _round_all([1, None, "x", "2.5"]) == [1, None, None, 2.5]
