"""Map state in the URL: layers, styling, view and basemap survive a copied link."""

from __future__ import annotations

import pytest

from explorer.maps.layers import (DEFAULT_VIEW, MAX_LAYERS, LayerParamError, LayerSpec, MapState,
                             default_layers, parse_layer, parse_state)

KNOWN = {"laei-lsoa-2021", "london-boroughs", "crime-lsoa", "house-prices-borough"}


def known(dataset_id):
    return dataset_id in KNOWN


def test_round_trip_keeps_every_setting():
    layers = [
        LayerSpec("laei-lsoa-2021", "pm25-2019", "PM25-2019-mean", "jenks", 7, "viridis", 55, False),
        LayerSpec("house-prices-borough", None, "Year ending Dec 2017, with, commas: and colons", hidden=True,
                  step="2017", filter={"pollutant": "no2"}),
        LayerSpec("london-boroughs"),
    ]
    state = MapState(layers=layers, basemap="none", view=(51.5, -0.12, 12))
    again = parse_state(state.to_search(), known)
    assert again.notices == []
    assert again.basemap == "none" and again.view == (51.5, -0.12, 12)
    for a, b in zip(layers, again.layers):
        assert (a.dataset, a.resource, a.variable, a.method, a.classes, a.palette, a.opacity, a.hidden,
                a.step, a.filter) == (b.dataset, b.resource, b.variable, b.method, b.classes, b.palette,
                                      b.opacity, b.hidden, b.step, b.filter)


def test_no_layer_parameter_gives_the_default_layers():
    state = parse_state("", known)
    assert [l.dataset for l in state.layers] == [l.dataset for l in default_layers()]
    assert state.view == DEFAULT_VIEW


def test_unknown_datasets_and_bad_values_become_notices():
    state = parse_state("?layer=nope&layer=laei-lsoa-2021,k:42&layer=london-boroughs,zz:1"
                        "&layer=crime-lsoa&basemap=satellite&view=999,0,3", known)
    assert [l.dataset for l in state.layers] == ["crime-lsoa"]
    text = " ".join(state.notices)
    assert "nope" in text and "classes must be 2–9" in text and "zz:1" in text
    assert "satellite" in text and "view" in text
    assert state.basemap == "light" and state.view == DEFAULT_VIEW


def test_too_many_layers_are_cut_with_a_notice():
    # distinct layers (exact repeats of a query pair are read once: explorer/guards/request_limits.py)
    search = "?" + "&".join(f"layer=london-boroughs,o:{i}" for i in range(MAX_LAYERS + 2))
    state = parse_state(search, known)
    assert len(state.layers) == MAX_LAYERS
    assert any("first" in n for n in state.notices)


@pytest.mark.parametrize("text", ["", "../etc", "a b", "laei:../../x", "x,o:200", "x,o:half"])
def test_parse_layer_refuses(text):
    with pytest.raises(LayerParamError):
        parse_layer(text)
