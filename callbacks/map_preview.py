"""Map page: the chosen dataset and file live in the URL (?dataset=…&resource=…)."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from ._preview import build_preview


def register(app, services) -> None:
    registry = services.registry

    @app.callback(
        Output("map-resource", "options"),
        Output("map-resource", "value"),
        Input("map-dataset", "value"),
        State("map-resource", "value"),
        prevent_initial_call=True,
    )
    def choose_dataset(dataset_id, current):
        entry = registry.get(dataset_id) if dataset_id else None
        if entry is None:
            raise PreventUpdate
        options = [{"label": r.title or r.id, "value": r.id} for r in entry.resources]
        values = [o["value"] for o in options]
        return options, current if current in values else (values[0] if values else None)

    @app.callback(
        Output("map-content", "children"),
        Output("url", "search"),
        Input("map-dataset", "value"),
        Input("map-resource", "value"),
    )
    def draw(dataset_id, resource_id):
        if not dataset_id:
            raise PreventUpdate
        entry = registry.get(dataset_id)
        if entry is None:
            raise PreventUpdate
        if resource_id not in {r.id for r in entry.resources}:
            resource_id = entry.resources[0].id if entry.resources else None
        children, card, provenance = build_preview(services, dataset_id, resource_id, "main-map", "560px")
        search = "?" + urlencode({"dataset": dataset_id, "resource": resource_id or ""})
        return html.Div(className="map-page__grid", children=[
            html.Div(children, className="map-page__map"),
            html.Div([card, provenance], className="map-page__side"),
        ]), search
