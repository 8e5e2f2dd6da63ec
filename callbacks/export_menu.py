"""Export menu callbacks (all in the browser): image links follow the chosen size preset and, on
the map, the map's URL; "copy link" copies the view's absolute address; ``?embed=1`` hides the
app's chrome."""

from __future__ import annotations

from dash import MATCH, Input, Output, State

from explorer.export.sizes import FORMATS


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

    app.clientside_callback(
        """function(n, target) {
            if (!target) { return window.dash_clientside.no_update; }
            return window.location.origin + target.permalink;
        }""",
        Output({"type": "export-copy", "index": MATCH}, "content"),
        Input({"type": "export-copy", "index": MATCH}, "n_clicks"),
        State({"type": "export-target", "index": MATCH}, "data"),
        prevent_initial_call=True,
    )

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

    app.clientside_callback(
        """function(n) { return window.location.href; }""",
        Output("map-export-copy", "content"),
        Input("map-export-copy", "n_clicks"),
        prevent_initial_call=True,
    )

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
