"""Themed dashboards: the /themes index, one page per theme file, and map ↔ chart selection.

The pages' data is worked out by :mod:`explorer.themes.page_data` (charts, headline figures, map
layers, the places under a click, the figures of selected places) and drawn by
``layouts/theme_page.py``; the theme files are checked when the app starts
(:func:`explorer.themes.theme_check.checked_themes`). This module joins the two for the router
(:func:`index_page`, :func:`theme_page`, :func:`embedded_page`) and wires the page's callbacks.

A page's selection (places picked on the map, in a chart or with the borough picker) lives in the
``theme-selection`` store as a list of GSS codes. The picker, chart clicks and Clear set it in the
browser (``explorer.themeSelect`` in assets/theme_selection.js); a click on the map asks the server
which places lie under it (``page_data.map_pick``). Three things follow it: every chart is restyled
with those codes highlighted from the hints its traces carry (browser, ``explorer.themeHighlight``;
explorer/themes/charts.py draws the same highlight for exported images), every map layer outlines
them through its ``hideout`` (browser, ``explorer.theme.layerStyle`` in assets/theme_map.js), and
the "selected place" panel lists their figures (server). The map layers are the map explorer's:
the same layer info, geometry by URL as geobuf, classes, palettes and legends.
"""

from __future__ import annotations

from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from explorer.themes import page_data
from explorer.themes.theme_check import checked_themes
from explorer.themes.theme_files import Theme
from layouts import embed
from layouts import theme_page as view

TABLE_ROWS = 1000            # rows of a chart's "show data" table drawn at most
MAX_PLACES = 50              # selected places whose figures the place panel lists


# ================================================================================ pages
def index_page(services):
    """The /themes index: a card per theme file with two headline figures, then the registry's
    own theme tags."""
    cards = [view.theme_card(theme, figures) for theme, figures in page_data.dashboards(services)]
    return view.index_page(cards, services.registry.facet_totals().get("theme", []))


def theme_page(services, slug: str, chart: str | None = None):
    """(page, title) for a theme file, or None when no theme file has this slug. ``chart`` (a
    permalink's ``?chart=<id>``) scrolls the page to that chart."""
    built = build_theme_page(services, slug, chart)
    return None if built is None else built[:2]


def build_theme_page(services, slug: str, chart: str | None = None):
    """(page, title, complete) for a theme file, or None when no theme file has this slug;
    ``complete`` is False when a part could not be drawn (``page_data.ThemePage``)."""
    data = page_data.theme_page(services, slug, chart)
    if data is None:
        return None
    page = view.theme_page(data.theme, data.headlines, data.headline_entries, data.layers, data.charts,
                           data.boroughs, focus=data.focus)
    return page, f"{data.theme.title} – Themes – London Data Explorer", data.complete


def embedded_page(services, slug: str, chart_id: str):
    """One theme chart alone, for other pages (``/themes/<slug>?chart=<id>&embed=1``)."""
    from explorer.export.chart_image import ExportNotFound, find_chart

    try:
        theme, spec = find_chart(slug, chart_id, list(page_data.themes_of(services).values()))
    except ExportNotFound as exc:
        return embed.embed_error(exc.reason)
    return embed.embedded_chart(theme, spec, page_data.embedded_chart(services, theme, spec))


# ================================================================================ callbacks
def register(app, services) -> None:
    services.themes = {t.slug: t for t in checked_themes(services)}

    def theme_for(slug) -> Theme:
        theme = page_data.themes_of(services).get(slug or "")
        if theme is None:
            raise PreventUpdate
        return theme

    # Picker, chart click or box/lasso selection, clear → the page's selection, in the browser ----
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="themeSelect"),
        Output("theme-selection", "data", allow_duplicate=True),
        Output("theme-picker", "value", allow_duplicate=True),
        Input("theme-picker", "value"),
        Input({"type": "theme-chart", "index": ALL}, "clickData"),
        Input({"type": "theme-chart", "index": ALL}, "selectedData"),
        Input("theme-clear", "n_clicks"),
        State("theme-selection", "data"),
        State("theme-picker", "options"),
        prevent_initial_call=True,
    )

    # A click on the map → the places under it (the server hit-tests the layers) ----------------
    @app.callback(
        Output("theme-selection", "data", allow_duplicate=True),
        Output("theme-picker", "value", allow_duplicate=True),
        Input("theme-map", "clickData"),
        State("theme-layers", "data"),
        State({"type": "theme-layer-visible", "index": ALL}, "value"),
        State({"type": "theme-layer-visible", "index": ALL}, "id"),
        State("theme-slug", "data"),
        prevent_initial_call=True,
    )
    def select(map_click, layers_meta, visible_values, visible_ids, slug):
        theme_for(slug)
        latlng = (map_click or {}).get("latlng")
        if not latlng:
            raise PreventUpdate
        lat, lon = (latlng["lat"], latlng["lng"]) if isinstance(latlng, dict) else latlng
        shown = page_data.visible_layers(layers_meta, visible_values, visible_ids)
        picked_place = page_data.map_pick(services, shown, lat, lon)
        borough = next((c for c in picked_place["codes"] if c.startswith("E09")), None)
        if picked_place.get("codes"):
            map_codes, focus = page_data.map_focus(services, layers_meta, picked_place["codes"],
                                                   picked_place.get("names") or {})
            picked_place = dict(picked_place, map_codes=map_codes, focus=focus)
        return picked_place, borough

    # Every chart highlights the selection: its traces restyled in the browser -----------------
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="themeHighlight"),
        Output({"type": "theme-chart", "index": ALL}, "figure"),
        Input("theme-selection", "data"),
        State({"type": "theme-chart", "index": ALL}, "figure"),
        prevent_initial_call=True,
    )

    # The selected place's figures ------------------------------------------------------------
    @app.callback(
        Output("theme-place", "children"),
        Output("theme-status", "children"),
        Input("theme-selection", "data"),
        State("theme-slug", "data"),
        prevent_initial_call=True,
    )
    def show_place(selection, slug):
        theme = theme_for(slug)
        selection = selection or {}
        codes = selection.get("codes") or []
        figures = page_data.place_figures(services, theme, codes) if codes and len(codes) <= MAX_PLACES else []
        return view.place_panel(selection, figures), view.status_text(selection)

    # Map layers follow the selection and their visibility switches (in the browser) ------------
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="themeMapStyles"),
        Output({"type": "theme-geo", "index": ALL}, "hideout"),
        Input("theme-selection", "data"),
        Input({"type": "theme-layer-visible", "index": ALL}, "value"),
        State({"type": "theme-layer-visible", "index": ALL}, "id"),
        State({"type": "theme-geo", "index": ALL}, "hideout"),
        State({"type": "theme-geo", "index": ALL}, "id"),
        prevent_initial_call=True,
    )

    # A permalink to one chart (?chart=<id>, as the export links copy) opens the page at it, and
    # keeps it there while the charts above are drawn (assets/theme_focus.js) -------------------
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="themeOpenAt"),
        Output("theme-focus", "id"),
        Input("theme-focus", "data"),
    )

    # "Show data": the table behind a chart, drawn when first opened ----------------------------
    @app.callback(
        Output({"type": "theme-table", "index": MATCH}, "children"),
        Output({"type": "theme-table", "index": MATCH}, "hidden"),
        Output({"type": "theme-table-toggle", "index": MATCH}, "aria-expanded"),
        Output({"type": "theme-table-toggle", "index": MATCH}, "children"),
        Input({"type": "theme-table-toggle", "index": MATCH}, "n_clicks"),
        State({"type": "theme-table", "index": MATCH}, "hidden"),
        State({"type": "theme-table", "index": MATCH}, "id"),
        State("theme-slug", "data"),
        prevent_initial_call=True,
    )
    def toggle_table(_clicks, hidden, table_id, slug):
        theme = theme_for(slug)
        if hidden is False:
            return no_update, True, "false", view.SHOW_DATA
        spec = theme.chart(table_id["index"])
        if spec is None:
            raise PreventUpdate
        result = page_data.chart_table(services, theme, spec)
        return view.data_table(spec, result, TABLE_ROWS), False, "true", view.HIDE_DATA
