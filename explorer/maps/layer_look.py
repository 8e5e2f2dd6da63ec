"""A map layer's description and style, as every map draws it: the map explorer, the theme pages'
maps and the dataset page's preview.

``layer_info_safe`` prepares a layer (its kind, variables, time steps, unit) or says in words why it
cannot be; ``style_for`` works out its classes, colours and legend labels from its values with the
one rule of :func:`explorer.maps.classify.layer_style`. Nothing here builds components: the legend
and the layer itself are drawn by ``layouts/map_explorer.py``.
"""

from __future__ import annotations

import logging

from explorer.geo.joins import DatasetError
from explorer.maps.layers import LayerSpec

log = logging.getLogger(__name__)


def layer_info_safe(services, spec: LayerSpec):
    """(info, error): a layer that cannot load gets its reason, the others go on."""
    from explorer.maps.layer_info import layer_info

    try:
        info = layer_info(services.data, spec.dataset, spec.resource)
    except DatasetError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - one broken layer must not break the map
        log.exception("layer %s failed", spec.dataset)
        return None, f"{spec.dataset} could not be prepared for the map ({type(exc).__name__})."
    return info, info.error


def style_for(services, meta: dict, variable, method, classes, palette, values) -> dict:
    """A layer's style (mode, breaks, colours, legend labels) from its values, for the layer ``meta``
    describes (its dataset, kind, unit and filter)."""
    from explorer.maps.classify import layer_style

    entry = services.registry.get(meta.get("dataset")) if meta.get("dataset") else None
    style, _ = layer_style(meta.get("kind"), variable, method, classes, palette, values,
                           pollutant=(meta.get("filter") or {}).get("pollutant") or meta.get("pollutant"),
                           unit=meta.get("unit"), themes=entry.themes if entry else ())
    return style
