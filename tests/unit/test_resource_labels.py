"""A resource's ``labels`` option (catalogue: {column: human label}) heads the dataset page's
preview table and the map legend (explorer/labels/variables.py ``resource_labels``), with the
column's name in the file still shown under it."""

from __future__ import annotations

import json

from callbacks._preview import build_preview
from explorer.geo.joins import DataService
from explorer.labels.variables import resource_labels, variable_label
from explorer.catalogue.models import Resource
from explorer.services import Services, open_registry
from explorer.settings import Settings


def _headings(children) -> list[list[str]]:
    """The text of each <th> of the preview table, as its parts."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Th":
                kids = node["props"].get("children")
                kids = kids if isinstance(kids, list) else [kids]
                found.append([k if isinstance(k, str) else k["props"]["children"] for k in kids])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(json.dumps(children, default=lambda c: c.to_plotly_json())))
    return found


def test_the_dataset_page_heads_columns_with_the_catalogues_labels(tmp_path, data_dir):
    settings = Settings(home=tmp_path / "home", data_dir=data_dir, cache_url="null", offline=True)
    registry = open_registry(settings)
    entry = registry.get("rough-sleeping-la")
    labels = resource_labels(entry.resource("table-1"))
    assert labels["Local authority / Region (2)"] == "Region"      # the bundled catalogue gives them
    services = Services(settings, registry, DataService(settings, registry), None)
    children, _, _ = build_preview(services, "rough-sleeping-la", "table-1", "m")
    headings = _headings(children)
    assert ["Region", "Local authority / Region (2)"] in headings   # label, the file's name under it
    assert ["Area code (ONS)", "ONS code"] in headings
    assert ["2010"] in headings                                     # no label: the column's name
    assert "Local authority / Region (2)" not in [h[0] for h in headings]


def test_the_map_explorer_offers_variables_by_the_catalogues_labels(tmp_path, data_dir):
    from explorer.maps.layer_info import layer_info
    from explorer.maps.layers import LayerSpec
    from layouts.map_explorer import layer_card, layer_meta

    settings = Settings(home=tmp_path / "home", data_dir=data_dir, cache_url="null", offline=True)
    registry = open_registry(settings)
    info = layer_info(DataService(settings, registry), "rough-sleeping-la", "table-1")
    rate = "2017 rough sleeping rate (per 1,000 households)"
    assert rate in info.variables and info.labels[rate] == "Rate per 1,000 households, 2017"
    spec = LayerSpec(dataset="rough-sleeping-la", resource="table-1", uid="l1")
    assert layer_meta(spec, info)["labels"][rate] == "Rate per 1,000 households, 2017"   # for the legend
    card = json.dumps(layer_card(spec, info, registry.get("rough-sleeping-la"), 0, 1, []).to_plotly_json(),
                      default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    assert '{"label": "Rate per 1,000 households, 2017", "value": "2017 rough sleeping rate' in card


def test_labels_from_a_stranger_are_plain_short_text_or_left_out():
    resource = Resource(id="r", options={"labels": {"a": "  Rate\n per 1,000 ", "b": 3, "c": ["x"], "d": "",
                                                    "e": "<b>bold</b>", "f": "x" * 500}})
    labels = resource_labels(resource)
    assert labels == {"a": "Rate per 1,000", "e": "<b>bold</b>", "f": "x" * 200}
    assert resource_labels(Resource(id="r", options={"labels": "not a mapping"})) == {}
    assert variable_label("a", labels) == "Rate per 1,000" and variable_label("NO2-2019-mean", labels) == "NO₂ annual mean, 2019"
