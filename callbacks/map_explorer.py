"""Map explorer callbacks.

Structure changes (add, remove, reorder) re-render the layer cards and the map's data layers.
Style changes go through one MATCH callback per layer that returns only class breaks and colours
(a restyle moves a few hundred bytes); the values of a variable travel once, into a per-layer store,
and a clientside callback merges values and style into the GeoJSON's ``hideout``. The geometry is
fetched once by URL and never sent again.

Many visitors send the same requests: the default map, the same search words, the same layer added
to the same map. Those answers (:func:`served_explorer_page`, the layer search, adding, removing
and moving a layer) are kept on the app as the JSON text Dash sends
(``callbacks/_dataset_answers.py``: ``kept_answer``), keyed by the request and by everything else
they depend on (``entries_version``): never for a layer that is not open, never an answer in
which a layer could not be drawn (it is worked out again next time).
"""

from __future__ import annotations

import logging
import re

from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from explorer.geo.joins import DatasetError
from explorer.labels.variables import period_label, variable_label
from explorer.maps.layer_look import layer_info_safe
from explorer.maps.layer_look import style_for as _style_for
from explorer.maps.layers import BASEMAPS, DEFAULT_VIEW, MAX_LAYERS, LayerSpec, MapState
from layouts import map_explorer as view
from layouts.components import notice, source_card

from ._dataset_answers import entries_version, kept_answer

log = logging.getLogger(__name__)


def palette_options() -> list[dict]:
    from explorer.maps.palettes import AUTO, PALETTES
    return [{"label": "By kind of data", "value": AUTO}] + [
        {"label": p.label + ("" if p.cvd_safe else " (not colour-blind safe)"), "value": name}
        for name, p in PALETTES.items()]


def layer_look(services, meta: dict, variable, time_index, category, method, classes, palette):
    """(values store, style, legend) of one layer as its controls say. Values always line up with
    the layer's own geometry (feature order ``_i``): its own resource with the step; values_payload
    matches another year's file by area code."""
    from explorer.maps.time_steps import TimeStep
    from explorer.maps.values import values_payload

    steps = meta.get("steps") or []
    step = None
    if steps and isinstance(time_index, int) and 0 <= time_index < len(steps):
        step = TimeStep(**steps[time_index])
    filters = dict(meta.get("filter") or {})
    series = meta.get("series") or {}
    if category and series.get("category"):
        filters[series["category"]] = category
    resource = meta["resource"]
    values = None
    if variable or series.get("value"):
        try:
            values = values_payload(services.data, meta["dataset"], resource, variable or series.get("value"),
                                    step=step, filters=filters or None)
        except (DatasetError, KeyError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, DatasetError) else str(exc)
            return None, None, notice(f"These values could not be loaded: {reason}", "error")
    if series and not variable:
        variable = series.get("value")
    style = _style_for(services, dict(meta, filter=filters), variable, method, classes, palette,
                       _all_years(services, meta, variable or series.get("value"), resource, steps, filters, values)
                       if step is not None and values is not None else values)
    if step is not None and values is not None and style.get("mode") == "classes":
        style["no_data"] = sum(1 for v in values if v is None)      # this year's, not all years'
    label = variable_label(step_label(variable, step) if step is not None else variable, meta.get("labels"))
    return ({"values": values, "resource": resource}, style,
            view.legend(style, meta.get("unit"), label, meta.get("kind") or ""))


def _all_years(services, meta: dict, variable, resource, steps: list[dict], filters: dict, shown: list) -> list:
    """Every year's values of a layer, pooled for its class breaks (``values_of_every_step``, which
    the exported map images use too); this year's when none can be read."""
    from explorer.maps.values import values_of_every_step

    return values_of_every_step(services.data, meta["dataset"], resource, variable, steps, filters) or shown


def first_look(services, spec: LayerSpec, info) -> tuple:
    """A layer's look as its card first shows it, so the first paint is coloured without waiting
    for a callback round trip."""
    meta = view.layer_meta(spec, info)
    controls = view.initial_controls(spec, info)
    return layer_look(services, meta, controls["variable"], controls["time_index"], controls["category"],
                      controls["method"], controls["classes"], controls["palette"])


def build_cards(services, specs: list[LayerSpec]):
    registry = services.registry
    palettes = palette_options()
    infos = []
    cards = []
    for position, spec in enumerate(specs):
        info, error = layer_info_safe(services, spec)
        if info is not None and spec.resource is None:
            spec.resource = info.resource_id
        if info is not None and spec.variable is None and info.kind == "polygons" and info.default_variable \
                and "boundaries" not in (registry.get(spec.dataset).themes if registry.get(spec.dataset) else []):
            spec.variable = info.default_variable
        look = first_look(services, spec, info) if error is None and info is not None else None
        infos.append((spec, None if error else info, look))
        cards.append(view.layer_card(spec, info, registry.get(spec.dataset), position, len(specs),
                                     palettes, error, look))
    return cards, infos


# the app's memo tables of answers every visitor is sent alike: (name, how many kept)
PAGES = ("map.pages", 32)
SEARCHES = ("map.layer-searches", 128)
STRUCTURES = ("map.layer-changes", 64)


def _all_drawn(infos) -> bool:
    """Every layer of a built map has its description and its look (no error on its card)."""
    return all(info is not None and look is not None and look[1] is not None for _spec, info, look in infos)


def served_explorer_page(services, search: str | None):
    """The map page of an address, for the router: :func:`explorer_page`, kept (as JSON text) for
    the next visitor of the same address while nothing it depends on changes. The same address
    gives the same page, its layers' ids included, so the answers to what visitors do next on it
    (add a layer) are the same too."""
    from explorer.maps.layers import parse_state

    state = parse_state(search, lambda d: services.registry.get(d) is not None)
    drawn = []

    def compute():
        page, infos = _explorer_page(services, state)
        drawn.append(_all_drawn(infos))
        return (page,)

    return kept_answer(services, PAGES, entries_version(services, [s.dataset for s in state.layers]),
                       ("page", search or ""), compute, lambda _outputs: all(drawn))[0]


def explorer_page(services, search: str | None):
    """The map page of an address (``?layer=…&view=…``) as a component tree."""
    from explorer.maps.layers import parse_state

    return _explorer_page(services, parse_state(search, lambda d: services.registry.get(d) is not None))[0]


def _explorer_page(services, state):
    """(page, layers built) of a map state read from an address."""
    # a variable the layer does not have (a stale or mistyped link): said, as the README promises
    for spec in state.layers:
        info, error = layer_info_safe(services, spec)
        if spec.variable and info is not None and not error and spec.variable not in info.variables:
            entry = services.registry.get(spec.dataset)
            state.notices.append(f"“{entry.title if entry else spec.dataset}” has no variable "
                                 f"“{spec.variable[:60]}”; it is shown with its own first variable.")
            spec.variable = None
    cards, infos = build_cards(services, state.layers)
    basemaps = [{"label": b["label"], "value": k} for k, b in BASEMAPS.items()]
    return view.explorer_page(state, cards, infos, basemaps), infos


def _titles(registry, specs: list[LayerSpec]) -> dict[str, str]:
    return {s.dataset: (registry.get(s.dataset).title if registry.get(s.dataset) else s.dataset) for s in specs}


def _specs(state: dict) -> list[LayerSpec]:
    return [LayerSpec.from_dict(d) for d in (state or {}).get("layers", [])]


def register(app, services) -> None:
    registry = services.registry
    data = services.data

    # Search inside the layer panel --------------------------------------------------------
    @app.callback(Output("layer-search-results", "children"), Input("layer-search", "value"),
                  prevent_initial_call=True)
    def search_layers(query):
        if not query or len(query.strip()) < 2:
            return []
        # the same words give the same list to everyone (the search knows nobody): kept by the
        # registry's version, and whether its full index is built yet (until then, FTS5 ranks)
        version = (registry.version, registry.lexical_ready(timeout=0))
        return kept_answer(services, SEARCHES, version, ("search", query), lambda: (layer_search_items(query),),
                           lambda _outputs: True)[0]

    def layer_search_items(query):
        from explorer.maps.layers import SPATIAL_GEOGRAPHIES

        results = registry.search(query, limit=40)
        items = []
        for hit in results.hits:
            entry = hit.entry
            if entry.smallest_geography not in SPATIAL_GEOGRAPHIES:
                continue
            items.append(html.Li(html.Button(
                [html.Span(entry.title, className="layer-search-results__title"),
                 html.Span(entry.publisher, className="muted")],
                id={"type": "add-layer", "index": entry.id}, className="layer-search-results__button",
                title=f"Add {entry.title} to the map")))
            if len(items) >= 8:
                break
        if not items:
            return [html.Li("No mappable datasets match.", className="muted")]
        return items

    # Add, remove, reorder -------------------------------------------------------------------
    @app.callback(
        Output("map-state", "data", allow_duplicate=True),
        Output("layer-cards", "children"),
        Output("data-layers", "children"),
        Output("layer-add-notice", "children"),
        Output("compare-layer", "options", allow_duplicate=True),
        Output("compare-layer", "value", allow_duplicate=True),
        Input({"type": "add-layer", "index": ALL}, "n_clicks"),
        Input({"type": "layer-remove", "index": ALL}, "n_clicks"),
        Input({"type": "layer-up", "index": ALL}, "n_clicks"),
        Input({"type": "layer-down", "index": ALL}, "n_clicks"),
        State("map-state", "data"),
        State("compare-state", "data"),
        prevent_initial_call=True,
    )
    def change_structure(_add, _remove, _up, _down, state, compare_state):
        trigger = ctx.triggered_id
        if not trigger or not any(t["value"] for t in ctx.triggered):
            raise PreventUpdate
        kind, key = trigger["type"], trigger["index"]
        datasets = [s.dataset for s in _specs(state)] + ([key] if kind == "add-layer" else [])
        drawn = []

        def compute():
            outputs, infos = change(kind, key, state, compare_state)
            drawn.append(outputs[0] is not no_update and _all_drawn(infos))
            return outputs

        return kept_answer(services, STRUCTURES, entries_version(services, datasets),
                           ("change", kind, key, state, compare_state), compute, lambda _outputs: all(drawn))

    def change(kind, key, state, compare_state):
        """(outputs, the layers built) of a structure change."""
        specs = _specs(state)
        message = None
        if kind == "add-layer":
            if len(specs) >= MAX_LAYERS:
                message = notice(f"At most {MAX_LAYERS} layers: remove one first.", "warning")
                return (no_update, no_update, no_update, message, no_update, no_update), []
            spec = LayerSpec(dataset=key)
            info, error = layer_info_safe(services, spec)
            if error:
                entry = registry.get(key)
                title = entry.title if entry else key
                return (no_update, no_update, no_update, notice(
                    [html.Strong(f"“{title}” cannot be mapped. "), error], "warning"), no_update, no_update), []
            specs.insert(0, spec)
            message = notice(f"Added “{registry.get(key).title}”.", "info")
        else:
            index = next((i for i, s in enumerate(specs) if s.uid == key), None)
            if index is None:
                raise PreventUpdate
            if kind == "layer-remove":
                removed = specs.pop(index)
                entry = registry.get(removed.dataset)
                message = notice(f"Removed “{entry.title if entry else removed.dataset}”.", "info")
            elif kind == "layer-up" and index > 0:
                specs[index - 1], specs[index] = specs[index], specs[index - 1]
            elif kind == "layer-down" and index < len(specs) - 1:
                specs[index + 1], specs[index] = specs[index], specs[index + 1]
            else:
                raise PreventUpdate
        cards, infos = build_cards(services, specs)
        new_state = dict(state or {}, layers=[s.to_dict() for s in specs])
        # An open compare view offers the new list; if its layer was removed it shows another.
        options, value = no_update, no_update
        if (compare_state or {}).get("on"):
            options = view.compare_options(specs, _titles(registry, specs))
            if compare_state.get("uid") not in {o["value"] for o in options}:
                value = options[0]["value"] if options else None
        return (new_state, cards, view.data_layers(infos), message, options, value), infos

    # One layer's variable, time step and classes ----------------------------------------------
    # The first render carries each layer's values, style and legend (build_cards), so this runs
    # only on a change. A class or palette change sends the values back down as no_update: the
    # server takes them from its memo, the browser keeps its copy, only breaks and colours travel.
    @app.callback(
        Output({"type": "layer-values", "index": MATCH}, "data"),
        Output({"type": "layer-style", "index": MATCH}, "data"),
        Output({"type": "layer-legend", "index": MATCH}, "children"),
        Input({"type": "layer-variable", "index": MATCH}, "value"),
        Input({"type": "layer-time", "index": MATCH}, "value"),
        Input({"type": "layer-category", "index": MATCH}, "value"),
        Input({"type": "layer-method", "index": MATCH}, "value"),
        Input({"type": "layer-classes", "index": MATCH}, "value"),
        Input({"type": "layer-palette", "index": MATCH}, "value"),
        State({"type": "layer-meta", "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def restyle(variable, time_index, category, method, classes, palette, meta):
        if not meta:
            raise PreventUpdate
        triggered = {t["prop_id"].split(".")[0] for t in ctx.triggered} if ctx.triggered else set()
        style_only = bool(triggered) and all('"layer-method"' in t or '"layer-classes"' in t
                                              or '"layer-palette"' in t for t in triggered)
        values_out, style, legend = layer_look(services, meta, variable, time_index, category, method,
                                               classes, palette)
        return (no_update if style_only and style is not None else values_out), style, legend

    # Merge values + style + opacity + visibility into hideout, in the browser -----------------
    # In the compare view the layer on the right-hand map is hidden on the left one.
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="layerHideout"),
        Output({"type": "layer-geo", "index": MATCH}, "hideout"),
        Input({"type": "layer-values", "index": MATCH}, "data"),
        Input({"type": "layer-style", "index": MATCH}, "data"),
        Input({"type": "layer-opacity", "index": MATCH}, "value"),
        Input({"type": "layer-visible", "index": MATCH}, "value"),
        Input("compare-state", "data"),
        State({"type": "layer-meta", "index": MATCH}, "data"),
        State({"type": "layer-geo", "index": MATCH}, "id"),
    )

    # The top visible classed layer's legend, on the map at every width ----------------------------------
    @app.callback(
        Output("map-legend", "children"),
        Input({"type": "layer-style", "index": ALL}, "data"),
        Input({"type": "layer-visible", "index": ALL}, "value"),
        State({"type": "layer-meta", "index": ALL}, "data"),
        State({"type": "layer-variable", "index": ALL}, "value"),
    )
    def map_legend(styles, visibles, metas, variables):
        def registry_title(dataset_id):
            entry = registry.get(dataset_id) if dataset_id else None
            return entry.title if entry else ""

        for style, visible, meta, variable in zip(styles, visibles, metas, variables):
            if style and visible and style.get("mode") == "classes":
                legend = view.legend(style, (meta or {}).get("unit"),
                                     variable_label(variable, (meta or {}).get("labels"))
                                     or registry_title((meta or {}).get("dataset")),
                                     (meta or {}).get("kind") or "")
                if (meta or {}).get("approximate"):   # e.g. wards approximated from LSOAs
                    note = html.P("Boundaries approximate: see the layer's card.", className="legend__note")
                    legend = [*legend, note] if isinstance(legend, list) else [legend, note]
                return legend
        return []

    # Compare: the right-hand map shows one layer, styled exactly as the panel says -------------
    @app.callback(
        Output("compare-state", "data"),
        Output("compare-frame", "children"),
        Output("compare-frame", "hidden"),
        Output("compare-controls", "hidden"),
        Output("compare-layer", "options"),
        Output("compare-layer", "value"),
        Output("compare-toggle", "children"),
        Output("compare-toggle", "aria-pressed"),
        Output("explorer-maps", "className"),
        Output("main-map-caption", "children"),
        Output("main-map-caption", "hidden"),
        Input("compare-toggle", "n_clicks"),
        Input("compare-layer", "value"),
        State("compare-state", "data"),
        State("map-state", "data"),
        prevent_initial_call=True,
    )
    def compare(_clicks, chosen, current, state):
        current = current or {}
        specs = _specs(state)
        on = bool(current.get("on"))
        if ctx.triggered_id == "compare-toggle":
            on = not on
        closed = ({"on": False, "uid": None}, [], True, True, no_update, no_update, "Compare side by side",
                  "false", "explorer__maps", "", True)
        if not on:
            return closed
        options = view.compare_options(specs, _titles(registry, specs))
        uids = [o["value"] for o in options]
        uid = chosen if ctx.triggered_id == "compare-layer" and chosen in uids else current.get("uid")
        if uid not in uids:
            with_values = [s.uid for s in specs if s.variable]
            uid = with_values[0] if with_values else (uids[0] if uids else None)
        if uid is None:
            return closed[:3] + (False, [], None, "Close compare", "true", "explorer__maps", "", True)
        spec = next(s for s in specs if s.uid == uid)
        info, error = layer_info_safe(services, spec)
        label = next(o["label"] for o in options if o["value"] == uid)
        if error or info is None:
            frame = [notice(f"{label} cannot be shown: {error or 'not mappable'}", "error")]
        else:
            frame = view.compare_map(tuple((state or {}).get("view") or DEFAULT_VIEW),
                                     (state or {}).get("basemap") or "light", spec, info, f"Right: {label}")
        others = [o["label"] for o in options if o["value"] != uid
                  and not next(s for s in specs if s.uid == o["value"]).hidden]
        caption = "Left: " + ("; ".join(others) if others else "no other visible layer")
        return ({"on": True, "uid": uid}, frame, False, False, options, uid, "Close compare", "true",
                "explorer__maps explorer__maps--compare", caption, False)

    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="compareHideout"),
        Output("compare-geo", "hideout"),
        Input({"type": "layer-geo", "index": ALL}, "hideout"),
        Input("compare-state", "data"),
        Input("compare-geo", "url"),  # fires when the right-hand map appears
        State({"type": "layer-geo", "index": ALL}, "id"),
    )

    # The left map changes width when the compare view opens or closes: Leaflet must measure it
    # again after the browser has laid the page out, keeping its centre.
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="remeasure"),
        Output("explorer-map", "invalidateSize"),
        Input("compare-state", "data"),
        prevent_initial_call=True,
    )

    # The two maps move together: each follows the other unless it is already there.
    sync = ClientsideFunction(namespace="explorer", function_name="followView")
    app.clientside_callback(sync, Output("compare-map", "viewport"),
                            Input("explorer-map", "center"), Input("explorer-map", "zoom"),
                            State("compare-map", "center"), State("compare-map", "zoom"))
    app.clientside_callback(sync, Output("explorer-map", "viewport"),
                            Input("compare-map", "center"), Input("compare-map", "zoom"),
                            State("explorer-map", "center"), State("explorer-map", "zoom"),
                            prevent_initial_call=True)

    # The year shown beside the slider ------------------------------------------------------------
    @app.callback(
        Output({"type": "layer-time-value", "index": MATCH}, "children"),
        Input({"type": "layer-time", "index": MATCH}, "value"),
        State({"type": "layer-meta", "index": MATCH}, "data"),
    )
    def show_step(index, meta):
        steps = (meta or {}).get("steps") or []
        if not isinstance(index, int) or not 0 <= index < len(steps):
            raise PreventUpdate
        return period_label(steps[index]["label"])

    # Play through the years -------------------------------------------------------------------
    @app.callback(
        Output({"type": "layer-tick", "index": MATCH}, "disabled"),
        Output({"type": "layer-play", "index": MATCH}, "children"),
        Output({"type": "layer-time", "index": MATCH}, "value", allow_duplicate=True),
        Input({"type": "layer-play", "index": MATCH}, "n_clicks"),
        Input({"type": "layer-tick", "index": MATCH}, "n_intervals"),
        State({"type": "layer-tick", "index": MATCH}, "disabled"),
        State({"type": "layer-time", "index": MATCH}, "value"),
        State({"type": "layer-meta", "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def play(_clicks, _ticks, disabled, index, meta):
        last = len((meta or {}).get("steps") or []) - 1
        trigger = ctx.triggered_id or {}
        if trigger.get("type") == "layer-play":
            if disabled:  # start: from the beginning when at the end
                start = 0 if index is None or index >= last else index
                return False, "❚❚ Pause", start
            return True, "▶ Play", no_update
        if disabled or index is None:
            raise PreventUpdate
        if index >= last:
            return True, "▶ Play", no_update
        return no_update, no_update, index + 1

    # Basemap ------------------------------------------------------------------------------------
    @app.callback(Output("basemap-group", "children"), Input("basemap", "value"), prevent_initial_call=True)
    def change_basemap(basemap):
        return view.tile_layer(basemap)

    # Keep the address in step with the map ------------------------------------------------------------
    # The server writes the permalink's query (one encoder: MapState.to_search) into the page's
    # map-url store; the browser puts it in the address bar in place (history.replaceState,
    # explorer.showMapAddress in assets/map_explorer.js). dcc.Location is not told, so a restyle,
    # a pan or a new layer never wakes the router, and the Back button leaves the map, not a style.
    @app.callback(
        Output("map-url", "data"),
        Output("map-state", "data", allow_duplicate=True),
        Input({"type": "layer-variable", "index": ALL}, "value"),
        Input({"type": "layer-method", "index": ALL}, "value"),
        Input({"type": "layer-classes", "index": ALL}, "value"),
        Input({"type": "layer-palette", "index": ALL}, "value"),
        Input({"type": "layer-opacity", "index": ALL}, "value"),
        Input({"type": "layer-visible", "index": ALL}, "value"),
        Input({"type": "layer-time", "index": ALL}, "value"),
        Input({"type": "layer-category", "index": ALL}, "value"),
        Input("basemap", "value"),
        Input("explorer-map", "zoom"),
        Input("explorer-map", "center"),
        State({"type": "layer-meta", "index": ALL}, "data"),
        State({"type": "layer-meta", "index": ALL}, "id"),
        State("map-state", "data"),
        prevent_initial_call=True,
    )
    def sync_url(variables, methods, classes, palettes, opacities, visibles, times, categories,
                 basemap, zoom, center, metas, meta_ids, state):
        specs = {s.uid: s for s in _specs(state)}
        order = [s.uid for s in _specs(state)]
        by_uid = {}
        for i, mid in enumerate(meta_ids):
            uid = mid["index"]
            spec = specs.get(uid)
            if spec is None:
                continue
            meta = metas[i] or {}
            spec.variable = variables[i] or None if i < len(variables) else spec.variable
            spec.method = methods[i] or spec.method if i < len(methods) else spec.method
            spec.classes = int(classes[i] or spec.classes) if i < len(classes) else spec.classes
            spec.palette = palettes[i] or spec.palette if i < len(palettes) else spec.palette
            spec.opacity = int(opacities[i]) if i < len(opacities) and opacities[i] is not None else spec.opacity
            spec.hidden = not visibles[i] if i < len(visibles) else spec.hidden
            steps = meta.get("steps") or []
            if i < len(times) and isinstance(times[i], int) and steps and 0 <= times[i] < len(steps):
                spec.step = steps[times[i]]["label"]
            series = meta.get("series") or {}
            if i < len(categories) and categories[i] and series.get("category"):
                spec.filter = dict(spec.filter, **{series["category"]: categories[i]})
            by_uid[uid] = spec
        layers = [by_uid.get(uid, specs[uid]) for uid in order]
        view_tuple = tuple((state or {}).get("view") or DEFAULT_VIEW)
        if center and zoom is not None:
            lat, lon = (center["lat"], center["lng"]) if isinstance(center, dict) else center
            view_tuple = (lat, lon, zoom)
        map_state = MapState(layers=layers, basemap=basemap or "light", view=view_tuple)
        new_state = dict(state or {}, layers=[s.to_dict() for s in layers], basemap=map_state.basemap,
                         view=list(view_tuple))
        return map_state.to_search(), new_state

    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="showMapAddress"),
        Output("map-url", "id"),
        Input("map-url", "data"),
    )

    # Click: every visible layer's value at that place -------------------------------------------------
    @app.callback(
        Output("feature-panel", "children"),
        Input("explorer-map", "clickData"),
        State("map-state", "data"),
        prevent_initial_call=True,
    )
    def feature_panel(click, state):
        if not click or "latlng" not in click:
            raise PreventUpdate
        latlng = click["latlng"]
        lat, lon = (latlng["lat"], latlng["lng"]) if isinstance(latlng, dict) else latlng
        specs = [s for s in _specs(state) if not s.hidden]
        layers = [(s.dataset, s.resource, s.variable) for s in specs]
        try:
            from explorer.maps.hit_test import features_at

            hits = features_at(data, layers, lon, lat)
        except Exception:  # noqa: BLE001
            log.exception("features_at failed")
            return notice("The values at this place could not be read.", "error")
        units = {}
        for spec in specs:
            info, _error = layer_info_safe(services, spec)
            if info is not None:
                units[(spec.dataset, spec.resource or info.resource_id)] = (info.unit, info.pollutant)
                units.setdefault((spec.dataset, None), (info.unit, info.pollutant))
        found = []
        for hit in hits:
            entry = registry.get(hit["dataset_id"])
            if entry is None:
                continue
            try:
                loaded = data.load(hit["dataset_id"], hit.get("resource_id"))
                summary = loaded.summary()
                card = source_card(entry, summary["provenance"], summary["geography"], heading="Source")
            except DatasetError:
                card = source_card(entry, heading="Source")
            unit, pollutant = units.get((hit["dataset_id"], hit.get("resource_id")),
                                        units.get((hit["dataset_id"], None), (None, None)))
            found.append((hit, entry, card, unit, pollutant))
        return view.place_result(lat, lon, found)

    # Table view: the top visible layer's values, for keyboards and screen readers ---------------------
    @app.callback(
        Output("table-view", "children"),
        Output("table-view", "hidden"),
        Output("table-toggle", "aria-expanded"),
        Output("table-toggle", "children"),
        Input("table-toggle", "n_clicks"),
        State("table-view", "hidden"),
        State("map-state", "data"),
        State({"type": "layer-values", "index": ALL}, "data"),
        State({"type": "layer-values", "index": ALL}, "id"),
        prevent_initial_call=True,
    )
    def table_view(_clicks, hidden, state, values, ids):
        if not hidden:
            return [], True, "false", "Table view"
        specs = [s for s in _specs(state) if not s.hidden]
        values_by_uid = {i["index"]: v for i, v in zip(ids, values)}
        for spec in specs:
            payload = values_by_uid.get(spec.uid) or {}
            if not payload.get("values"):
                continue
            try:
                from explorer.maps.values import layer_table

                table = layer_table(data, spec.dataset, payload.get("resource") or spec.resource,
                                    payload["values"])
            except (DatasetError, AttributeError, KeyError):
                continue
            entry = registry.get(spec.dataset)
            return [view_table(entry.title if entry else spec.dataset, spec.variable, table)], False, "true", \
                "Hide table"
        return [html.P("No visible layer has values to list. Choose a variable for a layer.")], False, "true", \
            "Hide table"


def step_label(variable: str | None, step) -> str:
    """The legend title for a year: NO2-2019-mean shown for 2013 reads NO2-2013-mean."""
    if not variable:
        return step.label
    years = re.findall(r"(?<!\d)(?:19|20)\d\d(?!\d)", variable)
    if len(years) == 1 and step.year is not None:
        return variable.replace(years[0], str(step.year))
    return f"{variable_label(variable)}, {period_label(step.label)}"


def _fmt(value) -> str:
    if value is None:
        return "no data"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def view_table(title: str, variable: str | None, table) -> html.Div:
    rows = [html.Tr([html.Td(str(r.name or "")), html.Td(str(r.code or "")), html.Td(_fmt(r.value), className="num")])
            for r in table.itertuples(index=False)]
    return html.Div(className="table-scroll table-scroll--tall", tabIndex="0", role="region",
                    **{"aria-label": f"Values of {title}"}, children=[
        html.Table(className="table table--data", children=[
            html.Caption(f"{title}: {variable or 'value'} for {len(rows):,} areas, highest first"),
            html.Thead(html.Tr([html.Th("Name", scope="col"), html.Th("Code", scope="col"),
                                html.Th(variable or "Value", scope="col")])),
            html.Tbody(rows),
        ]),
    ])
