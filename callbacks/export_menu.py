"""Export menu callbacks (all in the browser): image links follow the chosen size preset and, on
the map, the map's URL; ``?embed=1`` hides the app's chrome. "Copy link" copies the view's short
link (``<base>/l/<code>``): that one callback runs on the server, where the link store is."""

from __future__ import annotations

from dash import MATCH, Input, Output, State, no_update

from explorer.export.sizes import FORMATS
from explorer.maps.shortlinks import link_for


def short_link(settings, target: str | None) -> str:
    """The short link for a view of this app, on the address the browser used (or the public one)."""
    from flask import request

    base = getattr(settings, "public_url", "") or request.host_url
    return link_for(settings, base, target or "/map")


def register(app, services) -> None:
    app.clientside_callback(
        """function(preset, target) {
            if (!target) { return window.dash_clientside.no_update; }
            var base = "/export/chart/" + encodeURIComponent(target.theme) + "/" + encodeURIComponent(target.chart);
            var q = "?preset=" + encodeURIComponent(preset || "a4");
            return [base + ".png" + q, base + ".svg" + q, base + ".pdf" + q];
        }""",
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

    app.clientside_callback(
        """function(search, preset) {
            var query = (search || "").replace(/^\\?/, "");
            var size = "preset=" + encodeURIComponent(preset || "a4");
            var q = "?" + (query ? query + "&" : "") + size;
            return ["/export/map.png" + q, "/export/map.svg" + q, "/export/map.pdf" + q,
                    "/download/layer.zip" + (query ? "?" + query : "")];
        }""",
        [Output({"type": "map-export-image", "fmt": fmt}, "href") for fmt in FORMATS]
        + [Output("map-export-data", "href")],
        Input("url", "search"),
        Input("map-export-preset", "value"),
    )

    @app.callback(
        Output("map-export-copy", "content"),
        Input("map-export-copy", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def copy_map_link(_n, search):
        return short_link(services.settings, "/map" + (search or ""))

    # ?embed=1: no header, footer or panels. Sticky for the page's life: the map rewrites its URL.
    app.clientside_callback(
        """function(search) {
            if (/(^|[?&])embed=1(&|$)/.test(search || "")) {
                document.documentElement.classList.add("embed");
                return true;
            }
            return document.documentElement.classList.contains("embed");
        }""",
        Output("embed-mode", "data"),
        Input("url", "search"),
    )
