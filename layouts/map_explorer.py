"""The map explorer page: layer panel, map, feature panel and table view.

Pure functions of the state; the callbacks in callbacks/map_explorer.py fill and update them.
Every layer's controls carry pattern-matching ids keyed by the layer's uid.
"""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from explorer.labels.numbers import format_value, meaning
from explorer.labels.variables import period_label, variable_label
from explorer.maps import hideout as hideouts
from explorer.maps.classify import CLASS_COUNTS
from explorer.maps.layers import BASEMAPS, LayerSpec, MapState

from . import export_menu
from .components import notice

CONTEXT_STYLE = {"variable": "explorer.map.context"}
METHOD_OPTIONS = [
    {"label": "Quantiles", "value": "quantile"},
    {"label": "Equal intervals", "value": "equal"},
    {"label": "Natural breaks (Jenks)", "value": "jenks"},
    {"label": "Fixed thresholds (guidelines)", "value": "thresholds"},
]


# Panes fix what is drawn over what, whichever file arrives first: the London outline under every
# layer, big layers painted on a canvas (assets/map_styles.js) above it, the SVG layers above
# those (Leaflet's overlay pane, z-index 400), the Thames on top.
REGION_PANE, WATER_PANE = "explorer-region", "explorer-water"


def context_panes() -> list:
    return [dl.Pane(name=REGION_PANE, style={"zIndex": 350}), dl.Pane(name=WATER_PANE, style={"zIndex": 450})]


def lid(kind: str, uid: str) -> dict:
    return {"type": kind, "index": uid}


def tile_layer(basemap: str) -> list:
    spec = BASEMAPS.get(basemap) or BASEMAPS["none"]
    if not spec["url"]:
        return []
    return [dl.TileLayer(url=spec["url"], attribution=spec["attribution"], maxZoom=19,
                         subdomains="abcd")]


def first_hideout(spec: LayerSpec, info, look) -> dict:
    """The hideout the layer is drawn with before any callback (explorer/maps/hideout.py): the keys
    the browser's merge callback writes later (explorer.layerHideout, assets/map_explorer.js)."""
    values, style = (look or (None, None, None))[:2]
    if not style:
        return hideouts.pending(spec.uid, canvas=info.canvas, geometry=canvas_geometry(spec, info))
    return hideouts.layer(spec.uid, style, values=(values or {}).get("values"), opacity=spec.opacity / 100,
                         hidden=spec.hidden, kind=info.kind, unit=info.unit, canvas=info.canvas,
                         geometry=canvas_geometry(spec, info))


def geometry_url(spec: LayerSpec, info) -> str:
    return f"/geo/{spec.dataset}/{info.resource_id}.pbf"


# A big layer is drawn by our own canvas layer (assets/canvas_layer.js). A dl.LayerGroup (drawn
# with the map, not loaded lazily like dl.GeoJSON) attaches it to the map when the group joins it,
# and it leaves with the group; the dl.GeoJSON inside, given no data, holds the hideout the
# callbacks write (the geometry URL, classes, colours and values), which the canvas layer reads.
CANVAS_EVENTS = {"add": {"variable": "explorer.canvas.attach"}}


def canvas_layer(group_id, holder_id, hideout: dict) -> dl.LayerGroup:
    return dl.LayerGroup(id=group_id, eventHandlers=CANVAS_EVENTS,
                         children=[dl.GeoJSON(id=holder_id, hideout=hideout)])


def canvas_geometry(spec: LayerSpec, info) -> str | None:
    """A canvas layer's geometry URL, which its hideout names (a dash-leaflet layer has ``url``)."""
    return geometry_url(spec, info) if info.canvas else None


def geo_layer(spec: LayerSpec, info, look=None):
    """The map explorer's layer: big ones drawn by our canvas layer, the rest by dash-leaflet."""
    return drawn_layer(lid("layer-canvas", spec.uid), lid("layer-geo", spec.uid), spec, info,
                       first_hideout(spec, info, look))


def drawn_layer(group_id, holder_id, spec: LayerSpec, info, hideout: dict):
    if info.canvas:
        return canvas_layer(group_id, holder_id, hideout)
    return leaflet_layer(holder_id, spec, info, hideout)


def leaflet_layer(component_id, spec: LayerSpec, info, hideout: dict) -> dl.GeoJSON:
    """A layer dash-leaflet draws from its geometry URL (a big one on Leaflet's canvas, through
    assets/map_styles.js); theme maps use it for every layer, their style functions being
    Leaflet's."""
    return dl.GeoJSON(
        id=component_id, url=geometry_url(spec, info), format="geobuf", hideout=hideout,
        style={"variable": "explorer.map.layerStyle"},
        pointToLayer={"variable": "explorer.map.layerPoint"},
        onEachFeature={"variable": "explorer.map.layerTooltip"},
        cluster=bool(info.cluster),
        superClusterOptions={"radius": 70, "maxZoom": 16},
        zoomToBoundsOnClick=bool(info.cluster),
    )


def explorer_map(state: MapState, specs_infos: list[tuple[LayerSpec, object]]) -> dl.Map:
    lat, lon, zoom = state.view
    return dl.Map(
        id="explorer-map", center=[lat, lon], zoom=zoom, className="map explorer__map",
        style={"height": "100%", "minHeight": "420px"}, zoomControl=True,
        children=[
            dl.LayerGroup(id="basemap-group", children=tile_layer(state.basemap)),
            *context_panes(),
            dl.GeoJSON(id="context-region", url="/geo/london-region/gpkg.pbf", format="geobuf",
                       style=CONTEXT_STYLE, hideout=hideouts.context("region"), interactive=False, pane=REGION_PANE),
            dl.LayerGroup(id="data-layers", children=data_layers(specs_infos)),
            dl.GeoJSON(id="context-thames", url="/geo/thames/geojson.pbf", format="geobuf",
                       style=CONTEXT_STYLE, hideout=hideouts.context("thames"), interactive=False, pane=WATER_PANE),
            dl.ScaleControl(position="bottomleft", imperial=False),
        ],
    )


def data_layers(specs_infos) -> list:
    # Leaflet draws later layers on top: the first layer in the panel is the top one.
    return [geo_layer(spec, info, look) for spec, info, look in reversed(specs_infos)
            if info is not None and not info.error]


def stand_in(kind: str, uid: str, value=None) -> dcc.Input:
    """An invisible control for a setting the layer does not offer (no variables, no years): the
    callbacks read every layer's controls by ``value``, which a hidden input has and a Store lacks."""
    return dcc.Input(id=lid(kind, uid), type="hidden", value=value)


def _dropdown(kind: str, uid: str, options, value, label: str, clearable: bool = False):
    control_id = lid(kind, uid)
    return html.Div(className="field field--compact", children=[
        html.Label(label, className="field__label"),
        dcc.Dropdown(id=control_id, options=options, value=value, clearable=clearable,
                     searchable=len(options) > 8, className="dropdown"),
    ])


def layer_meta(spec: LayerSpec, info) -> dict:
    return {
        "dataset": spec.dataset, "resource": info.resource_id if info else spec.resource,
        "kind": getattr(info, "kind", None), "unit": getattr(info, "unit", None),
        "canvas": bool(getattr(info, "canvas", False)),
        "approximate": bool((getattr(info, "geography", None) or {}).get("boundary_caveat")),
        "steps": [s.__dict__ for s in (getattr(info, "time_steps", None) or [])],
        "series": getattr(info, "series", None), "filter": spec.filter,
        "pollutant": getattr(info, "pollutant", None),
        "labels": getattr(info, "labels", None) or {},   # the catalogue's column labels, for legends
    }


def initial_controls(spec: LayerSpec, info) -> dict:
    """What the card's controls show first (and so what the first look is computed from)."""
    variable = spec.variable if spec.variable in info.variables else None
    series = info.series or {}
    if variable is None and series.get("value") in info.variables:
        # a long table is always coloured by its value (callbacks.map_explorer.layer_look): the card
        # says so, not "— one colour —" over a coloured legend
        variable = series["value"]
    category = None
    if series.get("categories"):
        category = str(spec.filter.get(series.get("category"), series["categories"][0]))
    steps = info.time_steps or []
    time_index = None
    if len(steps) > 1:
        labels = [s.label for s in steps]
        time_index = labels.index(spec.step) if spec.step in labels else len(steps) - 1
    styled = info.kind in ("polygons", "points") and bool(info.variables)
    return {"variable": variable, "category": category, "time_index": time_index,
            "method": spec.method, "classes": (spec.classes if spec.classes in CLASS_COUNTS
                                               else LayerSpec.classes) if styled
            else spec.classes, "palette": spec.palette}


def time_marks(labels: list[str], room: int = 22) -> dict:
    """Slider marks a person can read at any number of periods: the first and the last always, and
    evenly spaced ones between while their labels fit ``room`` characters of the slider (about
    its width in a layer card), so years never run together ("2013201420152016") and no mark is
    left for the slider to number by index."""
    n = len(labels)
    if n == 0:
        return {}
    width = max(len(period_label(t, short=True)) for t in labels) + 2
    fit = max(2, min(n, room // max(width, 1)))
    if fit >= n:
        chosen = range(n)
    else:
        step = (n - 1) / (fit - 1)
        chosen = sorted({round(i * step) for i in range(fit)})
    return {i: {"label": period_label(labels[i], short=True)} for i in chosen}


def layer_card(spec: LayerSpec, info, entry, position: int, total: int, palettes: list[dict],
               error: str | None = None, look=None) -> html.Li:
    uid = spec.uid
    values0, style0, legend0 = look or (None, None, [])
    title = entry.title if entry else spec.dataset
    header = html.Div(className="layer-card__head", children=[
        dcc.Checklist(id=lid("layer-visible", uid), options=[{"label": html.Span(f"Show {title}", className="visually-hidden"), "value": "on"}],
                      value=[] if spec.hidden else ["on"], className="layer-card__toggle",
                      inputStyle={"width": "1.1rem", "height": "1.1rem"}),
        html.H3(title, className="layer-card__title", title=title),
        html.Div(className="layer-card__buttons", children=[
            html.Button("↑", id=lid("layer-up", uid), className="icon-button", disabled=position == 0,
                        title="Move up", **{"aria-label": f"Move {title} up"}),
            html.Button("↓", id=lid("layer-down", uid), className="icon-button", disabled=position == total - 1,
                        title="Move down", **{"aria-label": f"Move {title} down"}),
            html.Button("✕", id=lid("layer-remove", uid), className="icon-button",
                        title="Remove layer", **{"aria-label": f"Remove {title}"}),
        ]),
    ])
    meta = dcc.Store(id=lid("layer-meta", uid), data=layer_meta(spec, info))
    if error or info is None or info.error:
        return html.Li(className="layer-card layer-card--error", id=lid("layer-card", uid), children=[
            header, meta,
            dcc.Store(id=lid("layer-values", uid)), dcc.Store(id=lid("layer-style", uid)),
            notice(error or (info.error if info else "This layer could not be loaded."), "error"),
        ])
    variables = [{"label": variable_label(v, info.labels), "value": v} for v in info.variables]
    first = initial_controls(spec, info)
    variable = first["variable"]
    controls = []
    if variables:
        controls.append(_dropdown("layer-variable", uid,
                                  [{"label": "— outline only —" if info.kind == "polygons" and (
                                      entry is None or "boundaries" in entry.themes) else "— one colour —",
                                    "value": ""}] + variables,
                                  variable or "", "Variable"))
    else:
        controls.append(stand_in("layer-variable", uid))
    series = info.series or {}
    if series.get("categories"):
        controls.append(_dropdown("layer-category", uid,
                                  [{"label": str(c), "value": str(c)} for c in series["categories"]],
                                  first["category"], str(series.get("category", "Category")).capitalize()))
    else:
        controls.append(stand_in("layer-category", uid))
    steps = info.time_steps or []
    if len(steps) > 1:
        index = first["time_index"]
        marks = time_marks([s.label for s in steps])
        controls.append(html.Div(className="field time-field", children=[
            html.Span("Year", className="field__label", id=lid("layer-time-label", uid)),
            html.Div(className="time-row", children=[
                html.Button("▶ Play", id=lid("layer-play", uid), className="button button--small",
                            **{"aria-label": f"Play through the years of {title}"}),
                # no tooltip: it would show the step's index; the period is written beside the slider
                html.Div(dcc.Slider(id=lid("layer-time", uid), min=0, max=len(steps) - 1, step=1,
                                    value=index, marks=marks, included=False, tooltip=None),
                         className="time-slider", **{"data-slider-label": f"Period shown for {title}"}),
                html.Output(period_label(steps[index].label), id=lid("layer-time-value", uid), className="time-value",
                            **{"aria-live": "polite"}),
            ]),
            dcc.Interval(id=lid("layer-tick", uid), interval=1200, disabled=True),
        ]))
    else:
        controls.append(stand_in("layer-time", uid))
    style_controls = []
    if info.kind in ("polygons", "points") and variables:
        style_controls = [
            _dropdown("layer-method", uid, METHOD_OPTIONS, spec.method, "Classes"),
            _dropdown("layer-classes", uid, [{"label": str(k), "value": k} for k in CLASS_COUNTS],
                      first["classes"], "Number"),
            _dropdown("layer-palette", uid, palettes, spec.palette, "Palette"),
        ]
    else:
        style_controls = [stand_in("layer-method", uid, spec.method), stand_in("layer-classes", uid, spec.classes),
                          stand_in("layer-palette", uid, spec.palette)]
    opacity = html.Div(className="field", **{"data-slider-label": f"Opacity of {title}"}, children=[
        html.Label("Opacity", className="field__label"),
        dcc.Slider(id=lid("layer-opacity", uid), min=0, max=100, step=5, value=spec.opacity,
                   marks={0: "0", 50: "50", 100: "100%"}),
    ])
    source = None
    if entry is not None:
        source = html.P(className="layer-card__source", children=[
            "Source: ", entry.publisher or "not stated", " · ", entry.licence or "licence not stated", " · ",
            dcc.Link("about this data", href=f"/dataset/{entry.id}"),
        ])
    return html.Li(className="layer-card", id=lid("layer-card", uid), children=[
        header, meta,
        dcc.Store(id=lid("layer-values", uid), data=values0), dcc.Store(id=lid("layer-style", uid), data=style0),
        html.Div(controls, className="layer-card__controls"),
        html.Div(style_controls, className="layer-card__style"),
        opacity,
        html.Div(legend0, id=lid("layer-legend", uid), className="legend"),
        boundary_caveat(info),
        source,
    ])


def boundary_caveat(info) -> html.P | None:
    """The caveat of the boundaries a table was joined to (e.g. approximate ward shapes), under
    the legend, so the map is not read as more exact than it is."""
    text = (getattr(info, "geography", None) or {}).get("boundary_caveat")
    if not text:
        return None
    return html.P(className="layer-card__caveat", children=[html.Strong("Boundaries: "), text])


def legend(style: dict, unit: str | None, variable: str | None, kind: str) -> list:
    if not style:
        return []
    if style.get("mode") == "outline":
        return [html.Span(className="legend__swatch legend__swatch--outline",
                          style={"borderColor": style.get("line", "#00577d")}), " boundary"]
    if style.get("mode") == "single":
        cls = "legend__swatch legend__swatch--point" if kind == "points" else "legend__swatch"
        return [html.Span(className=cls, style={"background": style.get("colour")}), " one feature"
                if kind == "points" else " area"]
    items = [html.Li([html.Span(className="legend__swatch", style={"background": colour}), label])
             for colour, label in zip(style.get("colours", []), style.get("labels", []))]
    items.append(html.Li([html.Span(className="legend__swatch", style={"background": style.get("nodata")}),
                          f"no data ({style.get('no_data', 0):,})" if style.get("no_data") else "no data"]))
    title = (variable or "") + (f" ({unit})" if unit else "")
    return [html.P(title, className="legend__title"), html.Ul(items, className="legend__list"),
            html.P(style.get("method_label", ""), className="legend__note")]


def explorer_page(state: MapState, cards: list, specs_infos, basemap_options: list[dict]) -> html.Div:
    return html.Div(className="explorer", children=[
        dcc.Store(id="map-state", data={"layers": [s.to_dict() for s in state.layers],
                                        "basemap": state.basemap, "view": list(state.view)}),
        # the map's permalink query, which the browser keeps in the address bar and the export
        # links and "Copy link" read (callbacks/map_explorer.py, callbacks/export_menu.py)
        dcc.Store(id="map-url", data=state.to_search()),
        html.Div([notice(n, "warning") for n in state.notices], id="map-notices"),
        html.Div(className="explorer__grid", children=[
            html.Details(open=True, className="layer-drawer", children=[
                html.Summary("Layers", className="layer-drawer__summary"),
                html.Section(className="layer-panel", **{"aria-label": "Layers"}, children=[
                    html.H1("Map", className="layer-panel__title"),
                    html.Div(className="layer-add", children=[
                        html.Label("Add a layer from the registry", htmlFor="layer-search", className="field__label"),
                        dcc.Input(id="layer-search", type="search", placeholder="e.g. parks, PM2.5, deprivation",
                                  debounce=0.3, className="search-form__input", autoComplete="off"),
                        html.Ul(id="layer-search-results", className="layer-search-results"),
                        html.Div(id="layer-add-notice", **{"aria-live": "polite"}),
                    ]),
                    html.Ol(cards, id="layer-cards", className="layer-cards"),
                    html.Div(className="field", children=[
                        html.Span("Basemap", className="field__label", id="basemap-label"),
                        dcc.RadioItems(id="basemap", options=basemap_options, value=state.basemap,
                                       className="radio-list"),
                    ]),
                ]),
            ]),
            html.Div(className="explorer__main", children=[
                dcc.Store(id="compare-state", data={"on": False, "uid": None}),
                html.Div(id="explorer-maps", className="explorer__maps", children=[
                    html.Div(className="map-frame explorer__frame", children=[
                        html.P(id="main-map-caption", className="map-caption", hidden=True),
                        explorer_map(state, specs_infos),
                        # At phone width the layer panel is folded away: the top layer's legend
                        # stays on the map.
                        html.Div(id="map-legend", className="map-legend", **{"aria-hidden": "true"}),
                    ]),
                    html.Div(id="compare-frame", className="map-frame explorer__frame compare-frame", hidden=True),
                ]),
                html.Div(className="explorer__tools", children=[
                    html.Button("Table view", id="table-toggle", className="button",
                                **{"aria-expanded": "false", "aria-controls": "table-view"}),
                    html.Button("Compare side by side", id="compare-toggle", className="button",
                                **{"aria-pressed": "false", "aria-controls": "compare-frame"}),
                    html.Div(id="compare-controls", className="compare-controls", hidden=True, children=[
                        html.Label("Right-hand map", htmlFor="compare-layer", className="field__label"),
                        dcc.Dropdown(id="compare-layer", clearable=False, className="dropdown compare-dropdown"),
                    ]),
                    html.Span("Click an area or point to see every layer's value there.", className="muted"),
                ]),
                html.Div(id="table-view", className="table-view", hidden=True),
                html.Div(export_menu.map_tools(state.to_search()), className="explorer__export"),
            ]),
            html.Aside(id="feature-panel", className="feature-panel", **{"aria-live": "polite",
                                                                          "aria-label": "Values at the clicked place"},
                       children=html.P("Click the map to see the values of every visible layer at that place, "
                                       "with where each number comes from.", className="muted")),
        ]),
    ])


def compare_options(specs: list[LayerSpec], titles: dict[str, str]) -> list[dict]:
    """The layers the right-hand map can show, labelled as the panel lists them."""
    options = []
    for spec in specs:
        label = titles.get(spec.dataset, spec.dataset)
        detail = " · ".join(x for x in (spec.variable, spec.step) if x)
        options.append({"label": f"{label} ({detail})" if detail else label, "value": spec.uid})
    return options


def compare_map(state_view, basemap: str, spec: LayerSpec, info, caption: str) -> list:
    """The right-hand map of the compare view: one layer, the same context, views kept in step."""
    lat, lon, zoom = state_view
    layer = drawn_layer("compare-canvas", "compare-geo", spec, info,
                        hideouts.pending(spec.uid + "-compare", canvas=info.canvas, geometry=canvas_geometry(spec, info)))
    return [
        html.P(caption, className="map-caption"),
        dl.Map(id="compare-map", center=[lat, lon], zoom=zoom, className="map explorer__map",
               style={"height": "100%", "minHeight": "420px"}, children=[
                   dl.LayerGroup(children=tile_layer(basemap)),
                   *context_panes(),
                   dl.GeoJSON(url="/geo/london-region/gpkg.pbf", format="geobuf", style=CONTEXT_STYLE,
                              hideout=hideouts.context("region"), interactive=False, pane=REGION_PANE),
                   layer,
                   dl.GeoJSON(url="/geo/thames/geojson.pbf", format="geobuf", style=CONTEXT_STYLE,
                              hideout=hideouts.context("thames"), interactive=False, pane=WATER_PANE),
                   dl.ScaleControl(position="bottomleft", imperial=False),
               ]),
    ]


def place_result(lat: float, lon: float, found: list) -> list:
    """What a click on the map found: for each visible layer the place's name, then its value with
    unit and meaning ("56.4 µg/m³ — above the UK objective of 40"), then every value and the source,
    folded. ``found`` holds (hit, entry, source card, unit, pollutant) per layer with a feature."""
    if not found:
        return [html.H2("Nothing here", className="feature-panel__title"),
                html.P("No visible layer has a feature at this place.", className="muted")]
    blocks = [html.H2("At this place", className="feature-panel__title")]
    # the layers with a value first: the boundaries a value sits in come after it
    for hit, entry, card, unit, pollutant in sorted(found, key=lambda f: not f[0].get("variable")):
        variable = hit.get("variable")
        value = hit.get("value")
        meant = meaning(pollutant or variable, value, unit) if variable else None
        rows = [html.Tr([html.Th(variable_label(k), scope="row"), html.Td(format_value(v), className="num")])
                for k, v in (hit.get("values") or {}).items()]
        blocks.append(html.Section(className="feature", children=[
            html.H3(hit.get("name") or entry.title, className="feature__name"),
            html.P([html.Strong(format_value(value, unit), className="feature__figure"),
                    f" — {meant}" if meant else None], className="feature__value") if variable else None,
            html.P(variable_label(variable), className="feature__variable") if variable else None,
            html.P([entry.title, f" · {hit['code']}" if hit.get("code") else ""], className="feature__layer"),
            html.Details([html.Summary("All values here"), html.Table(html.Tbody(rows), className="table")])
            if rows else None,
            html.Details([html.Summary("Where this comes from"), card], className="feature__source"),
        ]))
    blocks.append(html.P(f"Clicked at {lat:.5f}, {lon:.5f}", className="muted feature-panel__where"))
    return blocks
