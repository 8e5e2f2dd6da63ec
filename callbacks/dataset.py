"""Dataset page: load the chosen file and fill the preview, source card and provenance."""

from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from . import chart_builder
from ._preview import build_preview


def register(app, services) -> None:
    chart_builder.register(app, services)   # the chart builder panel of the dataset page

    @app.callback(
        Output("dataset-preview", "children"),
        Output("dataset-source-card", "children"),
        Output("dataset-provenance", "children"),
        Input("dataset-id", "data"),
        Input("dataset-resource", "value"),
    )
    def fill_preview(dataset_id, resource_id):
        if not dataset_id:
            raise PreventUpdate
        children, card, provenance = build_preview(services, dataset_id, resource_id, "dataset-map")
        from dash import no_update
        return children, card if card is not None else no_update, provenance
