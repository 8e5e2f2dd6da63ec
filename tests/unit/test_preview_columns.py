"""The dataset page's preview table shows each code and name column once, with human labels
(explorer/labels/columns.py, layouts/dataset.py)."""

from __future__ import annotations

import pandas as pd

from callbacks._preview import build_preview
from explorer.labels.columns import distinct_columns
from explorer.labels.variables import variable_label

from .test_preview_palette import services  # noqa: F401 - the module's app services
from .test_resource_labels import _headings


def test_a_joined_table_shows_its_code_and_name_once(services):  # noqa: F811
    loaded = services.data.load("imd-2019")
    # the loaded frame carries the LSOA code three times: the join's, the boundary file's, the file's
    codes = [c for c in loaded.frame.columns if c in ("area_code", "LSOA11CD", "LSOA code (2011)")]
    assert len(codes) == 3
    children, _, _ = build_preview(services, "imd-2019", None, "m")
    first = [h[0] for h in _headings(children)]
    assert sum("code" in h.lower() and "lsoa" in h.lower() for h in first) == 1
    assert sum("name" in h.lower() and "lsoa" in h.lower() for h in first) == 1
    assert "area_code" not in first and "LSOA11CD" not in first and "Area code" not in first
    assert "LSOA code (2011)" in first            # the file's own column, under the name it has there


def test_boundary_columns_read_as_words(services):  # noqa: F811
    children, _, _ = build_preview(services, "laei-lsoa-2021", "no2-2019", "m")
    first = [h[0] for h in _headings(children)]
    assert first[:2] == ["Area code", "Area name"]
    assert not {"LSOA21CD", "LSOA21NM", "area_code", "area_name"} & set(first)
    assert ["NO₂ annual mean, 2019", "NO2-2019-mean"] in _headings(children)    # label, the file's name
    assert variable_label("LSOA11CD") == "LSOA code (2011)" and variable_label("LAD22NM") == "Local authority name (2022)"


def test_only_text_columns_with_the_same_values_are_folded():
    frame = pd.DataFrame({"area_code": ["E01", "E02", "E03"], "code": ["e01 ", "E02", "E03"],
                          "a": [0, 0, 0], "b": [0, 0, 0], "other": ["E01", "E02", "X"]})
    assert distinct_columns(frame) == ["code", "a", "b", "other"]         # the file's own code kept
    assert distinct_columns(frame, preferred={"area_code"}) == ["area_code", "a", "b", "other"]
