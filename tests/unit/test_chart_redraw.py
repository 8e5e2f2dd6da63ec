"""The chart builder's redraw path sends what is drawn, and only that, cheaply.

What a person sees must not change when the figure is built the cheap way: the reference lines are
the shapes and labels plotly's ``add_hline``/``add_vline`` make, one colour for every bar is one
value, whole numbers are the same numbers, and a change of choice does not send the lists of
choices it does not alter. Real data from ``../shared/data``.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import no_update
from plotly.io.json import to_json_plotly

from callbacks import chart_builder as ccb
from explorer.themes import chart_builder as cb
from explorer.themes import charts
from explorer.themes import design
from explorer.geo.joins import DataService
from explorer.services import open_registry
from explorer.settings import Settings


@pytest.fixture(scope="module")
def services(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("redraw-home"), data_dir=data_dir, cache_url="null",
                        offline=True)
    return SimpleNamespace(data=DataService(settings, open_registry(settings), memory_items=64), settings=settings)


def controls(**chosen) -> dict:
    values = {k: None for k in ccb.CONTROLS}
    values.update({"cb-areas": [], "cb-filter-values": []})
    values.update({f"cb-{k.replace('_', '-')}": v for k, v in chosen.items()})
    return values


# ------------------------------------------------------------------------------ the drawing helpers
def test_text_arrays_hold_the_same_texts_and_null_for_a_missing_one():
    full = pd.Series(["E09000001", "E09000002"])
    assert charts._text_array(full).tolist() == ["E09000001", "E09000002"]
    assert charts._text_array(full).dtype.kind == "U"          # copied without visiting each text
    gap = pd.Series(["E09000001", None, "E09000003"], dtype="object")
    assert charts._text_array(gap).tolist() == ["E09000001", None, "E09000003"]
    assert json.loads(to_json_plotly(charts._text_array(gap))) == ["E09000001", None, "E09000003"]
    assert charts._code_array(pd.DataFrame({"x": [1, 2]})).tolist() == [None, None]


def test_whole_numbers_are_sent_as_integers_and_other_numbers_untouched():
    ranks = pd.Series(np.arange(1, 3001, dtype=float))
    whole = charts._whole(ranks)
    assert whole.dtype.kind == "i" and (whole == ranks.to_numpy()).all()
    assert to_json_plotly(whole).startswith("[1,2,3,")
    fractions = ranks + 0.5
    assert charts._whole(fractions) is fractions
    with_gap = ranks.copy()
    with_gap.iloc[5] = np.nan
    assert charts._whole(with_gap) is with_gap                # a missing value stays missing
    few = pd.Series([1.0, 2.0])
    assert charts._whole(few) is few                          # a small chart is left as it is


def test_one_value_for_all_bars_only_when_they_are_all_the_same():
    assert charts._each(["#007acc"] * 4) == "#007acc"
    assert charts._each(["#007acc", "#ff0000"]) == ["#007acc", "#ff0000"]
    assert charts._each([]) == []


@pytest.mark.parametrize("axis", ["x", "y"])
def test_reference_lines_are_what_plotly_draws_for_one_plot(axis):
    spec = SimpleNamespace(reference_lines=[{"value": 12.5, "label": "London", "unit": "%"}], unit="%")
    ours = go.Figure(go.Bar(x=[1, 2], y=["a", "b"]))
    charts._reference_lines(ours, spec, axis=axis)
    theirs = go.Figure(go.Bar(x=[1, 2], y=["a", "b"]))
    line = dict(color=design.REFERENCE, width=1.5, dash="dash")
    font = dict(color=design.REFERENCE, size=12)
    if axis == "y":
        theirs.add_hline(y=12.5, line=line, annotation=dict(text="London 12.5 %", font=font,
                                                             bgcolor="rgba(255,255,255,0.85)"),
                         annotation_position="top left")
    else:
        theirs.add_vline(x=12.5, line=line)
    assert ours.layout.shapes == theirs.layout.shapes
    if axis == "y":
        assert ours.layout.annotations == theirs.layout.annotations
    else:
        assert [a.text for a in ours.layout.annotations] == ["London 12.5 %"]


# ------------------------------------------------------------------------------ the callback's work
def test_the_table_is_described_once_and_its_checks_kept(services):
    first = cb.describe(services.data, "imd-2019", "file-2")
    assert cb.describe(services.data, "imd-2019", "file-2") is first     # kept on the data service
    assert cb.chartable(first) is None and first.__dict__["_chartable"] is None


def test_a_change_sends_only_the_lists_of_choices_it_alters(services):
    frame = cb.describe(services.data, "imd-2019", "file-2").frame
    score = next(c for c in frame.columns if c.startswith("Income Rank"))
    other = next(c for c in frame.columns if c.startswith("Employment Rank"))
    lad = frame.columns[3]
    bar = controls(type="bar", y=score, x="~area", rank="top", n=20, sort="desc", agg="mean")
    out = ccb.compute(services, "imd-2019", "file-2", "", bar, [], "cb-y")
    assert out["options"] and all(v is no_update for v in out["options"].values())
    scatter = ccb.compute(services, "imd-2019", "file-2", "", dict(bar, **{"cb-type": "scatter", "cb-x": other}),
                          [], "cb-type")
    sent = {k for k, v in scatter["options"].items() if v is not no_update}
    assert sent == {"cb-x"}                                    # the x axis of a scatter is a measure
    assert {o["value"] for o in scatter["options"]["cb-x"]} >= {score, other}
    assert "~area" not in {o["value"] for o in scatter["options"]["cb-x"]}
    picked = ccb.compute(services, "imd-2019", "file-2", "", dict(bar, **{"cb-filter-col": lad}), [],
                         "cb-filter-col")
    sent = {k for k, v in picked["options"].items() if v is not no_update}
    assert sent == {"cb-filter-values"} and {"Lewisham", "Southwark"} <= {
        o["value"] for o in picked["options"]["cb-filter-values"]}
    first = ccb.compute(services, "imd-2019", "file-2", "", bar, [], None)   # the page opened: all lists
    assert all(v is not no_update for v in first["options"].values())


def test_a_scatter_of_every_lsoa_is_drawn_the_same_with_fewer_bytes(services):
    frame = cb.describe(services.data, "imd-2019", "file-2").frame
    score = next(c for c in frame.columns if c.startswith("Income Rank"))
    other = next(c for c in frame.columns if c.startswith("Employment Rank"))
    values = controls(type="scatter", y=score, x=other, sort="desc", agg="mean")
    out = ccb.compute(services, "imd-2019", "file-2", "", values, [], "cb-type")
    result = out["built"].result
    [points] = [t for t in result.figure.data if t.mode == "markers"]
    assert len(points.x) > 30000                              # every LSOA, not a sample
    # each point's name for its hover; no area codes: the builder has no click action (a theme
    # page's scatter keeps them: test_charts)
    assert points.hovertext[0].strip() and points.customdata is None
    figure = ccb.chart_outputs(services, out["built"])["figure"]
    [sent] = [t for t in figure["data"] if t.get("mode") == "markers"]
    assert sent["type"] == "scatter" and "customdata" not in sent
    body = json.loads(to_json_plotly(sent))
    assert body["x"][:3] == [int(v) for v in points.x[:3]] and all(isinstance(v, int) for v in body["x"][:100])
    assert body["hovertext"][:3] == list(points.hovertext[:3])
    assert len(to_json_plotly(figure)) < 1_200_000                    # was 1.7 MB
