"""An exported map image classes a layer with years as the live map does: breaks fixed across the
layer's years (explorer.maps.values.values_of_every_step, one function for both)."""

from __future__ import annotations

from callbacks.map_explorer import layer_look
from explorer.export.map_figure import build_map
from explorer.maps.layers import LayerSpec
from explorer.maps.layer_info import layer_info
from layouts.map_explorer import layer_meta


def test_exported_breaks_are_the_live_maps_in_every_year(real_services):
    info = layer_info(real_services.data, "crime-lsoa", None)
    labels = [s.label for s in info.time_steps]
    assert len(labels) >= 5
    first, last = labels[0], labels[-1]
    exported = {label: build_map(real_services.data, f"?layer=crime-lsoa,t:{label}", 1000, 900).layers[0].style
                for label in (first, last)}
    # one scale through the years: a colour means the same number in 2011 and in the last year
    assert exported[first]["breaks"] == exported[last]["breaks"]
    assert exported[first]["colours"] == exported[last]["colours"]
    # and the live map's (the layer card's look at those years) is the same scale
    spec = LayerSpec(dataset="crime-lsoa", resource=info.resource_id, uid="l1")
    meta = layer_meta(spec, info)
    variable = exported[last]["labels"] and info.default_variable
    for index in (0, len(labels) - 1):
        _, style, _ = layer_look(real_services, meta, variable, index, None, "quantile", 5, "auto")
        assert style["breaks"] == exported[first]["breaks"], (index, style["breaks"], exported[first]["breaks"])
    # a year's own no-data count, not the pool's
    one_year = build_map(real_services.data, f"?layer=crime-lsoa,t:{first}", 1000, 900).layers[0]
    assert one_year.style.get("no_data", 0) == sum(1 for v in one_year.values if v is None)
