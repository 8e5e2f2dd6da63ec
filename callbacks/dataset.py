"""Dataset page: load the chosen file and fill the preview, source card and provenance."""

from __future__ import annotations

from dash import Input, Output, no_update
from dash.exceptions import PreventUpdate

from . import chart_builder
from ._dataset_answers import PREVIEWS, dataset_version, kept_answer
from ._preview import preview_answer


def preview_outputs(services, dataset_id: str, resource_id: str | None) -> tuple:
    """(preview, source card, provenance) of the file, as every visitor of an open dataset is sent
    it: worked out once and kept (callbacks/_dataset_answers.py); a file that could not be
    loaded is tried again next time."""
    entry = services.registry.get(dataset_id) if isinstance(dataset_id, str) else None
    failed = []

    def compute():
        (children, card, provenance), ok = preview_answer(services, dataset_id, resource_id, "dataset-map")
        if not ok:
            failed.append(True)
        return children, card if card is not None else no_update, provenance

    return kept_answer(services, PREVIEWS, dataset_version(services, entry, resource_id),
                       ("preview", dataset_id, resource_id), compute, lambda _outputs: not failed)


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
        return preview_outputs(services, dataset_id, resource_id)
