"""The TopoJSON decoder (explorer/data/loaders/_topojson.py) against GDAL's TopoJSON driver.

Issue 14 asked whether GDAL could read TopoJSON instead of our decoder. On the real files in the
data folder it gives the same frames (checked below, in a separate process: the explorer locks GDAL
down to the drivers it uses, and TopoJSON is not one). It is not kept because of what it does with
files that are not clean, each checked here against our decoder:

- a member with a null geometry (the TopoJSON spec allows it) is dropped without a word, where the
  loader says "dropped 1 row with missing or empty geometry";
- an arc index past the end gives an empty shape, without a word;
- a broken ``transform`` is ignored, so the quantised integers are read as coordinates;
- an object that is not a GeometryCollection is not a layer of its own name (all of them share one
  layer called "TopoJSON"), so ``layer=<object>`` cannot pick it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import shapely

from explorer.data.loaders import LoadError, load_file
from explorer.data.loaders._topojson import decode_topology

REAL_FILES = ["boundaries/gla_ldn-viz-tools/boroughs-simplified-topo.json",
              "vega-datasets/londonBoroughs.json", "vega-datasets/londonTubeLines.json"]

_GDAL_READER = """
import json, sys
import pyogrio
out = {}
for path, layer in json.loads(sys.argv[1]):
    frame = pyogrio.read_dataframe(path, layer=layer)
    out[path] = {"columns": [c for c in frame.columns if c != "geometry"],
                 "rows": frame.drop(columns="geometry").to_dict("records"),
                 "wkb": [None if g is None else g.wkb_hex for g in frame.geometry]}
print(json.dumps(out, default=lambda v: v.item()))   # numpy scalars; floats exactly (repr)
"""


def _gdal_frames(jobs: list[tuple[str, str]]) -> dict:
    """What GDAL's TopoJSON driver reads, in a Python without the explorer's GDAL lock-down."""
    done = subprocess.run([sys.executable, "-c", _GDAL_READER, json.dumps(jobs)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_the_decoder_gives_gdals_frames_on_the_real_topojson_files(data_dir):
    ours = {}
    for rel in REAL_FILES:
        path = str(data_dir / rel)
        frame, chosen, _ = decode_topology(json.loads((data_dir / rel).read_text()), rel)
        ours[path] = (frame, chosen)
    gdal = _gdal_frames([(path, chosen) for path, (_, chosen) in ours.items()])
    for path, (frame, _) in ours.items():
        theirs = gdal[path]
        assert list(frame.columns.drop("geometry")) == theirs["columns"], path
        assert len(frame) == len(theirs["rows"]) > 0, path
        for i, (row, geometry) in enumerate(zip(theirs["rows"], theirs["wkb"])):
            mine = frame.iloc[i]
            # GDAL reads every TopoJSON id as text; the properties are the same values
            assert {k: (str(v) if k == "id" else v) for k, v in mine.drop("geometry").items()} == \
                   {k: (str(v) if k == "id" else v) for k, v in row.items()}, (path, i)
            assert mine.geometry.equals_exact(shapely.from_wkb(geometry), 1e-9), (path, i)


def _write(tmp_path, topology: dict, name: str = "t.topojson"):
    path = tmp_path / name
    path.write_text(json.dumps(topology))
    return path


LINE = {"type": "Topology", "arcs": [[[0, 51], [0.1, 51.1]]], "objects": {"things": {
    "type": "GeometryCollection", "geometries": [
        {"type": "LineString", "arcs": [0], "properties": {"name": "a line", "value": 1.5}},
        {"type": None, "properties": {"name": "no shape", "value": 2.5}}]}}}


def test_a_member_without_geometry_is_counted_where_gdal_drops_it_unsaid(tmp_path):
    path = _write(tmp_path, LINE)
    frame, _, _ = decode_topology(LINE, "t.topojson")
    assert list(frame["name"]) == ["a line", "no shape"] and list(frame["value"]) == [1.5, 2.5]
    loaded = load_file(path)
    assert "decoded TopoJSON object 'things': 2 geometries" in loaded.transformations
    assert "dropped 1 row with missing or empty geometry" in loaded.transformations
    gdal = _gdal_frames([(str(path), "things")])[str(path)]
    assert [row["name"] for row in gdal["rows"]] == ["a line"]      # the other row gone, unsaid


def test_broken_arcs_and_transforms_are_refused_where_gdal_reads_on(tmp_path):
    bad_arc = json.loads(json.dumps(LINE))
    bad_arc["objects"]["things"]["geometries"][0]["arcs"] = [7]
    bad_transform = {**LINE, "transform": {"scale": "x", "translate": [0, 0]}}
    paths = [_write(tmp_path, bad_arc, "arc.topojson"), _write(tmp_path, bad_transform, "tr.topojson")]
    with pytest.raises(LoadError, match=r"arc\.topojson.*arc 7, but the topology has 1 arcs"):
        load_file(paths[0])
    with pytest.raises(LoadError, match=r"tr\.topojson.*'transform' needs 'scale' and 'translate'"):
        load_file(paths[1])
    gdal = _gdal_frames([(str(p), "things") for p in paths])
    assert shapely.from_wkb(gdal[str(paths[0])]["wkb"][0]).is_empty           # an empty shape
    assert shapely.from_wkb(gdal[str(paths[1])]["wkb"][0]).coords[0] == (0, 51)  # read unscaled


def test_an_object_is_a_layer_of_its_own_name_where_gdal_lumps_them(tmp_path):
    topology = {**LINE, "objects": {**LINE["objects"], "route": {"type": "LineString", "arcs": [0]}}}
    path = _write(tmp_path, topology)
    assert load_file(path, options={"layer": "route"}).kind == "lines"
    listed = subprocess.run([sys.executable, "-c", "import sys, pyogrio; "
                             "print(' '.join(pyogrio.list_layers(sys.argv[1])[:, 0]))", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert listed.stdout.split() == ["things", "TopoJSON"]          # no layer called 'route'
