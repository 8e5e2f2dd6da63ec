"""The dataset page says a join's warnings in plain words, the join report's text one click away
(explorer/labels/join.py, layouts/dataset.join_notice)."""

from __future__ import annotations

import json

from callbacks._preview import build_preview
from layouts.dataset import join_notice
from explorer.labels.join import plain_join_warnings

from .test_preview_palette import services  # noqa: F401 - the module's app services


def _text(component) -> str:
    return json.dumps(component, default=lambda c: c.to_plotly_json(), ensure_ascii=False)


def test_a_join_that_missed_rows_is_said_in_plain_words(services):  # noqa: F811
    loaded = services.data.load("ward-pollution")
    geo = loaded.summary()["geography"]
    assert geo["rows_unmatched"] == 141 and geo["rows_matched"] == 484       # the file's wards of 2014
    plain = plain_join_warnings(geo)
    assert plain[0] == ("23 % of rows could not be placed on the map: their area codes are from another "
                        "boundary year (the map uses the 2018 wards).")
    assert plain[1] == "149 of the 633 wards on the map have no figure and are shown in grey."
    for sentence in plain:                       # no codes, column names or set ids
        assert "E05" not in sentence and "New_Code" not in sentence and "ward-2018" not in sentence
    children, _, _ = build_preview(services, "ward-pollution", None, "m")
    page = _text(children)
    assert plain[0] in page
    # the technical text is still there, folded in a <details> after the plain words
    detail = json.loads(_text(join_notice(geo)))["props"]["children"][-1]
    assert detail["type"] == "Details" and detail["props"]["children"][0]["props"]["children"] == "Technical detail"
    assert "only 77.4% of the 625 ward codes in 'New_Code'" in _text(detail)


def test_no_warning_no_notice():
    assert join_notice({"warnings": []}) is None and plain_join_warnings(None) == []
