"""Export menu callbacks, in the browser (assets/export_links.js, assets/pages.js): image links
follow the chosen size preset and, on the map, the map's permalink; ``?embed=1`` hides the app's
chrome. "Copy link" copies the view's short link (``<base>/l/<code>``): that one callback runs on
the server, where the link store is."""

from __future__ import annotations

from dash import MATCH, ClientsideFunction, Input, Output, State, no_update

from explorer.export.sizes import FORMATS
from explorer.maps.shortlinks import link_for


def short_link(settings, target: str | None) -> str:
    """The short link for a view of this app, on the address the browser used (or the public one)."""
    from flask import request

    base = getattr(settings, "public_url", "") or request.host_url
    return link_for(settings, base, target or "/map")


def register(app, services) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="chartExportLinks"),
        [Output({"type": "export-image", "index": MATCH, "fmt": fmt}, "href") for fmt in FORMATS],
        Input({"type": "export-preset", "index": MATCH}, "value"),
        State({"type": "export-target", "index": MATCH}, "data"),
    )

    @app.callback(
        Output({"type": "export-copy", "index": MATCH}, "content"),
        Input({"type": "export-copy", "index": MATCH}, "n_clicks"),
        State({"type": "export-target", "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def copy_chart_link(_n, target):
        if not target or not target.get("permalink"):
            return no_update
        return short_link(services.settings, target["permalink"])

    # the map's images and data follow its permalink (the map-url store), in the browser
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="mapExportLinks"),
        [Output({"type": "map-export-image", "fmt": fmt}, "href") for fmt in FORMATS]
        + [Output("map-export-data", "href")],
        Input("map-url", "data"),
        Input("map-export-preset", "value"),
    )

    @app.callback(
        Output("map-export-copy", "content"),
        Input("map-export-copy", "n_clicks"),
        State("map-url", "data"),
        prevent_initial_call=True,
    )
    def copy_map_link(_n, search):
        return short_link(services.settings, "/map" + (search or ""))

    # ?embed=1: no header, footer or panels (assets/pages.js)
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="embedMode"),
        Output("embed-mode", "data"),
        Input("url", "search"),
    )
