"""The dataset page's preview map is the map explorer's layer (callbacks/_preview.py): the same
layer info, values, palette family, classes and legend labels (``first_look``), drawn by the same
component, so a dataset looks the same on its page as when it is added to the map (no second,
blue-only pipeline, no hideout or legend of its own)."""

from __future__ import annotations

import json

import pytest

from callbacks._preview import build_preview
from explorer.geo.joins import DataService
from explorer.maps.layers import LayerSpec
from explorer.maps.palettes import palette_colours
from explorer.services import Services, open_registry
from explorer.settings import Settings


@pytest.fixture(scope="module")
def services(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("preview-palette"), data_dir=data_dir, cache_url="null",
                        offline=True)
    registry = open_registry(settings)
    return Services(settings, registry, DataService(settings, registry, memory_items=8), None)


def _tree(children) -> str:
    return json.dumps(children, default=lambda c: c.to_plotly_json(), ensure_ascii=False)


def _hideout(children) -> dict:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "GeoJSON" and str(node["props"].get("id", "")).endswith("-geo"):
                found.append(node["props"]["hideout"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(_tree(children)))
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("dataset, resource, palette", [
    ("laei-lsoa-2021", "no2-2019", "warm"),          # air pollution: yellow → dark red
    ("green-space-by-borough", None, "greens"),      # green space: green
    ("crime-lsoa", None, "reds"),                    # crime: dark red top, never black
])
def test_the_preview_map_uses_the_map_explorers_palette_and_classes(services, dataset, resource, palette):
    from callbacks.map_explorer import first_look
    from explorer.maps.layer_look import choose_variable, layer_info_safe

    children, _, _ = build_preview(services, dataset, resource, "m")
    hide = _hideout(children)
    assert hide["mode"] == "classes" and len(hide["breaks"]) >= 2
    assert hide["colours"] == palette_colours(palette, len(hide["breaks"]) + 1)
    assert not set(hide["colours"]) & {"#deebf7", "#9ecae1", "#4a9fd4", "#007acc", "#00405c"}   # the old blues
    # the same layer added to the map explorer: same breaks, colours and legend labels
    loaded = services.data.load(dataset, resource)
    spec = LayerSpec(dataset=dataset, resource=loaded.resource.id, variable=choose_variable(loaded), uid="l1")
    info, error = layer_info_safe(services, spec)
    assert error is None
    _, style, _ = first_look(services, spec, info)
    assert hide["breaks"] == style["breaks"] and hide["colours"] == style["colours"]
    for label in style["labels"]:
        assert label in _tree(children)          # the legend reads the same classes
    # and the same values, by the map explorer's geometry (one value per feature, in its order)
    values, _, _ = first_look(services, spec, info)
    assert hide["values"] == values["values"] and len(hide["values"]) == info.n_features


def test_a_point_layer_is_previewed_in_the_points_colour(services):
    children, _, _ = build_preview(services, "osm-pois", None, "m")
    hide = _hideout(children)
    assert hide["mode"] == "single" and hide["colour"] == palette_colours("rdpu", 5)[3]
