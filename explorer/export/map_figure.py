"""The map view of a permalink as a plotly figure that needs no tiles.

Everything is drawn on British National Grid metres with equal axes: the London outline and the
Thames (our own ``london-region`` and ``thames`` datasets) as context, each visible layer's
polygons as one SVG path per class (even-odd fill, so holes stay holes), points and lines as
traces. For a PNG the polygon layers are instead drawn by :mod:`.raster_layers` into one image of
the plot area's pixels (Chromium takes seconds over thousands of paths; the picture is the same).
Classes and colours are computed as the map explorer computes them (same classifier, same
palettes, same values), the legend lists each layer's classes, and a scale bar, a north arrow, the
title and the source footer are drawn in the figure.

Basemap tiles (the permalink's ``basemap=``) are warped onto the grid and drawn under everything
when they can be fetched (:mod:`.basemap`); without them (offline, ``basemap=none``, a tile server
that fails) the outline, the river and the borough boundaries carry the geography a report needs,
and the footer says why there are no tiles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import plotly.graph_objects as go
import shapely

from explorer.themes import design
from explorer.labels.variables import period_label, variable_label
from explorer.export.basemap import basemap_layer, layout_image as basemap_image
from explorer.export.credits import add_footer, footer_lines
from explorer.labels.credits import Credit, credit_for
from explorer.export.raster_layers import RasterLayer, draw_layers, png_data_uri, polygon_rings
from explorer.data.geo_reference import BNG_EPSG as BNG

CONTEXT_REGION = "london-region"
CONTEXT_THAMES = "thames"
REGION_FILL = "#f4f5f6"
REGION_LINE = "#9aa5ad"
THAMES_FILL = "#a9cfe6"
LEGEND_WIDTH = 0.30          # share of the image width kept for the legend


@dataclass
class DrawnLayer:
    """One layer as drawn: what the legend, the footer and the data download need."""
    dataset_id: str
    resource_id: str
    title: str
    kind: str
    variable: str | None
    unit: str | None
    step: str | None
    filters: dict
    values: list | None
    style: dict
    credit: Credit
    loaded: object = None
    info: object = None
    notes: list[str] = field(default_factory=list)


@dataclass
class MapExport:
    figure: go.Figure
    layers: list[DrawnLayer]
    title: str
    permalink: str          # the full address of the view (kept in data zips' provenance)
    notices: list[str]
    height: int
    short_link: str | None = None   # <base>/l/<code>, printed in the footer


def boundary_notes(layers: list[DrawnLayer]) -> list[str]:
    """Footer lines for layers drawn on boundaries with a caveat (e.g. approximate 2022 wards)."""
    notes: list[str] = []
    for layer in layers:
        report = getattr(getattr(layer, "loaded", None), "geography", None)
        caveat = getattr(report, "boundary_caveat", None)
        if caveat and f"Boundaries: {caveat}" not in notes:
            notes.append(f"Boundaries: {caveat}")
    return notes


# ------------------------------------------------------------------------------------------ geometry
class LayerGeometry:
    """A layer's features in BNG metres (``geoms``; ``index`` = their rows in the values), with the
    shapes drawn from them made once and kept: every later export of the layer only joins or
    paints them."""

    def __init__(self, index: np.ndarray, geoms: np.ndarray):
        self.index = index
        self.geoms = geoms

    @cached_property
    def paths(self) -> list[str]:
        """One SVG path per feature (exterior and interior rings as subpaths)."""
        return [feature_path(g) for g in self.geoms]

    @cached_property
    def rings(self):
        """The polygon rings in the raster's painting order (:func:`.raster_layers.polygon_rings`)."""
        return polygon_rings(self.geoms)

    def path(self, members: np.ndarray | None = None) -> str:
        """One SVG path for all features, or for those where ``members`` is true."""
        paths = self.paths
        return "".join(paths if members is None else [paths[i] for i in np.flatnonzero(members)])


def layer_geometry(service, dataset_id: str, resource_id: str | None) -> LayerGeometry:
    """A layer's features in BNG metres, as the map draws them (kept in the app's memos)."""
    entry = service.entry(dataset_id)
    return service.memos.table("map_figure.geometry", 12).get(
        (dataset_id, resource_id, entry.content_hash()),
        lambda: _layer_geometry(service, dataset_id, resource_id))


def _layer_geometry(service, dataset_id: str, resource_id: str) -> LayerGeometry:
    from explorer.maps.layer_geometry import geometry_payload

    doc = json.loads(geometry_payload(service, dataset_id, resource_id, "geojson"))
    features = doc.get("features") or []
    index = np.array([int(f["properties"]["_i"]) for f in features], dtype=int)
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in features]) if features \
        else np.empty(0, dtype=object)
    if len(geoms):
        import geopandas as gpd

        geoms = np.asarray(gpd.GeoSeries(geoms, crs=4326).to_crs(BNG).values, dtype=object)
    return LayerGeometry(index, geoms)


def _ring_path(coords: np.ndarray) -> str:
    pts = np.round(coords[:, :2]).astype(np.int64)
    return "M" + "L".join(f"{x},{y}" for x, y in pts) + "Z"


def feature_path(geom) -> str:
    """One SVG path for a (multi)polygon's rings, exterior and interior alike ('' for others)."""
    if geom is None or geom.is_empty:
        return ""
    parts: list[str] = []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon":
            continue
        parts.append(_ring_path(np.asarray(poly.exterior.coords)))
        parts.extend(_ring_path(np.asarray(r.coords)) for r in poly.interiors)
    return "".join(parts)


def _line_xy(geoms) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        for part in shapely.get_parts(geom):
            if part.geom_type == "Polygon":
                part = part.exterior
            coords = np.asarray(part.coords)
            xs.extend(coords[:, 0].round().tolist() + [None])
            ys.extend(coords[:, 1].round().tolist() + [None])
    return xs, ys


# ------------------------------------------------------------------------------------------ styling
def layer_style(kind: str, variable: str | None, method: str, classes: int, palette: str, values,
                pollutant: str | None = None, unit: str | None = None, themes=()) -> dict:
    """The map explorer's style for a layer, with its classification kept for the data zip."""
    from explorer.maps.classify import layer_style as explorer_style

    style, classification = explorer_style(kind, variable, method, classes, palette, values,
                                           pollutant=pollutant, unit=unit, themes=themes)
    return {**style, "classification": classification} if classification is not None else style


def _class_index(values: list, breaks: list[float]) -> np.ndarray:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    out = np.searchsorted(np.asarray(breaks, dtype=float), arr, side="left").astype(int)
    out[np.isnan(arr)] = -1
    return out


def _rgba(colour: str, opacity: float) -> str:
    r, g, b = design.parse_hex(colour)
    return f"rgba({r},{g},{b},{opacity:.2f})"


# ------------------------------------------------------------------------------------------ layers
def _resolve_layer(service, spec) -> DrawnLayer:
    """Values and style of one permalink layer, as the map explorer would show it."""
    from explorer.maps.layer_info import layer_info
    from explorer.maps.values import values_of_every_step, values_payload

    info = layer_info(service, spec.dataset, spec.resource)
    if info.error:
        raise ValueError(info.error)
    entry = service.entry(spec.dataset)
    variable = spec.variable
    if variable is None and info.kind == "polygons" and info.default_variable and "boundaries" not in entry.themes:
        variable = info.default_variable
    if variable and variable not in info.variables:
        raise ValueError(f"{spec.dataset} has no variable {variable!r}")
    step = None
    if spec.step and info.time_steps:
        step = next((s for s in info.time_steps if spec.step in (s.label, str(s.year))), None)
        if step is None:
            raise ValueError(f"{spec.dataset} has no year {spec.step!r}")
    resource = step.resource_id if step and step.resource_id else info.resource_id
    if step and step.variable and variable:
        variable = step.variable
    series = info.series or {}
    filters = dict(spec.filter or {})
    values = None
    if variable or (series and series.get("value") and info.kind != "polygons"):
        values = values_payload(service, spec.dataset, resource, variable or series.get("value"),
                                step=step, filters=filters or None)
    if series and not variable:
        variable = series.get("value") if values is not None else None
    if series.get("category") and series.get("categories") and series["category"] not in filters:
        filters[series["category"]] = series["categories"][0]
    # class breaks fixed across the layer's years, as the live map fixes them (one function)
    classed = values
    if step is not None and values is not None and len(info.time_steps) > 1:
        classed = values_of_every_step(service, spec.dataset, info.resource_id, variable or series.get("value"),
                                       info.time_steps, spec.filter or None) or values
    style = layer_style(info.kind, variable, spec.method, spec.classes, spec.palette, classed,
                        pollutant=(filters.get("pollutant") or info.pollutant), unit=info.unit, themes=entry.themes)
    if classed is not values and style.get("mode") == "classes":
        style["no_data"] = sum(1 for v in values if v is None)      # this year's, not all years'
    loaded = service.load(spec.dataset, resource)
    credit = credit_for(entry, loaded.provenance.to_dict(), resource)
    return DrawnLayer(dataset_id=spec.dataset, resource_id=info.resource_id, title=entry.title, kind=info.kind,
                      variable=variable, unit=info.unit, step=step.label if step else None, filters=filters,
                      values=values, style=style, credit=credit, loaded=loaded, info=info)


def _draw_polygons(shapes: list, legend_items: list, layer: DrawnLayer, geometry: LayerGeometry, opacity: float,
                   raster: list | None = None):
    """The layer's polygons as one path shape per class, or, when ``raster`` is a list (a PNG
    export), as one :class:`RasterLayer` appended to it with the same fills and outlines."""
    style = layer.style
    if style["mode"] == "outline":
        groups = [(None, None)]
        line = (style["line"], style["line"], 1.0, 1.2)        # (plotly colour, hex, opacity, width)
        legend_items.append(("line", style["line"], "boundary"))
    elif style["mode"] == "single":
        groups = [(None, style["colour"])]
        line = ("white", "#ffffff", 1.0, 0.3)
        legend_items.append(("box", style["colour"], "area"))
    else:
        values = [layer.values[i] if i < len(layer.values) else None for i in geometry.index]
        klass = _class_index(values, style["breaks"])
        classes = [(-1, style["nodata"], "no data" + (f" ({style['no_data']:,})" if style.get("no_data") else ""))]
        classes += [(k, c, lab) for k, (c, lab) in enumerate(zip(style["colours"], style["labels"]))]
        groups = [(klass == k, colour) for k, colour, _ in classes]
        line = (_rgba("#ffffff", 0.6), "#ffffff", 0.6, 0.25)
        for k, colour, label in classes[1:] + classes[:1]:
            if k >= 0 or style.get("no_data"):
                legend_items.append(("box", colour, label))
    if raster is not None:
        fills = None
        if groups[0][1] is not None:
            fills = [None] * len(geometry.geoms)
            alpha = round(255 * opacity)
            for members, colour in groups:
                rgba = (*design.parse_hex(colour), alpha)
                for pos in (range(len(fills)) if members is None else np.flatnonzero(members).tolist()):
                    fills[pos] = rgba
        raster.append(RasterLayer(geometry.rings, fills, design.parse_hex(line[1]), line[2], line[3]))
        return
    for members, colour in groups:
        if members is not None and not members.any():
            continue
        shape = dict(type="path", path=geometry.path(members), xref="x", yref="y", layer="above",
                     line=dict(color=line[0], width=line[3]))
        if colour is None:
            shape["fillcolor"] = "rgba(0,0,0,0)"
        else:
            shape.update(fillcolor=_rgba(colour, opacity), fillrule="evenodd")
        shapes.append(shape)


def _draw_points(fig, legend_items: list, layer: DrawnLayer, geoms, index, opacity: float, group: str):
    xs = np.array([g.x if g is not None and g.geom_type == "Point" else np.nan for g in geoms])
    ys = np.array([g.y if g is not None and g.geom_type == "Point" else np.nan for g in geoms])
    style = layer.style
    size = 4 if len(geoms) > 2000 else 7
    if style["mode"] == "classes":
        values = [layer.values[i] if i < len(layer.values) else None for i in index]
        klass = _class_index(values, style["breaks"])
        groups = [(k, c) for k, c in enumerate(style["colours"])] + [(-1, style["nodata"])]
    else:
        klass = np.zeros(len(geoms), dtype=int)
        groups = [(0, style["colour"])]
    for k, colour in groups:
        m = klass == k
        if m.any():
            fig.add_trace(go.Scatter(x=xs[m], y=ys[m], mode="markers", showlegend=False, hoverinfo="skip",
                                     marker=dict(color=colour, size=size, opacity=opacity,
                                                 line=dict(color="white", width=0.4))))
    if style["mode"] == "classes":
        for (k, colour), label in zip(groups, style["labels"]):
            legend_items.append(("dot", colour, label))
    else:
        legend_items.append(("dot", style["colour"], "one feature"))


def _draw_lines(fig, legend_items: list, layer: DrawnLayer, geoms, colour: str):
    xs, ys = _line_xy(geoms)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="skip",
                             line=dict(color=colour, width=1.2)))
    legend_items.append(("line", colour, "line"))


def _legend_traces(fig, group: str, title: str, items: list):
    for kind, colour, label in items:
        symbol = {"box": "square", "dot": "circle", "line": "square-open"}[kind]
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, legendgroup=group,
                                 legendgrouptitle=dict(text=title), showlegend=True, hoverinfo="skip",
                                 marker=dict(symbol=symbol, color=colour, size=13,
                                             line=dict(color=design.AXIS_LINE if kind == "box" else colour,
                                                       width=0.6 if kind == "box" else 2))))


# ------------------------------------------------------------------------------------------ decorations
def _nice_length(metres: float) -> float:
    for value in (100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000):
        if value >= metres:
            return value
    return 100000


def _scale_bar(fig, x0: float, x1: float, y0: float, y1: float):
    length = _nice_length((x1 - x0) / 5)
    left = x0 + (x1 - x0) * 0.04
    base = y0 + (y1 - y0) * 0.04
    tick = (y1 - y0) * 0.012
    line = dict(color=design.TEXT, width=2)
    fig.add_shape(type="rect", x0=left - length * 0.08, x1=left + length * 1.08, y0=base - tick * 1.2,
                  y1=base + tick * 4.2, xref="x", yref="y", line=dict(width=0),
                  fillcolor="rgba(255,255,255,0.8)")
    fig.add_shape(type="line", x0=left, x1=left + length, y0=base, y1=base, xref="x", yref="y", line=line)
    for x in (left, left + length / 2, left + length):
        fig.add_shape(type="line", x0=x, x1=x, y0=base, y1=base + tick, xref="x", yref="y", line=line)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    fig.add_annotation(x=left + length / 2, y=base + tick, xref="x", yref="y", text=label, showarrow=False,
                       yanchor="bottom", font=dict(size=12, color=design.TEXT))


def _north_arrow(fig):
    # the arrow's head is at (x, y), its tail at (ax, ay): pointing up, grid north
    fig.add_annotation(x=0.96, y=0.93, ax=0.96, ay=0.82, xref="x domain", yref="y domain",
                       axref="x domain", ayref="y domain", text="", showarrow=True, arrowhead=2,
                       arrowsize=1.4, arrowwidth=2.5, arrowcolor=design.TEXT, standoff=0, startstandoff=0)
    fig.add_annotation(x=0.96, y=0.935, xref="x domain", yref="y domain", text="<b>N</b>", showarrow=False,
                       yanchor="bottom", font=dict(size=15, color=design.TEXT))


def _extent(view, region_bounds, plot_w: float, plot_h: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) in BNG metres: London when the link shows all of it, else the link's view."""
    from pyproj import Transformer

    lat, lon, zoom = view
    if zoom <= 10.5 and region_bounds is not None:
        x0, y0, x1, y1 = region_bounds
        pad = 0.03 * max(x1 - x0, y1 - y0)
        x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    else:
        cx, cy = Transformer.from_crs(4326, BNG, always_xy=True).transform(lon, lat)
        metres_per_px = 156543.03392 * math.cos(math.radians(lat)) / (2 ** zoom)
        half_w, half_h = plot_w * metres_per_px / 2, plot_h * metres_per_px / 2
        x0, x1, y0, y1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h
    # match the plot's aspect ratio so the axes show exactly this extent
    w, h = x1 - x0, y1 - y0
    if w / h < plot_w / plot_h:
        grow = (h * plot_w / plot_h - w) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w * plot_h / plot_w - h) / 2
        y0, y1 = y0 - grow, y1 + grow
    return x0, x1, y0, y1


def map_title(layers: list[DrawnLayer]) -> str:
    if not layers:
        return "Map of London"
    top = next((l for l in layers if l.variable), layers[0])
    if top.variable:
        # a plain title: "Modelled air pollution by borough: NO₂ annual mean, 2016 (µg/m³)", not
        # "…: mean, 2016, no2"
        label = variable_label(top.variable)
        extra = [period_label(top.step)] if top.step and top.step not in top.variable and top.step not in label else []
        extra += [variable_label(str(v)) for v in top.filters.values()
                  if str(v).lower() not in label.lower().replace("₂", "2")]
        what = label + (f", {', '.join(extra)}" if extra else "") + (f" ({top.unit})" if top.unit else "")
        return f"{top.title}: {what}"
    return " and ".join(l.title for l in layers[:3])


def build_map(service, search: str | None, width: int, height: int, base_url: str | None = None,
              title: str | None = None, scale: float = 1.0, raster: bool = False) -> MapExport:
    """The figure of the map view named by a permalink query string (``?layer=…&view=…``).

    ``raster`` (for PNG, at ``scale``): the polygon layers are drawn as one image of the plot
    area's pixels (:mod:`.raster_layers`) rather than as paths; the picture is the same."""
    from explorer.maps.layers import parse_state
    from explorer.export.chart_image import DEFAULT_BASE_URL, ExportUnavailable, short_permalink

    state = parse_state(search, lambda d: service.registry.get(d) is not None)
    notices = list(state.notices)
    drawn: list[DrawnLayer] = []
    for spec in state.layers:
        if spec.hidden:
            continue
        try:
            drawn.append((_resolve_layer(service, spec), spec))
        except Exception as exc:  # noqa: BLE001 - one broken layer is a notice, the map goes on
            reason = getattr(exc, "reason", None) or str(exc)
            notices.append(f"{spec.dataset} was left out: {reason}")
    if not drawn:
        raise ExportUnavailable("the map has no visible layer that can be drawn"
                                + (f" ({'; '.join(notices)})" if notices else ""))
    layers = [d for d, _ in drawn]
    permalink = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/map{state.to_search()}"
    short_link = short_permalink(service, base_url, f"/map{state.to_search()}")  # printed in the footer
    title = title or map_title(layers)

    design.register_template()
    fig = go.Figure()
    context: list[Credit] = []
    shapes: list[dict] = []
    region_bounds = region_shape = None
    for ds, fill, line in ((CONTEXT_REGION, REGION_FILL, REGION_LINE),):
        try:
            region = layer_geometry(service, ds, None)
            region_bounds = shapely.total_bounds(region.geoms)
            region_shape = dict(type="path", path=region.path(), xref="x", yref="y", layer="below",
                                fillcolor=fill, line=dict(color=line, width=1), fillrule="evenodd")
            shapes.append(region_shape)
            context.append(credit_for(service.entry(ds)))
        except Exception as exc:  # noqa: BLE001
            notices.append(f"The London outline could not be drawn: {getattr(exc, 'reason', exc)}")
    footer = footer_lines([l.credit for l in layers], short_link, context=None) + boundary_notes(layers)
    plot_w = width * (1 - LEGEND_WIDTH) - 24
    plot_h = height - 90 - 15 * (len(footer) + 3) - 40
    x0, x1, y0, y1 = _extent(state.view, region_bounds, plot_w, max(200, plot_h))
    base = basemap_layer(service.settings, state.basemap, (x0, x1, y0, y1), plot_w * max(1.0, min(scale, 2.0)))
    if base.image:
        fig.add_layout_image(base.image)
        if region_shape is not None:        # the tiles show through London, its outline stays
            region_shape["fillcolor"] = "rgba(0,0,0,0)"
    if base.notice:
        notices.append(base.notice)

    # Data layers: the first in the panel is drawn last (on top), as on the map. For a raster,
    # polygon layers from the bottom up to the top filled one go into the image; outline layers
    # above that stay vector shapes, so they are still drawn over it.
    filled = [i for i, (l, _) in enumerate(drawn) if l.kind == "polygons" and l.style["mode"] != "outline"]
    raster_layers: list[RasterLayer] = []
    for index_in_panel, (layer, spec) in reversed(list(enumerate(drawn))):
        group = f"layer{index_in_panel}"
        legend_items: list = []
        geometry = layer_geometry(service, layer.dataset_id, layer.resource_id)
        opacity = max(0.1, spec.opacity / 100)
        if layer.kind == "polygons":
            into = raster_layers if raster and filled and index_in_panel >= filled[0] else None
            _draw_polygons(shapes, legend_items, layer, geometry, opacity, into)
        elif layer.kind == "points":
            _draw_points(fig, legend_items, layer, geometry.geoms, geometry.index, opacity, group)
        else:
            _draw_lines(fig, legend_items, layer, geometry.geoms, design.series_colour(index_in_panel))
        heading = layer.title
        if layer.variable:
            label = variable_label(layer.variable)
            heading += f"<br>{label}"
            if layer.step and layer.step not in layer.variable and layer.step not in label:
                heading += f", {period_label(layer.step)}"
            heading += f" ({layer.unit})" if layer.unit else ""
        if layer.style.get("method_label"):
            layer.notes.append(f"classes: {layer.style['method_label']}")
        _legend_traces(fig, group, _wrap_html(heading, 34), legend_items)
    try:
        thames = layer_geometry(service, CONTEXT_THAMES, None)
        shapes.append(dict(type="path", path=thames.path(), xref="x", yref="y", layer="above",
                           fillcolor=THAMES_FILL, line=dict(color="#5e9cc4", width=0.6), fillrule="evenodd"))
        context.append(credit_for(service.entry(CONTEXT_THAMES)))
    except Exception as exc:  # noqa: BLE001
        notices.append(f"The Thames could not be drawn: {getattr(exc, 'reason', exc)}")

    fig.update_layout(shapes=shapes)
    _scale_bar(fig, x0, x1, y0, y1)
    _north_arrow(fig)
    axis = dict(visible=False, showgrid=False, zeroline=False, fixedrange=True)
    # the title wrapped to the image (bold 18 px is about 11 px a character): a long dataset title
    # ran off the right edge of A4 images, while the top margin was already made for its lines
    title_html = _wrap_html(title, max(20, int((width - 32) / 11)))
    fig.update_xaxes(range=[x0, x1], domain=[0, 1 - LEGEND_WIDTH], constrain="domain", **axis)
    fig.update_yaxes(range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain", **axis)
    fig.update_layout(
        template=design.TEMPLATE_NAME, width=width, height=height, autosize=False,
        # plotly places a wrapped title's first line where its last would go: move it down by the
        # extra lines
        title=dict(text=f"<b>{title_html}</b>", x=0, xref="container",
                   y=0.985 - 22 * title_html.count("<br>") / height, yref="container",
                   yanchor="top", font=dict(size=18)),
        margin=dict(t=60 + 22 * title_html.count("<br>"), l=16, r=16, b=20),
        plot_bgcolor="white", showlegend=True,
        legend=dict(orientation="v", x=1 - LEGEND_WIDTH + 0.03, xanchor="left", y=1, yanchor="top",
                    groupclick="toggleitem", tracegroupgap=14, font=dict(size=12),
                    grouptitlefont=dict(size=12, color=design.TEXT)),
    )
    footer = footer_lines([l.credit for l in layers], short_link, context=context)
    if base.footer:                         # the basemap's attribution, or why it is missing, in plain words
        footer[1] += " " + base.footer
    footer[1:1] = boundary_notes(layers)    # approximate shapes are said on the image itself
    add_footer(fig, footer, width)
    if raster_layers:
        extent = (x0, x1, y0, y1)
        image = draw_layers(raster_layers, extent, _plot_pixels(fig, width, height, extent, scale), scale)
        fig.add_layout_image(dict(basemap_image(png_data_uri(image), extent), layer="above"))
    return MapExport(figure=fig, layers=layers, title=title, permalink=permalink, notices=notices, height=height,
                     short_link=short_link)


def _plot_pixels(fig, width: int, height: int, extent, scale: float) -> tuple[int, int]:
    """The device pixels of the plot area (CSS pixels × ``scale``), worked out as plotly lays
    the figure out: the footer legend pushes the bottom margin by its height (its title's lines
    at 1.3 × the font size, plus 29 px, rounded up) and where it sits; the axes keep their ranges and the
    axis with room to spare has its domain narrowed (``constrain="domain"``)."""
    from explorer.export.credits import FOOTER_FONT_SIZE, FOOTER_LEGEND

    x0, x1, y0, y1 = extent
    margin = fig.layout.margin
    footer = fig.layout[FOOTER_LEGEND]
    footer_lines_n = (footer.title.text or "").count("<br>") + 1
    pushed = math.ceil(footer_lines_n * FOOTER_FONT_SIZE * 1.3 + 29 - 1e-6) + (footer.y or 0) * height
    room_w = (width - (margin.l or 0) - (margin.r or 0)) * (1 - LEGEND_WIDTH)
    room_h = height - (margin.t or 0) - (margin.b or 0) - pushed
    per_px = max((x1 - x0) / room_w, (y1 - y0) / max(room_h, 1.0))       # metres per CSS pixel
    return (max(1, round((x1 - x0) / per_px * scale)), max(1, round((y1 - y0) / per_px * scale)))


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wrap_html(text: str, chars: int) -> str:
    from explorer.export.credits import wrap

    return "<br>".join(_escape(line) for part in str(text).split("<br>") for line in wrap(part, chars))


def export_map(search: str | None, fmt: str, size, service, renderer, base_url: str | None = None,
               title: str | None = None):
    """The map view as PNG, SVG or PDF bytes (an :class:`~.chart_image.ExportedImage`)."""
    from explorer.export.chart_image import ExportedImage, check_format
    from explorer.export.sizes import check_pixels

    fmt = check_format(fmt)
    height = size.height or round(size.width * 0.9)
    size = size.with_height(height)
    check_pixels(size)
    result = build_map(service, search, size.width, height, base_url=base_url, title=title,
                       scale=size.render_scale(fmt), raster=fmt == "png")
    content = renderer.render(result.figure, fmt, size.width, height, size.render_scale(fmt))
    return ExportedImage(content, fmt, f"map.{fmt}", size.width, height, size.scale, result.short_link)
