"""Map previews: the dataset drawn over London's borough outlines, no tiles needed.

Geometry comes by URL from /geo/<id>.geojson (compact, cached, compressed); colours come from the
JavaScript style functions in assets/map_styles.js, parameterised by `hideout`.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import dash_leaflet as dl
from dash import html

from explorer.labels.variables import variable_label

LONDON_CENTRE = [51.4893, -0.1441]
NO_DATA = "#d9d9d9"


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


def geometry_url(dataset_id: str, resource_id: str | None = None, variable: str | None = None) -> str:
    params = {k: v for k, v in (("resource", resource_id), ("variable", variable)) if v}
    return f"/geo/{dataset_id}.geojson" + ("?" + urlencode(params) if params else "")


def hideout(style: dict) -> dict:
    """A layer's style (``explorer.maps.classify.layer_style``, the map explorer's own: its palette
    family, classes and no-data colour) as the preview map's ``hideout`` (assets/map_styles.js)."""
    mode = style.get("mode")
    out = {"mode": mode, "nodata": style.get("nodata", NO_DATA), "opacity": 0.8, "breaks": [], "colours": []}
    if mode == "classes":
        out.update(breaks=list(style["breaks"]), colours=list(style["colours"]))
    elif mode == "single":
        out.update(colours=[style["colour"]], colour=style["colour"], point=style["colour"])
    else:
        out.update(line=style.get("line"))
    return out


def legend(style: dict, variable: str | None, unit: str | None = None, kind: str = "polygons",
           column_labels: dict | None = None) -> html.Div:
    """The preview map's legend, drawn as the map explorer draws a layer's (same classes, labels
    and colours), titled by the variable's human label."""
    from .map_explorer import legend as layer_legend

    title = variable_label(variable, column_labels) if variable else None
    return html.Div(className="legend", children=layer_legend(style, unit if variable else None, title, kind))


def map_preview(map_id: str, dataset_id: str, resource_id: str | None, kind: str,
                variable: str | None, hide: dict, bounds: list[float] | None, rows: int,
                height: str = "420px") -> html.Div:
    from explorer.maps.layer_info import CANVAS_THRESHOLD

    from .map_explorer import REGION_PANE

    # a big polygon layer is painted on a canvas under the SVG panes (assets/map_styles.js): the
    # borough outlines go in a pane below it, as they were under its paths
    canvas = kind in ("polygons", "lines") and rows > CANVAS_THRESHOLD
    layers = [
        dl.Pane(name=REGION_PANE, style={"zIndex": 350}),
        dl.GeoJSON(url=geometry_url("london-boroughs"), id=f"{map_id}-context",
                   style={"variable": "explorer.map.outline"}, interactive=False,
                   pane=REGION_PANE if canvas else "overlayPane"),
        dl.GeoJSON(url=geometry_url(dataset_id, resource_id, variable), id=f"{map_id}-layer",
                   hideout={**hide, "canvas": canvas},
                   style={"variable": "explorer.map.choropleth"},
                   pointToLayer={"variable": "explorer.map.point"},
                   onEachFeature={"variable": "explorer.map.tooltip"},
                   cluster=kind == "points" and rows > 3000,
                   superClusterOptions={"radius": 60, "maxZoom": 15},
                   zoomToBoundsOnClick=True),
        dl.ScaleControl(position="bottomleft", imperial=False),
    ]
    # Leaflet's `bounds` prop throws when set before the map has a size, so the view is computed
    # here from the data's bounds instead.
    frame_px = int(height.removesuffix("px")) if height.endswith("px") else 420
    view = view_for_bounds(bounds, height_px=frame_px) if bounds else {"center": LONDON_CENTRE, "zoom": 9}
    return html.Div(className="map-frame", children=dl.Map(
        id=map_id, children=layers, style={"height": height}, className="map",
        attributionControl=True, **view))
