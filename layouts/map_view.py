"""The dataset page's preview map: the file's layer as the map explorer draws it (geometry once by
URL as geobuf, a big layer painted on our canvas, style and values by ``hideout``: the contract of
explorer/maps/hideout.py), over London's borough outlines, framed to the data; no tiles needed.
"""

from __future__ import annotations

import math

import dash_leaflet as dl
from dash import html

from explorer.maps.layers import DEFAULT_VIEW

from .map_explorer import REGION_PANE, drawn_layer, first_hideout

LONDON_CENTRE = list(DEFAULT_VIEW[:2])   # the map explorer's; a frame this small opens a step out
BOROUGH_OUTLINES = "/geo/london-boroughs.geojson"


def view_for_bounds(bounds: list[float], width_px: int = 640, height_px: int = 400,
                    max_zoom: int = 16) -> dict:
    """Centre and the largest whole zoom at which [minx, miny, maxx, maxy] fits the frame."""
    minx, miny, maxx, maxy = bounds

    def merc_y(lat: float) -> float:
        s = math.sin(math.radians(max(min(lat, 85.0), -85.0)))
        return 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)

    lon_span = max(maxx - minx, 1e-6) / 360.0
    lat_span = max(abs(merc_y(miny) - merc_y(maxy)), 1e-9)
    zoom = min(math.log2(width_px / 256 / lon_span), math.log2(height_px / 256 / lat_span), max_zoom)
    centre_lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (merc_y(miny) + merc_y(maxy)) / 2))))
    return {"center": [centre_lat, (minx + maxx) / 2], "zoom": max(0, math.floor(zoom))}


def legend(look) -> html.Div:
    """The layer's legend as the map explorer's layer card shows it (``first_look``'s third part)."""
    return html.Div(className="legend", children=(look or (None, None, []))[2])


def map_preview(map_id: str, spec, info, look, bounds: list[float] | None, height: str = "420px") -> html.Div:
    """The preview map of one layer: ``spec`` and ``info`` as the map explorer prepares them,
    ``look`` its first look ((values store, style, legend), ``callbacks.map_explorer.first_look``).
    The layer's ids are ``<map_id>-canvas`` (the group of a canvas layer) and ``<map_id>-geo``."""
    # a layer on our canvas sits in a pane above the outlines' (assets/canvas_layer.js); SVG paths
    # go in the overlay pane, over the outlines drawn before them
    layers = [
        dl.Pane(name=REGION_PANE, style={"zIndex": 350}),
        dl.GeoJSON(url=BOROUGH_OUTLINES, id=f"{map_id}-context", style={"variable": "explorer.map.outline"},
                   interactive=False, pane=REGION_PANE if info.canvas else "overlayPane"),
        drawn_layer(f"{map_id}-canvas", f"{map_id}-geo", spec, info, first_hideout(spec, info, look)),
        dl.ScaleControl(position="bottomleft", imperial=False),
    ]
    # Leaflet's `bounds` prop throws when set before the map has a size, so the view is computed
    # here from the data's bounds instead.
    frame_px = int(height.removesuffix("px")) if height.endswith("px") else 420
    view = view_for_bounds(bounds, height_px=frame_px) if bounds else {"center": LONDON_CENTRE, "zoom": 9}
    return html.Div(className="map-frame", children=dl.Map(
        id=map_id, children=layers, style={"height": height}, className="map",
        attributionControl=True, **view))
